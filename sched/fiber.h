/* fiber.h: internal to gochan, never installed. A context plus what
 * AddressSanitizer and ThreadSanitizer must be told when it is switched to:
 * every switch in the scheduler goes through sched__fiber_switch, so that the
 * sanitizers follow goroutines from stack to stack and thread to thread.
 * (valgrind is told about stacks when they are mapped, in stack.c.)
 *
 * ThreadSanitizer: each goroutine is a TSan fiber. Switches synchronise
 * (flag 0): a switch on one thread does order what ran before it before what
 * runs after it. Across threads, TSan sees only the scheduler's own atomics,
 * which is what checks them.
 */
#ifndef GOCHAN_SCHED_FIBER_H
#define GOCHAN_SCHED_FIBER_H

#include <stddef.h>

#include "context.h"

typedef struct sched__fiber {
    sched__ctx_t ctx;      /* saved while switched out; NULL: never run */
    void (*entry)(void *); /* what a fiber never run starts with */
    void *entry_arg;
    uint64_t fpcontrol;   /* and its FP control state (its maker's) */
    const void *stack_lo; /* the stack this fiber runs on (ASan too) */
    size_t stack_size;
    void *asan_fake_stack; /* ASan: its fake stack while switched out */
    void *tsan;            /* TSan: its fiber */
} sched__fiber_t;

/* The calling thread's own stack, as a fiber to switch from and back to: an
 * M's g0. */
void sched__fiber_init_thread(sched__fiber_t *f);

/* A new fiber on st that, when first switched to, runs entry(arg). entry must
 * call sched__fiber_started() first, and never return: it ends with
 * sched__fiber_exit. Nothing is written to st until that first switch: the
 * first touch of a fresh stack page is a page fault (microseconds on a VM),
 * and it then falls on the thread that runs the fiber, not on its maker, so
 * that a thread starting many goroutines does not pay for them all. */
void sched__fiber_make(sched__fiber_t *f, const sched__stack_t *st,
                       void (*entry)(void *), void *arg);
void sched__fiber_started(void);

/* Switches from the running fiber, from, to to; returns when some thread
 * switches back to from. */
void sched__fiber_switch(sched__fiber_t *from, sched__fiber_t *to);

/* Asks for the lines of to's saved frames all at once, from its stack
 * pointer up to SCHED__FIBER_PREFETCH bytes (a goroutine parked in a channel
 * receive has 736 bytes of frames) or its stack's top, so that a switch to
 * a fiber that slept long does not return through them one miss after
 * another. Call it well before the switch: the lines take a memory's
 * latency to come. A fiber never run has nothing to fetch. */
void sched__fiber_prefetch(const sched__fiber_t *to);

/* Switches for good from the running fiber, which will never run again. Its
 * stack may be reused, and the fiber destroyed, once the switch is done, from
 * the fiber switched to. */
_Noreturn void sched__fiber_exit(sched__fiber_t *from, sched__fiber_t *to);

/* Frees what the sanitizers keep for a fiber made by sched__fiber_make that
 * is not running and never will again. */
void sched__fiber_destroy(sched__fiber_t *f);

#endif /* GOCHAN_SCHED_FIBER_H */
