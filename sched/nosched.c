/* nosched.c: scheduler.h where sched/ builds no scheduler (a platform other
 * than Linux on x86-64 or AArch64, or -DGOCHAN_SCHED_BUILD=OFF). CMake picks
 * this file instead of the scheduler's, so the layers above call one API
 * without asking which build they are in.
 *
 * Nothing here is a goroutine: sched_getg is always NULL, so every caller
 * takes its plain-thread path and nobody parks or readies a g. sched_go and
 * its variants answer ENOSYS, on which chan_go starts a kernel thread;
 * sched_go_locked is a plain thread in both builds.
 */
#include "internal/scheduler.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "deadlock_impl.h"
#include "internal/thread.h"

#define ACTIVE_SPIN 4 /* Go's active_spin: rounds a lock waiter may spin */

/* A call that needs a goroutine where none can exist: a caller's bug. */
static _Noreturn void no_goroutine(const char *what)
{
    fprintf(stderr, "gochan: %s without a scheduler\n", what);
    abort();
}

bool sched_supported(void)
{
    return false;
}

int sched_go(void (*fn)(void *arg), void *arg)
{
    (void)fn;
    (void)arg;
    return ENOSYS;
}

int sched_go_stack(void (*fn)(void *arg), void *arg, size_t stack_size)
{
    (void)stack_size;
    return sched_go(fn, arg);
}

int sched_go_copy(void (*fn)(void *args), const void *args, size_t size,
                  size_t stack_size)
{
    (void)args;
    (void)size;
    (void)stack_size;
    return sched_go(fn, NULL);
}

int sched_go_at(const void *pc, void (*fn)(void *arg), void *arg,
                size_t stack_size)
{
    (void)pc;
    return sched_go_stack(fn, arg, stack_size);
}

int sched_go_copy_at(const void *pc, void (*fn)(void *args), const void *args,
                     size_t size, size_t stack_size)
{
    (void)pc;
    return sched_go_copy(fn, args, size, stack_size);
}

int sched_go_locked(void (*fn)(void *arg), void *arg)
{
    return fn ? sched__thread_go(fn, arg) : EINVAL;
}

sched_g *sched_getg(void)
{
    return NULL;
}

void *sched_g_sudog(sched_g *gp)
{
    (void)gp;
    no_goroutine("sched_g_sudog");
    return NULL;
}

void sched_gopark(bool (*unlockf)(sched_g *gp, void *arg), void *arg,
                  sched_wait_reason_t wait_reason)
{
    (void)unlockf;
    (void)arg;
    (void)wait_reason;
    no_goroutine("sched_gopark");
}

void sched_goready(sched_g *gp)
{
    (void)gp;
    no_goroutine("sched_goready");
}

/* chan/ flushes its (then empty) batch of wake-ups unconditionally. */
void sched_goready_list(sched_g *const *gs, size_t n)
{
    (void)gs;
    if (n > 0)
        no_goroutine("sched_goready_list");
}

void sched_gosched(void)
{
    sched_yield();
}

void sched_goexit(void) {}

void sched_preempt_point(void) {}

int64_t sched_num_goroutine(void)
{
    return 0;
}

/* Without Ps, the rounds and the CPUs are all there is to check: spinning
 * pays only where another CPU can be running the lock's owner. */
bool sched_canspin(int iter)
{
    static atomic_long ncpu; /* 0: not yet read */
    long n = atomic_load_explicit(&ncpu, memory_order_relaxed);
    if (n == 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        atomic_store_explicit(&ncpu, n > 0 ? n : 1, memory_order_relaxed);
    }
    return iter < ACTIVE_SPIN && n > 1;
}

uint64_t sched_goid(sched_g *gp)
{
    (void)gp;
    no_goroutine("sched_goid");
}

sched_wait_reason_t sched_wait_reason(sched_g *gp)
{
    (void)gp;
    no_goroutine("sched_wait_reason");
}

/* ---- the deadlock check's part (deadlock_impl.h) ------------------------
 * No Ms, no goroutines: only plain threads and the layers' sources count. */

bool sched__deadlock_sched_idle(int *threads)
{
    *threads = 0;
    return true;
}

bool sched__deadlock_all_waiting(void)
{
    return true;
}

size_t sched__deadlock_print_goroutines(FILE *out)
{
    (void)out;
    return 0;
}

bool sched__deadlock_unchain(int sig, struct sigaction *sa)
{
    (void)sig;
    (void)sa;
    return false;
}
