/* context_cancel.c: Go's cancelCtx.cancel, with the timerCtx.cancel and
 * afterFuncCtx.cancel overrides folded in, walking the tree with a worklist
 * rather than recursion (context.c's file comment, note 1).
 * context__cancelCtx_cancel is the entry point; cancelCtx_cancel_one cancels
 * one node of its worklist; wait_subtree waits for another batch's subtree.
 */
#include "chan_internal.h"
#include "context_types.h"

#include <gochan/go.h>
#include <gochan/timer.h>

#include <pthread.h>
#include <stdatomic.h>

/* One context__cancelCtx_cancel call: the nodes it still has to cancel
 * (detached children, each retained, linked through next), those it is done
 * with (retained, linked through next) and the AfterFuncs whose f it must
 * start. */
struct cancel_batch {
    cancelCtx *work_head, *work_tail;
    cancelCtx *held;
    afterFuncCtx *starts;
};

/* A batch that meets a node another batch canceled waits here until that
 * batch has finished the node's subtree. cancel_mu is a leaf lock: nothing is
 * locked while it is held, and it may be taken while a context lock is. */
static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static atomic_long cancel_waiters;

/* Defined after context__cancelCtx_cancel, which uses them. */
static bool cancelCtx_cancel_one(struct cancel_batch *b, cancelCtx *x,
                                 const context_error_t *err,
                                 const context_error_t *cause);
static bool try_retain(context_t *c);
static void run_after_func(void *arg);
static void wait_subtree(cancelCtx *x, struct cancel_batch *self);

/* Go's cancelCtx.cancel (with timerCtx's and afterFuncCtx's overrides):
 * cancels c and, iteratively, its whole subtree; if removeFromParent, then
 * removes c from its parent. The caller keeps c alive (a reference, or a
 * hold). Locks: one context lock at a time (see the file comment). */
void context__cancelCtx_cancel(cancelCtx *c, bool removeFromParent,
                               const context_error_t *err,
                               const context_error_t *cause)
{
    if (!err)
        err = &context_canceled; /* Go: "internal error: missing cancel error";
                                    reachable through a foreign Err */
    if (!cause)
        cause = err;

    struct cancel_batch b = {NULL, NULL, NULL, NULL};
    bool mine = cancelCtx_cancel_one(&b, c, err, cause);
    while (b.work_head) {
        cancelCtx *x = b.work_head;
        b.work_head = x->next;
        if (!b.work_head)
            b.work_tail = NULL;
        cancelCtx_cancel_one(&b, x, err, cause);
        x->next = b.held;
        b.held = x;
    }

    /* Every descendant we reached is done; those other batches canceled may
     * still be finishing theirs. Wait for them before we let our own waiters
     * go, so that "done when cancel returns" holds for all. */
    if (!mine)
        wait_subtree(c, &b);
    for (cancelCtx *x = b.held; x; x = x->next)
        wait_subtree(x, &b);

    sched__invariant(!mine || atomic_load(&c->busy) == &b,
                     "a cancelCtx stays marked until its batch is done");
    if (mine)
        atomic_store(&c->busy, NULL);
    for (cancelCtx *x = b.held; x; x = x->next)
        if (atomic_load_explicit(&x->busy, memory_order_relaxed) == &b)
            atomic_store(&x->busy, NULL);
    if (atomic_load(&cancel_waiters) > 0) {
        pthread_mutex_lock(&cancel_mu);
        pthread_cond_broadcast(&cancel_cond);
        pthread_mutex_unlock(&cancel_mu);
    }

    /* go a.f(), outside every lock and mark. */
    for (afterFuncCtx *a = b.starts, *next; a; a = next) {
        next = a->start_next;
        cancelCtx_hold(&a->cancelCtx);
        if (chan_go(run_after_func, a) != CHAN_OK) {
            /* No thread to be had: run f here rather than lose it. */
            run_after_func(a);
        }
    }

    for (cancelCtx *x = b.held, *next; x; x = next) {
        next = x->next;
        x->next = NULL;
        context_release(&x->ctx);
    }

    if (removeFromParent)
        context__removeChild(c);
}

/* Cancels one node of batch b's worklist: the part of Go's cancelCtx.cancel
 * that touches one node (and timerCtx's and afterFuncCtx's additions to it),
 * with x locked: store err and cause, close done, hand the children to the
 * batch. Returns false if x was canceled already. */
