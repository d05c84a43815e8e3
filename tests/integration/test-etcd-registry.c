/* SPDX-License-Identifier: MIT */

/* etcd as the registry: geerpc-example servers register with leases, and
 * discovery (in process and through geerpcctl) follows them with a range
 * and a watch; the operator's overrides (drain, weight, undrain) on keys of
 * their own. Against a real etcd on ephemeral loopback ports. */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cluster/etcd.h"
#include "codec/json-util.h"
#include "etcd-server.h"
#include "geerpc/discovery.h"
#include "geerpc/registration.h"
#include "geerpc/xclient.h"
#include "testlib.h"

#define PREFIX "/geerpc/services"

typedef struct Fixture {
        TlEtcd etcd;
        TlProc *servers[2];
        char *addrs[2];
        char keys[160]; /* the two keys, sorted, comma-joined */
} Fixture;

static TlProc *start_server(const TlEtcd *e, char **ret_addr) {
        char r[160];
        snprintf(r, sizeof r, "--registry=%s", e->url);
        /* Heartbeat 1s: a 3 s lease. */
        return tl_start_example((const char *[]) { r, "--heartbeat=1s", NULL }, NULL, ret_addr);
}

/* Polls etcd until its keys under PREFIX are exactly want; bounded. */
static bool wait_keys(TlEtcd *e, const char *want, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                char *k = tl_etcd_keys(e, PREFIX, NULL);
                bool ok = streq(k, want);
                if (!ok && now_usec(CLOCK_MONOTONIC) >= deadline) {
                        fprintf(stderr, "keys: '%s', want '%s'\n", k, want);
                        free(k);
                        return false;
                }
                free(k);
                if (ok)
                        return true;
                tl_sleep(100 * USEC_PER_MSEC);
        }
}

static void key_of(const char *addr, char *buf, size_t size) {
        snprintf(buf, size, PREFIX "/%s", addr);
}

static void fixture_start(Fixture *f) {
        *f = (Fixture) {};
        tl_etcd_start(&f->etcd);
        for (int i = 0; i < 2; i++)
                f->servers[i] = start_server(&f->etcd, &f->addrs[i]);
        char a[80], b[80];
        key_of(f->addrs[0], a, sizeof a);
        key_of(f->addrs[1], b, sizeof b);
        snprintf(f->keys, sizeof f->keys, "%s,%s", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
        cr_assert(wait_keys(&f->etcd, f->keys, 10 * USEC_PER_SEC), "the servers did not register in etcd");
}

static void fixture_free(Fixture *f) {
        for (int i = 0; i < 2; i++) {
                tl_proc_free(f->servers[i]);
                free(f->addrs[i]);
        }
        tl_etcd_free(&f->etcd);
}

/* The servers a discovery lists, comma-joined (malloc'd), or NULL. */
static char *listed(geerpc_discovery *d) {
        char **all;
        size_t n;
        if (geerpc_discovery_get_all(d, &all, &n) < 0)
                return NULL;
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(all[i]) + 1;
        char *s = calloc(1, len);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strcat(s, ",");
                strcat(s, all[i]);
        }
        free(all);
        return s;
}

static bool wait_listed(geerpc_discovery *d, const char *want, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                char *l = listed(d);
                bool ok = l && streq(l, want);
                free(l);
                if (ok)
                        return true;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                tl_sleep(50 * USEC_PER_MSEC);
        }
}

