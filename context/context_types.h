/* context_types.h: internal to gochan, never installed. The native context
 * types (Go's emptyCtx, cancelCtx, timerCtx, afterFuncCtx, valueCtx and
 * withoutCancelCtx), kind_of, the one function that tells them apart, and
 * what the context package's files share: context.c (context.go in its
 * order), context_cancel.c (cancelCtx.cancel), context_lifetime.c (reference
 * counting), context_string.c (String) and context_test_hooks.c. context.c's
 * file comment explains the design.
 */
#ifndef GOCHAN_CONTEXT_TYPES_H
#define GOCHAN_CONTEXT_TYPES_H

#include <gochan/context.h>
#include <gochan/timer.h>

#include "invariant.h"
#include "lock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go's concrete context types, which Go's type switches tell apart by type
 * and kind_of by vtable address. In the order kind_of tries them. */
typedef enum context_kind {
    KIND_VALUE,          /* valueCtx */
    KIND_CANCEL,         /* cancelCtx */
    KIND_TIMER,          /* timerCtx, which embeds a cancelCtx */
    KIND_AFTER_FUNC,     /* afterFuncCtx, which embeds a cancelCtx */
    KIND_WITHOUT_CANCEL, /* withoutCancelCtx */
    KIND_BACKGROUND,     /* backgroundCtx */
    KIND_TODO,           /* todoCtx */
    KIND_FOREIGN         /* a user's context: only its vtable is known */
} context_kind;

/* The native kinds' vtables (context.c), indexed by kind. */
extern const context_vtable_t *const context__vtables[KIND_FOREIGN];

/* The kind of c: the one place that compares vtables. */
static inline context_kind kind_of(const context_t *c)
{
    for (int k = 0; k < KIND_FOREIGN; k++)
        if (c->vtable_ == context__vtables[k])
            return (context_kind)k;
    return KIND_FOREIGN;
}

/* How a cancel handle cancels: Go's three CancelFunc closures. */
enum {
    CANCEL_REMOVE = 0, /* func() { c.cancel(true, Canceled, nil) } */
    CANCEL_CAUSE = 1,  /* func(cause) { c.cancel(true, Canceled, cause) } */
    CANCEL_KEEP = 2    /* func() { c.cancel(false, Canceled, nil) }: a timerCtx
                          born past its deadline, already out of its parent */
};

/* A CancelFunc is an address inside the context it cancels, valid while the
 * context is, which is what contract "context lifetime" (docs/semantics.md)
 * promises (until the caller's release): the context's address plus how
 * (CANCEL_*), so that the three closures cost no byte of the context. This
 * tag type is never instantiated (its alignment is 1, so any byte address is
 * a valid pointer to it). */
struct context_cancel {
    char unused;
};

/* Go's children set of one cancelCtx: an array made when the first child
 * joins (Go's map is made then too), grown by doubling and shrunk by halving
 * when a quarter full, and kept while the parent lives, as Go keeps its map.
 * A child records where it sits (its slot), so that leaving is O(1): the last
 * child moves into the hole. Under the parent's mu, until a cancel detaches
 * the whole array: from then on it belongs to that cancel batch, which links
 * it into its worklist through next. */
typedef struct cancelCtx_children cancelCtx_children;
struct cancelCtx_children {
    uint32_t len, cap;
    cancelCtx_children *next; /* in a cancel batch's worklist */
    struct cancelCtx *at[];
};

/* A cancelCtx's slot: its index in pc's children array while registered
 * there, or one of these. */
#define SLOT_NONE    UINT32_MAX       /* in no children array */
#define SLOT_STOP    (UINT32_MAX - 1) /* registered with an afterFuncer */
#define CHILDREN_MAX (UINT32_MAX - 2) /* most children one parent can have */

/* Go's cancelCtx, in 72 bytes on 64-bit Linux (malloc's 80-byte chunk; Go's
 * is 80 bytes): nine words, the most a C lifetime allows beside Go's fields
 * (docs/performance.md, "Context memory"):
 *   vtable and refs_ (the interface header; refs_ also counts the holds),
 *   Context, pc or stop, mu and slot, done, err (with the busy mark), cause,
 *   children. */
