/* chan.c: Go's channels (runtime/chan.go) on POSIX threads.
 *
 * The design follows chan.go: one lock per channel; a send first looks for a
 * blocked receiver and hands the value straight into its destination, then for
 * buffer space, and only then blocks; a receive mirrors it. A blocked operation
 * queues a waiter (sudog) that lives on its own stack and sleeps on its own
 * parker; the peer that completes it, or close, wakes exactly that thread, and
 * always after dropping the channel lock. The try forms first look without the
 * lock, which is what makes polling an idle channel cheap.
 *
 * Item ids (CH-n) are those of docs/semantics.md.
 */
#include "chan_impl.h"
#include "blocked.h"
#include "internal/chan_internal.h"
#include "scheduler.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

const char *chan_strerror(int status)
{
    switch (status) {
    case CHAN_OK:
        return "ok";
    case CHAN_CLOSED:
        return "channel closed";
    case CHAN_WOULDBLOCK:
        return "operation would block";
    case CHAN_INVALID:
        return "invalid argument";
    case CHAN_NOMEM:
        return "out of memory";
    default:
        return "unknown status";
    }
}

int64_t chan_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Go's makechan: one allocation holds the header and the buffer. */
chan_t *chan_make(size_t elem_size, size_t cap)
{
#ifdef GOCHAN_CHAN_LOCKFREE
    /* Buffered channels get the lock-free ring (chan_lf.h). */
    if (chan__lf_eligible(elem_size, cap))
        return chan__lf_make(elem_size, cap);
#endif
    size_t bufsize = 0;
    if (elem_size != 0 && cap > SIZE_MAX / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    bufsize = elem_size * cap;
    if (bufsize > SIZE_MAX - CHAN__HEADER_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    struct chan *c =
        malloc(bufsize ? CHAN__HEADER_SIZE + bufsize : sizeof(struct chan));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    chan__init_header(c, elem_size, cap);
    return c;
}

void chan__init_header(struct chan *c, size_t elem_size, size_t cap)
{
    sched__lock_init(&c->lock);
    atomic_init(&c->qcount, 0);
    c->dataqsiz = cap;
    c->elemsize = elem_size;
    atomic_init(&c->closed, 0);
    c->hide_len = false;
    c->sendx = c->recvx = 0;
    atomic_init(&c->recvq.first, NULL);
    c->recvq.last = NULL;
    atomic_init(&c->sendq.first, NULL);
    c->sendq.last = NULL;
    atomic_init(&c->refs, 1);
#ifdef GOCHAN_CHAN_LOCKFREE
    c->ring = false;
#endif
}

chan_t *chan_retain(chan_t *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

/* Hands each waiter of q a reference; returns how many. */
static size_t refs_to_waiters(chan__waitq_t *q)
{
    size_t n = 0;
    for (chan__waiter_t *w =
             atomic_load_explicit(&q->first, memory_order_relaxed);
         w; w = w->next) {
        /* A blocked select holds a reference on each of its channels, so
         * none is queued here, and nor is the dump's recorded operation. */
        sched__invariant(!w->is_select && !w->owns_ref,
                         "only reference-less operations wait on a channel "
                         "nobody holds");
        w->owns_ref = true;
        n++;
    }
    return n;
}

/* The last reference went while operations still wait on c. A blocked
 * operation holds no reference while it sleeps (a woken one never touches
 * c again), so here each takes one, and c lives until the last of them is
 * woken and lets go: released while others block on it, a channel is never
 * freed under them (the contract "references", docs/semantics.md). Nobody
 * else may touch refs now: it was 0. The lock orders their waking after
 * this. True when c must live on. Most channels die with nobody queued,
 * which the queue heads show without the lock: whoever let go last had
 * seen the operations it let go under queue (or raced them, a use after
 * release), and nobody else may queue now. */
static bool refs_to_blocked(struct chan *c)
{
    if (!chan__has_waiters(c))
        return false;
    sched__lock(&c->lock);
    size_t n = refs_to_waiters(&c->recvq) + refs_to_waiters(&c->sendq);
    if (n)
        atomic_store_explicit(&c->refs, n, memory_order_relaxed);
    sched__unlock(&c->lock);
    return n != 0;
}

void chan_release(chan_t *c)
{
    if (!c)
        return;
    /* acq_rel: every use by other holders happens before the free. */
    sched__race_drop_ref(&c->refs);
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        sched__race_last_ref(&c->refs);
        if (refs_to_blocked(c))
            return;
        sched__lock_destroy(&c->lock);
        free(c);
    }
}

size_t chan_len(chan_t *c)
{
    if (!c || c->hide_len)
        return 0;
    return chan__qcount(c);
}

size_t chan_cap(chan_t *c)
{
    if (!c || c->hide_len)
        return 0;
    return c->dataqsiz;
}

/* chan_internal.h: elemsize is immutable, so no lock is needed. */
size_t chan__elem_size(chan_t *c)
{
    return c ? c->elemsize : 0;
}

/* Go's full(): a send could not proceed now. Read without the lock, each
 * load a single atomic word: the try operations linearize at it (see
 * chan_try_send). Not for a ring channel (chan_lf.h), whose buffer is not
 * counted here. */
static bool full(struct chan *c)
{
    if (c->dataqsiz == 0)
        return atomic_load_explicit(&c->recvq.first, memory_order_seq_cst) ==
               NULL;
    return atomic_load_explicit(&c->qcount, memory_order_seq_cst) ==
           c->dataqsiz;
}

/* Go's empty(): a receive could not proceed now (ignoring close). */
static bool empty(struct chan *c)
{
    if (c->dataqsiz == 0)
        return atomic_load_explicit(&c->sendq.first, memory_order_seq_cst) ==
               NULL;
    return atomic_load_explicit(&c->qcount, memory_order_seq_cst) == 0;
}

/* What a parked operation's lock holder does last (chan__park_unlock): drop
 * the lock, then ready the waiters completed under it. */
typedef struct queued_unlock {
    struct chan *c;
    chan__waiter_t *wake_first;
} queued_unlock_t;

static void unlock_queued(void *arg)
{
    queued_unlock_t u = *(queued_unlock_t *)arg; /* arg dies with the unlock */
    sched__unlock(&u.c->lock);
#ifdef GOCHAN_CHAN_LOCKFREE
    chan__wake_list(u.wake_first);
#else
    sched__invariant(!u.wake_first, "only a ring gathers wake-ups");
#endif
}

/* The dump's blocked operation: the record names c, which the dump reads
 * while we sleep, so here the operation holds a reference of its own. */
static void park_recorded(struct chan *c, chan__parker_t *pp,
                          sched_wait_reason_t reason, queued_unlock_t *u)
{
    chan_retain(c);
    unlock_queued(u);
    chan__blocked_t record = {.reason = reason, .c = c};
    chan__park_recorded(pp, &record);
    chan_release(c);
}

/* A blocked operation: the waiter and its parker share one cache line, since
 * the peer that completes us writes both and we read both on waking, so a
 * handoff moves one line between the cores instead of two. */
typedef struct blocked_op {
    alignas(64) chan__waiter_t w;
    chan__parker_t parker;
} blocked_op_t;

/* Where a blocked operation lives: a goroutine's in its g (sched_g_sudog: gs
 * are side by side, so a close walking 100,000 waiters does not take a
 * cache and TLB miss on each goroutine's stack page), a thread's on its
 * stack (own). Zeroed. */
static blocked_op_t *blocked_op_place(blocked_op_t *own)
{
    blocked_op_t *op = own;
#ifdef GOCHAN_FUTEX
    _Static_assert(sizeof(blocked_op_t) == SCHED_G_SUDOG_SIZE,
                   "a blocked operation fits one line, a g's sudog");
    sched_g *g = sched_getg();
    if (g)
        op = sched_g_sudog(g);
#endif
    *op = (blocked_op_t){.w = {.next = NULL}};
    return op;
}

/* Queues a waiter for elem on q and sleeps until a peer or close completes
 * it; c is locked, and the waiters from wake_first on (a ring's wake list)
 * are readied once it is dropped. The operation holds no
 * reference while it sleeps, and once woken touches c again only if c's
 * last release handed it one (refs_to_blocked): the peer or closer that
 * woke it may be the last owner, and free c at once. That saves two atomic
 * read-modify-writes on every blocking operation. */
bool chan__queue_and_park(struct chan *c, chan__waitq_t *q, void *elem,
                          chan__waiter_t *wake_first)
{
    blocked_op_t own;
    blocked_op_t *blk = blocked_op_place(&own);
    sched__invariant(!chan__is_closed(c), "nobody queues on a closed channel");
    chan__waiter_t *wp = &blk->w;
    chan__parker_t *pp = &blk->parker;
    chan__parker_init(pp);
    wp->parker = pp;
    size_t take = chan__waiter_set_elem(c, wp, elem, q == &c->sendq);
    chan__enqueue(q, wp);

    queued_unlock_t u = {.c = c, .wake_first = wake_first};
    sched_wait_reason_t reason =
        q == &c->sendq ? SCHED_WAIT_CHAN_SEND : SCHED_WAIT_CHAN_RECEIVE;
    if (chan__debug_enabled())
        park_recorded(c, pp, reason, &u);
    else
        chan__park_unlock(pp, reason, unlock_queued, &u);

    chan__parker_destroy(pp);
    chan__waiter_take_val(wp, elem, take);
    if (wp->owns_ref) /* the last owner let go while we slept */
        chan_release(c);
    return wp->success;
}

/* Go's chansend. */
static int chan__send(struct chan *c, const void *elem, bool block)
{
    if (!c) {
        if (!block)
            return CHAN_WOULDBLOCK;
        chan__blocked_t record = {.reason = SCHED_WAIT_CHAN_SEND_NIL};
        chan__debug_block_forever(&record);
    }
    if (!elem && c->elemsize)
        return CHAN_INVALID;
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c->ring)
        return chan__lf_send(c, elem, block);
#endif

    sched__lock(&c->lock);
    if (chan__is_closed(c)) {
        sched__unlock(&c->lock);
        return CHAN_CLOSED;
    }
    chan__waiter_t *receiver = chan__dequeue(&c->recvq);
    if (receiver) {
        chan__send_direct(c, receiver, elem);
        sched__unlock(&c->lock);
        chan__ready(receiver->parker);
        return CHAN_OK;
    }
    if (chan__qcount(c) < c->dataqsiz) {
        chan__buf_put(c, elem);
        sched__unlock(&c->lock);
        return CHAN_OK;
    }
    if (!block) {
        sched__unlock(&c->lock);
        return CHAN_WOULDBLOCK;
    }
    sched__invariant(chan__qcount(c) == c->dataqsiz,
                     "a sender queues only on a full buffer");
    return chan__queue_and_park(c, &c->sendq, (void *)elem, NULL) ? CHAN_OK
                                                                  : CHAN_CLOSED;
}

/* Go's chanrecv. */
static int chan__recv(struct chan *c, void *elem, bool block)
{
    if (!c) {
        if (!block)
            return CHAN_WOULDBLOCK;
        chan__blocked_t record = {.reason = SCHED_WAIT_CHAN_RECEIVE_NIL};
        chan__debug_block_forever(&record);
    }
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c->ring)
        return chan__lf_recv(c, elem, block);
#endif

    sched__lock(&c->lock);
    if (chan__is_closed(c) && chan__qcount(c) == 0) {
        sched__unlock(&c->lock);
        chan__zero(c, elem);
        return CHAN_CLOSED;
    }
    chan__waiter_t *sender = chan__dequeue(&c->sendq);
    if (sender) {
        chan__recv_from_sender(c, sender, elem);
        sched__unlock(&c->lock);
        chan__ready(sender->parker);
        return CHAN_OK;
    }
    if (chan__qcount(c) > 0) {
        chan__buf_take(c, elem);
        sched__unlock(&c->lock);
        return CHAN_OK;
    }
    if (!block) {
        sched__unlock(&c->lock);
        return CHAN_WOULDBLOCK;
    }
    /* A closer zeroes elem before waking us, so nothing is left to do. */
    sched__invariant(chan__qcount(c) == 0,
                     "a receiver queues only on an empty buffer");
    return chan__queue_and_park(c, &c->recvq, elem, NULL) ? CHAN_OK
                                                          : CHAN_CLOSED;
}

