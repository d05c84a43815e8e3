/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/url.h"

Test(url, known_schemes_any_case) {
        cr_assert_eq(url_scheme("http://127.0.0.1:9999/_geerpc_/registry"), URL_SCHEME_HTTP);
        cr_assert_eq(url_scheme("HTTP://127.0.0.1:9999/"), URL_SCHEME_HTTP);
        cr_assert_eq(url_scheme("https://registry.example/"), URL_SCHEME_HTTPS);
        cr_assert_eq(url_scheme("HttpS://registry.example/"), URL_SCHEME_HTTPS);
        cr_assert_eq(url_scheme("etcd://127.0.0.1:2379"), URL_SCHEME_ETCD);
        cr_assert_eq(url_scheme("ETCD://127.0.0.1:2379/prefix"), URL_SCHEME_ETCD);
        cr_assert_eq(url_scheme("etcd://"), URL_SCHEME_ETCD, "the rest is the back end's to judge");
}

Test(url, other_schemes_are_not_supported) {
        cr_assert_eq(url_scheme("ftp://x/"), -EPROTONOSUPPORT);
        cr_assert_eq(url_scheme("file:///etc/passwd"), -EPROTONOSUPPORT);
        cr_assert_eq(url_scheme("htt://x/"), -EPROTONOSUPPORT);
        cr_assert_eq(url_scheme("httpx://x/"), -EPROTONOSUPPORT);
        cr_assert_eq(url_scheme("etcd2://x:1"), -EPROTONOSUPPORT);
        cr_assert_eq(url_scheme("svn+ssh://x/"), -EPROTONOSUPPORT);
}

Test(url, malformed) {
        cr_assert_eq(url_scheme(NULL), -EINVAL);
        cr_assert_eq(url_scheme(""), -EINVAL);
        cr_assert_eq(url_scheme("tcp@127.0.0.1:1"), -EINVAL);
        cr_assert_eq(url_scheme("127.0.0.1:9999"), -EINVAL);
        cr_assert_eq(url_scheme("http:/x"), -EINVAL);
        cr_assert_eq(url_scheme("http:x"), -EINVAL);
        cr_assert_eq(url_scheme("://x"), -EINVAL);
        cr_assert_eq(url_scheme("1http://x"), -EINVAL, "a scheme starts with a letter");
        cr_assert_eq(url_scheme("ht tp://x"), -EINVAL);
        cr_assert_eq(url_scheme(" http://x"), -EINVAL);
}
