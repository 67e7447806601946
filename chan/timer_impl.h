/* timer_impl.h: internal to gochan, never installed. Test hooks into
 * timer.c; tests reach them by linking the static library.
 */
#ifndef GOCHAN_TIMER_IMPL_H
#define GOCHAN_TIMER_IMPL_H

#include <stddef.h>

/* Replaces how AfterFunc callbacks get their thread (chan_go by default;
 * NULL restores it), so tests can make thread creation fail. */
void chan__timer_set_go(int (*go)(void (*fn)(void *), void *arg));

/* How many timers are in the heap now. */
size_t chan__timer_heap_len(void);

#endif /* GOCHAN_TIMER_IMPL_H */