static int ctl(const char *url, const char *const *args, char **ret_out, char **ret_err) {
        const char *argv[16] = { tl_binary("geerpcctl") };
        char reg[160];
        snprintf(reg, sizeof reg, "--registry=%s", url);
        size_t n = 1;
        argv[n++] = reg;
        for (size_t i = 0; args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return tl_run(argv, NULL, 20 * USEC_PER_SEC, ret_out, ret_err);
}

Test(etcd, servers_register_with_leases_and_geerpcctl_calls_them) {
        Fixture f;
        fixture_start(&f);
        bool leased = false;
        char *keys = tl_etcd_keys(&f.etcd, PREFIX, &leased);
        cr_assert_str_eq(keys, f.keys);
        cr_assert(leased, "a key has no lease");
        free(keys);

        /* The value names the address and when it registered. */
        json_t *j = tl_etcdctl_get_prefix(&f.etcd, PREFIX);
        cr_assert_eq(json_array_size(json_object_get(j, "kvs")), 2);
        json_decref(j);

        char *out = NULL, *err = NULL;
        cr_assert_eq(ctl(f.etcd.url, (const char *[]) { "servers", NULL }, &out, &err), 0, "%s", err);
        char want[200];
        snprintf(want, sizeof want, "%s\n%s\n", strcmp(f.addrs[0], f.addrs[1]) < 0 ? f.addrs[0] : f.addrs[1],
                 strcmp(f.addrs[0], f.addrs[1]) < 0 ? f.addrs[1] : f.addrs[0]);
        cr_assert_str_eq(out, want);
        free(out);
        free(err);

        cr_assert_eq(ctl(f.etcd.url, (const char *[]) { "call", "Foo.Sum", "{\"Num1\":3,\"Num2\":4}", NULL }, &out,
                         &err),
                     0, "%s", err);
        cr_assert_str_eq(out, "7\n");
        free(out);
        free(err);
        cr_assert_eq(ctl(f.etcd.url, (const char *[]) { "broadcast", "Foo.Sum", "{\"Num1\":1,\"Num2\":2}", NULL },
                         &out, &err),
                     0, "%s", err);
        cr_assert_str_eq(out, "3\n");
        free(out);
        free(err);

        /* Another prefix in the same etcd is another registry: empty. */
        char other[160];
        snprintf(other, sizeof other, "%s/other/prefix", f.etcd.url);
        cr_assert_eq(ctl(other, (const char *[]) { "call", "Foo.Sum", "{}", NULL }, &out, &err), 3);
        cr_assert(strstr(err, "no available servers"), "%s", err);
        free(out);
        free(err);
        fixture_free(&f);
}

Test(etcd, killed_server_expires_and_the_watch_drops_it) {
        Fixture f;
        fixture_start(&f);
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, f.etcd.url), 0);
        /* A long TTL: only the watch can make the change visible in time. */
        cr_assert_eq(geerpc_discovery_set_ttl(d, 600 * USEC_PER_SEC), 0);
        char both[200];
        snprintf(both, sizeof both, "%s,%s", strcmp(f.addrs[0], f.addrs[1]) < 0 ? f.addrs[0] : f.addrs[1],
                 strcmp(f.addrs[0], f.addrs[1]) < 0 ? f.addrs[1] : f.addrs[0]);
        cr_assert(wait_listed(d, both, 10 * USEC_PER_SEC));

        tl_kill(f.servers[0], SIGKILL);
        tl_wait_exit(f.servers[0], 5 * USEC_PER_SEC);
        /* No deregistration: the key goes when the 3 s lease runs out. */
        char k1[80];
        key_of(f.addrs[1], k1, sizeof k1);
        cr_assert(wait_keys(&f.etcd, k1, 15 * USEC_PER_SEC), "the killed server's key stayed");
        cr_assert(wait_listed(d, f.addrs[1], 5 * USEC_PER_SEC), "discovery still lists the killed server");
        geerpc_discovery_unref(d);
        fixture_free(&f);
}

Test(etcd, sigterm_revokes_the_lease_at_once) {
        Fixture f;
        fixture_start(&f);
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, f.etcd.url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, 600 * USEC_PER_SEC), 0);
        char *l = NULL;
        for (int i = 0; i < 100 && !(l && strchr(l, ',')); i++) {
                free(l);
                tl_sleep(50 * USEC_PER_MSEC);
                l = listed(d);
        }
        free(l);

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        tl_kill(f.servers[1], SIGTERM);
        int st = tl_wait_exit(f.servers[1], 10 * USEC_PER_SEC);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char k0[80];
        key_of(f.addrs[0], k0, sizeof k0);
        /* Well before the 3 s lease could have run out. */
        cr_assert(wait_keys(&f.etcd, k0, 2 * USEC_PER_SEC), "the key outlived the server");
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 2500 * USEC_PER_MSEC);
        cr_assert(wait_listed(d, f.addrs[0], 3 * USEC_PER_SEC));
        char *line = tl_wait_line(f.servers[1], "deregistered", 0);
        cr_assert_not_null(line);
        free(line);
        geerpc_discovery_unref(d);
        fixture_free(&f);
}

