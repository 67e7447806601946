/* range-over-channels.c: `for elem := range queue` receives until the
 * channel is closed and drained. Twin of range-over-channels.go.
 *
 * Rule: exact. One goroutine, nothing races.
 */
#include <gochan/chan.h>

#include <stdio.h>

int main(void)
{
    chan_t *queue = chan_make(sizeof(const char *), 3);
    chan_send(queue, &(const char *){"one"});
    chan_send(queue, &(const char *){"two"});
    chan_send(queue, &(const char *){"three"});
    /* A closed channel still gives its buffered values. */
    chan_close(queue);

    /* for elem := range queue { ... } */
    const char *elem;
    while (chan_recv(queue, &elem) == CHAN_OK)
        printf("%s\n", elem);
    printf("the channel is closed and drained\n");

    chan_release(queue);
    return 0;
}
