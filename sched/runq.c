/* runq.c: the run queues: per P, lock-free (Go's runqput, runqget, runqgrab,
 * runqsteal), and the global one under sched__state.lock (globrunqput...).
 *
 * A ring of SCHED__RUNQ_SIZE slots with free-running 32-bit head and tail:
 * the queue holds tail - head entries, at ring[head % size] ... Only the P's
 * owner writes slots and moves the tail (one producer); the owner and any
 * number of stealers consume by moving the head with a CAS, after reading
 * the slots they take. Memory orders:
 *  - the producer stores the tail with release, consumers load it with
 *    acquire: a consumer sees the slot, and everything written to the g
 *    before it was queued;
 *  - consumers move the head with a release CAS, the producer loads it with
 *    acquire before reusing slots: a slot is only rewritten after whoever
 *    took it has read it;
 *  - runnext is taken or replaced with CASes, filled when empty with a
 *    store (runnext_swap): release publishes the g put there, acquire on
 *    the taker's side sees it.
 */
#include "proc.h"

#include "internal/invariant.h"

static sched_g *slot_load(sched__p_t *pp, uint32_t i)
{
    return atomic_load_explicit(&pp->runq[i % SCHED__RUNQ_SIZE],
                                memory_order_relaxed);
}

static void slot_store(sched__p_t *pp, uint32_t i, sched_g *gp)
{
    atomic_store_explicit(&pp->runq[i % SCHED__RUNQ_SIZE], gp,
                          memory_order_relaxed);
}

/* The ring is full: moves its older half and gp to the global queue, in one
 * batch, so that the next runqput finds room. False when stealers moved the
 * head meanwhile (then the ring has room again: retry). */
static bool runqputslow(sched__p_t *pp, sched_g *gp, uint32_t h, uint32_t t)
{
    enum { HALF = SCHED__RUNQ_SIZE / 2 };
    sched_g *batch[HALF + 1];
    uint32_t n = (t - h) / 2;
    sched__invariant(n == HALF, "runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = slot_load(pp, h + i);
    /* release: we read those slots before the producer (us) or anyone may
     * treat them as free. */
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    batch[n]->schedlink = NULL;
    sched__globrunqputbatch(batch[0], batch[n], (int32_t)n + 1);
    return true;
}

/* Replaces runnext with gp; returns the goroutine that was there. Only the
 * owner turns an empty runnext into a full one (stealers only empty it), so
 * an empty one is filled with a store, not a read-modify-write: a goroutine
 * handing the P to another through runnext finds it empty each time, as the
 * scheduler emptied it to run the one handing over. */
static sched_g *runnext_swap(sched__p_t *pp, sched_g *gp)
{
    sched_g *old = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    /* release: a stealer that takes gp from runnext sees what was written
     * to it before. */
    if (!old) {
        atomic_store_explicit(&pp->runnext, gp, memory_order_release);
        return NULL;
    }
    while (!atomic_compare_exchange_weak_explicit(
        &pp->runnext, &old, gp, memory_order_release, memory_order_relaxed))
        ;
    return old;
}

void sched__runqput(sched__p_t *pp, sched_g *gp, bool next)
{
    if (next) {
        gp = runnext_swap(pp, gp);
        if (!gp)
            return;
        /* the one kicked out of runnext goes to the tail */
    }
    for (;;) {
        /* acquire: pairs with consumers' release CAS (see above). */
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        /* relaxed: only this thread, the owner, writes the tail. */
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < SCHED__RUNQ_SIZE) {
            slot_store(pp, t, gp);
            /* release: publishes the slot and gp to consumers. */
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
    }
}

/* Pops the head of pp's ring (owner only), or NULL when it is empty. */
static sched_g *ring_get(sched__p_t *pp)
{
    for (;;) {
        /* acquire: orders us after other consumers' release CAS. */
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        sched_g *gp = slot_load(pp, h);
        /* release: we read the slot before the producer may reuse it. */
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return gp;
    }
}

sched_g *sched__runnext_take(sched__p_t *pp)
{
    sched_g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    /* acquire: pairs with the release that put next there. A failed CAS
     * means a thief took it. */
    if (next && atomic_compare_exchange_strong_explicit(
                    &pp->runnext, &next, NULL, memory_order_acquire,
                    memory_order_relaxed))
        return next;
    return NULL;
}

sched_g *sched__runqget(sched__p_t *pp, bool *inherit)
{
    sched_g *next = sched__runnext_take(pp);
    *inherit = next != NULL;
    return next ? next : ring_get(pp);
}

/* Copies half of pp's ring into batch's ring from batch_head on (a stealer's
 * own ring) and consumes them; or pp's runnext when the ring is empty and
 * steal_runnext. Returns how many it took. */
static uint32_t runqgrab(sched__p_t *pp, sched__p_t *batch, uint32_t batch_head,
                         bool steal_runnext)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        /* acquire: pairs with the owner's release of the tail. */
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!steal_runnext)
                return 0;
            sched_g *next =
                atomic_load_explicit(&pp->runnext, memory_order_relaxed);
            if (!next)
                return 0;
            /* pp's goroutine has just readied next and is probably about to
             * park, after which pp runs next at once; stealing it now would
             * bounce it between threads. Give pp a moment (Go sleeps 3 us). */
            if (atomic_load_explicit(&pp->status, memory_order_relaxed) !=
                SCHED__Pidle)
                for (int i = 0; i < 100; i++)
                    sched__cpu_relax();
            if (!atomic_compare_exchange_strong_explicit(
                    &pp->runnext, &next, NULL, memory_order_acquire,
                    memory_order_relaxed))
                continue;
            slot_store(batch, batch_head, next);
            return 1;
        }
        if (n > SCHED__RUNQ_SIZE / 2)
            continue; /* h and t read at different times: inconsistent */
        for (uint32_t i = 0; i < n; i++)
            slot_store(batch, batch_head + i, slot_load(pp, h + i));
        /* release: we read the slots before the owner may reuse them. */
        if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                                                    memory_order_release,
                                                    memory_order_relaxed))
            return n;
    }
}

