/* deadlock_proc.c: the scheduler's part of the deadlock check
 * (deadlock_impl.h), Go's checkdead counting its Ms under sched.lock.
 */
#include "deadlock_impl.h"

#include <inttypes.h>

#include "overflow.h"
#include "proc.h"

bool sched__deadlock_sched_idle(int *threads)
{
    /* 0 until started; then allp and nprocs may be read (acquire). */
    int nprocs = sched__gomaxprocs();
    if (nprocs && atomic_load_explicit(&sched__state.npidle,
                                       memory_order_relaxed) != nprocs)
        return false; /* a P runs: the common answer, without the lock */
    sched__lock(&sched__state.lock);
    bool idle = sched__state.nmidle == sched__state.mcount &&
                atomic_load_explicit(&sched__state.npidle,
                                     memory_order_relaxed) == nprocs &&
                atomic_load_explicit(&sched__state.runqsize,
                                     memory_order_relaxed) == 0 &&
                sched__state.npollm == 0 &&
                atomic_load_explicit(&sched__state.nmspinning,
                                     memory_order_relaxed) == 0;
    for (int i = 0; idle && i < nprocs; i++)
        idle = sched__runqempty(sched__allp[i]);
    *threads = sched__state.mcount + sched__sysmon_nthreads();
    sched__unlock(&sched__state.lock);
    return idle;
}

static void g_waits(sched_g *gp, void *arg)
{
    uint32_t st = sched__gstatus(gp);
    if (st != SCHED__Gwaiting && st != SCHED__Gdead && st != SCHED__Gidle)
        *(bool *)arg = false;
}

bool sched__deadlock_all_waiting(void)
{
    bool all = true;
    sched__forallg(g_waits, &all);
    return all;
}

struct print_state {
    FILE *out;
    size_t n;
};

static void g_print(sched_g *gp, void *arg)
{
    struct print_state *ps = arg;
    if (sched__gstatus(gp) != SCHED__Gwaiting)
        return;
    const char *reason = sched_wait_reason_string(gp->wait_reason);
    fprintf(ps->out, "goroutine %" PRIu64 " [%s]:\n", gp->goid,
            *reason ? reason : "waiting");
    ps->n++;
}

size_t sched__deadlock_print_goroutines(FILE *out)
{
    struct print_state ps = {out, 0};
    sched__forallg(g_print, &ps);
    return ps.n;
}

bool sched__deadlock_unchain(int sig, struct sigaction *sa)
{
    return sched__signal_unchain(sig, sa);
}
