/* SPDX-License-Identifier: MIT */

/* One registry, many services: servers announce their services, weight and
 * labels; GET ?service= filters; clients call only the servers of the
 * call's service and pick by weight; an operator drains or re-weights a
 * server, and that survives the server's heartbeats and a registry
 * restart; bad headers get 400s; the state file keeps it all. Real
 * geeregistry and geerpc-example processes; one server registered the Go
 * original's way by tests/go/. */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cluster.h"
#include "geerpc/xclient.h"
#include "registry-util.h"

#define S USEC_PER_SEC

/* The Go interop program, built once by main() (tests/go/). */
#define GO_BINARY_ENV "GEERPC_TEST_GO_INTEROP"

/* Runs it with args; returns its stdout (malloc'd). */
static char *go_interop(const char *const *args) {
        const char *argv[16] = { getenv(GO_BINARY_ENV) };
        size_t n = 1;
        cr_assert_not_null(argv[0]);
        for (size_t i = 0; args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        char *out, *err;
        int status = tl_run(argv, NULL, 60 * S, &out, &err);
        cr_assert_eq(status, 0, "the Go program failed (%d): %s%s", status, out, err);
        free(err);
        return out;
}

static geerpc_xclient *xclient(TlCluster *c, geerpc_select_mode mode) {
        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_registry(&d, c->url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, 200 * USEC_PER_MSEC), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, mode), 0);
        geerpc_discovery_unref(d);
        return x;
}

/* Echo.Echo through x; checks the reply, returns the server (malloc'd). */
static char *echo_via(geerpc_xclient *x, int i) {
        json_t *args = json_pack("{s:i,s:s}", "i", i, "s", "payload"), *reply = NULL;
        char *server = NULL, *error = NULL;
        int r = geerpc_xclient_call_full(x, NULL, "Echo.Echo", args, 5 * S, &reply, &error, &server);
        cr_assert_eq(r, 0, "Echo.Echo %d: %s (%s) on %s", i, strerror(-r), strempty(error), strempty(server));
        cr_assert(json_equal(reply, args), "Echo.Echo did not return its argument");
        json_decref(args);
        json_decref(reply);
        free(error);
        return server;
}

static char *sum_via(geerpc_xclient *x, int i) {
        json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1), *reply = NULL;
        char *server = NULL;
        int r = geerpc_xclient_call_full(x, NULL, "Foo.Sum", args, 5 * S, &reply, NULL, &server);
        cr_assert_eq(r, 0, "Foo.Sum %d: %s", i, strerror(-r));
        cr_assert_eq(json_integer_value(reply), i + 1);
        json_decref(args);
        json_decref(reply);
        return server;
}

/* The compact JSON of v, valid until the next call. */
static const char *compact(json_t *v) {
        static char buf[4096];
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
        free(s);
        return buf;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The sorted, comma-joined list of n addresses (malloc'd). */
static char *joined(size_t n, ...) {
        const char *v[8];
        va_list ap;
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                v[i] = va_arg(ap, const char *);
        va_end(ap);
        qsort(v, n, sizeof(char *), cmp_str);
        char *s = strdup("");
        for (size_t i = 0; i < n; i++) {
                char *t;
                cr_assert_gt(asprintf(&t, "%s%s%s", s, i ? "," : "", v[i]), 0);
                free(s);
                s = t;
        }
        return s;
}

static void wait_listed(TlCluster *c, const char *addr) {
        cr_assert(tl_cluster_wait_listed(c, addr, true, 15 * S), "%s never listed", addr);
}

/* GET url with headers; the status; *ret the response. */
static long http(const char *method, const char *url, const char *const *headers, TlHttp *ret) {
        TlHttp h;
        cr_assert_eq(tl_http(method, url, headers, &h), 0, "%s %s: no response", method, url);
        long status = h.status;
        if (ret)
                *ret = h;
        else
                tl_http_done(&h);
        return status;
}

/* The JSON listing (for service, or every server). */
static json_t *listing(TlCluster *c, const char *service) {
        char url[300];
        TlHttp h;
        snprintf(url, sizeof url, "%s%s%s", c->url, service ? "?service=" : "", strempty(service));
        cr_assert_eq(http("GET", url, (const char *[]) { "Accept: application/json", NULL }, &h), 200);
        json_t *v = json_loads(h.body, 0, NULL);
        cr_assert_not_null(v, "not JSON: %s", h.body);
        tl_http_done(&h);
        return v;
}

/* The entry of addr in a JSON listing, or NULL. */
static json_t *entry_of(json_t *list, const char *addr) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(list, "servers"), i, e)
                if (streq(json_string_value(json_object_get(e, "addr")), addr))
                        return e;
        return NULL;
}

/* ---- a mixed fleet ----------------------------------------------------------- */

typedef struct Fleet {
        TlCluster *c;
        size_t foo, echo;  /* Foo only; Echo only */
        TlProc *go_proc;   /* both services, registered the Go original's way */
        char *go_addr;
} Fleet;

