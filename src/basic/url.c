/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
#include "basic/url.h"

static const char *const scheme_names[_URL_SCHEME_MAX] = {
        [URL_SCHEME_HTTP] = "http",
        [URL_SCHEME_HTTPS] = "https",
        [URL_SCHEME_ETCD] = "etcd",
};

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int url_scheme(const char *url) {
        if (!url || !is_alpha(url[0]))
                return -EINVAL;
        size_t n = 1;
        while (is_alpha(url[n]) || (url[n] >= '0' && url[n] <= '9') || url[n] == '+' || url[n] == '-' ||
               url[n] == '.')
                n++;
        if (strncmp(url + n, "://", 3) != 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(scheme_names); i++)
                if (strlen(scheme_names[i]) == n && strncasecmp(url, scheme_names[i], n) == 0)
                        return (int) i;
        return -EPROTONOSUPPORT;
}
