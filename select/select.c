/* select.c: Go's select statement (runtime/select.go, selectgo) in C.
 *
 * selectgo runs in three passes over the cases, with every channel involved
 * locked in one global order (by address) so that concurrent selects cannot
 * deadlock:
 *   pass 1: in a random order, take the first case that can proceed now;
 *   pass 2: nothing can: queue one waiter per case on its channel, all sharing
 *           one parker, drop the locks and sleep;
 *   pass 3: woken by the peer (or close) that claimed the parker's select_done
 *           and completed one case: relock, unqueue every other waiter.
 * The claim on select_done is what makes exactly one case fire: a peer that
 * dequeues one of our waiters after another peer won simply skips it.
 *
 * Waiters and the order arrays come from the caller's stack for small selects
 * and from a per-thread pool that only grows, so a select does not allocate
 * in the steady state (SEL-15).
 *
 * Item ids (SEL-n, CH-n) are those of docs/semantics.md.
 */
#include <gochan/select.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "chan_impl.h"
#include "blocked.h"

#define SELECT_STACK_CASES 8

/* With lock-free buffered channels (chan/chan_lf.h), the passes serve a ring
 * channel's queues under its lock and ready the waiters they complete only
 * after the locks are dropped: a wake list travels through the passes. */
#ifdef GOCHAN_CHAN_LOCKFREE
#define SELECT_WL_PARAM , chan__wakelist_t *wl
#define SELECT_WL_ARG   , wl
#else
#define SELECT_WL_PARAM
#define SELECT_WL_ARG
#endif

/* Scratch space for one select: a waiter per case and the two orders. */
typedef struct select_scratch {
    size_t cap;
    chan__waiter_t *waiters;
    uint16_t *pollorder;
    uint16_t *lockorder;
} select_scratch_t;

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_free(void *p)
{
    select_scratch_t *s = p;
    free(s->waiters);
    free(s->pollorder);
    free(s);
}

static bool pool_key_ok; /* written once, inside pthread_once */

static void pool_key_make(void)
{
    pool_key_ok = pthread_key_create(&pool_key, pool_free) == 0;
}

/* Takes the calling thread's pool, grown to hold n cases, out of its slot;
 * NULL when out of memory. The select that takes it owns it until
 * pool_put, so a goroutine parked in a select keeps its scratch even if
 * another goroutine selects on the same thread meanwhile. */
static select_scratch_t *pool_take(size_t n)
{
    pthread_once(&pool_once, pool_key_make);
    if (!pool_key_ok)
        return NULL;
    select_scratch_t *s = pthread_getspecific(pool_key);
    if (s && pthread_setspecific(pool_key, NULL) != 0)
        return NULL;
    if (s && s->cap >= n)
        return s;
    size_t cap = s && s->cap * 2 > n ? s->cap * 2 : n;
    if (cap > CHAN_SELECT_MAX_CASES)
        cap = CHAN_SELECT_MAX_CASES;
    chan__waiter_t *waiters = malloc(cap * sizeof *waiters);
    uint16_t *orders = malloc(2 * cap * sizeof *orders);
    select_scratch_t *grown = s ? s : malloc(sizeof *grown);
    if (!waiters || !orders || !grown) {
        free(waiters);
        free(orders);
        if (s)
            pthread_setspecific(pool_key, s); /* the slot was empty */
        else
            free(grown);
        return NULL;
    }
    if (s) {
        free(s->waiters);
        free(s->pollorder);
    }
    *grown = (select_scratch_t){cap, waiters, orders, orders + cap};
    return grown;
}

/* Gives s back to the pool slot of the thread we now run on (a goroutine
 * may have moved), or frees it when that thread has a pool already. A pool
 * in a slot is freed at the thread's exit. */
static void pool_put(select_scratch_t *s)
{
    if (pthread_getspecific(pool_key) || pthread_setspecific(pool_key, s) != 0)
        pool_free(s);
}

/* Go's cheaprandn: a per-thread xorshift64* generator, seeded from the clock
 * and the thread's own address so that threads do not share sequences.
 * Returns a value in [0, n) by Lemire's multiply-shift, as Go does. */
static uint32_t cheaprandn(uint32_t n)
{
    static _Thread_local uint64_t state;
    if (state == 0)
        state = ((uint64_t)chan_now() ^ (uint64_t)(uintptr_t)&state) | 1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    uint32_t r = (uint32_t)((state * 0x2545F4914F6CDD1DULL) >> 32);
    return (uint32_t)(((uint64_t)r * n) >> 32);
}

