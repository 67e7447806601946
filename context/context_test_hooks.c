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
    size_t n = 0;
    for (cancelCtx *x = c->children; x; x = x->next)
        n++;
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
    for (cancelCtx *x = p->children; x && !found; x = x->next)
        found = x == k;
    sched__unlock(&p->mu);
    return found;
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
