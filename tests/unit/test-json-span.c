/* SPDX-License-Identifier: MIT */

/* The wide (SSE2/AVX2) spans against a byte-at-a-time reference: every
 * length around the block sizes, every kind of byte that ends a run at
 * every position, and random buffers. */

#include <criterion/criterion.h>

#include "codec/json-span.h"

static size_t reference(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!json_byte_is_plain((unsigned char) p[i]))
                        return i;
        return n;
}

static void check(const char *p, size_t n) {
        size_t want = reference(p, n);
        cr_assert_eq(json_span_plain(p, n), want, "span of %zu bytes", n);
        /* The copy: the run arrives intact; dst has room for n bytes. */
        char *dst = malloc(n + 1);
        memset(dst, 0, n + 1);
        cr_assert_eq(json_copy_plain(dst, p, n), want, "copy of %zu bytes", n);
        cr_assert(memcmp(dst, p, want) == 0, "copied run of %zu bytes differs", want);
        free(dst);
}

Test(json_span, plain_bytes) {
        for (unsigned c = 0; c < 256; c++)
                cr_assert_eq(json_byte_is_plain((unsigned char) c), c >= 0x20 && c < 0x80 && c != '"' && c != '\\',
                             "byte 0x%02x", c);
}

Test(json_span, every_stop_at_every_position) {
        static const unsigned char stops[] = { '"', '\\', 0x00, 0x1f, '\n', 0x80, 0xc3, 0xff };
        enum { MAX = 200 };
        /* At an offset, so that loads are unaligned too. */
        char *buf = malloc(MAX + 3), *p = buf + 3;
        for (size_t n = 0; n <= MAX; n++) {
                memset(p, 'a', n);
                check(p, n);
                for (size_t at = 0; at < n; at++)
                        for (size_t k = 0; k < ELEMENTSOF(stops); k++) {
                                p[at] = (char) stops[k];
                                check(p, n);
                                p[at] = 'a';
                        }
        }
        /* 0x20 and 0x7f are ordinary. */
        memset(p, 0x7f, 100);
        p[50] = 0x20;
        cr_assert_eq(json_span_plain(p, 100), 100);
        free(buf);
}

Test(json_span, random_buffers) {
        srand(7);
        char buf[4096];
        for (int round = 0; round < 20000; round++) {
                size_t n = (size_t) rand() % sizeof buf;
                for (size_t i = 0; i < n; i++)
                        /* Mostly plain, as real strings are. */
                        buf[i] = rand() % 64 == 0 ? (char) (rand() % 256) : (char) ('a' + rand() % 26);
                check(buf + rand() % 2, n > 0 ? n - 1 : 0);
        }
}
