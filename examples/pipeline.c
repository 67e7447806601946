/* pipeline.c: the flagship example. Go's "Pipelines and cancellation" design
 * (go.dev/blog/pipelines): gen -> sq, fanned out to several workers -> merge,
 * where the consumer stops early and every stage must still exit.
 *
 *     done := make(chan struct{})
 *     in := gen(done, nums...)
 *     c1, c2, c3, c4 := sq(done, in), sq(done, in), sq(done, in), sq(done, in)
 *     out := merge(done, c1, c2, c3, c4)
 *     take 10 values from out, then close(done)
 *
 * Each stage sends with a select on its output and on done, so closing done
 * releases every stage however far it got. The program checks its results and
 * that every stage goroutine ended, and says so.
 *
 * The second half runs the same pipeline with a context in place of done, as
 * Go code written after the context package does, and its numbers come from
 * a pipe, as from a file or a socket: a writer at the other end writes the
 * 10 numbers the consumer wants and then goes quiet without closing it, so
 * the source stage is left waiting in a read when the consumer cancels.
 *
 *     ctx, cancel := context.WithCancel(context.Background())
 *     r, w, _ := os.Pipe()
 *     go feed(ctx, w, 10)            // writes 1..10, one per line, then waits
 *     in := readNums(ctx, r)         // the source: a number per line of r
 *     c1, c2, c3, c4 := sq(ctx, in), sq(ctx, in), sq(ctx, in), sq(ctx, in)
 *     out := merge(ctx, c1, c2, c3, c4)
 *     take 10 values from out, then cancel()
 *
 *     func readNums(ctx context.Context, r *os.File) <-chan int {
 *         out := make(chan int)
 *         go func() {
 *             defer close(out)
 *             input := bufio.NewScanner(r)
 *             for input.Scan() {
 *                 n, _ := strconv.Atoi(input.Text())
 *                 select {
 *                 case out <- n:
 *                 case <-ctx.Done():
 *                     return
 *                 }
 *             }
 *         }()
 *         return out
 *     }
 *
 * Go's read cannot watch a context (Go code closes r, or sets a past
 * deadline on it, when ctx is done); gochan's chan_fd_read_ctx(ctx, r, ...)
 * returns -1 with ECANCELED when ctx is canceled, so the source ends, closes
 * in, and the stages after it end in turn.
 *
 *     func sq(ctx context.Context, in <-chan int) <-chan int {
 *         out := make(chan int)
 *         go func() {
 *             defer close(out)
 *             for n := range in {
 *                 select {
 *                 case out <- n * n:
 *                 case <-ctx.Done():
 *                     return
 *                 }
 *             }
 *         }()
 *         return out
 *     }
 *
 * It then asks gochan's goroutine dump (gochan/debug.h) how many operations
 * are still blocked: 0, so no goroutine was left behind.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/net.h>
#include <gochan/select.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUMS = 1000, WORKERS = 4, WANTED = 10 };

/* Every stage goroutine is started through this WaitGroup, so that main can
 * wait for all of them; `running` lets it report how many were still alive. */
static chan_waitgroup_t stages = CHAN_WAITGROUP_INIT;
static atomic_int running;

/* Sends v on out unless done is closed first; false once the stage must stop.
 */
static bool send_or_done(chan_t *out, long v, chan_t *done)
{
    chan_case_t cases[] = {CHAN_SEND_CASE(out, &v), CHAN_RECV_CASE(done, NULL)};
    return chan_select(cases, 2) == 0;
}

/* One stage: reads in (or counts, for gen), applies fn, writes out. */
struct stage {
    chan_t *done, *in, *out; /* references owned by the stage */
    long (*fn)(long);
    long count;                 /* gen: how many numbers to emit */
    chan_waitgroup_t *merge_wg; /* merge's forwarders: Done when they end */
    bool close_out;             /* close out when the stage ends */
};

static long square(long n)
{
    return n * n;
}
static long identity(long n)
{
    return n;
}

static void stage_end(struct stage *s)
{
    if (s->close_out)
        chan_close(s->out); /* Go's `defer close(out)` */
    if (s->merge_wg)
        chan_waitgroup_done(s->merge_wg);
    chan_release(s->done);
    chan_release(s->in);
    chan_release(s->out);
    free(s);
    atomic_fetch_sub(&running, 1);
}

