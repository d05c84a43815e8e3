/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "basic/duration.h"
#include "basic/log.h"
#include "cluster/registration-internal.h"

/* The geeregistry back end (also Go GeeRPC's registry): a heartbeat is a
 * POST with the address in X-Geerpc-Server and what the server offers in
 * X-Geerpc-Services, X-Geerpc-Weight and X-Geerpc-Labels (a Go registry
 * ignores those); deregistration a DELETE. */

typedef struct RegistryBackend {
        HttpRequest *req;
        char header_server[300];
        char header_auth[GEERPC_REGISTRY_TOKEN_MAX + 32];
        char *header_services, *header_weight, *header_labels;
} RegistryBackend;

static void free_meta_headers(RegistryBackend *b) {
        b->header_services = mfree(b->header_services);
        b->header_weight = mfree(b->header_weight);
        b->header_labels = mfree(b->header_labels);
}

static int registry_init(geerpc_registration *r) {
        RegistryBackend *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        r->backend_data = b;
        return 0;
}

static void registry_done(geerpc_registration *r) {
        RegistryBackend *b = r->backend_data;
        if (b) {
                explicit_bzero(b->header_auth, sizeof b->header_auth);
                free_meta_headers(b);
        }
        free(b);
        r->backend_data = NULL;
}

static void registry_cancel(geerpc_registration *r) {
        RegistryBackend *b = r->backend_data;
        if (b && b->req) {
                http_request_cancel(b->req);
                b->req = NULL;
        }
}

usec_t registration_registry_timeout(const Buffer *headers) {
        _cleanup_free_ char *v = http_header_get(headers, "X-Geerpc-Timeout");
        usec_t t;
        /* Plain seconds only (no units, signs, exponents, nan or inf);
         * duration_parse() bounds the value and rounds a fraction below
         * 1 us up, so that it never reads as "never expires". */
        if (!v || !*v || v[strspn(v, "0123456789.")] != 0 || duration_parse(v, &t) < 0)
                return USEC_INFINITY;
        return t;
}

/* One-line description of a failed response, for logs and STATUS=. */
static void describe_failure(const HttpResponse *resp, char *buf, size_t size) {
        if (resp->result < 0) {
                snprintf(buf, size, "%s", strempty(resp->error));
                return;
        }
        /* The registry's bodies are one line of text; keep the first. */
        const char *body = buffer_data(resp->body);
        size_t n = buffer_len(resp->body), l = 0;
        while (l < n && l < 160 && body[l] != '\n' && body[l] != '\r')
                l++;
        if (l > 0)
                snprintf(buf, size, "registry answered %ld: %.*s", resp->status, (int) l, body);
        else
                snprintf(buf, size, "registry answered %ld", resp->status);
}

static void on_beat_done(HttpRequest *req, const HttpResponse *resp, void *userdata) {
        geerpc_registration *r = userdata;
        RegistryBackend *b = r->backend_data;
        b->req = NULL;

        if (resp->result >= 0 && resp->status >= 200 && resp->status < 300) {
                registration_beat_done(r, 0, NULL, registration_derive_period(registration_registry_timeout(resp->headers)));
                return;
        }
        char why[256];
        describe_failure(resp, why, sizeof why);
        registration_beat_done(r, resp->result < 0 ? resp->result : resp->status == 401 ? -EACCES : -EIO, why, 0);
}

static void on_leave_done(HttpRequest *req, const HttpResponse *resp, void *userdata) {
        geerpc_registration *r = userdata;
        RegistryBackend *b = r->backend_data;
        b->req = NULL;

        /* 404: the registry no longer knew us (expired): that is the goal. */
        if (resp->result >= 0 && ((resp->status >= 200 && resp->status < 300) || resp->status == 404)) {
                registration_leave_done(r, 0, NULL);
                return;
        }
        char why[256];
        describe_failure(resp, why, sizeof why);
        registration_leave_done(r, resp->result < 0 ? resp->result : -EIO, why);
}

/* The metadata headers of a heartbeat; each only when it says more than
 * its absence would (unknown services, weight 1, no labels). */
static int meta_headers(geerpc_registration *r, RegistryBackend *b) {
        ServerMeta m;
        int k = registration_meta(r, &m);
        if (k < 0)
                return k;
        _cleanup_free_ char *services = m.services ? strv_join(m.services, ",") : NULL,
                            *labels = m.labels ? strv_join(m.labels, ",") : NULL;
        free_meta_headers(b);
        if ((m.services && (!services || asprintf(&b->header_services, "X-Geerpc-Services: %s", services) < 0)) ||
            (m.weight != GEERPC_WEIGHT_DEFAULT && asprintf(&b->header_weight, "X-Geerpc-Weight: %u", m.weight) < 0) ||
            (m.labels && (!labels || asprintf(&b->header_labels, "X-Geerpc-Labels: %s", labels) < 0)))
                k = -ENOMEM;
        server_meta_done(&m);
        return k;
}

static int send_request(geerpc_registration *r, const char *method, usec_t timeout, http_done_t done) {
        RegistryBackend *b = r->backend_data;
        const char *headers[6] = {};
        size_t n = 0;

        snprintf(b->header_server, sizeof b->header_server, "X-Geerpc-Server: %s", r->address);
        headers[n++] = b->header_server;
        if (r->token) {
                snprintf(b->header_auth, sizeof b->header_auth, "Authorization: Bearer %s", r->token);
                headers[n++] = b->header_auth;
        }
        free_meta_headers(b);
        if (streq(method, "POST")) {
                int k = meta_headers(r, b);
                if (k < 0)
                        return k;
                const char *meta[] = { b->header_services, b->header_weight, b->header_labels };
                for (size_t i = 0; i < ELEMENTSOF(meta); i++)
                        if (meta[i])
                                headers[n++] = meta[i];
        }
        HttpRequestSpec spec = {
                .method = method,
                .url = r->url,
                .headers = headers,
                .timeout = timeout,
                .connect_timeout = MIN(timeout, HTTP_CONNECT_TIMEOUT_DEFAULT_USEC),
                .max_response = 64 * 1024,
        };
        return http_request_start(r->http, &spec, done, r, &b->req);
}

static int registry_beat(geerpc_registration *r, usec_t timeout) {
        return send_request(r, "POST", timeout, on_beat_done);
}

static int registry_leave(geerpc_registration *r, usec_t timeout) {
        return send_request(r, "DELETE", timeout, on_leave_done);
}

const RegistrationBackend registration_backend_registry = {
        .name = "geeregistry",
        .init = registry_init,
        .done = registry_done,
        .beat = registry_beat,
        .leave = registry_leave,
        .cancel = registry_cancel,
};
