/* sieve.c: Go's concurrent prime sieve (test/chan/sieve1.go, and the Go
 * tour's classic): a generator feeds a daisy chain of filter threads, one per
 * prime found so far, joined by unbuffered channels.
 *
 *     go Generate(ch)
 *     for i := 0; i < 25; i++ {
 *         prime := <-ch
 *         ch1 := make(chan int)
 *         go Filter(ch, ch1, prime)
 *         ch = ch1
 *     }
 *
 * Unlike the Go original, every thread is told to stop (by closing its input)
 * so the program ends with nothing left blocked; it checks its own output.
 */
#include <gochan/chan.h>
#include <gochan/go.h>

#include <stdio.h>
#include <stdlib.h>

static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;

/* Sends 2, 3, 4, ... to out until out is closed by the consumer. */
static void generate(void *arg)
{
    chan_t *out = arg;
    for (int i = 2; chan_send(out, &i) == CHAN_OK; i++)
        ;
    chan_release(out);
    chan_waitgroup_done(&wg);
}

struct filter {
    chan_t *in, *out;
    int prime;
};

/* Copies the values from in to out, removing those divisible by prime. When
 * out is closed by its reader, it closes in so that its writer stops too. */
static void filter(void *arg)
{
    struct filter *f = arg;
    int v;
    while (chan_recv(f->in, &v) == CHAN_OK) {
        if (v % f->prime != 0 && chan_send(f->out, &v) != CHAN_OK)
            break;
    }
    chan_close(f->in);
    chan_release(f->in);
    chan_release(f->out);
    free(f);
    chan_waitgroup_done(&wg);
}

int main(void)
{
    static const int want[] = {2,  3,  5,  7,  11, 13, 17, 19, 23,
                               29, 31, 37, 41, 43, 47, 53, 59, 61,
                               67, 71, 73, 79, 83, 89, 97};
    enum { N = sizeof want / sizeof want[0] };
    chan_t *ch = chan_make(sizeof(int), 0);
    if (!ch)
        return 1;
    chan_waitgroup_add(&wg, 1);
    if (chan_go(generate, chan_retain(ch)) != CHAN_OK)
        return 1;
    int failures = 0;
    for (int i = 0; i < N; i++) {
        int prime = 0;
        chan_recv(ch, &prime);
        printf("%d\n", prime);
        failures += prime != want[i];
        struct filter *f = malloc(sizeof *f);
        chan_t *ch1 = chan_make(sizeof(int), 0);
        if (!f || !ch1)
            return 1;
        *f = (struct filter){chan_retain(ch), chan_retain(ch1), prime};
        chan_waitgroup_add(&wg, 1);
        if (chan_go(filter, f) != CHAN_OK)
            return 1;
        chan_release(ch);
        ch = ch1;
    }
    /* Tear the chain down from its end: each filter closes its input in turn.
     */
    chan_close(ch);
    chan_release(ch);
    chan_waitgroup_wait(&wg);
    printf(failures ? "FAIL: wrong primes\n"
                    : "ok: %d primes, every thread ended\n",
           N);
    return failures ? 1 : 0;
}
