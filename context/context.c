/* context.c: Go's context package (src/context/context.go), built on gochan's
 * public channel, select, goroutine and timer API only, as Go's context uses
 * only public channel operations.
 *
 * The types are Go's: emptyCtx (backgroundCtx, todoCtx), cancelCtx, timerCtx,
 * afterFuncCtx, valueCtx, withoutCancelCtx and stopCtx, and so are the
 * functions: propagateCancel, parentCancelCtx, removeChild, value(),
 * contextName and Cause. Every context, ours or a user's, is a context_t whose
 * vtable is Go's Context interface; gochan tells its own kinds apart by vtable
 * address, as Go's type switches do.
 *
 * Where C differs from Go, and why:
 *
 * 1. Iterative cancel. Go's cancelCtx.cancel cancels each child while holding
 *    the parent's lock, recursing down the tree. A chain of 100,000 contexts
 *    would need 100,000 C stack frames and as many held mutexes, so
 *    cancelCtx_cancel() walks the tree with a worklist instead: it cancels
 *    one node at a time (cancelCtx_cancel_one) under that node's lock,
 *    detaches its children set into the worklist (each child retained) and
 *    unlocks it before taking the next node. No thread ever holds two context
 *    locks at once, which also makes Go's lock order (parent before child)
 *    hold trivially.
 *
 *    Go's guarantee is kept: when cancel returns, every descendant is done,
 *    even for a cancel that lost the race against another thread's cancel of
 *    the same subtree. Each node records which batch (one cancelCtx_cancel
 *    call) canceled it in `busy` until that batch has finished its whole
 *    subtree. A
 *    batch that meets a node another batch canceled waits, after finishing its
 *    own work and before clearing its own marks, until that mark is cleared.
 *    Waits only ever point down the tree (a batch reaches another batch's node
 *    only at the root of that batch's subtree), so they cannot form a cycle.
 *
 * 2. Lifetime. `refs_` counts the references that contract "context
 *    lifetime" (docs/semantics.md) hands out (constructors, context_retain, a
 *    child's link to its parent, the worklist above). `holds` counts what keeps
 *    a cancelCtx's memory alive: one for all of refs_ together, and one for
 *    each pending timer, watcher thread, afterFuncer registration and starting
 *    AfterFunc thread, each of which touches the context after its owner may
 *    have let go. When refs_ reaches zero the context is disposed: canceled, as
 *    nobody can observe it any more (a live child or AfterFunc would hold a
 *    reference), which also removes it from its parent's children set, stops
 *    its timer, unregisters it from an afterFuncer and ends its watcher. When
 *    holds reaches zero its memory goes and its reference to its parent is
 *    dropped. Release walks up the parent chain in a loop, so freeing a long
 *    chain uses no stack either.
 *
 * 3. Errors: where Go panics (nil parent, nil key) the constructors return
 *    NULL with errno EINVAL; allocation and thread failures give ENOMEM and
 *    leave nothing behind.
 *
 * Contracts ("context lifetime") and item ids (CX-n) cited here are those of
 * docs/semantics.md.
 */
#include <gochan/context.h>

#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include "chan_internal.h"
#include "context_types.h"
#include "lock.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Canceled and DeadlineExceeded, compared by address. */
const context_error_t context_canceled = {"context canceled"};
const context_error_t context_deadline_exceeded = {"context deadline exceeded"};

/* deadlineExceededError.Timeout(). */
bool context_error_timeout(const context_error_t *err)
{
    return err == &context_deadline_exceeded;
}

/* Go's cancelCtxKey: its address is the private key under which Value finds
 * the nearest cancelCtx. */
static const char cancelCtxKey;

/* Go's `goroutines` counter, for the tests. */
atomic_uint_least64_t context__goroutines;

/* Native context objects alive, for the tests. */
atomic_long context__live_objects;

/* ------------------------------------------------------------------------ */
/* Vtables: Go's method sets                                                 */
/* ------------------------------------------------------------------------ */

static bool emptyCtx_deadline(context_t *self, int64_t *deadline);
static chan_t *emptyCtx_done(context_t *self);
static const context_error_t *emptyCtx_err(context_t *self);
static void *emptyCtx_value(context_t *self, const void *key);
static size_t backgroundCtx_string(context_t *self, char *buf, size_t n);
static size_t todoCtx_string(context_t *self, char *buf, size_t n);
static void immortal_free(context_t *self);

