/* chan_lf.c: the lock-free buffer of buffered channels (GOCHAN_CHAN_LOCKFREE).
 * The design, the waiter protocol and why no wake-up is lost are in
 * chan_lf.h; docs/semantics.md ("lock-free buffered channels") and
 * docs/performance.md have the summary and the figures.
 *
 * Item ids (CH-n) are those of docs/semantics.md.
 */
#include "chan_impl.h"
#include "blocked.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "race.h"

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Where a ring channel's ring starts: after the header, on a line of its
 * own. */
static size_t ring_offset(void)
{
    return round_up(sizeof(struct chan), CHAN__LF_LINE);
}

static chan__ring_t *ring_of(const struct chan *c)
{
    sched__invariant(c->ring, "a ring channel");
    return (chan__ring_t *)(void *)((unsigned char *)c + ring_offset());
}

static size_t flags_of(const chan__ring_t *r)
{
    return 3 * r->mark;
}

static size_t pos_of(const chan__ring_t *r, size_t word)
{
    return word & ~flags_of(r);
}

/* The flag bits: CLOSED (tail only) and QUEUED (both words). */
static size_t closed_bit(const chan__ring_t *r)
{
    return r->mark;
}

static size_t queued_bit(const chan__ring_t *r)
{
    return 2 * r->mark;
}

static unsigned char *slot_at(chan__ring_t *r, size_t pos)
{
    return r->slots + (pos & (r->mark - 1)) * r->stride;
}

static _Atomic size_t *stamp_of(unsigned char *slot)
{
    return (_Atomic size_t *)(void *)slot;
}

static void *value_of(unsigned char *slot)
{
    return slot + sizeof(size_t);
}

/* The position after pos: the next index, or index 0 of the next lap. */
static size_t next_pos(const chan__ring_t *r, size_t pos)
{
    size_t index = pos & (r->mark - 1);
    if (index + 1 < r->cap)
        return pos + 1;
    return (pos & ~(r->one_lap - 1)) + r->one_lap;
}

/* The position n after pos (n < cap). */
static size_t pos_after(const chan__ring_t *r, size_t pos, size_t n)
{
    size_t index = (pos & (r->mark - 1)) + n;
    size_t lap = pos & ~(r->one_lap - 1);
    if (index >= r->cap)
        return lap + r->one_lap + (index - r->cap);
    return lap + index;
}

/* How many free slots a sender that found the ring full waits for: two
 * cache lines' worth, at most half the ring. */
static size_t room_stretch(const chan__ring_t *r)
{
    size_t n = 2 * CHAN__LF_LINE / r->stride;
    if (n > r->cap / 2)
        n = r->cap / 2;
    return n;
}

/* Waiting for a peer that took a slot and has not yet published it: spin a
 * little, then give the core away (on 2 cores the peer may be preempted). */
static void backoff(unsigned *step)
{
    if (*step < 64) {
        sched__cpu_relax();
        (*step)++;
    } else {
        sched_yield();
    }
}

bool chan__lf_eligible(size_t elem_size, size_t cap)
{
    if (cap < CHAN__LF_MIN_CAP || cap > CHAN__LF_MAX_CAP)
        return false;
    /* stride * cap must fit comfortably: values up to 1 GiB in all. */
    return elem_size <= ((size_t)1 << 30) / cap;
}

/* Bytes per slot: the stamp, then the value. A slot gets a cache line of
 * its own while the ring stays within CHAN__LF_PADDED_MAX bytes: when the
 * ring is full (empty), the sender (receiver) works on the slot right
 * behind the one its peer works on, and two slots on one line would move
 * that line between the cores at every message (B1: 52 ns a message
 * against 78 with four 16-byte slots a line; docs/performance.md). */
static size_t slot_stride(size_t elem_size, size_t cap)
{
    size_t packed = round_up(sizeof(size_t) + elem_size, alignof(size_t));
    if (packed < CHAN__LF_LINE && cap <= CHAN__LF_PADDED_MAX / CHAN__LF_LINE)
        return CHAN__LF_LINE;
    return packed;
}

