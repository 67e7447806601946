/* check_go.c: the goroutine-helper suite (go_suite): chan_go, chan__go_started
 * and the WaitGroup (Go's sync.WaitGroup, including Go 1.25's WaitGroup.Go).
 *
 * Threads started by chan_go are detached, so the tests learn what they did
 * through channels, flags and WaitGroups, and assert on the test thread.
 * Thread-creation failure is provoked in a forked child that drops to an
 * unprivileged user and lowers RLIMIT_NPROC (root ignores the limit).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/timer.h>

#include "chan/chan_test_hooks.h" /* chan__go_started */
#include "sched/sanitizer.h"      /* SCHED__TSAN */
#include "testutil.h"

/* ---- chan_go ------------------------------------------------------------ */

typedef struct {
    chan_t *report; /* unbuffered; receives one go_seen_t */
} go_arg_t;

typedef struct {
    void *arg;
    pthread_t self;
    int detach_state;
    size_t stack_size;
} go_seen_t;

static void go_reporter(void *p)
{
    go_arg_t *a = p;
    go_seen_t seen = {.arg = p, .self = pthread_self(), .detach_state = -1};
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getdetachstate(&attr, &seen.detach_state);
        pthread_attr_getstacksize(&attr, &seen.stack_size);
        pthread_attr_destroy(&attr);
    }
    chan_send(a->report, &seen);
}

/* `go fn(arg)`: chan_go runs fn(arg) once, on another, detached thread with
 * at least CHAN_GO_STACK_SIZE of stack, and counts it in chan__go_started. */
START_TEST(test_go_runs_fn)
{
    uint64_t before = chan__go_started();
    go_arg_t a = {.report = chan_make(sizeof(go_seen_t), 0)};
    ck_assert_int_eq(chan_go(go_reporter, &a), CHAN_OK);
    ck_assert_uint_eq(chan__go_started(), before + 1);
    go_seen_t seen;
    ck_assert_int_eq(chan_recv(a.report, &seen), CHAN_OK);
    ck_assert_ptr_eq(seen.arg, &a);
    ck_assert(!pthread_equal(seen.self, pthread_self()));
    ck_assert_int_eq(seen.detach_state, PTHREAD_CREATE_DETACHED);
    ck_assert_uint_ge(seen.stack_size, CHAN_GO_STACK_SIZE);
    /* it ran exactly once: a second run would be blocked sending */
    tu_quiet_sleep();
    ck_assert_int_eq(chan_try_recv(a.report, &seen), CHAN_WOULDBLOCK);
    chan_release(a.report);
}
END_TEST

/* chan_go with a NULL fn is CHAN_INVALID, starts nothing and counts
 * nothing; arg may be NULL. */
