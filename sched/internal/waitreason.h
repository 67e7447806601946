/* waitreason.h: internal to gochan, never installed; every layer may include
 * it. Go's waitReason (runtime/runtime2.go): why a goroutine or a thread
 * waits. One list for the whole library: sched_gopark records one on the
 * goroutine it parks, and the dump (<gochan/debug.h>, chan/blocked.h) prints
 * the blocked operations' with Go's strings.
 */
#ifndef GOCHAN_SCHED_WAITREASON_H
#define GOCHAN_SCHED_WAITREASON_H

typedef enum sched_wait_reason {
    SCHED_WAIT_ZERO = 0,            /* "": no reason given */
    SCHED_WAIT_CHAN_SEND,           /* "chan send" */
    SCHED_WAIT_CHAN_RECEIVE,        /* "chan receive" */
    SCHED_WAIT_CHAN_SEND_NIL,       /* "chan send (nil chan)" */
    SCHED_WAIT_CHAN_RECEIVE_NIL,    /* "chan receive (nil chan)" */
    SCHED_WAIT_SELECT,              /* "select" */
    SCHED_WAIT_SELECT_NO_CASES,     /* "select (no cases)" */
    SCHED_WAIT_SLEEP,               /* "sleep" */
    SCHED_WAIT_SYNC_MUTEX_LOCK,     /* "sync.Mutex.Lock" (Go 1.20) */
    SCHED_WAIT_SYNC_RWMUTEX_RLOCK,  /* "sync.RWMutex.RLock" (Go 1.20) */
    SCHED_WAIT_SYNC_RWMUTEX_LOCK,   /* "sync.RWMutex.Lock" (Go 1.20) */
    SCHED_WAIT_SYNC_COND_WAIT,      /* "sync.Cond.Wait" */
    SCHED_WAIT_SYNC_WAITGROUP_WAIT, /* "sync.WaitGroup.Wait" (Go 1.20) */
    SCHED_WAIT_SEMACQUIRE,          /* "semacquire": a bare semaphore */
    SCHED_WAIT_IO,                  /* "IO wait": the network poller */
    SCHED_WAIT_REASONS              /* how many there are */
} sched_wait_reason_t;

/* Go's waitReason.String(): the name the dump prints ("" for ZERO), or
 * "unknown wait reason" for a value not in the list, as Go's. */
const char *sched_wait_reason_string(sched_wait_reason_t reason);

#endif /* GOCHAN_SCHED_WAITREASON_H */