/* gen(done, 1..count) */
static void gen(void *arg)
{
    struct stage *s = arg;
    for (long n = 1; n <= s->count; n++)
        if (!send_or_done(s->out, n, s->done))
            break;
    stage_end(s);
}

/* sq(done, in), and merge's output(c) with fn = identity. */
static void map(void *arg)
{
    struct stage *s = arg;
    long n;
    while (chan_recv(s->in, &n) == CHAN_OK)
        if (!send_or_done(s->out, s->fn(n), s->done))
            break;
    stage_end(s);
}

static void start(void (*fn)(void *), chan_t *done, chan_t *in, chan_t *out,
                  struct stage init)
{
    struct stage *s = malloc(sizeof *s);
    if (!s)
        exit(1);
    *s = init;
    s->done = chan_retain(done);
    s->in = chan_retain(in);
    s->out = chan_retain(out);
    atomic_fetch_add(&running, 1);
    if (chan_waitgroup_go(&stages, fn, s) != CHAN_OK) {
        fprintf(stderr, "cannot start a stage goroutine\n");
        exit(1);
    }
}

/* merge's closer: once every forwarder has ended, close the merged channel. */
struct closer {
    chan_waitgroup_t forwarders;
    chan_t *out;
};

static void close_when_forwarded(void *arg)
{
    struct closer *cl = arg;
    chan_waitgroup_wait(&cl->forwarders);
    chan_close(cl->out);
    chan_release(cl->out);
    chan_waitgroup_destroy(&cl->forwarders);
    free(cl);
    atomic_fetch_sub(&running, 1);
}

/* merge(done, cs...): one forwarder per input channel, then a closer. */
static chan_t *merge(chan_t *done, chan_t **cs, int n)
{
    chan_t *out = chan_make(sizeof(long), 0);
    struct closer *cl = malloc(sizeof *cl);
    if (!out || !cl)
        exit(1);
    chan_waitgroup_init(&cl->forwarders);
    chan_waitgroup_add(&cl->forwarders, n);
    for (int i = 0; i < n; i++)
        start(map, done, cs[i], out,
              (struct stage){.fn = identity, .merge_wg = &cl->forwarders});
    cl->out = chan_retain(out);
    atomic_fetch_add(&running, 1);
    if (chan_waitgroup_go(&stages, close_when_forwarded, cl) != CHAN_OK)
        exit(1);
    return out;
}

/* The first half: Go's original, with an explicit done channel. */
static int pipeline_with_done(void)
{
    chan_t *done = chan_make(0, 0);
    chan_t *in = chan_make(sizeof(long), 0);
    if (!done || !in)
        return 1;
    start(gen, done, NULL, in,
          (struct stage){.count = NUMS, .close_out = true});

    chan_t *squares[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        squares[i] = chan_make(sizeof(long), 0);
        if (!squares[i])
            return 1;
        /* Each sq closes its own output, which ends its forwarder. */
        start(map, done, in, squares[i],
              (struct stage){.fn = square, .close_out = true});
    }
    chan_t *out = merge(done, squares, WORKERS);

    /* The consumer wants only a few values: each must be a distinct square
     * of a number gen produced. */
    bool seen[NUMS + 1] = {false};
    int bad = 0;
    for (int i = 0; i < WANTED; i++) {
        long v = 0;
        if (chan_recv(out, &v) != CHAN_OK) {
            bad++;
            break;
        }
        long root = 1;
        while (root * root < v)
            root++;
        if (root > NUMS || root * root != v || seen[root])
            bad++;
        else
            seen[root] = true;
        printf("%ld ", v);
    }
    printf("\n");

    /* Stop early: closing done tells every stage to return. */
    chan_close(done);
    printf(
        "consumer stopped after %d values; %d stage goroutines were running\n",
        WANTED, atomic_load(&running));
    chan_waitgroup_wait(&stages);
    int left = atomic_load(&running);

    chan_release(out);
    for (int i = 0; i < WORKERS; i++)
        chan_release(squares[i]);
    chan_release(in);
    chan_release(done);

    if (bad || left) {
        printf("FAIL: %d bad values, %d goroutines left\n", bad, left);
        return 1;
    }
    printf("ok: every stage exited, no goroutine left blocked\n");
    return 0;
}

