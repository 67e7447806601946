/* lock.h: internal to gochan, never installed; every layer may include it.
 * The runtime lock that guards channels, contexts and the scheduler's queues,
 * the note on which an idle M sleeps (Go's note), the futex calls behind both,
 * and a CPU pause for spin loops.
 *
 * The lock is the same idea as Go's runtime mutex (lock_futex.go): a
 * three-state futex word with a bounded spin, then a few yields, before it
 * sleeps. It blocks the thread, never parks a goroutine: critical sections
 * are a few dozen instructions and never block.
 */
#ifndef GOCHAN_LOCK_H
#define GOCHAN_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "race.h"

#if defined(__linux__) && !defined(GOCHAN_NO_FUTEX)
#define GOCHAN_FUTEX 1
#else
#include <pthread.h>
#endif

/* Tunables, chosen by measurement on a 2-core machine (see bench/ and
 * docs/performance.md, "The lock's spin"). A contended lock looks at its word
 * only SCHED__LOCK_SPIN times, SCHED__LOCK_SPIN_PAUSES pauses apart (a pause
 * is 14 ns on the development VM, so 1.4 us apart), as Go's lock_futex.go
 * does (4 looks, 30 pauses apart). Each look pulls the line to the spinner's
 * core, and the holder must take it back to unlock: looking after every
 * pause made four goroutines sending to four receivers through one channel
 * 3.2 times slower than Go (219 ns a message against 68), looking 100
 * pauses apart makes them faster (42 ns), because the holder meanwhile runs
 * several operations on a line that stays in its cache. One look comes
 * early, SCHED__LOCK_FIRST_PAUSES after the first: the first look follows
 * the failed CAS at once and finds the holder still inside, and waiting 1.4
 * us for the next cost a critical section of a hundred nanoseconds its
 * whole length again and again (two threads passing a value back and forth
 * over unbuffered channels: each one's next send met the other's queueing,
 * 841 -> 598 ns a round trip; docs/performance.md, B2). Active spinning is
 * followed by a few sched_yield()s before sleeping: when the holder is
 * runnable but has no core (more threads than cores), spinning only burns
 * the core it needs, while a yield hands it over. */
#ifndef SCHED__LOCK_SPIN
#define SCHED__LOCK_SPIN 4 /* looks at a contended lock before it yields */
#endif
#ifndef SCHED__LOCK_SPIN_PAUSES
#define SCHED__LOCK_SPIN_PAUSES 100 /* pauses between two looks */
#endif
#ifndef SCHED__LOCK_FIRST_PAUSES
#define SCHED__LOCK_FIRST_PAUSES 8 /* pauses between the first two looks */
#endif
#ifndef SCHED__LOCK_YIELD
/* sched_yield()s before a contended lock sleeps */
#define SCHED__LOCK_YIELD 1
#endif

static inline void sched__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

#ifdef GOCHAN_FUTEX
/* Sleeps while *addr == expected. Returns on a wake-up, a signal, a spurious
 * wake-up or when *addr no longer holds expected: callers re-check in a loop.
 */
void sched__futex_wait(_Atomic uint32_t *addr, uint32_t expected);
/* Wakes up to n threads sleeping on addr. */
void sched__futex_wake(_Atomic uint32_t *addr, int n);
#endif

/* The lock. 0 unlocked, 1 locked, 2 locked and a thread may sleep. */
typedef struct sched__lock {
#ifdef GOCHAN_FUTEX
    _Atomic uint32_t state;
#else
    pthread_mutex_t mu;
#endif
} sched__lock_t;

/* A statically initialised lock. */
#ifdef GOCHAN_FUTEX
#define SCHED__LOCK_INIT                                                       \
    {                                                                          \
        0                                                                      \
    }
#else
#define SCHED__LOCK_INIT                                                       \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER                                              \
    }
#endif

void sched__lock_init(sched__lock_t *l);
void sched__lock_destroy(sched__lock_t *l);
void sched__lock_slow(sched__lock_t *l);
void sched__unlock_slow(sched__lock_t *l);

static inline void sched__lock(sched__lock_t *l)
{
#ifdef GOCHAN_FUTEX
    uint32_t unlocked = 0;
    /* acquire: what the previous holder wrote under the lock is visible. */
    if (!atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
#endif
        sched__lock_slow(l);
    sched__race_acquire(l);
}

static inline void sched__unlock(sched__lock_t *l)
{
    sched__race_release(l);
#ifdef GOCHAN_FUTEX
    /* release: publishes our writes to the next holder. A previous state of 2
     * means someone may sleep on the word and needs a wake-up. */
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 1)
        return;
#endif
    sched__unlock_slow(l);
}

#ifdef GOCHAN_FUTEX
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
#endif

#endif /* GOCHAN_LOCK_H */
