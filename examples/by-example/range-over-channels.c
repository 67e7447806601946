/* range-over-channels.c: `for elem := range queue` receives until the
 * channel is closed and drained. Twin of range-over-channels.go.
 *
 * Rule: exact. One goroutine, nothing races.
 */
#include <gochan/typed.h>

#include <stdio.h>

CHAN_OF(strch, const char *); /* chan string, typed (see channels.c) */

int main(void)
{
    strch_t *queue = strch_make(3);
    strch_send(queue, "one");
    strch_send(queue, "two");
    strch_send(queue, "three");
    /* A closed channel still gives its buffered values. */
    strch_close(queue);

    /* for elem := range queue { ... } */
    const char *elem;
    while (strch_recv(queue, &elem) == CHAN_OK)
        printf("%s\n", elem);
    printf("the channel is closed and drained\n");

    strch_release(queue);
    return 0;
}
