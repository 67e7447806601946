/* context.c: Go's context package (src/context/context.go), built on gochan's
 * public channel, select, goroutine and timer API only, as Go's context uses
 * only public channel operations.
 *
 * The types are Go's: emptyCtx (backgroundCtx, todoCtx), cancelCtx, timerCtx,
 * afterFuncCtx, valueCtx, withoutCancelCtx and stopCtx, and so are the
 * functions: propagateCancel, parentCancelCtx, removeChild, value(),
 * contextName and Cause. Every context, ours or a user's, is a context_t whose
 * vtable is Go's Context interface; kind_of (context_types.h) tells gochan's
 * own kinds apart by vtable address, as Go's type switches do by type.
 *
 * The file reads as context.go does, each constructor next to its type and
 * that type's methods (a `---- name ----` line opens each section):
 *   the Context interface
 *   Canceled, DeadlineExceeded
 *   emptyCtx, backgroundCtx, todoCtx; Background, TODO
 *   WithCancel, WithCancelCause, withCancel and their CancelFuncs
 *   Cause
 *   AfterFunc, afterFuncCtx
 *   parentCancelCtx, removeChild, closedchan
 *   cancelCtx: Value, Done, Err, propagateCancel
 *   WithoutCancel, withoutCancelCtx
 *   WithDeadline, WithDeadlineCause, timerCtx
 *   WithTimeout, WithTimeoutCause
 *   WithValue, valueCtx, value
 * after the forward declarations and package variables that C needs first,
 * and before kind_of's table. Elsewhere: the types in context_types.h;
 * cancelCtx.cancel (and the timerCtx and afterFuncCtx overrides) in
 * context_cancel.c; String for every kind but emptyCtx, and Duration.String,
 * in context_string.c; C's reference counting (note 2) in
 * context_lifetime.c; the test hooks in context_test_hooks.c.
 *
 * Where C differs from Go, and why:
 *
 * 1. Iterative cancel. Go's cancelCtx.cancel cancels each child while holding
 *    the parent's lock, recursing down the tree. A chain of 100,000 contexts
 *    would need 100,000 C stack frames and as many held mutexes, so
 *    context__cancelCtx_cancel() walks the tree with a worklist instead: it
 *    cancels one node at a time (cancelCtx_cancel_one) under that node's
 *    lock, detaches its children array into the worklist (each child
 *    retained) and unlocks it before taking the next node. No thread ever
 *    holds two context locks at once, which also makes Go's lock order
 *    (parent before child) hold trivially. The worklist is made of the
 *    detached arrays themselves, so a cancel never allocates.
 *
 *    Go's guarantee is kept: when cancel returns, every descendant is done,
 *    even for a cancel that lost the race against another thread's cancel of
 *    the same subtree. The batch (one context__cancelCtx_cancel call) that
 *    canceled a node leaves a mark on it, bit 0 of its err (CANCEL_BUSY),
 *    until that batch has finished the node's whole subtree; each batch
 *    remembers which nodes it marked itself. A batch that meets a node another
 *    batch canceled waits, after finishing its own work and before clearing
 *    its own marks, until that mark is cleared. Waits only ever point down
 *    the tree (a batch reaches another batch's node only at the root of that
 *    batch's subtree), so they cannot form a cycle.
 *
 * 2. Lifetime. `refs_` counts the references that contract "context
 *    lifetime" (docs/semantics.md) hands out (constructors, context_retain, a
 *    child's link to its parent, the worklist above). For the cancelCtx kinds
 *    its high bits also count the holds (CANCEL_HOLD each), what keeps the
 *    memory alive: one for all the references together, and one for each
 *    pending timer, watcher thread, afterFuncer registration and starting
 *    AfterFunc thread, each of which touches the context after its owner may
 *    have let go. When the references reach zero the context is disposed:
 *    canceled, as nobody can observe it any more (a live child or AfterFunc
 *    would hold a reference), which also removes it from its parent's
 *    children set, stops its timer, unregisters it from an afterFuncer and
 *    ends its watcher; then it drops the references' hold. When the holds
 *    reach zero (refs_ is 0) its memory goes and its reference to its parent
 *    is dropped. One word for both keeps a cancelCtx in malloc's 80-byte
 *    chunk (context_types.h). Release walks up the parent chain in a loop, so
 *    freeing a long chain uses no stack either.
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- what C needs first: forward declarations and package state ---- */

