/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/json-scanner.h"

/* Feeds data in pieces of `step` bytes, as reads from a socket would
 * arrive, and returns the values found as "[start,end)" bounds in data. */
static size_t scan_all(const char *data, size_t step, size_t max, size_t starts[], size_t ends[], size_t cap,
                       int *ret_err) {
        JsonScanner s;
        Buffer in = {};
        json_scanner_init(&s, max);
        size_t len = strlen(data), fed = 0, n = 0;
        *ret_err = 0;
        while (n < cap) {
                size_t size;
                int r = json_scanner_scan(&s, &in, &size);
                if (r < 0) {
                        *ret_err = r;
                        break;
                }
                if (r == 1) {
                        /* What is not in the buffer any more was dropped. */
                        starts[n] = fed - buffer_len(&in);
                        ends[n] = starts[n] + size;
                        n++;
                        /* Drop the value from the buffer, as the codec does. */
                        json_scanner_consume(&s, &in, size);
                        continue;
                }
                if (fed >= len)
                        break;
                size_t k = MIN(step, len - fed);
                cr_assert_eq(buffer_append(&in, data + fed, k), 0);
                fed += k;
        }
        buffer_done(&in);
        return n;
}

/* One scan of the bytes in data (appended to b first). */
static int scan_more(JsonScanner *s, Buffer *b, const char *data, size_t *ret_size) {
        cr_assert_eq(buffer_append(b, data, strlen(data)), 0);
        return json_scanner_scan(s, b, ret_size);
}

static void expect_values(const char *data, size_t step, const char *const *want) {
        size_t st[16], en[16];
        int err;
        size_t n = scan_all(data, step, 0, st, en, 16, &err);
        cr_assert_eq(err, 0, "scanner error %d at step %zu", err, step);
        size_t k = 0;
        while (want[k])
                k++;
        cr_assert_eq(n, k, "found %zu values, want %zu (step %zu)", n, k, step);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(en[i] - st[i], strlen(want[i]));
                cr_assert(memcmp(data + st[i], want[i], strlen(want[i])) == 0, "value %zu differs (step %zu)", i,
                          step);
        }
}

Test(json_scanner, values_split_across_reads) {
        const char *data = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}\n{\"Num1\":3,\"Num2\":4}\n";
        const char *want[] = { "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}", "{\"Num1\":3,\"Num2\":4}",
                               NULL };
        for (size_t step = 1; step <= strlen(data); step++)
                expect_values(data, step, want);
}

Test(json_scanner, many_values_in_one_read) {
        const char *data = "{}[]\"s\"1 -2.5e3\ttrue\nfalse\r\nnull {\"a\":[1,{\"b\":2}]} ";
        const char *want[] = { "{}", "[]", "\"s\"", "1", "-2.5e3", "true", "false", "null", "{\"a\":[1,{\"b\":2}]}",
                               NULL };
        expect_values(data, strlen(data), want);
        expect_values(data, 3, want);
}

Test(json_scanner, strings_with_escaped_quotes_and_braces) {
        const char *data = "{\"k\":\"a \\\"quoted\\\" } ] { [ \\\\\"}  [\"x\\\\\",\"\\u007d\"]\n";
        const char *want[] = { "{\"k\":\"a \\\"quoted\\\" } ] { [ \\\\\"}", "[\"x\\\\\",\"\\u007d\"]", NULL };
        for (size_t step = 1; step <= 7; step++)
                expect_values(data, step, want);
}

Test(json_scanner, no_newline_needed) {
        const char *want[] = { "{\"a\":1}", "{\"b\":2}", NULL };
        expect_values("{\"a\":1}{\"b\":2}", 1, want);
}

Test(json_scanner, whitespace_only_needs_more) {
        JsonScanner s;
        Buffer b = {};
        size_t size;
        json_scanner_init(&s, 0);
        cr_assert_eq(scan_more(&s, &b, " \n\t\r ", &size), 0);
        cr_assert_eq(scan_more(&s, &b, "{\"a\":", &size), 0);
        buffer_done(&b);
}

