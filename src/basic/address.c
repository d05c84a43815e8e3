/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>

#include "basic/address.h"

static const char *const protocol_names[] = {
        [ADDRESS_TCP] = "tcp",
        [ADDRESS_TCP4] = "tcp4",
        [ADDRESS_TCP6] = "tcp6",
        [ADDRESS_UNIX] = "unix",
        [ADDRESS_HTTP] = "http",
};

/* Each step returns NULL or why s is not an address. */

static const char *check_characters(const char *s) {
        if (!s)
                return "missing address";
        size_t len = strlen(s);
        if (len == 0)
                return "empty address";
        if (len > ADDRESS_MAX)
                return "address longer than 255 bytes";
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c < 0x20 || c == 0x7f)
                        return "address contains a control character";
                if (c == ' ' || c == '\t')
                        return "address contains whitespace";
                if (c == ',')
                        return "address contains a comma";
        }
        return NULL;
}

static const char *parse_protocol(const char *s, AddressProtocol *ret, const char **ret_rest) {
        const char *at = strchr(s, '@');
        if (!at)
                return "address is not PROTOCOL@ADDRESS";
        size_t pl = (size_t) (at - s);
        for (size_t i = 0; i < ELEMENTSOF(protocol_names); i++)
                if (strlen(protocol_names[i]) == pl && strncmp(s, protocol_names[i], pl) == 0) {
                        *ret = (AddressProtocol) i;
                        *ret_rest = at + 1;
                        return NULL;
                }
        return "unknown protocol (expected tcp, tcp4, tcp6, unix or http)";
}

/* An absolute path, in one spelling: repeated slashes are folded, and "."
 * and ".." are refused (they would let a name that looks confined to one
 * folder point anywhere). */
static const char *parse_unix(const char *path, Address *a) {
        if (path[0] != '/')
                return "unix address is not an absolute path";
        size_t n = 0;
        for (const char *p = path; *p;) {
                while (*p == '/')
                        p++;
                size_t l = strcspn(p, "/");
                if (l == 0)
                        break;
                if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return "unix path contains a \".\" or \"..\" component";
                if (n + 1 + l >= sizeof a->path)
                        return "unix path too long";
                a->path[n++] = '/';
                memcpy(a->path + n, p, l);
                n += l;
                p += l;
        }
        if (n == 0 || path[strlen(path) - 1] == '/')
                return "unix path names a directory";
        a->path[n] = 0;
        return NULL;
}

static bool hostname_valid(const char *h) {
        /* RFC 1123 host names: dot-separated labels of letters, digits and
         * hyphens, none empty or longer than 63, no leading hyphen; the
         * last label not all digits (RFC 3696: that would be a number). */
        size_t label = 0;
        bool digits = true;
        if (!*h || strlen(h) > ADDRESS_HOST_MAX)
                return false;
        for (const char *p = h; *p; p++) {
                if (*p == '.') {
                        if (label == 0)
                                return false;
                        if (p[1])
                                digits = true, label = 0;
                        continue;
                }
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                if (!alnum && !(*p == '-' && label > 0) && *p != '_')
                        return false;
                digits = digits && *p >= '0' && *p <= '9';
                if (++label > 63)
                        return false;
        }
        return !digits;
}

/* [IPv6]: one spelling (RFC 5952, as inet_ntop() writes it); an
 * IPv4-mapped address under "tcp" (or "http") is the IPv4 address it
 * maps. */
static const char *parse_ipv6(const char *rest, Address *a, const char **ret_colon) {
        const char *close = strchr(rest, ']');
        if (!close)
                return "missing ']' after IPv6 address";
        size_t hl = (size_t) (close - rest - 1);
        char host[ADDRESS_HOST_MAX + 1];
        if (hl == 0 || hl > ADDRESS_HOST_MAX)
                return "invalid IPv6 address";
        memcpy(host, rest + 1, hl);
        host[hl] = 0;
        struct in6_addr in6;
        if (inet_pton(AF_INET6, host, &in6) != 1)
                return "invalid IPv6 address";
        if (a->protocol == ADDRESS_TCP4)
                return "tcp4 address with an IPv6 host";
        if (close[1] != ':')
                return "missing port";
        if ((a->protocol == ADDRESS_TCP || a->protocol == ADDRESS_HTTP) && IN6_IS_ADDR_V4MAPPED(&in6))
                (void) inet_ntop(AF_INET, in6.s6_addr + 12, a->host, sizeof a->host);
        else
                (void) inet_ntop(AF_INET6, &in6, a->host, sizeof a->host);
        *ret_colon = close + 1;
        return NULL;
}

/* A name or an IPv4 address in any form the resolver takes ("127.1",
 * "0x7f.1", "2130706433"): numbers in dotted-quad form, names in lower
 * case. */