START_TEST(test_go_null_fn)
{
    uint64_t before = chan__go_started();
    ck_assert_int_eq(chan_go(NULL, NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_go(NULL, &before), CHAN_INVALID);
    ck_assert_uint_eq(chan__go_started(), before);
}
END_TEST

static void go_signal(void *p)
{
    chan_close((chan_t *)p);
}

static void *null_arg_seen = &null_arg_seen;
static chan_t *null_arg_done;

static void go_record_arg(void *p)
{
    null_arg_seen = p;
    chan_close(null_arg_done);
}

/* A NULL arg is passed through as is. */
START_TEST(test_go_null_arg)
{
    null_arg_done = chan_make(0, 0);
    ck_assert_int_eq(chan_go(go_record_arg, NULL), CHAN_OK);
    ck_assert_int_eq(chan_recv(null_arg_done, NULL), CHAN_CLOSED);
    ck_assert_ptr_null(null_arg_seen);
    chan_release(null_arg_done);
}
END_TEST

/* ---- many threads -------------------------------------------------------- */

#define MANY 1000

typedef struct {
    chan_t *gate; /* closed to let every thread finish */
    atomic_int ran;
    chan_waitgroup_t wg;
} many_t;

static void many_worker(void *p)
{
    many_t *m = p;
    if (chan_recv(m->gate, NULL) == CHAN_CLOSED)
        atomic_fetch_add(&m->ran, 1);
    chan_waitgroup_done(&m->wg);
}

/* 1,000 threads started with chan_go are all alive at once (each blocked on
 * one gate channel), and all complete when the gate closes: close wakes a
 * thousand receivers. */
START_TEST(test_go_1000_threads)
{
    static many_t m;
    m.gate = chan_make(0, 0);
    atomic_init(&m.ran, 0);
    chan_waitgroup_init(&m.wg);
    uint64_t before = chan__go_started();
    ck_assert_int_eq(chan_waitgroup_add(&m.wg, MANY), CHAN_OK);
    for (int i = 0; i < MANY; i++) {
        int st = chan_go(many_worker, &m);
        ck_assert_msg(st == CHAN_OK, "chan_go #%d: %s (%s)", i,
                      chan_strerror(st), strerror(errno));
    }
    ck_assert_uint_eq(chan__go_started(), before + MANY);
    tu_wait_waiters(m.gate, MANY, 0);
    ck_assert_int_eq(atomic_load(&m.ran), 0);
    ck_assert_int_eq(chan_close(m.gate), CHAN_OK);
    chan_waitgroup_wait(&m.wg);
    ck_assert_int_eq(atomic_load(&m.ran), MANY);
    chan_waitgroup_destroy(&m.wg);
    chan_release(m.gate);
}
END_TEST

typedef struct {
    chan_t *in, *out;
} link_t;

static void chain_link(void *p)
{
    link_t *l = p;
    int64_t v;
    if (chan_recv(l->in, &v) == CHAN_OK) {
        v++;
        chan_send(l->out, &v);
    }
}

/* test/chan/goroutines.go (ADAPT: 1,000 threads instead of 10,000): a chain
 * of threads joined by unbuffered channels passes a counter from end to end,
 * each adding one, and tears down as the value passes. */
START_TEST(test_go_chain)
{
    static chan_t *chans[MANY + 1];
    static link_t links[MANY];
    for (int i = 0; i <= MANY; i++)
        chans[i] = chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < MANY; i++) {
        links[i] = (link_t){chans[i], chans[i + 1]};
        ck_assert_int_eq(chan_go(chain_link, &links[i]), CHAN_OK);
    }
    int64_t v = 0;
    ck_assert_int_eq(chan_send(chans[0], &v), CHAN_OK);
    ck_assert_int_eq(chan_recv(chans[MANY], &v), CHAN_OK);
    ck_assert_int_eq(v, MANY);
    /* every link has sent, so no thread touches a channel any more */
    for (int i = 0; i <= MANY; i++)
        chan_release(chans[i]);
}
END_TEST

/* ---- WaitGroup ---------------------------------------------------------- */

typedef struct {
    chan_waitgroup_t *wg;
    tu_flag_t done;
} waiter_t;

static void *wg_waiter(void *p)
{
    waiter_t *w = p;
    chan_waitgroup_wait(w->wg);
    tu_flag_set(&w->done);
    return NULL;
}

/* sync.WaitGroup Add/Done/Wait: Wait blocks while the counter is above zero,
 * through partial Dones, and the last Done releases every waiter. */
START_TEST(test_go_waitgroup_add_done_wait)
{
    enum { W = 3 };
    chan_waitgroup_t wg;
    chan_waitgroup_init(&wg);
    ck_assert_int_eq(chan_waitgroup_add(&wg, 3), CHAN_OK);
    waiter_t w[W];
    pthread_t t[W];
    for (int i = 0; i < W; i++) {
        w[i] = (waiter_t){.wg = &wg};
        t[i] = tu_spawn(wg_waiter, &w[i]);
    }
    ck_assert(!tu_flag_wait(&w[0].done, TU_QUIET_MS));
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_add(&wg, -1), CHAN_OK);
    ck_assert(!tu_flag_wait(&w[1].done, TU_QUIET_MS));
    for (int i = 0; i < W; i++)
        ck_assert(!tu_flag_is_set(&w[i].done));
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK);
    for (int i = 0; i < W; i++) {
        tu_join(t[i]);
        ck_assert(tu_flag_is_set(&w[i].done));
    }
    /* reuse: a zero WaitGroup does not block, and may count again */
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(chan_waitgroup_add(&wg, 1), CHAN_OK);
    w[0] = (waiter_t){.wg = &wg};
    t[0] = tu_spawn(wg_waiter, &w[0]);
    ck_assert(!tu_flag_wait(&w[0].done, TU_QUIET_MS));
    ck_assert_int_eq(chan_waitgroup_add(&wg, 0), CHAN_OK);
    ck_assert(!tu_flag_is_set(&w[0].done));
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK);
    tu_join(t[0]);
    chan_waitgroup_destroy(&wg);
}
END_TEST

