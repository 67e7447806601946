/* rwmutex.c: sync.RWMutex, after sync/rwmutex.go.
 *
 * reader_count_ counts the readers in; a writer subtracts MAX_READERS from
 * it, which both announces it (new readers see a negative count and wait on
 * reader_sem_) and tells it how many readers are still in. Those it waits
 * for are in reader_wait_; the last of them to leave wakes the writer on
 * writer_sem_. Writers exclude each other with the mutex w_. On Unlock the
 * writer adds MAX_READERS back and wakes as many readers as queued behind it.
 *
 * ThreadSanitizer sees none of these atomics in an uninstrumented library,
 * so the edges are announced where Go's race-enabled RWMutex announces them
 * (sched/internal/race.h): a writer's Unlock releases on &reader_sem_, which
 * every RLock and Lock acquires; a reader's RUnlock releases on &writer_sem_
 * (merging with the other readers'), which Lock acquires. Readers get no
 * edge between each other, so a write under RLock is still reported.
 */
#include "sema.h"

#include <stdatomic.h>

#include "invariant.h"
#include "race.h"

#define MAX_READERS (1 << 30)

int chan_rwmutex_rlock(chan_rwmutex_t *rw)
{
    if (!rw)
        return CHAN_INVALID;
    /* Negative: a writer is in or waiting; wait until it leaves. */
    if (atomic_fetch_add(sync__a32(&rw->reader_count_), 1) + 1 < 0)
        sync__semacquire(&rw->reader_sem_, false, SCHED_WAIT_SYNC_RWMUTEX_RLOCK,
                         rw);
    sched__race_acquire(&rw->reader_sem_); /* the last writer's Unlock */
    return CHAN_OK;
}

bool chan_rwmutex_tryrlock(chan_rwmutex_t *rw)
{
    if (!rw)
        return false;
    _Atomic int32_t *count = sync__a32(&rw->reader_count_);
    int32_t c = atomic_load(count);
    while (c >= 0)
        if (atomic_compare_exchange_weak(count, &c, c + 1)) {
            sched__race_acquire(&rw->reader_sem_);
            return true;
        }
    return false; /* a writer holds it or waits for it */
}

int chan_rwmutex_runlock(chan_rwmutex_t *rw)
{
    if (!rw)
        return CHAN_INVALID;
    _Atomic int32_t *count = sync__a32(&rw->reader_count_);
    /* Go's race.ReleaseMerge: before the decrement, which may let a writer
     * in at once. A refused RUnlock releases too: an edge more, no report. */
    sched__race_release(&rw->writer_sem_);
    int32_t c = atomic_load(count);
    /* No reader is in when the count is 0, or -MAX_READERS with a writer
     * waiting: Go throws "sync: RUnlock of unlocked RWMutex". */
    do {
        if (c == 0 || c == -MAX_READERS)
            return CHAN_INVALID;
    } while (!atomic_compare_exchange_weak(count, &c, c - 1));
    /* A writer waits: the last reader it waits for wakes it. */
    if (c - 1 < 0 && atomic_fetch_sub(sync__a32(&rw->reader_wait_), 1) == 1)
        sync__semrelease(&rw->writer_sem_, false);
    return CHAN_OK;
}

/* A writer is in: what the last writer and every reader since did happens
 * before what it does. */
static void race_acquire_writer(chan_rwmutex_t *rw)
{
    sched__race_acquire(&rw->reader_sem_);
    sched__race_acquire(&rw->writer_sem_);
}

int chan_rwmutex_lock(chan_rwmutex_t *rw)
{
    if (!rw)
        return CHAN_INVALID;
    chan_mutex_lock(&rw->w_); /* first, against other writers */
    /* Announce ourselves; r is the number of readers still in. */
    int32_t r = atomic_fetch_sub(sync__a32(&rw->reader_count_), MAX_READERS);
    if (r != 0 && atomic_fetch_add(sync__a32(&rw->reader_wait_), r) + r != 0)
        sync__semacquire(&rw->writer_sem_, false, SCHED_WAIT_SYNC_RWMUTEX_LOCK,
                         rw);
    race_acquire_writer(rw);
    return CHAN_OK;
}

bool chan_rwmutex_trylock(chan_rwmutex_t *rw)
{
    if (!rw || !chan_mutex_trylock(&rw->w_))
        return false;
    int32_t zero = 0;
    if (!atomic_compare_exchange_strong(sync__a32(&rw->reader_count_), &zero,
                                        -MAX_READERS)) {
        chan_mutex_unlock(&rw->w_); /* readers are in */
        return false;
    }
    race_acquire_writer(rw);
    return true;
}

int chan_rwmutex_unlock(chan_rwmutex_t *rw)
{
    if (!rw)
        return CHAN_INVALID;
    _Atomic int32_t *count = sync__a32(&rw->reader_count_);
    /* Go's race.Release, before a reader or writer can get in. */
    sched__race_release(&rw->reader_sem_);
    int32_t c = atomic_load(count);
    /* Not write-locked: the count is not below zero. Go throws "sync:
     * Unlock of unlocked RWMutex" after the fact; we refuse before. */
    do {
        if (c >= 0)
            return CHAN_INVALID;
    } while (!atomic_compare_exchange_weak(count, &c, c + MAX_READERS));
    int32_t readers = c + MAX_READERS; /* queued behind us */
    sched__invariant(readers >= 0 && readers < MAX_READERS,
                     "sync: inconsistent RWMutex reader count");
    for (int32_t i = 0; i < readers; i++)
        sync__semrelease(&rw->reader_sem_, false);
    chan_mutex_unlock(&rw->w_);
    return CHAN_OK;
}
