/* SPDX-License-Identifier: MIT */
#include "basic/address.h"
#include "basic/log.h"
#include "codec/json-util.h"
#include "cluster/etcd-override.h"
#include "cluster/etcd-response.h"
#include "geerpc/discovery.h"

/* The address a key names ("PREFIX/ADDR" or "PREFIX/_overrides/ADDR",
 * base64) in its canonical spelling, or NULL if the key is not ours or not
 * a valid address. *ret_override: which of the two. malloc'd. */
static char *key_to_addr(const EtcdTarget *t, json_t *key, bool *ret_override) {
        _cleanup_free_ char *k = NULL;
        *ret_override = false;
        if (!json_is_string(key) || base64_decode(json_string_value(key), &k, NULL) < 0)
                return NULL;
        size_t pl = strlen(t->prefix);
        if (strncmp(k, t->prefix, pl) != 0 || k[pl] != '/')
                return NULL;
        const char *overridden = etcd_override_key_addr(k + pl + 1);
        char *addr = NULL;
        const char *why = NULL;
        if (address_canonicalize(overridden ?: k + pl + 1, 0, &addr, &why) == -EINVAL)
                log_debug("rpc discovery: skipping etcd key %s: %s", k, why);
        *ret_override = overridden;
        return addr;
}

/* The metadata of a server's value (registration-etcd.c writes it): a
 * value that is not JSON, or without metadata, says nothing (unknown
 * services, the default weight). -EINVAL for invalid metadata. */
static int value_to_meta(const char *addr, const char *value, size_t len, ServerMeta *ret) {
        _cleanup_json_ json_t *o = json_loadb(value, len, 0, NULL);
        const char *why = NULL;
        *ret = SERVER_META_DEFAULT;
        if (json_is_object(o) && server_meta_from_json(o, ret, &why) < 0) {
                log_debug("rpc discovery: skipping etcd key of %s: %s", addr, why);
                return -EINVAL;
        }
        return 0;
}

/* An override's value: only its weight. -EINVAL (logged, as an operator's
 * mistake) for anything else. */
static int value_to_override(const char *addr, const char *value, size_t len, ServerMeta *ret) {
        const char *why = NULL;
        unsigned weight;
        if (etcd_override_parse(value, len, &weight, &why) < 0) {
                log_info("rpc discovery: ignoring the operator's weight for %s in etcd: %s", addr, why);
                return -EINVAL;
        }
        *ret = (ServerMeta) { .weight = weight };
        return 0;
}

/* An entry from a key and its value, a server's or an override's
 * (*ret_override). -EINVAL for a key that is not ours and for a value
 * that says nothing usable (the key is skipped); *ret is then empty, or
 * for an override's bad value names the address alone (owned). */
static int kv_to_entry(const EtcdTarget *t, json_t *kv, ServerEntry *ret, bool *ret_override) {
        *ret = (ServerEntry) {};
        _cleanup_free_ char *addr = key_to_addr(t, json_object_get(kv, "key"), ret_override);
        if (!addr)
                return -EINVAL;
        _cleanup_free_ char *value = NULL;
        size_t len = 0;
        json_t *v = json_object_get(kv, "value");
        if (!json_is_string(v) || base64_decode(json_string_value(v), &value, &len) < 0)
                len = 0;
        ServerMeta meta = SERVER_META_DEFAULT;
        int r = 0;
        if (*ret_override)
                r = value_to_override(addr, strempty(value), len, &meta);
        else if (value)
                r = value_to_meta(addr, value, len, &meta);
        if (r < 0 && !*ret_override)
                return r;
        *ret = (ServerEntry) { .addr = TAKE_PTR(addr), .meta = r < 0 ? SERVER_META_DEFAULT : meta,
                               .server_weight = -1 };
        return r;
}

static int cmp_entry_addr(const void *a, const void *b) {
        return strcmp(((const ServerEntry *) a)->addr, ((const ServerEntry *) b)->addr);
}

void etcd_range_done(EtcdRange *r) {
        server_entries_free(r->servers, r->n_servers);
        server_entries_free(r->overrides, r->n_overrides);
        *r = (EtcdRange) {};
}

