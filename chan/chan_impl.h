/* chan_impl.h: internal to gochan, never installed. Go's hchan, waitq and
 * sudog in C, shared by chan.c and select.c.
 *
 * Invariants (as in runtime/chan.go), for a channel c under c->lock:
 *   - c->sendq non-empty implies the buffer is full (or c is unbuffered);
 *   - c->recvq non-empty implies the buffer is empty (or c is unbuffered);
 *   - a closed channel has an empty sendq, and an empty recvq.
 * The exceptions are select waiters whose select already won elsewhere: they
 * linger in a queue until their select relocks and removes them, and every
 * dequeue skips them.
 *
 * Fields read without the lock (len, the try fast paths) are atomics; writes
 * to them all happen under the lock. Debug and sanitizer builds check these
 * invariants where they matter (sched__invariant, sched/internal/invariant.h).
 *
 * Item ids (CH-n) are those of docs/semantics.md.
 */
#ifndef GOCHAN_CHAN_IMPL_H
#define GOCHAN_CHAN_IMPL_H

#include <gochan/chan.h>

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "invariant.h"
#include "park.h"

/* Go's sudog: one thread (or one select case) waiting on one channel. A
 * send's or receive's lives in its goroutine's g (sched_g_sudog) or on its
 * thread's stack (chan.c, blocked_op_place); a select case's on the
 * selecting stack or in select.c's per-thread pool. */
typedef struct chan__waiter {
    struct chan__waiter *next; /* in c's waitq; protected by c->lock */
    struct chan__waiter *prev; /* in c's waitq; protected by c->lock */
    chan__parker_t *parker;    /* the thread to wake */
    void *elem; /* send: source; recv: destination or NULL; for values of a
                   word or less, the value itself (chan__waiter_val) */
    unsigned case_index; /* select: the case this waiter stands for */
    bool is_select;      /* waking needs the select_done claim */
    bool success;        /* written by the waker: true when a value was
                            handed over, false when woken by close */
    bool owns_ref;       /* the channel's last release handed this waiter a
                            reference to drop once woken (chan_release) */
} chan__waiter_t;

/* Go's waitq: a FIFO of waiters. first is read without the lock by the
 * unbuffered try fast paths, so it is atomic; every write is under c->lock. */
typedef struct chan__waitq {
    _Atomic(chan__waiter_t *) first;
    chan__waiter_t *last;
} chan__waitq_t;

/* Go's hchan, laid out to fit malloc's 96-byte chunk as Go's fits its 96-byte
 * size class. The buffer (dataqsiz slots of elemsize bytes) follows the
 * header in the same allocation, at CHAN__HEADER_SIZE. */
struct chan {
    sched__lock_t lock;      /* protects every field below but refs */
    _Atomic uint32_t closed; /* set once by close, under the lock */
    _Atomic size_t qcount;   /* values in the buffer */
    size_t dataqsiz;         /* capacity of the buffer */
    size_t elemsize;         /* bytes per value; 0 for chan struct{} */
    size_t sendx;            /* next slot a send fills */
    size_t recvx;            /* next slot a receive empties */
    chan__waitq_t recvq;     /* blocked receivers */
    chan__waitq_t sendq;     /* blocked senders */
    _Atomic uint32_t refs;   /* references; the last release frees */
    bool hide_len;           /* timer channels report len = cap = 0 (CH-5);
                                set before the channel is shared */
#ifdef GOCHAN_CHAN_LOCKFREE
    bool ring; /* the buffer is a lock-free ring (chan_lf.c) that follows the
                  header; false: sendx, recvx and qcount keep the buffer.
                  A flag, not a pointer: it fits the header's padding, so an
                  unbuffered channel stays at Go's 96 bytes. */
#endif
};

/* The header rounded up so that the inline buffer suits any type. */
#define CHAN__HEADER_SIZE                                                      \
    ((sizeof(struct chan) + alignof(max_align_t) - 1) &                        \
     ~(alignof(max_align_t) - 1))

#ifdef GOCHAN_CHAN_LOCKFREE
size_t chan__lf_len(const struct chan *c);
#endif

static inline size_t chan__qcount(const struct chan *c)
{
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c->ring)
        return chan__lf_len(c);
#endif
    return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}

static inline void chan__set_qcount(struct chan *c, size_t n)
{
    atomic_store_explicit(&c->qcount, n, memory_order_relaxed);
}

