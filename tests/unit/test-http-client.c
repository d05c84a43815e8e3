/* SPDX-License-Identifier: MIT */

/* libcurl multi on sd-event, against a libmicrohttpd server on a thread. */

#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "http/http-client.h"
#include "testlib.h"

static struct MHD_Daemon *daemon_;
static char base[64];

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **state) {
        /* MHD calls once for the headers, once per upload chunk, and once
         * more when the upload is complete: count the bytes until then. */
        static size_t uploaded;
        if (!*state) {
                *state = &uploaded;
                uploaded = 0;
                return MHD_YES;
        }
        if (*upload_size > 0) {
                uploaded += *upload_size;
                *upload_size = 0;
                return MHD_YES;
        }
        char body[256];
        struct MHD_Response *resp;
        if (streq(url, "/echo")) {
                const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
                snprintf(body, sizeof body, "%s %s %zu", method, h ?: "-", uploaded);
                resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
                MHD_add_response_header(resp, "X-Reply", "  padded value  ");
        } else if (streq(url, "/big")) {
                static char big[100000];
                memset(big, 'b', sizeof big);
                resp = MHD_create_response_from_buffer(sizeof big, big, MHD_RESPMEM_PERSISTENT);
        } else {
                resp = MHD_create_response_from_buffer(9, (void *) "not found", MHD_RESPMEM_PERSISTENT);
                enum MHD_Result r = MHD_queue_response(conn, 404, resp);
                MHD_destroy_response(resp);
                return r;
        }
        enum MHD_Result r = MHD_queue_response(conn, 200, resp);
        MHD_destroy_response(resp);
        return r;
}

static void start_server(void) {
        daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
                                   MHD_OPTION_END);
        cr_assert_not_null(daemon_);
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
        snprintf(base, sizeof base, "http://127.0.0.1:%u", i->port);
}

static void stop_server(void) {
        MHD_stop_daemon(daemon_);
}

TestSuite(http, .init = start_server, .fini = stop_server);

typedef struct Got {
        int n;
        int result;
        long status;
        char *body;
        char *reply_header;
        char *error;
        sd_event *event;
} Got;

static void on_done(HttpRequest *r, const HttpResponse *resp, void *userdata) {
        Got *g = userdata;
        g->n++;
        g->result = resp->result;
        g->status = resp->status;
        g->body = strndup(buffer_data(resp->body), buffer_len(resp->body));
        g->reply_header = http_header_get(resp->headers, "x-reply");
        g->error = resp->error ? strdup(resp->error) : NULL;
        sd_event_exit(g->event, 0);
}

static void got_done(Got *g) {
        free(g->body);
        free(g->reply_header);
        free(g->error);
}

static Got run(const HttpRequestSpec *spec) {
        sd_event *e;
        HttpClient *c;
        Got g = {};
        cr_assert_eq(sd_event_new(&e), 0);
        g.event = e;
        cr_assert_eq(http_client_new(&c, e), 0);
        cr_assert_eq(http_request_start(c, spec, on_done, &g, NULL), 0);
        cr_assert_eq(sd_event_loop(e), 0);
        cr_assert_eq(g.n, 1);
        cr_assert_eq(http_client_n_running(c), 0);
        http_client_free(c);
        sd_event_unref(e);
        return g;
}

Test(http, get_with_headers) {
        char url[128];
        snprintf(url, sizeof url, "%s/echo", base);
        Got g = run(&(HttpRequestSpec) { .url = url, .headers = (const char *[]) { "X-Test: hello", NULL } });
        cr_assert_eq(g.result, 0);
        cr_assert_eq(g.status, 200);
        cr_assert_str_eq(g.body, "GET hello 0");
        cr_assert_str_eq(g.reply_header, "padded value");
        got_done(&g);
}

Test(http, post_and_delete) {
        char url[128];
        snprintf(url, sizeof url, "%s/echo", base);
        Got g = run(&(HttpRequestSpec) { .method = "POST", .url = url });
        cr_assert_str_eq(g.body, "POST - 0");
        got_done(&g);
        g = run(&(HttpRequestSpec) { .method = "POST", .url = url, .body = "abc", .body_size = 3 });
        cr_assert_str_eq(g.body, "POST - 3");
        got_done(&g);
        g = run(&(HttpRequestSpec) { .method = "DELETE", .url = url });
        cr_assert_str_eq(g.body, "DELETE - 0");
        got_done(&g);
}

Test(http, status_codes_are_not_errors) {
        char url[128];
        snprintf(url, sizeof url, "%s/nothing", base);
        Got g = run(&(HttpRequestSpec) { .url = url });
        cr_assert_eq(g.result, 0);
        cr_assert_eq(g.status, 404);
        got_done(&g);
}

