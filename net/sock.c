/* sock.c: Go's net.Listen, Dialer.DialContext, Addr().String() and
 * RemoteAddr().String() over the fd core (net_impl.h): sockets made
 * non-blocking, wrapped by net__fd_new_socket, connected without blocking
 * a thread. Address syntax and resolution live in sock_addr.c.
 *
 * What Go 1.19's net.Listen (L) and Dialer.DialContext (D) do with the
 * edge cases, found by running them, and what we do: "ok" is success as in
 * Go, an errno is NULL with that errno.
 *
 * tcp address            Go                                  here
 * ""                     L ok [::]:port; D missing address   ok; EINVAL
 * ":" ":0"               L ok [::]:port; D 0.0.0.0:0 refused ok; ECONNREFUSED
 * ":80"                  L [::]:80; D dials the local host   same
 * "host:"                no such host (port "" is 0)         ENOENT
 * "[::1"                 missing ']'                         EINVAL
 * "[::1]" "127.0.0.1"    missing port                        EINVAL
 * "::1:0" "a:b:c"        too many colons                     EINVAL
 * "127.0.0.1:99999"      invalid port                        EINVAL
 * "127.0.0.1:-1"         invalid port                        EINVAL
 * "127.0.0.1:+80"        port 80 ("-0" and "+" are port 0)   same
 * "127.0.0.1:http"       port 80 (/etc/services)             same
 * "127.0.0.1:0x10"       unknown port                        EINVAL
 * "localhost:0"          L 127.0.0.1:port (first IPv4)       same
 * "[::1]:0"              L [::1]:port                        same
 * "0.0.0.0:0" "[::]:0"   L [::]:port (tcp4: 0.0.0.0:port)    same
 * "[localhost]:0"        ok: brackets may hold any host      same
 * "[::ffff:1.2.3.4]:0"   the IPv4 address 1.2.3.4            same
 * "127.1:0" "0:0"        no such host (not Go's IP syntax)   ENOENT
 * "nosuchhost.invalid:1" no such host                        ENOENT
 * "[fe80::1%lo]:0"       zone lo; bind: cannot assign        EADDRNOTAVAIL
 * tcp4 "[::1]:0", tcp6 "127.0.0.1:0":
 *                        no suitable address found           EAFNOSUPPORT
 * tcp6 "localhost:0" (localhost is IPv4 only in /etc/hosts):
 *                        no suitable address found           ENOENT (1)
 * tcp6 ""                L [::]:port, IPv6 only              same
 *
 * unix address           Go                                  here
 * over 107 bytes         bind, connect: invalid argument     EINVAL
 *                        ("@" + 107 fits: no NUL in abstract names)
 * ""                     L autobind "@" + 5 hex digits; D missing address
 *                                                            same; EINVAL
 * "@name"                abstract, printed "@name"           same
 * unnamed (a dialer)     printed "@"                         same
 *
 * network "udp", "foo"   (udp: not a stream) unknown network EINVAL
 *
 * (1) getaddrinfo is asked for tcp6's family only and finds no name.
 */
#include "net_impl.h"
#include "sock_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000LL

/* Go's defaultTCPKeepAlive (net/dial.go): 15 s, for dialed conns. */
#define TCP_KEEPALIVE_SECONDS 15

/* Go's dialSerial gives each address at least this (saneMinimum). */
#define DIAL_SANE_MINIMUM (2 * NSEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

static chan_fd_t *fail(int err)
{
    errno = err;
    return NULL;
}

static void close_keeping_errno(int fd)
{
    int err = errno;
    close(fd);
    errno = err;
}

/* A half-made handle is closed and dropped so that no descriptor stays
 * behind; errno survives for the caller. */
static void discard(chan_fd_t *f)
{
    int err = errno;
    chan_fd_close(f);
    chan_fd_release(f);
    errno = err;
}

static void set_int_option(int fd, int level, int name, int value)
{
    /* Go ignores these failures (setDefaultSockopts, newTCPConn, the
     * Dialer's keep-alive): a kernel without the option still connects. */
    (void)setsockopt(fd, level, name, &value, sizeof value);
}

