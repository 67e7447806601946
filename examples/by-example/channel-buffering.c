/* channel-buffering.c: make(chan string, 2) accepts two sends with no
 * receiver. Twin of channel-buffering.go.
 *
 * Rule: exact. One goroutine, nothing races.
 */
#include <gochan/typed.h>

#include <stdio.h>

CHAN_OF(strch, const char *); /* chan string, typed (see channels.c) */

int main(void)
{
    /* queue := make(chan string, 2) */
    strch_t *queue = strch_make(2);

    /* queue <- "first"; queue <- "second": both fit in the buffer. A send
     * takes the value itself, as Go's does. */
    strch_send(queue, "first");
    strch_send(queue, "second");
    /* len(queue), cap(queue) */
    printf("buffered: %zu of %zu\n", strch_len(queue), strch_cap(queue));

    /* fmt.Println(<-queue), twice: first in, first out. */
    const char *msg;
    strch_recv(queue, &msg);
    printf("%s\n", msg);
    strch_recv(queue, &msg);
    printf("%s\n", msg);
    printf("buffered: %zu of %zu\n", strch_len(queue), strch_cap(queue));

    strch_release(queue);
    return 0;
}