/* Static functions that context.go's order defines after a first use:
 * withCancel, which Go puts after WithCancel and WithCancelCause; from the
 * cancelCtx section, the children set's delete (used by removeChild) and
 * propagateCancel (used by every constructor of a cancelCtx kind); from the
 * valueCtx section, Go's value(), the Value of every native kind. */
static context_t *withCancel(context_t *parent, context_cancel_t **cancel,
                             unsigned char how);
static context_cancel_t *cancel_handle(cancelCtx *c, unsigned how);
static void children_delete(cancelCtx *p, cancelCtx *child, uint32_t slot);
static int propagateCancel(cancelCtx *c, context_t *parent);
static void *value(context_t *c, const void *key);

/* Go's package-level variables, which context.go declares beside
 * parentCancelCtx: cancelCtxKey, whose address is the private key under which
 * Value finds the nearest cancelCtx; the `goroutines` counter and the count of
 * live native objects, for the tests; closedchan (context__closedchan_get). */
static const char cancelCtxKey;
atomic_uint_least64_t context__goroutines;
atomic_long context__live_objects;
_Atomic(chan_t *) context__closedchan;
static pthread_mutex_t closedchan_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the Context interface (C's reference counting: context_lifetime.c) ----
 */

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

/* ---- Canceled, DeadlineExceeded ---- */

/* Canceled and DeadlineExceeded, compared by address. */
const context_error_t context_canceled = {"context canceled"};
const context_error_t context_deadline_exceeded = {"context deadline exceeded"};

/* deadlineExceededError.Timeout(). */
bool context_error_timeout(const context_error_t *err)
{
    return err == &context_deadline_exceeded;
}

/* ---- emptyCtx, backgroundCtx, todoCtx; Background, TODO ---- */

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

static void immortal_free(context_t *self)
{
    (void)self;
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

/* The method sets of backgroundCtx and todoCtx. No native kind offers
 * afterFuncer: after_func and after_func_stop stay NULL in every vtable. */
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

/* Background and TODO: immortal (refs_ < 0), distinct objects. */
static context_t background = {.vtable_ = &backgroundCtx_vtable, .refs_ = -1};
static context_t todo = {.vtable_ = &todoCtx_vtable, .refs_ = -1};

context_t *context_background(void)
{
    return &background;
}

context_t *context_todo(void)
{
    return &todo;
}

/* ---- WithCancel, WithCancelCause, withCancel and their CancelFuncs ---- */

/* A new context of size bytes and of a kind that is or embeds a cancelCtx,
 * with one reference, holding one reference to parent; NULL on ENOMEM. */
static cancelCtx *newCancelCtx(size_t size, context_kind kind,
                               context_t *parent)
{
    if (!context__closedchan_get())
        return NULL; /* cancel must never fail for want of it */
    cancelCtx *c = calloc(1, size);
    if (!c)
        return NULL;
    sched__lock_init(&c->mu);
    c->ctx.vtable_ = context__vtables[kind];
    c->ctx.refs_ = 1 + CANCEL_HOLD; /* one reference; the hold of them all */
    atomic_init(&c->slot, SLOT_NONE);
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

context_t *context_with_cancel(context_t *parent, context_cancel_t **cancel)
{
    return withCancel(parent, cancel, CANCEL_REMOVE);
}

context_t *context_with_cancel_cause(context_t *parent,
                                     context_cancel_t **cancel)
{
    return withCancel(parent, cancel, CANCEL_CAUSE);
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
    cancelCtx *c = newCancelCtx(sizeof(cancelCtx), KIND_CANCEL, parent);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    if (propagateCancel(c, parent) != 0)
        return fail_nomem(&c->ctx);
    *cancel = cancel_handle(c, how);
    return &c->ctx;
}

/* A CancelFunc is c's address plus how (context_types.h): a context is
 * malloc'd, so the low bits of its address are free. */
static context_cancel_t *cancel_handle(cancelCtx *c, unsigned how)
{
    return (context_cancel_t *)((unsigned char *)c + how);
}

static unsigned handle_how(context_cancel_t *cancel)
{
    return (unsigned)((uintptr_t)cancel & 3);
}

static cancelCtx *handle_ctx(context_cancel_t *cancel)
{
    return (cancelCtx *)((unsigned char *)cancel - handle_how(cancel));
}

void context_cancel(context_cancel_t *cancel)
{
    if (!cancel)
        return;
    context__cancelCtx_cancel(handle_ctx(cancel),
                              handle_how(cancel) != CANCEL_KEEP,
                              &context_canceled, NULL);
}

void context_cancel_cause(context_cancel_t *cancel,
                          const context_error_t *cause)
{
    if (cancel) {
        unsigned how = handle_how(cancel);
        context__cancelCtx_cancel(handle_ctx(cancel), how != CANCEL_KEEP,
                                  &context_canceled,
                                  how == CANCEL_CAUSE ? cause : NULL);
    }
    context_error_release(cause); /* handed over; the contexts retain theirs */
}

/* ---- Cause ---- */

/* Go's Cause: Err first, so that Cause never runs ahead of cancellation; then
 * the cause of the nearest cancelCtx, if any; else Err. */
const context_error_t *context_cause(context_t *ctx)
{
    const context_error_t *err = context_err(ctx);
    if (!err)
        return NULL;
    cancelCtx *cc = as_cancelCtx(context_value(ctx, &cancelCtxKey));
    if (cc) {
        sched__lock(&cc->mu);
        const context_error_t *cause = cc->cause;
        sched__unlock(&cc->mu);
        if (cause)
            return cause;
    }
    return err;
}

/* ---- AfterFunc, afterFuncCtx ---- */

/* Go's AfterFunc, and its stop func: context_after_func_stop. afterFuncCtx's
 * cancel (a.once.Do(go a.f())) is in context_cancel.c, its vtable beside
 * cancelCtx's. */

context_after_func_t *context_after_func(context_t *ctx, void (*f)(void *),
                                         void *arg)
{
    if (!ctx || !f) {
        errno = EINVAL;
        return NULL;
    }
    afterFuncCtx *a = (afterFuncCtx *)newCancelCtx(sizeof(afterFuncCtx),
                                                   KIND_AFTER_FUNC, ctx);
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
        context__cancelCtx_cancel(&a->cancelCtx, true, &context_canceled, NULL);
    /* The handle owned a's reference. */
    context_release(&a->cancelCtx.ctx);
    return stopped;
}

/* ---- parentCancelCtx, removeChild, closedchan ---- */

/* Go's parentCancelCtx: the cancelCtx that parent's Done belongs to, found
 * through the private key, or NULL. A wrapper that overrides Done with a
 * channel of its own is not bypassed: the done channels must be the same. */
cancelCtx *context__parentCancelCtx(context_t *parent)
{
    chan_t *done = context_done(parent);
    if (!done || done == atomic_load(&context__closedchan))
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
void context__removeChild(cancelCtx *c)
{
    if (atomic_load_explicit(&c->slot, memory_order_relaxed) == SLOT_STOP) {
        sched__lock(&c->mu);
        void *stop = c->stop;
        c->stop = NULL;
        sched__unlock(&c->mu);
        if (stop && c->Context->vtable_->after_func_stop(c->Context, stop)) {
            /* The callback will never run: drop its hold. Never the last:
             * our caller keeps c alive. */
            cancelCtx_unhold(c);
        }
        return;
    }
    cancelCtx *p = c->pc;
    if (!p)
        return;
    sched__lock(&p->mu);
    uint32_t slot = atomic_load_explicit(&c->slot, memory_order_relaxed);
    if (slot != SLOT_NONE)
        children_delete(p, c, slot);
    sched__unlock(&p->mu);
}

/* Go's closedchan: one channel, closed at birth, shared by every context
 * canceled before anyone asked for its Done. Made on first need (a constructor
 * fails with ENOMEM if it cannot be made) and kept for the process. */
chan_t *context__closedchan_get(void)
{
    chan_t *c =
        atomic_load_explicit(&context__closedchan, memory_order_acquire);
    if (c)
        return c;
    pthread_mutex_lock(&closedchan_mu);
    c = atomic_load_explicit(&context__closedchan, memory_order_relaxed);
    if (!c) {
        c = chan_make(0, 0);
        if (c) {
            chan_close(c);
            atomic_store_explicit(&context__closedchan, c,
                                  memory_order_release);
        }
    }
    pthread_mutex_unlock(&closedchan_mu);
    return c;
}

/* ---- cancelCtx (String: context_string.c; cancel: context_cancel.c) ---- */

/* Go's cancelCtx struct is in context_types.h. */

/* The children set's operations (the array: context_types.h); p->mu is
 * held. The first array has room for CHILDREN_MIN children. */
enum { CHILDREN_MIN = 4 };

/* Gives the array room for cap children: 0, or ENOMEM with p unchanged.
 * realloc, so that a shrink that cannot move keeps what it has. */
static int children_resize(cancelCtx *p, uint32_t cap)
{
    cancelCtx_children *a =
        realloc(p->children, sizeof *a + (size_t)cap * sizeof a->at[0]);
    if (!a)
        return ENOMEM;
    if (!p->children)
        a->len = 0;
    a->cap = cap;
    a->next = NULL;
    p->children = a;
    return 0;
}

/* Go's p.children[child] = struct{}{}, with the map made on first use.
 * Returns 0, or ENOMEM with p unchanged and child not registered. */
static int children_add(cancelCtx *p, cancelCtx *child)
{
    cancelCtx_children *a = p->children;
    if (!a || a->len == a->cap) {
        uint32_t cap = a ? a->cap : CHILDREN_MIN / 2;
        if (cap > CHILDREN_MAX / 2)
            return ENOMEM; /* the slots would run out */
        if (children_resize(p, 2 * cap) != 0)
            return ENOMEM;
        a = p->children;
    }
    atomic_store_explicit(&child->slot, a->len, memory_order_relaxed);
    a->at[a->len++] = child;
    return 0;
}

/* Go's delete(p.children, child), for the child at slot: the last child
 * moves into its place. A quarter-full array beyond the first size halves. */
static void children_delete(cancelCtx *p, cancelCtx *child, uint32_t slot)
{
    cancelCtx_children *a = p->children;
    sched__invariant(a && slot < a->len && a->at[slot] == child,
                     "a registered child sits at its slot");
    cancelCtx *last = a->at[--a->len];
    a->at[slot] = last;
    atomic_store_explicit(&last->slot, slot, memory_order_relaxed);
    atomic_store_explicit(&child->slot, SLOT_NONE, memory_order_relaxed);
    if (a->cap > CHILDREN_MIN && a->len <= a->cap / 4)
        (void)children_resize(p, a->cap / 2); /* if it fails, keep the room */
}

/* cancelCtx.Value, and the Value of every other native kind but emptyCtx:
 * Go's value(), in the valueCtx section. */
static void *native_value(context_t *self, const void *key)
{
    return value(self, key);
}

/* cancelCtx.Done: the channel is made on first demand. Double-checked: the
 * acquire load pairs with the release store below, so a thread that sees the
 * channel sees it fully made. May return NULL only if the channel cannot be
 * allocated (never once canceled: cancel installs closedchan). */
static chan_t *cancelCtx_done(context_t *self)
{
    cancelCtx *c = (cancelCtx *)self;
    chan_t *d = atomic_load_explicit(&c->done, memory_order_acquire);
    if (d) {
        /* It may be the shared closedchan, stored by cancel after it set err:
         * tell ThreadSanitizer that this load synchronizes with that. */
        sched__race_acquire(&c->err);
        return d;
    }
    sched__lock(&c->mu);
    d = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (!d) {
        d = chan_make(0, 0);
        if (d)
            atomic_store_explicit(&c->done, d, memory_order_release);
    }
    sched__unlock(&c->mu);
    return d;
}

/* cancelCtx.Err: a set err implies a closed Done (Go issue #75533). cancel
 * stores err and then closes done, both under mu, so a reader that sees err
 * may run ahead of the close; it waits on Done (a few instructions at most)
 * before it reports err. */
static const context_error_t *cancelCtx_err(context_t *self)
{
    const context_error_t *err =
        cancelCtx_err_load((cancelCtx *)self, memory_order_acquire);
    if (!err)
        return NULL;
    sched__race_acquire(&((cancelCtx *)self)->err); /* see cancel_one */
    chan_recv(cancelCtx_done(self), NULL); /* <-c.Done(): returns at once */
    return err;
}

/* The afterFuncer callback:
 * child.cancel(false, parent.Err(), Cause(parent)). */
static void stop_callback(void *arg)
{
    cancelCtx *c = arg;
    context__cancelCtx_cancel(c, false, context_err(c->Context),
                              context_cause(c->Context));
    context_release(context__drop_hold(c));
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
        context__cancelCtx_cancel(c, false, context_err(parent),
                                  context_cause(parent));
    context_release(context__drop_hold(c));
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
        context__cancelCtx_cancel(c, false, context_err(parent),
                                  context_cause(parent));
        return 0;
    }

    cancelCtx *p = context__parentCancelCtx(parent);
    if (p) {
        const context_error_t *err, *cause = NULL;
        c->pc = p;
        sched__lock(&p->mu);
        err = cancelCtx_err_load(p, memory_order_relaxed);
        int rc = 0;
        if (err)
            cause = p->cause;
        else
            rc = children_add(p, c);
        sched__unlock(&p->mu);
        if (rc != 0)
            return rc; /* c->pc is set, but c sits in no array */
        /* Go cancels c under p's lock (order p, then c). c is not published
         * yet, so canceling it just after is the same; it keeps every
         * context lock unnested. */
        if (err)
            context__cancelCtx_cancel(c, false, err, cause);
        return 0;
    }

    const context_vtable_t *v = parent->vtable_;
    if (v->after_func && v->after_func_stop) {
        /* An afterFuncer: register a callback instead of a thread; the parent
         * link becomes a stopCtx. c->mu is held so that the callback, which
         * cancels c from another thread, waits until the stop handle is
         * stored. */
        cancelCtx_hold(c);
        sched__lock(&c->mu);
        void *stop = v->after_func(parent, stop_callback, c);
        if (stop) {
            c->stop = stop;
            atomic_store_explicit(&c->slot, SLOT_STOP, memory_order_relaxed);
        }
        sched__unlock(&c->mu);
        if (!stop) {
            cancelCtx_unhold(c);
            return ENOMEM;
        }
        return 0;
    }

    /* A foreign parent: one watcher thread. It selects on c's Done, so make
     * that now, while failure can still be reported. */
    if (!cancelCtx_done(&c->ctx))
        return ENOMEM;
    cancelCtx_hold(c);
    if (chan_go(watch, c) != CHAN_OK) {
        cancelCtx_unhold(c);
        return ENOMEM;
    }
    atomic_fetch_add_explicit(&context__goroutines, 1, memory_order_relaxed);
    return 0;
}

/* Deadline(): a cancelCtx, afterFuncCtx and valueCtx have their parent's (Go's
 * embedded Context). */
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

static const context_vtable_t cancelCtx_vtable = {
    .deadline = delegate_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = context__native_free,
};
/* afterFuncCtx has cancelCtx's methods; only its cancel differs. */
static const context_vtable_t afterFuncCtx_vtable = {
    .deadline = delegate_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = context__native_free,
};

/* ---- WithoutCancel, withoutCancelCtx ---- */

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
    c->ctx.vtable_ = context__vtables[KIND_WITHOUT_CANCEL];
    c->ctx.refs_ = 1;
    c->c = context_retain(parent);
    atomic_fetch_add_explicit(&context__live_objects, 1, memory_order_relaxed);
    return &c->ctx;
}

static const context_vtable_t withoutCancelCtx_vtable = {
    .deadline = emptyCtx_deadline,
    .done = emptyCtx_done,
    .err = emptyCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = context__native_free,
};

/* ---- WithDeadline, WithDeadlineCause, timerCtx ---- */

/* timerCtx's String is in context_string.c, its cancel in context_cancel.c. */

context_t *context_with_deadline(context_t *parent, int64_t deadline,
                                 context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, deadline, NULL, cancel);
}

/* The timer's callback: c.cancel(true, DeadlineExceeded, cause). */
static void timerCtx_fire(void *arg)
{
    timerCtx *t = arg;
    context__cancelCtx_cancel(&t->cancelCtx, true, &context_deadline_exceeded,
                              t->cause);
    context_release(context__drop_hold(&t->cancelCtx));
}

context_t *context_with_deadline_cause(context_t *parent, int64_t deadline,
                                       const context_error_t *cause,
                                       context_cancel_t **cancel)
{
    /* cause is handed over (gochan/context.h): released on every path that
     * does not keep it in the timerCtx, which releases it when freed. */
    if (cancel)
        *cancel = NULL;
    if (!parent || !cancel) {
        context_error_release(cause);
        errno = EINVAL;
        return NULL;
    }
    int64_t cur;
    if (context_deadline(parent, &cur) && cur < deadline) {
        /* The current deadline is sooner already: a plain cancelCtx. */
        context_error_release(cause);
        return context_with_cancel(parent, cancel);
    }
    timerCtx *t =
        (timerCtx *)newCancelCtx(sizeof(timerCtx), KIND_TIMER, parent);
    if (!t) {
        context_error_release(cause);
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
        context__cancelCtx_cancel(c, true, &context_deadline_exceeded, cause);
        *cancel = cancel_handle(c, CANCEL_KEEP);
        return &c->ctx;
    }
    bool failed = false;
    sched__lock(&c->mu);
    if (!cancelCtx_err_load(c, memory_order_relaxed)) {
        /* The pending timer holds c; timerCtx_fire or a successful stop
         * drops it. */
        cancelCtx_hold(c);
        t->timer = chan__after_func_on_timer_thread(time_until(deadline, now),
                                                    timerCtx_fire, t);
        if (!t->timer) {
            cancelCtx_unhold(c);
            failed = true;
        }
    }
    sched__unlock(&c->mu);
    if (failed)
        return fail_nomem(&c->ctx);
    *cancel = cancel_handle(c, CANCEL_REMOVE);
    return &c->ctx;
}

static bool timerCtx_deadline(context_t *self, int64_t *deadline)
{
    if (deadline)
        *deadline = ((timerCtx *)self)->deadline;
    return true;
}

static const context_vtable_t timerCtx_vtable = {
    .deadline = timerCtx_deadline,
    .done = cancelCtx_done,
    .err = cancelCtx_err,
    .value = native_value,
    .string = context__native_string,
    .free = context__native_free,
};

/* ---- WithTimeout, WithTimeoutCause ---- */

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

context_t *context_with_timeout(context_t *parent, int64_t timeout,
                                context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, add_timeout(timeout), NULL,
                                       cancel);
}

