/* SPDX-License-Identifier: MIT */

/* The load-balancing client end to end: a real geeregistry, geerpc-example
 * servers registered by heartbeat, and xclients over registry discovery in
 * this process. Also in-process servers, where the connections can be
 * counted. */

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "cluster.h"
#include "foo.h"
#include "geerpc/server.h"
#include "geerpc/xclient.h"
#include "testlib.h"

static geerpc_xclient *xclient(TlCluster *c, geerpc_select_mode mode, usec_t ttl) {
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_registry(&d, c->url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, ttl), 0);
        cr_assert_eq(geerpc_discovery_set_refresh_timeout(d, 2 * USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, mode), 0);
        geerpc_discovery_unref(d); /* the xclient holds it */
        return x;
}

static json_t *sum_args(long long a, long long b) {
        return json_pack("{s:I,s:I}", "Num1", (json_int_t) a, "Num2", (json_int_t) b);
}

/* Foo.Sum through x; returns the outcome, checks the value on success and
 * hands back the server that answered. */
static int sum_via(geerpc_xclient *x, const char *key, long long a, long long b, usec_t timeout, char **ret_server) {
        json_t *args = sum_args(a, b), *reply = NULL;
        char *server = NULL;
        int r = geerpc_xclient_call_full(x, key, "Foo.Sum", args, timeout, &reply, NULL, &server);
        json_decref(args);
        if (r == 0) {
                cr_assert_eq(json_integer_value(reply), a + b);
                json_decref(reply);
        }
        if (ret_server)
                *ret_server = server;
        else
                free(server);
        return r;
}

static size_t index_of(TlCluster *c, const char *addr) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->addrs[i], addr))
                        return i;
        cr_assert_fail("call answered by %s, not one of ours", addr);
        return SIZE_MAX;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

Test(xclient, round_robin_visits_each_in_turn) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN, 10 * USEC_PER_SEC);
        char *sorted[3] = { c->addrs[0], c->addrs[1], c->addrs[2] };
        qsort(sorted, 3, sizeof(char *), cmp_str);

        char *first;
        cr_assert_eq(sum_via(x, NULL, 1, 2, 5 * USEC_PER_SEC, &first), 0);
        size_t start = 0;
        while (!streq(sorted[start], first))
                start++;
        for (size_t i = 1; i < 12; i++) {
                char *s;
                cr_assert_eq(sum_via(x, NULL, (long long) i, 2, 5 * USEC_PER_SEC, &s), 0);
                cr_assert_str_eq(s, sorted[(start + i) % 3], "call %zu", i);
                free(s);
        }
        free(first);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

Test(xclient, random_covers_all_three) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 10 * USEC_PER_SEC);
        int seen[3] = {};
        for (int i = 0; i < 300; i++) {
                char *s;
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, &s), 0);
                seen[index_of(c, s)]++;
                free(s);
        }
        for (int i = 0; i < 3; i++)
                cr_assert_gt(seen[i], 0, "server %d never called in 300 random calls", i);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

Test(xclient, hash_sends_one_key_to_one_server) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_HASH, 10 * USEC_PER_SEC);
        cr_assert_eq(geerpc_xclient_call(x, "Foo.Sum", NULL, USEC_PER_SEC, NULL, NULL), -EINVAL, "hash mode needs a key");

        char *home;
        cr_assert_eq(sum_via(x, "user-42", 1, 1, 5 * USEC_PER_SEC, &home), 0);
        for (int i = 0; i < 50; i++) {
                char *s;
                cr_assert_eq(sum_via(x, "user-42", i, 1, 5 * USEC_PER_SEC, &s), 0);
                cr_assert_str_eq(s, home);
                free(s);
        }
        /* Other keys spread over the servers. */
        bool seen[3] = {};
        for (int k = 0; k < 60; k++) {
                char key[32], *s;
                snprintf(key, sizeof key, "user-%d", k);
                cr_assert_eq(sum_via(x, key, k, 1, 5 * USEC_PER_SEC, &s), 0);
                seen[index_of(c, s)] = true;
                free(s);
        }
        cr_assert(seen[0] + seen[1] + seen[2] >= 2, "60 keys all went to one server");
        free(home);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* Registry GETs between two scrapes of /metrics, minus what scraping itself
 * costs (measured, since the registry may count /metrics as a GET). */
