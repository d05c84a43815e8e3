/* SPDX-License-Identifier: MIT */
#pragma once

/* The primitive encodings of Go's encoding/gob (docs/PROTOCOL.md, "The gob
 * codec"): an unsigned integer is one byte below 128, else its byte count
 * negated and then its bytes big-endian; a signed integer is folded into an
 * unsigned one whose bit 0 says "complement the rest"; a float is its
 * float64 bits byte-reversed, sent as an unsigned integer; a string or
 * []byte is a count and the bytes. */

#include <string.h>

#include "basic/buffer.h"

/* Reading: a cursor over the bytes of one message. */
typedef struct GobCursor {
        const uint8_t *p, *end;
} GobCursor;

static inline size_t gob_cursor_left(const GobCursor *c) {
        return (size_t) (c->end - c->p);
}

/* -EBADMSG when the bytes end first or the count byte is impossible. */
static inline int gob_read_uint(GobCursor *c, uint64_t *ret) {
        if (c->p >= c->end)
                return -EBADMSG;
        uint8_t b = *c->p;
        if (b < 0x80) {
                c->p++;
                *ret = b;
                return 0;
        }
        unsigned n = 256U - b;
        if (n > 8 || gob_cursor_left(c) < n + 1)
                return -EBADMSG;
        uint64_t v = 0;
        for (unsigned i = 1; i <= n; i++)
                v = v << 8 | c->p[i];
        c->p += n + 1;
        *ret = v;
        return 0;
}

static inline int64_t gob_uint_to_int(uint64_t u) {
        /* Bit 0 set: the rest is the complement of the value. */
        return (u & 1) ? (int64_t) ~(u >> 1) : (int64_t) (u >> 1);
}

static inline uint64_t gob_int_to_uint(int64_t i) {
        return i < 0 ? (~(uint64_t) i << 1) | 1 : (uint64_t) i << 1;
}

static inline int gob_read_int(GobCursor *c, int64_t *ret) {
        uint64_t u;
        return gob_read_uint(c, &u) < 0 ? -EBADMSG : (*ret = gob_uint_to_int(u), 0);
}

static inline double gob_uint_to_float(uint64_t u) {
        u = __builtin_bswap64(u);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
}

static inline uint64_t gob_float_to_uint(double d) {
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        return __builtin_bswap64(u);
}

static inline int gob_read_float(GobCursor *c, double *ret) {
        uint64_t u;
        return gob_read_uint(c, &u) < 0 ? -EBADMSG : (*ret = gob_uint_to_float(u), 0);
}

/* A string or []byte: borrowed from the message. */
static inline int gob_read_bytes(GobCursor *c, const uint8_t **ret, size_t *ret_len) {
        uint64_t n;
        int r = gob_read_uint(c, &n);
        if (r < 0)
                return r;
        if (n > gob_cursor_left(c))
                return -EBADMSG;
        *ret = c->p;
        *ret_len = (size_t) n;
        c->p += n;
        return 0;
}

/* Writing. GOB_UINT_MAX_LEN is the most an unsigned integer takes. */
#define GOB_UINT_MAX_LEN 9

static inline size_t gob_put_uint(uint8_t *w, uint64_t v) {
        if (v < 0x80) {
                w[0] = (uint8_t) v;
                return 1;
        }
        unsigned n = (unsigned) (64 - __builtin_clzll(v) + 7) / 8;
        w[0] = (uint8_t) (256U - n);
        for (unsigned i = 0; i < n; i++)
                w[1 + i] = (uint8_t) (v >> (8 * (n - 1 - i)));
        return n + 1;
}

static inline int gob_append_uint(Buffer *b, uint64_t v) {
        int r = buffer_reserve(b, GOB_UINT_MAX_LEN);
        if (r < 0)
                return r;
        buffer_advance_end(b, gob_put_uint((uint8_t *) buffer_tail(b), v));
        return 0;
}

static inline int gob_append_int(Buffer *b, int64_t v) {
        return gob_append_uint(b, gob_int_to_uint(v));
}

static inline int gob_append_float(Buffer *b, double d) {
        return gob_append_uint(b, gob_float_to_uint(d));
}

static inline int gob_append_bytes(Buffer *b, const void *p, size_t n) {
        int r = buffer_reserve(b, GOB_UINT_MAX_LEN + n);
        if (r < 0)
                return r;
        uint8_t *w = (uint8_t *) buffer_tail(b);
        size_t k = gob_put_uint(w, n);
        if (n > 0)
                memcpy(w + k, p, n);
        buffer_advance_end(b, k + n);
        return 0;
}
