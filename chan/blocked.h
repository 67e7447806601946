/* blocked.h: internal to gochan, never installed. The registry behind
 * <gochan/debug.h>: blocked operations record themselves while they sleep,
 * with Go's wait reasons (sched/internal/waitreason.h, the one list). select/
 * describes its own cases through a callback, so this layer knows nothing of
 * select's types.
 */
#ifndef GOCHAN_BLOCKED_H
#define GOCHAN_BLOCKED_H

#include <gochan/chan.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"
#include "waitreason.h"

/* A select's case i, as the dump shows it: its channel (NULL for nil) and
 * whether it sends. */
typedef void (*chan__case_at_fn)(const void *cases, size_t i, chan_t **c,
                                 bool *send);

/* One blocked operation, on the blocked thread's stack. */
typedef struct chan__blocked {
    struct chan__blocked *next, *prev; /* protected by the registry lock */
    long tid;                          /* the kernel's thread id */
    uint64_t goid; /* the goroutine's id, or 0 for a plain thread */
    sched_wait_reason_t reason; /* Go's waitReason (waitreason.h) */
    chan_t *c;                  /* send and receive */
    const void *sync_obj; /* sync.*: the Mutex, RWMutex, Cond or WaitGroup */
    const void *cases;    /* select: the caller's cases, opaque here */
    chan__case_at_fn case_at; /* select: reads one of cases */
    size_t ncases;
    int fd;        /* IO wait: the descriptor */
    int64_t since; /* chan_now() when it blocked */
    /* A plain thread's frames when it blocked (malloc'd, innermost first),
     * for the dump's stack traces; NULL without them (chan/stacks.c). */
    uintptr_t *pcs;
    size_t npcs;
    bool listed; /* in the registry (debug on), not only traced */
} chan__blocked_t;

extern atomic_int chan__debug_state; /* 0 unknown, 1 off, 2 on */

bool chan__debug_enabled_slow(void);

/* Whether blocking operations should record themselves: one relaxed load,
 * and the tracer's (an execution trace names what each wait waits on). */
static inline bool chan__debug_enabled(void)
{
    int state = atomic_load_explicit(&chan__debug_state, memory_order_relaxed);
    return state == 2 || (state == 0 && chan__debug_enabled_slow()) ||
           sched__tracing();
}

/* Records b (filled in by the caller but for tid and since) until unblock. */
void chan__debug_block(chan__blocked_t *b);
void chan__debug_unblock(chan__blocked_t *b);

/* Parks p for b->reason with b recorded (chan__debug_block) while it sleeps:
 * for callers that found chan__debug_enabled(), so that the others build no
 * record at all (zeroing one was a twentieth of a goroutine handoff). */
struct chan__parker;
void chan__park_recorded(struct chan__parker *p, chan__blocked_t *b);

/* Blocks forever (nil channel, select {}, a select of nil channels only),
 * recorded when enabled. b is filled in as for chan__debug_block. */
_Noreturn void chan__debug_block_forever(chan__blocked_t *b);

/* The dump's stack traces (chan/stacks.c), when this build has them: the
 * registry's records copied under its lock by collect (NULL: no stacks, or
 * no memory), then printed Go's way, and freed, by print. here takes a plain
 * thread's frames for chan__debug_block. */
typedef struct chan__stacks chan__stacks_t;
chan__stacks_t *chan__stacks_collect(const chan__blocked_t *registry);
void chan__stacks_print(FILE *out, chan__stacks_t *st, int64_t now);
void chan__stacks_here(chan__blocked_t *b);

#endif /* GOCHAN_BLOCKED_H */
