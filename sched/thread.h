/* thread.h: internal to gochan, never installed; every layer may include it.
 * How gochan starts a thread of its own: chan_go_locked's and GOCHAN_SCHED=0's
 * goroutine threads, sysmon, the timer thread, the signal delivery thread and
 * the dump printer. (The scheduler's Ms are started by proc.c's newm, which
 * sizes and signals them itself.)
 */
#ifndef GOCHAN_THREAD_H
#define GOCHAN_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The stack of every thread gochan starts: enough for its own code and for
 * the user code a goroutine thread runs, small enough for thousands. */
#define CHAN__THREAD_STACK_SIZE (256u * 1024u)

/* Starts fn(arg) on a new detached thread with a CHAN__THREAD_STACK_SIZE
 * stack. Returns 0, or an errno value (EAGAIN: no more threads; ENOMEM) and
 * then fn never runs. Every attribute error is reported, none ignored. */
int chan__thread_start(void *(*fn)(void *arg), void *arg);

/* chan__thread_start with a stack of stack_size bytes (pthread's limits). */
int chan__thread_start_stack(void *(*fn)(void *arg), void *arg,
                             size_t stack_size);

/* go fn(arg) on a thread of its own: fn(arg) on a chan__thread_start thread.
 * 0, ENOMEM, or chan__thread_start's errno; then fn never runs. */
int chan__thread_go(void (*fn)(void *arg), void *arg);

/* chan__thread_go with options: when copy, fn receives a private copy of the
 * size bytes at arg, kept with the thread's start record (one malloc) until
 * fn returns; a stack of stack_size bytes (0: CHAN__THREAD_STACK_SIZE). */
int chan__thread_go_with(void (*fn)(void *arg), const void *arg, bool copy,
                         size_t size, size_t stack_size);

/* How many fns started by chan__thread_go have not yet returned. */
int64_t chan__thread_go_running(void);

#endif /* GOCHAN_THREAD_H */
