/* lock.h: internal to gochan, never installed. The scheduler's own lock and
 * one-shot wake-up, on Linux futexes (Go's lock_futex.go: mutex and note).
 *
 * sched/ sits below chan/, so it cannot use the channel lock; these are the
 * same ideas, kept small. Neither touches a condition variable: a contended
 * lock or a sleeping M costs one futex system call to wake.
 */
#ifndef GOCHAN_SCHED_LOCK_H
#define GOCHAN_SCHED_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if !defined(__linux__)
#error "sched/ needs Linux futexes"
#endif

static inline void sched__cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Sleeps while *addr == expected (or until a wake-up, a signal, or
 * spuriously: callers re-check in a loop); wakes up to n sleepers. */
void sched__futex_wait(_Atomic uint32_t *addr, uint32_t expected);
void sched__futex_wake(_Atomic uint32_t *addr, int n);

/* A mutex: 0 unlocked, 1 locked, 2 locked and someone may sleep on it. */
typedef struct sched__mutex {
    _Atomic uint32_t state;
} sched__mutex_t;

#define SCHED__MUTEX_INIT                                                      \
    {                                                                          \
        0                                                                      \
    }

void sched__lock_slow(sched__mutex_t *l);

static inline void sched__lock(sched__mutex_t *l)
{
    uint32_t unlocked = 0;
    /* acquire: what the previous holder wrote under the lock is visible. */
    if (!atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        sched__lock_slow(l);
}

static inline void sched__unlock(sched__mutex_t *l)
{
    /* release: publishes what we wrote under the lock. A previous state of 2
     * means a thread may sleep on the word and needs a wake-up. */
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
        sched__futex_wake(&l->state, 1);
}

/* A note (Go's note): one sleeper waits for one wake-up. noteclear before
 * each use; notewakeup at most once per clear. */
typedef struct sched__note {
    _Atomic uint32_t key; /* 0: not yet woken, 1: woken */
} sched__note_t;

static inline void sched__noteclear(sched__note_t *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void sched__notesleep(sched__note_t *n);
void sched__notewakeup(sched__note_t *n);

#endif /* GOCHAN_SCHED_LOCK_H */