int chan_send(chan_t *c, const void *elem)
{
    return chan__send(c, elem, true);
}

/* The try operations answer from lock-free loads when they can, in their own
 * small frames (a try-receive on an empty channel is a polling loop's common
 * case), and otherwise take the locked path. */
int chan_try_send(chan_t *c, const void *elem)
{
    /* A full open channel fails a try-send without the lock. The two loads
     * may see different moments, but each answer is one the channel really
     * gave: it was full when we looked, and a channel that is full and then
     * closed was still full and open at the first load. So the try-send
     * linearizes at that load (Go's argument in chansend). A NULL elem of a
     * sized channel is left for chan__send to refuse. */
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c && c->ring)
        return chan__send(c, elem, false);
#endif
    if (c && (elem || c->elemsize == 0) && !chan__is_closed(c) && full(c))
        return CHAN_WOULDBLOCK;
    return chan__send(c, elem, false);
}

int chan_recv(chan_t *c, void *elem)
{
    return chan__recv(c, elem, true);
}

int chan_try_recv(chan_t *c, void *elem)
{
    /* As Go's chanrecv: an empty channel fails a try-receive without the lock
     * if it is open: closed is seen after empty, so the channel was open
     * when it was empty. The loads are seq_cst so they cannot be reordered
     * (TestNonblockRecvRace). */
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c && c->ring)
        return chan__lf_recv(c, elem, false);
