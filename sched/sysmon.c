/* sysmon.c: Go's sysmon for C code that blocks or computes without telling
 * the scheduler (see "Blocking C code" at the top of proc.c): a monitor
 * thread that retakes a P from such a goroutine and hands it to another M,
 * and trims the stack pool while it is about it.
 */
#include "proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal/invariant.h"
#include "internal/netpoll.h"
#include "internal/thread.h"

/* Go's sysmon: its sleep between rounds (20 us, doubling after 50 idle rounds
 * up to 10 ms), and how long a P may run one goroutine's code before sysmon
 * looks at its M (Go's forcePreemptNS). */
enum { SYSMON_DELAY_MIN_US = 20, SYSMON_DELAY_MAX_US = 10000 };
enum { SYSMON_IDLE_ROUNDS = 50 };
#define SYSMON_RETAKE_NS (10 * 1000 * 1000)

static atomic_bool sysmon_running;
static sched__lock_t sysmon_start_lock = SCHED__LOCK_INIT;

static int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads /proc/self/task/TID/<name> of mp's thread into buf, NUL-ended:
 * false when it cannot. */
static bool read_task_file(const sched__m_t *mp, const char *name, char *buf,
                           size_t len)
{
    snprintf(buf, len, "/proc/self/task/%d/%s", mp->tid, name);
    int fd = open(buf, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Whether mp's thread sleeps in the kernel: its state in /proc (field 3 of
 * /proc/self/task/TID/stat) is anything but R (running or runnable). False
 * when it cannot tell. */
static bool m_blocked(const sched__m_t *mp)
{
    char buf[256];
    if (!read_task_file(mp, "stat", buf, sizeof buf))
        return false;
    /* "tid (comm) S ...": comm may hold spaces and parentheses. */
    const char *end = strrchr(buf, ')');
    if (!end || end[1] != ' ' || end[2] == '\0')
        return false;
    return end[2] != 'R';
}

/* Whether mp's thread waits on a futex (/proc/self/task/TID/syscall starts
 * with the call's number): gochan's runtime lock, mostly, a wait of
 * microseconds that a quick retake would only answer with one more thread.
 * A goroutine blocked on a foreign lock (a pthread mutex) is a futex wait
 * too: its P is retaken at the 10 ms rule, as computing is. False when it
 * cannot tell. */
static bool m_in_futex(const sched__m_t *mp)
{
    char buf[64];
    if (!read_task_file(mp, "syscall", buf, sizeof buf))
        return false;
    char *end;
    long nr = strtol(buf, &end, 10);
    return end != buf && nr == SYS_futex;
}

/* Goroutines wait for pp: in its own queue, or in the global one while no
 * P is idle to take them. */
static bool p_has_waiting_work(sched__p_t *pp)
{
    return !sched__runqempty(pp) ||
           (sched__globrunqsize() > 0 &&
            atomic_load_explicit(&sched__state.npidle, memory_order_relaxed) ==
                0);
}

/* Go's handoffp: sysmon took pp from its M. An M runs it if there is work;
 * if no M spins and no P is idle, a spinning M takes it to look for some;
 * otherwise it goes idle. Nobody adds to pp's queue meanwhile: only a holder
 * does. */
static void handoffp(sched__p_t *pp)
{
    if (!sched__runqempty(pp) || sched__globrunqsize() > 0) {
        sched__startm(pp, false, false);
        return;
    }
    int32_t none = 0;
    if (atomic_load_explicit(&sched__state.nmspinning, memory_order_relaxed) +
                atomic_load_explicit(&sched__state.npidle,
                                     memory_order_relaxed) ==
            0 &&
        atomic_compare_exchange_strong_explicit(&sched__state.nmspinning, &none,
                                                1, memory_order_seq_cst,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&sched__state.needspinning, 0,
                              memory_order_relaxed);
        sched__startm(pp, true, false);
        return;
    }
    sched__lock(&sched__state.lock);
    if (sched__state.runqsize > 0)
        sched__startm(pp, false, true);
    else
        sched__pidleput_locked(pp);
    sched__unlock(&sched__state.lock);
}

/* The quick retake's question, m_blocked and not m_in_futex, asked of one
 * goroutine's run (since sysmon_when) at gaps as long as the run so far,
 * from one sysmon tick up to SYSMON_PROBE_GAP_MAX_NS: the gaps double. A
 * run that computes, or whose thread the kernel has not yet given a core,
 * was otherwise read from /proc every 20 us: starting a million goroutines,
 * sysmon's reads were 9% of the time (with three threads on two cores, a
 * runnable M often waits that long). A real system call is still found
 * within 1 ms of its start. */
#define SYSMON_PROBE_GAP_MAX_NS (1000 * 1000)

static bool probe_blocked(sched__p_t *pp, const sched__m_t *mp, int64_t now)
{
    if (now < pp->sysmon_probe_at)
        return false;
    if (m_blocked(mp) && !m_in_futex(mp))
        return true;
    int64_t gap = now - pp->sysmon_when;
    if (gap < SYSMON_DELAY_MIN_US * 1000)
        gap = SYSMON_DELAY_MIN_US * 1000;
    if (gap > SYSMON_PROBE_GAP_MAX_NS)
        gap = SYSMON_PROBE_GAP_MAX_NS;
    pp->sysmon_probe_at = now + gap;
    return false;
}

/* Whether sysmon takes pp, whose M has run one goroutine's code since at
 * least the last round (for `ran` ns), from that M. Go's retake: a P in a
 * system call after a single sysmon tick (20 us) when work waits for it, and
 * after 10 ms otherwise. We cannot tell a system call from computing except
 * by the M's state, read only when it can matter: within 10 ms, when work
 * waits and the M sleeps in the kernel (1,000 goroutines entering read() at
 * GOMAXPROCS 1 took 13 s to reach the kernel at 10 ms each; Go, 1.1 s);
 * after, when work waits or the M sleeps in the kernel. */
static bool should_retake(sched__p_t *pp, const sched__m_t *mp, int64_t ran,
                          int64_t now)
{
    bool waiting = p_has_waiting_work(pp);
    if (ran < SYSMON_RETAKE_NS)
        return waiting && probe_blocked(pp, mp, now);
    return waiting || m_blocked(mp);
}

/* Go's retake: takes each P whose M runs one goroutine's code and should
 * give it up (should_retake), and hands it off. True if it took any. */
static bool retake(int64_t now)
{
    bool took = false;
    for (int i = 0; i < sched__nprocs; i++) {
        sched__p_t *pp = sched__allp[i];
        /* acquire: pairs with p_to_user; the M's tid is visible. */
        uintptr_t st = atomic_load_explicit(&pp->status, memory_order_acquire);
        uint32_t ticks = atomic_load_explicit(&pp->ticks, memory_order_relaxed);
        if (st != pp->sysmon_status || ticks != pp->sysmon_ticks) {
            pp->sysmon_status = st;
            pp->sysmon_ticks = ticks;
            pp->sysmon_when = now;
            pp->sysmon_probe_at = 0; /* a new run: probe at the next tick */
            continue;
        }
        if (PSTATE_STATE(st) != SCHED__Puser ||
            !should_retake(pp, PSTATE_M(st), now - pp->sysmon_when, now))
            continue; /* it computes, and nobody waits (long): let it */
        if (!sched__p_retake(pp, st))
            continue; /* it came back into the scheduler */
        pp->sysmon_status = SCHED__Pidle;
        pp->sysmon_when = now;
        handoffp(pp);
        took = true;
    }
    return took;
}

/* Go's sysmon polls the network when nobody has for 10 ms: goroutines whose
 * descriptors are ready would otherwise wait for an M to run out of work. */
#define SYSMON_NETPOLL_NS (10 * 1000 * 1000)

static void sysmon_netpoll(void)
{
    int64_t last = atomic_load_explicit(&sched__lastpoll, memory_order_relaxed);
    int64_t now = sched__nanotime_coarse();
    if (last == 0 || now - last < SYSMON_NETPOLL_NS ||
        sched_netpoll_waiters() == 0 ||
        !atomic_compare_exchange_strong_explicit(&sched__lastpoll, &last, now,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    sched_g *gs[2 * SCHED__NETPOLL_EVENTS];
    size_t n = sched__netpoll(0, gs);
    sched_goready_list(gs, n); /* from a plain thread: the global queue */
}

/* While every P is idle, sysmon sleeps until one is taken (pidleget). True
 * if it slept. Not while goroutines wait on a poller nobody blocks in. */
static bool sysmon_wait(void)
{
    if (atomic_load_explicit(&sched__state.npidle, memory_order_relaxed) !=
            sched__nprocs ||
        (sched_netpoll_waiters() > 0 &&
         atomic_load_explicit(&sched__lastpoll, memory_order_relaxed) != 0))
        return false;
    sched__lock(&sched__state.lock);
    bool wait = sched__state.npidle == sched__nprocs;
    if (wait) {
        sched__noteclear(&sched__state.sysmonnote);
        sched__state.sysmonwait = true;
    }
    sched__unlock(&sched__state.lock);
    if (wait) {
        /* Nothing runs: return the pool's excess stacks before sleeping. */
        sched__stack_trim(SIZE_MAX);
        sched__notesleep(&sched__state.sysmonnote);
    }
    return wait;
}

static void *sysmon(void *arg)
{
    (void)arg;
    long delay = 0;
    int idle = 0;
    for (;;) {
        if (idle == 0)
            delay = SYSMON_DELAY_MIN_US;
        else if (idle > SYSMON_IDLE_ROUNDS)
            delay *= 2;
        if (delay > SYSMON_DELAY_MAX_US)
            delay = SYSMON_DELAY_MAX_US;
        nanosleep(&(struct timespec){0, delay * 1000}, NULL);
        if (sysmon_wait()) {
            idle = 0;
            continue;
        }
        if (retake(nanotime()))
            idle = 0;
        else
            idle++;
        sysmon_netpoll();
        sched__stack_trim_if_quiet(SCHED__STACK_TRIM_BATCH, nanotime());
    }
    return NULL;
}

/* Starts sysmon once; a failure (no thread) is retried at the next
 * sched_go. Without it, goroutines still run, but a blocked one keeps its P.
 */
void sched__sysmon_start(void)
{
    if (atomic_load_explicit(&sysmon_running, memory_order_relaxed))
        return;
    sched__lock(&sysmon_start_lock);
    if (!atomic_load_explicit(&sysmon_running, memory_order_relaxed) &&
        sched__thread_start(sysmon, NULL) == 0)
        atomic_store_explicit(&sysmon_running, true, memory_order_relaxed);
    sched__unlock(&sysmon_start_lock);
}

int sched__sysmon_nthreads(void)
{
    return atomic_load_explicit(&sysmon_running, memory_order_relaxed) ? 1 : 0;
}

void sched__sysmon_atfork_child(void)
{
    sysmon_start_lock = (sched__lock_t)SCHED__LOCK_INIT;
    atomic_store_explicit(&sysmon_running, false, memory_order_relaxed);
}
