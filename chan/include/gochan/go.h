/* gochan/go.h: goroutines and Go's sync.WaitGroup.
 *
 * chan_go starts fn(arg) as a goroutine, as `go fn(arg)` does: a coroutine
 * with its own stack (CHAN_GO_STACK_SIZE of virtual memory, of which a
 * blocked goroutine touches about a page; GOCHAN_STACK_SIZE sets it), run by
 * gochan's scheduler on GOMAXPROCS worker threads (the CPUs this process may
 * use; GOCHAN_MAXPROCS sets it). A million can wait at once. Every wait in
 * gochan (channels, select, timers, WaitGroup, errgroup, context) parks the
 * goroutine and frees its thread for others; plain threads (main, or any
 * pthread) share every channel with goroutines and wait on their own. The
 * first chan_go starts the threads; a program that never calls it has none.
 * GOCHAN_SCHED=0 makes every chan_go a kernel thread instead (as gochan 0.1).
 * arg stays owned by the caller and fn; gochan never touches it.
 *
 * What C code on a goroutine must know:
 *  - It may resume on another thread after any call that can wait in gochan.
 *    Do not keep errno, the address of a thread-local, or pthread_self()
 *    across such a call (compilers cache all three), and do not hold a
 *    pthread_mutex_t across one.
 *  - Blocking outside gochan (read(), a foreign lock) or computing for long
 *    holds a worker thread; the scheduler's monitor hands the other
 *    goroutines of that processor to another thread, as Go's sysmon does:
 *    within tens of microseconds once the thread sleeps in the kernel while
 *    they wait, after ~10 ms otherwise. chan_gosched() yields at once. For
 *    code that needs one thread of its own for its whole life, use
 *    chan_go_locked.
 *  - Its stack is fixed (CHAN_GO_STACK_SIZE), with a 64 KiB guard below it:
 *    an overflow, by deep recursion or by a frame or alloca of up to 64 KiB,
 *    stops the process with "gochan: goroutine N stack overflow". A single
 *    frame or alloca larger than 64 KiB can skip the guard and write over
 *    another goroutine's stack, as it can skip a thread's guard in any C
 *    program: put large buffers on the heap, or raise GOCHAN_STACK_SIZE.
 *  - End a goroutine by returning from fn or with chan_goexit, never with
 *    pthread_exit.
 *  - No function of gochan may be called from a C signal handler (see
 *    chan.h): use chan_signal_notify (<gochan/signal.h>), the Go way.
 *  - A child made by fork() starts with no goroutines (the parent's do not
 *    run there) and may start its own; a goroutine that forks goes on in
 *    the child as a plain thread, and should end with _exit or exec.
 */
#ifndef GOCHAN_GO_H
#define GOCHAN_GO_H

#include <pthread.h> /* kept for programs that rely on it */
#include <stddef.h>
#include <stdint.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default stack of a goroutine (virtual memory, committed as touched),
 * and of a thread started by chan_go_locked or with GOCHAN_SCHED=0. */
#define CHAN_GO_STACK_SIZE (256u * 1024u)

/* go fn(arg): starts fn(arg) as a goroutine. Returns CHAN_OK, or CHAN_NOMEM
 * with errno set (ENOMEM: no memory for its stack; EAGAIN: no thread could
 * be started) when it could not start, in which case fn never runs and
 * nothing changed; CHAN_INVALID for a NULL fn. Any thread or goroutine. */
GOCHAN_API int chan_go(void (*fn)(void *arg), void *arg);

/* go fn(a, b, c), whose arguments Go copies at the go statement: starts fn
 * as chan_go does, with a private copy of the size bytes at args, so the
 * caller's struct may go out of scope as soon as the call returns. fn
 * receives a pointer to the copy (suitably aligned for any type), which
 * lives until fn returns and is fn's to read and write; gochan frees it
 * then. Pointers inside the struct are copied as pointers: what they point
 * to stays the caller's business. A copy of up to CHAN_GO_ARGS_INLINE bytes
 * is kept in the goroutine's own record and costs no allocation; a larger
 * one costs one malloc (and on GOCHAN_SCHED=0 threads, the thread's start
 * record holds it). size 0 gives fn a valid pointer to no bytes (args may
 * then be NULL). Same results as chan_go, and CHAN_INVALID (fn never runs)
 * for a NULL fn or a NULL args with size > 0. Any thread or goroutine. */
#define CHAN_GO_ARGS_INLINE 64u
GOCHAN_API int chan_go_args(void (*fn)(void *args), const void *args,
                            size_t size);

/* Bounds of chan_go_stack's stack_size: 16 KiB to 1 GiB. */
#define CHAN_GO_STACK_MIN (16u * 1024u)
#define CHAN_GO_STACK_MAX (1024u * 1024u * 1024u)

