/* SPDX-License-Identifier: MIT */

/* Server sets and the select modes: random, round-robin, consistent
 * hashing (stable keys, minimal movement), and failover's avoid list. */

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

#include "cluster/select.h"
#include "geerpc/server.h"

/* A skip callback over a list of addresses. */
typedef struct Avoid {
        const char *const *v;
        size_t n;
} Avoid;

static bool avoided(const char *addr, void *userdata) {
        const Avoid *a = userdata;
        for (size_t i = 0; i < a->n; i++)
                if (streq(a->v[i], addr))
                        return true;
        return false;
}

static int pick(ServerSet *s, geerpc_select_mode mode, const char *key, const char *const *avoid, size_t n) {
        Avoid a = { avoid, n };
        return select_pick(s, mode, key, n > 0 ? avoided : NULL, &a);
}

static ServerSet *set_of(size_t n) {
        char **v = calloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                cr_assert_geq(asprintf(&v[i], "tcp@10.0.%zu.%zu:7001", i / 256, i % 256), 0);
        ServerSet *s;
        cr_assert_eq(server_set_new((const char *const *) v, n, &s), 0);
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return s;
}

Test(select, set_sorted_without_duplicates) {
        const char *v[] = { "tcp@b:2", "tcp@a:1", "tcp@c:3", "tcp@a:1", "tcp@b:2" };
        ServerSet *s;
        cr_assert_eq(server_set_new(v, 5, &s), 0);
        cr_assert_eq(s->n, 3);
        cr_assert_str_eq(s->addrs[0], "tcp@a:1");
        cr_assert_str_eq(s->addrs[1], "tcp@b:2");
        cr_assert_str_eq(s->addrs[2], "tcp@c:3");
        ServerSet *t;
        const char *w[] = { "tcp@c:3", "tcp@b:2", "tcp@a:1" };
        cr_assert_eq(server_set_new(w, 3, &t), 0);
        cr_assert(server_set_equal(s, t));
        server_set_unref(t);
        cr_assert_eq(server_set_new(w, 2, &t), 0);
        cr_assert_not(server_set_equal(s, t));
        server_set_unref(t);
        server_set_unref(s);
}

Test(select, empty_set_and_bad_arguments) {
        ServerSet *s;
        cr_assert_eq(server_set_new(NULL, 0, &s), 0);
        cr_assert_eq(s->n, 0);
        cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, 0), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, "k", NULL, 0), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, NULL, NULL, 0), -EINVAL);
        cr_assert_eq(pick(s, (geerpc_select_mode) 7, NULL, NULL, 0), -EINVAL);
        server_set_unref(s);
        const char *bad[] = { "tcp@a:1", NULL };
        cr_assert_eq(server_set_new(bad, 2, &s), -EINVAL);
}

Test(select, round_robin_in_turn) {
        ServerSet *s = set_of(3);
        atomic_store(&s->rr, 1000);
        for (int i = 0; i < 30; i++)
                cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0), (1000 + i) % 3);
        server_set_unref(s);
}

Test(select, random_covers_all) {
        ServerSet *s = set_of(3);
        int seen[3] = {};
        for (int i = 0; i < 300; i++) {
                int k = pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, 0);
                cr_assert(k >= 0 && k < 3);
                seen[k]++;
        }
        /* Each has an expected 100; under 40 happens with p < 1e-12. */
        for (int i = 0; i < 3; i++)
                cr_assert_gt(seen[i], 40, "server %d picked %d times of 300", i, seen[i]);
        server_set_unref(s);
}

Test(select, hash_same_key_same_server) {
        ServerSet *s = set_of(5);
        for (int k = 0; k < 100; k++) {
                char key[32];
                snprintf(key, sizeof key, "user-%d", k);
                int first = pick(s, GEERPC_SELECT_HASH, key, NULL, 0);
                cr_assert_geq(first, 0);
                for (int i = 0; i < 10; i++)
                        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, key, NULL, 0), first);
        }
        /* A new set with the same servers maps keys the same way. */
        ServerSet *t = set_of(5);
        cr_assert_eq(pick(t, GEERPC_SELECT_HASH, "user-7", NULL, 0),
                     pick(s, GEERPC_SELECT_HASH, "user-7", NULL, 0));
        server_set_unref(t);
        server_set_unref(s);
}

Test(select, hash_spreads_keys) {
        ServerSet *s = set_of(4);
        int count[4] = {};
        for (int k = 0; k < 10000; k++) {
                char key[32];
                snprintf(key, sizeof key, "key-%d", k);
                count[pick(s, GEERPC_SELECT_HASH, key, NULL, 0)]++;
        }
        /* 160 points per server keep each share near 25%. */
        for (int i = 0; i < 4; i++)
                cr_assert(count[i] > 1500 && count[i] < 3500, "server %d got %d of 10000 keys", i, count[i]);
        server_set_unref(s);
}

/* Removing one server moves only that server's keys; adding one moves
 * keys only to the new server. */
