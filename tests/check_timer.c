/* check_timer.c: Go's time package tests (sleep_test.go, tick_test.go),
 * ported to gochan's timers, plus tests of the single timer thread.
 *
 * Timing is asserted one way strictly ("never before the deadline", on the
 * monotonic clock) and the other way only with generous slack (slack(): one
 * second, scaled by CK_TIMEOUT_MULTIPLIER). Worker threads record results;
 * the test thread asserts after joining them.
 *
 * Item ids such as (CH-5) are those of docs/semantics.md.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include "chan/chan_test_hooks.h" /* test hooks: heap length, thread start */
#include "testutil.h"

#define MS CHAN_MILLISECOND

/* How late a timer may be before a test calls it broken. */
static int64_t slack(void)
{
    return (int64_t)(CHAN_SECOND * tu_scale());
}

static int64_t quiet(void)
{
    return (int64_t)(TU_QUIET_MS * tu_scale()) * MS;
}

/* Receives one time value from c, or gives up after timeout (false). Safe
 * on worker threads: it asserts nothing. */
static bool recv_within(chan_t *c, int64_t timeout, int64_t *v)
{
    chan_t *after = chan_after(timeout);
    if (!after)
        return false;
    int64_t got = 0;
    chan_case_t cases[] = {CHAN_RECV_CASE(c, &got),
                           CHAN_RECV_CASE(after, NULL)};
    int i = chan_select(cases, 2);
    chan_release(after);
    if (i == 0 && v)
        *v = got;
    return i == 0;
}

static bool has_value(chan_t *c)
{
    return chan_try_recv(c, NULL) == CHAN_OK;
}

/* A small xorshift, seeded from the clock, for Go's rand in tests. */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    if (rng_state == 0)
        rng_state = (uint64_t)chan_now() | 1;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* ---- After ---- */

/* Ports TestAfter: the value arrives no sooner than d, and is a time at or
 * after the deadline. */
START_TEST(test_timer_after)
{
    const int64_t delay = 100 * MS;
    int64_t start = chan_now();
    chan_t *c = chan_after(delay);
    ck_assert_ptr_nonnull(c);
    int64_t end = 0;
    ck_assert_int_eq(chan_recv(c, &end), CHAN_OK);
    int64_t took = chan_now() - start;
    ck_assert_int_ge(took, delay);
    ck_assert_int_ge(end, start + delay);
    ck_assert_int_le(end, start + took);
    ck_assert_int_lt(took, delay + slack());
    /* A timer channel reports len and cap 0, as Go's do (CH-5). */
    ck_assert_uint_eq(chan_len(c), 0);
    ck_assert_uint_eq(chan_cap(c), 0);
    chan_release(c);
}
END_TEST

/* Ports TestOverflowSleep: a huge duration never fires (and does not harm
 * other timers); zero and negative durations fire at once. */
START_TEST(test_timer_after_overflow)
{
    chan_t *big = chan_after(INT64_MAX);
    ck_assert_ptr_nonnull(big);
    chan_t *small = chan_after(25 * MS);
    chan_case_t cases[] = {CHAN_RECV_CASE(big, NULL),
                           CHAN_RECV_CASE(small, NULL)};
    ck_assert_int_eq(chan_select(cases, 2), 1);
    chan_release(big);
    chan_release(small);

    chan_sleep(INT64_MIN); /* returns at once */
    int64_t ds[] = {INT64_MIN, -1, 0};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        int64_t start = chan_now(), v = 0;
        chan_t *c = chan_after(ds[i]);
        ck_assert_msg(recv_within(c, slack(), &v), "After(%lld) did not fire",
                      (long long)ds[i]);
        ck_assert_int_ge(v, start);
        chan_release(c);
    }
}
END_TEST

/* Ports TestAfterTimes: the value is the firing time, not the time of the
 * (late) receive. Retried as in Go, against a stalled machine. */
START_TEST(test_timer_after_times)
{
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) {
        int64_t start = chan_now();
        chan_t *c = chan_after(10 * MS);
        chan_sleep(300 * MS);
        int64_t v = 0;
        ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
        ck_assert_int_ge(v, start + 10 * MS);
        ok = v - start < 200 * MS;
        chan_release(c);
    }
    ck_assert_msg(ok,
                  "After(10ms) delivered the receive time, not the fire time");
}
END_TEST

/* Ports TestAfterTick: ten After(10ms) in a row take at least 100 ms. */
START_TEST(test_timer_after_tick)
{
    const int64_t delta = 10 * MS;
    int64_t t0 = chan_now();
    for (int i = 0; i < 10; i++) {
        chan_t *c = chan_after(delta);
        ck_assert_int_eq(chan_recv(c, NULL), CHAN_OK);
        chan_release(c);
    }
    int64_t d = chan_now() - t0;
    ck_assert_int_ge(d, 10 * delta);
    ck_assert_int_lt(d, 10 * delta + slack());
}
END_TEST

/* ---- TestAfterQueuing ---- */

static const int slots[] = {5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0};
#define NSLOTS (sizeof slots / sizeof slots[0])

struct queuing {
    int64_t t0, delta;
    atomic_int_fast64_t fired[NSLOTS]; /* f's start time, per slot */
};

struct queuing_arg {
    struct queuing *q;
    int index;
};

static void queuing_func(void *p)
{
    struct queuing_arg *a = p;
    atomic_store(&a->q->fired[a->index], chan_now());
}

/* One attempt of testAfterQueuing1 (impl=chan). Each deadline is known to
 * lie in [lo, hi] (the clock read around chan_after). Returns the number of
 * timers fired out of slot order; *broken counts the errors that no stall
 * excuses: a timer early or very late, or one fired after a timer whose
 * deadline surely came later. The firing times in the channels show the
 * order the timer thread fired in, whatever the threads' scheduling. */
static int after_queuing_once(int64_t delta, int *broken)
{
    chan_t *cs[NSLOTS];
    int64_t lo[NSLOTS], hi[NSLOTS], v[NSLOTS];
    for (size_t i = 0; i < NSLOTS; i++) {
        lo[i] = chan_now() + slots[i] * delta;
        cs[i] = chan_after(slots[i] * delta);
        hi[i] = chan_now() + slots[i] * delta;
    }
    for (size_t i = 0; i < NSLOTS; i++) {
        *broken += chan_recv(cs[i], &v[i]) != CHAN_OK;
        chan_release(cs[i]);
    }
    int unordered = 0;
    for (size_t i = 0; i < NSLOTS; i++) {
        *broken += v[i] < lo[i] || v[i] >= hi[i] + slack();
        for (size_t j = 0; j < NSLOTS; j++) {
            *broken += hi[i] < lo[j] && v[i] > v[j];
            unordered += slots[i] < slots[j] && v[i] > v[j];
        }
    }
    return unordered;
}

/* Ports TestAfterQueuing (impl=chan): timers made out of order fire in
 * deadline order, none early. As in Go, a stall while making the timers may
 * reorder their deadlines, so the slot order is retried with longer deltas. */
START_TEST(test_timer_after_queuing)
{
    int broken = 0, unordered = 1;
    for (int i = 0; i < 5 && unordered; i++)
        unordered = after_queuing_once((20 + i * 50) * MS, &broken);
    ck_assert_int_eq(broken, 0);
    ck_assert_msg(unordered == 0, "After timers fired out of slot order");
}
END_TEST

