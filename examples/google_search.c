/* google_search.c: the "Google Search" server of Rob Pike's "Go Concurrency
 * Patterns" talk (go.dev/talks/2012/concurrency.slide, Google 1.0 to 3.0),
 * with the request's timeout carried by a context as in go.dev/blog/context.
 *
 * Fake backends (Web, Image, Video) take a random but seeded time to answer,
 * and honour the context: a canceled request makes them return at once.
 *
 *     func fakeSearch(kind string) Search {
 *         return func(ctx context.Context, query string) (Result, error) {
 *             select {
 *             case <-time.After(latency()):  // seeded rand
 *                 return Result(kind + " result for " + query), nil
 *             case <-ctx.Done():
 *                 return "", ctx.Err()
 *             }
 *         }
 *     }
 *
 * Google 1.0 calls Web, Image and Video one after another. Google 2.0 calls
 * them concurrently and fans the results in:
 *
 *     c := make(chan Result)
 *     go func() { c <- Web(ctx, query) } ()   // and Image, Video
 *     for i := 0; i < 3; i++ { results = append(results, <-c) }
 *
 * Google 2.1 does not wait for slow servers: the request has a timeout
 * (context.WithTimeout), and what has not arrived when it expires is left out:
 *
 *     ctx, cancel := context.WithTimeout(ctx, 80*time.Millisecond)
 *     defer cancel()
 *     for i := 0; i < 3; i++ {
 *         select {
 *         case result := <-c: results = append(results, result)
 *         case <-ctx.Done(): fmt.Println("timed out"); return
 *         }
 *     }
 *
 * Google 3.0 also avoids slow servers: each kind has replicas, and the first
 * replica to answer wins; the others are canceled.
 *
 *     func First(ctx context.Context, query string, replicas ...Search) Result
 * { ctx, cancel := context.WithCancel(ctx) defer cancel() // stops the losers
 *         c := make(chan Result, len(replicas))
 *         for i := range replicas { go func(i int) { c <- replicas[i](ctx,
 *         query) }(i) } return <-c
 *     }
 *
 * The program checks every version: a backend well within the timeout must
 * be in the results, one far beyond it must be absent and must have been
 * canceled (it returned early, not after its full latency); each answer comes
 * within the timeout plus some slack, and no thread is left blocked. Times
 * are ten times longer when CK_TIMEOUT_MULTIPLIER is set (valgrind).
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WEB, IMAGE, VIDEO, KINDS };
enum { REPLICAS = 2 };
enum outcome { PENDING, ANSWERED, CANCELED };

static const char *const kind_names[KINDS] = {"web", "image", "video"};

typedef struct {
    char text[64];
} result_t; /* Go's Result string, by value in a channel */

/* One fake server. outcome is written by the thread that runs the search and
 * read by main after the servers WaitGroup, which orders the two. */
struct backend {
    int kind, replica;
    int64_t latency;
    enum outcome outcome;
};

static chan_waitgroup_t servers = CHAN_WAITGROUP_INIT;
static int64_t scale = 1; /* longer times for slow runs (valgrind) */
static int failures;

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

/* rand.Intn(n) from a fixed seed, so every run draws the same latencies.
 * Seed 664 draws, for 2.1, one server far slower than the timeout, and for
 * 3.0 a fast replica of every kind: the talk's two points. */
static unsigned long rand_state = 664;

static int64_t rand_intn(int64_t n)
{
    rand_state = rand_state * 6364136223846793005ul + 1442695040888963407ul;
    return (int64_t)((rand_state >> 33) % (unsigned long)n);
}

static void draw_latencies(struct backend *b, int n, int replicas)
{
    for (int i = 0; i < n; i++) {
        b[i] = (struct backend){i / replicas, i % replicas, 0, PENDING};
        b[i].latency = rand_intn(200) * CHAN_MILLISECOND * scale;
    }
}

/* The fake search: the latency, or the context's end, whichever is first. */
static const context_error_t *search(context_t *ctx, struct backend *b,
                                     const char *query, result_t *r)
{
    chan_timer_t *t = chan_timer_new(b->latency);
    if (!t)
        exit(1);
    chan_case_t cases[] = {CHAN_RECV_CASE(chan_timer_chan(t), NULL),
                           CHAN_RECV_CASE(context_done(ctx), NULL)};
    int chosen = chan_select(cases, 2);
    chan_timer_release(t);
    if (chosen == 1) {
        b->outcome = CANCELED;
        return context_err(ctx);
    }
    snprintf(r->text, sizeof r->text, "%s%d result for \"%s\"",
             kind_names[b->kind], b->replica + 1, query);
    b->outcome = ANSWERED;
    return NULL;
}

/* go func() { c <- search(ctx, query) }(), where the send also gives up when
 * the request is canceled, so that a late server is never stuck on c. */