static const char *parse_host(const char *rest, Address *a, const char **ret_colon) {
        const char *colon = strrchr(rest, ':');
        if (!colon)
                return "missing port";
        size_t hl = (size_t) (colon - rest);
        if (hl == 0)
                return "missing host";
        if (hl > ADDRESS_HOST_MAX)
                return "host name too long";
        char host[ADDRESS_HOST_MAX + 1];
        memcpy(host, rest, hl);
        host[hl] = 0;
        if (memchr(host, ':', hl))
                return "IPv6 address must be in brackets";
        struct in_addr in4;
        if (inet_aton(host, &in4)) {
                if (a->protocol == ADDRESS_TCP6)
                        return "tcp6 address with an IPv4 host";
                (void) inet_ntop(AF_INET, &in4, a->host, sizeof a->host);
        } else {
                if (!hostname_valid(host))
                        return "invalid host";
                for (size_t i = 0; i <= hl; i++)
                        a->host[i] = (char) (host[i] >= 'A' && host[i] <= 'Z' ? host[i] - 'A' + 'a' : host[i]);
        }
        *ret_colon = colon;
        return NULL;
}

static const char *parse_port(const char *port, AddressFlags flags, uint16_t *ret) {
        if (!*port)
                return "missing port";
        unsigned long v = 0;
        for (const char *p = port; *p; p++) {
                if (*p < '0' || *p > '9')
                        return "port is not a number";
                v = v * 10 + (unsigned long) (*p - '0');
                if (v > 65535)
                        return "port out of range (1-65535)";
        }
        if (strlen(port) > 5)
                return "port out of range (1-65535)";
        if (v == 0 && !(flags & ADDRESS_ALLOW_PORT_ZERO))
                return "port out of range (1-65535)";
        *ret = (uint16_t) v;
        return NULL;
}

int address_parse(const char *s, AddressFlags flags, Address *ret, const char **ret_reason) {
        Address a = {};
        const char *rest = NULL, *colon = NULL;
        const char *why = check_characters(s);

        if (!why)
                why = parse_protocol(s, &a.protocol, &rest);
        if (!why && a.protocol == ADDRESS_UNIX)
                why = parse_unix(rest, &a);
        else if (!why) {
                why = rest[0] == '[' ? parse_ipv6(rest, &a, &colon) : parse_host(rest, &a, &colon);
                if (!why)
                        why = parse_port(colon + 1, flags, &a.port);
        }
        if (why) {
                if (ret_reason)
                        *ret_reason = why;
                return -EINVAL;
        }
        *ret = a;
        return 0;
}

int address_format(const Address *a, char **ret) {
        char *s;
        int k;
        if (a->protocol == ADDRESS_UNIX)
                k = asprintf(&s, "unix@%s", a->path);
        else
                k = asprintf(&s, strchr(a->host, ':') ? "%s@[%s]:%u" : "%s@%s:%u", protocol_names[a->protocol], a->host,
                             a->port);
        if (k < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int address_canonicalize(const char *s, AddressFlags flags, char **ret, const char **ret_reason) {
        Address a;
        int r = address_parse(s, flags, &a, ret_reason);
        if (r < 0)
                return r;
        return address_format(&a, ret);
}

bool address_unix_under(const Address *a, const char *dir) {
        if (a->protocol != ADDRESS_UNIX)
                return true;
        size_t l = strlen(dir);
        while (l > 0 && dir[l - 1] == '/')
                l--;
        /* Under it, not the folder itself, and not /run/geerpc-other. */
        return strncmp(a->path, dir, l) == 0 && a->path[l] == '/' && a->path[l + 1] != 0;
}

int address_resolve(const Address *a, SocketAddress *ret) {
        SocketAddress sa = {};

        if (a->protocol == ADDRESS_UNIX) {
                sa.un.sun_family = AF_UNIX;
                memcpy(sa.un.sun_path, a->path, strlen(a->path) + 1); /* fits: checked by address_parse() */
                sa.len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(a->path) + 1);
                *ret = sa;
                return 0;
        }

        if (a->protocol != ADDRESS_TCP6 && inet_pton(AF_INET, a->host, &sa.in.sin_addr) == 1) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(a->port);
                sa.len = sizeof sa.in;
                *ret = sa;
                return 0;
        }
        if (a->protocol != ADDRESS_TCP4 && inet_pton(AF_INET6, a->host, &sa.in6.sin6_addr) == 1) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(a->port);
                sa.len = sizeof sa.in6;
                *ret = sa;
                return 0;
        }

        struct addrinfo hints = {
                .ai_family = a->protocol == ADDRESS_TCP4 ? AF_INET : a->protocol == ADDRESS_TCP6 ? AF_INET6 : AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
        }, *res = NULL;
        char port[8];
        snprintf(port, sizeof port, "%u", a->port);
        int r = getaddrinfo(a->host, port, &hints, &res);
        if (r != 0)
                return r == EAI_SYSTEM ? negative_errno() : -EADDRNOTAVAIL;
        if (!res || res->ai_addrlen > sizeof sa.storage) {
                freeaddrinfo(res);
                return -EADDRNOTAVAIL;
        }
        memcpy(&sa.storage, res->ai_addr, res->ai_addrlen);
        sa.len = res->ai_addrlen;
        freeaddrinfo(res);
        *ret = sa;
        return 0;
}

