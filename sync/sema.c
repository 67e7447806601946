/* sema.c: semaphores and notify lists (see sema.h), after runtime/sema.go.
 *
 * Every root has a runtime lock and a doubly linked list of the waiters of
 * all the addresses that hash to it (Go keeps a treap of per-address lists;
 * a list walked for the address is enough at the number of waiters a root
 * sees here). nwait lets a release skip the lock when nobody waits: the
 * acquirer raises nwait before its last try, the releaser raises the count
 * before it reads nwait, both sequentially consistent, so one of the two
 * sees the other (the Dekker pattern Go relies on too).
 */
#include "sema.h"

#include <gochan/go.h>

#include <pthread.h>
#include <stddef.h>

#include "blocked.h"
#include "invariant.h"
#include "lock.h"
#include "park.h"

/* One waiter: Go's sudog, on the waiting stack. */
typedef struct sync__sudog {
    struct sync__sudog *next, *prev; /* protected by the root's lock */
    const void *addr;                /* the semaphore (or cond) waited on */
    uint32_t ticket; /* semaphore: 1 when handed the count directly;
                        cond: the notify ticket waited for */
    chan__parker_t parker;
} sync__sudog_t;

#define SEMTABLE_SIZE 251 /* prime, as Go's: addresses spread well */

typedef struct semaroot {
    /* A cache line each: roots are hot and shared by unrelated locks. */
    _Alignas(64) sched__lock_t lock;
    sync__sudog_t *head, *tail; /* protected by lock */
    _Atomic uint32_t nwait;     /* waiters queued or about to queue */
} semaroot_t;

static semaroot_t semtable[SEMTABLE_SIZE];
static pthread_once_t semtable_once = PTHREAD_ONCE_INIT;

static void semtable_init(void)
{
    for (size_t i = 0; i < SEMTABLE_SIZE; i++)
        sched__lock_init(&semtable[i].lock);
}

static semaroot_t *semroot(const void *addr)
{
    pthread_once(&semtable_once, semtable_init);
    return &semtable[((uintptr_t)addr >> 3) % SEMTABLE_SIZE];
}

/* Sleeps on p, recorded for the dump while it does when that is on. */
static void park_as(chan__parker_t *p, sched_wait_reason_t reason,
                    const void *obj)
{
    if (!chan__debug_enabled()) {
        chan__park_as(p, reason);
        return;
    }
    chan__blocked_t record = {.reason = reason, .sync_obj = obj};
    chan__park_recorded(p, &record);
}

/* ---- waiter lists: a root's, and a Cond's own ---- */

/* A doubly linked list of waiters, given by its two ends: a root's head and
 * tail, or a Cond's head_ and tail_. */
typedef struct sudog_list {
    sync__sudog_t **head, **tail;
} sudog_list_t;

static sudog_list_t root_list(semaroot_t *r)
{
    return (sudog_list_t){&r->head, &r->tail};
}

static sudog_list_t cond_list(chan_cond_t *c)
{
    return (sudog_list_t){&c->head_, &c->tail_};
}

static void list_push_back(sudog_list_t l, sync__sudog_t *s)
{
    s->next = NULL;
    s->prev = *l.tail;
    if (*l.tail)
        (*l.tail)->next = s;
    else
        *l.head = s;
    *l.tail = s;
}

/* lifo: before the first waiter of the same address, so it is found first. */
static void list_push_front_of_addr(sudog_list_t l, sync__sudog_t *s)
{
    sync__sudog_t *at = *l.head;
    while (at && at->addr != s->addr)
        at = at->next;
    if (!at) {
        list_push_back(l, s);
        return;
    }
    s->next = at;
    s->prev = at->prev;
    if (at->prev)
        at->prev->next = s;
    else
        *l.head = s;
    at->prev = s;
}

static void list_remove(sudog_list_t l, sync__sudog_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *l.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        *l.tail = s->prev;
    s->next = s->prev = NULL;
}

static sync__sudog_t *list_find(semaroot_t *r, const void *addr)
{
    sync__sudog_t *s = r->head;
    while (s && s->addr != addr)
        s = s->next;
    return s;
}

/* ---- semaphores ---- */

/* Go's cansemacquire: takes one from *addr if it is positive. */
static bool cansemacquire(uint32_t *addr)
{
    _Atomic uint32_t *v = sync__au32(addr);
    uint32_t n = atomic_load(v);
    while (n > 0)
        if (atomic_compare_exchange_weak(v, &n, n - 1))
            return true;
    return false;
}

