/* gochan/signal.h: Go's os/signal, with channels (Notify, Stop, Reset, Ignore,
 * NotifyContext).
 *
 * Signals are numbers (SIGINT, ...), sent as `int` values on channels made
 * with chan_make(sizeof(int), cap). A signal handler that only sets a flag
 * and writes a byte to a pipe (async-signal-safe) feeds one delivery thread,
 * started by the first chan_signal_notify and alive until the process exits;
 * that thread sends each signal to every channel that asked for it without
 * ever blocking (chan_try_send), so a full channel drops the signal: give the
 * channel a buffer (cap 1 for one kind of signal). As in Go, arrivals of one
 * signal that the thread has not yet sent are merged into one.
 *
 * Which signals. A number is accepted if it is 1..31 or SIGRTMIN..SIGRTMAX
 * and not SIGKILL or SIGSTOP (which cannot be caught) or a synchronous fault
 * signal, SIGSEGV, SIGBUS, SIGFPE and SIGILL (a handler that returns from a
 * real fault faults again; Go turns these into panics). An empty list (nsigs 0)
 * means "all": every accepted signal except SIGABRT (abort() must still end
 * the process), SIGTRAP (debuggers) and SIGSYS (seccomp), which may still be
 * named explicitly. glibc's own two real-time signals are never accepted;
 * SIGRTMIN..SIGRTMAX are.
 *
 * Dispositions. The first channel to want a signal installs gochan's handler,
 * saving the disposition it replaces (a notified signal loses its default
 * effect: SIGINT no longer ends the program); when no channel wants it any
 * more (Stop, Reset) that saved disposition comes back. Ignore sets SIG_IGN;
 * Reset restores the saved disposition, undoing Ignore too.
 *
 * fork(): the child inherits the registrations and dispositions but not the
 * delivery thread; its next chan_signal_notify starts one, and relays what
 * was caught meanwhile.
 *
 * Every function may be called from any thread or goroutine, never from a
 * signal handler. Statuses are those of enum chan_status.
 */
#ifndef GOCHAN_SIGNAL_H
#define GOCHAN_SIGNAL_H

#include <stddef.h>
#include <gochan/chan.h>
#include <gochan/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* signal.Notify(c, sigs...): relay the nsigs signals in sigs (all, as above,
 * when nsigs is 0) to c, a channel of int. Calls on one channel add to its
 * set; several channels may ask for one signal, and each gets a copy.
 * Never blocks on c. gochan holds a reference to c while it is registered
 * (until chan_signal_stop, or until Reset or Ignore remove its last signal);
 * the caller keeps its own and may release it at any time. Returns CHAN_OK;
 * CHAN_INVALID for a NULL c, an element size other than sizeof(int), NULL
 * sigs with nsigs > 0, or a signal not accepted above; CHAN_NOMEM when
 * memory, the pipe or the delivery thread cannot be had. On failure nothing
 * changed. */
GOCHAN_API int chan_signal_notify(chan_t *c, const int *sigs, size_t nsigs);

/* signal.Stop(c): c receives no more signals once this returns. A signal
 * that had arrived before is either sent to c or, if it arrived after the
 * disposition came back, has its default effect; none is lost: Stop waits
 * (blocking its thread, microseconds) until the delivery thread has handled
 * every signal already caught. Signals nobody else wants get their saved
 * disposition back; gochan drops its reference to c. CHAN_OK (also when c was
 * not registered), CHAN_INVALID for NULL. */
GOCHAN_API int chan_signal_stop(chan_t *c);

/* signal.Reset(sigs...): no channel receives these signals any more (every
 * accepted signal, SIGABRT, SIGTRAP and SIGSYS included, when nsigs is 0),
 * and each gets back the disposition
 * gochan saved when it first took it over (a signal gochan never touched is
 * left alone). Returns CHAN_OK, or CHAN_INVALID (a bad signal or NULL sigs
 * with nsigs > 0; nothing changed). Never blocks. */
GOCHAN_API int chan_signal_reset(const int *sigs, size_t nsigs);

/* signal.Ignore(sigs...): as chan_signal_reset, but sets the signals to
 * SIG_IGN (all of the "all" set when nsigs is 0). chan_signal_reset or a later
 * Notify undoes it. Returns CHAN_OK or CHAN_INVALID. Never blocks. */
GOCHAN_API int chan_signal_ignore(const int *sigs, size_t nsigs);

/* signal.NotifyContext(parent, sigs...): a child of parent that is done
 * (context_canceled) when the first of sigs arrives, when context_cancel(*stop)
 * is called, or when parent is done, whichever is first. Release it with
 * context_release; *stop lives inside it and is valid until then, as every
 * cancel handle is (context.h), callable any number of times from any thread.
 * A goroutine watches for the signal.
 *  - Unregistering (Go: stop acts like Reset for sigs). Once the context is
 *    done by stop or by its parent, the watcher unregisters the signals
 *    shortly after (asynchronously: context_cancel does not wait for it).
 *    Once it is done by a signal, further arrivals of sigs are still
 *    swallowed, as in Go until stop; here until the context is freed (its
 *    last reference released), which also unregisters in every case.
 *  - context_string: Go's "signal.NotifyContext(PARENT, [hangup interrupt])"
 *    with Go's signal names, no brackets when nsigs is 0.
 * Returns NULL with errno: EINVAL (NULL parent or stop, bad sigs as
 * chan_signal_notify), ENOMEM. */
GOCHAN_API context_t *context_signal_notify(context_t *parent, const int *sigs,
                                            size_t nsigs,
                                            context_cancel_t **stop);

/* Go's Signal.String(), as fmt.Println(sig) prints it: Linux's names in
 * Go's words ("interrupt", "terminated", "hangup", ...), "signal N" for a
 * number without one. Writes it into buf as snprintf does (n may be 0) and
 * returns its length. Any thread; never fails. */
GOCHAN_API size_t chan_signal_string(int sig, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_SIGNAL_H */
