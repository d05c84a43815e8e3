/* SPDX-License-Identifier: MIT */

/* geeregistry's protocol over real HTTP: registration and refresh with
 * every header spelling at both paths, the sorted listing in headers and
 * JSON, deregistration, expiry (on GET and by the sweep), the error
 * statuses and /metrics. */

#include <sys/socket.h>

#include "config.h"
#include "registry-util.h"

Test(registry, post_then_get_both_headers) {
        Reg r = reg_start(NULL);
        TlHttp h;

        cr_assert_eq(reg_request("POST", r.url, "X-Geerpc-Server: tcp@127.0.0.1:7001", &h), 200);
        char *timeout = tl_http_header(&h, "X-Geerpc-Timeout");
        cr_assert_str_eq(timeout, "300"); /* the 5m default */
        cr_assert_str_eq(h.body, "");
        free(timeout);
        tl_http_done(&h);

        cr_assert_eq(reg_request("GET", r.url, NULL, &h), 200);
        char *a = tl_http_header(&h, "X-Geerpc-Servers"), *b = tl_http_header(&h, "X-rpc-Servers");
        cr_assert_str_eq(a, "tcp@127.0.0.1:7001");
        cr_assert_str_eq(b, "tcp@127.0.0.1:7001");
        cr_assert_str_eq(h.body, "", "no body without Accept: application/json");
        free(a);
        free(b);
        tl_http_done(&h);
        reg_stop(&r);
}