typedef struct GetCounter {
        TlCluster *c;
        long overhead;
        long last;
} GetCounter;

static void counter_init(GetCounter *g, TlCluster *c) {
        g->c = c;
        long a = tl_cluster_registry_gets(c), b = tl_cluster_registry_gets(c);
        cr_assert_geq(a, 0, "no geeregistry_http_requests_total in /metrics");
        g->overhead = b - a;
        g->last = b;
}

static long counter_delta(GetCounter *g) {
        long now = tl_cluster_registry_gets(g->c);
        long d = now - g->last - g->overhead;
        g->last = now;
        return d;
}

Test(xclient, cache_asks_the_registry_once_per_ttl) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 3 * USEC_PER_SEC);
        GetCounter g;
        counter_init(&g, c);

        cr_assert_eq(sum_via(x, NULL, 1, 2, 5 * USEC_PER_SEC, NULL), 0);
        cr_assert_eq(counter_delta(&g), 1, "the first call fetches the list once");
        for (int i = 0; i < 20; i++)
                cr_assert_eq(sum_via(x, NULL, i, 2, 5 * USEC_PER_SEC, NULL), 0);
        cr_assert_eq(counter_delta(&g), 0, "calls within the TTL asked the registry");

        tl_sleep(3500 * USEC_PER_MSEC);
        cr_assert_eq(sum_via(x, NULL, 1, 2, 5 * USEC_PER_SEC, NULL), 0);
        cr_assert_eq(counter_delta(&g), 1, "after the TTL: exactly one request");
        for (int i = 0; i < 10; i++)
                cr_assert_eq(sum_via(x, NULL, i, 2, 5 * USEC_PER_SEC, NULL), 0);
        cr_assert_eq(counter_delta(&g), 0);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

static bool discovery_lists(geerpc_xclient *x, TlCluster *c, const char *addr) {
        /* Through calls: any answer from addr proves the xclient knows it. */
        for (int i = 0; i < 30; i++) {
                char *s = NULL;
                int r = sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, &s);
                cr_assert_eq(r, 0, "call failed: %s", strerror(-r));
                bool hit = streq(s, addr);
                free(s);
                if (hit)
                        return true;
        }
        return false;
}

Test(xclient, registry_down_calls_continue_from_cache) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN, 500 * USEC_PER_MSEC);
        cr_assert_eq(sum_via(x, NULL, 1, 2, 5 * USEC_PER_SEC, NULL), 0);

        tl_cluster_stop_registry(c);
        /* Past several TTLs: every refresh fails, the cached list serves. */
        for (int i = 0; i < 20; i++) {
                cr_assert_eq(sum_via(x, NULL, i, 2, 5 * USEC_PER_SEC, NULL), 0, "call %d failed while the registry was down", i);
                tl_sleep(100 * USEC_PER_MSEC);
        }
        /* A server starts while the registry is down ... */
        size_t k = tl_cluster_add_server(c);
        tl_sleep(USEC_PER_SEC);
        cr_assert_not(discovery_lists(x, c, c->addrs[k]), "a server nobody could register was called");

        /* ... and is called once the registry is back and it registered. */
        tl_cluster_start_registry(c);
        cr_assert(tl_cluster_wait_listed(c, c->addrs[k], true, 15 * USEC_PER_SEC), "the new server never registered");
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        bool found = false;
        while (!found && now_usec(CLOCK_MONOTONIC) < deadline) {
                found = discovery_lists(x, c, c->addrs[k]);
                tl_sleep(200 * USEC_PER_MSEC);
        }
        cr_assert(found, "the server added while the registry was down was never called");
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

