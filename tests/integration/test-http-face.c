/* SPDX-License-Identifier: MIT */

/* HTTP on the RPC port of the real geerpc-example: CONNECT (http@
 * addresses) for clients, the xclient, geerpcctl and the registry;
 * /metrics counting every kind of call exactly; /debug/geerpc; --no-http;
 * bad, big and idle HTTP connections that leave RPC alone; a socket from
 * systemd-socket-activate serving both. */

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "config.h"
#include "geerpc/client.h"
#include "geerpc/discovery.h"
#include "geerpc/xclient.h"
#include "testlib.h"

#define OPTION "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\"}\n"
#define SOCKET_ACTIVATE "/usr/bin/systemd-socket-activate"

/* A running geerpc-example and the ways to reach it. */
typedef struct Example {
        TlProc *proc;
        char *addr;      /* tcp@127.0.0.1:PORT */
        char http[64];   /* http@127.0.0.1:PORT */
        char base[64];   /* http://127.0.0.1:PORT */
        char hostport[32];
} Example;

static void example_init(Example *e, TlProc *proc, char *addr) {
        cr_assert_eq(strncmp(addr, "tcp@", 4), 0, "%s", addr);
        *e = (Example) { .proc = proc, .addr = addr };
        snprintf(e->hostport, sizeof e->hostport, "%s", addr + 4);
        snprintf(e->http, sizeof e->http, "http@%s", e->hostport);
        snprintf(e->base, sizeof e->base, "http://%s", e->hostport);
}

static Example example_start(const char *const *args) {
        char *addr;
        Example e;
        TlProc *p = tl_start_example(args, NULL, &addr);
        example_init(&e, p, addr);
        return e;
}

static void example_stop(Example *e) {
        tl_kill(e->proc, SIGTERM);
        cr_assert_eq(tl_wait_exit(e->proc, 20 * USEC_PER_SEC), 0, "geerpc-example did not stop cleanly");
        tl_proc_free(e->proc);
        free(e->addr);
}

/* GET base+path; returns the status (0: no answer), the body in *ret_body. */
static long get(const Example *e, const char *path, const char *accept, char **ret_body) {
        char url[256], header[128];
        TlHttp h;
        snprintf(url, sizeof url, "%s%s", e->base, path);
        snprintf(header, sizeof header, "Accept: %s", accept ?: "*/*");
        (void) tl_http("GET", url, (const char *[]) { header, NULL }, &h);
        long status = h.status;
        if (ret_body)
                *ret_body = strdup(h.body ?: "");
        tl_http_done(&h);
        return status;
}

/* The value of one sample line of /metrics ("NAME{LABELS}"), -1 if absent. */
static long long metric(const Example *e, const char *series) {
        char *body;
        cr_assert_eq(get(e, "/metrics", NULL, &body), 200);
        long long v = -1;
        char *save = NULL;
        size_t l = strlen(series);
        for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (strncmp(line, series, l) == 0 && line[l] == ' ') {
                        v = strtoll(line + l + 1, NULL, 10);
                        break;
                }
        free(body);
        return v;
}

/* Polls until the series has the value (the server notices closed
 * connections and finished handlers on its own time). */
static void expect_metric(const Example *e, const char *series, long long want) {
        long long got = -1;
        for (int i = 0; i < 200; i++) {
                got = metric(e, series);
                if (got == want)
                        return;
                tl_sleep(50 * USEC_PER_MSEC);
        }
        cr_assert_fail("%s is %lld, expected %lld", series, got, want);
}

static long long sum(geerpc_client *c, int a, int b) {
        char args[64];
        json_t *reply = NULL;
        snprintf(args, sizeof args, "{\"Num1\":%d,\"Num2\":%d}", a, b);
        int r = tl_call_json(c, "Foo.Sum", args, &reply, NULL);
        cr_assert_eq(r, 0, "Foo.Sum: %s", strerror(-r));
        long long v = json_integer_value(reply);
        json_decref(reply);
        return v;
}

