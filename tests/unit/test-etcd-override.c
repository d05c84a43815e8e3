/* SPDX-License-Identifier: MIT */

/* The operator's overrides in etcd: the key, the value, how ranges and
 * watch messages read them, and how they apply to the servers. */

#include <criterion/criterion.h>

#include "cluster/etcd-override.h"
#include "cluster/etcd-response.h"
#include "geerpc/discovery.h"

static EtcdTarget target(void) {
        EtcdTarget t;
        cr_assert_eq(etcd_url_parse("etcd://127.0.0.1:2379/p", &t, NULL), 0);
        return t;
}

Test(etcd_override, key) {
        EtcdTarget t = target();
        char *k = etcd_override_key_for(&t, "tcp@127.0.0.1:7001");
        cr_assert_str_eq(k, "/p/_overrides/tcp@127.0.0.1:7001");
        /* What discovery reads after "PREFIX/". */
        cr_assert_str_eq(etcd_override_key_addr(k + 3), "tcp@127.0.0.1:7001");
        cr_assert_str_eq(etcd_override_key_addr("_overrides/unix@/run/a.sock"), "unix@/run/a.sock");
        cr_assert_null(etcd_override_key_addr("tcp@127.0.0.1:7001"));
        cr_assert_null(etcd_override_key_addr("_overrides"));
        cr_assert_null(etcd_override_key_addr("_overridesx/tcp@127.0.0.1:1"));
        free(k);
        etcd_target_done(&t);
}

