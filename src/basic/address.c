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

const char *address_protocol_to_string(AddressProtocol p) {
        return p < ELEMENTSOF(protocol_names) ? protocol_names[p] : NULL;
}

static bool hostname_valid(const char *h) {
        /* RFC 1123 host names: dot-separated labels of letters, digits and
         * hyphens, none empty or longer than 63, no leading hyphen. */
        size_t label = 0;
        if (!*h || strlen(h) > ADDRESS_HOST_MAX)
                return false;
        for (const char *p = h; *p; p++) {
                if (*p == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                if (!alnum && !(*p == '-' && label > 0) && *p != '_')
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

#define FAIL(reason)                         \
        do {                                 \
                if (ret_reason)              \
                        *ret_reason = reason; \
                return -EINVAL;              \
        } while (0)

int address_parse(const char *s, AddressFlags flags, Address *ret, const char **ret_reason) {
        Address a = {};

        if (!s)
                FAIL("missing address");
        size_t len = strlen(s);
        if (len == 0)
                FAIL("empty address");
        if (len > ADDRESS_MAX)
                FAIL("address longer than 255 bytes");
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c < 0x20 || c == 0x7f)
                        FAIL("address contains a control character");
                if (c == ' ' || c == '\t')
                        FAIL("address contains whitespace");
                if (c == ',')
                        FAIL("address contains a comma");
        }

        const char *at = strchr(s, '@');
        if (!at)
                FAIL("address is not PROTOCOL@ADDRESS");
        size_t pl = (size_t) (at - s);
        bool found = false;
        for (size_t i = 0; i < ELEMENTSOF(protocol_names); i++)
                if (strlen(protocol_names[i]) == pl && strncmp(s, protocol_names[i], pl) == 0) {
                        a.protocol = (AddressProtocol) i;
                        found = true;
                }
        if (!found)
                FAIL("unknown protocol (expected tcp, tcp4, tcp6, unix or http)");
        const char *rest = at + 1;

        if (a.protocol == ADDRESS_UNIX) {
                if (rest[0] != '/')
                        FAIL("unix address is not an absolute path");
                if (strlen(rest) >= sizeof a.path)
                        FAIL("unix path too long");
                strcpy(a.path, rest);
                *ret = a;
                return 0;
        }

        const char *colon;
        if (rest[0] == '[') {
                const char *close = strchr(rest, ']');
                if (!close)
                        FAIL("missing ']' after IPv6 address");
                size_t hl = (size_t) (close - rest - 1);
                if (hl == 0 || hl > ADDRESS_HOST_MAX)
                        FAIL("invalid IPv6 address");
                memcpy(a.host, rest + 1, hl);
                a.host[hl] = 0;
                struct in6_addr in6;
                if (inet_pton(AF_INET6, a.host, &in6) != 1)
                        FAIL("invalid IPv6 address");
                if (a.protocol == ADDRESS_TCP4)
                        FAIL("tcp4 address with an IPv6 host");
                if (close[1] != ':')
                        FAIL("missing port");
                colon = close + 1;
        } else {
                colon = strrchr(rest, ':');
                if (!colon)
                        FAIL("missing port");
                size_t hl = (size_t) (colon - rest);
                if (hl == 0)
                        FAIL("missing host");
                if (hl > ADDRESS_HOST_MAX)
                        FAIL("host name too long");
                memcpy(a.host, rest, hl);
                a.host[hl] = 0;
                if (memchr(a.host, ':', hl))
                        FAIL("IPv6 address must be in brackets");
                struct in_addr in4;
                bool is_ipv4 = inet_pton(AF_INET, a.host, &in4) == 1;
                if (!is_ipv4 && !hostname_valid(a.host))
                        FAIL("invalid host");
                if (is_ipv4 && a.protocol == ADDRESS_TCP6)
                        FAIL("tcp6 address with an IPv4 host");
        }

        const char *port = colon + 1;
        if (!*port)
                FAIL("missing port");
        unsigned long v = 0;
        for (const char *p = port; *p; p++) {
                if (*p < '0' || *p > '9')
                        FAIL("port is not a number");
                v = v * 10 + (unsigned long) (*p - '0');
                if (v > 65535)
                        FAIL("port out of range (1-65535)");
        }
        if (strlen(port) > 5)
                FAIL("port out of range (1-65535)");
        if (v == 0 && !(flags & ADDRESS_ALLOW_PORT_ZERO))
                FAIL("port out of range (1-65535)");
        a.port = (uint16_t) v;
        *ret = a;
        return 0;
}
#undef FAIL

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
