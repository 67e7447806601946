/* sock_addr.c: Go's address syntax and resolution for sock.c (see
 * sock_addr.h): what net/ipsock.go, net/port.go, net/lookup.go and
 * net/ip.go do to a network and an address string before any socket is
 * made, and how Addr().String() prints what the kernel reports.
 */
#include "net_impl.h"
#include "sock_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int net__parse_network(const char *network, enum net_kind *kind)
{
    static const struct {
        const char *name;
        enum net_kind kind;
    } known[] = {{"tcp", NET_TCP},
                 {"tcp4", NET_TCP4},
                 {"tcp6", NET_TCP6},
                 {"unix", NET_UNIX}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(network, known[i].name) == 0) {
            *kind = known[i].kind;
            return 0;
        }
    }
    return EINVAL; /* Go's UnknownNetworkError */
}

/* ------------------------------------------------------------------ */
/* "host:port"                                                         */

static struct net_span span(const char *from, const char *to)
{
    return (struct net_span){from, (size_t)(to - from)};
}

static bool span_has(struct net_span s, char c)
{
    return s.n > 0 && memchr(s.p, c, s.n) != NULL;
}

/* Go's SplitHostPort (net/ipsock.go). Every failure it names (missing
 * port, too many colons, missing ']', a stray '[' or ']') is EINVAL. */
static int split_host_port(const char *hp, struct net_span *host,
                           struct net_span *port)
{
    const char *colon = strrchr(hp, ':');
    const char *no_open_from = hp, *no_close_from = hp;
    if (colon == NULL)
        return EINVAL;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        /* The port's colon must follow the ']' at once: "[::1]" lacks a
         * port, "[::1]:80:1" has too many colons, "[::1]x:80" is junk. */
        if (end == NULL || end + 1 != colon)
            return EINVAL;
        *host = span(hp + 1, end);
        no_open_from = hp + 1;
        no_close_from = end + 1;
    } else {
        *host = span(hp, colon);
        if (span_has(*host, ':'))
            return EINVAL; /* "::1:80": an IPv6 host needs brackets */
    }
    if (strchr(no_open_from, '[') != NULL || strchr(no_close_from, ']'))
        return EINVAL;
    *port = span(colon + 1, colon + strlen(colon));
    return 0;
}

/* Go's parsePort (net/port.go): an optional sign then decimal digits; no
 * digits at all is port 0 (so "+" and "-" are 0, as in Go). A value that
 * grows past 65535 stops growing, so that the range check rejects it
 * without overflow. false: not a number, the text names a service. */
static bool parse_port_number(struct net_span s, long *port)
{
    size_t i = 0;
    bool negative = false;
    long n = 0;
    if (s.n > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
        negative = s.p[0] == '-';
        i = 1;
    }
    for (; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        if (n <= 65535)
            n = n * 10 + (s.p[i] - '0');
    }
    *port = negative ? -n : n;
    return true;
}

/* Services Go knows even without /etc/services (net/lookup.go). */
static bool builtin_service(const char *name, long *port)
{
    static const struct {
        const char *name;
        long port;
    } services[] = {{"ftp", 21},    {"ftps", 990},  {"gopher", 70},
                    {"http", 80},   {"https", 443}, {"imap2", 143},
                    {"imap3", 220}, {"imaps", 993}, {"pop3", 110},
                    {"pop3s", 995}, {"smtp", 25},   {"ssh", 22},
                    {"telnet", 23}};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        if (strcmp(name, services[i].name) == 0) {
            *port = services[i].port;
            return true;
        }
    }
    return false;
}

/* Go's lookupPort for a service name ("http"): case-insensitive as Go's
 * lookupPortMap, from /etc/services (which Go reads too) or Go's built-in
 * list. An unknown name is Go's "unknown port" AddrError: EINVAL. */
static int lookup_service(struct net_span s, long *port)
{
    char name[26]; /* Go's maxPortBufSize: a longer name is unknown */
    struct servent entry, *found = NULL;
    char scratch[1024];
    if (s.n >= sizeof name)
        return EINVAL;
    for (size_t i = 0; i < s.n; i++)
        name[i] = (char)tolower((unsigned char)s.p[i]);
    name[s.n] = '\0';
    if (getservbyname_r(name, "tcp", &entry, scratch, sizeof scratch, &found) ==
            0 &&
        found != NULL) {
        *port = ntohs((uint16_t)found->s_port);
        return 0;
    }
    return builtin_service(name, port) ? 0 : EINVAL;
}

