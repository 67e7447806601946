/* context_test_hooks.c: the test hooks of context_test_hooks.h, which read
 * the internals of context.c and context_string.c for the ports of Go's
 * package-internal tests.
 */
#include "context_test_hooks.h"

#include "context_types.h"

#include <stdio.h>

size_t context__children(context_t *ctx)
{
    cancelCtx *c = as_cancelCtx(ctx);
    if (!c)
        return 0;
    sched__lock(&c->mu);
    size_t n = c->children ? c->children->len : 0;
    sched__unlock(&c->mu);
    return n;
}

size_t context__children_cap(context_t *ctx)
{
    cancelCtx *c = as_cancelCtx(ctx);
    if (!c)
        return 0;
    sched__lock(&c->mu);
    size_t n = c->children ? c->children->cap : 0;
    sched__unlock(&c->mu);
    return n;
}

bool context__has_child(context_t *parent, context_t *child)
{
    cancelCtx *p = as_cancelCtx(parent), *k = as_cancelCtx(child);
    if (!p || !k)
        return false;
    bool found = false;
    sched__lock(&p->mu);
    cancelCtx_children *a = p->children;
    uint32_t slot = atomic_load_explicit(&k->slot, memory_order_relaxed);
    for (uint32_t i = 0; a && i < a->len; i++)
        if (a->at[i] == k)
            found = i == slot; /* a child in the set knows its slot */
    sched__unlock(&p->mu);
    return found;
}

size_t context__cancelCtx_bytes(void)
{
    return sizeof(cancelCtx);
}

size_t context__lock_bytes(void)
{
    return sizeof(sched__lock_t);
}

context_t *context__parent_cancel_ctx(context_t *ctx)
{
    cancelCtx *c = as_cancelCtx(ctx);
    if (!c)
        return NULL;
    cancelCtx *p = context__parentCancelCtx(c->Context);
    return p ? &p->ctx : NULL;
}

context_t *context__after_func_ctx(context_after_func_t *stop)
{
    return stop ? &((afterFuncCtx *)stop)->cancelCtx.ctx : NULL;
}

uint64_t context__watchers_started(void)
{
    return atomic_load_explicit(&context__goroutines, memory_order_relaxed);
}

long context__live(void)
{
    return atomic_load_explicit(&context__live_objects, memory_order_relaxed);
}

long context__errors_live(void)
{
    return atomic_load_explicit(&context__live_errors, memory_order_relaxed);
}