/* Go panics "sync: negative WaitGroup counter"; gochan returns CHAN_INVALID
 * and leaves the counter unchanged (shown by how many Dones still succeed).
 * Overflow of the counter and a NULL WaitGroup are CHAN_INVALID too. */
START_TEST(test_go_waitgroup_negative)
{
    chan_waitgroup_t wg;
    chan_waitgroup_init(&wg);
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, -1), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, 2), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_add(&wg, -3), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT64_MAX), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_INVALID);
    /* the counter is 0: Wait returns */
    waiter_t w = {.wg = &wg};
    pthread_t t = tu_spawn(wg_waiter, &w);
    ck_assert(tu_flag_wait(&w.done, 10000));
    tu_join(t);
    /* Go's counter is an int32: past INT32_MAX it would wrap negative. */
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT32_MAX), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_add(&wg, 1), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT64_MAX), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, -INT32_MAX), CHAN_OK);
    chan_waitgroup_wait(&wg);
    chan_waitgroup_destroy(&wg);

    ck_assert_int_eq(chan_waitgroup_add(NULL, 1), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_done(NULL), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_go(NULL, go_signal, NULL), CHAN_INVALID);
    chan_waitgroup_wait(NULL);
}
END_TEST

/* Regression: chan_waitgroup_add(wg, INT64_MIN) negated its delta, which
 * overflows, returned CHAN_OK and left the counter at INT64_MIN (or -1 from
 * INT64_MAX), after which Wait blocked forever. Every delta that would make
 * the counter negative is CHAN_INVALID and changes nothing. */
START_TEST(test_go_waitgroup_add_int64_min)
{
    chan_waitgroup_t wg;
    chan_waitgroup_init(&wg);
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT64_MIN), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT64_MIN + 1), CHAN_INVALID);
    chan_waitgroup_wait(&wg); /* still 0: returns */
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT32_MAX), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_add(&wg, INT64_MIN), CHAN_INVALID);
    ck_assert_int_eq(chan_waitgroup_add(&wg, -INT32_MAX + 1), CHAN_OK);
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_OK); /* it was 1 */
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_INVALID);
    chan_waitgroup_wait(&wg);
    chan_waitgroup_destroy(&wg);
}
END_TEST

static void block_on(void *arg)
{
    chan_recv(arg, NULL);
}

/* Go's TestNumGoroutine: the count follows goroutines started and ended.
 * gochan's count leaves out main, which Go's includes. GR- items in
 * docs/semantics.md. */
START_TEST(test_go_num_goroutine)
{
    int64_t base = chan_num_goroutine();
    ck_assert_int_ge(base, 0);
    chan_t *gate = chan_make(0, 0);
    enum { N = 50 };
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(chan_go(block_on, gate), CHAN_OK);
    ck_assert_int_eq(chan_num_goroutine(), base + N);
    chan_close(gate);
    bool back = false;
    for (int i = 0; i < 10000 * tu_scale() && !back; i++) {
        back = chan_num_goroutine() == base;
        if (!back)
            tu_sleep_ms(1);
    }
    ck_assert_msg(back, "still %lld running", (long long)chan_num_goroutine());
    chan_release(gate);
}
END_TEST

typedef struct {
    atomic_bool stop;
    atomic_long rounds;
    tu_flag_t done;
} yielder_t;

static void yield_until_stopped(void *arg)
{
    yielder_t *y = arg;
    while (!atomic_load(&y->stop)) {
        chan_gosched();
        atomic_fetch_add(&y->rounds, 1);
    }
    tu_flag_set(&y->done);
}

static void stopper(void *arg)
{
    atomic_store(&((yielder_t *)arg)->stop, true);
}

/* Go's TestYieldProgress: a goroutine that only yields (runtime.Gosched)
 * lets another goroutine run, here the one that stops it, whatever the
 * number of processors. */