Test(json_scanner, scalar_needs_a_delimiter) {
        JsonScanner s;
        Buffer b = {};
        size_t size;
        json_scanner_init(&s, 0);
        /* "12" could continue as "123": not finished until a delimiter. */
        cr_assert_eq(scan_more(&s, &b, "12", &size), 0);
        cr_assert_eq(scan_more(&s, &b, "3\n", &size), 1);
        cr_assert_eq(size, 3);
        cr_assert(memcmp(buffer_data(&b), "123", 3) == 0);
        buffer_done(&b);
}

/* A peer that sends only whitespace must cost no memory: it is dropped as
 * it comes, and it counts against the bound of the value that follows. */
Test(json_scanner, whitespace_is_dropped_as_it_arrives) {
        JsonScanner s;
        Buffer b = {};
        size_t size;
        char spaces[4097];
        memset(spaces, ' ', 4096);
        spaces[4096] = 0;
        json_scanner_init(&s, 64 * 1024);
        for (int i = 0; i < 15; i++) {
                cr_assert_eq(scan_more(&s, &b, spaces, &size), 0);
                cr_assert_eq(buffer_len(&b), 0, "whitespace kept in the buffer");
        }
        cr_assert_eq(scan_more(&s, &b, spaces, &size), -EMSGSIZE, "64 KiB of whitespace passed a 64 KiB bound");
        buffer_done(&b);
}

Test(json_scanner, whitespace_counts_against_the_bound) {
        size_t st[2], en[2];
        int err;
        char data[1200];

        /* 1000 spaces and a 24-byte value: 1024 bytes, within a bound of 1024. */
        memset(data, ' ', 1000);
        strcpy(data + 1000, "{\"a\":\"0123456789abcdef\"}");
        cr_assert_eq(strlen(data), 1024);
        cr_assert_eq(scan_all(data, 100, 1024, st, en, 2, &err), 1);
        cr_assert_eq(err, 0);
        cr_assert_eq(st[0], 1000);
        cr_assert_eq(en[0], 1024);

        /* One more space: over. */
        memset(data, ' ', 1001);
        strcpy(data + 1001, "{\"a\":\"0123456789abcdef\"}");
        cr_assert_eq(scan_all(data, 100, 1024, st, en, 2, &err), 0);
        cr_assert_eq(err, -EMSGSIZE);

        /* The count starts afresh after each value. */
        memset(data, ' ', 1100);
        memcpy(data + 500, "1\n", 2);
        strcpy(data + 1100, "2 ");
        cr_assert_eq(scan_all(data, 7, 1024, st, en, 2, &err), 2);
        cr_assert_eq(err, 0);
        cr_assert_eq(st[1], 1100);
}

Test(json_scanner, oversize_value) {
        size_t st[4], en[4];
        int err;
        char big[200];
        memset(big, 'a', sizeof big);
        big[0] = '"';
        big[sizeof big - 1] = 0;
        scan_all(big, 10, 64, st, en, 4, &err);
        cr_assert_eq(err, -EMSGSIZE);

        /* Exactly at the limit is fine. */
        const char *ok = "\"0123456789\""; /* 12 bytes */
        size_t n = scan_all(ok, 1, 12, st, en, 4, &err);
        cr_assert_eq(err, 0);
        cr_assert_eq(n, 1);
}

Test(json_scanner, oversize_is_detected_without_the_whole_value) {
        JsonScanner s;
        Buffer b = {};
        size_t size;
        json_scanner_init(&s, 1024);
        char *buf = malloc(2048);
        buf[0] = '[';
        memset(buf + 1, ' ', 2047);
        cr_assert_eq(buffer_append(&b, buf, 1000), 0);
        cr_assert_eq(json_scanner_scan(&s, &b, &size), 0);
        cr_assert_eq(buffer_append(&b, buf + 1000, 25), 0);
        cr_assert_eq(json_scanner_scan(&s, &b, &size), -EMSGSIZE);
        free(buf);
        buffer_done(&b);
}

