/* SPDX-License-Identifier: MIT */
#pragma once

/* Service discovery: where the servers are, and which one to call.
 *
 * One interface, several back ends:
 *   - static: a fixed list (the Go original's MultiServersDiscovery);
 *     geerpc_discovery_update() replaces it.
 *   - registry: the list served by a geeregistry (or the Go original's
 *     registry) at an http:// or https:// URL (GeeRegistryDiscovery). The
 *     list is cached and fetched again when it is older than the TTL.
 *   - etcd: the keys under a prefix in etcd v3, at
 *     etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (default prefix
 *     /geerpc/services; a server's key is PREFIX/ADDR). A range gives the
 *     list; a watch keeps it current, so a server whose key goes (its lease
 *     expired or was revoked) drops out at once, without waiting for the
 *     TTL. Several endpoints: the next is tried on a connection error.
 *
 * Beyond the original, the registry back end:
 *   - serves the last good list while the registry is unreachable
 *     ("stale-on-error"; logged once per outage and once on recovery), up to
 *     a maximum staleness after which calls fail with -ESTALE;
 *   - runs one refresh at a time and never holds a lock while it waits for
 *     the registry: other callers use the cached list meanwhile, and only a
 *     caller with no usable list waits for the refresh in flight;
 *   - treats an empty list from a reachable registry as an empty list.
 *
 * Errors (negative errno), beyond -EINVAL and -ENOMEM:
 *   -ENXIO      "rpc discovery: no available servers": the list is empty.
 *               (Not -ENOENT: dialling a missing unix socket gives that.)
 *   -ESTALE     the registry has been unreachable for longer than the
 *               maximum staleness: the cached list is no longer used.
 *   -ETIMEDOUT  the caller's deadline passed while waiting for the list.
 *   other       when no list was ever fetched, the registry's failure:
 *               -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET,
 *               -EPROTO (an HTTP status other than 200), -EBADMSG (a
 *               response without a usable list).
 *
 * All functions are thread-safe: one discovery may be shared by any number
 * of threads and xclients. */

#include <stddef.h>
#include <stdint.h>

#include <geerpc/defs.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct geerpc_discovery geerpc_discovery;

typedef enum geerpc_select_mode {
        /* A server picked at random for each call. */
        GEERPC_SELECT_RANDOM = 0,
        /* Servers in turn, in sorted order, from a random start (as the Go
         * original); the position is shared by all users of a discovery. */
        GEERPC_SELECT_ROUND_ROBIN = 1,
        /* Consistent hashing on a caller-given key: the same key goes to the
         * same server while the set of servers is stable, and a change of
         * the set moves only the keys of the servers that came or went. */
        GEERPC_SELECT_HASH = 2,
} geerpc_select_mode;

/* Named limits and defaults. */
#define GEERPC_DISCOVERY_TTL_DEFAULT_USEC (10ULL * 1000000ULL)             /* as the Go original */
#define GEERPC_DISCOVERY_MAX_STALE_DEFAULT_USEC (5ULL * 60ULL * 1000000ULL) /* the registry's own expiry */
#define GEERPC_DISCOVERY_REFRESH_TIMEOUT_DEFAULT_USEC (5ULL * 1000000ULL)
#define GEERPC_DISCOVERY_MAX_SERVERS 65536U /* servers kept from one list */

/* A fixed list of n addresses (copied; duplicates are dropped). n may be 0.
 * -EINVAL if an address is not PROTOCOL@ADDRESS, -E2BIG past
 * GEERPC_DISCOVERY_MAX_SERVERS. */
int geerpc_discovery_new_static(geerpc_discovery **ret, const char *const *servers, size_t n);
/* The registry at url, e.g. "http://127.0.0.1:9999/_geerpc_/registry". No
 * request is made until the list is first needed. -EPROTONOSUPPORT for a
 * scheme other than http and https, -EINVAL for a URL without one. */
int geerpc_discovery_new_registry(geerpc_discovery **ret, const char *url);
/* Dispatches on the URL's scheme: http:// and https:// -> registry;
 * etcd:// -> etcd. Schemes are case-insensitive (RFC 3986); another scheme
 * is -EPROTONOSUPPORT, a URL without one (or a malformed etcd URL) -EINVAL,
 * as for geerpc_registration_new(). */
int geerpc_discovery_new_from_url(geerpc_discovery **ret, const char *url);

geerpc_discovery *geerpc_discovery_ref(geerpc_discovery *d);
geerpc_discovery *geerpc_discovery_unref(geerpc_discovery *d);
/* For __attribute__((cleanup(geerpc_discovery_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_discovery, geerpc_discovery_unref);

/* Registry and etcd back ends (-EOPNOTSUPP for static lists).
 *   ttl:             how long a fetched list is used before it is fetched
 *                    again; also the spacing of retries while the registry
 *                    is unreachable. 0: fetch for every get.
 *   max_stale:       how long after the last successful fetch the cached
 *                    list may still be served while the registry is
 *                    unreachable. 0: never serve a stale list; UINT64_MAX:
 *                    for ever.
 *   refresh_timeout: bounds one request to the registry (> 0). */
int geerpc_discovery_set_ttl(geerpc_discovery *d, uint64_t usec);
int geerpc_discovery_set_max_stale(geerpc_discovery *d, uint64_t usec);
int geerpc_discovery_set_refresh_timeout(geerpc_discovery *d, uint64_t usec);

/* Fetches the list now, whatever its age (static lists: nothing to do). If
 * a refresh is already in flight, waits for it and returns its outcome. */
int geerpc_discovery_refresh(geerpc_discovery *d);
/* Replaces the list with n addresses (copied, checked as for
 * geerpc_discovery_new_static()), as if just fetched. */
int geerpc_discovery_update(geerpc_discovery *d, const char *const *servers, size_t n);

/* Picks one server by mode (key: required for GEERPC_SELECT_HASH, ignored
 * otherwise). *ret_server is a malloc'd copy. Refreshes the list first when
 * it is older than the TTL. */
int geerpc_discovery_get(geerpc_discovery *d, geerpc_select_mode mode, const char *key, char **ret_server);
/* Every server, sorted. *ret_servers is one malloc'd block holding a
 * NULL-terminated array and the strings: release it with one free().
 * ret_n (optional) receives the count. An empty list is not an error here:
 * *ret_servers is then an array holding only NULL. */
int geerpc_discovery_get_all(geerpc_discovery *d, char ***ret_servers, size_t *ret_n);

#ifdef __cplusplus
}
#endif
