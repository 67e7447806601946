/* park.c: the parker (see park.h), the part common to both platforms.
 *
 * How a parker sleeps and is woken depends on the platform, and CMake builds
 * one of two files for it (park_impl.h), as Go splits lock_futex.go from
 * lock_sema.go: park_futex.c (a futex word; goroutines park on the
 * scheduler) or park_cond.c (a mutex and condition variable). Here: the spin
 * before sleeping, the race annotations around every park and wake-up, and
 * the queries on the caller.
 */
#include "park_impl.h"

#include "deadlock.h"
#include "scheduler.h"
#include "trace.h"

#include <sched.h>
#include <unistd.h>

/* The acquire load pairs with the waker's release, so what it wrote into our
 * waiter (success, the received value, param) is visible. */
bool chan__park_spin(chan__parker_t *p)
{
    for (int i = 0; i < CHAN__PARK_SPIN + CHAN__PARK_YIELD; i++) {
        if (atomic_load_explicit(&p->state, memory_order_acquire) ==
            CHAN__PARK_WOKEN)
            return true;
        if (i < CHAN__PARK_SPIN)
            sched__cpu_relax();
        else
            sched_yield();
    }
    return false;
}

/* sched_getg is NULL on a plain thread, and always in a build without the
 * scheduler (sched/nosched.c). */
bool chan__on_goroutine(void)
{
    return sched_getg() != NULL;
}

uint64_t chan__goid(void)
{
    struct sched_g *g = sched_getg();
    return g ? sched_goid(g) : 0;
}

/* The waker's release and the woken's acquire are the happens-before edge of
 * every blocked operation, told to ThreadSanitizer (race.h). */
void chan__park(chan__parker_t *p)
{
    chan__park_as(p, SCHED_WAIT_ZERO);
}

void chan__park_as(chan__parker_t *p, sched_wait_reason_t reason)
{
    if (sched__tracing() && !p->g) { /* a plain thread's blocked slice */
        sched__trace_twait_t tw;
        sched__trace_thread_wait_begin(&tw, p);
        chan__park_wait(p, reason);
        sched__trace_thread_wait_end(&tw);
    } else {
        chan__park_wait(p, reason);
    }
    sched__race_acquire(p);
}

void chan__ready(chan__parker_t *p)
{
    if (sched__tracing() && !p->g) /* a goroutine's: sched_goready's */
        sched__trace_thread_wake(p);
    sched__race_release(p);
    chan__park_wake(p);
}

_Noreturn void chan__block_forever(void)
{
    if (!sched_getg())
        sched_deadlock_park_forever(); /* a goroutine's M checks instead */
    for (;;) {
        if (sched_getg()) {
            sched_gopark(NULL, NULL, SCHED_WAIT_SELECT_NO_CASES); /* no waker */
            continue;
        }
        pause();
    }
}