Test(etcd, restart_servers_register_again_and_clients_keep_calling) {
        Fixture f;
        fixture_start(&f);
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, f.etcd.url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_ROUND_ROBIN), 0);
        json_t *args = json_pack("{s:i,s:i}", "Num1", 20, "Num2", 22);

        for (int i = 0; i < 4; i++) {
                json_t *reply = NULL;
                cr_assert_eq(geerpc_xclient_call(x, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL), 0);
                json_decref(reply);
        }

        tl_etcd_stop(&f.etcd);
        /* etcd is down for longer than the leases: calls go on from the
         * cached list (stale-on-error). */
        for (int i = 0; i < 8; i++) {
                json_t *reply = NULL;
                int r = geerpc_xclient_call(x, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL);
                cr_assert_eq(r, 0, "call %d with etcd down failed: %d", i, r);
                cr_assert_eq(json_integer_value(reply), 42);
                json_decref(reply);
                tl_sleep(500 * USEC_PER_MSEC);
        }

        tl_etcd_restart(&f.etcd);
        /* Whether etcd kept the leases or lost them, both servers are back
         * by themselves. */
        cr_assert(wait_keys(&f.etcd, f.keys, 20 * USEC_PER_SEC), "the servers did not register again");
        for (int i = 0; i < 2; i++)
                cr_assert_eq(tl_wait_exit(f.servers[i], 0), -ETIMEDOUT, "server %d died", i);
        json_t *reply = NULL;
        cr_assert_eq(geerpc_xclient_call(x, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL), 0);
        json_decref(reply);

        json_decref(args);
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);
        fixture_free(&f);
}

Test(etcd, unreachable_etcd_is_a_clear_error) {
        TlEtcd e;
        tl_etcd_start(&e);
        char url[96];
        snprintf(url, sizeof url, "%s", e.url);
        tl_etcd_free(&e);

        char *out = NULL, *err = NULL;
        cr_assert_eq(ctl(url, (const char *[]) { "--timeout=3s", "servers", NULL }, &out, &err), 3);
        cr_assert_neq(strlen(err), 0);
        free(out);
        free(err);

        /* A server keeps serving while etcd is unreachable, and says so. */
        TlNotify *n = tl_notify_new();
        char r[160];
        snprintf(r, sizeof r, "--registry=%s", url);
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { r, "--heartbeat=1s", NULL }, (const char *[]) { tl_notify_env(n), NULL },
                                     &addr);
        char *status = NULL;
        for (int i = 0; i < 40 && !(status && strstr(status, "registry unreachable")); i++) {
                free(status);
                status = tl_notify_wait(n, "STATUS=", 500 * USEC_PER_MSEC);
        }
        cr_assert(status && strstr(status, "registry unreachable"), "%s", status);
        free(status);
        tl_proc_free(p);
        tl_notify_free(n);
        free(addr);
}

Test(etcd, discovery_freed_while_its_watch_publishes) {
        /* The watch thread pushes the list into the discovery; freeing the
         * discovery must stop that thread before anything is released (an
         * ASan build catches the use-after-free this once was). */
        Fixture f;
        fixture_start(&f);
        for (int i = 0; i < 30; i++) {
                geerpc_discovery *d;
                cr_assert_eq(geerpc_discovery_new_from_url(&d, f.etcd.url), 0);
                cr_assert_eq(geerpc_discovery_refresh(d), 0);
                if (i % 3)
                        tl_sleep((usec_t) i * 300); /* catch the thread at different points */
                geerpc_discovery_unref(d);
        }
        fixture_free(&f);
}

/* ---- services, weights and labels through etcd -------------------------------- */

/* The value of addr's key, decoded and parsed (a new reference). */
static json_t *value_of(TlEtcd *e, const char *addr) {
        char key[200];
        key_of(addr, key, sizeof key);
        json_t *j = tl_etcdctl_get_prefix(e, PREFIX), *kv, *v = NULL;
        size_t i;
        json_array_foreach(json_object_get(j, "kvs"), i, kv) {
                _cleanup_free_ char *k = NULL, *val = NULL;
                size_t len;
                if (base64_decode(json_string_value(json_object_get(kv, "key")), &k, NULL) < 0 || !streq(k, key))
                        continue;
                cr_assert_eq(base64_decode(json_string_value(json_object_get(kv, "value")), &val, &len), 0);
                v = json_loadb(val, len, 0, NULL);
        }
        json_decref(j);
        cr_assert_not_null(v, "no value for %s", addr);
        return v;
}

