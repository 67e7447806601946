/* netpoll.c: the network poller (netpoll.h): Go's runtime/netpoll.go and
 * netpoll_epoll.go for C.
 *
 * One epoll instance for the process, made by the first registration, and an
 * eventfd registered in it to break a blocked epoll_wait (netpollBreak).
 * Every descriptor is registered once, edge-triggered for reading and
 * writing, with its poll descriptor's address as the event's data, tagged in
 * the top 16 bits with the descriptor's sequence number (fdseq): a pd is
 * never freed, only reused, and an event that arrives for an old registration
 * carries an old tag and wakes nobody.
 *
 * A pd's two slots, rg and wg (Go's), hold one of: NIL; READY (an edge came
 * and nobody has consumed it); WAIT (a waiter is about to sleep); or the
 * address of the sleeping waiter (a pollwaiter on its stack). The waiter
 * moves NIL to WAIT, checks for errors, then commits WAIT to its address at
 * the moment it sleeps: for a goroutine in gopark's unlockf on g0, once its
 * registers are saved. Whoever swaps the address out of the slot (an event:
 * to READY; close, a deadline or a cancel: to NIL) owns the wake-up, exactly
 * once; a swap that finds WAIT leaves the new value there, the commit fails
 * and the waiter does not sleep.
 *
 * Who polls. Goroutines are readied by the scheduler's Ms (proc.c, "The
 * network poller"): an M out of work polls without blocking; the last one
 * with nothing to do blocks in epoll_wait; sysmon polls when nobody has for
 * 10 ms. A plain thread does not depend on them: it sleeps in poll(2) on its
 * own descriptor and on a wake-up eventfd of its own (one per thread that
 * ever waits, closed when the thread exits), so close, deadlines and
 * cancels reach it through the same slot protocol, and it works without a
 * scheduler (GOCHAN_SCHED=0) and in a forked child.
 *
 * fork(): the child must not share the parent's epoll instance (events would
 * be stolen). The atfork child handler forgets it (closes the child's copies)
 * and bumps the epoch; the child's next registration makes a new instance,
 * and a pd registered before the fork is registered again at its next wait.
 */
#include "internal/netpoll.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal/invariant.h"
#include "internal/trace.h"
#include "internal/lock.h"
#include "internal/race.h"

/* A slot's values besides a waiter's address (waiters are aligned). */
enum { PD_NIL = 0, PD_READY = 1, PD_WAIT = 2 };

/* The break eventfd's epoll data: never a pd's address. */
#define BREAK_DATA UINT64_C(1)

/* A thread waiter's wake-up: WAKING while the waker still uses the thread's
 * eventfd, WOKEN once it is done with it. */
enum { W_SLEEPING = 0, W_WAKING = 1, W_WOKEN = 2 };

/* Who sleeps on a slot: a parked goroutine, or a plain thread. */
typedef struct pollwaiter {
    sched_g *g;             /* NULL for a thread */
    int efd;                /* the thread's wake-up eventfd, or -1 */
    _Atomic uint32_t woken; /* W_*, for a thread */
} pollwaiter_t;

struct sched_polldesc {
    sched_polldesc_t *link; /* next free pd, under np.lock */
    int fd;
    _Atomic uint32_t fdseq; /* bumped by close: tags the epoll data */
    _Atomic uint32_t epoch; /* the epoll instance it is registered with */
    _Atomic uintptr_t rg, wg;
    _Atomic bool closing;
    _Atomic bool rexpired, wexpired;
};

static struct {
    sched__lock_t lock;       /* making the instance, the free pds */
    _Atomic int epfd;         /* -1 until the first registration */
    int breakfd;              /* -1 likewise */
    _Atomic uint32_t epoch;   /* bumped in a forked child */
    _Atomic uint32_t wakesig; /* a break is pending (Go's netpollWakeSig) */
    sched_polldesc_t *free;
    bool atfork;
} np = {.lock = SCHED__LOCK_INIT, .epfd = -1, .breakfd = -1};

