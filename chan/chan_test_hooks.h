/* chan_test_hooks.h: internal to gochan, never installed. Test hooks into
 * chan/ (timer.c, go.c); tests reach them by linking the static library.
 */
#ifndef GOCHAN_CHAN_TEST_HOOKS_H
#define GOCHAN_CHAN_TEST_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Replaces how AfterFunc callbacks get their thread (chan_go by default;
 * NULL restores it), so tests can make thread creation fail. */
void chan__timer_set_go(int (*go)(void (*fn)(void *), void *arg));

/* How many timers are in the heap now. */
size_t chan__timer_heap_len(void);

/* How many goroutines (or threads) chan_go has started in this process. */
uint64_t chan__go_started(void);

/* Whether chan_go starts goroutines on the scheduler (else threads). */
bool chan__go_on_scheduler(void);

#endif /* GOCHAN_CHAN_TEST_HOOKS_H */
