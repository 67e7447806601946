/* chan_lf.h: internal to gochan, never installed; included by chan_impl.h
 * when the build has GOCHAN_CHAN_LOCKFREE (CMake option, ON by default; OFF
 * builds the locked buffer of Go's hchan instead).
 *
 * The lock-free buffer of a buffered channel, after Dmitry Vyukov's bounded
 * MPMC queue and crossbeam-channel's array flavour: a stamp per slot, a head
 * and a tail counter, the closed mark in the tail. A send to a channel with
 * room, or a receive from one with values, takes no lock and wakes nobody.
 * The channel lock and the wait queues (hchan's sendq and recvq) are taken
 * only by a side that must sleep or must wake a sleeper.
 *
 * Words. The counters hold a position (lap * one_lap + index) and flag bits
 * between the index and the lap, as crossbeam keeps its mark bit:
 *   tail: CHAN__LF_CLOSED (set once, by close) and QUEUED;
 *   head: QUEUED.
 * QUEUED is set in both words, under c->lock, while any operation is queued
 * on recvq or sendq (or a try select holds the lock, below), and cleared
 * from both, under the lock, when both queues are empty. While it is set
 * both fast paths are shut and the channel works as the locked one.
 * Slot i's stamp is pos when the slot is free for the send at position pos,
 * pos + 1 once that send has written it, and pos + one_lap once the receive
 * at pos has emptied it again.
 *
 * A fast send: load tail; refuse if CLOSED (send on closed: CHAN_CLOSED,
 * nothing changes) or QUEUED (slow path); when the slot's stamp says free,
 * CAS tail one on (the CAS fails if a flag was set meanwhile, because the flags
 * are in the same word), copy the value, store the stamp (release), return.
 * A fast receive mirrors it on head. A slot that is taken but not yet
 * published makes the peer wait (pause, then sched_yield) as in crossbeam:
 * the value is in the channel from the CAS on, so close and len count it.
 *
 * The waiter protocol (no lost wake-up, and nothing after the stamp). An
 * operation that must sleep, under c->lock, first sets QUEUED in tail and in
 * head (read-modify-writes), then looks again (serves the queues, then tries
 * its operation once more) and only then queues and parks. Each flag lives
 * in the very word the fast paths CAS, so coherence alone orders them: a
 * fast operation whose CAS came before the flag in that word's modification
 * order has moved the counter that the sleeper's second look reads after its
 * own read-modify-write (and the look waits for the stamp if it is not yet
 * published); a fast operation whose CAS comes after fails, sees QUEUED and
 * takes the lock, where it serves the sleeper. So a fast operation never has
 * to look for sleepers after it publishes: once its stamp is stored it does
 * not touch the channel again, and a receiver that got the value may free
 * the channel at once (the locked path promises the same: a sender touches
 * nothing after its unlock).
 *
 * Serving (chan__lf_serve, under c->lock) is Go's direct handoff: while the
 * buffer has values and recvq a waiter that can be claimed (a select waiter
 * by its select_done CAS), pop a value straight into that waiter; while the
 * buffer has room and sendq a claimable waiter, push its value (Go's recv
 * putting the blocked sender's value at the tail). The waiter is completed
 * (success, param) under the lock and readied after unlock, exactly as the
 * locked path does, so a select woken on a buffered channel already holds its
 * value: no other receiver can take it first and no retry is needed. While a
 * queue is non-empty the fast paths are shut (QUEUED), so no newcomer
 * overtakes a queued waiter; a locked operation also serves first and takes
 * the buffer only when its own side's queue is empty. This keeps FIFO service
 * and the order of values.
 *
 * Close (under c->lock): serve; set CLOSED in tail (no send can claim a slot
 * from then on, and the tail's position is final); serve the receivers
 * again, which drains values whose senders claimed a slot before the mark
 * (waiting for their stamps) into queued receivers; then wake every receiver
 * left (the buffer is empty) and every sender with CHAN_CLOSED. Close also
 * sets QUEUED in both words for good (chan__lf_fix_flags leaves a closed
 * channel alone), and a fast receive that finds the ring closed and drained
 * takes the lock rather than answer: the closer still writes to the channel
 * after the mark, and a caller that learns of the close may free the
 * channel at once, so it must learn of it only after the closer's unlock
 * (the locked path promises the same). Receivers that come later drain the
 * buffer in order, under the lock, and see CLOSED only when head reaches
 * the final tail.
 *
 * ThreadSanitizer: a send releases the slot's address before storing its
 * stamp and a receive acquires it after loading the stamp (and the reverse
 * for the freed slot, CH-24), through sched/internal/race.h, so a user's
 * program built with -fsanitize=thread sees the send-receive edge even
 * through an uninstrumented libgochan. The slow paths and the queues go
 * through c->lock and the parkers, which announce themselves already.
 */
