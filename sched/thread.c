/* thread.c: chan__thread_start (see thread.h). */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

int chan__thread_start(void *(*fn)(void *arg), void *arg)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!err)
        err = pthread_attr_setstacksize(&attr, CHAN__THREAD_STACK_SIZE);
    pthread_t tid;
    if (!err)
        err = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return err;
}

struct go_start {
    void (*fn)(void *);
    void *arg;
};

static _Atomic int64_t running; /* chan__thread_go's fns not yet returned */

static void *go_trampoline(void *p)
{
    struct go_start start = *(struct go_start *)p;
    free(p);
    start.fn(start.arg);
    atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
    return NULL;
}

int64_t chan__thread_go_running(void)
{
    return atomic_load_explicit(&running, memory_order_relaxed);
}

int chan__thread_go(void (*fn)(void *arg), void *arg)
{
    struct go_start *start = malloc(sizeof *start);
    if (!start)
        return ENOMEM;
    start->fn = fn;
    start->arg = arg;
    atomic_fetch_add_explicit(&running, 1, memory_order_relaxed);
    int err = chan__thread_start(go_trampoline, start);
    if (err) {
        atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
        free(start);
    }
    return err;
}
