/* check_errgroup.c: the errgroup suite (errgroup_suite), a port of
 * golang.org/x/sync/errgroup's errgroup_test.go (TestZeroGroup,
 * TestWithContext, TestCancelCause, TestTryGo, TestGoLimit and the package
 * examples), plus the C-only contracts: status codes where Go panics, and the
 * group's lifetime when it is released before its tasks end.
 *
 * Tasks run on detached threads; they report through channels and atomics,
 * and the test thread asserts after errgroup_wait.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/errgroup.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include "context/context_test_hooks.h" /* context__errors_live */
#include "testutil.h"

static const context_error_t err1 = {"errgroup_test: 1"};
static const context_error_t err2 = {"errgroup_test: 2"};
static const context_error_t err_doom = {"group_test: doomed"};

/* func() error { return err }: arg is the error (NULL is nil). */
static const context_error_t *return_err(void *arg)
{
    return arg;
}

/* ---- TestZeroGroup, TestWithContext, TestCancelCause -------------------- */

/* Go's test tables: each case lists the errors its tasks return. */
struct err_case {
    const context_error_t *errs[3];
    int n;
    const context_error_t *want;
};

static const struct err_case zero_cases[] = {
    {{NULL}, 0, NULL},
    {{NULL}, 1, NULL},
    {{&err1}, 1, &err1},
    {{&err1, NULL}, 2, &err1},
    {{&err1, NULL, &err2}, 3, &err1},
};

/* TestZeroGroup: a zero Group; Wait after each Go returns the first error so
 * far, and the group is reused after every Wait. */
START_TEST(test_errgroup_zero_group)
{
    for (size_t c = 0; c < sizeof zero_cases / sizeof zero_cases[0]; c++) {
        errgroup_t *g = errgroup_new();
        ck_assert_ptr_nonnull(g);
        const context_error_t *first = NULL;
        for (int i = 0; i < zero_cases[c].n; i++) {
            const context_error_t *err = zero_cases[c].errs[i];
            ck_assert_int_eq(errgroup_go(g, return_err, (void *)err), CHAN_OK);
            if (!first && err)
                first = err;
            ck_assert_ptr_eq(errgroup_wait(g), first);
        }
        errgroup_release(g);
    }
}
END_TEST

static const struct err_case ctx_cases[] = {
    {{NULL}, 0, NULL},
    {{NULL}, 1, NULL},
    {{&err_doom}, 1, &err_doom},
    {{&err_doom, NULL}, 2, &err_doom},
};

/* TestWithContext: Wait returns the first error and the context is done
 * after Wait, error or not. */
START_TEST(test_errgroup_with_context)
{
    for (size_t c = 0; c < sizeof ctx_cases / sizeof ctx_cases[0]; c++) {
        context_t *ctx = NULL;
        errgroup_t *g = errgroup_with_context(context_background(), &ctx);
        ck_assert_ptr_nonnull(g);
        ck_assert_ptr_nonnull(ctx);
        for (int i = 0; i < ctx_cases[c].n; i++)
            ck_assert_int_eq(
                errgroup_go(g, return_err, (void *)ctx_cases[c].errs[i]),
                CHAN_OK);
        ck_assert_ptr_eq(errgroup_wait(g), ctx_cases[c].want);
        /* select { case <-ctx.Done(): canceled = true; default: } */
        ck_assert_int_eq(chan_try_recv(context_done(ctx), NULL), CHAN_CLOSED);
        errgroup_release(g);
        context_release(ctx);
    }
}
END_TEST

/* TestCancelCause: started with TryGo; the context's cause is the first error,
 * or context_canceled when Wait canceled it. */
START_TEST(test_errgroup_cancel_cause)
{
    for (size_t c = 0; c < sizeof ctx_cases / sizeof ctx_cases[0]; c++) {
        context_t *ctx = NULL;
        errgroup_t *g = errgroup_with_context(context_background(), &ctx);
        ck_assert_ptr_nonnull(g);
        for (int i = 0; i < ctx_cases[c].n; i++)
            ck_assert_int_eq(
                errgroup_try_go(g, return_err, (void *)ctx_cases[c].errs[i]),
                CHAN_OK);
        const context_error_t *want = ctx_cases[c].want;
        ck_assert_ptr_eq(errgroup_wait(g), want);
        if (!want)
            want = &context_canceled;
        ck_assert_ptr_eq(context_cause(ctx), want);
        ck_assert_ptr_eq(context_err(ctx), &context_canceled);
        context_release(ctx); /* either order works */
        errgroup_release(g);
    }
}
END_TEST

