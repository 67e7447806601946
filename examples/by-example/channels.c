/* channels.c: make(chan string), a send and a receive. Twin of channels.go.
 *
 * Rule: exact. One value goes from one goroutine to main; nothing races.
 *
 * The channel is typed (gochan/typed.h): CHAN_OF(strch, const char *) makes
 * strch_t, Go's `chan string`, whose send and receive take and give a
 * const char * and nothing else. The untyped form is the same calls on a
 * chan_t *: chan_make(sizeof(const char *), 0), chan_send(c, &msg), ...
 */
#include <gochan/go.h>
#include <gochan/typed.h>

#include <stdio.h>

CHAN_OF(strch, const char *); /* chan string */

/* go func() { greetings <- "hello" }(): the goroutine gets the channel as
 * its argument. */
static void greet(void *arg)
{
    strch_t *greetings = arg;
    strch_send(greetings, "hello"); /* copies the pointer into the channel */
    strch_release(greetings);       /* drop the goroutine's reference */
}

int main(void)
{
    /* greetings := make(chan string): capacity 0 (unbuffered). */
    strch_t *greetings = strch_make(0);

    /* The goroutine may outlive main's use of the channel, so it takes a
     * reference of its own (Go's garbage collector does this for you). */
    chan_go(greet, strch_retain(greetings));

    /* msg := <-greetings: blocks until the goroutine sends. */
    const char *msg;
    strch_recv(greetings, &msg);
    printf("%s\n", msg);

    strch_release(greetings); /* every make is paired with a release */
    return 0;
}
