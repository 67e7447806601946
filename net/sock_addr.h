/* sock_addr.h: internal to net/, never installed. Go's address syntax and
 * resolution for sock.c: network names (net/dial.go parseNetwork),
 * "host:port" (net/ipsock.go SplitHostPort, net/port.go parsePort), IP
 * literals and host names (net/lookup.go lookupIPAddr, net/ipsock.go
 * internetAddrList), and the text of an address (net/ip.go IP.String,
 * net/tcpsock.go TCPAddr.String, syscall anyToSockaddr for unix).
 */
#ifndef GOCHAN_NET_SOCK_ADDR_H
#define GOCHAN_NET_SOCK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The networks chan_net_listen and chan_net_dial take. */
enum net_kind { NET_TCP, NET_TCP4, NET_TCP6, NET_UNIX };

/* "tcp", "tcp4", "tcp6", "unix": 0, or EINVAL for any other name. */
int net__parse_network(const char *network, enum net_kind *kind);

/* An IP address as Go's net.IP holds it. family AF_UNSPEC is Go's nil IP:
 * the empty host of ":port". An IPv4-mapped IPv6 address is kept as IPv4
 * (Go's To4), so the family says how it is dialed and printed. */
struct net_ip {
    sa_family_t family;     /* AF_INET, AF_INET6 or AF_UNSPEC */
    unsigned char addr[16]; /* 4 bytes used for AF_INET */
    uint32_t scope;         /* IPv6 zone as an interface index, or 0 */
};

/* A span of the caller's string: not NUL-terminated. */
struct net_span {
    const char *p;
    size_t n;
};

/* "host:port" split and its port checked; host points into the address. */
struct net_hostport {
    struct net_span host;
    int port;
};

/* Go's SplitHostPort then LookupPort: 0, or EINVAL (malformed, a port
 * outside 0..65535, an unknown service name). "" is host "" port 0. */
int net__parse_hostport(const char *address, struct net_hostport *hp);

/* The addresses a host stands for on kind (tcp, tcp4 or tcp6), in the
 * resolver's order; ip is heap memory freed by net__ip_list_free. */
struct net_ip_list {
    struct net_ip *ip;
    size_t n;
};

/* 0, or ENOENT (the name does not resolve), EAFNOSUPPORT (nothing of the
 * family tcp4/tcp6 asks for), ENOMEM. May block in getaddrinfo. */
int net__lookup_host(enum net_kind kind, struct net_span host,
                     struct net_ip_list *out);
void net__ip_list_free(struct net_ip_list *list);

/* Go's Listen picks the first IPv4 address, else the first (addrList.first
 * with isIPv4). */
const struct net_ip *net__ip_list_listen_pick(const struct net_ip_list *l);

/* Go's nil IP or an unspecified one (0.0.0.0, ::): IP.IsUnspecified. */
bool net__ip_is_wildcard(const struct net_ip *ip);

/* A socket address of family (AF_INET or AF_INET6) for ip and port, as
 * Go's ipToSockaddr makes it: a nil IP is the family's wildcard, an IPv4
 * address in an AF_INET6 socket is IPv4-mapped. Returns its length. */
socklen_t net__ip_sockaddr(int family, const struct net_ip *ip, int port,
                           struct sockaddr_storage *ss);

/* A unix socket address for path as Go's SockaddrUnix.sockaddr makes it:
 * "@name" is abstract, "" is family only (the kernel picks an abstract
 * name, autobind). 0, or EINVAL when path does not fit sun_path. */
int net__unix_sockaddr(const char *path, struct sockaddr_storage *ss,
                       socklen_t *len);

/* Big enough for every text net__format_sockaddr writes, NUL included. */
#define NET_ADDR_TEXT_MAX 128

/* Go's Addr().String() for what getsockname/getpeername wrote (ss zeroed
 * before the call, len as the call returned it): "1.2.3.4:80",
 * "[::1%lo]:80", a unix path, "@name", "@" for an unnamed unix socket.
 * 0, or EAFNOSUPPORT for another family. */
int net__format_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
                         char text[NET_ADDR_TEXT_MAX]);

/* Both addresses hold the same IP and port (Go's selfConnect test). */
bool net__sockaddr_same_endpoint(const struct sockaddr_storage *a,
                                 const struct sockaddr_storage *b);

#endif /* GOCHAN_NET_SOCK_ADDR_H */
