/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cluster/etcd.h"
#include "codec/json-util.h"
#include "basic/log.h"
#include "basic/url.h"

bool etcd_url_is(const char *url) {
        return url_scheme(url) == URL_SCHEME_ETCD;
}

#define FAIL_ERRNO(error, why)             \
        do {                               \
                if (ret_reason)            \
                        *ret_reason = why; \
                etcd_target_done(&t);      \
                return error;              \
        } while (0)
#define FAIL(why) FAIL_ERRNO(-EINVAL, why)

int etcd_url_parse(const char *url, EtcdTarget *ret, const char **ret_reason) {
        EtcdTarget t = {};

        if (!etcd_url_is(url))
                FAIL("not an etcd:// URL");
        const char *hosts = url + 7;
        const char *slash = strchr(hosts, '/');
        size_t hl = slash ? (size_t) (slash - hosts) : strlen(hosts);
        if (hl == 0)
                FAIL("no etcd endpoint in URL");

        for (const char *p = hosts; p < hosts + hl;) {
                const char *comma = memchr(p, ',', (size_t) (hosts + hl - p));
                size_t l = comma ? (size_t) (comma - p) : (size_t) (hosts + hl - p);
                if (l == 0)
                        FAIL("empty etcd endpoint in URL");
                if (t.n_endpoints >= ETCD_ENDPOINTS_MAX)
                        FAIL("too many etcd endpoints (at most 16)");
                /* HOST:PORT, [IPv6]:PORT; nothing that could escape a URL. */
                const char *colon = NULL;
                for (size_t i = 0; i < l; i++) {
                        char c = p[i];
                        if (c == ':')
                                colon = p + i;
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
                                FAIL("invalid character in etcd endpoint");
                }
                if (!colon || colon == p || colon == p + l - 1)
                        FAIL("etcd endpoint must be HOST:PORT");
                for (const char *q = colon + 1; q < p + l; q++)
                        if (*q < '0' || *q > '9')
                                FAIL("etcd endpoint port is not a number");
                if (asprintf(&t.endpoints[t.n_endpoints], "http://%.*s", (int) l, p) < 0)
                        FAIL_ERRNO(-ENOMEM, "out of memory");
                t.n_endpoints++;
                p += l + (comma ? 1 : 0);
                if (comma && p == hosts + hl)
                        FAIL("empty etcd endpoint in URL");
        }

        const char *prefix = slash && slash[1] ? slash : ETCD_PREFIX_DEFAULT;
        size_t pl = strlen(prefix);
        while (pl > 1 && prefix[pl - 1] == '/')
                pl--;
        for (size_t i = 0; i < pl; i++)
                if ((unsigned char) prefix[i] <= ' ' || prefix[i] == 0x7f)
                        FAIL("etcd prefix contains whitespace or control characters");
        t.prefix = strndup(prefix, pl);
        if (!t.prefix)
                FAIL_ERRNO(-ENOMEM, "out of memory");
        *ret = t;
        return 0;
}
#undef FAIL
#undef FAIL_ERRNO

void etcd_target_done(EtcdTarget *t) {
        for (size_t i = 0; i < t->n_endpoints; i++)
                free(t->endpoints[i]);
        free(t->prefix);
        *t = (EtcdTarget) {};
}

char *etcd_key_for(const EtcdTarget *t, const char *addr) {
        char *k;
        return asprintf(&k, "%s/%s", t->prefix, addr) < 0 ? NULL : k;
}

char *etcd_range_start(const EtcdTarget *t) {
        char *k;
        return asprintf(&k, "%s/", t->prefix) < 0 ? NULL : k;
}

char *etcd_range_end(const EtcdTarget *t) {
        /* The first key after every "PREFIX/...": "PREFIX0" ('/' + 1). */
        char *k;
        return asprintf(&k, "%s0", t->prefix) < 0 ? NULL : k;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *p, size_t n) {
        const unsigned char *s = p;
        char *out = malloc((n + 2) / 3 * 4 + 1), *w = out;
        if (!out)
                return NULL;
        size_t i = 0;
        for (; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
                *w++ = b64[v >> 18];
                *w++ = b64[(v >> 12) & 63];
                *w++ = b64[(v >> 6) & 63];
                *w++ = b64[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0);
                *w++ = b64[v >> 18];
                *w++ = b64[(v >> 12) & 63];
                *w++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
                *w++ = '=';
        }
        *w = 0;
        return out;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64, c) : NULL;
        return p ? (int) (p - b64) : -1;
}

int base64_decode(const char *s, char **ret, size_t *ret_len) {
        size_t n = strlen(s);
        if (n % 4 != 0)
                return -EINVAL;
        char *out = malloc(n / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i += 4) {
                int a = b64_value(s[i]), b = b64_value(s[i + 1]);
                bool last = i + 4 == n;
                int c = last && s[i + 2] == '=' ? -2 : b64_value(s[i + 2]);
                int d = last && s[i + 3] == '=' ? -2 : b64_value(s[i + 3]);
                if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2)) {
                        free(out);
                        return -EINVAL;
                }
                uint32_t v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) (c < 0 ? 0 : c) << 6 |
                             (uint32_t) (d < 0 ? 0 : d);
                out[k++] = (char) (v >> 16);
                if (c >= 0)
                        out[k++] = (char) (v >> 8);
                if (d >= 0)
                        out[k++] = (char) v;
        }
        out[k] = 0;
        *ret = out;
        if (ret_len)
                *ret_len = k;
        return 0;
}

