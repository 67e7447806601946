/* go.c: goroutine-style detached threads and Go's sync.WaitGroup. */
#include <gochan/go.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "chan_test_hooks.h"
#include "thread.h"

_Static_assert(CHAN_GO_STACK_SIZE == CHAN__THREAD_STACK_SIZE,
               "chan_go's threads have the stack go.h promises");

static _Atomic uint64_t threads_started;

struct go_start {
    void (*fn)(void *);
    void *arg;
};

static void *go_trampoline(void *p)
{
    struct go_start start = *(struct go_start *)p;
    free(p);
    start.fn(start.arg);
    return NULL;
}

int chan_go(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return CHAN_INVALID;
    struct go_start *start = malloc(sizeof *start);
    if (!start) {
        errno = ENOMEM;
        return CHAN_NOMEM;
    }
    start->fn = fn;
    start->arg = arg;
    int err = chan__thread_start(go_trampoline, start);
    if (err) {
        free(start);
        errno = err;
        return CHAN_NOMEM;
    }
    atomic_fetch_add_explicit(&threads_started, 1, memory_order_relaxed);
    return CHAN_OK;
}

uint64_t chan__go_started(void)
{
    return atomic_load_explicit(&threads_started, memory_order_relaxed);
}

void chan_waitgroup_init(chan_waitgroup_t *wg)
{
    pthread_mutex_init(&wg->mu, NULL);
    pthread_cond_init(&wg->zero, NULL);
    wg->count = 0;
}

void chan_waitgroup_destroy(chan_waitgroup_t *wg)
{
    pthread_cond_destroy(&wg->zero);
    pthread_mutex_destroy(&wg->mu);
}

int chan_waitgroup_add(chan_waitgroup_t *wg, int64_t delta)
{
    if (!wg)
        return CHAN_INVALID;
    pthread_mutex_lock(&wg->mu);
    /* count >= 0, so count + delta cannot overflow for a negative delta
     * (negating delta would, for INT64_MIN). */
    if ((delta < 0 && wg->count + delta < 0) ||
        (delta > 0 && wg->count > INT64_MAX - delta)) {
        pthread_mutex_unlock(&wg->mu);
        return CHAN_INVALID; /* Go: "sync: negative WaitGroup counter" */
    }
    wg->count += delta;
    if (wg->count == 0)
        pthread_cond_broadcast(&wg->zero);
    pthread_mutex_unlock(&wg->mu);
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
    pthread_mutex_lock(&wg->mu);
    while (wg->count != 0)
        pthread_cond_wait(&wg->zero, &wg->mu);
    pthread_mutex_unlock(&wg->mu);
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