Test(xclient, server_killed_with_failover_calls_succeed) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN, 10 * USEC_PER_SEC);
        cr_assert_eq(geerpc_xclient_set_failover(x, GEERPC_XCLIENT_FAILOVER_MAX + 1), -EINVAL);
        cr_assert_eq(geerpc_xclient_set_failover(x, 2), 0);
        for (int i = 0; i < 6; i++) /* connect to all three */
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, NULL), 0);

        /* SIGKILL: no deregistration, the registry keeps listing it. */
        tl_kill(c->servers[1], SIGKILL);
        cr_assert_neq(tl_wait_exit(c->servers[1], 5 * USEC_PER_SEC), -ETIMEDOUT);
        for (int i = 0; i < 30; i++) {
                char *s;
                int r = sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, &s);
                cr_assert_eq(r, 0, "call %d failed: %s", i, strerror(-r));
                cr_assert_str_neq(s, c->addrs[1]);
                free(s);
        }
        /* Hashing fails over too, to the key's next server. */
        geerpc_xclient *h = xclient(c, GEERPC_SELECT_HASH, 10 * USEC_PER_SEC);
        cr_assert_eq(geerpc_xclient_set_failover(h, 1), 0);
        for (int k = 0; k < 20; k++) {
                char key[16];
                snprintf(key, sizeof key, "k%d", k);
                cr_assert_eq(sum_via(h, key, k, 1, 5 * USEC_PER_SEC, NULL), 0);
        }
        geerpc_xclient_unref(h);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* A killed server's calls go elsewhere at once, without failover: the dial
 * that fails never sent the request, so another server is safe. */
Test(xclient, server_killed_its_calls_go_to_the_others) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN, 10 * USEC_PER_SEC);
        for (int i = 0; i < 6; i++)
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, NULL), 0);
        tl_kill(c->servers[2], SIGKILL);
        cr_assert_neq(tl_wait_exit(c->servers[2], 5 * USEC_PER_SEC), -ETIMEDOUT);

        for (int i = 0; i < 9; i++) {
                char *s = NULL;
                usec_t t0 = now_usec(CLOCK_MONOTONIC);
                int r = sum_via(x, NULL, i, 1, 3 * USEC_PER_SEC, &s);
                usec_t took = now_usec(CLOCK_MONOTONIC) - t0;
                cr_assert_lt(took, 3 * USEC_PER_SEC, "call %d outlived its deadline", i);
                cr_assert_eq(r, 0, "call %d: %d (%s)", i, r, strerror(-r));
                cr_assert_str_neq(s, c->addrs[2], "call %d answered by the dead server", i);
                free(s);
        }
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* ---- a dead server in a long run of calls ---------------------------------- */

#define RUN_THREADS 16

typedef struct Run {
        geerpc_xclient *x;
        TlCluster *c;
        atomic_bool stop;
        atomic_long calls, failed;
        atomic_long on_victim;   /* calls answered by the server we kill */
        atomic_uint_fast64_t restarted_at; /* CLOCK_MONOTONIC; 0: not yet */
        atomic_uint_fast64_t back_at;      /* its first answer after that */
} Run;

static void *run_calls(void *userdata) {
        Run *r = userdata;
        for (long i = 0; !atomic_load(&r->stop); i++) {
                char *s = NULL;
                int k = sum_via(r->x, NULL, i, 1, 5 * USEC_PER_SEC, &s);
                atomic_fetch_add(&r->calls, 1);
                if (k < 0)
                        atomic_fetch_add(&r->failed, 1);
                else if (streq(s, r->c->addrs[1])) {
                        atomic_fetch_add(&r->on_victim, 1);
                        uint_fast64_t zero = 0, t = atomic_load(&r->restarted_at);
                        if (t != 0)
                                atomic_compare_exchange_strong(&r->back_at, &zero, now_usec(CLOCK_MONOTONIC));
                }
                free(s);
                /* Paced: tens of thousands of calls, not hundreds. */
                tl_sleep(2 * USEC_PER_MSEC);
        }
        return NULL;
}

static void wait_calls(Run *r, long n, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        while (atomic_load(&r->calls) < n && now_usec(CLOCK_MONOTONIC) < deadline)
                tl_sleep(10 * USEC_PER_MSEC);
}

