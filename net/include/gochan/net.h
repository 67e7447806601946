/* gochan/net.h: I/O on goroutines. Go's network poller (internal/poll.FD
 * under *os.File, net.Conn and net.Listener) for C descriptors.
 *
 * A goroutine that reads, writes, accepts or connects on a chan_fd_t parks
 * until the descriptor is ready, and its worker thread runs other goroutines
 * meanwhile: 10,000 goroutines each blocked on its own socket need
 * GOMAXPROCS threads and a few. A plain thread (main, any pthread, or every
 * chan_go with GOCHAN_SCHED=0) making the same call blocks, as it does on a
 * channel; deadlines, contexts and close wake it the same way.
 *
 * Ownership. chan_fd_new, chan_fd_pipe, chan_net_listen, chan_fd_accept and
 * chan_net_dial return a handle holding one reference, which the caller
 * releases with chan_fd_release; chan_fd_retain adds one, for another
 * goroutine. The handle owns the descriptor: chan_fd_close closes it (Go's
 * Close), and the last release closes it if nobody did. Never close(2) a
 * descriptor gochan owns yourself.
 *
 * Blocking. Every call may be made from any goroutine or thread. Reads are
 * serialized with reads and writes with writes (Go's fdMutex); a read and a
 * write may run at once. chan_fd_close wakes every call blocked on the handle
 * (they fail with EBADF) and closes the descriptor number only once no call
 * on it is in flight, so a number reused by the process is never touched.
 *
 * Errors. Functions return -1 (or NULL) and set errno: EBADF once the handle
 * is closed (Go's ErrNetClosing / ErrFileClosing), ETIMEDOUT when a deadline
 * passed (os.ErrDeadlineExceeded), ECANCELED when the context of a _ctx call
 * was canceled (ETIMEDOUT when its deadline passed), EINVAL for NULL or bad
 * arguments, or the system call's own errno (EPIPE, ECONNRESET, ...). EINTR
 * is retried and EAGAIN is never returned (but by chan_net_dial to a unix
 * listener whose backlog is full, as Go). SIGPIPE never kills the process:
 * a write to a closed peer returns EPIPE, as in Go.
 *
 * Descriptors the poller cannot serve. chan_fd_new accepts any descriptor;
 * one that epoll refuses (a regular file, a directory: EPERM) is used in
 * blocking mode (a goroutine blocked on it holds its thread, as blocking C
 * code does), and deadlines on it fail with ENOTSUP (Go's ErrNoDeadline).
 * Descriptors the poller serves are switched to O_NONBLOCK, a flag of the
 * open file description (shared with a dup, or a parent shell's stdin);
 * chan_fd_new's descriptor gets its flag back when it is closed.
 *
 * Times are int64_t nanoseconds on chan_now()'s monotonic clock. Linux only.
 */
#ifndef GOCHAN_NET_H
#define GOCHAN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <gochan/chan.h>
#include <gochan/context.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chan_fd chan_fd_t;

/* os.NewFile: takes ownership of fd (gochan closes it) and returns a handle,
 * or NULL with errno EBADF (fd is not open) or ENOMEM; then fd is still the
 * caller's. */
GOCHAN_API chan_fd_t *chan_fd_new(int fd);

/* Reference counting, NULL-safe. The last release closes the descriptor if
 * it is still open, and frees the handle. */
GOCHAN_API chan_fd_t *chan_fd_retain(chan_fd_t *f);
GOCHAN_API void chan_fd_release(chan_fd_t *f);

/* Close: 0, or -1 with EBADF when already closed (EINVAL for NULL). Every call
 * blocked on f fails with EBADF; the descriptor is closed once the last of
 * them has returned. A listener made for a unix path removes the path. */
GOCHAN_API int chan_fd_close(chan_fd_t *f);

/* TCPConn.CloseWrite, UnixConn.CloseWrite: shutdown(SHUT_WR), so that the
 * peer reads end of file. 0, or -1 with errno (EBADF, ENOTSOCK, ...). */
GOCHAN_API int chan_fd_close_write(chan_fd_t *f);

/* Fd(): the descriptor number, still owned by f; -1 once closed. */
GOCHAN_API int chan_fd_fileno(chan_fd_t *f);

/* os.Pipe: *r reads what *w writes. 0, or -1 with errno (EINVAL for a NULL
 * argument, EMFILE, ENOMEM) and nothing created. */
GOCHAN_API int chan_fd_pipe(chan_fd_t **r, chan_fd_t **w);

/* Read: read(2)'s result, 0 at end of file (and at once for n == 0), after
 * parking until the descriptor is readable. -1 with ETIMEDOUT (the read
 * deadline passed, checked before every attempt, so even with data waiting),
 * EBADF (closed), or read(2)'s errno. */
GOCHAN_API ssize_t chan_fd_read(chan_fd_t *f, void *buf, size_t n);

