/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/gob-decode.h"
#include "codec/gob-encode.h"
#include "gob-util.h"

static char *dump(json_t *v) {
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
}

Test(gob_encode, a_call_as_go_writes_it) {
        GobEncoder *e = new_encoder();
        Buffer out = {};
        json_t *args = parse("{\"Num1\":3,\"Num2\":4}");
        cr_assert_eq(gob_encode_message(e, &out, "Foo.Sum", 1, NULL, args), 0);
        /* The header's definition and value are byte for byte Go's. */
        cr_assert_eq(memcmp(buffer_data(&out), go_call, 57 + 15), 0);
        /* Args' definition differs only in the name Go gives its type. */
        static const char args_def[] = "\x1e\xff\x83\x03\x01\x02\xff\x84\x00\x01\x02\x01\x04Num1\x01\x04\x00"
                                       "\x01\x04Num2\x01\x04\x00\x00\x00";
        static const char args_value[] = "\x07\xff\x84\x01\x06\x01\x08\x00";
        cr_assert_eq(buffer_len(&out), 72 + sizeof args_def - 1 + sizeof args_value - 1);
        cr_assert_eq(memcmp(buffer_data(&out) + 72, args_def, sizeof args_def - 1), 0);
        cr_assert_eq(memcmp(buffer_data(&out) + 72 + sizeof args_def - 1, args_value, sizeof args_value - 1), 0);

        /* The second call sends no definitions: as Go's second call. */
        size_t before = buffer_len(&out);
        json_decref(args);
        args = parse("{\"Num1\":0,\"Num2\":5}");
        cr_assert_eq(gob_encode_message(e, &out, "Foo.Sum", 2, NULL, args), 0);
        cr_assert_eq(buffer_len(&out) - before, 15 + 6);
        cr_assert_eq(memcmp(buffer_data(&out) + before, go_call + sizeof go_call - 1 - 21, 21), 0);
        json_decref(args);
        gob_encoder_free(e);
        buffer_done(&out);
}

Test(gob_encode, error_reply_header) {
        GobEncoder *e = new_encoder();
        Buffer out = {};
        cr_assert_eq(gob_encode_header(e, &out, "", 0, "boom"), 0);
        /* Only Error is sent: delta 3 from the start. */
        cr_assert_eq(buffer_len(&out), 57 + 10);
        cr_assert_eq(memcmp(buffer_data(&out) + 57, "\x09\xff\x82\x03\x04" "boom\x00", 10), 0);
        gob_encoder_free(e);
        buffer_done(&out);
}

Test(gob_encode, limit_types_per_stream) {
        GobEncoder *e = new_encoder();
        Buffer out = {};
        for (int i = 0; i <= (int) GOB_MAX_TYPES; i++) {
                json_t *v = json_pack("{s:i}", "A", 1);
                char key[16];
                snprintf(key, sizeof key, "K%d", i);
                json_object_set_new(v, key, json_true());
                int r = gob_encode_value(e, &out, v);
                cr_assert_eq(r, i < (int) GOB_MAX_TYPES ? 0 : -EMSGSIZE, "%d: %s", i, gob_encoder_why(e));
                json_decref(v);
        }
        cr_assert_str_eq(gob_encoder_why(e), "gob: more than 1024 types sent on this connection");
        gob_encoder_free(e);
        buffer_done(&out);
}

/* Decodes Go's bytes, writes the values again as the types they came
 * with, and decodes that: the same JSON, through types inference cannot
 * give (maps with integer keys, GobEncoders, uints, arrays, []byte). */
