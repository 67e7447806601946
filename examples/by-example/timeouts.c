/* timeouts.c: a select on time.After bounds a wait. Twin of timeouts.go.
 *
 * Rule: exact. Each answer and its timeout are 100ms apart, a margin no
 * scheduling delay comes near.
 */
#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/select.h>
#include <gochan/timer.h>

#include <stdio.h>
#include <stdlib.h>

/* The call's goroutine owns this (freed when it has answered). */
struct call {
    chan_t *answer;
    const char *name;
    int64_t d;
};

static void answer_after(void *arg)
{
    struct call *c = arg;
    chan_sleep(c->d); /* time.Sleep(d) */
    char text[64];
    snprintf(text, sizeof text, "%s answered", c->name);
    /* answer <- name + " answered": the buffer of one takes it even when
     * main has stopped waiting, so the goroutine always finishes. */
    chan_send(c->answer, text);
    chan_release(c->answer);
    free(c);
}

/* func call(name string, d time.Duration) chan string. The caller owns the
 * returned reference; the goroutine holds one of its own. */
static chan_t *call(const char *name, int64_t d)
{
    chan_t *answer = chan_make(sizeof(char[64]), 1);
    struct call *c = malloc(sizeof *c);
    if (!answer || !c)
        exit(1);
    *c = (struct call){chan_retain(answer), name, d};
    chan_go(answer_after, c);
    return answer;
}

/* select { case res := <-call(name, work): case <-time.After(wait): } */
static void wait_for(const char *name, int64_t work, int64_t wait)
{
    chan_t *answer = call(name, work);
    chan_t *after = chan_after(wait); /* time.After: a channel, released */
    char res[64];
    chan_case_t cases[] = {
        CHAN_RECV_CASE(answer, res),
        CHAN_RECV_CASE(after, NULL),
    };
    if (chan_select(cases, 2) == 0)
        printf("%s\n", res);
    else
        printf("%s: timed out\n", name);
    chan_release(after);
    chan_release(answer);
}

int main(void)
{
    /* The answer takes 200ms, we wait 100ms: the timeout wins. */
    wait_for("first", 200 * CHAN_MILLISECOND, 100 * CHAN_MILLISECOND);

    /* The answer takes 200ms, we wait 300ms: the answer wins. */
    wait_for("second", 200 * CHAN_MILLISECOND, 300 * CHAN_MILLISECOND);

    /* Go leaves the first call's goroutine to finish (or not) on its own.
     * It has answered by now, 100ms ago; C frees what it held there. */
    return 0;
}