/* Go's sysSocket: born non-blocking and close-on-exec. An AF_INET6 socket
 * gets IPV6_V6ONLY as Go's setDefaultSockopts sets it: on for "tcp6",
 * off otherwise so that "tcp" on "::" also serves IPv4. */
static int stream_socket(int family, enum net_kind kind)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && family == AF_INET6)
        set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, kind == NET_TCP6);
    return fd;
}

/* net__fd_new_socket leaves the descriptor ours when it fails. */
static chan_fd_t *wrap_socket(int fd)
{
    chan_fd_t *f = net__fd_new_socket(fd);
    if (f == NULL)
        close_keeping_errno(fd);
    return f;
}

/* ------------------------------------------------------------------ */
/* Listen                                                              */

/* Go's kernelVersion check in maxAckBacklog: before Linux 4.1 the kernel
 * kept the backlog in 16 bits. */
static bool kernel_has_16bit_backlog(void)
{
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return false;
    return major < 4 || (major == 4 && minor < 1);
}

/* The first number in /proc/sys/net/core/somaxconn, or 0. */
static long read_somaxconn(void)
{
    char text[32] = {0};
    int fd = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    return n > 0 ? strtol(text, NULL, 10) : 0;
}

/* Go's maxListenerBacklog (net/sock_linux.go): the kernel's somaxconn,
 * SOMAXCONN when unreadable or 0, capped as the kernel can store it. */