/* Copies a value of size bytes. Values of 8 or 4 bytes (integers, pointers)
 * are the common case and copy inline: memcpy with a size known only at run
 * time is a call through the PLT, some 20 instructions, a tenth of a
 * goroutine handoff's work. */
static inline void chan__copy_bytes(void *dst, const void *src, size_t size)
{
    if (size == 8)
        memcpy(dst, src, 8);
    else if (size == 4)
        memcpy(dst, src, 4);
    else
        memcpy(dst, src, size);
}

/* Copies one value; either side may be NULL (discarded or zero-size). */
static inline void chan__copy(const struct chan *c, void *dst, const void *src)
{
    if (dst && src && c->elemsize)
        chan__copy_bytes(dst, src, c->elemsize);
}

static inline void chan__zero(const struct chan *c, void *dst)
{
    if (dst && c->elemsize)
        memset(dst, 0, c->elemsize);
}

/* Values of a word or less travel inside the waiter, in the bytes of its
 * elem field, not through the blocked operation's own variable: the peer
 * that completes a waiter writes the waiter's line anyway, and the sleeper
 * reads that line on waking, so a handoff between two cores moves one line
 * less each way (B2, docs/performance.md). */
static inline bool chan__val_inline(const struct chan *c)
{
    return c->elemsize <= sizeof(void *);
}

/* Where a peer reads a queued sender's value, or writes a queued
 * receiver's (NULL: the receiver discards it). */
static inline void *chan__waiter_val(const struct chan *c, chan__waiter_t *w)
{
    return chan__val_inline(c) ? (void *)&w->elem : w->elem;
}

/* The size of the value a woken operation on c takes out of its waiter
 * (chan__waiter_take_val): a receive's, when it travels inside; 0 when the
 * peer wrote the operation's own variable, or for a send. */
static inline size_t chan__waiter_take_size(const struct chan *c, bool send)
{
    return !send && chan__val_inline(c) ? c->elemsize : 0;
}

/* Sets up w for a blocking operation on elem: a sender's small value goes
 * inside w. Returns chan__waiter_take_size, computed now: a woken send or
 * receive must not read c to learn it (see chan.c). */
static inline size_t chan__waiter_set_elem(const struct chan *c,
                                           chan__waiter_t *w, void *elem,
                                           bool send)
{
    if (!chan__val_inline(c)) {
        w->elem = elem;
        return 0;
    }
    w->elem = NULL;
    if (send)
        chan__copy(c, &w->elem, elem);
    return chan__waiter_take_size(c, send);
}

/* A woken receiver's value (or close's zero), of size bytes, out of w. */
static inline void chan__waiter_take_val(const chan__waiter_t *w, void *elem,
                                         size_t size)
{
    if (elem && size)
        chan__copy_bytes(elem, &w->elem, size);
}

/* Slot i of the buffer, or NULL when values have no bytes to copy. */
static inline unsigned char *chan__slot(struct chan *c, size_t i)
{
    if (c->elemsize == 0 || c->dataqsiz == 0)
        return NULL;
    return (unsigned char *)c + CHAN__HEADER_SIZE + i * c->elemsize;
}

/* c is locked and not full. Go's chansend, buffer branch. */
static inline void chan__buf_put(struct chan *c, const void *src)
{
    chan__copy(c, chan__slot(c, c->sendx), src);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    chan__set_qcount(c, chan__qcount(c) + 1);
}

/* c is locked and not empty. Go's chanrecv, buffer branch. */
static inline void chan__buf_take(struct chan *c, void *dst)
{
    chan__copy(c, dst, chan__slot(c, c->recvx));
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    chan__set_qcount(c, chan__qcount(c) - 1);
}

static inline void chan__enqueue(chan__waitq_t *q, chan__waiter_t *w)
{
    w->next = NULL;
    w->prev = q->last;
    if (q->last)
        q->last->next = w;
    else
        atomic_store_explicit(&q->first, w, memory_order_relaxed);
    q->last = w;
}

/* chan_make's fields of a new channel, buffer aside: empty, open, one
 * reference, no ring (chan_lf.c sets its own). */
void chan__init_header(struct chan *c, size_t elem_size, size_t cap);

/* Completes w, taken off a queue of c by its close: it fails, and a
 * receiver (recv) gets the zero value. c->lock held. */
void chan__complete_closed(struct chan *c, chan__waiter_t *w, bool recv);