static bool cancelCtx_cancel_one(struct cancel_batch *b, cancelCtx *x,
                                 const context_error_t *err,
                                 const context_error_t *cause)
{
    chan_timer_t *timer = NULL;

    sched__lock(&x->mu);
    if (atomic_load_explicit(&x->err, memory_order_relaxed)) {
        sched__unlock(&x->mu);
        return false; /* already canceled */
    }
    /* busy before err: whoever sees err and then reads busy under mu or
     * after it sees our mark. Only the batch that cancels x marks it. */
    sched__invariant(atomic_load(&x->busy) == NULL,
                     "an uncanceled cancelCtx is marked by no batch");
    atomic_store(&x->busy, b);
    /* err and done are read without mu (Err, Done): tell ThreadSanitizer
     * that these stores publish what came before them (race.h). */
    sched__race_release(&x->err);
    atomic_store_explicit(&x->err, context_error_retain(err),
                          memory_order_release);
    x->cause = context_error_retain(cause); /* released with x */
    chan_t *d = atomic_load_explicit(&x->done, memory_order_relaxed);
    if (!d)
        atomic_store_explicit(&x->done, context__closedchan_get(),
                              memory_order_release);
    else
        chan_close(d);
    /* Go cancels each child here, holding x's lock. We detach the whole set
     * into the worklist instead and cancel the children after unlocking x, one
     * lock at a time. A child whose count already reached zero is being
     * disposed of by another thread: nobody can observe it, so it is only
     * unlinked (its disposal finds it unregistered). */
    for (cancelCtx *k = x->children, *next; k; k = next) {
        next = k->next;
        k->prev = k->next = NULL;
        k->registered = false;
        if (try_retain(&k->ctx)) {
            if (b->work_tail)
                b->work_tail->next = k;
            else
                b->work_head = k;
            b->work_tail = k;
        }
    }
    x->children = NULL;
    if (kind_of(&x->ctx) == KIND_TIMER) {
        /* timerCtx.cancel: stop the timer on every path. */
        timerCtx *t = (timerCtx *)x;
        timer = t->timer;
        t->timer = NULL;
    }
    sched__unlock(&x->mu);

    if (timer) {
        /* A stopped timer will never run its callback: drop the hold it had.
         * Not the last one, since x is referenced by whoever canceled it. */
        if (chan_timer_stop(timer))
            cancelCtx_unhold(x);
        chan_timer_release(timer);
    }
    if (kind_of(&x->ctx) == KIND_AFTER_FUNC) {
        afterFuncCtx *a = (afterFuncCtx *)x;
        int zero = 0;
        /* afterFuncCtx.cancel: a.once.Do(func() { go a.f() }). */
        if (atomic_compare_exchange_strong(&a->once, &zero, 1)) {
            a->start_next = b->starts;
            b->starts = a;
        }
    }
    return true;
}

/* Adds a reference unless the count already reached zero (the context is
 * being disposed of by another thread). */
static bool try_retain(context_t *c)
{
    long r = __atomic_load_n(&c->refs_, __ATOMIC_RELAXED);
    while (r > 0)
        if (__atomic_compare_exchange_n(&c->refs_, &r, r + 1, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return true;
    return r < 0; /* immortal */
}

/* The thread of an AfterFunc: go a.f(), after giving up the hold taken for
 * it. */
static void run_after_func(void *arg)
{
    afterFuncCtx *a = arg;
    void (*f)(void *) = a->f;
    void *farg = a->arg;
    context_release(context__drop_hold(&a->cancelCtx));
    f(farg);
}

/* Waits until the batch that marked x, if not self, has finished x's
 * subtree. */
static void wait_subtree(cancelCtx *x, struct cancel_batch *self)
{
    struct cancel_batch *b = atomic_load(&x->busy);
    if (!b || b == self)
        return;
    if (chan__on_goroutine()) {
        /* A goroutine must not block its thread: the batch it waits for may
         * be a goroutine queued behind it on the same processor. That batch
         * is running (it takes only leaf locks), so yielding until it clears
         * its mark ends soon. */
        while ((b = atomic_load(&x->busy)) != NULL && b != self)
            chan_gosched();
        return;
    }
    pthread_mutex_lock(&cancel_mu);
    /* Dekker with the end of the batch that marked x, where
     * context__cancelCtx_cancel clears its marks: our increment and load of
     * busy against its store of NULL and load of cancel_waiters, all seq_cst:
     * either we see NULL or it sees us and broadcasts under cancel_mu. */
    atomic_fetch_add(&cancel_waiters, 1);
    while ((b = atomic_load(&x->busy)) != NULL && b != self)
        pthread_cond_wait(&cancel_cond, &cancel_mu);
    atomic_fetch_sub(&cancel_waiters, 1);
    pthread_mutex_unlock(&cancel_mu);
}
