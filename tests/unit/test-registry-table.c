/* SPDX-License-Identifier: MIT */

/* geeregistry's server table: lookup, refresh order, expiry, the limit,
 * the sorted listing, metadata, overrides, service counts. */

#include <criterion/criterion.h>
#include <stdio.h>

#include "table.h"

#define S USEC_PER_SEC

static Table *new_table(size_t max, usec_t timeout) {
        Table *t;
        cr_assert_eq(table_new(&t, max, timeout), 0);
        return t;
}

static const ServerMeta plain = { .weight = 1 };

static int hb(Table *t, const char *addr, usec_t now) {
        return table_heartbeat(t, addr, &plain, now);
}

static int restore(Table *t, const char *addr, usec_t last) {
        return table_restore(t, addr, &plain, last);
}

/* The listing for service (NULL: all); valid until the next call. */
static const char *joined_for(Table *t, const char *service, size_t max, bool *truncated) {
        static Buffer b;
        buffer_clear(&b);
        cr_assert_eq(table_join(t, service, max, &b, truncated), 0);
        cr_assert_eq(buffer_append(&b, "", 1), 0);
        return buffer_data(&b);
}

static const char *joined(Table *t, size_t max, bool *truncated) {
        return joined_for(t, NULL, max, truncated);
}

static void assert_age_order(Table *t, const char *const *expected, size_t n) {
        size_t i = 0;
        for (const TableEntry *e = table_oldest(t); e; e = e->by_heartbeat_next, i++) {
                cr_assert_lt(i, n);
                cr_assert_str_eq(e->addr, expected[i], "position %zu", i);
                if (e->by_heartbeat_next)
                        cr_assert_leq(e->last, e->by_heartbeat_next->last);
        }
        cr_assert_eq(i, n);
}

Test(table, heartbeat_registers_then_refreshes) {
        Table *t = new_table(10, 60 * S);
        cr_assert_eq(hb(t, "tcp@127.0.0.1:2", 1 * S), 1);
        cr_assert_eq(hb(t, "tcp@127.0.0.1:1", 2 * S), 1);
        cr_assert_eq(hb(t, "tcp@127.0.0.1:3", 3 * S), 1);
        uint64_t gen = table_generation(t);
        cr_assert_eq(hb(t, "tcp@127.0.0.1:2", 4 * S), 0);
        cr_assert_eq(table_generation(t), gen, "a refresh does not change the set");
        cr_assert_eq(table_size(t), 3);
        assert_age_order(t, (const char *[]) { "tcp@127.0.0.1:1", "tcp@127.0.0.1:3", "tcp@127.0.0.1:2" }, 3);
        cr_assert_eq(table_find(t, "tcp@127.0.0.1:2")->last, 4 * S);
        cr_assert_null(table_find(t, "tcp@127.0.0.1:4"));
        table_free(t);
}

Test(table, remove) {
        Table *t = new_table(10, 60 * S);
        cr_assert_eq(hb(t, "a@x", 1), 1);
        cr_assert_eq(hb(t, "b@x", 2), 1);
        cr_assert_eq(hb(t, "c@x", 3), 1);
        uint64_t gen = table_generation(t);
        cr_assert(table_remove(t, "b@x"));
        cr_assert_gt(table_generation(t), gen);
        cr_assert_not(table_remove(t, "b@x"));
        cr_assert(table_remove(t, "a@x"));
        cr_assert(table_remove(t, "c@x"));
        cr_assert_eq(table_size(t), 0);
        cr_assert_null(table_oldest(t));
        cr_assert_str_eq(joined(t, 0, NULL), "");
        cr_assert_eq(hb(t, "a@x", 4), 1);
        assert_age_order(t, (const char *[]) { "a@x" }, 1);
        table_free(t);
}

typedef struct Seen {
        char names[8][32];
        size_t n;
} Seen;

