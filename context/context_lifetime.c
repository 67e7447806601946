/* context_lifetime.c: what C adds to Go's context, reference counting
 * (contract "context lifetime", docs/semantics.md; context.c's file comment,
 * note 2): context_init, context_retain and context_release for every
 * context, and for the native ones their disposal and the holds that keep a
 * cancelCtx's memory alive.
 */
#include "context_types.h"

#include <stdatomic.h>
#include <stdlib.h>

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

/* Frees a cancelCtx's memory once the last hold is gone. Returns the parent
 * whose reference the caller must now drop (with context_release), or NULL. */
context_t *context__drop_hold(cancelCtx *c)
{
    sched__race_drop_ref(&c->ctx.refs_);
    long old = __atomic_fetch_sub(&c->ctx.refs_, CANCEL_HOLD, __ATOMIC_ACQ_REL);
    sched__invariant(old >= CANCEL_HOLD, "a cancelCtx's hold is dropped once");
    if (old != CANCEL_HOLD)
        return NULL;
    sched__race_last_ref(&c->ctx.refs_);
    /* Every batch that marked c held a reference to it till it cleared the
     * mark (context.c's comment, "Iterative cancel"). */
    sched__invariant(!(atomic_load(&c->err) & CANCEL_BUSY),
                     "a cancelCtx is freed with no batch's mark on it");
    /* Its disposal canceled it, and the cancel took the children array. */
    sched__invariant(c->children == NULL,
                     "a cancelCtx is freed with no children array");
    context_t *parent = c->Context;
    chan_t *d = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (d != atomic_load_explicit(&context__closedchan, memory_order_relaxed))
        chan_release(d); /* ours; closedchan is shared */
    context_error_release(cancelCtx_err_load(c, memory_order_relaxed));
    context_error_release(c->cause);
    if (kind_of(&c->ctx) == KIND_TIMER)
        context_error_release(((timerCtx *)c)->cause); /* handed over */
    sched__lock_destroy(&c->mu);
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
        context__cancelCtx_cancel(c, true, &context_canceled, NULL);
        return context__drop_hold(c);
    }
    context_t *parent;
    if (kind_of(ctx) == KIND_VALUE) {
        valueCtx *v = (valueCtx *)ctx;
        parent = v->Context;
        if (v->destroy)
            v->destroy(v->val); /* nobody can read it any more */
    } else
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
        sched__race_drop_ref(&ctx->refs_);
        /* The references are the low bits (a cancelCtx keeps its holds above
         * them, CANCEL_HOLD; every other kind has none). */
        long old = __atomic_fetch_sub(&ctx->refs_, 1, __ATOMIC_ACQ_REL);
        if ((old & CANCEL_REFS) != 1)
            return;
        sched__race_last_ref(&ctx->refs_);
        if (kind_of(ctx) == KIND_FOREIGN) {
            ctx->vtable_->free(ctx);
            return;
        }
        ctx = dispose(ctx);
    }
}

void context__native_free(context_t *self)
{
    /* Never called: context_release frees native contexts itself. */
    (void)self;
}
