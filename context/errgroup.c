/* errgroup.c: golang.org/x/sync/errgroup (errgroup/errgroup.go) on gochan's
 * public API: a WaitGroup, a "first error" slot, an optional cancel-cause
 * context, and an optional semaphore channel for SetLimit.
 *
 * Design, following x/sync:
 *  - Go(f) takes a token from the semaphore (a send on a buffered chan
 *    struct{} of capacity n, so a full buffer means n tasks are active), adds
 *    one to the WaitGroup and starts a thread. The thread runs f, records its
 *    error if it is the first, then hands the token back (a receive) and calls
 *    Done: Go's `done()`. TryGo is the same with chan_try_send.
 *  - The first non-NULL error is kept once (Go's errOnce) and cancels the
 *    context with that error as cause; Wait cancels it again with the first
 *    error (NULL, i.e. context_canceled, when there was none). Only the first
 *    cancel has effect, so the cause is the first error whichever came first.
 *
 * Where C differs from Go, and why:
 *  - Lifetime: Go's garbage collector keeps a Group alive while its goroutines
 *    run. Here `refs` does: one for the caller, one per started task. The last
 *    reference cancels the context (`defer cancel()`) and frees everything, so
 *    a task never touches a freed group, and the caller may release the group
 *    before its tasks end.
 *  - SetLimit swaps the semaphore under Go's rule: a negative n always
 *    removes the limit; otherwise it is refused only while the current
 *    semaphore holds tokens (Go panics there), so tasks started without a
 *    limit do not stop a limit being set. Each task remembers (retains) the
 *    semaphore it took its token from, so even a Go racing SetLimit returns
 *    its token to the right channel, and a task started with no limit
 *    returns none (Go's done() would take one from the new semaphore).
 *  - Thread start can fail: Go returns CHAN_NOMEM and undoes the token, the
 *    WaitGroup count and the reference.
 */
#include <gochan/errgroup.h>
#include <gochan/go.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "race.h"

struct errgroup {
    atomic_long refs;    /* the caller's reference plus one per started task */
    chan_waitgroup_t wg; /* Go's wg: one count per task not yet done */

    pthread_mutex_t mu; /* protects every field below */
    chan_t *sem;        /* Go's sem: NULL for no limit; the group's reference */
    bool err_set;       /* Go's errOnce: err was recorded */
    const context_error_t *err; /* the first error; the group owns it */

    /* Set once by errgroup_with_context, read-only afterwards. */
    context_t *ctx;           /* the group's own reference, or NULL */
    context_cancel_t *cancel; /* ctx's cancel-cause handle, or NULL */
};

/* One started task: what its thread needs. */
struct errgroup_call {
    errgroup_t *g; /* a reference owned by the task */
    errgroup_func_t f;
    void *arg;
    chan_t *sem; /* the semaphore the token came from (retained), or NULL */
};

static errgroup_t *errgroup_alloc(void)
{
    errgroup_t *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&g->refs, 1);
    chan_waitgroup_init(&g->wg);
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

errgroup_t *errgroup_new(void)
{
    return errgroup_alloc();
}

errgroup_t *errgroup_with_context(context_t *parent, context_t **ctx)
{
    if (!parent || !ctx) {
        errno = EINVAL;
        return NULL;
    }
    errgroup_t *g = errgroup_alloc();
    if (!g)
        return NULL;
    /* WithContext: a cancel-cause context, so that the error is its cause. */
    g->ctx = context_with_cancel_cause(parent, &g->cancel);
    if (!g->ctx) {
        int saved = errno;
        errgroup_release(g);
        errno = saved;
        return NULL;
    }
    *ctx = context_retain(g->ctx);
    return g;
}

/* The last reference is gone: no task runs and no caller holds the group. */
static void errgroup_free(errgroup_t *g)
{
    if (g->ctx) {
        context_cancel(g->cancel); /* Go's `defer cancel()`, if Wait did not */
        context_release(g->ctx);
    }
    chan_release(g->sem);
    context_error_release(g->err);
    pthread_mutex_destroy(&g->mu);
    chan_waitgroup_destroy(&g->wg);
    free(g);
}

errgroup_t *errgroup_retain(errgroup_t *g)
{
    if (g)
        atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void errgroup_release(errgroup_t *g)
{
    if (!g)
        return;
    /* acq_rel: the thread that frees must see every write made by the
     * threads that dropped their references before it. */
    sched__race_drop_ref(&g->refs);
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
        sched__race_last_ref(&g->refs);
        errgroup_free(g);
    }
}

