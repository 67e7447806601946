/* signal_impl.h: internal to gochan, never installed. What signal.c (Notify,
 * Stop, Reset, Ignore and the delivery thread) tells signal_context.c
 * (NotifyContext).
 */
#ifndef GOCHAN_SIGNAL_IMPL_H
#define GOCHAN_SIGNAL_IMPL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether chan_signal_notify accepts sigs[0..nsigs) (nsigs 0 is "all"). */
bool chan__signal_list_valid(const int *sigs, size_t nsigs);

#endif /* GOCHAN_SIGNAL_IMPL_H */