typedef struct cancelCtx cancelCtx;
struct cancelCtx {
    /* Its vtable tells cancelCtx, timerCtx and afterFuncCtx apart. refs_
     * counts the references (low bits) and the holds on the memory (high
     * bits, CANCEL_HOLD): see cancelCtx_hold and context.c's comment,
     * "Lifetime". */
    context_t ctx;

    /* Go's embedded Context: the parent, a reference dropped with the memory.
     * Immutable. */
    context_t *Context;
    union {
        /* The cancelCtx parentCancelCtx found when this context was made,
         * whose children array this context joined (immutable; pc outlives
         * us, since our parent chain holds it); NULL if none. Go's
         * removeChild asks parentCancelCtx again; ours uses pc, because a
         * foreign parent's Done and Value might answer differently the
         * second time, and a registration left behind would outlive our
         * memory (Go's garbage collector forgives that; free does not). */
        cancelCtx *pc;
        /* Go's stopCtx{Context, stop}, when slot is SLOT_STOP: the handle to
         * unregister from an afterFuncer parent with, under mu, taken (set to
         * NULL) by the one removeChild that uses it. */
        void *stop;
    };

    /* Go's mutex, a 4-byte futex word (the channel lock) rather than a
     * 40-byte pthread_mutex_t: a context is small and made often. */
    sched__lock_t mu;
    /* Where this context sits in pc's children array (under pc->mu), or
     * SLOT_NONE; SLOT_STOP (immutable, set under mu before the context is
     * returned) for a stopCtx link. Atomic, because removeChild reads it
     * without pc->mu to tell the two links apart. */
    _Atomic uint32_t slot;

    /* Protected by mu. */
    _Atomic(chan_t *) done; /* made lazily, closed by the first cancel;
                               closedchan when canceled before anyone
                               asked; written under mu */
    /* Set by the first cancel, under mu: the error, retained, with bit 0
     * (CANCEL_BUSY) the mark of the cancel batch that canceled this context,
     * until it has canceled the whole subtree (context.c's comment,
     * "Iterative cancel"). Read it with cancelCtx_err_load. */
    atomic_uintptr_t err;
    const context_error_t *cause; /* set by the first cancel */
    cancelCtx_children *children; /* Go's children set; NULL until the first
                                     child joins; detached by cancel */
};

/* err's mark: a batch is still canceling this context's subtree. An error is
 * a struct of pointers, so bit 0 of its address is free. */
#define CANCEL_BUSY ((uintptr_t)1)
_Static_assert(_Alignof(context_error_t) >= 2, "err's bit 0 is free");

/* The error that canceled c, or NULL; the busy mark left out. */
static inline const context_error_t *cancelCtx_err_load(cancelCtx *c,
                                                        memory_order order)
{
    uintptr_t e = atomic_load_explicit(&c->err, order);
    return (const context_error_t *)(e & ~CANCEL_BUSY);
}

#if defined(GOCHAN_FUTEX) && UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(cancelCtx) <= 72,
               "a cancelCtx fits malloc's 80-byte chunk, as Go's 80 bytes");
#endif

/* refs_ of a native cancelCtx kind: references below CANCEL_HOLD, holds
 * (multiples of CANCEL_HOLD) above. A context holds at most a handful at
 * once (one for all the references together, a pending timer, a watcher
 * thread, an afterFuncer registration, a starting AfterFunc thread), so seven
 * bits below the sign are plenty; references have 56 bits (24 where long is
 * 32). refs_ >= 0 always: immortal contexts are never cancelCtxs. */
#define CANCEL_HOLD (1L << (sizeof(long) * 8 - 8))
#define CANCEL_REFS (CANCEL_HOLD - 1) /* the references' bits */

/* holds (context.c's comment, "Lifetime"): a hold is taken only while the
 * memory is alive, that is, while holds > 0 ... */
static inline void cancelCtx_hold(cancelCtx *c)
{
    long old = __atomic_fetch_add(&c->ctx.refs_, CANCEL_HOLD, __ATOMIC_RELAXED);
    sched__invariant(old >= CANCEL_HOLD,
                     "a cancelCtx's hold is taken on live memory");
    (void)old;
}