/* Parses, resolves and opens a socket of the right family for s. */
static int address_socket(const char *s, AddressFlags flags, Address *ret_a, SocketAddress *ret_sa, int *ret_fd) {
        int r = address_parse(s, flags, ret_a, NULL);
        if (r < 0)
                return r;
        r = address_resolve(ret_a, ret_sa);
        if (r < 0)
                return r;
        int fd = socket(ret_sa->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

int address_listen(const char *s, int backlog, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        Address a;
        SocketAddress sa;

        int r = address_socket(s, ADDRESS_ALLOW_PORT_ZERO, &a, &sa, &fd);
        if (r < 0)
                return r;
        if (sa.sa.sa_family != AF_UNIX) {
                int one = 1;
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                if (sa.sa.sa_family == AF_INET6 && a.protocol == ADDRESS_TCP6)
                        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        } else
                /* A stale socket file from an earlier run would make bind fail. */
                (void) unlink(a.path);
        if (bind(fd, &sa.sa, sa.len) < 0)
                return negative_errno();
        if (listen(fd, backlog) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int address_dial(const char *s, usec_t timeout, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        Address a;
        SocketAddress sa;

        int r = address_socket(s, 0, &a, &sa, &fd);
        if (r < 0)
                return r;
        if (sa.sa.sa_family != AF_UNIX) {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (connect(fd, &sa.sa, sa.len) < 0) {
                if (errno != EINPROGRESS)
                        return negative_errno();
                usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
                for (;;) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        if (n >= deadline)
                                return -ETIMEDOUT;
                        int ms = deadline == USEC_INFINITY ? -1 : (int) MIN((deadline - n + 999) / 1000, (usec_t) INT32_MAX);
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        r = poll(&p, 1, ms);
                        if (r < 0) {
                                if (errno == EINTR)
                                        continue;
                                return negative_errno();
                        }
                        if (r > 0)
                                break;
                }
                int err = 0;
                socklen_t l = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        return negative_errno();
                if (err != 0)
                        return -err;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int socket_address_format(const SocketAddress *sa, char **ret) {
        char host[INET6_ADDRSTRLEN];
        char *s = NULL;

        switch (sa->sa.sa_family) {
        case AF_INET:
                if (!inet_ntop(AF_INET, &sa->in.sin_addr, host, sizeof host))
                        return negative_errno();
                if (asprintf(&s, "tcp@%s:%u", host, ntohs(sa->in.sin_port)) < 0)
                        return -ENOMEM;
                break;
        case AF_INET6:
                if (IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
                        struct in_addr v4;
                        memcpy(&v4, sa->in6.sin6_addr.s6_addr + 12, sizeof v4);
                        if (!inet_ntop(AF_INET, &v4, host, sizeof host))
                                return negative_errno();
                        if (asprintf(&s, "tcp@%s:%u", host, ntohs(sa->in6.sin6_port)) < 0)
                                return -ENOMEM;
                        break;
                }
                if (!inet_ntop(AF_INET6, &sa->in6.sin6_addr, host, sizeof host))
                        return negative_errno();
                if (asprintf(&s, "tcp@[%s]:%u", host, ntohs(sa->in6.sin6_port)) < 0)
                        return -ENOMEM;
                break;
        case AF_UNIX:
                if (sa->len <= offsetof(struct sockaddr_un, sun_path) || sa->un.sun_path[0] == 0)
                        return -EAFNOSUPPORT; /* unnamed or abstract */
                if (asprintf(&s, "unix@%.*s", (int) (sa->len - offsetof(struct sockaddr_un, sun_path)),
                             sa->un.sun_path) < 0)
                        return -ENOMEM;
                break;
        default:
                return -EAFNOSUPPORT;
        }
        *ret = s;
        return 0;
}

int address_from_socket(int fd, char **ret) {
        SocketAddress sa = { .len = sizeof sa.storage };
        if (getsockname(fd, &sa.sa, &sa.len) < 0)
                return negative_errno();
        return socket_address_format(&sa, ret);
}
