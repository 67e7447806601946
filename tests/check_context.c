/* check_context.c: Go's context tests (src/context/context_test.go,
 * x_test.go, afterfunc_test.go) ported to gochan's context, plus String
 * formats, the context lifetime rules of the contract in docs/semantics.md and
 * a randomized stress.
 *
 * Each test names the Go test it ports and the behaviour items (CX-) it
 * checks; the ids are those of docs/semantics.md. Assertions run in the test
 * thread; threads hand off through channels. Deadline tests assert "not
 * before" strictly and "eventually" with generous bounds. Internal state
 * (children sets, parentCancelCtx, the watcher counter) is read through
 * context/context_test_hooks.h.
 */
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include "chan/chan_test_hooks.h" /* test hook: AfterFunc thread start */
#include "context/context_test_hooks.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_usable_size */
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS        CHAN_MILLISECOND
#define VERY_LONG (1000 * CHAN_HOUR) /* Go's veryLongDuration */

/* ---- malloc counting (TestAllocs): check_context links with
 * -Wl,--wrap=malloc,--wrap=calloc; only the counting thread counts. ---- */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

static _Thread_local bool counting;
static _Thread_local long nallocs;

void *__wrap_malloc(size_t size)
{
    if (counting)
        nallocs++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (counting)
        nallocs++;
    return __real_calloc(n, size);
}

/* ---- helpers ---- */

/* select { case <-ctx.Done(): true; default: false } */
static bool is_done(context_t *ctx)
{
    chan_t *d = context_done(ctx);
    return d && chan_try_recv(d, NULL) == CHAN_CLOSED;
}

/* Waits for ctx's Done up to ms (scaled); true if it closed. */
static bool wait_done(context_t *ctx, int64_t ms)
{
    chan_t *timeout = chan_after((int64_t)(ms * tu_scale()) * MS);
    ck_assert_ptr_nonnull(timeout);
    chan_case_t cases[2] = {CHAN_RECV_CASE(context_done(ctx), NULL),
                            CHAN_RECV_CASE(timeout, NULL)};
    int i = chan_select(cases, 2);
    chan_release(timeout);
    return i == 0;
}

/* Waits up to ms (scaled) for a value or close on c; true if one came. */
static bool wait_chan(chan_t *c, int64_t ms)
{
    chan_t *timeout = chan_after((int64_t)(ms * tu_scale()) * MS);
    ck_assert_ptr_nonnull(timeout);
    chan_case_t cases[2] = {CHAN_RECV_CASE(c, NULL),
                            CHAN_RECV_CASE(timeout, NULL)};
    int i = chan_select(cases, 2);
    chan_release(timeout);
    return i == 0;
}

static const char *str(context_t *ctx, char *buf, size_t n)
{
    size_t len = context_string(ctx, buf, n);
    ck_assert_uint_lt(len, n);
    return buf;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Waits up to 10 s (scaled) for the native contexts alive to drop to want:
 * timers, watchers and AfterFunc threads let go of theirs asynchronously. */
static void wait_live(long want)
{
    for (int i = 0; i < (int)(2000 * tu_scale()); i++) {
        if (context__live() == want)
            return;
        tu_sleep_ms(5);
    }
    ck_assert_int_eq(context__live(), want);
}

/* ---- foreign contexts ---- */

/* Go's otherContext{Context} (done == NULL: Done is the inner one),
 * myDoneCtx (a Done channel of its own that nobody closes) and
 * customDoneContext (a Done channel the test closes). Everything else is
 * forwarded to inner. */
typedef struct wrap {
    context_t ctx;
    context_t *inner;
    chan_t *done;
} wrap_t;

static bool wrap_deadline(context_t *s, int64_t *d)
{
    return context_deadline(((wrap_t *)s)->inner, d);
}
static chan_t *wrap_done(context_t *s)
{
    wrap_t *w = (wrap_t *)s;
    return w->done ? w->done : context_done(w->inner);
}
static const context_error_t *wrap_err(context_t *s)
{
    return context_err(((wrap_t *)s)->inner);
}
static void *wrap_value(context_t *s, const void *key)
{
    return context_value(((wrap_t *)s)->inner, key);
}
static size_t wrap_string(context_t *s, char *buf, size_t n)
{
    return context_string(((wrap_t *)s)->inner, buf, n);
}
static void wrap_free(context_t *s)
{
    wrap_t *w = (wrap_t *)s;
    context_release(w->inner);
    chan_release(w->done);
    free(w);
}
static const context_vtable_t wrap_vtable = {
    wrap_deadline, wrap_done, wrap_err, wrap_value,
    wrap_string,   wrap_free, NULL,     NULL};

/* otherContext{inner}: takes its own reference to inner. */
static context_t *other_ctx(context_t *inner)
{
    wrap_t *w = calloc(1, sizeof *w);
    ck_assert_ptr_nonnull(w);
    w->inner = context_retain(inner);
    context_init(&w->ctx, &wrap_vtable);
    return &w->ctx;
}

/* A wrapper with a Done channel of its own (myDoneCtx, customDoneContext). */
static context_t *own_done_ctx(context_t *inner, chan_t **done)
{
    wrap_t *w = (wrap_t *)other_ctx(inner);
    w->done = chan_make(0, 0);
    ck_assert_ptr_nonnull(w->done);
    if (done)
        *done = w->done;
    return &w->ctx;
}

/* ---- TestBackground, TestTODO: CX-3 ---- */

START_TEST(test_context_background)
{
    /* Ports TestBackground and TestTODO (CX-3, CX-1). */
    char buf[64];
    context_t *bg = context_background(), *todo = context_todo();
    ck_assert_ptr_nonnull(bg);
    ck_assert_ptr_nonnull(todo);
    ck_assert_ptr_ne(bg, todo);
    ck_assert_ptr_null(context_done(bg));
    ck_assert_ptr_null(context_done(todo));
    ck_assert(!is_done(bg));
    ck_assert_ptr_null(context_err(bg));
    ck_assert_ptr_null(context_cause(bg));
    ck_assert_ptr_null(context_value(bg, &buf));
    int64_t d = 42;
    ck_assert(!context_deadline(bg, &d));
    ck_assert_int_eq(d, 0);
    ck_assert_str_eq(str(bg, buf, sizeof buf), "context.Background");
    ck_assert_str_eq(str(todo, buf, sizeof buf), "context.TODO");
    /* Immortal: retain and release do nothing. */
    for (int i = 0; i < 3; i++)
        context_release(context_retain(bg));
    context_release(bg);
    context_release(todo);
    ck_assert_str_eq(str(bg, buf, sizeof buf), "context.Background");
}
END_TEST

START_TEST(test_context_errors)
{
    /* Ports TestDeadlineExceededSupportsTimeout and net_test.go's
     * TestDeadlineExceededIsNetError (CX-2). */
    ck_assert_str_eq(context_canceled.message, "context canceled");
    ck_assert_str_eq(context_deadline_exceeded.message,
                     "context deadline exceeded");
    ck_assert(context_error_timeout(&context_deadline_exceeded));
    ck_assert(!context_error_timeout(&context_canceled));
    ck_assert(!context_error_timeout(NULL));
}
END_TEST

/* ---- TestWithCancel: CX-5, CX-11 ---- */

START_TEST(test_context_with_cancel)
{
    /* Ports TestWithCancel: cancel propagates synchronously, also through a
     * wrapper that only embeds a Context (CX-5, CX-11, CX-1). */
    char buf[128];
    context_cancel_t *cancel, *cancel2;
    context_t *c1 = context_with_cancel(context_background(), &cancel);
    ck_assert_ptr_nonnull(c1);
    ck_assert_str_eq(str(c1, buf, sizeof buf), "context.Background.WithCancel");

    context_t *o = other_ctx(c1);
    context_t *c2 = context_with_cancel(o, &cancel2);
    ck_assert_ptr_nonnull(c2);
    context_t *contexts[] = {c1, o, c2};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(context_done(contexts[i]));
        ck_assert_ptr_eq(context_done(contexts[i]), context_done(contexts[i]));
        ck_assert_ptr_null(context_err(contexts[i]));
        ck_assert(!is_done(contexts[i]));
    }
    context_cancel(cancel); /* should propagate synchronously */
    for (int i = 0; i < 3; i++) {
        ck_assert(is_done(contexts[i]));
        ck_assert_ptr_eq(context_err(contexts[i]), &context_canceled);
    }
    context_cancel(cancel); /* idempotent */
    context_release(c2);
    context_release(o);
    context_release(c1);
}
END_TEST

/* ---- XTestParentFinishesChild: CX-9, CX-15, CX-30 ---- */

static void noop(void *arg)
{
    (void)arg;
}

START_TEST(test_context_parent_finishes_child)
{
    /* Ports XTestParentFinishesChild (CX-9, CX-15, CX-18, CX-30):
     * parent -> cancelChild; parent -> valueChild -> timerChild;
     * parent -> afterChild. */
    static const char key;
    context_cancel_t *cancel, *stop1, *stop2;
    context_t *parent = context_with_cancel(context_background(), &cancel);
    context_t *cancel_child = context_with_cancel(parent, &stop1);
    context_t *value_child = context_with_value(parent, &key, "value");
    context_t *timer_child =
        context_with_timeout(value_child, VERY_LONG, &stop2);
    context_after_func_t *after_stop = context_after_func(parent, noop, NULL);
    ck_assert_ptr_nonnull(after_stop);
    context_t *after_child = context__after_func_ctx(after_stop);

    ck_assert(!is_done(parent));
    ck_assert(!is_done(cancel_child));
    ck_assert(!is_done(timer_child));
    ck_assert(!is_done(value_child));

    /* The parent's children: the three cancelable ones. */
    ck_assert_uint_eq(context__children(parent), 3);
    ck_assert(context__has_child(parent, cancel_child));
    ck_assert(context__has_child(parent, timer_child));
    ck_assert(context__has_child(parent, after_child));
    ck_assert_ptr_eq(context__parent_cancel_ctx(cancel_child), parent);
    ck_assert_ptr_eq(context__parent_cancel_ctx(timer_child), parent);
    ck_assert_ptr_eq(context__parent_cancel_ctx(after_child), parent);

    context_cancel(cancel);
    ck_assert_uint_eq(context__children(parent), 0);

    context_t *all[] = {parent, cancel_child, value_child, timer_child};
    for (int i = 0; i < 4; i++) {
        ck_assert(is_done(all[i]));
        ck_assert_ptr_eq(context_err(all[i]), &context_canceled);
    }

    /* A child of a canceled parent is born done. */
    context_t *precanceled = context_with_value(parent, &key, "value");
    ck_assert(is_done(precanceled));
    ck_assert_ptr_eq(context_err(precanceled), &context_canceled);

    ck_assert(!context_after_func_stop(after_stop)); /* f already started */
    context_release(precanceled);
    context_release(timer_child);
    context_release(value_child);
    context_release(cancel_child);
    context_release(parent);
}
END_TEST

/* ---- XTestChildFinishesFirst: CX-19 ---- */

START_TEST(test_context_child_finishes_first)
{
    /* Ports XTestChildFinishesFirst (CX-19): canceling a child removes it
     * from its parent, which stays uncanceled. */
    context_cancel_t *stop;
    context_t *cancelable = context_with_cancel(context_background(), &stop);
    context_t *parents[] = {context_background(), cancelable};
    for (int i = 0; i < 2; i++) {
        context_t *parent = parents[i];
        context_cancel_t *cancel;
        context_t *child = context_with_cancel(parent, &cancel);
        ck_assert(!is_done(parent));
        ck_assert(!is_done(child));
        bool pcok = parent == cancelable;
        ck_assert_ptr_eq(context__parent_cancel_ctx(child),
                         pcok ? parent : NULL);
        if (pcok) {
            ck_assert_uint_eq(context__children(parent), 1);
            ck_assert(context__has_child(parent, child));
        }
        context_cancel(cancel);
        if (pcok)
            ck_assert_uint_eq(context__children(parent), 0);
        ck_assert(is_done(child));
        ck_assert_ptr_eq(context_err(child), &context_canceled);
        ck_assert(!is_done(parent));
        ck_assert_ptr_null(context_err(parent));
        context_release(child);
    }
    context_cancel(stop);
    context_release(cancelable);
}
END_TEST

/* ---- XTestCancelRemoves: CX-19, CX-33 ---- */

