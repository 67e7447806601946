/* testutil.h: helpers shared by the Check suites; never installed.
 *
 * Tests hand off between threads with channels and flags, not sleeps. Where a
 * test must show that something does NOT happen, it waits a short bounded
 * time (TU_QUIET_MS) scaled by CK_TIMEOUT_MULTIPLIER for slow runs.
 */
#ifndef GOCHAN_TESTUTIL_H
#define GOCHAN_TESTUTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gochan/chan.h>

#include <check.h>

/* A test case named name, with a timeout in seconds (Check scales it by
 * CK_TIMEOUT_MULTIPLIER), added to s. */
TCase *tu_tcase(Suite *s, const char *name, double timeout);

/* Runs every test of s and frees it: the body of each suite's main(). */
int tu_run(Suite *s);

/* CK_TIMEOUT_MULTIPLIER, or 1: sanitizer and valgrind runs are slower. */
double tu_scale(void);

/* How long to watch for something that must not happen (e.g. a receive that
 * must stay blocked), before scaling. Helpers that wait (tu_flag_wait) scale
 * their argument themselves, so every caller passes unscaled times; only
 * tu_sleep_ms is a plain sleep. tu_quiet_sleep sleeps TU_QUIET_MS, scaled. */
/* Starting a thread in the child of a fork from a multi-threaded process
 * is not supported by ThreadSanitizer (it exits with 66), and
 * AddressSanitizer (clang 14) can deadlock it (its allocator lock held by a
 * parent thread at the fork): tests that fork keep the child on one thread
 * there (test_signal_fork_child, test_fork_child_poller). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_FORK_NO_THREADS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TU_FORK_NO_THREADS 1
#endif
#endif
#ifndef TU_FORK_NO_THREADS
#define TU_FORK_NO_THREADS 0
#endif

#define TU_QUIET_MS 50
void tu_quiet_sleep(void);

/* Go's testing.Short(): true under valgrind, which runs threads one at a
 * time, many times slower. tu_rounds(n) is n, or n / 50 (at least 100) in
 * short mode, for race tests whose rounds spin. */
bool tu_short(void);
int tu_rounds(int n);

void tu_sleep_ms(int64_t ms);

/* Starts fn(arg) on a joinable thread; fails the test if it cannot. */
pthread_t tu_spawn(void *(*fn)(void *), void *arg);
void tu_join(pthread_t t);

/* A flag set once by another thread. */
typedef struct {
    atomic_int set;
} tu_flag_t;

void tu_flag_set(tu_flag_t *f);
bool tu_flag_is_set(tu_flag_t *f);
/* Waits up to ms (scaled) for the flag; true if it was set. */
bool tu_flag_wait(tu_flag_t *f, int64_t ms);

/* How many waiters are queued on c's recvq and sendq now (Go's waitq),
 * read from gochan's internals under the channel lock. A queued waiter is a
 * thread committed to sleeping in that operation (or a select case; a select
 * that already won elsewhere lingers until it relocks). c must not be NULL. */
void tu_chan_waiters(chan_t *c, size_t *nrecv, size_t *nsend);

/* Waits until exactly nrecv receivers and nsend senders are queued on c, and
 * fails the test after 10 s (scaled). Orders threads ("A is blocked before B
 * starts") without sleeping for a guessed time. */
void tu_wait_waiters(chan_t *c, size_t nrecv, size_t nsend);

/* Whether the calling thread blocks SIGINT or SIGTERM, as the kernel says
 * (SigBlk in /proc/thread-self/status); -1 when it cannot tell. A goroutine
 * must not: it runs with the process's initial mask (issue 19, bug 1). */
int tu_blocks_int_or_term(void);

#endif