/* ---- the second half: the same pipeline, canceled through a context ------ */

/* One stage of the context pipeline: like struct stage, but every stage holds
 * a reference to the request's context instead of the done channel. */
struct ctx_stage {
    context_t *ctx;          /* a reference owned by the stage */
    chan_t *in, *out;        /* references owned by the stage */
    chan_fd_t *pipe;         /* readNums: r; feed: w (owned by the stage) */
    long (*fn)(long);        /* sq: square; merge's forwarders: identity */
    long count;              /* feed: how many numbers to write */
    chan_waitgroup_t *merge; /* merge's forwarders: Done when they end */
};

/* How readNums's last read ended: its errno (ECANCELED), -1 at end of file.
 */
static atomic_int source_err;

/* select { case out <- v: case <-ctx.Done(): return } */
static bool send_or_cancel(context_t *ctx, chan_t *out, long v)
{
    chan_case_t cases[] = {CHAN_SEND_CASE(out, &v),
                           CHAN_RECV_CASE(context_done(ctx), NULL)};
    return chan_select(cases, 2) == 0;
}

static void ctx_stage_end(struct ctx_stage *s)
{
    if (s->merge)
        chan_waitgroup_done(s->merge); /* merge's wg.Done() */
    else if (s->out)
        chan_close(s->out); /* defer close(out) */
    context_release(s->ctx);
    chan_release(s->in);
    chan_release(s->out);
    chan_fd_release(s->pipe); /* closes the descriptor */
    free(s);
    atomic_fetch_sub(&running, 1);
}

/* feed(ctx, w, count): the other end of the pipe, a writer (a process, a
 * peer) that writes count numbers, one per line, and then goes quiet
 * without hanging up: a read without a context would wait for it forever.
 * It leaves when the pipeline is canceled, and main closes w only once every
 * stage has ended, so that the source cannot take an end of file for the
 * cancel. */
static void feed(void *arg)
{
    struct ctx_stage *s = arg;
    char line[32];
    for (long n = 1; n <= s->count; n++) {
        int len = snprintf(line, sizeof line, "%ld\n", n); /* Fprintln(w, n) */
        if (chan_fd_write_ctx(s->ctx, s->pipe, line, (size_t)len) != len)
            break;
    }
    chan_recv(context_done(s->ctx), NULL); /* <-ctx.Done() */
    ctx_stage_end(s);
}

/* readNums(ctx, r): the source. Splits what it reads into lines (Go's
 * bufio.Scanner) and sends each number on; chan_fd_read_ctx returns -1 with
 * ECANCELED once ctx is canceled, also while it waits for the quiet writer.
 * Each pass of the loop sends a line or reads, so it ends with the pipe. */
static void read_nums(void *arg)
{
    struct ctx_stage *s = arg;
    char buf[64];
    size_t len = 0; /* bytes in buf */
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) { /* input.Scan() found a line: n, _ := strconv.Atoi */
            long n = strtol(buf, NULL, 10);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
            if (!send_or_cancel(s->ctx, s->out, n))
                break;
            continue;
        }
        if (len == sizeof buf) { /* bufio.ErrTooLong */
            atomic_store(&source_err, EMSGSIZE);
            break;
        }
        ssize_t got =
            chan_fd_read_ctx(s->ctx, s->pipe, buf + len, sizeof buf - len);
        if (got <= 0) { /* end of file, or ECANCELED once ctx is canceled */
            atomic_store(&source_err, got < 0 ? errno : -1);
            break;
        }
        len += (size_t)got;
    }
    ctx_stage_end(s);
}

/* sq(ctx, in), and merge's output(c) with fn = identity. */
static void map_ctx(void *arg)
{
    struct ctx_stage *s = arg;
    long n;
    while (chan_recv(s->in, &n) == CHAN_OK)
        if (!send_or_cancel(s->ctx, s->out, s->fn(n)))
            break;
    ctx_stage_end(s);
}

static void start_ctx(void (*fn)(void *), context_t *ctx, chan_t *in,
                      chan_t *out, struct ctx_stage init)
{
    struct ctx_stage *s = malloc(sizeof *s);
    if (!s)
        exit(1);
    *s = init;
    s->ctx = context_retain(ctx);
    s->in = chan_retain(in);
    s->out = chan_retain(out);
    atomic_fetch_add(&running, 1);
    if (chan_waitgroup_go(&stages, fn, s) != CHAN_OK) {
        fprintf(stderr, "cannot start a stage goroutine\n");
        exit(1);
    }
}

