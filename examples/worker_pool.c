/* worker_pool.c: a bounded worker pool under a context deadline, with
 * golang.org/x/sync/errgroup's SetLimit doing the bounding:
 *
 *     ctx, cancel := context.WithTimeout(context.Background(), budget)
 *     defer cancel()
 *     g, ctx := errgroup.WithContext(ctx)
 *     g.SetLimit(4)                       // at most 4 jobs at once
 *     for _, job := range jobs {
 *         if ctx.Err() != nil {
 *             break                       // stop handing out work
 *         }
 *         g.Go(func() error {             // blocks while 4 jobs run
 *             return process(ctx, job)
 *         })
 *     }
 *     err := g.Wait()
 *
 *     func process(ctx context.Context, job Job) error {
 *         select {
 *         case <-time.After(job.cost):    // the work
 *             results[job.id] = job.id * job.id
 *             return nil
 *         case <-ctx.Done():
 *             return ctx.Err()
 *         }
 *     }
 *
 * Three runs: a generous deadline (every job done, err == nil), a tight one
 * (Wait returns context.DeadlineExceeded and the pool stops early), and a job
 * that fails (its error cancels the others and is what Wait returns). Each
 * run checks its results, that no more than 4 jobs ever ran at once, and that
 * no worker thread is left blocked.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/debug.h>
#include <gochan/errgroup.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

enum { JOBS = 60, LIMIT = 4, BAD_JOB = 13 };

static const context_error_t err_bad_job = {"job 13: bad input"};

struct pool {
    context_t *ctx; /* the group's context (borrowed by the jobs) */
    int fail_job;   /* a job that returns err_bad_job, or -1 */
    int handed_out; /* jobs given to the group */
    long results[JOBS];
    atomic_int active, max_active, done;
};

struct job {
    struct pool *pool;
    int id;
    int64_t cost; /* how long the work takes */
};

static const context_error_t *process(void *arg)
{
    struct job *job = arg;
    struct pool *p = job->pool;
    int now = atomic_fetch_add(&p->active, 1) + 1;
    int max = atomic_load(&p->max_active);
    while (now > max &&
           !atomic_compare_exchange_weak(&p->max_active, &max, now))
        ;
    const context_error_t *err = NULL;
    if (job->id == p->fail_job) {
        err = &err_bad_job;
    } else {
        /* select { case <-time.After(cost): ... case <-ctx.Done(): } */
        chan_timer_t *work = chan_timer_new(job->cost);
        if (!work)
            exit(1);
        chan_case_t cases[] = {CHAN_RECV_CASE(chan_timer_chan(work), NULL),
                               CHAN_RECV_CASE(context_done(p->ctx), NULL)};
        if (chan_select(cases, 2) == 0) {
            p->results[job->id] = (long)job->id * job->id;
            atomic_fetch_add(&p->done, 1);
        } else {
            err = context_err(p->ctx);
        }
        chan_timer_release(work); /* Go 1.23 needs no Stop; C must free */
    }
    atomic_fetch_sub(&p->active, 1);
    return err;
}

/* One run of the pool; returns Wait's error and fills *p. */
static const context_error_t *run(struct pool *p, int64_t budget,
                                  struct job *jobs)
{
    context_cancel_t *cancel;
    context_t *timed =
        context_with_timeout(context_background(), budget, &cancel);
    context_t *ctx;
    errgroup_t *g = timed ? errgroup_with_context(timed, &ctx) : NULL;
    if (!g || errgroup_set_limit(g, LIMIT) != CHAN_OK)
        exit(1);
    p->ctx = ctx;
    int handed_out = 0;
    for (int i = 0; i < JOBS; i++) {
        if (context_err(ctx))
            break; /* stop handing out work */
        jobs[i] = (struct job){p, i, (2 + i % 5) * CHAN_MILLISECOND};
        if (errgroup_go(g, process, &jobs[i]) != CHAN_OK)
            exit(1);
        handed_out++;
    }
    const context_error_t *err = errgroup_wait(g);
    p->handed_out = handed_out;
    printf("  handed out %d jobs, %d finished, at most %d at once: err = "
           "%s\n",
           handed_out, atomic_load(&p->done), atomic_load(&p->max_active),
           err ? err->message : "<nil>");
    errgroup_release(g);
    context_release(ctx);
    context_cancel(cancel); /* defer cancel() */
    context_release(timed);
    return err;
}

static int failures;

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

int main(void)
{
    chan_debug_enable(true);
    static struct job jobs[JOBS];
    /* Slow runs (valgrind, sanitizers) get a longer generous budget. */
    const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");
    int64_t generous = (mult ? 30 : 5) * CHAN_SECOND;

    printf("a generous deadline:\n");
    static struct pool all = {.fail_job = -1};
    const context_error_t *err = run(&all, generous, jobs);
    check(err == NULL, "every job should finish");
    bool right = atomic_load(&all.done) == JOBS;
    for (int i = 0; i < JOBS; i++)
        right = right && all.results[i] == (long)i * i;
    check(right, "every result should be i*i");
    check(atomic_load(&all.max_active) <= LIMIT, "the limit held");

    printf("a tight deadline:\n");
    static struct pool tight = {.fail_job = -1};
    err = run(&tight, 15 * CHAN_MILLISECOND, jobs);
    check(err == &context_deadline_exceeded, "Wait returns DeadlineExceeded");
    check(tight.handed_out < JOBS, "the deadline stopped the hand-out");
    check(atomic_load(&tight.max_active) <= LIMIT, "the limit held");

    printf("job %d fails:\n", BAD_JOB);
    static struct pool failing = {.fail_job = BAD_JOB};
    err = run(&failing, generous, jobs);
    check(err == &err_bad_job, "Wait returns the job's error");
    check(failing.handed_out < JOBS, "the error stopped the hand-out");
    check(atomic_load(&failing.max_active) <= LIMIT, "the limit held");

    check(chan_debug_dump(stdout) == 0, "no worker left blocked");
    if (failures)
        return 1;
    printf("ok: the pool kept its limit, honoured its deadline and stopped "
           "at the first error\n");
    return 0;
}