/* Write: writes all n bytes, parking as needed. Returns n, or the count
 * written before an error (-1 if none) with errno set: ETIMEDOUT, EBADF,
 * EPIPE (the reader is gone), ECONNRESET, ... */
GOCHAN_API ssize_t chan_fd_write(chan_fd_t *f, const void *buf, size_t n);

/* Read and Write that also stop when ctx is done: -1 with ECANCELED when it
 * was canceled, ETIMEDOUT when its deadline passed, whichever comes first,
 * also when it was done before the call. A NULL ctx is none. Only this call
 * is stopped: later calls on f are not (a deadline stops them all). */
GOCHAN_API ssize_t chan_fd_read_ctx(context_t *ctx, chan_fd_t *f, void *buf,
                                    size_t n);
GOCHAN_API ssize_t chan_fd_write_ctx(context_t *ctx, chan_fd_t *f,
                                     const void *buf, size_t n);

/* SetDeadline, SetReadDeadline, SetWriteDeadline: t is an absolute time on
 * chan_now()'s clock, 0 for none. Once t passes, the pending call and every
 * later one in that direction fail with ETIMEDOUT until the deadline is
 * moved; moving it while a call waits applies to that call. A t in the past
 * fails them at once. 0, or -1 with ENOTSUP (a descriptor the poller cannot
 * serve), EBADF (closed), ENOMEM. */
GOCHAN_API int chan_fd_set_deadline(chan_fd_t *f, int64_t t);
GOCHAN_API int chan_fd_set_read_deadline(chan_fd_t *f, int64_t t);
GOCHAN_API int chan_fd_set_write_deadline(chan_fd_t *f, int64_t t);

/* RawConn.Read/Write's wait, for C libraries that do their own non-blocking
 * I/O on chan_fd_fileno(f) (OpenSSL, libpq): after the library met EAGAIN,
 * waits until the descriptor may be ready, within its deadline. It may
 * return early (the library then meets EAGAIN again and calls again). 0, or
 * -1 with ETIMEDOUT or EBADF. On a descriptor the poller cannot serve it
 * returns 0 at once. */
GOCHAN_API int chan_fd_wait_read(chan_fd_t *f);
GOCHAN_API int chan_fd_wait_write(chan_fd_t *f);

/* net.Listen: network "tcp" (IPv6 and IPv4 where the host allows it),
 * "tcp4", "tcp6" or "unix"; address "host:port", "[ipv6]:port", ":port" or
 * ":0" (an ephemeral port: ask chan_fd_local_addr which), a path for unix
 * ("@name": Linux's abstract namespace). SO_REUSEADDR is set. NULL with
 * errno: EINVAL (NULL, an unknown network, a malformed address, a port
 * outside 0..65535, a unix path longer than sun_path), EADDRINUSE,
 * EADDRNOTAVAIL, EACCES, EMFILE, ... */
GOCHAN_API chan_fd_t *chan_net_listen(const char *network, const char *address);

/* Listener.Accept: parks until a connection comes (within ln's read
 * deadline) and returns it, non-blocking and close-on-exec (TCP: with
 * TCP_NODELAY and 15 s keep-alives, as Go). NULL with errno:
 * ETIMEDOUT, EBADF once ln is closed, EMFILE or ENFILE (out of descriptors:
 * ln stays usable; wait and call again), EINVAL (not a listener), ... */
GOCHAN_API chan_fd_t *chan_fd_accept(chan_fd_t *ln);

/* Dialer.DialContext (net.Dial when ctx is NULL): connects to address on
 * network (as chan_net_listen's; ":port" is the local host; a host name is
 * looked up with getaddrinfo, which blocks the caller's thread) trying each
 * address in turn, each with a share of ctx's deadline (Go's dialSerial),
 * without blocking a thread while the connection is made. TCP connections
 * get TCP_NODELAY and 15 s keep-alives, as in Go. NULL with errno:
 * ECONNREFUSED, ENETUNREACH, EINVAL (as for listen, and an empty address),
 * ENOENT (a host name that does not resolve, for any reason), EAFNOSUPPORT
 * (an address of the wrong family for "tcp4" or "tcp6"), EAGAIN (a unix
 * listener's backlog is full), ECANCELED or ETIMEDOUT from ctx; it leaves no
 * descriptor behind. */
GOCHAN_API chan_fd_t *chan_net_dial(context_t *ctx, const char *network,
                                    const char *address);

/* Addr().String() and RemoteAddr().String() into buf: "127.0.0.1:43123",
 * "[::1]:80", or the unix path. 0, or -1 with errno: ENOSPC (buf shorter
 * than the string and its NUL), EBADF, ENOTSOCK, ENOTCONN, EINVAL (NULL). */
GOCHAN_API int chan_fd_local_addr(chan_fd_t *f, char *buf, size_t len);
GOCHAN_API int chan_fd_remote_addr(chan_fd_t *f, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* GOCHAN_NET_H */
