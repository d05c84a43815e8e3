/* SPDX-License-Identifier: MIT */
#pragma once

/* What etcd's answers say, read apart from what is done with them: the
 * range and watch responses discovery reads, the lease grants and
 * keepalives registration reads. Everything here comes from a peer. */

#include <jansson.h>

#include "cluster/etcd.h"
#include "cluster/select.h"

/* The servers under t's prefix in a range response, sorted by address,
 * each with what its value says (services, weight, labels; a value
 * without them: unknown services, the default weight), and the response's
 * revision (0..ETCD_REVISION_MAX). Keys that are not ours, not valid
 * addresses or with invalid metadata are left out. -EBADMSG without a
 * usable revision. *ret's addresses are owned: server_entries_free(). */
int etcd_parse_range(const EtcdTarget *t, json_t *response, ServerEntry **ret, size_t *ret_n, int64_t *ret_revision);

typedef struct EtcdWatchEvent {
        /* The key's server (address owned); entry.addr NULL: a key that is
         * not ours, not a valid address, or put with invalid metadata. A
         * deletion's metadata is the default. */
        ServerEntry entry;
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