START_TEST(test_context_cancel_removes)
{
    /* Ports XTestCancelRemoves (CX-19, CX-33). */
    context_cancel_t *pcancel, *cancel;
    context_t *ctx = context_with_cancel(context_background(), &pcancel);
    ck_assert_uint_eq(context__children(ctx), 0);
    context_t *c = context_with_cancel(ctx, &cancel);
    ck_assert_uint_eq(context__children(ctx), 1);
    context_cancel(cancel);
    ck_assert_uint_eq(context__children(ctx), 0);
    context_release(c);

    c = context_with_timeout(ctx, 60 * CHAN_MINUTE, &cancel);
    ck_assert_uint_eq(context__children(ctx), 1);
    context_cancel(cancel);
    ck_assert_uint_eq(context__children(ctx), 0);
    context_release(c);

    context_after_func_t *stop = context_after_func(ctx, noop, NULL);
    ck_assert_uint_eq(context__children(ctx), 1);
    ck_assert(context_after_func_stop(stop));
    ck_assert_uint_eq(context__children(ctx), 0);

    /* Not in Go (a GC language): releasing a child without canceling it also
     * takes it out of the children set (contract "context lifetime",
     * docs/semantics.md). */
    c = context_with_cancel(ctx, &cancel);
    context_t *t = context_with_timeout(ctx, VERY_LONG, &cancel);
    ck_assert_uint_eq(context__children(ctx), 2);
    context_release(c);
    context_release(t);
    ck_assert_uint_eq(context__children(ctx), 0);
    context_cancel(pcancel);
    context_release(ctx);
}
END_TEST

/* ---- XTestCustomContextGoroutines: CX-17, CX-18 ---- */

START_TEST(test_context_custom_context_goroutines)
{
    /* Ports XTestCustomContextGoroutines: one watcher thread for a parent
     * with a Done of its own, none for native chains, also through a wrapper
     * that only embeds a Context, none for a canceled parent (CX-17, CX-18). */
    uint64_t g = context__watchers_started();
#define CHECK_NO_WATCHER() ck_assert_uint_eq(context__watchers_started(), g)
#define CHECK_WATCHER()                                                        \
    do {                                                                       \
        ck_assert_uint_eq(context__watchers_started(), g + 1);                 \
        g++;                                                                   \
    } while (0)
    context_cancel_t *cancel0, *cancel1, *cancel3, *cancel3b, *cancel4,
        *cancel5, *cancel6, *cancel7;

    context_t *my = own_done_ctx(context_background(), NULL);
    context_t *c0 = context_with_cancel(my, &cancel0);
    context_cancel(cancel0);
    CHECK_WATCHER();
    context_release(c0);
    c0 = context_with_timeout(my, VERY_LONG, &cancel0);
    context_cancel(cancel0);
    CHECK_WATCHER();
    context_release(c0);
    context_release(my);
    CHECK_NO_WATCHER();

    context_t *ctx1 = context_with_cancel(context_background(), &cancel1);
    CHECK_NO_WATCHER();
    context_t *ctx2 = other_ctx(ctx1);
    context_t *ctx3 = context_with_cancel(ctx2, &cancel3);
    CHECK_NO_WATCHER();
    ck_assert_ptr_eq(context__parent_cancel_ctx(ctx3), ctx1);

    context_t *my2 = own_done_ctx(ctx2, NULL);
    context_t *ctx3b = context_with_cancel(my2, &cancel3b);
    CHECK_WATCHER(); /* ctx1 does not provide Done: not to be bypassed */

    context_t *ctx4 = context_with_timeout(ctx3, VERY_LONG, &cancel4);
    CHECK_NO_WATCHER();
    context_t *ctx5 = context_with_cancel(ctx4, &cancel5);
    CHECK_NO_WATCHER();
    context_cancel(cancel5);
    CHECK_NO_WATCHER();
    context_t *ctx6 = context_with_timeout(ctx5, VERY_LONG, &cancel6);
    CHECK_NO_WATCHER();
    context_cancel(cancel6);
    context_cancel(cancel1);
    context_t *ctx7 = context_with_cancel(ctx5, &cancel7);
    CHECK_NO_WATCHER();
    ck_assert(is_done(ctx7));

    context_cancel(cancel7);
    context_cancel(cancel4);
    context_cancel(cancel3b);
    context_cancel(cancel3);
    CHECK_NO_WATCHER();
    context_t *rel[] = {ctx7, ctx6, ctx5, ctx4, ctx3b, my2, ctx3, ctx2, ctx1};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
        context_release(rel[i]);
#undef CHECK_NO_WATCHER
#undef CHECK_WATCHER
}
END_TEST

/* ---- TestDeadline, TestTimeout, TestCanceledTimeout: CX-20..25 ---- */

static void check_deadline(context_t *c, int64_t not_before)
{
    /* Go's testDeadline: fires (generous bound) with DeadlineExceeded. */
    ck_assert(wait_done(c, 10000));
    ck_assert_int_ge(chan_now(), not_before);
    ck_assert_ptr_eq(context_err(c), &context_deadline_exceeded);
}

START_TEST(test_context_deadline)
{
    /* Ports TestDeadline (CX-20, CX-21, CX-22, CX-25). */
    char buf[160];
    context_cancel_t *cancel, *cancel2;
    int64_t start = chan_now();
    context_t *c =
        context_with_deadline(context_background(), start + MS, &cancel);
    ck_assert(has_prefix(str(c, buf, sizeof buf),
                         "context.Background.WithDeadline("));
    int64_t d;
    ck_assert(context_deadline(c, &d));
    ck_assert_int_eq(d, start + MS);
    check_deadline(c, start + MS);
    context_cancel(cancel);
    context_release(c);

    start = chan_now();
    c = context_with_deadline(context_background(), start + MS, &cancel);
    context_t *o = other_ctx(c);
    check_deadline(o, start + MS);
    context_release(o);
    context_release(c);

    start = chan_now();
    c = context_with_deadline(context_background(), start + MS, &cancel);
    o = other_ctx(c);
    context_t *c2 = context_with_deadline(o, chan_now() + VERY_LONG, &cancel2);
    /* The later deadline gives a plain cancelCtx with the parent's. */
    ck_assert(has_prefix(str(c2, buf, sizeof buf),
                         "context.Background.WithDeadline("));
    ck_assert(strstr(buf, ").WithCancel") != NULL);
    ck_assert(context_deadline(c2, &d));
    ck_assert_int_eq(d, start + MS);
    check_deadline(c2, start + MS);
    context_cancel(cancel2);
    context_release(c2);
    context_release(o);
    context_release(c);

    /* In the past, and now: born done. */
    c = context_with_deadline(context_background(), chan_now() - MS, &cancel);
    ck_assert(is_done(c));
    check_deadline(c, 0);
    context_cancel(cancel);
    ck_assert_ptr_eq(context_err(c), &context_deadline_exceeded);
    context_release(c);
    c = context_with_deadline(context_background(), chan_now(), &cancel);
    ck_assert(is_done(c));
    check_deadline(c, 0);
    context_release(c);
}
END_TEST

START_TEST(test_context_timeout)
{
    /* Ports TestTimeout (CX-20, CX-22). Also: never before the deadline. */
    char buf[160];
    context_cancel_t *cancel, *cancel2;
    int64_t start = chan_now();
    context_t *c = context_with_timeout(context_background(), MS, &cancel);
    ck_assert(has_prefix(str(c, buf, sizeof buf),
                         "context.Background.WithDeadline("));
    check_deadline(c, start + MS);
    context_release(c);

    start = chan_now();
    c = context_with_timeout(context_background(), MS, &cancel);
    context_t *o = other_ctx(c);
    check_deadline(o, start + MS);
    context_release(o);
    context_release(c);

    start = chan_now();
    c = context_with_timeout(context_background(), MS, &cancel);
    o = other_ctx(c);
    context_t *c2 = context_with_timeout(o, VERY_LONG, &cancel2);
    check_deadline(c2, start + MS);
    context_release(c2);
    context_release(o);
    context_release(c);

    /* A longer timeout does not fire early. */
    start = chan_now();
    c = context_with_timeout(context_background(), 30 * MS, &cancel);
    check_deadline(c, start + 30 * MS);
    context_release(c);
}
END_TEST

START_TEST(test_context_canceled_timeout)
{
    /* Ports TestCanceledTimeout: canceling a WithTimeout child of a wrapped
     * WithTimeout is synchronous and gives Canceled (CX-23, CX-11). */
    context_cancel_t *cancel0, *cancel;
    context_t *c0 =
        context_with_timeout(context_background(), CHAN_SECOND, &cancel0);
    context_t *o = other_ctx(c0);
    context_t *c = context_with_timeout(o, VERY_LONG, &cancel);
    context_cancel(cancel);
    ck_assert(is_done(c));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    ck_assert(!is_done(c0));
    context_release(c);
    context_release(o);
    context_cancel(cancel0);
    context_release(c0);
}
END_TEST

/* ---- TestValues: CX-26..28 ---- */

static const char k1, k2,
    k3; /* distinct keys: Go's key1(1), key2(1), key2(3) */

static void check_values(context_t *c, const char *v1, const char *v2,
                         const char *v3)
{
    ck_assert_ptr_eq(context_value(c, &k1), v1);
    ck_assert_ptr_eq(context_value(c, &k2), v2);
    ck_assert_ptr_eq(context_value(c, &k3), v3);
}

START_TEST(test_context_values)
{
    /* Ports TestValues (CX-27, CX-28): most recent binding wins, shadowing
     * with NULL, lookups through wrappers, String of value chains. Keys of
     * distinct types become distinct key objects: keys compare by address. */
    static const char *c1k1 = "c1k1", *c2k2 = "c2k2", *c3k3 = "c3k3",
                      *o2k2 = "o2k2";
    char buf[512], want[512];
    check_values(context_background(), NULL, NULL, NULL);

    context_t *c1 = context_with_value(context_background(), &k1, (void *)c1k1);
    check_values(c1, c1k1, NULL, NULL);
    snprintf(want, sizeof want, "context.Background.WithValue(%p, %p)",
             (void *)&k1, (void *)c1k1);
    ck_assert_str_eq(str(c1, buf, sizeof buf), want);

    context_t *c2 = context_with_value(c1, &k2, (void *)c2k2);
    check_values(c2, c1k1, c2k2, NULL);
    snprintf(want, sizeof want,
             "context.Background.WithValue(%p, %p).WithValue(%p, %p)",
             (void *)&k1, (void *)c1k1, (void *)&k2, (void *)c2k2);
    ck_assert_str_eq(str(c2, buf, sizeof buf), want);

    context_t *c3 = context_with_value(c2, &k3, (void *)c3k3);
    check_values(c3, c1k1, c2k2, c3k3);
    context_t *c4 = context_with_value(c3, &k1, NULL);
    check_values(c4, NULL, c2k2, c3k3);
    snprintf(want, sizeof want,
             "context.Background.WithValue(%p, %p).WithValue(%p, %p)"
             ".WithValue(%p, %p).WithValue(%p, <nil>)",
             (void *)&k1, (void *)c1k1, (void *)&k2, (void *)c2k2, (void *)&k3,
             (void *)c3k3, (void *)&k1);
    ck_assert_str_eq(str(c4, buf, sizeof buf), want);

    context_t *o0 = other_ctx(context_background());
    check_values(o0, NULL, NULL, NULL);
    context_t *v1 = context_with_value(context_background(), &k1, (void *)c1k1);
    context_t *o1 = other_ctx(v1);
    check_values(o1, c1k1, NULL, NULL);
    context_t *o2 = context_with_value(o1, &k2, (void *)o2k2);
    check_values(o2, c1k1, o2k2, NULL);
    context_t *o3 = other_ctx(c4);
    check_values(o3, NULL, c2k2, c3k3);
    context_t *o4 = context_with_value(o3, &k3, NULL);
    check_values(o4, NULL, c2k2, NULL);

    context_t *rel[] = {o4, o3, o2, o1, v1, o0, c4, c3, c2, c1};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
        context_release(rel[i]);
}
END_TEST

/* ---- TestWithValueChecksKey, TestInvalidDerivedFail: CX-4, CX-26 ---- */

