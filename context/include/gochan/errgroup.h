/* gochan/errgroup.h: golang.org/x/sync/errgroup, a WaitGroup for tasks that
 * can fail, with the first error canceling a shared context.
 *
 *     g, ctx := errgroup.WithContext(parent)
 *     g.SetLimit(4)
 *     g.Go(func() error { return work(ctx) })
 *     if err := g.Wait(); err != nil { ... }
 *
 * reads in C:
 *
 *     context_t *ctx;
 *     errgroup_t *g = errgroup_with_context(parent, &ctx);
 *     errgroup_set_limit(g, 4);
 *     errgroup_go(g, work, ctx);  // const context_error_t *work(void *ctx)
 *     const context_error_t *err = errgroup_wait(g);
 *     errgroup_release(g);
 *     context_release(ctx);
 *
 * Errors. A task returns `const context_error_t *`, Go's `error`: NULL is a nil
 * error, and errors compare by address, as Go's sentinels do
 * (`static const context_error_t err_doom = {"doomed"};`), or are made at run
 * time (`return context_error_wrap(err, "open %s", path);`, see
 * gochan/context.h). Returning a made error hands it to the group: the group
 * keeps the first non-NULL one until it is freed (errgroup_wait returns it,
 * borrowed) and releases every other at once. A static error must simply
 * outlive the group.
 *
 * Ownership. errgroup_new and errgroup_with_context return a group with one
 * reference, owned by the caller and dropped with errgroup_release. Every task
 * still running holds a reference of its own, so releasing a group whose
 * tasks still run is safe (they finish; nothing waits for them). A group from
 * errgroup_with_context holds its own reference to the derived context and
 * its cancel handle; the caller gets a separate reference in *ctx and releases
 * it with context_release, in any order with the group. When the group is
 * freed it cancels that context (Go's `defer cancel()`), so nothing leaks.
 *
 * Every function is safe to call from any thread, tasks included (a task may
 * call errgroup_go on its own group). A group may be reused after Wait, as in
 * Go: the first error stays the group's error.
 */
#ifndef GOCHAN_ERRGROUP_H
#define GOCHAN_ERRGROUP_H

#include <gochan/chan.h>
#include <gochan/context.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct errgroup errgroup_t;

/* The signature of a task: Go's `func() error`, with an argument that the
 * group passes through untouched (owned by the caller and the task). */
typedef const context_error_t *(*errgroup_func_t)(void *arg);

/* new(errgroup.Group): a group with no limit and no context; a task's error
 * cancels nothing. Returns a group owned by the caller, or NULL with errno
 * ENOMEM. */
GOCHAN_API errgroup_t *errgroup_new(void);

/* errgroup.WithContext(parent): a group and a context derived from parent
 * (stored in *ctx, a reference the caller releases with context_release). The
 * context is canceled, with the error as its cause (context_cause), the first
 * time a task returns an error, or else when errgroup_wait returns (cause
 * context_canceled), or when the group is freed, whichever comes first.
 * Returns NULL with errno EINVAL (NULL parent or ctx) or ENOMEM; *ctx is then
 * untouched. */
GOCHAN_API errgroup_t *errgroup_with_context(context_t *parent,
                                             context_t **ctx);

/* Adds a reference to g for another owner (say, a goroutine that will call
 * errgroup_wait after the creator released its own), to be dropped with
 * errgroup_release. Returns g (NULL for NULL). Any thread. */
GOCHAN_API errgroup_t *errgroup_retain(errgroup_t *g);

/* Drops one reference; the group is freed once no reference is left and no
 * task runs either. Does not wait and does not block. NULL-safe. Each owner
 * calls it once, after its last errgroup_* call on g (errgroup_wait
 * included): a group must not be used after its owner released it. */
GOCHAN_API void errgroup_release(errgroup_t *g);

/* g.Go(f): runs f(arg) on a new thread (chan_go). With a limit set, first
 * blocks until fewer than the limit's tasks are active (forever for a limit
 * of 0, as in Go). Returns CHAN_OK; CHAN_NOMEM with errno when the thread
 * cannot start (f never runs, the group is as before); CHAN_INVALID for a
 * NULL g or f. */
GOCHAN_API int errgroup_go(errgroup_t *g, errgroup_func_t f, void *arg);

/* g.TryGo(f): as errgroup_go, but never blocks: CHAN_WOULDBLOCK (Go's false)
 * when the limit is reached, f then not started. Also CHAN_OK, CHAN_NOMEM and
 * CHAN_INVALID as errgroup_go. */
GOCHAN_API int errgroup_try_go(errgroup_t *g, errgroup_func_t f, void *arg);

/* g.Wait(): blocks until every task started so far has returned, cancels the
 * group's context (if any), and returns the first error any task returned
 * (NULL for none; also NULL for a NULL g). */
GOCHAN_API const context_error_t *errgroup_wait(errgroup_t *g);

/* g.SetLimit(n): at most n tasks active at once; n < 0 removes the limit,
 * always. Returns CHAN_OK; CHAN_INVALID, changing nothing, for n >= 0 while
 * tasks started under the current limit are still active (Go panics there:
 * "modify limit while N goroutines in the group are still active"; tasks
 * started with no limit set do not count, as in Go) or for a NULL g;
 * CHAN_NOMEM with errno ENOMEM. Limits are kept with a channel of capacity n
 * used as a semaphore, as x/sync does. */
GOCHAN_API int errgroup_set_limit(errgroup_t *g, int n);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_ERRGROUP_H */
