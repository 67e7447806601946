/* deadlock.h: internal to gochan, never installed; every layer may include
 * it. Go's checkdead: when it is provable that nothing in the process can
 * ever run again, print "fatal error: all goroutines are asleep - deadlock!"
 * and the goroutine dump to stderr and exit with status 2
 * (docs/scheduler.md, "Deadlock detection").
 *
 * Provable means every thread of the process (/proc/self/stat) is accounted
 * for as asleep for good: an idle M, a plain thread asleep in a gochan wait
 * (counted here by chan/'s parker), or an idle service thread of a layer
 * (the timer thread, sysmon, the signal delivery thread, the dump printer),
 * while no timer is pending, no goroutine waits on the network poller, no
 * signal is relayed to a channel and no handler gochan does not know is
 * installed for any signal. Anything else, or anything unknown, means no
 * report: a false one would kill a correct program.
 *
 * The check runs where Go's does: when the last M goes idle (proc.c's stopm)
 * and when a plain thread commits to sleep (chan/'s parker). It reads cheap
 * counters first and /proc only when those already say that everything is
 * quiet. A generation counter, bumped whenever an idle M or a sleeping plain
 * thread is woken, tells it that something woke while it looked.
 *
 * The layers above sched/ feed it: each registers a source for its service
 * thread and pending work (sched_deadlock_add_source), the signal handlers
 * of its own that cannot wake anything (sched_deadlock_add_handler), and
 * chan/ the dump the report prints (sched_deadlock_set_dump).
 *
 * GOCHAN_DEADLOCK=0 in the environment turns it off (read once).
 */
#ifndef GOCHAN_SCHED_DEADLOCK_H
#define GOCHAN_SCHED_DEADLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A layer's contribution. idle_threads returns -1 when the layer may still
 * make something runnable (a timer pending, a signal relayed to a channel,
 * its thread busy), else how many threads of the process it owns, all idle
 * for good while nothing else runs. It must take no lock that is held
 * while a thread is woken (it runs between a wake-up and its accounting):
 * atomics only. Called from any thread. */
typedef struct sched_deadlock_source {
    int (*idle_threads)(void);
    struct sched_deadlock_source *next; /* the registry's */
} sched_deadlock_source_t;

/* Registers src (static storage, once; never removed). Register before the
 * source's thread is started. */
void sched_deadlock_add_source(sched_deadlock_source_t *src);

/* Declares handler, a signal handler of gochan's that wakes nothing a
 * goroutine or thread waits on, so that it does not count as a user
 * handler. At most a few; extra ones are ignored (they then count as
 * unknown, which only means no report). */
void sched_deadlock_add_handler(void (*handler)(int));

/* The dump the report prints after Go's line and a blank line. */
void sched_deadlock_set_dump(void (*dump)(FILE *out));

/* Whether detection is on (GOCHAN_DEADLOCK is not "0"); read once. */
bool sched_deadlock_enabled(void);

/* chan/'s parker: a plain thread has committed to sleep in a gochan wait
 * (its parker is SLEEPING): counts it and runs the check. Returns whether
 * it was counted (then exactly one sched_deadlock_unpark must follow, by
 * the waker). */
bool sched_deadlock_park(void);

/* The waker of a counted plain thread, after it moved the parker out of
 * SLEEPING and before the thread can run. */
void sched_deadlock_unpark(void);

/* A plain thread that will never wake (nil channel, select {}): counted for
 * good, then the check. */
void sched_deadlock_park_forever(void);

/* Something asleep was made active (an idle M started): a check in progress
 * must not trust what it read. */
void sched_deadlock_bump(void);

/* Prints "goroutine N [wait reason]:" for each goroutine that waits, and
 * returns how many: the report's dump until the dump lists them all. */
size_t sched_deadlock_print_goroutines(FILE *out);

/* Go's checkdead: reports and exits if nothing can ever run again. */
void sched_checkdead(void);

#endif /* GOCHAN_SCHED_DEADLOCK_H */
