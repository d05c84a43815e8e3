/* SPDX-License-Identifier: MIT */

/* The etcd helpers: URL form, key ranges, base64, int64-as-string. */

#include <criterion/criterion.h>

#include "cluster/etcd-response.h"

Test(etcd, url_parsing) {
        EtcdTarget t;
        const char *why;
        cr_assert(etcd_url_is("etcd://x:1"));
        cr_assert(!etcd_url_is("http://x:1"));
        cr_assert(etcd_url_is("ETCD://x:1"));

        cr_assert_eq(etcd_url_parse("etcd://127.0.0.1:2379", &t, &why), 0);
        cr_assert_eq(t.n_endpoints, 1);
        cr_assert_str_eq(t.endpoints[0], "http://127.0.0.1:2379");
        cr_assert_str_eq(t.prefix, "/geerpc/services");
        etcd_target_done(&t);

        cr_assert_eq(etcd_url_parse("etcd://a:1,b:2,[::1]:3/my/prefix/", &t, &why), 0);
        cr_assert_eq(t.n_endpoints, 3);
        cr_assert_str_eq(t.endpoints[1], "http://b:2");
        cr_assert_str_eq(t.endpoints[2], "http://[::1]:3");
        cr_assert_str_eq(t.prefix, "/my/prefix");
        char *k = etcd_key_for(&t, "tcp@127.0.0.1:7001");
        cr_assert_str_eq(k, "/my/prefix/tcp@127.0.0.1:7001");
        free(k);
        char *s = etcd_range_start(&t), *e = etcd_range_end(&t);
        cr_assert_str_eq(s, "/my/prefix/");
        cr_assert_str_eq(e, "/my/prefix0");
        free(s);
        free(e);
        etcd_target_done(&t);

        const char *bad[] = { "etcd://", "etcd:///x", "etcd://host/x", "etcd://host:/x", "etcd://:1",
                              "etcd://h:1,,h:2", "etcd://h:1,", "etcd://h:port", "etcd://h:1/pre fix",
                              "etcd://h@x:1", "http://h:1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                why = NULL;
                cr_assert_eq(etcd_url_parse(bad[i], &t, &why), -EINVAL, "'%s' accepted", bad[i]);
                cr_assert_not_null(why);
        }
        char many[400] = "etcd://";
        for (int i = 0; i < 17; i++)
                strcat(many, i ? ",h:1" : "h:1");
        cr_assert_eq(etcd_url_parse(many, &t, &why), -EINVAL);
        cr_assert_str_eq(why, "too many etcd endpoints (at most 16)");
}

/* Out of memory on demand: defined here, this strndup() is the one the
 * whole test program calls, the library's code included. */
static bool strndup_fails;
char *strndup(const char *s, size_t n) {
        if (strndup_fails) {
                errno = ENOMEM;
                return NULL;
        }
        size_t l = strnlen(s, n);
        char *p = malloc(l + 1);
        if (p) {
                memcpy(p, s, l);
                p[l] = 0;
        }
        return p;
}

Test(etcd, url_parsing_out_of_memory) {
        EtcdTarget t;
        const char *why = NULL;
        strndup_fails = true;
        int r = etcd_url_parse("etcd://127.0.0.1:2379/p", &t, &why);
        strndup_fails = false;
        /* Not -EINVAL: the URL is fine. */
        cr_assert_eq(r, -ENOMEM);
        cr_assert_str_eq(why, "out of memory");
}

Test(etcd, base64_round_trip) {
        const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar", "/geerpc/services/tcp@[::1]:7001" };
        const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy", NULL };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *enc = base64_encode(cases[i], strlen(cases[i]));
                if (want[i])
                        cr_assert_str_eq(enc, want[i]);
                char *dec;
                size_t n;
                cr_assert_eq(base64_decode(enc, &dec, &n), 0);
                cr_assert_eq(n, strlen(cases[i]));
                cr_assert_str_eq(dec, cases[i]);
                free(enc);
                free(dec);
        }
        char *dec;
        const char *bad[] = { "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(base64_decode(bad[i], &dec, NULL), -EINVAL, "'%s'", bad[i]);
}

