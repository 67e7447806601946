/* waitreason.c: Go's waitReasonStrings (runtime/runtime2.go), see
 * waitreason.h. Built on every platform: the dump needs the names with or
 * without the scheduler.
 */
#include "internal/waitreason.h"

static const char *const names[SCHED_WAIT_REASONS] = {
    [SCHED_WAIT_ZERO] = "",
    [SCHED_WAIT_CHAN_SEND] = "chan send",
    [SCHED_WAIT_CHAN_RECEIVE] = "chan receive",
    [SCHED_WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
    [SCHED_WAIT_CHAN_RECEIVE_NIL] = "chan receive (nil chan)",
    [SCHED_WAIT_SELECT] = "select",
    [SCHED_WAIT_SELECT_NO_CASES] = "select (no cases)",
    [SCHED_WAIT_SLEEP] = "sleep",
    [SCHED_WAIT_SYNC_MUTEX_LOCK] = "sync.Mutex.Lock",
    [SCHED_WAIT_SYNC_RWMUTEX_RLOCK] = "sync.RWMutex.RLock",
    [SCHED_WAIT_SYNC_RWMUTEX_LOCK] = "sync.RWMutex.Lock",
    [SCHED_WAIT_SYNC_COND_WAIT] = "sync.Cond.Wait",
    [SCHED_WAIT_SYNC_WAITGROUP_WAIT] = "sync.WaitGroup.Wait",
    [SCHED_WAIT_SEMACQUIRE] = "semacquire",
    [SCHED_WAIT_IO] = "IO wait",
};

const char *sched_wait_reason_string(sched_wait_reason_t reason)
{
    /* unsigned: a negative value is out of range too */
    if ((unsigned)reason >= SCHED_WAIT_REASONS || !names[reason])
        return "unknown wait reason";
    return names[reason];
}
