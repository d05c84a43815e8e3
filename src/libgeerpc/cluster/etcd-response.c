/* SPDX-License-Identifier: MIT */
#include "basic/address.h"
#include "basic/log.h"
#include "codec/json-util.h"
#include "cluster/etcd-response.h"
#include "geerpc/discovery.h"

/* The address a key names ("PREFIX/ADDR", base64) in its canonical
 * spelling, or NULL if the key is not ours or not a valid address.
 * malloc'd. */
static char *key_to_addr(const EtcdTarget *t, json_t *key) {
        _cleanup_free_ char *k = NULL;
        if (!json_is_string(key) || base64_decode(json_string_value(key), &k, NULL) < 0)
                return NULL;
        size_t pl = strlen(t->prefix);
        if (strncmp(k, t->prefix, pl) != 0 || k[pl] != '/')
                return NULL;
        char *addr = NULL;
        const char *why = NULL;
        if (address_canonicalize(k + pl + 1, 0, &addr, &why) == -EINVAL)
                log_debug("rpc discovery: skipping etcd key %s: %s", k, why);
        return addr;
}

/* A server's entry from a key and its value (registration-etcd.c writes
 * it): a value that is not JSON, or without metadata, says nothing
 * (unknown services, the default weight). -EINVAL for a key that is not
 * ours, and for invalid metadata (the key is skipped). */
static int kv_to_entry(const EtcdTarget *t, json_t *kv, ServerEntry *ret) {
        _cleanup_free_ char *addr = key_to_addr(t, json_object_get(kv, "key"));
        if (!addr)
                return -EINVAL;
        ServerMeta meta = SERVER_META_DEFAULT;
        _cleanup_free_ char *value = NULL;
        size_t len = 0;
        json_t *v = json_object_get(kv, "value");
        if (json_is_string(v) && base64_decode(json_string_value(v), &value, &len) >= 0) {
                _cleanup_json_ json_t *o = json_loadb(value, len, 0, NULL);
                const char *why = NULL;
                if (json_is_object(o) && server_meta_from_json(o, &meta, &why) < 0) {
                        log_debug("rpc discovery: skipping etcd key of %s: %s", addr, why);
                        return -EINVAL;
                }
        }
        *ret = (ServerEntry) { .addr = TAKE_PTR(addr), .meta = meta, .server_weight = -1 };
        return 0;
}

static int cmp_entry_addr(const void *a, const void *b) {
        return strcmp(((const ServerEntry *) a)->addr, ((const ServerEntry *) b)->addr);
}

int etcd_parse_range(const EtcdTarget *t, json_t *response, ServerEntry **ret, size_t *ret_n, int64_t *ret_revision) {
        int64_t rev = 0;
        if (!json_is_object(response) ||
            etcd_json_int(json_object_get(json_object_get(response, "header"), "revision"), 0, ETCD_REVISION_MAX,
                          &rev) < 0)
                return -EBADMSG;
        json_t *kvs = json_object_get(response, "kvs"), *kv;
        size_t n = json_is_array(kvs) ? json_array_size(kvs) : 0, k = 0, i;
        ServerEntry *v = calloc(MIN(n, (size_t) GEERPC_DISCOVERY_MAX_SERVERS) + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        json_array_foreach(kvs, i, kv) {
                if (k >= GEERPC_DISCOVERY_MAX_SERVERS)
                        break;
                if (kv_to_entry(t, kv, &v[k]) >= 0)
                        k++;
        }
        if (k > 1)
                qsort(v, k, sizeof *v, cmp_entry_addr);
        *ret = v;
        *ret_n = k;
        *ret_revision = rev;
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
                        e->entry = (ServerEntry) { .addr = key_to_addr(t, json_object_get(kv, "key")),
                                                   .meta = SERVER_META_DEFAULT, .server_weight = -1 };
                else if (kv_to_entry(t, kv, &e->entry) < 0)
                        e->entry = (ServerEntry) {};
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