START_TEST(test_context_invalid_arguments)
{
    /* Ports TestWithValueChecksKey (nil key; comparability does not apply to
     * address keys) and TestInvalidDerivedFail (CX-4, CX-26), and the NULL
     * handling of every other function (contract "context NULL handling",
     * docs/semantics.md). */
    static const char key;
    context_cancel_t *cancel = (context_cancel_t *)&key;
    errno = 0;
    ck_assert_ptr_null(context_with_value(context_background(), NULL, "bar"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_cancel(NULL, &cancel));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(cancel);
    errno = 0;
    ck_assert_ptr_null(context_with_cancel(context_background(), NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_cancel_cause(NULL, &cancel));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_deadline(NULL, chan_now() + MS, &cancel));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_timeout(context_background(), MS, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_timeout_cause(NULL, MS, NULL, &cancel));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_with_value(NULL, &key, "bar"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_without_cancel(NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_after_func(NULL, noop, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(context_after_func(context_background(), NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);

    char buf[4] = "xyz";
    int64_t d = 7;
    ck_assert_ptr_null(context_done(NULL));
    ck_assert_ptr_null(context_err(NULL));
    ck_assert_ptr_null(context_cause(NULL));
    ck_assert_ptr_null(context_value(NULL, &key));
    ck_assert(!context_deadline(NULL, &d));
    ck_assert_int_eq(d, 0);
    ck_assert(!context_deadline(NULL, NULL));
    ck_assert_uint_eq(context_string(NULL, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_ptr_null(context_retain(NULL));
    context_release(NULL);
    context_cancel(NULL);
    context_cancel_cause(NULL, &context_canceled);
    ck_assert(!context_after_func_stop(NULL));
}
END_TEST

/* ---- TestAllocs ---- */

static long allocs_of(void (*f)(void))
{
    f(); /* warm up: closedchan, the timer thread */
    nallocs = 0;
    counting = true;
    for (int i = 0; i < 100; i++)
        f();
    counting = false;
    return (nallocs + 99) / 100;
}

static void allocs_background(void)
{
    (void)context_background();
}

static void allocs_with_value(void)
{
    context_t *c = context_with_value(context_background(), &k1, NULL);
    (void)context_value(c, &k1);
    context_release(c);
}

static void allocs_timeout_1ns(void)
{
    context_cancel_t *cancel;
    context_t *c = context_with_timeout(context_background(), 1, &cancel);
    chan_recv(context_done(c), NULL);
    context_release(c);
}

static void allocs_with_cancel(void)
{
    context_cancel_t *cancel;
    context_t *c = context_with_cancel(context_background(), &cancel);
    context_cancel(cancel);
    chan_recv(context_done(c), NULL);
    context_release(c);
}

static void allocs_timeout_5ms(void)
{
    context_cancel_t *cancel;
    context_t *c = context_with_timeout(context_background(), 5 * MS, &cancel);
    context_cancel(cancel);
    chan_recv(context_done(c), NULL);
    context_release(c);
}

START_TEST(test_context_allocs)
{
    /* Ports TestAllocs as malloc counts on the calling thread, against Go's
     * budgets: Background 0; WithValue+Value 3; WithTimeout(1ns)+Done 12;
     * WithCancel+cancel+Done 5; WithTimeout(5ms)+cancel+Done 8. */
    ck_assert_int_le(allocs_of(allocs_background), 0);
    ck_assert_int_le(allocs_of(allocs_with_value), 1);
    ck_assert_int_le(allocs_of(allocs_timeout_1ns), 12);
    ck_assert_int_le(allocs_of(allocs_with_cancel), 1);
    ck_assert_int_le(allocs_of(allocs_timeout_5ms), 2);
}
END_TEST

/* ---- TestSimultaneousCancels, TestInterlockedCancels: CX-34 ---- */

struct cancel_job {
    context_cancel_t *cancel;
    chan_t *start;
};

static void cancel_job(void *arg)
{
    struct cancel_job *j = arg;
    chan_recv(j->start, NULL);
    context_cancel(j->cancel); /* chan_waitgroup_go calls Done after */
}

START_TEST(test_context_simultaneous_cancels)
{
    /* Ports TestSimultaneousCancels: a ~100-node tree (fan-out 4), every
     * cancel run at once from its own thread; every Done fires and every
     * cancel returns (CX-34). */
    enum { N = 101 };
    context_t *ctx[N];
    struct cancel_job jobs[N];
    chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
    chan_t *start = chan_make(0, 0);
    ctx[0] = context_with_cancel(context_background(), &jobs[0].cancel);
    int n = 1;
    for (int q = 0; n < N; q++)
        for (int i = 0; i < 4 && n < N; i++, n++)
            ctx[n] = context_with_cancel(ctx[q], &jobs[n].cancel);
    /* Start in a shuffled order. */
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < N; i++) {
        struct cancel_job *j = &jobs[order[i]];
        j->start = start;
        ck_assert_int_eq(chan_waitgroup_go(&wg, cancel_job, j), CHAN_OK);
    }
    chan_close(start);
    for (int i = 0; i < N; i++)
        ck_assert(wait_done(ctx[order[i]], 10000));
    chan_waitgroup_wait(&wg);
    for (int i = N - 1; i >= 0; i--)
        context_release(ctx[i]);
    chan_release(start);
    chan_waitgroup_destroy(&wg);
}
END_TEST

struct interlocked {
    context_t *parent;
    context_cancel_t *cancel_child;
    chan_t *finished;
};

static void *interlocked_thread(void *arg)
{
    struct interlocked *x = arg;
    chan_recv(context_done(x->parent), NULL);
    context_cancel(x->cancel_child);
    chan_close(x->finished);
    return NULL;
}

START_TEST(test_context_interlocked_cancels)
{
    /* Ports TestInterlockedCancels: a thread waits on the parent's Done and
     * cancels the child while the parent's cancel runs (CX-34). */
    for (int i = 0; i < 100; i++) {
        context_cancel_t *cancel_parent;
        struct interlocked x;
        x.parent = context_with_cancel(context_background(), &cancel_parent);
        context_t *child = context_with_cancel(x.parent, &x.cancel_child);
        x.finished = chan_make(0, 0);
        pthread_t t = tu_spawn(interlocked_thread, &x);
        context_cancel(cancel_parent);
        ck_assert(is_done(child)); /* synchronous */
        ck_assert(wait_chan(x.finished, 10000));
        tu_join(t);
        chan_release(x.finished);
        context_release(child);
        context_release(x.parent);
    }
}
END_TEST

/* ---- TestLayersCancel, TestLayersTimeout ---- */

static void test_layers(unsigned seed, bool timeout)
{
    /* Go's testLayers: a random stack of >= 30 layers of WithValue,
     * WithCancel and WithTimeout; values stay visible; canceling a random
     * layer (or waiting out the short timeouts) finishes the leaf. */
    enum { MAX = 200 };
    context_t *layers[MAX];
    context_cancel_t *cancels[MAX];
    int *vals[MAX];
    int nlayers = 0, ncancels = 0, nvals = 0, ntimers = 0;
    char buf[8192];
    context_t *ctx = context_background();
    srand(seed);
    for (int i = 0; i < 30 || ntimers == 0 || ncancels == 0 || nvals == 0;
         i++) {
        ck_assert_int_lt(nlayers, MAX);
        switch (rand() % 3) {
        case 0: {
            int *v = malloc(sizeof *v);
            ctx = context_with_value(ctx, v, v);
            vals[nvals++] = v;
            break;
        }
        case 1:
            ctx = context_with_cancel(ctx, &cancels[ncancels++]);
            break;
        default:
            ctx = context_with_timeout(ctx, timeout ? MS : VERY_LONG,
                                       &cancels[ncancels++]);
            ntimers++;
            break;
        }
        ck_assert_ptr_nonnull(ctx);
        layers[nlayers++] = ctx;
    }
    if (!timeout)
        ck_assert(!is_done(ctx));
    ck_assert(has_prefix(str(ctx, buf, sizeof buf), "context.Background."));
    for (int i = 0; i < nvals; i++)
        ck_assert_ptr_eq(context_value(ctx, vals[i]), vals[i]);
    if (timeout) {
        ck_assert(wait_done(ctx, 10000));
    } else {
        context_cancel(cancels[rand() % ncancels]);
        ck_assert(is_done(ctx));
    }
    for (int i = 0; i < nvals; i++)
        ck_assert_ptr_eq(context_value(ctx, vals[i]), vals[i]);
    for (int i = 0; i < ncancels; i++)
        context_cancel(cancels[i]);
    for (int i = nlayers - 1; i >= 0; i--)
        context_release(layers[i]);
    for (int i = 0; i < nvals; i++)
        free(vals[i]);
}

START_TEST(test_context_layers_cancel)
{
    /* Ports TestLayersCancel (CX-11, CX-27). */
    for (unsigned seed = 1; seed <= 20; seed++)
        test_layers(seed * 7919u + (unsigned)_i, false);
}
END_TEST

START_TEST(test_context_layers_timeout)
{
    /* Ports TestLayersTimeout (CX-22, CX-27). */
    for (unsigned seed = 1; seed <= 5; seed++)
        test_layers(seed * 104729u, true);
}
END_TEST

/* ---- TestWithCancelCanceledParent and the simultaneous variant: CX-14 ---- */

static const context_error_t because = {"Because!"};

START_TEST(test_context_with_cancel_canceled_parent)
{
    /* Ports TestWithCancelCanceledParent (CX-14). */
    context_cancel_t *pcancel, *cancel;
    context_t *parent =
        context_with_cancel_cause(context_background(), &pcancel);
    context_cancel_cause(pcancel, &because);
    context_t *c = context_with_cancel(parent, &cancel);
    ck_assert(is_done(c));
    ck_assert_ptr_eq(context_err(c), &context_canceled);
    ck_assert_ptr_eq(context_cause(c), &because);
    ck_assert_uint_eq(context__children(parent), 0);
    context_release(c);
    context_release(parent);
}
END_TEST

static void cancel_because(void *arg)
{
    context_cancel_cause(arg, &because);
}

START_TEST(test_context_with_cancel_simultaneously_canceled_parent)
{
    /* Ports TestWithCancelSimultaneouslyCanceledParent (CX-14, CX-15). */
    for (int i = 0; i < 100; i++) {
        context_cancel_t *pcancel, *cancel;
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        context_t *parent =
            context_with_cancel_cause(context_background(), &pcancel);
        ck_assert_int_eq(chan_waitgroup_go(&wg, cancel_because, pcancel),
                         CHAN_OK);
        context_t *c = context_with_cancel(parent, &cancel);
        chan_recv(context_done(c), NULL);
        ck_assert_ptr_eq(context_err(c), &context_canceled);
        ck_assert_ptr_eq(context_cause(c), &because);
        chan_waitgroup_wait(&wg); /* the cancel handle lives until release */
        chan_waitgroup_destroy(&wg);
        context_release(c);
        context_release(parent);
    }
}
END_TEST

/* ---- TestCause: CX-6..8, CX-23, CX-29 ---- */

/* Go's customContext (newCustomContext): a foreign context done when its
 * parent is (through AfterFunc) or when its own cancel runs. */
typedef struct custom {
    context_t ctx;
    context_t *parent;
    atomic_int once;
    chan_t *donec;
    const context_error_t *err; /* written before donec closes */
    context_after_func_t *stop;
    chan_t *fin; /* closed when custom_after is through with c; it holds a
                    reference of its own */
} custom_t;

static bool custom_deadline(context_t *s, int64_t *d)
{
    return context_deadline(((custom_t *)s)->parent, d);
}
static chan_t *custom_done(context_t *s)
{
    return ((custom_t *)s)->donec;
}
static const context_error_t *custom_err(context_t *s)
{
    custom_t *c = (custom_t *)s;
    return chan_try_recv(c->donec, NULL) == CHAN_CLOSED ? c->err : NULL;
}
static void *custom_value(context_t *s, const void *key)
{
    return context_value(((custom_t *)s)->parent, key);
}
static size_t custom_string(context_t *s, char *buf, size_t n)
{
    (void)s;
    return (size_t)snprintf(buf, n, "customContext");
}
static void custom_finish(custom_t *c, const context_error_t *err)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&c->once, &zero, 1)) {
        c->err = err;
        chan_close(c->donec);
    }
}
static void custom_after(void *arg)
{
    custom_t *c = arg;
    chan_t *fin = c->fin;
    custom_finish(c, context_err(c->parent));
    chan_close(fin); /* c may be freed from here on */
    chan_release(fin);
}
static void custom_free(context_t *s)
{
    custom_t *c = (custom_t *)s;
    if (context_after_func_stop(c->stop))
        chan_release(c->fin); /* custom_after's reference: it never runs */
    else
        chan_recv(c->fin, NULL); /* custom_after started: let it finish */
    chan_release(c->fin);
    context_release(c->parent);
    chan_release(c->donec);
    free(c);
}
static const context_vtable_t custom_vtable = {
    custom_deadline, custom_done, custom_err, custom_value,
    custom_string,   custom_free, NULL,       NULL};

static context_t *new_custom_context(context_t *parent)
{
    custom_t *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->parent = context_retain(parent);
    c->donec = chan_make(0, 0);
    c->fin = chan_make(0, 0);
    chan_retain(c->fin); /* for custom_after */
    context_init(&c->ctx, &custom_vtable);
    c->stop = context_after_func(parent, custom_after, c);
    ck_assert_ptr_nonnull(c->stop);
    return &c->ctx;
}

static void custom_cancel(context_t *ctx)
{
    custom_finish((custom_t *)ctx, &context_canceled);
}

static const context_error_t parent_cause = {"parentCause"},
                             child_cause = {"childCause"},
                             too_slow = {"tooSlow"},
                             finished_early = {"finishedEarly"};

/* Each row builds its context, returns it (one reference) and leaves in
 * rel[] what the test releases afterwards. */
struct cause_row {
    const char *name;
    context_t *(*ctx)(context_t **rel, int *nrel);
    const context_error_t *err, *cause;
};

#define FOREVER (1000000 * CHAN_SECOND)

static context_t *row_background(context_t **rel, int *nrel)
{
    (void)rel;
    (void)nrel;
    return context_background();
}
static context_t *row_todo(context_t **rel, int *nrel)
{
    (void)rel;
    (void)nrel;
    return context_todo();
}
static context_t *row_with_cancel(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_cancel(context_background(), &cancel);
    context_cancel(cancel);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_with_cancel_cause(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_cancel_cause(context_background(), &cancel);
    context_cancel_cause(cancel, &parent_cause);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_with_cancel_cause_nil(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_cancel_cause(context_background(), &cancel);
    context_cancel_cause(cancel, NULL);
    rel[(*nrel)++] = c;
    return c;
}
/* Parent and child, canceled in the given order with the given handles. */
static context_t *row_pair(context_t **rel, int *nrel, bool parent_cause_fn,
                           bool child_cause_fn, bool parent_first)
{
    context_cancel_t *cp, *cc;
    context_t *p = parent_cause_fn
                       ? context_with_cancel_cause(context_background(), &cp)
                       : context_with_cancel(context_background(), &cp);
    context_t *c = child_cause_fn ? context_with_cancel_cause(p, &cc)
                                  : context_with_cancel(p, &cc);
    if (parent_first) {
        context_cancel_cause(cp, &parent_cause);
        context_cancel_cause(cc, &child_cause);
    } else {
        context_cancel_cause(cc, &child_cause);
        context_cancel_cause(cp, &parent_cause);
    }
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_parent_before_child(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, true, true, true);
}
static context_t *row_parent_after_child(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, true, true, false);
}
static context_t *row_parent_before_nil(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, true, false, true);
}
static context_t *row_parent_after_nil(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, true, false, false);
}
static context_t *row_child_after_nil(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, false, true, true);
}
static context_t *row_child_before_nil(context_t **rel, int *nrel)
{
    return row_pair(rel, nrel, false, true, false);
}
static context_t *row_timeout(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_timeout(context_background(), 0, &cancel);
    context_cancel(cancel);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_timeout_canceled(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_timeout(context_background(), FOREVER, &cancel);
    context_cancel(cancel);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_timeout_cause(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c =
        context_with_timeout_cause(context_background(), 0, &too_slow, &cancel);
    context_cancel(cancel);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_timeout_cause_canceled(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *c = context_with_timeout_cause(context_background(), FOREVER,
                                              &too_slow, &cancel);
    context_cancel(cancel);
    /* CX-23: the cause handle of a timer context never records a cause. */
    context_cancel_cause(cancel, &finished_early);
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_timeout_cause_stacked(context_t **rel, int *nrel)
{
    context_cancel_t *cancel, *cancel2;
    context_t *p = context_with_cancel_cause(context_background(), &cancel);
    context_t *c = context_with_timeout_cause(p, 0, &too_slow, &cancel2);
    context_cancel_cause(cancel, &finished_early);
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_timeout_cause_stacked_canceled(context_t **rel, int *nrel)
{
    context_cancel_t *cancel, *cancel2;
    context_t *p = context_with_cancel_cause(context_background(), &cancel);
    context_t *c = context_with_timeout_cause(p, FOREVER, &too_slow, &cancel2);
    context_cancel_cause(cancel, &finished_early);
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_without_cancel(context_t **rel, int *nrel)
{
    context_t *c = context_without_cancel(context_background());
    rel[(*nrel)++] = c;
    return c;
}
static context_t *row_without_cancel_canceled(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *p = context_with_cancel_cause(context_background(), &cancel);
    context_t *c = context_without_cancel(p);
    context_cancel_cause(cancel, &finished_early);
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_without_cancel_timeout(context_t **rel, int *nrel)
{
    context_cancel_t *cancel;
    context_t *p =
        context_with_timeout_cause(context_background(), 0, &too_slow, &cancel);
    context_t *c = context_without_cancel(p);
    context_cancel(cancel);
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_custom(context_t **rel, int *nrel, int order)
{
    context_cancel_t *cancel1;
    context_t *p = context_with_cancel_cause(context_background(), &cancel1);
    context_t *c = new_custom_context(p);
    if (order == 0) {
        custom_cancel(c);
    } else if (order == 1) {
        context_cancel_cause(cancel1, &parent_cause);
        /* custom_after finishes c asynchronously; Go's test relies on the
         * custom cancel losing only when the AfterFunc already ran; wait
         * for it so that the row is deterministic. */
        chan_recv(custom_done(c), NULL);
        custom_cancel(c);
    } else {
        custom_cancel(c);
        context_cancel_cause(cancel1, &parent_cause);
    }
    rel[(*nrel)++] = c;
    rel[(*nrel)++] = p;
    return c;
}
static context_t *row_custom_not_canceled(context_t **rel, int *nrel)
{
    return row_custom(rel, nrel, 0);
}
static context_t *row_custom_canceled_before(context_t **rel, int *nrel)
{
    return row_custom(rel, nrel, 1);
}
static context_t *row_custom_canceled_after(context_t **rel, int *nrel)
{
    return row_custom(rel, nrel, 2);
}

static const struct cause_row cause_rows[] = {
    {"Background", row_background, NULL, NULL},
    {"TODO", row_todo, NULL, NULL},
    {"WithCancel", row_with_cancel, &context_canceled, &context_canceled},
    {"WithCancelCause", row_with_cancel_cause, &context_canceled,
     &parent_cause},
    {"WithCancelCause nil", row_with_cancel_cause_nil, &context_canceled,
     &context_canceled},
    {"WithCancelCause: parent cause before child", row_parent_before_child,
     &context_canceled, &parent_cause},
    {"WithCancelCause: parent cause after child", row_parent_after_child,
     &context_canceled, &child_cause},
    {"WithCancelCause: parent cause before nil", row_parent_before_nil,
     &context_canceled, &parent_cause},
    {"WithCancelCause: parent cause after nil", row_parent_after_nil,
     &context_canceled, &context_canceled},
    {"WithCancelCause: child cause after nil", row_child_after_nil,
     &context_canceled, &context_canceled},
    {"WithCancelCause: child cause before nil", row_child_before_nil,
     &context_canceled, &child_cause},
    {"WithTimeout", row_timeout, &context_deadline_exceeded,
     &context_deadline_exceeded},
    {"WithTimeout canceled", row_timeout_canceled, &context_canceled,
     &context_canceled},
    {"WithTimeoutCause", row_timeout_cause, &context_deadline_exceeded,
     &too_slow},
    {"WithTimeoutCause canceled", row_timeout_cause_canceled, &context_canceled,
     &context_canceled},
    {"WithTimeoutCause stacked", row_timeout_cause_stacked,
     &context_deadline_exceeded, &too_slow},
    {"WithTimeoutCause stacked canceled", row_timeout_cause_stacked_canceled,
     &context_canceled, &finished_early},
    {"WithoutCancel", row_without_cancel, NULL, NULL},
    {"WithoutCancel canceled", row_without_cancel_canceled, NULL, NULL},
    {"WithoutCancel timeout", row_without_cancel_timeout, NULL, NULL},
    {"parent of custom context not canceled", row_custom_not_canceled,
     &context_canceled, &context_canceled},
    {"parent of custom context is canceled before", row_custom_canceled_before,
     &context_canceled, &parent_cause},
    /* Go's comment: not really right (the child was canceled first), but a
     * custom child cannot tell Cause which came first. */
    {"parent of custom context is canceled after", row_custom_canceled_after,
     &context_canceled, &parent_cause},
};

START_TEST(test_context_cause)
{
    /* Ports TestCause, the whole 23-row table (CX-6, CX-7, CX-8, CX-23,
     * CX-29). _i is the row. */
    const struct cause_row *row = &cause_rows[_i];
    context_t *rel[4];
    int nrel = 0;
    context_t *ctx = row->ctx(rel, &nrel);
    ck_assert_msg(context_err(ctx) == row->err, "%s: Err = %s want %s",
                  row->name,
                  context_err(ctx) ? context_err(ctx)->message : "nil",
                  row->err ? row->err->message : "nil");
    ck_assert_msg(context_cause(ctx) == row->cause, "%s: Cause = %s want %s",
                  row->name,
                  context_cause(ctx) ? context_cause(ctx)->message : "nil",
                  row->cause ? row->cause->message : "nil");
    for (int i = 0; i < nrel; i++)
        context_release(rel[i]);
}
END_TEST

/* ---- TestCauseRace, TestContextErrDoneRace: CX-1, CX-7, CX-35 ---- */

static const context_error_t race_cause = {"TestCauseRace"};

static void cancel_race_cause(void *arg)
{
    context_cancel_cause(arg, &race_cause);
}

START_TEST(test_context_cause_race)
{
    /* Ports TestCauseRace: Cause polled while another thread cancels with a
     * cause is NULL or exactly the cause (CX-7, CX-35). */
    for (int i = 0; i < 20; i++) {
        context_cancel_t *cancel;
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        context_t *ctx =
            context_with_cancel_cause(context_background(), &cancel);
        ck_assert_int_eq(chan_waitgroup_go(&wg, cancel_race_cause, cancel),
                         CHAN_OK);
        const context_error_t *cause;
        while ((cause = context_cause(ctx)) == NULL)
            ;
        ck_assert_ptr_eq(cause, &race_cause);
        chan_waitgroup_wait(&wg);
        chan_waitgroup_destroy(&wg);
        context_release(ctx);
    }
}
END_TEST

static void cancel_plain(void *arg)
{
    context_cancel(arg);
}

START_TEST(test_context_err_done_race)
{
    /* Ports TestContextErrDoneRace (issue #75533): once Err is non-NULL,
     * Done is already closed (CX-1). */
    for (int i = 0; i < 100; i++) {
        context_cancel_t *cancel;
        chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;
        context_t *ctx = context_with_cancel(context_background(), &cancel);
        chan_t *donec = context_done(ctx);
        ck_assert_int_eq(chan_waitgroup_go(&wg, cancel_plain, cancel), CHAN_OK);
        while (context_err(ctx) == NULL)
            ;
        ck_assert_int_eq(chan_try_recv(donec, NULL), CHAN_CLOSED);
        chan_waitgroup_wait(&wg);
        chan_waitgroup_destroy(&wg);
        context_release(ctx);
    }
}
END_TEST

/* ---- TestWithoutCancel: CX-29 ---- */

START_TEST(test_context_without_cancel)
{
    /* Ports TestWithoutCancel (CX-29), plus: canceling the parent leaves it
     * and its children alone, and its String. */
    static const char key;
    char buf[128];
    context_cancel_t *cancel, *cancel2;
    context_t *p = context_with_cancel(context_background(), &cancel);
    context_t *v = context_with_value(p, &key, "value");
    context_t *ctx = context_without_cancel(v);
    int64_t d = 1;
    ck_assert(!context_deadline(ctx, &d));
    ck_assert_int_eq(d, 0);
    ck_assert_ptr_null(context_done(ctx));
    ck_assert_ptr_null(context_err(ctx));
    ck_assert_ptr_eq(context_value(ctx, &key), "value");
    context_t *child = context_with_cancel(ctx, &cancel2);
    ck_assert_uint_eq(context__children(p), 0);
    context_cancel(cancel);
    ck_assert_ptr_null(context_err(ctx));
    ck_assert(!is_done(child));
    ck_assert_ptr_null(context_cause(ctx));
    snprintf(buf, sizeof buf, "%s", "");
    context_t *w = context_without_cancel(context_background());
    ck_assert_str_eq(str(w, buf, sizeof buf),
                     "context.Background.WithoutCancel");
    context_cancel(cancel2);
    context_release(w);
    context_release(child);
    context_release(ctx);
    context_release(v);
    context_release(p);
}
END_TEST

/* ---- TestCustomContextPropagation: CX-17, CX-7 ---- */

static const context_error_t prop_cause = {"TestCustomContextPropagation"};

START_TEST(test_context_custom_context_propagation)
{
    /* Ports TestCustomContextPropagation: a child of a wrapper with its own
     * Done is canceled by the watcher, with the inner cause (CX-17, CX-7). */
    context_cancel_t *cancel1, *cancel3;
    chan_t *donec;
    context_t *ctx1 = context_with_cancel_cause(context_background(), &cancel1);
    context_t *ctx2 = own_done_ctx(ctx1, &donec);
    uint64_t g = context__watchers_started();
    context_t *ctx3 = context_with_cancel(ctx2, &cancel3);
    ck_assert_uint_eq(context__watchers_started(), g + 1);
    context_cancel_cause(cancel1, &prop_cause);
    chan_close(donec);
    chan_recv(context_done(ctx3), NULL);
    ck_assert_ptr_eq(context_err(ctx3), &context_canceled);
    ck_assert_ptr_eq(context_cause(ctx3), &prop_cause);
    context_cancel(cancel3);
    context_release(ctx3);
    context_release(ctx2);
    context_release(ctx1);
}
END_TEST

/* ---- TestCustomContextCause ---- */

/* Go's customCauseContext: its own mutex, done channel and err. */
typedef struct ccc {
    context_t ctx;
    pthread_mutex_t mu;
    chan_t *done;
    const context_error_t *err;
    context_cancel_t *cancel_child;
} ccc_t;

static bool ccc_deadline(context_t *s, int64_t *d)
{
    (void)s;
    *d = 0;
    return false;
}
static chan_t *ccc_done(context_t *s)
{
    ccc_t *c = (ccc_t *)s;
    pthread_mutex_lock(&c->mu);
    chan_t *d = c->done;
    pthread_mutex_unlock(&c->mu);
    return d;
}
static const context_error_t *ccc_err(context_t *s)
{
    ccc_t *c = (ccc_t *)s;
    pthread_mutex_lock(&c->mu);
    const context_error_t *e = c->err;
    pthread_mutex_unlock(&c->mu);
    return e;
}
static void *ccc_value(context_t *s, const void *key)
{
    (void)s;
    (void)key;
    return NULL;
}
static size_t ccc_string(context_t *s, char *buf, size_t n)
{
    (void)s;
    return (size_t)snprintf(buf, n, "customCauseContext");
}
static void ccc_free(context_t *s)
{
    ccc_t *c = (ccc_t *)s;
    chan_release(c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
static const context_vtable_t ccc_vtable = {ccc_deadline, ccc_done,   ccc_err,
                                            ccc_value,    ccc_string, ccc_free,
                                            NULL,         NULL};

static ccc_t *ccc_new(void)
{
    ccc_t *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->done = chan_make(0, 0);
    context_init(&c->ctx, &ccc_vtable);
    return c;
}

static void ccc_cancel(ccc_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->err = &context_canceled;
    chan_close(c->done);
    context_cancel_t *child = c->cancel_child;
    pthread_mutex_unlock(&c->mu);
    if (child)
        context_cancel(child);
}

static const context_error_t ccc_cause = {"TestCustomContextCause"};

START_TEST(test_context_custom_context_cause)
{
    /* Ports TestCustomContextCause (CX-7, CX-8, CX-17). */
    ccc_t *ccc = ccc_new();
    ccc_cancel(ccc);
    ck_assert_ptr_eq(context_err(&ccc->ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(&ccc->ctx), &context_canceled);
    context_release(&ccc->ctx);

    /* A WithCancelCause child's cause does not leak to the parent. */
    ccc = ccc_new();
    context_cancel_t *cause_fn;
    context_t *ctx = context_with_cancel_cause(&ccc->ctx, &cause_fn);
    context_cancel_cause(cause_fn, &ccc_cause);
    ck_assert_ptr_eq(context_err(ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(ctx), &ccc_cause);
    ck_assert_ptr_null(context_err(&ccc->ctx));
    ck_assert_ptr_null(context_cause(&ccc->ctx));
    /* The parent's later cancel keeps the child's cause. */
    ccc_cancel(ccc);
    ck_assert_ptr_eq(context_err(ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(ctx), &ccc_cause);
    ck_assert_ptr_eq(context_err(&ccc->ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(&ccc->ctx), &context_canceled);
    context_release(ctx);
    context_release(&ccc->ctx);

    /* The custom context's cancel calls the child's cancel. */
    ccc = ccc_new();
    context_cancel_t *cancel_fn;
    ctx = context_with_cancel(&ccc->ctx, &cancel_fn);
    ccc->cancel_child = cancel_fn;
    ccc_cancel(ccc);
    ck_assert_ptr_eq(context_err(ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(ctx), &context_canceled);
    ck_assert_ptr_eq(context_err(&ccc->ctx), &context_canceled);
    ck_assert_ptr_eq(context_cause(&ccc->ctx), &context_canceled);
    context_release(ctx);
    context_release(&ccc->ctx);
}
END_TEST

/* ---- AfterFunc: CX-30..33 ---- */

static void close_chan(void *arg)
{
    chan_close(arg);
}
static void send_chan(void *arg)
{
    chan_send(arg, NULL);
}

START_TEST(test_context_after_func_called_after_cancel)
{
    /* Ports TestAfterFuncCalledAfterCancel (CX-30, CX-31, CX-32). */
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop = context_after_func(ctx, close_chan, donec);
    ck_assert(!wait_chan(donec, TU_QUIET_MS)); /* not before cancel */
    context_cancel(cancel);
    ck_assert(wait_chan(donec, 10000));
    ck_assert(!context_after_func_stop(stop));
    context_release(ctx);
    chan_release(donec);
}
END_TEST

START_TEST(test_context_after_func_called_after_timeout)
{
    /* Ports TestAfterFuncCalledAfterTimeout (CX-30). */
    context_cancel_t *cancel;
    context_t *ctx = context_with_timeout(context_background(), MS, &cancel);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop = context_after_func(ctx, close_chan, donec);
    ck_assert(wait_chan(donec, 10000));
    ck_assert_ptr_eq(context_err(ctx), &context_deadline_exceeded);
    ck_assert(!context_after_func_stop(stop));
    context_cancel(cancel);
    context_release(ctx);
    chan_release(donec);
}
END_TEST

START_TEST(test_context_after_func_called_immediately)
{
    /* Ports TestAfterFuncCalledImmediately (CX-30). */
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    context_cancel(cancel);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop = context_after_func(ctx, close_chan, donec);
    /* The context may go first (contract "AfterFunc handles",
     * docs/semantics.md). */
    context_release(ctx);
    ck_assert(wait_chan(donec, 10000));
    ck_assert(!context_after_func_stop(stop));
    chan_release(donec);
}
END_TEST

START_TEST(test_context_after_func_not_called_after_stop)
{
    /* Ports TestAfterFuncNotCalledAfterStop (CX-32). Go's second stop()
     * (false) is left out: gochan's stop frees the handle. */
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop = context_after_func(ctx, close_chan, donec);
    ck_assert(context_after_func_stop(stop));
    context_cancel(cancel);
    ck_assert(!wait_chan(donec, TU_QUIET_MS));
    ck_assert_uint_eq(context__children(ctx), 0);
    context_release(ctx);
    chan_release(donec);
}
END_TEST

START_TEST(test_context_after_func_called_asynchronously)
{
    /* Ports TestAfterFuncCalledAsynchronously: cancel does not wait for f,
     * which blocks on a send until we receive after cancel returns (CX-31).
     * Several AfterFuncs on one context are independent. */
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop = context_after_func(ctx, send_chan, donec);
    context_after_func_t *stop2 = context_after_func(ctx, send_chan, donec);
    context_cancel(cancel);
    ck_assert(wait_chan(donec, 10000));
    ck_assert(wait_chan(donec, 10000));
    ck_assert(!context_after_func_stop(stop));
    ck_assert(!context_after_func_stop(stop2));
    /* Each f still holds the channel for a moment after its send completes
     * (until chan_send returns): wait, bounded, for both to return, or the
     * leak checker at exit may find the channel held by a goroutine stack
     * it does not scan. */
    for (int i = 0; i < 10000 && chan_num_goroutine() != 0; i++)
        tu_sleep_ms(1);
    ck_assert_int_eq(chan_num_goroutine(), 0);
    context_release(ctx);
    chan_release(donec);
}
END_TEST

/* Go's afterFuncContext (afterfunc_test.go): a foreign context that offers
 * AfterFunc. Registrations are heap records; the handle is the record. */
struct afc_reg {
    struct afc_reg *next;
    void (*f)(void *);
    void *arg;
    bool active;
};

typedef struct afc {
    context_t ctx;
    pthread_mutex_t mu;
    struct afc_reg *regs;
    chan_t *done;
    const context_error_t *err;
} afc_t;

static chan_t *afc_done(context_t *s)
{
    afc_t *c = (afc_t *)s;
    pthread_mutex_lock(&c->mu);
    if (!c->done)
        c->done = chan_make(0, 0);
    chan_t *d = c->done;
    pthread_mutex_unlock(&c->mu);
    return d;
}
static const context_error_t *afc_err(context_t *s)
{
    afc_t *c = (afc_t *)s;
    pthread_mutex_lock(&c->mu);
    const context_error_t *e = c->err;
    pthread_mutex_unlock(&c->mu);
    return e;
}
static size_t afc_string(context_t *s, char *buf, size_t n)
{
    (void)s;
    return (size_t)snprintf(buf, n, "afterFuncContext");
}
static void afc_free(context_t *s)
{
    afc_t *c = (afc_t *)s;
    ck_assert_ptr_null(c->regs); /* every handle was stopped */
    chan_release(c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
static void *afc_after_func(context_t *s, void (*f)(void *), void *arg)
{
    afc_t *c = (afc_t *)s;
    struct afc_reg *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_lock(&c->mu);
    *r = (struct afc_reg){c->regs, f, arg, true};
    c->regs = r;
    pthread_mutex_unlock(&c->mu);
    return r;
}
static bool afc_after_func_stop(context_t *s, void *stop)
{
    afc_t *c = (afc_t *)s;
    struct afc_reg *r = stop, **pp;
    pthread_mutex_lock(&c->mu);
    bool was = r->active;
    for (pp = &c->regs; *pp != r; pp = &(*pp)->next)
        ;
    *pp = r->next;
    pthread_mutex_unlock(&c->mu);
    free(r);
    return was;
}
static const context_vtable_t afc_vtable = {
    ccc_deadline, afc_done, afc_err,        ccc_value,
    afc_string,   afc_free, afc_after_func, afc_after_func_stop};

static afc_t *afc_new(void)
{
    afc_t *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    context_init(&c->ctx, &afc_vtable);
    return c;
}

/* len(ctx0.afterFuncs): the registrations not yet run or stopped. */
static int afc_count(afc_t *c)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (struct afc_reg *r = c->regs; r; r = r->next)
        n += r->active;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void afc_cancel(afc_t *c, const context_error_t *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->err) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->err = err;
    if (!c->done)
        c->done = chan_make(0, 0);
    chan_close(c->done);
    for (struct afc_reg *r = c->regs; r; r = r->next)
        if (r->active) {
            r->active = false;
            ck_assert_int_eq(chan_go(r->f, r->arg), CHAN_OK); /* go f() */
        }
    pthread_mutex_unlock(&c->mu);
}

START_TEST(test_context_custom_after_func)
{
    /* Ports afterfunc_test.go's TestCustomContextAfterFuncCancel, ...Timeout
     * and ...AfterFunc: an afterFuncer parent propagates cancel without a
     * watcher thread (CX-16). Also String's stopCtx (Go's contextName of a
     * stopCtx is its type name). */
    char buf[128];
    uint64_t g = context__watchers_started();
    afc_t *ctx0 = afc_new();
    context_cancel_t *cancel, *cancel2;
    context_t *ctx1 = context_with_cancel(&ctx0->ctx, &cancel);
    context_t *ctx2 = context_with_timeout(&ctx0->ctx, VERY_LONG, &cancel2);
    chan_t *donec = chan_make(0, 0);
    context_after_func_t *stop =
        context_after_func(&ctx0->ctx, close_chan, donec);
    ck_assert_str_eq(str(ctx1, buf, sizeof buf), "context.stopCtx.WithCancel");
    ck_assert_int_eq(afc_count(ctx0), 3);
    afc_cancel(ctx0, &context_canceled);
    chan_recv(context_done(ctx1), NULL);
    chan_recv(context_done(ctx2), NULL);
    chan_recv(donec, NULL);
    ck_assert_ptr_eq(context_err(ctx1), &context_canceled);
    ck_assert_ptr_eq(context_err(ctx2), &context_canceled);
    ck_assert_uint_eq(context__watchers_started(), g);
    ck_assert(!context_after_func_stop(stop));
    context_cancel(cancel);
    context_cancel(cancel2);
    context_release(ctx1);
    context_release(ctx2);
    context_release(&ctx0->ctx);
    chan_release(donec);
}
END_TEST

START_TEST(test_context_custom_after_func_unregister)
{
    /* Ports TestCustomContextAfterFuncUnregisterCancel, ...Timeout and
     * ...AfterFunc: canceling or stopping the child unregisters it from the
     * custom parent (CX-19's stopCtx path). */
    afc_t *ctx0 = afc_new();
    context_cancel_t *cancel1, *cancel2, *cancel3;
    context_t *c1 = context_with_cancel(&ctx0->ctx, &cancel1);
    context_t *c2 = context_with_cancel(&ctx0->ctx, &cancel2);
    ck_assert_int_eq(afc_count(ctx0), 2);
    context_cancel(cancel1);
    context_cancel(cancel2);
    ck_assert_int_eq(afc_count(ctx0), 0);

    context_t *c3 = context_with_timeout(&ctx0->ctx, VERY_LONG, &cancel3);
    ck_assert_int_eq(afc_count(ctx0), 1);
    context_cancel(cancel3);
    ck_assert_int_eq(afc_count(ctx0), 0);

    context_after_func_t *stop = context_after_func(&ctx0->ctx, noop, NULL);
    ck_assert_int_eq(afc_count(ctx0), 1);
    ck_assert(context_after_func_stop(stop));
    ck_assert_int_eq(afc_count(ctx0), 0);

    /* Released without cancel: unregistered too. */
    context_cancel_t *cancel4;
    context_t *c4 = context_with_cancel(&ctx0->ctx, &cancel4);
    ck_assert_int_eq(afc_count(ctx0), 1);
    context_release(c4);
    ck_assert_int_eq(afc_count(ctx0), 0);

    context_release(c1);
    context_release(c2);
    context_release(c3);
    context_release(&ctx0->ctx);
}
END_TEST

/* ---- String ---- */

START_TEST(test_context_string)
{
    /* CX-5, CX-25, CX-28, CX-29: Go's String formats; snprintf semantics. */
    char buf[256], small[8];
    context_cancel_t *c1, *c2, *c3;
    context_t *a = context_with_cancel_cause(context_todo(), &c1);
    ck_assert_str_eq(str(a, buf, sizeof buf), "context.TODO.WithCancel");
    context_t *v = context_with_value(a, &k1, NULL);
    context_t *w = context_without_cancel(v);
    char want[256];
    snprintf(want, sizeof want,
             "context.TODO.WithCancel.WithValue(%p, <nil>).WithoutCancel",
             (void *)&k1);
    ck_assert_str_eq(str(w, buf, sizeof buf), want);
    size_t len = strlen(want);
    ck_assert_uint_eq(context_string(w, small, sizeof small), len);
    ck_assert_str_eq(small, "context");
    ck_assert_uint_eq(context_string(w, NULL, 0), len);
    ck_assert_uint_eq(context_string(w, small, 1), len);
    ck_assert_str_eq(small, "");
    /* Every prefix length gives the same prefix. */
    for (size_t n = 1; n <= len + 1; n++) {
        char b[256];
        ck_assert_uint_eq(context_string(w, b, n), len);
        ck_assert_uint_eq(strlen(b), n - 1);
        ck_assert(strncmp(b, want, n - 1) == 0);
    }

    context_t *t = context_with_deadline(context_background(),
                                         chan_now() + 90 * CHAN_MINUTE, &c2);
    str(t, buf, sizeof buf);
    ck_assert_msg(has_prefix(buf, "context.Background.WithDeadline(m=+"), "%s",
                  buf);
    ck_assert_msg(strstr(buf, " [1h29m59.") != NULL ||
                      strstr(buf, " [1h30m0s])") != NULL,
                  "%s", buf);
    context_t *t2 = context_with_timeout(t, CHAN_SECOND, &c3);
    str(t2, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "]).WithDeadline(m=+") != NULL, "%s", buf);
    context_cancel(c3);
    context_cancel(c2);
    context_cancel(c1);
    context_release(t2);
    context_release(t);
    context_release(w);
    context_release(v);
    context_release(a);
}
END_TEST

/* Regression: deadlines at the ends of int64 computed deadline - now before
 * checking whether the deadline had passed (undefined behaviour, seen by
 * UBSan), and String then showed a positive time left for INT64_MIN. Go's
 * time.Until saturates; so does every duration computed from a deadline. */
START_TEST(test_context_extreme_deadlines)
{
    char buf[256];
    context_cancel_t *c1, *c2, *c3, *c4;
    context_t *past =
        context_with_deadline(context_background(), INT64_MIN, &c1);
    context_t *past_timeout =
        context_with_timeout(context_background(), INT64_MIN, &c2);
    int64_t when = 0;
    ck_assert(context_deadline(past, &when));
    ck_assert(when == INT64_MIN);
    str(past, buf, sizeof buf);
    ck_assert_msg(has_prefix(buf, "context.Background.WithDeadline("
                                  "m=-9223372036.854775808 ["),
                  "%s", buf);
    context_t *pasts[] = {past, past_timeout};
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(pasts[i]);
        ck_assert_ptr_eq(context_err(pasts[i]), &context_deadline_exceeded);
        str(pasts[i], buf, sizeof buf);
        ck_assert_msg(strstr(buf, " [-2562047h47m16.854775808s])") != NULL,
                      "%s", buf);
    }

    context_t *future =
        context_with_deadline(context_background(), INT64_MAX, &c3);
    context_t *future_timeout =
        context_with_timeout(context_background(), INT64_MAX, &c4);
    context_t *futures[] = {future, future_timeout};
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(futures[i]);
        ck_assert_ptr_null(context_err(futures[i]));
        ck_assert(context_deadline(futures[i], &when));
        ck_assert(when == INT64_MAX); /* now + INT64_MAX saturates */
        str(futures[i], buf, sizeof buf);
        /* The time left is INT64_MAX less the clock's reading: positive,
         * and still over 2,562,000 hours. */
        ck_assert_msg(strstr(buf, "(m=+9223372036.854775807 [25620") != NULL,
                      "%s", buf);
    }
    context_cancel(c1);
    context_cancel(c2);
    context_cancel(c3);
    context_cancel(c4);
    ck_assert_ptr_eq(context_err(future), &context_canceled);
    context_release(past);
    context_release(past_timeout);
    context_release(future);
    context_release(future_timeout);
}
END_TEST

static int go_always_fails(void (*fn)(void *), void *arg)
{
    (void)fn;
    (void)arg;
    errno = EAGAIN;
    return CHAN_NOMEM;
}

/* Regression: with no thread to be had (RLIMIT_NPROC reached), a timerCtx's
 * deadline waited on the timer thread's retry list for a thread to cancel
 * from, and a 10 ms timeout was not done after 500 ms. Go cancels on time;
 * the timer thread now cancels the context itself. */
START_TEST(test_context_deadline_without_threads)
{
    chan__timer_set_go(go_always_fails); /* no AfterFunc thread can start */
    context_cancel_t *cancel;
    context_t *ctx =
        context_with_timeout(context_background(), 10 * MS, &cancel);
    ck_assert_ptr_nonnull(ctx);
    ck_assert(wait_chan(context_done(ctx), 500));
    ck_assert_ptr_eq(context_err(ctx), &context_deadline_exceeded);
    context_cancel(cancel);
    context_release(ctx);
    chan__timer_set_go(NULL);
}
END_TEST

static atomic_int destroyed;

static void destroy_value(void *v)
{
    atomic_fetch_add(&destroyed, *(int *)v == 42 ? 1 : 100);
    free(v);
}

static void read_value_late(void *arg)
{
    context_t *ctx = arg;
    int *v = context_value(ctx, &k1);
    atomic_store(&destroyed, v && *v == 42 ? 0 : -100);
    context_release(ctx);
}

/* The porter's crash: a value read by a late goroutine after the frame that
 * held it was gone. An owned value lives as long as the context: destroy
 * runs exactly once, when the last reference (a child's, or the late
 * reader's) is released, and not before. */
START_TEST(test_context_owned_value)
{
    int *v = malloc(sizeof *v);
    ck_assert_ptr_nonnull(v);
    *v = 42;
    atomic_store(&destroyed, 0);
    context_t *ctx =
        context_with_owned_value(context_background(), &k1, v, destroy_value);
    ck_assert_ptr_nonnull(ctx);
    context_t *child = context_without_cancel(ctx);
    context_release(ctx); /* the child keeps it */
    ck_assert_int_eq(atomic_load(&destroyed), 0);
    ck_assert_int_eq(chan_go(read_value_late, context_retain(child)), CHAN_OK);
    context_release(child);
    for (int i = 0; i < 10000 * tu_scale() && atomic_load(&destroyed) == 0; i++)
        tu_sleep_ms(1);
    ck_assert_int_eq(atomic_load(&destroyed), 1);

    /* A plain value context is borrowed: nothing to destroy. */
    ck_assert_ptr_null(context_with_owned_value(NULL, &k1, v, destroy_value));
    static int borrowed = 7;
    context_t *plain =
        context_with_owned_value(context_background(), &k1, &borrowed, NULL);
    ck_assert_ptr_eq(context_value(plain, &k1), &borrowed);
    context_release(plain);
}
END_TEST

static const context_error_t err_not_exist = {"file does not exist"};

/* Go's errors.New, fmt.Errorf with %w, errors.Is and errors.Unwrap (from
 * errors/wrap_test.go TestIs, TestUnwrap), at run time. */
START_TEST(test_context_made_errors)
{
    long base = context__errors_live();
    const context_error_t *e1 = context_error_new("boom");
    ck_assert_str_eq(e1->message, "boom");
    const context_error_t *e2 = context_errorf("open %s: code %d", "x", 13);
    ck_assert_str_eq(e2->message, "open x: code 13");
    const context_error_t *w =
        context_error_wrap(&err_not_exist, "open %s", "/etc/x");
    ck_assert_str_eq(w->message, "open /etc/x: file does not exist");
    const context_error_t *ww = context_error_wrap(w, "load config");
    ck_assert_str_eq(ww->message,
                     "load config: open /etc/x: file does not exist");
    ck_assert(context_error_is(ww, &err_not_exist));
    ck_assert(context_error_is(ww, w));
    ck_assert(context_error_is(ww, ww));
    ck_assert(!context_error_is(ww, e1));
    ck_assert(!context_error_is(NULL, e1));
    ck_assert(context_error_is(NULL, NULL));
    ck_assert(!context_error_is(e1, NULL));
    ck_assert_ptr_eq(context_error_unwrap(ww), w);
    ck_assert_ptr_eq(context_error_unwrap(w), &err_not_exist);
    ck_assert_ptr_null(context_error_unwrap(&err_not_exist));
    ck_assert_ptr_null(context_error_unwrap(e1));
    ck_assert_int_eq(context__errors_live(), base + 4);
    /* Static errors ignore retain and release. */
    ck_assert_ptr_eq(context_error_retain(&err_not_exist), &err_not_exist);
    context_error_release(&err_not_exist);
    context_error_release(NULL);
    ck_assert_str_eq(err_not_exist.message, "file does not exist");
    /* A retained error survives one release. */
    ck_assert_ptr_eq(context_error_retain(e1), e1);
    context_error_release(e1);
    ck_assert_str_eq(e1->message, "boom");
    context_error_release(e1);
    context_error_release(e2);
    context_error_release(ww); /* frees w, which it holds, too */
    ck_assert_int_eq(context__errors_live(), base);
}
END_TEST

/* A made error as a cause: handed over to cancel, kept by every context it
 * reached (a child keeps its own), and freed with the last of them. Also
 * WithTimeoutCause: the cause is kept until the deadline fires, and a
 * constructor that fails or ignores the cause releases it. */
START_TEST(test_context_made_error_causes)
{
    long base = context__errors_live();
    context_cancel_t *c1, *c2, *c3;
    context_t *parent = context_with_cancel_cause(context_background(), &c1);
    context_t *child = context_with_cancel(parent, &c2);
    context_cancel_cause(c1, context_errorf("shutting down: %s", "SIGTERM"));
    ck_assert_str_eq(context_cause(parent)->message, "shutting down: SIGTERM");
    ck_assert_ptr_eq(context_cause(child), context_cause(parent));
    context_release(parent);
    ck_assert_str_eq(context_cause(child)->message, "shutting down: SIGTERM");
    context_cancel(c2);
    context_release(child);
    ck_assert_int_eq(context__errors_live(), base);

    context_t *t = context_with_timeout_cause(
        context_background(), MS, context_error_new("too slow"), &c3);
    ck_assert(wait_chan(context_done(t), 10000));
    ck_assert_ptr_eq(context_err(t), &context_deadline_exceeded);
    ck_assert_str_eq(context_cause(t)->message, "too slow");
    context_cancel(c3);
    context_release(t);
    wait_live(0);
    ck_assert_int_eq(context__errors_live(), base);

    context_cancel_t *none;
    ck_assert_ptr_null(
        context_with_timeout_cause(NULL, MS, context_error_new("x"), &none));
    ck_assert_int_eq(context__errors_live(), base);
}
END_TEST

START_TEST(test_context_duration_string)
{
    /* time.Duration.String, as WithDeadline's String uses it (from Go's
     * time_test.go durationTests). */
    static const struct {
        int64_t d;
        const char *s;
    } tests[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {2200 * CHAN_MICROSECOND, "2.2ms"},
        {3300 * MS, "3.3s"},
        {1500 * MS, "1.5s"},
        {999900 * CHAN_MICROSECOND, "999.9ms"},
        {-1200 * MS, "-1.2s"},
        {4 * CHAN_MINUTE + 5 * CHAN_SECOND, "4m5s"},
        {4 * CHAN_MINUTE + 5001 * MS, "4m5.001s"},
        {5 * CHAN_HOUR + 6 * CHAN_MINUTE + 7001 * MS, "5h6m7.001s"},
        {8 * CHAN_MINUTE + 1, "8m0.000000001s"},
        {CHAN_HOUR, "1h0m0s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    char buf[40];
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        chan_duration_string(tests[i].d, buf, sizeof buf);
        ck_assert_str_eq(buf, tests[i].s);
    }
}
END_TEST

/* ---- Lifetime and the iterative cancel ---- */

START_TEST(test_context_release_without_cancel)
{
    /* Contract "context lifetime" (docs/semantics.md): releasing in any order,
     * canceled or not, leaks nothing and leaves no dangling child in a children
     * set; timers and watchers let go. */
    long base = context__live();
    context_cancel_t *cancel, *c2, *c3, *c4;
    context_t *root = context_with_cancel(context_background(), &cancel);
    context_t *a = context_with_cancel(root, &c2);
    context_t *b = context_with_timeout(a, VERY_LONG, &c3);
    context_t *o = own_done_ctx(b, NULL); /* foreign: one watcher */
    context_t *d = context_with_cancel(o, &c4);
    context_release(root); /* parent first: children keep it alive */
    context_release(a);
    ck_assert(!is_done(d));
    context_release(d); /* ends the watcher */
    context_release(o);
    ck_assert_uint_eq(context__children(b), 0);
    context_release(b); /* stops the timer */
    wait_live(base);
}
END_TEST

static void *release_thread(void *arg)
{
    context_release(arg);
    return NULL;
}

struct chain_job {
    context_t *root;
    context_cancel_t *cancel;
    context_t *leaf;
    bool leaf_done;
};

static void *cancel_chain(void *arg)
{
    struct chain_job *j = arg;
    context_cancel(j->cancel);
    j->leaf_done = is_done(j->leaf);
    return NULL;
}

START_TEST(test_context_deep_chain)
{
    /* A chain of 100,000 WithCancel contexts canceled from the root on a
     * 256 KiB thread stack: the cancel is iterative, and when it returns the
     * leaf is done (Go's synchronous propagation, CX-9, CX-11). Releasing
     * the chain is iterative too. */
    enum { N = 100000 };
    context_t **chain = malloc(N * sizeof *chain);
    context_cancel_t *cancel;
    ck_assert_ptr_nonnull(chain);
    chain[0] = context_with_cancel(context_background(), &cancel);
    for (int i = 1; i < N; i++) {
        context_cancel_t *c;
        chain[i] = context_with_cancel(chain[i - 1], &c);
        ck_assert_ptr_nonnull(chain[i]);
    }
    struct chain_job j = {chain[0], cancel, chain[N - 1], false};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    ck_assert_int_eq(pthread_create(&t, &attr, cancel_chain, &j), 0);
    pthread_attr_destroy(&attr);
    tu_join(t);
    ck_assert(j.leaf_done);
    ck_assert_ptr_eq(context_err(chain[N - 1]), &context_canceled);
    /* Release the root first: the leaf's release then frees all. */
    for (int i = 0; i < N; i++)
        context_release(chain[i]);

    /* Uncanceled, released leaf last, on the small stack too. */
    chain[0] = context_with_cancel(context_background(), &cancel);
    for (int i = 1; i < N; i++) {
        context_cancel_t *c;
        chain[i] = i % 3 ? context_with_cancel(chain[i - 1], &c)
                         : context_with_value(chain[i - 1], &k1, NULL);
    }
    for (int i = 0; i < N - 1; i++)
        context_release(chain[i]);
    j = (struct chain_job){NULL, NULL, chain[N - 1], false};
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    ck_assert_int_eq(pthread_create(&t, &attr, release_thread, chain[N - 1]),
                     0);
    pthread_attr_destroy(&attr);
    tu_join(t);
    free(chain);
}
END_TEST

struct race_cancel {
    context_cancel_t *cancel;
    context_t *leaf;
    chan_t *start;
    bool leaf_done;
};

static void *race_cancel_thread(void *arg)
{
    struct race_cancel *r = arg;
    chan_recv(r->start, NULL);
    context_cancel(r->cancel);
    r->leaf_done = is_done(r->leaf);
    return NULL;
}

START_TEST(test_context_cancel_returns_after_subtree)
{
    /* Go's cancel holds each lock down the tree, so any cancel that returns,
     * also one that lost the race, leaves every descendant done. Two threads
     * cancel the root and a middle node of a long chain at once; each must
     * see the leaf done when its cancel returns (CX-9, CX-34). */
    enum { N = 2000 };
    for (int round = 0; round < 20; round++) {
        context_t *chain[N];
        context_cancel_t *cancels[N];
        chain[0] = context_with_cancel(context_background(), &cancels[0]);
        for (int i = 1; i < N; i++)
            chain[i] = context_with_cancel(chain[i - 1], &cancels[i]);
        chan_t *start = chan_make(0, 0);
        struct race_cancel r[3] = {
            {cancels[0], chain[N - 1], start, false},
            {cancels[N / 2], chain[N - 1], start, false},
            {cancels[N / 4], chain[N - 1], start, false},
        };
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            t[i] = tu_spawn(race_cancel_thread, &r[i]);
        chan_close(start);
        for (int i = 0; i < 3; i++) {
            tu_join(t[i]);
            ck_assert(r[i].leaf_done);
        }
        for (int i = N - 1; i >= 0; i--)
            context_release(chain[i]);
        chan_release(start);
    }
}
END_TEST

/* ---- Stress ---- */

struct stress {
    pthread_mutex_t mu;
    context_t *ctx[256];
    context_cancel_t *cancel[256];
    bool detached[256]; /* below a WithoutCancel: the root cannot cancel it */
    int n;
    int64_t until;
    atomic_uint seed;
    atomic_int afs_run;
};

static void count_af(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Picks a random live context under mu, retained. */
static context_t *stress_pick(struct stress *s, unsigned *seed,
                              context_cancel_t **cancel, bool *detached)
{
    pthread_mutex_lock(&s->mu);
    int i = rand_r(seed) % s->n;
    context_t *c = context_retain(s->ctx[i]);
    *cancel = s->cancel[i];
    *detached = s->detached[i];
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void *stress_thread(void *arg)
{
    struct stress *s = arg;
    unsigned seed = atomic_fetch_add(&s->seed, 1);
    context_after_func_t *afs[16];
    int naf = 0;
    while (chan_now() < s->until) {
        context_cancel_t *cancel;
        bool detached;
        context_t *p = stress_pick(s, &seed, &cancel, &detached);
        context_t *c = NULL;
        context_cancel_t *cc = NULL;
        switch (rand_r(&seed) % 8) {
        case 0:
        case 1:
            c = context_with_cancel(p, &cc);
            break;
        case 2:
            c = context_with_cancel_cause(p, &cc);
            break;
        case 3:
            c = context_with_timeout(p, (rand_r(&seed) % 3000) * 1000, &cc);
            break;
        case 4:
            c = context_with_value(p, &k1, p);
            break;
        case 5:
            c = context_without_cancel(p);
            detached = true;
            break;
        case 6:
            if (naf < 16) {
                afs[naf] = context_after_func(p, count_af, &s->afs_run);
                ck_assert_ptr_nonnull(afs[naf]);
                naf++;
            } else {
                context_after_func_stop(afs[--naf]);
            }
            break;
        default:
            if (cancel)
                context_cancel_cause(cancel, &because);
            break;
        }
        if (c) {
            /* Replace a random slot (never the root); the old one goes. */
            pthread_mutex_lock(&s->mu);
            context_t *old = NULL;
            if (s->n < 256) {
                s->ctx[s->n] = c;
                s->cancel[s->n] = cc;
                s->detached[s->n] = detached;
                s->n++;
            } else {
                int i = 1 + rand_r(&seed) % 255;
                old = s->ctx[i];
                context_cancel_t *oc = s->cancel[i];
                s->ctx[i] = c;
                s->cancel[i] = cc;
                s->detached[i] = detached;
                pthread_mutex_unlock(&s->mu);
                /* Half the time without cancel: release must cope. */
                if (oc && rand_r(&seed) % 2)
                    context_cancel(oc);
                context_release(old);
                pthread_mutex_lock(&s->mu);
            }
            pthread_mutex_unlock(&s->mu);
        }
        (void)context_err(p);
        (void)context_cause(p);
        char buf[64];
        (void)context_string(p, buf, sizeof buf);
        context_release(p);
    }
    while (naf > 0)
        context_after_func_stop(afs[--naf]);
    return NULL;
}

START_TEST(test_context_stress)
{
    /* Builds, cancels and releases random trees from four threads while
     * deadlines fire and AfterFuncs run, for about two seconds; then cancels
     * the root: everything is done, and once released nothing is left. */
    long base = context__live();
    struct stress s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    context_cancel_t *root_cancel;
    s.ctx[0] = context_with_cancel(context_background(), &root_cancel);
    s.cancel[0] = NULL; /* the root is canceled only at the end */
    s.n = 1;
    atomic_init(&s.seed, 12345);
    s.until = chan_now() + 2 * CHAN_SECOND;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = tu_spawn(stress_thread, &s);
    for (int i = 0; i < 4; i++)
        tu_join(t[i]);
    context_cancel(root_cancel);
    for (int i = 0; i < s.n; i++) {
        if (!s.detached[i])
            ck_assert(is_done(s.ctx[i]));
    }
    for (int i = s.n - 1; i >= 0; i--)
        context_release(s.ctx[i]);
    wait_live(base);
    pthread_mutex_destroy(&s.mu);
}
END_TEST

/* ---- the cancelCtx's size and its children array (issue 21) ---- */

START_TEST(test_context_cancel_ctx_size)
{
    /* A cancelCtx is nine words: malloc's 80-byte chunk on 64-bit glibc, no
     * more than Go's 80-byte cancelCtx (docs/performance.md, "Context
     * memory"). The portable build's lock is a pthread_mutex_t: there only the
     * other fields are counted. */
    size_t lock = context__lock_bytes();
    size_t words = 9 * sizeof(void *) + (lock > 4 ? lock - 4 : 0);
    words = (words + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    ck_assert_uint_le(context__cancelCtx_bytes(), words);
    context_cancel_t *cancel, *kcancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    ck_assert_ptr_nonnull(ctx);
    /* Its first child makes its children array; the child is no bigger. */
    context_t *kid = context_with_cancel(ctx, &kcancel);
    ck_assert_ptr_nonnull(kid);
#if defined(__GLIBC__) && UINTPTR_MAX == UINT64_MAX
    if (lock == 4) {
        ck_assert_uint_le(malloc_usable_size(ctx), 72);
        ck_assert_uint_le(malloc_usable_size(kid), 72);
    }
#endif
    context_cancel(cancel);
    ck_assert(is_done(kid));
    context_cancel(kcancel);
    context_release(kid);
    context_release(ctx);
}
END_TEST

/* An AfterFunc's f: one value on the channel arg. */
static void count_ran(void *arg)
{
    int one = 1;
    chan_send(arg, &one);
}

/* Whether every one of kids[0..n) that is not NULL sits in p's set. */
static bool all_children_of(context_t *p, context_t **kids, int n)
{
    for (int i = 0; i < n; i++)
        if (kids[i] && !context__has_child(p, kids[i]))
            return false;
    return true;
}

START_TEST(test_context_children_grow_and_shrink)
{
    /* The children array is made by the first child, doubles as children
     * join and halves when a quarter full; removeChild of a child in the
     * middle moves the last one into its place, which stays findable. */
    enum { N = 1000 };
    long base = context__live();
    context_cancel_t *pcancel, *cancels[N];
    context_t *kids[N];
    context_t *p = context_with_cancel(context_background(), &pcancel);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(context__children_cap(p), 0); /* none until a child */
    size_t cap = 0;
    int grew = 0;
    for (int i = 0; i < N; i++) {
        kids[i] = context_with_cancel(p, &cancels[i]);
        ck_assert_ptr_nonnull(kids[i]);
        ck_assert_uint_eq(context__children(p), (size_t)i + 1);
        size_t c = context__children_cap(p);
        ck_assert_uint_ge(c, (size_t)i + 1);
        if (c != cap) {
            ck_assert(cap == 0 || c == 2 * cap);
            cap = c;
            grew++;
        }
    }
    ck_assert_int_ge(grew, 8); /* 4, 8, ... 1024 */
    ck_assert(all_children_of(p, kids, N));

    /* removeChild of a child in the middle: the rest stay registered. */
    context_cancel(cancels[N / 2]);
    ck_assert(is_done(kids[N / 2]));
    ck_assert(!context__has_child(p, kids[N / 2]));
    ck_assert_uint_eq(context__children(p), N - 1);
    context_release(kids[N / 2]);
    kids[N / 2] = NULL;
    ck_assert(all_children_of(p, kids, N));

    /* The first, then every other child but the last three: the array
     * shrinks, and whoever moved is still found. */
    for (int i = 0; i < N - 3; i++) {
        if (!kids[i])
            continue;
        context_cancel(cancels[i]);
        context_release(kids[i]);
        kids[i] = NULL;
        if (i % 97 == 0)
            ck_assert(all_children_of(p, kids, N));
    }
    ck_assert_uint_eq(context__children(p), 3);
    ck_assert_uint_le(context__children_cap(p), 16);
    ck_assert(all_children_of(p, kids, N));
    for (int i = N - 3; i < N; i++)
        ck_assert(!is_done(kids[i]));

    /* The parent's cancel reaches the rest and takes the array. */
    context_cancel(pcancel);
    for (int i = N - 3; i < N; i++) {
        ck_assert(is_done(kids[i]));
        ck_assert_ptr_eq(context_err(kids[i]), &context_canceled);
    }
    ck_assert_uint_eq(context__children(p), 0);
    ck_assert_uint_eq(context__children_cap(p), 0);
    for (int i = N - 3; i < N; i++) {
        context_cancel(cancels[i]);
        context_release(kids[i]);
    }
    context_release(p);
    ck_assert_int_eq(context__live(), base);
}
END_TEST

START_TEST(test_context_children_remove_middle)
{
    /* Every kind that joins a children set (cancelCtx, timerCtx,
     * afterFuncCtx, and a cancelCtx below a valueCtx) leaves it from the
     * middle, by cancel, by stop and by release without cancel; the others
     * keep their places and are canceled by the parent. */
    enum { N = 7 };
    long base = context__live();
    static const char key = 'k';
    context_cancel_t *pcancel, *cancels[N] = {0};
    context_t *kids[N] = {0};
    context_t *p = context_with_cancel(context_background(), &pcancel);
    context_t *pv = context_with_value(p, &key, NULL);
    chan_t *ran = chan_make(sizeof(int), 4);
    ck_assert_ptr_nonnull(ran);
    context_after_func_t *af1 = NULL, *af2 = NULL;
    for (int i = 0; i < N; i++) {
        switch (i % 4) {
        case 0:
            kids[i] = context_with_cancel(p, &cancels[i]);
            break;
        case 1:
            kids[i] = context_with_timeout(p, VERY_LONG, &cancels[i]);
            break;
        case 2:
            kids[i] = context_with_cancel_cause(pv, &cancels[i]);
            break;
        default:
            break;
        }
        if (i == 3)
            af1 = context_after_func(p, count_ran, ran);
        if (i == 6)
            af2 = context_after_func(p, count_ran, ran);
    }
    ck_assert_ptr_nonnull(af1);
    ck_assert_ptr_nonnull(af2);
    /* kids 0, 1, 2, af1, 4, 5, 6, af2 */
    ck_assert_uint_eq(context__children(p), 8);
    context_cancel(cancels[1]); /* a timerCtx from the middle */
    ck_assert_uint_eq(context__children(p), 7);
    ck_assert(!context__has_child(p, kids[1]));
    ck_assert(context_after_func_stop(af1)); /* an afterFuncCtx */
    ck_assert_uint_eq(context__children(p), 6);
    context_release(kids[4]); /* released without its cancel */
    kids[4] = NULL;
    cancels[4] = NULL; /* gone with it */
    ck_assert_uint_eq(context__children(p), 5);
    for (int i = 0; i < N; i++)
        if (kids[i] && i != 1)
            ck_assert(context__has_child(p, kids[i]));
    ck_assert(context__has_child(p, context__after_func_ctx(af2)));

    context_cancel(pcancel);
    for (int i = 0; i < N; i++)
        if (kids[i] && i != 1)
            ck_assert(is_done(kids[i]));
    ck_assert(wait_chan(ran, 10000)); /* af2 ran; af1 never will */
    ck_assert(!context_after_func_stop(af2));
    ck_assert_int_eq(chan_try_recv(ran, NULL), CHAN_WOULDBLOCK);
    for (int i = 0; i < N; i++) {
        context_cancel(cancels[i]);
        context_release(kids[i]);
    }
    context_release(pv);
    context_release(p);
    chan_release(ran);
    wait_live(base);
}
END_TEST

struct churn {
    context_t *parent;
    tu_flag_t *cancel_returned;
    atomic_int canceled_seen; /* children made after the cancel was seen */
    atomic_int made;
    int rounds;
    unsigned seed;
};

/* Children join and leave p concurrently: make one, keep a few, let an old
 * one go by cancel or by release alone; sometimes a grandchild, sometimes a
 * timerCtx. A child made once p's cancel is visible must be done at once. */
static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    enum { KEEP = 8 };
    unsigned seed = c->seed;
    context_t *kept[KEEP] = {0};
    context_cancel_t *kc[KEEP] = {0};
    for (int r = 0; r < c->rounds; r++) {
        int i = (int)(rand_r(&seed) % KEEP);
        if (kept[i]) {
            if (rand_r(&seed) % 2)
                context_cancel(kc[i]);
            context_release(kept[i]);
            kept[i] = NULL;
        }
        /* Once p's cancel has returned, every descendant is done and any
         * child made from one is done at birth; once p's Err is set, a child
         * made from p itself is (its cancel may still be walking the tree,
         * so a grandchild may be born before its parent is reached). */
        bool returned = tu_flag_is_set(c->cancel_returned);
        bool was_canceled = context_err(c->parent) != NULL;
        context_t *from = c->parent;
        int j = (int)(rand_r(&seed) % KEEP);
        if (rand_r(&seed) % 4 == 0 && kept[j])
            from = kept[j]; /* a grandchild */
        if (rand_r(&seed) % 8 == 0)
            kept[i] = context_with_timeout(from, VERY_LONG, &kc[i]);
        else
            kept[i] = context_with_cancel(from, &kc[i]);
        ck_assert_ptr_nonnull(kept[i]);
        atomic_fetch_add(&c->made, 1);
        if (returned || (was_canceled && from == c->parent)) {
            ck_assert(is_done(kept[i]));
            atomic_fetch_add(&c->canceled_seen, 1);
        }
    }
    /* Once p's cancel has returned (the test cancels it when the threads
     * are about halfway), every child left is done. */
    ck_assert(tu_flag_wait(c->cancel_returned, 20000));
    for (int i = 0; i < KEEP; i++) {
        if (!kept[i])
            continue;
        ck_assert(is_done(kept[i]));
        context_cancel(kc[i]);
        context_release(kept[i]);
    }
    return NULL;
}

START_TEST(test_context_children_churn)
{
    /* Four threads make and drop children of one parent (the array grows,
     * shrinks and moves children about) while the parent is canceled
     * halfway: no child is lost or canceled twice, every child left is done,
     * and once all are released nothing is left. Bounded: a fixed number of
     * rounds per thread. */
    enum { T = 4 };
    long base = context__live();
    context_cancel_t *pcancel;
    context_t *p = context_with_cancel(context_background(), &pcancel);
    ck_assert_ptr_nonnull(p);
    struct churn c[T];
    pthread_t t[T];
    tu_flag_t returned;
    atomic_init(&returned.set, 0);
    int rounds = tu_rounds(20000);
    for (int i = 0; i < T; i++) {
        c[i] = (struct churn){.parent = p,
                              .cancel_returned = &returned,
                              .rounds = rounds,
                              .seed = 1234u + (unsigned)i};
        atomic_init(&c[i].canceled_seen, 0);
        atomic_init(&c[i].made, 0);
        t[i] = tu_spawn(churn_thread, &c[i]);
    }
    /* Cancel once the threads are about halfway (bounded wait). */
    for (int w = 0; w < 20000; w++) {
        int made = 0;
        for (int i = 0; i < T; i++)
            made += atomic_load(&c[i].made);
        if (made >= T * rounds / 2)
            break;
        tu_sleep_ms(1);
    }
    context_cancel(pcancel);
    tu_flag_set(&returned);
    for (int i = 0; i < T; i++)
        tu_join(t[i]);
    ck_assert(is_done(p));
    ck_assert_uint_eq(context__children(p), 0);
    context_release(p);
    ck_assert_int_eq(context__live(), base);
}
END_TEST

static Suite *context_suite(void)
{
    Suite *s = suite_create("context");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"background", test_context_background},
        {"errors", test_context_errors},
        {"with_cancel", test_context_with_cancel},
        {"parent_finishes_child", test_context_parent_finishes_child},
        {"child_finishes_first", test_context_child_finishes_first},
        {"cancel_removes", test_context_cancel_removes},
        {"custom_context_goroutines", test_context_custom_context_goroutines},
        {"deadline", test_context_deadline},
        {"timeout", test_context_timeout},
        {"canceled_timeout", test_context_canceled_timeout},
        {"values", test_context_values},
        {"invalid_arguments", test_context_invalid_arguments},
        {"allocs", test_context_allocs},
        {"simultaneous_cancels", test_context_simultaneous_cancels},
        {"interlocked_cancels", test_context_interlocked_cancels},
        {"layers_timeout", test_context_layers_timeout},
        {"with_cancel_canceled_parent",
         test_context_with_cancel_canceled_parent},
        {"with_cancel_simultaneously_canceled_parent",
         test_context_with_cancel_simultaneously_canceled_parent},
        {"cause_race", test_context_cause_race},
        {"err_done_race", test_context_err_done_race},
        {"without_cancel", test_context_without_cancel},
        {"custom_context_propagation", test_context_custom_context_propagation},
        {"custom_context_cause", test_context_custom_context_cause},
        {"after_func_called_after_cancel",
         test_context_after_func_called_after_cancel},
        {"after_func_called_after_timeout",
         test_context_after_func_called_after_timeout},
        {"after_func_called_immediately",
         test_context_after_func_called_immediately},
        {"after_func_not_called_after_stop",
         test_context_after_func_not_called_after_stop},
        {"after_func_called_asynchronously",
         test_context_after_func_called_asynchronously},
        {"custom_after_func", test_context_custom_after_func},
        {"custom_after_func_unregister",
         test_context_custom_after_func_unregister},
        {"string", test_context_string},
        {"duration_string", test_context_duration_string},
        {"extreme_deadlines", test_context_extreme_deadlines},
        {"owned_value", test_context_owned_value},
        {"made_errors", test_context_made_errors},
        {"made_error_causes", test_context_made_error_causes},
        {"deadline_without_threads", test_context_deadline_without_threads},
        {"release_without_cancel", test_context_release_without_cancel},
        {"deep_chain", test_context_deep_chain},
        {"cancel_returns_after_subtree",
         test_context_cancel_returns_after_subtree},
        {"stress", test_context_stress},
        {"cancel_ctx_size", test_context_cancel_ctx_size},
        {"children_grow_and_shrink", test_context_children_grow_and_shrink},
        {"children_remove_middle", test_context_children_remove_middle},
        {"children_churn", test_context_children_churn},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("cause");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_context_cause, 0,
                        (int)(sizeof cause_rows / sizeof cause_rows[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("layers_cancel");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_context_layers_cancel, 0, 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(context_suite());
}