struct chan *chan__lf_make(size_t elem_size, size_t cap)
{
    size_t mark = 1;
    while (mark < cap + 1)
        mark <<= 1;
    size_t stride = slot_stride(elem_size, cap);
    size_t ring_off = ring_offset();
    size_t size = ring_off + sizeof(chan__ring_t) + cap * stride;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, size) != 0 || !mem) {
        errno = ENOMEM;
        return NULL;
    }
    struct chan *c = mem;
    chan__ring_t *r = (chan__ring_t *)(void *)((unsigned char *)mem + ring_off);
    chan__init_header(c, elem_size, cap);
    c->ring = true;
    r->cap = cap;
    r->mark = mark;
    r->one_lap = 4 * mark;
    r->stride = stride;
    r->elemsize = elem_size;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    for (size_t i = 0; i < cap; i++)
        atomic_init(stamp_of(r->slots + i * stride), i);
    return c;
}

static void copy_value(const chan__ring_t *r, void *dst, const void *src)
{
    if (dst && src && r->elemsize)
        chan__copy_bytes(dst, src, r->elemsize);
}

int chan__lf_push(struct chan *c, const void *src, bool locked)
{
    chan__ring_t *r = ring_of(c);
    unsigned step = 0;
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        /* QUEUED first: after close it stays set (chan__lf_close), so that
         * only a lock holder learns of the close. */
        if (!locked && (t & queued_bit(r)))
            return CHAN__LF_SLOW;
        if (t & closed_bit(r))
            return CHAN__LF_SHUT;
        size_t pos = pos_of(r, t);
        unsigned char *slot = slot_at(r, pos);
        size_t stamp =
            atomic_load_explicit(stamp_of(slot), memory_order_acquire);
        if (stamp == pos) {
            size_t next = next_pos(r, pos) | (t & flags_of(r));
            if (atomic_compare_exchange_weak_explicit(&r->tail, &t, next,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                /* The receive that freed the slot happens before (CH-24). */
                sched__race_acquire(slot);
                copy_value(r, value_of(slot), src);
                /* This send happens before the receive of it (CH-21). */
                sched__race_release(slot);
                atomic_store_explicit(stamp_of(slot), pos + 1,
                                      memory_order_release);
                return CHAN__LF_DONE;
            }
            backoff(&step); /* t was reloaded by the failed CAS */
        } else if (stamp + r->one_lap == pos + 1) {
            /* The slot holds the value of the lap before: full, unless a
             * receive has taken it and not yet freed the slot. */
            atomic_thread_fence(memory_order_seq_cst);
            size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
            if (pos_of(r, h) + r->one_lap == pos)
                return CHAN__LF_WOULD;
            backoff(&step);
            t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        } else {
            backoff(&step); /* another send is between its CAS and stamp */
            t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        }
    }
}

int chan__lf_pop(struct chan *c, void *dst, bool locked)
{
    chan__ring_t *r = ring_of(c);
    unsigned step = 0;
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        if (!locked && (h & queued_bit(r)))
            return CHAN__LF_SLOW;
        size_t pos = pos_of(r, h);
        unsigned char *slot = slot_at(r, pos);
        size_t stamp =
            atomic_load_explicit(stamp_of(slot), memory_order_acquire);
        if (stamp == pos + 1) {
            size_t next = next_pos(r, pos) | (h & flags_of(r));
            if (atomic_compare_exchange_weak_explicit(&r->head, &h, next,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                sched__race_acquire(slot); /* the send happens before */
                copy_value(r, dst, value_of(slot));
                sched__race_release(slot); /* before the send that reuses it */
                atomic_store_explicit(stamp_of(slot), pos + r->one_lap,
                                      memory_order_release);
                return CHAN__LF_DONE;
            }
            backoff(&step);
        } else if (stamp == pos) {
            /* Not written for this lap: empty, unless a send has claimed
             * the slot and not yet published it. */
            atomic_thread_fence(memory_order_seq_cst);
            size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
            if (pos_of(r, t) == pos) {
                if (!(t & closed_bit(r)))
                    return CHAN__LF_WOULD;
                /* Closed and drained: only a lock holder may say so (see
                 * chan__lf_close); h may predate close's QUEUED. */
                return locked ? CHAN__LF_SHUT : CHAN__LF_SLOW;
            }
            backoff(&step);
            h = atomic_load_explicit(&r->head, memory_order_relaxed);
        } else {
            backoff(&step); /* another receive is between CAS and stamp */
            h = atomic_load_explicit(&r->head, memory_order_relaxed);
        }
    }
}

bool chan__lf_is_closed(const struct chan *c)
{
    const chan__ring_t *r = ring_of(c);
    return (atomic_load_explicit(&r->tail, memory_order_seq_cst) &
            closed_bit(r)) != 0;
}

