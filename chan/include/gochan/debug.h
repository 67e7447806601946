/* gochan/debug.h: Go's goroutine dump, for threads blocked in gochan.
 *
 * When enabled, every operation that blocks (send, receive, select, and so
 * every context wait) records itself while it sleeps: which thread, what it
 * waits on, since when. chan_debug_dump lists them, so a deadlocked program
 * can say what each thread is stuck on. Recording costs one global mutex
 * lock per blocking operation, so it is off unless enabled by a call or by
 * the environment variable GOCHAN_DEBUG=1 (read once, on the first blocking
 * operation). Only operations that block after it is enabled are listed.
 */
#ifndef GOCHAN_DEBUG_H
#define GOCHAN_DEBUG_H

#include <stdbool.h>
#include <stdio.h>
#include <gochan/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts (true) or stops (false) recording blocked operations. */
GOCHAN_API void chan_debug_enable(bool on);

/* Writes one line per goroutine or thread blocked in gochan now to out (e.g.
 * stderr): "goroutine N" (Go's goroutine id) or "thread TID" (the kernel's
 * thread id), the operation (Go's wait reason), the channels with their
 * len/cap/closed state, and how long it has waited. Returns how many it listed.
 * Where the library was built with libdw (CMake's GOCHAN_STACKS), the list
 * is followed by Go's goroutine dump: every live goroutine, recorded or not,
 * as "goroutine N [wait reason, M minutes]:", its frames (function, and
 * file:line where the program has debug information) and "created by" the
 * caller of chan_go; then each recorded plain thread with its frames. The
 * return value still counts the recorded operations only.
 * Safe from any thread, while goroutines start and end; not from a signal
 * handler (use chan_debug_on_sigquit for that). */
GOCHAN_API size_t chan_debug_dump(FILE *out);

/* Enables recording and makes SIGQUIT (Ctrl-\) print the dump to stderr, as
 * Go's runtime prints its goroutines; unlike Go, the process keeps running.
 * The handler only wakes a helper thread, which does the printing. Returns
 * CHAN_OK, or CHAN_NOMEM with errno when the pipe or thread cannot be made. */
GOCHAN_API int chan_debug_on_sigquit(void);

/* Execution trace (Go's runtime/trace and `go tool trace`): records what
 * every goroutine and every plain thread does in gochan, with timestamps,
 * into path as one JSON object in the Chrome Trace Event Format, which
 * ui.perfetto.dev and chrome://tracing open (docs/trace.md describes it): a
 * track per goroutine and per plain thread, a slice while a goroutine runs
 * (on which P and M), its creation, each block (Go's wait reason and the
 * channel, lock or descriptor), each unblock with an arrow from whoever woke
 * it, its end; channel closes and timer fires.
 *
 * chan_trace_start creates or truncates path and starts recording. Returns
 * 0, or -1 with errno: EINVAL (path is NULL), EBUSY (a trace is already
 * being recorded), open(2)'s errno (EACCES, ENOENT...: nothing is
 * recorded), EAGAIN (no thread for the writer). chan_trace_stop stops
 * recording, writes out what was recorded and closes the file, which is
 * then complete, valid JSON. Returns 0, or -1 with errno EINVAL (no trace is
 * being recorded), or the write(2) error (ENOSPC, EPIPE, EIO...) that ended
 * the trace early: a failed write stops recording by itself, the program
 * goes on (no SIGPIPE), the file is cut short, and the next stop reports it.
 *
 * Both may be called from any thread or goroutine, not from a signal
 * handler; stop blocks until the file is written. The environment variable
 * GOCHAN_TRACE=path traces a whole run of any program linked with gochan,
 * without a code change: recording starts when the library is loaded and a
 * trace still running at exit is stopped by atexit (so is one started by
 * chan_trace_start and never stopped). While off, each traced point costs
 * one predictable branch; while on, each event tens of nanoseconds
 * (docs/performance.md); a writer that falls behind drops events, counted
 * in the file's otherData.dropped_events. A forked child does not trace. */
GOCHAN_API int chan_trace_start(const char *path);
GOCHAN_API int chan_trace_stop(void);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_DEBUG_H */