static uintptr_t case_addr(const chan_case_t *cases, uint16_t i)
{
    return (uintptr_t)cases[i].chan;
}

/* Sorts order[0..n) by channel address: insertion sort for the usual small
 * select, heap sort (O(n log n), constant stack, as Go) for large ones. */
static void sort_lockorder(const chan_case_t *cases, uint16_t *order, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint16_t x = order[i];
            size_t j = i;
            for (;
                 j > 0 && case_addr(cases, order[j - 1]) > case_addr(cases, x);
                 j--)
                order[j] = order[j - 1];
            order[j] = x;
        }
        return;
    }
    for (size_t i = 1; i < n; i++) { /* build a max-heap by sifting up */
        size_t j = i;
        uint16_t x = order[i];
        while (j > 0 &&
               case_addr(cases, order[(j - 1) / 2]) < case_addr(cases, x)) {
            order[j] = order[(j - 1) / 2];
            j = (j - 1) / 2;
        }
        order[j] = x;
    }
    for (size_t i = n - 1; i > 0; i--) { /* pop the max to the end */
        uint16_t x = order[i];
        order[i] = order[0];
        size_t j = 0;
        for (;;) {
            size_t k = 2 * j + 1;
            if (k >= i)
                break;
            if (k + 1 < i &&
                case_addr(cases, order[k]) < case_addr(cases, order[k + 1]))
                k++;
            if (case_addr(cases, x) >= case_addr(cases, order[k]))
                break;
            order[j] = order[k];
            j = k;
        }
        order[j] = x;
    }
}

/* Go's sellock: each distinct channel once, in address order. */
static void sellock(const chan_case_t *cases, const uint16_t *lockorder,
                    size_t n)
{
    chan_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        chan_t *c = cases[lockorder[i]].chan;
        /* Go's "select: broken sort": two selects that took the same pair
         * of channels in opposite orders would deadlock. */
        sched__invariant((uintptr_t)prev <= (uintptr_t)c,
                         "select locks its channels in address order");
        if (c != prev)
            sched__lock(&c->lock);
        prev = c;
    }
}

/* Go's selunlock: in reverse, each distinct channel once. */
static void selunlock(const chan_case_t *cases, const uint16_t *lockorder,
                      size_t n)
{
    for (size_t i = n; i-- > 0;) {
        chan_t *c = cases[lockorder[i]].chan;
        if (i > 0 && cases[lockorder[i - 1]].chan == c)
            continue;
#ifdef GOCHAN_CHAN_LOCKFREE
        if (c->ring)
            chan__lf_fix_flags(c); /* reopen the fast path of empty queues */
#endif
        sched__unlock(&c->lock);
    }
}

/* Checks every case before touching anything: bad input changes nothing
 * (docs/semantics.md, the contract). */
static bool cases_valid(const chan_case_t *cases, size_t n)
{
    if (n > CHAN_SELECT_MAX_CASES || (n > 0 && !cases))
        return false;
    for (size_t i = 0; i < n; i++) {
        const chan_case_t *cas = &cases[i];
        if (cas->dir != CHAN_SEND && cas->dir != CHAN_RECV)
            return false;
        if (cas->dir == CHAN_SEND && cas->chan && !cas->elem &&
            cas->chan->elemsize)
            return false;
    }
    return true;
}

/* A case tried alone: plain chansend/chanrecv with block=false and their
 * lock-free fast paths, for a lone try case (SEL-11) and for pass 0. */
static int select_one_nonblocking(chan_case_t *cas, int index)
{
    int status = cas->dir == CHAN_SEND ? chan_try_send(cas->chan, cas->elem)
                                       : chan_try_recv(cas->chan, cas->elem);
    if (status == CHAN_WOULDBLOCK)
        return CHAN_SELECT_DEFAULT;
    cas->status = status;
    return index;
}

#ifdef GOCHAN_CHAN_LOCKFREE
/* Pass 1 on a ring channel (chan/chan_lf.h), under its lock: serve its
 * queues first, then act as chan_lf.c's locked paths do. True when the case
 * proceeds (its status set; *peer a queued receiver given the value
 * directly, to ready once the locks are dropped). */
