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
#include <stdint.h>
#include <stdlib.h>

/* One context__cancelCtx_cancel call: the children arrays it detached, in
 * the order it detached them (linked through next), and the AfterFuncs whose
 * f it must start. The arrays are its worklist and then the nodes it is done
 * with: each entry is a child retained by the batch, NULL where the child
 * could not be retained (it is being disposed of), and tagged with MINE once
 * the batch canceled and marked it itself. Canceling never allocates: the
 * arrays are the canceled nodes' own. */
struct cancel_batch {
    cancelCtx_children *head, *tail;
    afterFuncCtx *starts;
};

#define MINE ((uintptr_t)1) /* a context is malloc'd: bit 0 is free */

static cancelCtx *entry_ctx(cancelCtx *e)
{
    return (cancelCtx *)((uintptr_t)e & ~MINE);
}

static bool entry_mine(cancelCtx *e)
{
    return ((uintptr_t)e & MINE) != 0;
}

/* A batch that meets a node another batch canceled waits here until that
 * batch has finished the node's subtree. cancel_mu is a leaf lock: nothing is
 * locked while it is held, and it may be taken while a context lock is. */
static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static atomic_long cancel_waiters;

/* What cancelCtx_cancel_one did. A node canceled without children needs no
 * mark: its subtree is done the moment it is (no child joins a canceled
 * context), so nobody need wait for it. */
enum { CANCELED_BEFORE, CANCELED_LEAF, CANCELED_MARKED };

/* Defined after context__cancelCtx_cancel, which uses them. */
static int cancelCtx_cancel_one(struct cancel_batch *b, cancelCtx *x,
                                const context_error_t *err,
                                const context_error_t *cause);
static bool try_retain(context_t *c);
static void run_after_func(void *arg);
static void wait_subtree(cancelCtx *x);

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

    /* Canceled already, and the batch that did it is done with the subtree:
     * all that is left is the removal (the second cancel of every context,
     * at its disposal). The acquire pairs with that batch's clearing of its
     * mark, as the lock would. */
    uintptr_t e = atomic_load_explicit(&c->err, memory_order_acquire);
    if (e && !(e & CANCEL_BUSY)) {
        if (removeFromParent)
            context__removeChild(c);
        return;
    }

    struct cancel_batch b = {NULL, NULL, NULL};
    bool mine = cancelCtx_cancel_one(&b, c, err, cause) == CANCELED_MARKED;
    /* Breadth first: cancel_one appends the array of each node it cancels. */
    for (cancelCtx_children *a = b.head; a; a = a->next)
        for (uint32_t i = 0; i < a->len; i++) {
            cancelCtx *x = a->at[i];
            if (x && cancelCtx_cancel_one(&b, x, err, cause) == CANCELED_MARKED)
                a->at[i] = (cancelCtx *)((uintptr_t)x | MINE);
        }

    /* Every descendant we reached is done; those other batches canceled may
     * still be finishing theirs. Wait for them before we let our own waiters
     * go, so that "done when cancel returns" holds for all. (A node without
     * a mark, ours or finished, returns at once.) */
    if (!mine)
        wait_subtree(c);
    for (cancelCtx_children *a = b.head; a; a = a->next)
        for (uint32_t i = 0; i < a->len; i++)
            if (a->at[i] && !entry_mine(a->at[i]))
                wait_subtree(a->at[i]);

    sched__invariant(!mine || (atomic_load(&c->err) & CANCEL_BUSY),
                     "a cancelCtx stays marked until its batch is done");
    if (mine)
        atomic_fetch_and(&c->err, ~CANCEL_BUSY);
    for (cancelCtx_children *a = b.head; a; a = a->next)
        for (uint32_t i = 0; i < a->len; i++)
            if (entry_mine(a->at[i]))
                atomic_fetch_and(&entry_ctx(a->at[i])->err, ~CANCEL_BUSY);
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

    for (cancelCtx_children *a = b.head, *next; a; a = next) {
        next = a->next;
        for (uint32_t i = 0; i < a->len; i++)
            if (a->at[i])
                context_release(&entry_ctx(a->at[i])->ctx);
        free(a);
    }

    if (removeFromParent)
        context__removeChild(c);
}