static Fleet fleet_start(void) {
        Fleet f = { .c = tl_cluster_new_registry(NULL) };
        f.foo = tl_cluster_add_server_with(f.c, (const char *[]) { "--services=Foo", NULL });
        f.echo = tl_cluster_add_server_with(f.c, (const char *[]) { "--services=Echo", "--label=zone=b", NULL });
        /* No --registry: the Go program registers it, with no services. */
        f.go_proc = tl_start_example(NULL, NULL, &f.go_addr);
        char *out = go_interop((const char *[]) { f.c->url, "X-Geerpc-Server", "X-Geerpc-Servers", f.go_addr, NULL });
        char expect[256];
        snprintf(expect, sizeof expect, "heartbeat %s 200 300\n", f.go_addr);
        cr_assert(strncmp(out, expect, strlen(expect)) == 0, "%s", out);
        free(out);
        wait_listed(f.c, f.c->addrs[f.foo]);
        wait_listed(f.c, f.c->addrs[f.echo]);
        return f;
}

static void fleet_stop(Fleet *f) {
        tl_proc_free(f->go_proc);
        free(f->go_addr);
        tl_cluster_free(f->c);
}

Test(services, calls_reach_only_servers_of_their_service) {
        Fleet f = fleet_start();
        const char *foo = f.c->addrs[f.foo], *echo = f.c->addrs[f.echo];

        geerpc_xclient *x = xclient(f.c, GEERPC_SELECT_RANDOM);
        int on_echo = 0, on_go = 0;
        for (int i = 0; i < 200; i++) {
                char *s = echo_via(x, i);
                cr_assert_str_neq(s, foo, "Echo.Echo %d reached the Foo-only server", i);
                on_echo += streq(s, echo);
                on_go += streq(s, f.go_addr);
                free(s);
        }
        cr_assert_eq(on_echo + on_go, 200);
        cr_assert(on_echo > 0 && on_go > 0, "Echo-only %d, Go-registered %d", on_echo, on_go);
        for (int i = 0; i < 100; i++) {
                char *s = sum_via(x, i);
                cr_assert_str_neq(s, echo, "Foo.Sum %d reached the Echo-only server", i);
                free(s);
        }
        /* Broadcast: the service's servers only. */
        geerpc_broadcast_result *res = NULL;
        json_t *args = json_pack("{s:i}", "n", 1);
        cr_assert_eq(geerpc_xclient_broadcast(x, "Echo.Echo", args, 5 * S, NULL, NULL, &res), 0);
        cr_assert_eq(geerpc_broadcast_result_get_count(res), 2);
        for (size_t i = 0; i < 2; i++)
                cr_assert_str_neq(geerpc_broadcast_result_get_server(res, i), foo);
        geerpc_broadcast_result_free(res);
        json_decref(args);
        /* The built-in service: every server has it, none announces it. */
        bool foo_described = false;
        for (int i = 0; i < 60 && !foo_described; i++) {
                char *s = NULL;
                cr_assert_eq(geerpc_xclient_call_full(x, NULL, "_geerpc.Describe", NULL, 5 * S, NULL, NULL, &s), 0);
                foo_described = streq(s, foo);
                free(s);
        }
        cr_assert(foo_described, "_geerpc.Describe never reached the Foo-only server");
        /* Nobody offers Bar, but the Go-registered server might: it says. */
        cr_assert_eq(geerpc_xclient_call(x, "Bar.Nope", NULL, 5 * S, NULL, NULL), -EREMOTEIO);
        geerpc_xclient_unref(x);

        /* The same through geerpcctl, one process per call. */
        char reg[256];
        snprintf(reg, sizeof reg, "--registry=%s", f.c->url);
        int ctl_go = 0;
        for (int i = 0; i < 200; i++) {
                char *out = NULL, *err = NULL;
                const char *argv[] = { tl_binary("geerpcctl"), reg, "--json", "call", "Echo.Echo", "[1,2,3]", NULL };
                int status = tl_run(argv, NULL, 30 * S, &out, &err);
                cr_assert_eq(status, 0, "geerpcctl exited %d: %s", status, err);
                json_t *v = json_loads(out, 0, NULL);
                cr_assert_not_null(v, "%s", out);
                const char *s = json_string_value(json_object_get(v, "server"));
                cr_assert_str_neq(s, foo, "geerpcctl call %d reached the Foo-only server", i);
                cr_assert_str_eq(compact(json_object_get(v, "reply")), "[1,2,3]");
                ctl_go += streq(s, f.go_addr);
                json_decref(v);
                free(out);
                free(err);
        }
        cr_assert(ctl_go > 0 && ctl_go < 200, "%d of 200 on the Go-registered server", ctl_go);
        fleet_stop(&f);
}