static int listener_backlog(void)
{
    long n = read_somaxconn();
    if (n <= 0)
        return SOMAXCONN;
    if (n > 65535 && kernel_has_16bit_backlog())
        return 65535;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Go's listenStream (net/sock_posix.go) after the bind: listen with
 * Go's backlog, then hand the socket to the poller. fd is consumed. */
static chan_fd_t *listen_bound(int fd)
{
    if (listen(fd, listener_backlog()) != 0) {
        close_keeping_errno(fd);
        return NULL;
    }
    return wrap_socket(fd);
}

/* Go's setDefaultListenerSockopts: a restarted server gets its port back
 * at once, though connections of its last run linger in TIME_WAIT. */
static int reuse_address(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

/* Go's favoriteAddrFamily for listen: tcp4 and tcp6 say; "tcp" on a
 * wildcard is IPv6 serving both families; otherwise the address's own. */
static int listen_family(enum net_kind kind, const struct net_ip *ip)
{
    if (kind == NET_TCP4)
        return AF_INET;
    if (kind == NET_TCP6 || net__ip_is_wildcard(ip))
        return AF_INET6;
    return ip->family;
}

/* A socket for listen_family, and when a dual-stack wildcard cannot have
 * IPv6 (a kernel without it), IPv4 as Go falls back when
 * supportsIPv4map is false. */
static int listen_socket(enum net_kind kind, const struct net_ip *ip,
                         int *family)
{
    *family = listen_family(kind, ip);
    int fd = stream_socket(*family, kind);
    if (fd < 0 && errno == EAFNOSUPPORT && kind == NET_TCP &&
        *family == AF_INET6) {
        *family = AF_INET;
        fd = stream_socket(*family, kind);
    }
    return fd;
}

static chan_fd_t *listen_ip(enum net_kind kind, const struct net_ip *ip,
                            int port)
{
    int family;
    struct sockaddr_storage ss;
    int fd = listen_socket(kind, ip, &family);
    if (fd < 0)
        return NULL;
    socklen_t len = net__ip_sockaddr(family, ip, port, &ss);
    if (reuse_address(fd) != 0 ||
        bind(fd, (const struct sockaddr *)&ss, len) != 0) {
        close_keeping_errno(fd);
        return NULL;
    }
    return listen_bound(fd);
}

/* Go's Listen: resolve, then the first IPv4 address, else the first. */
static chan_fd_t *listen_tcp(enum net_kind kind, const char *address)
{
    struct net_hostport hp;
    struct net_ip_list ips;
    int err = net__parse_hostport(address, &hp);
    if (err == 0)
        err = net__lookup_host(kind, hp.host, &ips);
    if (err != 0)
        return fail(err);
    chan_fd_t *f = listen_ip(kind, net__ip_list_listen_pick(&ips), hp.port);
    err = errno;
    net__ip_list_free(&ips);
    errno = err;
    return f;
}

/* A unix listener that failed after bind made its path removes it (Go
 * leaves it behind; nobody else would remove it). */
static void unlink_keeping_errno(const char *path)
{
    int err = errno;
    unlink(path);
    errno = err;
}

static bool path_is_file(const char *path)
{
    return path[0] != '\0' && path[0] != '@';
}

/* A unix socket bound to path, or -1 with errno. */
static int bound_unix_socket(const char *path)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = net__unix_sockaddr(path, &ss, &len);
    if (err != 0) {
        errno = err;
        return -1;
    }
    int fd = stream_socket(AF_UNIX, NET_UNIX);
    if (fd >= 0 && bind(fd, (const struct sockaddr *)&ss, len) != 0) {
        close_keeping_errno(fd);
        return -1;
    }
    return fd;
}

/* Go's listenUnix (net/unixsock_posix.go): the listener removes the path
 * it created when closed (Go's unlinkOnClose); abstract names and the
 * autobound "" leave nothing in the file system. */
static chan_fd_t *listen_unix(const char *path)
{
    int fd = bound_unix_socket(path);
    if (fd < 0)
        return NULL;
    chan_fd_t *f = listen_bound(fd);
    if (!path_is_file(path))
        return f;
    if (f == NULL) {
        unlink_keeping_errno(path);
        return NULL;
    }
    if (!net__fd_unlink_on_close(f, path)) {
        discard(f); /* nobody would remove the path: fail instead */
        unlink(path);
        return fail(ENOMEM);
    }
    return f;
}

chan_fd_t *chan_net_listen(const char *network, const char *address)
{
    enum net_kind kind;
    if (network == NULL || address == NULL ||
        net__parse_network(network, &kind) != 0)
        return fail(EINVAL);
    return kind == NET_UNIX ? listen_unix(address) : listen_tcp(kind, address);
}

/* ------------------------------------------------------------------ */
/* Dial                                                                */

/* Go's mapErr(ctx.Err()): 0 while ctx (NULL: none) is not done. */
static int context_errno(context_t *ctx)
{
    const context_error_t *err = ctx != NULL ? context_err(ctx) : NULL;
    if (err == NULL)
        return 0;
    return context_error_is(err, &context_deadline_exceeded) ? ETIMEDOUT
                                                             : ECANCELED;
}

/* Go's TCP conn setup: newTCPConn turns Nagle off (TCP_NODELAY) and the
 * Dialer turns keep-alive on with its default 15 s period. */
static void tune_tcp_conn(int fd)
{
    set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, TCP_KEEPALIVE_SECONDS);
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, TCP_KEEPALIVE_SECONDS);
}

/* Go's netFD.connect (net/fd_unix.go): connect(2) on the non-blocking
 * socket; EINPROGRESS (EINTR and EALREADY too: the kernel goes on
 * connecting) waits for the outcome without blocking a thread, within
 * attempt_deadline (0: ctx's own) as a write deadline, as Go sets one.
 * A unix socket's EAGAIN (the listener's backlog is full) is an error as
 * in Go: the kernel started no connection and nothing will signal room,
 * so there is nothing to wait for. 0 or an errno. */
static int connect_socket(context_t *ctx, chan_fd_t *f, int fd,
                          const struct sockaddr_storage *ss, socklen_t len,
                          int64_t attempt_deadline)
{
    if (connect(fd, (const struct sockaddr *)ss, len) == 0 || errno == EISCONN)
        return context_errno(ctx); /* Go: done at once, unless ctx is */
    int err = errno;
    if (err != EINPROGRESS && err != EINTR && err != EALREADY)
        return err;
    /* Failing to set it (no memory for the timer) only lets this attempt
     * use all of ctx's time. */
    if (attempt_deadline != 0)
        (void)chan_fd_set_write_deadline(f, attempt_deadline);
    err = net__fd_connect_wait(ctx, f);
    if (attempt_deadline != 0)
        (void)chan_fd_set_write_deadline(f, 0);
    return err;
}