/* Go's LookupPort: a number or a service name, then 0..65535. */
static int parse_port(struct net_span s, int *port)
{
    long n = 0;
    if (!parse_port_number(s, &n) && lookup_service(s, &n) != 0)
        return EINVAL;
    if (n < 0 || n > 65535)
        return EINVAL; /* Go's "invalid port" */
    *port = (int)n;
    return 0;
}

int net__parse_hostport(const char *address, struct net_hostport *hp)
{
    struct net_span port;
    /* Go's internetAddrList: an empty address is host "" port 0. */
    if (address[0] == '\0') {
        hp->host = span(address, address);
        hp->port = 0;
        return 0;
    }
    int err = split_host_port(address, &hp->host, &port);
    return err != 0 ? err : parse_port(port, &hp->port);
}

/* ------------------------------------------------------------------ */
/* Hosts                                                               */

static bool is_v4_mapped(const unsigned char a[16])
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, sizeof prefix) == 0;
}

/* An IPv4-mapped IPv6 address is IPv4 to Go (IP.To4), for the tcp4/tcp6
 * filter, for the socket family and when printed. */
static void set_ipv6(struct net_ip *ip, const unsigned char a[16],
                     uint32_t scope)
{
    if (is_v4_mapped(a)) {
        ip->family = AF_INET;
        memcpy(ip->addr, a + 12, 4);
        ip->scope = 0;
        return;
    }
    ip->family = AF_INET6;
    memcpy(ip->addr, a, 16);
    ip->scope = scope;
}

/* Go's ipv6ZoneCache.index: an interface's name, else the zone's leading
 * decimal digits (Go's dtoi, capped as it caps), else 0. */
static uint32_t zone_index(const char *zone)
{
    uint32_t n = if_nametoindex(zone);
    if (n != 0)
        return n;
    for (; *zone >= '0' && *zone <= '9' && n < 0xFFFFFF; zone++)
        n = n * 10 + (uint32_t)(*zone - '0');
    return n < 0xFFFFFF ? n : 0xFFFFFF;
}

/* Go's parseIPZone: dotted IPv4, or IPv6 with an optional "%zone" after
 * its last '%'. name is the caller's copy; the '%' is put back. */
static bool parse_ip_literal(char *name, struct net_ip *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, name, a) == 1) {
        ip->family = AF_INET;
        memcpy(ip->addr, a, 4);
        return true;
    }
    char *percent = strrchr(name, '%');
    if (percent == name)
        percent = NULL; /* Go's splitHostZone wants a host before it */
    if (percent != NULL)
        *percent = '\0';
    bool ok = inet_pton(AF_INET6, name, a) == 1;
    if (percent != NULL)
        *percent = '%';
    if (ok)
        set_ipv6(ip, a, percent != NULL ? zone_index(percent + 1) : 0);
    return ok;
}

/* Room for n addresses and Go's extra 0.0.0.0 (see add_ipv4_wildcard). */
static int list_alloc(struct net_ip_list *list, size_t n)
{
    list->ip = calloc(n + 1, sizeof *list->ip);
    list->n = 0;
    return list->ip != NULL ? 0 : ENOMEM;
}

static int list_of_one(struct net_ip_list *list, const struct net_ip *ip)
{
    int err = list_alloc(list, 1);
    if (err == 0)
        list->ip[list->n++] = *ip;
    return err;
}

/* getaddrinfo's failures in errno terms; every way of "this name has no
 * address" (including a resolver that is down for now: EAI_AGAIN, which
 * must not surface as EAGAIN) is ENOENT, Go's DNSError "no such host". */
static int gai_errno(int rc)
{
    switch (rc) {
    case EAI_MEMORY:
        return ENOMEM;
    case EAI_SYSTEM:
        return errno != 0 ? errno : ENOENT;
    default:
        return ENOENT;
    }
}

static size_t count_ip_results(const struct addrinfo *res)
{
    size_t n = 0;
    for (; res != NULL; res = res->ai_next)
        n += res->ai_family == AF_INET || res->ai_family == AF_INET6;
    return n;
}

static int list_from_addrinfo(const struct addrinfo *res,
                              struct net_ip_list *list)
{
    int err = list_alloc(list, count_ip_results(res));
    for (; err == 0 && res != NULL; res = res->ai_next) {
        struct net_ip *ip = &list->ip[list->n];
        if (res->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const void *)res->ai_addr;
            ip->family = AF_INET;
            memcpy(ip->addr, &sin->sin_addr, 4);
            list->n++;
        } else if (res->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)res->ai_addr;
            set_ipv6(ip, sin6->sin6_addr.s6_addr, sin6->sin6_scope_id);
            list->n++;
        }
    }
    return err;
}