Test(services, service_filter_in_headers_and_json) {
        Fleet f = fleet_start();
        const char *foo = f.c->addrs[f.foo], *echo = f.c->addrs[f.echo];
        char url[300];
        struct {
                const char *service;
                char *list;
        } cases[] = {
                { "Echo", joined(2, echo, f.go_addr) },
                { "Foo", joined(2, foo, f.go_addr) },
                { "Nope", joined(1, f.go_addr) },
                { NULL, joined(3, foo, echo, f.go_addr) },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(url, sizeof url, "%s%s%s", f.c->url, cases[i].service ? "?service=" : "",
                         strempty(cases[i].service));
                for (int json = 0; json < 2; json++) {
                        TlHttp h;
                        const char *hdr[] = { "Accept: application/json", NULL };
                        cr_assert_eq(http("GET", url, json ? hdr : NULL, &h), 200);
                        char *a = tl_http_header(&h, "X-Geerpc-Servers"), *b = tl_http_header(&h, "X-rpc-Servers");
                        cr_assert_str_eq(a, cases[i].list, "?service=%s", strempty(cases[i].service));
                        cr_assert_str_eq(b, cases[i].list);
                        free(a);
                        free(b);
                        if (!json)
                                cr_assert_str_eq(h.body, "");
                        tl_http_done(&h);
                }
                json_t *v = listing(f.c, cases[i].service);
                char *addrs = strdup("");
                size_t k;
                json_t *e;
                json_array_foreach(json_object_get(v, "servers"), k, e) {
                        char *t;
                        cr_assert_gt(asprintf(&t, "%s%s%s", addrs, k ? "," : "",
                                              json_string_value(json_object_get(e, "addr"))), 0);
                        free(addrs);
                        addrs = t;
                }
                cr_assert_str_eq(addrs, cases[i].list);
                free(addrs);
                json_decref(v);
                free(cases[i].list);
        }
        /* What the JSON says of each. */
        json_t *v = listing(f.c, NULL), *e = entry_of(v, echo);
        cr_assert_str_eq(compact(json_object_get(e, "services")), "[\"Echo\"]");
        cr_assert_null(json_object_get(e, "weight"), "weight 1 goes without saying");
        cr_assert_str_eq(compact(json_object_get(e, "labels")), "{\"zone\":\"b\"}");
        cr_assert(json_is_integer(json_object_get(e, "age_ms")));
        e = entry_of(v, f.go_addr);
        cr_assert_null(json_object_get(e, "services"), "services unknown: none listed");
        cr_assert_null(json_object_get(e, "labels"));
        json_decref(v);

        snprintf(url, sizeof url, "%s?service=Foo.Sum", f.c->url);
        TlHttp h;
        cr_assert_eq(http("GET", url, NULL, &h), 400);
        cr_assert_str_eq(h.body, "invalid service name: 1-64 ASCII letters, digits or '_'\n");
        tl_http_done(&h);
        fleet_stop(&f);
}

/* ---- weights ------------------------------------------------------------------- */

Test(services, weight_3_to_1) {
        TlCluster *c = tl_cluster_new_registry(NULL);
        size_t heavy = tl_cluster_add_server_with(c, (const char *[]) { "--services=Echo", "--weight=3", NULL });
        size_t light = tl_cluster_add_server_with(c, (const char *[]) { "--services=Echo", NULL });
        wait_listed(c, c->addrs[heavy]);
        wait_listed(c, c->addrs[light]);

        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM);
        int n = 0;
        for (int i = 0; i < 400; i++) {
                char *s = echo_via(x, i);
                n += streq(s, c->addrs[heavy]);
                free(s);
        }
        /* Binomial(400, 3/4): sd 8.7; 30 is 3.5 sd. */
        cr_assert(n >= 270 && n <= 330, "random: %d of 400 calls on the weight-3 server", n);
        fprintf(stderr, "weight 3:1, random: %d of 400 calls on the heavier server\n", n);
        geerpc_xclient_unref(x);

        /* Round-robin: exactly 3 of 4, interleaved (never the light one twice
         * within 3 calls). */
        x = xclient(c, GEERPC_SELECT_ROUND_ROBIN);
        int last_light = -10;
        n = 0;
        for (int i = 0; i < 400; i++) {
                char *s = echo_via(x, i);
                if (streq(s, c->addrs[heavy]))
                        n++;
                else {
                        cr_assert_gt(i - last_light, 3, "round-robin: the light server at %d and %d", last_light, i);
                        last_light = i;
                }
                free(s);
        }
        cr_assert_eq(n, 300, "round-robin: %d of 400", n);
        geerpc_xclient_unref(x);

        /* Weight 0 from the server itself: listed as such, never chosen. */
        size_t zero = tl_cluster_add_server_with(c, (const char *[]) { "--services=Echo", "--weight=0", NULL });
        bool seen = false;
        for (int i = 0; i < 100 && !seen; i++) {
                json_t *v = listing(c, "Echo");
                json_t *e = entry_of(v, c->addrs[zero]);
                seen = e && json_is_integer(json_object_get(e, "weight")) && json_integer_value(json_object_get(e, "weight")) == 0;
                json_decref(v);
                if (!seen)
                        tl_sleep(100 * USEC_PER_MSEC);
        }
        cr_assert(seen, "the weight-0 server is not listed with weight 0");
        char *hdr = reg_list_url(c->url, "X-Geerpc-Servers");
        cr_assert_null(strstr(hdr, c->addrs[zero]), "a draining server in the header list: %s", hdr);
        free(hdr);
        x = xclient(c, GEERPC_SELECT_RANDOM);
        for (int i = 0; i < 100; i++) {
                char *s = echo_via(x, i);
                cr_assert_str_neq(s, c->addrs[zero]);
                free(s);
        }
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
}

