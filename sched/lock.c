/* lock.c: the runtime lock's slow paths and the futex calls (see lock.h). */
#include "internal/lock.h"

#include "internal/invariant.h"

#include <sched.h>

#ifdef GOCHAN_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void sched__futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL,
            NULL, 0);
}

void sched__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void sched__lock_init(sched__lock_t *l)
{
    atomic_init(&l->state, 0);
}

void sched__lock_destroy(sched__lock_t *l)
{
    (void)l;
}

void sched__lock_slow(sched__lock_t *l)
{
    /* Spin a little: channel critical sections are a few dozen instructions,
     * far shorter than a sleep and a wake-up. Look seldom (see lock.h): every
     * look takes the line from the holder; but look once again soon, for a
     * holder that was about to let go. */
    for (int i = 0; i < SCHED__LOCK_SPIN; i++) {
        uint32_t unlocked = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &unlocked, 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        int pauses =
            i == 0 ? SCHED__LOCK_FIRST_PAUSES : SCHED__LOCK_SPIN_PAUSES;
        for (int pause = 0; pause < pauses; pause++)
            sched__cpu_relax();
    }
    for (int i = 0; i < SCHED__LOCK_YIELD; i++) {
        uint32_t unlocked = 0;
        sched_yield();
        if (atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            return;
    }
    /* Mark the lock contended (2) so that its holder wakes us on unlock.
     * Once we own it, it stays marked 2: others may sleep on it too. */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        sched__futex_wait(&l->state, 2);
}

void sched__unlock_slow(sched__lock_t *l)
{
    sched__futex_wake(&l->state, 1);
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
    sched__invariant(old == 0, "notewakeup: double wake-up");
    (void)old;
    sched__futex_wake(&n->key, 1);
}

#else /* portable fallback: a pthread mutex */

void sched__lock_init(sched__lock_t *l)
{
    pthread_mutex_init(&l->mu, NULL);
}
void sched__lock_destroy(sched__lock_t *l)
{
    pthread_mutex_destroy(&l->mu);
}
void sched__lock_slow(sched__lock_t *l)
{
    pthread_mutex_lock(&l->mu);
}
void sched__unlock_slow(sched__lock_t *l)
{
    pthread_mutex_unlock(&l->mu);
}
#endif
