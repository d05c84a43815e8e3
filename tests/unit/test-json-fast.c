/* SPDX-License-Identifier: MIT */

/* The JSON fast paths must agree with jansson on everything they accept:
 * checked on hand-picked edge cases and on random token soup. */

#include <criterion/criterion.h>
#include <stdio.h>

#include "codec/json-fast.h"

static void expect_same(const char *s) {
        json_t *fast = json_fast_parse_value(s, strlen(s));
        json_error_t err;
        json_t *slow = json_loadb(s, strlen(s), JSON_DECODE_ANY, &err);
        if (fast) {
                cr_assert_not_null(slow, "fast path accepted what jansson refuses: '%s' (%s)", s, err.text);
                cr_assert(json_equal(fast, slow), "fast path differs from jansson on '%s'", s);
                /* Integers stay integers, as jansson has them. */
                cr_assert_eq(json_typeof(fast), json_typeof(slow), "'%s'", s);
        }
        if (fast)
                json_decref(fast);
        if (slow)
                json_decref(slow);
}

static void expect_accepted(const char *s) {
        json_t *v = json_fast_parse_value(s, strlen(s));
        cr_assert_not_null(v, "fast path declined '%s'", s);
        json_decref(v);
        expect_same(s);
}

static void expect_declined(const char *s) {
        json_t *v = json_fast_parse_value(s, strlen(s));
        cr_assert_null(v, "fast path accepted '%s'", s);
}

Test(json_fast, values) {
        const char *ok[] = { "1", "-1", "0", "-0", "9223372036854775807", "-9223372036854775808", "\"\"", "\"abc\"",
                             "true", "false", "null", "{}", "[]", " { } ", "{\"Num1\":3,\"Num2\":4}",
                             "{\"a\":1,\"a\":2}", "[1,\"x\",true,null,-5]", "{ \"k\" : \"v\" , \"n\" : null }",
                             "\t[ 1 ,2 ]\n" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                expect_accepted(ok[i]);

        /* Declined: jansson judges these (valid or not). */
        const char *no[] = { "1.5", "1e3", "01", "-", "- 1", "9223372036854775808", "-9223372036854775809",
                             "\"a\\\"b\"", "\"\xc3\xa9\"", "\"tab\there\"", "{\"a\":{}}", "[[1]]", "{\"a\":1,}",
                             "[1,]", "{1:2}", "tru", "nul", "1 2", "{\"a\" 1}", "", "   ", "[", "{", "{\"a\":1",
                             "\"unterminated" };
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                expect_declined(no[i]);
                expect_same(no[i]);
        }
}

Test(json_fast, random_token_soup_agrees_with_jansson) {
        static const char *const tokens[] = { "{", "}", "[", "]", ",", ":", "\"a\"", "\"Num1\"", "1", "-2", "0",
                                              "007", "true", "null", " ", "\"x y\"", "1.5", "\"\\n\"", "-" };
        unsigned seed = 12345;
        char buf[256];
        for (int iter = 0; iter < 200000; iter++) {
                size_t len = 0;
                int ntok = 1 + (int) (rand_r(&seed) % 9);
                buf[0] = 0;
                for (int t = 0; t < ntok; t++) {
                        const char *tok = tokens[rand_r(&seed) % ELEMENTSOF(tokens)];
                        size_t l = strlen(tok);
                        if (len + l >= sizeof buf)
                                break;
                        memcpy(buf + len, tok, l + 1);
                        len += l;
                }
                expect_same(buf);
        }
}

static void header_same(const char *s) {
        char *sm = NULL, *err = NULL;
        uint64_t seq = 0;
        int r = json_fast_parse_header(s, strlen(s), &sm, &seq, &err);
        if (r == 1) {
                json_error_t e;
                json_t *h = json_loadb(s, strlen(s), 0, &e);
                cr_assert_not_null(h, "fast header accepted invalid '%s'", s);
                json_t *jsm = json_object_get(h, "ServiceMethod"), *jseq = json_object_get(h, "Seq"),
                       *jerr = json_object_get(h, "Error");
                cr_assert_str_eq(sm, json_is_string(jsm) ? json_string_value(jsm) : "");
                cr_assert_str_eq(err, json_is_string(jerr) ? json_string_value(jerr) : "");
                cr_assert_eq(seq, json_is_integer(jseq) ? (uint64_t) json_integer_value(jseq) : 0);
                json_decref(h);
                free(sm);
                free(err);
        }
}

Test(json_fast, headers) {
        char *sm, *err;
        uint64_t seq;
        const char *h = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":42,\"Error\":\"\"}";
        cr_assert_eq(json_fast_parse_header(h, strlen(h), &sm, &seq, &err), 1);
        cr_assert_str_eq(sm, "Foo.Sum");
        cr_assert_eq(seq, 42);
        cr_assert_str_eq(err, "");
        free(sm);
        free(err);

        /* uint64 sequence numbers beyond jansson's int64 are read exactly. */
        const char *big = "{\"Seq\":18446744073709551615}";
        cr_assert_eq(json_fast_parse_header(big, strlen(big), &sm, &seq, &err), 1);
        cr_assert_eq(seq, UINT64_MAX);
        free(sm);
        free(err);

        const char *declined[] = { "{\"seq\":1}", "{\"Seq\":-1}", "{\"Seq\":1.0}", "{\"Seq\":\"1\"}", "{\"X\":1}",
                                   "{\"Error\":\"a\\nb\"}", "[1]", "{\"Seq\":18446744073709551616}",
                                   "{\"ServiceMethod\":\"Foo.Sum\"} x",
                                   /* A field given twice (found by fuzz-json-fast: jansson kept the
                                    * last, null, value where the fast path kept the first). */
                                   "{\"Seq\":1,\"Seq\":null}", "{\"Error\":null,\"Error\":\"x\"}",
                                   "{\"ServiceMethod\":\"A.B\",\"ServiceMethod\":\"C.D\"}" };
        for (size_t i = 0; i < ELEMENTSOF(declined); i++) {
                sm = err = (char *) "untouched";
                cr_assert_eq(json_fast_parse_header(declined[i], strlen(declined[i]), &sm, &seq, &err), 0, "%s",
                             declined[i]);
                cr_assert_str_eq(sm, "untouched");
        }

        const char *same[] = { "{}", "{ \"Seq\" : 7 , \"ServiceMethod\" : null }", "{\"Error\":\"boom\",\"Seq\":0}",
                               "{\"ServiceMethod\":\"A.B\",\"ServiceMethod\":\"C.D\"}" };
        for (size_t i = 0; i < ELEMENTSOF(same); i++)
                header_same(same[i]);
}