/* merge(ctx, cs...): one forwarder per input, then the closer from the first
 * half (it needs no context: it only waits for the forwarders). */
static chan_t *merge_ctx(context_t *ctx, chan_t **cs, int n)
{
    chan_t *out = chan_make(sizeof(long), 0);
    struct closer *cl = malloc(sizeof *cl);
    if (!out || !cl)
        exit(1);
    chan_waitgroup_init(&cl->forwarders);
    chan_waitgroup_add(&cl->forwarders, n);
    for (int i = 0; i < n; i++)
        start_ctx(map_ctx, ctx, cs[i], out,
                  (struct ctx_stage){.fn = identity, .merge = &cl->forwarders});
    cl->out = chan_retain(out);
    atomic_fetch_add(&running, 1);
    if (chan_waitgroup_go(&stages, close_when_forwarded, cl) != CHAN_OK)
        exit(1);
    return out;
}

static int pipeline_with_context(void)
{
    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    chan_t *in = chan_make(sizeof(long), 0);
    chan_fd_t *r, *w;
    if (!ctx || !in || chan_fd_pipe(&r, &w) != 0)
        return 1;
    /* go feed(ctx, w, WANTED); in := readNums(ctx, r): readNums owns r,
     * feed and main share w. */
    start_ctx(feed, ctx, NULL, NULL,
              (struct ctx_stage){.pipe = chan_fd_retain(w), .count = WANTED});
    start_ctx(read_nums, ctx, NULL, in, (struct ctx_stage){.pipe = r});

    chan_t *squares[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        squares[i] = chan_make(sizeof(long), 0);
        if (!squares[i])
            return 1;
        start_ctx(map_ctx, ctx, in, squares[i],
                  (struct ctx_stage){.fn = square});
    }
    chan_t *out = merge_ctx(ctx, squares, WORKERS);

    /* The values are the squares of 1..WANTED, the numbers the writer
     * wrote, each once, in any order. */
    bool seen[WANTED + 1] = {false};
    long sum = 0;
    int bad = 0;
    for (int i = 0; i < WANTED; i++) {
        long v = 0;
        if (chan_recv(out, &v) != CHAN_OK) {
            bad++;
            break;
        }
        long root = 1;
        while (root * root < v)
            root++;
        if (root > WANTED || root * root != v || seen[root])
            bad++;
        else
            seen[root] = true;
        sum += v;
        printf("%ld ", v);
    }
    printf("\n");

    /* The consumer is done: cancel() closes ctx.Done() for every stage. */
    context_cancel(cancel);
    printf("consumer canceled the context (%s) after %d values\n",
           context_err(ctx)->message, WANTED);
    chan_waitgroup_wait(&stages);
    int left = atomic_load(&running);
    chan_fd_release(w); /* w.Close(): the last reference */
    int err = atomic_load(&source_err);
    printf("readNums's read of the quiet pipe returned %s\n",
           err == ECANCELED ? "ECANCELED"
           : err == -1      ? "end of file"
                            : strerror(err));

    /* Go's goroutine dump: every goroutine and thread blocked in gochan right
     * now. */
    size_t blocked = chan_debug_dump(stdout);

    chan_release(out);
    for (int i = 0; i < WORKERS; i++)
        chan_release(squares[i]);
    chan_release(in);
    context_release(ctx);

    long want_sum = WANTED * (WANTED + 1) * (2 * WANTED + 1) / 6;
    if (bad || left || blocked || sum != want_sum || err != ECANCELED) {
        printf("FAIL: %d bad values, sum %ld (want %ld), %d goroutines left, "
               "%zu blocked, readNums's read did not see the cancel\n",
               bad, sum, want_sum, left, blocked);
        return 1;
    }
    printf("ok: cancel woke the pipe read, every stage exited, no goroutine "
           "left blocked\n");
    return 0;
}

int main(void)
{
    chan_debug_enable(true); /* record blocked operations for the dump */
    printf("-- with a done channel --\n");
    int failed = pipeline_with_done();
    printf("-- with a context, reading a pipe --\n");
    failed |= pipeline_with_context();
    return failed;
}
