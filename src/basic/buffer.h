/* SPDX-License-Identifier: MIT */
#pragma once

/* A growable byte buffer with a read cursor: bytes are appended at the end
 * and consumed from the front, as a socket's input or output queue is. */

#include "basic/macro.h"

typedef struct Buffer {
        char *data;
        size_t allocated;
        size_t start; /* first unconsumed byte */
        size_t end;   /* one past the last byte */
} Buffer;

/* Never NULL (an empty, unallocated buffer gives ""), so that callers may
 * hand it to functions that refuse NULL even with a length of 0. */
static inline char *buffer_data(const Buffer *b) {
        return b->data ? b->data + b->start : (char *) "";
}
static inline size_t buffer_len(const Buffer *b) {
        return b->end - b->start;
}
static inline char *buffer_tail(const Buffer *b) {
        return b->data + b->end;
}
static inline size_t buffer_room(const Buffer *b) {
        return b->allocated - b->end;
}

/* Makes room for at least n more bytes at the end (moving the unconsumed
 * bytes to the front first, growing only when that is not enough). */
int buffer_reserve(Buffer *b, size_t n);
int buffer_append(Buffer *b, const void *p, size_t n);
int buffer_append_string(Buffer *b, const char *s);
/* printf() onto the end. Not for hot paths. */
int buffer_appendf(Buffer *b, const char *fmt, ...) _printf_(2, 3);
static inline void buffer_advance_end(Buffer *b, size_t n) {
        b->end += n;
}
void buffer_consume(Buffer *b, size_t n);
void buffer_clear(Buffer *b);
void buffer_done(Buffer *b);
/* Exchanges the contents of two buffers (cheap: pointers only). */
void buffer_swap(Buffer *a, Buffer *b);
