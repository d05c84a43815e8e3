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
        /* Fetches the servers listed for service (NULL: every server).
         * Runs on the caller's thread with no lock held, bounded by
         * timeout. On failure returns a negative errno and may set
         * *ret_error to a malloc'd one-line reason for the log. */
        int (*fetch)(geerpc_discovery *d, const char *service, usec_t timeout, ServerSet **ret, char **ret_error);
        /* Called first when the discovery is freed: a back end with a thread
         * of its own stops (joins) it here, while the discovery is whole. */
        void (*free_backend)(void *backend);
} DiscoveryVTable;

/* Named limit: services whose lists one discovery caches; past it the
 * least recently used idle one is dropped. */
#define DISCOVERY_CACHES_MAX 256U

/* The cached list of one service (or of every server). */
typedef struct DiscoveryCache {
        char *service;            /* NULL: every server */
        ServerSet *servers;       /* NULL until the first successful fetch */
        usec_t last_success;      /* CLOCK_MONOTONIC */
        usec_t last_attempt;
        usec_t last_used;
        int last_error;           /* of the last attempt; 0 when it succeeded */
        uint64_t generation;      /* counts finished refreshes */
        unsigned users;           /* callers inside, across a dropped lock */
        bool refreshing;
        bool outage_logged;
        bool stale_logged;
} DiscoveryCache;

struct geerpc_discovery {
        atomic_uint n_ref;
        const DiscoveryVTable *vtable;
        void *backend;
        char *description; /* the URL, for logs */

        /* lock guards everything below; it is never held during a fetch. */
        pthread_mutex_t lock;
        pthread_cond_t refreshed; /* CLOCK_MONOTONIC; signalled when a refresh ends */
        ServerSet *base;          /* every server: a static list, or the last update() */
        DiscoveryCache **caches;
        size_t n_caches;
        usec_t ttl, max_stale, refresh_timeout;
};

/* Takes ownership of backend (freed with vt->free_backend, also on
 * failure). servers: the initial list (may be NULL for back ends that
 * fetch). */
int discovery_new(const DiscoveryVTable *vt, void *backend, const char *description, ServerSet *servers,
                  geerpc_discovery **ret);

/* The servers listed for service (NULL: every server; else a valid service
 * name), a new reference, refreshing them first when due. deadline:
 * CLOCK_MONOTONIC, USEC_INFINITY for none. Errors as in discovery.h. */
int discovery_acquire(geerpc_discovery *d, const char *service, usec_t deadline, ServerSet **ret);

/* server_set_new() of the canonical spellings (address_canonicalize());
 * -EINVAL unless every address is valid, -E2BIG past
 * GEERPC_DISCOVERY_MAX_SERVERS. */
int discovery_server_set_new(const char *const *servers, size_t n, ServerSet **ret);

/* discovery_acquire() + select_pick(); *ret_server is malloc'd. */
int discovery_pick(geerpc_discovery *d, const char *service, geerpc_select_mode mode, const char *key,
                   usec_t deadline, select_skip_t skip, void *userdata, char **ret_server);

/* Installs every server's list, as if every service had just been fetched
 * (geerpc_discovery_update(), etcd's watch). Takes a reference. */
void discovery_publish(geerpc_discovery *d, ServerSet *all);

/* discovery-etcd.c: etcd://HOST:PORT[,...][/PREFIX], range + watch. */
int discovery_new_etcd(geerpc_discovery **ret, const char *url);

/* Named limit: the largest registry answer read (a JSON listing of 65,536
 * servers with their services and labels fits). */
#define DISCOVERY_REGISTRY_RESPONSE_MAX (64U * 1024U * 1024U)

/* discovery-registry.c: reads a registry's GET response. The JSON body
 * ({"servers":[{"addr":...,"age_ms":N,"services":[...],"weight":N,
 * "labels":{...}},...]}) wins when there is one; otherwise the
 * X-Geerpc-Servers header, then X-rpc-Servers (addresses only). Entries
 * that are not valid addresses or carry invalid metadata are skipped; past
 * GEERPC_DISCOVERY_MAX_SERVERS the rest are dropped (both logged).
 * -EBADMSG when the response holds no list. now: CLOCK_MONOTONIC of the
 * response, to turn ages into heartbeat times. */
int registry_parse_response(const Buffer *headers, const Buffer *body, usec_t now, ServerSet **ret,
                            char **ret_error);