START_TEST(test_go_gosched_lets_others_run)
{
    yielder_t y = {0};
    ck_assert_int_eq(chan_go(yield_until_stopped, &y), CHAN_OK);
    ck_assert_int_eq(chan_go(stopper, &y), CHAN_OK);
    ck_assert(tu_flag_wait(&y.done, 10000));
    chan_gosched(); /* on a plain thread too */
}
END_TEST

static void sleep_then_done(void *arg)
{
    chan_sleep(100 * CHAN_MILLISECOND);
    chan_waitgroup_done(arg);
}

/* Go's time.Sleep parks its goroutine: 400 goroutines that each sleep
 * 100 ms all wake within a few such sleeps, however few threads run them
 * (400 sleeps that each held a thread of GOMAXPROCS would take
 * 400 / GOMAXPROCS * 100 ms). The bound is 40 times the sleep. */
START_TEST(test_go_sleep_parks)
{
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    enum { N = 400 };
    ck_assert_int_eq(chan_waitgroup_add(&wg, N), CHAN_OK);
    int64_t start = chan_now();
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(chan_go(sleep_then_done, &wg), CHAN_OK);
    chan_waitgroup_wait(&wg);
    int64_t took = chan_now() - start;
    ck_assert_msg(took < (int64_t)(4 * CHAN_SECOND * tu_scale()),
                  "400 sleeps of 100 ms took %lld ms",
                  (long long)(took / 1000000));
}
END_TEST

typedef struct {
    chan_t *in;
    bool same_thread;
    tu_flag_t done;
} locked_t;

static void locked_fn(void *arg)
{
    locked_t *l = arg;
    pthread_t self = pthread_self();
    chan_recv(l->in, NULL); /* a wait: a goroutine could move here */
    chan_gosched();
    chan_sleep(CHAN_MILLISECOND);
    l->same_thread = pthread_equal(self, pthread_self());
    tu_flag_set(&l->done);
}

/* Go's TestLockOSThread / TestBlockLocked: a function started with
 * chan_go_locked keeps one thread across its waits, and counts as a
 * goroutine while it runs. */
START_TEST(test_go_locked_keeps_its_thread)
{
    locked_t l = {.in = chan_make(0, 0)};
    int64_t base = chan_num_goroutine();
    ck_assert_int_eq(chan_go_locked(locked_fn, &l), CHAN_OK);
    ck_assert_int_eq(chan_num_goroutine(), base + 1);
    ck_assert_int_eq(chan_send(l.in, NULL), CHAN_OK);
    ck_assert(tu_flag_wait(&l.done, 10000));
    ck_assert(l.same_thread);
    ck_assert_int_eq(chan_go_locked(NULL, NULL), CHAN_INVALID);
    chan_release(l.in);
}
END_TEST

typedef struct {
    chan_t *gate;
    chan_waitgroup_t *wg;
} closer_t;

static void wait_gate_done(void *arg)
{
    closer_t *c = arg;
    if (chan_recv(c->gate, NULL) == CHAN_CLOSED)
        chan_waitgroup_done(c->wg);
}

static void close_gate(void *arg)
{
    chan_close(((closer_t *)arg)->gate);
}

/* close wakes every waiter, in batches of goroutines readied at once (Go's
 * closechan readies a list): 1,000 goroutines on one channel, closed from
 * a goroutine (onto its processor's queue) and, in a second round, from the
 * test's plain thread (onto the global queue), all finish. */
START_TEST(test_go_close_wakes_many_goroutines)
{
    enum { N = 1000 };
    for (int round = 0; round < 2; round++) {
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        closer_t c = {chan_make(0, 0), &wg};
        ck_assert_int_eq(chan_waitgroup_add(&wg, N), CHAN_OK);
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(chan_go(wait_gate_done, &c), CHAN_OK);
        tu_wait_waiters(c.gate, N, 0);
        if (round == 0)
            ck_assert_int_eq(chan_go(close_gate, &c), CHAN_OK);
        else
            ck_assert_int_eq(chan_close(c.gate), CHAN_OK);
        chan_waitgroup_wait(&wg);
        chan_release(c.gate);
    }
}
END_TEST

/* test/chan/goroutines.go's f: left <- <-right. */
typedef struct {
    chan_t *left, *right;
} torture_link_t;

