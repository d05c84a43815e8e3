/* SPDX-License-Identifier: MIT */
#pragma once

/* Finds where one JSON value ends in a byte stream, without parsing it, so
 * that a reader never depends on newlines (docs/PROTOCOL.md, "The JSON codec"). It
 * tracks strings, escapes and bracket depth; whatever is between the
 * boundaries is validated later by the real parser, so a malformed value
 * whose brackets balance costs one error reply, not the connection. */

#include "basic/macro.h"

/* Default bound on one value (16 MiB, GEERPC_MAX_MESSAGE_SIZE_DEFAULT). */
#define JSON_VALUE_MAX_DEFAULT (16U * 1024U * 1024U)
/* Deeper nesting than this is refused (jansson's own parser limit). */
#define JSON_DEPTH_MAX 2048

typedef struct JsonScanner {
        size_t max_size;  /* bound on one value, bytes */
        size_t offset;    /* bytes of the buffer already looked at */
        size_t start;     /* where the current value starts, once started */
        unsigned depth;
        bool started;
        bool in_string;
        bool escape;
        bool scalar;      /* a bare number/true/false/null at top level */
        /* The value's strings hold no escapes and no control or non-ASCII
         * bytes (so far; for the value just returned once scan() returns
         * 1): a top-level string is then its bytes between the quotes. */
        bool plain;
} JsonScanner;

void json_scanner_init(JsonScanner *s, size_t max_size);

/* Looks at buf[0..len), which must begin with the same bytes as at the
 * previous call (the caller only appends, or calls json_scanner_consumed()
 * after dropping a finished value from the front).
 *
 * Returns 1 and the value's bounds [*ret_start, *ret_end) when a whole value
 * is there; 0 when more bytes are needed; -EBADMSG when the stream cannot
 * be JSON (a value may not start with that byte); -EMSGSIZE when a value
 * exceeds max_size (or the depth limit). */
int json_scanner_scan(JsonScanner *s, const char *buf, size_t len, size_t *ret_start, size_t *ret_end);

/* The caller dropped the first n bytes of its buffer (n <= the end of the
 * last value returned); the scanner starts afresh after them. */
void json_scanner_consumed(JsonScanner *s, size_t n);
