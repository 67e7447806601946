/* non-blocking-channel-operations.c: select with a default case. Twin of
 * non-blocking-channel-operations.go.
 *
 * Rule: exact. Nothing else runs: every answer is decided by the state of
 * the channels alone.
 */
#include <gochan/chan.h>
#include <gochan/select.h>

#include <stdbool.h>
#include <stdio.h>

int main(void)
{
    chan_t *messages = chan_make(sizeof(const char *), 0);
    chan_t *signals = chan_make(sizeof(bool), 0);

    /* select { case msg := <-messages: ... default: ... }: one case and a
     * default is chan_try_recv; CHAN_WOULDBLOCK means default. */
    const char *msg;
    if (chan_try_recv(messages, &msg) == CHAN_OK)
        printf("received message %s\n", msg);
    else
        printf("no message received\n");

    /* select { case messages <- msg: ... default: ... }: nobody receives. */
    msg = "hi";
    if (chan_try_send(messages, &msg) == CHAN_OK)
        printf("sent message %s\n", msg);
    else
        printf("no message sent\n");

    /* Several cases and a default: chan_try_select returns -1
     * (CHAN_SELECT_DEFAULT) for default. */
    bool sig;
    chan_case_t cases[] = {
        CHAN_RECV_CASE(messages, &msg),
        CHAN_RECV_CASE(signals, &sig),
    };
    switch (chan_try_select(cases, 2)) {
    case 0:
        printf("received message %s\n", msg);
        break;
    case 1:
        printf("received signal %s\n", sig ? "true" : "false");
        break;
    case CHAN_SELECT_DEFAULT:
        printf("no activity\n");
        break;
    }

    /* With room in a buffer the send is ready: default does not run. */
    chan_t *mailbox = chan_make(sizeof(const char *), 1);
    if (chan_try_send(mailbox, &msg) == CHAN_OK)
        printf("sent message %s\n", msg);
    else
        printf("no message sent\n");

    chan_release(mailbox);
    chan_release(messages);
    chan_release(signals);
    return 0;
}
