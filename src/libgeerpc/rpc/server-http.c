/* SPDX-License-Identifier: MIT */
#include <strings.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "basic/prometheus.h"
#include "codec/json-writer.h"
#include "http/http-connect.h"
#include "rpc/server-internal.h"

/* HTTP on the RPC port. Every accepted connection starts in CONN_SNIFF:
 * its first bytes are peeked at (MSG_PEEK: they stay in the socket) and
 * decide:
 *
 *   an Option (JSON)          -> CONN_OPTION, an RPC connection as ever
 *   "CONNECT "                -> CONN_CONNECT: the head is read and parsed
 *                                here, "HTTP/1.0 200 Connected to Gee RPC"
 *                                goes back, then CONN_OPTION
 *   any other HTTP request    -> the socket, bytes unread, goes to the HTTP
 *                                server (libmicrohttpd on the same loop)
 *
 * Only the CONNECT handshake is parsed by hand: libmicrohttpd's upgrade
 * mechanism answers 101 Switching Protocols and keeps the socket, while
 * the original needs a 200 and the socket back as an RPC connection. */

#define PATH_METRICS "/metrics"
#define PATH_DEBUG "/debug/geerpc"
/* Our answers' headers are a few short lines. */
#define SERVER_HTTP_RESPONSE_HEADER_ROOM 1024U

static void on_http_stopped(HttpServer *h, void *userdata) {
        geerpc_server *s = userdata;
        s->http_stopped = true;
        server_check_stopped(s);
}

void server_http_stop(geerpc_server *s) {
        if (!s->http || http_server_n_connections(s->http) == 0) {
                s->http_stopped = true;
                if (s->http)
                        (void) http_server_stop(s->http, NULL, NULL);
                return;
        }
        if (http_server_stop(s->http, on_http_stopped, s) < 0)
                s->http_stopped = true;
}

void server_http_free(geerpc_server *s) {
        s->http = http_server_free(s->http);
}

/* ---- telling the protocols apart ---------------------------------------- */

static int hand_to_http(Conn *c) {
        geerpc_server *s = c->server;
        counter_inc(&s->stats.accepted[CONN_KIND_HTTP]);
        int fd = conn_release_fd(c);
        int r = http_server_add_connection(s->http, fd);
        if (r < 0)
                log_debug_errno(r, "rpc server: the HTTP server did not take a connection: %m");
        return -ENOTCONN; /* not ours any more */
}

int server_http_sniff(Conn *c, uint32_t revents) {
        geerpc_server *s = c->server;
        char buf[HTTP_SNIFF_BYTES], peer[128];

        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                int r = n < 0 ? negative_errno() : -ECONNRESET;
                log_debug_errno(r, "rpc server: %s closed before sending anything: %m", conn_peer(c, peer, sizeof peer));
                conn_close(c);
                return r;
        }

        ConnKind kind;
        switch (http_sniff(buf, (size_t) n)) {
        case HTTP_SNIFF_MORE:
                if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                        /* Nothing more will come to decide with. */
                        conn_close(c);
                        return -ECONNRESET;
                }
                return 0;
        case HTTP_SNIFF_HTTP:
                return hand_to_http(c);
        case HTTP_SNIFF_CONNECT:
                kind = CONN_KIND_CONNECT;
                c->state = CONN_CONNECT;
                break;
        default:
                kind = CONN_KIND_RPC;
                c->state = CONN_OPTION;
        }
        counter_inc(&s->stats.accepted[kind]);
        conn_set_events(c, EPOLLIN);
        return 1;
}

/* ---- CONNECT ------------------------------------------------------------- */

int server_http_connect(Conn *c) {
        char peer[128];
        bool rpc_path = false;

        int r = http_connect_request_parse(buffer_data(&c->in), buffer_len(&c->in), HTTP_CONNECT_HEAD_MAX, &rpc_path);
        if (r == 0)
                return 0;
        if (r > 0 && rpc_path) {
                buffer_consume(&c->in, (size_t) r);
                r = buffer_append_string(&c->out, HTTP_CONNECT_REPLY);
                if (r < 0)
                        return r;
                c->state = CONN_OPTION;
                return 1;
        }

        /* As net/http answers these, then the connection closes. */
        const char *answer, *why;
        if (r > 0) {
                answer = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n404 page not found\n";
                why = "not an RPC path";
                r = -ENOENT;
        } else if (r == -EMSGSIZE) {
                answer = "HTTP/1.0 431 Request Header Fields Too Large\r\n\r\n";
                why = "request head too large";
        } else {
                answer = "HTTP/1.0 400 Bad Request\r\n\r\n";
                why = "malformed request";
        }
        log_info("rpc server: refused CONNECT from %s: %s", conn_peer(c, peer, sizeof peer), why);
        (void) buffer_append_string(&c->out, answer);
        return r;
}

/* ---- the pages ----------------------------------------------------------- */

static bool wants_json(struct MHD_Connection *mc) {
        const char *format = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "format");
        if (format)
                return streq(format, "json");
        const char *accept = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        return accept && strcasestr(accept, "application/json");
}

static enum MHD_Result respond_text(struct MHD_Connection *mc, unsigned status, const char *text,
                                   const char *const *headers) {
        return http_respond(mc, status, "text/plain; charset=utf-8", text, strlen(text), headers);
}

static enum MHD_Result respond_page(geerpc_server *s, struct MHD_Connection *mc, const char *url) {
        _cleanup_(buffer_done) Buffer b = {};
        const char *type;
        int r;

        if (streq(url, PATH_METRICS)) {
                type = PROMETHEUS_CONTENT_TYPE;
                r = server_metrics_render(s, &b);
        } else if (wants_json(mc)) {
                type = "application/json";
                json_t *v = server_debug_json(s);
                r = v ? json_append_value(&b, v) : -ENOMEM;
                if (r >= 0)
                        r = buffer_append_string(&b, "\n");
                if (v)
                        json_decref(v);
        } else {
                type = "text/html; charset=utf-8";
                r = server_debug_html(s, &b);
        }
        if (r < 0)
                return respond_text(mc, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
        return http_respond(mc, MHD_HTTP_OK, type, buffer_data(&b), buffer_len(&b), NULL);
}

static enum MHD_Result on_request(struct MHD_Connection *mc, const char *method, const char *url, void *userdata) {
        geerpc_server *s = userdata;

        if (streq(url, HTTP_RPC_PATH) || streq(url, HTTP_RPC_PATH_ALT))
                /* CONNECT never gets here (it is ours); the original's answer. */
                return respond_text(mc, MHD_HTTP_METHOD_NOT_ALLOWED, "405 must CONNECT\n", NULL);
        if (!streq(url, PATH_METRICS) && !streq(url, PATH_DEBUG))
                return respond_text(mc, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(mc, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                    (const char *const[]) { MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL });
        return respond_page(s, mc, url);
}

int server_http_new(geerpc_server *s) {
        HttpLimits limits = HTTP_LIMITS_DEFAULT;
        limits.response_header_room = SERVER_HTTP_RESPONSE_HEADER_ROOM;
        return http_server_new(&s->http, s->event, &limits, on_request, NULL, s);
}
