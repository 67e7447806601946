/* proc.c: the goroutine scheduler (scheduler.h, proc.h): Go's runtime/proc.go
 * for C.
 *
 * G, M, P. A g is a goroutine: a function, a stack from the pool and the
 * context saved on it. An M is a worker thread. A P is the right to run
 * goroutines, and holds the local run queue; there are GOMAXPROCS of them,
 * so at most GOMAXPROCS goroutines run at once. An M runs goroutines only
 * while it holds a P. Runnable goroutines wait in the P's local queue (a
 * lock-free ring, runq.c, plus a runnext slot) or in the global queue
 * (sched__state.lock). Each M's own pthread stack is its g0: the scheduler
 * code, schedule() and what a goroutine asks for when it switches away (park,
 * yield, exit: Go's mcall), runs there, never on the stack of the goroutine
 * that asked.
 *
 * Switching. A goroutine switches to its M's g0 (sched__fiber_switch), and
 * g0 finds the next one; that buys the one property the unlockf protocol
 * needs: by the time anyone can see a parking goroutine, its registers are
 * saved and nothing runs on its stack. It costs two switches instead of one,
 * so a goroutine that parks while the one it readied waits in runnext
 * switches to that one directly, and that one finishes the park on its own
 * stack before it runs on (see "the direct handoff", below gopark).
 *
 * Parking (gopark/goready). A goroutine that must wait records unlockf and
 * switches to g0. g0 marks it Gwaiting and calls unlockf(gp, arg), which
 * publishes gp where its waker will find it (a channel's wait queue, say) and
 * releases the lock that made the decision to wait safe. A waker that finds
 * gp can only have done so after unlockf published it, so it never readies a
 * goroutine whose context is not yet saved; a wake-up that comes before the
 * park is seen by the waiter under that same lock, which then does not park
 * (or unlockf returns false and gp resumes at once). goready puts gp in the
 * waker's P's runnext: a goroutine readied by a running goroutine runs next on
 * the same P, inheriting its time slice, which is what makes a ping-pong cost
 * two switches on one thread rather than a thread wake-up.
 *
 * Worker thread parking and unparking. We want enough running Ms to use the
 * hardware, and no more: an idle M burns a CPU if it spins and costs a
 * futex wake-up (several microseconds) when it sleeps. Scheduler state is
 * spread over the Ps so that the fast paths (runqput, runqget) take no lock;
 * nobody can cheaply tell whether the whole system has work. And we cannot
 * tell whether a goroutine will be readied a microsecond from now.
 *
 * Go's answer, followed here: an M out of work first becomes "spinning" and
 * looks for work to steal from the other Ps, briefly, before it gives up its
 * P and sleeps. Whoever makes work available (goready, sched_go, an M that
 * stops spinning because it found some) calls sched__wakep(), which wakes an
 * idle M (with an idle P) only if there is an idle P and no M is spinning
 * already: a spinning M will find the new work without help, and waking a
 * second one would only make it spin for nothing. At most one M is woken per
 * piece of new work, and the woken M spins; when it finds work it stops
 * spinning and calls sched__wakep() again, so that if there is more work
 * another M comes; when it finds none it sleeps. So bursts of work wake Ms one
 * at a time, as fast as they find work, and a steady trickle keeps at most one
 * M spinning. The number of spinning Ms is also capped at half the busy Ps.
 *
 * The delicate moment is an M going from spinning to sleeping while another
 * thread submits work: the submitter checks nmspinning after publishing its
 * work, the M re-checks every queue after decrementing nmspinning, with a
 * full barrier on each side (an asymmetric pair, pclaim.c: a membarrier on
 * the M's side pays for the submitter's), so at least one of them sees
 * the other: either the submitter sees no spinner and wakes an M, or the M
 * sees the work. A submitter that finds no idle P sets needspinning, which
 * makes the next M about to release its P spin once more instead.
 *
 * Fairness. A P checks the global queue every 61 schedules, so that
 * goroutines that keep readying each other through the local ring cannot
 * starve it. Goroutines that hand the P to each other through runnext share
 * one time slice; after 10 ms (SCHED__TIME_SLICE_NS) the one in runnext goes
 * to the global queue at the next scheduling point (end_spent_slice). There
 * is no preemption: a goroutine that never parks, yields or returns keeps its
 * M; but not necessarily its P (next).
 *
 * Threads without a P (main and every plain thread, the timer thread behind
 * every sleep, After, Ticker and deadline, sysmon's poll) ready goroutines
 * through the global queue (sched__inject). Behind the others there, such a
 * goroutine waited for the 61-tick check, and schedtick advances once per
 * time slice while goroutines hand the P to each other through runnext: 61
 * slices, ~600 ms on a busy P (issue 19), where Go runs it at once (Go's
 * timers run on the P that owns them and ready into runnext; its go
 * statement puts the new goroutine in runnext). So these go to the head of
 * the global queue, after the ones injected before them (runqinjtail), and a
 * P looks there first at every scheduling point while any wait (runqninj, on
 * a cache line of its own), but only at every other one: a thread that
 * readies goroutines without pause cannot starve the P's own queue. On a P
 * whose goroutine computes or blocks without a scheduling point, sysmon sees
 * them wait and retakes the P (next).
 *
 * Blocking C code. A goroutine may block in a system call or a foreign lock,
 * or compute for long, and its P's queue would starve. Go's runtime knows
 * when a goroutine enters a system call (entersyscall marks its P _Psyscall)
 * and preempts long-running ones; C code tells us neither. So every stretch
 * of a goroutine's own code is treated as a possible system call: before an
 * M switches to a goroutine it marks its P "user" (p->status holds the M and
 * SCHED__Puser), and whenever the M comes back into the scheduler (the
 * goroutine switches to g0, or calls sched_goready or sched_go, which use
 * the P) it claims it back to "sched" (SCHED__Psched), which sysmon never
 * touches: with stores, sysmon paying a membarrier for the race, or with a
 * CAS where Linux has none (pclaim.c). The fast paths (runqput, runnext)
 * are unchanged.
 *
 * sysmon (Go's) is a thread of its own, started with the scheduler. It
 * sleeps 20 us between rounds, doubling after 50 rounds without work up to
 * 10 ms, and on a note while every P is idle (the first pidleget wakes it).
 * Each round it reads each P's status and ticks (bumped at every goroutine
 * start). A P left "user" by the same M with the same ticks for a round is
 * retaken when goroutines wait for it (its queue, or the global one with no
 * P idle) and its M sleeps in the kernel (state other than R in
 * /proc/self/task/TID/stat, the tid each M records): Go's retake of a P in a
 * system call after one sysmon tick when work waits. After 10 ms (Go's
 * forcePreemptNS) either suffices. Go retakes only from system calls and
 * preempts running goroutines; we cannot preempt, so the queue moves
 * instead. Retaking moves the status from "M, user" to idle
 * (sched__p_retake), then Go's handoffp: an M (idle or new, startm) runs
 * the P when there is work, a spinning one when nobody spins and no P is
 * idle, else the P goes idle. The M in the status word makes sysmon's CAS
 * immune to ABA: only the M itself writes its own address there.
 *
 * The M that lost its P finds out at its next claim, which fails: it forgets
 * the P (mp->p = NULL) and never touches it again. On g0 it finishes what
 * its goroutine asked for without a P (unlockf, the goroutine's exit; a free
 * g goes to the global list), then exitsyscall (Go's): a goroutine to resume
 * runs on an idle P if there is one (Go's exitsyscall fast path), otherwise
 * it goes to the global queue; an M left without a P sleeps on the idle list
 * (stopm). A goroutine whose sched_goready or sched_go finds the P gone
 * falls back to the global queue for the goroutine it starts or readies,
 * then waits for a P the same way, through g0. So, as with Go's system
 * calls, more goroutines than GOMAXPROCS may run while some have lost their
 * P, never more than GOMAXPROCS with one.
 *
 * Go's LockOSThread is the other answer to blocking C code. sched_go_locked
 * takes the simpler of its two possible designs: fn runs on a plain thread
 * of its own, outside the scheduler, where waits block the thread (the
 * layers above park plain threads on the futex); no M is wired to it.
 *
 * The network poller (netpoll.c; Go's findRunnable and netpoll.go). A
 * goroutine waiting for a descriptor parks on its poll descriptor, and the
 * Ms find it when they look for work: an M with a P that found nothing in
 * the queues polls epoll without blocking before it steals; the last M with
 * nothing to do, having given up its P, blocks in epoll_wait (lastpoll 0
 * says one does) for as long as goroutines wait there, and when woken takes
 * an idle P and runs what it found, the rest going to that P's queue as one
 * batch (or to the global queue when no P is idle). Work made meanwhile
 * wakes another M as always; sysmon polls when nobody has for 10 ms, so a
 * busy scheduler still notices ready descriptors. Plain threads wait on
 * descriptors without the Ms (netpoll.c).
 *
 * A goroutine that overflows its stack hits the 64 KiB guard below it; the
 * SIGSEGV handler (overflow.c, on each M's alternate signal stack) reports
 * "gochan: goroutine N stack overflow" and aborts.
 *
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal/deadlock.h"
#include "internal/invariant.h"
#include "internal/netpoll.h"
#include "overflow.h"
#include "internal/thread.h"
#include "internal/trace.h"

/* ---- global state -------------------------------------------------------- */

