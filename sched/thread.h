/* thread.h: internal to gochan, never installed; every layer may include it.
 * The one way gochan starts a thread of its own (goroutine threads, the timer
 * thread, the dump printer and, to come, the scheduler's Ms).
 */
#ifndef GOCHAN_THREAD_H
#define GOCHAN_THREAD_H

#include <stddef.h>
#include <stdint.h>

/* The stack of every thread gochan starts: enough for its own code and for
 * the user code a goroutine thread runs, small enough for thousands. */
#define CHAN__THREAD_STACK_SIZE (256u * 1024u)

/* Starts fn(arg) on a new detached thread with a CHAN__THREAD_STACK_SIZE
 * stack. Returns 0, or an errno value (EAGAIN: no more threads; ENOMEM) and
 * then fn never runs. Every attribute error is reported, none ignored. */
int chan__thread_start(void *(*fn)(void *arg), void *arg);

/* go fn(arg) on a thread of its own: fn(arg) on a chan__thread_start thread.
 * 0, ENOMEM, or chan__thread_start's errno; then fn never runs. */
int chan__thread_go(void (*fn)(void *arg), void *arg);

/* How many fns started by chan__thread_go have not yet returned. */
int64_t chan__thread_go_running(void);

#endif /* GOCHAN_THREAD_H */