/* kill -9 one of two servers in the middle of a run of calls with default
 * settings (random, no failover): only the calls in flight on its
 * connection fail (at most one per calling thread); the others never pick
 * it again until its backoff ends; restarted on its port, it is back
 * within one backoff. */
Test(xclient, killed_server_costs_only_the_calls_in_flight) {
        Run r = { .c = tl_cluster_new(2) };
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_registry(&d, r.c->url), 0);
        cr_assert_eq(geerpc_xclient_new(&r.x, d, GEERPC_SELECT_RANDOM), 0);
        geerpc_discovery_unref(d);
        pthread_t t[RUN_THREADS];
        for (size_t i = 0; i < RUN_THREADS; i++)
                cr_assert_eq(pthread_create(&t[i], NULL, run_calls, &r), 0);

        wait_calls(&r, 3000, 30 * USEC_PER_SEC);
        cr_assert_gt(atomic_load(&r.on_victim), 0);
        long before = atomic_load(&r.calls);
        tl_cluster_kill_server(r.c, 1);
        usec_t killed = now_usec(CLOCK_MONOTONIC);

        /* Dead for 2.5 s: backoffs of 1 s and 2 s (+-20%), then 4 s. */
        tl_sleep(2500 * USEC_PER_MSEC);
        long dead_calls = atomic_load(&r.calls) - before;
        tl_cluster_restart_server(r.c, 1);
        usec_t restarted = now_usec(CLOCK_MONOTONIC);
        atomic_store(&r.restarted_at, restarted);
        usec_t deadline = restarted + 20 * USEC_PER_SEC;
        while (atomic_load(&r.back_at) == 0 && now_usec(CLOCK_MONOTONIC) < deadline)
                tl_sleep(10 * USEC_PER_MSEC);
        atomic_store(&r.stop, true);
        for (size_t i = 0; i < RUN_THREADS; i++)
                pthread_join(t[i], NULL);

        usec_t back = atomic_load(&r.back_at);
        long failed = atomic_load(&r.failed), calls = atomic_load(&r.calls);
        fprintf(stderr,
                "killed one of two servers: %ld of %ld calls failed (%ld calls while it was dead for %.1fs); "
                "restarted, it answered again after %.2fs\n",
                failed, calls, dead_calls, (double) (restarted - killed) / USEC_PER_SEC,
                back ? (double) (back - restarted) / USEC_PER_SEC : -1.0);
        cr_assert_leq(failed, RUN_THREADS, "%ld calls failed", failed);
        cr_assert_gt(dead_calls, 1000, "the run went on while the server was dead");
        cr_assert_neq(back, 0, "the restarted server never answered again");
        /* The backoff in force at the restart is at most 4 s + 20%. */
        cr_assert_leq(back - restarted, 4800 * USEC_PER_MSEC + USEC_PER_SEC, "back after %.2fs",
                      (double) (back - restarted) / USEC_PER_SEC);
        geerpc_xclient_unref(r.x);
        tl_cluster_free(r.c);
}

Test(xclient, broadcast_sum_all_succeed) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 10 * USEC_PER_SEC);
        json_t *args = sum_args(20, 22), *reply = NULL;
        geerpc_broadcast_result *res = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL, &res), 0);
        cr_assert_eq(json_integer_value(reply), 42);
        cr_assert_eq(geerpc_broadcast_result_get_count(res), 3);
        cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 0);
        for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(geerpc_broadcast_result_get_status(res, i), 0);
                cr_assert_eq(json_integer_value(geerpc_broadcast_result_get_reply(res, i)), 42);
                index_of(c, geerpc_broadcast_result_get_server(res, i));
        }
        cr_assert_null(geerpc_broadcast_result_get_server(res, 3));
        cr_assert_eq(geerpc_broadcast_result_get_status(res, 3), -EINVAL);
        geerpc_broadcast_result_free(res);
        json_decref(reply);
        /* Without the result object. */
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 5 * USEC_PER_SEC, NULL, NULL, NULL), 0);
        json_decref(args);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

