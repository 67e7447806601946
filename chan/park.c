/* park.c: the parker (see park.h).
 *
 * Two kinds of waiter share one protocol on the parker's state word. A plain
 * thread spins, yields, then sleeps on the word (futex). A goroutine parks
 * (sched_gopark): on its M's g0, once its registers are saved, the unlockf
 * below moves the word from WAITING to SLEEPING; a waker that then swaps in
 * WOKEN and sees SLEEPING readies the goroutine (sched_goready), exactly
 * once. A wake-up that came first leaves WOKEN in the word, the unlockf's
 * exchange fails and the goroutine resumes at once without sleeping.
 */
#include "park.h"

#include "invariant.h"
#include "scheduler.h"

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

/* The goroutine that will park on a parker made now, or NULL (always, in a
 * build without the scheduler: sched/nosched.c). */
static struct sched_g *current_g(void)
{
    return sched_getg();
}

bool chan__on_goroutine(void)
{
    return current_g() != NULL;
}

uint64_t chan__goid(void)
{
    struct sched_g *g = current_g();
    return g ? sched_goid(g) : 0;
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

static void park_goroutine(chan__parker_t *p)
{
    sched_gopark(park_commit, p, SCHED_WAIT_ZERO);
    /* Readied only after the waker's WOKEN store; this load orders our reads
     * of the waiter after it. */
    chan__invariant(atomic_load_explicit(&p->state, memory_order_acquire) ==
                        CHAN__PARK_WOKEN,
                    "a goroutine resumes from a parker only when woken");
}

#ifdef GOCHAN_FUTEX
void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
    p->g = current_g();
}

void chan__parker_destroy(chan__parker_t *p)
{
    (void)p;
}

static void park_wait(chan__parker_t *p)
{
    if (p->g) {
        park_goroutine(p);
        return;
    }
    if (park_spin(p))
        return;
    uint32_t waiting = CHAN__PARK_WAITING;
    if (!atomic_compare_exchange_strong_explicit(
            &p->state, &waiting, CHAN__PARK_SLEEPING, memory_order_acquire,
            memory_order_acquire))
        return; /* woken while we decided to sleep */
    while (atomic_load_explicit(&p->state, memory_order_acquire) !=
           CHAN__PARK_WOKEN)
        chan__futex_wait(&p->state, CHAN__PARK_SLEEPING);
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
    if (atomic_exchange_explicit(&p->state, CHAN__PARK_WOKEN,
                                 memory_order_acq_rel) != CHAN__PARK_SLEEPING)
        return NULL;
    if (!g)
        chan__futex_wake(&p->state, 1);
    return g;
}

static void ready_wake(chan__parker_t *p)
{
    struct sched_g *g = ready_take(p);
    if (g)
        sched_goready(g);
}

void chan__ready_batched(chan__parker_t *p, chan__wakeups_t *w)
{
    chan__race_release(p);
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

#else /* portable fallback: a mutex and condition variable per parker */

void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
    p->g = current_g();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
}

void chan__parker_destroy(chan__parker_t *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
}

static void park_wait(chan__parker_t *p)
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

static void ready_wake(chan__parker_t *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->state, CHAN__PARK_WOKEN, memory_order_release);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void chan__ready_batched(chan__parker_t *p, chan__wakeups_t *w)
{
    (void)w;
    chan__ready(p); /* no goroutines here: nothing to batch */
}

void chan__wakeups_flush(chan__wakeups_t *w)
{
    w->n = 0;
}
#endif

/* The waker's release and the woken's acquire are the happens-before edge of
 * every blocked operation, told to ThreadSanitizer (race.h). */
void chan__park(chan__parker_t *p)
{
    park_wait(p);
    chan__race_acquire(p);
}

void chan__ready(chan__parker_t *p)
{
    chan__race_release(p);
    ready_wake(p);
}

_Noreturn void chan__block_forever(void)
{
    for (;;) {
        if (current_g()) {
            sched_gopark(NULL, NULL, SCHED_WAIT_SELECT_NO_CASES); /* no waker */
            continue;
        }
        pause();
    }
}