Test(etcd, int64_as_string) {
        int64_t v;
        json_t *s = json_string("2324035523702168071"), *n = json_integer(5), *x = json_string("12a"), *r = json_real(1.5);
        cr_assert_eq(etcd_json_int(s, 0, INT64_MAX, &v), 0);
        cr_assert_eq(v, 2324035523702168071LL);
        cr_assert_eq(etcd_json_int(n, 0, INT64_MAX, &v), 0);
        cr_assert_eq(v, 5);
        cr_assert_eq(etcd_json_int(x, 0, INT64_MAX, &v), -EINVAL);
        cr_assert_eq(etcd_json_int(r, 0, INT64_MAX, &v), -EINVAL);
        cr_assert_eq(etcd_json_int(NULL, 0, INT64_MAX, &v), -EINVAL);
        json_decref(s);
        json_decref(n);
        json_decref(x);
        json_decref(r);

        /* Every number from etcd is checked against its range. */
        static const struct {
                const char *s;
                int64_t min, max;
                int want;
        } cases[] = {
                { "9223372036854775807", 0, ETCD_REVISION_MAX, -ERANGE },
                { "9223372036854775806", 0, ETCD_REVISION_MAX, 0 },
                { "9223372036854775808", 0, INT64_MAX, -ERANGE },
                { "-1", 0, INT64_MAX, -ERANGE },
                { "-9223372036854775808", INT64_MIN, INT64_MAX, 0 },
                { " 5", 0, 10, -EINVAL },
                { "+5", 0, 10, -EINVAL },
                { "5 ", 0, 10, -EINVAL },
                { "", 0, 10, -EINVAL },
                { "-", 0, 10, -EINVAL },
                { "0", 1, 10, -ERANGE },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *j = json_string(cases[i].s);
                v = 77;
                cr_assert_eq(etcd_json_int(j, cases[i].min, cases[i].max, &v), cases[i].want, "'%s'", cases[i].s);
                if (cases[i].want < 0)
                        cr_assert_eq(v, 77, "output written on failure for '%s'", cases[i].s);
                json_decref(j);
        }

        json_t *err = json_pack("{s:s,s:s,s:i}", "error", "etcdserver: requested lease not found", "message",
                                "etcdserver: requested lease not found", "code", 5);
        cr_assert_str_eq(etcd_error_message(err), "etcdserver: requested lease not found");
        json_decref(err);
}

/* A revision a watch could not start after, a TTL no heartbeat period can
 * be made of: refused, never used. */
Test(etcd, responses_with_numbers_out_of_range) {
        EtcdTarget t;
        cr_assert_eq(etcd_url_parse("etcd://127.0.0.1:2379", &t, NULL), 0);
        EtcdRange range;
        int64_t id, ttl;

        json_t *j = json_pack("{s:{s:s}}", "header", "revision", "9223372036854775807");
        cr_assert_eq(etcd_parse_range(&t, j, &range), -EBADMSG);
        json_decref(j);
        j = json_pack("{s:{s:s}}", "header", "revision", "9223372036854775806");
        cr_assert_eq(etcd_parse_range(&t, j, &range), 0);
        cr_assert_eq(range.revision, INT64_MAX - 1);
        cr_assert_eq(range.n_servers, 0);
        cr_assert_eq(range.n_overrides, 0);
        etcd_range_done(&range);
        json_decref(j);

        EtcdWatchMessage m;
        j = json_pack("{s:{s:[{s:{s:s}}]}}", "result", "events", "kv", "mod_revision", "9223372036854775807");
        cr_assert_eq(etcd_parse_watch_message(&t, j, &m), 0);
        cr_assert_eq(m.n_events, 1);
        cr_assert_eq(m.events[0].mod_revision, 0);
        etcd_watch_message_done(&m);
        json_decref(j);

        j = json_pack("{s:s,s:s}", "ID", "1", "TTL", "9223372036854775807");
        cr_assert_eq(etcd_parse_grant(j, &id, &ttl), -EBADMSG);
        json_decref(j);
        j = json_pack("{s:s,s:s}", "ID", "-3", "TTL", "30");
        cr_assert_eq(etcd_parse_grant(j, &id, &ttl), -EBADMSG);
        json_decref(j);
        j = json_pack("{s:s,s:s}", "ID", "7", "TTL", "30");
        cr_assert_eq(etcd_parse_grant(j, &id, &ttl), 0);
        cr_assert_eq(id, 7);
        cr_assert_eq(ttl, 30);
        json_decref(j);

        j = json_pack("{s:{s:s}}", "result", "TTL", "99999999999");
        cr_assert_eq(etcd_parse_keepalive(j, &ttl), -EBADMSG);
        json_decref(j);
        j = json_pack("{s:{s:s}}", "result", "ID", "7");
        cr_assert_eq(etcd_parse_keepalive(j, &ttl), -ENOENT);
        json_decref(j);
        j = json_pack("{s:{s:s}}", "result", "TTL", "0");
        cr_assert_eq(etcd_parse_keepalive(j, &ttl), -ENOENT);
        json_decref(j);
        etcd_target_done(&t);
}
