/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/json-scanner.h"

/* Feeds data in pieces of `step` bytes, as reads from a socket would
 * arrive, and returns the values found as "[start,end)" bounds. */
static size_t scan_all(const char *data, size_t step, size_t max, size_t starts[], size_t ends[], size_t cap,
                       int *ret_err) {
        JsonScanner s;
        json_scanner_init(&s, max);
        size_t len = strlen(data), avail = 0, n = 0, base = 0;
        *ret_err = 0;
        while (avail < len || n < cap) {
                size_t st, en;
                int r = json_scanner_scan(&s, data + base, avail - base, &st, &en);
                if (r < 0) {
                        *ret_err = r;
                        return n;
                }
                if (r == 1) {
                        starts[n] = base + st;
                        ends[n] = base + en;
                        n++;
                        /* Drop the value from the "buffer", as the codec does. */
                        json_scanner_consumed(&s, en);
                        base += en;
                        continue;
                }
                if (avail >= len)
                        break;
                avail = MIN(len, avail + step);
        }
        return n;
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
        size_t st, en;
        json_scanner_init(&s, 0);
        cr_assert_eq(json_scanner_scan(&s, " \n\t\r ", 5, &st, &en), 0);
        cr_assert_eq(json_scanner_scan(&s, "{\"a\":", 5, &st, &en), 0);
}

Test(json_scanner, scalar_needs_a_delimiter) {
        JsonScanner s;
        size_t st, en;
        json_scanner_init(&s, 0);
        /* "12" could continue as "123": not finished until a delimiter. */
        cr_assert_eq(json_scanner_scan(&s, "12", 2, &st, &en), 0);
        cr_assert_eq(json_scanner_scan(&s, "123\n", 4, &st, &en), 1);
        cr_assert_eq(st, 0);
        cr_assert_eq(en, 3);
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
        size_t st, en;
        json_scanner_init(&s, 1024);
        char *buf = malloc(2048);
        buf[0] = '[';
        memset(buf + 1, ' ', 2047);
        cr_assert_eq(json_scanner_scan(&s, buf, 1000, &st, &en), 0);
        cr_assert_eq(json_scanner_scan(&s, buf, 1025, &st, &en), -EMSGSIZE);
        free(buf);
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
        size_t st, en;
        json_scanner_init(&s, 0);
        cr_assert_eq(json_scanner_scan(&s, v, strlen(v), &st, &en), 1, "%s", v);
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
        size_t st, en;
        const char *two = "\"\\n\" \"plain\" ";
        json_scanner_init(&s, 0);
        cr_assert_eq(json_scanner_scan(&s, two, strlen(two), &st, &en), 1);
        cr_assert(!s.plain);
        json_scanner_consumed(&s, en);
        cr_assert_eq(json_scanner_scan(&s, two + en, strlen(two) - en, &st, &en), 1);
        cr_assert(s.plain);
}

/* A large value arriving a piece at a time: each call looks only at what
 * is new (the position it stopped at is kept), never from the start. */
Test(json_scanner, resumes_where_it_stopped) {
        enum { N = 1 << 20, STEP = 4096 };
        char *v = malloc(N + 3);
        v[0] = '"';
        memset(v + 1, 'x', N);
        v[N + 1] = '"';
        v[N + 2] = 0;
        JsonScanner s;
        size_t st, en, len = 0;
        json_scanner_init(&s, 0);
        while (len < N + 2) {
                len = MIN(len + STEP, (size_t) N + 2);
                int r = json_scanner_scan(&s, v, len, &st, &en);
                if (r == 1)
                        break;
                cr_assert_eq(r, 0);
                cr_assert_eq(s.offset, len, "it will start at %zu, not where it stopped (%zu)", s.offset, len);
        }
        cr_assert_eq(en, (size_t) N + 2);
        cr_assert(s.plain);
        free(v);
}
