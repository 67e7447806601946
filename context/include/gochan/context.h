/* gochan/context.h: Go's context package (cancellation, deadlines, values).
 *
 * Lifetime, in one rule: every context_with_* and context_without_cancel
 * returns a reference that its caller releases with context_release; its cancel
 * handle stays valid until then and may be called any number of times, from
 * any thread, before that release (Go's `defer cancel()`). Followed, this leaks
 * nothing. Further:
 *  - Background and TODO are immortal: retain and release do nothing to them.
 *  - A child holds a reference to its parent, so a parent may be released
 *    before its children.
 *  - context_done's channel is borrowed and lives while the context does.
 *  - Every AfterFunc handle is stopped exactly once by its owner with
 *    context_after_func_stop, which frees it; the context may go first.
 *  - Constructors return NULL with errno (EINVAL for a NULL parent, key,
 *    cancel or f; ENOMEM). Other functions given NULL return NULL, false or 0,
 *    or do nothing.
 * Durations and deadlines are int64_t nanoseconds on chan_now()'s clock.
 * Every function is safe to call from any thread.
 */
#ifndef GOCHAN_CONTEXT_H
#define GOCHAN_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct context context_t;
typedef struct context_cancel context_cancel_t;
typedef struct context_after_func context_after_func_t;

/* An error value, Go's error. Errors compare by address, as Go compares
 * sentinels; errors.Is is context_error_is. Two kinds, one type:
 *  - static: `static const context_error_t err_doom = {"doomed"};` lives
 *    forever; retain and release do nothing to it;
 *  - made at run time (context_error_new, context_errorf, context_error_wrap):
 *    reference counted, freed by its last context_error_release.
 * Ownership, one rule: a made error comes with one reference, its maker's.
 * Giving an error to gochan (returning it from an errgroup task, passing it as
 * a cause to context_cancel_cause or context_with_*_cause, wrapping it with
 * context_error_wrap) hands that reference over, whatever the call returns:
 * gochan releases it when done. Retain first to keep using it. An error that
 * gochan hands back (errgroup_wait, context_cause, context_err, unwrap) is
 * borrowed: valid while the group or context that returned it lives. */
typedef struct context_error {
    const char *message;
} context_error_t;

/* "context canceled" and "context deadline exceeded". */
GOCHAN_API extern const context_error_t context_canceled;
GOCHAN_API extern const context_error_t context_deadline_exceeded;

/* What the makers below return when there is no memory for the error (with
 * errno ENOMEM): an error still, never NULL, which would mean "no error". */
GOCHAN_API extern const context_error_t context_error_out_of_memory;

/* errors.New(message) at run time: a copy of message. */
GOCHAN_API const context_error_t *context_error_new(const char *message);

/* fmt.Errorf(fmt, ...) without %w: printf-style. */
GOCHAN_API const context_error_t *context_errorf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* fmt.Errorf(fmt + ": %w", ..., wrapped): the formatted text, ": " and
 * wrapped's message, wrapping wrapped (handed over) so that context_error_is
 * finds it. With no memory for the new error it returns wrapped itself. */
