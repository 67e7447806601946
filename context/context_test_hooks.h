/* context_test_hooks.h: internal to gochan, never installed. Test hooks into
 * the context package (context_test_hooks.c), for the ports of Go's
 * package-internal tests (context_test.go reads cancelCtx.children,
 * parentCancelCtx and the goroutines counter). Tests reach these by linking
 * the static library.
 */
#ifndef GOCHAN_CONTEXT_TEST_HOOKS_H
#define GOCHAN_CONTEXT_TEST_HOOKS_H

#include <gochan/context.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* len(c.children) for a cancelCtx or timerCtx (under its mutex); 0 for any
 * other context, NULL included. */
size_t context__children(context_t *ctx);

/* The room in a cancelCtx's children array (0 before the first child joins
 * and after a cancel took the array); 0 for any other context. */
size_t context__children_cap(context_t *ctx);

/* sizeof(cancelCtx), and of its lock (4 bytes with futexes; the portable
 * build's pthread_mutex_t is larger). */
size_t context__cancelCtx_bytes(void);
size_t context__lock_bytes(void);

/* Whether child sits in parent's children set now (and at the slot it
 * records). Both must be a cancelCtx
 * or timerCtx (false otherwise). */
bool context__has_child(context_t *parent, context_t *child);

/* parentCancelCtx(c.Context) for a cancelCtx, timerCtx or afterFuncCtx c: the
 * nearest native cancelCtx above c whose done channel c's parent shares, as a
 * context_t, or NULL when there is none. */
context_t *context__parent_cancel_ctx(context_t *ctx);

/* The afterFuncCtx behind an AfterFunc handle, as a context_t (borrowed: it
 * lives until the handle is stopped). */
context_t *context__after_func_ctx(context_after_func_t *stop);

/* Go's `goroutines` counter: watcher threads started by propagateCancel. */
uint64_t context__watchers_started(void);

/* Errors made at run time (context_error_new ...) and not yet freed. */
long context__errors_live(void);

/* Native context objects allocated and not yet freed (every kind). Pending
 * timers, watchers and AfterFunc threads keep theirs alive until they end. */
long context__live(void);

#endif /* GOCHAN_CONTEXT_TEST_HOOKS_H */
