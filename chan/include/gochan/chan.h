/* gochan/chan.h: Go's channels for C11 (make, send, receive, close, len, cap).
 *
 * A chan_t is Go's `chan T` for a T of elem_size bytes, copied in and out by
 * value. Ownership is by reference count: chan_make returns one reference that
 * the caller owns; chan_retain adds one, chan_release drops one and the last
 * release frees the channel. A thread blocked in an operation holds its own
 * reference, so releasing a channel others are blocked on is safe (it takes
 * that reference lazily: from the last release, not while others hold one).
 *
 * Values live in the channel as bytes: a send copies elem_size bytes in, a
 * receive copies them out, so the sender's variable may go (or be reused)
 * as soon as the send returns. If a value is a pointer, what it points to is
 * the program's: releasing a channel frees its buffer but never what buffered
 * values point to (it cannot know), so drain it first when they own memory.
 *
 * Every function may be called from any thread. Status codes are returned as
 * int; where Go panics, gochan returns a code and changes nothing.
 *
 * Signal handlers: no gochan function may be called from a C signal handler
 * (not even chan_try_send or chan_close): they take locks that the
 * interrupted code may hold, and the handler would wait for itself forever.
 * To act on a signal, receive it on a channel with chan_signal_notify
 * (<gochan/signal.h>), as Go's signal.Notify does.
 */
#ifndef GOCHAN_CHAN_H
#define GOCHAN_CHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GOCHAN_BUILDING)
#define GOCHAN_API __attribute__((visibility("default")))
#else
#define GOCHAN_API
#endif

/* The status of an operation. CHAN_OK is 0; every other code is positive. */
enum chan_status {
    CHAN_OK = 0,         /* the operation happened */
    CHAN_CLOSED = 1,     /* send on a closed channel; close of a closed channel;
                            receive on a closed and drained channel (ok == false) */
    CHAN_WOULDBLOCK = 2, /* a try operation could not proceed at once */
    CHAN_INVALID = 3, /* bad argument: NULL where not allowed, bad direction */
    CHAN_NOMEM = 4    /* out of memory or threads; nothing changed */
};

typedef struct chan chan_t;

/* Names a status code ("ok", "channel closed", ...); "unknown status" for any
 * other value. The string is static. */
GOCHAN_API const char *chan_strerror(int status);

/* make(chan T, cap) with sizeof(T) == elem_size; elem_size 0 is chan struct{}.
 * Returns a channel owned by the caller (one reference), or NULL with errno:
 * EINVAL when elem_size * cap overflows, ENOMEM when it cannot be allocated.
 * Memory: an unbuffered channel takes 96 bytes, as Go's. A capacity of 8 to
 * 65,536 gets the lock-free ring of the default build (CMake option
 * GOCHAN_CHAN_LOCKFREE), which gives each slot a 64-byte line of its own up
 * to 1,024 slots of small values, so that a sender and a receiver working
 * side by side do not share one: make(chan int64, 128) takes some 8.4 KiB,
 * where Go's takes 1.1 KiB. Smaller and larger buffers are packed. */
GOCHAN_API chan_t *chan_make(size_t elem_size, size_t cap);

/* Adds a reference and returns c. NULL-safe (returns NULL). */
GOCHAN_API chan_t *chan_retain(chan_t *c);

/* Drops a reference; the last one frees the channel and any buffered values.
 * NULL-safe. Threads blocked on c hold references of their own: the last
 * release while some still block hands each of them one, and the last of
 * them to be woken frees the channel. */
GOCHAN_API void chan_release(chan_t *c);

/* c <- *elem. Blocks until a receiver takes the value (unbuffered) or it is
 * buffered. Returns CHAN_OK, or CHAN_CLOSED if c is closed, also when it is
 * closed while this call blocks (the value was then not sent). elem may be NULL
 * only when elem_size is 0 (else CHAN_INVALID). A NULL c blocks forever. */
GOCHAN_API int chan_send(chan_t *c, const void *elem);

/* v, ok := <-c, storing v in *elem (elem may be NULL to discard it). Blocks.
 * Returns CHAN_OK, or CHAN_CLOSED once c is closed and its buffer drained, with
 * *elem zeroed. A NULL c blocks forever. */
GOCHAN_API int chan_recv(chan_t *c, void *elem);

/* select { case c <- *elem: default: }. Never blocks. Returns CHAN_OK,
 * CHAN_CLOSED, CHAN_WOULDBLOCK (also for a NULL c), or CHAN_INVALID. */
GOCHAN_API int chan_try_send(chan_t *c, const void *elem);

/* select { case v, ok := <-c: default: }. Never blocks. Returns CHAN_OK,
 * CHAN_CLOSED (with *elem zeroed) or CHAN_WOULDBLOCK (*elem untouched; also
 * for a NULL c). */
GOCHAN_API int chan_try_recv(chan_t *c, void *elem);

/* close(c). Buffered values are still received, in order; then every receive
 * returns CHAN_CLOSED. Wakes every blocked receiver (CHAN_CLOSED, zeroed value)
 * and every blocked sender (CHAN_CLOSED). Returns CHAN_OK, CHAN_CLOSED if c was
 * already closed, CHAN_INVALID for NULL. */
GOCHAN_API int chan_close(chan_t *c);

/* len(c): the values buffered now (a racy snapshot, as in Go); 0 for NULL. */
GOCHAN_API size_t chan_len(chan_t *c);

/* cap(c): the buffer's capacity; 0 for NULL and for unbuffered channels. */
GOCHAN_API size_t chan_cap(chan_t *c);

/* time.Now() as nanoseconds on CLOCK_MONOTONIC: the clock of every deadline. */
GOCHAN_API int64_t chan_now(void);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_CHAN_H */