static _Atomic int32_t nwaiters; /* Go's netpollWaiters */

/* Go's sched.lastpoll: when an M last polled; 0 while one blocks in
 * epoll_wait. */
_Atomic int64_t sched__lastpoll = 1;

/* ---- the epoll instance --------------------------------------------------
 */

static void np_forget_instance(void)
{
    int epfd = atomic_load_explicit(&np.epfd, memory_order_relaxed);
    if (epfd >= 0)
        close(epfd);
    if (np.breakfd >= 0)
        close(np.breakfd);
    atomic_store_explicit(&np.epfd, -1, memory_order_relaxed);
    np.breakfd = -1;
}

static _Thread_local int tls_efd = -1;

/* The child of fork(): a poller of its own (see the top). Only the forking
 * thread exists here, and it may have forked while another thread held
 * np.lock: the lock starts afresh. */
static void np_atfork_child(void)
{
    np.lock = (sched__lock_t)SCHED__LOCK_INIT;
    np_forget_instance();
    atomic_fetch_add_explicit(&np.epoch, 1, memory_order_relaxed);
    atomic_store_explicit(&np.wakesig, 0, memory_order_relaxed);
    atomic_store_explicit(&nwaiters, 0, memory_order_relaxed);
    atomic_store_explicit(&sched__lastpoll, 1, memory_order_relaxed);
    /* The thread's eventfd is shared with its parent's copy now. */
    if (tls_efd >= 0)
        close(tls_efd);
    tls_efd = -1;
}

/* Makes the instance and the break eventfd; np.lock held. 0 or an errno. */
static int np_init_locked(void)
{
    if (atomic_load_explicit(&np.epfd, memory_order_relaxed) >= 0)
        return 0;
    if (!np.atfork) {
        int err = pthread_atfork(NULL, NULL, np_atfork_child);
        if (err)
            return err;
        np.atfork = true;
    }
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return errno;
    int bfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (bfd < 0) {
        int err = errno;
        close(epfd);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAK_DATA};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, bfd, &ev) != 0) {
        int err = errno;
        close(bfd);
        close(epfd);
        return err;
    }
    np.breakfd = bfd;
    /* release: a poller that reads epfd sees breakfd. */
    atomic_store_explicit(&np.epfd, epfd, memory_order_release);
    return 0;
}

/* ---- poll descriptors ---------------------------------------------------- */

static uint64_t pd_tag(sched_polldesc_t *pd)
{
    uint64_t seq = atomic_load_explicit(&pd->fdseq, memory_order_relaxed);
    return (uint64_t)(uintptr_t)pd | (seq & 0xffff) << 48;
}

/* The pd an event names, or NULL when the event is for an old registration
 * (or the address does not fit in 48 bits: then no tag was kept). */
static sched_polldesc_t *pd_untag(uint64_t data)
{
    sched_polldesc_t *pd =
        (sched_polldesc_t *)(uintptr_t)(data & ((UINT64_C(1) << 48) - 1));
    uint32_t seq = atomic_load_explicit(&pd->fdseq, memory_order_relaxed);
    return (data >> 48) == (seq & 0xffff) ? pd : NULL;
}

static int pd_register(sched_polldesc_t *pd, int epfd)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = pd_tag(pd),
    };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, pd->fd, &ev) == 0 ? 0 : errno;
}

static sched_polldesc_t *pd_alloc_locked(void)
{
    sched_polldesc_t *pd = np.free;
    if (pd) {
        np.free = pd->link;
        return pd;
    }
    pd = calloc(1, sizeof *pd);
    if (pd && ((uintptr_t)pd >> 48) != 0) { /* cannot carry a tag */
        free(pd);
        return NULL;
    }
    return pd;
}

