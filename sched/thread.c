/* thread.c: sched__thread_start (see thread.h). */
#include "internal/thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- signal masks (see thread.h) ---------------------------------------- */

/* Go's initSigmask: the mask the process had when gochan was loaded. Written
 * once by the constructor, before any thread of ours exists; read only. */
static sigset_t initsigmask;

__attribute__((constructor)) static void sigsave_initsigmask(void)
{
    pthread_sigmask(SIG_SETMASK, NULL, &initsigmask);
}

void sched__thread_sigblock_all(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

void sched__thread_sigrestore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

void sched__thread_minit_sigmask(void)
{
    static const int unblockable[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    sigset_t mask = initsigmask;
    for (size_t i = 0; i < sizeof unblockable / sizeof unblockable[0]; i++)
        sigdelset(&mask, unblockable[i]);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

/* ---- threads ------------------------------------------------------------- */

int sched__thread_start(void *(*fn)(void *arg), void *arg)
{
    return sched__thread_start_stack(fn, arg, SCHED__THREAD_STACK_SIZE);
}

int sched__thread_start_stack(void *(*fn)(void *arg), void *arg,
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

/* What a sched__thread_go thread runs; freed when fn returns, since arg may
 * point into it (sched__thread_go_with's copy). */
struct go_start {
    void (*fn)(void *);
    void *arg;
    max_align_t copy[]; /* sched__thread_go_with's private copy of args */
};

static _Atomic int64_t running; /* sched__thread_go's fns not yet returned */
/* This thread's go fn's start record, while the fn runs (NULL on other
 * threads): sched__thread_goexit frees it. */
static _Thread_local struct go_start *tls_go_start;

/* release: whoever sees the count drop sees what fn did (pairs with the
 * acquire in sched__thread_go_running). */
static void go_thread_done(void)
{
    free(tls_go_start);
    tls_go_start = NULL;
    atomic_fetch_sub_explicit(&running, 1, memory_order_release);
}

static void *go_trampoline(void *p)
{
    sched__thread_minit_sigmask(); /* a goroutine's mask, not its creator's */
    struct go_start *start = p;
    tls_go_start = start;
    start->fn(start->arg);
    go_thread_done();
    return NULL;
}

void sched__thread_goexit(void)
{
    if (tls_go_start)
        go_thread_done();
    pthread_exit(NULL);
}

void sched__thread_atfork_child(void)
{
    /* Only the forking thread exists: if it was a go thread, its fn ending
     * in the child must not count below zero. */
    atomic_store_explicit(&running, 0, memory_order_relaxed);
    tls_go_start = NULL; /* the parent's record: its memory, not ours */
}

int64_t sched__thread_go_running(void)
{
    return atomic_load_explicit(&running, memory_order_acquire);
}

int sched__thread_go(void (*fn)(void *arg), void *arg)
{
    return sched__thread_go_with(fn, arg, false, 0, 0);
}

int sched__thread_go_with(void (*fn)(void *arg), const void *arg, bool copy,
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
    sigset_t old;
    sched__thread_sigblock_all(&old);
    int err = sched__thread_start_stack(go_trampoline, start,
                                        stack_size ? stack_size
                                                   : SCHED__THREAD_STACK_SIZE);
    sched__thread_sigrestore(&old);
    if (err) {
        atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
        free(start);
    }
    return err;
}
