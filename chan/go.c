/* go.c: chan_go (goroutines on the scheduler, or detached threads) and Go's
 * sync.WaitGroup.
 *
 * Where sched/ builds the scheduler, chan_go can start a goroutine on it
 * (sched_go) instead of a kernel thread. Which one is chosen once per
 * process: GOCHAN_SCHED=1 in the environment asks for goroutines, =0 for
 * threads, and without it the build's default (CMake GOCHAN_SCHED_DEFAULT)
 * applies.
 */
#include <gochan/go.h>

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chan_test_hooks.h"
#include "park.h"
#include "thread.h"
#ifdef GOCHAN_HAVE_SCHED
#include "scheduler.h"
#endif

#ifndef GOCHAN_SCHED_DEFAULT
#define GOCHAN_SCHED_DEFAULT 1
#endif

_Static_assert(CHAN_GO_STACK_SIZE == CHAN__THREAD_STACK_SIZE,
               "chan_go's threads have the stack go.h promises");

static _Atomic uint64_t threads_started;

/* Whether chan_go starts goroutines on the scheduler (see the top). */
static bool go_on_scheduler(void)
{
#ifdef GOCHAN_HAVE_SCHED
    static _Atomic int mode; /* 0 not yet read, 1 threads, 2 scheduler */
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (m == 0) {
        const char *env = getenv("GOCHAN_SCHED");
        bool on = env ? strcmp(env, "0") != 0 : GOCHAN_SCHED_DEFAULT;
        m = on ? 2 : 1;
        atomic_store_explicit(&mode, m, memory_order_relaxed);
    }
    return m == 2;
#else
    return false;
#endif
}

/* chan_go's and chan_go_locked's answer for a start that returned err. */
static int go_started(int err)
{
    if (err) {
        errno = err;
        return CHAN_NOMEM;
    }
    atomic_fetch_add_explicit(&threads_started, 1, memory_order_relaxed);
    return CHAN_OK;
}

int chan_go(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return CHAN_INVALID;
#ifdef GOCHAN_HAVE_SCHED
    int err = go_on_scheduler() ? sched_go(fn, arg) : chan__thread_go(fn, arg);
#else
    int err = chan__thread_go(fn, arg);
#endif
    return go_started(err);
}

int chan_go_locked(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return CHAN_INVALID;
#ifdef GOCHAN_HAVE_SCHED
    int err = sched_go_locked(fn, arg);
#else
    int err = chan__thread_go(fn, arg);
#endif
    return go_started(err);
}

void chan_gosched(void)
{
#ifdef GOCHAN_HAVE_SCHED
    sched_gosched(); /* sched_yield() on a plain thread */
#else
    sched_yield();
#endif
}

void chan_goexit(void)
{
#ifdef GOCHAN_HAVE_SCHED
    sched_goexit(); /* returns only on a plain thread */
#endif
    chan__thread_goexit();
}

int64_t chan_num_goroutine(void)
{
    int64_t n = chan__thread_go_running();
#ifdef GOCHAN_HAVE_SCHED
    n += sched_num_goroutine();
#endif
    return n;
}

bool chan__go_on_scheduler(void)
{
    return go_on_scheduler();
}

uint64_t chan__go_started(void)
{
    return atomic_load_explicit(&threads_started, memory_order_relaxed);
}

/* sync.WaitGroup: a counter and the Waits parked on it, under gochan's
 * runtime lock. Each Wait parks on a parker of its own stack, as a blocked
 * channel operation does; the Add that takes the counter to zero unlinks them
 * all and readies each after dropping the lock. With futexes the lock is the
 * public struct's first word; elsewhere (a pthread mutex, which a zeroed word
 * cannot hold) it is one of a fixed set of locks chosen by the WaitGroup's
 * address, so that CHAN_WAITGROUP_INIT stays a plain zero initializer. */
#ifdef GOCHAN_FUTEX
_Static_assert(sizeof(chan__lock_t) == sizeof(uint32_t) &&
                   _Alignof(chan__lock_t) == _Alignof(uint32_t),
               "the runtime lock fits chan_waitgroup_t's lock_");