Test(json_scanner, deep_nesting_is_refused) {
        size_t n = JSON_DEPTH_MAX + 10;
        char *buf = malloc(n + 1);
        memset(buf, '[', n);
        buf[n] = 0;
        size_t st[1], en[1];
        int err;
        scan_all(buf, n, 0, st, en, 1, &err);
        cr_assert_eq(err, -EMSGSIZE);
        free(buf);
}

Test(json_scanner, garbage) {
        const char *bad[] = { "}", "]", ",", ":", "xyz", "\x01", "\xff", "=", NULL };
        for (size_t i = 0; bad[i]; i++) {
                size_t st[1], en[1];
                int err;
                scan_all(bad[i], 1, 0, st, en, 1, &err);
                cr_assert_eq(err, -EBADMSG, "'%s' should be garbage", bad[i]);
        }
}

Test(json_scanner, garbage_after_a_value) {
        size_t st[4], en[4];
        int err;
        size_t n = scan_all("{\"a\":1}\n}", 1, 0, st, en, 4, &err);
        cr_assert_eq(n, 1);
        cr_assert_eq(err, -EBADMSG);
}

/* The scanner tells whether a value's strings need a closer look. */
static bool scanned_plain(const char *v) {
        JsonScanner s;
        Buffer b = {};
        size_t size;
        json_scanner_init(&s, 0);
        cr_assert_eq(scan_more(&s, &b, v, &size), 1, "%s", v);
        buffer_done(&b);
        return s.plain;
}

Test(json_scanner, plain_strings) {
        cr_assert(scanned_plain("\"abc def ~\x7f\" "));
        cr_assert(scanned_plain("{\"Num1\":1,\"s\":\"x\"}"));
        cr_assert(scanned_plain("\"\""));
        cr_assert(!scanned_plain("\"a\\\"b\""));
        cr_assert(!scanned_plain("\"a\\u0041\""));
        cr_assert(!scanned_plain("\"caf\xc3\xa9\""));
        cr_assert(!scanned_plain("\"tab\there\""));
        cr_assert(!scanned_plain("[\"x\",\"\\n\"]"));
        /* Reset for the next value. */
        JsonScanner s;
        Buffer b = {};
        size_t size;
        json_scanner_init(&s, 0);
        cr_assert_eq(scan_more(&s, &b, "\"\\n\" \"plain\" ", &size), 1);
        cr_assert(!s.plain);
        json_scanner_consume(&s, &b, size);
        cr_assert_eq(json_scanner_scan(&s, &b, &size), 1);
        cr_assert(s.plain);
        buffer_done(&b);
}

/* A large value arriving a piece at a time: each call looks only at what
 * is new (the position it stopped at is kept), never from the start. */
Test(json_scanner, resumes_where_it_stopped) {
        enum { N = 1 << 20, STEP = 4096 };
        char *v = malloc(N + 2);
        v[0] = '"';
        memset(v + 1, 'x', N);
        v[N + 1] = '"';
        JsonScanner s;
        Buffer b = {};
        size_t size = 0, len = 0;
        json_scanner_init(&s, 0);
        int r = 0;
        while (len < N + 2) {
                size_t k = MIN((size_t) STEP, (size_t) N + 2 - len);
                cr_assert_eq(buffer_append(&b, v + len, k), 0);
                len += k;
                r = json_scanner_scan(&s, &b, &size);
                if (r == 1)
                        break;
                cr_assert_eq(r, 0);
                cr_assert_eq(s.offset, len, "it will start at %zu, not where it stopped (%zu)", s.offset, len);
        }
        cr_assert_eq(r, 1);
        cr_assert_eq(size, (size_t) N + 2);
        cr_assert(s.plain);
        buffer_done(&b);
        free(v);
}