Test(select, hash_moves_keys_minimally) {
        ServerSet *all = set_of(6);
        const char *five[5];
        for (int i = 0; i < 5; i++)
                five[i] = all->addrs[i == 2 ? 5 : i]; /* without addrs[2] */
        ServerSet *less;
        cr_assert_eq(server_set_new(five, 5, &less), 0);

        int moved = 0;
        for (int k = 0; k < 5000; k++) {
                char key[32];
                snprintf(key, sizeof key, "session-%d", k);
                const char *before = all->addrs[pick(all, GEERPC_SELECT_HASH, key, NULL, 0)];
                const char *after = less->addrs[pick(less, GEERPC_SELECT_HASH, key, NULL, 0)];
                if (streq(before, all->addrs[2]))
                        moved++;
                else
                        cr_assert_str_eq(before, after, "key %s moved although its server stayed", key);
        }
        cr_assert_gt(moved, 0);
        server_set_unref(less);
        server_set_unref(all);
}

Test(select, avoid_list_for_failover) {
        ServerSet *s = set_of(3);
        const char *avoid[] = { s->addrs[0], s->addrs[1] };
        for (int i = 0; i < 20; i++) {
                cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, avoid, 2), 2);
                cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, avoid, 2), 2);
        }
        const char *every[] = { s->addrs[0], s->addrs[1], s->addrs[2] };
        cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, every, 3), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, every, 3), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, "k", every, 3), -ENXIO);

        /* Hashing falls back to the same next server each time. */
        int home = pick(s, GEERPC_SELECT_HASH, "k", NULL, 0);
        const char *not_home[] = { s->addrs[home] };
        int next = pick(s, GEERPC_SELECT_HASH, "k", not_home, 1);
        cr_assert(next >= 0 && next != home);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(pick(s, GEERPC_SELECT_HASH, "k", not_home, 1), next);
        server_set_unref(s);
}

typedef struct Picker {
        ServerSet *s;
        int result;
} Picker;

static void *pick_x(void *userdata) {
        Picker *p = userdata;
        p->result = pick(p->s, GEERPC_SELECT_HASH, "x", NULL, 0);
        return NULL;
}

Test(select, hash_ring_built_once_shared_by_threads) {
        /* The first hash picks race to build the ring; one wins and all
         * agree. A big set exercises the ring's size. */
        ServerSet *s = set_of(2000);
        pthread_t t[4];
        Picker p[4];
        for (int i = 0; i < 4; i++) {
                p[i] = (Picker) { s, -1 };
                pthread_create(&t[i], NULL, pick_x, &p[i]);
        }
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        cr_assert_geq(p[0].result, 0);
        for (int i = 1; i < 4; i++)
                cr_assert_eq(p[i].result, p[0].result);
        cr_assert_not_null(atomic_load(&s->ring));
        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, "x", NULL, 0), p[0].result);
        server_set_unref(s);
}

/* ---- weights ------------------------------------------------------------------ */

/* n servers tcp@10.1.0.I:7001 with the given weights. */
static ServerSet *weighted(size_t n, const unsigned *w) {
        ServerEntry e[16];
        char addrs[16][32];
        cr_assert_leq(n, 16);
        for (size_t i = 0; i < n; i++) {
                snprintf(addrs[i], sizeof addrs[i], "tcp@10.1.0.%zu:7001", i);
                e[i] = (ServerEntry) { .addr = addrs[i], .meta = { .weight = w[i] }, .server_weight = -1 };
        }
        ServerSet *s;
        cr_assert_eq(server_set_new_entries(e, n, &s), 0);
        return s;
}

Test(select, weight_zero_is_never_chosen) {
        ServerSet *s = weighted(3, (const unsigned[]) { 0, 2, 0 });
        cr_assert_eq(s->n, 3);
        cr_assert_eq(s->n_active, 1);
        for (int i = 0; i < 50; i++) {
                char key[16];
                snprintf(key, sizeof key, "k%d", i);
                cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, 0), 1);
                cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0), 1);
                cr_assert_eq(pick(s, GEERPC_SELECT_HASH, key, NULL, 0), 1);
        }
        const char *one[] = { s->addrs[1] };
        cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, one, 1), -ENXIO);
        server_set_unref(s);

        s = weighted(2, (const unsigned[]) { 0, 0 });
        cr_assert_eq(pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, 0), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0), -ENXIO);
        cr_assert_eq(pick(s, GEERPC_SELECT_HASH, "k", NULL, 0), -ENXIO);
        server_set_unref(s);
}

/* Smooth weighted round-robin: 3:1 interleaves (a a b a), 5:1:1 spreads
 * the light ones out, and every cycle gives each server its weight. */