/* Go's schedt (proc.h). */
sched__schedt_t sched__state = {
    .lock = SCHED__LOCK_INIT,
    .gflock = SCHED__LOCK_INIT,
    .allglock = SCHED__LOCK_INIT,
};

/* Set once, under start_lock, before started is published (release); read
 * after an acquire load of started. */
sched__p_t **sched__allp;
int sched__nprocs;
static int maxprocs_wanted;         /* sched__set_maxprocs, under start_lock */
static int symmetric_fences_wanted; /* sched__set_symmetric_fences */
static int direct_handoff_wanted = -1; /* sched__set_direct_handoff; -1: env */
static sched__lock_t start_lock = SCHED__LOCK_INIT;
static atomic_bool started;

/* How many rounds over all Ps a spinning M tries to steal (Go: 4). */
enum { STEAL_TRIES = 4 };

/* ---- the current M ------------------------------------------------------- */

static _Thread_local sched__m_t *tls_m;

/* The calling thread's M, or NULL on a plain pthread. Never inlined, and
 * behind a compiler barrier: a goroutine may resume on another thread after a
 * switch, so no caller may keep a thread-local address computed before one
 * (the compiler would be entitled to, within a function). */
__attribute__((noinline)) sched__m_t *sched__getm(void)
{
    sched__m_t *mp = tls_m;
    __asm__ __volatile__("" ::: "memory");
    return mp;
}

int64_t sched__nanotime_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- goroutine status ---------------------------------------------------- */

/* The one place a g's status changes. With invariants on, a CAS that
 * catches a wrong transition (a double goready, a park of a goroutine that
 * is not running); otherwise a plain store. Relaxed either way: the status
 * publishes nothing. Whoever hands a g to another thread (a run queue, the
 * caller's unlockf protocol) orders what matters. */
void sched__casgstatus(sched_g *gp, uint32_t oldval, uint32_t newval)
{
#ifdef GOCHAN_INVARIANTS
    uint32_t seen = oldval;
    bool ok = atomic_compare_exchange_strong_explicit(
        &gp->status, &seen, newval, memory_order_relaxed, memory_order_relaxed);
    sched__invariant(ok, "casgstatus: goroutine not in the expected status "
                         "(readied twice? parked while not running?)");
#else
    (void)oldval;
    atomic_store_explicit(&gp->status, newval, memory_order_relaxed);
#endif
}

uint32_t sched__gstatus(sched_g *gp)
{
    return atomic_load_explicit(&gp->status, memory_order_relaxed);
}

/* ---- idle Ps and Ms (sched__state.lock)
 * ----------------------------------------- */

/* Pushes pp, which nobody holds, on the idle list. */
static void pidlepush_locked(sched__p_t *pp)
{
    sched__invariant(atomic_load_explicit(&pp->status, memory_order_relaxed) ==
                         SCHED__Pidle,
                     "pidleput: P still held");
    pp->link = sched__state.pidle;
    sched__state.pidle = pp;
    /* relaxed: the lock-free readers (wakep, findrunnable) only take a hint
     * from it and decide under the lock or behind a fence. */
    atomic_store_explicit(&sched__state.npidle, sched__state.npidle + 1,
                          memory_order_relaxed);
}

void sched__pidleput_locked(sched__p_t *pp)
{
    sched__invariant(sched__runqempty(pp), "pidleput: P has runnable work");
    pidlepush_locked(pp);
}

static sched__p_t *pidleget_locked(void)
{
    sched__p_t *pp = sched__state.pidle;
    if (pp) {
        sched__state.pidle = pp->link;
        pp->link = NULL;
        atomic_store_explicit(&sched__state.npidle, sched__state.npidle - 1,
                              memory_order_relaxed);
        if (sched__state.sysmonwait) { /* a P is about to run: sysmon watches */
            sched__state.sysmonwait = false;
            sched__notewakeup(&sched__state.sysmonnote);
        }
    }
    return pp;
}

/* Go's pidlegetSpinning: an idle P for a new spinning M, or NULL, in which
 * case the next M about to release its P must spin instead (needspinning). */
static sched__p_t *pidleget_spinning_locked(void)
{
    sched__p_t *pp = pidleget_locked();
    if (!pp)
        atomic_store_explicit(&sched__state.needspinning, 1,
                              memory_order_relaxed);
    return pp;
}

static void mput_locked(sched__m_t *mp)
{
    mp->schedlink = sched__state.midle;
    sched__state.midle = mp;
    sched__state.nmidle++;
}

static sched__m_t *mget_locked(void)
{
    sched__m_t *mp = sched__state.midle;
    if (mp) {
        sched__state.midle = mp->schedlink;
        mp->schedlink = NULL;
        sched__state.nmidle--;
    }
    return mp;
}

/* pp comes from the idle list (or startm), where nobody held it. relaxed:
 * the list's lock or startm's note hands it over. */