/* Sends raw bytes, reads until the server closes; malloc'd. */
static char *exchange(const char *addr, const char *req, bool half_close) {
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0);
        (void) tl_write_all(fd, req, strlen(req)); /* the server may close early */
        if (half_close)
                shutdown(fd, SHUT_WR);
        char *got = tl_read_until_eof(fd, 15 * USEC_PER_SEC, NULL);
        close(fd);
        return got;
}

/* ---- /metrics ------------------------------------------------------------- */

#define N 3

/* N calls of each kind there is; returns the number of RPC connections. */
static int make_calls_of_every_kind(const Example *e) {
        geerpc_client *c, *t;
        cr_assert_eq(geerpc_client_dial(&c, e->addr), 0);
        /* Through CONNECT too: the same counters. */
        cr_assert_eq(geerpc_client_dial(&t, e->http), 0);
        for (int i = 0; i < N; i++) {
                char *err = NULL;
                cr_assert_eq(sum(i % 2 ? c : t, i, 1), i + 1);
                cr_assert_eq(tl_call_json(c, "Foo.Sum", "{\"Num1\":\"x\"}", NULL, &err), -EREMOTEIO);
                cr_assert_str_eq(err, "Foo: Num1 and Num2 must be integers");
                free(err);
                cr_assert_eq(tl_call_json(t, "Foo.Nope", "{}", NULL, NULL), -EREMOTEIO);
                cr_assert_eq(tl_call_json(c, "Bar.Sum", "{}", NULL, NULL), -EREMOTEIO);
                cr_assert_eq(tl_call_json(c, "FooSum", "{}", NULL, NULL), -EREMOTEIO);
        }
        geerpc_client_unref(c);
        geerpc_client_unref(t);

        /* Timeouts: the client allows 200 ms, Foo.Sleep takes 1 s. */
        geerpc_client *slow;
        cr_assert_eq(geerpc_client_new(&slow), 0);
        cr_assert_eq(geerpc_client_set_handle_timeout(slow, 200 * USEC_PER_MSEC), 0);
        cr_assert_eq(geerpc_client_connect(slow, e->addr), 0);
        for (int i = 0; i < N; i++) {
                char *err = NULL;
                cr_assert_eq(tl_call_json(slow, "Foo.Sleep", "{\"Num1\":1}", NULL, &err), -EREMOTEIO);
                cr_assert_str_eq(err, "rpc server: request handle timeout: expect within 200ms");
                free(err);
        }
        geerpc_client_unref(slow);

        /* A body that is framed but does not parse; then calls whose
         * connection is gone before their handler returns. */
        for (int i = 0; i < N; i++) {
                char *got = exchange(e->addr,
                                     OPTION "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1}\n{\"Num1\":1,}\n", true);
                cr_assert(strstr(got, "rpc server: read body err"), "%s", got);
                free(got);
        }
        for (int i = 0; i < N; i++) {
                /* The server closes this connection (the garbage after the
                 * call) while the call runs: it is cancelled. After a mere
                 * EOF it would still answer. */
                int fd = tl_connect(e->addr);
                const char *req = OPTION "{\"ServiceMethod\":\"Foo.Sleep\",\"Seq\":1}\n{\"Num1\":1}\n";
                cr_assert(tl_write_all(fd, req, strlen(req)));
                tl_sleep(100 * USEC_PER_MSEC); /* read and handed to a worker */
                (void) tl_write_all(fd, "}}}", 3);
                cr_assert(tl_wait_eof(fd, 10 * USEC_PER_SEC));
                close(fd);
        }
        return 2 + 1 + N + N;
}

