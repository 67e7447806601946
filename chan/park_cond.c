/* park_cond.c: the parker where lock.h has no futex (park_impl.h): a mutex
 * and condition variable per parker, the portable fallback. Only plain
 * threads wait here (the scheduler needs the futex), so there are no
 * goroutines to ready and nothing to batch.
 */
#include "park_impl.h"

#include "scheduler.h"

#ifdef GOCHAN_FUTEX
#error "park_cond.c is for builds without lock.h's futex: see park_futex.c"
#endif

void chan__parker_init(chan__parker_t *p)
{
    atomic_init(&p->state, CHAN__PARK_WAITING);
    atomic_init(&p->select_done, 0);
    p->param = NULL;
    p->g = sched_getg();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
}

void chan__parker_destroy(chan__parker_t *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
}

void chan__park_wait(chan__parker_t *p, sched_wait_reason_t reason)
{
    (void)reason; /* no goroutines in this build */
    chan__park_spin(p);
    /* Always pass through the mutex: the waker signals while holding it, so
     * once we own it the waker is done with the parker and we may return. */
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->state, memory_order_acquire) !=
           CHAN__PARK_WOKEN)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void chan__park_unlock(chan__parker_t *p, sched_wait_reason_t reason,
                       void (*unlock)(void *), void *arg)
{
    unlock(arg); /* only threads here: drop the lock, then sleep */
    chan__park_as(p, reason);
}

void chan__park_wake(chan__parker_t *p)
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