/* Queues a waiter for elem on q and sleeps until a peer or close completes
 * it: true when a value moved, false on close (chan.c). c is locked by the
 * caller and unlocked on return; wake_first, when not NULL, is a ring
 * channel's wake list (chan_lf.h), the waiters the caller completed under
 * the lock, readied once it is dropped. */
bool chan__queue_and_park(struct chan *c, chan__waitq_t *q, void *elem,
                          chan__waiter_t *wake_first);

/* Go's waitq.dequeue: pops waiters until one can be claimed. A select waiter
 * is claimed by winning its select_done; a waiter whose select already won
 * elsewhere is dropped from the queue and skipped. */
static inline chan__waiter_t *chan__dequeue(chan__waitq_t *q)
{
    for (;;) {
        chan__waiter_t *w =
            atomic_load_explicit(&q->first, memory_order_relaxed);
        if (!w)
            return NULL;
        chan__waiter_t *next = w->next;
        atomic_store_explicit(&q->first, next, memory_order_relaxed);
        if (next)
            next->prev = NULL;
        else
            q->last = NULL;
        w->next = w->prev = NULL;
        if (w->is_select) {
            uint32_t open = 0;
            /* Several channels' lockers may race for the same select; only
             * the one that moves 0 -> 1 may complete it. */
            if (!atomic_compare_exchange_strong_explicit(
                    &w->parker->select_done, &open, 1, memory_order_acq_rel,
                    memory_order_relaxed))
                continue;
        }
        return w;
    }
}

/* Go's waitq.dequeueSudoG: removes w if it is still queued on q. */
static inline void chan__remove(chan__waitq_t *q, chan__waiter_t *w)
{
    chan__waiter_t *x = w->prev, *y = w->next;
    if (x) {
        x->next = y;
        if (y)
            y->prev = x;
        else
            q->last = x;
    } else if (y) {
        y->prev = NULL;
        atomic_store_explicit(&q->first, y, memory_order_relaxed);
    } else if (atomic_load_explicit(&q->first, memory_order_relaxed) == w) {
        atomic_store_explicit(&q->first, NULL, memory_order_relaxed);
        q->last = NULL;
    }
    w->next = w->prev = NULL;
}

/* Go's send(): c is locked and w a claimed receiver. Hands the value to w.
 * The caller unlocks, then calls chan__ready(w->parker). */
static inline void chan__send_direct(struct chan *c, chan__waiter_t *w,
                                     const void *src)
{
    sched__invariant(!w->parker->param, "a waiter is completed only once");
    sched__invariant(c->dataqsiz == 0 || chan__qcount(c) == 0,
                     "a queued receiver implies an empty buffer");
    chan__copy(c, chan__waiter_val(c, w), src);
    w->success = true;
    w->parker->param = w;
}

/* Go's recv(): c is locked and w a claimed sender. An unbuffered channel takes
 * w's value directly; a full buffered one takes the head of the buffer and
 * puts w's value in the freed tail slot. The caller unlocks and readies w. */
static inline void chan__recv_from_sender(struct chan *c, chan__waiter_t *w,
                                          void *dst)
{
    sched__invariant(!w->parker->param, "a waiter is completed only once");
    sched__invariant(c->dataqsiz == 0 || chan__qcount(c) == c->dataqsiz,
                     "a queued sender implies a full buffer");
    if (c->dataqsiz == 0) {
        chan__copy(c, dst, chan__waiter_val(c, w));
    } else {
        unsigned char *slot = chan__slot(c, c->recvx);
        chan__copy(c, dst, slot);
        chan__copy(c, slot, chan__waiter_val(c, w));
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    w->success = true;
    w->parker->param = w;
}

/* Whether any operation is queued on c. Exact under c->lock; without it, a
 * hint, or exact where nobody else may hold c (its last reference gone). */
static inline bool chan__has_waiters(struct chan *c)
{
    return atomic_load_explicit(&c->recvq.first, memory_order_relaxed) ||
           atomic_load_explicit(&c->sendq.first, memory_order_relaxed);
}

static inline bool chan__is_closed(struct chan *c)
{
    return atomic_load_explicit(&c->closed, memory_order_relaxed) != 0;
}

#ifdef GOCHAN_CHAN_LOCKFREE
#include "chan_lf.h"
#endif

#endif /* GOCHAN_CHAN_IMPL_H */
