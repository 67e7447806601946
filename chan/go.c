/* go.c: chan_go and its variants (goroutines on the scheduler, or detached
 * threads). Go's sync.WaitGroup, declared beside them in go.h, is
 * sync/waitgroup.c's.
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
#include "thread.h"
#ifdef GOCHAN_HAVE_SCHED
#include "scheduler.h"
#endif

#ifndef GOCHAN_SCHED_DEFAULT
#define GOCHAN_SCHED_DEFAULT 1
#endif

_Static_assert(CHAN_GO_STACK_SIZE == CHAN__THREAD_STACK_SIZE,
               "chan_go's threads have the stack go.h promises");
#ifdef GOCHAN_HAVE_SCHED
_Static_assert(CHAN_GO_ARGS_INLINE == SCHED__G_ARGS_INLINE,
               "chan_go_args copies as much into the g as go.h promises");
#endif

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

int chan_go_stack(void (*fn)(void *arg), void *arg, size_t stack_size)
{
    if (!fn || (stack_size != 0 && (stack_size < CHAN_GO_STACK_MIN ||
                                    stack_size > CHAN_GO_STACK_MAX)))
        return CHAN_INVALID;
#ifdef GOCHAN_HAVE_SCHED
    int err = go_on_scheduler()
                  ? sched_go_stack(fn, arg, stack_size)
                  : chan__thread_go_with(fn, arg, false, 0, stack_size);
#else
    int err = chan__thread_go_with(fn, arg, false, 0, stack_size);
#endif
    return go_started(err);
}

int chan_go_args(void (*fn)(void *args), const void *args, size_t size)
{
    if (!fn || (!args && size > 0))
        return CHAN_INVALID;
#ifdef GOCHAN_HAVE_SCHED
    int err = go_on_scheduler() ? sched_go_copy(fn, args, size, 0)
                                : chan__thread_go_with(fn, args, true, size, 0);
#else
    int err = chan__thread_go_with(fn, args, true, size, 0);
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
