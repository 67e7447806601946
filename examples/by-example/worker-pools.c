/* worker-pools.c: three worker goroutines share a jobs channel and send on
 * a results channel. Twin of worker-pools.go.
 *
 * Rule: lines+masked. Which worker takes which job, and the order of the
 * lines, change from run to run; so "worker N" (the regex worker [0-9]+)
 * is masked and the lines are compared in any order. Each job is checked
 * to start and finish once, and the sum of the results.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/timer.h>

#include <stdio.h>

struct worker {
    int id;
    chan_t *jobs;    /* <-chan int */
    chan_t *results; /* chan<- int */
};

/* func worker(id int, jobs <-chan int, results chan<- int) */
static void worker(void *arg)
{
    struct worker w = *(struct worker *)arg; /* a copy, references owned */
    int j;
    while (chan_recv(w.jobs, &j) == CHAN_OK) { /* for j := range jobs */
        printf("worker %d started  job %d\n", w.id, j);
        chan_sleep(100 * CHAN_MILLISECOND); /* the work */
        printf("worker %d finished job %d\n", w.id, j);
        int r = j * 2;
        chan_send(w.results, &r); /* results <- j * 2 */
    }
    chan_release(w.jobs);
    chan_release(w.results);
}

enum { NUM_JOBS = 5 };

int main(void)
{
    chan_t *jobs = chan_make(sizeof(int), NUM_JOBS);
    chan_t *results = chan_make(sizeof(int), NUM_JOBS);

    /* for w := 1; w <= 3; w++ { go worker(w, jobs, results) }: Go passes
     * the arguments by value and its collector keeps the channels alive for
     * each worker. In C each worker gets its own struct (static: it must
     * outlive main's loop) holding its own references to the channels. */
    static struct worker workers[3];
    for (int w = 1; w <= 3; w++) {
        workers[w - 1] =
            (struct worker){w, chan_retain(jobs), chan_retain(results)};
        chan_go(worker, &workers[w - 1]);
    }

    for (int j = 1; j <= NUM_JOBS; j++)
        chan_send(jobs, &j);
    chan_close(jobs);

    int sum = 0;
    for (int a = 1; a <= NUM_JOBS; a++) {
        int r;
        chan_recv(results, &r);
        sum += r;
    }
    printf("sum of results: %d\n", sum);

    /* As in Go, main does not wait for the workers to leave their loops
     * (each does so once it finds jobs closed); they hold references of
     * their own, so main may drop its own now. */
    chan_release(jobs);
    chan_release(results);
    return 0;
}