static void on_expired(const TableEntry *e, usec_t now, void *userdata) {
        Seen *s = userdata;
        snprintf(s->names[s->n++], sizeof s->names[0], "%s", e->addr);
}

Test(table, expiry_takes_the_oldest_first) {
        Table *t = new_table(10, 10 * S);
        cr_assert_eq(hb(t, "a@x", 1 * S), 1);
        cr_assert_eq(hb(t, "b@x", 2 * S), 1);
        cr_assert_eq(hb(t, "c@x", 3 * S), 1);
        cr_assert_eq(hb(t, "a@x", 4 * S), 0);
        cr_assert_eq(table_next_expiry(t), 12 * S);

        Seen seen = {};
        cr_assert_eq(table_expire(t, 12 * S - 1, on_expired, &seen), 0);
        cr_assert_not(table_entry_dead(t, table_find(t, "b@x"), 12 * S - 1));
        cr_assert(table_entry_dead(t, table_find(t, "b@x"), 12 * S));
        cr_assert_eq(table_expire(t, 13 * S, on_expired, &seen), 2);
        cr_assert_eq(seen.n, 2);
        cr_assert_str_eq(seen.names[0], "b@x");
        cr_assert_str_eq(seen.names[1], "c@x");
        cr_assert_str_eq(joined(t, 0, NULL), "a@x");
        cr_assert_eq(table_next_expiry(t), 14 * S);
        cr_assert_eq(table_expire(t, 100 * S, NULL, NULL), 1);
        cr_assert_eq(table_next_expiry(t), USEC_INFINITY);
        table_free(t);
}

Test(table, timeout_zero_never_expires) {
        Table *t = new_table(10, 0);
        cr_assert_eq(hb(t, "a@x", 1), 1);
        cr_assert_eq(table_next_expiry(t), USEC_INFINITY);
        cr_assert_eq(table_expire(t, USEC_INFINITY - 1, NULL, NULL), 0);
        cr_assert_not(table_entry_dead(t, table_find(t, "a@x"), USEC_INFINITY - 1));
        table_free(t);
}

Test(table, limit) {
        Table *t = new_table(2, 60 * S);
        cr_assert_eq(hb(t, "a@x", 1), 1);
        cr_assert_eq(hb(t, "b@x", 2), 1);
        cr_assert_eq(hb(t, "c@x", 3), -ENOSPC);
        cr_assert_eq(restore(t, "c@x", 3), -ENOSPC);
        cr_assert_eq(hb(t, "a@x", 4), 0, "refreshes still work when full");
        cr_assert_eq(table_size(t), 2);
        cr_assert_eq(table_max(t), 2);
        table_free(t);
}

Test(table, restore_places_by_time_and_keeps_the_later) {
        Table *t = new_table(10, 60 * S);
        cr_assert_eq(restore(t, "m@x", 5), 1);
        cr_assert_eq(restore(t, "z@x", 1), 1);
        cr_assert_eq(restore(t, "a@x", 9), 1);
        cr_assert_eq(restore(t, "k@x", 3), 1);
        assert_age_order(t, (const char *[]) { "z@x", "k@x", "m@x", "a@x" }, 4);
        cr_assert_eq(restore(t, "z@x", 7), 0);
        assert_age_order(t, (const char *[]) { "k@x", "m@x", "z@x", "a@x" }, 4);
        cr_assert_eq(restore(t, "a@x", 2), 0, "an older duplicate changes nothing");
        cr_assert_eq(table_find(t, "a@x")->last, 9);
        /* A heartbeat moves the entry to the newest end. */
        cr_assert_eq(hb(t, "k@x", 10), 0);
        assert_age_order(t, (const char *[]) { "m@x", "z@x", "a@x", "k@x" }, 4);
        table_free(t);
}

