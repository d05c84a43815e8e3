/* SPDX-License-Identifier: MIT */
#pragma once

/* The discovery interface (discovery.c) and its back ends
 * (discovery-static.c, discovery-registry.c, discovery-etcd.c).
 *
 * The cache, the one-refresh-at-a-time rule and stale-on-error live in
 * discovery.c, shared by every back end: a back end only says how to fetch
 * the list. A back end without fetch (a static list) never expires. */

#include <pthread.h>
#include <stdatomic.h>

#include "basic/buffer.h"
#include "geerpc/discovery.h"
#include "cluster/select.h"

typedef struct DiscoveryVTable {
        const char *name; /* "static", "registry" */
        /* Fetches the current list. Runs on the caller's thread with no lock
         * held, bounded by timeout. On failure returns a negative errno and
         * may set *ret_error to a malloc'd one-line reason for the log. */
        int (*fetch)(geerpc_discovery *d, usec_t timeout, ServerSet **ret, char **ret_error);
        /* Called first when the discovery is freed: a back end with a thread
         * of its own stops (joins) it here, while the discovery is whole. */
        void (*free_backend)(void *backend);
} DiscoveryVTable;

struct geerpc_discovery {
        atomic_uint n_ref;
        const DiscoveryVTable *vtable;
        void *backend;
        char *description; /* the URL, for logs */
        atomic_uint_fast64_t rr; /* round-robin position */

        /* lock guards everything below; it is never held during a fetch. */
        pthread_mutex_t lock;
        pthread_cond_t refreshed; /* CLOCK_MONOTONIC; signalled when a refresh ends */
        ServerSet *servers;       /* NULL until the first successful fetch */
        usec_t last_success;      /* CLOCK_MONOTONIC */
        usec_t last_attempt;
        int last_error;           /* of the last attempt; 0 when it succeeded */
        uint64_t generation;      /* counts finished refreshes */
        bool refreshing;
        bool outage_logged;
        bool stale_logged;
        usec_t ttl, max_stale, refresh_timeout;
};

/* Takes ownership of backend (freed with vt->free_backend, also on
 * failure). servers: the initial list (may be NULL for back ends that
 * fetch). */
int discovery_new(const DiscoveryVTable *vt, void *backend, const char *description, ServerSet *servers,
                  geerpc_discovery **ret);

/* The current list (a new reference), refreshing it first when it is due.
 * deadline: CLOCK_MONOTONIC, USEC_INFINITY for none. Errors as in
 * discovery.h. */
int discovery_acquire(geerpc_discovery *d, usec_t deadline, ServerSet **ret);

/* server_set_new() of the canonical spellings (address_canonicalize());
 * -EINVAL unless every address is valid, -E2BIG past
 * GEERPC_DISCOVERY_MAX_SERVERS. */
int discovery_server_set_new(const char *const *servers, size_t n, ServerSet **ret);

/* discovery_acquire() + select_pick(); *ret_server is malloc'd. */
int discovery_pick(geerpc_discovery *d, geerpc_select_mode mode, const char *key, usec_t deadline,
                   const char *const *avoid, size_t n_avoid, char **ret_server);

/* discovery-etcd.c: etcd://HOST:PORT[,...][/PREFIX], range + watch. */
int discovery_new_etcd(geerpc_discovery **ret, const char *url);

/* discovery-registry.c: reads a registry's GET response. The JSON body
 * ({"servers":[{"addr":...},...]}) wins when there is one; otherwise the
 * X-Geerpc-Servers header, then X-rpc-Servers. Entries that are not valid
 * addresses are skipped; past GEERPC_DISCOVERY_MAX_SERVERS the rest are
 * dropped (both logged). -EBADMSG when the response holds no list. */
int registry_parse_response(const Buffer *headers, const Buffer *body, ServerSet **ret, char **ret_error);