/* A socket of family connected to ss, or NULL with errno and nothing left
 * open. The handle is ours alone until returned, so using its descriptor
 * number directly is safe. */
static chan_fd_t *dial_sockaddr(context_t *ctx, int family, enum net_kind kind,
                                const struct sockaddr_storage *ss,
                                socklen_t len, int64_t attempt_deadline)
{
    int fd = stream_socket(family, kind);
    if (fd < 0)
        return NULL;
    chan_fd_t *f = wrap_socket(fd);
    if (f == NULL)
        return NULL;
    int err = connect_socket(ctx, f, fd, ss, len, attempt_deadline);
    if (err != 0) {
        errno = err;
        discard(f);
        return NULL;
    }
    return f;
}

/* Go's selfConnect (net/tcpsock_posix.go): with no listener on a local
 * port, Linux may pick that very port as the ephemeral source, and the
 * socket "connects" to itself. An unknown local address counts as that,
 * as Go's nil laddr does; an unknown peer is the address we dialed. */
static bool connected_to_itself(int fd, const struct sockaddr_storage *dialed)
{
    struct sockaddr_storage local = {0}, peer = {0};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0)
        return true;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0)
        peer = *dialed;
    return net__sockaddr_same_endpoint(&local, &peer);
}

/* Go's doDialTCP retries a self-connection, and EADDRNOTAVAIL (the
 * kernel picked a source port already in use: spuriousENOTAVAIL). */
static bool needs_redial(chan_fd_t *f, const struct sockaddr_storage *dialed)
{
    if (f == NULL)
        return errno == EADDRNOTAVAIL;
    return connected_to_itself(chan_fd_fileno(f), dialed);
}

/* Go's favoriteAddrFamily for dial: tcp4 and tcp6 say; "tcp" follows the
 * address, IPv4 for the empty host (Go dials 0.0.0.0, which Linux takes
 * for the local host). */
static int dial_family(enum net_kind kind, const struct net_ip *ip)
{
    if (kind == NET_TCP4)
        return AF_INET;
    if (kind == NET_TCP6)
        return AF_INET6;
    return ip->family == AF_INET6 ? AF_INET6 : AF_INET;
}

/* Go's doDialTCP: one address, at most two retries, then Go's TCP conn
 * setup. */
static chan_fd_t *dial_ip(context_t *ctx, enum net_kind kind,
                          const struct net_ip *ip, int port,
                          int64_t attempt_deadline)
{
    struct sockaddr_storage ss;
    int family = dial_family(kind, ip);
    socklen_t len = net__ip_sockaddr(family, ip, port, &ss);
    chan_fd_t *f = dial_sockaddr(ctx, family, kind, &ss, len, attempt_deadline);
    for (int retry = 0; retry < 2 && needs_redial(f, &ss); retry++) {
        if (f != NULL)
            discard(f);
        f = dial_sockaddr(ctx, family, kind, &ss, len, attempt_deadline);
    }
    if (f != NULL)
        tune_tcp_conn(chan_fd_fileno(f));
    return f;
}

/* Go's partialDeadline (net/dial.go): with `remaining` addresses left and
 * ctx's deadline ahead, this attempt gets an equal share of the time left,
 * but at least DIAL_SANE_MINIMUM when there is that much, so that one
 * address that never answers does not starve the rest. *attempt is 0 when
 * ctx's deadline itself is the limit; ETIMEDOUT when it has passed. */
static int partial_deadline(context_t *ctx, size_t remaining, int64_t *attempt)
{
    int64_t deadline, now = chan_now();
    *attempt = 0;
    if (ctx == NULL || !context_deadline(ctx, &deadline))
        return 0;
    int64_t left = deadline - now;
    if (left <= 0)
        return ETIMEDOUT;
    int64_t share = left / (int64_t)remaining;
    if (share < DIAL_SANE_MINIMUM)
        share = left < DIAL_SANE_MINIMUM ? left : DIAL_SANE_MINIMUM;
    if (share < left)
        *attempt = now + share;
    return 0;
}

