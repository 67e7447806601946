/* trace.h: internal to gochan, never installed; every layer may include it.
 * The execution tracer behind chan_trace_start (<gochan/debug.h>), Go's
 * runtime/trace: what each goroutine and plain thread did, on a timeline, in
 * the Chrome Trace Event Format (docs/trace.md). sched/trace.c holds it.
 *
 * Every hook is written as
 *
 *     if (sched__tracing())
 *         sched__trace_something(...);
 *
 * where the hook's event happens: a relaxed load of one global word and a
 * branch predicted not taken, nothing more while tracing is off. When it is
 * on, the calling thread appends a fixed-size binary record to a ring of its
 * own (per M, per plain thread: no lock, no shared cache line), and a writer
 * thread drains every ring, formats the JSON and write(2)s it, holding no
 * lock that a traced thread takes. A full ring drops the record and counts it
 * (the writer fell behind); the count is in the file's otherData.
 *
 * Goroutines are named by their goid (pid 1 in the file), plain threads by
 * their kernel thread id (pid 2). None of these calls parks or blocks (a ring
 * is taken from a small pool under a mutex on a thread's first event), so
 * they may be called with any lock held, on g0 included.
 */
#ifndef GOCHAN_SCHED_TRACE_H
#define GOCHAN_SCHED_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "waitreason.h"

/* Non-zero while a trace is being recorded. */
extern _Atomic int sched__trace_enabled;

static inline bool sched__tracing(void)
{
    return __builtin_expect(
        atomic_load_explicit(&sched__trace_enabled, memory_order_relaxed) != 0,
        0);
}

/* chan_trace_start and chan_trace_stop (see <gochan/debug.h>), with errno
 * values returned: 0, or EINVAL (NULL path / not tracing), EBUSY (already
 * tracing), open(2)'s errno, EAGAIN (no writer thread), or for stop the
 * write(2) error that ended the trace early (ENOSPC, EPIPE...). */
int sched__trace_start(const char *path);
int sched__trace_stop(void);

/* What a wait waits on, for the "object" of a block event. */
typedef enum sched__trace_obj {
    SCHED__TRACE_OBJ_NONE = 0,
    SCHED__TRACE_OBJ_CHAN,   /* obj: the channel, extra: its capacity */
    SCHED__TRACE_OBJ_SYNC,   /* obj: the Mutex, RWMutex, Cond, WaitGroup */
    SCHED__TRACE_OBJ_SELECT, /* extra: the number of cases */
    SCHED__TRACE_OBJ_FD,     /* extra: fd | mode << 32 (SCHED_POLL_*) */
    SCHED__TRACE_OBJ_TIMER,  /* obj: the timer */
} sched__trace_obj_t;

/* Monotonic nanoseconds, the trace's clock. */
int64_t sched__trace_now(void);

/* ---- goroutines (sched/) ------------------------------------------------ */

/* gp ran on P p / M m from start (sched__trace_now) until now. */
void sched__trace_running(uint64_t goid, int64_t start, int p, int m);
/* The calling goroutine or thread made goroutine goid to run fn. */
void sched__trace_create(uint64_t goid, void (*fn)(void *));
/* goid parked at ts (taken before it was published to its waker) for
 * reason, or for what the last sched__trace_wait_object on this thread
 * said. */
void sched__trace_block(uint64_t goid, int64_t ts, sched_wait_reason_t reason);
/* The calling goroutine or thread readied goid: an unblock with a wake
 * arrow from the caller's track. */
void sched__trace_unblock(uint64_t goid);
/* The network poller readied goid (no arrow). */
void sched__trace_unblock_netpoll(uint64_t goid);
/* goid returned or called Goexit. */
void sched__trace_end(uint64_t goid);
/* Drops what sched__trace_wait_object said (a park that used none). */
void sched__trace_wait_clear(void);

/* ---- any layer ----------------------------------------------------------
 */

/* Says what the calling goroutine or thread is about to wait on: its next
 * block event (goroutine) or blocked slice (thread) carries it. */
void sched__trace_wait_object(sched_wait_reason_t reason,
                              sched__trace_obj_t kind, const void *obj,
                              uint64_t extra);

/* A plain thread's wait, keyed by the address its waker will name (a
 * parker): begin before sleeping, end after waking; between the two a
 * sched__trace_thread_wake(key) from the waker draws the arrow. */
typedef struct sched__trace_twait {
    int64_t start;
    int slot; /* in the table of waits, -1 without */
    uint8_t reason, kind;
    const void *obj;
    uint64_t extra;
} sched__trace_twait_t;
void sched__trace_thread_wait_begin(sched__trace_twait_t *w, const void *key);
void sched__trace_thread_wait_end(sched__trace_twait_t *w);
void sched__trace_thread_wake(const void *key);

/* Instants on the caller's track: a channel closed, a timer fired. */
void sched__trace_chan_close(const void *c, uint64_t cap);
void sched__trace_timer_fire(const void *timer);

/* Names the calling thread's track "thread TID (label)"; label must be a
 * string literal. A thread labelled "timer" wakes goroutines "by timer". */
void sched__trace_thread_label(const char *label);

#endif /* GOCHAN_SCHED_TRACE_H */
