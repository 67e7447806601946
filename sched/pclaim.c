/* pclaim.c: who gets a P whose M ran its goroutine's code, the M coming back
 * into the scheduler or sysmon retaking it (proc.c, "Blocking C code").
 *
 * Both want the P's status to leave "M, user": the M to "M, sched", sysmon to
 * idle. With one CAS each the race is simple, but the M pays a locked
 * read-modify-write at every scheduling point and every goready, twice per
 * goroutine handoff (20 to 40 cycles each on the VMs we measure), while
 * sysmon retakes a P a few times a second at most. So the cost moves to
 * sysmon, with an asymmetric fence (Linux's membarrier, as liburcu and
 * folly's asymmetric fences do):
 *
 *   the M (sched__p_claim, proc.h)   sysmon (sched__p_retake)
 *   m->claiming = 1                  p->retaking = 1
 *   compiler barrier only            membarrier(PRIVATE_EXPEDITED)
 *   wait while p->retaking           if (!m->claiming)
 *   if status is "M, user":              CAS status "M, user" -> idle
 *       status = "M, sched"          p->retaking = 0
 *   m->claiming = 0
 *
 * Dekker's protocol: each side stores its flag, then loads the other's. The
 * membarrier makes every thread of the process pass a full barrier, so at
 * least one side sees the other's flag: either sysmon sees the claim and
 * leaves the P alone, or the M sees the retake, waits until sysmon has
 * decided, and reads the outcome in the status. An M that saw no retake
 * stores its "sched" while sysmon, if it looks now, sees claiming and keeps
 * off; one that saw none and finished has stored "sched" before clearing
 * claiming (release), so sysmon's CAS fails. Only the M named in the status
 * ever claims, and only sysmon retakes.
 *
 * Where membarrier is missing (before Linux 4.14, or filtered by a seccomp
 * policy) both sides use the CAS; sched__set_symmetric_fences (proc.c)
 * forces it, for the tests.
 *
 * The same asymmetry serves the spinning Ms (proc.c, "the delicate
 * moment"): every goready publishes work and then looks for a spinning M
 * (sched__wakep), while an M that stops spinning drops its count and then
 * looks at every queue, once before it sleeps. The submitter's fence is the
 * light one (sched__fence_light, a compiler barrier), the sleeper's the
 * heavy one (sched__fence_heavy, a membarrier): a full fence cost each
 * goready a tenth of a ping-pong at GOMAXPROCS 2. Without membarrier both
 * are full fences. */
#include "proc.h"

#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal/invariant.h"
#include "internal/lock.h"

#ifdef __linux__
#include <linux/membarrier.h>
#endif

/* Set by sched__fences_setup, before the first M starts (its thread's
 * creation publishes it); read by every M and sysmon. */
bool sched__fence_asymmetric;

#if defined(__linux__) && defined(SYS_membarrier)
static int membarrier(int cmd)
{
    return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/* Whether this process may use the private expedited membarrier, registering
 * it if so (again in a forked child: registering twice is harmless). */
static bool membarrier_register(void)
{
    int cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           (cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) &&
           membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

static bool membarrier_all(void)
{
    return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
}
#else
static bool membarrier_register(void)
{
    return false;
}

static bool membarrier_all(void)
{
    return false;
}
#endif

void sched__fences_setup(bool symmetric)
{
    sched__fence_asymmetric = !symmetric && membarrier_register();
}

/* sysmon's decision takes a membarrier and a CAS: a few microseconds. */
void sched__p_wait_retake(sched__p_t *pp)
{
    for (int spins = 0;
         atomic_load_explicit(&pp->retaking, memory_order_acquire); spins++) {
        if (spins < 100)
            sched__cpu_relax();
        else
            sched_yield();
    }
}

void sched__fence_heavy(void)
{
    if (!sched__fence_asymmetric || !membarrier_all())
        atomic_thread_fence(memory_order_seq_cst);
}

bool sched__p_retake(sched__p_t *pp, uintptr_t user)
{
    sched__invariant(PSTATE_STATE(user) == SCHED__Puser,
                     "sched__p_retake: the P is not in its goroutine's code");
    if (!sched__fence_asymmetric)
        /* acquire: what the M wrote to pp before p_to_user is ours. */
        return atomic_compare_exchange_strong_explicit(
            &pp->status, &user, SCHED__Pidle, memory_order_acquire,
            memory_order_relaxed);
    atomic_store_explicit(&pp->retaking, 1, memory_order_relaxed);
    bool took = false;
    /* acquire (claiming): a claim that ended stored its status before. A
     * failed membarrier leaves the P to its M: a retake is never needed for
     * correctness, only for the queue's latency. */
    if (membarrier_all() &&
        !atomic_load_explicit(&PSTATE_M(user)->claiming, memory_order_acquire))
        took = atomic_compare_exchange_strong_explicit(
            &pp->status, &user, SCHED__Pidle, memory_order_acquire,
            memory_order_relaxed);
    atomic_store_explicit(&pp->retaking, 0, memory_order_release);
    return took;
}