static void torture_f(void *arg)
{
    torture_link_t *l = arg;
    long v;
    if (chan_recv(l->right, &v) == CHAN_OK)
        chan_send(l->left, &v);
}

static void torture_send_one(void *arg)
{
    long one = 1;
    chan_send(arg, &one);
}

/* Go's test/chan/goroutines.go ("torture test for goroutines"), at 100,000
 * goroutines threaded together by unbuffered channels and torn down cleanly
 * by one value passed from the rightmost to the leftmost. On kernel threads
 * (GOCHAN_SCHED=0) the chain is 1,000 long, as a machine allows ~32,000
 * threads; under ThreadSanitizer 5,000 (its shadow stack per fiber), under
 * valgrind a tenth. */
START_TEST(test_go_goroutines_torture)
{
    long n = chan__go_on_scheduler() ? 100000 : 1000;
    if (SCHED__TSAN) /* a TSan fiber takes 512 KiB of shadow stack */
        n = 5000;
    if (tu_short())
        n /= 10;
    chan_t **cs = malloc((size_t)(n + 1) * sizeof *cs);
    torture_link_t *links = malloc((size_t)n * sizeof *links);
    ck_assert(cs && links);
    for (long i = 0; i <= n; i++) {
        cs[i] = chan_make(sizeof(long), 0);
        ck_assert_ptr_nonnull(cs[i]);
    }
    for (long i = 0; i < n; i++) {
        links[i] = (torture_link_t){cs[i], cs[i + 1]};
        ck_assert_int_eq(chan_go(torture_f, &links[i]), CHAN_OK);
    }
    ck_assert_int_eq(chan_go(torture_send_one, cs[n]), CHAN_OK);
    long v = 0;
    ck_assert_int_eq(chan_recv(cs[0], &v), CHAN_OK);
    ck_assert_int_eq(v, 1);
    /* every link has sent, so every goroutine is done or about to be */
    for (int i = 0; i < 10000 * tu_scale() && chan_num_goroutine() > 0; i++)
        tu_sleep_ms(1);
    ck_assert_int_eq(chan_num_goroutine(), 0);
    for (long i = 0; i <= n; i++)
        chan_release(cs[i]);
    free(links);
    free(cs);
}
END_TEST

typedef struct {
    chan_t *gate;
    int64_t result[16]; /* plain: written by worker i, read after Wait */
    atomic_int next;
} wgo_t;

static void wgo_worker(void *p)
{
    wgo_t *g = p;
    int i = atomic_fetch_add(&g->next, 1);
    chan_recv(g->gate, NULL);
    g->result[i] = 100 + i;
}

/* wg.Go(f) (Go 1.25): Add(1), run f on a new thread, Done when f returns.
 * Wait waits for every f; what f wrote is visible after Wait (Done happens
 * before Wait returns; TSan checks). A NULL fn is CHAN_INVALID and leaves
 * the counter alone. */
START_TEST(test_go_waitgroup_go)
{
    static wgo_t g;
    memset(&g, 0, sizeof g);
    g.gate = chan_make(0, 0);
    chan_waitgroup_t wg;
    chan_waitgroup_init(&wg);
    uint64_t before = chan__go_started();
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(chan_waitgroup_go(&wg, wgo_worker, &g), CHAN_OK);
    ck_assert_uint_eq(chan__go_started(), before + 16);
    ck_assert_int_eq(chan_waitgroup_go(&wg, NULL, &g), CHAN_INVALID);
    ck_assert_uint_eq(chan__go_started(), before + 16);

    waiter_t w = {.wg = &wg};
    pthread_t t = tu_spawn(wg_waiter, &w);
    tu_wait_waiters(g.gate, 16, 0);
    ck_assert(!tu_flag_wait(&w.done, TU_QUIET_MS));
    ck_assert_int_eq(chan_close(g.gate), CHAN_OK);
    tu_join(t);
    chan_waitgroup_wait(&wg);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(g.result[i], 100 + i);
    /* the counter is back at zero: one more Done is negative */
    ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_INVALID);
    chan_waitgroup_destroy(&wg);
    chan_release(g.gate);
}
END_TEST

static chan_waitgroup_t static_wg = CHAN_WAITGROUP_INIT;
static atomic_int static_ran;

static void static_worker(void *p)
{
    (void)p;
    atomic_fetch_add(&static_ran, 1);
}

