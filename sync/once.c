/* once.c: sync.Once and OnceValue, after sync/once.go.
 *
 * done_ is read with acquire on the fast path and set with release only
 * after f has returned, so a caller that sees it set also sees all f wrote.
 * Callers that arrive while f runs wait on the mutex, not on done_, so they
 * too return only after f has (Go's reason for not using a bare CAS).
 *
 * For ThreadSanitizer, which sees no atomics of an uninstrumented library,
 * the store of done_ releases on &done_ and a load here that finds it set
 * acquires there (sched/internal/race.h); the inline fast path of sync.h loads
 * done_ with an atomic TSan sees, on the same address. Go's Once needs no such
 * lines: its race detector sees its atomics.
 */
#include "sema.h"

#include <stdatomic.h>

#include "race.h"

static void once_do_slow(chan_once_t *once, void (*f)(void *), void *arg)
{
    chan_mutex_lock(&once->m_);
    if (atomic_load_explicit(sync__au32(&once->done_), memory_order_relaxed) ==
        0) {
        f(arg);
        sched__race_release(&once->done_); /* f's writes, to every Do */
        atomic_store_explicit(sync__au32(&once->done_), 1,
                              memory_order_release);
    }
    chan_mutex_unlock(&once->m_);
}

int chan_once_do(chan_once_t *once, void (*f)(void *arg), void *arg)
{
    if (!once || !f)
        return CHAN_INVALID;
    if (atomic_load_explicit(sync__au32(&once->done_), memory_order_acquire) ==
        0)
        once_do_slow(once, f, arg); /* outlined: keeps the fast path small */
    else
        sched__race_acquire(&once->done_);
    return CHAN_OK;
}

struct once_value_call {
    chan_once_value_t *ov;
    void *(*f)(void *);
    void *arg;
};

static void once_value_run(void *p)
{
    struct once_value_call *call = p;
    call->ov->value_ = call->f(call->arg); /* published by done_'s release */
}

void *chan_once_value(chan_once_value_t *ov, void *(*f)(void *arg), void *arg)
{
    if (!ov || !f)
        return NULL;
    struct once_value_call call = {ov, f, arg};
    chan_once_do(&ov->once_, once_value_run, &call);
    return ov->value_;
}
