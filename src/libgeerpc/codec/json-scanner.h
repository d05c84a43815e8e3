/* SPDX-License-Identifier: MIT */
#pragma once

/* Finds where one JSON value ends in a byte stream, without parsing it, so
 * that a reader never depends on newlines (docs/PROTOCOL.md, "The JSON codec"). It
 * tracks strings, escapes and bracket depth; whatever is between the
 * boundaries is validated later by the real parser, so a malformed value
 * whose brackets balance costs one error reply, not the connection.
 *
 * Whitespace between values is dropped from the buffer as it arrives and
 * counts against the bound of the value that follows it: a peer that sends
 * nothing but spaces reaches the bound as surely as one that sends a huge
 * value, and the buffer never holds more than the bound. */

#include "basic/buffer.h"

/* Default bound on one value (16 MiB, GEERPC_MAX_MESSAGE_SIZE_DEFAULT). */
#define JSON_VALUE_MAX_DEFAULT (16U * 1024U * 1024U)
/* Deeper nesting than this is refused (jansson's own parser limit). */
#define JSON_DEPTH_MAX 2048

typedef struct JsonScanner {
        size_t max_size;  /* bound on one value with the whitespace before it, bytes */
        size_t skipped;   /* whitespace dropped since the last value */
        size_t offset;    /* bytes of the buffer already looked at */
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

/* Looks at the buffer, which must begin with the same bytes as at the
 * previous call (the caller only appends, or drops a finished value from
 * the front with json_scanner_consume()). Whitespace before a value is
 * consumed from b.
 *
 * Returns 1 when a whole value is at the front of b: its size in
 * *ret_size; 0 when more bytes are needed; -EBADMSG when the stream cannot
 * be JSON (a value may not start with that byte); -EMSGSIZE when a value
 * and the whitespace before it exceed max_size (or the depth limit). */
int json_scanner_scan(JsonScanner *s, Buffer *b, size_t *ret_size);

/* Drops the value just returned (size bytes) from the front of b; the
 * scanner starts afresh after it. */
void json_scanner_consume(JsonScanner *s, Buffer *b, size_t size);
