/* SPDX-License-Identifier: MIT */
#pragma once

/* Writing JSON straight into a Buffer: on every call's hot path, so no
 * intermediate strings and no printf. Values are jansson's (json_t); only
 * the serialisation is ours, because json_dumpb() costs several times more
 * than the whole rest of a small call. */

#include <jansson.h>

#include "basic/buffer.h"

/* Deeper values are refused (as jansson's parser refuses them). */
#define JSON_WRITE_DEPTH_MAX 2048

/* Appends s as a JSON string literal (with quotes). Bytes that are not
 * valid UTF-8 are written as U+FFFD, as Go's encoder does. */
int json_append_string(Buffer *out, const char *s);
int json_append_stringn(Buffer *out, const char *s, size_t n);
/* Appends a decimal number. */
int json_append_u64(Buffer *out, uint64_t v);
int json_append_i64(Buffer *out, int64_t v);
/* Appends the compact encoding of v (any JSON value; object members in
 * insertion order). -EINVAL for a real that is not finite, -ELOOP past
 * JSON_WRITE_DEPTH_MAX. On failure out may hold a partial value: callers
 * roll back. */
int json_append_value(Buffer *out, json_t *v);