int sched_netpoll_open(int fd, sched_polldesc_t **pdp)
{
    sched__lock(&np.lock);
    int err = np_init_locked();
    sched_polldesc_t *pd = err ? NULL : pd_alloc_locked();
    if (!err && !pd)
        err = ENOMEM;
    int epfd = atomic_load_explicit(&np.epfd, memory_order_relaxed);
    uint32_t epoch = atomic_load_explicit(&np.epoch, memory_order_relaxed);
    sched__unlock(&np.lock);
    if (err)
        return err;
    pd->fd = fd;
    atomic_store_explicit(&pd->closing, false, memory_order_relaxed);
    atomic_store_explicit(&pd->rexpired, false, memory_order_relaxed);
    atomic_store_explicit(&pd->wexpired, false, memory_order_relaxed);
    atomic_store_explicit(&pd->rg, PD_NIL, memory_order_relaxed);
    atomic_store_explicit(&pd->wg, PD_NIL, memory_order_relaxed);
    atomic_store_explicit(&pd->epoch, epoch, memory_order_relaxed);
    err = pd_register(pd, epfd);
    if (err) {
        sched_netpoll_close(pd);
        return err;
    }
    *pdp = pd;
    return 0;
}

void sched_netpoll_close(sched_polldesc_t *pd)
{
    sched__invariant(atomic_load(&pd->rg) <= PD_READY &&
                         atomic_load(&pd->wg) <= PD_READY,
                     "netpoll close: a caller still waits on the descriptor");
    sched__lock(&np.lock);
    int epfd = atomic_load_explicit(&np.epfd, memory_order_relaxed);
    if (epfd >= 0 && atomic_load_explicit(&pd->epoch, memory_order_relaxed) ==
                         atomic_load_explicit(&np.epoch, memory_order_relaxed))
        (void)epoll_ctl(epfd, EPOLL_CTL_DEL, pd->fd, NULL);
    /* From here on an event still on its way for pd carries a stale tag. */
    atomic_fetch_add_explicit(&pd->fdseq, 1, memory_order_relaxed);
    pd->fd = -1;
    pd->link = np.free;
    np.free = pd;
    sched__unlock(&np.lock);
}

/* A pd registered before a fork, used in the child: register it with the
 * child's own instance. */
static int pd_check_epoch(sched_polldesc_t *pd)
{
    uint32_t epoch = atomic_load_explicit(&np.epoch, memory_order_relaxed);
    if (atomic_load_explicit(&pd->epoch, memory_order_relaxed) == epoch)
        return 0;
    sched__lock(&np.lock);
    int err = np_init_locked();
    if (!err &&
        atomic_load_explicit(&pd->epoch, memory_order_relaxed) != epoch) {
        err = pd_register(pd,
                          atomic_load_explicit(&np.epfd, memory_order_relaxed));
        if (err == EEXIST)
            err = 0;
        if (!err)
            atomic_store_explicit(&pd->epoch, epoch, memory_order_relaxed);
    }
    sched__unlock(&np.lock);
    return err;
}

/* ---- the slot protocol --------------------------------------------------- */

static _Atomic uintptr_t *pd_slot(sched_polldesc_t *pd, int mode)
{
    return mode == SCHED_POLL_READ ? &pd->rg : &pd->wg;
}

/* Go's netpollcheckerr. */
static int pd_checkerr(sched_polldesc_t *pd, int mode)
{
    if (atomic_load_explicit(&pd->closing, memory_order_acquire))
        return EBADF;
    _Atomic bool *expired =
        mode == SCHED_POLL_READ ? &pd->rexpired : &pd->wexpired;
    if (atomic_load_explicit(expired, memory_order_acquire))
        return ETIMEDOUT;
    return 0;
}

/* Go's netpollunblock: moves the slot to READY (ioready) or NIL and returns
 * the waiter that was sleeping there, whose wake-up is now the caller's. */
