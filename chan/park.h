/* park.h: internal to gochan, never installed. The per-operation parker on
 * which a blocked thread sleeps.
 *
 * Design. Go parks a goroutine and the peer that completes its operation makes
 * it runnable again (goready). Here a blocked operation sleeps on its own
 * chan__parker_t, which lives on its stack, and exactly the peer that completed
 * the operation (or close) wakes it: no shared condition variable, no
 * broadcast. Because a kernel wake-up costs tens of microseconds, a parked
 * thread first spins briefly, then yields its core a few times, then sleeps
 * on a futex (Linux: park_futex.c) or a private mutex/condvar pair (elsewhere:
 * park_cond.c).
 *
 * The channel lock is the runtime lock of sched/internal/lock.h.
 */
#ifndef GOCHAN_PARK_H
#define GOCHAN_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "waitreason.h"

/* Tunables, chosen by measurement on a 2-core machine (see bench/): a parked
 * thread spins, then yields its core, before it sleeps (see lock.h). */
#ifndef CHAN__PARK_SPIN
#define CHAN__PARK_SPIN 200 /* pause loops before a parked thread yields */
#endif
#ifndef CHAN__PARK_YIELD
#define CHAN__PARK_YIELD 50 /* sched_yield()s before a parked thread sleeps */
#endif

/* Parker states. */
enum { CHAN__PARK_WAITING = 0, CHAN__PARK_WOKEN = 1, CHAN__PARK_SLEEPING = 2 };

struct chan__waiter;

/* One blocked operation (plain or select): Go's g, as far as channels care.
 * On a goroutine it parks the goroutine (sched_gopark) and the waker readies
 * it (sched_goready); on a plain thread it sleeps on its futex word. */
typedef struct chan__parker {
    _Atomic uint32_t state;       /* CHAN__PARK_*; written by the waker once */
    _Atomic uint32_t select_done; /* Go's g.selectDone: 0 -> 1 by the one
                                     waker that wins a select */
    struct chan__waiter *param;   /* Go's gp.param: the waiter that completed;
                                     written by the waker before state */
    struct sched_g *g; /* the goroutine that parks, or NULL for a plain
                          thread; set by init, then read-only */
#ifndef GOCHAN_FUTEX
    pthread_mutex_t mu;
    pthread_cond_t cond;
#endif
} chan__parker_t;

void chan__parker_init(chan__parker_t *p);
void chan__parker_destroy(chan__parker_t *p);

/* Sleeps until chan__ready(p). Returns at once if that already happened. */
void chan__park(chan__parker_t *p);
/* chan__park giving a goroutine's wait reason (waitreason.h), which the
 * dump's stack traces print even when recording is off. */
void chan__park_as(chan__parker_t *p, sched_wait_reason_t reason);

/* Parks like chan__park_as, for a waiter the caller published under a lock
 * it still holds; unlock(arg) drops that lock. A goroutine drops it only
 * once it is parked, as Go's gopark with parkunlock_c: a waker finds the
 * waiter only under the lock, so it always finds the goroutine asleep and
 * wakes it with a store (no handshake on the state word), and the commit
 * to sleep is a store too. A thread drops it first, then sleeps as
 * chan__park_as. unlock runs on another stack (the M's g0) and must copy
 * what it needs from arg before the last unlock: from then on the parked
 * goroutine may run again, and arg may live on its stack. */
void chan__park_unlock(chan__parker_t *p, sched_wait_reason_t reason,
                       void (*unlock)(void *), void *arg);

/* Wakes p's thread or goroutine. After this call the caller must not touch p
 * or any waiter of p: the woken may return and reuse its stack at once. */
void chan__ready(chan__parker_t *p);

/* Whether the caller runs on a goroutine of the scheduler (and so must park,
 * never block its thread, when it waits). */
bool chan__on_goroutine(void);

/* The running goroutine's id (Go's goid: 1, 2, ...), or 0 on a thread. */
uint64_t chan__goid(void);

/* Wake-ups made in a batch (close wakes every waiter): threads are woken at
 * once, goroutines readied together by chan__wakeups_flush, one scheduler
 * lock for a whole batch as Go's injectglist. Start with n = 0; flush before
 * the batch goes out of scope. Same rule as chan__ready on touching p. */
#define CHAN__WAKEUPS_MAX 64
typedef struct chan__wakeups {
    struct sched_g *g[CHAN__WAKEUPS_MAX];
    size_t n;
} chan__wakeups_t;

void chan__ready_batched(chan__parker_t *p, chan__wakeups_t *w);
void chan__wakeups_flush(chan__wakeups_t *w);

/* Sleeps forever: Go's block() for nil channels and select {}. */
_Noreturn void chan__block_forever(void);

#endif /* GOCHAN_PARK_H */
