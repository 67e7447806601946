/* thread.c: chan__thread_start (see thread.h). */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int chan__thread_start(void *(*fn)(void *arg), void *arg)
{
    return chan__thread_start_stack(fn, arg, CHAN__THREAD_STACK_SIZE);
}

int chan__thread_start_stack(void *(*fn)(void *arg), void *arg,
                             size_t stack_size)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!err)
        err = pthread_attr_setstacksize(&attr, stack_size);
    pthread_t tid;
    if (!err)
        err = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return err;
}

/* What a chan__thread_go thread runs; freed when fn returns, since arg may
 * point into it (chan__thread_go_with's copy). */
struct go_start {
    void (*fn)(void *);
    void *arg;
    max_align_t copy[]; /* chan__thread_go_with's private copy of args */
};

static _Atomic int64_t running; /* chan__thread_go's fns not yet returned */

static void *go_trampoline(void *p)
{
    struct go_start *start = p;
    start->fn(start->arg);
    free(start);
    atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
    return NULL;
}

int64_t chan__thread_go_running(void)
{
    return atomic_load_explicit(&running, memory_order_relaxed);
}

int chan__thread_go(void (*fn)(void *arg), void *arg)
{
    return chan__thread_go_with(fn, arg, false, 0, 0);
}

int chan__thread_go_with(void (*fn)(void *arg), const void *arg, bool copy,
                         size_t size, size_t stack_size)
{
    /* One allocation holds the start and the copy (size 0 when !copy). */
    size_t bytes = sizeof(struct go_start) + (copy ? size : 0);
    struct go_start *start = malloc(bytes);
    if (!start)
        return ENOMEM;
    start->fn = fn;
    if (copy) {
        if (size)
            memcpy(start->copy, arg, size);
        start->arg = start->copy;
    } else {
        start->arg = (void *)(uintptr_t)arg; /* the caller's, untouched */
    }
    atomic_fetch_add_explicit(&running, 1, memory_order_relaxed);
    int err = chan__thread_start_stack(go_trampoline, start,
                                       stack_size ? stack_size
                                                  : CHAN__THREAD_STACK_SIZE);
    if (err) {
        atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
        free(start);
    }
    return err;
}