/* ---- TestTryGo
 * ----------------------------------------------------------------- */

/* fn: ch <- struct{}{}; return nil */
static const context_error_t *send_token(void *arg)
{
    chan_send(arg, NULL);
    return NULL;
}

struct drain {
    chan_t *ch;
    int n;
};

/* go func() { for i := 0; i < n; i++ { <-ch } }() */
static void drain_n(void *arg)
{
    struct drain *d = arg;
    for (int i = 0; i < d->n; i++)
        chan_recv(d->ch, NULL);
    free(d);
}

static void start_drain(chan_t *ch, int n)
{
    struct drain *d = malloc(sizeof *d);
    ck_assert_ptr_nonnull(d);
    *d = (struct drain){ch, n};
    ck_assert_int_eq(chan_go(drain_n, d), CHAN_OK);
}

/* TestTryGo: TryGo succeeds up to the limit, fails beyond it, succeeds again
 * once tasks end, follows a changed limit, and always fails at limit 0. */
START_TEST(test_errgroup_try_go)
{
    enum { N = 42 };
    errgroup_t *g = errgroup_new();
    chan_t *ch = chan_make(0, 0);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(errgroup_set_limit(g, N), CHAN_OK);
    for (int i = 0; i < N; i++)
        ck_assert_msg(errgroup_try_go(g, send_token, ch) == CHAN_OK,
                      "TryGo should succeed but failed at call %d", i);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_WOULDBLOCK);
    start_drain(ch, N);
    ck_assert_ptr_null(errgroup_wait(g));

    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_OK);
    start_drain(ch, 1);
    errgroup_wait(g);

    /* Switch limit. */
    ck_assert_int_eq(errgroup_set_limit(g, 1), CHAN_OK);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_OK);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_WOULDBLOCK);
    start_drain(ch, 1);
    errgroup_wait(g);

    /* Block all calls. */
    ck_assert_int_eq(errgroup_set_limit(g, 0), CHAN_OK);
    for (int i = 0; i < 1 << 10; i++)
        ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_WOULDBLOCK);
    errgroup_wait(g);
    errgroup_release(g);
    chan_release(ch);
}
END_TEST

/* ---- TestGoLimit
 * ---------------------------------------------------------------- */

enum { LIMIT = 10 };
static atomic_int active;
static atomic_int max_active;
static const context_error_t err_too_many = {"saw more active tasks than the "
                                             "limit"};

/* Counts itself active, checks the limit, yields, and counts itself out. */
static const context_error_t *limited_task(void *arg)
{
    (void)arg;
    int n = atomic_fetch_add(&active, 1) + 1;
    int m = atomic_load(&max_active);
    while (n > m && !atomic_compare_exchange_weak(&max_active, &m, n))
        ;
    const context_error_t *err = n > LIMIT ? &err_too_many : NULL;
    chan_sleep(1 * CHAN_MICROSECOND); /* let others increment active */
    atomic_fetch_sub(&active, 1);
    return err;
}

/* TestGoLimit: 1025 tasks with limit 10 never have more than 10 active. */
START_TEST(test_errgroup_go_limit)
{
    atomic_store(&active, 0);
    atomic_store(&max_active, 0);
    errgroup_t *g = errgroup_new();
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(errgroup_set_limit(g, LIMIT), CHAN_OK);
    for (int i = 0; i <= 1 << 10; i++)
        ck_assert_int_eq(errgroup_go(g, limited_task, NULL), CHAN_OK);
    const context_error_t *err = errgroup_wait(g);
    ck_assert_msg(err == NULL, "%s (max %d)", err ? err->message : "",
                  atomic_load(&max_active));
    ck_assert_int_le(atomic_load(&max_active), LIMIT);
    errgroup_release(g);
}
END_TEST

/* Go blocks at the limit until a task ends (the semaphore's send blocks). */
struct go_blocked {
    errgroup_t *g;
    chan_t *ch;
    tu_flag_t returned;
    int status; /* errgroup_go's, checked on the test thread */
};

static void *second_go(void *arg)
{
    struct go_blocked *b = arg;
    b->status = errgroup_go(b->g, send_token, b->ch);
    tu_flag_set(&b->returned);
    return NULL;
}

