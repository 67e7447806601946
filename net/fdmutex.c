/* fdmutex.c: Go's internal/poll fdMutex (fdmutex.h), every transition one
 * CAS on the state word. */
#include "fdmutex.h"

#include <errno.h>

#include "invariant.h"
#include "race.h"
#include "sema.h"

#define MUTEX_CLOSED   UINT64_C(1)
#define MUTEX_RLOCK    (UINT64_C(1) << 1)
#define MUTEX_WLOCK    (UINT64_C(1) << 2)
#define MUTEX_REF      (UINT64_C(1) << 3)
#define MUTEX_REF_MASK (((UINT64_C(1) << 20) - 1) << 3)
#define MUTEX_RWAIT    (UINT64_C(1) << 23)
#define MUTEX_RMASK    (((UINT64_C(1) << 20) - 1) << 23)
#define MUTEX_WWAIT    (UINT64_C(1) << 43)
#define MUTEX_WMASK    (((UINT64_C(1) << 20) - 1) << 43)

/* The bits of one side: its lock, its waiter unit and mask, its semaphore. */
struct side {
    uint64_t lock, wait, mask;
    uint32_t *sema;
};

static struct side side_of(net__fdmutex_t *mu, bool read)
{
    if (read)
        return (struct side){MUTEX_RLOCK, MUTEX_RWAIT, MUTEX_RMASK, &mu->rsema};
    return (struct side){MUTEX_WLOCK, MUTEX_WWAIT, MUTEX_WMASK, &mu->wsema};
}

static bool cas(net__fdmutex_t *mu, uint64_t *old, uint64_t new)
{
    /* acq_rel: a lock's holders are ordered, and the last reference's drop
     * sees every holder's uses of the descriptor. */
    return atomic_compare_exchange_weak_explicit(
        &mu->state, old, new, memory_order_acq_rel, memory_order_relaxed);
}

int net__fdmutex_incref(net__fdmutex_t *mu)
{
    uint64_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    for (;;) {
        if (old & MUTEX_CLOSED)
            return EBADF;
        uint64_t new = old + MUTEX_REF;
        if ((new &MUTEX_REF_MASK) == 0)
            return EOVERFLOW;
        if (cas(mu, &old, new))
            return 0;
    }
}

/* Wakes every waiter counted in old's mask on one side. */
static void wake_all(uint64_t old, struct side s)
{
    for (uint64_t n = (old & s.mask) / s.wait; n > 0; n--)
        sync__semrelease(s.sema, false);
}

int net__fdmutex_incref_and_close(net__fdmutex_t *mu)
{
    uint64_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    for (;;) {
        if (old & MUTEX_CLOSED)
            return EBADF;
        uint64_t new = (old | MUTEX_CLOSED) + MUTEX_REF;
        if ((new &MUTEX_REF_MASK) == 0)
            return EOVERFLOW;
        new &= ~(MUTEX_RMASK | MUTEX_WMASK); /* the waiters leave */
        if (cas(mu, &old, new)) {
            wake_all(old, side_of(mu, true));
            wake_all(old, side_of(mu, false));
            return 0;
        }
    }
}

bool net__fdmutex_decref(net__fdmutex_t *mu)
{
    sched__race_drop_ref(mu);
    uint64_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    for (;;) {
        sched__invariant((old & MUTEX_REF_MASK) != 0,
                         "fdMutex: decref without a reference");
        uint64_t new = old - MUTEX_REF;
        if (cas(mu, &old, new)) {
            bool last = (new &(MUTEX_CLOSED | MUTEX_REF_MASK)) == MUTEX_CLOSED;
            if (last)
                sched__race_last_ref(mu);
            return last;
        }
    }
}

int net__fdmutex_rwlock(net__fdmutex_t *mu, bool read)
{
    struct side s = side_of(mu, read);
    uint64_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    for (;;) {
        if (old & MUTEX_CLOSED)
            return EBADF;
        uint64_t new;
        if (!(old & s.lock)) { /* free: take it, with a reference */
            new = (old | s.lock) + MUTEX_REF;
            if ((new &MUTEX_REF_MASK) == 0)
                return EOVERFLOW;
        } else { /* held: count ourselves a waiter */
            new = old + s.wait;
            if ((new &s.mask) == 0)
                return EOVERFLOW;
        }
        if (!cas(mu, &old, new))
            continue;
        if (!(old & s.lock)) {
            sched__race_acquire(s.sema);
            return 0;
        }
        /* The unlocker (or close) counted us out and woke us: try again. */
        sync__semacquire(s.sema, false, SCHED_WAIT_SEMACQUIRE, mu);
        old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    }
}

bool net__fdmutex_rwunlock(net__fdmutex_t *mu, bool read)
{
    struct side s = side_of(mu, read);
    sched__race_release(s.sema);
    sched__race_drop_ref(mu);
    uint64_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    for (;;) {
        sched__invariant((old & s.lock) && (old & MUTEX_REF_MASK),
                         "fdMutex: unlock of a lock not held");
        uint64_t new = (old & ~s.lock) - MUTEX_REF;
        if (old & s.mask)
            new -= s.wait; /* one waiter leaves the count: we wake it */
        if (!cas(mu, &old, new))
            continue;
        if (old & s.mask)
            sync__semrelease(s.sema, false);
        bool last = (new &(MUTEX_CLOSED | MUTEX_REF_MASK)) == MUTEX_CLOSED;
        if (last)
            sched__race_last_ref(mu);
        return last;
    }
}