Test(http_face, metrics_count_every_kind_of_call_exactly) {
        Example e = example_start(NULL);
        int conns = make_calls_of_every_kind(&e);

        /* The cancelled calls count once their handlers return. */
        expect_metric(&e, "geerpc_server_calls_total{service=\"Foo\",method=\"Sleep\",code=\"canceled\"}", N);
        expect_metric(&e, "geerpc_server_connections", 0);
        const struct {
                const char *series;
                long long value;
        } want[] = {
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sum\",code=\"ok\"}", N },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sum\",code=\"error\"}", N },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sum\",code=\"bad_request\"}", N },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sum\",code=\"timeout\"}", 0 },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sleep\",code=\"timeout\"}", N },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sleep\",code=\"ok\"}", 0 },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"Sleep\",code=\"unavailable\"}", 0 },
                { "geerpc_server_calls_total{service=\"Foo\",method=\"\",code=\"unknown_method\"}", N },
                { "geerpc_server_calls_total{service=\"\",method=\"\",code=\"unknown_service\"}", N },
                { "geerpc_server_calls_total{service=\"\",method=\"\",code=\"bad_request\"}", N },
                { "geerpc_server_calls_total{service=\"_geerpc\",method=\"Describe\",code=\"ok\"}", 0 },
                /* ok and error ran the handler; bad_request did not. */
                { "geerpc_server_call_duration_seconds_count{service=\"Foo\",method=\"Sum\"}", 2 * N },
                { "geerpc_server_call_duration_seconds_bucket{service=\"Foo\",method=\"Sum\",le=\"+Inf\"}", 2 * N },
                /* Timeouts took the 200 ms; cancelled calls are not timed. */
                { "geerpc_server_call_duration_seconds_count{service=\"Foo\",method=\"Sleep\"}", N },
                { "geerpc_server_call_duration_seconds_bucket{service=\"Foo\",method=\"Sleep\",le=\"0.1\"}", 0 },
                { "geerpc_server_call_duration_seconds_bucket{service=\"Foo\",method=\"Sleep\",le=\"0.5\"}", N },
                { "geerpc_server_calls_in_flight", 0 },
                { "geerpc_server_accepted_connections_total{kind=\"rpc\"}", conns - 1 },
                { "geerpc_server_accepted_connections_total{kind=\"connect\"}", 1 },
                { "geerpc_build_info{version=\"" GEERPC_VERSION "\"}", 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                cr_assert_eq(metric(&e, want[i].series), want[i].value, "%s", want[i].series);
        /* Every scrape so far was one HTTP connection. */
        cr_assert_gt(metric(&e, "geerpc_server_accepted_connections_total{kind=\"http\"}"), ELEMENTSOF(want));
        cr_assert_gt(metric(&e, "geerpc_server_received_bytes_total"), 0);
        cr_assert_gt(metric(&e, "geerpc_server_sent_bytes_total"), 0);

        char *body;
        TlHttp h;
        char url[128];
        snprintf(url, sizeof url, "%s/metrics", e.base);
        cr_assert_eq(tl_http("GET", url, NULL, &h), 0);
        char *type = tl_http_header(&h, "Content-Type");
        cr_assert_str_eq(type, "text/plain; version=0.0.4; charset=utf-8");
        free(type);
        tl_http_done(&h);
        cr_assert_eq(tl_http("POST", url, NULL, &h), 0);
        cr_assert_eq(h.status, 405);
        tl_http_done(&h);
        cr_assert_eq(get(&e, "/metrics", NULL, &body), 200);
        int lint = tl_promtool_check(body);
        free(body);
        if (lint == -ENOENT)
                cr_log_warn("promtool is not installed (Debian: prometheus): the format was not linted");
        else
                cr_assert_eq(lint, 0, "promtool check metrics failed");
        example_stop(&e);
}

Test(http_face, metrics_pass_promtool) {
        Example e = example_start(NULL);
        (void) make_calls_of_every_kind(&e);
        char *body;
        cr_assert_eq(get(&e, "/metrics", NULL, &body), 200);
        int lint = tl_promtool_check(body);
        cr_assert_neq(lint, -ENOENT,
                      "promtool was found neither at $PROMTOOL nor on PATH (./.ci/dev test takes it out of "
                      "Debian's prometheus package into .cache/tools)");
        cr_assert_eq(lint, 0, "promtool check metrics failed on:\n%s", body);
        free(body);
        example_stop(&e);
}

/* ---- /debug/geerpc -------------------------------------------------------- */

static json_t *method_json(json_t *root, const char *service, const char *method) {
        size_t i, j;
        json_t *svc, *m;
        json_array_foreach(json_object_get(root, "services"), i, svc) {
                if (!streq(json_string_value(json_object_get(svc, "name")), service))
                        continue;
                json_array_foreach(json_object_get(svc, "methods"), j, m)
                        if (streq(json_string_value(json_object_get(m, "name")), method))
                                return m;
        }
        return NULL;
}

