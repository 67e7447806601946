/* waitgroup.c: sync.WaitGroup (declared in <gochan/go.h>), after
 * sync/waitgroup.go.
 *
 * state_ packs the counter (high 32 bits, signed, as Go's int32) and the
 * number of Waits asleep (low 32 bits) into one word, so that the Add that
 * takes the counter to zero learns in the same atomic step how many to wake,
 * and a Wait counts itself in only while the counter is not zero. Waits
 * sleep on the semaphore sema_ (sema.h), which that Add releases once per
 * waiter. Everything lives in the caller's zeroed struct: nothing to set up
 * and nothing to destroy.
 *
 * Where Go's Add adds first and panics on a negative counter, gochan's
 * computes the new word and exchanges it only if it is valid, so a refused
 * Add changes nothing. The exchange that empties the counter also clears
 * the waiters (Go stores 0 just after), so no Wait can slip in between.
 */
#include "sema.h"

#include <gochan/go.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "race.h"

_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t) &&
                   _Alignof(_Atomic uint64_t) == _Alignof(uint64_t),
               "an atomic uint64_t has the layout of a uint64_t");

#define COUNTER_SHIFT 32

static _Atomic uint64_t *wg_state(chan_waitgroup_t *wg)
{
    return (_Atomic uint64_t *)&wg->state_;
}

static int32_t counter_of(uint64_t state)
{
    return (int32_t)(uint32_t)(state >> COUNTER_SHIFT);
}

static uint32_t waiters_of(uint64_t state)
{
    return (uint32_t)state;
}

void chan_waitgroup_init(chan_waitgroup_t *wg)
{
    if (wg)
        *wg = (chan_waitgroup_t)CHAN_WAITGROUP_INIT;
}

void chan_waitgroup_destroy(chan_waitgroup_t *wg)
{
    (void)wg; /* nothing to free: kept for gochan 0.1's callers */
}

/* The state after adding delta to old's counter, or false when the counter
 * would leave 0 .. INT32_MAX (Go: negative panics, beyond wraps negative).
 * A counter back at zero takes the waiters with it: the caller wakes them. */
static bool next_state(uint64_t old, int64_t delta, uint64_t *new)
{
    int64_t v = counter_of(old); /* 0 .. INT32_MAX: the sums cannot overflow */
    if (delta < -v || delta > INT32_MAX - v)
        return false;
    v += delta;
    *new =
        v == 0 ? 0 : (uint64_t)v << COUNTER_SHIFT | (uint64_t)waiters_of(old);
    return true;
}

int chan_waitgroup_add(chan_waitgroup_t *wg, int64_t delta)
{
    if (!wg)
        return CHAN_INVALID;
    /* Go's race.ReleaseMerge: every Done happens before the Wait it ends. */
    if (delta < 0)
        sched__race_release(wg);
    _Atomic uint64_t *state = wg_state(wg);
    uint64_t old = atomic_load(state), new;
    do {
        if (!next_state(old, delta, &new))
            return CHAN_INVALID; /* Go: "sync: negative WaitGroup counter" */
    } while (!atomic_compare_exchange_weak(state, &old, new));
    if (new != 0 || counter_of(old) == 0)
        return CHAN_OK; /* still counting, or nothing changed */
    for (uint32_t w = waiters_of(old); w != 0; w--)
        sync__semrelease(&wg->sema_, false);
    return CHAN_OK;
}

int chan_waitgroup_done(chan_waitgroup_t *wg)
{
    return chan_waitgroup_add(wg, -1);
}

void chan_waitgroup_wait(chan_waitgroup_t *wg)
{
    if (!wg)
        return;
    _Atomic uint64_t *state = wg_state(wg);
    uint64_t old = atomic_load(state);
    while (counter_of(old) != 0) {
        /* Count ourselves in only while the counter is still not zero. */
        if (atomic_compare_exchange_weak(state, &old, old + 1)) {
            sync__semacquire(&wg->sema_, false, SCHED_WAIT_SYNC_WAITGROUP_WAIT,
                             wg);
            break;
        }
    }
    sched__race_acquire(wg); /* Go's race.Acquire: after every Done */
}

/* wg.Go(f): Add(1), then a goroutine that runs f and calls Done. */
struct wg_start {
    chan_waitgroup_t *wg;
    void (*fn)(void *);
    void *arg;
};

static void wg_trampoline(void *p)
{
    struct wg_start start = *(struct wg_start *)p;
    free(p);
    start.fn(start.arg);
    chan_waitgroup_done(start.wg);
}

int chan_waitgroup_go(chan_waitgroup_t *wg, void (*fn)(void *arg), void *arg)
{
    if (!wg || !fn)
        return CHAN_INVALID;
    struct wg_start *start = malloc(sizeof *start);
    if (!start) {
        errno = ENOMEM;
        return CHAN_NOMEM;
    }
    *start = (struct wg_start){wg, fn, arg};
    int status = chan_waitgroup_add(wg, 1);
    if (status == CHAN_OK) {
        status = chan_go(wg_trampoline, start);
        if (status != CHAN_OK) {
            int saved = errno;
            chan_waitgroup_add(wg, -1);
            errno = saved;
        }
    }
    if (status != CHAN_OK)
        free(start);
    return status;
}
