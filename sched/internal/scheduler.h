/* scheduler.h: internal to gochan, never installed. The goroutine scheduler.
 *
 * sched/ is gochan's bottom layer: what Go's runtime/proc.go does for Go.
 * Goroutines are stackful coroutines (a g, each with its own mmap'd stack)
 * multiplexed on a few worker threads (Ms). An M runs goroutines only while
 * it holds a P; there are GOMAXPROCS Ps, each with a local run queue. See the
 * essay at the top of proc.c for the design.
 *
 * This layer knows nothing of channels; chan/ builds on it. Status values are
 * 0 or an errno, never a gochan status code. Linux only (futex, madvise), on
 * x86-64 and AArch64 (the context switch is hand-written assembly).
 *
 * Caveat for code that runs on goroutines: a goroutine may resume on another
 * thread after any call that can park it (sched_gopark, sched_gosched, or
 * anything built on them). sched_goready and sched_go never give up the
 * thread, so they may be called with locks held; when sysmon has taken the
 * caller's P meanwhile, they use the global queue and the caller finds a P
 * at its next park, yield or return. Thread-local state, errno included,
 * must not be carried across a call that can park; pthread_self() may differ
 * after it. Code that must keep its thread runs under sched_go_locked.
 */
#ifndef GOCHAN_SCHED_H
#define GOCHAN_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "waitreason.h"

typedef struct sched_g sched_g; /* Go's g: one goroutine */

/* Whether this build has the scheduler. Where it has none (sched/nosched.c,
 * chosen by CMake), the API below still links: sched_getg is always NULL,
 * sched_go and its variants return ENOSYS, the queries return zero, and
 * parking or readying a goroutine, which cannot exist, aborts. */
bool sched_supported(void);

/* go fn(arg): starts a goroutine that runs fn(arg) on the scheduler. Returns
 * 0, or an errno, in which case nothing changed and fn never runs: ENOMEM (no
 * memory for the g or its stack), EAGAIN (the first worker thread could not
 * start), EINVAL (fn is NULL). The first call starts the scheduler: its Ps and
 * a first M; a program that never calls sched_go starts no thread. Callable
 * from any thread, goroutines included. */
int sched_go(void (*fn)(void *arg), void *arg);

/* sched_go of fn on a stack of stack_size bytes (rounded up to pages) rather
 * than the default: 0 means the default. A stack of another size than the
 * default is mapped for this goroutine alone and unmapped when it returns
 * (the pool keeps only default-size stacks). EINVAL outside
 * [SCHED__STACK_MIN, SCHED__STACK_MAX] (context.h), else as sched_go. */
int sched_go_stack(void (*fn)(void *arg), void *arg, size_t stack_size);

/* Go's `go f(a, b)`, whose arguments are evaluated and copied at the go
 * statement: sched_go_stack of fn with a private copy of the size bytes at
 * args, which fn receives and which lives until fn returns. The copy is
 * kept in the g itself when size <= SCHED__G_ARGS_INLINE (no allocation),
 * else in one malloc (ENOMEM when it fails). EINVAL for NULL args with
 * size > 0, else as sched_go_stack. */
#define SCHED__G_ARGS_INLINE 64
int sched_go_copy(void (*fn)(void *args), const void *args, size_t size,
                  size_t stack_size);

/* sched_go_stack and sched_go_copy for a wrapper (chan_go): pc is the return
 * address of the user's call, what the traceback prints as "created by" (the
 * others record their own caller). */
int sched_go_at(const void *pc, void (*fn)(void *arg), void *arg,
                size_t stack_size);
int sched_go_copy_at(const void *pc, void (*fn)(void *args), const void *args,
                     size_t size, size_t stack_size);

/* go func() { runtime.LockOSThread(); fn(arg) }() for C code that blocks
 * in the kernel or keeps per-thread state across its waits: runs fn(arg) on
 * a thread of its own for its whole life. Of Go's two designs this is the
 * simpler: a plain thread outside the scheduler, not a goroutine wired to an
 * M. So sched_getg() is NULL there and fn must not call sched_gopark; waits
 * built on the layers above block the thread as on any plain thread (chan/'s
 * parkers sleep on the futex), and sched_goready and sched_go from it go
 * through the global run queue. It is not counted by sched_num_goroutine and
 * does not start the scheduler. Returns 0, or an errno and fn never runs:
 * EINVAL (fn is NULL), ENOMEM, EAGAIN (no thread). */