#ifndef GOCHAN_CHAN_LF_H
#define GOCHAN_CHAN_LF_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chan;
struct chan__waiter;

/* Channels with a capacity from CHAN__LF_MIN_CAP to CHAN__LF_MAX_CAP use the
 * ring; the others keep the locked buffer. Below the minimum, the ring's
 * three header lines and its padded slots would cost several times the
 * locked buffer's bytes (a timer's channel of one value: 491 bytes against
 * 203), for channels that serve as latches and semaphores more than as
 * queues. Above the maximum (a chan struct{} may count SIZE_MAX tokens) the
 * ring would not fit. */
#define CHAN__LF_MIN_CAP ((size_t)8)
#define CHAN__LF_MAX_CAP ((size_t)1 << 16)

/* Slots are a cache line apart in rings of up to this many bytes (chan_lf.c,
 * slot_stride); larger rings pack them. */
#define CHAN__LF_LINE       64
#define CHAN__LF_PADDED_MAX ((size_t)64 << 10)

/* Pause loops a blocking operation spends watching a full (empty) ring
 * before it takes the lock to sleep (chan_lf.c, spin_for_peer). */
#ifndef CHAN__LF_SPIN
#define CHAN__LF_SPIN 50
#endif
#ifndef CHAN__LF_SPIN_G
#define CHAN__LF_SPIN_G 0 /* on a goroutine: park at once */
#endif

typedef struct chan__ring {
    /* Read by both sides, never written after chan_make: its own line. */
    size_t cap;
    size_t mark;    /* the lowest flag bit: next_pow2(cap + 1) */
    size_t one_lap; /* 4 * mark: the flags are mark and 2 * mark */
    size_t stride;  /* bytes per slot: the stamp, then the value */
    size_t elemsize;
    alignas(64) _Atomic size_t tail; /* the senders' line */
    alignas(64) _Atomic size_t head; /* the receivers' line */
    alignas(64) unsigned char slots[];
} chan__ring_t;

/* Results of the ring operations. */
enum {
    CHAN__LF_DONE = 0,
    CHAN__LF_WOULD = 1, /* full (push) or empty and open (pop) */
    CHAN__LF_SHUT = 2,  /* closed (push), or closed and drained (pop) */
    CHAN__LF_SLOW = 3   /* this side has waiters queued: take the lock */
};

/* Waiters completed under the lock, readied after it is dropped. */
typedef struct chan__wakelist {
    struct chan__waiter *first;
    struct chan__waiter **last;
} chan__wakelist_t;

static inline void chan__wakelist_init(chan__wakelist_t *wl)
{
    wl->first = NULL;
    wl->last = &wl->first;
}

/* Readies every waiter of wl and empties it; no channel lock may be held. */
void chan__wakelist_flush(chan__wakelist_t *wl);
/* Readies every waiter of a complete wake list from first on, when the list
 * itself may be gone (it lived on a parked operation's stack). */
void chan__wake_list(struct chan__waiter *first);

/* Whether the build's ring takes a channel of this shape. */
bool chan__lf_eligible(size_t elem_size, size_t cap);
/* chan_make for an eligible shape: NULL with errno ENOMEM on failure. */
struct chan *chan__lf_make(size_t elem_size, size_t cap);

/* Ring operations. locked: the caller holds c->lock, which lets it past
 * QUEUED (it serves the queues itself). */
int chan__lf_push(struct chan *c, const void *src, bool locked);
int chan__lf_pop(struct chan *c, void *dst, bool locked);
bool chan__lf_is_closed(const struct chan *c);

/* Under c->lock: hands buffered values to queued receivers and room to
 * queued senders (see the comment above); completed waiters go on wl. */
void chan__lf_serve(struct chan *c, chan__wakelist_t *wl);
/* Under c->lock: sets QUEUED in both words, shutting both fast paths,
 * before a sleeper looks again, and for a try select's snapshot (SEL-12). */
void chan__lf_announce(struct chan *c);
/* Under c->lock, before dropping it: clears QUEUED when both queues are
 * empty. */
void chan__lf_fix_flags(struct chan *c);

/* The plain operations on a ring channel (chan.c dispatches to them). */
int chan__lf_send(struct chan *c, const void *elem, bool block);
int chan__lf_recv(struct chan *c, void *elem, bool block);
int chan__lf_close(struct chan *c);

#endif /* GOCHAN_CHAN_LF_H */
