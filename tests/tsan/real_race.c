/* real_race.c: a user program with a real data race, built with
 * -fsanitize=thread against the plain libgochan. Two threads write `counter`
 * (10,000 times each) with no synchronization between the writes (the channel
 * orders only the start signal, which both take before they write).
 * ThreadSanitizer must still report it: gochan's annotations add the edges
 * gochan makes, and no others.
 */
#include <gochan.h>

#include <pthread.h>
#include <stdio.h>

static long counter; /* raced on purpose */
static chan_t *start, *done, *finish;

/* Neither writer ends before both have written: TSan reuses the slot of a
 * thread that finished for the next one, and a writer that ran its loop
 * and ended before the other started was then not told apart from it (the
 * race went unreported once, on a loaded machine). The channels order
 * only the start and the end, never one writer's writes before the
 * other's. */
static void *writer(void *arg)
{
    (void)arg;
    chan_recv(start, NULL); /* both writers wait for the same start */
    for (int i = 0; i < 10000; i++)
        counter++;
    chan_send(done, NULL);
    chan_recv(finish, NULL);
    return NULL;
}

int main(void)
{
    start = chan_make(0, 0);
    done = chan_make(0, 0);
    finish = chan_make(0, 0);
    pthread_t a, b;
    pthread_create(&a, NULL, writer, NULL);
    pthread_create(&b, NULL, writer, NULL);
    chan_close(start);
    chan_recv(done, NULL);
    chan_recv(done, NULL);
    chan_close(finish);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    chan_release(start);
    chan_release(done);
    chan_release(finish);
    printf("real_race: counter %ld\n", counter);
    return 0;
}