struct call {
    context_t *ctx; /* a reference owned by the call */
    chan_t *out;    /* a reference owned by the call */
    struct backend *b;
    const char *query;
};

static void search_and_send(void *arg)
{
    struct call *c = arg;
    result_t r;
    if (search(c->ctx, c->b, c->query, &r) == NULL) {
        chan_case_t cases[] = {CHAN_SEND_CASE(c->out, &r),
                               CHAN_RECV_CASE(context_done(c->ctx), NULL)};
        chan_select(cases, 2);
    }
    context_release(c->ctx);
    chan_release(c->out);
    free(c);
}

static void go_call(void (*fn)(void *), context_t *ctx, chan_t *out,
                    struct backend *b, const char *query)
{
    struct call *c = malloc(sizeof *c);
    if (!c)
        exit(1);
    *c = (struct call){context_retain(ctx), chan_retain(out), b, query};
    if (chan_waitgroup_go(&servers, fn, c) != CHAN_OK)
        exit(1);
}

/* ---- the four versions
 * ---------------------------------------------------------- */

struct answer {
    result_t results[KINDS];
    int n;
    int64_t elapsed;
};

static void print_answer(const char *version, const struct answer *a)
{
    printf("%s: [", version);
    for (int i = 0; i < a->n; i++)
        printf("%s%s", i ? " " : "", a->results[i].text);
    printf("] in %.1f ms\n", (double)a->elapsed / 1e6);
}

static struct answer google_1_0(struct backend *b, const char *query)
{
    struct answer a = {.n = 0};
    int64_t start = chan_now();
    for (int k = 0; k < KINDS; k++)
        if (search(context_background(), &b[k], query, &a.results[a.n]) == NULL)
            a.n++;
    a.elapsed = chan_now() - start;
    return a;
}

static struct answer google_2_0(struct backend *b, const char *query)
{
    struct answer a = {.n = 0};
    int64_t start = chan_now();
    chan_t *c = chan_make(sizeof(result_t), 0);
    if (!c)
        exit(1);
    for (int k = 0; k < KINDS; k++)
        go_call(search_and_send, context_background(), c, &b[k], query);
    for (int i = 0; i < KINDS; i++)
        chan_recv(c, &a.results[a.n++]);
    chan_release(c);
    a.elapsed = chan_now() - start;
    return a;
}

/* The fan-in of 2.1 and 3.0: take results until all came or ctx is done. */
static void collect(context_t *ctx, chan_t *c, struct answer *a)
{
    while (a->n < KINDS) {
        chan_case_t cases[] = {CHAN_RECV_CASE(c, &a->results[a->n]),
                               CHAN_RECV_CASE(context_done(ctx), NULL)};
        if (chan_select(cases, 2) == 1) {
            printf("timed out\n");
            return;
        }
        a->n++;
    }
}

static struct answer google_2_1(struct backend *b, const char *query,
                                int64_t timeout)
{
    struct answer a = {.n = 0};
    int64_t start = chan_now();
    context_cancel_t *cancel;
    context_t *ctx =
        context_with_timeout(context_background(), timeout, &cancel);
    chan_t *c = chan_make(sizeof(result_t), 0);
    if (!ctx || !c)
        exit(1);
    for (int k = 0; k < KINDS; k++)
        go_call(search_and_send, ctx, c, &b[k], query);
    collect(ctx, c, &a);
    a.elapsed = chan_now() - start;
    context_cancel(cancel); /* defer cancel(): the slow servers stop */
    context_release(ctx);
    chan_release(c);
    return a;
}

/* First(ctx, query, replicas...), run as the goroutine of one kind: its
 * result goes to the request's channel. */
static void first(void *arg)
{
    struct call *c = arg;
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(c->ctx, &cancel);
    chan_t *replies = chan_make(sizeof(result_t), REPLICAS);
    if (!ctx || !replies)
        exit(1);
    for (int i = 0; i < REPLICAS; i++)
        go_call(search_and_send, ctx, replies, &c->b[i], c->query);
    result_t r;
    chan_case_t cases[] = {CHAN_RECV_CASE(replies, &r),
                           CHAN_RECV_CASE(context_done(ctx), NULL)};
    if (chan_select(cases, 2) == 0) {
        context_cancel(cancel); /* the first answer wins: stop the others */
        chan_case_t send[] = {CHAN_SEND_CASE(c->out, &r),
                              CHAN_RECV_CASE(context_done(c->ctx), NULL)};
        chan_select(send, 2);
    }
    context_cancel(cancel);
    context_release(ctx);
    chan_release(replies);
    context_release(c->ctx);
    chan_release(c->out);
    free(c);
}

