/* gochan/go.h: goroutine-style threads and Go's sync.WaitGroup.
 *
 * chan_go starts fn(arg) on a new detached thread with a small stack
 * (CHAN_GO_STACK_SIZE), as `go fn(arg)` does, so thousands can run at once.
 * arg stays owned by the caller and fn; gochan never touches it.
 */
#ifndef GOCHAN_GO_H
#define GOCHAN_GO_H

#include <pthread.h> /* kept for programs that rely on it */
#include <stdint.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The stack of a thread started by chan_go. */
#define CHAN_GO_STACK_SIZE (256u * 1024u)

/* go fn(arg): runs fn(arg) on a new detached thread. Returns CHAN_OK, or
 * CHAN_NOMEM with errno set (EAGAIN: no more threads; ENOMEM) when the thread
 * could not start, in which case fn never runs; CHAN_INVALID for a NULL fn. */
GOCHAN_API int chan_go(void (*fn)(void *arg), void *arg);

/* runtime.Gosched: lets other goroutines run; the caller goes on later, on
 * this or another thread. On a plain thread it yields the CPU. Any thread. */
GOCHAN_API void chan_gosched(void);

/* runtime.NumGoroutine, less one: how many functions started by chan_go are
 * running now (started and not yet returned). Go counts main too, so Go's
 * figure is this plus one. Any thread; a snapshot. */
GOCHAN_API int64_t chan_num_goroutine(void);

/* sync.WaitGroup. Initialise with CHAN_WAITGROUP_INIT or chan_waitgroup_init,
 * destroy with chan_waitgroup_destroy once no thread uses it. The struct
 * belongs to the caller and must outlive every call on it, the last Done and
 * Wait included; its fields are private. A Wait parks like a channel
 * operation, so Add, Done and Wait may be called from any thread. */
typedef struct chan_waitgroup {
    uint32_t lock_; /* private: gochan's runtime lock */
    int64_t count_; /* private: the counter */
    void *waiters_; /* private: the Waits parked until the counter is 0 */
} chan_waitgroup_t;

#define CHAN_WAITGROUP_INIT                                                    \
    {                                                                          \
        0, 0, NULL                                                             \
    }

GOCHAN_API void chan_waitgroup_init(chan_waitgroup_t *wg);
GOCHAN_API void chan_waitgroup_destroy(chan_waitgroup_t *wg);

/* wg.Add(delta). Returns CHAN_OK, or CHAN_INVALID (and changes nothing) when
 * the counter would go negative, where Go panics, or wg is NULL. */
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
