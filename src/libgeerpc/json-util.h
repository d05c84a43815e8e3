/* SPDX-License-Identifier: MIT */
#pragma once

/* Small JSON helpers around jansson shared by the codec, the Option and the
 * registry: writing escaped strings straight into a buffer, and dumping a
 * value without an intermediate allocation. */

#include <jansson.h>

#include "buffer.h"

/* jansson (>= 2.11) provides json_decrefp() for cleanup attributes. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Appends s as a JSON string literal (with quotes). Bytes that are not valid
 * UTF-8 are written as U+FFFD, as Go's encoder does. */
int json_append_string(Buffer *out, const char *s);
/* Appends the compact encoding of v (any JSON value). */
int json_append_value(Buffer *out, json_t *v, size_t flags);
/* Looks up key in an object, falling back to a case-insensitive match, as
 * Go's encoding/json does when decoding into a struct. */
json_t *json_object_get_fold(json_t *o, const char *key);
/* Parses exactly [p, p+n): one JSON value of any type. On failure returns
 * NULL and, if ret_error is given, a malloc'd one-line reason. */
json_t *json_parse_value(const char *p, size_t n, char **ret_error);