static bool select_ring_case(chan_case_t *cas, chan__wakelist_t *wl,
                             chan__waiter_t **peer)
{
    chan_t *c = cas->chan;
    chan__lf_serve(c, wl);
    if (cas->dir == CHAN_RECV) {
        /* Buffered values belong to the queued receivers first. */
        if (atomic_load_explicit(&c->recvq.first, memory_order_relaxed))
            return false;
        switch (chan__lf_pop(c, cas->elem, true)) {
        case CHAN__LF_DONE:
            chan__lf_serve(c, wl); /* the room is a queued sender's */
            cas->status = CHAN_OK;
            return true;
        case CHAN__LF_SHUT:
            sched__race_acquire(&c->closed); /* close happens before */
            chan__zero(c, cas->elem);
            cas->status = CHAN_CLOSED;
            return true;
        default:
            return false;
        }
    }
    if (chan__is_closed(c)) {
        cas->status = CHAN_CLOSED; /* Go panics: send on closed channel */
        return true;
    }
    /* After serving, a queued receiver means an empty buffer. */
    chan__waiter_t *w = chan__dequeue(&c->recvq);
    if (w) {
        sched__invariant(!w->parker->param, "a waiter is completed only once");
        chan__copy(c, chan__waiter_val(c, w), cas->elem);
        w->success = true;
        w->parker->param = w;
        *peer = w;
        cas->status = CHAN_OK;
        return true;
    }
    if (atomic_load_explicit(&c->sendq.first, memory_order_relaxed))
        return false; /* room belongs to the queued senders first */
    if (chan__lf_push(c, cas->elem, true) != CHAN__LF_DONE)
        return false;
    cas->status = CHAN_OK;
    return true;
}

/* Before pass 2: shut the fast paths of every ring channel (chan/chan_lf.h,
 * the waiter protocol). True if some case is on a ring channel, and pass 1
 * must look again. */
static bool select_announce(const chan_case_t *cases, const uint16_t *lockorder,
                            size_t norder)
{
    bool any = false;
    for (size_t k = 0; k < norder; k++) {
        const chan_case_t *cas = &cases[lockorder[k]];
        if (cas->chan->ring) {
            chan__lf_announce(cas->chan);
            any = true;
        }
    }
    return any;
}

/* A try select judges one snapshot (SEL-12): with the locks held, shut both
 * fast paths of each ring channel, so that no operation outside moves them
 * until selunlock reopens them. */
static void select_freeze(const chan_case_t *cases, const uint16_t *lockorder,
                          size_t norder)
{
    for (size_t k = 0; k < norder; k++) {
        chan_t *c = cases[lockorder[k]].chan;
        if (c->ring)
            chan__lf_announce(c);
    }
}
#endif

/* Pass 1's step for cas, on a locked channel without a ring, with every
 * lock held: whether it proceeds now; then it is done (its status set;
 * *peer a queued peer it completed, to ready once the locks are dropped). */
static bool case_proceed_locked(chan_case_t *cas, chan__waiter_t **peer)
{
    chan_t *c = cas->chan;
    if (cas->dir == CHAN_RECV) {
        if ((*peer = chan__dequeue(&c->sendq)) != NULL) {
            chan__recv_from_sender(c, *peer, cas->elem);
            cas->status = CHAN_OK;
        } else if (chan__qcount(c) > 0) {
            chan__buf_take(c, cas->elem);
            cas->status = CHAN_OK;
        } else if (chan__is_closed(c)) {
            chan__zero(c, cas->elem);
            cas->status = CHAN_CLOSED;
        } else {
            return false;
        }
    } else {
        if (chan__is_closed(c)) {
            cas->status = CHAN_CLOSED; /* Go panics: send on closed channel */
        } else if ((*peer = chan__dequeue(&c->recvq)) != NULL) {
            chan__send_direct(c, *peer, cas->elem);
            cas->status = CHAN_OK;
        } else if (chan__qcount(c) < c->dataqsiz) {
            chan__buf_put(c, cas->elem);
            cas->status = CHAN_OK;
        } else {
            return false;
        }
    }
    return true;
}

/* Pass 0, before Go's pass 1: in poll order, each case is tried alone as
 * the try operation it is (select_one_nonblocking: chan_try_send or
 * chan_try_recv), which answers "would block" from lock-free loads when it
 * can and otherwise takes that channel's lock alone (a ring channel's fast
 * path takes none). A select with a ready case thus takes at most one lock,
 * not one per case: with four producers feeding one select (G4), taking all
 * four locks was three quarters of the select's time, each a contended
 * line. The case taken is one that could proceed at that moment, the first
 * such in a random order, so each ready case is as likely as in pass 1
 * (SEL-4), and a case taken here is what pass 1 could have taken. When none
 * proceeds, pass 1 decides with every lock held, for blocking and default
 * alike. Returns the case's index, or CHAN_SELECT_DEFAULT. */