/* crossbeam's len: a consistent pair of counters. A slot claimed but not
 * yet published counts (its operation has taken effect). */
size_t chan__lf_len(const struct chan *c)
{
    const chan__ring_t *r = ring_of(c);
    for (;;) {
        size_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
        size_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);
        if (atomic_load_explicit(&r->tail, memory_order_seq_cst) != t)
            continue;
        size_t tp = pos_of(r, t), hp = pos_of(r, h);
        size_t ti = tp & (r->mark - 1), hi = hp & (r->mark - 1);
        if (hi < ti)
            return ti - hi;
        if (hi > ti)
            return r->cap - hi + ti;
        return tp == hp ? 0 : r->cap;
    }
}

/* Under c->lock. With waiters queued on a side, only lock holders move that
 * side's counter (its fast path is shut), so these answers stay true until
 * the caller acts on them: values never vanish under a queued receiver, room
 * never vanishes under a queued sender. */
static bool has_values(const chan__ring_t *r)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);
    size_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    return pos_of(r, t) != pos_of(r, h);
}

static bool has_room(const chan__ring_t *r)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    size_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);
    return pos_of(r, h) + r->one_lap != pos_of(r, t);
}

static void wakelist_add(chan__wakelist_t *wl, chan__waiter_t *w)
{
    w->next = NULL;
    *wl->last = w;
    wl->last = &w->next;
}

void chan__wake_list(chan__waiter_t *w)
{
    if (!w)
        return;
    chan__wakeups_t batch = {.n = 0};
    while (w) {
        chan__waiter_t *next = w->next; /* w dies with its wake-up */
        chan__ready_batched(w->parker, &batch);
        w = next;
    }
    chan__wakeups_flush(&batch);
}

void chan__wakelist_flush(chan__wakelist_t *wl)
{
    chan__wake_list(wl->first);
    chan__wakelist_init(wl);
}

static void serve_receivers(struct chan *c, chan__wakelist_t *wl)
{
    chan__ring_t *r = ring_of(c);
    while (atomic_load_explicit(&c->recvq.first, memory_order_relaxed) &&
           has_values(r)) {
        chan__waiter_t *w = chan__dequeue(&c->recvq);
        if (!w)
            break;
        sched__invariant(!w->parker->param, "a waiter is completed only once");
        int st = chan__lf_pop(c, chan__waiter_val(c, w), true);
        sched__invariant(st == CHAN__LF_DONE, "a queued receiver's value");
        (void)st;
        w->success = true;
        w->parker->param = w;
        wakelist_add(wl, w);
    }
}

static void serve_senders(struct chan *c, chan__wakelist_t *wl)
{
    chan__ring_t *r = ring_of(c);
    while (atomic_load_explicit(&c->sendq.first, memory_order_relaxed) &&
           !chan__lf_is_closed(c) && has_room(r)) {
        chan__waiter_t *w = chan__dequeue(&c->sendq);
        if (!w)
            break;
        sched__invariant(!w->parker->param, "a waiter is completed only once");
        int st = chan__lf_push(c, chan__waiter_val(c, w), true);
        sched__invariant(st == CHAN__LF_DONE, "a queued sender's room");
        (void)st;
        w->success = true;
        w->parker->param = w;
        wakelist_add(wl, w);
    }
}

void chan__lf_serve(struct chan *c, chan__wakelist_t *wl)
{
    /* Only one queue has live waiters at a time (receivers sleep on an
     * empty buffer, senders on a full one, and every lock holder serves
     * before it sleeps), so one pass of each suffices. */
    serve_receivers(c, wl);
    serve_senders(c, wl);
    serve_receivers(c, wl);
}

static void set_queued(chan__ring_t *r, _Atomic size_t *word)
{
    if (!(atomic_load_explicit(word, memory_order_relaxed) & queued_bit(r)))
        atomic_fetch_or_explicit(word, queued_bit(r), memory_order_seq_cst);
}

static void clear_queued(chan__ring_t *r, _Atomic size_t *word)
{
    if (atomic_load_explicit(word, memory_order_relaxed) & queued_bit(r))
        atomic_fetch_and_explicit(word, ~queued_bit(r), memory_order_seq_cst);
}

void chan__lf_announce(struct chan *c)
{
    chan__ring_t *r = ring_of(c);
    set_queued(r, &r->tail);
    set_queued(r, &r->head);
}

