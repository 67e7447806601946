/* lock.c: the futex calls, the mutex's slow path and notes (see lock.h). */
#include "sched/lock.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/invariant.h"

void sched__futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL,
            NULL, 0);
}

void sched__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Spins before sleeping: the scheduler's critical sections are a few dozen
 * instructions, much shorter than a sleep and a wake-up. */
enum { LOCK_SPIN = 100 };

void sched__lock_slow(sched__mutex_t *l)
{
    for (int i = 0; i < LOCK_SPIN; i++) {
        uint32_t unlocked = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &unlocked, 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        sched__cpu_relax();
    }
    /* Mark it contended (2) so that the holder wakes us on unlock; once we
     * own it, it stays 2: we cannot know whether others still sleep. The
     * acquire pairs with the unlocker's release. */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        sched__futex_wait(&l->state, 2);
}

void sched__notesleep(sched__note_t *n)
{
    /* acquire: pairs with notewakeup's release, so that what the waker set
     * up for us (our next P, say) is visible once we see the key. */
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        sched__futex_wait(&n->key, 0);
}

void sched__notewakeup(sched__note_t *n)
{
    uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
    chan__invariant(old == 0, "notewakeup: double wake-up");
    (void)old;
    sched__futex_wake(&n->key, 1);
}
