/* SPDX-License-Identifier: MIT */
#pragma once

/* Small JSON helpers around jansson shared by the codec, the Option and the
 * registry. Writing JSON is in json-writer.h. */

#include <jansson.h>

#include "basic/buffer.h"
#include "codec/json-writer.h"

/* jansson (>= 2.11) provides json_decrefp() for cleanup attributes. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* json_decref() that returns NULL, for `v = json_decref_null(v);`. */
static inline json_t *json_decref_null(json_t *v) {
        if (v)
                json_decref(v);
        return NULL;
}

/* Looks up key in an object, falling back to a case-insensitive match, as
 * Go's encoding/json does when decoding into a struct. */
json_t *json_object_get_fold(json_t *o, const char *key);
/* Parses exactly [p, p+n): one JSON value of any type; flags are jansson's
 * decoding flags (JSON_ALLOW_NUL for bodies, which Go allows). On failure
 * returns NULL and, if ret_error is given, a malloc'd one-line reason. */
json_t *json_parse_value(const char *p, size_t n, size_t flags, char **ret_error);
