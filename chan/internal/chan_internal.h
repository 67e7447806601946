/* chan_internal.h: internal to gochan, never installed. The one header of
 * chan/ that the layers above it (select/, context/) may include besides the
 * public ones: what gochan's own upper layers need from chan/ and users must
 * not rely on.
 */
#ifndef GOCHAN_CHAN_INTERNAL_H
#define GOCHAN_CHAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gochan/timer.h>

/* chan_after_func for gochan's own callbacks: f(arg) runs on the timer
 * thread itself rather than on a thread of its own, so it fires on time even
 * when no thread can be started (a context's deadline must). f must be short
 * and must not block: every other timer waits while it runs. It may stop and
 * release timers, its own among them. Stop, reset and release as for
 * chan_after_func. */
chan_timer_t *chan__after_func_on_timer_thread(int64_t d, void (*f)(void *arg),
                                               void *arg);

/* Whether the caller runs on a goroutine of the scheduler, where a wait must
 * park (or yield), never block the thread. */
bool chan__on_goroutine(void);

/* The element size c was made with (0 for NULL), for signal/, which checks
 * that a channel carries ints. */
size_t chan__elem_size(chan_t *c);

#endif /* GOCHAN_CHAN_INTERNAL_H */
