/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/duration.h"

Test(duration, parse_units) {
        static const struct {
                const char *s;
                usec_t want;
        } cases[] = {
                { "0", 0 },
                { "500ms", 500 * USEC_PER_MSEC },
                { "2s", 2 * USEC_PER_SEC },
                { "5m", 5 * USEC_PER_MINUTE },
                { "1h", 60 * USEC_PER_MINUTE },
                { "30", 30 * USEC_PER_SEC },
                { "1.5", 1500 * USEC_PER_MSEC },
                { "1.5s", 1500 * USEC_PER_MSEC },
                { "1m30s", 90 * USEC_PER_SEC },
                { "250us", 250 },
                { "250\xc2\xb5s", 250 },
                { "1000ns", 1 },
                { "0s", 0 },
                /* Above zero is never 0 ("no limit"): it rounds up to 1 us. */
                { "1ns", 1 },
                { "999ns", 1 },
                { "0.4us", 1 },
                { "0.0000001", 1 },
                { "0s1ns", 1 },
                { "1500ns", 2 },
                { "0ns", 0 },
                { "0.0", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                usec_t u = 12345;
                cr_assert_eq(duration_parse(cases[i].s, &u), 0, "'%s' should parse", cases[i].s);
                cr_assert_eq(u, cases[i].want, "'%s' -> %llu, want %llu", cases[i].s, (unsigned long long) u,
                             (unsigned long long) cases[i].want);
        }
}

Test(duration, parse_rejects) {
        const char *bad[] = { "", "s", "-1", "-1s", "1x", "ms", "1.2.3s", " 1", "1 s", "+1", "inf", "nan",
                              "0x10", "1s ", ".s", "1d" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                usec_t u = 7;
                cr_assert_lt(duration_parse(bad[i], &u), 0, "'%s' should not parse", bad[i]);
                cr_assert_eq(u, 7, "output written on failure for '%s'", bad[i]);
        }
        usec_t u;
        cr_assert_eq(duration_parse(NULL, &u), -EINVAL);
        cr_assert_eq(duration_parse("99999999999999h", &u), -ERANGE);
}

Test(duration, go_format) {
        static const struct {
                int64_t ns;
                const char *want;
        } cases[] = {
                { 0, "0s" },
                { 1, "1ns" },
                { 1100, "1.1\xc2\xb5s" },
                { 2200000, "2.2ms" },
                { 1000000000, "1s" },
                { 1500000000, "1.5s" },
                { 60000000000LL, "1m0s" },
                { 90000000000LL, "1m30s" },
                { 3600000000000LL, "1h0m0s" },
                { 3723000000000LL, "1h2m3s" },
                { 500000000, "500ms" },
                { -1500000000, "-1.5s" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[GO_DURATION_MAX];
                cr_assert_str_eq(go_duration_format(buf, cases[i].ns), cases[i].want);
        }
}

Test(duration, short_format) {
        char buf[GO_DURATION_MAX];
        cr_assert_str_eq(duration_format_short(buf, 12 * USEC_PER_SEC), "12s");
        cr_assert_str_eq(duration_format_short(buf, 250 * USEC_PER_MSEC), "250ms");
        cr_assert_str_eq(duration_format_short(buf, 4 * USEC_PER_MINUTE), "4m");
        cr_assert_str_eq(duration_format_short(buf, 65 * USEC_PER_MINUTE), "1h5m");
        cr_assert_str_eq(duration_format_short(buf, USEC_INFINITY), "infinity");
}
