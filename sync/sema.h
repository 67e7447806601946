/* sema.h: internal to sync/, never installed. Go's runtime/sema.go: the
 * semaphores that sync's Mutex and RWMutex sleep on, and the ticket-ordered
 * notify list under Cond.
 *
 * A semaphore is a uint32_t count anywhere in memory (a field of the user's
 * struct). Waiters queue on one of a fixed table of roots chosen by hashing
 * the address, as Go's semtable does, so a zero-filled struct needs no set-up
 * and no tear-down. Each waiter (Go's sudog) lives on its waiting stack and
 * sleeps on a chan__parker_t, so a goroutine parks and a plain thread sleeps
 * on its futex exactly as in a channel operation.
 */
#ifndef GOCHAN_SYNC_SEMA_H
#define GOCHAN_SYNC_SEMA_H

#include <gochan/sync.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "waitreason.h"

/* The public structs keep plain integer fields (their layout is part of the
 * ABI); gochan accesses every shared one through these views. */
_Static_assert(sizeof(_Atomic int32_t) == sizeof(int32_t) &&
                   _Alignof(_Atomic int32_t) == _Alignof(int32_t),
               "an atomic int32_t has the layout of an int32_t");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) &&
                   _Alignof(_Atomic uint32_t) == _Alignof(uint32_t),
               "an atomic uint32_t has the layout of a uint32_t");

static inline _Atomic int32_t *sync__a32(int32_t *p)
{
    return (_Atomic int32_t *)p;
}

static inline _Atomic uint32_t *sync__au32(uint32_t *p)
{
    return (_Atomic uint32_t *)p;
}

/* Go's semacquire: waits until *addr > 0, then decrements it. lifo queues
 * the caller at the front (a Mutex waiter that has waited before). The dump
 * shows the wait as reason (SCHED_WAIT_SYNC_* or SCHED_WAIT_SEMACQUIRE), on
 * obj (the Mutex, RWMutex, Cond, WaitGroup or fdMutex). */
void sync__semacquire(uint32_t *addr, bool lifo, sched_wait_reason_t reason,
                      const void *obj);

/* Go's semrelease: increments *addr and wakes one waiter, if any. handoff
 * (starvation mode) gives the count straight to that waiter and lets it run
 * before the caller goes on. */
void sync__semrelease(uint32_t *addr, bool handoff);

/* Go's notifyList for Cond: Wait takes a ticket with notify_list_add before
 * it unlocks L, then sleeps in notify_list_wait until that ticket has been
 * notified; Signal wakes the oldest ticket, Broadcast every one. */
uint32_t sync__notify_list_add(chan_cond_t *c);
void sync__notify_list_wait(chan_cond_t *c, uint32_t ticket);
void sync__notify_list_notify_one(chan_cond_t *c);
void sync__notify_list_notify_all(chan_cond_t *c);

/* The Mutex's bits, shared with cond.c (Wait checks L is locked). */
enum {
    SYNC__MUTEX_LOCKED = 1,
    SYNC__MUTEX_WOKEN = 2,
    SYNC__MUTEX_STARVING = 4,
    SYNC__MUTEX_WAITER_SHIFT = 3,
};

#endif /* GOCHAN_SYNC_SEMA_H */