/* Go's TestWaitGroup: wg1 and wg2 as a two-phase barrier, run 8 times on the
 * same pair (so each is reused after its Wait returned). Half the parties
 * are goroutines, half plain threads; wg2's waiters sleep on its semaphore
 * until the last Done, which must wake every one of them. */
typedef struct {
    chan_waitgroup_t wg1, wg2;
    chan_t *exited;
} barrier_t;

static void barrier_party(void *p)
{
    barrier_t *b = p;
    chan_waitgroup_done(&b->wg1);
    chan_waitgroup_wait(&b->wg2);
    ck_assert_int_eq(chan_send(b->exited, &(int){1}), CHAN_OK);
}

static void *barrier_party_thread(void *p)
{
    barrier_party(p);
    return NULL;
}

START_TEST(test_go_waitgroup_barrier)
{
    enum { N = 16 };
    static barrier_t b; /* zero: both WaitGroups ready, as Go's */
    b.exited = chan_make(sizeof(int), N);
    for (int round = 0; round < 8; round++) {
        ck_assert_int_eq(chan_waitgroup_add(&b.wg1, N), CHAN_OK);
        ck_assert_int_eq(chan_waitgroup_add(&b.wg2, N), CHAN_OK);
        pthread_t threads[N / 2];
        for (int i = 0; i < N / 2; i++) {
            ck_assert_int_eq(chan_go(barrier_party, &b), CHAN_OK);
            threads[i] = tu_spawn(barrier_party_thread, &b);
        }
        chan_waitgroup_wait(&b.wg1);
        for (int i = 0; i < N; i++) {
            /* released too soon if any party got past wg2 */
            ck_assert_int_eq(chan_try_recv(b.exited, NULL), CHAN_WOULDBLOCK);
            ck_assert_int_eq(chan_waitgroup_done(&b.wg2), CHAN_OK);
        }
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(chan_recv(b.exited, NULL), CHAN_OK);
        for (int i = 0; i < N / 2; i++)
            tu_join(threads[i]);
    }
    ck_assert_int_eq(chan_waitgroup_done(&b.wg2), CHAN_INVALID);
    chan_release(b.exited);
}
END_TEST

/* A WaitGroup initialised statically with CHAN_WAITGROUP_INIT works without
 * chan_waitgroup_init, as Go's zero WaitGroup does. */
START_TEST(test_go_waitgroup_static)
{
    chan_waitgroup_wait(&static_wg); /* zero: returns at once */
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(chan_waitgroup_go(&static_wg, static_worker, NULL),
                         CHAN_OK);
    chan_waitgroup_wait(&static_wg);
    ck_assert_int_eq(atomic_load(&static_ran), 20);
    ck_assert_int_eq(chan_waitgroup_done(&static_wg), CHAN_INVALID);
}
END_TEST

/* ---- thread creation failure -------------------------------------------- */

typedef struct {
    int provoked;    /* 1: thread creation was made to fail */
    int setup_errno; /* why it could not be, else 0 */
    int go_status, go_errno;
    uint64_t started_delta; /* chan__go_started across the failures */
    int wg_status, wg_errno;
    int wg_done_after; /* chan_waitgroup_done after the failed Go */
    int fn_ran;        /* a failed start's fn ran (must not) */
    int recovered;     /* chan_go works again once the limit is lifted */
    int recovered_wg;  /* and so does chan_waitgroup_go */
} fail_report_t;

static atomic_int fail_fn_ran;

static void fail_fn(void *p)
{
    (void)p;
    atomic_fetch_add(&fail_fn_ran, 1);
}

