/* park_impl.h: internal to chan/'s parker, never installed. What park.c
 * shares with the half that CMake picks for the platform, as Go splits
 * lock_futex.go from lock_sema.go: park_futex.c where lock.h has the futex
 * (Linux: a futex word per parker, and goroutines park on the scheduler),
 * park_cond.c elsewhere (a mutex and condition variable per parker; there
 * is no scheduler there, so only threads wait). Each half defines
 * chan__parker_init, chan__parker_destroy, chan__ready_batched and
 * chan__wakeups_flush (park.h) and the two sleeping calls below; park.c
 * defines the rest of park.h on top of them.
 */
#ifndef GOCHAN_PARK_IMPL_H
#define GOCHAN_PARK_IMPL_H

#include <stdbool.h>

#include "park.h"

/* Sleeps until p's state is CHAN__PARK_WOKEN, read with acquire, so that
 * what the waker wrote into the waiter is visible. A goroutine parks with
 * reason as its wait reason (the dump's header). */
void chan__park_wait(chan__parker_t *p, sched_wait_reason_t reason);

/* Moves p's state to CHAN__PARK_WOKEN with release and wakes whoever sleeps
 * on it. The caller must not touch p afterwards (see chan__ready). */
void chan__park_wake(chan__parker_t *p);

/* The wait before a parked thread sleeps: spin, then yield. True once woken
 * (with acquire, as chan__park_wait). */
bool chan__park_spin(chan__parker_t *p);

#endif /* GOCHAN_PARK_IMPL_H */
