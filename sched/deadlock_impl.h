/* deadlock_impl.h: internal to sched/, never installed. What deadlock.c
 * asks of the scheduler: deadlock_proc.c where sched/ builds one, nosched.c
 * elsewhere (no goroutines, no threads of the scheduler).
 */
#ifndef GOCHAN_SCHED_DEADLOCK_IMPL_H
#define GOCHAN_SCHED_DEADLOCK_IMPL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Whether the scheduler is asleep for good as far as it knows: every M idle
 * (on the idle list), every P idle with an empty queue, the global queue
 * empty, no M spinning or in the poller; *threads is then the number of its
 * threads (the Ms and sysmon). Takes sched.lock. */
bool sched__deadlock_sched_idle(int *threads);

/* Whether no goroutine is runnable or running (allgs): every one waits or
 * is dead. Walks every g. */
bool sched__deadlock_all_waiting(void);

/* Prints "goroutine N [wait reason]:" for every waiting goroutine; returns
 * how many. */
size_t sched__deadlock_print_goroutines(FILE *out);

/* When sa is the scheduler's own SIGSEGV handler (the stack overflow
 * report), which passes every other fault on, replaces *sa with the one it
 * passes them to and returns true. */
bool sched__deadlock_unchain(int sig, struct sigaction *sa);

#endif /* GOCHAN_SCHED_DEADLOCK_IMPL_H */