static int select_ready_case_alone(chan_case_t *cases,
                                   const uint16_t *pollorder, size_t norder)
{
    for (size_t k = 0; k < norder; k++) {
        int chosen = select_one_nonblocking(&cases[pollorder[k]], pollorder[k]);
        if (chosen >= 0)
            return chosen;
    }
    return CHAN_SELECT_DEFAULT;
}

/* Pass 1: with every channel locked, takes the first ready case in poll order.
 * Returns its index, with the locks dropped and any peer woken, or
 * CHAN_SELECT_DEFAULT with the locks still held. */
static int select_ready_case(chan_case_t *cases, const uint16_t *pollorder,
                             const uint16_t *lockorder,
                             size_t norder SELECT_WL_PARAM)
{
    for (size_t k = 0; k < norder; k++) {
        chan_case_t *cas = &cases[pollorder[k]];
        chan__waiter_t *peer = NULL;
#ifdef GOCHAN_CHAN_LOCKFREE
        if (cas->chan->ring) {
            if (!select_ring_case(cas, wl, &peer))
                continue;
        } else
#endif
            if (!case_proceed_locked(cas, &peer))
            continue;
        selunlock(cases, lockorder, norder);
        if (peer)
            chan__ready(peer->parker);
        return pollorder[k];
    }
    return CHAN_SELECT_DEFAULT; /* none is ready */
}

/* The dump's view of case i (chan__case_at_fn): select formats its own
 * cases, so chan/ need not know chan_case_t. */
static void case_at(const void *cases, size_t i, chan_t **c, bool *send)
{
    const chan_case_t *cas = (const chan_case_t *)cases + i;
    *c = cas->chan;
    *send = cas->dir == CHAN_SEND;
}

/* What the parked select's lock holder does last (chan__park_unlock): drop
 * every lock, then ready the waiters the passes completed. selunlock reads
 * cases and lockorder, on the selecting goroutine's stack, until its last
 * unlock, and that is safe: a waker on a channel unlocked earlier may make
 * the goroutine run again, but its pass 3 must first take the lock that
 * selunlock drops last (the first in lock order). */
typedef struct select_unlock {
    const chan_case_t *cases;
    const uint16_t *lockorder;
    size_t norder;
#ifdef GOCHAN_CHAN_LOCKFREE
    chan__waiter_t *wake_first; /* the wake list, complete by now */
#endif
} select_unlock_t;

static void select_unlock_all(void *arg)
{
    select_unlock_t u = *(select_unlock_t *)arg; /* arg dies with the unlock */
    selunlock(u.cases, u.lockorder, u.norder);
#ifdef GOCHAN_CHAN_LOCKFREE
    chan__wake_list(u.wake_first);
#endif
}

/* Passes 2 and 3: the channels are locked and no case is ready. Queues a
 * waiter per case, sleeps, and returns the index of the case that a peer or
 * close completed, with every other waiter unqueued and the locks dropped. */
static int select_block(chan_case_t *cases, size_t ncases,
                        chan__waiter_t *waiters, const uint16_t *lockorder,
                        size_t norder SELECT_WL_PARAM)
{
    chan__parker_t parker;
    chan__parker_init(&parker);
    for (size_t k = 0; k < norder; k++) { /* pass 2: enqueue on every channel */
        unsigned i = lockorder[k];
        chan_case_t *cas = &cases[i];
        chan__waiter_t *w = &waiters[i];
        *w = (chan__waiter_t){
            .parker = &parker, .case_index = i, .is_select = true};
        (void)chan__waiter_set_elem(cas->chan, w, cas->elem,
                                    cas->dir == CHAN_SEND);
        chan__enqueue(
            cas->dir == CHAN_SEND ? &cas->chan->sendq : &cas->chan->recvq, w);
        /* A blocked select holds its channels: pass 3 locks them all. */
        chan_retain(cas->chan);
    }
    select_unlock_t unlock = {.cases = cases,
                              .lockorder = lockorder,
                              .norder = norder,
#ifdef GOCHAN_CHAN_LOCKFREE
                              .wake_first = wl->first
#endif
    };
    if (chan__debug_enabled()) {
        select_unlock_all(&unlock);
        chan__blocked_t record = {.reason = SCHED_WAIT_SELECT,
                                  .cases = cases,
                                  .case_at = case_at,
                                  .ncases = ncases};
        chan__park_recorded(&parker, &record);
    } else {
        chan__park_unlock(&parker, SCHED_WAIT_SELECT, select_unlock_all,
                          &unlock);
    }

    sellock(cases, lockorder, norder); /* pass 3: unqueue the losers */
    chan__waiter_t *winner = parker.param;
    for (size_t k = 0; k < norder; k++) {
        unsigned i = lockorder[k];
        chan_case_t *cas = &cases[i];
        if (&waiters[i] != winner)
            chan__remove(cas->dir == CHAN_SEND ? &cas->chan->sendq
                                               : &cas->chan->recvq,
                         &waiters[i]);
    }
    selunlock(cases, lockorder, norder);
    /* A send woken by close did not send; a receive woken by close got a
     * zeroed value from the closer (inside the waiter when small). Before
     * the releases: they may free the channel. */
    chan_case_t *won = &cases[winner->case_index];
    chan__waiter_take_val(
        winner, won->elem,
        chan__waiter_take_size(won->chan, won->dir == CHAN_SEND));
    won->status = winner->success ? CHAN_OK : CHAN_CLOSED;
    for (size_t k = 0; k < norder; k++)
        chan_release(cases[lockorder[k]].chan);
    chan__parker_destroy(&parker);
    return (int)winner->case_index;
}

