/* SPDX-License-Identifier: MIT */
#pragma once

/* Server addresses, as Go GeeRPC writes them: PROTOCOL@ADDRESS, e.g.
 * tcp@127.0.0.1:7001, tcp@[::1]:7001, tcp4@host:7001, unix@/run/geerpc/x.sock,
 * http@127.0.0.1:7001 (TCP, then the HTTP CONNECT handshake before the
 * Option: docs/PROTOCOL.md). */

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "basic/macro.h"

/* Named limit: an address is at most this many bytes (the registry rejects
 * longer ones; a unix path must also fit sun_path). */
#define ADDRESS_MAX 255
#define ADDRESS_HOST_MAX 253

typedef enum AddressProtocol {
        ADDRESS_TCP,
        ADDRESS_TCP4,
        ADDRESS_TCP6,
        ADDRESS_UNIX,
        ADDRESS_HTTP, /* TCP; the client sends CONNECT first */
} AddressProtocol;

typedef struct Address {
        AddressProtocol protocol;
        char host[ADDRESS_HOST_MAX + 1]; /* without brackets; empty for unix */
        uint16_t port;
        char path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
} Address;

typedef enum AddressFlags {
        ADDRESS_ALLOW_PORT_ZERO = 1 << 0, /* listen on an ephemeral port */
} AddressFlags;

/* Parses and validates. On failure returns -EINVAL and, if ret_reason is
 * given, points it at a static one-line reason ("port out of range"). */
int address_parse(const char *s, AddressFlags flags, Address *ret, const char **ret_reason);

const char *address_protocol_to_string(AddressProtocol p);

/* Resolves to socket addresses (numeric hosts directly, names through
 * getaddrinfo). */
typedef struct SocketAddress {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                struct sockaddr_un un;
                struct sockaddr_storage storage;
        };
        socklen_t len;
} SocketAddress;

int address_resolve(const Address *a, SocketAddress *ret);

/* Opens a listening socket (SOCK_CLOEXEC|SOCK_NONBLOCK). */
int address_listen(const char *s, int backlog, int *ret_fd);
/* Connects, bounded by timeout (USEC_INFINITY: none). The socket returned
 * is SOCK_CLOEXEC|SOCK_NONBLOCK, with TCP_NODELAY for TCP. */
int address_dial(const char *s, usec_t timeout, int *ret_fd);
/* The PROTOCOL@ADDRESS a listening or connected socket is bound to. */
int address_from_socket(int fd, char **ret);
int socket_address_format(const SocketAddress *sa, char **ret);