/* Ports TestAfterQueuing (impl=func): AfterFuncs made out of order all run,
 * none before its deadline. (Their threads may run in any order.) */
START_TEST(test_timer_after_queuing_func)
{
    static struct queuing q;
    struct queuing_arg args[NSLOTS];
    chan_timer_t *ts[NSLOTS];
    q.delta = 20 * MS;
    q.t0 = chan_now();
    for (size_t i = 0; i < NSLOTS; i++) {
        atomic_store(&q.fired[i], 0);
        args[i] = (struct queuing_arg){&q, (int)i};
        ts[i] = chan_after_func(slots[i] * q.delta, queuing_func, &args[i]);
        ck_assert_ptr_nonnull(ts[i]);
    }
    int64_t deadline = q.t0 + 9 * q.delta + slack();
    for (size_t i = 0; i < NSLOTS; i++) {
        while (atomic_load(&q.fired[i]) == 0 && chan_now() < deadline)
            tu_sleep_ms(1);
        int64_t f = atomic_load(&q.fired[i]);
        ck_assert_msg(f != 0, "AfterFunc for slot %d never ran", slots[i]);
        ck_assert_int_ge(f, q.t0 + slots[i] * q.delta);
    }
    for (size_t i = 0; i < NSLOTS; i++)
        ck_assert(!chan_timer_stop(ts[i])); /* all ran already */
    for (size_t i = 0; i < NSLOTS; i++)
        chan_timer_release(ts[i]);
}
END_TEST

/* ---- AfterFunc ---- */

struct recursive {
    atomic_int i;
    atomic_int finished;
    atomic_int nhandles;
    chan_t *done;
    chan_timer_t *handles[16];
};

static void recursive_func(void *p)
{
    struct recursive *s = p;
    int i = atomic_fetch_sub(&s->i, 1) - 1;
    if (i >= 0) {
        chan_timer_t *t = chan_after_func(0, recursive_func, s);
        s->handles[atomic_fetch_add(&s->nhandles, 1)] = t;
        chan_sleep(100 * MS); /* Go sleeps a second: f runs on its own thread */
    } else {
        chan_send(s->done, NULL);
    }
    atomic_fetch_add(&s->finished, 1);
}

/* Ports TestAfterFunc: f starts another AfterFunc(0, f) and then sleeps; the
 * chain completes only because each f runs on its own thread. */
START_TEST(test_timer_afterfunc)
{
    static struct recursive s;
    atomic_store(&s.i, 10);
    s.done = chan_make(0, 1);
    s.handles[atomic_fetch_add(&s.nhandles, 1)] =
        chan_after_func(0, recursive_func, &s);
    ck_assert_int_eq(chan_recv(s.done, NULL), CHAN_OK);
    int64_t deadline = chan_now() + slack() + 200 * MS;
    while (atomic_load(&s.finished) < 11 && chan_now() < deadline)
        tu_sleep_ms(5);
    ck_assert_int_eq(atomic_load(&s.finished), 11);
    ck_assert_int_eq(atomic_load(&s.nhandles), 11);
    for (int i = 0; i < 11; i++) {
        ck_assert_ptr_nonnull(s.handles[i]);
        ck_assert_ptr_null(chan_timer_chan(s.handles[i]));
        chan_timer_release(s.handles[i]);
    }
    chan_release(s.done);
}
END_TEST

static void noop(void *arg)
{
    (void)arg;
}

static void send_func(void *p)
{
    chan_try_send((chan_t *)p, NULL);
}

/* One attempt of testAfterStop; returns NULL or what went wrong. */
static const char *after_stop_once(int64_t unit)
{
    const char *err = NULL;
    chan_timer_t *noise = chan_after_func(2 * unit, noop, NULL);
    chan_timer_t *t0 = chan_timer_new(unit);
    chan_t *c1 = chan_make(0, 1);
    chan_timer_t *t1 = chan_after_func(3 * unit, send_func, c1);
    chan_t *c2 = chan_after(4 * unit);
    if (!chan_timer_stop(t0))
        err = "failed to stop event 0";
    else if (!chan_timer_stop(t1))
        err = "failed to stop event 1";
    chan_recv(c2, NULL);
    if (!err && has_value(chan_timer_chan(t0)))
        err = "event 0 was not stopped";
    else if (!err && has_value(c1))
        err = "event 1 was not stopped";
    else if (!err && chan_timer_stop(t1))
        err = "Stop returned true twice";
    chan_timer_release(noise);
    chan_timer_release(t0);
    chan_timer_release(t1);
    chan_release(c1);
    chan_release(c2);
    return err;
}

/* Ports TestAfterStop (both impls): stopped timers never fire, and a second
 * Stop reports false. Retried with longer units, as Go does, so that a stall
 * between creating and stopping cannot fail the test. */
START_TEST(test_timer_after_stop)
{
    const char *err = "not run";
    for (int i = 0; i < 5 && err; i++)
        err = after_stop_once((int64_t)50 * MS << i);
    ck_assert_msg(err == NULL, "%s", err);
}
END_TEST

struct stop_stress {
    atomic_int fired;
    atomic_int stop_false;
    int64_t d;
};

static void count_fired(void *p)
{
    atomic_fetch_add(&((struct stop_stress *)p)->fired, 1);
}

static void *stop_stress_worker(void *p)
{
    struct stop_stress *s = p;
    chan_timer_t *t = chan_after_func(s->d, count_fired, s);
    tu_sleep_ms(50);
    if (!chan_timer_stop(t))
        atomic_fetch_add(&s->stop_false, 1);
    chan_timer_release(t);
    return NULL;
}

/* Ports TestTimerStopStress: 100 threads each stop their pending AfterFunc;
 * no f may run afterwards. */
START_TEST(test_timer_stop_stress)
{
    static struct stop_stress s;
    s.d = (int64_t)(500 * MS * tu_scale());
    pthread_t th[100];
    int64_t start = chan_now();
    for (int i = 0; i < 100; i++)
        th[i] = tu_spawn(stop_stress_worker, &s);
    for (int i = 0; i < 100; i++)
        tu_join(th[i]);
    ck_assert_int_eq(atomic_load(&s.stop_false), 0);
    int64_t wait = start + s.d + quiet() - chan_now();
    chan_sleep(wait);
    ck_assert_int_eq(atomic_load(&s.fired), 0);
}
END_TEST

#define RACE_N 2000

struct stop_race {
    chan_timer_t *ts[RACE_N];
    atomic_int ran[RACE_N];
    bool stopped[RACE_N];
};

struct race_arg {
    struct stop_race *r;
    int i;
};

static struct race_arg race_args[RACE_N];

static void race_func(void *p)
{
    struct race_arg *a = p;
    atomic_fetch_add(&a->r->ran[a->i], 1);
}

static void *race_stopper(void *p)
{
    struct stop_race *r = p;
    for (int i = 0; i < RACE_N; i++)
        r->stopped[i] = chan_timer_stop(r->ts[i]);
    return NULL;
}

/* Stop racing the firing of AfterFuncs: for each timer, exactly one of
 * "Stop returned true" and "f ran" happens (Go's Stop contract). */
