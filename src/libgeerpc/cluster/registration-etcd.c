/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <time.h>

#include "cluster/etcd-response.h"
#include "basic/log.h"
#include "codec/json-writer.h"
#include "cluster/registration-internal.h"

/* The etcd back end: the server's key PREFIX/ADDR is put with a lease; a
 * heartbeat is a lease keepalive. When etcd reports the lease gone (a
 * keepalive without TTL, or a put answered "lease not found": etcd lost it
 * or it expired while we could not reach etcd) a new lease is granted and
 * the key put again, in the same heartbeat. Deregistration revokes the
 * lease, so the key vanishes at once. */

typedef struct EtcdBackend {
        EtcdTarget target;
        char *key_b64;
        char *value;   /* what the key was last put with (without the time) */
        bool then_keepalive; /* a put of new metadata, within a heartbeat */
        int64_t lease; /* 0: none */
        int64_t ttl;   /* seconds, as granted */
        EtcdCall *call;
        usec_t timeout;
        bool regranted; /* one fresh lease per heartbeat at most */
} EtcdBackend;

static EtcdBackend *backend(geerpc_registration *r) {
        return r->backend_data;
}

static int etcd_init(geerpc_registration *r) {
        const char *why = NULL;
        EtcdBackend *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        r->backend_data = b;
        int k = etcd_url_parse(r->url, &b->target, &why);
        if (k < 0) {
                log_debug("registration: %s: %s", r->url, strempty(why));
                return k;
        }
        _cleanup_free_ char *key = etcd_key_for(&b->target, r->address);
        if (!key)
                return -ENOMEM;
        b->key_b64 = base64_encode(key, strlen(key));
        return b->key_b64 ? 0 : -ENOMEM;
}

static void etcd_cancel(geerpc_registration *r) {
        EtcdBackend *b = backend(r);
        if (b && b->call) {
                etcd_call_cancel(b->call);
                b->call = NULL;
        }
}

static void etcd_done(geerpc_registration *r) {
        EtcdBackend *b = backend(r);
        if (!b)
                return;
        etcd_target_done(&b->target);
        free(b->key_b64);
        free(b->value);
        free(b);
        r->backend_data = NULL;
}

static int64_t requested_ttl(geerpc_registration *r) {
        usec_t ttl = r->period_fixed ? 3 * r->period_fixed : GEERPC_ETCD_LEASE_TTL_DEFAULT_USEC;
        return (int64_t) MAX((ttl + USEC_PER_SEC - 1) / USEC_PER_SEC, (usec_t) 1);
}

/* Turns a gateway answer into an error text, or NULL when it succeeded. */
static const char *failure(int result, const char *error, long status, json_t *response, char *buf, size_t size) {
        if (result < 0)
                return error ?: strerror(-result);
        const char *m = etcd_error_message(response);
        if (status != 200 || m) {
                snprintf(buf, size, "etcd answered %ld: %s", status, m ?: "no message");
                return buf;
        }
        if (!json_is_object(response))
                return "etcd answered something that is not JSON";
        return NULL;
}

static void fail_beat(geerpc_registration *r, int result, const char *why) {
        registration_beat_done(r, result < 0 ? result : -EIO, why, 0);
}

static void succeed_beat(geerpc_registration *r) {
        EtcdBackend *b = backend(r);
        /* Keep the lease alive three times per TTL. */
        registration_beat_done(r, 0, NULL, (usec_t) b->ttl * USEC_PER_SEC / 3);
}

static int start(geerpc_registration *r, const char *path, json_t *body, etcd_done_t done) {
        EtcdBackend *b = backend(r);
        int k = etcd_call(r->http, &b->target, path, body, b->timeout, done, r, &b->call);
        json_decref(body);
        return k;
}

/* {"ID":"<lease>"}, for keepalive and revoke (int64 as a string). */
static json_t *lease_id_body(EtcdBackend *b) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long) b->lease);
        return json_pack("{s:s}", "ID", id);
}

static int grant(geerpc_registration *r);
static int keepalive(geerpc_registration *r);

/* etcd no longer has our lease: a new one, and the key put again, within
 * the same heartbeat. */
static void start_over(geerpc_registration *r, const char *what) {
        EtcdBackend *b = backend(r);
        log_info("etcd lease %lld of %s %s; granting a new one", (long long) b->lease, r->address, what);
        b->lease = 0;
        b->regranted = true;
        int k = grant(r);
        if (k < 0)
                fail_beat(r, k, strerror(-k));
}

static void on_put(EtcdCall *call, int result, const char *error, long status, json_t *response, void *userdata) {
        geerpc_registration *r = userdata;
        EtcdBackend *b = backend(r);
        char buf[256];
        b->call = NULL;

        const char *why = failure(result, error, status, response, buf, sizeof buf);
        if (!why && b->then_keepalive) {
                b->then_keepalive = false;
                int k = keepalive(r);
                if (k < 0)
                        fail_beat(r, k, strerror(-k));
                return;
        }
        if (!why) {
                succeed_beat(r);
                return;
        }
        b->value = mfree(b->value); /* not known to be put */
        const char *m = etcd_error_message(response);
        if (m && strstr(m, "lease not found") && !b->regranted) {
                start_over(r, "was lost");
                return;
        }
        fail_beat(r, result, why);
}

/* The value: what the key says, what the server offers, and when it
 * registered: {"addr":...,"services":[...],"weight":N,"labels":{...},
 * "registered_at":"..."}. *ret_meta: the part without the time, to tell
 * whether it changed. */
