/* fdmutex.h: internal to net/, never installed. Go's internal/poll fdMutex:
 * one 64-bit word that counts the references to a descriptor, serializes
 * reads with reads and writes with writes, and records the close, so that
 * the descriptor is closed only when the last call in flight returns.
 *
 * The word: bit 0 closed, bit 1 a reader holds the read lock, bit 2 a writer
 * holds the write lock, bits 3-22 references (calls in flight, lock holders
 * included), bits 23-42 readers waiting, bits 43-62 writers waiting. Waiters
 * sleep on sync/'s semaphores (a goroutine parks, a thread blocks).
 */
#ifndef GOCHAN_NET_FDMUTEX_H
#define GOCHAN_NET_FDMUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct net__fdmutex {
    _Atomic uint64_t state;
    uint32_t rsema; /* readers waiting for the read lock sleep here */
    uint32_t wsema; /* writers likewise */
} net__fdmutex_t;

/* A reference for a call that needs neither lock (Go's incref): 0, EBADF
 * when the descriptor is closed, or EOVERFLOW when 2^20 - 1 references are
 * held already (where Go panics). */
int net__fdmutex_incref(net__fdmutex_t *mu);

/* Close (Go's increfAndClose): marks it closed, takes a reference and wakes
 * every waiter for a lock (they fail). 0, EBADF when it was closed already,
 * EOVERFLOW. */
int net__fdmutex_incref_and_close(net__fdmutex_t *mu);

/* Drops a reference; true when it was the last one of a closed descriptor:
 * the caller must then destroy it. */
bool net__fdmutex_decref(net__fdmutex_t *mu);

/* The read (read true) or write lock, with a reference: waits while another
 * holds it. 0, EBADF when the descriptor is closed (also while waiting), or
 * EOVERFLOW. */
int net__fdmutex_rwlock(net__fdmutex_t *mu, bool read);

/* Releases it and its reference; true as for decref. */
bool net__fdmutex_rwunlock(net__fdmutex_t *mu, bool read);

#endif /* GOCHAN_NET_FDMUTEX_H */
