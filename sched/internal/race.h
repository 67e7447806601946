/* race.h: internal to gochan, never installed; every layer may include it.
 * Go's raceacquire/racerelease: tells ThreadSanitizer about gochan's
 * happens-before edges, so that a user's program built with
 * -fsanitize=thread is exact even against an uninstrumented libgochan.
 *
 * TSan cannot see synchronization inside code it did not instrument: the
 * futex lock, the parkers and the atomics of a stock libgochan.so are
 * invisible to it, and every channel handoff would look like a data race in
 * the user's code. So the two points that order everything gochan orders
 * announce themselves: the runtime lock (lock.h: acquire after taking it,
 * release before dropping it) and the parker (park.c: the waker releases,
 * the woken acquires). Every edge of the memory model (send before receive,
 * close before the woken, cancel before Done, WaitGroup Done before Wait, a
 * timer's fire before its receive) passes through one of them.
 *
 * The TSan entry points are weak references: in a program without TSan they
 * are NULL and each annotation costs a load and a branch not taken.
 */
#ifndef GOCHAN_RACE_H
#define GOCHAN_RACE_H

void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));

/* Everything before the matching sched__race_release(addr) on another thread
 * happens before what follows this call. */
static inline void sched__race_acquire(void *addr)
{
    if (__tsan_acquire)
        __tsan_acquire(addr);
}

/* Publishes what this thread did so far to the next
 * sched__race_acquire(addr). */
static inline void sched__race_release(void *addr)
{
    if (__tsan_release)
        __tsan_release(addr);
}

/* A reference count's decrement: every holder's uses happen before the free
 * by the one that drops the last reference. Call before the decrement;
 * sched__race_last_ref after it, when it reached zero. */
static inline void sched__race_drop_ref(void *count)
{
    sched__race_release(count);
}

static inline void sched__race_last_ref(void *count)
{
    sched__race_acquire(count);
}

#endif /* GOCHAN_RACE_H */
