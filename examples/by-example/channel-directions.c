/* channel-directions.c: Go's chan<- and <-chan parameter types. Twin of
 * channel-directions.go.
 *
 * Rule: exact. One goroutine, nothing races.
 *
 * C has no direction types: a chan_t * can always send and receive, so the
 * direction is a comment, and keeping to it is up to you. Go's strings
 * become a fixed-size char array as the element: a channel copies its
 * elem_size bytes, so the text travels by value, as a Go string does.
 */
#include <gochan/chan.h>

#include <stdio.h>

typedef struct {
    char text[64];
} message_t;

/* func ping(pings chan<- string, msg string) */
static void ping(chan_t *pings /* chan<- message_t */, const char *msg)
{
    message_t m;
    snprintf(m.text, sizeof m.text, "%s", msg);
    chan_send(pings, &m); /* pings <- msg */
}

/* func pong(pings <-chan string, pongs chan<- string) */
static void pong(chan_t *pings /* <-chan message_t */,
                 chan_t *pongs /* chan<- message_t */)
{
    message_t in, out;
    chan_recv(pings, &in); /* msg := <-pings */
    /* pongs <- msg + ", returned" (a fixed-size copy must fit: at most 50
     * bytes of msg) */
    snprintf(out.text, sizeof out.text, "%.50s, returned", in.text);
    chan_send(pongs, &out);
}

int main(void)
{
    chan_t *pings = chan_make(sizeof(message_t), 1);
    chan_t *pongs = chan_make(sizeof(message_t), 1);
    ping(pings, "a message");
    pong(pings, pongs);
    message_t m;
    chan_recv(pongs, &m); /* fmt.Println(<-pongs) */
    printf("%s\n", m.text);
    chan_release(pings);
    chan_release(pongs);
    return 0;
}