static int sleep_broadcast(geerpc_xclient *x, int seconds, usec_t timeout, geerpc_broadcast_result **ret) {
        json_t *args = json_pack("{s:i,s:i}", "Num1", seconds, "Num2", seconds * seconds), *reply = NULL;
        int r = geerpc_xclient_broadcast(x, "Foo.Sleep", args, timeout, &reply, NULL, ret);
        if (r == 0) {
                cr_assert_eq(json_integer_value(reply), seconds + seconds * seconds);
                json_decref(reply);
        }
        json_decref(args);
        return r;
}

Test(xclient, broadcast_sleep_under_a_deadline) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 10 * USEC_PER_SEC);
        geerpc_broadcast_result *res = NULL;

        cr_assert_eq(sleep_broadcast(x, 1, 2 * USEC_PER_SEC, &res), 0);
        geerpc_broadcast_result_free(res);

        /* Every server sleeps 8 s, past the 2 s deadline: an error, long
         * before the servers are done. */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(sleep_broadcast(x, 8, 2 * USEC_PER_SEC, &res), -ETIMEDOUT);
        usec_t took = now_usec(CLOCK_MONOTONIC) - t0;
        cr_assert_lt(took, 6 * USEC_PER_SEC, "the broadcast took %llu us", (unsigned long long) took);
        cr_assert_eq(geerpc_broadcast_result_get_count(res), 3);
        cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 3);
        for (size_t i = 0; i < 3; i++)
                cr_assert_eq(geerpc_broadcast_result_get_status(res, i), -ETIMEDOUT);
        geerpc_broadcast_result_free(res);

        /* The connections survived the cancelled calls. */
        cr_assert_eq(sleep_broadcast(x, 0, 2 * USEC_PER_SEC, NULL), 0);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

Test(xclient, broadcast_one_server_overruns) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 10 * USEC_PER_SEC);
        json_t *args = sum_args(1, 2), *reply = NULL;
        geerpc_broadcast_result *res = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 5 * USEC_PER_SEC, NULL, NULL, NULL), 0);

        /* A frozen server: it never answers. */
        tl_kill(c->servers[0], SIGSTOP);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 2 * USEC_PER_SEC, &reply, NULL, &res), -ETIMEDOUT);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 6 * USEC_PER_SEC);
        cr_assert_null(reply);
        cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 1);
        for (size_t i = 0; i < 3; i++) {
                const char *s = geerpc_broadcast_result_get_server(res, i);
                if (streq(s, c->addrs[0])) {
                        cr_assert_eq(geerpc_broadcast_result_get_status(res, i), -ETIMEDOUT);
                        cr_assert_null(geerpc_broadcast_result_get_reply(res, i));
                } else {
                        cr_assert_eq(geerpc_broadcast_result_get_status(res, i), 0);
                        cr_assert_eq(json_integer_value(geerpc_broadcast_result_get_reply(res, i)), 3);
                }
        }
        geerpc_broadcast_result_free(res);
        tl_kill(c->servers[0], SIGCONT);
        json_decref(args);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

Test(xclient, broadcast_remote_error_is_returned) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM, 10 * USEC_PER_SEC);
        char *error = NULL;
        geerpc_broadcast_result *res = NULL;
        json_t *args = sum_args(1, 2);
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Nope", args, 5 * USEC_PER_SEC, NULL, &error, &res), -EREMOTEIO);
        cr_assert_str_eq(error, "rpc server: can't find method Nope");
        cr_assert_geq(geerpc_broadcast_result_get_n_failed(res), 1);
        bool named = false;
        for (size_t i = 0; i < 3; i++)
                if (geerpc_broadcast_result_get_status(res, i) == -EREMOTEIO) {
                        cr_assert_str_eq(geerpc_broadcast_result_get_error(res, i), "rpc server: can't find method Nope");
                        named = true;
                } else
                        cr_assert_null(geerpc_broadcast_result_get_error(res, i));
        cr_assert(named);
        geerpc_broadcast_result_free(res);
        free(error);
        json_decref(args);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* ---- many threads through one xclient ------------------------------------- */

typedef struct Worker {
        geerpc_xclient *x;
        int id;
        atomic_int *ok;
} Worker;