static void fail_child(int fd)
{
    fail_report_t r = {0};
    /* Root ignores RLIMIT_NPROC: drop to nobody first (this process only). */
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        r.setup_errno = errno;
    struct rlimit lim = {0, 0};
    if (!r.setup_errno && getrlimit(RLIMIT_NPROC, &lim) != 0)
        r.setup_errno = errno;
    rlim_t saved = lim.rlim_cur;
    lim.rlim_cur = 0; /* this user may start no more tasks */
    if (!r.setup_errno && setrlimit(RLIMIT_NPROC, &lim) != 0)
        r.setup_errno = errno;

    if (!r.setup_errno) {
        uint64_t before = chan__go_started();
        errno = 0;
        r.go_status = chan_go(fail_fn, NULL);
        r.go_errno = errno;
        r.provoked = r.go_status != CHAN_OK;
        chan_waitgroup_t wg;
        chan_waitgroup_init(&wg);
        errno = 0;
        r.wg_status = chan_waitgroup_go(&wg, fail_fn, NULL);
        r.wg_errno = errno;
        r.started_delta = chan__go_started() - before;
        r.wg_done_after = chan_waitgroup_done(&wg);

        lim.rlim_cur = saved;
        setrlimit(RLIMIT_NPROC, &lim);
        chan_t *done = chan_make(0, 0);
        r.recovered = chan_go(go_signal, done) == CHAN_OK &&
                      chan_recv(done, NULL) == CHAN_CLOSED;
        r.recovered_wg = chan_waitgroup_go(&wg, fail_fn, NULL) == CHAN_OK;
        chan_waitgroup_wait(&wg);
        r.fn_ran = atomic_load(&fail_fn_ran) - r.recovered_wg;
        chan_waitgroup_destroy(&wg);
        chan_release(done);
    }
    ssize_t n = write(fd, &r, sizeof r);
    _exit(n == (ssize_t)sizeof r ? 0 : 1);
}

/* chan_go when no thread can be created (EAGAIN): CHAN_NOMEM with errno
 * set, fn never runs, nothing is counted; chan_waitgroup_go reports the same
 * and leaves the counter unchanged; both work again once threads can be
 * created. Provoked in a forked child that lowers RLIMIT_NPROC to 0 after
 * dropping root (root is exempt from the limit). */
START_TEST(test_go_create_fails)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        fail_child(fds[1]);
    }
    close(fds[1]);
    fail_report_t r;
    ssize_t n = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int wstatus;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    ck_assert_int_eq(n, (ssize_t)sizeof r);
    if (r.setup_errno || !r.provoked) {
        /* Nothing to check here: say so loudly rather than pass silently. */
        fprintf(stderr,
                "test_go_create_fails: could not make thread creation fail "
                "(setup: %s; chan_go: %s); failure paths NOT checked\n",
                r.setup_errno ? strerror(r.setup_errno) : "ok",
                chan_strerror(r.go_status));
        return;
    }
    ck_assert_int_eq(r.go_status, CHAN_NOMEM);
    ck_assert_int_eq(r.go_errno, EAGAIN);
    ck_assert_int_eq(r.wg_status, CHAN_NOMEM);
    ck_assert_int_eq(r.wg_errno, EAGAIN);
    ck_assert_uint_eq(r.started_delta, 0);
    ck_assert_int_eq(r.wg_done_after, CHAN_INVALID); /* counter still 0 */
    ck_assert_int_eq(r.fn_ran, 0);
    ck_assert(r.recovered);
    ck_assert(r.recovered_wg);
}
END_TEST

/* ---- the suite
 * ---------------------------------------------------------------- */

/* ---- signal masks (issue 19, bug 1) ---- */

static void mask_reporter(void *p)
{
    int r = tu_blocks_int_or_term();
    chan_send(p, &r);
}

/* A plain thread with every signal blocked starts fn three ways: chan_go
 * (a goroutine, or a thread with GOCHAN_SCHED=0), chan_go_locked (a thread)
 * and chan_after_func (through the timer thread, which it starts). */
typedef struct {
    chan_t *c;
    bool started;
    chan_timer_t *timer; /* released once f has run: a release stops it */
} blocked_start_t;

static void *blocked_starter(void *p)
{
    blocked_start_t *b = p;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    b->started = chan_go(mask_reporter, b->c) == CHAN_OK &&
                 chan_go_locked(mask_reporter, b->c) == CHAN_OK &&
                 (b->timer = chan_after_func(0, mask_reporter, b->c));
    return NULL;
}

/* Regression (issue 19, bug 1): what chan_go, chan_go_locked and AfterFunc
 * run gets the process's initial signal mask, as a Go goroutine does, not
 * the mask of the thread that started it. */