/* ---- the operator's drain ----------------------------------------------------- */

static long patch(TlCluster *c, const char *token, const char *addr, const char *value, TlHttp *ret) {
        char auth[128], server[300], override[64];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        snprintf(server, sizeof server, "X-Geerpc-Server: %s", addr);
        snprintf(override, sizeof override, "X-Geerpc-Weight-Override: %s", value);
        const char *headers[] = { server, override, token ? auth : NULL, NULL };
        return http("PATCH", c->url, headers, ret);
}

static void assert_never_called(TlCluster *c, const char *addr, int calls) {
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_ROUND_ROBIN);
        for (int i = 0; i < calls; i++) {
                char *s = echo_via(x, i);
                cr_assert_str_neq(s, addr, "call %d reached the drained server", i);
                free(s);
        }
        geerpc_xclient_unref(x);
}

static int weight_of(TlCluster *c, const char *addr, int *ret_own) {
        json_t *v = listing(c, NULL), *e = entry_of(v, addr);
        cr_assert_not_null(e, "%s not listed", addr);
        json_t *jw = json_object_get(e, "weight");
        int w = jw ? (int) json_integer_value(jw) : 1;
        json_t *own = json_object_get(e, "server_weight");
        *ret_own = own ? (int) json_integer_value(own) : -1;
        json_decref(v);
        return w;
}

Test(services, drained_server_stays_drained) {
        char *dir = reg_tmpdir(), state[512], token[512], state_arg[600], token_arg[600];
        snprintf(state, sizeof state, "%s/servers.json", dir);
        snprintf(token, sizeof token, "%s/token", dir);
        reg_write_file(token, "s3cret\n");
        snprintf(state_arg, sizeof state_arg, "--state-file=%s", state);
        snprintf(token_arg, sizeof token_arg, "--token-file=%s", token);
        TlCluster *c = tl_cluster_new_registry((const char *[]) { state_arg, token_arg, NULL });
        char tf[600];
        snprintf(tf, sizeof tf, "--token-file=%s", token);
        size_t a = tl_cluster_add_server_with(c, (const char *[]) { "--services=Echo", "--weight=2", tf, NULL });
        size_t b = tl_cluster_add_server_with(c, (const char *[]) { "--services=Echo", tf, NULL });
        wait_listed(c, c->addrs[a]);
        wait_listed(c, c->addrs[b]);
        const char *drained = c->addrs[a];

        TlHttp h;
        cr_assert_eq(patch(c, NULL, drained, "0", &h), 401, "PATCH without the token");
        tl_http_done(&h);
        cr_assert_eq(patch(c, "s3cret", drained, "0", &h), 200);
        cr_assert(strstr(h.body, "weight 0 (its own: 2)"), "%s", h.body);
        tl_http_done(&h);
        int own;
        cr_assert_eq(weight_of(c, drained, &own), 0);
        cr_assert_eq(own, 2);
        assert_never_called(c, drained, 100);

        /* Its own heartbeats (every second) do not undo it. */
        tl_sleep(2500 * USEC_PER_MSEC);
        cr_assert_eq(weight_of(c, drained, &own), 0);
        assert_never_called(c, drained, 100);

        /* Nor does a registry restart. */
        tl_kill(c->registry, SIGTERM);
        cr_assert_neq(tl_wait_exit(c->registry, 15 * S), -ETIMEDOUT);
        tl_proc_free(c->registry);
        c->registry = NULL;
        tl_cluster_start_registry(c);
        cr_assert_eq(weight_of(c, drained, &own), 0);
        cr_assert_eq(own, 2);
        tl_sleep(2500 * USEC_PER_MSEC);
        cr_assert_eq(weight_of(c, drained, &own), 0);
        assert_never_called(c, drained, 100);

        /* Cleared: its own weight again, and calls. */
        cr_assert_eq(patch(c, "s3cret", drained, "clear", NULL), 200);
        cr_assert_eq(patch(c, "s3cret", drained, "clear", NULL), 404, "nothing left to clear");
        cr_assert_eq(weight_of(c, drained, &own), 2);
        cr_assert_eq(own, -1);
        geerpc_xclient *x = xclient(c, GEERPC_SELECT_RANDOM);
        bool called = false;
        for (int i = 0; i < 200 && !called; i++) {
                char *s = echo_via(x, i);
                called = streq(s, drained);
                free(s);
        }
        cr_assert(called, "the server is still passed over after the override was cleared");
        geerpc_xclient_unref(x);
        tl_cluster_free(c);
        reg_rmdir(dir);
}