static json_int_t int_at(json_t *o, const char *path) {
        char copy[128];
        snprintf(copy, sizeof copy, "%s", path);
        for (char *save = NULL, *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
                o = json_object_get(o, k);
        cr_assert(json_is_integer(o), "%s is not an integer", path);
        return json_integer_value(o);
}

static void check_debug_json(const char *body) {
        json_error_t err;
        json_t *root = json_loads(body, 0, &err);
        cr_assert_not_null(root, "not JSON: %s: %s", err.text, body);
        cr_assert_str_eq(json_string_value(json_object_get(root, "version")), GEERPC_VERSION);
        json_t *sum = method_json(root, "Foo", "Sum"), *slp = method_json(root, "Foo", "Sleep");
        cr_assert(sum && slp, "%s", body);
        cr_assert_str_eq(json_string_value(json_object_get(sum, "kind")), "inline");
        cr_assert_str_eq(json_string_value(json_object_get(slp, "kind")), "blocking");
        cr_assert_str_eq(json_string_value(json_object_get(sum, "description")), "returns Num1 + Num2");
        cr_assert_eq(int_at(sum, "calls"), 3 * N);
        cr_assert_eq(int_at(sum, "errors"), 2 * N);
        cr_assert_eq(int_at(sum, "codes.ok"), N);
        cr_assert_eq(int_at(sum, "codes.error"), N);
        cr_assert_eq(int_at(sum, "codes.bad_request"), N);
        cr_assert_eq(int_at(sum, "latency.count"), 2 * N);
        cr_assert_eq(json_array_size(json_object_get(json_object_get(sum, "latency"), "buckets")), 20);
        cr_assert_eq(int_at(slp, "codes.timeout"), N);
        cr_assert_eq(int_at(root, "calls.unknown_service"), N);
        cr_assert_eq(int_at(root, "calls.unknown_method"), N);
        cr_assert_eq(int_at(root, "calls.ok"), N);
        cr_assert(method_json(root, "_geerpc", "Describe"), "the built-in service is listed");
        json_decref(root);
}

Test(http_face, debug_page_html_and_json) {
        Example e = example_start(NULL);
        (void) make_calls_of_every_kind(&e);
        expect_metric(&e, "geerpc_server_calls_total{service=\"Foo\",method=\"Sleep\",code=\"canceled\"}", N);

        char *body;
        cr_assert_eq(get(&e, "/debug/geerpc", NULL, &body), 200);
        const char *html[] = { "<title>GeeRPC services</title>", "<h2>Service Foo</h2>",
                               "<tr><td><code>Sum</code></td><td>inline</td><td align=right>9</td><td align=right>6</td>",
                               "<tr><td><code>Sleep</code></td><td>blocking</td><td align=right>6</td>",
                               "returns Num1 + Num2", "<h2>Service _geerpc</h2>" };
        for (size_t i = 0; i < ELEMENTSOF(html); i++)
                cr_assert_not_null(strstr(body, html[i]), "missing %s in:\n%s", html[i], body);
        free(body);

        cr_assert_eq(get(&e, "/debug/geerpc", "application/json", &body), 200);
        check_debug_json(body);
        free(body);
        cr_assert_eq(get(&e, "/debug/geerpc?format=json", NULL, &body), 200);
        check_debug_json(body);
        free(body);

        cr_assert_eq(get(&e, "/nothing/here", NULL, &body), 404);
        cr_assert_str_eq(body, "404 page not found\n");
        free(body);
        example_stop(&e);
}

/* ---- CONNECT ------------------------------------------------------------- */

Test(http_face, connect_handshake_as_the_original) {
        Example e = example_start(NULL);
        const char *call = OPTION "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":7}\n{\"Num1\":3,\"Num2\":4}\n";
        const char *reply = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":7,\"Error\":\"\"}\n7\n";
        const char *heads[] = {
                "CONNECT /_geeprc_ HTTP/1.0\n\n",                            /* Go's client */
                "CONNECT /_geerpc_ HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n", /* the other spelling */
        };
        for (size_t i = 0; i < ELEMENTSOF(heads); i++) {
                char req[512], want[256];
                snprintf(req, sizeof req, "%s%s", heads[i], call);
                snprintf(want, sizeof want, "HTTP/1.0 200 Connected to Gee RPC\n\n%s", reply);
                char *got = exchange(e.addr, req, true);
                cr_assert_str_eq(got, want);
                free(got);
        }

        /* In pieces, the handshake's answer read before the Option is sent. */
        int fd = tl_connect(e.addr);
        cr_assert(tl_write_all(fd, "CONN", 4));
        tl_sleep(100 * USEC_PER_MSEC);
        cr_assert(tl_write_all(fd, "ECT /_geeprc_ HTTP/1.0\n", 23));
        tl_sleep(100 * USEC_PER_MSEC);
        cr_assert(tl_write_all(fd, "\n", 1));
        char buf[64] = {};
        size_t got = 0;
        while (got < 35) {
                ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                cr_assert_gt(k, 0);
                got += (size_t) k;
        }
        cr_assert_str_eq(buf, "HTTP/1.0 200 Connected to Gee RPC\n\n");
        cr_assert(tl_write_all(fd, call, strlen(call)));
        shutdown(fd, SHUT_WR);
        char *rest = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        cr_assert_str_eq(rest, reply);
        free(rest);
        close(fd);

        /* Refused: another path, a malformed head, a head too large. */
        char *r = exchange(e.addr, "CONNECT /other HTTP/1.0\n\n", false);
        cr_assert_str_eq(r, "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n404 page not found\n");
        free(r);
        r = exchange(e.addr, "CONNECT /_geeprc_ HTTP/1.0\nno colon here\n\n", false);
        cr_assert_str_eq(r, "HTTP/1.0 400 Bad Request\r\n\r\n");
        free(r);
        char *big = malloc(20000);
        cr_assert_not_null(big);
        int n = sprintf(big, "CONNECT /_geeprc_ HTTP/1.0\nX-Pad: ");
        memset(big + n, 'p', 17000);
        strcpy(big + n + 17000, "\n\n");
        r = exchange(e.addr, big, false);
        cr_assert(*r == 0 || strncmp(r, "HTTP/1.0 431 ", 13) == 0, "%s", r);
        free(r);
        free(big);
        char *line = tl_wait_line(e.proc, "refused CONNECT from tcp@127.0.0.1:", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);

        /* Any other method on the path: the original's 405. */
        char *body;
        cr_assert_eq(get(&e, "/_geeprc_", NULL, &body), 405);
        cr_assert_str_eq(body, "405 must CONNECT\n");
        free(body);
        cr_assert_eq(get(&e, "/_geerpc_", NULL, &body), 405);
        free(body);
        example_stop(&e);
}

Test(http_face, http_addresses_for_the_client_xclient_geerpcctl_and_registry) {
        Example e = example_start(NULL);

        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, e.http), 0);
        cr_assert_eq(sum(c, 20, 22), 42);
        cr_assert_str_eq(geerpc_client_get_address(c), e.http);
        geerpc_client_unref(c);

        geerpc_discovery *d;
        geerpc_xclient *x;
        cr_assert_eq(geerpc_discovery_new_static(&d, (const char *const[]) { e.http }, 1), 0);
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_ROUND_ROBIN), 0);
        json_t *args = json_pack("{s:i,s:i}", "Num1", 1, "Num2", 2), *reply = NULL;
        cr_assert_eq(geerpc_xclient_call(x, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 3);
        json_decref(reply);
        json_decref(args);
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);

        char server[80], *out = NULL;
        snprintf(server, sizeof server, "--server=%s", e.http);
        const char *argv[] = { tl_binary("geerpcctl"), server, "call", "Foo.Sum", "{\"Num1\":5,\"Num2\":6}", NULL };
        cr_assert_eq(tl_run(argv, NULL, 30 * USEC_PER_SEC, &out, NULL), 0);
        cr_assert_str_eq(out, "11\n");
        free(out);

        /* Registered as http@ (the registry accepts it), found, called. */
        const char *reg_argv[] = { tl_binary("geeregistry"), "--listen=127.0.0.1:0", NULL };
        TlProc *reg = tl_spawn(reg_argv, NULL);
        char *line = tl_wait_line(reg, "listening on ", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        char url[160], registry[200], advertise[100];
        cr_assert_eq(sscanf(strstr(line, "http://"), "%159s", url), 1);
        free(line);
        snprintf(registry, sizeof registry, "--registry=%s", url);
        snprintf(advertise, sizeof advertise, "--advertise=%s", e.http);
        char *addr2;
        TlProc *srv = tl_start_example((const char *[]) { registry, advertise, NULL }, NULL, &addr2);
        line = tl_wait_line(reg, "registered http@127.0.0.1:", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "the registry did not accept an http@ address");
        free(line);
        const char *via[] = { tl_binary("geerpcctl"), registry, "call", "Foo.Sum", "{\"Num1\":7,\"Num2\":8}", NULL };
        cr_assert_eq(tl_run(via, NULL, 30 * USEC_PER_SEC, &out, NULL), 0);
        cr_assert_str_eq(out, "15\n");
        free(out);
        tl_kill(srv, SIGTERM);
        tl_wait_exit(srv, 20 * USEC_PER_SEC);
        tl_proc_free(srv);
        free(addr2);
        tl_kill(reg, SIGTERM);
        tl_wait_exit(reg, 20 * USEC_PER_SEC);
        tl_proc_free(reg);
        example_stop(&e);
}

