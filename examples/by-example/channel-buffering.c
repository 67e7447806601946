/* channel-buffering.c: make(chan string, 2) accepts two sends with no
 * receiver. Twin of channel-buffering.go.
 *
 * Rule: exact. One goroutine, nothing races.
 */
#include <gochan/chan.h>

#include <stdio.h>

int main(void)
{
    /* queue := make(chan string, 2) */
    chan_t *queue = chan_make(sizeof(const char *), 2);

    /* queue <- "first"; queue <- "second": both fit in the buffer. A send
     * copies the value, so a compound literal's address will do. */
    chan_send(queue, &(const char *){"first"});
    chan_send(queue, &(const char *){"second"});
    /* len(queue), cap(queue) */
    printf("buffered: %zu of %zu\n", chan_len(queue), chan_cap(queue));

    /* fmt.Println(<-queue), twice: first in, first out. */
    const char *msg;
    chan_recv(queue, &msg);
    printf("%s\n", msg);
    chan_recv(queue, &msg);
    printf("%s\n", msg);
    printf("buffered: %zu of %zu\n", chan_len(queue), chan_cap(queue));

    chan_release(queue);
    return 0;
}