#endif
    if (c && empty(c) &&
        !atomic_load_explicit(&c->closed, memory_order_seq_cst))
        return CHAN_WOULDBLOCK;
    /* A closed channel is answered under the lock, not from the loads as
     * Go does: the closer still writes to the channel after it sets closed,
     * and a caller that saw the close may free the channel at once (Go's
     * collector makes that safe; here the lock orders it after the close). */
    return chan__recv(c, elem, false);
}

void chan__complete_closed(struct chan *c, chan__waiter_t *w, bool recv)
{
    sched__invariant(!w->parker->param, "a waiter is completed only once");
    if (recv)
        chan__zero(c, chan__waiter_val(c, w));
    w->success = false;
    w->parker->param = w;
}

/* Completes waiters of q as failed by the close and takes them off, into
 * woken from index n, until it holds CHAN__WAKEUPS_MAX. Returns the new
 * count. c->lock held. */
static size_t close_take_locked(struct chan *c, chan__waitq_t *q, bool recv,
                                chan__parker_t **woken, size_t n)
{
    chan__waiter_t *w;
    while (n < CHAN__WAKEUPS_MAX && (w = chan__dequeue(q)) != NULL) {
        chan__complete_closed(c, w, recv);
        woken[n++] = w->parker;
    }
    return n;
}

