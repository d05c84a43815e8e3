/* SPDX-License-Identifier: MIT */
#pragma once

/* What etcd's answers say, read apart from what is done with them: the
 * range and watch responses discovery reads, the lease grants and
 * keepalives registration reads. Everything here comes from a peer. */

#include <jansson.h>

#include "cluster/etcd.h"
#include "cluster/select.h"

/* What a range over t's prefix lists: the servers, sorted by address,
 * each with what its value says (services, weight, labels; a value
 * without them: unknown services, the default weight); the operator's
 * overrides (etcd-override.h), sorted by address, each's weight in
 * meta.weight; and the response's revision (0..ETCD_REVISION_MAX). Keys
 * that are not ours, not valid addresses, with invalid metadata or an
 * invalid override value are left out; at most
 * GEERPC_DISCOVERY_MAX_SERVERS of each. Addresses are owned. */
typedef struct EtcdRange {
        ServerEntry *servers;
        size_t n_servers;
        ServerEntry *overrides;
        size_t n_overrides;
        int64_t revision;
} EtcdRange;

/* -EBADMSG without a usable revision. */
int etcd_parse_range(const EtcdTarget *t, json_t *response, EtcdRange *ret);
void etcd_range_done(EtcdRange *r);

typedef struct EtcdWatchEvent {
        /* The key's server (address owned); entry.addr NULL: a key that is
         * not ours, not a valid address, or put with invalid metadata. A
         * deletion's metadata is the default. */
        ServerEntry entry;
        /* entry is the operator's override of its address (its weight in
         * meta.weight); one put with an invalid value is a deletion, as a
         * range would leave it out. */
        bool override;
        bool deleted;
        int64_t mod_revision; /* 0..ETCD_REVISION_MAX; 0: none given (or unusable) */
} EtcdWatchEvent;

typedef struct EtcdWatchMessage {
        bool created;
        bool canceled;
        int64_t compact_revision; /* > 0: etcd compacted the watched revision away */
        EtcdWatchEvent *events;
        size_t n_events;
} EtcdWatchMessage;

/* One message of a watch stream ({"result":{...}}); -EBADMSG when it has
 * no result (an error message). */
int etcd_parse_watch_message(const EtcdTarget *t, json_t *msg, EtcdWatchMessage *ret);
void etcd_watch_message_done(EtcdWatchMessage *m);

/* A lease grant's ID (> 0) and TTL (seconds, 1..ETCD_TTL_MAX); -EBADMSG
 * unless both are usable. */
int etcd_parse_grant(json_t *response, int64_t *ret_id, int64_t *ret_ttl);
/* A keepalive's new TTL (1..ETCD_TTL_MAX); -ENOENT when etcd no longer
 * has the lease (no TTL, or 0), -EBADMSG for anything else. */
int etcd_parse_keepalive(json_t *response, int64_t *ret_ttl);
