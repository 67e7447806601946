/* park.c: the channel lock's slow paths and the parker (see park.h). */
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>

/* The wait before a parked thread sleeps: spin, then yield. True once woken.
 * The acquire load pairs with the waker's release, so what it wrote into our
 * waiter (success, the received value, param) is visible. */
static bool park_spin(chan__parker_t *p)
{
    for (int i = 0; i < CHAN__PARK_SPIN + CHAN__PARK_YIELD; i++) {
        if (atomic_load_explicit(&p->state, memory_order_acquire) ==
            CHAN__PARK_WOKEN)
            return true;
        if (i < CHAN__PARK_SPIN)
            chan__cpu_relax();
        else
            sched_yield();
    }
    return false;
}

#ifdef GOCHAN_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>

static void futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
    /* Returns on a wake-up, a signal, a spurious wake-up or when *addr no
     * longer holds expected; every caller re-checks in a loop. */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL,
            NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void chan__lock_init(chan__lock_t *l)
{
    atomic_init(&l->state, 0);
}

void chan__lock_destroy(chan__lock_t *l)
{
    (void)l;
}

void chan__lock_slow(chan__lock_t *l)
{
    /* Spin a little: channel critical sections are a few dozen instructions,
     * far shorter than a sleep and a wake-up. */
    for (int i = 0; i < CHAN__LOCK_SPIN; i++) {
        uint32_t unlocked = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &unlocked, 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        chan__cpu_relax();
    }
    for (int i = 0; i < CHAN__LOCK_YIELD; i++) {
        uint32_t unlocked = 0;
        sched_yield();
        if (atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            return;
    }
    /* Mark the lock contended (2) so that its holder wakes us on unlock.
     * Once we own it, it stays marked 2: we cannot know whether others sleep.
     */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        futex_wait(&l->state, 2);
}

void chan__unlock_slow(chan__lock_t *l)
{
    futex_wake(&l->state, 1);
}

void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
}

void chan__parker_destroy(chan__parker_t *p)
{
    (void)p;
}

void chan__park(chan__parker_t *p)
{
    if (park_spin(p))
        return;
    uint32_t waiting = CHAN__PARK_WAITING;
    if (!atomic_compare_exchange_strong_explicit(
            &p->state, &waiting, CHAN__PARK_SLEEPING, memory_order_acquire,
            memory_order_acquire))
        return; /* woken while we decided to sleep */
    while (atomic_load_explicit(&p->state, memory_order_acquire) !=
           CHAN__PARK_WOKEN)
        futex_wait(&p->state, CHAN__PARK_SLEEPING);
}

void chan__ready(chan__parker_t *p)
{
    /* release: publishes everything written into the waiter. Only a sleeper
     * needs the system call. The parker may be gone as soon as the exchange
     * is visible; a futex wake on a reused address is a harmless spurious
     * wake-up for whoever waits there, and every futex user here loops. */
    if (atomic_exchange_explicit(&p->state, CHAN__PARK_WOKEN,
                                 memory_order_release) == CHAN__PARK_SLEEPING)
        futex_wake(&p->state, 1);
}

#else /* portable fallback: a mutex and condition variable per parker */

void chan__lock_init(chan__lock_t *l)
{
    pthread_mutex_init(&l->mu, NULL);
}
void chan__lock_destroy(chan__lock_t *l)
{
    pthread_mutex_destroy(&l->mu);
}
void chan__lock_slow(chan__lock_t *l)
{
    pthread_mutex_lock(&l->mu);
}
void chan__unlock_slow(chan__lock_t *l)
{
    pthread_mutex_unlock(&l->mu);
}

void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
}

void chan__parker_destroy(chan__parker_t *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
}

void chan__park(chan__parker_t *p)
{
    park_spin(p);
    /* Always pass through the mutex: the waker signals while holding it, so
     * once we own it the waker is done with the parker and we may return. */
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->state, memory_order_acquire) !=
           CHAN__PARK_WOKEN)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void chan__ready(chan__parker_t *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->state, CHAN__PARK_WOKEN, memory_order_release);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}
#endif

_Noreturn void chan__block_forever(void)
{
    for (;;)
        pause();
}