/* Go's closechan: mark closed, then release every waiter, each woken once
 * the lock is dropped, so that none of them wakes into a held lock. */
int chan_close(chan_t *c)
{
    if (!c)
        return CHAN_INVALID;
#ifdef GOCHAN_CHAN_LOCKFREE
    if (c->ring)
        return chan__lf_close(c);
#endif
    sched__lock(&c->lock);
    if (chan__is_closed(c)) {
        sched__unlock(&c->lock);
        return CHAN_CLOSED;
    }
    /* release: pairs with the seq_cst load in the try-receive fast path, so a
     * receive that sees the close sees everything before it (CH-20). */
    sched__race_release(&c->closed); /* for the lock-free try-receive */
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    if (sched__tracing())
        sched__trace_chan_close(c, c->dataqsiz);

    /* Waiters are taken off in chunks, each readied once the lock is
     * dropped, as Go's closechan readies its whole list: a waiter lives on
     * its goroutine's stack, a page of its own, so one pass that completes
     * and readies each while its line is at hand costs one cache and TLB
     * miss per waiter, where a list built first and walked again cost two
     * (measured: a tenth of closing on 100,000 goroutines). Between chunks
     * the lock is free, but the channel is closed: nobody queues on it any
     * more, and a select that leaves meanwhile takes its own waiter out.
     * Queue order is kept (receivers, then senders): each futex wake walks
     * its hash bucket from the oldest sleeper, so waking the newest first
     * costs quadratic time for many sleeping threads. A reference is held
     * across the chunks: the caller's may be borrowed from a holder that a
     * woken waiter tells to let go, and the waiters' own (see chan.h) go
     * with their wake-ups. */
    bool held = false;
    for (;;) {
        chan__parker_t *woken[CHAN__WAKEUPS_MAX];
        size_t n = close_take_locked(c, &c->recvq, true, woken, 0);
        n = close_take_locked(c, &c->sendq, false, woken, n);
        bool more = n == CHAN__WAKEUPS_MAX;
        sched__invariant(more || !chan__has_waiters(c),
                         "a closed channel has no waiters");
        if (more && !held) {
            chan_retain(c);
            held = true;
        }
        sched__unlock(&c->lock);
        chan__wakeups_t batch = {.n = 0};
        for (size_t i = 0; i < n; i++) /* each dies with its wake-up */
            chan__ready_batched(woken[i], &batch);
        chan__wakeups_flush(&batch);
        if (!more)
            break;
        sched__lock(&c->lock);
    }
    if (held)
        chan_release(c);
    return CHAN_OK;
}
