/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "basic/buffer.h"

#define BUFFER_MIN_ALLOC 4096

int buffer_reserve(Buffer *b, size_t n) {
        if (buffer_room(b) >= n)
                return 0;

        size_t len = buffer_len(b);
        if (b->start > 0 && b->allocated - len >= n && len <= b->start) {
                /* Cheap compaction: the live bytes are fewer than the hole. */
                memcpy(b->data, b->data + b->start, len);
                b->start = 0;
                b->end = len;
                return 0;
        }
        if (b->start > 0) {
                memmove(b->data, b->data + b->start, len);
                b->start = 0;
                b->end = len;
                if (buffer_room(b) >= n)
                        return 0;
        }

        if (n > SIZE_MAX / 2 - len)
                return -ENOMEM;
        size_t want = MAX(len + n, (size_t) BUFFER_MIN_ALLOC);
        size_t a = MAX(b->allocated, (size_t) BUFFER_MIN_ALLOC);
        while (a < want)
                a *= 2;
        char *p = realloc(b->data, a);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->allocated = a;
        return 0;
}

int buffer_append(Buffer *b, const void *p, size_t n) {
        int r = buffer_reserve(b, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(b->data + b->end, p, n);
        b->end += n;
        return 0;
}

int buffer_append_string(Buffer *b, const char *s) {
        return buffer_append(b, s, strlen(s));
}

int buffer_appendf(Buffer *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        int r = buffer_reserve(b, (size_t) n + 1);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(buffer_tail(b), (size_t) n + 1, fmt, ap);
        va_end(ap);
        buffer_advance_end(b, (size_t) n);
        return 0;
}

void buffer_consume(Buffer *b, size_t n) {
        if (n >= buffer_len(b)) {
                b->start = b->end = 0;
                return;
        }
        b->start += n;
}

void buffer_clear(Buffer *b) {
        b->start = b->end = 0;
}

void buffer_done(Buffer *b) {
        free(b->data);
        *b = (Buffer) {};
}

void buffer_swap(Buffer *a, Buffer *b) {
        Buffer t = *a;
        *a = *b;
        *b = t;
}
