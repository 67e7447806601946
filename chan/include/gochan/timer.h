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
 * (which also stops it). The handle's channel is borrowed: it lives as long as
 * the handle, or longer if the caller chan_retain()s it. Stop, reset and
 * release are safe from any thread, also while the timer fires.
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
 * once, d from now. NULL with errno ENOMEM. */
GOCHAN_API chan_t *chan_after(int64_t d);

/* time.NewTimer(d). NULL with errno ENOMEM. */
GOCHAN_API chan_timer_t *chan_timer_new(int64_t d);

/* t.C: borrowed; NULL for a timer made by chan_after_func or for NULL t. */
GOCHAN_API chan_t *chan_timer_chan(chan_timer_t *t);

/* t.Stop(): true if the call stopped the timer, false if it had already fired
 * or been stopped. For an AfterFunc timer, true means f will not run; stop
 * does not wait for a running f. */
GOCHAN_API bool chan_timer_stop(chan_timer_t *t);

/* t.Reset(d): true if the timer had been active. Discards an unreceived value.
 */
GOCHAN_API bool chan_timer_reset(chan_timer_t *t, int64_t d);

/* Stops the timer and frees the handle. NULL-safe. */
GOCHAN_API void chan_timer_release(chan_timer_t *t);

/* time.AfterFunc(d, f): after d, runs f(arg) on its own thread. Returns a
 * handle to stop or reset it and to release; NULL with errno (EINVAL for a NULL
 * f, ENOMEM). */
GOCHAN_API chan_timer_t *chan_after_func(int64_t d, void (*f)(void *arg),
                                         void *arg);

/* time.NewTicker(d). NULL with errno EINVAL when d <= 0 (Go panics), ENOMEM. */
GOCHAN_API chan_ticker_t *chan_ticker_new(int64_t d);
GOCHAN_API chan_t *chan_ticker_chan(chan_ticker_t *t); /* t.C, borrowed */
GOCHAN_API void chan_ticker_stop(chan_ticker_t *t);
/* t.Reset(d): CHAN_OK, or CHAN_INVALID when d <= 0 or t is NULL. */
GOCHAN_API int chan_ticker_reset(chan_ticker_t *t, int64_t d);
GOCHAN_API void chan_ticker_release(chan_ticker_t *t); /* stops and frees */

/* time.Tick(d): a ticker's channel for a ticker that never stops; the caller
 * owns one reference to the channel. NULL with errno when d <= 0. */
GOCHAN_API chan_t *chan_tick(int64_t d);

/* time.Sleep(d): returns at once for d <= 0. */
GOCHAN_API void chan_sleep(int64_t d);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_TIMER_H */
