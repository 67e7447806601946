/* recipes.c: handing channels, contexts and results to goroutines. The
 * README's recipes of that name, as a program CTest runs. Go's garbage
 * collector keeps alive whatever a goroutine can reach; in C each goroutine
 * that keeps a channel or a context past its starter's own use holds a
 * reference of its own, taken by the starter before the start and dropped
 * by the goroutine when it is done. Arguments travel in a struct copied by
 * chan_go_args, so the starter's struct may die at once.
 *
 * 1. A done channel closed by a waiter goroutine:
 *
 *        done := make(chan struct{})
 *        go func() { wg.Wait(); close(done) }()
 *        select { case <-done: case <-time.After(time.Second): }
 *
 * 2. Bounded workers with a results channel:
 *
 *        for w := 0; w < 4; w++ { go worker(jobs, results) }
 *        go func() { wg.Wait(); close(results) }()
 *        for r := range results { sum += r }
 *
 * 3. An errgroup pipeline: a generator and a squarer under one context; the
 *    first error cancels both (golang.org/x/sync/errgroup's pipeline).
 */
#include <gochan.h>

#include <stdbool.h>
#include <stdio.h>

CHAN_OF(intch, int); /* chan int */

/* ---- 1. a done channel closed by a waiter goroutine ---------------------- */

struct sleeper_args {
    chan_waitgroup_t *wg; /* static: see below */
    int64_t nap;
};

static void sleeper(void *p)
{
    struct sleeper_args *a = p; /* chan_go_args' copy: ours until we return */
    chan_sleep(a->nap);
    chan_waitgroup_done(a->wg);
}

struct waiter_args {
    chan_waitgroup_t *wg;
    chan_t *done; /* our own reference: we release it */
};

static void waiter(void *p)
{
    struct waiter_args *a = p;
    chan_waitgroup_wait(a->wg);
    chan_close(a->done); /* every receiver wakes, now and later */
    chan_release(a->done);
}

/* A WaitGroup must outlive every call on it, the last Done included, which
 * may still be returning when Wait has: so not on a frame that the end of
 * the Wait lets die. Static here; a struct that outlives the goroutines
 * (or one freed by the last of them) does as well. */
static chan_waitgroup_t sleepers_wg = CHAN_WAITGROUP_INIT;
static chan_waitgroup_t workers_wg = CHAN_WAITGROUP_INIT;

static bool recipe_done_channel(void)
{
    chan_waitgroup_t *wg = &sleepers_wg;
    chan_t *done = chan_make(0, 0); /* chan struct{}: main's reference */
    for (int i = 0; i < 3; i++) {
        struct sleeper_args a = {wg, (i + 1) * CHAN_MILLISECOND};
        chan_waitgroup_add(wg, 1);
        chan_go_args(sleeper, &a, sizeof a);
    }
    /* The waiter may outlive main's use of done: it gets a reference. */
    struct waiter_args w = {wg, chan_retain(done)};
    chan_go_args(waiter, &w, sizeof w);

    chan_t *timeout = chan_after(10 * CHAN_SECOND);
    chan_case_t cases[] = {CHAN_RECV_CASE(done, NULL),
                           CHAN_RECV_CASE(timeout, NULL)};
    bool ok = chan_select(cases, 2) == 0;
    chan_release(timeout);
    chan_release(done); /* main's reference; the waiter dropped its own */
    return ok;
}

/* ---- 2. bounded workers with a results channel --------------------------- */

struct worker_args {
    intch_t *jobs, *results; /* the worker's own references */
    chan_waitgroup_t *wg;
};

static void worker(void *p)
{
    struct worker_args *a = p;
    int job;
    while (intch_recv(a->jobs, &job) == CHAN_OK)
        intch_send(a->results, job * job);
    intch_release(a->jobs);
    intch_release(a->results);
    chan_waitgroup_done(a->wg);
}

struct closer_args {
    chan_waitgroup_t *wg;
    intch_t *results;
};