/* chan_go for the rare goroutine that needs a bigger stack than
 * CHAN_GO_STACK_SIZE (deep recursion, a large local array): fn(arg) runs on
 * a stack of stack_size bytes, rounded up to whole pages (0: the default).
 * The stack is virtual memory committed as touched, with the same guard
 * below it. Default-size stacks are pooled and reused; one of any other
 * size is mapped for this goroutine alone and unmapped when it returns (an
 * mmap and a munmap more than chan_go). With GOCHAN_SCHED=0 it is the
 * thread's stack size. Returns as chan_go does, and CHAN_INVALID (fn never
 * runs) for a NULL fn or a stack_size outside [CHAN_GO_STACK_MIN,
 * CHAN_GO_STACK_MAX] other than 0. Any thread or goroutine. */
GOCHAN_API int chan_go_stack(void (*fn)(void *arg), void *arg,
                             size_t stack_size);

/* go fn(arg) with runtime.LockOSThread for its whole life: fn runs on a new
 * kernel thread of its own, outside the scheduler, where its waits park the
 * thread. Same results as chan_go. */
GOCHAN_API int chan_go_locked(void (*fn)(void *arg), void *arg);

/* runtime.Gosched: lets other goroutines run; the caller goes on later, on
 * this or another thread. On a plain thread it yields the CPU. Any thread. */
GOCHAN_API void chan_gosched(void);

/* runtime.Goexit: ends the calling goroutine at once, as if its fn had
 * returned: its stack is freed and chan_num_goroutine counts it no more.
 * Go runs the goroutine's deferred calls first; C has none, so whatever fn
 * must undo (locks, references, a WaitGroup's Done) is the caller's to do
 * before. On a chan_go_locked (or GOCHAN_SCHED=0) thread it ends the thread
 * the same way. On a plain thread (main, a pthread) it calls pthread_exit,
 * as Go's Goexit on the main goroutine ends main and lets the others run:
 * the process exits when the last thread does.
 * Never call pthread_exit on a goroutine: the goroutine would stay counted
 * forever, its stack never freed, and its worker thread would be gone with
 * the scheduler's state on it. Does not return. */
GOCHAN_API void chan_goexit(void) __attribute__((__noreturn__));

/* runtime.NumGoroutine, less one: how many functions started by chan_go are
 * running now (started and not yet returned). Go counts main too, so Go's
 * figure is this plus one. Any thread; a snapshot. */
GOCHAN_API int64_t chan_num_goroutine(void);

/* sync.WaitGroup, built by sync/ on the semaphores of Mutex and Cond (see
 * <gochan/sync.h>) and declared here, beside chan_go, where gochan 0.1 put
 * it. Like those, its zero value (a static or calloc'd one, or
 * CHAN_WAITGROUP_INIT) is ready and there is nothing to destroy; the struct
 * belongs to the caller and must outlive every call on it, the last Done and
 * Wait included; its fields are private. A Wait parks like a channel
 * operation, so Add, Done and Wait may be called from any thread. */
typedef struct chan_waitgroup {
    uint32_t sema_;  /* private: the semaphore Waits sleep on */
    uint64_t state_; /* private: the counter << 32 | the Waits asleep */
    void *unused_;   /* private: keeps gochan 0.1's size */
} chan_waitgroup_t;

#define CHAN_WAITGROUP_INIT                                                    \
    {                                                                          \
        0, 0, NULL                                                             \
    }

/* chan_waitgroup_init zeroes wg (the same as CHAN_WAITGROUP_INIT);
 * chan_waitgroup_destroy does nothing, kept for gochan 0.1's callers. */
GOCHAN_API void chan_waitgroup_init(chan_waitgroup_t *wg);
GOCHAN_API void chan_waitgroup_destroy(chan_waitgroup_t *wg);

/* wg.Add(delta). Returns CHAN_OK, or CHAN_INVALID (and changes nothing) when
 * the counter would go negative, where Go panics, or above INT32_MAX (Go's
 * counter is an int32, which wraps negative and panics), or wg is NULL. */
GOCHAN_API int chan_waitgroup_add(chan_waitgroup_t *wg, int64_t delta);

/* wg.Done(): chan_waitgroup_add(wg, -1). */
GOCHAN_API int chan_waitgroup_done(chan_waitgroup_t *wg);

/* wg.Wait(): blocks until the counter is zero. */
GOCHAN_API void chan_waitgroup_wait(chan_waitgroup_t *wg);

/* wg.Go(f) (Go 1.25): Add(1), then chan_go a thread that runs fn(arg) and
 * calls Done. Returns chan_go's status; on failure the counter is unchanged. */
GOCHAN_API int chan_waitgroup_go(chan_waitgroup_t *wg, void (*fn)(void *arg),
                                 void *arg);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_GO_H */