static int value_of(geerpc_registration *r, char **ret, char **ret_meta) {
        ServerMeta meta;
        char when[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));

        int k = registration_meta(r, &meta);
        if (k < 0)
                return k;
        Buffer v = {};
        k = buffer_append(&v, "{\"addr\":", 8);
        if (k >= 0)
                k = json_append_string(&v, r->address);
        if (k >= 0)
                k = server_meta_append_json(&v, &meta);
        server_meta_done(&meta);
        char *m = k >= 0 ? strndup(buffer_data(&v), buffer_len(&v)) : NULL;
        if (m)
                k = buffer_append(&v, ",\"registered_at\":\"", 18);
        if (m && k >= 0)
                k = buffer_append(&v, when, strlen(when));
        if (m && k >= 0)
                k = buffer_append(&v, "\"}", 3); /* with the NUL */
        if (!m || k < 0) {
                free(m);
                buffer_done(&v);
                return -ENOMEM;
        }
        *ret = v.data; /* never consumed: the allocation starts there */
        *ret_meta = m;
        return 0;
}

static int put(geerpc_registration *r) {
        EtcdBackend *b = backend(r);
        char lease[32];
        snprintf(lease, sizeof lease, "%lld", (long long) b->lease);

        _cleanup_free_ char *v = NULL, *meta = NULL;
        int k = value_of(r, &v, &meta);
        if (k < 0)
                return k;
        _cleanup_free_ char *v64 = base64_encode(v, strlen(v));
        if (!v64)
                return -ENOMEM;
        json_t *body = json_pack("{s:s,s:s,s:s}", "key", b->key_b64, "value", v64, "lease", lease);
        if (!body)
                return -ENOMEM;
        free(b->value);
        b->value = TAKE_PTR(meta);
        return start(r, "/v3/kv/put", body, on_put);
}

/* Whether what the server offers changed since the last put. */
static bool value_changed(geerpc_registration *r) {
        EtcdBackend *b = backend(r);
        _cleanup_free_ char *v = NULL, *meta = NULL;
        return !b->value || value_of(r, &v, &meta) < 0 || !streq(meta, b->value);
}

static void on_grant(EtcdCall *call, int result, const char *error, long status, json_t *response,
                     void *userdata) {
        geerpc_registration *r = userdata;
        EtcdBackend *b = backend(r);
        char buf[256];
        int64_t id = 0, ttl = 0;
        b->call = NULL;

        const char *why = failure(result, error, status, response, buf, sizeof buf);
        if (!why && etcd_parse_grant(response, &id, &ttl) < 0)
                why = "etcd granted no usable lease";
        if (why) {
                fail_beat(r, result, why);
                return;
        }
        b->lease = id;
        b->ttl = ttl;
        int k = put(r);
        if (k < 0)
                fail_beat(r, k, strerror(-k));
}

static int grant(geerpc_registration *r) {
        json_t *body = json_pack("{s:I}", "TTL", (json_int_t) requested_ttl(r));
        if (!body)
                return -ENOMEM;
        return start(r, "/v3/lease/grant", body, on_grant);
}

static void on_keepalive(EtcdCall *call, int result, const char *error, long status, json_t *response,
                         void *userdata) {
        geerpc_registration *r = userdata;
        EtcdBackend *b = backend(r);
        char buf[256];
        int64_t ttl = 0;
        b->call = NULL;

        const char *why = failure(result, error, status, response, buf, sizeof buf);
        if (why) {
                fail_beat(r, result, why);
                return;
        }
        int k = etcd_parse_keepalive(response, &ttl);
        if (k == -ENOENT) {
                start_over(r, "is gone");
                return;
        }
        if (k < 0) {
                fail_beat(r, -EIO, "etcd answered a keepalive without a usable TTL");
                return;
        }
        b->ttl = ttl;
        succeed_beat(r);
}

static int keepalive(geerpc_registration *r) {
        json_t *body = lease_id_body(backend(r));
        if (!body)
                return -ENOMEM;
        return start(r, "/v3/lease/keepalive", body, on_keepalive);
}

static int etcd_beat(geerpc_registration *r, usec_t timeout) {
        EtcdBackend *b = backend(r);
        b->timeout = timeout;
        b->regranted = false;
        b->then_keepalive = false;
        if (!b->lease)
                return grant(r);
        if (!value_changed(r))
                return keepalive(r);
        /* New metadata: put it, then keep the lease alive as usual. */
        b->then_keepalive = true;
        return put(r);
}

static void on_revoke(EtcdCall *call, int result, const char *error, long status, json_t *response,
                      void *userdata) {
        geerpc_registration *r = userdata;
        EtcdBackend *b = backend(r);
        char buf[256];
        b->call = NULL;

        const char *why = failure(result, error, status, response, buf, sizeof buf);
        /* A lease etcd no longer has is as good as revoked. */
        const char *m = etcd_error_message(response);
        if (why && m && strstr(m, "lease not found"))
                why = NULL;
        if (!why)
                b->lease = 0;
        registration_leave_done(r, why ? (result < 0 ? result : -EIO) : 0, why);
}

static int etcd_leave(geerpc_registration *r, usec_t timeout) {
        EtcdBackend *b = backend(r);
        if (b->lease == 0) {
                /* Never registered (or the lease is already gone). */
                registration_leave_done(r, 0, NULL);
                return 0;
        }
        b->timeout = timeout;
        json_t *body = lease_id_body(b);
        if (!body)
                return -ENOMEM;
        return start(r, "/v3/lease/revoke", body, on_revoke);
}

const RegistrationBackend registration_backend_etcd = {
        .name = "etcd",
        .init = etcd_init,
        .done = etcd_done,
        .beat = etcd_beat,
        .leave = etcd_leave,
        .cancel = etcd_cancel,
};