int etcd_parse_range(const EtcdTarget *t, json_t *response, EtcdRange *ret) {
        _cleanup_(etcd_range_done) EtcdRange g = {};
        if (!json_is_object(response) ||
            etcd_json_int(json_object_get(json_object_get(response, "header"), "revision"), 0, ETCD_REVISION_MAX,
                          &g.revision) < 0)
                return -EBADMSG;
        json_t *kvs = json_object_get(response, "kvs"), *kv;
        size_t n = MIN(json_is_array(kvs) ? json_array_size(kvs) : 0, (size_t) GEERPC_DISCOVERY_MAX_SERVERS), i;
        g.servers = calloc(n + 1, sizeof *g.servers);
        g.overrides = calloc(n + 1, sizeof *g.overrides);
        if (!g.servers || !g.overrides)
                return -ENOMEM;
        json_array_foreach(kvs, i, kv) {
                ServerEntry x;
                bool override = false;
                if (kv_to_entry(t, kv, &x, &override) < 0) {
                        server_entry_done(&x);
                        continue;
                }
                size_t *k = override ? &g.n_overrides : &g.n_servers;
                if (*k >= n) {
                        server_entry_done(&x);
                        continue;
                }
                (override ? g.overrides : g.servers)[(*k)++] = x;
        }
        if (g.n_servers > 1)
                qsort(g.servers, g.n_servers, sizeof *g.servers, cmp_entry_addr);
        if (g.n_overrides > 1)
                qsort(g.overrides, g.n_overrides, sizeof *g.overrides, cmp_entry_addr);
        *ret = g;
        g = (EtcdRange) {};
        return 0;
}

int etcd_parse_watch_message(const EtcdTarget *t, json_t *msg, EtcdWatchMessage *ret) {
        json_t *res = json_object_get(msg, "result");
        if (!json_is_object(res))
                return -EBADMSG;

        EtcdWatchMessage m = {
                .created = json_is_true(json_object_get(res, "created")),
                .canceled = json_is_true(json_object_get(res, "canceled")),
        };
        /* Any compaction past us means listing afresh. */
        if (etcd_json_int(json_object_get(res, "compact_revision"), 0, INT64_MAX, &m.compact_revision) < 0)
                m.compact_revision = 0;

        json_t *events = json_object_get(res, "events"), *ev;
        size_t i;
        if (json_is_array(events) && json_array_size(events) > 0) {
                m.events = calloc(json_array_size(events), sizeof *m.events);
                if (!m.events)
                        return -ENOMEM;
        }
        json_array_foreach(events, i, ev) {
                json_t *kv = json_object_get(ev, "kv"), *type = json_object_get(ev, "type");
                EtcdWatchEvent *e = &m.events[m.n_events++];
                /* PUT is the enum's zero value: the gateway leaves it out. */
                e->deleted = json_is_string(type) && streq(json_string_value(type), "DELETE");
                if (e->deleted)
                        e->entry = (ServerEntry) { .addr = key_to_addr(t, json_object_get(kv, "key"), &e->override),
                                                   .meta = SERVER_META_DEFAULT, .server_weight = -1 };
                else if (kv_to_entry(t, kv, &e->entry, &e->override) < 0)
                        /* An override that says nothing usable is no
                         * override; a server's bad value is skipped. */
                        e->deleted = e->override;
                if (etcd_json_int(json_object_get(kv, "mod_revision"), 0, ETCD_REVISION_MAX, &e->mod_revision) < 0)
                        e->mod_revision = 0;
        }
        *ret = m;
        return 0;
}

void etcd_watch_message_done(EtcdWatchMessage *m) {
        for (size_t i = 0; i < m->n_events; i++)
                server_entry_done(&m->events[i].entry);
        free(m->events);
        *m = (EtcdWatchMessage) {};
}

int etcd_parse_grant(json_t *response, int64_t *ret_id, int64_t *ret_ttl) {
        int64_t id, ttl;
        if (etcd_json_int(json_object_get(response, "ID"), 1, INT64_MAX, &id) < 0 ||
            etcd_json_int(json_object_get(response, "TTL"), 1, ETCD_TTL_MAX, &ttl) < 0)
                return -EBADMSG;
        *ret_id = id;
        *ret_ttl = ttl;
        return 0;
}

int etcd_parse_keepalive(json_t *response, int64_t *ret_ttl) {
        /* The keepalive endpoint streams {"result":{...}} objects; one
         * without TTL (or with 0) says the lease is gone. */
        json_t *res = json_object_get(response, "result"), *v = json_object_get(res, "TTL");
        int64_t ttl;
        if (!v)
                return -ENOENT;
        int r = etcd_json_int(v, 0, ETCD_TTL_MAX, &ttl);
        if (r < 0)
                return -EBADMSG;
        if (ttl == 0)
                return -ENOENT;
        *ret_ttl = ttl;
        return 0;
}