Test(http_face, no_http_serves_rpc_only) {
        Example e = example_start((const char *[]) { "--no-http", NULL });
        cr_assert_eq(get(&e, "/metrics", NULL, NULL), 0, "--no-http still answered HTTP");
        char *line = tl_wait_line(e.proc, "options error", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        geerpc_client *c;
        cr_assert_lt(geerpc_client_dial(&c, e.http), 0, "CONNECT was answered");
        cr_assert_eq(geerpc_client_dial(&c, e.addr), 0);
        cr_assert_eq(sum(c, 1, 1), 2);
        geerpc_client_unref(c);
        example_stop(&e);
}

Test(http_face, unix_socket_serves_http_too) {
        char dir[] = "/tmp/geerpc-http-XXXXXX", listen[128];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(listen, sizeof listen, "--listen=unix@%s/s.sock", dir);
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { listen, NULL }, NULL, &addr);
        char *got = exchange(addr, "GET /debug/geerpc?format=json HTTP/1.0\r\n\r\n", false);
        cr_assert(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", got);
        cr_assert_not_null(strstr(got, "\"name\":\"Foo\""), "%s", got);
        free(got);
        got = exchange(addr, OPTION "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1}\n{\"Num1\":1,\"Num2\":1}\n", true);
        cr_assert_str_eq(got, "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}\n2\n");
        free(got);
        tl_kill(p, SIGTERM);
        cr_assert_eq(tl_wait_exit(p, 20 * USEC_PER_SEC), 0);
        tl_proc_free(p);
        free(addr);
        snprintf(listen, sizeof listen, "%s/s.sock", dir);
        unlink(listen);
        rmdir(dir);
}

/* ---- bad and idle HTTP ----------------------------------------------------- */

#define IDLE 1000

Test(http_face, bad_big_and_idle_http_leave_rpc_alone, .timeout = 240) {
        struct rlimit rl;
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_cur < IDLE + 200) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t) IDLE * 4);
                cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        }
        /* All from 127.0.0.1: past the default cap of connections per
         * address, which would refuse the RPC client below. */
        Example e = example_start((const char *[]) { "--log-level=info", "--max-connections-per-ip=0", NULL });
        TlCaller *k = tl_caller_start(e.addr, 2 * USEC_PER_MSEC);

        /* Garbage that looks like HTTP, and headers far too large. */
        const char *garbage[] = { "XYZZY\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "G\x01\x02\x03 / HTTP/1.1\r\n\r\n",
                                  "POST /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n" };
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                char *r = exchange(e.addr, garbage[i], true);
                cr_assert(*r == 0 || strncmp(r, "HTTP/1.", 7) == 0, "%s -> %s", garbage[i], r);
                free(r);
        }
        size_t big = 64 * 1024;
        char *req = malloc(big + 64);
        cr_assert_not_null(req);
        int n = sprintf(req, "GET /metrics HTTP/1.1\r\nX-Pad: ");
        memset(req + n, 'b', big);
        strcpy(req + n + big, "\r\n\r\n");
        char *r = exchange(e.addr, req, false);
        cr_assert(*r == 0 || strncmp(r, "HTTP/1.1 431", 12) == 0, "%.60s", r);
        free(r);
        free(req);

        /* Idle connections: half send the start of a request and stop,
         * half send nothing at all. */
        int *fds = calloc(IDLE, sizeof(int));
        for (int i = 0; i < IDLE; i++) {
                fds[i] = tl_connect(e.addr);
                cr_assert_geq(fds[i], 0, "connection %d: %s", i, strerror(-fds[i]));
                if (i % 2 == 0)
                        (void) tl_write_all(fds[i], "GET /metrics HTTP/1.1\r\nHost: x\r\n", 32);
        }
        tl_sleep(1 * USEC_PER_SEC);
        /* A new RPC connection, meanwhile, and calls on it. */
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, e.http), 0);
        for (int i = 0; i < 50; i++)
                cr_assert_eq(sum(c, i, i), 2 * i);
        geerpc_client_unref(c);
        tl_sleep(1 * USEC_PER_SEC);

        unsigned ok, failed;
        usec_t slowest;
        tl_caller_stop(k, &ok, &failed, &slowest);
        cr_assert_eq(failed, 0, "%u RPC calls failed", failed);
        cr_assert_gt(ok, 100);
        cr_assert_lt(slowest, 2 * USEC_PER_SEC, "an RPC call took %" PRIu64 " µs", slowest);

        for (int i = 0; i < IDLE; i++)
                close(fds[i]);
        free(fds);
        /* Once they are gone, HTTP is served again (the per-IP limit). */
        expect_metric(&e, "geerpc_server_connections", 0);
        cr_assert_eq(tl_wait_exit(e.proc, 0), -ETIMEDOUT, "the server died");
        example_stop(&e);
}

