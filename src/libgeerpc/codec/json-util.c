/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <strings.h>

#include "codec/json-util.h"

json_t *json_object_get_fold(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        if (v)
                return v;
        const char *k;
        json_object_foreach(o, k, v)
                if (strcasecmp(k, key) == 0)
                        return v;
        return NULL;
}

json_t *json_parse_value(const char *p, size_t n, size_t flags, char **ret_error) {
        json_error_t err;
        json_t *v = json_loadb(p, n, JSON_DECODE_ANY | flags, &err);
        if (!v && ret_error) {
                char *m = NULL;
                if (asprintf(&m, "invalid JSON at byte %d: %s", err.position, err.text) < 0)
                        m = NULL;
                *ret_error = m;
        }
        return v;
}
