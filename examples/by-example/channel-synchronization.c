/* channel-synchronization.c: main waits for a goroutine by receiving from a
 * channel it sends on when finished. Twin of channel-synchronization.go.
 *
 * Rule: exact. main prints only after the worker has sent, so the order is
 * fixed.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>

/* func work(done chan bool) */
static void work(void *arg)
{
    chan_t *done = arg;
    printf("working...");
    chan_sleep(100 * CHAN_MILLISECOND);
    printf("finished\n");
    bool yes = true;
    chan_send(done, &yes); /* done <- true */
    chan_release(done);
}

int main(void)
{
    /* done := make(chan bool, 1) */
    chan_t *done = chan_make(sizeof(bool), 1);
    chan_go(work, chan_retain(done)); /* go work(done) */

    /* <-done: the value is not needed, so receive into NULL. */
    chan_recv(done, NULL);
    printf("main: the worker is finished\n");

    chan_release(done);
    return 0;
}
