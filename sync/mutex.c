/* mutex.c: sync.Mutex, after sync/mutex.go.
 *
 * state_ packs the lock bit, a "woken" bit (a waiter is awake and will try
 * again, so Unlock need not wake another), a "starving" bit and, above them,
 * the number of waiters. Normal mode lets arrivals, which may spin briefly,
 * beat a woken waiter (good throughput: the lock stays on a running thread);
 * a waiter that has waited over 1 ms turns starvation mode on, where Unlock
 * hands ownership to the oldest waiter and arrivals queue behind it. The
 * mode ends when the owner handed the lock is the last waiter or waited
 * under 1 ms. Waiters sleep on the semaphore sema_ (sema.h).
 *
 * Invariants: the waiter count is never negative; the woken bit is set only
 * while a woken or spinning locker will clear it; in starvation mode the
 * lock bit is set only by the waiter it was handed to.
 *
 * ThreadSanitizer sees none of the atomics here in an uninstrumented
 * library, so, as Go's race-enabled Mutex does, every way in acquires on m
 * and Unlock first releases on m (sched/internal/race.h). m is also the address
 * of state_, which the inline fast paths of sync.h, compiled into the user's
 * program, touch with atomics TSan does see: both meet on one clock.
 */
#include "sema.h"

#include <gochan/timer.h>

#include <stdatomic.h>

#include "invariant.h"
#include "lock.h"
#include "race.h"
#include "scheduler.h"

#define STARVATION_THRESHOLD_NS 1000000 /* 1 ms, as Go */
#define ACTIVE_SPIN_CNT         30      /* pause instructions per spin */

/* Go's runtime_canSpin: spinning pays only for a few rounds and only where
 * another CPU can be running the owner (sched/nosched.c answers from the
 * CPUs alone where there is no scheduler). */
static bool can_spin(int iter)
{
    return sched_canspin(iter);
}

static void do_spin(void)
{
    for (int i = 0; i < ACTIVE_SPIN_CNT; i++)
        sched__cpu_relax();
}

/* Go's lockSlow: spin while the owner runs, then queue on the semaphore;
 * after every wake-up try again, in normal or starvation mode. */
