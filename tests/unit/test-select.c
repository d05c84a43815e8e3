/* SPDX-License-Identifier: MIT */

/* Server sets and the select modes: random, round-robin, consistent
 * hashing (stable keys, minimal movement), and failover's avoid list. */

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

#include "cluster/select.h"

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
        atomic_uint_fast64_t rr = 0;
        cr_assert_eq(server_set_new(NULL, 0, &s), 0);
        cr_assert_eq(s->n, 0);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_RANDOM, NULL, &rr, NULL, 0), -ENXIO);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, &rr, NULL, 0), -ENXIO);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, "k", &rr, NULL, 0), -ENXIO);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, NULL, &rr, NULL, 0), -EINVAL);
        cr_assert_eq(select_pick(s, (geerpc_select_mode) 7, NULL, &rr, NULL, 0), -EINVAL);
        server_set_unref(s);
        const char *bad[] = { "tcp@a:1", NULL };
        cr_assert_eq(server_set_new(bad, 2, &s), -EINVAL);
}

Test(select, round_robin_in_turn) {
        ServerSet *s = set_of(3);
        atomic_uint_fast64_t rr = 1000;
        for (int i = 0; i < 30; i++)
                cr_assert_eq(select_pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, &rr, NULL, 0), (1000 + i) % 3);
        server_set_unref(s);
}

Test(select, random_covers_all) {
        ServerSet *s = set_of(3);
        int seen[3] = {};
        for (int i = 0; i < 300; i++) {
                int k = select_pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, NULL, 0);
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
                int first = select_pick(s, GEERPC_SELECT_HASH, key, NULL, NULL, 0);
                cr_assert_geq(first, 0);
                for (int i = 0; i < 10; i++)
                        cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, key, NULL, NULL, 0), first);
        }
        /* A new set with the same servers maps keys the same way. */
        ServerSet *t = set_of(5);
        cr_assert_eq(select_pick(t, GEERPC_SELECT_HASH, "user-7", NULL, NULL, 0),
                     select_pick(s, GEERPC_SELECT_HASH, "user-7", NULL, NULL, 0));
        server_set_unref(t);
        server_set_unref(s);
}

Test(select, hash_spreads_keys) {
        ServerSet *s = set_of(4);
        int count[4] = {};
        for (int k = 0; k < 10000; k++) {
                char key[32];
                snprintf(key, sizeof key, "key-%d", k);
                count[select_pick(s, GEERPC_SELECT_HASH, key, NULL, NULL, 0)]++;
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
                const char *before = all->addrs[select_pick(all, GEERPC_SELECT_HASH, key, NULL, NULL, 0)];
                const char *after = less->addrs[select_pick(less, GEERPC_SELECT_HASH, key, NULL, NULL, 0)];
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
        atomic_uint_fast64_t rr = 0;
        const char *avoid[] = { s->addrs[0], s->addrs[1] };
        for (int i = 0; i < 20; i++) {
                cr_assert_eq(select_pick(s, GEERPC_SELECT_RANDOM, NULL, &rr, avoid, 2), 2);
                cr_assert_eq(select_pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, &rr, avoid, 2), 2);
        }
        const char *every[] = { s->addrs[0], s->addrs[1], s->addrs[2] };
        cr_assert_eq(select_pick(s, GEERPC_SELECT_RANDOM, NULL, &rr, every, 3), -ENXIO);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_ROUND_ROBIN, NULL, &rr, every, 3), -ENXIO);
        cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, "k", &rr, every, 3), -ENXIO);

        /* Hashing falls back to the same next server each time. */
        int home = select_pick(s, GEERPC_SELECT_HASH, "k", NULL, NULL, 0);
        const char *not_home[] = { s->addrs[home] };
        int next = select_pick(s, GEERPC_SELECT_HASH, "k", NULL, not_home, 1);
        cr_assert(next >= 0 && next != home);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, "k", NULL, not_home, 1), next);
        server_set_unref(s);
}

typedef struct Picker {
        ServerSet *s;
        int result;
} Picker;

static void *pick_x(void *userdata) {
        Picker *p = userdata;
        p->result = select_pick(p->s, GEERPC_SELECT_HASH, "x", NULL, NULL, 0);
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
        cr_assert_eq(select_pick(s, GEERPC_SELECT_HASH, "x", NULL, NULL, 0), p[0].result);
        server_set_unref(s);
}