START_TEST(test_timer_afterfunc_stop_race)
{
    static struct stop_race r;
    int bad = 0;
    for (int i = 0; i < RACE_N; i++) {
        race_args[i] = (struct race_arg){&r, i};
        r.ts[i] = chan_after_func(rnd(2000) * CHAN_MICROSECOND, race_func,
                                  &race_args[i]);
        bad += r.ts[i] == NULL;
    }
    ck_assert_int_eq(bad, 0);
    pthread_t th = tu_spawn(race_stopper, &r);
    tu_join(th);
    int64_t deadline = chan_now() + slack();
    int done = 0;
    while (chan_now() < deadline) {
        done = 0;
        for (int i = 0; i < RACE_N; i++)
            done += r.stopped[i] || atomic_load(&r.ran[i]) > 0;
        if (done == RACE_N)
            break;
        tu_sleep_ms(5);
    }
    chan_sleep(quiet()); /* a wrongly stopped f would show up now */
    for (int i = 0; i < RACE_N; i++) {
        int ran = atomic_load(&r.ran[i]);
        if (ran + (int)r.stopped[i] != 1 && bad++ == 0)
            ck_assert_msg(0, "timer %d: stop=%d, f ran %d times", i,
                          r.stopped[i], ran);
        chan_timer_release(r.ts[i]);
    }
}
END_TEST

struct counter {
    atomic_int n;
};

static void count_func(void *p)
{
    atomic_fetch_add(&((struct counter *)p)->n, 1);
}

static bool wait_count(struct counter *c, int want, int64_t timeout)
{
    int64_t deadline = chan_now() + timeout;
    while (atomic_load(&c->n) < want && chan_now() < deadline)
        tu_sleep_ms(1);
    return atomic_load(&c->n) >= want;
}

/* Go's Reset on an AfterFunc: true when it moved a pending call, false when
 * f had run and Reset scheduled it again. */
START_TEST(test_timer_afterfunc_reset)
{
    static struct counter c;
    chan_timer_t *t = chan_after_func(CHAN_HOUR, count_func, &c);
    ck_assert(chan_timer_reset(t, 10 * MS)); /* moved earlier: pending */
    ck_assert(wait_count(&c, 1, slack()));
    ck_assert(!chan_timer_reset(t, 0)); /* had fired: run again */
    ck_assert(wait_count(&c, 2, slack()));
    ck_assert(!chan_timer_stop(t));
    ck_assert(!chan_timer_reset(t, CHAN_HOUR));
    ck_assert(chan_timer_stop(t));
    chan_sleep(quiet());
    ck_assert_int_eq(atomic_load(&c.n), 2);
    chan_timer_release(t);
}
END_TEST

/* A chan_go stand-in that fails while `failing`, to run out of threads. */
static atomic_int go_calls;
static atomic_bool go_failing;

static int failing_go(void (*fn)(void *), void *arg)
{
    atomic_fetch_add(&go_calls, 1);
    if (atomic_load(&go_failing)) {
        errno = EAGAIN;
        return CHAN_NOMEM;
    }
    return chan_go(fn, arg);
}

/* An AfterFunc whose thread cannot start is not lost: the timer thread
 * retries it, in order, and Stop already reports it as committed. Releasing
 * the handle while its call waits must not free it under the timer thread
 * (ASan would see the use after free). */
START_TEST(test_timer_afterfunc_go_fails)
{
    static struct counter c;
    atomic_store(&go_failing, true);
    chan__timer_set_go(failing_go);
    chan_timer_t *t1 = chan_after_func(0, count_func, &c);
    chan_timer_t *t2 = chan_after_func(0, count_func, &c);
    int64_t deadline = chan_now() + slack();
    while (atomic_load(&go_calls) < 4 && chan_now() < deadline)
        tu_sleep_ms(1);
    ck_assert_int_ge(atomic_load(&go_calls), 4); /* retried */
    ck_assert_int_eq(atomic_load(&c.n), 0);
    ck_assert(!chan_timer_stop(t1)); /* committed: Stop cannot prevent f */
    chan_timer_release(t1);
    ck_assert(!chan_timer_reset(t2, 0)); /* a second call of t2 */
    atomic_store(&go_failing, false);
    ck_assert(wait_count(&c, 3, slack()));
    chan_sleep(quiet());
    ck_assert_int_eq(atomic_load(&c.n), 3);
    chan__timer_set_go(NULL);
    chan_timer_release(t2);
}
END_TEST

/* ---- Stop and Reset ---- */

/* One attempt of testReset; NULL or the error. */
static const char *reset_once(int64_t d)
{
    const char *err = NULL;
    chan_timer_t *t0 = chan_timer_new(2 * d);
    chan_t *c = chan_timer_chan(t0);
    chan_sleep(d);
    if (!chan_timer_reset(t0, 3 * d))
        err = "resetting unfired timer returned false";
    chan_sleep(2 * d);
    if (!err && has_value(c))
        err = "timer fired early";
    chan_sleep(2 * d);
    if (!err && !has_value(c))
        err = "reset timer did not fire";
    if (!err && chan_timer_reset(t0, 50 * MS))
        err = "resetting expired timer returned true";
    chan_timer_release(t0);
    return err;
}

/* Ports TestReset, with Go's doubling durations against a slow machine. */
START_TEST(test_timer_reset)
{
    const char *err = "not run";
    for (int64_t d = MS; err && d <= 2 * CHAN_SECOND; d *= 2)
        err = reset_once(d);
    ck_assert_msg(err == NULL, "%s", err);
}
END_TEST

struct stop_result {
    bool use_stop;
    chan_t *start;
    atomic_int hung;
};

static bool stop_or_reset(struct stop_result *s, chan_timer_t *t)
{
    return s->use_stop ? chan_timer_stop(t) : chan_timer_reset(t, CHAN_HOUR);
}

static void *stop_result_worker(void *p)
{
    struct stop_result *s = p;
    chan_recv(s->start, NULL);
    for (int j = 0; j < 100; j++) {
        chan_timer_t *t1 = chan_timer_new(MS), *t2 = chan_timer_new(MS);
        chan_case_t cases[] = {CHAN_RECV_CASE(chan_timer_chan(t1), NULL),
                               CHAN_RECV_CASE(chan_timer_chan(t2), NULL)};
        chan_timer_t *other = chan_select(cases, 2) == 0 ? t2 : t1;
        /* Stop/Reset false promises a value; Go's test hangs if none comes. */
        if (!stop_or_reset(s, other) &&
            !recv_within(chan_timer_chan(other), 5 * slack(), NULL))
            atomic_fetch_add(&s->hung, 1);
        chan_timer_release(t1);
        chan_timer_release(t2);
    }
    return NULL;
}

static void stop_reset_result(bool use_stop)
{
    struct stop_result s = {.use_stop = use_stop, .start = chan_make(0, 0)};
    enum { N = 16 };
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        th[i] = tu_spawn(stop_result_worker, &s);
    chan_close(s.start);
    for (int i = 0; i < N; i++)
        tu_join(th[i]);
    ck_assert_int_eq(atomic_load(&s.hung), 0);
    chan_release(s.start);
}

/* Ports TestStopResult (issue 69312): when Stop races the firing, its result
 * says exactly whether a value can still be received. */
START_TEST(test_timer_stop_result)
{
    stop_reset_result(true);
}
END_TEST

