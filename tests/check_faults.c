/* check_faults.c: allocation and thread-creation failures, at every call site.
 *
 * This executable is linked with -Wl,--wrap=malloc,... (see CMakeLists.txt),
 * so every call that the objects of libgochan.a make to malloc, calloc,
 * realloc, free, posix_memalign, aligned_alloc and pthread_create
 * goes through the wrappers below; nothing in the library is changed.
 *
 * A countdown, private to the calling thread, makes the k-th fallible call
 * (allocation or thread start) fail. Each test sweeps k = 1, 2, ... over one
 * public function until the function succeeds without an injected failure, so
 * every call site on its path fails once, in turn. Each time it checks the
 * documented result (NULL with errno, or a status code), that nothing leaked
 * (every block allocated through the wrappers while tracking is freed again),
 * that nothing changed, and that the objects involved still work.
 *
 * Item ids such as (SEL-15) are those of docs/semantics.md.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan/chan_test_hooks.h"       /* chan__go_started */
#include "context/context_test_hooks.h" /* children sets */
#include "testutil.h"

Suite *faults_suite(void);

/* ---- the wrappers -------------------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);

/* The countdown: > 0 arms it; the call that takes it to 0 fails. */
static _Thread_local long countdown;
static _Thread_local long injected; /* failures injected on this thread */
static _Thread_local long events;   /* fallible calls made on this thread */

/* Check allocates on the test's thread (every ck_assert reports its line to
 * the parent), so there only the calls inside an arm()..disarm() window
 * count and are tracked; every other thread is the library's or a helper's
 * that never calls Check. */
static _Thread_local bool test_thread, in_window;

static bool counted(void)
{
    return !test_thread || in_window;
}

static bool inject(void)
{
    if (!counted())
        return false;
    events++;
    if (countdown > 0 && --countdown == 0) {
        injected++;
        return true;
    }
    return false;
}

static void arm(long k)
{
    in_window = true;
    countdown = k;
    injected = 0;
    events = 0;
}

static void disarm(void)
{
    countdown = 0;
    in_window = false;
}

/* The blocks allocated through the wrappers while tracking is on (by any
 * thread) and not yet freed. */
#define LIVE_MAX 4096
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *p;
    bool cache; /* grown with realloc: the timer heap, kept for reuse */
} live[LIVE_MAX];
static size_t nlive;
static atomic_bool tracking;

static void track_as(void *p, bool cache)
{
    if (!p || !atomic_load(&tracking) || !counted())
        return;
    pthread_mutex_lock(&live_mu);
    if (nlive == LIVE_MAX)
        abort();
    live[nlive].p = p;
    live[nlive++].cache = cache;
    pthread_mutex_unlock(&live_mu);
}

static void track(void *p)
{
    track_as(p, false);
}

static void untrack(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive; i++)
        if (live[i].p == p) {
            live[i] = live[--nlive];
            break;
        }
    pthread_mutex_unlock(&live_mu);
}

/* Blocks still allocated, not counting caches that the library keeps for
 * reuse by design (blocks grown with realloc: the timer heap). */
static size_t live_count(void)
{
    pthread_mutex_lock(&live_mu);
    size_t n = 0;
    for (size_t i = 0; i < nlive; i++)
        n += !live[i].cache;
    pthread_mutex_unlock(&live_mu);
    return n;
}

static void track_begin(void)
{
    test_thread = true;
    pthread_mutex_lock(&live_mu);
    nlive = 0;
    pthread_mutex_unlock(&live_mu);
    atomic_store(&tracking, true);
}

