/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "auth.h"
#include "handlers.h"
#include "codec/json-util.h"
#include "basic/log.h"

#define ALLOW_REGISTRY "GET, POST, DELETE"
#define ALLOW_METRICS "GET"

/* Address headers, in the order they are looked at. */
static const char *const address_headers[] = { "X-Geerpc-Server", "X-Geerpc-Servers", "X-rpc-Servers" };

struct Handlers {
        Registry *registry;

        /* The plain GET answer, shared by every request until the set of
         * servers changes (MHD reference-counts responses). */
        struct MHD_Response *list_response;
        uint64_t list_generation;
        /* A heartbeat's answer never changes (the timeout is fixed): made
         * once, shared by every POST. */
        struct MHD_Response *post_ok_response;

        unsigned (*count_connections)(void *userdata);
        void *count_userdata;

        usec_t reject_window;
        unsigned reject_logged;
        unsigned reject_suppressed;
};

int handlers_new(Handlers **ret, Registry *registry) {
        Handlers *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->registry = registry;
        *ret = h;
        return 0;
}

Handlers *handlers_free(Handlers *h) {
        if (!h)
                return NULL;
        if (h->list_response)
                MHD_destroy_response(h->list_response);
        if (h->post_ok_response)
                MHD_destroy_response(h->post_ok_response);
        free(h);
        return NULL;
}

void handlers_set_connection_counter(Handlers *h, unsigned (*count)(void *userdata), void *userdata) {
        h->count_connections = count;
        h->count_userdata = userdata;
}

/* ---- replies -------------------------------------------------------------- */

static enum MHD_Result queue(Handlers *h, struct MHD_Connection *c, const char *method, unsigned status,
                             struct MHD_Response *resp) {
        if (!resp)
                return MHD_NO;
        enum MHD_Result r = MHD_queue_response(c, status, resp);
        if (r == MHD_YES)
                metrics_count_request(registry_metrics(h->registry), method, status);
        return r;
}

/* A one-line text reply; headers are NULL-terminated name, value pairs. */
static enum MHD_Result reply(Handlers *h, struct MHD_Connection *c, const char *method, unsigned status,
                             const char *text, const char *const *headers) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        if (*text)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        for (size_t i = 0; headers && headers[i]; i += 2)
                (void) MHD_add_response_header(resp, headers[i], headers[i + 1]);
        enum MHD_Result r = queue(h, c, method, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static const char *peer_string(struct MHD_Connection *c, char *buf, size_t size) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = info ? info->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET && inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf,
                                                         (socklen_t) size))
                return buf;
        if (sa && sa->sa_family == AF_INET6 &&
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, (socklen_t) size))
                return buf;
        return sa && sa->sa_family == AF_UNIX ? "a unix socket" : "an unknown peer";
}

/* For the message text: what the client sent may hold anything. */
static const char *printable(const char *s, char *buf, size_t size) {
        size_t i = 0;
        for (; s && s[i] && i < size - 4; i++) {
                unsigned char ch = (unsigned char) s[i];
                buf[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char) ch;
        }
        if (s && s[i])
                memcpy(buf + i, "...", 3), i += 3;
        buf[i] = 0;
        return buf;
}

static bool reject_log_allowed(Handlers *h) {
        usec_t now = registry_now(h->registry);
        if (now >= usec_add(h->reject_window, HANDLERS_REJECT_LOG_INTERVAL_USEC)) {
                if (h->reject_suppressed > 0)
                        log_notice("suppressed %u more rejection message(s)", h->reject_suppressed);
                h->reject_window = now;
                h->reject_logged = h->reject_suppressed = 0;
        }
        if (h->reject_logged >= HANDLERS_REJECT_LOG_BURST) {
                h->reject_suppressed++;
                return false;
        }
        h->reject_logged++;
        return true;
}

static enum MHD_Result reject(Handlers *h, struct MHD_Connection *c, const char *method, unsigned status,
                              const char *addr, const char *why, const char *const *headers) {
        registry_metrics(h->registry)->rejections++;
        if (reject_log_allowed(h)) {
                char p[INET6_ADDRSTRLEN], shown[80];
                log_struct(LOG_NOTICE, 0,
                           LOG_FIELDS({ "GEERPC_SERVER", strempty(addr) }, { "MESSAGE_ID", LOG_MESSAGE_ID_REJECTED }),
                           "rejected %s %s from %s: %s", method, addr ? printable(addr, shown, sizeof shown) : "-",
                           peer_string(c, p, sizeof p), why);
        }
        char line[256];
        snprintf(line, sizeof line, "%s\n", why);
        return reply(h, c, method, status, line, headers);
}

/* ---- GET ------------------------------------------------------------------ */