context_t *context_with_timeout_cause(context_t *parent, int64_t timeout,
                                      const context_error_t *cause,
                                      context_cancel_t **cancel)
{
    return context_with_deadline_cause(parent, add_timeout(timeout), cause,
                                       cancel);
}

/* ---- WithValue, valueCtx, value ---- */

context_t *context_with_owned_value(context_t *parent, const void *key,
                                    void *val, void (*destroy)(void *val))
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
    c->ctx.vtable_ = context__vtables[KIND_VALUE];
    c->ctx.refs_ = 1;
    c->Context = context_retain(parent);
    c->key = key;
    c->val = val;
    c->destroy = destroy;
    atomic_fetch_add_explicit(&context__live_objects, 1, memory_order_relaxed);
    return &c->ctx;
}

context_t *context_with_value(context_t *parent, const void *key, void *val)
{
    return context_with_owned_value(parent, key, val, NULL);
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

static const context_vtable_t valueCtx_vtable = {
    .deadline = delegate_deadline,
    .done = delegate_done,
    .err = delegate_err,
    .value = native_value,
    .string = context__native_string,
    .free = context__native_free,
};

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

/* ---- kind_of's table ---- */

/* Every native vtable, by kind, for kind_of (context_types.h). */
const context_vtable_t *const context__vtables[KIND_FOREIGN] = {
    [KIND_VALUE] = &valueCtx_vtable,
    [KIND_CANCEL] = &cancelCtx_vtable,
    [KIND_TIMER] = &timerCtx_vtable,
    [KIND_AFTER_FUNC] = &afterFuncCtx_vtable,
    [KIND_WITHOUT_CANCEL] = &withoutCancelCtx_vtable,
    [KIND_BACKGROUND] = &backgroundCtx_vtable,
    [KIND_TODO] = &todoCtx_vtable,
};
