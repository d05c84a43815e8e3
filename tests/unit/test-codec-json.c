/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/codec.h"
#include "codec/json-util.h"

static Codec *new_codec(size_t max) {
        Codec *c;
        cr_assert_eq(codec_new(&codec_json, max, &c), 0);
        return c;
}

Test(codec_json, encode_is_compact_with_newlines) {
        Codec *c = new_codec(0);
        Buffer b = {};
        json_t *body = json_pack("{s:i,s:i}", "Num1", 3, "Num2", 4);
        cr_assert_eq(codec_encode(c, &b, "Foo.Sum", 7, NULL, body), 0);
        cr_assert_eq(codec_encode(c, &b, "Foo.Sum", 8, "boom \"x\"\n", NULL), 0);
        buffer_append(&b, "", 1);
        cr_assert_str_eq(buffer_data(&b), "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":7,\"Error\":\"\"}\n{\"Num1\":3,\"Num2\":4}\n"
                                          "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":8,\"Error\":\"boom \\\"x\\\"\\n\"}\n{}\n");
        json_decref(body);
        buffer_done(&b);
        codec_free(c);
}

Test(codec_json, invalid_utf8_in_text_becomes_replacement_character) {
        Codec *c = new_codec(0);
        Buffer b = {};
        cr_assert_eq(codec_encode(c, &b, "A.B", 1, "bad \xff byte \xc3\xa9", NULL), 0);
        buffer_append(&b, "", 1);
        cr_assert(strstr(buffer_data(&b), "\"bad \\ufffd byte \xc3\xa9\""), "%s", buffer_data(&b));
        buffer_done(&b);
        codec_free(c);
}

Test(codec_json, decode_stream_byte_by_byte) {
        const char *wire = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}\n{\"Num1\":1,\"Num2\":2}\n"
                           "  {\"Seq\":2,\"ServiceMethod\":\"X.Y\",\"Error\":\"e\"} 42 ";
        Codec *c = new_codec(0);
        Buffer in = {};
        Message got[2];
        int n = 0;
        for (size_t i = 0; wire[i]; i++) {
                buffer_append(&in, wire + i, 1);
                Message m;
                int r;
                while ((r = codec_decode(c, &in, &m)) == 1)
                        got[n++] = m;
                cr_assert_geq(r, 0);
        }
        cr_assert_eq(n, 2);
        cr_assert_str_eq(got[0].service_method, "Foo.Sum");
        cr_assert_eq(got[0].seq, 1);
        cr_assert_eq(json_integer_value(json_object_get(got[0].body, "Num2")), 2);
        cr_assert_str_eq(got[1].service_method, "X.Y");
        cr_assert_eq(got[1].seq, 2);
        cr_assert_str_eq(got[1].error, "e");
        cr_assert_eq(json_integer_value(got[1].body), 42);
        message_done(&got[0]);
        message_done(&got[1]);
        buffer_done(&in);
        codec_free(c);
}

Test(codec_json, undecodable_body_keeps_stream_in_sync) {
        const char *wire = "{\"ServiceMethod\":\"A.B\",\"Seq\":1}\n{\"x\":tru}\n{\"ServiceMethod\":\"A.B\",\"Seq\":2}\n[1]\n";
        Codec *c = new_codec(0);
        Buffer in = {};
        buffer_append(&in, wire, strlen(wire));
        Message m;
        cr_assert_eq(codec_decode(c, &in, &m), 1);
        cr_assert_eq(m.seq, 1);
        cr_assert_null(m.body);
        cr_assert_not_null(m.body_error);
        message_done(&m);
        cr_assert_eq(codec_decode(c, &in, &m), 1);
        cr_assert_eq(m.seq, 2);
        cr_assert(json_is_array(m.body));
        message_done(&m);
        cr_assert_eq(codec_decode(c, &in, &m), 0);
        buffer_done(&in);
        codec_free(c);
}

Test(codec_json, bad_headers_are_fatal) {
        const char *bad[] = { "[1]\n{}\n", "{\"Seq\":\"one\"}\n{}\n", "{\"Seq\":-1}\n{}\n", "{\"ServiceMethod\":5}\n{}\n",
                              "{\"a\":}\n{}\n", "}\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Codec *c = new_codec(0);
                Buffer in = {};
                buffer_append(&in, bad[i], strlen(bad[i]));
                Message m;
                cr_assert_eq(codec_decode(c, &in, &m), -EBADMSG, "'%s'", bad[i]);
                buffer_done(&in);
                codec_free(c);
        }
}

Test(codec_json, oversized_value) {
        Codec *c = new_codec(100);
        Buffer in = {};
        const char *h = "{\"ServiceMethod\":\"A.B\",\"Seq\":1}\n";
        buffer_append(&in, h, strlen(h));
        char body[300];
        memset(body, ' ', sizeof body);
        body[0] = '"';
        buffer_append(&in, body, sizeof body);
        Message m;
        cr_assert_eq(codec_decode(c, &in, &m), -EMSGSIZE);
        buffer_done(&in);
        codec_free(c);
}

Test(codec_json, go_zero_values_for_missing_fields) {
        Codec *c = new_codec(0);
        Buffer in = {};
        const char *w = "{}\nnull\n";
        buffer_append(&in, w, strlen(w));
        Message m;
        cr_assert_eq(codec_decode(c, &in, &m), 1);
        cr_assert_str_eq(m.service_method, "");
        cr_assert_eq(m.seq, 0);
        cr_assert(json_is_null(m.body));
        message_done(&m);
        buffer_done(&in);
        codec_free(c);
}

Test(codec_json, registry) {
        cr_assert_eq(codec_type_find("application/json"), &codec_json);
        cr_assert_eq(codec_type_find("application/gob"), &codec_gob);
        cr_assert_null(codec_type_find("application/xml"));
        cr_assert_null(codec_type_find(NULL));
}

/* A plain string body (the scanner saw no escape, control or non-ASCII
 * byte) is taken as it is; every other one goes through the parsers; both
 * give what jansson gives. */
Test(codec_json, string_bodies_fast_and_general) {
        const char *bodies[] = { "\"\"", "\"plain text ~\"", "\"esc\\\"aped\\n\"", "\"caf\xc3\xa9\"",
                                 "\"\\u00e9\\ud83d\\ude00\"", "\"a\\u0000b\"" };
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                Codec *c;
                cr_assert_eq(codec_new(&codec_json, 0, &c), 0);
                Buffer in = {};
                const char *h = "{\"ServiceMethod\":\"Echo.Echo\",\"Seq\":1,\"Error\":\"\"}\n";
                buffer_append(&in, h, strlen(h));
                buffer_append(&in, bodies[i], strlen(bodies[i]));
                buffer_append(&in, "\n", 1);
                Message m = {};
                cr_assert_eq(codec_decode(c, &in, &m), 1, "%s", bodies[i]);
                json_t *want = json_loads(bodies[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                cr_assert_not_null(m.body, "%s: %s", bodies[i], strempty(m.body_error));
                cr_assert(json_equal(m.body, want), "%s decodes differently", bodies[i]);
                json_decref(want);
                message_done(&m);
                buffer_done(&in);
                codec_free(c);
        }
}
