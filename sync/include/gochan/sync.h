/* gochan/sync.h: Go's sync package: Mutex, RWMutex, Once, OnceValue, Cond.
 * sync.WaitGroup is chan_waitgroup_t, declared in <gochan/go.h> beside
 * chan_go and built here in sync/ on the same semaphores, with the same
 * rules below (zero value ready, nothing to destroy).
 *
 * Each is a small struct the caller owns, whose zero value is ready to use,
 * as in Go: a static or calloc'd one needs no initialisation, an automatic
 * one takes its CHAN_*_INIT. There is nothing to destroy: a struct that no
 * call uses any more may simply be freed. Its fields are private. Do not
 * copy one after first use (Go's vet "copylocks").
 *
 * Any thread or goroutine may call any of these. A wait (a contended Lock, a
 * Cond Wait, a Once whose function runs elsewhere) parks the goroutine and
 * frees its worker thread for others, as every wait in gochan does; a plain
 * thread sleeps on a futex. A lock belongs to no one: one goroutine or
 * thread may lock it and another unlock it (Go's rule).
 *
 * Where Go panics ("sync: unlock of unlocked mutex"), these return
 * CHAN_INVALID and change nothing. NULL arguments are CHAN_INVALID too.
 */
#ifndef GOCHAN_SYNC_H
#define GOCHAN_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sync.Mutex, with Go's two modes: normal (a woken waiter competes with
 * arrivals, which may spin briefly) and starvation (after a waiter has waited
 * over 1 ms, Unlock hands the lock straight to the oldest waiter). */
typedef struct chan_mutex {
    int32_t state_; /* private: locked, woken, starving bits, waiter count */
    uint32_t sema_; /* private: the semaphore waiters park on */
} chan_mutex_t;

#define CHAN_MUTEX_INIT                                                        \
    {                                                                          \
        0, 0                                                                   \
    }

/* m.Lock(): blocks until m is unlocked, then locks it. CHAN_OK, or
 * CHAN_INVALID for NULL. */
GOCHAN_API int chan_mutex_lock(chan_mutex_t *m);

/* m.TryLock(): locks m if it is unlocked now; never blocks. false for NULL. */
GOCHAN_API bool chan_mutex_trylock(chan_mutex_t *m);

/* m.Unlock(): CHAN_OK; CHAN_INVALID (nothing changed) when m is not locked
 * or NULL, where Go throws "sync: unlock of unlocked mutex". */
GOCHAN_API int chan_mutex_unlock(chan_mutex_t *m);

/* sync.RWMutex: any number of readers or one writer. A writer blocked in
 * Lock stops new readers (so a reader that read-locks twice can deadlock
 * behind a writer, as in Go). */
typedef struct chan_rwmutex {
    chan_mutex_t w_;       /* private: held by a writer, or one pending */
    uint32_t writer_sem_;  /* private: a writer waits for readers here */
    uint32_t reader_sem_;  /* private: readers wait for a writer here */
    int32_t reader_count_; /* private: readers, less 2^30 if a writer is in */
    int32_t reader_wait_;  /* private: readers a writer still waits for */
} chan_rwmutex_t;

#define CHAN_RWMUTEX_INIT                                                      \
    {                                                                          \
        CHAN_MUTEX_INIT, 0, 0, 0, 0                                            \
    }

/* rw.RLock(), rw.RUnlock(), rw.Lock(), rw.Unlock(), rw.TryRLock(),
 * rw.TryLock(). The locks return CHAN_OK (CHAN_INVALID for NULL); RUnlock
 * and Unlock return CHAN_INVALID and change nothing when rw is not read-
 * resp. write-locked (Go: "sync: RUnlock of unlocked RWMutex", "sync:
 * Unlock of unlocked RWMutex"). The try forms never block. */
GOCHAN_API int chan_rwmutex_rlock(chan_rwmutex_t *rw);
GOCHAN_API int chan_rwmutex_runlock(chan_rwmutex_t *rw);
GOCHAN_API int chan_rwmutex_lock(chan_rwmutex_t *rw);
GOCHAN_API int chan_rwmutex_unlock(chan_rwmutex_t *rw);
GOCHAN_API bool chan_rwmutex_tryrlock(chan_rwmutex_t *rw);
GOCHAN_API bool chan_rwmutex_trylock(chan_rwmutex_t *rw);

