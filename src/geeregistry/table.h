/* SPDX-License-Identifier: MIT */
#pragma once

/* The server table: address -> time of the last heartbeat.
 *
 * Two views of the same entries: a search tree ordered by address (lookup
 * in O(log n), the sorted listing in O(n)) and a list ordered by last
 * heartbeat. A heartbeat always carries the newest time, so a refresh just
 * moves the entry to the end of that list (O(1)), and expiry only ever
 * looks at the front. Times are CLOCK_MONOTONIC microseconds, as sd-event
 * counts them; persist.c converts to wall-clock time for the state file.
 *
 * The comma-joined listing is cached until the set of addresses changes,
 * so that a GET on a stable table costs no more than a lookup. */

#include "basic/list.h"
#include "basic/macro.h"

/* Named limit: registered servers, unless --max-servers says otherwise. */
#define TABLE_MAX_SERVERS_DEFAULT 65536U
#define TABLE_MAX_SERVERS_LIMIT (16U * 1024U * 1024U)

typedef struct TableEntry {
        LIST_FIELDS(struct TableEntry, by_heartbeat); /* oldest first */
        usec_t last;                      /* CLOCK_MONOTONIC */
        const char *addr;                 /* points into the same allocation */
} TableEntry;

typedef struct Table Table;

/* timeout: how long a server stays alive without a heartbeat (0: for ever). */
int table_new(Table **ret, size_t max_servers, usec_t timeout);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

size_t table_size(const Table *t);
size_t table_max(const Table *t);
usec_t table_timeout(const Table *t);
/* Changes whenever an address is added or removed (not on a refresh). */
uint64_t table_generation(const Table *t);

/* Registers addr (already validated) or refreshes it to now. Returns 1 when
 * it was new, 0 on a refresh, -ENOSPC when the table is full, -ENOMEM. */
int table_heartbeat(Table *t, const char *addr, usec_t now);
/* Inserts addr with an older heartbeat time (loading the state file).
 * Cheapest when called in order of last. An address already present keeps
 * the later of the two times. Returns 1 if added, 0 if merged, or
 * -ENOSPC / -ENOMEM. */
int table_restore(Table *t, const char *addr, usec_t last);
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

/* The sorted addresses, comma-joined, cut after the last whole address
 * that fits in max bytes (max 0: no cut). Cached; valid until the table
 * changes. *ret_truncated tells whether addresses were left out. */
int table_joined(Table *t, size_t max, const char **ret, bool *ret_truncated);
