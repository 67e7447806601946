/* rate-limiting.c: a ticker paces requests; a buffered channel of tokens
 * allows a short burst. Twin of rate-limiting.go.
 *
 * Rule: masked. The times vary by a few milliseconds, so every "N.NNs"
 * (the regex [0-9]+[.][0-9]+s) is masked in both outputs; what is checked
 * is that every request is served once, in order. The times themselves
 * (one request per 100ms tick; a burst of three at 0.00s, then one per
 * tick) are shown in rate-limiting.out.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* start and since(), Go's closure over start: main resets start below. */
static int64_t start;

static double since(void)
{
    return (double)(chan_now() - start) / CHAN_SECOND;
}

/* The refill goroutine's channels, each a reference of its own. */
struct refiller {
    chan_t *ticks;  /* refill.C */
    chan_t *bursty; /* chan<- time.Time */
    chan_t *stop, *stopped;
};

static void refill_tokens(void *arg)
{
    struct refiller r = *(struct refiller *)arg;
    for (;;) {
        int64_t t;
        chan_case_t cases[] = {
            CHAN_RECV_CASE(r.ticks, &t),
            CHAN_RECV_CASE(r.stop, NULL),
        };
        if (chan_select(cases, 2) == 1)
            break; /* case <-stop */
        /* select { case bursty <- t: default: }: a new token, or none
         * when the bucket is full. */
        chan_try_send(r.bursty, &t);
    }
    chan_send(r.stopped, &(bool){true}); /* stopped <- true */
    chan_release(r.ticks);
    chan_release(r.bursty);
    chan_release(r.stop);
    chan_release(r.stopped);
}

int main(void)
{
    start = chan_now();

    /* Five requests, served at most one per 100ms tick. */
    chan_t *requests = chan_make(sizeof(int), 5);
    for (int i = 1; i <= 5; i++)
        chan_send(requests, &i);
    chan_close(requests);

    chan_ticker_t *limiter = chan_ticker_new(100 * CHAN_MILLISECOND);
    int req;
    while (chan_recv(requests, &req) == CHAN_OK) {  /* for req := range */
        chan_recv(chan_ticker_chan(limiter), NULL); /* <-limiter.C */
        printf("request %d at %.2fs\n", req, since());
    }
    chan_ticker_release(limiter); /* limiter.Stop(), and free it */

    /* A bucket of three tokens (times, int64_t): three at once, then one
     * per tick. */
    chan_t *bursty = chan_make(sizeof(int64_t), 3);
    for (int i = 0; i < 3; i++)
        chan_send(bursty, &(int64_t){chan_now()});
    chan_ticker_t *refill = chan_ticker_new(100 * CHAN_MILLISECOND);
    chan_t *stop = chan_make(sizeof(bool), 0);
    chan_t *stopped = chan_make(sizeof(bool), 0);
    struct refiller r = {chan_retain(chan_ticker_chan(refill)),
                         chan_retain(bursty), chan_retain(stop),
                         chan_retain(stopped)};
    chan_go(refill_tokens, &r);

    start = chan_now();
    chan_t *bursty_requests = chan_make(sizeof(int), 5);
    for (int i = 1; i <= 5; i++)
        chan_send(bursty_requests, &i);
    chan_close(bursty_requests);
    while (chan_recv(bursty_requests, &req) == CHAN_OK) {
        chan_recv(bursty, NULL); /* <-bursty: take a token */
        printf("bursty request %d at %.2fs\n", req, since());
    }
    chan_ticker_stop(refill);
    chan_send(stop, &(bool){true}); /* stop <- true */
    chan_recv(stopped, NULL);       /* <-stopped */

    chan_ticker_release(refill);
    chan_release(requests);
    chan_release(bursty);
    chan_release(stop);
    chan_release(stopped);
    chan_release(bursty_requests);
    return 0;
}