START_TEST(test_go_sigmask_not_inherited)
{
    ck_assert_int_eq(tu_blocks_int_or_term(), 0);
    chan_t *c = chan_make(sizeof(int), 3);
    blocked_start_t b = {.c = c};
    tu_join(tu_spawn(blocked_starter, &b));
    ck_assert(b.started);
    for (int i = 0; i < 3; i++) {
        int r = -2;
        ck_assert_int_eq(chan_recv(c, &r), CHAN_OK);
        ck_assert_msg(r == 0, "start %d: SIGINT/SIGTERM blocked (%d)", i, r);
    }
    chan_timer_release(b.timer);
    for (int i = 0; i < 1000 && chan_num_goroutine() != 0; i++)
        tu_sleep_ms(1);
    chan_release(c);
}
END_TEST

/* ---- chan_goexit (runtime.Goexit) ---- */

static atomic_int goexit_after; /* code after chan_goexit that ran */

static __attribute__((noinline)) void goexit_inner(void)
{
    chan_goexit();
}

static __attribute__((noinline)) void goexit_outer(void)
{
    goexit_inner();
    atomic_fetch_add(&goexit_after, 1);
}

static void goexit_fn(void *p)
{
    int v = 1;
    chan_send(p, &v);
    goexit_outer(); /* from frames down, as Goexit may be */
    atomic_fetch_add(&goexit_after, 1);
}

static void *goexit_thread(void *p)
{
    goexit_fn(p);
    return (void *)1; /* never: pthread_join sees NULL */
}

/* Go's TestGoexit-style checks (runtime.Goexit): chan_goexit ends the
 * goroutine at once, from any depth, runs nothing after it, and the
 * goroutine is no longer counted (its stack back in the pool); on a
 * chan_go_locked thread the same; on a plain thread it ends the thread
 * (pthread_exit). 100 rounds: nothing accumulates. */
START_TEST(test_go_goexit)
{
    chan_t *c = chan_make(sizeof(int), 0);
    int v;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(chan_go(goexit_fn, c), CHAN_OK);
        ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    }
    ck_assert_int_eq(chan_go_locked(goexit_fn, c), CHAN_OK);
    ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    pthread_t t = tu_spawn(goexit_thread, c);
    ck_assert_int_eq(chan_recv(c, &v), CHAN_OK);
    void *ret = (void *)2;
    ck_assert_int_eq(pthread_join(t, &ret), 0);
    ck_assert_ptr_null(ret);
    for (int i = 0; i < 10000 && chan_num_goroutine() != 0; i++)
        tu_sleep_ms(1);
    ck_assert_int_eq(chan_num_goroutine(), 0);
    ck_assert_int_eq(atomic_load(&goexit_after), 0);
    chan_release(c);
}
END_TEST

Suite *go_suite(void);
Suite *go_suite(void)
{
    Suite *s = suite_create("go");
    TCase *tc;

    tc = tu_tcase(s, "go", 10);
    tcase_add_test(tc, test_go_runs_fn);
    tcase_add_test(tc, test_go_null_fn);
    tcase_add_test(tc, test_go_null_arg);
    tcase_add_test(tc, test_go_num_goroutine);
    tcase_add_test(tc, test_go_gosched_lets_others_run);
    tcase_add_test(tc, test_go_sleep_parks);
    tcase_add_test(tc, test_go_locked_keeps_its_thread);
    tcase_add_test(tc, test_go_sigmask_not_inherited);
    tcase_add_test(tc, test_go_goexit);

    tc = tu_tcase(s, "go_many", 60);
    tcase_add_test(tc, test_go_1000_threads);
    tcase_add_test(tc, test_go_chain);
    tcase_add_test(tc, test_go_goroutines_torture);
    tcase_add_test(tc, test_go_close_wakes_many_goroutines);

    tc = tu_tcase(s, "waitgroup", 10);
    tcase_add_test(tc, test_go_waitgroup_add_done_wait);
    tcase_add_test(tc, test_go_waitgroup_negative);
    tcase_add_test(tc, test_go_waitgroup_add_int64_min);
    tcase_add_test(tc, test_go_waitgroup_go);
    tcase_add_test(tc, test_go_waitgroup_static);
    tcase_add_test(tc, test_go_waitgroup_barrier);

    tc = tu_tcase(s, "go_fail", 10);
    tcase_add_test(tc, test_go_create_fails);

    return s;
}

int main(void)
{
    return tu_run(go_suite());
}
