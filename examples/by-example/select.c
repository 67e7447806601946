/* select.c: select waits on several channels at once. Twin of select.go.
 *
 * Rule: exact. The answers come 50ms and 250ms after the start: the fast
 * one is first unless a goroutine is delayed by 200ms, far beyond what a
 * loaded machine does to a sleeping program.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdio.h>

/* What each goroutine needs: Go's closure captures these. */
struct answer {
    chan_t *ch;
    int64_t delay;
    const char *msg;
};

/* go func() { time.Sleep(delay); ch <- msg }() */
static void answer(void *arg)
{
    struct answer a = *(struct answer *)arg; /* a copy: main's may go */
    chan_sleep(a.delay);
    chan_send(a.ch, &a.msg);
    chan_release(a.ch); /* the goroutine's own reference */
}

int main(void)
{
    chan_t *fast = chan_make(sizeof(const char *), 0);
    chan_t *slow = chan_make(sizeof(const char *), 0);

    /* Go's closures capture fast and slow, and the garbage collector keeps
     * them alive while a goroutine uses them. In C each goroutine gets a
     * reference of its own (chan_retain) and releases it when done. */
    struct answer a1 = {chan_retain(fast), 50 * CHAN_MILLISECOND, "fast"};
    struct answer a2 = {chan_retain(slow), 250 * CHAN_MILLISECOND, "slow"};
    chan_go(answer, &a1);
    chan_go(answer, &a2);

    for (int i = 0; i < 2; i++) {
        const char *msg;
        /* select { case msg := <-fast: ... case msg := <-slow: ... }: the
         * cases are an array; chan_select returns the index of the one that
         * ran. Both receive into msg here. */
        chan_case_t cases[] = {
            CHAN_RECV_CASE(fast, &msg),
            CHAN_RECV_CASE(slow, &msg),
        };
        switch (chan_select(cases, 2)) {
        case 0:
            printf("received %s\n", msg);
            break;
        case 1:
            printf("received %s\n", msg);
            break;
        }
    }

    chan_release(fast);
    chan_release(slow);
    return 0;
}
