/* atomic-counters.c: many goroutines add to one counter with sync/atomic.
 * Twin of atomic-counters.go; C11's <stdatomic.h> is Go's sync/atomic.
 *
 * Rule: exact. Only the final count is printed, after every goroutine is
 * done.
 */
#include <gochan/go.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* var ops uint64, updated only atomically. */
static atomic_uint_least64_t ops;
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;

static void add_1000(void *arg)
{
    (void)arg;
    for (int c = 0; c < 1000; c++)
        atomic_fetch_add(&ops, 1); /* atomic.AddUint64(&ops, 1) */
    chan_waitgroup_done(&wg);      /* defer wg.Done() */
}

int main(void)
{
    for (int i = 0; i < 50; i++) {
        chan_waitgroup_add(&wg, 1);
        chan_go(add_1000, NULL);
    }

    chan_waitgroup_wait(&wg);
    /* atomic.LoadUint64(&ops): a plain ops++ would lose updates (and be a
     * data race, which ThreadSanitizer reports). */
    printf("ops: %llu\n", (unsigned long long)atomic_load(&ops));
    chan_waitgroup_destroy(&wg);
    return 0;
}
