/* handoff.c: a correct user program, built with -fsanitize=thread against
 * the plain (uninstrumented) libgochan. Every value below is plain memory
 * handed from one thread to another through gochan alone; ThreadSanitizer
 * must report nothing, which it can only do if gochan announces its
 * happens-before edges (sched/internal/race.h). Exits 0 when every value
 * arrived.
 */
#include <gochan.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct box {
    long payload[8]; /* plain memory: written by one thread, read by another */
};

static struct box *fill(long v)
{
    struct box *b = malloc(sizeof *b);
    if (!b)
        exit(2);
    for (int i = 0; i < 8; i++)
        b->payload[i] = v + i;
    return b;
}

static int check(const struct box *b, long v)
{
    for (int i = 0; i < 8; i++)
        if (b->payload[i] != v + i)
            return 1;
    return 0;
}

/* Sends boxes through c: a send happens before its receive completes. */
static void *producer(void *arg)
{
    chan_t *c = arg;
    for (long i = 0; i < 100; i++) {
        struct box *b = fill(i);
        chan_send(c, &b);
    }
    chan_close(c); /* close happens before a receive that sees it */
    return NULL;
}

static long shared_by_close;
static long shared_by_wg;
static long shared_by_cancel;
static long shared_by_group;
static chan_waitgroup_t wg = CHAN_WAITGROUP_INIT;

static void wg_worker(void *arg)
{
    (void)arg;
    shared_by_wg = 42; /* Done happens before Wait returns */
    chan_waitgroup_done(&wg);
}

static void *closer(void *arg)
{
    shared_by_close = 7;
    chan_close(arg);
    return NULL;
}

static void *canceler(void *arg)
{
    shared_by_cancel = 9;
    context_cancel(arg); /* cancel happens before Done is seen closed */
    return NULL;
}

static const context_error_t *group_task(void *arg)
{
    (void)arg;
    shared_by_group = 11; /* a task's return happens before Wait returns */
    return NULL;
}

static int channels(size_t cap)
{
    chan_t *c = chan_make(sizeof(struct box *), cap);
    pthread_t t;
    pthread_create(&t, NULL, producer, c);
    int bad = 0;
    struct box *b;
    for (long i = 0; chan_recv(c, &b) == CHAN_OK; i++) {
        bad |= check(b, i);
        free(b);
    }
    pthread_join(t, NULL);
    chan_release(c);
    return bad;
}

int main(void)
{
    int bad = channels(0) | channels(16);

    chan_t *done = chan_make(0, 0);
    pthread_t t;
    pthread_create(&t, NULL, closer, done);
    chan_recv(done, NULL);
    bad |= shared_by_close != 7;
    pthread_join(t, NULL);
    chan_release(done);

    chan_waitgroup_add(&wg, 1);
    chan_go(wg_worker, NULL);
    chan_waitgroup_wait(&wg);
    bad |= shared_by_wg != 42;

    context_cancel_t *cancel;
    context_t *ctx = context_with_cancel(context_background(), &cancel);
    pthread_create(&t, NULL, canceler, cancel);
    chan_recv(context_done(ctx), NULL);
    bad |= shared_by_cancel != 9;
    pthread_join(t, NULL);
    context_release(ctx);

    errgroup_t *g = errgroup_new();
    errgroup_go(g, group_task, NULL);
    errgroup_wait(g);
    errgroup_release(g);
    bad |= shared_by_group != 11;

    chan_timer_t *timer = chan_timer_new(CHAN_MILLISECOND);
    int64_t when = 0;
    chan_recv(chan_timer_chan(timer), &when); /* the fire's value */
    bad |= when == 0;
    chan_timer_release(timer);

    printf("handoff: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