static struct answer google_3_0(struct backend *b, const char *query,
                                int64_t timeout)
{
    struct answer a = {.n = 0};
    int64_t start = chan_now();
    context_cancel_t *cancel;
    context_t *ctx =
        context_with_timeout(context_background(), timeout, &cancel);
    chan_t *c = chan_make(sizeof(result_t), 0);
    if (!ctx || !c)
        exit(1);
    for (int k = 0; k < KINDS; k++)
        go_call(first, ctx, c, &b[k * REPLICAS], query);
    collect(ctx, c, &a);
    a.elapsed = chan_now() - start;
    context_cancel(cancel);
    context_release(ctx);
    chan_release(c);
    return a;
}

/* ---- checks
 * ----------------------------------------------------------------------- */

static bool has_kind(const struct answer *a, int kind)
{
    size_t len = strlen(kind_names[kind]);
    for (int i = 0; i < a->n; i++)
        if (strncmp(a->results[i].text, kind_names[kind], len) == 0)
            return true;
    return false;
}

/* A kind's best replica well inside the timeout (under a quarter of it) must
 * be answered; one far beyond it (over twice) must be left out, with every
 * replica canceled early. Between the two, either outcome is right. Every
 * result must come from a server that answered. When the machine is so
 * loaded that even the deadline fired late, "must be answered" is not judged:
 * a starved thread may miss any deadline. */
static void check_timed(const char *version, const struct answer *a,
                        const struct backend *b, int replicas, int64_t timeout)
{
    char what[96];
    bool starved = a->elapsed > timeout + timeout / 2;
    if (starved)
        printf("(the machine is busy: the %.0f ms deadline came after %.0f "
               "ms; fast servers are not required to have answered)\n",
               (double)timeout / 1e6, (double)a->elapsed / 1e6);
    for (int k = 0; k < KINDS; k++) {
        int64_t best = INT64_MAX;
        bool all_canceled = true, any_answered = false;
        for (int r = 0; r < replicas; r++) {
            const struct backend *s = &b[k * replicas + r];
            best = s->latency < best ? s->latency : best;
            all_canceled = all_canceled && s->outcome == CANCELED;
            any_answered = any_answered || s->outcome == ANSWERED;
        }
        snprintf(what, sizeof what, "%s: %s (best %.0f ms)", version,
                 kind_names[k], (double)best / 1e6);
        if (has_kind(a, k))
            check(any_answered, what);
        if (best < timeout / 4 && !starved)
            check(has_kind(a, k), what);
        if (best > 2 * timeout)
            check(!has_kind(a, k) && all_canceled, what);
    }
    snprintf(what, sizeof what, "%s: answered within the timeout", version);
    check(a->elapsed < timeout + 500 * CHAN_MILLISECOND * scale, what);
}

static void print_latencies(const struct backend *b, int n)
{
    printf("  latencies:");
    for (int i = 0; i < n; i++)
        printf(" %s%d %.0fms", kind_names[b[i].kind], b[i].replica + 1,
               (double)b[i].latency / 1e6);
    printf("\n");
}

int main(void)
{
    chan_debug_enable(true);
    if (getenv("CK_TIMEOUT_MULTIPLIER"))
        scale = 10; /* valgrind or a sanitizer: give every step more time */
    const char *query = "golang";
    int64_t timeout = 80 * CHAN_MILLISECOND * scale;
    struct backend one[KINDS], two[KINDS], three[KINDS], four[KINDS * REPLICAS];
    draw_latencies(one, KINDS, 1);
    draw_latencies(two, KINDS, 1);
    draw_latencies(three, KINDS, 1);
    draw_latencies(four, KINDS * REPLICAS, REPLICAS);

    struct answer a = google_1_0(one, query);
    print_latencies(one, KINDS);
    print_answer("Google 1.0", &a);
    check(a.n == KINDS &&
              strcmp(a.results[0].text, "web1 result for \"golang\"") == 0,
          "1.0: every result, in order");

    a = google_2_0(two, query);
    print_latencies(two, KINDS);
    print_answer("Google 2.0", &a);
    check(a.n == KINDS && has_kind(&a, WEB) && has_kind(&a, IMAGE) &&
              has_kind(&a, VIDEO),
          "2.0: every result");

    a = google_2_1(three, query, timeout);
    chan_waitgroup_wait(&servers); /* read the outcomes once all ended */
    print_latencies(three, KINDS);
    print_answer("Google 2.1", &a);
    check_timed("2.1", &a, three, 1, timeout);

    a = google_3_0(four, query, timeout);
    chan_waitgroup_wait(&servers);
    print_latencies(four, KINDS * REPLICAS);
    print_answer("Google 3.0", &a);
    check_timed("3.0", &a, four, REPLICAS, timeout);

    check(chan_debug_dump(stdout) == 0, "no server left blocked");
    if (failures)
        return 1;
    printf("ok: slow servers were left out and canceled, replicas raced, "
           "no thread left behind\n");
    return 0;
}
