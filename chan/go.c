/* go.c: chan_go and its variants (goroutines on the scheduler, or detached
 * threads). Go's sync.WaitGroup, declared beside them in go.h, is
 * sync/waitgroup.c's.
 *
 * Where sched/ builds the scheduler, chan_go can start a goroutine on it
 * (sched_go) instead of a kernel thread. Which one is chosen once per
 * process: GOCHAN_SCHED=1 in the environment asks for goroutines, =0 for
 * threads, and without it the build's default (CMake GOCHAN_SCHED_DEFAULT)
 * applies.
 */
#include <gochan/go.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chan_test_hooks.h"
#include "scheduler.h"
#include "thread.h"

#ifndef GOCHAN_SCHED_DEFAULT
#define GOCHAN_SCHED_DEFAULT 1
#endif

_Static_assert(CHAN_GO_STACK_SIZE == SCHED__THREAD_STACK_SIZE,
               "chan_go's threads have the stack go.h promises");
_Static_assert(CHAN_GO_ARGS_INLINE == SCHED__G_ARGS_INLINE,
               "chan_go_args copies as much into the g as go.h promises");

static _Atomic uint64_t threads_started;

/* Whether chan_go starts goroutines on the scheduler (see the top): never
 * in a build without one, whatever the environment asks. */
static bool go_on_scheduler(void)
{
    static _Atomic int mode; /* 0 not yet read, 1 threads, 2 scheduler */
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (m == 0) {
        const char *env = getenv("GOCHAN_SCHED");
        bool on = env ? strcmp(env, "0") != 0 : GOCHAN_SCHED_DEFAULT;
        m = on && sched_supported() ? 2 : 1;
        atomic_store_explicit(&mode, m, memory_order_relaxed);
    }
    return m == 2;
}

/* chan_go's and chan_go_locked's answer for a start that returned err. */
static int go_started(int err)
{
    if (err) {
        errno = err;
        return CHAN_NOMEM;
    }
    atomic_fetch_add_explicit(&threads_started, 1, memory_order_relaxed);
    return CHAN_OK;
}

int chan_go(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return CHAN_INVALID;
    int err = go_on_scheduler()
                  ? sched_go_at(__builtin_return_address(0), fn, arg, 0)
                  : sched__thread_go(fn, arg);
    return go_started(err);
}

int chan_go_stack(void (*fn)(void *arg), void *arg, size_t stack_size)
{
    if (!fn || (stack_size != 0 && (stack_size < CHAN_GO_STACK_MIN ||
                                    stack_size > CHAN_GO_STACK_MAX)))
        return CHAN_INVALID;
    int err =
        go_on_scheduler()
            ? sched_go_at(__builtin_return_address(0), fn, arg, stack_size)
            : sched__thread_go_with(fn, arg, false, 0, stack_size);
    return go_started(err);
}

int chan_go_args(void (*fn)(void *args), const void *args, size_t size)
{
    if (!fn || (!args && size > 0))
        return CHAN_INVALID;
    int err =
        go_on_scheduler()
            ? sched_go_copy_at(__builtin_return_address(0), fn, args, size, 0)
            : sched__thread_go_with(fn, args, true, size, 0);
    return go_started(err);
}

int chan_go_locked(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return CHAN_INVALID;
    return go_started(sched_go_locked(fn, arg));
}

void chan_gosched(void)
{
    sched_gosched(); /* sched_yield() on a plain thread */
}

void chan_goexit(void)
{
    sched_goexit(); /* returns only on a plain thread */
    sched__thread_goexit();
}

int64_t chan_num_goroutine(void)
{
    return sched__thread_go_running() + sched_num_goroutine();
}

bool chan__go_on_scheduler(void)
{
    return go_on_scheduler();
}

uint64_t chan__go_started(void)
{
    return atomic_load_explicit(&threads_started, memory_order_relaxed);
}
