/* net_impl.h: internal to net/, never installed. What fd.c (Go's
 * internal/poll.FD: the fdMutex, the poll descriptor, read, write, accept,
 * deadlines) offers sock.c (Go's net: addresses, listen, dial).
 */
#ifndef GOCHAN_NET_IMPL_H
#define GOCHAN_NET_IMPL_H

#include <gochan/net.h>

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

/* errno in net/ is looked up afresh at every use. A goroutine may resume on
 * another thread after any call that parks (a wait on the poller, the
 * fdMutex, a connect), and compilers keep errno's address (glibc's
 * __errno_location is declared const) across such calls within a function:
 * an errno set or read after a park would be another thread's. Every net/
 * source includes this header first. */
int *net__errno_location(void);
#undef errno
#define errno (*net__errno_location())

/* Wraps sysfd, a socket made non-blocking and close-on-exec, registering it
 * with the poller. On failure NULL with errno, and sysfd is still the
 * caller's to close. */
chan_fd_t *net__fd_new_socket(int sysfd);

/* The second half of a non-blocking connect: f's socket got EINPROGRESS from
 * connect(2); waits until it is writable (or ctx is done, or f's write
 * deadline passes) and reads SO_ERROR. 0, or an errno (ECONNREFUSED, ...,
 * ECANCELED/ETIMEDOUT from ctx). */
int net__fd_connect_wait(context_t *ctx, chan_fd_t *f);

/* Holds f open for a moment (Go's fd.incref): *sysfd is its descriptor until
 * net__fd_decref. 0, or EBADF when f is closed. */
int net__fd_incref(chan_fd_t *f, int *sysfd);
void net__fd_decref(chan_fd_t *f);

/* A unix listener's path, removed by chan_fd_close (Go's unlinkOnClose).
 * Takes a copy; false when out of memory (then nothing is removed). */
bool net__fd_unlink_on_close(chan_fd_t *f, const char *path);

#endif /* GOCHAN_NET_IMPL_H */