static pollwaiter_t *slot_unblock(_Atomic uintptr_t *slot, bool ioready)
{
    uintptr_t old = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
        if (old == PD_READY || (old == PD_NIL && !ioready))
            return NULL;
        uintptr_t new = ioready ? PD_READY : PD_NIL;
        /* acq_rel: the waiter's commit (release) is seen with its fields;
         * our caller's state change (closing, expired, cancel) is seen by
         * a waiter that finds the slot changed. */
        if (atomic_compare_exchange_weak_explicit(
                slot, &old, new, memory_order_acq_rel, memory_order_acquire))
            return old > PD_WAIT ? (pollwaiter_t *)old : NULL;
    }
}

/* Wakes a plain thread waiter (see W_*): after W_WOKEN it may be gone. */
static void thread_wake(pollwaiter_t *w)
{
    int efd = w->efd;
    sched__race_release(w);
    atomic_store_explicit(&w->woken, W_WAKING, memory_order_release);
    if (efd >= 0) {
        uint64_t one = 1;
        ssize_t rc;
        do
            rc = write(efd, &one, sizeof one);
        while (rc < 0 && errno == EINTR);
    }
    atomic_store_explicit(&w->woken, W_WOKEN, memory_order_release);
}

/* Wakes w from any thread: a goroutine is readied. */
static void waiter_wake(pollwaiter_t *w)
{
    if (w->g)
        sched_goready(w->g);
    else
        thread_wake(w);
}

void sched_netpoll_unblock(sched_polldesc_t *pd, int mode)
{
    pollwaiter_t *w = slot_unblock(pd_slot(pd, mode), false);
    if (w)
        waiter_wake(w);
}

void sched_netpoll_evict(sched_polldesc_t *pd)
{
    atomic_store_explicit(&pd->closing, true, memory_order_seq_cst);
    sched_netpoll_unblock(pd, SCHED_POLL_READ);
    sched_netpoll_unblock(pd, SCHED_POLL_WRITE);
}

void sched_netpoll_set_expired(sched_polldesc_t *pd, int mode, bool expired)
{
    _Atomic bool *flag =
        mode == SCHED_POLL_READ ? &pd->rexpired : &pd->wexpired;
    atomic_store_explicit(flag, expired, memory_order_seq_cst);
    if (expired)
        sched_netpoll_unblock(pd, mode);
}

int sched_netpoll_reset(sched_polldesc_t *pd, int mode)
{
    int err = pd_checkerr(pd, mode);
    if (!err)
        atomic_store_explicit(pd_slot(pd, mode), PD_NIL, memory_order_relaxed);
    return err;
}

/* ---- sleeping: goroutines ------------------------------------------------ */

struct commit {
    _Atomic uintptr_t *slot;
    pollwaiter_t *w;
};

/* gopark's unlockf (Go's netpollblockcommit), on g0: publishes the waiter
 * unless the slot changed meanwhile. */
static bool goroutine_commit(sched_g *gp, void *arg)
{
    (void)gp;
    struct commit *c = arg;
    uintptr_t wait = PD_WAIT;
    return atomic_compare_exchange_strong_explicit(
        c->slot, &wait, (uintptr_t)c->w, memory_order_release,
        memory_order_relaxed);
}

/* Parks gp on the slot, counted in nwaiters meanwhile: the Ms poll while
 * goroutines wait (threads poll for themselves). */
static void goroutine_sleep(_Atomic uintptr_t *slot, sched_g *gp)
{
    pollwaiter_t w = {.g = gp, .efd = -1};
    struct commit c = {slot, &w};
    atomic_fetch_add_explicit(&nwaiters, 1, memory_order_seq_cst);
    sched_gopark(goroutine_commit, &c, SCHED_WAIT_IO);
    atomic_fetch_sub_explicit(&nwaiters, 1, memory_order_relaxed);
}

/* ---- sleeping: plain threads --------------------------------------------- */

static pthread_key_t efd_key;
static pthread_once_t efd_key_once = PTHREAD_ONCE_INIT;
static bool efd_key_ok;