static bool delegate_deadline(context_t *self, int64_t *deadline);
static chan_t *delegate_done(context_t *self);
static const context_error_t *delegate_err(context_t *self);
static void *native_value(context_t *self, const void *key);
static void native_free(context_t *self);

static chan_t *cancelCtx_done(context_t *self);
static const context_error_t *cancelCtx_err(context_t *self);
static bool timerCtx_deadline(context_t *self, int64_t *deadline);

/* The native kinds' method sets; none offers afterFuncer (after_func and
 * after_func_stop stay NULL). */
static const context_vtable_t backgroundCtx_vtable = {
    .deadline = emptyCtx_deadline,
    .done = emptyCtx_done,
    .err = emptyCtx_err,
    .value = emptyCtx_value,
    .string = backgroundCtx_string,
    .free = immortal_free,
};
static const context_vtable_t todoCtx_vtable = {
    .deadline = emptyCtx_deadline,
    .done = emptyCtx_done,
    .err = emptyCtx_err,
    .value = emptyCtx_value,
    .string = todoCtx_string,
    .free = immortal_free,
};
static const context_vtable_t cancelCtx_vtable = {
    .deadline = delegate_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = native_free,
};
static const context_vtable_t timerCtx_vtable = {
    .deadline = timerCtx_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = native_free,
};
static const context_vtable_t afterFuncCtx_vtable = {
    .deadline = delegate_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = native_free,
};
static const context_vtable_t valueCtx_vtable = {
    .deadline = delegate_deadline,
    .done = delegate_done,
    .err = delegate_err,
    .value = native_value,
    .string = context__native_string,
    .free = native_free,
};
static const context_vtable_t withoutCancelCtx_vtable = {
    .deadline = emptyCtx_deadline,
    .done = emptyCtx_done,
    .err = emptyCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = native_free,
};

/* kind_of's table. */
const context_vtable_t *const context__vtables[KIND_FOREIGN] = {
    [KIND_VALUE] = &valueCtx_vtable,
    [KIND_CANCEL] = &cancelCtx_vtable,
    [KIND_TIMER] = &timerCtx_vtable,
    [KIND_AFTER_FUNC] = &afterFuncCtx_vtable,
    [KIND_WITHOUT_CANCEL] = &withoutCancelCtx_vtable,
    [KIND_BACKGROUND] = &backgroundCtx_vtable,
    [KIND_TODO] = &todoCtx_vtable,
};

/* Background and TODO: immortal (refs_ < 0), distinct objects. */
static context_t background = {.vtable_ = &backgroundCtx_vtable, .refs_ = -1};
static context_t todo = {.vtable_ = &todoCtx_vtable, .refs_ = -1};

/* ------------------------------------------------------------------------ */
/* closedchan                                                                */
/* ------------------------------------------------------------------------ */

/* Go's closedchan: one channel, closed at birth, shared by every context
 * canceled before anyone asked for its Done. Made on first need (a constructor
 * fails with ENOMEM if it cannot be made) and kept for the process. */
static _Atomic(chan_t *) closedchan;
static pthread_mutex_t closedchan_mu = PTHREAD_MUTEX_INITIALIZER;

static chan_t *closedchan_get(void)
{
    chan_t *c = atomic_load_explicit(&closedchan, memory_order_acquire);
    if (c)
        return c;
    pthread_mutex_lock(&closedchan_mu);
    c = atomic_load_explicit(&closedchan, memory_order_relaxed);
    if (!c) {
        c = chan_make(0, 0);
        if (c) {
            chan_close(c);
            atomic_store_explicit(&closedchan, c, memory_order_release);
        }
    }
    pthread_mutex_unlock(&closedchan_mu);
    return c;
}

/* ------------------------------------------------------------------------ */
/* References                                                                */
/* ------------------------------------------------------------------------ */

/* refs_ is a plain long in the public header (the struct must be complete for
 * embedding), so it is accessed with the __atomic builtins. */
static bool immortal(context_t *c)
{
    return __atomic_load_n(&c->refs_, __ATOMIC_RELAXED) < 0;
}

void context_init(context_t *self, const context_vtable_t *vtable)
{
    if (!self)
        return;
    self->vtable_ = vtable;
    __atomic_store_n(&self->refs_, 1, __ATOMIC_RELAXED);
}

