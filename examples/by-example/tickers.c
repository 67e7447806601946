/* tickers.c: time.NewTicker ticks at a regular interval until stopped.
 * Twin of tickers.go.
 *
 * Rule: masked. The tick times vary by a few milliseconds, so every
 * "N.NNNs" (the regex [0-9]+[.][0-9]+s) is masked in both outputs; what is
 * checked is that exactly three ticks come before "ticker stopped". The
 * ticks are due at 200, 400 and 600ms and the ticker stops at 700ms, timed
 * by a timer made with the ticker (so a slow start of the goroutine does
 * not move it): 100ms margins either side.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>

struct ticking {
    int64_t start;
    chan_t *ticks; /* ticker.C */
    chan_t *done;
};

static void print_ticks(void *arg)
{
    struct ticking tk = *(struct ticking *)arg; /* with its own references */
    for (;;) {
        int64_t t; /* the tick's time, a chan_now() reading */
        chan_case_t cases[] = {
            CHAN_RECV_CASE(tk.done, NULL),
            CHAN_RECV_CASE(tk.ticks, &t),
        };
        if (chan_select(cases, 2) == 0)
            break; /* case <-done: return */
        /* t.Sub(start).Seconds(): durations are int64_t nanoseconds. */
        printf("tick at %.3fs\n", (double)(t - tk.start) / CHAN_SECOND);
    }
    chan_release(tk.ticks);
    chan_release(tk.done);
}

int main(void)
{
    int64_t start = chan_now(); /* time.Now() */
    chan_ticker_t *ticker = chan_ticker_new(200 * CHAN_MILLISECOND);
    /* Three ticks come (at 200, 400 and 600ms) before this timer fires. */
    chan_timer_t *stop = chan_timer_new(700 * CHAN_MILLISECOND);
    chan_t *done = chan_make(sizeof(bool), 0);

    /* The goroutine holds references to ticker.C and done of its own. */
    struct ticking tk = {start, chan_retain(chan_ticker_chan(ticker)),
                         chan_retain(done)};
    chan_go(print_ticks, &tk);

    /* <-stop.C: wait for the timer; then stop the ticker and the
     * goroutine. */
    chan_recv(chan_timer_chan(stop), NULL);
    chan_ticker_stop(ticker);
    /* done <- true: unbuffered, so it returns once the goroutine took it
     * and no longer touches tk. */
    chan_send(done, &(bool){true});
    printf("ticker stopped\n");

    chan_ticker_release(ticker);
    chan_timer_release(stop);
    chan_release(done);
    return 0;
}