void chan__lf_fix_flags(struct chan *c)
{
    chan__ring_t *r = ring_of(c);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed))
        return; /* shut for good by close (chan__lf_close) */
    if (chan__has_waiters(c))
        return;
    clear_queued(r, &r->tail);
    clear_queued(r, &r->head);
}

/* The wake-ups gathered under the lock go out once it is dropped. */
static bool enqueue_and_park(struct chan *c, chan__waitq_t *q, void *elem,
                             chan__wakelist_t *wl)
{
    return chan__queue_and_park(c, q, elem, wl->first);
}

/* Go's chansend under the lock (CH-8): closed; a queued receiver (after
 * serving, the buffer is empty) gets the value directly; room; fail; sleep,
 * after announcing and looking once more. */
static int send_slow(struct chan *c, const void *elem, bool block)
{
    chan__wakelist_t wl;
    chan__wakelist_init(&wl);
    bool announced = false;
    int status;
    sched__lock(&c->lock);
    for (;;) {
        if (chan__is_closed(c)) {
            status = CHAN_CLOSED;
            break;
        }
        chan__lf_serve(c, &wl);
        chan__waiter_t *receiver = chan__dequeue(&c->recvq);
        if (receiver) {
            sched__invariant(!receiver->parker->param,
                             "a waiter is completed only once");
            chan__copy(c, chan__waiter_val(c, receiver), elem);
            receiver->success = true;
            receiver->parker->param = receiver;
            wakelist_add(&wl, receiver);
            status = CHAN_OK;
            break;
        }
        /* Take room only behind the queued senders. */
        if (!atomic_load_explicit(&c->sendq.first, memory_order_relaxed) &&
            chan__lf_push(c, elem, true) == CHAN__LF_DONE) {
            status = CHAN_OK;
            break;
        }
        if (!block) {
            status = CHAN_WOULDBLOCK;
            break;
        }
        if (!announced) {
            chan__lf_announce(c);
            announced = true;
            continue;
        }
        return enqueue_and_park(c, &c->sendq, (void *)elem, &wl) ? CHAN_OK
                                                                 : CHAN_CLOSED;
    }
    chan__lf_fix_flags(c);
    sched__unlock(&c->lock);
    chan__wakelist_flush(&wl);
    return status;
}

/* Go's chanrecv under the lock (CH-12). */
static int recv_slow(struct chan *c, void *elem, bool block)
{
    chan__wakelist_t wl;
    chan__wakelist_init(&wl);
    bool announced = false;
    int status;
    sched__lock(&c->lock);
    for (;;) {
        chan__lf_serve(c, &wl);
        /* Take a value only behind the queued receivers. */
        if (!atomic_load_explicit(&c->recvq.first, memory_order_relaxed)) {
            int st = chan__lf_pop(c, elem, true);
            if (st == CHAN__LF_DONE) {
                chan__lf_serve(c, &wl); /* the room is a queued sender's */
                status = CHAN_OK;
                break;
            }
            if (st == CHAN__LF_SHUT) {
                sched__race_acquire(&c->closed); /* close happens before */
                chan__zero(c, elem);
                status = CHAN_CLOSED;
                break;
            }
        }
        if (!block) {
            status = CHAN_WOULDBLOCK;
            break;
        }
        if (!announced) {
            chan__lf_announce(c);
            announced = true;
            continue;
        }
        /* A closer zeroes elem before waking us. */
        return enqueue_and_park(c, &c->recvq, elem, &wl) ? CHAN_OK
                                                         : CHAN_CLOSED;
    }
    chan__lf_fix_flags(c);
    sched__unlock(&c->lock);
    chan__wakelist_flush(&wl);
    return status;
}

/* Before a blocking operation takes the slow path on a full (empty) ring:
 * wait a little for the peer on the other core, watching the counters,
 * which costs far less than sleeping and being woken. True when the ring may
 * now have room (values, or the close mark). */
