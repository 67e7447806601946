/* net_cancel.c: how soon a read blocked on gochan's network poller returns
 * once it is told to stop. The row: "a blocked chan_fd_read_ctx
 * returns within 1 ms (p99) of its context's cancel".
 *
 * Usage: net_cancel [--trials N] [--sleep-us U]
 *
 * Each trial starts a reader on an empty pipe (chan_fd_pipe), waits until it
 * has started and then U microseconds more (default 1000, so that it is
 * parked in the poller), stops it, and measures on chan_now()'s clock the
 * time from the stop call to the reader's return. The driver that stops it
 * runs on a goroutine, as Go's main does. Three ways, N trials each (default
 * 1000):
 *
 *   cancel_*         the reader is a goroutine in chan_fd_read_ctx, stopped
 *                    by context_cancel (-1, ECANCELED);
 *   deadline_*       the reader is a goroutine in chan_fd_read, stopped by
 *                    chan_fd_set_read_deadline(a past time) (-1, ETIMEDOUT):
 *                    exactly what Go does, since Go has no read with a
 *                    context;
 *   thread_cancel_*  as cancel_*, with the reader on a thread of its own
 *                    (chan_go_locked), where the poller's wait is poll(2) and
 *                    an eventfd.
 *
 * It prints "id <TAB> value <TAB> unit" lines (p50, p99 and max in
 * microseconds, as bench/go/netcancel does for Go's SetReadDeadline) and a
 * note saying whether cancel_p99 is within 1 ms. Each wait for the reader is
 * bounded (1 s); a reader that does not return fails the run (exit 1).
 */
#define _POSIX_C_SOURCE 200809L

#include <gochan.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { CANCEL, DEADLINE };

struct trial {
    chan_fd_t *r;
    context_t *ctx; /* CANCEL */
    enum mode mode;
    chan_t *started; /* closed by the reader just before it reads */
    chan_t *done;    /* the reader's return time, int64_t */
    ssize_t n;
    int err;
};