void *__wrap_malloc(size_t size)
{
    if (inject()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_malloc(size);
    track(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (inject()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_calloc(n, size);
    track(p);
    return p;
}

void *__wrap_realloc(void *p, size_t size)
{
    if (inject()) {
        errno = ENOMEM;
        return NULL; /* p stays valid and allocated */
    }
    void *q = __real_realloc(p, size);
    if (q || size == 0) {
        untrack(p);
        track_as(q, true);
    }
    return q;
}

void __wrap_free(void *p)
{
    untrack(p);
    __real_free(p);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
    if (inject())
        return ENOMEM;
    int err = __real_posix_memalign(p, align, size);
    if (!err)
        track(*p);
    return err;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    if (inject()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __real_aligned_alloc(align, size);
    track(p);
    return p;
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    if (inject())
        return EAGAIN;
    return __real_pthread_create(t, attr, fn, arg);
}

/* ---- helpers ------------------------------------------------------------ */

#define SWEEP_MAX 64

/* Waits (bounded) until every tracked block is freed: threads started by
 * chan_go free their start record on their own time. */
static bool wait_no_live(void)
{
    for (int i = 0; i < 5000; i++) {
        if (live_count() == 0)
            return true;
        tu_sleep_ms(1);
    }
    return live_count() == 0;
}

/* A channel works: values go through in order, close drains, then reports
 * CHAN_CLOSED. */
static void check_chan_works(chan_t *c, size_t es, size_t cap)
{
    unsigned char v[256], out[256]; /* es <= 256 */
    ck_assert_uint_le(es, sizeof v);
    memset(v, 42, sizeof v);
    memset(out, 0, sizeof out);
    if (cap > 0) {
        ck_assert_int_eq(chan_send(c, v), CHAN_OK);
        ck_assert_uint_eq(chan_len(c), 1);
        ck_assert_int_eq(chan_recv(c, out), CHAN_OK);
        ck_assert_mem_eq(out, v, es);
    } else {
        ck_assert_int_eq(chan_try_send(c, v), CHAN_WOULDBLOCK);
    }
    ck_assert_uint_eq(chan_cap(c), cap);
    ck_assert_int_eq(chan_close(c), CHAN_OK);
    ck_assert_int_eq(chan_recv(c, out), CHAN_CLOSED);
}

/* ---- chan_make ---------------------------------------------------------- */

/* chan_make: every allocation fails in turn; NULL with ENOMEM, no leak. */
START_TEST(test_faults_chan_make)
{
    static const size_t shapes[][2] = {{8, 0}, {8, 1},    {8, 64},
                                       {0, 0}, {0, 1000}, {128, 16}};
    long sites_total = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t es = shapes[s][0], cap = shapes[s][1];
        track_begin();
        long k;
        for (k = 1; k <= SWEEP_MAX; k++) {
            errno = 0;
            arm(k);
            chan_t *c = chan_make(es, cap);
            disarm();
            if (!injected) {
                ck_assert_ptr_nonnull(c);
                check_chan_works(c, es, cap);
                chan_release(c);
                ck_assert_uint_eq(live_count(), 0);
                break;
            }
            ck_assert_msg(c == NULL && errno == ENOMEM,
                          "chan_make(%zu, %zu) with allocation %ld failing: "
                          "%p, errno %d",
                          es, cap, k, (void *)c, errno);
            ck_assert_msg(live_count() == 0,
                          "chan_make(%zu, %zu) leaked %zu blocks when "
                          "allocation %ld failed",
                          es, cap, live_count(), k);
        }
        ck_assert_int_le(k, SWEEP_MAX);
        ck_assert_int_ge(k, 2); /* it allocates at least once */
        sites_total += k - 1;
    }
    printf("faults chan_make: %ld failures injected over %zu shapes\n",
           sites_total, sizeof shapes / sizeof shapes[0]);
}
END_TEST

/* ---- errors made at run time -------------------------------------------- */

/* context_error_new and context_error_wrap: each allocation fails in turn.
 * Never NULL (that would read as "no error"): new gives
 * context_error_out_of_memory, wrap gives back the error it wraps, so that
 * errors.Is still finds it; nothing leaks once the result is released. */
START_TEST(test_faults_made_errors)
{
    context_error_release(context_error_new("warm")); /* the registry's table */
    track_begin();
    long k;
    for (k = 1; k <= SWEEP_MAX; k++) {
        arm(k);
        const context_error_t *inner = context_error_new("inner");
        const context_error_t *outer = context_error_wrap(inner, "outer %d", 1);
        disarm();
        ck_assert_ptr_nonnull(inner);
        ck_assert_ptr_nonnull(outer);
        bool complete = !injected;
        ck_assert(context_error_is(outer, inner));
        if (outer != inner) {
            char want[128];
            snprintf(want, sizeof want, "outer 1: %s", inner->message);
            ck_assert_str_eq(outer->message, want);
        }
        context_error_release(outer);
        ck_assert_msg(live_count() == 0,
                      "made errors leaked %zu blocks when allocation %ld "
                      "failed",
                      live_count(), k);
        if (complete)
            break;
    }
    ck_assert_int_le(k, SWEEP_MAX);
    ck_assert_int_ge(k, 3); /* two errors at least */
    printf("faults made errors: %ld call sites failed in turn\n", k - 1);
}
END_TEST

/* ---- chan_go and chan_waitgroup_go -------------------------------------- */

typedef struct go_probe {
    chan_t *ran; /* fn sends its tag here */
    int tag;
} go_probe_t;

static void probe_fn(void *arg)
{
    go_probe_t *p = arg;
    chan_send(p->ran, &p->tag);
}

/* chan_go: the start record's allocation and pthread_create fail in turn;
 * CHAN_NOMEM with errno, fn never runs, the thread count is unchanged, no
 * leak; then a successful start runs fn exactly once. */
START_TEST(test_faults_chan_go)
{
    chan_t *ran = chan_make(sizeof(int), 64);
    ck_assert_ptr_nonnull(ran);
    go_probe_t probe = {ran, 7};
    track_begin();
    long k;
    for (k = 1; k <= SWEEP_MAX; k++) {
        uint64_t started = chan__go_started();
        errno = 0;
        arm(k);
        int st = chan_go(probe_fn, &probe);
        disarm();
        if (!injected) {
            ck_assert_int_eq(st, CHAN_OK);
            int tag = 0;
            ck_assert_int_eq(chan_recv(ran, &tag), CHAN_OK);
            ck_assert_int_eq(tag, 7);
            ck_assert_uint_eq(chan__go_started(), started + 1);
            break;
        }
        ck_assert_msg(st == CHAN_NOMEM && (errno == ENOMEM || errno == EAGAIN),
                      "chan_go with fallible call %ld failing: status %d, "
                      "errno %d",
                      k, st, errno);
        ck_assert_uint_eq(chan__go_started(), started);
        ck_assert_msg(live_count() == 0, "chan_go leaked when call %ld failed",
                      k);
    }
    ck_assert_int_le(k, SWEEP_MAX);
    ck_assert_int_ge(k, 3); /* an allocation and a thread start */
    ck_assert(wait_no_live());
    /* No failed start ran fn: the channel holds nothing more. */
    ck_assert_int_eq(chan_try_recv(ran, NULL), CHAN_WOULDBLOCK);
    chan_release(ran);
    printf("faults chan_go: %ld call sites failed in turn\n", k - 1);
}
END_TEST

/* chan_waitgroup_go: its own allocation, then chan_go's, fail in turn; the
 * counter is unchanged on failure (Wait returns at once, Done is refused). */
START_TEST(test_faults_waitgroup_go)
{
    chan_t *ran = chan_make(sizeof(int), 64);
    ck_assert_ptr_nonnull(ran);
    go_probe_t probe = {ran, 9};
    chan_waitgroup_t wg;
    chan_waitgroup_init(&wg);
    track_begin();
    long k;
    for (k = 1; k <= SWEEP_MAX; k++) {
        errno = 0;
        arm(k);
        int st = chan_waitgroup_go(&wg, probe_fn, &probe);
        disarm();
        if (!injected) {
            ck_assert_int_eq(st, CHAN_OK);
            chan_waitgroup_wait(&wg);
            int tag = 0;
            ck_assert_int_eq(chan_try_recv(ran, &tag), CHAN_OK);
            ck_assert_int_eq(tag, 9);
            break;
        }
        ck_assert_msg(st == CHAN_NOMEM && (errno == ENOMEM || errno == EAGAIN),
                      "chan_waitgroup_go with call %ld failing: status %d, "
                      "errno %d",
                      k, st, errno);
        ck_assert_msg(live_count() == 0,
                      "chan_waitgroup_go leaked when call %ld failed", k);
        /* The counter is still 0. */
        ck_assert_int_eq(chan_waitgroup_done(&wg), CHAN_INVALID);
        chan_waitgroup_wait(&wg);
    }
    ck_assert_int_le(k, SWEEP_MAX);
    ck_assert_int_ge(k, 4); /* two allocations and a thread start */
    ck_assert(wait_no_live());
    ck_assert_int_eq(chan_try_recv(ran, NULL), CHAN_WOULDBLOCK);
    /* The WaitGroup still works. */
    ck_assert_int_eq(chan_waitgroup_go(&wg, probe_fn, &probe), CHAN_OK);
    chan_waitgroup_wait(&wg);
    ck_assert_int_eq(chan_try_recv(ran, NULL), CHAN_OK);
    chan_waitgroup_destroy(&wg);
    chan_release(ran);
    printf("faults chan_waitgroup_go: %ld call sites failed in turn\n", k - 1);
}
END_TEST

/* ---- large selects (the per-thread pool) -------------------------------- */

/* A select of n cases: one ready receive (the value 5 in a buffered channel)
 * among never-ready ones, in the middle of the array. */
typedef struct big_select {
    size_t n;
    chan_t *ready, *idle;
    chan_case_t cases[64];
    uint64_t bufs[64];
} big_select_t;

static void big_select_init(big_select_t *b, size_t n, chan_t *ready,
                            chan_t *idle)
{
    b->n = n;
    b->ready = ready;
    b->idle = idle;
    for (size_t i = 0; i < n; i++) {
        b->bufs[i] = 0xAAAA;
        b->cases[i] = CHAN_RECV_CASE(i == n / 2 ? ready : idle, &b->bufs[i]);
        b->cases[i].status = -77;
    }
}

/* After a failed select, nothing was touched. */
static bool big_select_untouched(const big_select_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->bufs[i] != 0xAAAA || b->cases[i].status != -77)
            return false;
    return true;
}

typedef struct pool_run {
    size_t first_n; /* a select of this many cases first, without faults */
    size_t n;       /* then this one with the countdown armed */
    long k;
    bool try_form;
    /* results */
    int first_r, r;
    long injected, events_after;
    bool untouched;
    bool after_ok; /* the retried select chose the ready case and got 5 */
} pool_run_t;

static void *pool_thread(void *arg)
{
    pool_run_t *run = arg;
    chan_t *ready = chan_make(sizeof(uint64_t), 1);
    chan_t *idle = chan_make(sizeof(uint64_t), 0);
    if (!ready || !idle)
        abort();
    uint64_t five = 5;
    big_select_t b;
    run->first_r = -100;
    if (run->first_n) {
        chan_send(ready, &five);
        big_select_init(&b, run->first_n, ready, idle);
        run->first_r = chan_select(b.cases, b.n);
    }
    chan_send(ready, &five);
    big_select_init(&b, run->n, ready, idle);
    arm(run->k);
    run->r = run->try_form ? chan_try_select(b.cases, b.n)
                           : chan_select(b.cases, b.n);
    disarm();
    run->injected = injected;
    run->untouched = big_select_untouched(&b);
    if (run->injected) {
        /* Still usable: the same select now succeeds, and one no larger than
         * the surviving pool allocates nothing. */
        size_t again = run->first_n ? run->first_n : run->n;
        big_select_init(&b, again, ready, idle);
        arm(0);
        int r = chan_select(b.cases, b.n);
        run->events_after = run->first_n ? events : 0;
        run->after_ok = r == (int)(again / 2) && b.bufs[again / 2] == 5;
    }
    chan_release(ready);
    chan_release(idle);
    return NULL; /* the pool goes with the thread */
}

/* A select of more than 8 cases takes its scratch space from a per-thread
 * pool: each of its allocations fails in turn, first when the pool is made,
 * then when it grows. The select returns -CHAN_NOMEM having touched nothing,
 * the channels and the old pool still work, and nothing leaks (the pool is
 * freed when its thread exits). */
START_TEST(test_faults_select_pool)
{
    static const struct {
        size_t first_n, n;
        bool try_form;
    } shapes[] = {{0, 9, false}, {0, 9, true}, {9, 40, false}, {12, 64, true}};
    long sites_total = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        track_begin();
        long k;
        for (k = 1; k <= SWEEP_MAX; k++) {
            pool_run_t run = {.first_n = shapes[s].first_n,
                              .n = shapes[s].n,
                              .k = k,
                              .try_form = shapes[s].try_form};
            tu_join(tu_spawn(pool_thread, &run));
            ck_assert_msg(live_count() == 0,
                          "select of %zu (after %zu) leaked %zu blocks with "
                          "allocation %ld failing",
                          run.n, run.first_n, live_count(), k);
            if (run.first_n)
                ck_assert_int_eq(run.first_r, (int)(run.first_n / 2));
            if (!run.injected) {
                ck_assert_int_eq(run.r, (int)(run.n / 2));
                break;
            }
            ck_assert_msg(run.r == -CHAN_NOMEM && run.untouched,
                          "select of %zu with allocation %ld failing "
                          "returned %d (untouched: %d)",
                          run.n, k, run.r, run.untouched);
            ck_assert_msg(run.after_ok && run.events_after == 0,
                          "after a failed select: ok %d, %ld allocations",
                          run.after_ok, run.events_after);
        }
        ck_assert_int_le(k, SWEEP_MAX);
        ck_assert_int_ge(k, 2);
        sites_total += k - 1;
    }
    printf("faults select pool: %ld failures injected over %zu shapes\n",
           sites_total, sizeof shapes / sizeof shapes[0]);
}
END_TEST

/* The steady state allocates nothing (SEL-15): once a thread's pool holds
 * n cases, selects of up to n cases, small selects and every channel
 * operation make no fallible call at all. */
START_TEST(test_faults_no_alloc_steady_state)
{
    chan_t *ready = chan_make(sizeof(uint64_t), 4);
    chan_t *idle = chan_make(sizeof(uint64_t), 0);
    ck_assert(ready && idle);
    uint64_t v = 5;
    big_select_t b;
    ck_assert_int_eq(chan_send(ready, &v), CHAN_OK);
    big_select_init(&b, 30, ready, idle);
    ck_assert_int_eq(chan_select(b.cases, b.n), 15);
    bool ok = true;
    arm(0);
    for (int i = 0; i < 100; i++) {
        ok &= chan_send(ready, &v) == CHAN_OK;
        big_select_init(&b, 9 + (size_t)i % 22, ready, idle);
        ok &= chan_select(b.cases, b.n) == (int)(b.n / 2);
        ok &= chan_try_select(b.cases, b.n) == -1;
        big_select_init(&b, 1 + (size_t)i % 8, ready, idle);
        ok &= chan_try_select(b.cases, b.n) == -1;
        ok &= chan_try_send(ready, &v) == CHAN_OK;
        ok &= chan_try_recv(ready, &v) == CHAN_OK;
        ok &= chan_try_recv(idle, &v) == CHAN_WOULDBLOCK;
    }
    long n = events;
    disarm();
    ck_assert(ok);
    ck_assert_int_eq(n, 0);
    chan_release(ready);
    chan_release(idle);
}
END_TEST

/* ---- timers and contexts ------------------------------------------------- */

typedef struct sweep {
    const char *name;
    void *(*make)(void *arg);                   /* the constructor */
    void (*use_and_free)(void *obj, void *arg); /* after it succeeded */
    void *arg;
} sweep_t;

/* Sweeps the countdown over one constructor: NULL with ENOMEM or EAGAIN and
 * no leak on every injected failure, then a working object. */
static void sweep_run(const sweep_t *sw)
{
    track_begin();
    long k;
    for (k = 1; k <= SWEEP_MAX; k++) {
        errno = 0;
        arm(k);
        void *obj = sw->make(sw->arg);
        disarm();
        int err = errno;
        if (!injected) {
            ck_assert_msg(obj != NULL, "%s failed without a fault (errno %d)",
                          sw->name, err);
            sw->use_and_free(obj, sw->arg);
            ck_assert_msg(wait_no_live(), "%s leaked %zu blocks after use",
                          sw->name, live_count());
            break;
        }
        ck_assert_msg(obj == NULL && (err == ENOMEM || err == EAGAIN),
                      "%s with fallible call %ld failing: %p, errno %d",
                      sw->name, k, obj, err);
        ck_assert_msg(live_count() == 0,
                      "%s leaked %zu blocks when fallible call %ld failed",
                      sw->name, live_count(), k);
    }
    ck_assert_int_le(k, SWEEP_MAX);
    ck_assert_int_ge(k, 2);
    printf("faults %s: %ld call sites failed in turn\n", sw->name, k - 1);
}

static void *mk_timer_new(void *arg)
{
    (void)arg;
    return chan_timer_new(CHAN_HOUR);
}

static void use_timer(void *obj, void *arg)
{
    (void)arg;
    chan_timer_t *t = obj;
    ck_assert(chan_timer_reset(t, CHAN_MILLISECOND));
    int64_t when = 0;
    ck_assert_int_eq(chan_recv(chan_timer_chan(t), &when), CHAN_OK);
    ck_assert_int_gt(when, 0);
    ck_assert(!chan_timer_stop(t));
    chan_timer_release(t);
}

static void *mk_after(void *arg)
{
    (void)arg;
    return chan_after(CHAN_MILLISECOND);
}

static void use_after(void *obj, void *arg)
{
    (void)arg;
    int64_t when = 0;
    ck_assert_int_eq(chan_recv(obj, &when), CHAN_OK);
    ck_assert_int_gt(when, 0);
    chan_release(obj);
}

static void after_fn(void *arg)
{
    chan_send(arg, NULL);
}

static void *mk_after_func(void *arg)
{
    return chan_after_func(CHAN_MILLISECOND, after_fn, arg);
}

static void use_after_func(void *obj, void *arg)
{
    ck_assert_int_eq(chan_recv(arg, NULL), CHAN_OK); /* f ran */
    ck_assert(!chan_timer_stop(obj));
    chan_timer_release(obj);
}

static void *mk_ticker(void *arg)
{
    (void)arg;
    return chan_ticker_new(CHAN_MILLISECOND);
}

static void use_ticker(void *obj, void *arg)
{
    (void)arg;
    int64_t when = 0;
    ck_assert_int_eq(chan_recv(chan_ticker_chan(obj), &when), CHAN_OK);
    ck_assert_int_eq(chan_recv(chan_ticker_chan(obj), &when), CHAN_OK);
    chan_ticker_release(obj);
}

/* Timer constructors: the timer's allocation, its channel's, the timer
 * heap's growth and the timer thread's start fail in turn. */
START_TEST(test_faults_timers)
{
    chan_t *ran = chan_make(0, 1);
    ck_assert_ptr_nonnull(ran);
    sweep_t sweeps[] = {
        {"chan_timer_new", mk_timer_new, use_timer, NULL},
        {"chan_after", mk_after, use_after, NULL},
        {"chan_after_func", mk_after_func, use_after_func, ran},
        {"chan_ticker_new", mk_ticker, use_ticker, NULL},
    };
    sweep_run(&sweeps[_i]);
    chan_release(ran);
}
END_TEST

typedef struct cx_arg {
    context_t *parent;
    context_cancel_t *pcancel; /* the parent's */
    int kind;
    context_cancel_t *cancel; /* the child's, when it has one */
    chan_t *ran;
} cx_arg_t;

static const char cx_key = 'k';

static void *mk_context(void *arg)
{
    cx_arg_t *a = arg;
    a->cancel = NULL;
    switch (a->kind) {
    case 0:
        return context_with_cancel(a->parent, &a->cancel);
    case 1:
        return context_with_cancel_cause(a->parent, &a->cancel);
    case 2:
        return context_with_deadline(a->parent, chan_now() + CHAN_HOUR,
                                     &a->cancel);
    case 3:
        return context_with_timeout(a->parent, CHAN_MILLISECOND, &a->cancel);
    case 4:
        return context_with_value(a->parent, &cx_key, a);
    case 5:
        return context_without_cancel(a->parent);
    default:
        return context_after_func(a->parent, after_fn, a->ran);
    }
}

/* The new object works: canceling the parent reaches the child (except
 * through WithoutCancel) and runs the AfterFunc; then it is released. */
static void use_context(void *obj, void *arg)
{
    cx_arg_t *a = arg;
    if (a->kind == 6) {
        context_cancel(a->pcancel);
        ck_assert_int_eq(chan_recv(a->ran, NULL), CHAN_OK);
        ck_assert(!context_after_func_stop(obj));
        return;
    }
    context_t *ctx = obj;
    if (a->kind == 4)
        ck_assert_ptr_eq(context_value(ctx, &cx_key), a);
    if (a->kind == 3) { /* the timeout fires */
        ck_assert_int_eq(chan_recv(context_done(ctx), NULL), CHAN_CLOSED);
        ck_assert_ptr_eq(context_err(ctx), &context_deadline_exceeded);
    }
    context_cancel(a->pcancel);
    if (a->kind != 5) {
        ck_assert_int_eq(chan_recv(context_done(ctx), NULL), CHAN_CLOSED);
        ck_assert_ptr_nonnull(context_err(ctx));
    } else {
        ck_assert_ptr_null(context_err(ctx));
    }
    context_cancel(a->cancel); /* NULL-safe: Go's defer cancel() */
    context_release(ctx);
}

/* Context constructors and AfterFunc: each allocation (for deadlines also
 * the timer's, the heap's and the timer thread's start) fails in turn; NULL
 * with errno, no leak, and the parent still works. */
START_TEST(test_faults_context)
{
    static const char *const names[] = {
        "context_with_cancel",   "context_with_cancel_cause",
        "context_with_deadline", "context_with_timeout",
        "context_with_value",    "context_without_cancel",
        "context_after_func"};
    cx_arg_t a = {.kind = _i, .ran = chan_make(0, 1)};
    ck_assert_ptr_nonnull(a.ran);
    /* The parent, and the library's shared closed channel (made by the
     * first cancel context), exist before the sweep. */
    a.parent = context_with_cancel(context_background(), &a.pcancel);
    ck_assert_ptr_nonnull(a.parent);
    /* The parent's Done channel too, so that it is not counted as a leak
     * of the child; test_faults_context_parent_done covers its failure. */
    ck_assert_ptr_nonnull(context_done(a.parent));
    sweep_t sw = {names[_i], mk_context, use_context, &a};
    sweep_run(&sw);
    ck_assert_ptr_nonnull(context_err(a.parent));
    context_cancel(a.pcancel);
    context_release(a.parent);
    chan_release(a.ran);
}
END_TEST

/* Regression: the child's constructor is the first to ask a parent for its
 * Done. When that allocation failed, propagateCancel read the NULL Done as
 * "never canceled" and returned a child that the parent's cancel never
 * reached. Whichever allocation fails, the constructor must either fail with
 * ENOMEM or return a child that the parent's cancel reaches. */
START_TEST(test_faults_context_parent_done)
{
    for (long k = 1; k <= 8; k++) {
        cx_arg_t a = {.kind = _i, .ran = chan_make(0, 1)};
        ck_assert_ptr_nonnull(a.ran);
        a.parent = context_with_cancel(context_background(), &a.pcancel);
        ck_assert_ptr_nonnull(a.parent);
        errno = 0;
        arm(k);
        void *obj = mk_context(&a);
        disarm();
        if (obj) {
            use_context(obj, &a); /* asserts the parent's cancel reaches it */
        } else {
            ck_assert_int_eq(errno, ENOMEM);
            context_cancel(a.pcancel);
        }
        context_release(a.parent);
        chan_release(a.ran);
    }
}
END_TEST

/* A child that cannot join its parent's children set: the array's first
 * allocation (a parent without children) or its growth (a parent whose
 * array is full: 4 children) fails. As every other failure: NULL with
 * ENOMEM and nothing leaked; and the parent is unchanged (the same
 * children, still registered, still canceled by it). Once the array can
 * grow, the child joins; the parent's cancel reaches it and the others. */
START_TEST(test_faults_context_children)
{
    static const int kinds[] = {0, 1, 2, 6}; /* the kinds that join a set */
    int kind = kinds[_i % 4], prefill = _i < 4 ? 0 : 4;
    enum { PRE = 4 };
    cx_arg_t a = {.kind = kind, .ran = chan_make(0, 1)};
    ck_assert_ptr_nonnull(a.ran);
    a.parent = context_with_cancel(context_background(), &a.pcancel);
    ck_assert_ptr_nonnull(a.parent);
    ck_assert_ptr_nonnull(context_done(a.parent));
    context_t *pre[PRE] = {0};
    context_cancel_t *pre_cancel[PRE] = {0};
    for (int i = 0; i < prefill; i++) {
        pre[i] = context_with_cancel(a.parent, &pre_cancel[i]);
        ck_assert_ptr_nonnull(pre[i]);
    }
    size_t cap0 = context__children_cap(a.parent);
    ck_assert_uint_eq(cap0, prefill ? PRE : 0); /* full, or none yet */

    track_begin();
    long k;
    bool array_failed = false;
    void *obj = NULL;
    for (k = 1; k <= SWEEP_MAX; k++) {
        errno = 0;
        arm(k);
        obj = mk_context(&a);
        disarm();
        int err = errno;
        if (!injected)
            break;
        ck_assert_msg(obj == NULL && err == ENOMEM,
                      "kind %d, %d children, call %ld failing: %p, errno %d",
                      kind, prefill, k, obj, err);
        ck_assert_msg(live_count() == 0,
                      "kind %d leaked %zu blocks when call %ld failed", kind,
                      live_count(), k);
        /* The parent is unchanged. */
        ck_assert_uint_eq(context__children(a.parent), (size_t)prefill);
        for (int i = 0; i < prefill; i++)
            ck_assert(context__has_child(a.parent, pre[i]));
        if (context__children_cap(a.parent) == cap0)
            array_failed = true; /* (or a later call after a shrink) */
        ck_assert_ptr_null(context_err(a.parent));
    }
    ck_assert_int_le(k, SWEEP_MAX);
    ck_assert_int_ge(k, 3); /* the child, then at least the array */
    ck_assert(array_failed);
    ck_assert_ptr_nonnull(obj);
    /* It joined: the array was made or doubled. */
    ck_assert_uint_eq(context__children(a.parent), (size_t)prefill + 1);
    ck_assert_uint_eq(context__children_cap(a.parent), prefill ? 2 * PRE : 4);
    if (prefill) {
        /* removeChild from the middle, then the parent's cancel. */
        context_cancel(pre_cancel[1]);
        ck_assert(!context__has_child(a.parent, pre[1]));
        ck_assert_uint_eq(context__children(a.parent), (size_t)prefill);
    }
    context_cancel(a.pcancel);
    for (int i = 0; i < prefill; i++) {
        ck_assert_int_eq(chan_recv(context_done(pre[i]), NULL), CHAN_CLOSED);
        context_cancel(pre_cancel[i]);
        context_release(pre[i]);
    }
    if (kind == 6) {
        ck_assert_int_eq(chan_recv(a.ran, NULL), CHAN_OK);
        ck_assert(!context_after_func_stop(obj));
    } else {
        ck_assert_int_eq(chan_recv(context_done(obj), NULL), CHAN_CLOSED);
        context_cancel(a.cancel);
        context_release(obj);
    }
    ck_assert_uint_eq(context__children_cap(a.parent), 0);
    ck_assert_msg(wait_no_live(), "leaked %zu blocks after use", live_count());
    context_release(a.parent);
    chan_release(a.ran);
}
END_TEST

Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_faults_chan_make);
    tcase_add_test(tc, test_faults_made_errors);
    tcase_add_test(tc, test_faults_chan_go);
    tcase_add_test(tc, test_faults_waitgroup_go);
    tcase_add_test(tc, test_faults_select_pool);
    tcase_add_test(tc, test_faults_no_alloc_steady_state);
    suite_add_tcase(s, tc);
    /* Loop tests: each iteration is a fresh process, so the timer thread
     * and the library's shared objects do not exist yet. */
    TCase *tt = tcase_create("timers_context");
    tcase_set_timeout(tt, 60);
    tcase_add_loop_test(tt, test_faults_timers, 0, 4);
    tcase_add_loop_test(tt, test_faults_context, 0, 7);
    tcase_add_loop_test(tt, test_faults_context_parent_done, 0, 7);
    tcase_add_loop_test(tt, test_faults_context_children, 0, 8);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    /* chan_go on kernel threads: the goroutine scheduler keeps what it
     * allocates (its Ps, Ms, gs and stacks are pooled for the life of the
     * process), which this suite's leak accounting would count as leaks.
     * check_sched injects the scheduler's own failures (stacks, threads). */
    setenv("GOCHAN_SCHED", "0", 1);
    return tu_run(faults_suite());
}