START_TEST(test_errgroup_go_blocks_at_limit)
{
    struct go_blocked b = {errgroup_new(), chan_make(0, 0), {0}, -1};
    ck_assert_ptr_nonnull(b.g);
    ck_assert_ptr_nonnull(b.ch);
    ck_assert_int_eq(errgroup_set_limit(b.g, 1), CHAN_OK);
    ck_assert_int_eq(errgroup_go(b.g, send_token, b.ch), CHAN_OK);
    pthread_t t = tu_spawn(second_go, &b);
    ck_assert(!tu_flag_wait(&b.returned, TU_QUIET_MS)); /* still blocked */
    chan_recv(b.ch, NULL); /* the first task ends; its token frees a slot */
    ck_assert(tu_flag_wait(&b.returned, 10000));
    tu_join(t);
    ck_assert_int_eq(b.status, CHAN_OK);
    chan_recv(b.ch, NULL);
    ck_assert_ptr_null(errgroup_wait(b.g));
    errgroup_release(b.g);
    chan_release(b.ch);
}
END_TEST

/* ---- the examples
 * ------------------------------------------------------------ */

static const context_error_t err_no_such_host = {"dial tcp: lookup "
                                                 "www.somestupidname.com: no "
                                                 "such host"};

/* A fake http.Get: the third URL does not resolve. */
static const context_error_t *fetch(void *arg)
{
    const char *url = arg;
    chan_sleep(1 * CHAN_MILLISECOND);
    return strstr(url, "somestupidname") ? &err_no_such_host : NULL;
}

/* ExampleGroup_justErrors: a Group in place of a WaitGroup, with an error. */
START_TEST(test_errgroup_example_just_errors)
{
    static const char *urls[] = {"http://www.golang.org/",
                                 "http://www.google.com/",
                                 "http://www.somestupidname.com/"};
    errgroup_t *g = errgroup_new();
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(errgroup_go(g, fetch, (void *)urls[i]), CHAN_OK);
    ck_assert_ptr_eq(errgroup_wait(g), &err_no_such_host);
    errgroup_release(g);
}
END_TEST

/* ExampleGroup_parallel: Google Search 2.0 with a context; results land in
 * their own slots, in the order of the searches. */
struct search {
    const char *kind;
    const char *query;
    context_t *ctx;
    char result[64];
};

static const context_error_t *fake_search(void *arg)
{
    struct search *s = arg;
    if (context_err(s->ctx))
        return context_err(s->ctx);
    snprintf(s->result, sizeof s->result, "%s result for \"%s\"", s->kind,
             s->query);
    return NULL;
}

START_TEST(test_errgroup_example_parallel)
{
    static const char *kinds[] = {"web", "image", "video"};
    static const char *want[] = {"web result for \"golang\"",
                                 "image result for \"golang\"",
                                 "video result for \"golang\""};
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(context_background(), &ctx);
    ck_assert_ptr_nonnull(g);
    struct search results[3];
    for (int i = 0; i < 3; i++) {
        results[i] = (struct search){kinds[i], "golang", ctx, ""};
        ck_assert_int_eq(errgroup_go(g, fake_search, &results[i]), CHAN_OK);
    }
    ck_assert_ptr_null(errgroup_wait(g));
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(results[i].result, want[i]);
    errgroup_release(g);
    context_release(ctx);
}
END_TEST

/* ExampleGroup_pipeline's point: the first error cancels the context, so the
 * other tasks, blocked on ctx.Done(), return early, and Wait reports the
 * error, not the context's. */
struct stuck {
    context_t *ctx;
    chan_t *never; /* nobody sends here */
};

static const context_error_t *wait_for_work(void *arg)
{
    struct stuck *s = arg;
    chan_case_t cases[] = {CHAN_RECV_CASE(s->never, NULL),
                           CHAN_RECV_CASE(context_done(s->ctx), NULL)};
    chan_select(cases, 2);
    return context_err(s->ctx);
}

START_TEST(test_errgroup_error_cancels_others)
{
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(context_background(), &ctx);
    ck_assert_ptr_nonnull(g);
    struct stuck s = {ctx, chan_make(0, 0)};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(errgroup_go(g, wait_for_work, &s), CHAN_OK);
    tu_wait_waiters(s.never, 4, 0);
    ck_assert_ptr_null(context_err(ctx));
    ck_assert_int_eq(errgroup_go(g, return_err, (void *)&err_doom), CHAN_OK);
    ck_assert_ptr_eq(errgroup_wait(g), &err_doom);
    ck_assert_ptr_eq(context_cause(ctx), &err_doom);
    errgroup_release(g);
    context_release(ctx);
    chan_release(s.never);
}
END_TEST

/* ---- C-only contracts
 * ---------------------------------------------------------- */

