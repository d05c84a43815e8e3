/* SPDX-License-Identifier: MIT */

/* The etcd helpers: URL form, key ranges, base64, int64-as-string. */

#include <criterion/criterion.h>

#include "cluster/etcd.h"

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
        cr_assert_eq(etcd_json_int(s, &v), 0);
        cr_assert_eq(v, 2324035523702168071LL);
        cr_assert_eq(etcd_json_int(n, &v), 0);
        cr_assert_eq(v, 5);
        cr_assert_eq(etcd_json_int(x, &v), -EINVAL);
        cr_assert_eq(etcd_json_int(r, &v), -EINVAL);
        cr_assert_eq(etcd_json_int(NULL, &v), -EINVAL);
        json_decref(s);
        json_decref(n);
        json_decref(x);
        json_decref(r);

        json_t *err = json_pack("{s:s,s:s,s:i}", "error", "etcdserver: requested lease not found", "message",
                                "etcdserver: requested lease not found", "code", 5);
        cr_assert_str_eq(etcd_error_message(err), "etcdserver: requested lease not found");
        json_decref(err);
}
