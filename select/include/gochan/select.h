/* gochan/select.h: Go's select statement over gochan channels.
 *
 * The caller builds an array of cases (in source order) and gets back the index
 * of the case that ran. The array and every elem buffer stay owned by the
 * caller; only the chosen case's status (and, for a receive, its elem) is
 * written. Waiters live on the caller's stack or in a per-thread pool: a select
 * never allocates after the first large one on a thread.
 *
 *     chan_case_t cases[] = {
 *         CHAN_RECV_CASE(jobs, &job),
 *         CHAN_SEND_CASE(results, &result),
 *     };
 *     switch (chan_select(cases, 2)) {
 *     case 0: ... job received (cases[0].status is CHAN_OK or CHAN_CLOSED)
 *     case 1: ... result sent
 *     }
 */
#ifndef GOCHAN_SELECT_H
#define GOCHAN_SELECT_H

#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CHAN_SEND = 1, CHAN_RECV = 2 } chan_dir_t;

typedef struct chan_case {
    chan_t *chan;   /* NULL: this case is never ready (Go's nil channel) */
    chan_dir_t dir; /* CHAN_SEND or CHAN_RECV; anything else is CHAN_INVALID */
    void *elem;     /* send: the value is read from here; recv: written here
                       (may be NULL to discard) */
    int status;     /* out, for the chosen case: CHAN_OK or CHAN_CLOSED */
} chan_case_t;

/* Case initialisers, so a select reads close to Go's. */
#define CHAN_SEND_CASE(c, elemp)                                               \
    ((chan_case_t){.chan = (c), .dir = CHAN_SEND, .elem = (void *)(elemp)})
#define CHAN_RECV_CASE(c, elemp)                                               \
    ((chan_case_t){.chan = (c), .dir = CHAN_RECV, .elem = (void *)(elemp)})

/* Go's maximum number of cases in one select. */
#define CHAN_SELECT_MAX_CASES 65536

/* select { cases... }: blocks until one case can proceed, runs it and returns
 * its index. Among ready cases one is chosen uniformly at random. A receive on
 * a closed channel is ready (status CHAN_CLOSED, zeroed elem); so is a send on
 * a closed channel (status CHAN_CLOSED; Go panics there). NULL-channel cases
 * are never ready; n == 0 or all-NULL blocks forever. Returns -CHAN_INVALID for
 * a bad direction, a NULL send elem on a channel with elem_size > 0, NULL cases
 * with n > 0, or n > CHAN_SELECT_MAX_CASES; nothing is touched then. A
 * select of more than 8 cases borrows a per-thread pool that grows on first
 * use; if that allocation fails it returns -CHAN_NOMEM, again touching
 * nothing. */
GOCHAN_API int chan_select(chan_case_t *cases, size_t n);

/* chan_try_select's answer when no case is ready: Go's `default:`. */
#define CHAN_SELECT_DEFAULT (-1)

/* select { cases...; default: }: as chan_select, but returns
 * CHAN_SELECT_DEFAULT (-1) at once when no case is ready, judged on one
 * snapshot of all the channels. */
GOCHAN_API int chan_try_select(chan_case_t *cases, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_SELECT_H */