static void acquirep(sched__m_t *mp, sched__p_t *pp)
{
    sched__invariant(mp->p == NULL &&
                         atomic_load_explicit(
                             &pp->status, memory_order_relaxed) == SCHED__Pidle,
                     "acquirep: already held");
    mp->p = pp;
    atomic_store_explicit(&pp->status, PSTATE(mp, SCHED__Psched),
                          memory_order_relaxed);
}

static sched__p_t *releasep(sched__m_t *mp)
{
    sched__p_t *pp = mp->p;
    sched__invariant(
        pp && atomic_load_explicit(&pp->status, memory_order_relaxed) ==
                  PSTATE(mp, SCHED__Psched),
        "releasep: P not held by this M");
    mp->p = NULL;
    atomic_store_explicit(&pp->status, SCHED__Pidle, memory_order_relaxed);
    return pp;
}

/* ---- the P and its goroutine's code (see "Blocking C code" at the top) --- */

/* mp is about to run its goroutine's code: from now on sysmon may take pp.
 * release: sysmon, and whoever it hands pp to, see what mp wrote to pp. */
static void p_to_user(sched__m_t *mp, sched__p_t *pp)
{
    atomic_store_explicit(&pp->status, PSTATE(mp, SCHED__Puser),
                          memory_order_release);
}

/* mp is back in the scheduler from its goroutine's code: takes its P out of
 * sysmon's reach, or finds that sysmon took it (then mp->p becomes NULL and
 * mp must not touch the P again). */
static sched__p_t *p_from_user(sched__m_t *mp)
{
    sched__p_t *pp = mp->p;
    if (!pp)
        return NULL;
    if (sched__p_claim(mp, pp))
        return pp;
    sched__invariant(
        PSTATE_M(atomic_load_explicit(&pp->status, memory_order_relaxed)) != mp,
        "p_from_user: P not left to sysmon");
    mp->p = NULL;
    return NULL;
}

/* ---- spinning ------------------------------------------------------------ */

static void become_spinning(sched__m_t *mp)
{
    mp->spinning = true;
    atomic_fetch_add_explicit(&sched__state.nmspinning, 1,
                              memory_order_seq_cst);
    /* relaxed: a hint, see pidleget_spinning_locked. */
    atomic_store_explicit(&sched__state.needspinning, 0, memory_order_relaxed);
}

/* seq_cst: the decrement is one side of the delicate dance (see the top). */
static void nmspinning_dec(void)
{
    int32_t was = atomic_fetch_sub_explicit(&sched__state.nmspinning, 1,
                                            memory_order_seq_cst);
    sched__invariant(was > 0, "negative nmspinning");
    (void)was;
}

static void drop_spinning(sched__m_t *mp)
{
    mp->spinning = false;
    nmspinning_dec();
}

/* ---- starting and waking Ms ---------------------------------------------- */

static void schedule(sched__m_t *mp);

/* Go's allm: every M ever allocated, never freed (Ms do not exit). Only a
 * forked child needs it: the parent's Ms are forgotten there, and this
 * keeps them reachable for leak checkers, also one whose thread was being
 * created at the fork (so allocm links it, not mstart). */
static _Atomic(sched__m_t *) allm;

/* Ms whose thread could not be created, for the next allocm: they are in
 * allm already. Under sched__state.lock, linked by schedlink. */
static sched__m_t *mspare;

static void *mstart(void *arg)
{
    sched__m_t *mp = arg;
    sched__thread_minit_sigmask(); /* Go's minit: not newm's caller's mask */
    tls_m = mp;
    /* Before the M holds a P: sysmon reads it after it sees the P held. */
    mp->tid = (int)syscall(SYS_gettid);
    sched__fiber_init_thread(&mp->g0);
    /* Without it an overflow is a plain SIGSEGV, not the report. */
    (void)sched__signal_altstack();
    if (mp->start_idle) {
        /* the first M, put on the idle list by start_locked */
        sched__notesleep(&mp->park);
        sched__noteclear(&mp->park);
    }
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
    schedule(mp); /* never returns */
    return NULL;
}

/* Starts a thread for a new M that will run with pp (NULL: idle, already on
 * the idle list). 0 or an errno. */
static int newm(sched__m_t *mp, sched__p_t *pp, bool spinning)
{
    mp->start_idle = pp == NULL;
    mp->nextp = pp;
    mp->spinning = spinning;
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t tid;
    /* Go's newosproc: every signal blocked until mstart sets the initial
     * mask, so the new M never runs with its creator's (a plain thread's,
     * the signal delivery thread's: all blocked). */
    sigset_t old;
    sched__thread_sigblock_all(&old);
    err = pthread_create(&tid, &attr, mstart, mp);
    sched__thread_sigrestore(&old);
    pthread_attr_destroy(&attr);
    return err;
}

static sched__m_t *allocm(void)
{
    sched__lock(&sched__state.lock);
    sched__m_t *mp = mspare;
    if (mp)
        mspare = mp->schedlink;
    sched__unlock(&sched__state.lock);
    if (mp) {
        sched__m_t *next = mp->alllink;
        *mp = (sched__m_t){.alllink = next};
    } else {
        mp = calloc(1, sizeof *mp);
        if (!mp)
            return NULL;
        mp->alllink = atomic_load_explicit(&allm, memory_order_relaxed);
        /* release: sched__handoff_count follows alllink. */
        while (!atomic_compare_exchange_weak_explicit(&allm, &mp->alllink, mp,
                                                      memory_order_release,
                                                      memory_order_relaxed))
            ;
    }
    sched__noteclear(&mp->park);
    mp->fastrand = (uint32_t)(uintptr_t)mp | 1; /* xorshift: nonzero */
    return mp;
}

/* The new M could not start: give pp back and forget the spinning that
 * wakep counted for it. Work stays queued for the Ms that exist. */
static void newm_failed(sched__m_t *mp, sched__p_t *pp, bool spinning)
{
    sched__lock(&sched__state.lock);
    if (mp) {
        mp->schedlink = mspare;
        mspare = mp;
    }
    sched__state.mcount--;
    /* pp may have work when sysmon handed it off (handoffp): it waits there
     * for a spinning M to steal it. */
    pidlepush_locked(pp);
    sched__unlock(&sched__state.lock);
    if (spinning)
        nmspinning_dec();
}

/* startm found no idle M, but an M is in the poller (blocked in epoll_wait
 * or on its way from there to take an idle P: npollm, under
 * sched__state.lock): rather than start a thread, pp goes back on the idle
 * list and the poller is broken out of epoll_wait; it takes an idle P when
 * it wakes (netpoll_blocking), under the lock, so after our push. Keeps the
 * Ms at GOMAXPROCS + 1 under network load. Returns with the lock released
 * unless lock_held. */
static bool netpoll_take_instead(sched__p_t *pp, bool spinning, bool lock_held)
{
    if (sched__state.npollm == 0)
        return false;
    pidlepush_locked(pp);
    if (!lock_held)
        sched__unlock(&sched__state.lock);
    if (spinning)
        nmspinning_dec();
    sched_netpoll_break();
    return true;
}

/* Go's startm: runs pp on an idle M, or a new one. With lock_held, the
 * caller holds sched__state.lock (released around thread creation). */