int sched_go_locked(void (*fn)(void *arg), void *arg);

/* The running goroutine, or NULL on a plain pthread or an M's g0. */
sched_g *sched_getg(void);

/* Room in gp for the one blocked operation of the layer above (Go's sudog,
 * which Go takes from its P's cache): SCHED_G_SUDOG_SIZE bytes, aligned to
 * that size (a cache line), living as long as gp (gs are never freed). Why
 * in the g rather than on the goroutine's stack: a closer that wakes 100,000
 * goroutines walks their waiters one after another, and gs are allocated
 * side by side, where stacks are a page or more apart each (a cache and a
 * TLB miss per waiter, the walk's whole cost). Only gp itself, while it
 * runs, may decide to use it; whoever it publishes it to may touch it until
 * they ready gp. */
#define SCHED_G_SUDOG_SIZE 64
void *sched_g_sudog(sched_g *gp);

/* Go's gopark: parks the running goroutine (it must be one). Once its
 * registers are saved, the M's g0 calls unlockf(gp, arg) (when unlockf is not
 * NULL): this is where the caller publishes gp to whoever will wake it, and
 * typically releases the lock that protected its decision to sleep. If
 * unlockf returns false, gp resumes at once. Otherwise gp stays parked until
 * some thread calls sched_goready(gp); sched_gopark then returns, possibly on
 * another thread. wait_reason (waitreason.h) is for a
 * dump. unlockf runs on g0: it must not park and must not block for long. */
void sched_gopark(bool (*unlockf)(sched_g *gp, void *arg), void *arg,
                  sched_wait_reason_t wait_reason);

/* Go's goready: makes the parked gp runnable. Callable from any thread: on a
 * goroutine (or an M's g0) gp goes to this M's P, into its runnext slot, so
 * that gp runs next there (a handoff: what makes ping-pong fast); on a plain
 * pthread it goes to the global run queue and an idle M is woken (Go's
 * injectglist). gp must be parked, and readied only once per park. */
void sched_goready(sched_g *gp);

/* sched_goready for n goroutines at once (Go's injectglist): on a goroutine
 * into its P's queue, else onto the global queue under one lock, with as
 * many idle Ms woken as there is work and idle Ps. */
void sched_goready_list(sched_g *const *gs, size_t n);

/* runtime.Gosched: yields the processor; the running goroutine goes to the
 * global run queue and runs again later. On a plain pthread: sched_yield(). */
void sched_gosched(void);

/* Go's runtime.Goexit on a goroutine: ends it at once, as if its fn had
 * returned (its stack back to the pool, sched_num_goroutine one less); does
 * not return. On a plain thread it returns at once and does nothing. */
void sched_goexit(void);

/* A cooperative preemption point: on a goroutine whose time slice (10 ms)
 * is spent while others wait for its processor, yields as sched_gosched
 * does; otherwise returns at once (a few ns). For loops that may run long
 * without parking, such as net/'s I/O that keeps succeeding. */
void sched_preempt_point(void);

/* runtime.NumGoroutine: goroutines started by sched_go that have not yet
 * returned. */
int64_t sched_num_goroutine(void);

/* Go's sync_runtime_canSpin: whether a lock waiter in its iter-th round
 * (from 0) may spin rather than park. Only for a few rounds, only with
 * several CPUs, and on a goroutine only while another P runs (the owner may
 * be there) and its own P has nothing else to run. */
bool sched_canspin(int iter);

/* gp's goroutine id, unique for the life of the process (1, 2, ...). */
uint64_t sched_goid(sched_g *gp);

/* gp's wait reason, as given to its last sched_gopark, for a dump. */
sched_wait_reason_t sched_wait_reason(sched_g *gp);

#endif /* GOCHAN_SCHED_H */
