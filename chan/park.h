/* park.h: internal to gochan, never installed. The channel lock and the
 * per-operation parker on which a blocked thread sleeps.
 *
 * Design. Go parks a goroutine and the peer that completes its operation makes
 * it runnable again (goready). Here a blocked operation sleeps on its own
 * chan__parker_t, which lives on its stack, and exactly the peer that completed
 * the operation (or close) wakes it: no shared condition variable, no
 * broadcast. Because a kernel wake-up costs tens of microseconds, a parked
 * thread first spins briefly, then yields its core a few times, then sleeps
 * on a futex (Linux) or a private mutex/condvar pair (elsewhere).
 *
 * The channel lock is the same idea as Go's runtime mutex (lock_futex.go):
 * a three-state futex word with a bounded spin before sleeping.
 */
#ifndef GOCHAN_PARK_H
#define GOCHAN_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__linux__)
#define GOCHAN_FUTEX 1
#else
#include <pthread.h>
#endif

/* Tunables, chosen by measurement on a 2-core machine (see bench/). A pause
 * costs about 30 ns on current x86. As in Go's lock_futex.go, active spinning
 * is followed by a few sched_yield()s before sleeping: when the peer that will
 * wake us is runnable but has no core (more threads than cores), spinning
 * only burns the core it needs, while a yield hands it over. */
#ifndef CHAN__LOCK_SPIN
#define CHAN__LOCK_SPIN 100 /* pause loops before a contended lock yields */
#endif
#ifndef CHAN__LOCK_YIELD
#define CHAN__LOCK_YIELD 1 /* sched_yield()s before a contended lock sleeps */
#endif
#ifndef CHAN__PARK_SPIN
#define CHAN__PARK_SPIN 200 /* pause loops before a parked thread yields */
#endif
#ifndef CHAN__PARK_YIELD
#define CHAN__PARK_YIELD 50 /* sched_yield()s before a parked thread sleeps */
#endif

static inline void chan__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* The channel lock. 0 unlocked, 1 locked, 2 locked and a thread may sleep. */
typedef struct chan__lock {
#ifdef GOCHAN_FUTEX
    _Atomic uint32_t state;
#else
    pthread_mutex_t mu;
#endif
} chan__lock_t;

void chan__lock_init(chan__lock_t *l);
void chan__lock_destroy(chan__lock_t *l);
void chan__lock_slow(chan__lock_t *l);
void chan__unlock_slow(chan__lock_t *l);

static inline void chan__lock(chan__lock_t *l)
{
#ifdef GOCHAN_FUTEX
    uint32_t unlocked = 0;
    /* acquire: what the previous holder wrote under the lock is visible. */
    if (atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return;
#endif
    chan__lock_slow(l);
}

static inline void chan__unlock(chan__lock_t *l)
{
#ifdef GOCHAN_FUTEX
    /* release: publishes our writes to the next holder. A previous state of 2
     * means someone may sleep on the word and needs a wake-up. */
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 1)
        return;
#endif
    chan__unlock_slow(l);
}

/* Parker states. */
enum { CHAN__PARK_WAITING = 0, CHAN__PARK_WOKEN = 1, CHAN__PARK_SLEEPING = 2 };

struct chan__waiter;

/* One blocked operation (plain or select): Go's g, as far as channels care. */
typedef struct chan__parker {
    _Atomic uint32_t state;       /* CHAN__PARK_*; written by the waker once */
    _Atomic uint32_t select_done; /* Go's g.selectDone: 0 -> 1 by the one
                                     waker that wins a select */
    struct chan__waiter *param;   /* Go's gp.param: the waiter that completed;
                                     written by the waker before state */
#ifndef GOCHAN_FUTEX
    pthread_mutex_t mu;
    pthread_cond_t cond;
#endif
} chan__parker_t;

void chan__parker_init(chan__parker_t *p);
void chan__parker_destroy(chan__parker_t *p);

/* Sleeps until chan__ready(p). Returns at once if that already happened. */
void chan__park(chan__parker_t *p);

/* Wakes p's thread. After this call the caller must not touch p or any waiter
 * of p: the woken thread may return and reuse its stack at once. */
void chan__ready(chan__parker_t *p);

/* Sleeps forever: Go's block() for nil channels and select {}. */
_Noreturn void chan__block_forever(void);

#endif /* GOCHAN_PARK_H */
