/* signals.c: signal.Notify turns Unix signals into values on a channel, so
 * a program can end cleanly when told to stop. Twin of signals.go; like it,
 * the program sends itself SIGTERM so that it runs without a terminal.
 *
 * Rule: exact. main prints before it sends the signal, and the goroutine
 * prints only after receiving it, so the order is fixed.
 */
#define _POSIX_C_SOURCE 200809L /* kill() */

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/signal.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

struct waiter {
    chan_t *sigs; /* <-chan os.Signal: signal numbers, as int */
    chan_t *done;
};

/* go func() { sig := <-sigs; ...; done <- true }() */
static void wait_for_signal(void *arg)
{
    struct waiter *w = arg;
    int sig;
    chan_recv(w->sigs, &sig); /* sig := <-sigs */
    char name[64];
    chan_signal_string(sig, name, sizeof name); /* Go's sig.String() */
    printf("\n");
    printf("%s\n", name); /* fmt.Println(sig): "terminated" */
    bool yes = true;
    chan_send(w->done, &yes);
}

int main(void)
{
    /* sigs := make(chan os.Signal, 1): a buffer, since Notify never blocks
     * sending (a full channel drops the signal). A signal is an int in C. */
    chan_t *sigs = chan_make(sizeof(int), 1);
    int wanted[] = {SIGINT, SIGTERM};
    chan_signal_notify(sigs, wanted, 2); /* signal.Notify(sigs, ...) */

    chan_t *done = chan_make(sizeof(bool), 1);

    struct waiter w = {sigs, done}; /* lives until main returns */
    chan_go(wait_for_signal, &w);

    printf("awaiting signal\n");
    kill(getpid(), SIGTERM); /* syscall.Kill(os.Getpid(), syscall.SIGTERM) */
    chan_recv(done, NULL);   /* <-done */
    printf("exiting\n");

    /* Go's collector would take care of these; in C, stop the relay
     * (signal.Stop) and drop our references. */
    chan_signal_stop(sigs);
    chan_release(sigs);
    chan_release(done);
    return 0;
}
