/* cond.c: sync.Cond, after sync/cond.go: a ticket-ordered notify list
 * (sema.h), so a Signal wakes the longest waiter and a Wait that took its
 * ticket before a Signal is never missed, even if it has not slept yet.
 */
#include "sema.h"

#include <stdatomic.h>

int chan_cond_init(chan_cond_t *c, chan_mutex_t *l)
{
    if (!c || !l)
        return CHAN_INVALID;
    *c = (chan_cond_t)CHAN_COND_INIT(l);
    return CHAN_OK;
}

int chan_cond_wait(chan_cond_t *c)
{
    if (!c || !c->l)
        return CHAN_INVALID;
    /* Go's Wait would throw at the Unlock below; refuse before taking a
     * ticket, which a later Signal would otherwise spend on nobody. */
    if (!(atomic_load(sync__a32(&c->l->state_)) & SYNC__MUTEX_LOCKED))
        return CHAN_INVALID;
    uint32_t t = sync__notify_list_add(c); /* before Unlock: no lost wake */
    chan_mutex_unlock(c->l);
    sync__notify_list_wait(c, t);
    chan_mutex_lock(c->l);
    return CHAN_OK;
}

int chan_cond_signal(chan_cond_t *c)
{
    if (!c)
        return CHAN_INVALID;
    sync__notify_list_notify_one(c);
    return CHAN_OK;
}

int chan_cond_broadcast(chan_cond_t *c)
{
    if (!c)
        return CHAN_INVALID;
    sync__notify_list_notify_all(c);
    return CHAN_OK;
}