/* A name through getaddrinfo, which reads /etc/hosts and DNS as Go's
 * resolver does. tcp4/tcp6 ask only for their family. No AI_ADDRCONFIG:
 * it would hide ::1 on a host whose only IPv6 address is loopback. */
static int resolve_name(enum net_kind kind, const char *name,
                        struct net_ip_list *list)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = kind == NET_TCP4   ? AF_INET
                      : kind == NET_TCP6 ? AF_INET6
                                         : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0)
        return gai_errno(rc);
    int err = list_from_addrinfo(res, list);
    freeaddrinfo(res);
    return err;
}

/* libc takes "127.1", "0" and "0x7f.1" for IPv4 addresses (inet_aton);
 * Go's parser does not, and its resolver finds no such host. */
static bool libc_only_ipv4(const char *name)
{
    struct in_addr unused;
    return inet_aton(name, &unused) != 0;
}

/* Go's internetAddrList, issue 18806: a host that is "::" alone is
 * followed by 0.0.0.0, for machines that can bind "::" but not reach it. */
static void add_ipv4_wildcard(struct net_ip_list *list)
{
    static const unsigned char zero[16];
    if (list->n == 1 && list->ip[0].family == AF_INET6 &&
        memcmp(list->ip[0].addr, zero, 16) == 0)
        list->ip[list->n++] = (struct net_ip){.family = AF_INET};
}

static int resolve_host(enum net_kind kind, struct net_span host,
                        struct net_ip_list *list)
{
    char name[NI_MAXHOST];
    struct net_ip ip = {.family = AF_UNSPEC};
    if (host.n == 0)
        return list_of_one(list, &ip); /* ":80": Go's nil IP */
    if (host.n >= sizeof name)
        return ENOENT; /* longer than any name the resolver takes */
    memcpy(name, host.p, host.n);
    name[host.n] = '\0';
    int err = 0;
    if (parse_ip_literal(name, &ip))
        err = list_of_one(list, &ip);
    else if (libc_only_ipv4(name))
        err = ENOENT;
    else
        err = resolve_name(kind, name, list);
    if (err == 0)
        add_ipv4_wildcard(list);
    return err;
}

/* Go's ipv4only/ipv6only filters (net/ipsock.go filterAddrList); a nil
 * IP suits every network. */
static bool suits(enum net_kind kind, const struct net_ip *ip)
{
    if (ip->family == AF_UNSPEC || kind == NET_TCP)
        return true;
    return ip->family == (kind == NET_TCP4 ? AF_INET : AF_INET6);
}

/* Go's "no suitable address found" (an IPv6 literal for tcp4, say), an
 * AddrError: EAFNOSUPPORT says which way the address does not fit. */
static int keep_suitable(enum net_kind kind, struct net_ip_list *list)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->n; i++) {
        if (suits(kind, &list->ip[i]))
            list->ip[kept++] = list->ip[i];
    }
    list->n = kept;
    return kept > 0 ? 0 : EAFNOSUPPORT;
}

int net__lookup_host(enum net_kind kind, struct net_span host,
                     struct net_ip_list *out)
{
    struct net_ip_list list = {0};
    int err = resolve_host(kind, host, &list);
    if (err == 0)
        err = keep_suitable(kind, &list);
    if (err != 0) {
        net__ip_list_free(&list);
        return err;
    }
    *out = list;
    return 0;
}

void net__ip_list_free(struct net_ip_list *list)
{
    free(list->ip);
    list->ip = NULL;
    list->n = 0;
}

const struct net_ip *net__ip_list_listen_pick(const struct net_ip_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->ip[i].family == AF_INET)
            return &l->ip[i];
    }
    return &l->ip[0];
}

bool net__ip_is_wildcard(const struct net_ip *ip)
{
    static const unsigned char zero[16];
    size_t len = ip->family == AF_INET ? 4 : 16;
    return ip->family == AF_UNSPEC || memcmp(ip->addr, zero, len) == 0;
}

/* ------------------------------------------------------------------ */
/* Socket addresses                                                    */

