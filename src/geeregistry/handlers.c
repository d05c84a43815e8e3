/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "auth.h"
#include "handlers.h"
#include "codec/json-util.h"
#include "basic/log.h"
#include "listing.h"
#include "rpc/service-name.h"

#define ALLOW_REGISTRY "GET, POST, PATCH, DELETE"
#define ALLOW_METRICS "GET"

/* Address headers, in the order they are looked at. */
static const char *const address_headers[] = { "X-Geerpc-Server", "X-Geerpc-Servers", "X-rpc-Servers" };

struct Handlers {
        Registry *registry;
        Listing *listing;
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
        if (listing_new(&h->listing, registry) < 0) {
                free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

Handlers *handlers_free(Handlers *h) {
        if (!h)
                return NULL;
        listing_free(h->listing);
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

static bool wants_json(struct MHD_Connection *c) {
        const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        return accept && strcasestr(accept, "application/json");
}

static enum MHD_Result handle_get(Handlers *h, struct MHD_Connection *c, const char *method) {
        const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
        if (service && !service_name_is_valid(service))
                return reply(h, c, method, MHD_HTTP_BAD_REQUEST,
                             "invalid service name: 1-64 ASCII letters, digits or '_'\n", NULL);
        registry_expire(h->registry);
        if (wants_json(c))
                return queue(h, c, method, MHD_HTTP_OK, listing_json(h->listing, service));
        struct MHD_Response *resp = NULL;
        _cleanup_(http_raw_unrefp) HttpRaw *raw = NULL;
        if (listing_plain(h->listing, service, &resp, &raw) < 0)
                return MHD_NO;
        if (resp)
                return queue(h, c, method, MHD_HTTP_OK, resp);
        enum MHD_Result r = http_server_send_raw(c, raw);
        if (r == MHD_YES)
                metrics_count_request(registry_metrics(h->registry), method, MHD_HTTP_OK);
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

/* What a heartbeat says besides the address: each header optional; a bad
 * one is -EINVAL with a one-line reason in why. */
static int read_meta(struct MHD_Connection *c, ServerMeta *ret, char *why, size_t size) {
        ServerMeta m = SERVER_META_DEFAULT;
        const char *services = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Geerpc-Services"),
                   *weight = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Geerpc-Weight"),
                   *labels = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Geerpc-Labels"), *reason = NULL,
                   *bad = NULL;
        int r = 0;
        if (services && (r = server_meta_parse_services(services, &m.services, &reason)) < 0)
                bad = "X-Geerpc-Services";
        else if (weight && (r = server_meta_parse_weight(weight, &m.weight, &reason)) < 0)
                bad = "X-Geerpc-Weight";
        else if (labels && (r = server_meta_parse_labels(labels, &m.labels, &reason)) < 0)
                bad = "X-Geerpc-Labels";
        if (r < 0) {
                if (bad)
                        snprintf(why, size, "invalid %s: %s", bad, strempty(reason));
                server_meta_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

static enum MHD_Result handle_post(Handlers *h, struct MHD_Connection *c, const char *method) {
        char timeout[32], why[256];
        snprintf(timeout, sizeof timeout, "%" PRIu64, registry_timeout_seconds(h->registry));
        const char *const headers[] = { "X-Geerpc-Timeout", timeout, NULL };
        const char *addr, *reason = NULL;

        enum MHD_Result m = check_write(h, c, method, headers, &addr);
        if (!addr)
                return m;
        ServerMeta meta;
        int r = read_meta(c, &meta, why, sizeof why);
        if (r == -EINVAL)
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, why, headers);
        if (r < 0)
                return reply(h, c, method, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", headers);

        r = registry_heartbeat(h->registry, addr, &meta, &reason);
        server_meta_done(&meta);
        if (r == -EINVAL) {
                snprintf(why, sizeof why, "invalid address: %s", strempty(reason));
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, why, headers);
        }
        if (r == -ENOSPC) {
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

/* ---- PATCH: the operator's weight ----------------------------------------- */

/* X-Geerpc-Weight-Override: 0-1000 (0 drains), or "clear". */
static enum MHD_Result handle_patch(Handlers *h, struct MHD_Connection *c, const char *method) {
        const char *addr, *reason = NULL;
        enum MHD_Result m = check_write(h, c, method, NULL, &addr);
        if (!addr)
                return m;
        const char *value = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Geerpc-Weight-Override");
        unsigned weight = 0;
        bool clear = value && streq(value, "clear");
        if (!value)
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, "missing X-Geerpc-Weight-Override header", NULL);
        if (!clear && server_meta_parse_weight(value, &weight, &reason) < 0)
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr,
                              "invalid X-Geerpc-Weight-Override: a weight from 0 to 1000, or clear", NULL);

        int own = -1;
        int r = registry_override(h->registry, addr, clear ? -1 : (int) weight, &own, &reason);
        char why[256];
        if (r == -EINVAL) {
                snprintf(why, sizeof why, "invalid address: %s", strempty(reason));
                return reject(h, c, method, MHD_HTTP_BAD_REQUEST, addr, why, NULL);
        }
        if (r == -ENOENT)
                return reply(h, c, method, MHD_HTTP_NOT_FOUND, "no override to clear\n", NULL);
        if (r == -ENOSPC) {
                snprintf(why, sizeof why, "too many overrides: %zu (--max-servers)",
                         table_n_overrides(registry_table(h->registry)));
                return reject(h, c, method, MHD_HTTP_SERVICE_UNAVAILABLE, addr, why, NULL);
        }
        if (r < 0)
                return reply(h, c, method, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
        if (clear)
                snprintf(why, sizeof why, "%s: override cleared%s\n", addr, own >= 0 ? "" : " (not registered)");
        else if (own >= 0)
                snprintf(why, sizeof why, "%s: weight %u (its own: %d)\n", addr, weight, own);
        else
                snprintf(why, sizeof why, "%s: weight %u, kept for when it registers\n", addr, weight);
        return reply(h, c, method, MHD_HTTP_OK, why, NULL);
}

/* ---- routing -------------------------------------------------------------- */

static enum MHD_Result handle_metrics(Handlers *h, struct MHD_Connection *c, const char *method) {
        if (!streq(method, MHD_HTTP_METHOD_GET))
                return reply(h, c, method, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                             (const char *const[]) { MHD_HTTP_HEADER_ALLOW, ALLOW_METRICS, NULL });

        Table *t = registry_table(h->registry);
        _cleanup_free_ TableServiceCount *counts = NULL;
        size_t n_counts = 0;
        registry_expire(h->registry);
        if (table_count_services(t, &counts, &n_counts) < 0)
                return MHD_NO;
        _cleanup_free_ MetricsService *services = calloc(MAX(n_counts, (size_t) 1), sizeof *services);
        if (!services)
                return MHD_NO;
        for (size_t i = 0; i < n_counts; i++)
                services[i] = (MetricsService) { counts[i].name, counts[i].servers };
        MetricsGauges g = {
                .servers = table_size(t),
                .max_servers = table_max(t),
                .connections = h->count_connections ? h->count_connections(h->count_userdata) : 0,
                .timeout = registry_timeout(h->registry),
                .overrides = table_n_overrides(t),
                .services = services,
                .n_services = n_counts,
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
        if (streq(method, MHD_HTTP_METHOD_PATCH))
                return handle_patch(h, c, method);
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
