/* context.h: internal to gochan, never installed. Execution contexts and the
 * stacks they run on: the machine-dependent bottom of the scheduler.
 *
 * A context is an opaque pointer, the saved stack pointer of a suspended
 * stack; the registers live on that stack in a layout only the assembly
 * (switch_x86_64.S, switch_aarch64.S) knows. The sanitizers and valgrind are
 * told about switches by the caller (proc.c), not here.
 */
#ifndef GOCHAN_SCHED_CONTEXT_H
#define GOCHAN_SCHED_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *sched__ctx_t;

/* Saves the current context into *save and resumes to. Returns when some
 * thread switches back to *save. to must be a context made by
 * sched__ctx_make or saved by a switch, and not running anywhere. */
void sched__ctx_switch(sched__ctx_t *save, sched__ctx_t to);

/* The calling thread's floating-point control state (MXCSR and x87 control
 * word; FPCR), for sched__ctx_make. */
uint64_t sched__ctx_fpcontrol(void);

/* A new context on the stack whose highest address is top (exclusive): when
 * first switched to, it calls entry(arg), which must never return (it ends by
 * switching away for good), with the floating-point control state fpcontrol
 * (sched__ctx_fpcontrol's, read where the context is asked for: a new thread
 * inherits its creator's). */
sched__ctx_t sched__ctx_make(void *top, void (*entry)(void *), void *arg,
                             uint64_t fpcontrol);

/* A goroutine stack: [lo, lo + size), with an inaccessible guard of
 * SCHED__STACK_GUARD bytes just below lo, so an overflow faults instead of
 * overwriting another stack. */
typedef struct sched__stack {
    char *lo;
    size_t size;
    unsigned valgrind_id; /* VALGRIND_STACK_REGISTER's id, or 0 */
    bool lsan_root;       /* registered with LeakSanitizer (stack.c) */
} sched__stack_t;

#define SCHED__STACK_DEFAULT (256u * 1024u)
#define SCHED__STACK_MIN     (16u * 1024u)
#define SCHED__STACK_MAX     (1024u * 1024u * 1024u)

/* The guard below each stack (rounded up to a page): a frame or alloca up to
 * this size that runs off the stack lands in it and faults (the overflow
 * report), where a one-page guard let a 40 KB local array step over it into
 * the stack below. Stacks are mapped back to back, so a larger frame can
 * still skip it, as in any C program's thread stacks. Free with
 * MADV_GUARD_INSTALL (page-table markers, no mapping); otherwise a PROT_NONE
 * region of address space, no memory. go.h states it. */
#define SCHED__STACK_GUARD (64u * 1024u)

/* Free stacks are pooled without bound when goroutines end, so that ending
 * 100,000 of them costs no munmap each; sysmon trims the pool back to
 * SCHED__STACK_POOL_KEEP in the background (Go's scavenger), at most
 * SCHED__STACK_TRIM_BATCH a round once nobody has taken a stack from it or
 * given one back for SCHED__STACK_TRIM_QUIET_NS, and all of the excess when
 * every P goes idle. (A round's quiet was too short once dead gs kept their
 * stacks on their P: the pool then sees a batch every 32 goroutine exits,
 * and sysmon unmapped stacks in the middle of a daisy chain's pass, a
 * third of its time.) */
#define SCHED__STACK_POOL_KEEP 1024
/* Stacks mapped at once when none is free: 20 MiB of address space at the
 * default size, none of it memory until touched. */
#define SCHED__STACK_MAP_BATCH     64
#define SCHED__STACK_TRIM_BATCH    256
#define SCHED__STACK_TRIM_QUIET_NS (10 * 1000 * 1000)

/* A stack of the current size, from the pool or newly mapped: 0, or ENOMEM
 * (and *s is untouched). */
int sched__stack_get(sched__stack_t *s);

/* sched__stack_get, but of size bytes (rounded up to pages; 0: the current
 * size). A stack of another size is mapped alone, never pooled: put unmaps
 * it. size must lie in [SCHED__STACK_MIN, SCHED__STACK_MAX] or be 0. */
int sched__stack_get_size(sched__stack_t *s, size_t size);

/* Gives s back: into the pool, or unmapped when s is not of the current size
 * (or the pool cannot grow). No context may run on s any more. */
void sched__stack_put(sched__stack_t *s);

/* sched__stack_put for n stacks, under one lock of the pool per 64. */
void sched__stack_put_batch(sched__stack_t *s, size_t n);

/* s, a stack a dead g kept (or none: lo NULL), made ready for a goroutine
 * that wants size bytes (0: the current size): kept and revived if it is
 * that size and the current one, else given back and replaced, as
 * sched__stack_get_size; on ENOMEM *s has no stack. */
int sched__stack_keep_or_get(sched__stack_t *s, size_t size);

/* A stack kept out of the pool with its dead g (goroutine.c, as Go's gfput
 * keeps a g's stack): retire says nothing runs on it any more (valgrind
 * then reports any access), revive makes it usable again for a new
 * goroutine, as sched__stack_get does for a pooled one. */
void sched__stack_retire(sched__stack_t *s);
void sched__stack_revive(sched__stack_t *s);

/* Unmaps up to max pooled stacks beyond SCHED__STACK_POOL_KEEP (the most
 * recently freed ones: the pool is LIFO); returns how many. For sysmon. */
size_t sched__stack_trim(size_t max);

/* sched__stack_trim, but only once no stack has been taken or given back
 * for SCHED__STACK_TRIM_QUIET_NS before now (the caller's monotonic clock,
 * ns): trimming while goroutines start and end would put munmaps (and their
 * TLB shootdowns) in their way. */
size_t sched__stack_trim_if_quiet(size_t max, int64_t now);

/* The size of new stacks: GOCHAN_STACK_SIZE (bytes, rounded up to pages) if
 * it is set and between SCHED__STACK_MIN and SCHED__STACK_MAX, else
 * SCHED__STACK_DEFAULT. */
size_t sched__stack_size(void);

/* Sets the size of stacks made from now on (rounded up to pages): 0, or
 * EINVAL outside [SCHED__STACK_MIN, SCHED__STACK_MAX]. */
int sched__stack_set_size(size_t bytes);

/* For tests: free stacks in the pool now; unmaps them all; stacks mapped
 * now, in use, pooled or kept by dead gs. */
size_t sched__stack_pool_count(void);
size_t sched__stack_mapped_count(void);
void sched__stack_pool_drain(void);

/* In a forked child (proc.c): forgets the pool, which a parent thread may
 * have been changing at the fork, and starts an empty one. Its stacks stay
 * mapped, unused (the parent's goroutines do not exist in the child). */
void sched__stack_atfork_child(void);

/* True when guard pages cost a mapping each (mprotect), false when they are
 * madvise(MADV_GUARD_INSTALL) markers; valid after the first stack. */
int sched__stack_guard_is_mprotect(void);

/* For tests: install guards one madvise(2) at a time from now on, as on a
 * kernel before 6.15, instead of one process_madvise(2) per batch. */
void sched__stack_guards_one_by_one(void);

#endif /* GOCHAN_SCHED_CONTEXT_H */