static bool run_loop_until(sd_event *e, bool (*cond)(void *), void *userdata, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        while (!cond(userdata)) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                cr_assert_geq(sd_event_run(e, 50 * USEC_PER_MSEC), 0);
        }
        return true;
}

typedef struct WeightWait {
        geerpc_discovery *d;
        const char *addr;
        int weight;
} WeightWait;

static bool listed_with_weight(void *userdata) {
        WeightWait *w = userdata;
        geerpc_server_list *l;
        bool ok = false;
        if (geerpc_discovery_get_list(w->d, "Echo", &l) < 0)
                return false;
        for (size_t i = 0; i < geerpc_server_list_get_count(l); i++)
                ok = ok || (streq(geerpc_server_list_get_address(l, i), w->addr) &&
                            geerpc_server_list_get_weight(l, i) == w->weight);
        geerpc_server_list_unref(l);
        return ok;
}

Test(etcd, services_weights_and_labels) {
        TlEtcd e;
        tl_etcd_start(&e);
        char r[160], *foo, *heavy, *light;
        snprintf(r, sizeof r, "--registry=%s", e.url);
        TlProc *p_foo = tl_start_example((const char *[]) { r, "--heartbeat=1s", "--services=Foo", NULL }, NULL, &foo);
        TlProc *p_heavy = tl_start_example(
                (const char *[]) { r, "--heartbeat=1s", "--services=Echo", "--weight=3", "--label=zone=a", NULL }, NULL,
                &heavy);
        TlProc *p_light = tl_start_example((const char *[]) { r, "--heartbeat=1s", "--services=Echo", NULL }, NULL,
                                           &light);
        /* A key written by someone else, without metadata: every service. */
        const char *other = "tcp@127.0.0.1:1";
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, e.url), 0);
        WeightWait w = { d, light, 1 };
        for (int i = 0; i < 200 && !listed_with_weight(&w); i++)
                tl_sleep(50 * USEC_PER_MSEC);
        w.addr = heavy;
        w.weight = 3;
        for (int i = 0; i < 200 && !listed_with_weight(&w); i++)
                tl_sleep(50 * USEC_PER_MSEC);
        cr_assert(listed_with_weight(&w), "the weight-3 server is not listed for Echo");

        /* The value carries what the server offers. */
        json_t *v = value_of(&e, heavy);
        cr_assert_str_eq(json_string_value(json_object_get(v, "addr")), heavy);
        cr_assert_eq(json_integer_value(json_object_get(v, "weight")), 3);
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "services"), 0)), "Echo");
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "labels"), "zone")), "a");
        cr_assert(json_is_string(json_object_get(v, "registered_at")));
        json_decref(v);

        geerpc_server_list *l;
        cr_assert_eq(geerpc_discovery_get_list(d, "Echo", &l), 0);
        cr_assert_eq(geerpc_server_list_get_count(l), 2, "Foo's server is not listed for Echo");
        for (size_t i = 0; i < 2; i++)
                if (streq(geerpc_server_list_get_address(l, i), heavy))
                        cr_assert_str_eq(geerpc_server_list_get_labels(l, i)[0], "zone=a");
        geerpc_server_list_unref(l);

        geerpc_xclient *x;
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_RANDOM), 0);
        int on_heavy = 0;
        for (int i = 0; i < 400; i++) {
                json_t *args = json_pack("{s:i}", "i", i), *reply = NULL;
                char *s = NULL;
                cr_assert_eq(geerpc_xclient_call_full(x, NULL, "Echo.Echo", args, 5 * USEC_PER_SEC, &reply, NULL, &s), 0);
                cr_assert(json_equal(args, reply));
                cr_assert_str_neq(s, foo, "Echo.Echo reached the Foo-only server");
                on_heavy += streq(s, heavy);
                free(s);
                json_decref(args);
                json_decref(reply);
        }
        cr_assert(on_heavy >= 270 && on_heavy <= 330, "%d of 400 on the weight-3 server", on_heavy);
        geerpc_xclient_unref(x);

        /* A key without metadata offers every service. */
        char key[200];
        key_of(other, key, sizeof key);
        const char *put[] = { getenv("ETCDCTL"), "--endpoints", e.client, "put", key, "{}", NULL };
        const char *env[] = { "ETCDCTL_API=3", NULL };
        cr_assert_eq(tl_run(put, env, 10 * USEC_PER_SEC, NULL, NULL), 0);
        w.addr = other;
        w.weight = 1;
        for (int i = 0; i < 100 && !listed_with_weight(&w); i++)
                tl_sleep(50 * USEC_PER_MSEC);
        cr_assert(listed_with_weight(&w), "a key without metadata is not listed for Echo");

        geerpc_discovery_unref(d);
        tl_proc_free(p_foo);
        tl_proc_free(p_heavy);
        tl_proc_free(p_light);
        free(foo);
        free(heavy);
        free(light);
        tl_etcd_free(&e);
}