/* Go's selectgo, on scratch space for n cases. */
static int selectgo(chan_case_t *cases, size_t n, bool block,
                    chan__waiter_t *waiters, uint16_t *pollorder,
                    uint16_t *lockorder)
{

    /* A random poll order over the non-NULL cases (inside-out Fisher-Yates),
     * so that each ready case is equally likely to win (SEL-4). */
    size_t norder = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        uint32_t j = cheaprandn((uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        norder++;
    }
    if (norder == 0) {
        if (!block)
            return CHAN_SELECT_DEFAULT;
        /* select {}, or a select of nil channels only */
        chan__blocked_t record = {.reason = n ? SCHED_WAIT_SELECT
                                              : SCHED_WAIT_SELECT_NO_CASES,
                                  .cases = cases,
                                  .case_at = case_at,
                                  .ncases = n};
        chan__debug_block_forever(&record);
    }
    if (norder == 1 && !block)
        return select_one_nonblocking(&cases[pollorder[0]], pollorder[0]);

    int alone = select_ready_case_alone(cases, pollorder, norder);
    if (alone >= 0)
        return alone;

    for (size_t k = 0; k < norder; k++)
        lockorder[k] = pollorder[k];
    sort_lockorder(cases, lockorder, norder);

#ifdef GOCHAN_CHAN_LOCKFREE
    chan__wakelist_t wakelist;
    chan__wakelist_t *wl = &wakelist;
    chan__wakelist_init(wl);
#endif
    sellock(cases, lockorder, norder);
#ifdef GOCHAN_CHAN_LOCKFREE
    if (!block)
        select_freeze(cases, lockorder, norder);
#endif
    int chosen =
        select_ready_case(cases, pollorder, lockorder, norder SELECT_WL_ARG);
#ifdef GOCHAN_CHAN_LOCKFREE
    if (chosen < 0 && block && select_announce(cases, lockorder, norder))
        chosen = select_ready_case(cases, pollorder, lockorder, norder, wl);
    if (chosen >= 0) {
        chan__wakelist_flush(wl);
        return chosen;
    }
#else
    if (chosen >= 0)
        return chosen;
#endif
    if (!block) {
        selunlock(cases, lockorder, norder);
#ifdef GOCHAN_CHAN_LOCKFREE
        chan__wakelist_flush(wl);
#endif
        return CHAN_SELECT_DEFAULT;
    }
    return select_block(cases, n, waiters, lockorder, norder SELECT_WL_ARG);
}

/* Checks the cases, then runs selectgo on the caller's stack for small
 * selects and on the pool's scratch for large ones. */
static int select_cases(chan_case_t *cases, size_t n, bool block)
{
    if (!cases_valid(cases, n))
        return -CHAN_INVALID;
    if (n <= SELECT_STACK_CASES) {
        chan__waiter_t waiters[SELECT_STACK_CASES];
        uint16_t orders[2 * SELECT_STACK_CASES];
        return selectgo(cases, n, block, waiters, orders,
                        orders + SELECT_STACK_CASES);
    }
    select_scratch_t *s = pool_take(n);
    if (!s)
        return -CHAN_NOMEM;
    int chosen =
        selectgo(cases, n, block, s->waiters, s->pollorder, s->lockorder);
    pool_put(s);
    return chosen;
}

int chan_select(chan_case_t *cases, size_t n)
{
    return select_cases(cases, n, true);
}

int chan_try_select(chan_case_t *cases, size_t n)
{
    return select_cases(cases, n, false);
}
