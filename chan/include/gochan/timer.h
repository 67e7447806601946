/* gochan/timer.h: Go's time package as channels: After, Timer, Ticker, Tick,
 * AfterFunc and Sleep, served by one timer thread (Go's timer heap).
 *
 * Durations are int64_t nanoseconds (Go's time.Duration); a channel delivers
 * the firing time as an int64_t chan_now() reading. Semantics follow Go 1.23:
 * once chan_timer_stop or chan_timer_reset returns, no stale value can be
 * received from the timer's channel, and a ticker's channel holds at most one
 * pending tick, dropping ticks for a slow reader. Timer and ticker channels
 * report chan_len and chan_cap 0, as Go's do.
 *
 * Ownership: chan_timer_new / chan_after_func / chan_ticker_new return a handle
 * the caller owns and frees with chan_timer_release / chan_ticker_release
 * (which also stops it: release an AfterFunc handle only once f is no longer
 * wanted, or has run). The handle's channel is borrowed: it lives as long as
 * the handle, or longer if the caller chan_retain()s it. Stop, reset and
 * release are safe from any thread, also while the timer fires; none of them
 * blocks beyond a short internal lock.
 *
 * Every timer is served by one timer thread, started by the first timer
 * (constructors fail with errno EAGAIN if it cannot start). Timer channels are
 * never closed, as in Go.
 */
#ifndef GOCHAN_TIMER_H
#define GOCHAN_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAN_NANOSECOND  ((int64_t)1)
#define CHAN_MICROSECOND (1000 * CHAN_NANOSECOND)
#define CHAN_MILLISECOND (1000 * CHAN_MICROSECOND)
#define CHAN_SECOND      (1000 * CHAN_MILLISECOND)
#define CHAN_MINUTE      (60 * CHAN_SECOND)
#define CHAN_HOUR        (60 * CHAN_MINUTE)

typedef struct chan_timer chan_timer_t;
typedef struct chan_ticker chan_ticker_t;

/* time.After(d): a channel (caller owns one reference) that receives the time
 * once, d from now (at once for d <= 0). The timer thread keeps its own
 * reference until it fires, so releasing the channel early is fine. NULL with
 * errno ENOMEM or EAGAIN. */
GOCHAN_API chan_t *chan_after(int64_t d);

/* time.NewTimer(d): the time is sent on chan_timer_chan(t) d from now (at once
 * for d <= 0). NULL with errno ENOMEM or EAGAIN. */
GOCHAN_API chan_timer_t *chan_timer_new(int64_t d);

/* t.C: borrowed; NULL for a timer made by chan_after_func or for NULL t. */
GOCHAN_API chan_t *chan_timer_chan(chan_timer_t *t);

/* t.Stop(): true if the call stopped the timer, false if it had already fired
 * or been stopped. As in Go 1.23, a value that fired but was not yet received
 * counts as pending: Stop discards it and returns true, and once Stop returns
 * no stale value can be received. For an AfterFunc timer, true means f will
 * not run (for this firing); false means f has started or will start, and
 * Stop does not wait for it. False for NULL. */
GOCHAN_API bool chan_timer_stop(chan_timer_t *t);

/* t.Reset(d): stops the timer as chan_timer_stop does (discarding an unreceived
 * value) and schedules it d from now; returns what Stop would have. For an
 * AfterFunc timer, true means the pending call moved, false that f will run
 * again (possibly while an earlier f still runs). False for NULL. */
GOCHAN_API bool chan_timer_reset(chan_timer_t *t, int64_t d);

/* Stops the timer (discarding an unreceived value) and frees the handle. A
 * retained channel outlives it but will receive nothing more. NULL-safe. */
GOCHAN_API void chan_timer_release(chan_timer_t *t);

/* time.AfterFunc(d, f): after d, runs f(arg) on its own thread (chan_go), so a
 * slow f delays no other timer. If no thread can be started then, the call is
 * not lost: the timer thread retries it (1 ms, backing off to 64 ms), in
 * order. Returns a handle to stop, reset and release; NULL with errno (EINVAL
 * for a NULL f, ENOMEM, EAGAIN). */
GOCHAN_API chan_timer_t *chan_after_func(int64_t d, void (*f)(void *arg),
                                         void *arg);

/* time.NewTicker(d): ticks every d, the first d from now, on a grid (a late
 * tick does not delay the next ones). The channel holds at most one tick; a
 * reader that falls behind loses ticks. NULL with errno EINVAL when d <= 0 (Go
 * panics), ENOMEM, EAGAIN. */
GOCHAN_API chan_ticker_t *chan_ticker_new(int64_t d);
GOCHAN_API chan_t *chan_ticker_chan(chan_ticker_t *t); /* t.C, borrowed */
/* t.Stop(): no more ticks; discards an unreceived one; does not close the
 * channel. NULL-safe. */
GOCHAN_API void chan_ticker_stop(chan_ticker_t *t);
/* t.Reset(d): stops the ticker (discarding an unreceived tick) and restarts it
 * with period d, the next tick d from now. CHAN_OK, or CHAN_INVALID (nothing
 * changed) when d <= 0 or t is NULL. */
GOCHAN_API int chan_ticker_reset(chan_ticker_t *t, int64_t d);
GOCHAN_API void chan_ticker_release(chan_ticker_t *t); /* stops and frees */

/* time.Tick(d): a ticker's channel for a ticker that never stops; the caller
 * owns one reference to the channel. As Go 1.23's collector does, gochan frees
 * the ticker at its next tick after the last other reference is released.
 * NULL with errno EINVAL when d <= 0 (Go returns nil), ENOMEM, EAGAIN. */
GOCHAN_API chan_t *chan_tick(int64_t d);

/* time.Sleep(d): blocks the calling thread at least d (signals do not cut it
 * short); returns at once for d <= 0. Needs no timer thread. */
GOCHAN_API void chan_sleep(int64_t d);

/* d.String() for a time.Duration d: exactly Go's text for every value, the
 * largest units first with a decimal fraction ("1h2m3.5s", "-2ms", "0s",
 * "1.5µs" with the micro sign U+00B5 in UTF-8, as Go writes it;
 * INT64_MIN is "-2562047h47m16.854775808s"). Writes at most n bytes to buf,
 * NUL-terminated when n > 0 (buf may be NULL when n is 0), and returns the
 * length of the whole text without the NUL, as snprintf does: a result >= n
 * means it was cut short. 32 bytes always suffice. Any thread. */
GOCHAN_API size_t chan_duration_string(int64_t d, char *buf, size_t n);

/* time.Now().UnixNano(): the wall clock (CLOCK_REALTIME), in nanoseconds
 * since 1970-01-01 UTC. It can jump (settimeofday, NTP): measure intervals
 * and set deadlines with chan_now()'s monotonic clock instead. */
GOCHAN_API int64_t chan_unix_nano(void);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_TIMER_H */