context_t *context_retain(context_t *ctx)
{
    if (ctx && !immortal(ctx))
        __atomic_fetch_add(&ctx->refs_, 1, __ATOMIC_RELAXED);
    return ctx;
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

static void cancelCtx_cancel(cancelCtx *c, bool removeFromParent,
                             const context_error_t *err,
                             const context_error_t *cause);

/* Frees a cancelCtx's memory once the last hold is gone. Returns the parent
 * whose reference the caller must now drop (with context_release), or NULL. */
static context_t *drop_hold(cancelCtx *c)
{
    if (atomic_fetch_sub_explicit(&c->holds, 1, memory_order_acq_rel) != 1)
        return NULL;
    context_t *parent = c->Context;
    chan_t *d = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (d != atomic_load_explicit(&closedchan, memory_order_relaxed))
        chan_release(d); /* ours; closedchan is shared */
    chan__lock_destroy(&c->mu);
    free(c);
    atomic_fetch_sub_explicit(&context__live_objects, 1, memory_order_relaxed);
    return parent;
}

/* Drops the reference count of one native context that reached zero and
 * returns the parent whose reference goes with it. */
static context_t *dispose(context_t *ctx)
{
    cancelCtx *c = as_cancelCtx(ctx);
    if (c) {
        /* Nobody can observe c any more: canceling it is how it leaves its
         * parent's children set or afterFuncer, stops its timer and ends its
         * watcher. */
        cancelCtx_cancel(c, true, &context_canceled, NULL);
        return drop_hold(c);
    }
    context_t *parent;
    if (kind_of(ctx) == KIND_VALUE)
        parent = ((valueCtx *)ctx)->Context;
    else
        parent = ((withoutCancelCtx *)ctx)->c;
    free(ctx);
    atomic_fetch_sub_explicit(&context__live_objects, 1, memory_order_relaxed);
    return parent;
}

void context_release(context_t *ctx)
{
    /* A loop, not recursion: the last release of a leaf may free a whole
     * chain of ancestors. */
    while (ctx && !immortal(ctx)) {
        if (__atomic_fetch_sub(&ctx->refs_, 1, __ATOMIC_ACQ_REL) != 1)
            return;
        if (kind_of(ctx) == KIND_FOREIGN) {
            ctx->vtable_->free(ctx);
            return;
        }
        ctx = dispose(ctx);
    }
}

static void immortal_free(context_t *self)
{
    (void)self;
}

static void native_free(context_t *self)
{
    /* Never called: context_release frees native contexts itself. */
    (void)self;
}

/* ------------------------------------------------------------------------ */
/* emptyCtx: backgroundCtx and todoCtx                                       */
/* ------------------------------------------------------------------------ */

static bool emptyCtx_deadline(context_t *self, int64_t *deadline)
{
    (void)self;
    if (deadline)
        *deadline = 0;
    return false;
}

static chan_t *emptyCtx_done(context_t *self)
{
    (void)self;
    return NULL; /* never canceled */
}

static const context_error_t *emptyCtx_err(context_t *self)
{
    (void)self;
    return NULL;
}

static void *emptyCtx_value(context_t *self, const void *key)
{
    (void)self;
    (void)key;
    return NULL;
}

static size_t put_string(const char *s, char *buf, size_t n)
{
    return (size_t)snprintf(buf, n, "%s", s);
}

static size_t backgroundCtx_string(context_t *self, char *buf, size_t n)
{
    (void)self;
    return put_string("context.Background", buf, n);
}

static size_t todoCtx_string(context_t *self, char *buf, size_t n)
{
    (void)self;
    return put_string("context.TODO", buf, n);
}

context_t *context_background(void)
{
    return &background;
}

context_t *context_todo(void)
{
    return &todo;
}

/* ------------------------------------------------------------------------ */
/* Methods that walk the parent chain                                        */
/* ------------------------------------------------------------------------ */

/* Go's value(): the iterative lookup through the native kinds, ending in a
 * call of a foreign context's own Value. */
static void *value(context_t *c, const void *key)
{
    for (;;) {
        switch (kind_of(c)) {
        case KIND_VALUE: {
            valueCtx *vc = (valueCtx *)c;
            if (key == vc->key)
                return vc->val;
            c = vc->Context;
            break;
        }
        case KIND_CANCEL:
        case KIND_TIMER:
        case KIND_AFTER_FUNC:
            /* A timerCtx's embedded cancelCtx is at its start: same address. */
            if (key == &cancelCtxKey)
                return c;
            /* A stopCtx forwards Value to the parent it wraps. */
            c = ((cancelCtx *)c)->Context;
            break;
        case KIND_WITHOUT_CANCEL:
            if (key == &cancelCtxKey)
                return NULL; /* children do not attach to what is above */
            c = ((withoutCancelCtx *)c)->c;
            break;
        case KIND_BACKGROUND:
        case KIND_TODO:
            return NULL;
        case KIND_FOREIGN:
            return c->vtable_->value(c, key);
        }
    }
}

static void *native_value(context_t *self, const void *key)
{
    return value(self, key);
}

/* A valueCtx has Go's embedded-Context Done and Err: its parent's. */
static context_t *skip_values(context_t *c)
{
    while (kind_of(c) == KIND_VALUE)
        c = ((valueCtx *)c)->Context;
    return c;
}

static chan_t *delegate_done(context_t *self)
{
    context_t *c = skip_values(self);
    return c->vtable_->done(c);
}

static const context_error_t *delegate_err(context_t *self)
{
    context_t *c = skip_values(self);
    return c->vtable_->err(c);
}

/* Deadline(): a cancelCtx, afterFuncCtx and valueCtx have their parent's. */
static bool delegate_deadline(context_t *self, int64_t *deadline)
{
    context_t *c = self;
    for (;;) {
        switch (kind_of(c)) {
        case KIND_VALUE:
            c = ((valueCtx *)c)->Context;
            break;
        case KIND_CANCEL:
        case KIND_AFTER_FUNC:
            c = ((cancelCtx *)c)->Context;
            break;
        default:
            return c->vtable_->deadline(c, deadline);
        }
    }
}

static bool timerCtx_deadline(context_t *self, int64_t *deadline)
{
    if (deadline)
        *deadline = ((timerCtx *)self)->deadline;
    return true;
}

/* ------------------------------------------------------------------------ */
/* cancelCtx                                                                 */
/* ------------------------------------------------------------------------ */

/* cancelCtx.Done: the channel is made on first demand. Double-checked: the
 * acquire load pairs with the release store below, so a thread that sees the
 * channel sees it fully made. May return NULL only if the channel cannot be
 * allocated (never once canceled: cancel installs closedchan). */
static chan_t *cancelCtx_done(context_t *self)
{
    cancelCtx *c = (cancelCtx *)self;
    chan_t *d = atomic_load_explicit(&c->done, memory_order_acquire);
    if (d)
        return d;
    chan__lock(&c->mu);
    d = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (!d) {
        d = chan_make(0, 0);
        if (d)
            atomic_store_explicit(&c->done, d, memory_order_release);
    }
    chan__unlock(&c->mu);
    return d;
}

/* cancelCtx.Err: a set err implies a closed Done (Go issue #75533). cancel
 * stores err and then closes done, both under mu, so a reader that sees err
 * may run ahead of the close; it waits on Done (a few instructions at most)
 * before it reports err. */
static const context_error_t *cancelCtx_err(context_t *self)
{
    const context_error_t *err =
        atomic_load_explicit(&((cancelCtx *)self)->err, memory_order_acquire);
    if (!err)
        return NULL;
    chan_recv(cancelCtx_done(self), NULL); /* <-c.Done(): returns at once */
    return err;
}

/* children set operations; p->mu is held. */
static void children_add(cancelCtx *p, cancelCtx *child)
{
    child->prev = NULL;
    child->next = p->children;
    if (p->children)
        p->children->prev = child;
    p->children = child;
    child->registered = true;
}

static void children_delete(cancelCtx *p, cancelCtx *child)
{
    if (child->prev)
        child->prev->next = child->next;
    else
        p->children = child->next;
    if (child->next)
        child->next->prev = child->prev;
    child->prev = child->next = NULL;
    child->registered = false;
}

/* One cancelCtx_cancel call: the nodes it still has to cancel (detached
 * children, each retained, linked through next), those it is done with
 * (retained, linked through next) and the AfterFuncs whose f it must start. */
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

static void wait_subtree(cancelCtx *x, struct cancel_batch *self)
{
    struct cancel_batch *b = atomic_load(&x->busy);
    if (!b || b == self)
        return;
    pthread_mutex_lock(&cancel_mu);
    /* Dekker with the end of the batch that marked x (cancelCtx_cancel, where
     * it clears its marks): our increment and load of busy against its store of
     * NULL and load of cancel_waiters, all seq_cst: either we see NULL or it
     * sees us and broadcasts under cancel_mu. */
    atomic_fetch_add(&cancel_waiters, 1);
    while ((b = atomic_load(&x->busy)) != NULL && b != self)
        pthread_cond_wait(&cancel_cond, &cancel_mu);
    atomic_fetch_sub(&cancel_waiters, 1);
    pthread_mutex_unlock(&cancel_mu);
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

    chan__lock(&x->mu);
    if (atomic_load_explicit(&x->err, memory_order_relaxed)) {
        chan__unlock(&x->mu);
        return false; /* already canceled */
    }
    /* busy before err: whoever sees err and then reads busy under mu or
     * after it sees our mark. */
    atomic_store(&x->busy, b);
    atomic_store_explicit(&x->err, err, memory_order_release);
    x->cause = cause;
    chan_t *d = atomic_load_explicit(&x->done, memory_order_relaxed);
    if (!d)
        atomic_store_explicit(&x->done, closedchan_get(), memory_order_release);
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
    chan__unlock(&x->mu);

    if (timer) {
        /* A stopped timer will never run its callback: drop the hold it had.
         * Not the last one, since x is referenced by whoever canceled it. */
        if (chan_timer_stop(timer))
            atomic_fetch_sub_explicit(&x->holds, 1, memory_order_relaxed);
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

static void run_after_func(void *arg)
{
    afterFuncCtx *a = arg;
    void (*f)(void *) = a->f;
    void *farg = a->arg;
    context_release(drop_hold(&a->cancelCtx));
    f(farg);
}

static void removeChild(cancelCtx *c);

/* Go's cancelCtx.cancel (with timerCtx's and afterFuncCtx's overrides):
 * cancels c and, iteratively, its whole subtree; if removeFromParent, then
 * removes c from its parent. The caller keeps c alive (a reference, or a
 * hold). Locks: one context lock at a time; see the file comment. */
static void cancelCtx_cancel(cancelCtx *c, bool removeFromParent,
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
        atomic_fetch_add_explicit(&a->cancelCtx.holds, 1, memory_order_relaxed);
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
        removeChild(c);
}

/* ------------------------------------------------------------------------ */
/* propagateCancel, parentCancelCtx, removeChild                             */
/* ------------------------------------------------------------------------ */

/* Go's parentCancelCtx: the cancelCtx that parent's Done belongs to, found
 * through the private key, or NULL. A wrapper that overrides Done with a
 * channel of its own is not bypassed: the done channels must be the same. */
cancelCtx *context__parentCancelCtx(context_t *parent)
{
    chan_t *done = context_done(parent);
    if (!done || done == atomic_load(&closedchan))
        return NULL;
    cancelCtx *p = as_cancelCtx(context_value(parent, &cancelCtxKey));
    if (!p)
        return NULL;
    if (atomic_load_explicit(&p->done, memory_order_acquire) != done)
        return NULL;
    return p;
}

/* Go's removeChild(c.Context, c). For a stopCtx parent this unregisters from
 * the afterFuncer (once: the handle is taken under c->mu); otherwise it leaves
 * the children set of the cancelCtx it joined, if it is still in it.
 * Locks: c->mu, released, then pc->mu (Go: the parent's lock only after the
 * child's own is released). */
static void removeChild(cancelCtx *c)
{
    if (c->via_stop) {
        chan__lock(&c->mu);
        void *stop = c->stop;
        c->stop = NULL;
        chan__unlock(&c->mu);
        if (stop && c->Context->vtable_->after_func_stop(c->Context, stop)) {
            /* The callback will never run: drop its hold. Never the last:
             * our caller keeps c alive. */
            atomic_fetch_sub_explicit(&c->holds, 1, memory_order_relaxed);
        }
        return;
    }
    cancelCtx *p = c->pc;
    if (!p)
        return;
    chan__lock(&p->mu);
    if (c->registered)
        children_delete(p, c);
    chan__unlock(&p->mu);
}

/* The afterFuncer callback:
 * child.cancel(false, parent.Err(), Cause(parent)). */
static void stop_callback(void *arg)
{
    cancelCtx *c = arg;
    cancelCtx_cancel(c, false, context_err(c->Context),
                     context_cause(c->Context));
    context_release(drop_hold(c));
}

/* The watcher thread, Go's goroutine in propagateCancel. It holds c's memory
 * and ends when either side is done (a disposed child is canceled). */
static void watch(void *arg)
{
    cancelCtx *c = arg;
    context_t *parent = c->Context;
    chan_case_t cases[2] = {
        CHAN_RECV_CASE(context_done(parent), NULL),
        CHAN_RECV_CASE(cancelCtx_done(&c->ctx), NULL),
    };
    if (chan_select(cases, 2) == 0)
        cancelCtx_cancel(c, false, context_err(parent), context_cause(parent));
    context_release(drop_hold(c));
}

/* Go's cancelCtx.propagateCancel(parent, child): arranges for c to be
 * canceled when parent is, in Go's order. c->Context is already parent.
 * Returns 0, or ENOMEM with nothing registered. */
static int propagateCancel(cancelCtx *c, context_t *parent)
{
    /* Go: a nil Done means the parent is never canceled. Here it can also
     * mean that the Done of a cancelCtx could not be allocated (chan_make
     * sets errno to ENOMEM); then fail, rather than return a child that its
     * parent's cancel would never reach. */
    errno = 0;
    chan_t *done = context_done(parent);
    if (!done)
        return errno == ENOMEM ? ENOMEM : 0;

    /* select { case <-done: ...; default: } */
    if (chan_try_recv(done, NULL) != CHAN_WOULDBLOCK) {
        /* parent is already canceled */
        cancelCtx_cancel(c, false, context_err(parent), context_cause(parent));
        return 0;
    }

    cancelCtx *p = context__parentCancelCtx(parent);
    if (p) {
        const context_error_t *err, *cause = NULL;
        c->pc = p;
        chan__lock(&p->mu);
        err = atomic_load_explicit(&p->err, memory_order_relaxed);
        if (err)
            cause = p->cause;
        else
            children_add(p, c);
        chan__unlock(&p->mu);
        /* Go cancels c under p's lock (order p, then c). c is not published
         * yet, so canceling it just after is the same; it keeps every
         * context lock unnested. */
        if (err)
            cancelCtx_cancel(c, false, err, cause);
        return 0;
    }

    const context_vtable_t *v = parent->vtable_;
    if (v->after_func && v->after_func_stop) {
        /* An afterFuncer: register a callback instead of a thread; the parent
         * link becomes a stopCtx. c->mu is held so that the callback, which
         * cancels c from another thread, waits until the stop handle is
         * stored. */
        atomic_fetch_add_explicit(&c->holds, 1, memory_order_relaxed);
        chan__lock(&c->mu);
        void *stop = v->after_func(parent, stop_callback, c);
        if (stop) {
            c->stop = stop;
            c->via_stop = true;
        }
        chan__unlock(&c->mu);
        if (!stop) {
            atomic_fetch_sub_explicit(&c->holds, 1, memory_order_relaxed);
            return ENOMEM;
        }
        return 0;
    }

    /* A foreign parent: one watcher thread. It selects on c's Done, so make
     * that now, while failure can still be reported. */
    if (!cancelCtx_done(&c->ctx))
        return ENOMEM;
    atomic_fetch_add_explicit(&c->holds, 1, memory_order_relaxed);
    if (chan_go(watch, c) != CHAN_OK) {
        atomic_fetch_sub_explicit(&c->holds, 1, memory_order_relaxed);
        return ENOMEM;
    }
    atomic_fetch_add_explicit(&context__goroutines, 1, memory_order_relaxed);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Constructors                                                              */
/* ------------------------------------------------------------------------ */

/* A new cancel-kind context of size bytes with one reference, holding one
 * reference to parent; NULL on ENOMEM. */
static cancelCtx *newCancelCtx(size_t size, const context_vtable_t *vtable,
                               context_t *parent)
{
    if (!closedchan_get())
        return NULL; /* cancel must never fail for want of it */
    cancelCtx *c = calloc(1, size);
    if (!c)
        return NULL;
    chan__lock_init(&c->mu);
    c->ctx.vtable_ = vtable;
    c->ctx.refs_ = 1;
    atomic_init(&c->holds, 1);
    c->Context = context_retain(parent);
    atomic_fetch_add_explicit(&context__live_objects, 1, memory_order_relaxed);
    return c;
}

/* Gives up a context that was never returned; errno is ENOMEM afterwards. */
static void *fail_nomem(context_t *ctx)
{
    context_release(ctx);
    errno = ENOMEM;
    return NULL;
}

static context_t *withCancel(context_t *parent, context_cancel_t **cancel,
                             unsigned char how)
{
    if (cancel)
        *cancel = NULL;
    if (!parent || !cancel) {
        errno = EINVAL; /* Go: "cannot create context from nil parent" */
        return NULL;
    }
    cancelCtx *c = newCancelCtx(sizeof(cancelCtx), &cancelCtx_vtable, parent);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->handle.how = how;
    if (propagateCancel(c, parent) != 0)
        return fail_nomem(&c->ctx);
    *cancel = &c->handle;
    return &c->ctx;
}

context_t *context_with_cancel(context_t *parent, context_cancel_t **cancel)
{
    return withCancel(parent, cancel, CANCEL_REMOVE);
}

context_t *context_with_cancel_cause(context_t *parent,
                                     context_cancel_t **cancel)
{
    return withCancel(parent, cancel, CANCEL_CAUSE);
}

/* The timer's callback: c.cancel(true, DeadlineExceeded, cause). */
static void timerCtx_fire(void *arg)
{
    timerCtx *t = arg;
    cancelCtx_cancel(&t->cancelCtx, true, &context_deadline_exceeded, t->cause);
    context_release(drop_hold(&t->cancelCtx));
}

context_t *context_with_deadline_cause(context_t *parent, int64_t deadline,
                                       const context_error_t *cause,
                                       context_cancel_t **cancel)
{
    if (cancel)
        *cancel = NULL;
    if (!parent || !cancel) {
        errno = EINVAL;
        return NULL;
    }
    int64_t cur;
    if (context_deadline(parent, &cur) && cur < deadline) {
        /* The current deadline is sooner already: a plain cancelCtx. */
        return context_with_cancel(parent, cancel);
    }
    timerCtx *t =
        (timerCtx *)newCancelCtx(sizeof(timerCtx), &timerCtx_vtable, parent);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    cancelCtx *c = &t->cancelCtx;
    t->deadline = deadline;
    t->cause = cause;
    if (propagateCancel(c, parent) != 0)
        return fail_nomem(&c->ctx);

    int64_t now = chan_now();
    if (deadline <= now) {
        /* The deadline has passed already. */
        cancelCtx_cancel(c, true, &context_deadline_exceeded, cause);
        c->handle.how = CANCEL_KEEP;
        *cancel = &c->handle;
        return &c->ctx;
    }
    bool failed = false;
    chan__lock(&c->mu);
    if (!atomic_load_explicit(&c->err, memory_order_relaxed)) {
        /* The pending timer holds c; timerCtx_fire or a successful stop
         * drops it. */
        atomic_fetch_add_explicit(&c->holds, 1, memory_order_relaxed);
        t->timer = chan__after_func_on_timer_thread(time_until(deadline, now),
                                                    timerCtx_fire, t);
        if (!t->timer) {
            atomic_fetch_sub_explicit(&c->holds, 1, memory_order_relaxed);
            failed = true;
        }
    }
    chan__unlock(&c->mu);
    if (failed)
        return fail_nomem(&c->ctx);
    c->handle.how = CANCEL_REMOVE;
    *cancel = &c->handle;
    return &c->ctx;
}

context_t *context_with_deadline(context_t *parent, int64_t deadline,
                                 context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, deadline, NULL, cancel);
}

/* now + timeout, saturating, as time.Now().Add(timeout) does. */
static int64_t add_timeout(int64_t timeout)
{
    int64_t now = chan_now();
    if (timeout > 0 && now > INT64_MAX - timeout)
        return INT64_MAX;
    if (timeout < 0 && now < INT64_MIN - timeout)
        return INT64_MIN;
    return now + timeout;
}

context_t *context_with_timeout_cause(context_t *parent, int64_t timeout,
                                      const context_error_t *cause,
                                      context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, add_timeout(timeout), cause,
                                       cancel);
}

context_t *context_with_timeout(context_t *parent, int64_t timeout,
                                context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, add_timeout(timeout), NULL,
                                       cancel);
}

context_t *context_with_value(context_t *parent, const void *key, void *val)
{
    if (!parent || !key) {
        errno = EINVAL; /* Go: nil parent; "nil key" */
        return NULL;
    }
    valueCtx *c = malloc(sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->ctx.vtable_ = &valueCtx_vtable;
    c->ctx.refs_ = 1;
    c->Context = context_retain(parent);
    c->key = key;
    c->val = val;
    atomic_fetch_add_explicit(&context__live_objects, 1, memory_order_relaxed);
    return &c->ctx;
}

context_t *context_without_cancel(context_t *parent)
{
    if (!parent) {
        errno = EINVAL;
        return NULL;
    }
    withoutCancelCtx *c = malloc(sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->ctx.vtable_ = &withoutCancelCtx_vtable;
    c->ctx.refs_ = 1;
    c->c = context_retain(parent);
    atomic_fetch_add_explicit(&context__live_objects, 1, memory_order_relaxed);
    return &c->ctx;
}

/* ------------------------------------------------------------------------ */
/* CancelFuncs, AfterFunc                                                    */
/* ------------------------------------------------------------------------ */

static cancelCtx *handle_ctx(context_cancel_t *cancel)
{
    return (cancelCtx *)((char *)cancel - offsetof(cancelCtx, handle));
}

void context_cancel(context_cancel_t *cancel)
{
    if (!cancel)
        return;
    cancelCtx_cancel(handle_ctx(cancel), cancel->how != CANCEL_KEEP,
                     &context_canceled, NULL);
}

void context_cancel_cause(context_cancel_t *cancel,
                          const context_error_t *cause)
{
    if (!cancel)
        return;
    cancelCtx_cancel(handle_ctx(cancel), cancel->how != CANCEL_KEEP,
                     &context_canceled,
                     cancel->how == CANCEL_CAUSE ? cause : NULL);
}

context_after_func_t *context_after_func(context_t *ctx, void (*f)(void *),
                                         void *arg)
{
    if (!ctx || !f) {
        errno = EINVAL;
        return NULL;
    }
    afterFuncCtx *a = (afterFuncCtx *)newCancelCtx(sizeof(afterFuncCtx),
                                                   &afterFuncCtx_vtable, ctx);
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    a->f = f;
    a->arg = arg;
    if (propagateCancel(&a->cancelCtx, ctx) != 0) {
        /* Not registered anywhere; keep dispose from starting f. */
        atomic_store(&a->once, 1);
        return fail_nomem(&a->cancelCtx.ctx);
    }
    return (context_after_func_t *)a;
}

bool context_after_func_stop(context_after_func_t *stop)
{
    if (!stop)
        return false;
    afterFuncCtx *a = (afterFuncCtx *)stop;
    int zero = 0;
    bool stopped = atomic_compare_exchange_strong(&a->once, &zero, 1);
    if (stopped)
        cancelCtx_cancel(&a->cancelCtx, true, &context_canceled, NULL);
    /* The handle owned a's reference. */
    context_release(&a->cancelCtx.ctx);
    return stopped;
}

/* ------------------------------------------------------------------------ */
/* The Context interface, for any context                                    */
/* ------------------------------------------------------------------------ */

chan_t *context_done(context_t *ctx)
{
    return ctx ? ctx->vtable_->done(ctx) : NULL;
}

const context_error_t *context_err(context_t *ctx)
{
    return ctx ? ctx->vtable_->err(ctx) : NULL;
}

bool context_deadline(context_t *ctx, int64_t *deadline)
{
    if (!ctx) {
        if (deadline)
            *deadline = 0;
        return false;
    }
    int64_t d = 0;
    bool ok = ctx->vtable_->deadline(ctx, &d);
    if (deadline)
        *deadline = ok ? d : 0;
    return ok;
}

void *context_value(context_t *ctx, const void *key)
{
    return ctx ? value(ctx, key) : NULL;
}

/* Go's Cause: Err first, so that Cause never runs ahead of cancellation; then
 * the cause of the nearest cancelCtx, if any; else Err. */
const context_error_t *context_cause(context_t *ctx)
{
    const context_error_t *err = context_err(ctx);
    if (!err)
        return NULL;
    cancelCtx *cc = as_cancelCtx(context_value(ctx, &cancelCtxKey));
    if (cc) {
        chan__lock(&cc->mu);
        const context_error_t *cause = cc->cause;
        chan__unlock(&cc->mu);
        if (cause)
            return cause;
    }
    return err;
}
