/* heartbeat.c: a worker that sends heartbeats on a ticker, watched by a
 * monitor, and a graceful shutdown on SIGINT (Ctrl-C) through a context, as
 * Go programs do with signal.NotifyContext:
 *
 *     ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
 *     defer stop()
 *
 *     func worker(done <-chan struct{}, pulse time.Duration)
 *             (<-chan struct{}, <-chan int) {
 *         heartbeat := make(chan struct{}, 1)
 *         results := make(chan int)
 *         go func() {
 *             defer close(heartbeat)
 *             defer close(results)
 *             ticker := time.NewTicker(pulse)
 *             defer ticker.Stop()
 *             work := time.NewTicker(2 * pulse)
 *             defer work.Stop()
 *             for n := 0; ; {
 *                 select {
 *                 case <-done:
 *                     return
 *                 case <-ticker.C:
 *                     select {                 // never block on a pulse
 *                     case heartbeat <- struct{}{}:
 *                     default:
 *                     }
 *                 case <-work.C:
 *                     select {
 *                     case results <- n: n++
 *                     case <-done: return
 *                     }
 *                 }
 *             }
 *         }()
 *         return heartbeat, results
 *     }
 *
 * The monitor (main) reads heartbeats and results, and declares the worker
 * unhealthy if no heartbeat comes within a few pulses. context_signal_notify
 * is signal.NotifyContext: SIGINT cancels the context, whose Done channel is
 * the worker's done. The worker sees done, stops its tickers and closes its
 * channels; main sees them closed, calls stop (which gives SIGINT its default
 * effect back) and exits.
 *
 * Run with no argument (as CTest does), the program sends SIGINT to itself
 * after a few heartbeats, so it ends by itself and checks that it shut down
 * gracefully. Run with --forever, it waits for your Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L /* kill, sigaction */

#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/signal.h>
#include <gochan/timer.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SELF_SIGNAL_AFTER = 4 }; /* heartbeats before the self-sent SIGINT */

static int64_t pulse = 20 * CHAN_MILLISECOND;
static chan_waitgroup_t threads = CHAN_WAITGROUP_INIT;

/* ---- the worker
 * ---------------------------------------------------------------- */

struct worker {
    chan_t *done;      /* in: closed to stop the worker */
    chan_t *heartbeat; /* out: chan struct{}, cap 1 */
    chan_t *results;   /* out: chan int */
};

static void worker(void *arg)
{
    struct worker *w = arg;
    chan_ticker_t *ticker = chan_ticker_new(pulse);
    chan_ticker_t *work = chan_ticker_new(2 * pulse);
    if (!ticker || !work) {
        fprintf(stderr, "no ticker: %s\n", strerror(errno));
        goto out;
    }
    for (int n = 0;;) {
        chan_case_t cases[] = {CHAN_RECV_CASE(w->done, NULL),
                               CHAN_RECV_CASE(chan_ticker_chan(ticker), NULL),
                               CHAN_RECV_CASE(chan_ticker_chan(work), NULL)};
        int chosen = chan_select(cases, 3);
        if (chosen == 0)
            break;
        if (chosen == 1) {
            chan_try_send(w->heartbeat, NULL); /* never block on a pulse */
            continue;
        }
        chan_case_t send[] = {CHAN_SEND_CASE(w->results, &n),
                              CHAN_RECV_CASE(w->done, NULL)};
        if (chan_select(send, 2) == 1)
            break;
        n++;
    }
out:
    chan_ticker_release(work); /* defer work.Stop() */
    chan_ticker_release(ticker);
    chan_close(w->results); /* defer close(results) */
    chan_close(w->heartbeat);
}

int main(int argc, char **argv)
{
    bool forever = argc > 1 && strcmp(argv[1], "--forever") == 0;
    if (getenv("CK_TIMEOUT_MULTIPLIER"))
        pulse *= 5; /* valgrind or a sanitizer: slower pulses */
    chan_debug_enable(true);

    /* ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt) */
    struct sigaction before;
    sigaction(SIGINT, NULL, &before);
    int interrupt = SIGINT;
    context_cancel_t *stop;
    context_t *ctx =
        context_signal_notify(context_background(), &interrupt, 1, &stop);
    chan_t *done = ctx ? context_done(ctx) : NULL; /* borrowed from ctx */
    if (!done)
        return 1;

    struct worker w = {done, chan_make(0, 1), chan_make(sizeof(int), 0)};
    if (!w.heartbeat || !w.results ||
        chan_waitgroup_go(&threads, worker, &w) != CHAN_OK)
        return 1;
    printf("worker started; %s\n",
           forever ? "press Ctrl-C to stop it"
                   : "it will get a SIGINT after a few heartbeats");

    /* The monitor: heartbeats, results, and a watchdog per wait. */
    int beats = 0, results = 0, last = -1;
    bool healthy = true, in_order = true, signaled = false;
    chan_t *heartbeat = w.heartbeat, *res = w.results;
    while (heartbeat || res) {
        chan_t *watchdog = chan_after(5 * pulse);
        if (!watchdog)
            return 1;
        int v;
        chan_case_t cases[] = {CHAN_RECV_CASE(heartbeat, NULL),
                               CHAN_RECV_CASE(res, &v),
                               CHAN_RECV_CASE(watchdog, NULL)};
        int chosen = chan_select(cases, 3);
        chan_release(watchdog);
        if (chosen == 2) {
            printf("FAIL: no heartbeat in %lld ms: the worker is unhealthy\n",
                   (long long)(5 * pulse / CHAN_MILLISECOND));
            healthy = false;
            break;
        }
        if (cases[chosen].status == CHAN_CLOSED) { /* the worker has ended */
            if (chosen == 0)
                heartbeat = NULL; /* a nil channel: never ready again */
            else
                res = NULL;
            continue;
        }
        if (chosen == 1) {
            printf("result %d\n", v);
            in_order = in_order && v == last + 1;
            last = v;
            results++;
            continue;
        }
        printf("heartbeat %d\n", ++beats);
        if (!forever && !signaled && beats == SELF_SIGNAL_AFTER) {
            signaled = true;
            kill(getpid(), SIGINT); /* as if someone pressed Ctrl-C */
        }
    }

    /* Graceful shutdown: only SIGINT can have ended ctx so far (its parent
     * is Background); then stop (the worker, if still running, stops too),
     * wait for every thread and give SIGINT back. */
    bool stopped_by_signal = context_err(ctx) != NULL;
    if (stopped_by_signal)
        printf("SIGINT: shut down\n");
    context_cancel(stop); /* defer stop() */
    chan_waitgroup_wait(&threads);
    context_release(ctx);
    struct sigaction after;
    sigaction(SIGINT, NULL, &after);
    bool restored = after.sa_handler == before.sa_handler;
    size_t blocked = chan_debug_dump(stdout);
    chan_release(w.heartbeat);
    chan_release(w.results);

    bool ok = healthy && stopped_by_signal && beats >= SELF_SIGNAL_AFTER &&
              in_order && blocked == 0 && restored;
    printf("%s: %d heartbeats, %d results, stopped by %s, %zu blocked, "
           "SIGINT %s\n",
           ok ? "ok" : "FAIL", beats, results,
           stopped_by_signal ? "SIGINT" : "something else", blocked,
           restored ? "given back" : "still diverted");
    return ok ? 0 : 1;
}
