/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <check.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0 /* valgrind's header is not installed */
#endif

#include "chan/chan_impl.h" /* internal: the wait queues, for tu_chan_waiters */

TCase *tu_tcase(Suite *s, const char *name, double timeout)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

double tu_scale(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double x = m ? atof(m) : 1.0;
    return x >= 1.0 ? x : 1.0;
}

bool tu_short(void)
{
    return RUNNING_ON_VALGRIND != 0;
}

int tu_rounds(int n)
{
    if (!tu_short() || n <= 100)
        return n;
    return n / 50 > 100 ? n / 50 : 100;
}

void tu_quiet_sleep(void)
{
    tu_sleep_ms((int64_t)(TU_QUIET_MS * tu_scale()));
}

void tu_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

pthread_t tu_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}

void tu_join(pthread_t t)
{
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

void tu_flag_set(tu_flag_t *f)
{
    atomic_store(&f->set, 1);
}

bool tu_flag_is_set(tu_flag_t *f)
{
    return atomic_load(&f->set) != 0;
}

bool tu_flag_wait(tu_flag_t *f, int64_t ms)
{
    /* A deadline on the clock, not a count of naps: under valgrind each nap
     * lasts far longer than asked. */
    int64_t deadline = chan_now() + (int64_t)(ms * 1e6 * tu_scale());
    while (chan_now() < deadline) {
        if (tu_flag_is_set(f))
            return true;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return tu_flag_is_set(f);
}

static size_t tu_waitq_len(chan__waitq_t *q)
{
    size_t n = 0;
    for (chan__waiter_t *w =
             atomic_load_explicit(&q->first, memory_order_relaxed);
         w; w = w->next)
        n++;
    return n;
}

void tu_chan_waiters(chan_t *c, size_t *nrecv, size_t *nsend)
{
    sched__lock(&c->lock);
    *nrecv = tu_waitq_len(&c->recvq);
    *nsend = tu_waitq_len(&c->sendq);
    sched__unlock(&c->lock);
}

void tu_wait_waiters(chan_t *c, size_t nrecv, size_t nsend)
{
    int64_t deadline = chan_now() + (int64_t)(10e9 * tu_scale());
    size_t r = 0, s = 0;
    for (int i = 0;; i++) {
        tu_chan_waiters(c, &r, &s);
        if ((r == nrecv && s == nsend) || chan_now() > deadline)
            break;
        if (i < 100) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(r == nrecv && s == nsend,
                  "waiters on channel: %zu receivers and %zu senders, "
                  "expected %zu and %zu",
                  r, s, nrecv, nsend);
}

int tu_blocks_int_or_term(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    if (!f)
        return -1;
    char line[256];
    unsigned long long blk = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "SigBlk: %llx", &blk) == 1;
    fclose(f);
    if (!found)
        return -1;
    unsigned long long bad = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1));
    return (blk & bad) != 0;
}
