/* waitgroups.c: sync.WaitGroup waits for goroutines to finish. Twin of
 * waitgroups.go.
 *
 * Rule: lines. The five workers print in any order, in Go as in C; only
 * "all workers done" is sure to come last, which the lines rule does not
 * check (exact would fail on the workers' order).
 */
#include <gochan/go.h>
#include <gochan/timer.h>

#include <stdint.h>
#include <stdio.h>

/* var wg sync.WaitGroup: static storage, so it outlives every goroutine. */
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;

static void worker(int id)
{
    printf("worker %d starting\n", id);
    chan_sleep(100 * CHAN_MILLISECOND);
    printf("worker %d done\n", id);
}

/* go func() { defer wg.Done(); worker(i) }(): Go 1.19 needs `i := i` for
 * each goroutine to get its own i; C passes i by value, in the void *. */
static void run_worker(void *arg)
{
    worker((int)(intptr_t)arg);
    chan_waitgroup_done(&wg); /* C has no defer: Done at the end */
}

int main(void)
{
    for (int i = 1; i <= 5; i++) {
        chan_waitgroup_add(&wg, 1); /* wg.Add(1), before the goroutine */
        chan_go(run_worker, (void *)(intptr_t)i);
    }

    /* wg.Wait(): blocks until the counter is back to zero. */
    chan_waitgroup_wait(&wg);
    printf("all workers done\n");
    chan_waitgroup_destroy(&wg);
    return 0;
}
