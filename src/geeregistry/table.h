/* SPDX-License-Identifier: MIT */
#pragma once

/* The server table: address -> time of the last heartbeat and what that
 * heartbeat said (services, weight, labels), plus the operator's weight
 * overrides by address.
 *
 * Two views of the same entries: a search tree ordered by address (lookup
 * in O(log n), the sorted listing in O(n)) and a list ordered by last
 * heartbeat. A heartbeat always carries the newest time, so a refresh just
 * moves the entry to the end of that list (O(1)), and expiry only ever
 * looks at the front. Times are CLOCK_MONOTONIC microseconds, as sd-event
 * counts them; persist.c converts to wall-clock time for the state file.
 *
 * Overrides are kept apart from the entries: an operator's drain or weight
 * outlives the server's own heartbeats, its deregistration and its
 * expiry, until the operator clears it. At most max_servers of them. */

#include "basic/buffer.h"
#include "basic/list.h"
#include "basic/macro.h"
#include "cluster/server-meta.h"

/* Named limit: registered servers, unless --max-servers says otherwise. */
#define TABLE_MAX_SERVERS_DEFAULT 65536U
#define TABLE_MAX_SERVERS_LIMIT (16U * 1024U * 1024U)

typedef struct TableEntry {
        LIST_FIELDS(struct TableEntry, by_heartbeat); /* oldest first */
        usec_t last;                      /* CLOCK_MONOTONIC */
        const char *addr;                 /* points into the same allocation */
        ServerMeta meta;                  /* from its last heartbeat; weight: its own */
        int override;                     /* the operator's weight; -1: none */
} TableEntry;

/* The weight clients pick it by: the operator's, else its own. */
static inline unsigned table_entry_weight(const TableEntry *e) {
        return e->override >= 0 ? (unsigned) e->override : e->meta.weight;
}

typedef struct Table Table;

/* timeout: how long a server stays alive without a heartbeat (0: for ever). */
int table_new(Table **ret, size_t max_servers, usec_t timeout);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

size_t table_size(const Table *t);
size_t table_max(const Table *t);
usec_t table_timeout(const Table *t);
/* Changes whenever what a GET answers changes: an address added or
 * removed, new metadata, an override (not a plain refresh). */
uint64_t table_generation(const Table *t);

typedef enum TableHeartbeat {
        TABLE_REFRESHED = 0, /* known, nothing new */
        TABLE_ADDED = 1,
        TABLE_UPDATED = 2,   /* known, with new metadata */
} TableHeartbeat;

/* Registers addr (already validated) with meta (copied) or refreshes it to
 * now. Returns a TableHeartbeat, -ENOSPC when the table is full, -ENOMEM. */
int table_heartbeat(Table *t, const char *addr, const ServerMeta *meta, usec_t now);
/* Inserts addr with an older heartbeat time (loading the state file).
 * Cheapest when called in order of last. An address already present keeps
 * the later of the two times and its metadata. Returns 1 if added, 0 if
 * merged, or -ENOSPC / -ENOMEM. */
int table_restore(Table *t, const char *addr, const ServerMeta *meta, usec_t last);
/* Returns true when addr was there. */
bool table_remove(Table *t, const char *addr);
const TableEntry *table_find(const Table *t, const char *addr);

/* Whether an entry's last heartbeat is older than the timeout at now. */
bool table_entry_dead(const Table *t, const TableEntry *e, usec_t now);
/* Removes every dead entry, oldest first, calling cb (may be NULL) for
 * each before it is freed. Returns how many were removed. */
typedef void (*table_expired_t)(const TableEntry *e, usec_t now, void *userdata);
size_t table_expire(Table *t, usec_t now, table_expired_t cb, void *userdata);
/* When the oldest entry dies (USEC_INFINITY: empty table, or no timeout). */
usec_t table_next_expiry(const Table *t);

/* Entries oldest heartbeat first (NULL when empty); follow
 * ->by_heartbeat_next. */
const TableEntry *table_oldest(const Table *t);
/* Calls cb for each entry in address order; stops when cb returns < 0 and
 * returns that value. */
typedef int (*table_visit_t)(const TableEntry *e, void *userdata);
int table_foreach_sorted(const Table *t, table_visit_t cb, void *userdata);

/* Appends the addresses listed for service (offering it, or with unknown
 * services; NULL: all) that may be chosen (weight > 0), sorted and
 * comma-joined, cut after the last whole address that fits in max bytes
 * (max 0: no cut). *ret_truncated tells whether addresses were left out. */
int table_join(const Table *t, const char *service, size_t max, Buffer *out, bool *ret_truncated);

/* Every service name some server announced, with how many servers a
 * ?service= GET of it lists (those offering it, plus those with unknown
 * services), sorted by name; names are borrowed from the table and valid
 * until it changes. *ret is malloc'd (NULL when there are none). */
typedef struct TableServiceCount {
        const char *name;
        uint64_t servers;
} TableServiceCount;
int table_count_services(const Table *t, TableServiceCount **ret, size_t *ret_n);

/* The operator's overrides. set: 1 when it changed something, 0 when it
 * was already so, -ENOSPC past max_servers overrides. clear: whether there
 * was one. get: the weight, or -ENOENT. */
int table_set_override(Table *t, const char *addr, unsigned weight);
bool table_clear_override(Table *t, const char *addr);
int table_get_override(const Table *t, const char *addr);
size_t table_n_overrides(const Table *t);
/* In address order; stops when cb returns < 0 and returns that value. */
typedef int (*table_override_visit_t)(const char *addr, unsigned weight, void *userdata);
int table_foreach_override(const Table *t, table_override_visit_t cb, void *userdata);