/* Records err if it is the group's first error, and cancels the context with
 * it as cause (outside g->mu: cancel takes context locks and wakes threads). */
static void errgroup_record(errgroup_t *g, const context_error_t *err)
{
    if (!err)
        return;
    pthread_mutex_lock(&g->mu);
    bool first = !g->err_set;
    if (first) {
        g->err_set = true;
        g->err = err; /* the task's reference, kept until the group goes */
    }
    pthread_mutex_unlock(&g->mu);
    if (!first)
        context_error_release(err); /* handed over, and not needed */
    else if (g->cancel)
        context_cancel_cause(g->cancel, context_error_retain(err));
}

/* Go's done(): hands the token back, then Done on the WaitGroup. */
static void errgroup_done(errgroup_t *g, chan_t *sem)
{
    if (sem) {
        chan_recv(sem, NULL); /* <-g.sem: never blocks, we hold a token */
        chan_release(sem);
    }
    chan_waitgroup_done(&g->wg);
}

/* The body of Go's `go func() { defer g.done(); ... }()`. */
static void errgroup_run(void *p)
{
    struct errgroup_call call = *(struct errgroup_call *)p;
    free(p);
    errgroup_record(call.g, call.f(call.arg));
    errgroup_done(call.g, call.sem);
    errgroup_release(call.g); /* last: may free the group */
}

/* Go and TryGo: takes a token (blocking or not), then starts the task. */
static int errgroup_start(errgroup_t *g, errgroup_func_t f, void *arg,
                          bool block)
{
    if (!g || !f)
        return CHAN_INVALID;
    struct errgroup_call *call = malloc(sizeof *call);
    if (!call) {
        errno = ENOMEM;
        return CHAN_NOMEM;
    }
    pthread_mutex_lock(&g->mu);
    chan_t *sem = chan_retain(g->sem);
    pthread_mutex_unlock(&g->mu);

    /* g.sem <- token{}: a full buffer means the limit's tasks are active. */
    if (sem) {
        int st = block ? chan_send(sem, NULL) : chan_try_send(sem, NULL);
        if (st != CHAN_OK) { /* only CHAN_WOULDBLOCK: sem is never closed */
            chan_release(sem);
            free(call);
            return st;
        }
    }
    chan_waitgroup_add(&g->wg, 1);
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);

    *call = (struct errgroup_call){.g = g, .f = f, .arg = arg, .sem = sem};
    if (chan_go(errgroup_run, call) != CHAN_OK) {
        int saved = errno;
        free(call);
        errgroup_done(g, sem);
        errgroup_release(g); /* not the last: the caller holds one */
        errno = saved;
        return CHAN_NOMEM;
    }
    return CHAN_OK;
}

int errgroup_go(errgroup_t *g, errgroup_func_t f, void *arg)
{
    return errgroup_start(g, f, arg, true);
}

int errgroup_try_go(errgroup_t *g, errgroup_func_t f, void *arg)
{
    return errgroup_start(g, f, arg, false);
}

const context_error_t *errgroup_wait(errgroup_t *g)
{
    if (!g)
        return NULL;
    chan_waitgroup_wait(&g->wg);
    pthread_mutex_lock(&g->mu);
    const context_error_t *err = g->err;
    pthread_mutex_unlock(&g->mu);
    if (g->cancel) /* NULL: context_canceled */
        context_cancel_cause(g->cancel, context_error_retain(err));
    return err;
}

int errgroup_set_limit(errgroup_t *g, int n)
{
    if (!g)
        return CHAN_INVALID;
    chan_t *sem = NULL;
    if (n >= 0) {
        sem = chan_make(0, (size_t)n); /* make(chan token, n) */
        if (!sem)
            return CHAN_NOMEM;
    }
    pthread_mutex_lock(&g->mu);
    if (sem && g->sem && chan_len(g->sem) != 0) {
        pthread_mutex_unlock(&g->mu);
        chan_release(sem);
        return CHAN_INVALID; /* Go panics: tokens are taken from this limit */
    }
    chan_t *old = g->sem;
    g->sem = sem;
    pthread_mutex_unlock(&g->mu);
    chan_release(old);
    return CHAN_OK;
}
