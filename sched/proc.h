/* proc.h: internal to gochan, never installed. The scheduler's structures
 * (Go's g, m, p and schedt) and the functions that proc.c, runq.c and the
 * tests share. scheduler.h is the interface for the layers above; this header
 * is for sched/ itself and its test suite.
 */
#ifndef GOCHAN_SCHED_PROC_H
#define GOCHAN_SCHED_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "fiber.h"
#include "internal/lock.h"
#include "internal/scheduler.h"

/* A goroutine's status (Go's _G* constants). Changed only by casgstatus in
 * proc.c, which checks each transition:
 *   Gdead -> Grunnable            sched_go
 *   Grunnable -> Grunning         an M starts running it
 *   Grunning -> Gwaiting          sched_gopark
 *   Gwaiting -> Grunnable         sched_goready, or unlockf said no
 *   Grunning -> Grunnable         sched_gosched
 *   Grunning -> Gdead             its fn returned
 */
enum {
    SCHED__Gidle = 0, /* just allocated, never used */
    SCHED__Grunnable, /* on a run queue, not running */
    SCHED__Grunning,  /* running on an M that holds a P */
    SCHED__Gwaiting,  /* parked; only sched_goready makes it runnable */
    SCHED__Gdead,     /* unused: on a free list, or returned */
};

struct sched_g {
    sched__fiber_t fiber;    /* its context, saved while not running */
    sched__stack_t stack;    /* from the stack pool; given back on return */
    _Atomic uint32_t status; /* SCHED__G*; see casgstatus */
    /* mp->execs when the M ran_on last ran it: execute skips the prefetch
     * of a stack that ran moments ago on the same core. */
    uint32_t ran_at;
    /* Next in the global run queue or a free list. Beside status: a thread
     * that readies a g writes both, and the M that takes the g reads both,
     * so the g's one line moves between them, not two. */
    sched_g *schedlink;
    struct sched__m *ran_on; /* the M that ran it last (see ran_at) */
    void (*fn)(void *);
    void *arg;
    uint64_t goid;
    sched_wait_reason_t wait_reason; /* as given to the last sched_gopark */
    /* For the traceback (traceback.c), a sequence count: odd while the g is
     * being made or runs (its stack and fields change), even while it is
     * parked, runnable or dead. Written only by whoever makes or runs it. */
    _Atomic uint32_t schedgen;
    struct sched__m *m;  /* the M running it, while Grunning */
    const void *gopc;    /* the return address of the go statement's call */
    uint64_t parentgoid; /* the goroutine that started it; 0: a thread */
    sched_g *alllink;    /* next in allgs (every g ever allocated) */
    /* sched_go_copy's private copy of the caller's args: in args_inline when
     * it fits (no malloc per start), else in args_heap, freed at its end. */
    void *args_heap;
    _Alignas(max_align_t) unsigned char args_inline[SCHED__G_ARGS_INLINE];
    /* sched_g_sudog's storage, on a line of its own (gs are allocated
     * line-aligned, allocg). */
    _Alignas(SCHED_G_SUDOG_SIZE) unsigned char sudog[SCHED_G_SUDOG_SIZE];
};

/* A P's local run queue: Go's 256-entry ring. */
#define SCHED__RUNQ_SIZE 256

/* Who holds a P and what its M is doing, in one word (p->status): the M's
 * address with a state in the low bits, or 0 for an idle P (nobody holds it,
 * or sysmon has just taken it). One word, so that sysmon's retake and the
 * M's return to the scheduler race on it alone (pclaim.c); the M's address
 * in it makes a retaken and re-held P look different to the M that lost
 * it. */
enum {
    SCHED__Pidle = 0,
    SCHED__Psched = 1, /* its M is in the scheduler: only it touches the P */
    SCHED__Puser = 2,  /* its M runs a goroutine's code: sysmon may retake */
    SCHED__PSTATE_MASK = 3,
};

