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

static void *writer(void *arg)
{
    chan_recv(arg, NULL); /* both writers wait for the same start */
    for (int i = 0; i < 10000; i++)
        counter++;
    return NULL;
}

int main(void)
{
    chan_t *start = chan_make(0, 0);
    pthread_t a, b;
    pthread_create(&a, NULL, writer, start);
    pthread_create(&b, NULL, writer, start);
    chan_close(start);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    chan_release(start);
    printf("real_race: counter %ld\n", counter);
    return 0;
}