void sched__startm(sched__p_t *pp, bool spinning, bool lock_held)
{
    if (!lock_held)
        sched__lock(&sched__state.lock);
    sched__m_t *mp = mget_locked();
    if (mp) {
        sched_deadlock_bump(); /* an idle M wakes: see deadlock.c */
        if (!lock_held)
            sched__unlock(&sched__state.lock);
        sched__invariant(!mp->spinning && !mp->nextp, "startm: M is busy");
        mp->spinning = spinning;
        mp->nextp = pp;
        sched__notewakeup(&mp->park); /* release: mp sees nextp */
        return;
    }
    if (netpoll_take_instead(pp, spinning, lock_held))
        return;
    sched__state.mcount++;
    sched_deadlock_bump();
    sched__unlock(&sched__state.lock);
    mp = allocm();
    if (!mp || newm(mp, pp, spinning) != 0)
        newm_failed(mp, pp, spinning);
    if (lock_held)
        sched__lock(&sched__state.lock);
}

/* Whether the calling thread is an M that holds a P: a goroutine's or g0's
 * whose P sysmon has not taken. */
static bool caller_holds_a_p(void)
{
    sched__m_t *mp = sched__getm();
    return mp && mp->p;
}

/* Go's wakep: work has appeared; wake an M to spin for it, unless one is
 * spinning already or no P is idle. See the essay at the top. */
