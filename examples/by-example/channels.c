/* channels.c: make(chan string), a send and a receive. Twin of channels.go.
 *
 * Rule: exact. One value goes from one goroutine to main; nothing races.
 */
#include <gochan/chan.h>
#include <gochan/go.h>

#include <stdio.h>

/* go func() { greetings <- "hello" }(): the goroutine gets the channel as
 * its argument. */
static void greet(void *arg)
{
    chan_t *greetings = arg;
    const char *msg = "hello";
    chan_send(greetings, &msg); /* copies the pointer into the channel */
    chan_release(greetings);    /* drop the goroutine's reference */
}

int main(void)
{
    /* greetings := make(chan string): a channel of (const char *), the
     * element size in bytes and capacity 0 (unbuffered). */
    chan_t *greetings = chan_make(sizeof(const char *), 0);

    /* The goroutine may outlive main's use of the channel, so it takes a
     * reference of its own (Go's garbage collector does this for you). */
    chan_go(greet, chan_retain(greetings));

    /* msg := <-greetings: blocks until the goroutine sends. */
    const char *msg;
    chan_recv(greetings, &msg);
    printf("%s\n", msg);

    chan_release(greetings); /* every chan_make is paired with a release */
    return 0;
}