static void mutex_lock_slow(chan_mutex_t *m)
{
    _Atomic int32_t *state = sync__a32(&m->state_);
    const int32_t locked = SYNC__MUTEX_LOCKED, woken = SYNC__MUTEX_WOKEN,
                  starving_bit = SYNC__MUTEX_STARVING;
    const int32_t one_waiter = 1 << SYNC__MUTEX_WAITER_SHIFT;
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = atomic_load(state);
    for (;;) {
        /* Locked in normal mode: spin, and set woken so that Unlock does not
         * wake a sleeper we are about to beat. */
        if ((old & (locked | starving_bit)) == locked && can_spin(iter)) {
            if (!awoke && !(old & woken) &&
                (old >> SYNC__MUTEX_WAITER_SHIFT) != 0 &&
                atomic_compare_exchange_strong(state, &old, old | woken))
                awoke = true;
            do_spin();
            iter++;
            old = atomic_load(state);
            continue;
        }
        int32_t new = old;
        if (!(old & starving_bit))
            new |= locked; /* starving: arrivals do not take it, they queue */
        if (old & (locked | starving_bit))
            new += one_waiter;
        if (starving && (old & locked))
            new |= starving_bit;
        if (awoke) {
            sched__invariant(new &woken, "sync: inconsistent mutex state");
            new &= ~woken;
        }
        if (!atomic_compare_exchange_strong(state, &old, new))
            continue; /* old was reloaded by the failed exchange */
        if (!(old & (locked | starving_bit)))
            return; /* we took it */
        /* Queue; one that waited before goes to the front (LIFO). */
        bool requeue = wait_start != 0;
        if (!requeue)
            wait_start = chan_now();
        sync__semacquire(&m->sema_, requeue, SCHED_WAIT_SYNC_MUTEX_LOCK, m);
        starving =
            starving || chan_now() - wait_start > STARVATION_THRESHOLD_NS;
        old = atomic_load(state);
        if (old & starving_bit) {
            /* Handed to us: the lock bit is ours to set; we are no longer a
             * waiter; leave starvation mode if it is no longer needed. */
            sched__invariant(!(old & (locked | woken)) &&
                                 (old >> SYNC__MUTEX_WAITER_SHIFT) != 0,
                             "sync: inconsistent mutex state");
            int32_t delta = locked - one_waiter;
            if (!starving || (old >> SYNC__MUTEX_WAITER_SHIFT) == 1)
                delta -= starving_bit;
            atomic_fetch_add(state, delta);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

int chan_mutex_lock(chan_mutex_t *m)
{
    if (!m)
        return CHAN_INVALID;
    int32_t unlocked = 0;
    /* The fast path: an unlocked, uncontended mutex. acquire pairs with the
     * previous owner's release in Unlock. */
    if (!atomic_compare_exchange_strong_explicit(
            sync__a32(&m->state_), &unlocked, SYNC__MUTEX_LOCKED,
            memory_order_acquire, memory_order_relaxed))
        mutex_lock_slow(m);
    sched__race_acquire(m); /* Go's race.Acquire, on either path */
    return CHAN_OK;
}

bool chan_mutex_trylock(chan_mutex_t *m)
{
    if (!m)
        return false;
    _Atomic int32_t *state = sync__a32(&m->state_);
    int32_t old = atomic_load_explicit(state, memory_order_relaxed);
    /* Starving: the lock belongs to the oldest waiter, not to us. */
    if (old & (SYNC__MUTEX_LOCKED | SYNC__MUTEX_STARVING))
        return false;
    if (!atomic_compare_exchange_strong_explicit(
            state, &old, old | SYNC__MUTEX_LOCKED, memory_order_acquire,
            memory_order_relaxed))
        return false;
    sched__race_acquire(m);
    return true;
}

/* Go's unlockSlow, with new the state just after the lock bit was cleared:
 * wake one waiter unless one is awake already, or hand the lock over. */
static void mutex_unlock_slow(chan_mutex_t *m, int32_t new)
{
    if (new &SYNC__MUTEX_STARVING) {
        sync__semrelease(&m->sema_, true); /* straight to the oldest waiter */
        return;
    }
    _Atomic int32_t *state = sync__a32(&m->state_);
    int32_t old = new;
    for (;;) {
        /* No waiters, or someone (a new owner, a woken or spinning locker, a
         * starvation handoff) will deal with them. */
        if ((old >> SYNC__MUTEX_WAITER_SHIFT) == 0 ||
            (old &
             (SYNC__MUTEX_LOCKED | SYNC__MUTEX_WOKEN | SYNC__MUTEX_STARVING)))
            return;
        new = (old - (1 << SYNC__MUTEX_WAITER_SHIFT)) | SYNC__MUTEX_WOKEN;
        if (atomic_compare_exchange_strong(state, &old, new)) {
            sync__semrelease(&m->sema_, false);
            return;
        }
    }
}

int chan_mutex_unlock(chan_mutex_t *m)
{
    if (!m)
        return CHAN_INVALID;
    _Atomic int32_t *state = sync__a32(&m->state_);
    int32_t old = SYNC__MUTEX_LOCKED;
    /* Go's race.Release, before the lock can pass to anyone. A misused
     * Unlock (refused below) releases too, as Go's does before it throws:
     * an edge more, never a false report. */
    sched__race_release(m);
    /* The fast path: locked, nobody waiting. release publishes the critical
     * section to the next owner. */
    if (atomic_compare_exchange_strong_explicit(
            state, &old, 0, memory_order_release, memory_order_relaxed))
        return CHAN_OK;
    /* Go subtracts the lock bit and throws if it was not set; a loop lets
     * us refuse without changing anything. */
    do {
        if (!(old & SYNC__MUTEX_LOCKED))
            return CHAN_INVALID; /* "sync: unlock of unlocked mutex" */
    } while (
        !atomic_compare_exchange_weak(state, &old, old - SYNC__MUTEX_LOCKED));
    int32_t new = old - SYNC__MUTEX_LOCKED;
    if (new != 0)
        mutex_unlock_slow(m, new);
    return CHAN_OK;
}