Test(table, joined_is_sorted_and_cut_at_whole_addresses) {
        Table *t = new_table(100, 60 * S);
        const char *addrs[] = { "tcp@127.0.0.1:7003", "tcp@127.0.0.1:7001", "tcp6@[::1]:1", "unix@/a" };
        for (size_t i = 0; i < ELEMENTSOF(addrs); i++)
                cr_assert_eq(hb(t, addrs[i], i), 1);
        bool truncated;
        const char *s = joined(t, 0, &truncated);
        cr_assert_str_eq(s, "tcp6@[::1]:1,tcp@127.0.0.1:7001,tcp@127.0.0.1:7003,unix@/a");
        cr_assert_not(truncated);

        /* 12 + 1 + 18 = 31 bytes fit in 40; the third would not. */
        cr_assert_str_eq(joined(t, 40, &truncated), "tcp6@[::1]:1,tcp@127.0.0.1:7001");
        cr_assert(truncated);
        cr_assert_str_eq(joined(t, 31, &truncated), "tcp6@[::1]:1,tcp@127.0.0.1:7001");
        cr_assert(truncated);
        cr_assert_str_eq(joined(t, 5, &truncated), "");
        cr_assert(truncated);

        cr_assert_eq(hb(t, "tcp@127.0.0.1:7002", 101), 1);
        cr_assert_str_eq(joined(t, 0, &truncated),
                         "tcp6@[::1]:1,tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003,unix@/a");
        table_free(t);
}

static int count_sorted(const TableEntry *e, void *userdata) {
        char **prev = userdata;
        if (*prev)
                cr_assert_lt(strcmp(*prev, e->addr), 0);
        *prev = (char *) e->addr;
        return 0;
}

Test(table, many_entries) {
        Table *t = new_table(20000, 60 * S);
        char addr[64];
        for (unsigned i = 0; i < 20000; i++) {
                snprintf(addr, sizeof addr, "tcp@10.%u.%u.%u:%u", (i * 7919) % 256, i % 256, (i / 256) % 256,
                         1 + i % 60000);
                cr_assert_geq(hb(t, addr, i), 0);
        }
        char *prev = NULL;
        cr_assert_eq(table_foreach_sorted(t, count_sorted, &prev), 0);
        /* Expire the older half (heartbeat times 0..n/2). */
        size_t n = table_size(t);
        cr_assert_eq(n, 20000);
        cr_assert_eq(table_expire(t, 60 * S + n / 2, NULL, NULL), n / 2 + 1);
        cr_assert_eq(table_size(t), n - n / 2 - 1);
        table_free(t);
}

static ServerMeta meta_of(const char *services, unsigned weight, const char *labels) {
        ServerMeta m = { .weight = weight };
        const char *why;
        if (services)
                cr_assert_eq(server_meta_parse_services(services, &m.services, &why), 0);
        if (labels)
                cr_assert_eq(server_meta_parse_labels(labels, &m.labels, &why), 0);
        return m;
}

