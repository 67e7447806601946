/* traceback.h: internal to gochan, never installed. Go's traceback for the
 * goroutine dump (chan/debug.c): every goroutine's frames, unwound from the
 * registers its last switch saved, and the line that created it.
 *
 * Built when the scheduler is and pkg-config finds elfutils' libdw (CMake
 * option GOCHAN_STACKS, GOCHAN_HAVE_STACKS): libdw unwinds a copy of each
 * parked goroutine's stack and names the frames (function, file:line). A
 * plain thread's own frames are taken when it blocks, with glibc's
 * backtrace() (libunwind's validates addresses by writing them to a pipe,
 * which valgrind reports). Without them, sched_traceback_begin
 * returns NULL and the dump keeps its one-line-per-operation form.
 *
 * Safe while goroutines start, run and end: a goroutine's stack is copied
 * (process_vm_readv, which fails instead of faulting) between two reads of
 * its sequence count (proc.h, schedgen), and kept only if the count is the
 * same and even, i.e. it neither ran nor was remade meanwhile. Nothing is
 * ever read from a stack but through that copy; a goroutine whose stack
 * cannot be read is listed without frames.
 */
#ifndef GOCHAN_SCHED_TRACEBACK_H
#define GOCHAN_SCHED_TRACEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "waitreason.h"

#define SCHED_TRACEBACK_MAX 64 /* frames kept per stack */

typedef enum sched_gstate {
    SCHED_GSTATE_RUNNABLE, /* "runnable" */
    SCHED_GSTATE_RUNNING,  /* "running": its stack cannot be read */
    SCHED_GSTATE_WAITING,  /* parked; reason says why */
} sched_gstate_t;

/* One goroutine, as the traceback saw it. */
typedef struct sched_gtrace {
    uint64_t goid;
    uint64_t parentgoid; /* 0: started by a plain thread */
    sched_gstate_t state;
    sched_wait_reason_t reason;         /* when WAITING */
    uintptr_t gopc;                     /* the go statement's return address */
    bool unavailable;                   /* no consistent copy of its stack */
    size_t npcs;                        /* frames in pcs, innermost first */
    uintptr_t pcs[SCHED_TRACEBACK_MAX]; /* return addresses */
} sched_gtrace_t;

/* A session: the process's modules as they are now, for unwinding and
 * naming. NULL when this build has no tracebacks or memory ran out. Used by
 * one thread at a time. */
typedef struct sched_traceback sched_traceback_t;
sched_traceback_t *sched_traceback_begin(void);
void sched_traceback_end(sched_traceback_t *tb);

/* Calls fn for every live goroutine (not dead), oldest first; returns how
 * many. fn must not start goroutines. */
size_t sched_traceback_goroutines(sched_traceback_t *tb,
                                  void (*fn)(const sched_gtrace_t *t,
                                             void *arg),
                                  void *arg);

/* Writes frames Go's way: "function()" then "\tfile:line +0xoffset" (or the
 * module's path when there is no line information). gochan's own switch
 * frames (sched__*) are left out; the walk ends at the goroutine's entry. */
void sched_traceback_print(sched_traceback_t *tb, FILE *out,
                           const uintptr_t *pcs, size_t n);

/* "created by function in goroutine N" and its "\tfile:line" line. */
void sched_traceback_print_creator(sched_traceback_t *tb, FILE *out,
                                   uintptr_t gopc, uint64_t parentgoid);

/* The calling thread's return addresses, innermost first, leaving out the
 * first skip; 0 when this build has no tracebacks. For a plain thread that
 * blocks while the dump records (chan/debug.c). */
size_t sched_traceback_here(uintptr_t *pcs, size_t max, size_t skip);

#endif /* GOCHAN_SCHED_TRACEBACK_H */