/* Ports TestResetResult: the same for Reset. */
START_TEST(test_timer_reset_result)
{
    stop_reset_result(false);
}
END_TEST

/* Ports TestTimerModifiedEarlier (issue 47329): moving a timer earlier over
 * and over never loses it. */
START_TEST(test_timer_modified_earlier)
{
    const int64_t past = -CHAN_HOUR;
    int lost = 0, late = 0;
    for (int i = 0; i < 1000; i++) {
        chan_timer_t *t = chan_timer_new(CHAN_HOUR);
        chan_t *c = chan_timer_chan(t);
        for (int j = 0; j < 10; j++) {
            /* Go 1.23: Stop is true even if the value arrived unreceived,
             * so Go's `<-timer.C` drain never runs here. */
            if (!chan_timer_stop(t))
                lost += !recv_within(c, slack(), NULL);
            chan_timer_reset(t, past);
        }
        int64_t now = chan_now();
        if (!recv_within(c, 10 * slack(), NULL))
            lost++;
        else if (chan_now() - now > 8 * slack())
            late++;
        chan_timer_release(t);
    }
    ck_assert_int_eq(lost, 0);
    ck_assert_int_eq(late, 0);
}
END_TEST

/* Ports TestAdjustTimers (issue 47762): 100 timers walk through a state
 * machine of Resets, Stops and receives in random interleaving; none is lost
 * and each Stop/Reset reports what Go says it must. */
START_TEST(test_timer_adjust_timers)
{
    enum { N = 100 };
    chan_timer_t *timers[N] = {0};
    int states[N] = {0};
    int indices[N], left = N;
    for (int i = 0; i < N; i++)
        indices[i] = i;
    int wrong = 0, slow = 0;
    while (left > 0) {
        int ii = (int)rnd((uint32_t)left);
        int i = indices[ii];
        chan_timer_t *t = timers[i];
        switch (states[i]++) {
        case 0:
            timers[i] = chan_timer_new(0);
            break;
        case 1: /* the timer is now idle */
            ck_assert_int_eq(chan_recv(chan_timer_chan(t), NULL), CHAN_OK);
            break;
        case 2:
            wrong += chan_timer_reset(t, CHAN_MINUTE); /* not active */
            break;
        case 4:
            wrong += chan_timer_reset(t, 3 * CHAN_MINUTE);
            break;
        case 6:
            wrong += chan_timer_reset(t, 2 * CHAN_MINUTE);
            break;
        case 3:
        case 5:
        case 7:
            wrong += !chan_timer_stop(t); /* a minute away: surely active */
            break;
        case 8:
            wrong += chan_timer_reset(t, 0); /* stopped: not active */
            break;
        case 9: {
            int64_t now = chan_now();
            ck_assert_int_eq(chan_recv(chan_timer_chan(t), NULL), CHAN_OK);
            slow += chan_now() - now > slack();
            break;
        }
        case 10:
            chan_timer_release(t);
            indices[ii] = indices[--left];
            break;
        }
    }
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(slow, 0);
}
END_TEST

