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
 * Services: a registry may say which services each server offers (and its
 * weight and labels); discovery keeps one list per service, asked for with
 * the service (GET ?service=NAME from a registry, a filter of the watched
 * keys for etcd) and cached separately. A server whose services are
 * unknown (registered the Go original's way, or in a static list) is
 * listed for every service.
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
 *               response without a usable list), -EMSGSIZE (a header line
 *               longer than libcurl reads, 100 KiB: a Go registry's list of
 *               more than about 4,800 servers), -EFBIG (an answer past
 *               64 MiB).
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
typedef struct geerpc_server_list geerpc_server_list;

/* Every mode honours weights (defs.h): a server of weight 0 is draining
 * and never chosen. */
typedef enum geerpc_select_mode {
        /* A server picked at random for each call, with probability
         * proportional to its weight. */
        GEERPC_SELECT_RANDOM = 0,
        /* Servers in turn, in sorted order, from a random start (as the Go
         * original); the position is shared by all users of a service's
         * list. Unequal weights take turns by smooth weighted round-robin:
         * weights 3 and 1 give a a b a, not a a a b. */
        GEERPC_SELECT_ROUND_ROBIN = 1,
        /* Consistent hashing on a caller-given key: the same key goes to the
         * same server while the set of servers is stable, and a change of
         * the set moves only the keys of the servers that came or went.
         * Each server owns ring points in proportion to its weight. */
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

/* Picks one server of all by mode (key: required for GEERPC_SELECT_HASH,
 * ignored otherwise). *ret_server is a malloc'd copy. Refreshes the list
 * first when it is older than the TTL. */
int geerpc_discovery_get(geerpc_discovery *d, geerpc_select_mode mode, const char *key, char **ret_server);
/* Every server, sorted. *ret_servers is one malloc'd block holding a
 * NULL-terminated array and the strings: release it with one free().
 * ret_n (optional) receives the count. An empty list is not an error here:
 * *ret_servers is then an array holding only NULL. */
int geerpc_discovery_get_all(geerpc_discovery *d, char ***ret_servers, size_t *ret_n);

/* The servers listed for service (offering it, or with unknown services;
 * NULL: every server), sorted by address, with what the registry says of
 * each: a new reference (release it with geerpc_server_list_unref()), an
 * immutable snapshot. Refreshes that service's list first when it is due.
 * -EINVAL for a service that is not a valid name (defs.h). Draining
 * servers (weight 0) are in it. */
int geerpc_discovery_get_list(geerpc_discovery *d, const char *service, geerpc_server_list **ret);

geerpc_server_list *geerpc_server_list_ref(geerpc_server_list *l);
geerpc_server_list *geerpc_server_list_unref(geerpc_server_list *l);
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_server_list, geerpc_server_list_unref);
size_t geerpc_server_list_get_count(const geerpc_server_list *l);
/* Each getter takes an index below the count; pointers are borrowed from
 * the list. NULL (or -EINVAL) for an index out of range. */
const char *geerpc_server_list_get_address(const geerpc_server_list *l, size_t i);
/* The weight clients pick by: 0 (draining) to GEERPC_WEIGHT_MAX. */
int geerpc_server_list_get_weight(const geerpc_server_list *l, size_t i);
/* The weight the server itself announced, when the registry's operator
 * overrode it (geerpcctl drain, weight); -ENODATA when not overridden. */
int geerpc_server_list_get_server_weight(const geerpc_server_list *l, size_t i);
/* The services it offers, sorted, NULL-terminated; NULL when unknown (it
 * is then listed for every service). */
const char *const *geerpc_server_list_get_services(const geerpc_server_list *l, size_t i);
/* Its labels as "key=value" strings sorted by key, NULL-terminated; NULL
 * when it has none. */
const char *const *geerpc_server_list_get_labels(const geerpc_server_list *l, size_t i);
/* Microseconds since its last heartbeat, as of now; UINT64_MAX when the
 * back end does not say (static lists, etcd, a Go registry). */
uint64_t geerpc_server_list_get_age(const geerpc_server_list *l, size_t i);

#ifdef __cplusplus
}
#endif