Test(select, weighted_round_robin_is_smooth) {
        ServerSet *s = weighted(2, (const unsigned[]) { 3, 1 });
        int seq[8];
        for (int i = 0; i < 8; i++)
                seq[i] = pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0);
        const int want[8] = { 0, 0, 1, 0, 0, 0, 1, 0 };
        for (int i = 0; i < 8; i++)
                cr_assert_eq(seq[i], want[i], "pick %d: %d", i, seq[i]);
        server_set_unref(s);

        s = weighted(3, (const unsigned[]) { 5, 1, 1 });
        int counts[3] = {}, last_b = -10;
        for (int i = 0; i < 700; i++) {
                int k = pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, NULL, 0);
                counts[k]++;
                if (k == 1) {
                        cr_assert_gt(i - last_b, 3, "the light server twice within 3 picks");
                        last_b = i;
                }
        }
        cr_assert_eq(counts[0], 500);
        cr_assert_eq(counts[1], 100);
        cr_assert_eq(counts[2], 100);
        server_set_unref(s);
}

Test(select, weighted_random_follows_weights) {
        ServerSet *s = weighted(3, (const unsigned[]) { 1, 3, 6 });
        int counts[3] = {};
        for (int i = 0; i < 20000; i++)
                counts[pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, 0)]++;
        /* Expected 2000, 6000, 12000; sd < 70: 5 sd of room. */
        cr_assert(counts[0] > 1650 && counts[0] < 2350, "%d", counts[0]);
        cr_assert(counts[1] > 5650 && counts[1] < 6350, "%d", counts[1]);
        cr_assert(counts[2] > 11650 && counts[2] < 12350, "%d", counts[2]);
        /* With the heaviest skipped, the others keep their 1:3. */
        const char *heavy[] = { s->addrs[2] };
        int rest[3] = {};
        for (int i = 0; i < 8000; i++)
                rest[pick(s, GEERPC_SELECT_RANDOM, NULL, heavy, 1)]++;
        cr_assert_eq(rest[2], 0);
        cr_assert(rest[0] > 1750 && rest[0] < 2250, "%d", rest[0]);
        server_set_unref(s);
}

/* Ring points follow weight; keys spread in proportion; a weight change
 * moves keys only to or from that server. */
Test(select, hash_points_follow_weight) {
        ServerSet *s = weighted(2, (const unsigned[]) { 1, 3 });
        cr_assert_eq(select_ring_points(s, 1), SELECT_HASH_VNODES);
        cr_assert_eq(select_ring_points(s, 3), 3 * SELECT_HASH_VNODES);
        int counts[2] = {};
        for (int k = 0; k < 8000; k++) {
                char key[32];
                snprintf(key, sizeof key, "user-%d", k);
                counts[pick(s, GEERPC_SELECT_HASH, key, NULL, 0)]++;
        }
        cr_assert(counts[1] > 5400 && counts[1] < 6600, "heavier server got %d of 8000 keys", counts[1]);

        ServerSet *t = weighted(2, (const unsigned[]) { 1, 5 });
        for (int k = 0; k < 4000; k++) {
                char key[32];
                snprintf(key, sizeof key, "user-%d", k);
                int before = pick(s, GEERPC_SELECT_HASH, key, NULL, 0), after = pick(t, GEERPC_SELECT_HASH, key, NULL, 0);
                /* Server 1 only gained points: nothing leaves it. */
                if (before == 1)
                        cr_assert_eq(after, 1, "key %s left the server that gained weight", key);
        }
        server_set_unref(t);
        server_set_unref(s);

        /* Past the ring's limit every count is scaled down alike. */
        ServerSet *big = set_of(70000);
        size_t p1 = select_ring_points(big, 1);
        cr_assert_lt(p1, SELECT_HASH_VNODES);
        cr_assert_gt(p1, 0);
        server_set_unref(big);
}

Test(select, filter_by_service) {
        char *foo[] = { "Foo", NULL }, *echo[] = { "Echo", NULL };
        ServerEntry e[] = {
                { .addr = "tcp@10.0.0.1:1", .meta = { .services = foo, .weight = 1 }, .server_weight = -1 },
                { .addr = "tcp@10.0.0.2:1", .meta = { .services = echo, .weight = 1 }, .server_weight = -1 },
                { .addr = "tcp@10.0.0.3:1", .meta = { .weight = 1 }, .server_weight = -1 }, /* unknown: all */
        };
        ServerSet *s, *f;
        cr_assert_eq(server_set_new_entries(e, 3, &s), 0);
        cr_assert_eq(server_set_filter(s, "Echo", &f), 0);
        cr_assert_eq(f->n, 2);
        cr_assert_str_eq(f->addrs[0], "tcp@10.0.0.2:1");
        cr_assert_str_eq(f->addrs[1], "tcp@10.0.0.3:1");
        cr_assert_str_eq(f->entries[0].meta.services[0], "Echo");
        server_set_unref(f);
        cr_assert_eq(server_set_filter(s, "Bar", &f), 0);
        cr_assert_eq(f->n, 1);
        server_set_unref(f);
        /* The built-in service: every server has it, none announces it. */
        cr_assert_eq(server_set_filter(s, GEERPC_BUILTIN_SERVICE, &f), 0);
        cr_assert_eq(f, s);
        server_set_unref(f);
        cr_assert_eq(server_set_filter(s, NULL, &f), 0);
        cr_assert_eq(f, s, "no filter: the same set");
        server_set_unref(f);
        server_set_unref(s);
}
