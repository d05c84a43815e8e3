/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/codec.h"
#include "codec/option.h"
#include "gob-util.h"

static Codec *new_codec(void) {
        Codec *c;
        cr_assert_eq(codec_new(codec_type_find("application/gob"), GEERPC_MAX_MESSAGE_SIZE_DEFAULT, &c), 0);
        return c;
}

/* Go's client: the Option's "\n", then its gob stream, byte by byte. */
Test(codec_gob, go_client_stream_byte_by_byte) {
        Codec *c = new_codec();
        Buffer in = {};
        Message got[2];
        int n = 0;
        cr_assert_eq(buffer_append(&in, "\n", 1), 0);
        for (size_t i = 0; i < sizeof go_call - 1; i++) {
                cr_assert_eq(buffer_append(&in, go_call + i, 1), 0);
                Message m;
                int r;
                while ((r = codec_decode(c, &in, &m)) == 1) {
                        cr_assert_lt(n, 2);
                        got[n++] = m;
                }
                cr_assert_eq(r, 0, "at byte %zu: %s", i, c->decode_why);
        }
        cr_assert_eq(n, 2);
        cr_assert_eq(buffer_len(&in), 0);
        for (int i = 0; i < 2; i++) {
                cr_assert_str_eq(got[i].service_method, "Foo.Sum");
                cr_assert_eq(got[i].seq, (uint64_t) i + 1);
                cr_assert_str_eq(got[i].error, "");
                cr_assert_eq(json_integer_value(json_object_get(got[i].body, "Num1")), i == 0 ? 3 : 0);
                cr_assert_eq(json_integer_value(json_object_get(got[i].body, "Num2")), i == 0 ? 4 : 5);
                message_done(&got[i]);
        }
        buffer_done(&in);
        codec_free(c);
}

/* What one side encodes, the other decodes: requests and replies. */
Test(codec_gob, encode_then_decode) {
        Codec *a = new_codec(), *b = new_codec();
        Buffer wire = {};
        json_t *args = json_pack("{s:i,s:s,s:[f,f]}", "Num1", 3, "Name", "x", "L", 1.5, 2.0);
        cr_assert_eq(codec_encode(a, &wire, "Foo.Sum", 7, NULL, args), 0);
        cr_assert_eq(codec_encode(a, &wire, "Foo.Sum", 8, "rpc server: can't find method Sum", NULL), 0);
        json_t *seven = json_integer(-7);
        cr_assert_eq(codec_encode(a, &wire, "Foo.Sum", 9, NULL, seven), 0);
        json_decref(seven);
        Message m;
        cr_assert_eq(codec_decode(b, &wire, &m), 1);
        cr_assert_eq(m.seq, 7);
        cr_assert(json_equal(m.body, args));
        message_done(&m);
        cr_assert_eq(codec_decode(b, &wire, &m), 1);
        cr_assert_eq(m.seq, 8);
        cr_assert_str_eq(m.error, "rpc server: can't find method Sum");
        cr_assert(json_is_object(m.body) && json_object_size(m.body) == 0);
        message_done(&m);
        cr_assert_eq(codec_decode(b, &wire, &m), 1);
        cr_assert_eq(json_integer_value(m.body), -7);
        message_done(&m);
        cr_assert_eq(codec_decode(b, &wire, &m), 0);
        json_decref(args);
        buffer_done(&wire);
        codec_free(a);
        codec_free(b);
}

Test(codec_gob, unencodable_body_says_why_and_appends_nothing) {
        Codec *c = new_codec();
        Buffer out = {};
        json_t *args = json_pack("{s:i}", "num1", 3);
        cr_assert_eq(codec_encode(c, &out, "Foo.Sum", 1, NULL, args), -EINVAL);
        cr_assert_eq(buffer_len(&out), 0);
        cr_assert(strstr(c->encode_why, "key \"num1\" is not an exported Go identifier"), "%s", c->encode_why);
        json_decref(args);
        buffer_done(&out);
        codec_free(c);
}

Test(codec_gob, body_without_json_form_fails_that_call_only) {
        GobWriter w = {};
        cr_assert_eq(buffer_append(&w.out, go_call, 57 + 15), 0); /* header type, header Seq 1 */
        gw_int(&w, GOB_ID_UINT), gw_uint(&w, 0), gw_uint(&w, UINT64_MAX), gw_end(&w);
        cr_assert_eq(buffer_append(&w.out, go_call + sizeof go_call - 1 - 21, 15), 0); /* Seq 2 */
        gw_int(&w, GOB_ID_INT), gw_uint(&w, 0), gw_int(&w, 5), gw_end(&w);
        Codec *c = new_codec();
        Message m;
        cr_assert_eq(codec_decode(c, &w.out, &m), 1);
        cr_assert_eq(m.seq, 1);
        cr_assert_null(m.body);
        cr_assert_str_eq(m.body_error, "gob: uint 18446744073709551615 is beyond the range of a JSON integer");
        message_done(&m);
        cr_assert_eq(codec_decode(c, &w.out, &m), 1);
        cr_assert_eq(m.seq, 2);
        cr_assert_eq(json_integer_value(m.body), 5);
        message_done(&m);
        codec_free(c);
        gw_done(&w);
}

Test(codec_gob, malformed_stream_says_why) {
        Codec *c = new_codec();
        Buffer in = {};
        cr_assert_eq(buffer_append(&in, " \r\n\x03\xff\x90\x00", 7), 0);
        Message m;
        cr_assert_eq(codec_decode(c, &in, &m), -EBADMSG);
        cr_assert_str_eq(c->decode_why, "gob: unknown type id 72");
        buffer_done(&in);
        codec_free(c);
}

/* The Option a gob client sends: exactly 512 bytes, ending in '}', which
 * every JSON reader takes as the same Option. */
Test(codec_gob, padded_option) {
        Option o = { .magic_number = GEERPC_MAGIC_NUMBER, .handle_timeout_ns = 1000 };
        strcpy(o.codec_type, "application/gob");
        Buffer b = {};
        cr_assert_eq(option_append_padded(&b, &o, codec_gob.option_size), 0);
        cr_assert_eq(buffer_len(&b), 512);
        cr_assert_eq(buffer_data(&b)[511], '}');
        Option parsed;
        char *why = NULL;
        cr_assert_eq(option_parse(buffer_data(&b), buffer_len(&b), &parsed, &why), 0);
        cr_assert_str_eq(parsed.codec_type, "application/gob");
        cr_assert_eq(parsed.handle_timeout_ns, 1000);
        buffer_clear(&b);
        cr_assert_eq(option_append_padded(&b, &o, 40), -EINVAL);
        cr_assert_eq(buffer_len(&b), 0);
        buffer_done(&b);
}
