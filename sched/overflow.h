/* overflow.h: internal to gochan, never installed. The stack-overflow report
 * (overflow.c).
 */
#ifndef GOCHAN_SCHED_SIGNAL_H
#define GOCHAN_SCHED_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

/* Installs the SIGSEGV handler that reports a goroutine's stack overflow and
 * passes every other fault on to the handler it replaces. Once, when the
 * scheduler starts. 0 or an errno. */
int sched__signal_install(void);

/* Gives the calling M an alternate signal stack for that handler (an
 * overflowed stack has no room left to run it). Never freed: Ms live as
 * long as the process. 0 or an errno. */
int sched__signal_altstack(void);

/* For the deadlock check: when *sa is this handler (for sig), replaces it
 * with the disposition it passes other faults to and returns true. */
bool sched__signal_unchain(int sig, struct sigaction *sa);

#endif /* GOCHAN_SCHED_SIGNAL_H */