/* Go's dialSerial (net/dial.go): each address in turn until one connects.
 * Once ctx is done its error wins; otherwise the first address's error,
 * the most telling one. */
static chan_fd_t *dial_serial(context_t *ctx, enum net_kind kind,
                              const struct net_ip_list *ips, int port)
{
    int first_err = 0;
    for (size_t i = 0; i < ips->n; i++) {
        int64_t attempt;
        int err = context_errno(ctx);
        if (err != 0)
            return fail(err);
        err = partial_deadline(ctx, ips->n - i, &attempt);
        if (err != 0) {
            first_err = first_err != 0 ? first_err : err;
            break;
        }
        chan_fd_t *f = dial_ip(ctx, kind, &ips->ip[i], port, attempt);
        if (f != NULL)
            return f;
        first_err = first_err != 0 ? first_err : errno;
    }
    return fail(first_err != 0 ? first_err : EINVAL);
}

/* An address error comes before ctx's, as in Go (it is found before
 * dialing starts); a name is looked up only while ctx is not done. */
static chan_fd_t *dial_tcp(context_t *ctx, enum net_kind kind,
                           const char *address)
{
    struct net_hostport hp;
    struct net_ip_list ips;
    int err = net__parse_hostport(address, &hp);
    if (err == 0)
        err = context_errno(ctx);
    if (err == 0)
        err = net__lookup_host(kind, hp.host, &ips);
    if (err != 0)
        return fail(err);
    chan_fd_t *f = dial_serial(ctx, kind, &ips, hp.port);
    err = errno;
    net__ip_list_free(&ips);
    errno = err;
    return f;
}

static chan_fd_t *dial_unix(context_t *ctx, const char *path)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = context_errno(ctx);
    if (err == 0)
        err = net__unix_sockaddr(path, &ss, &len);
    if (err != 0)
        return fail(err);
    return dial_sockaddr(ctx, AF_UNIX, NET_UNIX, &ss, len, 0);
}

chan_fd_t *chan_net_dial(context_t *ctx, const char *network,
                         const char *address)
{
    enum net_kind kind;
    if (network == NULL || address == NULL ||
        net__parse_network(network, &kind) != 0)
        return fail(EINVAL);
    if (address[0] == '\0')
        return fail(EINVAL); /* Go's errMissingAddress */
    return kind == NET_UNIX ? dial_unix(ctx, address)
                            : dial_tcp(ctx, kind, address);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */

/* getsockname or getpeername, with f held open meanwhile so that a
 * concurrent close cannot hand its number to another file. 0 or errno. */
static int query_name(chan_fd_t *f, bool peer, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    int fd;
    int err = net__fd_incref(f, &fd);
    if (err != 0)
        return err;
    memset(ss, 0, sizeof *ss); /* a unix name ends at the first NUL */
    *len = sizeof *ss;
    int rc = peer ? getpeername(fd, (struct sockaddr *)ss, len)
                  : getsockname(fd, (struct sockaddr *)ss, len);
    err = rc == 0 ? 0 : errno;
    net__fd_decref(f);
    return err;
}

static int addr_string(chan_fd_t *f, bool peer, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    char text[NET_ADDR_TEXT_MAX];
    int err = 0;
    if (f == NULL || (buf == NULL && len > 0))
        err = EINVAL;
    if (err == 0)
        err = query_name(f, peer, &ss, &ss_len);
    if (err == 0)
        err = net__format_sockaddr(&ss, ss_len, text);
    if (err == 0 && strlen(text) >= len)
        err = ENOSPC;
    if (err != 0) {
        if (buf != NULL && len > 0)
            buf[0] = '\0';
        errno = err;
        return -1;
    }
    memcpy(buf, text, strlen(text) + 1);
    return 0;
}

int chan_fd_local_addr(chan_fd_t *f, char *buf, size_t len)
{
    return addr_string(f, false, buf, len);
}

int chan_fd_remote_addr(chan_fd_t *f, char *buf, size_t len)
{
    return addr_string(f, true, buf, len);
}
