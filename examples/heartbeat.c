/* heartbeat.c: a worker that sends heartbeats on a ticker, watched by a
 * monitor, and a graceful shutdown on SIGINT (Ctrl-C) through a channel, as
 * Go programs do with signal.NotifyContext / signal.Notify:
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
 * unhealthy if no heartbeat comes within a few pulses. Go's signal package
 * turns SIGINT into a channel send; C must do it by hand, and safely: the
 * handler only write()s a byte to a pipe (async-signal-safe), and a thread
 * reading that pipe calls chan_close(done). The worker sees done, stops its
 * tickers and closes its channels; main sees them closed and exits.
 *
 * Run with no argument (as CTest does), the program sends SIGINT to itself
 * after a few heartbeats, so it ends by itself and checks that it shut down
 * gracefully. Run with --forever, it waits for your Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, kill, pipe */

#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/go.h>
#include <gochan/select.h>
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

/* ---- SIGINT to a channel, safely
 * ------------------------------------------------ */

static int signal_pipe[2] = {-1, -1};

/* The handler may only call async-signal-safe functions: write() is one,
 * chan_close (a mutex, a futex wake) is not. errno is saved for the thread
 * the signal interrupted. */
static void on_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    char byte = 'I';
    ssize_t ignored = write(signal_pipe[1], &byte, 1);
    (void)ignored;
    errno = saved;
}

/* signal.Notify's goroutine: turns the pipe's first byte into close(done).
 * An 'S' byte (from main) ends it without closing done. */
static void signal_watcher(void *arg)
{
    chan_t *done = arg;
    char byte = 0;
    ssize_t n;
    do
        n = read(signal_pipe[0], &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && byte == 'I') {
        printf("SIGINT: shutting down\n");
        chan_close(done);
    }
}

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

    /* signal.Notify(c, os.Interrupt), by hand. */
    chan_t *done = chan_make(0, 0);
    if (!done || pipe(signal_pipe) != 0)
        return 1;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, &old_sa) != 0)
        return 1;
    if (chan_waitgroup_go(&threads, signal_watcher, done) != CHAN_OK)
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

    /* Graceful shutdown: end the watcher if no signal came, wait for every
     * thread, restore SIGINT. */
    bool stopped_by_signal = chan_try_recv(done, NULL) == CHAN_CLOSED;
    if (!stopped_by_signal) {
        chan_close(done); /* the worker, if still running, stops too */
        ssize_t ignored = write(signal_pipe[1], "S", 1);
        (void)ignored;
    }
    chan_waitgroup_wait(&threads);
    sigaction(SIGINT, &old_sa, NULL);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    size_t blocked = chan_debug_dump(stdout);
    chan_release(w.heartbeat);
    chan_release(w.results);
    chan_release(done);

    bool ok = healthy && stopped_by_signal && beats >= SELF_SIGNAL_AFTER &&
              in_order && blocked == 0;
    printf("%s: %d heartbeats, %d results, stopped by %s, %zu blocked\n",
           ok ? "ok" : "FAIL", beats, results,
           stopped_by_signal ? "SIGINT" : "something else", blocked);
    return ok ? 0 : 1;
}