#else
#define WG_LOCKS 64
static chan__lock_t wg_locks[WG_LOCKS];
static pthread_once_t wg_locks_once = PTHREAD_ONCE_INIT;

static void wg_locks_init(void)
{
    for (int i = 0; i < WG_LOCKS; i++)
        chan__lock_init(&wg_locks[i]);
}
#endif

struct wg_waiter {
    struct wg_waiter *next;
    chan__parker_t parker;
};

static chan__lock_t *wg_lock(chan_waitgroup_t *wg)
{
#ifdef GOCHAN_FUTEX
    return (chan__lock_t *)(void *)&wg->lock_;
#else
    pthread_once(&wg_locks_once, wg_locks_init);
    return &wg_locks[((uintptr_t)wg >> 4) % WG_LOCKS];
#endif
}

void chan_waitgroup_init(chan_waitgroup_t *wg)
{
#ifdef GOCHAN_FUTEX
    chan__lock_init(wg_lock(wg));
#endif
    wg->count_ = 0;
    wg->waiters_ = NULL;
}

void chan_waitgroup_destroy(chan_waitgroup_t *wg)
{
#ifdef GOCHAN_FUTEX
    chan__lock_destroy(wg_lock(wg));
#else
    (void)wg; /* the shared locks live on */
#endif
}

int chan_waitgroup_add(chan_waitgroup_t *wg, int64_t delta)
{
    if (!wg)
        return CHAN_INVALID;
    chan__lock(wg_lock(wg));
    /* count >= 0, so count + delta cannot overflow for a negative delta
     * (negating delta would, for INT64_MIN). */
    if ((delta < 0 && wg->count_ + delta < 0) ||
        (delta > 0 && wg->count_ > INT64_MAX - delta)) {
        chan__unlock(wg_lock(wg));
        return CHAN_INVALID; /* Go: "sync: negative WaitGroup counter" */
    }
    wg->count_ += delta;
    struct wg_waiter *wake = NULL;
    if (wg->count_ == 0) {
        wake = wg->waiters_;
        wg->waiters_ = NULL;
    }
    chan__unlock(wg_lock(wg));
    while (wake) {
        struct wg_waiter *w = wake;
        wake = w->next; /* read before the wake-up: w dies with it */
        chan__ready(&w->parker);
    }
    return CHAN_OK;
}

int chan_waitgroup_done(chan_waitgroup_t *wg)
{
    return chan_waitgroup_add(wg, -1);
}

void chan_waitgroup_wait(chan_waitgroup_t *wg)
{
    if (!wg)
        return;
    chan__lock(wg_lock(wg));
    if (wg->count_ == 0) {
        chan__unlock(wg_lock(wg));
        return;
    }
    struct wg_waiter w = {.next = wg->waiters_};
    chan__parker_init(&w.parker);
    wg->waiters_ = &w;
    chan__unlock(wg_lock(wg));
    chan__park(&w.parker);
    chan__parker_destroy(&w.parker);
}

struct wg_start {
    chan_waitgroup_t *wg;
    void (*fn)(void *);
    void *arg;
};

static void wg_trampoline(void *p)
{
    struct wg_start start = *(struct wg_start *)p;
    free(p);
    start.fn(start.arg);
    chan_waitgroup_done(start.wg);
}

int chan_waitgroup_go(chan_waitgroup_t *wg, void (*fn)(void *arg), void *arg)
{
    if (!wg || !fn)
        return CHAN_INVALID;
    struct wg_start *start = malloc(sizeof *start);
    if (!start) {
        errno = ENOMEM;
        return CHAN_NOMEM;
    }
    *start = (struct wg_start){wg, fn, arg};
    int status = chan_waitgroup_add(wg, 1);
    if (status == CHAN_OK) {
        status = chan_go(wg_trampoline, start);
        if (status != CHAN_OK) {
            int saved = errno;
            chan_waitgroup_add(wg, -1);
            errno = saved;
        }
    }
    if (status != CHAN_OK)
        free(start);
    return status;
}