GOCHAN_API const context_error_t *
context_error_wrap(const context_error_t *wrapped, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* errors.Unwrap: what err wraps (borrowed), or NULL. */
GOCHAN_API const context_error_t *
context_error_unwrap(const context_error_t *err);

/* errors.Is(err, target): err or anything it wraps is target (by address);
 * a NULL target matches only a NULL err. */
GOCHAN_API bool context_error_is(const context_error_t *err,
                                 const context_error_t *target);

/* Adds a reference to a made error (nothing for a static one); returns err. */
GOCHAN_API const context_error_t *
context_error_retain(const context_error_t *err);
/* Drops one; the last frees it (and drops what it wraps). NULL-safe. */
GOCHAN_API void context_error_release(const context_error_t *err);

/* Go's net.Error Timeout(): true only for context_deadline_exceeded. */
GOCHAN_API bool context_error_timeout(const context_error_t *err);

/* The Context interface, for user-implemented ("foreign") contexts: embed
 * context_t as the first member, fill a vtable that outlives every context
 * using it, and call context_init. The first six members are required.
 *  - A wrapper that forwards value() to an inner context must hold a
 *    reference to it for its own lifetime (gochan may reach the inner context
 *    through the wrapper for as long as a child of the wrapper lives).
 *  - free() runs on the thread that drops the last reference.
 *  - after_func (Go's afterFuncer) must run f on another thread, as Go's
 *    AfterFunc does, and return a non-NULL handle (NULL means the call failed
 *    and f will never run). gochan passes every handle it got to
 *    after_func_stop exactly once, also after f ran (which then returns
 *    false), so the handle may be freed there. */
typedef struct context_vtable {
    bool (*deadline)(context_t *self, int64_t *deadline);
    chan_t *(*done)(context_t *self); /* NULL: never canceled */
    const context_error_t *(*err)(context_t *self);
    void *(*value)(context_t *self, const void *key);
    size_t (*string)(context_t *self, char *buf, size_t n);
    void (*free)(context_t *self); /* the last reference was released */
    /* Optional, Go's afterFuncer; both NULL when not offered. */
    void *(*after_func)(context_t *self, void (*f)(void *), void *arg);
    bool (*after_func_stop)(context_t *self, void *stop);
} context_vtable_t;

/* Complete so that it can be embedded; the fields are private. */
struct context {
    const context_vtable_t *vtable_;
    long refs_; /* accessed atomically; < 0 for immortal contexts */
};

/* Makes self a context with one reference, held by the caller. */
GOCHAN_API void context_init(context_t *self, const context_vtable_t *vtable);

GOCHAN_API context_t *context_background(void);
GOCHAN_API context_t *context_todo(void);

GOCHAN_API context_t *context_with_cancel(context_t *parent,
                                          context_cancel_t **cancel);
GOCHAN_API context_t *context_with_cancel_cause(context_t *parent,
                                                context_cancel_t **cancel);
GOCHAN_API context_t *context_with_deadline(context_t *parent, int64_t deadline,
                                            context_cancel_t **cancel);
GOCHAN_API context_t *context_with_deadline_cause(context_t *parent,
                                                  int64_t deadline,
                                                  const context_error_t *cause,
                                                  context_cancel_t **cancel);
GOCHAN_API context_t *context_with_timeout(context_t *parent, int64_t timeout,
                                           context_cancel_t **cancel);
GOCHAN_API context_t *context_with_timeout_cause(context_t *parent,
                                                 int64_t timeout,
                                                 const context_error_t *cause,
                                                 context_cancel_t **cancel);
/* WithValue: keys compare by address (Go compares by type and value). The
 * value is borrowed: it must stay valid while any context derived from the
 * result can be read (by any thread; goroutines may outlive the function that
 * made it), so give it static or heap storage, or use the owned variant. */
GOCHAN_API context_t *context_with_value(context_t *parent, const void *key,
                                         void *value);
/* As context_with_value, but the context owns value: destroy(value) runs once,
 * when the context is freed (its last reference released, children's
 * included), on whichever thread releases it. On failure (NULL) nothing is
 * taken: the caller still owns value. destroy may be NULL (borrowed). */
GOCHAN_API context_t *context_with_owned_value(context_t *parent,
                                               const void *key, void *value,
                                               void (*destroy)(void *value));
GOCHAN_API context_t *context_without_cancel(context_t *parent);

/* cancel(): idempotent, thread-safe, does not wait for work to stop. */
GOCHAN_API void context_cancel(context_cancel_t *cancel);
/* cancel(cause): records cause (NULL means context_canceled) only on a handle
 * from context_with_cancel_cause; on any other handle it is context_cancel. */
GOCHAN_API void context_cancel_cause(context_cancel_t *cancel,
                                     const context_error_t *cause);

/* Done(): borrowed; NULL where the context is never canceled (nil channel).
 * A cancel context makes its channel on first call; if that allocation fails
 * it returns NULL (never once the context is canceled). */
GOCHAN_API chan_t *context_done(context_t *ctx);
/* Err(): NULL while not done; once non-NULL, Done is already closed. */
GOCHAN_API const context_error_t *context_err(context_t *ctx);
/* context.Cause(ctx). */
GOCHAN_API const context_error_t *context_cause(context_t *ctx);
/* Deadline(): writes 0 and returns false when there is none; deadline may be
 * NULL. */
GOCHAN_API bool context_deadline(context_t *ctx, int64_t *deadline);
GOCHAN_API void *context_value(context_t *ctx, const void *key);

/* context.AfterFunc(ctx, f): runs f(arg) on its own thread once ctx is done
 * (at once if it is done already); cancel never waits for f. The returned
 * handle is owned by the caller and must be stopped exactly once; it keeps
 * ctx alive until then. If no thread can be started when ctx is canceled, f
 * runs on the canceling thread rather than not at all. NULL with errno
 * (EINVAL for a NULL ctx or f, ENOMEM). */
GOCHAN_API context_after_func_t *
context_after_func(context_t *ctx, void (*f)(void *), void *arg);
/* stop(): true if it prevented f, false if f had already started; frees stop.
 */
GOCHAN_API bool context_after_func_stop(context_after_func_t *stop);

/* String(), snprintf style: writes at most n bytes (NUL included) and returns
 * the length the whole string needs. Go's formats: context.Background,
 * .WithCancel, .WithValue(K, V) (%p, NULL as <nil>), .WithoutCancel, and
 * .WithDeadline(m=+S.NNNNNNNNN [R]) with the deadline as a chan_now() reading
 * in seconds (Go's monotonic "m=" notation) and R the time left as Go's
 * Duration.String ("1.5s", "999.9ms"). A child of an afterFuncer parent
 * names it "context.stopCtx", as Go does. */
GOCHAN_API size_t context_string(context_t *ctx, char *buf, size_t n);

GOCHAN_API context_t *context_retain(context_t *ctx);
GOCHAN_API void context_release(context_t *ctx);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_CONTEXT_H */