Test(gob_encode, values_written_as_a_decoders_types) {
        static const char wire[] = "\x10\xff\x93\x05\x01\x01\x04\x54\x69\x6d\x65\x01\xff\x94\x00\x00\x00\x13\xff\x94\x00\x0f"
                                   "\x01\x00\x00\x00\x0e\x77\x91\xf7\x00\x00\x00\x00\x00\xff\xff"
                                   "\x0e\xff\x95\x04\x01\x02\xff\x96\x00\x01\x04\x01\x0c\x00\x00\x07\xff\x96\x00\x01\x05\x01\x61";
        GobWriter w = {};
        cr_assert_eq(buffer_append(&w.out, wire, sizeof wire - 1), 0);
        /* struct{U uint; B []byte; A [2]int; R *T (recursive)} */
        gw_def(&w, GOB_ARRAY, 200, GOB_ID_INT, 0, 2);
        gw_def_struct(&w, 201, "U", GOB_ID_UINT, "B", GOB_ID_BYTES, "A", 200, "R", 201, NULL);
        gw_int(&w, 201), gw_uint(&w, 1), gw_uint(&w, UINT64_C(1) << 40), gw_uint(&w, 1), gw_uint(&w, 3), gw_raw(&w, "\xff\x00x", 3);
        gw_uint(&w, 1), gw_uint(&w, 2), gw_int(&w, -1), gw_int(&w, 1);
        gw_uint(&w, 1), gw_uint(&w, 1), gw_uint(&w, 7), gw_uint(&w, 2), gw_uint(&w, 2), gw_int(&w, 0), gw_int(&w, 0), gw_uint(&w, 0);
        gw_uint(&w, 0);
        gw_end(&w);

        GobDecoder *d, *d2;
        cr_assert_eq(gob_decoder_new(1 << 24, &d), 0);
        cr_assert_eq(gob_decoder_new(1 << 24, &d2), 0);
        GobEncoder *e = new_encoder();
        Buffer again = {};
        const uint8_t *p = GW_DATA(&w);
        size_t len = GW_LEN(&w);
        json_t *first[3];
        for (int i = 0; i < 3; i++) {
                GobDecoded got;
                cr_assert_eq(gob_decode_value(d, p, len, &got), 1, "%s", gob_decoder_why(d));
                p += got.consumed, len -= got.consumed;
                first[i] = got.value;
                cr_assert_eq(gob_encode_value_as(e, &again, got.value, gob_decoder_types(d), got.type_id), 0, "%s",
                             gob_encoder_why(e));
        }
        json_t *b = json_object_get(first[2], "B");
        cr_assert_eq(json_string_length(b), 3);
        cr_assert_eq(memcmp(json_string_value(b), "\xff\x00x", 3), 0);
        json_t *rest = json_deep_copy(first[2]);
        json_object_del(rest, "B");
        char *s = dump(rest);
        cr_assert_str_eq(s, "{\"U\":1099511627776,\"A\":[-1,1],\"R\":{\"U\":7,\"B\":\"\",\"A\":[0,0],\"R\":null}}");
        free(s);
        json_decref(rest);
        p = (const uint8_t *) buffer_data(&again);
        len = buffer_len(&again);
        for (int i = 0; i < 3; i++) {
                GobDecoded got;
                cr_assert_eq(gob_decode_value(d2, p, len, &got), 1, "%s", gob_decoder_why(d2));
                p += got.consumed, len -= got.consumed;
                cr_assert(json_equal(got.value, first[i]), "value %d differs", i);
                json_decref(first[i]);
                json_decref(got.value);
        }
        cr_assert_eq(len, 0);
        /* Bytes survive exactly, not only their JSON view. */
        cr_assert_neq(memmem(buffer_data(&again), buffer_len(&again), "\x03\xff\x00x", 4), NULL);

        /* An interface field with a value: no gob form from JSON. */
        GobTypeTable *types = (GobTypeTable *) gob_decoder_types(d);
        GobType *t = calloc(1, sizeof *t);
        t->id = 300;
        t->kind = GOB_STRUCT;
        t->n_fields = 1;
        t->fields = calloc(1, sizeof(GobField));
        t->fields[0] = (GobField) { strdup("X"), 1, GOB_ID_INTERFACE };
        cr_assert_eq(gob_table_add(types, t), 0);
        json_t *v = parse("{\"X\":1}");
        size_t before = buffer_len(&again);
        cr_assert_eq(gob_encode_value_as(e, &again, v, types, 300), -EINVAL);
        cr_assert_str_eq(gob_encoder_why(e), "gob: interface values cannot be sent (an integer for an interface{})");
        cr_assert_eq(buffer_len(&again), before);
        json_decref(v);
        v = parse("{\"X\":null}");
        cr_assert_eq(gob_encode_value_as(e, &again, v, types, 300), 0);
        json_decref(v);

        gob_decoder_free(d);
        gob_decoder_free(d2);
        gob_encoder_free(e);
        buffer_done(&again);
        gw_done(&w);
}