sched_g *sched__runqsteal(sched__p_t *pp, sched__p_t *p2, bool steal_runnext)
{
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t n = runqgrab(p2, pp, t, steal_runnext);
    if (n == 0)
        return NULL;
    n--;
    sched_g *gp = slot_load(pp, t + n);
    if (n == 0)
        return gp;
    uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
    sched__invariant(t - h + n < SCHED__RUNQ_SIZE, "runqsteal: runq overflow");
    (void)h;
    /* release: publishes the stolen batch in our ring to our consumers. */
    atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}

uint32_t sched__runqlen(sched__p_t *pp)
{
    /* A snapshot: exact for the owner, a hint for anyone else. */
    uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
    return t - h;
}

bool sched__runqempty(sched__p_t *pp)
{
    /* Go's runqempty: a runqput that moves runnext's g to the ring passes
     * through a state with the ring and runnext both seemingly empty only if
     * we read them in the wrong order; read head, tail, runnext, then check
     * the tail has not moved. */
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        sched_g *next =
            atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (atomic_load_explicit(&pp->runqtail, memory_order_acquire) == t)
            return h == t && next == NULL;
    }
}

/* ---- the global run queue (sched__state.lock)
 * ----------------------------------- */

/* Appends the n goroutines head..tail (linked by schedlink) to the global
 * queue; sched__state.lock is held. */
static void globrunqputbatch_locked(sched_g *head, sched_g *tail, int32_t n)
{
    tail->schedlink = NULL;
    if (sched__state.runqtail)
        sched__state.runqtail->schedlink = head;
    else
        sched__state.runqhead = head;
    sched__state.runqtail = tail;
    /* relaxed: peekers take the lock before they use the queue. */
    atomic_store_explicit(&sched__state.runqsize, sched__state.runqsize + n,
                          memory_order_relaxed);
}

void sched__globrunqput_locked(sched_g *gp)
{
    globrunqputbatch_locked(gp, gp, 1);
}

void sched__globrunqputbatch_inject_locked(sched_g *head, sched_g *tail,
                                           int32_t n)
{
    sched_g *after = sched__state.runqinjtail;
    if (after) {
        tail->schedlink = after->schedlink;
        after->schedlink = head;
    } else {
        tail->schedlink = sched__state.runqhead;
        sched__state.runqhead = head;
    }
    if (sched__state.runqtail == after)
        sched__state.runqtail = tail;
    sched__state.runqinjtail = tail;
    /* relaxed: hints; whoever takes the goroutine takes the lock. */
    atomic_store_explicit(&sched__state.runqninj, sched__state.runqninj + n,
                          memory_order_relaxed);
    atomic_store_explicit(&sched__state.runqsize, sched__state.runqsize + n,
                          memory_order_relaxed);
}

void sched__globrunqput_inject_locked(sched_g *gp)
{
    sched__globrunqputbatch_inject_locked(gp, gp, 1);
}

void sched__globrunqputbatch(sched_g *head, sched_g *tail, int32_t n)
{
    sched__lock(&sched__state.lock);
    globrunqputbatch_locked(head, tail, n);
    sched__unlock(&sched__state.lock);
}

sched_g *sched__globrunqpop_locked(void)
{
    sched_g *gp = sched__state.runqhead;
    sched__state.runqhead = gp->schedlink;
    if (!sched__state.runqhead)
        sched__state.runqtail = NULL;
    gp->schedlink = NULL;
    if (sched__state.runqinjtail) { /* gp is one of the injected prefix */
        if (sched__state.runqinjtail == gp)
            sched__state.runqinjtail = NULL;
        atomic_store_explicit(&sched__state.runqninj, sched__state.runqninj - 1,
                              memory_order_relaxed);
    }
    sched__invariant((sched__state.runqninj == 0) ==
                         (sched__state.runqinjtail == NULL),
                     "globrunqpop: injected prefix miscounted");
    return gp;
}

/* Go's globrunqget: a fair share (runqsize / GOMAXPROCS + 1), at most max
 * when max > 0, and at most half a ring. pp's ring must be empty enough to
 * take them: callers pass a P whose ring they have just found empty. */
sched_g *sched__globrunqget_locked(sched__p_t *pp, int32_t max)
{
    int32_t size = sched__state.runqsize;
    if (size == 0)
        return NULL;
    int32_t n = size / (sched__nprocs > 0 ? sched__nprocs : 1) + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > SCHED__RUNQ_SIZE / 2)
        n = SCHED__RUNQ_SIZE / 2;
    sched__invariant(sched__runqlen(pp) + (uint32_t)n - 1 <= SCHED__RUNQ_SIZE,
                     "globrunqget: no room in the local queue");
    atomic_store_explicit(&sched__state.runqsize, size - n,
                          memory_order_relaxed);
    sched_g *gp = sched__globrunqpop_locked();
    while (--n > 0)
        sched__runqput(pp, sched__globrunqpop_locked(), false);
    return gp;
}

sched_g *sched__globrunqget(sched__p_t *pp, int32_t max)
{
    sched__lock(&sched__state.lock);
    sched_g *gp = sched__globrunqget_locked(pp, max);
    sched__unlock(&sched__state.lock);
    return gp;
}

int32_t sched__globrunqsize(void)
{
    return atomic_load_explicit(&sched__state.runqsize, memory_order_relaxed);
}