void sched__wakep(void)
{
    /* One P, and it is ours: no other M could run the work, so there is
     * nobody to wake and no P to ask to spin. (Not so on an M whose P sysmon
     * took while its goroutine ran C code: a yield there puts the goroutine
     * on the global queue, and the idle P needs an M; test
     * test_sysmon_blocked_then_yield.) Without the look, each
     * goroutine readied at GOMAXPROCS 1 paid a fence, a CAS, the scheduler
     * lock and a decrement (a fifth of a ping-pong between two goroutines).
     * With more Ps the newest Go's protocol runs in full: Go 1.19 returned
     * here whenever no P was idle, and the newest Go does not, because its
     * pidlegetSpinning must then set needspinning under the lock, so that
     * the next P to go idle spins for this work instead of sleeping. */
    if (sched__nprocs == 1 && caller_holds_a_p())
        return;
    /* Pairs with the fence in findrunnable (recheck_after_spinning): our
     * work (published before this call) and their nmspinning decrement
     * cannot both go unseen. The light side (pclaim.c). */
    sched__fence_light();
    int32_t none = 0;
    if (atomic_load_explicit(&sched__state.nmspinning, memory_order_relaxed) !=
            0 ||
        !atomic_compare_exchange_strong_explicit(&sched__state.nmspinning,
                                                 &none, 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    sched__lock(&sched__state.lock);
    sched__p_t *pp = pidleget_spinning_locked();
    if (!pp) {
        sched__unlock(&sched__state.lock);
        nmspinning_dec();
        return;
    }
    sched__startm(pp, true, true);
    sched__unlock(&sched__state.lock);
}

/* Go's resetspinning: a spinning M found work; if it was the last spinner,
 * another M may be needed for the rest. */
static void resetspinning(sched__m_t *mp)
{
    drop_spinning(mp);
    sched__wakep();
}

/* An M with nothing to do sleeps on the idle list until startm hands it a P.
 */
static void stopm(sched__m_t *mp)
{
    sched__invariant(!mp->p && !mp->spinning, "stopm: M holds a P or spins");
    sched__lock(&sched__state.lock);
    mput_locked(mp);
    bool last = sched__state.nmidle == sched__state.mcount;
    sched__unlock(&sched__state.lock);
    if (last)
        sched_checkdead();       /* Go's mput: the last M goes idle */
    sched__notesleep(&mp->park); /* acquire: sees nextp and spinning */
    sched__noteclear(&mp->park);
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
}

/* Links gs[0..n) through schedlink, in order: a list for the global queue,
 * put there in one step (Go's injectglist builds its gList first). */
static void link_list(sched_g *const *gs, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        gs[i]->schedlink = gs[i + 1];
}

/* Puts the n >= 1 runnable gs on the global queue's injected prefix, in
 * order, in one step. sched.lock held. */
static void inject_list_locked(sched_g *const *gs, size_t n)
{
    link_list(gs, n);
    sched__globrunqputbatch_inject_locked(gs[0], gs[n - 1], (int32_t)n);
}

/* A thread that is not a worker (or a worker on g0 without a P) makes gp
 * runnable: the global queue's injected prefix, and an idle P gets an M (Go's
 * injectglist). */
void sched__inject(sched_g *gp)
{
    sched__lock(&sched__state.lock);
    sched__globrunqput_inject_locked(gp); /* ahead: see "Fairness" above */
    sched__p_t *pp = pidleget_spinning_locked();
    if (pp)
        sched__startm(pp, false, true);
    sched__unlock(&sched__state.lock);
}

/* ---- finding work -------------------------------------------------------- */

static uint32_t fastrand(sched__m_t *mp)
{
    uint32_t x = mp->fastrand; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return mp->fastrand = x;
}

/* Go's stealWork: a few rounds over the other Ps in random order; the last
 * round may take their runnext too. */
static sched_g *stealwork(sched__m_t *mp)
{
    sched__p_t *pp = mp->p;
    for (int round = 0; round < STEAL_TRIES; round++) {
        bool last = round == STEAL_TRIES - 1;
        uint32_t start = fastrand(mp);
        for (int i = 0; i < sched__nprocs; i++) {
            sched__p_t *p2 =
                sched__allp[(start + (uint32_t)i) % (uint32_t)sched__nprocs];
            if (p2 == pp)
                continue;
            sched_g *gp = sched__runqsteal(pp, p2, last);
            if (gp)
                return gp;
        }
    }
    return NULL;
}

/* Go's checkRunqsNoP: after we stopped spinning, an idle P for us if some P
 * has work. */
static sched__p_t *check_runqs_no_p(void)
{
    for (int i = 0; i < sched__nprocs; i++) {
        if (!sched__runqempty(sched__allp[i])) {
            sched__lock(&sched__state.lock);
            sched__p_t *pp = pidleget_spinning_locked();
            sched__unlock(&sched__state.lock);
            return pp;
        }
    }
    return NULL;
}

/* Gives up the P when there is nothing to run: NULL, or a goroutine from the
 * global queue that arrived meanwhile. *retry when the M must look again
 * with its P (someone needs a spinning M). */
static sched_g *drop_p(sched__m_t *mp, bool *retry)
{
    *retry = false;
    sched__lock(&sched__state.lock);
    sched_g *gp = sched__globrunqget_locked(mp->p, 0);
    if (!gp && !mp->spinning &&
        atomic_load_explicit(&sched__state.needspinning,
                             memory_order_relaxed)) {
        become_spinning(mp);
        *retry = true;
    } else if (!gp) {
        sched__pidleput_locked(releasep(mp));
    }
    sched__unlock(&sched__state.lock);
    return gp;
}

/* A spinning M that gave up its P stops spinning, then looks everywhere once
 * more (the delicate dance, see the top): a goroutine to run (with a P it
 * took), or *retry with a P to look again, or NULL to sleep. */
static sched_g *recheck_after_spinning(sched__m_t *mp, bool *retry)
{
    *retry = false;
    drop_spinning(mp);
    /* Pairs with the fence in wakep; the heavy side (pclaim.c). */
    sched__fence_heavy();
    sched__lock(&sched__state.lock);
    if (sched__state.runqsize > 0) {
        sched__p_t *pp = pidleget_spinning_locked();
        if (pp) {
            acquirep(mp, pp);
            sched_g *gp = sched__globrunqget_locked(pp, 0);
            sched__unlock(&sched__state.lock);
            become_spinning(mp);
            return gp;
        }
    }
    sched__unlock(&sched__state.lock);
    sched__p_t *pp = check_runqs_no_p();
    if (pp) {
        acquirep(mp, pp);
        become_spinning(mp);
        *retry = true;
    }
    return NULL;
}

/* The current time slice is over: the goroutine in runnext, which would
 * continue it, goes to the back of the global queue instead (where Go's
 * preemption puts the running goroutine), so that two goroutines readying
 * each other cannot keep the P from the rest. Go checks from sysmon; we check
 * at each scheduling point, with a clock that costs a few ns to read. */
static void end_spent_slice(sched__p_t *pp)
{
    if (!atomic_load_explicit(&pp->runnext, memory_order_relaxed) ||
        sched__nanotime_coarse() - pp->slice_start < SCHED__TIME_SLICE_NS)
        return;
    sched_g *next = sched__runnext_take(pp);
    if (!next)
        return; /* stolen meanwhile */
    sched__lock(&sched__state.lock);
    sched__globrunqput_locked(next);
    sched__unlock(&sched__state.lock);
}

/* ---- the network poller (see "The network poller" at the top) ---------- */

/* Readies what the poller found, on pp: the first to run now, the rest on
 * pp's queue (Go's injectglist with a P). */
static sched_g *netpoll_inject_local(sched__p_t *pp, sched_g **gs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sched__casgstatus(gs[i], SCHED__Gwaiting, SCHED__Grunnable);
    for (size_t i = 1; i < n; i++)
        sched__runqput(pp, gs[i], false);
    if (n > 1)
        sched__wakep();
    return gs[0];
}

/* Somebody waits on the poller and no M blocks in it. */
static bool netpoll_unwatched(void)
{
    return sched_netpoll_waiters() > 0 &&
           atomic_load_explicit(&sched__lastpoll, memory_order_relaxed) != 0;
}

/* findRunnable's poll without blocking, for an M with a P out of work. */
static sched_g *netpoll_nonblocking(sched__m_t *mp)
{
    if (!netpoll_unwatched())
        return NULL;
    sched_g *gs[2 * SCHED__NETPOLL_EVENTS];
    size_t n = sched__netpoll(0, gs);
    return n ? netpoll_inject_local(mp->p, gs, n) : NULL;
}

/* findRunnable's last resort: an M without a P or work blocks in epoll_wait
 * while goroutines wait on the poller and no other M does. When it wakes it
 * takes an idle P, if there is one, and runs what it found (*retry: it
 * found nothing but holds a P, so it looks again); without a P the found go
 * to the global queue and the M sleeps. NULL and no retry: sleep. */
static sched_g *netpoll_blocking(sched__m_t *mp, bool *retry)
{
    *retry = false;
    if (sched_netpoll_waiters() == 0 ||
        atomic_exchange_explicit(&sched__lastpoll, 0, memory_order_seq_cst) ==
            0)
        return NULL;
    sched__lock(&sched__state.lock);
    sched__state.npollm++;
    sched__unlock(&sched__state.lock);
    sched_g *gs[2 * SCHED__NETPOLL_EVENTS];
    size_t n = sched__netpoll(-1, gs);
    atomic_store_explicit(&sched__lastpoll, sched__nanotime_coarse(),
                          memory_order_seq_cst);
    sched__lock(&sched__state.lock);
    sched__state.npollm--;
    sched__p_t *pp = pidleget_locked();
    if (!pp && n > 0) {
        for (size_t i = 0; i < n; i++)
            sched__casgstatus(gs[i], SCHED__Gwaiting, SCHED__Grunnable);
        inject_list_locked(gs, n);
    }
    sched__unlock(&sched__state.lock);
    if (!pp)
        return NULL;
    acquirep(mp, pp);
    if (n == 0) {
        *retry = true;
        return NULL;
    }
    return netpoll_inject_local(pp, gs, n);
}

/* A goroutine readied by a thread without a P, at every other scheduling
 * point while any waits (see "Fairness" at the top). */
static bool injected_turn(const sched__p_t *pp)
{
    return atomic_load_explicit(&sched__state.runqninj, memory_order_relaxed) !=
               0 &&
           !pp->injected_last;
}

/* Fairness: now and then the global queue goes first. */
static bool global_turn(const sched__p_t *pp)
{
    return pp->schedtick % 61 == 0 && sched__globrunqsize() > 0;
}

static sched_g *injected_first(sched__p_t *pp)
{
    if (!injected_turn(pp)) {
        pp->injected_last = false;
        return NULL;
    }
    sched_g *gp = sched__globrunqget(pp, 1);
    pp->injected_last = gp != NULL;
    return gp;
}

/* Go's findRunnable: blocks until there is a goroutine to run; the M holds a
 * P on return. *inherit: the goroutine continues the current time slice. */
static sched_g *findrunnable(sched__m_t *mp, bool *inherit)
{
    for (;;) {
        sched__p_t *pp = mp->p;
        sched_g *gp;
        *inherit = false;
        end_spent_slice(pp);
        if ((gp = injected_first(pp)))
            return gp;
        if (global_turn(pp)) {
            if ((gp = sched__globrunqget(pp, 1)))
                return gp;
        }
        if ((gp = sched__runqget(pp, inherit)))
            return gp;
        if (sched__globrunqsize() > 0 && (gp = sched__globrunqget(pp, 0)))
            return gp;
        if ((gp = netpoll_nonblocking(mp)))
            return gp;
        /* Steal, if not too many Ms are at it already. */
        int32_t busy =
            sched__nprocs -
            atomic_load_explicit(&sched__state.npidle, memory_order_relaxed);
        if (mp->spinning || 2 * atomic_load_explicit(&sched__state.nmspinning,
                                                     memory_order_relaxed) <
                                busy) {
            if (!mp->spinning)
                become_spinning(mp);
            if ((gp = stealwork(mp)))
                return gp;
        }
        bool retry;
        if ((gp = drop_p(mp, &retry)))
            return gp;
        if (retry)
            continue;
        if (mp->spinning) {
            if ((gp = recheck_after_spinning(mp, &retry)))
                return gp;
            if (retry)
                continue;
        }
        if ((gp = netpoll_blocking(mp, &retry)))
            return gp;
        if (retry)
            continue;
        stopm(mp);
    }
}

/* ---- running goroutines -------------------------------------------------- */

/* Whether gp ran on mp a few goroutines ago: the top of its stack is still
 * in this core's caches (a ping-pong on one P), and asking for 16 lines again
 * costs a tenth of the handoff. */
static bool ran_lately(const sched__m_t *mp, const sched_g *gp)
{
    return gp->ran_on == mp && mp->execs - gp->ran_at < 4;
}

/* The traceback's sequence count (proc.h): odd before gp's stack changes,
 * even again once its registers are saved. Only the M running gp writes it. */
static void schedgen_running(sched_g *gp)
{
    uint32_t gen = atomic_load_explicit(&gp->schedgen, memory_order_relaxed);
    atomic_store_explicit(&gp->schedgen, gen + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void schedgen_saved(sched_g *gp)
{
    uint32_t gen = atomic_load_explicit(&gp->schedgen, memory_order_relaxed);
    atomic_store_explicit(&gp->schedgen, gen + 1, memory_order_release);
}

/* mp is about to switch to gp, on its P pp: from g0 (execute) or from the
 * goroutine handing pp over (sched__handoff). */
static void run_prepare(sched__m_t *mp, sched__p_t *pp, sched_g *gp)
{
    if (!ran_lately(mp, gp))
        sched__fiber_prefetch(&gp->fiber); /* while we do the bookkeeping */
    gp->ran_on = mp;
    gp->ran_at = ++mp->execs;
    /* relaxed: only the holder writes it; sysmon compares. */
    atomic_store_explicit(
        &pp->ticks, atomic_load_explicit(&pp->ticks, memory_order_relaxed) + 1,
        memory_order_relaxed);
    sched__casgstatus(gp, SCHED__Grunnable, SCHED__Grunning);
    gp->m = mp;
    mp->curg = gp;
}

/* Switches from g0 to gp; returns, on g0, when gp switches back. */
static void execute(sched__m_t *mp, sched_g *gp, bool inherit)
{
    sched__p_t *pp = mp->p;
    run_prepare(mp, pp, gp);
    if (!inherit) {
        pp->schedtick++;
        pp->slice_start = sched__nanotime_coarse();
    }
    int64_t traced = sched__tracing() ? sched__trace_now() : 0;
    p_to_user(mp, pp);
    schedgen_running(gp);
    sched__fiber_switch(&mp->g0, &gp->fiber);
    /* Back on g0: from the goroutine now current, gp or one that gp (or a
     * successor) switched to directly (handoff_next). */
    sched_g *back = mp->curg;
    schedgen_saved(back);
    (void)p_from_user(mp); /* NULL: sysmon took the P meanwhile */
    if (traced) /* back is still ours: its mcall_fn has not run yet */
        sched__trace_running(back->goid, traced, pp->id, mp->id);
}

/* Go's exitsyscall, for an M that sysmon took the P from while its goroutine
 * ran: gp, the goroutine to resume (NULL if it parked or returned), runs on
 * an idle P if there is one; otherwise it waits on the global queue and the
 * M sleeps until it is given a P. Returns what to run next (the M then
 * holds a P); NULL with a P: look for work.
 *
 * When gp parked, it may have parked on the poller just after sysmon, which
 * had handed the P off idle, went to sleep (every P idle, and no waiter on
 * the poller yet): then no M is left awake to poll for it, and it would
 * wait for ever. So this M does what findrunnable does last: it blocks in
 * the poller if goroutines wait there and nobody else does. (Seen under
 * valgrind: test_fd_write_whole's writer never woke.) */
static sched_g *exitsyscall(sched__m_t *mp, sched_g *gp)
{
    if (gp) {
        sched__lock(&sched__state.lock);
        sched__p_t *pp = pidleget_locked();
        if (pp) {
            acquirep(mp, pp);
            sched__unlock(&sched__state.lock);
            return gp;
        }
        sched__globrunqput_locked(gp);
        sched__unlock(&sched__state.lock);
    } else {
        bool retry;
        sched_g *next = netpoll_blocking(mp, &retry);
        if (next || retry)
            return next;
    }
    stopm(mp);
    return NULL;
}

/* The M's loop, on g0. After each goroutine switches back, g0 carries out
 * what it asked for (mcall_fn), which may name a goroutine to resume at once.
 */
static void schedule(sched__m_t *mp)
{
    for (;;) {
        bool inherit;
        sched_g *gp = findrunnable(mp, &inherit);
        if (mp->spinning)
            resetspinning(mp);
        while (gp) {
            execute(mp, gp, inherit);
            sched_g *from = mp->curg;
            mp->curg = NULL;
            from->m = NULL;
            gp = mp->mcall_fn(mp, from);
            if (!mp->p)
                gp = exitsyscall(mp, gp);
            inherit = true;
        }
    }
}

/* Go's mcall: switches from the running goroutine gp to its M's g0, which
 * calls fn(m, gp). Returns when gp is next run, possibly on another M. */
void sched__mcall(sched_g *gp, sched_g *(*fn)(sched__m_t *, sched_g *))
{
    sched__m_t *mp = gp->m;
    mp->mcall_fn = fn;
    sched__fiber_switch(&gp->fiber, &mp->g0);
    sched__switched_in(sched__getm()); /* resumed by a handoff */
}

/* ---- gopark, goready, gosched -------------------------------------------- */

/* On g0 for a goroutine that parked. */
static sched_g *park_m(sched__m_t *mp, sched_g *gp)
{
    bool (*unlockf)(sched_g *, void *) = mp->waitunlockf;
    void *arg = mp->waitlock;
    mp->waitunlockf = NULL;
    mp->waitlock = NULL;
    sched__casgstatus(gp, SCHED__Grunning, SCHED__Gwaiting);
    /* The block is stamped before unlockf publishes gp, so it precedes the
     * waker's unblock; it is written only if gp really sleeps. */
    int64_t traced = sched__tracing() ? sched__trace_now() : 0;
    uint64_t goid = gp->goid;
    sched_wait_reason_t reason = gp->wait_reason;
    /* From here on, once unlockf has published gp, another thread may ready
     * and run it: touch gp only if unlockf refused. */
    if (unlockf && !unlockf(gp, arg)) {
        sched__casgstatus(gp, SCHED__Gwaiting, SCHED__Grunnable);
        if (traced)
            sched__trace_wait_clear();
        return gp; /* resume at once, in the same time slice */
    }
    if (traced)
        sched__trace_block(goid, traced, reason);
    return NULL;
}

/* ---- the direct handoff ------------------------------------------------
 * A goroutine that parks while the goroutine it readied waits in runnext
 * (a ping-pong, a daisy chain, a pipeline stage) switches to it directly,
 * not through g0: one context switch instead of two, and none of the
 * scheduler's loop. Only when g0 would have taken that goroutine at once
 * (handoff_next): not while tracing, not when the slice is spent, nor when
 * the global queue's turn (injected goroutines, every 61st slice) comes. The
 * P stays held ("sched") across the switch; the goroutine switched to
 * finishes what g0 would have done for the one that parked (park_m), then
 * gives its P back to sysmon's reach (handoff_finish). Go always passes
 * through g0; with GOCHAN_DIRECT_HANDOFF=0 (or sched__set_direct_handoff)
 * gochan does too. */
static bool direct_handoff;

/* The goroutine in mp's runnext, taken, when the scheduler would run it next
 * as its goroutine parks; mp then holds its P "sched". NULL otherwise, with
 * the P as it was (or lost to sysmon: then mp->p is NULL). */
static sched_g *handoff_next(sched__m_t *mp)
{
    sched__p_t *pp = mp->p;
    if (!pp || !atomic_load_explicit(&pp->runnext, memory_order_relaxed) ||
        sched__tracing() || !(pp = p_from_user(mp)))
        return NULL;
    /* findrunnable's first steps, as far as they would leave runnext next */
    end_spent_slice(pp);
    sched_g *next = NULL;
    if (!injected_turn(pp) && !global_turn(pp) &&
        (next = sched__runnext_take(pp)))
        pp->injected_last = false; /* as injected_first, passing its turn */
    else
        p_to_user(mp, pp);
    return next;
}

/* What g0 does after a goroutine parks (schedule's loop, park_m), done by
 * the goroutine that mp switched to directly: the one that parked, `from`,
 * is saved now, so it may be published (unlockf). As on g0, mp has no
 * current goroutine meanwhile and holds its P "sched": goready, called by
 * unlockf, uses the P as it is. */
static void handoff_finish(sched__m_t *mp, sched_g *from)
{
    sched_g *gp = mp->curg;
    mp->handoff_from = NULL;
    mp->curg = NULL;
    schedgen_saved(from);
    from->m = NULL;
    sched_g *again = park_m(mp, from);
    if (again) /* unlockf said no: it runs next */
        sched__runqput(mp->p, again, true);
    mp->curg = gp;
    p_to_user(mp, mp->p);
}

uint64_t sched__handoff_count(void)
{
    uint64_t n = 0;
    for (sched__m_t *mp = atomic_load_explicit(&allm, memory_order_acquire); mp;
         mp = mp->alllink)
        n += atomic_load_explicit(&mp->handoffs, memory_order_relaxed);
    return n;
}

void sched__switched_in(sched__m_t *mp)
{
    if (mp && mp->handoff_from)
        handoff_finish(mp, mp->handoff_from);
}

/* execute for next, from gp's stack: gp parks, next runs (inheriting the
 * time slice, as runnext's goroutine does). Returns when gp runs again.
 * Named as sched__mcall is: the traceback leaves out the sched__ frames on
 * top of a parked goroutine's stack. */
static void sched__handoff(sched__m_t *mp, sched_g *gp, sched_g *next)
{
    run_prepare(mp, mp->p, next);
    mp->handoff_from = gp;
    /* relaxed: a count that only this M writes */
    atomic_store_explicit(
        &mp->handoffs,
        atomic_load_explicit(&mp->handoffs, memory_order_relaxed) + 1,
        memory_order_relaxed);
    schedgen_running(next);
    sched__fiber_switch(&gp->fiber, &next->fiber);
    sched__switched_in(sched__getm());
}

void sched_gopark(bool (*unlockf)(sched_g *gp, void *arg), void *arg,
                  sched_wait_reason_t wait_reason)
{
    sched__m_t *mp = sched__getm();
    sched_g *gp = mp ? mp->curg : NULL;
    sched__invariant(gp != NULL, "sched_gopark: not on a goroutine");
    if (!gp)
        abort();
    gp->wait_reason = wait_reason;
    mp->waitunlockf = unlockf;
    mp->waitlock = arg;
    sched_g *next = direct_handoff ? handoff_next(mp) : NULL;
    if (next)
        sched__handoff(mp, gp, next);
    else
        sched__mcall(gp, park_m);
}

/* The P a scheduler call may use for a moment: on a goroutine, its M's, taken
 * out of sysmon's reach (end with p_leave); on g0, the M's; NULL on a plain
 * pthread or when sysmon took the goroutine's P. */
sched__p_t *sched__p_enter(sched__m_t *mp)
{
    if (!mp)
        return NULL;
    return mp->curg ? p_from_user(mp) : mp->p;
}

/* Ends p_enter. On a goroutine, its P goes back within sysmon's reach. When
 * sysmon took it, the goroutine goes on without one, as it ran since the
 * retake, until its next park, yield or return finds a P (exitsyscall, in
 * schedule). It must not give up its thread here: goready and go are called
 * with locks held (a cancel closes Done under the context's lock), and a
 * goroutine descheduled holding one would stall every thread that needs it. */
void sched__p_leave(sched__m_t *mp, sched__p_t *pp)
{
    if (mp && mp->curg && pp)
        p_to_user(mp, pp);
}

void sched_goready(sched_g *gp)
{
    if (sched__tracing())
        sched__trace_unblock(gp->goid);
    sched__casgstatus(gp, SCHED__Gwaiting, SCHED__Grunnable);
    sched__m_t *mp = sched__getm();
    sched__p_t *pp = sched__p_enter(mp);
    if (pp) {
        sched__runqput(pp, gp, true);
        sched__wakep();
    } else {
        sched__inject(gp);
    }
    sched__p_leave(mp, pp);
}

void sched_goready_list(sched_g *const *gs, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (sched__tracing())
            sched__trace_unblock(gs[i]->goid);
        sched__casgstatus(gs[i], SCHED__Gwaiting, SCHED__Grunnable);
    }
    sched__m_t *mp = sched__getm();
    sched__p_t *pp = sched__p_enter(mp);
    if (pp) {
        for (size_t i = 0; i < n; i++)
            sched__runqput(pp, gs[i], false);
        sched__wakep();
    } else {
        link_list(gs, n); /* before the lock, which the Ms wait for */
        sched__lock(&sched__state.lock);
        sched__globrunqputbatch_inject_locked(gs[0], gs[n - 1], (int32_t)n);
        sched__p_t *idle;
        for (size_t i = 0; i < n && (idle = pidleget_spinning_locked()); i++)
            sched__startm(idle, false, true);
        sched__unlock(&sched__state.lock);
    }
    sched__p_leave(mp, pp);
}

static sched_g *gosched_m(sched__m_t *mp, sched_g *gp)
{
    (void)mp;
    sched__casgstatus(gp, SCHED__Grunning, SCHED__Grunnable);
    sched__lock(&sched__state.lock);
    sched__globrunqput_locked(gp);
    sched__unlock(&sched__state.lock);
    sched__wakep();
    return NULL;
}

void sched_gosched(void)
{
    sched__m_t *mp = sched__getm();
    if (!mp || !mp->curg) {
        sched_yield();
        return;
    }
    sched__mcall(mp->curg, gosched_m);
}

/* Go preempts a goroutine that has run for 10 ms; C code cannot be
 * interrupted, so code that may loop for long without parking (I/O that
 * keeps succeeding, an accept loop under a burst of connections) offers the
 * processor here. Without it sysmon retakes the P after 10 ms and hands it
 * to another M: the goroutine goes on as if in a system call, and an M is
 * started when none is idle (the echo server's accept loop grew its
 * threads so). */
void sched_preempt_point(void)
{
    sched__m_t *mp = sched__getm();
    if (!mp || !mp->curg)
        return;
    sched__p_t *pp = sched__p_enter(mp);
    bool spent =
        pp &&
        sched__nanotime_coarse() - pp->slice_start >= SCHED__TIME_SLICE_NS &&
        (!sched__runqempty(pp) || sched__globrunqsize() > 0);
    sched__p_leave(mp, pp);
    if (spent)
        sched__mcall(mp->curg, gosched_m);
}

/* ---- starting and ending goroutines -------------------------------------- */

/* Go's ncpu: the CPUs this process may run on, read once. */
int sched__ncpu(void)
{
    static atomic_int ncpu; /* 0: not yet read */
    int n = atomic_load_explicit(&ncpu, memory_order_relaxed);
    if (n == 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0
                ? CPU_COUNT(&set)
                : 1;
        atomic_store_explicit(&ncpu, n, memory_order_relaxed);
    }
    return n;
}

static int maxprocs_default(void)
{
    const char *env = getenv("GOCHAN_MAXPROCS");
    if (env && *env >= '1' && *env <= '9') {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= SCHED__MAXPROCS_MAX)
            return (int)n;
    }
    int n = sched__ncpu();
    return n < SCHED__MAXPROCS_MAX ? n : SCHED__MAXPROCS_MAX;
}

/* GOCHAN_DIRECT_HANDOFF=0 turns the direct handoff off (on by default). */
static bool direct_handoff_default(void)
{
    const char *env = getenv("GOCHAN_DIRECT_HANDOFF");
    return !(env && strcmp(env, "0") == 0);
}

void sched__p_init(sched__p_t *pp, int id)
{
    memset(pp, 0, sizeof *pp);
    pp->id = id;
}

static void free_allp(int n)
{
    for (int i = 0; i < n; i++)
        free(sched__allp[i]);
    free(sched__allp);
    sched__allp = NULL;
}

/* Makes the Ps (all idle) and the first M (idle, asleep): 0, ENOMEM or
 * EAGAIN. Under start_lock, once. */
static int start_locked(void)
{
    int n = maxprocs_wanted ? maxprocs_wanted : maxprocs_default();
    sched__allp = calloc((size_t)n, sizeof *sched__allp);
    if (!sched__allp)
        return ENOMEM;
    for (int i = 0; i < n; i++) {
        if (!(sched__allp[i] = malloc(sizeof *sched__allp[i]))) {
            free_allp(i);
            return ENOMEM;
        }
        sched__p_init(sched__allp[i], i);
    }
    sched__nprocs = n;
    sched__fences_setup(symmetric_fences_wanted); /* before any M runs */
    direct_handoff = direct_handoff_wanted >= 0 ? direct_handoff_wanted
                                                : direct_handoff_default();
    sched__m_t *m0 = allocm();
    if (!m0) {
        free_allp(n);
        return ENOMEM;
    }
    sched__lock(&sched__state.lock);
    for (int i = n - 1; i >= 0; i--)
        sched__pidleput_locked(sched__allp[i]);
    mput_locked(m0); /* before it runs: startm can find it at once */
    sched__state.mcount = 1;
    sched__unlock(&sched__state.lock);
    int err = newm(m0, NULL, false);
    if (!err)
        (void)sched__signal_install(); /* a nicety: best effort */
    if (err) {
        sched__lock(&sched__state.lock);
        sched__state.midle = NULL;
        sched__state.nmidle = 0;
        sched__state.mcount = 0;
        sched__state.pidle = NULL;
        atomic_store_explicit(&sched__state.npidle, 0, memory_order_relaxed);
        m0->schedlink = mspare; /* in allm: never freed */
        mspare = m0;
        sched__unlock(&sched__state.lock);
        free_allp(n);
        sched__nprocs = 0;
        return EAGAIN;
    }
    return 0;
}

int sched__start(void)
{
    /* acquire: pairs with the release below; sched__allp and sched__nprocs are
     * set. */
    if (!atomic_load_explicit(&started, memory_order_acquire)) {
        sched__lock(&start_lock);
        int err = 0;
        if (!atomic_load_explicit(&started, memory_order_relaxed)) {
            err = start_locked();
            if (!err)
                atomic_store_explicit(&started, true, memory_order_release);
        }
        sched__unlock(&start_lock);
        if (err)
            return err;
    }
    sched__sysmon_start();
    return 0;
}

/* A setting for the scheduler about to start: 0, or EBUSY once started. */
static int set_before_start(int *setting, int value)
{
    sched__lock(&start_lock);
    int err = atomic_load_explicit(&started, memory_order_relaxed) ? EBUSY : 0;
    if (!err)
        *setting = value;
    sched__unlock(&start_lock);
    return err;
}

int sched__set_maxprocs(int n)
{
    if (n < 1 || n > SCHED__MAXPROCS_MAX)
        return EINVAL;
    return set_before_start(&maxprocs_wanted, n);
}

int sched__set_symmetric_fences(bool symmetric)
{
    return set_before_start(&symmetric_fences_wanted, symmetric);
}

int sched__set_direct_handoff(bool on)
{
    return set_before_start(&direct_handoff_wanted, on);
}

int sched__gomaxprocs(void)
{
    return atomic_load_explicit(&started, memory_order_acquire) ? sched__nprocs
                                                                : 0;
}

int sched__mcount(void)
{
    sched__lock(&sched__state.lock);
    int n = sched__state.mcount;
    sched__unlock(&sched__state.lock);
    return n;
}

/* ---- fork ---------------------------------------------------------------- */

/* The child of fork() has one thread, the one that forked: the parent's Ms,
 * sysmon and the goroutines they ran do not exist in it, and any lock of
 * ours may have been held by one of them at the fork. Go does not support a
 * forked child that goes on running Go code (syscall.forkExec's child only
 * execs; runtime_AfterForkInChild just resets signals), so there is no
 * Go behaviour to follow beyond "nothing of the parent's runs": the child
 * gets a fresh scheduler, as if none had started, at the GOMAXPROCS that
 * sched__set_maxprocs asked for (or the default). The parent's goroutines
 * are lost, their memory left where it is (their stacks, gs, Ps and Ms,
 * which a parent thread may have been changing at the fork). A goroutine
 * that forks goes on in the child as a plain thread (its M is gone); should
 * its fn return there, the thread ends (sched__thread_goexit). */
/* What the child forgets, still pointed to: leak checkers (valgrind in the
 * child) see the parent's memory as reachable, not lost. */
__attribute__((used)) static struct {
    sched__p_t **allp;
    sched_g *allgs, *gfree, *runqhead;
    sched__m_t *midle;
} forgotten;

static void sched_atfork_child(void)
{
    tls_m = NULL;
    forgotten.allp = sched__allp;
    forgotten.allgs = sched__state.allgs;
    forgotten.gfree = sched__state.gfree;
    forgotten.runqhead = sched__state.runqhead;
    forgotten.midle = sched__state.midle;
    mspare = NULL; /* in allm; its lock went with sched__state */
    sched__state = (sched__schedt_t){
        .lock = SCHED__LOCK_INIT,
        .gflock = SCHED__LOCK_INIT,
        .allglock = SCHED__LOCK_INIT,
    };
    sched__noteclear(&sched__state.sysmonnote);
    start_lock = (sched__lock_t)SCHED__LOCK_INIT;
    sched__allp = NULL;
    sched__nprocs = 0;
    atomic_store_explicit(&started, false, memory_order_relaxed);
    sched__goroutine_atfork_child();
    sched__sysmon_atfork_child();
    sched__stack_atfork_child();
    sched__thread_atfork_child();
}

/* At load, before any fork can matter: every child is covered, and
 * pthread_atfork cannot fail later, when a goroutine starts. A failure
 * (ENOMEM at load) leaves children as before. */
__attribute__((constructor)) static void sched_atfork_init(void)
{
    (void)pthread_atfork(NULL, NULL, sched_atfork_child);
}