Test(registry, every_address_header_at_both_paths) {
        Reg r = reg_start(NULL);
        char old[192];
        snprintf(old, sizeof old, "%s%s", r.base, REG_PATH_OLD);

        cr_assert_eq(reg_post_as(r.url, "X-Geerpc-Server", "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post_as(r.url, "X-Geerpc-Servers", "tcp@127.0.0.1:7002"), 200);
        cr_assert_eq(reg_post_as(old, "X-rpc-Servers", "tcp@127.0.0.1:7003"), 200);
        /* Header names are case-insensitive (Go canonicalizes to X-Rpc-Servers). */
        cr_assert_eq(reg_post_as(old, "x-rpc-servers", "tcp@127.0.0.1:7004"), 200);
        cr_assert_eq(reg_post_as(old, "X-GEERPC-SERVER", "tcp@127.0.0.1:7005"), 200);

        const char *all = "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003,tcp@127.0.0.1:7004,"
                          "tcp@127.0.0.1:7005";
        char *a = reg_list_url(r.url, "X-Geerpc-Servers"), *b = reg_list_url(old, "X-rpc-Servers");
        cr_assert_str_eq(a, all);
        cr_assert_str_eq(b, all);
        free(a);
        free(b);
        cr_assert_eq(reg_metric(&r, "geeregistry_registrations_total"), 5);
        reg_stop(&r);
}

Test(registry, listing_is_sorted_and_refresh_keeps_one_entry) {
        Reg r = reg_start(NULL);
        const char *order[] = { "unix@/run/geerpc/b.sock", "tcp@[::1]:9", "tcp@127.0.0.1:7003", "tcp6@[::1]:7001",
                                "tcp4@10.0.0.1:80", "tcp@127.0.0.1:7001", "tcp@example.com:1" };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                cr_assert_eq(reg_post(&r, order[i]), 200, "POST %s", order[i]);
        /* Refreshes do not duplicate. */
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7003"), 200);
        cr_assert_eq(reg_post(&r, "unix@/run/geerpc/b.sock"), 200);

        reg_assert_list(&r, "tcp4@10.0.0.1:80,tcp6@[::1]:7001,tcp@127.0.0.1:7001,tcp@127.0.0.1:7003,tcp@[::1]:9,"
                            "tcp@example.com:1,unix@/run/geerpc/b.sock");
        cr_assert_eq(reg_metric(&r, "geeregistry_servers"), 7);
        cr_assert_eq(reg_metric(&r, "geeregistry_registrations_total"), 7);
        cr_assert_eq(reg_metric(&r, "geeregistry_heartbeats_total"), 9);
        reg_stop(&r);
}

Test(registry, json_body_on_request) {
        Reg r = reg_start((const char *[]) { "--timeout=90s", NULL });
        TlHttp h;

        cr_assert_eq(reg_request("GET", r.url, "Accept: application/json", &h), 200);
        cr_assert_str_eq(h.body, "{\"servers\":[],\"timeout_s\":90}\n");
        cr_assert_null(tl_http_header(&h, "X-Geerpc-Servers"), "no servers, no header");
        tl_http_done(&h);

        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_request("GET", r.url, "Accept: text/html, application/json;q=0.9", &h), 200);
        char *type = tl_http_header(&h, "Content-Type");
        cr_assert_str_eq(type, "application/json");
        free(type);
        json_error_t err;
        json_t *v = json_loads(h.body, 0, &err);
        cr_assert_not_null(v, "not JSON: %s (%s)", h.body, err.text);
        cr_assert_eq(json_object_size(v), 2);
        cr_assert_eq(json_integer_value(json_object_get(v, "timeout_s")), 90);
        json_t *servers = json_object_get(v, "servers");
        cr_assert_eq(json_array_size(servers), 2);
        for (size_t i = 0; i < 2; i++) {
                json_t *s = json_array_get(servers, i);
                cr_assert_eq(json_object_size(s), 2);
                cr_assert_str_eq(json_string_value(json_object_get(s, "addr")),
                                 i == 0 ? "tcp@127.0.0.1:7001" : "tcp@127.0.0.1:7002");
                json_int_t age = json_integer_value(json_object_get(s, "age_ms"));
                cr_assert(json_is_integer(json_object_get(s, "age_ms")) && age >= 0 && age < 60000, "age_ms %lld",
                          (long long) age);
        }
        json_decref(v);
        /* The headers come along with the body. */
        char *list = tl_http_header(&h, "X-rpc-Servers");
        cr_assert_str_eq(list, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002");
        free(list);
        tl_http_done(&h);
        reg_stop(&r);
}

Test(registry, delete_present_and_absent) {
        Reg r = reg_start(NULL);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);

        cr_assert_eq(reg_delete(&r, "tcp@127.0.0.1:7001"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7002");
        TlHttp h;
        cr_assert_eq(reg_request("DELETE", r.url, "X-Geerpc-Server: tcp@127.0.0.1:7001", &h), 404);
        cr_assert_str_eq(h.body, "not registered\n");
        tl_http_done(&h);
        /* Any accepted header spelling works for DELETE too. */
        cr_assert_eq(reg_request("DELETE", r.url, "X-rpc-Servers: tcp@127.0.0.1:7002", NULL), 200);
        reg_assert_list(&r, "");
        char *line = tl_wait_line(r.proc, "deregistered tcp@127.0.0.1:7002", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_eq(reg_metric(&r, "geeregistry_deregistrations_total"), 2);
        reg_stop(&r);
}

Test(registry, bad_requests_get_4xx_with_one_line) {
        Reg r = reg_start(NULL);
        TlHttp h;
        static const struct {
                const char *addr, *reason;
        } bad[] = {
                { "", "invalid address: empty address\n" },
                { "127.0.0.1:7001", "invalid address: address is not PROTOCOL@ADDRESS\n" },
                { "udp@127.0.0.1:7001", "invalid address: unknown protocol (expected tcp, tcp4, tcp6, unix or http)\n" },
                { "tcp@127.0.0.1:0", "invalid address: port out of range (1-65535)\n" },
                { "tcp@127.0.0.1:65536", "invalid address: port out of range (1-65535)\n" },
                { "tcp@127.0.0.1", "invalid address: missing port\n" },
                { "tcp@::1:7001", "invalid address: IPv6 address must be in brackets\n" },
                { "tcp@[::1]7001", "invalid address: missing port\n" },
                { "unix@run/x.sock", "invalid address: unix address is not an absolute path\n" },
                { "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002", "invalid address: address contains a comma\n" },
                { "tcp@a b:1", "invalid address: address contains whitespace\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char header[300];
                /* curl sends an empty header written as "Name;". */
                if (!*bad[i].addr)
                        strcpy(header, "X-Geerpc-Server;");
                else
                        snprintf(header, sizeof header, "X-Geerpc-Server: %s", bad[i].addr);
                cr_assert_eq(reg_request("POST", r.url, header, &h), 400, "POST '%s'", bad[i].addr);
                cr_assert_str_eq(h.body, bad[i].reason);
                char *t = tl_http_header(&h, "X-Geerpc-Timeout");
                cr_assert_not_null(t, "every POST reply has X-Geerpc-Timeout");
                free(t);
                tl_http_done(&h);
                cr_assert_eq(reg_request("DELETE", r.url, header, NULL), 400, "DELETE '%s'", bad[i].addr);
        }

        /* 256 bytes: one too many. */
        char longaddr[300] = "unix@/";
        memset(longaddr + 6, 'x', 250);
        longaddr[256] = 0;
        cr_assert_eq(reg_post(&r, longaddr), 400);

        cr_assert_eq(reg_request("POST", r.url, NULL, &h), 400);
        cr_assert_str_eq(h.body, "missing X-Geerpc-Server header\n");
        tl_http_done(&h);
        cr_assert_eq(reg_request("DELETE", r.url, NULL, NULL), 400);

        const char *methods[] = { "PUT", "PATCH", "HEAD", "OPTIONS", "BREW" };
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                cr_assert_eq(reg_request(methods[i], r.url, NULL, &h), 405, "%s", methods[i]);
                char *allow = tl_http_header(&h, "Allow");
                cr_assert_str_eq(allow, "GET, POST, DELETE");
                free(allow);
                tl_http_done(&h);
        }

        char url[256];
        const char *paths[] = { "/", "/_geerpc_/registry/", "/_geerpc_/registryx", "/_geerpc_", "/metrics/x" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                snprintf(url, sizeof url, "%s%s", r.base, paths[i]);
                cr_assert_eq(reg_request("GET", url, NULL, &h), 404, "%s", paths[i]);
                cr_assert_str_eq(h.body, "not found\n");
                tl_http_done(&h);
        }
        /* A query string does not change the resource. */
        snprintf(url, sizeof url, "%s?x=1", r.url);
        cr_assert_eq(reg_request("GET", url, NULL, NULL), 200);

        reg_assert_list(&r, "");
        cr_assert_eq(reg_metric(&r, "geeregistry_rejections_total"), 2 * (int64_t) ELEMENTSOF(bad) + 3);
        cr_assert_eq(reg_metric(&r, "geeregistry_http_requests_total{method=\"POST\",code=\"400\"}"),
                     (int64_t) ELEMENTSOF(bad) + 2);
        cr_assert_eq(reg_metric(&r, "geeregistry_http_requests_total{method=\"other\",code=\"405\"}"),
                     (int64_t) ELEMENTSOF(methods));
        char *line = tl_wait_line(r.proc, "rejected POST tcp@127.0.0.1:65536 from 127.0.0.1: invalid address",
                                  5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        reg_assert_running(&r);
        reg_stop(&r);
}

Test(registry, full_registry_answers_503) {
        Reg r = reg_start((const char *[]) { "--max-servers=2", NULL });
        TlHttp h;
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        cr_assert_eq(reg_request("POST", r.url, "X-Geerpc-Server: tcp@127.0.0.1:7003", &h), 503);
        cr_assert_str_eq(h.body, "registry full: 2 servers registered (--max-servers)\n");
        tl_http_done(&h);
        /* Known servers still refresh. */
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002");
        /* A freed slot can be taken. */
        cr_assert_eq(reg_delete(&r, "tcp@127.0.0.1:7002"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7003"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7003");
        cr_assert_eq(reg_metric(&r, "geeregistry_http_requests_total{method=\"POST\",code=\"503\"}"), 1);
        cr_assert_eq(reg_metric(&r, "geeregistry_max_servers"), 2);
        reg_stop(&r);
}

Test(registry, dead_servers_are_not_listed) {
        Reg r = reg_start((const char *[]) { "--timeout=1s", NULL });
        TlHttp h;
        cr_assert_eq(reg_request("POST", r.url, "X-Geerpc-Server: tcp@127.0.0.1:7001", &h), 200);
        char *t = tl_http_header(&h, "X-Geerpc-Timeout");
        cr_assert_str_eq(t, "1");
        free(t);
        tl_http_done(&h);
        reg_assert_list(&r, "tcp@127.0.0.1:7001");

        tl_sleep(1200 * USEC_PER_MSEC);
        reg_assert_list(&r, "");
        /* A dead server that comes back is a new registration. */
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7001");
        cr_assert_eq(reg_metric(&r, "geeregistry_registrations_total"), 2);
        cr_assert_eq(reg_metric(&r, "geeregistry_expirations_total"), 1);
        reg_stop(&r);
}

Test(registry, sweep_removes_dead_servers_without_get) {
        Reg r = reg_start((const char *[]) { "--timeout=1s", NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);

        /* No GET of the registry from here on: only the sweep can do it. */
        char *line = tl_wait_line(r.proc, "expired tcp@127.0.0.1:7001", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "the sweep did not remove the dead server");
        free(line);
        line = tl_wait_line(r.proc, "expired tcp@127.0.0.1:7002", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_eq(reg_metric(&r, "geeregistry_expirations_total"), 2);
        cr_assert_eq(reg_metric(&r, "geeregistry_servers"), 0);
        cr_assert_eq(reg_metric(&r, "geeregistry_http_requests_total{method=\"GET\",code=\"200\"}"), 2,
                     "only the two /metrics requests");
        reg_stop(&r);
}

Test(registry, refreshed_server_survives_the_sweep) {
        Reg r = reg_start((const char *[]) { "--timeout=2s", NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        /* Keep 7002 alive for 3 s (heartbeats twice a second). */
        for (int i = 0; i < 6; i++) {
                tl_sleep(500 * USEC_PER_MSEC);
                cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        }
        cr_assert(reg_wait_metric(&r, "geeregistry_expirations_total", 1, 10 * USEC_PER_SEC));
        reg_assert_list(&r, "tcp@127.0.0.1:7002");
        reg_stop(&r);
}

Test(registry, timeout_zero_never_expires) {
        Reg r = reg_start((const char *[]) { "--timeout=0", NULL });
        TlHttp h;
        cr_assert_eq(reg_request("POST", r.url, "X-Geerpc-Server: tcp@127.0.0.1:7001", &h), 200);
        char *t = tl_http_header(&h, "X-Geerpc-Timeout");
        cr_assert_str_eq(t, "0");
        free(t);
        tl_http_done(&h);
        tl_sleep(1100 * USEC_PER_MSEC);
        reg_assert_list(&r, "tcp@127.0.0.1:7001");
        cr_assert_eq(reg_metric(&r, "geeregistry_timeout_seconds"), 0);
        reg_stop(&r);
}

Test(registry, metrics_in_prometheus_text_format) {
        Reg r = reg_start(NULL);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_request("GET", r.url, NULL, NULL), 200);

        char url[192];
        TlHttp h;
        snprintf(url, sizeof url, "%s/metrics", r.base);
        cr_assert_eq(reg_request("GET", url, NULL, &h), 200);
        char *type = tl_http_header(&h, "Content-Type");
        cr_assert_str_eq(type, "text/plain; version=0.0.4; charset=utf-8");
        free(type);
        const char *expected[] = {
                "# TYPE geeregistry_servers gauge\ngeeregistry_servers 1\n",
                "# TYPE geeregistry_registrations_total counter\ngeeregistry_registrations_total 1\n",
                "# TYPE geeregistry_heartbeats_total counter\ngeeregistry_heartbeats_total 2\n",
                "geeregistry_deregistrations_total 0\n",
                "geeregistry_expirations_total 0\n",
                "geeregistry_timeout_seconds 300\n",
                "geeregistry_max_servers 65536\n",
                "geeregistry_http_requests_total{method=\"POST\",code=\"200\"} 2\n",
                "geeregistry_http_requests_total{method=\"GET\",code=\"200\"} 1\n",
                "# TYPE geerpc_build_info gauge\ngeerpc_build_info{version=\"" GEERPC_VERSION "\"} 1\n",
                "# TYPE geeregistry_http_request_duration_seconds histogram\n",
                "geeregistry_http_request_duration_seconds_count{method=\"POST\"} 2\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"POST\",le=\"+Inf\"} 2\n",
                "geeregistry_http_request_duration_seconds_count{method=\"GET\"} 1\n",
                "geeregistry_http_request_duration_seconds_count{method=\"DELETE\"} 0\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                cr_assert_not_null(strstr(h.body, expected[i]), "missing '%s' in:\n%s", expected[i], h.body);
        int lint = tl_promtool_check(h.body);
        cr_assert(lint == 0 || lint == -ENOENT, "promtool check metrics failed (%d):\n%s", lint, h.body);
        /* Every sample line is NAME[{labels}] VALUE; every name is ours. */
        for (char *line = strtok(h.body, "\n"); line; line = strtok(NULL, "\n")) {
                if (line[0] == '#')
                        continue;
                cr_assert(strncmp(line, "geeregistry_", 12) == 0 || strncmp(line, "geerpc_build_info{", 18) == 0, "%s",
                          line);
                cr_assert_not_null(strchr(line, ' '), "%s", line);
        }
        tl_http_done(&h);

        cr_assert_eq(reg_request("POST", url, NULL, &h), 405);
        char *allow = tl_http_header(&h, "Allow");
        cr_assert_str_eq(allow, "GET");
        free(allow);
        tl_http_done(&h);
        reg_stop(&r);
}

/* Registers n servers over one keep-alive connection (fast). */
static void post_many(const Reg *r, unsigned n) {
        int fd = tl_connect(r->addr);
        cr_assert_geq(fd, 0);
        for (unsigned i = 0; i < n; i++) {
                char req[256], buf[1024];
                int l = snprintf(req, sizeof req,
                                 "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@10.0.%u.%u:7001\r\n"
                                 "Content-Length: 0\r\n\r\n",
                                 i / 250, i % 250);
                cr_assert(tl_write_all(fd, req, (size_t) l));
                size_t got = 0;
                while (!memmem(buf, got, "\r\n\r\n", 4)) {
                        ssize_t k = recv(fd, buf + got, sizeof buf - got, 0);
                        cr_assert_gt(k, 0, "connection closed at request %u", i);
                        got += (size_t) k;
                }
                cr_assert_eq(strncmp(buf, "HTTP/1.1 200", 12), 0, "%.*s", (int) got, buf);
        }
        close(fd);
}

Test(registry, long_listing_is_cut_in_headers_but_whole_in_json) {
        Reg r = reg_start(NULL);
        post_many(&r, 2000); /* ~40 KiB of addresses */

        /* The largest request headers allowed, with the largest response. */
        char pad[16000];
        memset(pad, 'p', sizeof pad - 1);
        pad[sizeof pad - 1] = 0;
        char *big = NULL;
        cr_assert_geq(asprintf(&big, "X-Pad: %.*s", 15000, pad), 0);
        const char *headers[] = { "Accept: application/json", big, NULL };
        TlHttp h;
        cr_assert_eq(tl_http("GET", r.url, headers, &h), 0);
        cr_assert_eq(h.status, 200);
        free(big);

        char *list = tl_http_header(&h, "X-Geerpc-Servers"), *old = tl_http_header(&h, "X-rpc-Servers");
        char *truncated = tl_http_header(&h, "X-Geerpc-Servers-Truncated");
        cr_assert_not_null(list);
        cr_assert_leq(strlen(list), 32 * 1024);
        cr_assert_gt(strlen(list), 30 * 1024);
        cr_assert_str_eq(list, old);
        cr_assert_str_eq(truncated, "1");
        /* Cut after a whole address: the sorted prefix of the full list. */
        cr_assert_eq(strncmp(list, "tcp@10.0.0.0:7001,tcp@10.0.0.100:7001,", 38), 0, "%.60s", list);
        const char *last = strrchr(list, ',') + 1;
        cr_assert(strncmp(last, "tcp@10.0.", 9) == 0 && strcmp(last + strlen(last) - 5, ":7001") == 0, "%s", last);

        json_t *v = json_loads(h.body, 0, NULL);
        cr_assert_not_null(v);
        json_t *servers = json_object_get(v, "servers");
        cr_assert_eq(json_array_size(servers), 2000);
        size_t in_header = 1;
        for (const char *p = list; (p = strchr(p, ',')); p++)
                in_header++;
        cr_assert_lt(in_header, 2000);
        /* The header holds exactly the first entries of the JSON list. */
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(servers, in_header - 1), "addr")), last);
        json_decref(v);
        free(list);
        free(old);
        free(truncated);
        tl_http_done(&h);
        cr_assert_eq(reg_metric(&r, "geeregistry_servers"), 2000);
        reg_stop(&r);
}