static int add_list_headers(Handlers *h, struct MHD_Response *resp) {
        const char *joined;
        bool truncated;
        int r = table_joined(registry_table(h->registry), HANDLERS_LIST_HEADER_MAX, &joined, &truncated);
        if (r < 0)
                return r;
        if (!*joined)
                return 0; /* MHD cannot send an empty header; a missing one reads the same */
        if (MHD_add_response_header(resp, "X-Geerpc-Servers", joined) != MHD_YES ||
            MHD_add_response_header(resp, "X-rpc-Servers", joined) != MHD_YES)
                return -ENOMEM;
        if (truncated && MHD_add_response_header(resp, "X-Geerpc-Servers-Truncated", "1") != MHD_YES)
                return -ENOMEM;
        return 0;
}

static struct MHD_Response *list_response(Handlers *h) {
        uint64_t gen = table_generation(registry_table(h->registry));
        if (h->list_response && h->list_generation == gen)
                return h->list_response;
        if (h->list_response)
                MHD_destroy_response(h->list_response); /* still alive while queued elsewhere */
        h->list_response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (h->list_response && add_list_headers(h, h->list_response) < 0) {
                MHD_destroy_response(h->list_response);
                h->list_response = NULL;
        }
        h->list_generation = gen;
        return h->list_response;
}

typedef struct JsonList {
        Buffer *out;
        usec_t now;
        bool first;
} JsonList;

static int json_one(const TableEntry *e, void *userdata) {
        JsonList *j = userdata;
        char num[48];
        int r = buffer_append(j->out, j->first ? "{\"addr\":" : ",{\"addr\":", j->first ? 8 : 9);
        j->first = false;
        if (r >= 0)
                r = json_append_string(j->out, e->addr);
        if (r >= 0) {
                usec_t age = j->now > e->last ? j->now - e->last : 0;
                int n = snprintf(num, sizeof num, ",\"age_ms\":%" PRIu64 "}", age / USEC_PER_MSEC);
                r = buffer_append(j->out, num, (size_t) n);
        }
        return r;
}

static struct MHD_Response *json_response(Handlers *h) {
        Buffer b = {};
        JsonList j = { .out = &b, .now = registry_now(h->registry), .first = true };
        char tail[64];
        int n = snprintf(tail, sizeof tail, "],\"timeout_s\":%" PRIu64 "}\n", registry_timeout_seconds(h->registry));

        int r = buffer_append(&b, "{\"servers\":[", 12);
        if (r >= 0)
                r = table_foreach_sorted(registry_table(h->registry), json_one, &j);
        if (r >= 0)
                r = buffer_append(&b, tail, (size_t) n);
        if (r < 0) {
                buffer_done(&b);
                return NULL;
        }
        /* MHD frees the buffer: it starts at the allocation (never consumed). */
        struct MHD_Response *resp = MHD_create_response_from_buffer(buffer_len(&b), b.data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                buffer_done(&b);
                return NULL;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (add_list_headers(h, resp) < 0) {
                MHD_destroy_response(resp);
                return NULL;
        }
        return resp;
}

static bool wants_json(struct MHD_Connection *c) {
        const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        return accept && strcasestr(accept, "application/json");
}

static enum MHD_Result handle_get(Handlers *h, struct MHD_Connection *c, const char *method) {
        registry_expire(h->registry);
        if (!wants_json(c))
                return queue(h, c, method, MHD_HTTP_OK, list_response(h));
        struct MHD_Response *resp = json_response(h);
        enum MHD_Result r = queue(h, c, method, MHD_HTTP_OK, resp);
        if (resp)
                MHD_destroy_response(resp);
        return r;
}

/* ---- POST and DELETE ------------------------------------------------------ */

static const char *address_header(struct MHD_Connection *c) {
        for (size_t i = 0; i < ELEMENTSOF(address_headers); i++) {
                const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, address_headers[i]);
                if (v)
                        return v;
        }
        return NULL;
}

/* 401 or 400 before anything else; NULL address means it was refused. */
static enum MHD_Result check_write(Handlers *h, struct MHD_Connection *c, const char *method, const char *const *headers,
                                   const char **ret_addr) {
        *ret_addr = NULL;
        const char *addr = address_header(c);
        if (!auth_check(registry_token(h->registry),
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
                const char *const unauthorized[] = { MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"geeregistry\"",
                                                     headers ? headers[0] : NULL, headers ? headers[1] : NULL, NULL };
                return reject(h, c, method, MHD_HTTP_UNAUTHORIZED, addr, "missing or wrong bearer token", unauthorized);
        }
        if (!addr)
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, NULL, "missing X-Geerpc-Server header", headers);
        *ret_addr = addr;
        return MHD_YES;
}