static bool spin_for_peer(struct chan *c, bool send)
{
    chan__ring_t *r = ring_of(c);
    /* A goroutine parks at once by default (CHAN__LF_SPIN_G 0), as Go's
     * do: the scheduler then lets a producer and its consumer take turns on
     * one P (the readied goroutine runs next), which beats any exchange
     * between two cores (G1: 48 ns against 102 with 10 spins); with many
     * goroutines on a channel, spinning pays instead (G3: 120 ns against
     * 185). docs/performance.md has the figures. */
    int spins = chan__on_goroutine() ? CHAN__LF_SPIN_G : CHAN__LF_SPIN;
    /* Watch the one slot the operation needs (its stamp changes when the
     * peer frees or fills it), not the peer's counter, which the peer
     * writes at every operation. */
    size_t w =
        atomic_load_explicit(send ? &r->tail : &r->head, memory_order_relaxed);
    if (w & queued_bit(r))
        return false; /* others sleep already: queue behind them */
    size_t pos = pos_of(r, w);
    _Atomic size_t *stamp = stamp_of(slot_at(r, pos));
    size_t want = send ? pos : pos + 1;
    /* A sender on a full ring waits for a stretch of room, not one slot:
     * taking each slot as the receiver frees it would have both sides
     * writing the same cache line at every message. */
    size_t later = send ? pos_after(r, pos, room_stretch(r)) : pos;
    _Atomic size_t *later_stamp = stamp_of(slot_at(r, later));
    size_t later_want = send ? later : later + 1;
    for (int i = 0; i < spins; i++) {
        sched__cpu_relax();
        if (atomic_load_explicit(later_stamp, memory_order_relaxed) ==
            later_want)
            return true;
        if (!send && (atomic_load_explicit(&r->tail, memory_order_relaxed) &
                      closed_bit(r)))
            return true;
    }
    return atomic_load_explicit(stamp, memory_order_relaxed) == want;
}

int chan__lf_send(struct chan *c, const void *elem, bool block)
{
    int st = chan__lf_push(c, elem, false);
    if (st == CHAN__LF_WOULD && block && spin_for_peer(c, true))
        st = chan__lf_push(c, elem, false);
    switch (st) {
    case CHAN__LF_DONE:
        return CHAN_OK; /* and c is not touched again (see chan_lf.h) */
    case CHAN__LF_SHUT:
        return CHAN_CLOSED; /* CH-7: nothing is sent */
    case CHAN__LF_WOULD:
        if (!block)
            return CHAN_WOULDBLOCK; /* full and open (CH-10) */
        break;
    default:
        break;
    }
    return send_slow(c, elem, block);
}

int chan__lf_recv(struct chan *c, void *elem, bool block)
{
    int st = chan__lf_pop(c, elem, false);
    if (st == CHAN__LF_WOULD && block && spin_for_peer(c, false))
        st = chan__lf_pop(c, elem, false);
    switch (st) {
    case CHAN__LF_DONE:
        return CHAN_OK;
    case CHAN__LF_SHUT:
        sched__race_acquire(&c->closed); /* close happens before (CH-22) */
        chan__zero(c, elem);
        return CHAN_CLOSED;
    case CHAN__LF_WOULD:
        if (!block)
            return CHAN_WOULDBLOCK; /* empty and open (CH-15) */
        break;
    default:
        break;
    }
    return recv_slow(c, elem, block);
}

/* Go's closechan for a ring channel (chan_lf.h, "Close"). */
int chan__lf_close(struct chan *c)
{
    chan__ring_t *r = ring_of(c);
    chan__wakelist_t wl;
    chan__wakelist_init(&wl);
    sched__lock(&c->lock);
    if (chan__is_closed(c)) {
        sched__unlock(&c->lock);
        return CHAN_CLOSED;
    }
    chan__lf_serve(c, &wl);
    sched__race_release(&c->closed);
    /* Both fast paths shut for good with the mark: a fast operation that
     * saw the close could return, and its caller free the channel, while
     * this close still writes to it. From here every operation takes the
     * lock, and learns of the close only after our unlock. */
    chan__lf_announce(c);
    atomic_fetch_or_explicit(&r->tail, closed_bit(r), memory_order_seq_cst);
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    if (sched__tracing())
        sched__trace_chan_close(c, c->dataqsiz);
    serve_receivers(c, &wl); /* values claimed before the mark */

    chan__waiter_t *w;
    while ((w = chan__dequeue(&c->recvq)) != NULL) {
        chan__complete_closed(c, w, true);
        wakelist_add(&wl, w);
    }
    while ((w = chan__dequeue(&c->sendq)) != NULL) {
        chan__complete_closed(c, w, false);
        wakelist_add(&wl, w);
    }
    chan__lf_fix_flags(c);
    sched__unlock(&c->lock);
    chan__wakelist_flush(&wl);
    return CHAN_OK;
}