typedef struct sched__p {
    int id;
    /* SCHED__Pidle, or (uintptr_t)m | SCHED__Psched or SCHED__Puser. */
    _Atomic uintptr_t status;
    struct sched__p *link; /* next idle P, under sched.lock */
    /* Bumped by the holder each time it starts a goroutine: sysmon's sign
     * that the P reached a scheduling point (Go's schedtick, read by
     * sysmon). Relaxed: a hint. */
    _Atomic uint32_t ticks;
    /* sysmon's alone: the status and ticks it saw last, and since when. */
    uintptr_t sysmon_status;
    uint32_t sysmon_ticks;
    int64_t sysmon_when;
    int64_t sysmon_probe_at; /* no /proc probe of the M before (ns) */
    /* sysmon is deciding whether to take the P from its M (pclaim.c). */
    _Atomic uint32_t retaking;

    /* The run queue. Only the P's owner adds (runqput) and moves the tail;
     * the owner and stealers take from the head with a CAS. Slots are atomic
     * because a stealer with a stale head may read a slot the owner is
     * rewriting (its CAS then fails). */
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(sched_g *) runq[SCHED__RUNQ_SIZE];
    /* The goroutine to run next, ahead of runq: the one the running
     * goroutine just readied. It inherits the time slice of the goroutine
     * that readied it. Owner and stealers take it with a CAS. */
    _Atomic(sched_g *) runnext;

    /* The owner's alone (whichever M holds the P). */
    uint32_t schedtick;  /* goroutines started on a fresh time slice */
    bool injected_last;  /* the last one came from the injected prefix */
    int64_t slice_start; /* when the current time slice began (coarse ns) */
    sched_g *gfree;      /* free gs (Gdead; each may keep its stack) */
    int gfree_n;
} sched__p_t;

/* A worker thread (Go's m). */
typedef struct sched__m {
    sched__fiber_t g0;  /* the thread's own stack, where schedule() runs */
    sched_g *curg;      /* the goroutine it runs, or NULL on g0 */
    sched__p_t *p;      /* the P it holds, or NULL */
    sched__p_t *nextp;  /* the P handed to it by startm, to acquire */
    bool spinning;      /* out of work, looking for some; in nmspinning */
    bool start_idle;    /* starts asleep on the idle list (the first M) */
    sched__note_t park; /* where it sleeps when idle */
    int tid;            /* its kernel thread id, for sysmon (set at start) */
    struct sched__m *schedlink; /* next idle M, under sched.lock */
    /* What g0 does for the goroutine that switched to it (Go's mcall fn),
     * and gopark's arguments. */
    sched_g *(*mcall_fn)(struct sched__m *mp, sched_g *gp);
    bool (*waitunlockf)(sched_g *gp, void *arg);
    void *waitlock;
    /* It is taking its P back from its goroutine's code (pclaim.c). */
    _Atomic uint32_t claiming;
    uint32_t fastrand; /* for the order in which Ps are robbed */
    uint32_t execs;    /* goroutines it has switched to */
    /* The goroutine that switched to the current one directly, whose park
     * the current one finishes (proc.c, "the direct handoff"). */
    sched_g *handoff_from;
    _Atomic uint64_t handoffs; /* direct handoffs so far (its own writes) */
    struct sched__m *alllink;  /* next in allm (proc.c) */
    int id;
} sched__m_t;

/* ---- run queues (runq.c) -------------------------------------------------
 * Called by pp's owner, except runqsteal (pp's owner robs p2) and
 * runqempty (anyone). */

/* Puts gp on pp's local queue; into runnext when next (the goroutine there
 * before moves to the tail). When the ring is full, half of it and gp go to
 * the global queue. */
void sched__runqput(sched__p_t *pp, sched_g *gp, bool next);

/* Takes a goroutine from pp's local queue, runnext first; *inherit says
 * whether it continues the current time slice (runnext's does). */
sched_g *sched__runqget(sched__p_t *pp, bool *inherit);

/* Takes pp's runnext alone; NULL when it is empty or a thief took it. */
sched_g *sched__runnext_take(sched__p_t *pp);

/* Steals half of p2's ring into pp's and returns one of them; p2's runnext
 * too when steal_runnext and the ring is empty. */
sched_g *sched__runqsteal(sched__p_t *pp, sched__p_t *p2, bool steal_runnext);

bool sched__runqempty(sched__p_t *pp);
uint32_t sched__runqlen(sched__p_t *pp); /* ring only, without runnext */

/* ---- shared with runq.c and the tests (proc.c) ----------------------------
 */

/* Zeroes pp and gives it an id: a P for the tests' run-queue checks. */
void sched__p_init(sched__p_t *pp, int id);

/* Appends head..tail (n goroutines linked by schedlink) to the global run
 * queue; takes sched.lock. */
void sched__globrunqputbatch(sched_g *head, sched_g *tail, int32_t n);

/* Moves a share of the global run queue (at most max when max > 0) to pp's
 * local queue, which must have room, and returns one more; NULL when the
 * global queue is empty. Takes sched.lock. */
sched_g *sched__globrunqget(sched__p_t *pp, int32_t max);
int32_t sched__globrunqsize(void);

/* Coarse monotonic time in ns (CLOCK_MONOTONIC_COARSE: a few ns to read,
 * ms resolution: enough for 10 ms time slices). */