/* The header listing of a plain GET for service (NULL: all). */
static char *plain_list(TlCluster *c, const char *service) {
        char url[300];
        TlHttp h;
        snprintf(url, sizeof url, "%s%s%s", c->url, service ? "?service=" : "", strempty(service));
        cr_assert_eq(http("GET", url, NULL, &h), 200);
        char *v = tl_http_header(&h, "X-Geerpc-Servers");
        tl_http_done(&h);
        return v ?: strdup("");
}

/* addr ("tcp@127.0.0.1:PORT") spelled another way: HOST:PORT. */
static void respell(const char *addr, const char *host, char *buf, size_t size) {
        const char *port = strrchr(addr, ':');
        cr_assert(port && strncmp(addr, "tcp@127.0.0.1:", 14) == 0, "%s", addr);
        snprintf(buf, size, "tcp@%s:%s", host, port + 1);
}

/* An override belongs to the canonical address: set through one spelling
 * and cleared through another, it is the registered server's. And every
 * cached listing (per service, plain and JSON) follows it at once. */
Test(services, overrides_by_any_spelling_and_listings_follow) {
        Fleet f = fleet_start();
        const char *foo = f.c->addrs[f.foo], *echo = f.c->addrs[f.echo];
        char *all = joined(3, foo, echo, f.go_addr), *echos = joined(2, echo, f.go_addr),
             *foos = joined(2, foo, f.go_addr), *go_only = joined(1, f.go_addr), *rest = joined(2, foo, f.go_addr);
        /* Fill every cache first. */
        for (int round = 0; round < 2; round++) {
                char *v = plain_list(f.c, "Echo");
                cr_assert_str_eq(v, echos);
                free(v);
                v = plain_list(f.c, NULL);
                cr_assert_str_eq(v, all);
                free(v);
                json_decref(listing(f.c, "Echo"));
                json_decref(listing(f.c, NULL));
        }

        char other[300], third[300];
        respell(echo, "127.1", other, sizeof other);
        respell(echo, "0x7f.0.0.1", third, sizeof third);
        TlHttp h;
        cr_assert_eq(patch(f.c, NULL, other, "0", &h), 200);
        cr_assert(strstr(h.body, "weight 0 (its own: 1)"), "the override missed the registered server: %s", h.body);
        tl_http_done(&h);

        char *v = plain_list(f.c, "Echo");
        cr_assert_str_eq(v, go_only, "a stale ?service=Echo listing");
        free(v);
        v = plain_list(f.c, "Foo");
        cr_assert_str_eq(v, foos, "?service=Foo is not Echo's");
        free(v);
        v = plain_list(f.c, NULL);
        cr_assert_str_eq(v, rest);
        free(v);
        json_t *l = listing(f.c, "Echo"), *e = entry_of(l, echo);
        cr_assert_not_null(e, "a draining server is still in the JSON listing");
        cr_assert_eq(json_integer_value(json_object_get(e, "weight")), 0);
        cr_assert_eq(json_integer_value(json_object_get(e, "server_weight")), 1);
        cr_assert_null(entry_of(l, foo), "?service=Echo's JSON lists a Foo server");
        json_decref(l);
        int own;
        cr_assert_eq(weight_of(f.c, echo, &own), 0);
        assert_never_called(f.c, echo, 50);

        cr_assert_eq(patch(f.c, NULL, third, "clear", NULL), 200);
        v = plain_list(f.c, "Echo");
        cr_assert_str_eq(v, echos);
        free(v);
        l = listing(f.c, "Echo");
        cr_assert_null(json_object_get(entry_of(l, echo), "weight"));
        json_decref(l);

        free(all);
        free(echos);
        free(foos);
        free(go_only);
        free(rest);
        fleet_stop(&f);
}

/* ---- bad input -------------------------------------------------------------------- */

