/* SPDX-License-Identifier: MIT */
#pragma once

/* Connections per client IP address, so that one address cannot take all
 * of a server's connections. A search tree keyed by address: taking and
 * releasing cost O(log n), whatever the number of connections. */

#include <sys/socket.h>

#include "basic/macro.h"

typedef struct PeerCount PeerCount;

/* Counts one more connection from sa. -EUSERS when the address has max
 * already (max 0: no limit). *ret is NULL for a peer without an IP address
 * (a unix socket), which is not counted. */
int peer_limit_take(void **root, const struct sockaddr *sa, socklen_t len, unsigned max, PeerCount **ret);
/* The connection counted by p (NULL is fine) is gone. */
void peer_limit_release(void **root, PeerCount *p);
void peer_limit_free_all(void **root);