int64_t sched__nanotime_coarse(void);

/* A P whose goroutines have handed it to each other through runnext for
 * this long gives it up at the next scheduling point (Go's forcePreemptNS):
 * the goroutine in runnext goes to the global queue, as Go's preemption
 * sends the running one there. */
#define SCHED__TIME_SLICE_NS (10 * 1000 * 1000)

/* GOMAXPROCS: before the scheduler starts, sched__set_maxprocs sets it (0, or
 * EINVAL outside [1, SCHED__MAXPROCS_MAX], EBUSY once started); otherwise
 * GOCHAN_MAXPROCS or the number of CPUs this process may use. */
#define SCHED__MAXPROCS_MAX 1024
int sched__set_maxprocs(int n);
int sched__gomaxprocs(void); /* 0 until the scheduler starts */
int sched__ncpu(void);       /* CPUs this process may run on (affinity) */

/* ---- the P between its M and sysmon, the asymmetric fences (pclaim.c) ----
 * sched__p_claim: mp, back from its goroutine's code, takes its P (status
 * "mp, user") back to "mp, sched"; false when sysmon took it (then mp must not
 * touch it). sched__p_retake: sysmon takes pp from the M in `user` ("M,
 * user") to idle; false when the M came back first. Both fenced by a
 * membarrier where Linux has one (sched__fence_asymmetric), else CASes.
 * sched__fences_setup chooses at the scheduler's start (symmetric: CASes and
 * full fences if asked); sched__set_symmetric_fences(true) asks (0, or EBUSY
 * once started). */
void sched__fences_setup(bool symmetric);
bool sched__p_retake(sched__p_t *pp, uintptr_t user);
int sched__set_symmetric_fences(bool symmetric);
/* Whether the heavy side of each asymmetric fence is a membarrier (set
 * before any M starts): then the light side is a compiler barrier. */
extern bool sched__fence_asymmetric;
void sched__p_wait_retake(sched__p_t *pp);

/* The two sides of a Dekker-style handshake whose one side runs far more
 * often than the other (pclaim.c): the light side stores, fences lightly,
 * then loads; the heavy side stores, fences heavily, then loads. */
static inline void sched__fence_light(void)
{
    if (sched__fence_asymmetric)
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}
void sched__fence_heavy(void);

/* The direct handoff (proc.c): on or off for the scheduler about to start
 * (0, or EBUSY once started); otherwise GOCHAN_DIRECT_HANDOFF decides. */
int sched__set_direct_handoff(bool on);
uint64_t sched__handoff_count(void); /* direct handoffs so far, all Ms */

/* Every goroutine calls it when it starts running or resumes from a switch:
 * it finishes the park of the goroutine that switched to it directly. */
void sched__switched_in(sched__m_t *mp);

/* Worker threads started so far (0 until the first sched_go). */
int sched__mcount(void);

/* Calls fn for every g ever allocated (live or on a free list), under the
 * lock that protects that list: fn must not start goroutines. */
void sched__forallg(void (*fn)(sched_g *gp, void *arg), void *arg);
uint32_t sched__gstatus(sched_g *gp);

/* The P's holder and what it does (see proc.h); PSTATE_M is NULL when idle. */
#define PSTATE(mp, state) ((uintptr_t)(mp) | (uintptr_t)(state))
#define PSTATE_M(st)      ((sched__m_t *)((st) & ~(uintptr_t)SCHED__PSTATE_MASK))
#define PSTATE_STATE(st)  ((st) & (uintptr_t)SCHED__PSTATE_MASK)

/* Inline: every park and every goready claims the P, twice per handoff. */
static inline bool sched__p_claim(sched__m_t *mp, sched__p_t *pp)
{
    uintptr_t mine = PSTATE(mp, SCHED__Puser);
    if (!sched__fence_asymmetric)
        /* relaxed: on success nobody else wrote to the P; on failure we
         * leave it alone. */
        return atomic_compare_exchange_strong_explicit(
            &pp->status, &mine, PSTATE(mp, SCHED__Psched), memory_order_relaxed,
            memory_order_relaxed);
    atomic_store_explicit(&mp->claiming, 1, memory_order_relaxed);
    sched__fence_light(); /* sysmon's membarrier is the heavy side */
    /* acquire: a retake that ended before is seen whole (the status). */
    if (atomic_load_explicit(&pp->retaking, memory_order_acquire))
        sched__p_wait_retake(pp);
    /* acquire: after a retake, what sysmon and the P's next holder wrote. */
    bool ours = atomic_load_explicit(&pp->status, memory_order_acquire) == mine;
    if (ours)
        atomic_store_explicit(&pp->status, PSTATE(mp, SCHED__Psched),
                              memory_order_relaxed);
    /* release: sysmon, seeing no claim, sees the status stored above. */
    atomic_store_explicit(&mp->claiming, 0, memory_order_release);
    return ours;
}

