/* park_futex.c: the parker where lock.h has the futex (park_impl.h).
 *
 * Two kinds of waiter share one protocol on the parker's state word. A plain
 * thread spins, yields, then sleeps on the word (futex). A goroutine parks
 * (sched_gopark): on its M's g0, once its registers are saved, the unlockf
 * below moves the word from WAITING to SLEEPING; a waker that then swaps in
 * WOKEN and sees SLEEPING readies the goroutine (sched_goready), exactly
 * once. A wake-up that came first leaves WOKEN in the word, the unlockf's
 * exchange fails and the goroutine resumes at once without sleeping.
 */
#include "park_impl.h"

#include "deadlock.h"
#include "invariant.h"
#include "scheduler.h"
#include "trace.h"

#ifndef GOCHAN_FUTEX
#error "park_futex.c needs lock.h's futex; CMake builds park_cond.c instead"
#endif

void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
    p->g = sched_getg();
}

void chan__parker_destroy(chan__parker_t *p)
{
    (void)p;
}

/* sched_gopark's unlockf, on g0: commits gp to sleep unless the wake-up has
 * come already. acquire on failure: we then read what the waker wrote. */
static bool park_commit(struct sched_g *gp, void *arg)
{
    (void)gp;
    chan__parker_t *p = arg;
    uint32_t waiting = CHAN__PARK_WAITING;
    return atomic_compare_exchange_strong_explicit(
        &p->state, &waiting, CHAN__PARK_SLEEPING, memory_order_acq_rel,
        memory_order_acquire);
}

/* Parks the goroutine of p; commit (on g0) decides whether it sleeps. */
static void park_goroutine(chan__parker_t *p, sched_wait_reason_t reason,
                           bool (*commit)(struct sched_g *, void *), void *arg)
{
    (void)p; /* without invariants */
    sched_gopark(commit, arg, reason);
    /* Readied only after the waker's WOKEN store; this load orders our reads
     * of the waiter after it. */
    sched__invariant(atomic_load_explicit(&p->state, memory_order_acquire) ==
                         CHAN__PARK_WOKEN,
                     "a goroutine resumes from a parker only when woken");
}

typedef struct park_unlock {
    chan__parker_t *p;
    void (*unlock)(void *);
    void *arg;
} park_unlock_t;

/* sched_gopark's unlockf for chan__park_unlock, on g0 with gp saved. Nobody
 * can find the waiter before unlock drops the lock, so the commit to sleep
 * is a store, ordered before any waker by that unlock's release. */
static bool park_commit_unlock(struct sched_g *gp, void *arg)
{
    (void)gp;
    park_unlock_t pu = *(park_unlock_t *)arg; /* on gp's stack */
    atomic_store_explicit(&pu.p->state, CHAN__PARK_SLEEPING,
                          memory_order_relaxed);
    pu.unlock(pu.arg); /* gp may run from here on: touch nothing of it */
    return true;
}

void chan__park_unlock(chan__parker_t *p, sched_wait_reason_t reason,
                       void (*unlock)(void *), void *arg)
{
    if (!p->g) {
        unlock(arg);
        chan__park_as(p, reason);
        return;
    }
    park_unlock_t pu = {.p = p, .unlock = unlock, .arg = arg};
    park_goroutine(p, reason, park_commit_unlock, &pu);
    sched__race_acquire(p); /* as chan__park_as */
}

void chan__park_wait(chan__parker_t *p, sched_wait_reason_t reason)
{
    if (p->g) {
        park_goroutine(p, reason, park_commit, p);
        return;
    }
    if (chan__park_spin(p))
        return;
    uint32_t waiting = CHAN__PARK_WAITING;
    if (!atomic_compare_exchange_strong_explicit(
            &p->state, &waiting, CHAN__PARK_SLEEPING, memory_order_acquire,
            memory_order_acquire))
        return; /* woken while we decided to sleep */
    /* Asleep for the deadlock check from here; the waker takes it off. */
    (void)sched_deadlock_park();
    while (atomic_load_explicit(&p->state, memory_order_acquire) !=
           CHAN__PARK_WOKEN)
        sched__futex_wait(&p->state, CHAN__PARK_SLEEPING);
}

/* Wakes p: a sleeping thread at once; returns the goroutine that must be
 * readied (its stack, p on it, lives until it runs), or NULL. */
static struct sched_g *ready_take(chan__parker_t *p)
{
    /* release: publishes everything written into the waiter. acquire: a
     * goroutine's park_commit (SLEEPING) happened after its M saved it, so
     * what that M wrote about it is visible before we ready it. Only a
     * sleeper needs a wake-up. The parker may be gone as soon as the exchange
     * is visible; a futex wake on a reused address is a harmless spurious
     * wake-up for whoever waits there, and every futex user here loops. */
    struct sched_g *g = p->g; /* read first: p may die with the exchange */
    if (atomic_load_explicit(&p->state, memory_order_acquire) ==
        CHAN__PARK_SLEEPING) {
        /* Committed to sleep: the sleeper never writes the word again, so
         * a store will do (an exchange is a locked instruction, and a
         * goroutine woken by a peer has almost always committed). */
        atomic_store_explicit(&p->state, CHAN__PARK_WOKEN,
                              memory_order_release);
    } else if (atomic_exchange_explicit(&p->state, CHAN__PARK_WOKEN,
                                        memory_order_acq_rel) !=
               CHAN__PARK_SLEEPING) {
        return NULL;
    }
    if (!g) {
        if (sched_deadlock_enabled())
            sched_deadlock_unpark(); /* before it can run: see deadlock.h */
        sched__futex_wake(&p->state, 1);
    }
    return g;
}

void chan__park_wake(chan__parker_t *p)
{
    struct sched_g *g = ready_take(p);
    if (g)
        sched_goready(g);
}

void chan__ready_batched(chan__parker_t *p, chan__wakeups_t *w)
{
    if (sched__tracing() && !p->g)
        sched__trace_thread_wake(p);
    sched__race_release(p);
    struct sched_g *g = ready_take(p);
    if (!g)
        return;
    w->g[w->n++] = g;
    if (w->n == CHAN__WAKEUPS_MAX)
        chan__wakeups_flush(w);
}

void chan__wakeups_flush(chan__wakeups_t *w)
{
    sched_goready_list(w->g, w->n);
    w->n = 0;
}
