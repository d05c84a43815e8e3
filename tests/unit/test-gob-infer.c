/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/gob-decode.h"
#include "codec/gob-encode.h"
#include "gob-util.h"

static char *dump(json_t *v) {
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* Encodes each JSON text in turn and decodes the whole stream with our
 * decoder: what a peer sees. */
static void assert_round_trips(const char *const *texts, const char *const *want, size_t n) {
        GobEncoder *e = new_encoder();
        Buffer out = {};
        for (size_t i = 0; i < n; i++) {
                json_t *v = texts[i] ? parse(texts[i]) : NULL;
                cr_assert_eq(gob_encode_value(e, &out, v), 0, "%s: %s", texts[i], gob_encoder_why(e));
                if (v)
                        json_decref(v);
        }
        GobDecoder *d;
        cr_assert_eq(gob_decoder_new(1 << 24, &d), 0);
        const uint8_t *p = (const uint8_t *) buffer_data(&out);
        size_t len = buffer_len(&out);
        for (size_t i = 0; i < n; i++) {
                GobDecoded got;
                cr_assert_eq(gob_decode_value(d, p, len, &got), 1, "%zu: %s", i, gob_decoder_why(d));
                char *s = dump(got.value);
                cr_assert_str_eq(s, want[i], "%s", strempty(texts[i]));
                free(s);
                json_decref(got.value);
                p += got.consumed;
                len -= got.consumed;
        }
        cr_assert_eq(len, 0);
        gob_decoder_free(d);
        gob_encoder_free(e);
        buffer_done(&out);
}

Test(gob_infer, types_of_json_values) {
        static const char *const in[] = {
                "{\"A\":1,\"B\":\"x\",\"C\":true,\"D\":2.5,\"E\":[1,2],\"F\":{\"G\":null},\"H\":[]}",
                "{\"A\":0,\"B\":\"\",\"C\":false,\"D\":0.0,\"E\":[]}",
                "[1,2.5]",
                "[{\"A\":1},{\"B\":\"x\",\"A\":2}]",
                "[]",
                "[[],[1]]",
                "\"s\\u0000\"",
                "-5",
                NULL,
                "null",
                "{}",
                "[{\"L\":[]},{\"L\":[{\"Z\":true}]}]",
        };
        static const char *const want[] = {
                "{\"A\":1,\"B\":\"x\",\"C\":true,\"D\":2.5,\"E\":[1,2],\"F\":{}}",
                "{\"A\":0,\"B\":\"\",\"C\":false,\"D\":0.0}",
                "[1.0,2.5]",
                "[{\"A\":1,\"B\":\"\"},{\"A\":2,\"B\":\"x\"}]",
                "[]",
                "[[],[1]]",
                "\"s\\u0000\"",
                "-5",
                "{}",
                "{}",
                "{}",
                "[{\"L\":[]},{\"L\":[{\"Z\":true}]}]",
        };
        assert_round_trips(in, want, ELEMENTSOF(in));
}

/* v fails with err and a reason saying what; nothing is appended, and the
 * stream stays whole (the next value decodes). */
static void assert_refused(const char *text, int err, const char *what) {
        GobEncoder *e = new_encoder();
        Buffer out = {};
        json_t *ok = parse("{\"Num1\":1}");
        cr_assert_eq(gob_encode_message(e, &out, "A.B", 1, NULL, ok), 0);
        size_t before = buffer_len(&out);
        json_t *v = parse(text);
        cr_assert_eq(gob_encode_message(e, &out, "A.B", 2, NULL, v), err, "%s: %s", text, gob_encoder_why(e));
        cr_assert(strstr(gob_encoder_why(e), what), "'%s' does not say '%s'", gob_encoder_why(e), what);
        cr_assert_eq(buffer_len(&out), before);
        cr_assert_eq(gob_encode_message(e, &out, "A.B", 3, NULL, ok), 0);

        GobDecoder *d;
        cr_assert_eq(gob_decoder_new(1 << 24, &d), 0);
        const uint8_t *p = (const uint8_t *) buffer_data(&out);
        size_t len = buffer_len(&out);
        for (uint64_t seq = 1; seq <= 3; seq += 2) {
                GobDecoded got;
                Message h = {};
                cr_assert_eq(gob_decode_header(d, p, len, &got, &h), 1, "%s", gob_decoder_why(d));
                cr_assert_eq(h.seq, seq);
                message_done(&h);
                p += got.consumed, len -= got.consumed;
                cr_assert_eq(gob_decode_value(d, p, len, &got), 1, "%s", gob_decoder_why(d));
                json_decref(got.value);
                p += got.consumed, len -= got.consumed;
        }
        cr_assert_eq(len, 0);
        gob_decoder_free(d);
        json_decref(v);
        json_decref(ok);
        gob_encoder_free(e);
        buffer_done(&out);
}

Test(gob_infer, values_gob_cannot_carry) {
        assert_refused("{\"num1\":1}", -EINVAL, "key \"num1\" is not an exported Go identifier");
        assert_refused("{\"A\":{\"B-c\":1}}", -EINVAL, "key \"B-c\" is not an exported Go identifier");
        assert_refused("{\"\":1}", -EINVAL, "key \"\" is not an exported");
        assert_refused("[1,\"a\"]", -EINVAL, "an array mixes numbers and strings");
        assert_refused("{\"A\":[[1],[true]]}", -EINVAL, "an array mixes numbers and booleans");
        assert_refused("[{\"A\":1},{\"A\":\"x\"}]", -EINVAL, "an array mixes numbers and strings");
        assert_refused("[1,null]", -EINVAL, "null at index 1 of an array");
}

Test(gob_infer, limit_depth) {
        char deep[2 * (GOB_MAX_DEPTH + 2) + 1];
        memset(deep, '[', GOB_MAX_DEPTH + 1);
        memset(deep + GOB_MAX_DEPTH + 1, ']', GOB_MAX_DEPTH + 1);
        deep[2 * (GOB_MAX_DEPTH + 1)] = 0;
        assert_refused(deep, -EMSGSIZE, "nested deeper than 100");
}

/* Objects of scalar members take a short path: the same keys in the same
 * order with the same member types are the same struct; any difference is
 * another struct. */
Test(gob_infer, flat_objects_share_types) {
        static const char *const in[] = {
                "{\"A\":1,\"B\":\"x\"}", "{\"A\":2,\"B\":\"y\"}", "{\"A\":\"s\",\"B\":\"y\"}", "{\"B\":1,\"A\":1}",
                "{\"A\":3,\"B\":\"z\"}", "{\"A\":3}",           "{\"A\":0.5,\"B\":\"\"}",
        };
        static const char *const want[] = {
                "{\"A\":1,\"B\":\"x\"}", "{\"A\":2,\"B\":\"y\"}", "{\"A\":\"s\",\"B\":\"y\"}", "{\"B\":1,\"A\":1}",
                "{\"A\":3,\"B\":\"z\"}", "{\"A\":3}",           "{\"A\":0.5,\"B\":\"\"}",
        };
        GobEncoder *e = new_encoder();
        Buffer out = {};
        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                json_t *v = parse(in[i]);
                cr_assert_eq(gob_encode_value(e, &out, v), 0);
                json_decref(v);
        }
        GobDecoder *d;
        cr_assert_eq(gob_decoder_new(1 << 24, &d), 0);
        const uint8_t *p = (const uint8_t *) buffer_data(&out);
        size_t len = buffer_len(&out);
        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                GobDecoded got;
                cr_assert_eq(gob_decode_value(d, p, len, &got), 1);
                char *s = dump(got.value);
                cr_assert_str_eq(s, want[i]);
                free(s);
                json_decref(got.value);
                p += got.consumed, len -= got.consumed;
        }
        /* {A int, B string}, {A string, B string}, {B int, A int}, {A int},
         * {A float64, B string}: five definitions for seven values. */
        cr_assert_eq(gob_decoder_types(d)->n, 5);
        gob_decoder_free(d);
        gob_encoder_free(e);
        buffer_done(&out);
}
