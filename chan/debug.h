/* debug.h: internal to gochan, never installed. The registry behind
 * gochan/debug.h: blocked operations record themselves while they sleep. */
#ifndef GOCHAN_DEBUG_IMPL_H
#define GOCHAN_DEBUG_IMPL_H

#include <gochan/select.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One blocked operation, on the blocked thread's stack. */
typedef struct chan__blocked {
    struct chan__blocked *next, *prev; /* protected by the registry lock */
    long tid;                          /* the kernel's thread id */
    const char *op;           /* "chan send", "chan receive", "select" */
    chan_t *c;                /* send and receive */
    const chan_case_t *cases; /* select: the caller's cases */
    size_t ncases;
    int64_t since; /* chan_now() when it blocked */
} chan__blocked_t;

extern atomic_int chan__debug_state; /* 0 unknown, 1 off, 2 on */

bool chan__debug_enabled_slow(void);

/* Whether blocking operations should record themselves: one relaxed load. */
static inline bool chan__debug_enabled(void)
{
    int state = atomic_load_explicit(&chan__debug_state, memory_order_relaxed);
    return state == 2 || (state == 0 && chan__debug_enabled_slow());
}

/* Records b (filled in by the caller but for tid and since) until unblock. */
void chan__debug_block(chan__blocked_t *b);
void chan__debug_unblock(chan__blocked_t *b);

/* Blocks forever (nil channel, select {}), recorded when enabled. */
_Noreturn void chan__debug_block_forever(const char *op,
                                         const chan_case_t *cases, size_t n);

#endif
