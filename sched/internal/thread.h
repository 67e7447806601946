/* thread.h: internal to gochan, never installed; every layer may include it.
 * How gochan starts a thread of its own: chan_go_locked's and GOCHAN_SCHED=0's
 * goroutine threads, sysmon, the timer thread, the signal delivery thread and
 * the dump printer. (The scheduler's Ms are started by proc.c's newm, which
 * sizes and signals them itself.)
 */
#ifndef GOCHAN_THREAD_H
#define GOCHAN_THREAD_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* The stack of every thread gochan starts: enough for its own code and for
 * the user code a goroutine thread runs, small enough for thousands. */
#define SCHED__THREAD_STACK_SIZE (256u * 1024u)

/* Starts fn(arg) on a new detached thread with a SCHED__THREAD_STACK_SIZE
 * stack. Returns 0, or an errno value (EAGAIN: no more threads; ENOMEM) and
 * then fn never runs. Every attribute error is reported, none ignored. */
int sched__thread_start(void *(*fn)(void *arg), void *arg);

/* sched__thread_start with a stack of stack_size bytes (pthread's limits). */
int sched__thread_start_stack(void *(*fn)(void *arg), void *arg,
                              size_t stack_size);

/* go fn(arg) on a thread of its own: fn(arg) on a sched__thread_start thread.
 * 0, ENOMEM, or sched__thread_start's errno; then fn never runs. */
int sched__thread_go(void (*fn)(void *arg), void *arg);

/* sched__thread_go with options: when copy, fn receives a private copy of the
 * size bytes at arg, kept with the thread's start record (one malloc) until
 * fn returns; a stack of stack_size bytes (0: SCHED__THREAD_STACK_SIZE). */
int sched__thread_go_with(void (*fn)(void *arg), const void *arg, bool copy,
                          size_t size, size_t stack_size);

/* How many fns started by sched__thread_go have not yet returned. */
int64_t sched__thread_go_running(void);

/* Go's Goexit for a thread: ends the calling thread with pthread_exit, first
 * uncounting it when it runs a sched__thread_go fn. Never returns. */
_Noreturn void sched__thread_goexit(void);

/* In a forked child (proc.c's handler): the parent's go threads are gone. */
void sched__thread_atfork_child(void);

/* Signal masks, as Go's runtime sets them (signal_unix.go). A thread that
 * runs goroutines or a goroutine's code never inherits the mask of the
 * thread that started it (the signal delivery thread blocks everything, a
 * user's thread may block SIGINT): its creator blocks every signal around
 * pthread_create (Go's sigblock in newm/newosproc), so that nothing lands on
 * the new thread before it is ready, and the new thread first sets the
 * process's initial mask (Go's minitSignalMask with initSigmask), the mask
 * of the thread that loaded gochan, read by a constructor at load. The
 * synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) are never
 * blocked there: a blocked fault kills the process without the overflow
 * report (Go's blockableSig says the same).
 *
 * Which threads: the scheduler's Ms (newm, mstart) and sched__thread_go's
 * threads (GOCHAN_SCHED=0 goroutines, chan_go_locked, AfterFunc calls): in
 * Go they are goroutines, and a goroutine runs on an M with the initial
 * mask, never the one of whoever said go. gochan's own threads that run no
 * user code (the timer thread, sysmon, the dump printer, the signal delivery
 * thread, which must block everything) keep sched__thread_start's plain
 * pthread_create behaviour: they inherit their creator's mask. */
void sched__thread_sigblock_all(sigset_t *old); /* Go's sigblock(false) */
void sched__thread_sigrestore(const sigset_t *old);
void sched__thread_minit_sigmask(void); /* Go's minitSignalMask */

#endif /* GOCHAN_THREAD_H */
