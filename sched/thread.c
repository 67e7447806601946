/* thread.c: chan__thread_start (see thread.h). */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* ---- signal masks (see thread.h) ---------------------------------------- */

/* Go's initSigmask: the mask the process had when gochan was loaded. Written
 * once by the constructor, before any thread of ours exists; read only. */
static sigset_t initsigmask;

__attribute__((constructor)) static void sigsave_initsigmask(void)
{
    pthread_sigmask(SIG_SETMASK, NULL, &initsigmask);
}

void chan__thread_sigblock_all(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

void chan__thread_sigrestore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

void chan__thread_minit_sigmask(void)
{
    static const int unblockable[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    sigset_t mask = initsigmask;
    for (size_t i = 0; i < sizeof unblockable / sizeof unblockable[0]; i++)
        sigdelset(&mask, unblockable[i]);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

/* ---- threads ------------------------------------------------------------- */

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
static _Thread_local bool tls_go_thread; /* this thread runs a go fn */

static void *go_trampoline(void *p)
{
    tls_go_thread = true;
    chan__thread_minit_sigmask(); /* a goroutine's mask, not its creator's */
    struct go_start start = *(struct go_start *)p;
    free(p);
    start.fn(start.arg);
    atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
    return NULL;
}

void chan__thread_goexit(void)
{
    if (tls_go_thread) {
        tls_go_thread = false;
        atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
    }
    pthread_exit(NULL);
}

void chan__thread_atfork_child(void)
{
    /* Only the forking thread exists: if it was a go thread, its fn ending
     * in the child must not count below zero. */
    atomic_store_explicit(&running, 0, memory_order_relaxed);
    tls_go_thread = false;
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
    sigset_t old;
    chan__thread_sigblock_all(&old);
    int err = chan__thread_start(go_trampoline, start);
    chan__thread_sigrestore(&old);
    if (err) {
        atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
        free(start);
    }
    return err;
}
