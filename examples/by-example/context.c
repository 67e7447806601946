/* context.c: a context carries a deadline and a cancellation to the
 * goroutines doing work for it. Twin of context.go (Go by Example's context
 * chapter serves HTTP; this twin keeps the idea without a network).
 *
 * Rule: exact. The quick worker needs 10ms of a 200ms budget; the slow one
 * and the cancelled one would need a second, and are stopped at 200ms and
 * 10ms: the margins are 190ms and more.
 */
#include <gochan/chan.h>
#include <gochan/context.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* What `go worker(ctx, name, d, result)` passes; the goroutine owns the
 * struct and the references in it. */
struct work {
    context_t *ctx;
    const char *name;
    int64_t d;
    chan_t *result; /* chan<- error: a const context_error_t * */
};

static void worker(void *arg)
{
    struct work *w = arg;
    /* timer := time.NewTimer(d); defer timer.Stop() */
    chan_timer_t *timer = chan_timer_new(w->d);
    const context_error_t *err = NULL; /* a nil error */
    /* select { case <-timer.C: ... case <-ctx.Done(): ... } */
    chan_case_t cases[] = {
        CHAN_RECV_CASE(chan_timer_chan(timer), NULL),
        CHAN_RECV_CASE(context_done(w->ctx), NULL),
    };
    if (chan_select(cases, 2) == 0) {
        printf("%s finished its work\n", w->name);
    } else {
        /* ctx.Err(): context_canceled or context_deadline_exceeded, static
         * errors that outlive every context. */
        err = context_err(w->ctx);
        printf("%s stopped: %s\n", w->name, err->message);
    }
    chan_send(w->result, &err); /* result <- err */
    chan_timer_release(timer);  /* the deferred Stop, and free */
    context_release(w->ctx);
    chan_release(w->result);
    free(w);
}

/* go worker(ctx, name, d, result) */
static void go_worker(context_t *ctx, const char *name, int64_t d,
                      chan_t *result)
{
    struct work *w = malloc(sizeof *w);
    if (!w)
        exit(1);
    *w = (struct work){context_retain(ctx), name, d, chan_retain(result)};
    chan_go(worker, w);
}

/* fmt.Println prints a nil error as <nil>. */
static const char *message(const context_error_t *err)
{
    return err ? err->message : "<nil>";
}

int main(void)
{
    chan_t *result = chan_make(sizeof(const context_error_t *), 0);
    const context_error_t *err;

    /* ctx, cancel := context.WithTimeout(context.Background(), 200ms) */
    context_cancel_t *cancel;
    context_t *ctx = context_with_timeout(context_background(),
                                          200 * CHAN_MILLISECOND, &cancel);

    go_worker(ctx, "quick", 10 * CHAN_MILLISECOND, result);
    chan_recv(result, &err);
    printf("quick returned %s\n", message(err));

    go_worker(ctx, "slow", CHAN_SECOND, result);
    chan_recv(result, &err);
    printf("slow returned %s\n", message(err));
    /* errors.Is(err, context.DeadlineExceeded) */
    printf("deadline exceeded: %s\n",
           context_error_is(err, &context_deadline_exceeded) ? "true"
                                                             : "false");

    /* ctx2, cancel2 := context.WithCancel(context.Background()) */
    context_cancel_t *cancel2;
    context_t *ctx2 = context_with_cancel(context_background(), &cancel2);
    go_worker(ctx2, "cancelled", CHAN_SECOND, result);
    chan_sleep(10 * CHAN_MILLISECOND);
    context_cancel(cancel2); /* cancel2() */
    chan_recv(result, &err);
    printf("cancelled returned %s\n", message(err));

    /* defer cancel(), and C's releases: each context_with_* is released. */
    context_cancel(cancel2);
    context_release(ctx2);
    context_cancel(cancel);
    context_release(ctx);
    chan_release(result);
    return 0;
}