static enum MHD_Result handle_post(Handlers *h, struct MHD_Connection *c, const char *method) {
        char timeout[32];
        snprintf(timeout, sizeof timeout, "%" PRIu64, registry_timeout_seconds(h->registry));
        const char *const headers[] = { "X-Geerpc-Timeout", timeout, NULL };
        const char *addr, *reason = NULL;

        enum MHD_Result m = check_write(h, c, method, headers, &addr);
        if (!addr)
                return m;

        int r = registry_heartbeat(h->registry, addr, &reason);
        if (r == -EINVAL) {
                char why[160];
                snprintf(why, sizeof why, "invalid address: %s", strempty(reason));
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, why, headers);
        }
        if (r == -ENOSPC) {
                char why[128];
                snprintf(why, sizeof why, "registry full: %zu servers registered (--max-servers)",
                         table_size(registry_table(h->registry)));
                const char *const full[] = { headers[0], headers[1], MHD_HTTP_HEADER_RETRY_AFTER, "60", NULL };
                return reject(h, c, method, MHD_HTTP_SERVICE_UNAVAILABLE, addr, why, full);
        }
        if (r < 0)
                return reply(h, c, method, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", headers);
        if (!h->post_ok_response) {
                h->post_ok_response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
                if (h->post_ok_response &&
                    MHD_add_response_header(h->post_ok_response, headers[0], headers[1]) != MHD_YES) {
                        MHD_destroy_response(h->post_ok_response);
                        h->post_ok_response = NULL;
                }
        }
        return queue(h, c, method, MHD_HTTP_OK, h->post_ok_response);
}

static enum MHD_Result handle_delete(Handlers *h, struct MHD_Connection *c, const char *method) {
        const char *addr, *reason = NULL;
        enum MHD_Result m = check_write(h, c, method, NULL, &addr);
        if (!addr)
                return m;

        int r = registry_deregister(h->registry, addr, &reason);
        if (r == -EINVAL) {
                char why[160];
                snprintf(why, sizeof why, "invalid address: %s", strempty(reason));
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, why, NULL);
        }
        if (r == -ENOENT)
                return reply(h, c, method, MHD_HTTP_NOT_FOUND, "not registered\n", NULL);
        return reply(h, c, method, MHD_HTTP_OK, "", NULL);
}

/* ---- routing -------------------------------------------------------------- */

static enum MHD_Result handle_metrics(Handlers *h, struct MHD_Connection *c, const char *method) {
        if (!streq(method, MHD_HTTP_METHOD_GET))
                return reply(h, c, method, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                             (const char *const[]) { MHD_HTTP_HEADER_ALLOW, ALLOW_METRICS, NULL });

        Table *t = registry_table(h->registry);
        MetricsGauges g = {
                .servers = table_size(t),
                .max_servers = table_max(t),
                .connections = h->count_connections ? h->count_connections(h->count_userdata) : 0,
                .timeout = registry_timeout(h->registry),
        };
        Buffer b = {};
        if (metrics_render(registry_metrics(h->registry), &g, &b) < 0) {
                buffer_done(&b);
                return MHD_NO;
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer(buffer_len(&b), b.data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                buffer_done(&b);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        enum MHD_Result r = queue(h, c, method, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result dispatch(Handlers *h, struct MHD_Connection *c, const char *method, const char *url) {
        if (streq(url, HANDLERS_METRICS_PATH))
                return handle_metrics(h, c, method);
        if (!streq(url, HANDLERS_PATH) && !streq(url, HANDLERS_PATH_OLD))
                return reply(h, c, method, MHD_HTTP_NOT_FOUND, "not found\n", NULL);

        if (streq(method, MHD_HTTP_METHOD_GET))
                return handle_get(h, c, method);
        if (streq(method, MHD_HTTP_METHOD_POST))
                return handle_post(h, c, method);
        if (streq(method, MHD_HTTP_METHOD_DELETE))
                return handle_delete(h, c, method);
        return reply(h, c, method, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                     (const char *const[]) { MHD_HTTP_HEADER_ALLOW, ALLOW_REGISTRY, NULL });
}

enum MHD_Result handlers_dispatch(struct MHD_Connection *c, const char *method, const char *url, void *userdata) {
        Handlers *h = userdata;
        uint64_t start = now_nsec(CLOCK_MONOTONIC);
        enum MHD_Result r = dispatch(h, c, method, url);
        metrics_time_request(registry_metrics(h->registry), method, now_nsec(CLOCK_MONOTONIC) - start);
        return r;
}

void handlers_refused(struct MHD_Connection *c, const char *method, unsigned status, void *userdata) {
        Handlers *h = userdata;
        metrics_count_request(registry_metrics(h->registry), method, status);
}
