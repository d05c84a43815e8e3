/* SPDX-License-Identifier: MIT */
#pragma once

/* The schemes of the URLs that name a registry (registration and
 * discovery), told apart in one place. */

#include <errno.h>

typedef enum UrlScheme {
        URL_SCHEME_HTTP,
        URL_SCHEME_HTTPS,
        URL_SCHEME_ETCD,
        _URL_SCHEME_MAX,
} UrlScheme;

/* The scheme of "SCHEME://...", compared case-insensitively as RFC 3986
 * (section 3.1) says: returns a UrlScheme; -EPROTONOSUPPORT for a
 * well-formed scheme that is none of these; -EINVAL when url does not
 * start with a scheme (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )) and
 * "://". */
int url_scheme(const char *url);