Test(table, metadata_updates_and_listing_by_service) {
        Table *t = new_table(10, 60 * S);
        ServerMeta foo = meta_of("Foo", 1, NULL), echo = meta_of("Echo", 2, "zone=a"), drained = meta_of("Foo", 0, NULL);
        cr_assert_eq(table_heartbeat(t, "tcp@h:1", &foo, 1), TABLE_ADDED);
        cr_assert_eq(table_heartbeat(t, "tcp@h:2", &echo, 1), TABLE_ADDED);
        cr_assert_eq(table_heartbeat(t, "tcp@h:3", &plain, 1), TABLE_ADDED); /* services unknown */
        uint64_t gen = table_generation(t);
        cr_assert_eq(table_heartbeat(t, "tcp@h:2", &echo, 2), TABLE_REFRESHED);
        cr_assert_eq(table_generation(t), gen);

        cr_assert_str_eq(joined_for(t, "Echo", 0, NULL), "tcp@h:2,tcp@h:3");
        cr_assert_str_eq(joined_for(t, "Foo", 0, NULL), "tcp@h:1,tcp@h:3");
        cr_assert_str_eq(joined_for(t, "Bar", 0, NULL), "tcp@h:3");
        cr_assert_str_eq(joined(t, 0, NULL), "tcp@h:1,tcp@h:2,tcp@h:3");

        /* New metadata: an update; a draining server leaves the listing. */
        cr_assert_eq(table_heartbeat(t, "tcp@h:1", &drained, 3), TABLE_UPDATED);
        cr_assert_gt(table_generation(t), gen);
        cr_assert_eq(table_find(t, "tcp@h:1")->meta.weight, 0);
        cr_assert_str_eq(joined_for(t, "Foo", 0, NULL), "tcp@h:3");
        cr_assert_str_eq(table_find(t, "tcp@h:2")->meta.labels[0], "zone=a");

        TableServiceCount *counts;
        size_t n;
        cr_assert_eq(table_count_services(t, &counts, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(counts[0].name, "Echo");
        cr_assert_eq(counts[0].servers, 2, "Echo's server and the one with unknown services");
        cr_assert_str_eq(counts[1].name, "Foo");
        cr_assert_eq(counts[1].servers, 2);
        free(counts);
        server_meta_done(&foo);
        server_meta_done(&echo);
        server_meta_done(&drained);
        table_free(t);
}

/* The operator's weight outlives the server's heartbeats, its removal and
 * its return, until cleared; the server's own weight is kept apart. */
Test(table, overrides_outlive_heartbeats_and_removal) {
        Table *t = new_table(2, 60 * S);
        ServerMeta three = meta_of("Foo", 3, NULL);
        cr_assert_eq(table_heartbeat(t, "tcp@h:1", &three, 1), TABLE_ADDED);
        uint64_t gen = table_generation(t);
        cr_assert_eq(table_set_override(t, "tcp@h:1", 0), 1);
        cr_assert_gt(table_generation(t), gen);
        cr_assert_eq(table_set_override(t, "tcp@h:1", 0), 0, "already so");
        const TableEntry *e = table_find(t, "tcp@h:1");
        cr_assert_eq(table_entry_weight(e), 0);
        cr_assert_eq(e->meta.weight, 3);
        cr_assert_str_eq(joined(t, 0, NULL), "");

        cr_assert_eq(table_heartbeat(t, "tcp@h:1", &three, 2), TABLE_REFRESHED);
        cr_assert_eq(table_entry_weight(table_find(t, "tcp@h:1")), 0, "a heartbeat does not undo it");
        cr_assert(table_remove(t, "tcp@h:1"));
        cr_assert_eq(table_get_override(t, "tcp@h:1"), 0);
        cr_assert_eq(table_heartbeat(t, "tcp@h:1", &three, 3), TABLE_ADDED);
        cr_assert_eq(table_entry_weight(table_find(t, "tcp@h:1")), 0, "nor does coming back");

        /* For an address not registered, and within the limit. */
        cr_assert_eq(table_set_override(t, "tcp@h:9", 7), 1);
        cr_assert_eq(table_set_override(t, "tcp@h:8", 7), -ENOSPC);
        cr_assert_eq(table_n_overrides(t), 2);
        cr_assert_eq(table_heartbeat(t, "tcp@h:9", &plain, 4), TABLE_ADDED);
        cr_assert_eq(table_entry_weight(table_find(t, "tcp@h:9")), 7);

        cr_assert(table_clear_override(t, "tcp@h:1"));
        cr_assert_not(table_clear_override(t, "tcp@h:1"));
        cr_assert_eq(table_get_override(t, "tcp@h:1"), -ENOENT);
        cr_assert_eq(table_entry_weight(table_find(t, "tcp@h:1")), 3);
        cr_assert_str_eq(joined(t, 0, NULL), "tcp@h:1,tcp@h:9");
        server_meta_done(&three);
        table_free(t);
}