Test(http, response_limit) {
        char url[128];
        snprintf(url, sizeof url, "%s/big", base);
        Got g = run(&(HttpRequestSpec) { .url = url, .max_response = 1000 });
        cr_assert_eq(g.result, -EMSGSIZE);
        cr_assert_str_eq(g.error, "response larger than the limit");
        got_done(&g);
        g = run(&(HttpRequestSpec) { .url = url });
        cr_assert_eq(g.result, 0);
        cr_assert_eq(strlen(g.body), 100000);
        got_done(&g);
}

Test(http, refused) {
        int fd;
        char *addr;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 1, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &addr), 0);
        close(fd);
        char url[128];
        snprintf(url, sizeof url, "http://%s/x", addr + 4);
        Got g = run(&(HttpRequestSpec) { .url = url });
        cr_assert_eq(g.result, -ECONNREFUSED);
        cr_assert_not_null(g.error);
        cr_assert_eq(g.status, 0);
        got_done(&g);
        free(addr);
}

/* A peer that accepts but never answers must not block the loop: another
 * timer on the same loop keeps firing meanwhile. */
static int ticks;
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        ticks++;
        sd_event_source_set_time_relative(s, 20 * USEC_PER_MSEC);
        return 0;
}

Test(http, silent_peer_times_out_without_blocking) {
        int fd;
        char *addr;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 8, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &addr), 0);
        char url[128];
        snprintf(url, sizeof url, "http://%s/x", addr + 4);

        sd_event *e;
        HttpClient *c;
        Got g = {};
        sd_event_source *tick;
        cr_assert_eq(sd_event_new(&e), 0);
        g.event = e;
        cr_assert_eq(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 20 * USEC_PER_MSEC, 1, on_tick, NULL), 0);
        sd_event_source_set_enabled(tick, SD_EVENT_ON);
        cr_assert_eq(http_client_new(&c, e), 0);
        cr_assert_eq(http_request_start(c, &(HttpRequestSpec) { .url = url, .timeout = 500 * USEC_PER_MSEC }, on_done, &g,
                                        NULL),
                     0);
        cr_assert_eq(sd_event_loop(e), 0);
        cr_assert_eq(g.result, -ETIMEDOUT);
        cr_assert_gt(ticks, 5, "the loop was blocked: %d ticks", ticks);
        sd_event_source_unref(tick);
        http_client_free(c);
        sd_event_unref(e);
        close(fd);
        got_done(&g);
        free(addr);
}

static size_t streamed;
static int on_chunk(HttpRequest *r, const char *data, size_t size, void *userdata) {
        streamed += size;
        return 0;
}

Test(http, streaming) {
        char url[128];
        snprintf(url, sizeof url, "%s/big", base);
        Got g = run(&(HttpRequestSpec) { .url = url, .on_data = on_chunk, .max_response = 10 });
        cr_assert_eq(g.result, 0);
        cr_assert_eq(streamed, 100000);
        cr_assert_str_eq(g.body, "");
        got_done(&g);
}

static void never(HttpRequest *r, const HttpResponse *resp, void *userdata) {
        cr_assert_fail("cancelled request completed");
}

Test(http, cancel_and_free_with_requests_running) {
        int fd;
        char *addr;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 8, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &addr), 0);
        char url[128];
        snprintf(url, sizeof url, "http://%s/x", addr + 4);
        sd_event *e;
        HttpClient *c;
        HttpRequest *r;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(http_client_new(&c, e), 0);
        cr_assert_eq(http_request_start(c, &(HttpRequestSpec) { .url = url }, never, NULL, &r), 0);
        cr_assert_eq(http_request_start(c, &(HttpRequestSpec) { .url = url }, never, NULL, NULL), 0);
        cr_assert_eq(http_client_n_running(c), 2);
        for (int i = 0; i < 10; i++)
                sd_event_run(e, 10 * USEC_PER_MSEC);
        http_request_cancel(r);
        cr_assert_eq(http_client_n_running(c), 1);
        http_client_free(c);
        sd_event_unref(e);
        close(fd);
        free(addr);
}

Test(http, perform_on_a_private_loop) {
        char url[128];
        snprintf(url, sizeof url, "%s/echo", base);
        HttpResult res;
        cr_assert_eq(http_perform(&(HttpRequestSpec) { .method = "POST", .url = url, .headers = (const char *[]) { "X-Test: t", NULL } },
                                  &res),
                     0);
        cr_assert_eq(res.result, 0);
        cr_assert_eq(res.status, 200);
        buffer_append(&res.body, "", 1);
        cr_assert_str_eq(buffer_data(&res.body), "POST t 0");
        char *h = http_header_get(&res.headers, "X-REPLY");
        cr_assert_str_eq(h, "padded value");
        free(h);
        http_result_done(&res);

        cr_assert_eq(http_perform(&(HttpRequestSpec) { .url = "notaurl://x" }, &res), 0);
        cr_assert_eq(res.result, -EINVAL);
        http_result_done(&res);
}
