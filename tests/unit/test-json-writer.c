/* SPDX-License-Identifier: MIT */

/* The JSON writer must produce what jansson reads back as the same value. */

#include <criterion/criterion.h>
#include <math.h>

#include "codec/json-writer.h"

static char *write_value(json_t *v, int *ret) {
        Buffer b = {};
        *ret = json_append_value(&b, v);
        buffer_append(&b, "", 1);
        char *s = strdup(buffer_data(&b));
        buffer_done(&b);
        return s;
}

static void round_trip(json_t *v, const char *want) {
        int r;
        char *s = write_value(v, &r);
        cr_assert_eq(r, 0);
        if (want)
                cr_assert_str_eq(s, want);
        json_error_t err;
        json_t *back = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        cr_assert_not_null(back, "'%s' does not parse: %s", s, err.text);
        cr_assert(json_equal(v, back), "'%s' reads back differently", s);
        json_decref(back);
        free(s);
        json_decref(v);
}

Test(json_writer, values) {
        round_trip(json_pack("{s:i,s:i}", "Num1", 3, "Num2", 4), "{\"Num1\":3,\"Num2\":4}");
        round_trip(json_integer(INT64_MIN), "-9223372036854775808");
        round_trip(json_integer(0), "0");
        round_trip(json_real(0.1), "0.1");
        round_trip(json_real(1.0), "1.0");
        round_trip(json_real(-2.5e300), "-2.5e+300");
        round_trip(json_real(1.0 / 3.0), NULL);
        round_trip(json_string("tab\tquote\"back\\slash\x01"), "\"tab\\tquote\\\"back\\\\slash\\u0001\"");
        round_trip(json_stringn("nul\0inside", 10), "\"nul\\u0000inside\"");
        round_trip(json_string("h\xc3\xa9llo \xf0\x9f\x98\x80"), "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
        round_trip(json_pack("[b,b,n,[],{}]", 1, 0), "[true,false,null,[],{}]");
        round_trip(json_pack("{s:{s:[i,{s:s}]}}", "a", "b", 1, "c", "d"), "{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}");
}

Test(json_writer, insertion_order) {
        json_t *o = json_object();
        json_object_set_new(o, "z", json_integer(1));
        json_object_set_new(o, "a", json_integer(2));
        json_object_set_new(o, "m", json_integer(3));
        round_trip(o, "{\"z\":1,\"a\":2,\"m\":3}");
}

Test(json_writer, invalid_utf8_becomes_replacement_character) {
        Buffer b = {};
        cr_assert_eq(json_append_string(&b, "a\xff" "b\xc3"), 0);
        buffer_append(&b, "", 1);
        cr_assert_str_eq(buffer_data(&b), "\"a\\ufffdb\\ufffd\"");
        buffer_done(&b);
}

Test(json_writer, too_deep) {
        json_t *v = json_array(), *inner = v;
        for (int i = 0; i < JSON_WRITE_DEPTH_MAX + 5; i++) {
                json_t *n = json_array();
                json_array_append_new(inner, n);
                inner = n;
        }
        int r;
        free(write_value(v, &r));
        cr_assert_eq(r, -ELOOP);
        json_decref(v);
}

Test(json_writer, numbers) {
        Buffer b = {};
        json_append_u64(&b, UINT64_MAX);
        buffer_append(&b, " ", 1);
        json_append_i64(&b, -42);
        buffer_append(&b, "", 1);
        cr_assert_str_eq(buffer_data(&b), "18446744073709551615 -42");
        buffer_done(&b);
}

/* Escapes at every position of strings longer than the wide loop's
 * blocks, and invalid UTF-8 among plain runs: jansson reads back exactly
 * the string, with U+FFFD for each byte that was not UTF-8. */
Test(json_writer, escapes_around_runs) {
        static const char *specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
        char s[300];
        for (size_t len = 60; len < 140; len += 7)
                for (size_t at = 0; at < len; at += 3)
                        for (size_t k = 0; k < ELEMENTSOF(specials); k++) {
                                memset(s, 'a', len);
                                size_t sl = strlen(specials[k]);
                                memcpy(s + at, specials[k], sl);
                                s[MAX(len, at + sl)] = 0;
                                round_trip(json_string(s), NULL);
                        }
        /* A byte that is not UTF-8 in the middle of a long run. */
        memset(s, 'b', 200);
        s[100] = (char) 0xff;
        Buffer b = {};
        cr_assert_eq(json_append_stringn(&b, s, 200), 0);
        cr_assert_eq(buffer_len(&b), 200 + 5 + 2);
        cr_assert(memcmp(buffer_data(&b) + 101, "\\ufffd", 6) == 0);
        buffer_done(&b);
}