/* Go's schedt: the scheduler's global state (proc.c). Fields under lock
 * unless said otherwise. */
typedef struct sched__schedt {
    sched__lock_t lock;

    sched_g *runqhead, *runqtail; /* the global run queue, via schedlink */
    _Atomic int32_t runqsize;     /* written under lock; peeked without */

    sched__p_t *pidle;      /* idle Ps, via link */
    _Atomic int32_t npidle; /* written under lock; peeked without */
    sched__m_t *midle;      /* idle Ms, via schedlink */
    int32_t nmidle;
    int32_t mcount;                /* Ms started */
    _Atomic int32_t nmspinning;    /* spinning Ms; see wakep */
    _Atomic uint32_t needspinning; /* a submitter found no idle P */

    int32_t npollm; /* Ms in netpoll_blocking: in epoll_wait, or on their
                       way from it to take an idle P */

    bool sysmonwait;          /* sysmon sleeps on sysmonnote: every P idle */
    sched__note_t sysmonnote; /* where; pidleget wakes it */

    sched__lock_t gflock; /* the global free gs */
    sched_g *gfree;
    int32_t ngfree;

    sched__lock_t allglock; /* every g ever allocated */
    sched_g *allgs;

    /* Goroutines readied by threads without a P (sched__inject: main, the
     * timer thread, sysmon's poll) wait at the head of the global queue,
     * ahead of the rest, for the next scheduling point of a busy P (see
     * "Fairness" in proc.c). runqinjtail is the last of them (under lock),
     * runqninj their number: written under lock, peeked at every
     * scheduling point, so on a cache line of its own. */
    sched_g *runqinjtail;
    _Alignas(64) _Atomic int32_t runqninj;
} sched__schedt_t;

extern sched__schedt_t sched__state;
/* Set once, under proc.c's start lock, before the scheduler is published as
 * started (release); read after an acquire load of that. */
extern sched__p_t **sched__allp;
extern int sched__nprocs; /* GOMAXPROCS */

/* For sysmon.c: proc.c's startm and pidleput (sched__state.lock held). */
void sched__startm(sched__p_t *pp, bool spinning, bool lock_held);
void sched__pidleput_locked(sched__p_t *pp);

/* runq.c: the global run queue, under sched__state.lock: put one at the
 * tail, pop the head, and take a batch for pp (up to max; 0: Go's share). */
void sched__globrunqput_locked(sched_g *gp);
/* Puts gp after the goroutines injected before it, ahead of the rest; the
 * batch form does so for head..tail (n goroutines linked by schedlink, in
 * order), in one step however many there are. */
void sched__globrunqput_inject_locked(sched_g *gp);
void sched__globrunqputbatch_inject_locked(sched_g *head, sched_g *tail,
                                           int32_t n);
sched_g *sched__globrunqpop_locked(void);
sched_g *sched__globrunqget_locked(sched__p_t *pp, int32_t max);

/* proc.c's scheduling, for goroutine.c: the calling thread's M (NULL on a
 * plain thread), a goroutine's status change (checked), waking an idle M for
 * new work, readying onto the global queue, switching to g0 (Go's mcall),
 * holding and leaving the M's P around a call from a goroutine, and starting
 * the scheduler (0 or an errno). */
sched__m_t *sched__getm(void);
void sched__casgstatus(sched_g *gp, uint32_t oldval, uint32_t newval);
void sched__wakep(void);
void sched__inject(sched_g *gp);
void sched__mcall(sched_g *gp, sched_g *(*fn)(sched__m_t *, sched_g *));
sched__p_t *sched__p_enter(sched__m_t *mp);
void sched__p_leave(sched__m_t *mp, sched__p_t *pp);
int sched__start(void);

/* sysmon.c: starts the monitor once (a failure is retried at the next
 * sched_go). */
void sched__sysmon_start(void);
/* 1 once sysmon's thread exists, else 0 (the deadlock check counts it). */
int sched__sysmon_nthreads(void);

/* The child of fork() gets a fresh scheduler (proc.c, "fork"): each file
 * forgets its part of the parent's. */
void sched__sysmon_atfork_child(void);
void sched__goroutine_atfork_child(void);

#endif /* GOCHAN_SCHED_PROC_H */