/* Go panics in SetLimit(n >= 0) while tokens of the current limit are taken;
 * gochan returns CHAN_INVALID and keeps the old limit. A negative n removes
 * the limit even then, as Go's SetLimit returns before its check. */
START_TEST(test_errgroup_set_limit_while_active)
{
    errgroup_t *g = errgroup_new();
    chan_t *ch = chan_make(0, 0);
    ck_assert_int_eq(errgroup_set_limit(g, 2), CHAN_OK);
    ck_assert_int_eq(errgroup_go(g, send_token, ch), CHAN_OK);
    ck_assert_int_eq(errgroup_set_limit(g, 5), CHAN_INVALID);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_OK);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_WOULDBLOCK);
    ck_assert_int_eq(errgroup_set_limit(g, -1), CHAN_OK); /* no limit */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_OK);
    for (int i = 0; i < 7; i++)
        chan_recv(ch, NULL);
    errgroup_wait(g);
    errgroup_release(g);
    chan_release(ch);
}
END_TEST

/* Regression: SetLimit(4) and SetLimit(-1) were refused while a task started
 * with no limit ran. Go counts only the tokens of the current semaphore, so
 * both succeed, and the running task takes none of the new limit's four. */
START_TEST(test_errgroup_set_limit_after_unlimited_go)
{
    errgroup_t *g = errgroup_new();
    chan_t *ch = chan_make(0, 0);
    ck_assert_int_eq(errgroup_go(g, send_token, ch), CHAN_OK);
    ck_assert_int_eq(errgroup_set_limit(g, -1), CHAN_OK);
    ck_assert_int_eq(errgroup_set_limit(g, 4), CHAN_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_OK);
    ck_assert_int_eq(errgroup_try_go(g, send_token, ch), CHAN_WOULDBLOCK);
    for (int i = 0; i < 5; i++)
        chan_recv(ch, NULL);
    errgroup_wait(g);
    errgroup_release(g);
    chan_release(ch);
}
END_TEST

static const context_error_t *wait_gate_then_doom(void *arg)
{
    chan_recv(arg, NULL);
    return &err_doom;
}

typedef struct {
    errgroup_t *g;
    const context_error_t *err;
    tu_flag_t done;
} late_waiter_t;

static void *late_wait(void *arg)
{
    late_waiter_t *w = arg;
    w->err = errgroup_wait(w->g);
    errgroup_release(w->g); /* its own reference */
    tu_flag_set(&w->done);
    return NULL;
}

/* The porter's crash: a group released by its creator while another owner
 * still had an errgroup_wait to make. With errgroup_retain the second owner
 * holds its own reference, and the group lives until both let go. */
START_TEST(test_errgroup_retain_for_a_late_waiter)
{
    errgroup_t *g = errgroup_new();
    chan_t *gate = chan_make(0, 0);
    late_waiter_t w = {.g = errgroup_retain(g)};
    ck_assert_ptr_eq(w.g, g);
    ck_assert_ptr_null(errgroup_retain(NULL));
    ck_assert_int_eq(errgroup_go(g, wait_gate_then_doom, gate), CHAN_OK);
    errgroup_release(g); /* the creator is done with it */
    pthread_t t = tu_spawn(late_wait, &w);
    chan_close(gate);
    ck_assert(tu_flag_wait(&w.done, 10000));
    tu_join(t);
    ck_assert_ptr_eq(w.err, &err_doom);
    chan_release(gate);
}
END_TEST

static const context_error_t *fail_with_made_error(void *arg)
{
    /* Go: return fmt.Errorf("task %d: %w", i, errDoom) */
    return context_error_wrap(&err_doom, "task %d", (int)(intptr_t)arg);
}

/* Tasks return errors made at run time (Go's *PathError-like values): the
 * group keeps the first, hands it to Wait and to the context as the cause,
 * frees the others at once and the first with the group, whose last
 * reference may be a task's. */
START_TEST(test_errgroup_made_errors)
{
    long base = context__errors_live();
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(context_background(), &ctx);
    for (intptr_t i = 0; i < 8; i++)
        ck_assert_int_eq(errgroup_go(g, fail_with_made_error, (void *)i),
                         CHAN_OK);
    const context_error_t *err = errgroup_wait(g);
    ck_assert_ptr_nonnull(err);
    ck_assert(context_error_is(err, &err_doom));
    ck_assert(strncmp(err->message, "task ", 5) == 0);
    ck_assert_ptr_eq(context_cause(ctx), err);
    ck_assert_int_eq(context__errors_live(), base + 1); /* only the first */
    errgroup_release(g);
    context_release(ctx);
    /* Wait returns at the tasks' Done; each task drops its reference to the
     * group just after, so the last of them may free the group (and the
     * first error) a moment after our release: wait for it, bounded. */
    for (int i = 0; i < 10000 && context__errors_live() != base; i++)
        tu_sleep_ms(1);
    ck_assert_int_eq(context__errors_live(), base);
}
END_TEST