static int nothing(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        return 0;
}

/* A registration's new weight reaches etcd's value (and the watchers) at
 * once, within the lease it has. */
Test(etcd, a_new_weight_is_put_at_once) {
        TlEtcd e;
        tl_etcd_start(&e);
        sd_event *ev;
        geerpc_server *s;
        geerpc_registration *reg;
        geerpc_discovery *d;
        static const geerpc_method m[] = { { .name = "Echo", .handler = nothing } };
        cr_assert_eq(sd_event_new(&ev), 0);
        cr_assert_eq(geerpc_server_new(&s), 0);
        cr_assert_eq(geerpc_server_add_service(s, "Echo", m, 1, NULL), 0);
        cr_assert_eq(geerpc_registration_new(&reg, e.url, "tcp@127.0.0.1:7001"), 0);
        cr_assert_eq(geerpc_registration_set_period(reg, 10 * USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_registration_set_server(reg, s), 0);
        cr_assert_eq(geerpc_registration_attach_event(reg, ev, 0), 0);
        cr_assert_eq(geerpc_registration_start(reg), 0);
        cr_assert_eq(geerpc_discovery_new_from_url(&d, e.url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, 600 * USEC_PER_SEC), 0);
        WeightWait w = { d, "tcp@127.0.0.1:7001", 1 };
        cr_assert(run_loop_until(ev, listed_with_weight, &w, 10 * USEC_PER_SEC), "not registered");

        cr_assert_eq(geerpc_registration_set_weight(reg, 0), 0);
        w.weight = 0;
        /* Long before the 10 s period: the watch sees the new value. */
        cr_assert(run_loop_until(ev, listed_with_weight, &w, 5 * USEC_PER_SEC), "the new weight never reached etcd");
        json_t *v = value_of(&e, "tcp@127.0.0.1:7001");
        cr_assert_eq(json_integer_value(json_object_get(v, "weight")), 0);
        json_decref(v);
        bool leased = false;
        char *keys = tl_etcd_keys(&e, PREFIX, &leased);
        cr_assert(leased, "the new value lost its lease");
        free(keys);

        geerpc_discovery_unref(d);
        geerpc_registration_unref(reg);
        geerpc_server_unref(s);
        sd_event_unref(ev);
        tl_etcd_free(&e);
}

/* ---- the operator's overrides through etcd ------------------------------------- */

static TlProc *start_echo(const TlEtcd *e, const char *listen, char **ret_addr) {
        char r[160], l[160];
        snprintf(r, sizeof r, "--registry=%s", e->url);
        snprintf(l, sizeof l, "--listen=%s", listen);
        return tl_start_example((const char *[]) { r, l, "--services=Echo", "--heartbeat=1s", NULL }, NULL, ret_addr);
}

/* Of n Echo calls through x, how many reached addr. */
static int calls_on(geerpc_xclient *x, const char *addr, int n) {
        int on = 0;
        for (int i = 0; i < n; i++) {
                json_t *args = json_pack("{s:i}", "i", i), *reply = NULL;
                char *s = NULL;
                cr_assert_eq(geerpc_xclient_call_full(x, NULL, "Echo.Echo", args, 5 * USEC_PER_SEC, &reply, NULL, &s), 0);
                on += streq(s, addr);
                free(s);
                json_decref(args);
                json_decref(reply);
        }
        return on;
}

static void wait_weight(WeightWait *w, int weight, const char *why) {
        w->weight = weight;
        for (int i = 0; i < 200 && !listed_with_weight(w); i++)
                tl_sleep(50 * USEC_PER_MSEC);
        cr_assert(listed_with_weight(w), "%s is not listed with weight %d: %s", w->addr, weight, why);
}

static void expect_ctl(const char *url, const char *const *args, int status, const char *out, const char *err) {
        char *o = NULL, *e = NULL;
        cr_assert_eq(ctl(url, args, &o, &e), status, "%s %s: %s", args[0], args[1], e);
        if (out)
                cr_assert_str_eq(o, out);
        if (err)
                cr_assert(strstr(e, err), "%s", e);
        free(o);
        free(e);
}

/* Two Echo servers, a and b, and a client of them that sees changes only
 * through the watch (a long TTL). */
typedef struct Pair {
        TlEtcd e;
        TlProc *pa, *pb;
        char *a, *b;
        geerpc_discovery *d;
        geerpc_xclient *x;
        WeightWait w; /* on a */
} Pair;

static void pair_start_servers(Pair *p) {
        *p = (Pair) {};
        tl_etcd_start(&p->e);
        p->pa = start_echo(&p->e, "tcp@127.0.0.1:0", &p->a);
        p->pb = start_echo(&p->e, "tcp@127.0.0.1:0", &p->b);
}

static void pair_start_client(Pair *p, geerpc_select_mode mode) {
        cr_assert_eq(geerpc_discovery_new_from_url(&p->d, p->e.url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(p->d, 600 * USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_xclient_new(&p->x, p->d, mode), 0);
        p->w = (WeightWait) { p->d, p->b, 1 };
        wait_weight(&p->w, 1, "registered");
        p->w.addr = p->a;
}

static void pair_free(Pair *p) {
        geerpc_xclient_unref(p->x);
        geerpc_discovery_unref(p->d);
        tl_proc_free(p->pa);
        tl_proc_free(p->pb);
        free(p->a);
        free(p->b);
        tl_etcd_free(&p->e);
}

/* geerpcctl drain, weight and undrain against etcd: the override is a key
 * of its own that the server's heartbeats and restarts leave alone, and
 * the watch applies it at once. */
Test(etcd, drain_weight_undrain) {
        Pair p;
        pair_start_servers(&p);
        pair_start_client(&p, GEERPC_SELECT_RANDOM);
        TlEtcd *e = &p.e;
        const char *a = p.a, *b = p.b;
        geerpc_xclient *x = p.x;
        WeightWait *w = &p.w;
        wait_weight(w, 1, "registered");

        char line[200];
        snprintf(line, sizeof line, "%s: weight 0 (its own: 1)\n", a);
        expect_ctl(e->url, (const char *[]) { "drain", a, NULL }, 0, line, NULL);
        wait_weight(w, 0, "drained");
        cr_assert_eq(calls_on(x, a, 100), 0, "a drained server was called");
        char *out = NULL, *err = NULL;
        cr_assert_eq(ctl(e->url, (const char *[]) { "-o", "table", "servers", NULL }, &out, &err), 0, "%s", err);
        cr_assert(strstr(out, " 0 (drained; its own: 1) "), "%s", out);
        free(out);
        free(err);

        /* Several heartbeats (keepalives of a 3 s lease), then a restart
         * on the same address: a new lease, a new put of its key. */
        tl_sleep(3500 * USEC_PER_MSEC);
        cr_assert_eq(calls_on(x, a, 50), 0, "called after its heartbeats");
        char *ka = NULL;
        tl_proc_free(p.pa);
        p.pa = start_echo(e, a, &ka);
        cr_assert_str_eq(ka, a);
        free(ka);
        char keys[400], k0[100], k1[100];
        key_of(strcmp(a, b) < 0 ? a : b, k0, sizeof k0);
        key_of(strcmp(a, b) < 0 ? b : a, k1, sizeof k1);
        /* The override key sorts before the servers' ("_" < "t"). */
        snprintf(keys, sizeof keys, PREFIX "/_overrides/%s,%s,%s", a, k0, k1);
        cr_assert(wait_keys(e, keys, 10 * USEC_PER_SEC), "the restarted server did not register");
        wait_weight(w, 0, "drained after its restart");
        cr_assert_eq(calls_on(x, a, 100), 0, "called after its restart");

        snprintf(line, sizeof line, "%s: weight 3 (its own: 1)\n", a);
        expect_ctl(e->url, (const char *[]) { "weight", a, "3", NULL }, 0, line, NULL);
        wait_weight(w, 3, "weighted");
        int on_a = calls_on(x, a, 400);
        cr_assert(on_a >= 255 && on_a <= 345, "%d of 400 on the weight-3 server", on_a);
        cr_assert_eq(ctl(e->url, (const char *[]) { "--json", "servers", NULL }, &out, &err), 0, "%s", err);
        json_t *j = json_loads(out, 0, NULL), *s;
        size_t i;
        bool seen = false;
        json_array_foreach(json_object_get(j, "servers"), i, s) {
                if (!streq(json_string_value(json_object_get(s, "addr")), a))
                        continue;
                seen = true;
                cr_assert_eq(json_integer_value(json_object_get(s, "weight")), 3);
                cr_assert_eq(json_integer_value(json_object_get(s, "server_weight")), 1);
        }
        cr_assert(seen, "%s", out);
        json_decref(j);
        free(out);
        free(err);

        snprintf(line, sizeof line, "%s: override cleared\n", a);
        expect_ctl(e->url, (const char *[]) { "undrain", a, NULL }, 0, line, NULL);
        wait_weight(w, 1, "undrained");
        on_a = calls_on(x, a, 200);
        cr_assert(on_a >= 50 && on_a <= 150, "%d of 200 on the undrained server", on_a);
        expect_ctl(e->url, (const char *[]) { "undrain", a, NULL }, 1, "", "has no operator's weight to clear");
        expect_ctl(e->url, (const char *[]) { "--json", "undrain", a, NULL }, 1, NULL, "no operator's weight");

        /* Before the address registers: kept for when it does, listing
         * nothing meanwhile. */
        expect_ctl(e->url, (const char *[]) { "weight", "tcp@127.0.0.1:1", "5", NULL }, 0,
                   "tcp@127.0.0.1:1: weight 5, kept for when it registers\n", NULL);
        expect_ctl(e->url, (const char *[]) { "undrain", "tcp@127.1:01", NULL }, 0,
                   "tcp@127.1:01: override cleared (not registered)\n", NULL);
        expect_ctl(e->url, (const char *[]) { "weight", a, "1001", NULL }, 2, "", "invalid");

        pair_free(&p);
}

/* An override value put by hand that says nothing usable is ignored (as
 * no override), in the range and in the watch; discovery goes on. */
Test(etcd, malformed_override_is_ignored) {
        Pair p;
        pair_start_servers(&p);
        const char *a = p.a, *b = p.b;
        char key[200];
        snprintf(key, sizeof key, PREFIX "/_overrides/%s", a);
        const char *env[] = { "ETCDCTL_API=3", NULL };
        char big[400];
        memset(big, ' ', sizeof big - 1);
        big[sizeof big - 1] = 0;
        memcpy(big, "{\"weight\":0}", 12); /* then blanks: longer than 256 bytes */
        /* Each malformed value follows a drain, so that ignoring it shows. */
        const char *values[] = { "drained", "{\"weight\":0}", "{\"weight\":-1}", "{\"weight\":0}", big,
                                 "{\"weight\":2}" };
        const int weights[] = { 1, 0, 1, 0, 1, 2 };

        const char *put[] = { getenv("ETCDCTL"), "--endpoints", p.e.client, "put", key, values[0], NULL };
        cr_assert_eq(tl_run(put, env, 10 * USEC_PER_SEC, NULL, NULL), 0);
        /* The first list is a range that reads the malformed value. */
        pair_start_client(&p, GEERPC_SELECT_ROUND_ROBIN);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                put[5] = values[i];
                cr_assert_eq(tl_run(put, env, 10 * USEC_PER_SEC, NULL, NULL), 0);
                wait_weight(&p.w, weights[i], values[i]);
                int on_a = calls_on(p.x, a, 20);
                cr_assert(weights[i] == 0 ? on_a == 0 : on_a > 0, "%d calls on %s under '%s'", on_a, a, values[i]);
        }
        /* The override key is not a server, and geerpcctl lists on. */
        char *out = NULL, *err = NULL;
        cr_assert_eq(ctl(p.e.url, (const char *[]) { "servers", NULL }, &out, &err), 0, "%s", err);
        char want[200];
        snprintf(want, sizeof want, "%s\n%s\n", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
        cr_assert_str_eq(out, want);
        free(out);
        free(err);

        pair_free(&p);
}