socklen_t net__ip_sockaddr(int family, const struct net_ip *ip, int port,
                           struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (void *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        if (ip->family == AF_INET)
            memcpy(&sin->sin_addr, ip->addr, 4);
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (void *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    /* Go's ipToSockaddrInet6: nil and 0.0.0.0 are "::", any other IPv4
     * address is IPv4-mapped (To16). */
    if (ip->family == AF_INET6) {
        memcpy(&sin6->sin6_addr, ip->addr, 16);
        sin6->sin6_scope_id = ip->scope;
    } else if (ip->family == AF_INET && !net__ip_is_wildcard(ip)) {
        sin6->sin6_addr.s6_addr[10] = 0xff;
        sin6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&sin6->sin6_addr.s6_addr[12], ip->addr, 4);
    }
    return sizeof *sin6;
}

int net__unix_sockaddr(const char *path, struct sockaddr_storage *ss,
                       socklen_t *len)
{
    struct sockaddr_un *sun = (void *)ss;
    size_t n = strlen(path);
    bool abstract = path[0] == '@';
    /* Go's SockaddrUnix.sockaddr: a path needs room for its NUL, an
     * abstract name (no NUL) may fill sun_path. */
    if (n > sizeof sun->sun_path || (n == sizeof sun->sun_path && !abstract))
        return EINVAL;
    memset(ss, 0, sizeof *ss);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    *len = (socklen_t)offsetof(struct sockaddr_un, sun_path);
    if (n > 0)
        *len += (socklen_t)(n + 1);
    if (abstract) {
        sun->sun_path[0] = '\0';
        *len -= 1; /* an abstract name is its bytes, without a NUL */
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Addr().String()                                                     */

/* Go's IP.String for an IPv6 address (net/ip.go): lowercase hex groups
 * without leading zeros, the first longest run of two or more zero groups
 * as "::". Unlike inet_ntop, never a dotted IPv4 tail ("::a00:1"). */
static int format_ipv6(const unsigned char a[16], char *out)
{
    unsigned group[8];
    int run = -1, run_len = 1; /* a lone zero group is not shortened */
    for (int i = 0; i < 8; i++)
        group[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (int i = 0; i < 8; i++) {
        int j = i;
        while (j < 8 && group[j] == 0)
            j++;
        if (j - i > run_len) {
            run = i;
            run_len = j - i;
        }
    }
    int len = 0;
    for (int i = 0; i < 8; i++) {
        if (i == run) {
            len += sprintf(out + len, "::");
            i += run_len - 1;
            continue;
        }
        len += sprintf(out + len, "%s%x",
                       i > 0 && i != run + run_len ? ":" : "", group[i]);
    }
    return len;
}

/* Go's ipv6ZoneCache.name: the interface's name, else the index. */
static int format_zone(uint32_t scope, char *out)
{
    char name[IF_NAMESIZE];
    if (if_indextoname(scope, name) != NULL)
        return sprintf(out, "%%%s", name);
    return sprintf(out, "%%%u", (unsigned)scope);
}

/* Go's TCPAddr.String: JoinHostPort(IP.String() + "%zone", port), which
 * brackets the host when it holds a ':' (IPv6). */
static void format_ip_port(const unsigned char *a, bool v6, uint32_t scope,
                           uint16_t port, char *out)
{
    int len = 0;
    if (v6) {
        out[len++] = '[';
        len += format_ipv6(a, out + len);
    } else {
        len += sprintf(out + len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    }
    if (scope != 0)
        len += format_zone(scope, out + len);
    sprintf(out + len, "%s:%u", v6 ? "]" : "", (unsigned)port);
}

/* syscall's anyToSockaddr for AF_UNIX: the name ends at the first NUL or
 * at the end of sun_path; a leading NUL (abstract, or no name at all:
 * an unnamed socket) prints as '@', so unnamed is "@" as in Go. */
static void format_unix(const struct sockaddr_un *sun, socklen_t len, char *out)
{
    const size_t header = offsetof(struct sockaddr_un, sun_path);
    size_t filled = len > header ? len - header : 0; /* of sun_path */
    if (filled > sizeof sun->sun_path)
        filled = sizeof sun->sun_path;
    out[0] = filled == 0 || sun->sun_path[0] == '\0' ? '@' : sun->sun_path[0];
    size_t n = 1;
    while (n < filled && sun->sun_path[n] != '\0') {
        out[n] = sun->sun_path[n];
        n++;
    }
    out[n] = '\0';
}

int net__format_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
                         char text[NET_ADDR_TEXT_MAX])
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)ss;
        format_ip_port((const unsigned char *)&sin->sin_addr, false, 0,
                       ntohs(sin->sin_port), text);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)ss;
        const unsigned char *a = sin6->sin6_addr.s6_addr;
        bool mapped = is_v4_mapped(a);
        format_ip_port(mapped ? a + 12 : a, !mapped, sin6->sin6_scope_id,
                       ntohs(sin6->sin6_port), text);
        return 0;
    }
    if (ss->ss_family == AF_UNIX) {
        format_unix((const void *)ss, len, text);
        return 0;
    }
    return EAFNOSUPPORT;
}

bool net__sockaddr_same_endpoint(const struct sockaddr_storage *a,
                                 const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return false;
}