START_TEST(test_errgroup_null_arguments)
{
    context_t *ctx = NULL;
    errno = 0;
    ck_assert_ptr_null(errgroup_with_context(NULL, &ctx));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(errgroup_with_context(context_background(), NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(errgroup_go(NULL, return_err, NULL), CHAN_INVALID);
    ck_assert_int_eq(errgroup_try_go(NULL, return_err, NULL), CHAN_INVALID);
    ck_assert_int_eq(errgroup_set_limit(NULL, 1), CHAN_INVALID);
    ck_assert_ptr_null(errgroup_wait(NULL));
    errgroup_release(NULL);
    errgroup_t *g = errgroup_new();
    ck_assert_int_eq(errgroup_go(g, NULL, NULL), CHAN_INVALID);
    ck_assert_int_eq(errgroup_try_go(g, NULL, NULL), CHAN_INVALID);
    errgroup_release(g);
}
END_TEST

/* Releasing the group while its tasks run is safe: they keep it alive, and
 * the last one to end frees it and cancels its context (checked through the
 * caller's own context reference). Under valgrind this also shows no leak. */
START_TEST(test_errgroup_release_before_tasks_end)
{
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(context_background(), &ctx);
    chan_t *ch = chan_make(0, 0);
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(errgroup_go(g, send_token, ch), CHAN_OK);
    errgroup_release(g);
    ck_assert_ptr_null(context_err(ctx)); /* tasks still run */
    for (int i = 0; i < 3; i++)
        chan_recv(ch, NULL);
    chan_recv(context_done(ctx), NULL); /* the last task freed the group */
    ck_assert_ptr_eq(context_cause(ctx), &context_canceled);
    context_release(ctx);
    chan_release(ch);
}
END_TEST

/* A child of a canceled parent: the group's context is born done, with the
 * parent's cause, and Wait does not change it. */
START_TEST(test_errgroup_parent_canceled)
{
    context_cancel_t *cancel;
    context_t *parent = context_with_cancel(context_background(), &cancel);
    context_cancel(cancel);
    context_t *ctx;
    errgroup_t *g = errgroup_with_context(parent, &ctx);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_eq(context_err(ctx), &context_canceled);
    ck_assert_int_eq(errgroup_go(g, return_err, (void *)&err_doom), CHAN_OK);
    ck_assert_ptr_eq(errgroup_wait(g), &err_doom);
    ck_assert_ptr_eq(context_cause(ctx), &context_canceled);
    errgroup_release(g);
    context_release(ctx);
    context_release(parent);
}
END_TEST

/* ---- the suite
 * ---------------------------------------------------------------- */

Suite *errgroup_suite(void);
Suite *errgroup_suite(void)
{
    Suite *s = suite_create("errgroup");
    TCase *tc;

    tc = tu_tcase(s, "errors", 10);
    tcase_add_test(tc, test_errgroup_zero_group);
    tcase_add_test(tc, test_errgroup_with_context);
    tcase_add_test(tc, test_errgroup_cancel_cause);
    tcase_add_test(tc, test_errgroup_parent_canceled);

    tc = tu_tcase(s, "limit", 30);
    tcase_add_test(tc, test_errgroup_try_go);
    tcase_add_test(tc, test_errgroup_go_limit);
    tcase_add_test(tc, test_errgroup_go_blocks_at_limit);
    tcase_add_test(tc, test_errgroup_set_limit_while_active);
    tcase_add_test(tc, test_errgroup_set_limit_after_unlimited_go);

    tc = tu_tcase(s, "examples", 10);
    tcase_add_test(tc, test_errgroup_example_just_errors);
    tcase_add_test(tc, test_errgroup_example_parallel);
    tcase_add_test(tc, test_errgroup_error_cancels_others);

    tc = tu_tcase(s, "lifetime", 10);
    tcase_add_test(tc, test_errgroup_null_arguments);
    tcase_add_test(tc, test_errgroup_retain_for_a_late_waiter);
    tcase_add_test(tc, test_errgroup_made_errors);
    tcase_add_test(tc, test_errgroup_release_before_tasks_end);

    return s;
}

int main(void)
{
    return tu_run(errgroup_suite());
}