static void closer(void *p)
{
    struct closer_args *a = p;
    chan_waitgroup_wait(a->wg);
    intch_close(a->results); /* ends main's range over results */
    intch_release(a->results);
}

static bool recipe_workers(void)
{
    enum { WORKERS = 4, JOBS = 100 };
    chan_waitgroup_t *wg = &workers_wg;
    intch_t *jobs = intch_make(JOBS), *results = intch_make(0);
    for (int w = 0; w < WORKERS; w++) {
        struct worker_args a = {intch_retain(jobs), intch_retain(results), wg};
        chan_waitgroup_add(wg, 1);
        chan_go_args(worker, &a, sizeof a);
    }
    struct closer_args c = {wg, intch_retain(results)};
    chan_go_args(closer, &c, sizeof c);

    for (int j = 1; j <= JOBS; j++)
        intch_send(jobs, j);
    intch_close(jobs); /* workers drain it, then return */
    intch_release(jobs);

    long sum = 0;
    int r;
    while (intch_recv(results, &r) == CHAN_OK) /* for r := range results */
        sum += r;
    intch_release(results);
    return sum == (long)JOBS * (JOBS + 1) * (2 * JOBS + 1) / 6;
}

/* ---- 3. an errgroup pipeline --------------------------------------------- */

/* The stages' arguments live on main's frame: errgroup_wait does not return
 * before every task has, so they cannot outlive it. The channels and the
 * context are borrowed likewise. */
struct pipeline {
    context_t *ctx; /* the group's: done once any stage fails */
    intch_t *nums;
    int fail_at; /* the squarer fails on this number; 0: never */
    long sum;
};

static const context_error_t err_bad = {"bad number"};

/* Sends 1, 2, 3, ... until canceled; closes nums either way. */
static const context_error_t *generate(void *p)
{
    struct pipeline *pl = p;
    const context_error_t *err = NULL;
    for (int n = 1; n <= 1000 && !err; n++) {
        chan_case_t cases[] = {intch_send_case(pl->nums, &n),
                               CHAN_RECV_CASE(context_done(pl->ctx), NULL)};
        if (chan_select(cases, 2) == 1)
            err = context_err(pl->ctx);
    }
    intch_close(pl->nums);
    return err;
}

static const context_error_t *square_and_sum(void *p)
{
    struct pipeline *pl = p;
    int n;
    while (intch_recv(pl->nums, &n) == CHAN_OK) {
        if (n == pl->fail_at)
            return &err_bad; /* cancels ctx: the generator stops */
        pl->sum += (long)n * n;
    }
    return NULL;
}

/* Runs the pipeline; returns errgroup_wait's error (borrowed). */
static const context_error_t *run_pipeline(int fail_at, long *sum)
{
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(context_background(), &ctx);
    struct pipeline pl = {ctx, intch_make(0), fail_at, 0};
    errgroup_go(g, generate, &pl);
    errgroup_go(g, square_and_sum, &pl);
    const context_error_t *err = errgroup_wait(g);
    *sum = pl.sum;
    intch_release(pl.nums);
    context_release(ctx);
    errgroup_release(g); /* err is static here; a made one would die here */
    return err;
}

static bool recipe_errgroup(void)
{
    long sum;
    bool ok = run_pipeline(0, &sum) == NULL && sum == 333833500L;
    ok = ok && run_pipeline(10, &sum) == &err_bad && sum == 285;
    return ok;
}

int main(void)
{
    bool done = recipe_done_channel();
    bool workers = recipe_workers();
    bool pipeline = recipe_errgroup();
    printf("done channel closed by a waiter: %s\n", done ? "ok" : "FAILED");
    printf("bounded workers, results channel: %s\n", workers ? "ok" : "FAILED");
    printf("errgroup pipeline: %s\n", pipeline ? "ok" : "FAILED");
    return done && workers && pipeline ? 0 : 1;
}
