/* closing-channels.c: close(jobs) tells the worker no more jobs will come.
 * Twin of closing-channels.go.
 *
 * Rule: lines. main's "sent" lines and the worker's "received" lines
 * interleave differently from run to run, in Go as in C.
 */
#include <gochan/chan.h>
#include <gochan/go.h>

#include <stdbool.h>
#include <stdio.h>

struct channels {
    chan_t *jobs, *done;
};

static void worker(void *arg)
{
    struct channels ch = *(struct channels *)arg; /* its own references */
    for (;;) {
        /* j, more := <-jobs: CHAN_CLOSED once closed and drained. */
        int j;
        bool more = chan_recv(ch.jobs, &j) == CHAN_OK;
        if (!more) {
            printf("received all jobs\n");
            chan_send(ch.done, &(bool){true}); /* done <- true */
            break;
        }
        printf("received job %d\n", j);
    }
    chan_release(ch.jobs);
    chan_release(ch.done);
}

int main(void)
{
    chan_t *jobs = chan_make(sizeof(int), 5);
    chan_t *done = chan_make(sizeof(bool), 0);

    /* The goroutine holds references of its own (Go's collector keeps
     * channels alive for it); it copies ch before main can change it. */
    struct channels ch = {chan_retain(jobs), chan_retain(done)};
    chan_go(worker, &ch);

    for (int j = 1; j <= 3; j++) {
        chan_send(jobs, &j);
        printf("sent job %d\n", j);
    }
    chan_close(jobs); /* close(jobs) */
    printf("sent all jobs\n");

    chan_recv(done, NULL); /* <-done */

    /* j, ok := <-jobs on a closed, drained channel: at once, with the zero
     * value and ok == false. */
    int j = -1;
    bool ok = chan_recv(jobs, &j) == CHAN_OK;
    printf("received more jobs: %d %s\n", j, ok ? "true" : "false");

    chan_release(jobs);
    chan_release(done);
    return 0;
}