/* sync.Once. */
typedef struct chan_once {
    uint32_t done_;  /* private: 1 once f has returned */
    chan_mutex_t m_; /* private: held while f runs */
} chan_once_t;

#define CHAN_ONCE_INIT                                                         \
    {                                                                          \
        0, CHAN_MUTEX_INIT                                                     \
    }

/* once.Do(f): the first call runs f(arg); every call returns only after f
 * has returned; later calls do nothing. CHAN_OK, or CHAN_INVALID for a NULL
 * once or f. A Do on the same once from inside f deadlocks, as in Go. */
GOCHAN_API int chan_once_do(chan_once_t *once, void (*f)(void *arg), void *arg);

/* sync.OnceValue(f) in C's shape: the first chan_once_value runs f(arg) and
 * keeps its result; every call returns that result (after f has returned).
 * Go's OnceFunc(f) is chan_once_do with the same f. NULL for NULL ov or f. */
typedef struct chan_once_value {
    chan_once_t once_; /* private */
    void *value_;      /* private: f's result, written before once_ is done */
} chan_once_value_t;

#define CHAN_ONCE_VALUE_INIT                                                   \
    {                                                                          \
        CHAN_ONCE_INIT, NULL                                                   \
    }

GOCHAN_API void *chan_once_value(chan_once_value_t *ov, void *(*f)(void *arg),
                                 void *arg);

/* sync.Cond with L a chan_mutex_t: sync.NewCond(&m) is
 * `chan_cond_t c = CHAN_COND_INIT(&m);` or chan_cond_init(&c, &m). */
typedef struct chan_cond {
    chan_mutex_t *l;  /* Go's L: the caller's mutex, held around Wait */
    uint32_t wait_;   /* private: the next ticket to hand a waiter */
    uint32_t notify_; /* private: the next ticket to wake */
    struct sync__sudog *head_; /* private: parked waiters, oldest first */
    struct sync__sudog *tail_; /* private */
} chan_cond_t;

#define CHAN_COND_INIT(mutex)                                                  \
    {                                                                          \
        (mutex), 0, 0, NULL, NULL                                              \
    }

/* Sets *c to a new Cond on mutex l. CHAN_INVALID for NULL. */
GOCHAN_API int chan_cond_init(chan_cond_t *c, chan_mutex_t *l);

/* c.Wait(): with c->l locked by the caller, unlocks it, waits until a Signal
 * or Broadcast made after the call wakes it (never spuriously), relocks it
 * and returns CHAN_OK. CHAN_INVALID, nothing changed, when c or c->l is NULL
 * or c->l is not locked. As in Go, check the condition in a loop. */
GOCHAN_API int chan_cond_wait(chan_cond_t *c);

/* c.Signal(): wakes the longest-waiting Wait, if any. c.Broadcast(): wakes
 * every Wait. Neither needs c->l held. CHAN_INVALID for NULL. */
GOCHAN_API int chan_cond_signal(chan_cond_t *c);
GOCHAN_API int chan_cond_broadcast(chan_cond_t *c);

/* The fast paths inline, as Go inlines those of Lock, Unlock and Once.Do:
 * one atomic instruction when uncontended, else the call above. (Compilers
 * without GNU atomics builtins simply call the functions.) */
#if defined(__GNUC__) && !defined(GOCHAN_BUILDING)
static inline int chan__mutex_lock_inline(chan_mutex_t *m)
{
    int32_t unlocked = 0;
    if (m && __atomic_compare_exchange_n(&m->state_, &unlocked, 1, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return CHAN_OK;
    return (chan_mutex_lock)(m);
}

static inline int chan__mutex_unlock_inline(chan_mutex_t *m)
{
    int32_t locked = 1;
    if (m && __atomic_compare_exchange_n(&m->state_, &locked, 0, false,
                                         __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return CHAN_OK;
    return (chan_mutex_unlock)(m);
}

static inline int chan__once_do_inline(chan_once_t *once, void (*f)(void *),
                                       void *arg)
{
    if (once && f && __atomic_load_n(&once->done_, __ATOMIC_ACQUIRE))
        return CHAN_OK;
    return (chan_once_do)(once, f, arg);
}

#define chan_mutex_lock(m)         chan__mutex_lock_inline(m)
#define chan_mutex_unlock(m)       chan__mutex_unlock_inline(m)
#define chan_once_do(once, f, arg) chan__once_do_inline(once, f, arg)
#endif

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_SYNC_H */