static void reader(void *arg)
{
    struct trial *t = arg;
    char b;
    chan_close(t->started);
    if (t->mode == CANCEL)
        t->n = chan_fd_read_ctx(t->ctx, t->r, &b, 1);
    else
        t->n = chan_fd_read(t->r, &b, 1);
    int err = errno; /* read at once: a goroutine may move threads */
    int64_t now = chan_now();
    t->err = err;
    chan_send(t->done, &now);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct run {
    const char *id; /* cancel, deadline, thread_cancel */
    enum mode mode;
    bool locked; /* the reader on chan_go_locked */
    int trials;
    int64_t sleep_ns;
    bool ok;
    int wrong; /* reads that returned something else than -1 and the errno */
    chan_t *finished;
};

static void fail(struct run *r, const char *what, int err)
{
    fprintf(stderr, "net_cancel: %s: %s: %s\n", r->id, what, strerror(err));
    r->ok = false;
}

static void trial_free(struct trial *t)
{
    chan_release(t->started);
    chan_release(t->done);
    if (t->ctx != NULL)
        context_release(t->ctx);
}

/* The driver: r->trials trials, on a goroutine. */
static void drive(void *arg)
{
    struct run *r = arg;
    int64_t *delay = malloc((size_t)r->trials * sizeof *delay);
    chan_fd_t *pr = NULL, *pw = NULL;
    r->ok = delay != NULL;
    if (r->ok && chan_fd_pipe(&pr, &pw) != 0)
        fail(r, "pipe", errno);
    int done_trials = 0;
    for (int i = 0; r->ok && i < r->trials; i++) {
        struct trial t = {.r = pr, .mode = r->mode};
        context_cancel_t *cancel = NULL;
        if (r->mode == CANCEL) {
            t.ctx = context_with_cancel(context_background(), &cancel);
        } else if (chan_fd_set_read_deadline(pr, 0) != 0) {
            fail(r, "set_read_deadline(0)", errno);
            break;
        }
        t.started = chan_make(0, 0);
        t.done = chan_make(sizeof(int64_t), 1);
        if ((r->mode == CANCEL && t.ctx == NULL) || !t.started || !t.done) {
            fail(r, "setup", ENOMEM);
            trial_free(&t);
            break;
        }
        int rc = r->locked ? chan_go_locked(reader, &t) : chan_go(reader, &t);
        if (rc != CHAN_OK) {
            fail(r, "go", errno);
            trial_free(&t);
            break;
        }
        chan_recv(t.started, NULL);
        chan_sleep(r->sleep_ns); /* the reader parks meanwhile */
        int64_t stop = chan_now();
        if (r->mode == CANCEL)
            context_cancel(cancel);
        else
            chan_fd_set_read_deadline(pr, 1); /* long past */
        int64_t returned = 0;
        chan_t *limit = chan_after(CHAN_SECOND);
        chan_case_t cases[] = {CHAN_RECV_CASE(t.done, &returned),
                               CHAN_RECV_CASE(limit, NULL)};
        if (chan_select(cases, 2) != 0) {
            fail(r, "the reader did not return within 1 s", ETIMEDOUT);
            chan_fd_close(pr); /* wakes it (EBADF), so that it ends */
            chan_recv(t.done, &returned);
        } else if (t.n != -1 ||
                   t.err != (r->mode == CANCEL ? ECANCELED : ETIMEDOUT)) {
            /* timed all the same; the run fails at the end */
            if (r->wrong++ == 0)
                fprintf(stderr,
                        "net_cancel: %s: the read returned %zd, errno %d "
                        "(%s), not -1 with %s\n",
                        r->id, t.n, t.err, strerror(t.err),
                        r->mode == CANCEL ? "ECANCELED" : "ETIMEDOUT");
        }
        chan_release(limit);
        trial_free(&t);
        delay[i] = returned - stop;
        done_trials = i + 1;
    }
    if (r->ok && done_trials > 0) {
        int n = done_trials;
        qsort(delay, (size_t)n, sizeof *delay, cmp_i64);
        char id[64];
        snprintf(id, sizeof id, "%s_p50", r->id);
        printf("%s\t%.3f\tus\n", id, (double)delay[n / 2] / 1e3);
        snprintf(id, sizeof id, "%s_p99", r->id);
        printf("%s\t%.3f\tus\n", id, (double)delay[n * 99 / 100] / 1e3);
        snprintf(id, sizeof id, "%s_max", r->id);
        printf("%s\t%.3f\tus\n", id, (double)delay[n - 1] / 1e3);
        if (strcmp(r->id, "cancel") == 0)
            printf("note\tchan_fd_read_ctx returned %s 1 ms of its cancel "
                   "(p99 %.1f us over %d trials)\n",
                   delay[n * 99 / 100] <= CHAN_MILLISECOND ? "within"
                                                           : "NOT within",
                   (double)delay[n * 99 / 100] / 1e3, n);
        if (r->wrong > 0)
            printf("note\t%s: %d of %d stopped reads returned a wrong result "
                   "(see stderr)\n",
                   r->id, r->wrong, n);
        fflush(stdout);
    }
    chan_fd_release(pr);
    chan_fd_release(pw);
    free(delay);
    chan_close(r->finished);
}

int main(int argc, char **argv)
{
    int trials = 1000;
    long sleep_us = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sleep-us") == 0 && i + 1 < argc)
            sleep_us = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: net_cancel [--trials N] [--sleep-us U]\n");
            return 2;
        }
    }
    if (trials < 1 || trials > 100000 || sleep_us < 0 || sleep_us > 100000) {
        fprintf(stderr, "net_cancel: trials 1..100000, sleep-us 0..100000\n");
        return 2;
    }
    int64_t sleep_ns = sleep_us * CHAN_MICROSECOND;
    struct run runs[] = {
        {.id = "cancel",
         .mode = CANCEL,
         .trials = trials,
         .sleep_ns = sleep_ns},
        {.id = "deadline",
         .mode = DEADLINE,
         .trials = trials,
         .sleep_ns = sleep_ns},
        {.id = "thread_cancel",
         .mode = CANCEL,
         .locked = true,
         .trials = trials,
         .sleep_ns = sleep_ns},
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct run *r = &runs[i];
        r->finished = chan_make(0, 0);
        if (r->finished == NULL || chan_go(drive, r) != CHAN_OK) {
            perror("net_cancel: go");
            return 1;
        }
        chan_recv(r->finished, NULL);
        chan_release(r->finished);
        ok = ok && r->ok && r->wrong == 0;
    }
    return ok ? 0 : 1;
}