static void efd_close_at_exit(void *v)
{
    (void)v;
    if (tls_efd >= 0)
        close(tls_efd);
    tls_efd = -1;
}

static void efd_key_make(void)
{
    efd_key_ok = pthread_key_create(&efd_key, efd_close_at_exit) == 0;
}

/* The calling thread's wake-up eventfd, made on first use and closed when
 * the thread exits; -1 when it cannot be made (the thread then polls its
 * descriptor every millisecond instead). */
static int thread_efd(void)
{
    if (tls_efd >= 0)
        return tls_efd;
    pthread_once(&efd_key_once, efd_key_make);
    if (!efd_key_ok)
        return -1;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0)
        return -1;
    if (pthread_setspecific(efd_key, &tls_efd) != 0) {
        close(efd);
        return -1;
    }
    tls_efd = efd;
    return efd;
}

static void efd_drain(int efd)
{
    uint64_t n;
    while (read(efd, &n, sizeof n) < 0 && errno == EINTR)
        ;
}

/* Sleeps in poll(2) until the descriptor is ready in mode (then the thread
 * takes its own wake-up) or a waker has woken it. */
static void thread_sleep(sched_polldesc_t *pd, int mode,
                         _Atomic uintptr_t *slot)
{
    pollwaiter_t w = {.g = NULL, .efd = thread_efd()};
    atomic_init(&w.woken, W_SLEEPING);
    uintptr_t wait = PD_WAIT;
    if (!atomic_compare_exchange_strong_explicit(slot, &wait, (uintptr_t)&w,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return; /* woken before we slept */
    short events =
        mode == SCHED_POLL_READ ? (short)(POLLIN | POLLRDHUP) : (short)POLLOUT;
    for (;;) {
        uint32_t st = atomic_load_explicit(&w.woken, memory_order_acquire);
        if (st == W_WOKEN)
            break;
        if (st == W_WAKING) { /* the waker is in its write: a moment */
            sched_yield();
            continue;
        }
        struct pollfd pfd[2] = {{.fd = pd->fd, .events = events},
                                {.fd = w.efd, .events = POLLIN}};
        int n = poll(pfd, w.efd >= 0 ? 2 : 1, w.efd >= 0 ? -1 : 1);
        if (n > 0 && (pfd[1].revents & POLLIN))
            efd_drain(w.efd);
        if (n > 0 && pfd[0].revents != 0 &&
            slot_unblock(slot, true) == &w) /* our own wake-up */
            atomic_store_explicit(&w.woken, W_WOKEN, memory_order_relaxed);
    }
    sched__race_acquire(&w);
}

/* ---- waiting ------------------------------------------------------------- */

static bool cancelled(const _Atomic bool *cancel)
{
    return cancel && atomic_load_explicit(cancel, memory_order_seq_cst);
}

/* Go's netpollblock: true when woken by readiness, false otherwise (an
 * error or a cancel to check, or a spurious wake-up). */
static bool netpollblock(sched_polldesc_t *pd, int mode,
                         const _Atomic bool *cancel)
{
    _Atomic uintptr_t *slot = pd_slot(pd, mode);
    uintptr_t old = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
        if (old == PD_READY) {
            if (atomic_compare_exchange_weak_explicit(slot, &old, PD_NIL,
                                                      memory_order_acquire,
                                                      memory_order_acquire))
                return true;
            continue;
        }
        sched__invariant(old == PD_NIL, "netpoll: two callers wait at once");
        /* seq_cst: against the store of closing/expired/cancel and the
         * unblock that follows it (we recheck them below). */
        if (atomic_compare_exchange_weak_explicit(slot, &old, PD_WAIT,
                                                  memory_order_seq_cst,
                                                  memory_order_acquire))
            break;
    }
    if (pd_checkerr(pd, mode) == 0 && !cancelled(cancel)) {
        sched_g *gp = sched_getg();
        if (sched__tracing())
            sched__trace_wait_object(SCHED_WAIT_IO, SCHED__TRACE_OBJ_FD, NULL,
                                     (uint32_t)pd->fd | (uint64_t)(uint32_t)mode
                                                            << 32);
        if (gp) {
            goroutine_sleep(slot, gp);
        } else if (sched__tracing()) {
            sched__trace_twait_t tw;
            sched__trace_thread_wait_begin(&tw, NULL);
            thread_sleep(pd, mode, slot);
            sched__trace_thread_wait_end(&tw);
        } else {
            thread_sleep(pd, mode, slot);
        }
    }
    old = atomic_exchange_explicit(slot, PD_NIL, memory_order_acquire);
    sched__invariant(old <= PD_WAIT, "netpoll: a waiter left in its slot");
    return old == PD_READY;
}

int sched_netpoll_wait(sched_polldesc_t *pd, int mode,
                       const _Atomic bool *cancel)
{
    int err = pd_checkerr(pd, mode);
    if (err)
        return err;
    if (cancelled(cancel))
        return ECANCELED;
    if ((err = pd_check_epoch(pd)) != 0)
        return err;
    while (!netpollblock(pd, mode, cancel)) {
        if ((err = pd_checkerr(pd, mode)) != 0)
            return err;
        if (cancelled(cancel))
            return ECANCELED;
        /* Woken for nothing (a deadline that fired and was moved again):
         * wait on, as Go does. */
    }
    return 0;
}

int32_t sched_netpoll_waiters(void)
{
    return atomic_load_explicit(&nwaiters, memory_order_seq_cst);
}

/* ---- polling (for proc.c and sysmon.c) ----------------------------------- */

void sched_netpoll_break(void)
{
    uint32_t none = 0;
    if (!atomic_compare_exchange_strong_explicit(
            &np.wakesig, &none, 1, memory_order_acq_rel, memory_order_relaxed))
        return; /* one is on its way */
    sched__lock(&np.lock);
    int bfd = np.breakfd;
    if (bfd >= 0) {
        uint64_t one = 1;
        while (write(bfd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    } else {
        atomic_store_explicit(&np.wakesig, 0, memory_order_relaxed);
    }
    sched__unlock(&np.lock);
}

/* Readies pd's waiters for the directions an event names. */
static size_t netpollready(sched_polldesc_t *pd, uint32_t events, sched_g **gs,
                           size_t n)
{
    static const struct {
        int mode;
        uint32_t mask;
    } dirs[] = {
        {SCHED_POLL_READ, EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR},
        {SCHED_POLL_WRITE, EPOLLOUT | EPOLLHUP | EPOLLERR},
    };
    for (int i = 0; i < 2; i++) {
        if (!(events & dirs[i].mask))
            continue;
        pollwaiter_t *w = slot_unblock(pd_slot(pd, dirs[i].mode), true);
        if (!w)
            continue;
        if (w->g) {
            if (sched__tracing())
                sched__trace_unblock_netpoll(sched_goid(w->g));
            gs[n++] = w->g;
        } else {
            thread_wake(w);
        }
    }
    return n;
}

size_t sched__netpoll(int timeout_ms, sched_g **gs)
{
    int epfd = atomic_load_explicit(&np.epfd, memory_order_acquire);
    if (epfd < 0)
        return 0;
    struct epoll_event ev[SCHED__NETPOLL_EVENTS];
    int k = epoll_wait(epfd, ev, SCHED__NETPOLL_EVENTS, timeout_ms);
    size_t n = 0;
    for (int i = 0; i < k; i++) {
        if (ev[i].data.u64 == BREAK_DATA) {
            /* Only a poller that could block consumes the break. */
            if (timeout_ms != 0) {
                efd_drain(np.breakfd);
                atomic_store_explicit(&np.wakesig, 0, memory_order_release);
            }
            continue;
        }
        sched_polldesc_t *pd = pd_untag(ev[i].data.u64);
        if (pd)
            n = netpollready(pd, ev[i].events, gs, n);
    }
    return n;
}