static void *worker(void *userdata) {
        Worker *w = userdata;
        for (int i = 0; i < 100; i++) {
                json_t *args = sum_args(w->id, i), *reply = NULL;
                if (geerpc_xclient_call(w->x, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL) == 0 &&
                    json_integer_value(reply) == w->id + i)
                        atomic_fetch_add(w->ok, 1);
                json_decref(args);
                if (reply)
                        json_decref(reply);
                if (i % 25 == 0)
                        (void) geerpc_xclient_broadcast(w->x, "Foo.Sum", NULL, 10 * USEC_PER_SEC, NULL, NULL, NULL);
        }
        return NULL;
}

Test(xclient, many_threads_one_xclient) {
        TlCluster *c = tl_cluster_new(3);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN, 200 * USEC_PER_MSEC);
        atomic_int ok = 0;
        pthread_t t[8];
        Worker w[8];
        for (int i = 0; i < 8; i++) {
                w[i] = (Worker) { x, i * 1000, &ok };
                pthread_create(&t[i], NULL, worker, &w[i]);
        }
        for (int i = 0; i < 8; i++)
                pthread_join(t[i], NULL);
        cr_assert_eq(atomic_load(&ok), 800);
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* ---- in-process servers: connections can be counted --------------------- */

typedef struct Srv {
        geerpc_server *server;
        char *address;
        pthread_t thread;
} Srv;

static void *srv_thread(void *userdata) {
        Srv *s = userdata;
        (void) geerpc_server_run(s->server);
        return NULL;
}

static void srv_start(Srv *s, const char *listen) {
        *s = (Srv) {};
        cr_assert_eq(geerpc_server_new(&s->server), 0);
        tl_server_attach_private(s->server); /* run on a thread of its own */
        cr_assert_eq(foo_register(s->server), 0);
        cr_assert_eq(geerpc_server_listen(s->server, listen, &s->address), 0);
        cr_assert_eq(pthread_create(&s->thread, NULL, srv_thread, s), 0);
}

static void srv_stop(Srv *s) {
        cr_assert_eq(geerpc_server_stop(s->server, 0, NULL, NULL), 0);
        pthread_join(s->thread, NULL);
        geerpc_server_unref(s->server);
        free(s->address);
}

static unsigned wait_connections(Srv *s, unsigned want) {
        for (int i = 0; i < 100 && geerpc_server_get_n_connections(s->server) != want; i++)
                tl_sleep(20 * USEC_PER_MSEC);
        return geerpc_server_get_n_connections(s->server);
}

Test(xclient_local, one_connection_per_server_reused_and_redialled) {
        Srv a, b;
        srv_start(&a, "tcp@127.0.0.1:0");
        srv_start(&b, "tcp@127.0.0.1:0");
        const char *list[] = { a.address, b.address };
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_static(&d, list, 2), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_ROUND_ROBIN), 0);
        geerpc_discovery_unref(d);

        for (int i = 0; i < 40; i++)
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, NULL), 0);
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", NULL, 5 * USEC_PER_SEC, NULL, NULL, NULL), 0);
        cr_assert_eq(wait_connections(&a, 1), 1);
        cr_assert_eq(wait_connections(&b, 1), 1);

        /* b goes away and comes back on the same address: the broken
         * connection is dropped and dialled again. */
        char *addr_b = strdup(b.address);
        srv_stop(&b);
        srv_start(&b, addr_b);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, NULL), 0, "call %d", i);
        cr_assert_eq(wait_connections(&b, 1), 1);
        cr_assert_eq(wait_connections(&a, 1), 1);

        cr_assert_eq(geerpc_xclient_close(x), 0);
        cr_assert_eq(sum_via(x, NULL, 1, 1, USEC_PER_SEC, NULL), -ESHUTDOWN);
        cr_assert_eq(wait_connections(&a, 0), 0);
        geerpc_xclient_unref(x);
        free(addr_b);
        srv_stop(&a);
        srv_stop(&b);
}