Test(http_face, stop_closes_idle_http_connections_at_once) {
        Example e = example_start(NULL);
        int fd = tl_connect(e.addr);
        const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"; /* keep-alive */
        cr_assert(tl_write_all(fd, req, strlen(req)));
        char buf[256];
        cr_assert_gt(recv(fd, buf, sizeof buf, 0), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        example_stop(&e);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 5 * USEC_PER_SEC, "an idle HTTP connection held the stop");
        close(fd);
}

/* ---- socket activation ----------------------------------------------------- */

Test(http_face, socket_from_systemd_serves_rpc_and_http) {
        if (access(SOCKET_ACTIVATE, X_OK) < 0)
                cr_skip_test("%s is not installed", SOCKET_ACTIVATE);
        char listen[64], addr[80];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", tl_free_port());
        snprintf(addr, sizeof addr, "tcp@%s", listen);
        const char *argv[] = { SOCKET_ACTIVATE, "-l", listen, "-E", "GEERPC_LOG_LEVEL", tl_binary("geerpc-example"),
                               "--listen=tcp@127.0.0.1:1", NULL };
        TlProc *p = tl_spawn(argv, NULL);
        char *line = tl_wait_line(p, "Listening on", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "systemd-socket-activate did not listen");
        free(line);

        Example e;
        example_init(&e, p, strdup(addr));
        /* The first connection, HTTP, starts the server on the passed socket. */
        char *body;
        cr_assert_eq(get(&e, "/debug/geerpc?format=json", NULL, &body), 200);
        cr_assert_not_null(strstr(body, "\"name\":\"Foo\""), "%s", body);
        free(body);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, e.addr), 0);
        cr_assert_eq(sum(c, 2, 3), 5);
        geerpc_client_unref(c);
        cr_assert_eq(geerpc_client_dial(&c, e.http), 0);
        cr_assert_eq(sum(c, 4, 5), 9);
        geerpc_client_unref(c);
        line = tl_wait_line(p, "serving on tcp@", 5 * USEC_PER_SEC);
        cr_assert(line && strstr(line, addr), "%s", line);
        free(line);
        expect_metric(&e, "geerpc_server_calls_total{service=\"Foo\",method=\"Sum\",code=\"ok\"}", 2);
        example_stop(&e);
}