void sync__semacquire(uint32_t *addr, bool lifo, sched_wait_reason_t reason,
                      const void *obj)
{
    if (cansemacquire(addr))
        return;
    semaroot_t *r = semroot(addr);
    sync__sudog_t s = {.addr = addr};
    for (;;) {
        sched__lock(&r->lock);
        atomic_fetch_add(&r->nwait, 1);
        if (cansemacquire(addr)) { /* a release came in the meantime */
            atomic_fetch_sub(&r->nwait, 1);
            sched__unlock(&r->lock);
            return;
        }
        s.ticket = 0;
        chan__parker_init(&s.parker);
        if (lifo)
            list_push_front_of_addr(root_list(r), &s);
        else
            list_push_back(root_list(r), &s);
        sched__unlock(&r->lock);
        park_as(&s.parker, reason, obj); /* the releaser dequeued us */
        chan__parker_destroy(&s.parker);
        if (s.ticket != 0 || cansemacquire(addr))
            return;
        /* Woken, but an arrival took the count first: queue again. */
    }
}

void sync__semrelease(uint32_t *addr, bool handoff)
{
    semaroot_t *r = semroot(addr);
    atomic_fetch_add(sync__au32(addr), 1);
    if (atomic_load(&r->nwait) == 0)
        return; /* nobody waits: the common case, lock-free */
    sched__lock(&r->lock);
    sync__sudog_t *s = atomic_load(&r->nwait) ? list_find(r, addr) : NULL;
    if (s) {
        list_remove(root_list(r), s);
        atomic_fetch_sub(&r->nwait, 1);
    }
    sched__unlock(&r->lock);
    if (!s)
        return;
    bool handed = handoff && cansemacquire(addr);
    s->ticket = handed;
    chan__ready(&s->parker); /* s may be gone from here on */
    /* Starvation mode: let the waiter we handed the lock to run now, on
     * our processor, rather than keep it waiting behind us (Go's goyield). */
    if (handed && chan__on_goroutine())
        chan_gosched();
}

/* ---- notify lists ---- */

/* Tickets wrap around: a is before b when the distance is "negative". */
static bool ticket_less(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

uint32_t sync__notify_list_add(chan_cond_t *c)
{
    return atomic_fetch_add(sync__au32(&c->wait_), 1);
}

void sync__notify_list_wait(chan_cond_t *c, uint32_t ticket)
{
    semaroot_t *r = semroot(c);
    sched__lock(&r->lock);
    if (ticket_less(ticket, atomic_load(sync__au32(&c->notify_)))) {
        sched__unlock(&r->lock); /* notified before we got here */
        return;
    }
    sync__sudog_t s = {.addr = c, .ticket = ticket};
    chan__parker_init(&s.parker);
    list_push_back(cond_list(c), &s);
    sched__unlock(&r->lock);
    park_as(&s.parker, SCHED_WAIT_SYNC_COND_WAIT, c);
    chan__parker_destroy(&s.parker);
}

void sync__notify_list_notify_one(chan_cond_t *c)
{
    /* Nothing to do when no Wait took a ticket since the last notify. */
    if (atomic_load(sync__au32(&c->wait_)) ==
        atomic_load(sync__au32(&c->notify_)))
        return;
    semaroot_t *r = semroot(c);
    sched__lock(&r->lock);
    uint32_t t = atomic_load(sync__au32(&c->notify_));
    if (t == atomic_load(sync__au32(&c->wait_))) {
        sched__unlock(&r->lock);
        return;
    }
    atomic_store(sync__au32(&c->notify_), t + 1);
    /* The holder of ticket t may not have queued yet: then it sees the new
     * notify_ in notify_list_wait and does not sleep. */
    sync__sudog_t *s = c->head_;
    while (s && s->ticket != t)
        s = s->next;
    if (s)
        list_remove(cond_list(c), s);
    sched__unlock(&r->lock);
    if (s)
        chan__ready(&s->parker);
}

void sync__notify_list_notify_all(chan_cond_t *c)
{
    if (atomic_load(sync__au32(&c->wait_)) ==
        atomic_load(sync__au32(&c->notify_)))
        return;
    semaroot_t *r = semroot(c);
    sched__lock(&r->lock);
    sync__sudog_t *s = c->head_;
    c->head_ = c->tail_ = NULL;
    atomic_store(sync__au32(&c->notify_), atomic_load(sync__au32(&c->wait_)));
    sched__unlock(&r->lock);
    chan__wakeups_t w = {.n = 0};
    while (s) {
        sync__sudog_t *next = s->next; /* read before s may vanish */
        chan__ready_batched(&s->parker, &w);
        s = next;
    }
    chan__wakeups_flush(&w);
}