/* ... and every drop but context__drop_hold's is never the last: its caller
 * keeps c alive (a reference, or a hold it took itself just before). */
static inline void cancelCtx_unhold(cancelCtx *c)
{
    long old = __atomic_fetch_sub(&c->ctx.refs_, CANCEL_HOLD, __ATOMIC_RELAXED);
    sched__invariant(old >= 2 * CANCEL_HOLD,
                     "a cancelCtx's hold dropped while it is kept");
    (void)old;
}

/* c as the cancelCtx it is or embeds (at its start), or NULL. */
static inline cancelCtx *as_cancelCtx(context_t *c)
{
    if (!c)
        return NULL;
    context_kind k = kind_of(c);
    if (k == KIND_CANCEL || k == KIND_TIMER || k == KIND_AFTER_FUNC)
        return (cancelCtx *)c;
    return NULL;
}

/* Go's afterFuncCtx: a cancelCtx whose cancel starts f on its own thread.
 * Never handed out as a context; its AfterFunc handle owns its reference. */
typedef struct afterFuncCtx {
    cancelCtx cancelCtx;
    atomic_int once; /* Go's sync.Once: 0, then 1 once f started or stop won */
    void (*f)(void *);
    void *arg;
    struct afterFuncCtx *start_next; /* in the batch that starts f */
} afterFuncCtx;

/* The AfterFunc handle is the afterFuncCtx itself; this tag type is never
 * instantiated. */
struct context_after_func {
    char unused;
};

/* Go's withoutCancelCtx. */
typedef struct withoutCancelCtx {
    context_t ctx;
    context_t *c; /* parent, a reference; immutable */
} withoutCancelCtx;

/* Go's timerCtx: a cancelCtx with a deadline and a timer. */
typedef struct timerCtx {
    cancelCtx cancelCtx;
    chan_timer_t *timer; /* under cancelCtx.mu; taken by the cancel */
    int64_t deadline;    /* immutable */
    /* The cause if the deadline fires; immutable. */
    const context_error_t *cause;
} timerCtx;

/* Go's valueCtx. */
typedef struct valueCtx {
    context_t ctx;
    context_t *Context; /* parent, a reference; immutable */
    const void *key;
    void *val;
    void (*destroy)(void *val); /* context_with_owned_value; else NULL */
} valueCtx;

/* deadline - now, saturating, as Go's time.Until (Time.Sub) does: a
 * difference beyond int64's range is the nearest end of it. */
static inline int64_t time_until(int64_t deadline, int64_t now)
{
    if (now < 0 && deadline > INT64_MAX + now)
        return INT64_MAX;
    if (now > 0 && deadline < INT64_MIN + now)
        return INT64_MIN;
    return deadline - now;
}

/* context.c: Go's parentCancelCtx and removeChild(c.Context, c), Go's
 * closedchan (made on first need by context__closedchan_get, NULL if it
 * cannot be), and the counters the tests read: Go's `goroutines` (watcher
 * threads started) and the native objects alive. */
cancelCtx *context__parentCancelCtx(context_t *parent);
void context__removeChild(cancelCtx *c);
extern _Atomic(chan_t *) context__closedchan;
chan_t *context__closedchan_get(void);
extern atomic_uint_least64_t context__goroutines;
extern atomic_long context__live_objects;
extern atomic_long context__live_errors; /* made errors not yet freed */

/* context_lifetime.c: the release of one hold on a cancelCtx's memory (returns
 * the parent reference to drop, or NULL), and the free method of the native
 * kinds, which context_release never calls. */
context_t *context__drop_hold(cancelCtx *c);
void context__native_free(context_t *self);

/* context_cancel.c: Go's cancelCtx.cancel (with timerCtx's and afterFuncCtx's
 * overrides): cancels c and, iteratively, its whole subtree. */
void context__cancelCtx_cancel(cancelCtx *c, bool removeFromParent,
                               const context_error_t *err,
                               const context_error_t *cause);

/* context_string.c: String for every kind but backgroundCtx and todoCtx. */
size_t context__native_string(context_t *self, char *buf, size_t n);

#endif /* GOCHAN_CONTEXT_TYPES_H */