/* Bad input never crashes: NULL handles, NULL f, non-positive periods. */
START_TEST(test_timer_bad_input)
{
    chan_timer_release(NULL);
    ck_assert(!chan_timer_stop(NULL));
    ck_assert(!chan_timer_reset(NULL, MS));
    ck_assert_ptr_null(chan_timer_chan(NULL));
    errno = 0;
    ck_assert_ptr_null(chan_after_func(MS, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(chan_ticker_new(0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(chan_ticker_new(-1));
    errno = 0;
    ck_assert_ptr_null(chan_tick(-1)); /* TestTick: Tick(-1) is nil */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(chan_tick(0));
    /* TestTickerResetLtZeroDuration: refused, and the ticker is unharmed. */
    chan_ticker_t *tk = chan_ticker_new(CHAN_SECOND);
    ck_assert_int_eq(chan_ticker_reset(tk, 0), CHAN_INVALID);
    ck_assert_int_eq(chan_ticker_reset(tk, -1), CHAN_INVALID);
    ck_assert_int_eq(chan_ticker_reset(NULL, MS), CHAN_INVALID);
    ck_assert_int_eq(chan_ticker_reset(tk, 10 * MS), CHAN_OK);
    ck_assert(recv_within(chan_ticker_chan(tk), slack(), NULL));
    chan_ticker_release(tk);
    chan_timer_t *t = chan_after_func(CHAN_HOUR, noop, NULL);
    ck_assert_ptr_null(chan_timer_chan(t));
    chan_timer_release(t);
}
END_TEST

struct multi_wakeup {
    chan_timer_t *t;
};

static void *multi_wakeup_worker(void *p)
{
    struct multi_wakeup *m = p;
    for (int i = 0; i < 10000; i++) {
        chan_try_recv(chan_timer_chan(m->t), NULL);
        chan_timer_reset(m->t, CHAN_NANOSECOND);
    }
    return NULL;
}

/* Ports TestMultiWakeupTimer: several threads receive from and Reset one
 * timer at once; no crash, no race, no deadlock. */
START_TEST(test_timer_multi_wakeup)
{
    struct multi_wakeup m = {chan_timer_new(CHAN_NANOSECOND)};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        th[i] = tu_spawn(multi_wakeup_worker, &m);
    for (int i = 0; i < 4; i++)
        tu_join(th[i]);
    chan_timer_release(m.t);
}
END_TEST

/* ---- TestChan: Go 1.23's synchronous timer channels ---- */

/* Go's `timer` interface over a Timer or a Ticker (tickerTimer). */
struct tim {
    chan_timer_t *timer;
    chan_ticker_t *ticker;
    bool stopped; /* tickerTimer's own bookkeeping */
    chan_t *c;
};

static bool tim_stop(struct tim *t)
{
    if (t->timer)
        return chan_timer_stop(t->timer);
    bool pending = !t->stopped;
    t->stopped = true;
    chan_ticker_stop(t->ticker);
    return pending;
}

static bool tim_reset(struct tim *t, int64_t d)
{
    if (t->timer)
        return chan_timer_reset(t->timer, d);
    bool pending = !t->stopped;
    t->stopped = false;
    ck_assert_int_eq(chan_ticker_reset(t->ticker, d), CHAN_OK);
    return pending;
}

static const int64_t sched = 10 * MS;

static void no_tick(struct tim *t, int line)
{
    ck_assert_msg(!has_value(t->c), "extra tick (line %d)", line);
}

static void assert_tick(struct tim *t, int line)
{
    ck_assert_msg(recv_within(t->c, slack(), NULL), "missing tick (line %d)",
                  line);
}

static void not_done(chan_t *done, int line)
{
    ck_assert_msg(!has_value(done), "early done (line %d)", line);
}

static void wait_done(chan_t *done, int line)
{
    ck_assert_msg(recv_within(done, slack(), NULL), "never got done (line %d)",
                  line);
}

struct chan_waiter {
    chan_t *c, *done, *stop;
    atomic_int unexpected;
};

static void *recv_then_close(void *p)
{
    struct chan_waiter *w = p;
    chan_recv(w->c, NULL);
    chan_close(w->done);
    return NULL;
}

static void *select_then_signal(void *p)
{
    struct chan_waiter *w = p;
    chan_case_t cases[] = {CHAN_RECV_CASE(w->c, NULL),
                           CHAN_RECV_CASE(w->stop, NULL)};
    if (chan_select(cases, 2) == 0)
        chan_send(w->done, NULL);
    return NULL;
}

static void *select_expect_stop(void *p)
{
    struct chan_waiter *w = p;
    chan_case_t cases[] = {CHAN_RECV_CASE(w->c, NULL),
                           CHAN_RECV_CASE(w->stop, NULL)};
    if (chan_select(cases, 2) == 0)
        atomic_fetch_add(&w->unexpected, 1); /* Go panics "unexpected data" */
    chan_send(w->done, NULL);
    return NULL;
}

/* Go's testTimerChan with synctimerchan (asynctimerchan=0, Go 1.23+). */
static void timer_chan_test(struct tim *t)
{
    bool ticker = t->ticker != NULL;

    /* simple stop; timer never in heap */
    tim_stop(t);
    no_tick(t, __LINE__);
    /* modify of a timer not in heap */
    tim_reset(t, 10000 * CHAN_SECOND);
    no_tick(t, __LINE__);
    /* modify of a timer in heap */
    tim_reset(t, 1);
    chan_sleep(sched);
    ck_assert_uint_eq(chan_len(t->c), 0);
    ck_assert_uint_eq(chan_cap(t->c), 0);
    assert_tick(t, __LINE__);

    /* Reset does not deliver a tick that was due before it */
    chan_sleep(sched);
    tim_reset(t, 10000 * CHAN_SECOND);
    no_tick(t, __LINE__);

    /* stop while a thread is blocked on the channel */
    tim_reset(t, 10000 * CHAN_SECOND);
    struct chan_waiter w = {.c = t->c, .done = chan_make(0, 0)};
    not_done(w.done, __LINE__);
    pthread_t th = tu_spawn(recv_then_close, &w);
    chan_sleep(sched);
    not_done(w.done, __LINE__);
    tim_reset(t, 20000 * CHAN_SECOND); /* far away, while in heap */
    chan_sleep(sched);
    not_done(w.done, __LINE__);
    tim_reset(t, 1); /* imminent, while in heap */
    wait_done(w.done, __LINE__);
    tu_join(th);
    chan_release(w.done);
    if (ticker)
        assert_tick(t, __LINE__); /* 1 ns ticks: another one came */
    else
        no_tick(t, __LINE__);
    tim_stop(t);
    no_tick(t, __LINE__);

    /* again with select and two threads waiting */
    tim_reset(t, 10000 * CHAN_SECOND);
    chan_t *done = chan_make(0, 2);
    struct chan_waiter w1 = {.c = t->c, .done = done, .stop = chan_make(0, 0)};
    struct chan_waiter w2 = w1;
    pthread_t th1 = tu_spawn(select_then_signal, &w1);
    pthread_t th2 = tu_spawn(select_then_signal, &w2);
    chan_sleep(sched);
    not_done(done, __LINE__);
    tim_reset(t, sched / 2);
    chan_sleep(sched);
    wait_done(done, __LINE__);
    tim_stop(t);
    chan_close(w1.stop);
    tu_join(th1);
    tu_join(th2);
    if (ticker) {
        chan_try_recv(done, NULL); /* the second waiter may have ticked too */
        chan_try_recv(t->c, NULL);
    }
    not_done(done, __LINE__);
    chan_release(w1.stop);
    chan_release(done);

    /* waiters on a stopped timer see nothing */
    struct chan_waiter w3 = {
        .c = t->c, .done = chan_make(0, 2), .stop = chan_make(0, 0)};
    pthread_t th3 = tu_spawn(select_expect_stop, &w3);
    pthread_t th4 = tu_spawn(select_expect_stop, &w3);
    chan_sleep(sched);
    chan_close(w3.stop);
    wait_done(w3.done, __LINE__);
    wait_done(w3.done, __LINE__);
    tu_join(th3);
    tu_join(th4);
    ck_assert_int_eq(atomic_load(&w3.unexpected), 0);
    chan_release(w3.done);
    chan_release(w3.stop);

    /* Stop and Reset block old values from being received (issue 37196) */
    tim_reset(t, 1);
    chan_sleep(sched);
    ck_assert_msg(tim_stop(t), "Stop of a fired, unreceived timer is false");
    no_tick(t, __LINE__);
    tim_reset(t, CHAN_HOUR);
    no_tick(t, __LINE__);
    ck_assert(tim_reset(t, 1));
    assert_tick(t, __LINE__);
    chan_sleep(sched);
    if (ticker) {
        assert_tick(t, __LINE__);
        chan_sleep(sched);
    } else {
        no_tick(t, __LINE__);
    }
    ck_assert(tim_reset(t, CHAN_HOUR) == ticker);
    no_tick(t, __LINE__);
}

/* Ports TestChan/Timer (asynctimerchan=0). */
START_TEST(test_timer_chan_timer)
{
    struct tim t = {.timer = chan_timer_new(10000 * CHAN_SECOND)};
    t.c = chan_timer_chan(t.timer);
    timer_chan_test(&t);
    chan_timer_release(t.timer);
}
END_TEST

/* Ports TestChan/Ticker (asynctimerchan=0). */
START_TEST(test_timer_chan_ticker)
{
    struct tim t = {.ticker = chan_ticker_new(10000 * CHAN_SECOND)};
    t.c = chan_ticker_chan(t.ticker);
    timer_chan_test(&t);
    chan_ticker_release(t.ticker);
}
END_TEST

/* Release discards an unreceived value: a channel retained past its timer
 * never yields a stale time. */
START_TEST(test_timer_release_pending_value)
{
    chan_timer_t *t = chan_timer_new(0);
    chan_t *c = chan_retain(chan_timer_chan(t));
    chan_sleep(sched);
    chan_timer_release(t);
    ck_assert_int_eq(chan_try_recv(c, NULL), CHAN_WOULDBLOCK);
    chan_release(c);
}
END_TEST

/* ---- Ticker ---- */

/* Ports TestTicker: 5 ticks of delta, Reset to 2*delta, 5 more ticks; then
 * Stop, and no tick comes. Ticks are never early: with t0 taken before the
 * ticker is made, the 10 ticks take at least 15 deltas. */
START_TEST(test_timer_ticker)
{
    const int64_t delta = 20 * MS;
    int64_t t0 = chan_now();
    chan_ticker_t *tk = chan_ticker_new(delta);
    chan_t *c = chan_ticker_chan(tk);
    int64_t v = 0;
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
        /* tick i is due on the grid start + i * delta (a late tick does
         * not push the later ones back, so ticks may be closer than delta) */
        ck_assert_int_ge(v, t0 + i * delta);
    }
    ck_assert_int_eq(chan_ticker_reset(tk, 2 * delta), CHAN_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(chan_recv(c, NULL), CHAN_OK);
    chan_ticker_stop(tk);
    int64_t dt = chan_now() - t0;
    ck_assert_int_ge(dt, 15 * delta);
    ck_assert_int_lt(dt, 15 * delta + slack());
    chan_sleep(2 * delta);
    ck_assert_msg(!has_value(c), "Ticker did not shut down");
    chan_ticker_release(tk);
}
END_TEST

/* Ports TestTickerStopWithDirectInitialization and TestManualTicker: the C
 * counterpart of a ticker that was never made is NULL; it must not crash. */
START_TEST(test_timer_ticker_stop_direct)
{
    chan_ticker_stop(NULL);
    chan_ticker_release(NULL);
    ck_assert_ptr_null(chan_ticker_chan(NULL));
}
END_TEST

/* Ports TestTeardown: make, tick, stop, three times; no deadlock. */
START_TEST(test_timer_teardown)
{
    for (int i = 0; i < 3; i++) {
        chan_ticker_t *tk = chan_ticker_new(20 * MS);
        ck_assert_int_eq(chan_recv(chan_ticker_chan(tk), NULL), CHAN_OK);
        chan_ticker_stop(tk);
        chan_ticker_release(tk);
    }
}
END_TEST

struct ticker_reader {
    chan_t *c;
    int got;
};

static void *ticker_reader(void *p)
{
    struct ticker_reader *r = p;
    for (int i = 0; i < 100; i++)
        r->got += chan_recv(r->c, NULL) == CHAN_OK;
    return NULL;
}

/* Ports TestTickerStress and TestTickerConcurrentStress: a 1 ns ticker feeds
 * one reader 100 ticks, then ten readers 100 each. */
START_TEST(test_timer_ticker_stress)
{
    chan_ticker_t *tk = chan_ticker_new(1);
    struct ticker_reader r[10];
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(chan_recv(chan_ticker_chan(tk), NULL), CHAN_OK);
    pthread_t th[10];
    for (int i = 0; i < 10; i++) {
        r[i] = (struct ticker_reader){chan_ticker_chan(tk), 0};
        th[i] = tu_spawn(ticker_reader, &r[i]);
    }
    for (int i = 0; i < 10; i++) {
        tu_join(th[i]);
        ck_assert_int_eq(r[i].got, 100);
    }
    chan_ticker_stop(tk);
    chan_ticker_release(tk);
}
END_TEST

/* Ports TestTickTimes, and checks that a slow reader loses ticks: the
 * channel holds the first tick only, never a queue of stale ones. */
START_TEST(test_timer_tick_times)
{
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) {
        int64_t start = chan_now();
        chan_t *c = chan_tick(10 * MS);
        ck_assert_ptr_nonnull(c);
        chan_sleep(300 * MS);
        int64_t v1 = 0, v2 = 0;
        ck_assert_int_eq(chan_recv(c, &v1), CHAN_OK);
        ck_assert_int_ge(v1, start + 10 * MS);
        int st = chan_try_recv(c, &v2);
        ok = v1 - start < 200 * MS;
        /* When v1 is the first tick, a queued second tick would be v1 +
         * 10ms; a fresh one came after our receive, ~100 ms later. */
        if (ok)
            ck_assert(st == CHAN_WOULDBLOCK || v2 > v1 + 30 * MS);
        chan_release(c);
    }
    ck_assert_msg(ok, "Tick(10ms) delivered late ticks, not the first");
}
END_TEST

/* Tick's ticker never stops, but like Go 1.23's garbage collector gochan
 * reclaims it once its channel has no owner but the timer thread. */
START_TEST(test_timer_tick_reclaimed)
{
    size_t base = chan__timer_heap_len();
    chan_t *c = chan_tick(5 * MS);
    ck_assert_uint_eq(chan__timer_heap_len(), base + 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(chan_recv(c, NULL), CHAN_OK);
    chan_release(c);
    int64_t deadline = chan_now() + slack();
    while (chan__timer_heap_len() > base && chan_now() < deadline)
        tu_sleep_ms(1);
    ck_assert_uint_eq(chan__timer_heap_len(), base);
}
END_TEST

/* Ticker.Reset changes the period; a Stop'ed ticker restarts on Reset. */
START_TEST(test_timer_ticker_reset)
{
    chan_ticker_t *tk = chan_ticker_new(CHAN_HOUR);
    chan_t *c = chan_ticker_chan(tk);
    ck_assert(!has_value(c));
    int64_t t0 = chan_now(), v = 0;
    ck_assert_int_eq(chan_ticker_reset(tk, 10 * MS), CHAN_OK);
    ck_assert(recv_within(c, slack(), &v));
    ck_assert_int_ge(v, t0 + 10 * MS);
    chan_ticker_stop(tk);
    chan_sleep(quiet());
    ck_assert(!has_value(c));
    ck_assert_int_eq(chan_ticker_reset(tk, 5 * MS), CHAN_OK);
    ck_assert(recv_within(c, slack(), NULL));
    ck_assert(recv_within(c, slack(), NULL));
    chan_ticker_release(tk);
}
END_TEST

/* ---- select ---- */

/* A timer as the timeout case of a select, as in Go's
 * `select { case v := <-c: ...; case <-time.After(d): ... }`. */
START_TEST(test_timer_select_timeout)
{
    chan_t *never = chan_make(sizeof(int), 0);
    int64_t start = chan_now();
    chan_t *timeout = chan_after(20 * MS);
    int x = 0;
    chan_case_t cases[] = {CHAN_RECV_CASE(never, &x),
                           CHAN_RECV_CASE(timeout, NULL)};
    ck_assert_int_eq(chan_select(cases, 2), 1);
    ck_assert_int_eq(cases[1].status, CHAN_OK);
    ck_assert_int_ge(chan_now() - start, 20 * MS);
    chan_release(timeout);

    /* a ready channel wins over a pending timeout */
    chan_t *ready = chan_make(sizeof(int), 1);
    int one = 1;
    chan_send(ready, &one);
    timeout = chan_after(CHAN_HOUR);
    chan_case_t cases2[] = {CHAN_RECV_CASE(ready, &x),
                            CHAN_RECV_CASE(timeout, NULL)};
    ck_assert_int_eq(chan_select(cases2, 2), 0);
    ck_assert_int_eq(x, 1);
    chan_release(timeout);

    /* of two timers, the earlier fires first */
    chan_timer_t *late = chan_timer_new(CHAN_SECOND);
    chan_timer_t *early = chan_timer_new(10 * MS);
    chan_case_t cases3[] = {CHAN_RECV_CASE(chan_timer_chan(late), NULL),
                            CHAN_RECV_CASE(chan_timer_chan(early), NULL)};
    ck_assert_int_eq(chan_select(cases3, 2), 1);
    ck_assert(chan_timer_stop(late));
    chan_timer_release(late);
    chan_timer_release(early);
    chan_release(ready);
    chan_release(never);
}
END_TEST

/* Ports TestMultiWakeupTicker: threads select on a 1 us ticker and a fresh
 * After(1ms) in a loop. */
struct multi_ticker {
    chan_t *c;
};

static void *multi_ticker_worker(void *p)
{
    struct multi_ticker *m = p;
    for (int i = 0; i < 1000; i++) {
        chan_t *after = chan_after(MS);
        chan_case_t cases[] = {CHAN_RECV_CASE(m->c, NULL),
                               CHAN_RECV_CASE(after, NULL)};
        chan_select(cases, 2);
        chan_release(after);
    }
    return NULL;
}

START_TEST(test_timer_select_multi_wakeup_ticker)
{
    chan_ticker_t *tk = chan_ticker_new(CHAN_MICROSECOND);
    struct multi_ticker m = {chan_ticker_chan(tk)};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        th[i] = tu_spawn(multi_ticker_worker, &m);
    for (int i = 0; i < 2; i++)
        tu_join(th[i]);
    chan_ticker_release(tk);
}
END_TEST

/* ---- many timers ---- */

struct many {
    chan_timer_t *t;
    int64_t lo, hi; /* the deadline lies in [lo, hi] */
    int64_t v;      /* the firing time received */
};

static struct many *many_sorted_base;

static int by_lo(const void *a, const void *b)
{
    int64_t x = many_sorted_base[*(const int *)a].lo;
    int64_t y = many_sorted_base[*(const int *)b].lo;
    return (x > y) - (x < y);
}

static int by_hi(const void *a, const void *b)
{
    int64_t x = many_sorted_base[*(const int *)a].hi;
    int64_t y = many_sorted_base[*(const int *)b].hi;
    return (x > y) - (x < y);
}

/* 100,000 pending timers: each is one heap entry, Stop removes it at once,
 * and all fire no sooner than their deadlines and in deadline order (the one
 * timer thread fires them from one heap, so a timer whose deadline surely
 * precedes another's carries an earlier or equal firing time). */
START_TEST(test_timer_many_in_heap)
{
    enum { N = 100000 };
    struct many *m = calloc(N, sizeof *m);
    int *lo = malloc(N * sizeof *lo), *hi = malloc(N * sizeof *hi);
    ck_assert(m && lo && hi);
    size_t base = chan__timer_heap_len();
    int bad = 0;
    for (int i = 0; i < N; i++) {
        m[i].t = chan_timer_new(CHAN_HOUR);
        bad += m[i].t == NULL;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(chan__timer_heap_len(), base + N);
    for (int i = 0; i < N; i += 2)
        bad += !chan_timer_stop(m[i].t);
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(chan__timer_heap_len(), base + N / 2);
    for (int i = 0; i < N; i++) {
        int64_t d = (int64_t)rnd(200000) * CHAN_MICROSECOND;
        m[i].lo = chan_now() + d;
        bool pending = chan_timer_reset(m[i].t, d);
        m[i].hi = chan_now() + d;
        bad += pending != (i % 2 == 1);
    }
    ck_assert_msg(bad == 0, "%d wrong Reset results", bad);
    for (int i = 0; i < N; i++)
        bad += chan_recv(chan_timer_chan(m[i].t), &m[i].v) != CHAN_OK;
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(chan__timer_heap_len(), base);
    int early = 0, late = 0;
    for (int i = 0; i < N; i++) {
        early += m[i].v < m[i].lo;
        late += m[i].v >= m[i].hi + 5 * slack();
        lo[i] = hi[i] = i;
    }
    ck_assert_int_eq(early, 0);
    ck_assert_int_eq(late, 0);
    /* For each timer j, every timer i with hi_i < lo_j fired no later. */
    many_sorted_base = m;
    qsort(lo, N, sizeof *lo, by_lo);
    qsort(hi, N, sizeof *hi, by_hi);
    int64_t max_before = INT64_MIN;
    int inversions = 0;
    for (int a = 0, b = 0; a < N; a++) {
        struct many *j = &m[lo[a]];
        for (; b < N && m[hi[b]].hi < j->lo; b++)
            if (m[hi[b]].v > max_before)
                max_before = m[hi[b]].v;
        inversions += max_before > j->v;
    }
    ck_assert_msg(inversions == 0, "%d timers fired after a later one",
                  inversions);
    for (int i = 0; i < N; i++)
        chan_timer_release(m[i].t);
    free(m);
    free(lo);
    free(hi);
}
END_TEST

struct many_func {
    atomic_int ran;
    atomic_int early;
};

struct many_func_arg {
    struct many_func *s;
    int64_t deadline;
};

static void many_func(void *p)
{
    struct many_func_arg *a = p;
    if (chan_now() < a->deadline)
        atomic_fetch_add(&a->s->early, 1);
    atomic_fetch_add(&a->s->ran, 1);
}

/* 10,000 AfterFuncs at once (fewer in slow sanitizer runs): each runs once,
 * none early, each on a thread of its own. */
START_TEST(test_timer_many_afterfuncs)
{
    int n = (int)(10000 / tu_scale());
    static struct many_func s;
    struct many_func_arg *args = calloc((size_t)n, sizeof *args);
    chan_timer_t **ts = calloc((size_t)n, sizeof *ts);
    ck_assert(args && ts);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int64_t d = (int64_t)rnd(100000) * CHAN_MICROSECOND;
        args[i] = (struct many_func_arg){&s, chan_now() + d};
        ts[i] = chan_after_func(d, many_func, &args[i]);
        bad += ts[i] == NULL;
    }
    ck_assert_int_eq(bad, 0);
    int64_t deadline = chan_now() + 20 * slack();
    while (atomic_load(&s.ran) < n && chan_now() < deadline)
        tu_sleep_ms(5);
    ck_assert_int_eq(atomic_load(&s.ran), n);
    ck_assert_int_eq(atomic_load(&s.early), 0);
    for (int i = 0; i < n; i++)
        bad += chan_timer_stop(ts[i]);
    ck_assert_int_eq(bad, 0);
    for (int i = 0; i < n; i++)
        chan_timer_release(ts[i]);
    chan_sleep(quiet()); /* let the last threads finish with args */
    free(args);
    free(ts);
}
END_TEST

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Timers share one thread: 1,000 pending timers of every kind add one thread
 * to the process, and chan_go starts none for channel timers. */
static void *nothing(void *arg)
{
    return arg;
}

START_TEST(test_timer_one_thread)
{
    /* A first thread may start helpers (TSan's); count after one. */
    tu_join(tu_spawn(nothing, NULL));
    int before = count_threads();
    uint64_t started = chan__go_started();
    enum { N = 250 };
    chan_timer_t *ts[N], *fs[N];
    chan_ticker_t *tks[N];
    chan_t *as[N];
    for (int i = 0; i < N; i++) {
        ts[i] = chan_timer_new(CHAN_HOUR + i);
        fs[i] = chan_after_func(CHAN_HOUR, noop, NULL);
        tks[i] = chan_ticker_new(CHAN_HOUR);
        as[i] = chan_after(CHAN_HOUR);
    }
    if (before > 0)
        ck_assert_int_le(count_threads(), before + 1);
    ck_assert_uint_eq(chan__go_started(), started);
    for (int i = 0; i < N; i++) {
        chan_timer_release(ts[i]);
        chan_timer_release(fs[i]);
        chan_ticker_release(tks[i]);
        chan_release(as[i]);
    }
}
END_TEST

/* ---- lifetimes ---- */

struct releaser {
    chan_t *handles; /* chan of chan_timer_t *, from the maker */
    chan_t *tickers; /* chan of chan_ticker_t * */
    struct counter *calls;
};

static void *release_worker(void *p)
{
    struct releaser *r = p;
    chan_timer_t *t;
    while (chan_recv(r->handles, &t) == CHAN_OK)
        chan_timer_release(t);
    chan_ticker_t *tk;
    while (chan_recv(r->tickers, &tk) == CHAN_OK)
        chan_ticker_release(tk);
    return NULL;
}

/* Release from another thread while the timer fires (or its AfterFunc
 * thread starts): no use after free (ASan), no race (TSan), no leak
 * (valgrind). */
START_TEST(test_timer_release_while_firing)
{
    static struct counter calls;
    struct releaser r = {chan_make(sizeof(chan_timer_t *), 64),
                         chan_make(sizeof(chan_ticker_t *), 8), &calls};
    pthread_t th = tu_spawn(release_worker, &r);
    int nfunc = 0;
    for (int i = 0; i < 3000; i++) {
        int64_t d = (int64_t)rnd(50) * CHAN_MICROSECOND;
        chan_timer_t *t;
        if (i % 2) {
            t = chan_timer_new(d);
        } else {
            t = chan_after_func(d, count_func, &calls);
            nfunc++;
        }
        ck_assert_ptr_nonnull(t);
        chan_send(r.handles, &t);
        chan_t *a = chan_after(d); /* dropped before it fires */
        chan_release(a);
    }
    chan_close(r.handles);
    for (int i = 0; i < 50; i++) {
        chan_ticker_t *tk = chan_ticker_new(CHAN_NANOSECOND);
        chan_send(r.tickers, &tk);
    }
    chan_close(r.tickers);
    tu_join(th);
    ck_assert_int_le(atomic_load(&calls.n), nfunc);
    chan_sleep(quiet()); /* let started AfterFunc threads finish */
    chan_release(r.handles);
    chan_release(r.tickers);
}
END_TEST

/* After's channel dropped by its caller: the timer thread still owns its
 * own reference, fires into nothing and frees both (valgrind: no leak). */
START_TEST(test_timer_after_dropped)
{
    size_t base = chan__timer_heap_len();
    for (int i = 0; i < 100; i++)
        chan_release(chan_after(i * CHAN_MICROSECOND * 100));
    int64_t deadline = chan_now() + slack();
    while (chan__timer_heap_len() > base && chan_now() < deadline)
        tu_sleep_ms(1);
    ck_assert_uint_eq(chan__timer_heap_len(), base);
}
END_TEST

struct after_receiver {
    chan_t *c; /* borrowed: its owner lets go while we block */
    int status;
    tu_flag_t done;
};

static void *receive_after(void *p)
{
    struct after_receiver *r = p;
    int64_t when = 0;
    r->status = chan_recv(r->c, &when);
    tu_flag_set(&r->done);
    return NULL;
}

/* Contract "references" on a timer's channel: After's channel released by
 * its owner while a receiver blocks on it. A blocked receive counts no
 * reference (chan.c), yet the timer must not take the channel for garbage
 * (timer.c, timer_unreferenced): it fires, and the receiver wakes with the
 * time; the channel is freed after (valgrind: no leak). */
START_TEST(test_timer_after_released_while_received)
{
    /* Long enough for the receiver to queue first, even under valgrind. */
    struct after_receiver r = {
        .c = chan_after((int64_t)(200 * MS * tu_scale())), .status = -1};
    ck_assert_ptr_nonnull(r.c);
    pthread_t t = tu_spawn(receive_after, &r);
    tu_wait_waiters(r.c, 1, 0);
    chan_release(r.c);
    ck_assert_msg(tu_flag_wait(&r.done, 1000),
                  "the timer never woke the receiver");
    tu_join(t);
    ck_assert_int_eq(r.status, CHAN_OK);
}
END_TEST

/* ---- Sleep ---- */

static void on_signal(int sig)
{
    (void)sig;
}

struct interrupter {
    pthread_t target;
};

static void *interrupt_later(void *p)
{
    struct interrupter *in = p;
    chan_sleep(50 * MS);
    pthread_kill(in->target, SIGUSR1);
    return NULL;
}

/* Ports TestSleep: a signal halfway through does not cut the sleep short. */
START_TEST(test_timer_sleep)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    struct interrupter in = {pthread_self()};
    pthread_t th = tu_spawn(interrupt_later, &in);
    const int64_t delay = 100 * MS;
    int64_t start = chan_now();
    chan_sleep(delay);
    int64_t took = chan_now() - start;
    tu_join(th);
    ck_assert_int_ge(took, delay);
    ck_assert_int_lt(took, delay + slack());
}
END_TEST

/* Ports TestSleepZeroDeadlock: Sleep(0) and negative sleeps return. */
START_TEST(test_timer_sleep_zero)
{
    for (int i = 0; i < 100; i++) {
        chan_sleep(0);
        chan_sleep(-i);
        chan_t *tmp = chan_make(0, 1);
        chan_send(tmp, NULL);
        chan_recv(tmp, NULL);
        chan_release(tmp);
    }
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tu_tcase(s, "after", 20);
    tcase_add_test(tc, test_timer_after);
    tcase_add_test(tc, test_timer_after_overflow);
    tcase_add_test(tc, test_timer_after_times);
    tcase_add_test(tc, test_timer_after_tick);
    tcase_add_test(tc, test_timer_after_queuing);
    tcase_add_test(tc, test_timer_after_queuing_func);

    tc = tu_tcase(s, "afterfunc", 20);
    tcase_add_test(tc, test_timer_afterfunc);
    tcase_add_test(tc, test_timer_after_stop);
    tcase_add_test(tc, test_timer_stop_stress);
    tcase_add_test(tc, test_timer_afterfunc_stop_race);
    tcase_add_test(tc, test_timer_afterfunc_reset);
    tcase_add_test(tc, test_timer_afterfunc_go_fails);

    tc = tu_tcase(s, "stop_reset", 30);
    tcase_add_test(tc, test_timer_reset);
    tcase_add_test(tc, test_timer_stop_result);
    tcase_add_test(tc, test_timer_reset_result);
    tcase_add_test(tc, test_timer_modified_earlier);
    tcase_add_test(tc, test_timer_adjust_timers);
    tcase_add_test(tc, test_timer_bad_input);
    tcase_add_test(tc, test_timer_multi_wakeup);

    tc = tu_tcase(s, "chan", 20);
    tcase_add_test(tc, test_timer_chan_timer);
    tcase_add_test(tc, test_timer_chan_ticker);
    tcase_add_test(tc, test_timer_release_pending_value);

    tc = tu_tcase(s, "ticker", 20);
    tcase_add_test(tc, test_timer_ticker);
    tcase_add_test(tc, test_timer_ticker_stop_direct);
    tcase_add_test(tc, test_timer_teardown);
    tcase_add_test(tc, test_timer_ticker_stress);
    tcase_add_test(tc, test_timer_tick_times);
    tcase_add_test(tc, test_timer_tick_reclaimed);
    tcase_add_test(tc, test_timer_ticker_reset);

    tc = tu_tcase(s, "select", 20);
    tcase_add_test(tc, test_timer_select_timeout);
    tcase_add_test(tc, test_timer_select_multi_wakeup_ticker);

    tc = tu_tcase(s, "many", 60);
    tcase_add_test(tc, test_timer_many_in_heap);
    tcase_add_test(tc, test_timer_many_afterfuncs);
    tcase_add_test(tc, test_timer_one_thread);

    tc = tu_tcase(s, "lifetime", 20);
    tcase_add_test(tc, test_timer_release_while_firing);
    tcase_add_test(tc, test_timer_after_dropped);
    tcase_add_test(tc, test_timer_after_released_while_received);

    tc = tu_tcase(s, "sleep", 10);
    tcase_add_test(tc, test_timer_sleep);
    tcase_add_test(tc, test_timer_sleep_zero);
    return s;
}

int main(void)
{
    return tu_run(timer_suite());
}