int etcd_json_int(json_t *v, int64_t *ret) {
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end)
                return -EINVAL;
        *ret = x;
        return 0;
}

const char *etcd_error_message(json_t *response) {
        json_t *m = json_object_get(response, "message");
        if (!json_is_string(m))
                m = json_object_get(response, "error");
        return json_is_string(m) ? json_string_value(m) : NULL;
}

/* ---- calls with endpoint failover ------------------------------------------- */

struct EtcdCall {
        HttpClient *http;
        EtcdTarget *target;
        char *path;
        char *body;
        usec_t timeout;
        size_t attempts;
        HttpRequest *req;
        etcd_done_t done;
        void *userdata;
        char url[512];
};

static void call_free(EtcdCall *c) {
        free(c->path);
        free(c->body);
        free(c);
}

static int call_attempt(EtcdCall *c);

static void on_response(HttpRequest *req, const HttpResponse *resp, void *userdata) {
        EtcdCall *c = userdata;
        c->req = NULL;

        if (resp->result < 0 && resp->status == 0 && resp->result != -EMSGSIZE &&
            c->attempts < c->target->n_endpoints) {
                /* That endpoint is gone: the next one, in turn. */
                log_debug("etcd: %s failed (%s), trying the next endpoint", c->url, strempty(resp->error));
                c->target->current = (c->target->current + 1) % c->target->n_endpoints;
                if (call_attempt(c) >= 0)
                        return;
        }

        json_t *j = NULL;
        if (resp->result >= 0)
                j = json_parse_value(buffer_data(resp->body), buffer_len(resp->body), 0, NULL);
        c->done(c, resp->result, resp->error, resp->status, j, c->userdata);
        if (j)
                json_decref(j);
        call_free(c);
}

static int call_attempt(EtcdCall *c) {
        if (c->attempts >= c->target->n_endpoints)
                return -EHOSTUNREACH;
        c->attempts++;
        snprintf(c->url, sizeof c->url, "%s%s", c->target->endpoints[c->target->current], c->path);
        HttpRequestSpec spec = {
                .method = "POST",
                .url = c->url,
                .headers = (const char *[]) { "Content-Type: application/json", NULL },
                .body = c->body,
                .body_size = strlen(c->body),
                .timeout = c->timeout,
                .connect_timeout = MIN(c->timeout, HTTP_CONNECT_TIMEOUT_DEFAULT_USEC),
                .max_response = ETCD_RESPONSE_MAX,
        };
        return http_request_start(c->http, &spec, on_response, c, &c->req);
}

int etcd_call(HttpClient *http, EtcdTarget *t, const char *path, json_t *body, usec_t timeout, etcd_done_t done,
              void *userdata, EtcdCall **ret) {
        if (t->n_endpoints == 0)
                return -EINVAL;
        EtcdCall *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (EtcdCall) { .http = http, .target = t, .timeout = timeout, .done = done, .userdata = userdata };
        c->path = strdup(path);
        c->body = json_dumps(body, JSON_COMPACT);
        if (!c->path || !c->body) {
                call_free(c);
                return -ENOMEM;
        }
        int r = call_attempt(c);
        if (r < 0) {
                call_free(c);
                return r;
        }
        if (ret)
                *ret = c;
        return 0;
}

void etcd_call_cancel(EtcdCall *c) {
        if (!c)
                return;
        http_request_cancel(c->req);
        call_free(c);
}

typedef struct SyncResult {
        sd_event *event;
        int result;
        long status;
        json_t *response;
        char *error;
} SyncResult;

static void on_sync_done(EtcdCall *call, int result, const char *error, long status, json_t *response,
                         void *userdata) {
        SyncResult *s = userdata;
        s->result = result;
        s->status = status;
        s->response = response ? json_incref(response) : NULL;
        s->error = error ? strdup(error) : NULL;
        (void) sd_event_exit(s->event, 0);
}

int etcd_call_sync(EtcdTarget *t, const char *path, json_t *body, usec_t timeout, long *ret_status,
                   json_t **ret_response, char **ret_error) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        SyncResult s = { .result = -EIO };
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        s.event = e;
        r = http_client_new(&http, e);
        if (r < 0)
                return r;
        r = etcd_call(http, t, path, body, timeout, on_sync_done, &s, NULL);
        if (r < 0)
                return r;
        r = sd_event_loop(e);
        if (r < 0) {
                if (s.response)
                        json_decref(s.response);
                free(s.error);
                return r;
        }
        if (s.result < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(s.error);
                free(s.error);
                return s.result;
        }
        free(s.error);
        *ret_status = s.status;
        *ret_response = s.response;
        return 0;
}