Test(etcd_override, value) {
        static const struct {
                const char *s;
                int want; /* the weight, or -1: refused */
        } cases[] = {
                { "{\"weight\":0}", 0 },
                { "{\"weight\":1000}", 1000 },
                { " {\"weight\": 3, \"by\":\"ops\"} ", 3 },
                { "{\"weight\":1001}", -1 },
                { "{\"weight\":-1}", -1 },
                { "{\"weight\":\"3\"}", -1 },
                { "{\"weight\":1.5}", -1 },
                { "{\"weight\":null}", -1 },
                { "{}", -1 },
                { "[0]", -1 },
                { "0", -1 },
                { "", -1 },
                { "{\"weight\":0", -1 },
                { "drained", -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned w = 77;
                const char *why = NULL;
                int r = etcd_override_parse(cases[i].s, strlen(cases[i].s), &w, &why);
                if (cases[i].want < 0) {
                        cr_assert_eq(r, -EINVAL, "'%s' accepted", cases[i].s);
                        cr_assert_not_null(why);
                        cr_assert_eq(w, 77, "output written on failure for '%s'", cases[i].s);
                } else {
                        cr_assert_eq(r, 0, "'%s': %s", cases[i].s, why);
                        cr_assert_eq(w, (unsigned) cases[i].want);
                }
        }

        /* ETCD_OVERRIDE_VALUE_MAX bytes are read; one more is not. */
        char big[ETCD_OVERRIDE_VALUE_MAX + 2];
        int n = snprintf(big, sizeof big, "{\"weight\":2,\"pad\":\"");
        memset(big + n, 'x', sizeof big - (size_t) n);
        memcpy(big + ETCD_OVERRIDE_VALUE_MAX - 2, "\"}", 2);
        unsigned w;
        const char *why = NULL;
        cr_assert_eq(etcd_override_parse(big, ETCD_OVERRIDE_VALUE_MAX, &w, &why), 0, "%s", why);
        cr_assert_eq(w, 2);
        memcpy(big + ETCD_OVERRIDE_VALUE_MAX - 2, "x\"}", 3);
        cr_assert_eq(etcd_override_parse(big, ETCD_OVERRIDE_VALUE_MAX + 1, &w, &why), -EINVAL);
        cr_assert_str_eq(why, "the value is longer than 256 bytes");

        char *s = etcd_override_format(0);
        cr_assert_str_eq(s, "{\"weight\":0}");
        cr_assert_eq(etcd_override_parse(s, strlen(s), &w, NULL), 0);
        cr_assert_eq(w, 0);
        free(s);
}

static json_t *kv(const char *key, const char *value) {
        char *k = base64_encode(key, strlen(key)), *v = value ? base64_encode(value, strlen(value)) : NULL;
        json_t *j = v ? json_pack("{s:s,s:s,s:s}", "key", k, "value", v, "mod_revision", "5")
                      : json_pack("{s:s,s:s}", "key", k, "mod_revision", "5");
        free(k);
        free(v);
        return j;
}

/* A range lists servers and overrides apart, each under its canonical
 * address; an override key is never a server. */
Test(etcd_override, range) {
        EtcdTarget t = target();
        json_t *kvs = json_array();
        json_array_append_new(kvs, kv("/p/tcp@127.0.0.1:2", "{\"weight\":3}"));
        json_array_append_new(kvs, kv("/p/tcp@127.0.0.1:1", NULL));
        json_array_append_new(kvs, kv("/p/_overrides/tcp@127.1:002", "{\"weight\":0}"));
        json_array_append_new(kvs, kv("/p/_overrides/tcp@127.0.0.1:9", "{\"weight\":5}")); /* no server */
        json_array_append_new(kvs, kv("/p/_overrides/tcp@127.0.0.1:1", "{\"weight\":\"x\"}")); /* malformed */
        json_array_append_new(kvs, kv("/p/_overrides/nonsense", "{\"weight\":0}"));
        json_array_append_new(kvs, kv("/p/_overrides/", "{\"weight\":0}"));
        json_t *resp = json_pack("{s:{s:s},s:o}", "header", "revision", "12", "kvs", kvs);

        EtcdRange range;
        cr_assert_eq(etcd_parse_range(&t, resp, &range), 0);
        cr_assert_eq(range.revision, 12);
        cr_assert_eq(range.n_servers, 2);
        cr_assert_str_eq(range.servers[0].addr, "tcp@127.0.0.1:1");
        cr_assert_eq(range.servers[0].meta.weight, 1);
        cr_assert_str_eq(range.servers[1].addr, "tcp@127.0.0.1:2");
        cr_assert_eq(range.servers[1].meta.weight, 3);
        cr_assert_eq(range.n_overrides, 2);
        cr_assert_str_eq(range.overrides[0].addr, "tcp@127.0.0.1:2");
        cr_assert_eq(range.overrides[0].meta.weight, 0);
        cr_assert_str_eq(range.overrides[1].addr, "tcp@127.0.0.1:9");
        cr_assert_eq(range.overrides[1].meta.weight, 5);

        /* The list: 127.0.0.1:2 drained (its own 3 kept), :1 untouched,
         * :9 not listed (no server there). */
        ServerSet *s;
        cr_assert_eq(etcd_overrides_apply(range.servers, range.n_servers, range.overrides, range.n_overrides, &s), 0);
        cr_assert_eq(geerpc_server_list_get_count(s), 2);
        cr_assert_eq(geerpc_server_list_get_weight(s, 0), 1);
        cr_assert_eq(geerpc_server_list_get_server_weight(s, 0), -ENODATA);
        cr_assert_eq(geerpc_server_list_get_weight(s, 1), 0);
        cr_assert_eq(geerpc_server_list_get_server_weight(s, 1), 3);
        cr_assert_eq(s->n_active, 1, "a drained server may be picked");
        for (int i = 0; i < 20; i++)
                cr_assert_eq(select_pick(s, GEERPC_SELECT_RANDOM, NULL, NULL, NULL), 0);
        server_set_unref(s);

        /* Without overrides: the servers as they are. */
        cr_assert_eq(etcd_overrides_apply(range.servers, range.n_servers, NULL, 0, &s), 0);
        cr_assert_eq(geerpc_server_list_get_weight(s, 1), 3);
        cr_assert_eq(geerpc_server_list_get_server_weight(s, 1), -ENODATA);
        server_set_unref(s);

        etcd_range_done(&range);
        json_decref(resp);
        etcd_target_done(&t);
}

/* The watch: an override's put and delete, and a malformed put, which
 * is read as the override's removal (as a range would leave it out). */
Test(etcd_override, watch) {
        EtcdTarget t = target();
        json_t *events = json_array();
        json_array_append_new(events, json_pack("{s:o}", "kv", kv("/p/_overrides/tcp@127.0.0.1:2", "{\"weight\":4}")));
        json_array_append_new(events, json_pack("{s:o}", "kv", kv("/p/_overrides/tcp@127.0.0.1:3", "{\"weight\":")));
        json_array_append_new(events, json_pack("{s:s,s:o}", "type", "DELETE", "kv",
                                                kv("/p/_overrides/tcp@127.0.0.1:4", NULL)));
        json_array_append_new(events, json_pack("{s:o}", "kv", kv("/p/tcp@127.0.0.1:2", "{\"weight\":2}")));
        json_array_append_new(events, json_pack("{s:o}", "kv", kv("/p/_overrides/x", "{\"weight\":4}")));
        json_t *msg = json_pack("{s:{s:o}}", "result", "events", events);

        EtcdWatchMessage m;
        cr_assert_eq(etcd_parse_watch_message(&t, msg, &m), 0);
        cr_assert_eq(m.n_events, 5);
        cr_assert(m.events[0].override && !m.events[0].deleted);
        cr_assert_str_eq(m.events[0].entry.addr, "tcp@127.0.0.1:2");
        cr_assert_eq(m.events[0].entry.meta.weight, 4);
        cr_assert(m.events[1].override && m.events[1].deleted);
        cr_assert_str_eq(m.events[1].entry.addr, "tcp@127.0.0.1:3");
        cr_assert(m.events[2].override && m.events[2].deleted);
        cr_assert_str_eq(m.events[2].entry.addr, "tcp@127.0.0.1:4");
        cr_assert(!m.events[3].override && !m.events[3].deleted);
        cr_assert_str_eq(m.events[3].entry.addr, "tcp@127.0.0.1:2");
        cr_assert_eq(m.events[3].entry.meta.weight, 2);
        cr_assert_null(m.events[4].entry.addr);
        etcd_watch_message_done(&m);
        json_decref(msg);
        etcd_target_done(&t);
}
