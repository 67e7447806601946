/* netpoll.h: internal to gochan, never installed. The network poller: Go's
 * runtime/netpoll.go (the poll descriptor and its park/unpark protocol) and
 * netpoll_epoll.go (epoll), for net/.
 *
 * A descriptor is registered once (sched_netpoll_open), edge-triggered for
 * both directions. A caller that met EAGAIN waits in sched_netpoll_wait: a
 * goroutine parks, and whichever M polls the epoll instance readies it (see
 * "The network poller" in proc.c); a plain thread sleeps in poll(2) on the
 * descriptor and on a wake-up eventfd of its own, so it needs no scheduler
 * (GOCHAN_SCHED=0, a forked child). Close, a passed deadline and a canceled
 * context wake either kind the same way.
 *
 * Errors are errno values: EBADF (the descriptor is being closed: Go's
 * errClosing), ETIMEDOUT (its deadline in that direction passed: Go's
 * errTimeout), ECANCELED (the caller's cancel flag was set).
 */
#ifndef GOCHAN_SCHED_NETPOLL_H
#define GOCHAN_SCHED_NETPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

typedef struct sched_polldesc sched_polldesc_t; /* Go's pollDesc */

/* The two directions (Go's mode 'r' and 'w'). */
enum { SCHED_POLL_READ = 'r', SCHED_POLL_WRITE = 'w' };

/* poll_runtime_pollOpen: registers fd, which must be non-blocking. 0 with
 * *pdp, or an errno: EPERM (epoll cannot serve it: a regular file), ENOMEM,
 * or the error of creating the epoll instance. */
int sched_netpoll_open(int fd, sched_polldesc_t **pdp);

/* poll_runtime_pollClose: deregisters pd and gives it back; a late event of
 * the old registration is ignored (the sequence number). Nobody may wait on
 * pd any more. Call it before close(2) of the descriptor. */
void sched_netpoll_close(sched_polldesc_t *pd);

/* poll_runtime_pollReset: before an I/O attempt in mode: forgets stale
 * readiness. 0, EBADF or ETIMEDOUT (then do not attempt the I/O). */
int sched_netpoll_reset(sched_polldesc_t *pd, int mode);

/* poll_runtime_pollWait: waits until pd is ready in mode, or evicted, or its
 * deadline in mode passes, or *cancel (may be NULL) is true. 0 (retry the
 * I/O: it may still say EAGAIN), EBADF, ETIMEDOUT or ECANCELED. At most one
 * caller waits per pd and mode (net/'s fdMutex sees to it). */
int sched_netpoll_wait(sched_polldesc_t *pd, int mode,
                       const _Atomic bool *cancel);

/* Wakes whoever waits on pd in mode, without marking it ready: the waiter
 * rechecks its errors and its cancel flag. Set the flag before calling. */
void sched_netpoll_unblock(sched_polldesc_t *pd, int mode);

/* poll_runtime_pollUnblock: pd is being closed. Every waiter wakes and every
 * later reset or wait returns EBADF. */
void sched_netpoll_evict(sched_polldesc_t *pd);

/* A deadline in mode passed (expired true: the waiter wakes, and reset and
 * wait return ETIMEDOUT) or was moved into the future or removed (false). */
void sched_netpoll_set_expired(sched_polldesc_t *pd, int mode, bool expired);

/* netpollBreak: wakes the M blocked in epoll_wait, if any. */
void sched_netpoll_break(void);

/* Goroutines parked in sched_netpoll_wait now (Go's netpollWaiters). */
int32_t sched_netpoll_waiters(void);

/* For the Ms and sysmon (see "The network poller" in proc.c): polls
 * the epoll instance (timeout_ms as epoll_wait's: -1 blocks, 0 does not),
 * wakes the plain threads an event names and returns the goroutines it
 * names in gs (at most 2 * SCHED__NETPOLL_EVENTS, still Gwaiting: the
 * caller readies them). sched__lastpoll is Go's sched.lastpoll: when an M
 * last polled, 0 while one blocks in epoll_wait. */
#define SCHED__NETPOLL_EVENTS 128
size_t sched__netpoll(int timeout_ms, sched_g **gs);
extern _Atomic int64_t sched__lastpoll;

#endif /* GOCHAN_SCHED_NETPOLL_H */