Test(xclient_local, empty_list_and_bad_arguments) {
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_static(&d, NULL, 0), 0);
        cr_assert_eq(geerpc_xclient_new(&x, NULL, GEERPC_SELECT_RANDOM), -EINVAL);
        cr_assert_eq(geerpc_xclient_new(&x, d, (geerpc_select_mode) 9), -EINVAL);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_RANDOM), 0);
        cr_assert_eq(geerpc_xclient_call(x, "Foo.Sum", NULL, USEC_PER_SEC, NULL, NULL), -ENXIO);
        geerpc_broadcast_result *res = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", NULL, USEC_PER_SEC, NULL, NULL, &res), -ENXIO);
        cr_assert_null(res);
        cr_assert_eq(geerpc_xclient_call(x, "", NULL, USEC_PER_SEC, NULL, NULL), -EINVAL);
        cr_assert_eq(geerpc_xclient_broadcast(x, NULL, NULL, USEC_PER_SEC, NULL, NULL, NULL), -EINVAL);
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);
}

Test(xclient_local, dead_static_server_is_passed_over) {
        Srv a;
        srv_start(&a, "tcp@127.0.0.1:0");
        /* Port 1 on loopback: nothing listens, connection refused. */
        const char *list[] = { a.address, "tcp@127.0.0.1:1" };
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_static(&d, list, 2), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_ROUND_ROBIN), 0);
        /* Without failover too: a refused dial sent nothing. */
        for (int i = 0; i < 4; i++) {
                char *s = NULL;
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, &s), 0);
                cr_assert_str_eq(s, a.address);
                free(s);
        }
        cr_assert_eq(geerpc_xclient_set_failover(x, 1), 0);
        for (int i = 0; i < 4; i++)
                cr_assert_eq(sum_via(x, NULL, i, 1, 5 * USEC_PER_SEC, NULL), 0);
        /* A broadcast fails on the dial and says which server. */
        geerpc_broadcast_result *res = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", NULL, 5 * USEC_PER_SEC, NULL, NULL, &res), -ECONNREFUSED);
        cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 2);
        for (size_t i = 0; i < 2; i++) {
                bool dead = streq(geerpc_broadcast_result_get_server(res, i), "tcp@127.0.0.1:1");
                cr_assert_eq(geerpc_broadcast_result_get_status(res, i), dead ? -ECONNREFUSED : -ECANCELED);
        }
        geerpc_broadcast_result_free(res);
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);
        srv_stop(&a);
}

/* More servers than dialling threads (GEERPC_XCLIENT_DIAL_PARALLEL_MAX):
 * one in-process server listening on 24 ports stands for 24 servers. */
Test(xclient_local, broadcast_to_more_servers_than_dial_threads) {
        Srv s = {};
        enum { N = GEERPC_XCLIENT_DIAL_PARALLEL_MAX + 8 };
        char *addrs[N];
        cr_assert_eq(geerpc_server_new(&s.server), 0);
        tl_server_attach_private(s.server);
        cr_assert_eq(foo_register(s.server), 0);
        for (int i = 0; i < N; i++)
                cr_assert_eq(geerpc_server_listen(s.server, "tcp@127.0.0.1:0", &addrs[i]), 0);
        s.address = strdup(addrs[0]);
        cr_assert_eq(pthread_create(&s.thread, NULL, srv_thread, &s), 0);

        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_static(&d, (const char *const *) addrs, N), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_RANDOM), 0);
        geerpc_discovery_unref(d);
        json_t *args = sum_args(2, 3), *reply = NULL;
        geerpc_broadcast_result *res = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL, &res), 0);
        cr_assert_eq(json_integer_value(reply), 5);
        cr_assert_eq(geerpc_broadcast_result_get_count(res), N);
        cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 0);
        cr_assert_eq(wait_connections(&s, N), N);
        /* Again: every connection is reused, none dialled anew. */
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 10 * USEC_PER_SEC, NULL, NULL, NULL), 0);
        cr_assert_eq(wait_connections(&s, N), N);
        geerpc_broadcast_result_free(res);
        json_decref(reply);
        json_decref(args);
        geerpc_xclient_unref(x);
        for (int i = 0; i < N; i++)
                free(addrs[i]);
        srv_stop(&s);
}