Test(services, bad_headers_get_400_with_one_line) {
        Reg r = reg_start(NULL);
        static const struct {
                const char *header, *reason;
        } bad[] = {
                { "X-Geerpc-Services: Foo,Ba r", "invalid X-Geerpc-Services: a service name must be 1-64 ASCII letters, "
                                                 "digits or '_'" },
                { "X-Geerpc-Services: Foo.Sum", "invalid X-Geerpc-Services: a service name must be" },
                { "X-Geerpc-Weight: 1001", "invalid X-Geerpc-Weight: a weight must be an integer from 0 to 1000" },
                { "X-Geerpc-Weight: -1", "invalid X-Geerpc-Weight:" },
                { "X-Geerpc-Weight: 3x", "invalid X-Geerpc-Weight:" },
                { "X-Geerpc-Weight: 99999999999999999999", "invalid X-Geerpc-Weight:" },
                { "X-Geerpc-Labels: zone", "invalid X-Geerpc-Labels: a label must be key=value" },
                { "X-Geerpc-Labels: zone=a,zone=b", "invalid X-Geerpc-Labels: a label key appears twice" },
                { "X-Geerpc-Labels: 9zone=a", "invalid X-Geerpc-Labels: a label key must be" },
                { "X-Geerpc-Labels: zone=a b", "invalid X-Geerpc-Labels: a label value must be" },
                { "X-Geerpc-Labels: k0=,k1=,k2=,k3=,k4=,k5=,k6=,k7=,k8=,k9=,ka=,kb=,kc=,kd=,ke=,kf=,kg=",
                  "invalid X-Geerpc-Labels: more than 16 labels" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                TlHttp h;
                const char *headers[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", bad[i].header, NULL };
                cr_assert_eq(http("POST", r.url, headers, &h), 400, "%s", bad[i].header);
                cr_assert(strncmp(h.body, bad[i].reason, strlen(bad[i].reason)) == 0, "%s: %s", bad[i].header, h.body);
                cr_assert_eq(strchr(h.body, '\n'), h.body + strlen(h.body) - 1, "one line: %s", h.body);
                tl_http_done(&h);
        }
        reg_assert_list(&r, "");

        /* Limits that are fine. */
        const char *good[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", "X-Geerpc-Services: Foo, Echo ,Foo",
                               "X-Geerpc-Weight: 1000", "X-Geerpc-Labels: b=2, a=1,z-k.v=x:y/z@w+1", NULL };
        cr_assert_eq(http("POST", r.url, good, NULL), 200);
        json_t *v;
        {
                TlHttp h;
                cr_assert_eq(http("GET", r.url, (const char *[]) { "Accept: application/json", NULL }, &h), 200);
                v = json_loads(h.body, 0, NULL);
                tl_http_done(&h);
        }
        json_t *e = json_array_get(json_object_get(v, "servers"), 0);
        cr_assert_str_eq(compact(json_object_get(e, "services")), "[\"Echo\",\"Foo\"]");
        cr_assert_eq(json_integer_value(json_object_get(e, "weight")), 1000);
        cr_assert_str_eq(compact(json_object_get(e, "labels")),
                         "{\"a\":\"1\",\"b\":\"2\",\"z-k.v\":\"x:y/z@w+1\"}");
        json_decref(v);

        /* PATCH: the override's value. */
        TlHttp h;
        const char *p1[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", "X-Geerpc-Weight-Override: lots", NULL };
        cr_assert_eq(http("PATCH", r.url, p1, &h), 400);
        cr_assert_str_eq(h.body, "invalid X-Geerpc-Weight-Override: a weight from 0 to 1000, or clear\n");
        tl_http_done(&h);
        const char *p2[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", NULL };
        cr_assert_eq(http("PATCH", r.url, p2, &h), 400);
        cr_assert_str_eq(h.body, "missing X-Geerpc-Weight-Override header\n");
        tl_http_done(&h);
        const char *p3[] = { "X-Geerpc-Server: tcp@nowhere", "X-Geerpc-Weight-Override: 0", NULL };
        cr_assert_eq(http("PATCH", r.url, p3, &h), 400);
        cr_assert(strncmp(h.body, "invalid address: ", 17) == 0, "%s", h.body);
        tl_http_done(&h);
        reg_assert_running(&r);
        reg_stop(&r);
}

/* ---- the state file ------------------------------------------------------------ */

Test(services, state_file_keeps_services_weights_labels_overrides) {
        char *dir = reg_tmpdir(), path[512], arg[600];
        snprintf(path, sizeof path, "%s/servers.json", dir);
        snprintf(arg, sizeof arg, "--state-file=%s", path);
        Reg r = reg_start((const char *[]) { arg, NULL });
        const char *a[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", "X-Geerpc-Services: Foo,Echo",
                            "X-Geerpc-Weight: 2", "X-Geerpc-Labels: zone=a,rack=7", NULL };
        cr_assert_eq(http("POST", r.url, a, NULL), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        const char *o1[] = { "X-Geerpc-Server: tcp@127.0.0.1:7001", "X-Geerpc-Weight-Override: 7", NULL };
        const char *o2[] = { "X-Geerpc-Server: tcp@127.0.0.1:7009", "X-Geerpc-Weight-Override: 0", NULL };
        TlHttp h;
        cr_assert_eq(http("PATCH", r.url, o1, NULL), 200);
        cr_assert_eq(http("PATCH", r.url, o2, &h), 200);
        cr_assert_str_eq(h.body, "tcp@127.0.0.1:7009: weight 0, kept for when it registers\n");
        tl_http_done(&h);
        cr_assert_eq(reg_metric(&r, "geeregistry_overrides"), 2);
        cr_assert_eq(reg_metric(&r, "geeregistry_servers{service=\"Foo\"}"), 2, "Foo's, and the one unknown");
        cr_assert_eq(reg_metric(&r, "geeregistry_services"), 2);
        reg_stop(&r);

        char *s = reg_read_file(path);
        cr_assert_not_null(strstr(s, "\"version\":2"), "%s", s);
        cr_assert_not_null(strstr(s, "\"services\":[\"Echo\",\"Foo\"],\"weight\":2,\"labels\":{\"rack\":\"7\",\"zone\":\"a\"}"),
                           "%s", s);
        cr_assert_not_null(strstr(s, "\"overrides\":[{\"addr\":\"tcp@127.0.0.1:7001\",\"weight\":7},"
                                     "{\"addr\":\"tcp@127.0.0.1:7009\",\"weight\":0}]"),
                           "%s", s);
        free(s);

        r = reg_start((const char *[]) { arg, NULL });
        cr_assert_eq(http("GET", r.url, (const char *[]) { "Accept: application/json", NULL }, &h), 200);
        json_t *v = json_loads(h.body, 0, NULL);
        tl_http_done(&h);
        json_t *e = json_array_get(json_object_get(v, "servers"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(e, "addr")), "tcp@127.0.0.1:7001");
        cr_assert_str_eq(compact(json_object_get(e, "services")), "[\"Echo\",\"Foo\"]");
        cr_assert_eq(json_integer_value(json_object_get(e, "weight")), 7);
        cr_assert_eq(json_integer_value(json_object_get(e, "server_weight")), 2);
        cr_assert_str_eq(compact(json_object_get(e, "labels")), "{\"rack\":\"7\",\"zone\":\"a\"}");
        e = json_array_get(json_object_get(v, "servers"), 1);
        cr_assert_null(json_object_get(e, "services"));
        cr_assert_null(json_object_get(e, "weight"), "the default weight");
        json_decref(v);
        /* The override of an address that never registered came back too. */
        const char *c9[] = { "X-Geerpc-Server: tcp@127.0.0.1:7009", "X-Geerpc-Weight-Override: clear", NULL };
        cr_assert_eq(http("PATCH", r.url, c9, NULL), 200);
        reg_stop(&r);

        /* A version 1 file still loads (and is written back as version 2). */
        char v1[256];
        snprintf(v1, sizeof v1, "{\"version\":1,\"servers\":[{\"addr\":\"tcp@127.0.0.1:7005\",\"heartbeat_ms\":%llu}]}\n",
                 (unsigned long long) (now_usec(CLOCK_REALTIME) / USEC_PER_MSEC));
        reg_write_file(path, v1);
        r = reg_start((const char *[]) { arg, NULL });
        reg_assert_list(&r, "tcp@127.0.0.1:7005");
        reg_stop(&r);
        s = reg_read_file(path);
        cr_assert_not_null(strstr(s, "{\"version\":2,\"servers\":[{\"addr\":\"tcp@127.0.0.1:7005\""), "%s", s);
        cr_assert_not_null(strstr(s, ",\"heartbeat_ms\":"), "%s", s);
        cr_assert_not_null(strstr(s, "}],\"overrides\":[]}"), "%s", s);
        free(s);
        reg_rmdir(dir);
}

/* ---- the whole list in the headers, for Go clients ------------------------------ */

/* A raw GET; returns the number of addresses in each listing header and
 * whether the server closed the connection after the answer. */
static void raw_get(const Reg *r, size_t *ret_geerpc, size_t *ret_rpc) {
        int fd = tl_connect(r->addr);
        cr_assert_geq(fd, 0);
        const char req[] = "GET /_geerpc_/registry HTTP/1.1\r\nHost: x\r\n\r\n";
        cr_assert(tl_write_all(fd, req, sizeof req - 1));
        size_t len;
        char *data = tl_read_until_eof(fd, 20 * S, &len);
        close(fd);
        char *end = strstr(data, "\r\n\r\n");
        cr_assert_not_null(end, "no end of headers in %zu bytes", len);
        cr_assert_eq((size_t) (end + 4 - data), len, "nothing after the headers, and EOF");
        *end = 0;
        cr_assert(strncmp(data, "HTTP/1.1 200 OK\r\n", 17) == 0);
        const char *names[] = { "\r\nX-Geerpc-Servers: ", "\r\nX-rpc-Servers: " };
        size_t *rets[] = { ret_geerpc, ret_rpc };
        for (size_t i = 0; i < 2; i++) {
                const char *p = strstr(data, names[i]);
                cr_assert_not_null(p, "no %s", names[i] + 2);
                p += strlen(names[i]);
                size_t n = 1;
                for (; *p && *p != '\r'; p++)
                        n += *p == ',';
                *rets[i] = n;
        }
        free(data);
}

/* A state file of n servers heartbeating now, the address of server i
 * written by addr_of() into buf; returns the --state-file argument and
 * the directory (reg_rmdir() it). */
static char *state_of(unsigned n, void (*addr_of)(unsigned i, char *buf, size_t size), char **ret_dir) {
        char *dir = reg_tmpdir(), path[512], addr[256], *arg;
        snprintf(path, sizeof path, "%s/servers.json", dir);
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f);
        unsigned long long now = now_usec(CLOCK_REALTIME) / USEC_PER_MSEC;
        fprintf(f, "{\"version\":2,\"servers\":[");
        for (unsigned i = 0; i < n; i++) {
                addr_of(i, addr, sizeof addr);
                fprintf(f, "%s{\"addr\":\"%s\",\"heartbeat_ms\":%llu}", i ? "," : "", addr, now);
        }
        fprintf(f, "]}\n");
        fclose(f);
        cr_assert_gt(asprintf(&arg, "--state-file=%s", path), 0);
        *ret_dir = dir;
        return arg;
}

static void ipv4_addr(unsigned i, char *buf, size_t size) {
        snprintf(buf, size, "tcp@10.%u.%u.%u:7001", i >> 16, (i >> 8) & 255, i & 255);
}

/* Host names of three 60-byte labels: addresses of 198 bytes. */
static void long_addr(unsigned i, char *buf, size_t size) {
        char label[61];
        memset(label, 'a', 60);
        label[60] = 0;
        snprintf(buf, size, "tcp@%s.%s.%s.h%05u:7001", label, label, label, i);
}

Test(services, a_65536_server_list_goes_out_whole) {
        char *dir, *arg = state_of(65536, ipv4_addr, &dir);
        Reg r = reg_start((const char *[]) { arg, NULL });

        size_t a, b;
        raw_get(&r, &a, &b);
        cr_assert_eq(a, 65536);
        cr_assert_eq(b, 65536);
        raw_get(&r, &a, &b); /* from the cache, on a new connection */
        cr_assert_eq(a, 65536);

        /* The JSON answer: every server in the body, headers cut. */
        TlHttp h;
        cr_assert_eq(http("GET", r.url, (const char *[]) { "Accept: application/json", NULL }, &h), 200);
        char *t = tl_http_header(&h, "X-Geerpc-Servers-Truncated");
        cr_assert_str_eq(t, "1");
        free(t);
        json_t *v = json_loads(h.body, 0, NULL);
        cr_assert_eq(json_array_size(json_object_get(v, "servers")), 65536);
        json_decref(v);
        tl_http_done(&h);

        /* A Go client reads them all. */
        char *out = go_interop((const char *[]) { r.url, "X-Geerpc-Server", "X-Geerpc-Servers", NULL });
        size_t n = 1;
        for (const char *p = out; *p; p++)
                n += *p == ',';
        cr_assert_eq(n, 65536, "the Go client saw %zu servers", n);
        free(out);
        /* Keep-alive answers still work beside it (a refresh: it is full). */
        cr_assert_eq(reg_post(&r, "tcp@10.0.0.0:7001"), 200);
        reg_assert_running(&r);
        reg_stop(&r);
        reg_rmdir(dir);
        free(arg);
}

/* A reader that stops reading a raw answer larger than the kernel's
 * buffers holds nothing up, and is cut off after the idle timeout without
 * progress; one that leaves at once costs nothing. */
Test(services, a_stuck_reader_of_a_long_list_is_cut_off) {
        /* 20,000 addresses of 198 bytes: two headers of 4 MB. */
        char *dir, *arg = state_of(20000, long_addr, &dir);
        Reg r = reg_start((const char *[]) { arg, "--idle-timeout=1s", NULL });

        const char get[] = "GET /_geerpc_/registry HTTP/1.1\r\nHost: x\r\n\r\n";
        int gone = tl_connect(r.addr);
        cr_assert(tl_write_all(gone, get, sizeof get - 1));
        close(gone);
        int stuck = tl_connect(r.addr), small = 4096;
        cr_assert_geq(stuck, 0);
        cr_assert_eq(setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        cr_assert(tl_write_all(stuck, get, sizeof get - 1));

        /* Served meanwhile. */
        tl_sleep(200 * USEC_PER_MSEC);
        size_t a, b;
        raw_get(&r, &a, &b);
        cr_assert_eq(a, 20000);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        /* Only /metrics' own connection left. */
        cr_assert(reg_wait_metric(&r, "geeregistry_http_connections", 1, 10 * S), "the stuck reader was not cut off");
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 5 * S);
        /* (meson runs the tests with GEERPC_LOG_LEVEL=debug) */
        char *line = tl_wait_line(r.proc, "raw response given up", 5 * S);
        cr_assert_not_null(line, "the registry did not give the stuck reader up");
        free(line);
        line = tl_wait_line(r.proc, "no progress in time", 5 * S);
        cr_assert_not_null(line, "the stuck reader was not given up for want of progress");
        free(line);
        close(stuck);
        reg_assert_running(&r);
        reg_stop(&r);
        reg_rmdir(dir);
        free(arg);
}

int main(int argc, char *argv[]) {
        return tl_go_test_main(argc, argv, "geerpc-interop", GO_BINARY_ENV);
}