/* Cancels one node of batch b's worklist: the part of Go's cancelCtx.cancel
 * that touches one node (and timerCtx's and afterFuncCtx's additions to it),
 * with x locked: store err and cause (and the mark), close done, hand the
 * children to the batch. Returns CANCELED_*. */
static int cancelCtx_cancel_one(struct cancel_batch *b, cancelCtx *x,
                                const context_error_t *err,
                                const context_error_t *cause)
{
    chan_timer_t *timer = NULL;

    sched__lock(&x->mu);
    if (atomic_load_explicit(&x->err, memory_order_relaxed)) {
        sched__unlock(&x->mu);
        return CANCELED_BEFORE;
    }
    /* err with our busy mark, if x has children, in one store: whoever sees
     * err sees the mark until we clear it. Only the batch that cancels x
     * marks it. err and done are read without mu (Err, Done): tell
     * ThreadSanitizer that these stores publish what came before them
     * (race.h). */
    cancelCtx_children *kids = x->children;
    bool marked = kids && kids->len > 0;
    sched__race_release(&x->err);
    atomic_store_explicit(&x->err,
                          (uintptr_t)context_error_retain(err) |
                              (marked ? CANCEL_BUSY : 0),
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
     * unlinked (its disposal finds it unregistered) and its entry cleared. */
    x->children = NULL;
    if (kids) {
        for (uint32_t i = 0; i < kids->len; i++) {
            cancelCtx *k = kids->at[i];
            atomic_store_explicit(&k->slot, SLOT_NONE, memory_order_relaxed);
            if (!try_retain(&k->ctx))
                kids->at[i] = NULL;
        }
        kids->next = NULL;
        if (b->tail)
            b->tail->next = kids;
        else
            b->head = kids;
        b->tail = kids;
    }
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
    return marked ? CANCELED_MARKED : CANCELED_LEAF;
}

/* Adds a reference to a cancelCtx kind unless its references already
 * reached zero (it is being disposed of by another thread). */
static bool try_retain(context_t *c)
{
    long r = __atomic_load_n(&c->refs_, __ATOMIC_RELAXED);
    while ((r & CANCEL_REFS) > 0)
        if (__atomic_compare_exchange_n(&c->refs_, &r, r + 1, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return true;
    return false; /* a cancelCtx kind is never immortal */
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

/* Waits until the batch that marked x, which the caller's batch did not, if
 * any, has finished x's subtree. */
static void wait_subtree(cancelCtx *x)
{
    if (!(atomic_load(&x->err) & CANCEL_BUSY))
        return;
    if (chan__on_goroutine()) {
        /* A goroutine must not block its thread: the batch it waits for may
         * be a goroutine queued behind it on the same processor. That batch
         * is running (it takes only leaf locks), so yielding until it clears
         * its mark ends soon. */
        while (atomic_load(&x->err) & CANCEL_BUSY)
            chan_gosched();
        return;
    }
    pthread_mutex_lock(&cancel_mu);
    /* Dekker with the end of the batch that marked x, where
     * context__cancelCtx_cancel clears its marks: our increment and load of
     * the mark against its clearing and load of cancel_waiters, all seq_cst:
     * either we see the mark gone or it sees us and broadcasts under
     * cancel_mu. */
    atomic_fetch_add(&cancel_waiters, 1);
    while (atomic_load(&x->err) & CANCEL_BUSY)
        pthread_cond_wait(&cancel_cond, &cancel_mu);
    atomic_fetch_sub(&cancel_waiters, 1);
    pthread_mutex_unlock(&cancel_mu);
}
