/* timers.c: time.NewTimer fires once; Stop cancels it before it fires.
 * Twin of timers.go.
 *
 * Rule: exact. Timer 2 is stopped right after it is made, 200ms before it
 * would fire: no scheduling delay comes near that.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdio.h>

/* What the goroutine's closure captures in Go. */
struct waiter {
    chan_timer_t *timer2;
    chan_t *quit, *finished;
};

static void wait_timer2(void *arg)
{
    struct waiter w = *(struct waiter *)arg; /* quit and finished: its own */
    /* select { case <-timer2.C: ... case <-quit: ... } */
    chan_case_t cases[] = {
        CHAN_RECV_CASE(chan_timer_chan(w.timer2), NULL),
        CHAN_RECV_CASE(w.quit, NULL),
    };
    if (chan_select(cases, 2) == 0)
        printf("timer 2 fired\n");
    else
        printf("timer 2 never fired\n");
    chan_close(w.finished); /* defer close(finished) */
    chan_release(w.quit);
    chan_release(w.finished);
}

int main(void)
{
    /* timer1 := time.NewTimer(100ms); <-timer1.C. The channel carries the
     * firing time (an int64_t); NULL discards it. */
    chan_timer_t *timer1 = chan_timer_new(100 * CHAN_MILLISECOND);
    chan_recv(chan_timer_chan(timer1), NULL);
    printf("timer 1 fired\n");

    chan_timer_t *timer2 = chan_timer_new(200 * CHAN_MILLISECOND);
    chan_t *quit = chan_make(0, 0);     /* make(chan struct{}) */
    chan_t *finished = chan_make(0, 0); /* element size 0: struct{} */
    /* The goroutine takes references to the channels (Go's collector keeps
     * them alive for it); timer2 it uses only before closing finished. */
    struct waiter w = {timer2, chan_retain(quit), chan_retain(finished)};
    chan_go(wait_timer2, &w);

    /* if timer2.Stop() { ... }: true when it stopped the timer in time. */
    if (chan_timer_stop(timer2))
        printf("timer 2 stopped\n");

    /* Wait past the time timer 2 would have fired. */
    chan_sleep(300 * CHAN_MILLISECOND);
    chan_close(quit);
    chan_recv(finished, NULL); /* <-finished */

    /* Go's collector frees timers; C releases them. */
    chan_timer_release(timer1);
    chan_timer_release(timer2);
    chan_release(quit);
    chan_release(finished);
    return 0;
}
