/* stacks.c: the goroutine dump's stack traces (Go's traceback in its
 * goroutine dump), below the one-line list of blocked operations that
 * chan/debug.c prints.
 *
 * Every live goroutine is listed, from the scheduler's allgs and not only
 * those recorded while recording was on, under Go's header
 * ("goroutine 7 [chan receive, 2 minutes]:"), with its frames and the line
 * that created it; then every plain thread blocked in a recorded operation,
 * with the frames it had when it blocked. The minutes come from the
 * operation's record, when there is one. The unwinding is sched/'s
 * (traceback.h); without it this file adds nothing to the dump.
 */
#include "blocked.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "traceback.h"

/* One record, as copied under the registry lock. */
struct stacks_rec {
    uint64_t goid; /* 0: a plain thread */
    long tid;
    sched_wait_reason_t reason;
    int64_t since;
    uintptr_t *pcs; /* a plain thread's frames (owned copy) */
    size_t npcs;
};

struct chan__stacks {
    sched_traceback_t *tb;
    size_t n;
    struct stacks_rec recs[];
};

void chan__stacks_here(chan__blocked_t *b)
{
    b->pcs = NULL;
    b->npcs = 0;
    if (b->goid != 0) /* a goroutine's stack is read at dump time */
        return;
    uintptr_t pcs[SCHED_TRACEBACK_MAX];
    /* skip this function and chan__debug_block */
    size_t n = sched_traceback_here(pcs, SCHED_TRACEBACK_MAX, 2);
    if (n == 0 || !(b->pcs = malloc(n * sizeof *pcs)))
        return;
    memcpy(b->pcs, pcs, n * sizeof *pcs);
    b->npcs = n;
}

chan__stacks_t *chan__stacks_collect(const chan__blocked_t *registry)
{
    size_t n = 0;
    for (const chan__blocked_t *b = registry; b; b = b->next)
        n++;
    chan__stacks_t *st = malloc(sizeof *st + n * sizeof st->recs[0]);
    if (!st)
        return NULL;
    st->tb = NULL; /* begun by print, outside the registry lock */
    st->n = 0;
    for (const chan__blocked_t *b = registry; b; b = b->next) {
        struct stacks_rec *r = &st->recs[st->n++];
        r->goid = b->goid;
        r->tid = b->tid;
        r->reason = b->reason;
        r->since = b->since;
        r->pcs = NULL;
        r->npcs = 0;
        if (b->npcs && (r->pcs = malloc(b->npcs * sizeof *b->pcs))) {
            memcpy(r->pcs, b->pcs, b->npcs * sizeof *b->pcs);
            r->npcs = b->npcs;
        }
    }
    return st;
}

/* Go's ", N minutes" after the wait reason, from 1 minute on. */
static void print_minutes(FILE *out, int64_t since, int64_t now)
{
    int64_t minutes = (now - since) / (60 * (int64_t)1000000000);
    if (since > 0 && minutes >= 1)
        fprintf(out, ", %" PRId64 " minutes", minutes);
}

struct print_arg {
    FILE *out;
    chan__stacks_t *st;
    int64_t now;
};

static void print_goroutine(const sched_gtrace_t *t, void *arg)
{
    struct print_arg *pa = arg;
    FILE *out = pa->out;
    fprintf(out, "\ngoroutine %" PRIu64 " [", t->goid);
    switch (t->state) {
    case SCHED_GSTATE_RUNNING:
        fputs("running", out);
        break;
    case SCHED_GSTATE_RUNNABLE:
        fputs("runnable", out);
        break;
    case SCHED_GSTATE_WAITING: {
        const char *why = sched_wait_reason_string(t->reason);
        fputs(*why ? why : "waiting", out);
        for (size_t i = 0; i < pa->st->n; i++)
            if (pa->st->recs[i].goid == t->goid) {
                print_minutes(out, pa->st->recs[i].since, pa->now);
                break;
            }
        break;
    }
    }
    fputs("]:\n", out);
    if (t->state == SCHED_GSTATE_RUNNING)
        fputs("\tgoroutine running on other thread; stack unavailable\n", out);
    else if (t->unavailable)
        fputs("\tstack unavailable\n", out);
    else
        sched_traceback_print(pa->st->tb, out, t->pcs, t->npcs);
    sched_traceback_print_creator(pa->st->tb, out, t->gopc, t->parentgoid);
}

void chan__stacks_print(FILE *out, chan__stacks_t *st, int64_t now)
{
    if (!st)
        return;
    st->tb = sched_traceback_begin(); /* NULL: no stack traces */
    struct print_arg pa = {out, st, now};
    if (st->tb)
        sched_traceback_goroutines(st->tb, print_goroutine, &pa);
    for (size_t i = 0; i < st->n && st->tb; i++) {
        struct stacks_rec *r = &st->recs[i];
        if (r->goid != 0)
            continue;
        fprintf(out, "\nthread %ld [%s", r->tid,
                sched_wait_reason_string(r->reason));
        print_minutes(out, r->since, now);
        fputs("]:\n", out);
        if (r->npcs)
            sched_traceback_print(st->tb, out, r->pcs, r->npcs);
        else
            fputs("\tstack unavailable\n", out);
    }
    for (size_t i = 0; i < st->n; i++)
        free(st->recs[i].pcs);
    sched_traceback_end(st->tb);
    free(st);
}
