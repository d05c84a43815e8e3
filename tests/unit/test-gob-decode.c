/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <math.h>

#include "codec/gob-decode.h"
#include "gob-util.h"

#define MAX_MESSAGE (16U * 1024U * 1024U)

static GobDecoder *new_decoder(void) {
        GobDecoder *d;
        cr_assert_eq(gob_decoder_new(MAX_MESSAGE, &d), 0);
        return d;
}

/* Decodes the values of a stream in turn; returns the last result. */
typedef struct Values {
        json_t *v[16];
        char *error[16];
        size_t n;
        int r;
        const char *why;
} Values;

static Values decode_all(GobDecoder *d, const void *data, size_t len) {
        Values vs = {};
        const uint8_t *p = data;
        for (;;) {
                GobDecoded got;
                vs.r = gob_decode_value(d, p, len, &got);
                vs.why = gob_decoder_why(d);
                cr_assert_leq(got.consumed, len);
                p += got.consumed;
                len -= got.consumed;
                if (vs.r <= 0)
                        return vs;
                cr_assert_lt(vs.n, ELEMENTSOF(vs.v));
                vs.v[vs.n] = got.value;
                vs.error[vs.n++] = got.error;
        }
}

static void values_done(Values *vs) {
        for (size_t i = 0; i < vs->n; i++) {
                if (vs->v[i])
                        json_decref(vs->v[i]);
                free(vs->error[i]);
        }
}

static void assert_json(json_t *v, const char *want) {
        cr_assert_not_null(v);
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        cr_assert_str_eq(got, want);
        free(got);
}

/* Expects the stream to fail with err, the reason naming what. */
static void assert_fails(GobWriter *w, int err, const char *what) {
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, GW_DATA(w), GW_LEN(w));
        cr_assert_eq(vs.r, err, "got %d (%s), want %d (%s)", vs.r, vs.why, err, what);
        cr_assert(strstr(vs.why, what), "'%s' does not say '%s'", vs.why, what);
        values_done(&vs);
        gob_decoder_free(d);
        gw_done(w);
}

/* ---- what Go writes --------------------------------------------------------- */

Test(gob_decode, go_calls_with_zero_fields_filled_in) {
        GobDecoder *d = new_decoder();
        const uint8_t *p = (const uint8_t *) go_call;
        size_t len = sizeof go_call - 1;
        for (uint64_t seq = 1; seq <= 2; seq++) {
                GobDecoded got;
                Message h = {};
                cr_assert_eq(gob_decode_header(d, p, len, &got, &h), 1, "%s", gob_decoder_why(d));
                cr_assert_str_eq(h.service_method, "Foo.Sum");
                cr_assert_eq(h.seq, seq);
                cr_assert_str_eq(h.error, "");
                message_done(&h);
                p += got.consumed;
                len -= got.consumed;
                cr_assert_eq(gob_decode_value(d, p, len, &got), 1, "%s", gob_decoder_why(d));
                assert_json(got.value, seq == 1 ? "{\"Num1\":3,\"Num2\":4}" : "{\"Num1\":0,\"Num2\":5}");
                json_decref(got.value);
                p += got.consumed;
                len -= got.consumed;
        }
        cr_assert_eq(len, 0);
        gob_decoder_free(d);
}

Test(gob_decode, every_prefix_waits_and_says_what_it_needs) {
        size_t len = sizeof go_call - 1;
        for (size_t cut = 0; cut < 60 + 14; cut++) {
                GobDecoder *d = new_decoder();
                GobDecoded got;
                Message h = {};
                int r = gob_decode_header(d, (const uint8_t *) go_call, cut, &got, &h);
                if (cut < 57 + 15) {
                        cr_assert_eq(r, 0, "cut at %zu: %d %s", cut, r, gob_decoder_why(d));
                        /* The type definition is taken as soon as it is whole. */
                        cr_assert_eq(got.consumed, cut >= 57 ? 57 : 0);
                        cr_assert_gt(got.consumed + got.need, cut);
                        cr_assert_leq(got.consumed + got.need, len);
                } else
                        cr_assert_eq(r, 1);
                message_done(&h);
                gob_decoder_free(d);
        }
}

/* Go's definitions of Outer{I Inner; P *Inner; S []int; M map[string]int;
 * Ar [2]int; X interface{}} and of the types in it (ids 66 to 71). */
static const char outer_defs[] =
        "\x3d\xff\x85\x03\x01\x01\x05\x4f\x75\x74\x65\x72\x01\xff\x86\x00\x01\x06\x01\x01\x49\x01\xff\x88"
        "\x00\x01\x01\x50\x01\xff\x88\x00\x01\x01\x53\x01\xff\x8a\x00\x01\x01\x4d\x01\xff\x8c\x00\x01\x02"
        "\x41\x72\x01\xff\x8e\x00\x01\x01\x58\x01\x10\x00\x00\x00\x19\xff\x87\x03\x01\x01\x05\x49\x6e\x6e"
        "\x65\x72\x01\xff\x88\x00\x01\x01\x01\x01\x41\x01\x04\x00\x00\x00\x13\xff\x89\x02\x01\x01\x05\x5b"
        "\x5d\x69\x6e\x74\x01\xff\x8a\x00\x01\x04\x00\x00\x1e\xff\x8b\x04\x01\x01\x0e\x6d\x61\x70\x5b\x73"
        "\x74\x72\x69\x6e\x67\x5d\x69\x6e\x74\x01\xff\x8c\x00\x01\x0c\x01\x04\x00\x00\x16\xff\x8d\x01\x01"
        "\x01\x06\x5b\x32\x5d\x69\x6e\x74\x01\xff\x8e\x00\x01\x04\x01\x04\x00\x00";

/* outer_defs and then the value messages. */
static Buffer outer_stream(const char *values, size_t n) {
        Buffer b = {};
        cr_assert_eq(buffer_append(&b, outer_defs, sizeof outer_defs - 1), 0);
        cr_assert_eq(buffer_append(&b, values, n), 0);
        return b;
}

static Values decode_outer(GobDecoder *d, const char *values, size_t n) {
        Buffer b = outer_stream(values, n);
        Values vs = decode_all(d, buffer_data(&b), buffer_len(&b));
        buffer_done(&b);
        return vs;
}

/* outer_defs and one value, which must decode to the JSON want. */
static void assert_outer(const char *value, size_t n, const char *want) {
        GobDecoder *d = new_decoder();
        Values vs = decode_outer(d, value, n);
        cr_assert_eq(vs.r, 0, "%s", vs.why);
        cr_assert_eq(vs.n, 1);
        assert_json(vs.v[0], want);
        values_done(&vs);
        gob_decoder_free(d);
}

Test(gob_decode, go_struct_with_every_kind_of_field_left_out) {
        /* Outer{I Inner; P *Inner; S []int; M map[string]int; Ar [2]int;
         * X interface{}}, zero: Go sends I (a struct) and Ar (an array). */
        static const char value[] = "\x09\xff\x86\x01\x00\x04\x02\x00\x00\x00";
        assert_outer(value, sizeof value - 1, "{\"I\":{\"A\":0},\"P\":null,\"S\":[],\"M\":null,\"Ar\":[0,0],\"X\":null}");
}

/* Outer{X: Point{1, 2}} then Outer{X: 5}: the first value's message ends
 * after Point's definition and goes on in the next message. */
static const char go_iface[] =
        "\x33\xff\x86\x01\x00\x04\x02\x00\x00\x01\x0a\x6d\x61\x69\x6e\x2e\x50\x6f\x69\x6e\x74\xff\x8f\x03"
        "\x01\x01\x05\x50\x6f\x69\x6e\x74\x01\xff\x90\x00\x01\x02\x01\x01\x58\x01\x04\x00\x01\x01\x59\x01"
        "\x04\x00\x00\x00\x09\xff\x90\x05\x01\x02\x01\x04\x00\x00\x12\xff\x86\x01\x00\x04\x02\x00\x00\x01"
        "\x03\x69\x6e\x74\x04\x02\x00\x0a\x00";

Test(gob_decode, go_interface_values_across_messages) {
        GobDecoder *d = new_decoder();
        Values vs = decode_outer(d, go_iface, sizeof go_iface - 1);
        cr_assert_eq(vs.r, 0, "%s", vs.why);
        cr_assert_eq(vs.n, 2);
        assert_json(json_object_get(vs.v[0], "X"), "{\"X\":1,\"Y\":2}");
        assert_json(json_object_get(vs.v[1], "X"), "5");
        values_done(&vs);
        gob_decoder_free(d);
}

Test(gob_decode, value_cut_between_its_messages_is_read_again_whole) {
        /* Up to the end of the first value's first message: Point's
         * definition is in it, and must be forgotten until the value can be
         * read whole, or the second try would see it "defined twice". */
        Buffer b = outer_stream(go_iface, sizeof go_iface - 1);
        const char *all = buffer_data(&b);
        size_t defs = sizeof outer_defs - 1, first = defs + 0x34;
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, all, first);
        cr_assert_eq(vs.r, 0);
        cr_assert_eq(vs.n, 0);
        cr_assert_eq(gob_decoder_types(d)->n, 5); /* Outer, Inner, []int, map, [2]int: not Point */
        GobDecoded got;
        cr_assert_eq(gob_decode_value(d, (const uint8_t *) all + defs, first - defs, &got), 0);
        cr_assert_eq(got.consumed, 0);
        cr_assert_eq(got.need, 0x34 + 1); /* the next message's length, at least */
        cr_assert_eq(gob_decode_value(d, (const uint8_t *) all + defs, first + 1 - defs, &got), 0);
        cr_assert_eq(got.need, 0x34 + 10);
        cr_assert_eq(gob_decode_value(d, (const uint8_t *) all + defs, buffer_len(&b) - defs, &got), 1, "%s",
                     gob_decoder_why(d));
        assert_json(json_object_get(got.value, "X"), "{\"X\":1,\"Y\":2}");
        json_decref(got.value);
        values_done(&vs);
        gob_decoder_free(d);
        buffer_done(&b);
}

Test(gob_decode, go_nested_interfaces_empty_map_and_empty_slice) {
        /* Outer{S: []int{}, M: map[string]int{}, X: []interface{}{Point{1, 2}, "s"}} */
        static const char value[] = "\x26\xff\x86\x01\x00\x03\x00\x01\x02\x00\x00\x01\x0e\x5b\x5d\x69\x6e\x74\x65\x72\x66\x61\x63\x65"
                "\x20\x7b\x7d\xff\x91\x02\x01\x02\xff\x92\x00\x01\x10\x00\x00\x45\xff\x92\x2c\x00\x02\x0a\x6d\x61"
                "\x69\x6e\x2e\x50\x6f\x69\x6e\x74\xff\x8f\x03\x01\x01\x05\x50\x6f\x69\x6e\x74\x01\xff\x90\x00\x01"
                "\x02\x01\x01\x58\x01\x04\x00\x01\x01\x59\x01\x04\x00\x00\x00\x14\xff\x90\x05\x01\x02\x01\x04\x00"
                "\x06\x73\x74\x72\x69\x6e\x67\x0c\x03\x00\x01\x73\x00";
        assert_outer(value, sizeof value - 1,
                     "{\"I\":{\"A\":0},\"P\":null,\"S\":[],\"M\":{},\"Ar\":[0,0],\"X\":[{\"X\":1,\"Y\":2},\"s\"]}");
}

Test(gob_decode, go_gob_encoder_and_integer_map_keys) {
        /* time.Unix(0, 0).UTC() (a GobEncoder: its bytes), then
         * map[int]string{-3: "a"} (keys in decimal, as encoding/json). */
        static const char wire[] = "\x10\xff\x93\x05\x01\x01\x04\x54\x69\x6d\x65\x01\xff\x94\x00\x00\x00\x13\xff\x94\x00\x0f"
                                   "\x01\x00\x00\x00\x0e\x77\x91\xf7\x00\x00\x00\x00\x00\xff\xff"
                                   "\x0e\xff\x95\x04\x01\x02\xff\x96\x00\x01\x04\x01\x0c\x00\x00\x07\xff\x96\x00\x01\x05\x01\x61";
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, wire, sizeof wire - 1);
        cr_assert_eq(vs.r, 0, "%s", vs.why);
        cr_assert_eq(vs.n, 2);
        cr_assert_eq(json_string_length(vs.v[0]), 15);
        cr_assert_eq(memcmp(json_string_value(vs.v[0]), "\x01\x00\x00\x00\x0e\x77\x91\xf7\x00\x00\x00\x00\x00\xff\xff", 15), 0);
        assert_json(vs.v[1], "{\"-3\":\"a\"}");
        values_done(&vs);
        gob_decoder_free(d);
}

Test(gob_decode, strings_are_carried_byte_for_byte) {
        GobWriter w = {};
        gw_int(&w, GOB_ID_STRING);
        gw_uint(&w, 0);
        gw_raw(&w, "\x05" "a\0b\xff\xfe", 6);
        gw_end(&w);
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, GW_DATA(&w), GW_LEN(&w));
        cr_assert_eq(vs.n, 1);
        cr_assert_eq(json_string_length(vs.v[0]), 5);
        cr_assert_eq(memcmp(json_string_value(vs.v[0]), "a\0b\xff\xfe", 5), 0);
        values_done(&vs);
        gob_decoder_free(d);
        gw_done(&w);
}

/* ---- values without a JSON form: that value fails, the stream goes on ---------- */

Test(gob_decode, values_without_json_form_fail_alone) {
        GobWriter w = {};
        gw_def(&w, GOB_MAP, 65, GOB_ID_STRING, GOB_ID_FLOAT, 0);
        gw_int(&w, GOB_ID_UINT), gw_uint(&w, 0), gw_uint(&w, UINT64_MAX), gw_end(&w);
        gw_int(&w, GOB_ID_FLOAT), gw_uint(&w, 0), gw_uint(&w, gob_float_to_uint(NAN)), gw_end(&w);
        gw_int(&w, GOB_ID_COMPLEX), gw_uint(&w, 0), gw_uint(&w, 0), gw_uint(&w, 0), gw_end(&w);
        gw_int(&w, 65), gw_uint(&w, 0), gw_uint(&w, 1), gw_uint(&w, gob_float_to_uint(1.5)), gw_str(&w, "x"), gw_end(&w);
        gw_int(&w, GOB_ID_UINT), gw_uint(&w, 0), gw_uint(&w, (uint64_t) INT64_MAX), gw_end(&w);
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, GW_DATA(&w), GW_LEN(&w));
        cr_assert_eq(vs.r, 0, "%s", vs.why);
        cr_assert_eq(vs.n, 5);
        cr_assert_str_eq(vs.error[0], "gob: uint 18446744073709551615 is beyond the range of a JSON integer");
        cr_assert_str_eq(vs.error[1], "gob: float nan has no JSON form");
        cr_assert_str_eq(vs.error[2], "gob: complex numbers have no JSON form");
        cr_assert_str_eq(vs.error[3], "gob: map keys of type float have no JSON form");
        for (size_t i = 0; i < 4; i++)
                cr_assert_null(vs.v[i]);
        cr_assert_eq(json_integer_value(vs.v[4]), INT64_MAX);
        values_done(&vs);
        gob_decoder_free(d);
        gw_done(&w);
}

/* ---- malformed streams ---------------------------------------------------------- */

Test(gob_decode, bad_lengths) {
        GobWriter w = {};
        cr_assert_eq(buffer_append(&w.out, "\xf0\x01", 2), 0); /* a count byte of 16 */
        assert_fails(&w, -EBADMSG, "impossible byte count");
        cr_assert_eq(buffer_append(&w.out, "\x00", 1), 0);
        assert_fails(&w, -EBADMSG, "empty message");
        /* One byte over the limit: refused before the bytes come. */
        cr_assert_eq(gob_append_uint(&w.out, MAX_MESSAGE + 1), 0);
        assert_fails(&w, -EMSGSIZE, "more than the limit of 16777216");
}

Test(gob_decode, unknown_type_ids) {
        GobWriter w = {};
        gw_int(&w, 70), gw_uint(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "unknown type id 70");
        gw_int(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "type id 0");
        /* A struct whose field's type never comes. */
        gw_def_struct(&w, 65, "A", 99, NULL);
        gw_int(&w, 65), gw_uint(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "unknown type id 99");
        gw_int(&w, 12), gw_uint(&w, 0), gw_uint(&w, 0), gw_end(&w); /* reserved id */
        assert_fails(&w, -EBADMSG, "unknown type id 12");
}

Test(gob_decode, types_redefined) {
        GobWriter w = {};
        gw_def(&w, GOB_SLICE, 65, GOB_ID_INT, 0, 0);
        gw_def(&w, GOB_SLICE, 65, GOB_ID_STRING, 0, 0);
        assert_fails(&w, -EBADMSG, "type 65 defined twice");
        gw_def(&w, GOB_SLICE, GOB_ID_STRING, GOB_ID_INT, 0, 0);
        assert_fails(&w, -EBADMSG, "type id 6 is predefined");
}

Test(gob_decode, bad_type_definitions) {
        GobWriter w = {};
        gw_int(&w, -65), gw_uint(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "names no kind");
        gw_int(&w, -65), gw_uint(&w, 9), gw_end(&w);
        assert_fails(&w, -EBADMSG, "field number out of range");
        gw_def(&w, GOB_SLICE, 65, 0, 0, 0);
        assert_fails(&w, -EBADMSG, "without an element type");
        gw_def(&w, GOB_ARRAY, 65, GOB_ID_INT, 0, -1);
        assert_fails(&w, -EBADMSG, "negative length");
        GobType t = { .id = 65, .kind = GOB_SLICE, .elem = GOB_ID_INT };
        cr_assert_eq(gob_type_append(&w.msg, &t), 0);
        gw_uint(&w, 7);
        gw_end(&w);
        assert_fails(&w, -EBADMSG, "stray bytes after the definition of type 65");
        cr_assert_eq(gob_type_append(&w.msg, &t), 0);
        w.msg.end -= 3;
        gw_end(&w);
        assert_fails(&w, -EBADMSG, "cut short");
}

Test(gob_decode, values_that_do_not_match_their_type) {
        GobWriter w = {};
        gw_def_struct(&w, 65, "A", GOB_ID_INT, "B", GOB_ID_INT, NULL);
        gw_int(&w, 65), gw_uint(&w, 3), gw_uint(&w, 2), gw_uint(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "field number out of range for struct type 65");

        gw_def(&w, GOB_ARRAY, 65, GOB_ID_INT, 0, 3);
        gw_int(&w, 65), gw_uint(&w, 0), gw_uint(&w, 2), gw_uint(&w, 0), gw_uint(&w, 0), gw_end(&w);
        assert_fails(&w, -EBADMSG, "array of 3 elements sent with 2");

        gw_int(&w, GOB_ID_STRING), gw_uint(&w, 0), gw_uint(&w, 5), gw_raw(&w, "ab", 2), gw_end(&w);
        assert_fails(&w, -EBADMSG, "runs past the end of its message");

        gw_int(&w, GOB_ID_INT), gw_uint(&w, 1), gw_uint(&w, 2), gw_end(&w);
        assert_fails(&w, -EBADMSG, "without its zero field delta");

        gw_int(&w, GOB_ID_INT), gw_uint(&w, 0), gw_uint(&w, 2), gw_uint(&w, 2), gw_end(&w);
        assert_fails(&w, -EBADMSG, "1 bytes left over after a value");

        gw_int(&w, GOB_ID_INT), gw_uint(&w, 0), gw_raw(&w, "\xf8\x01", 2), gw_end(&w);
        assert_fails(&w, -EBADMSG, "runs past the end of its message");
}

Test(gob_decode, headers_that_are_not_headers) {
        GobWriter w = {};
        gw_int(&w, GOB_ID_INT), gw_uint(&w, 0), gw_uint(&w, 2), gw_end(&w);
        GobDecoder *d = new_decoder();
        GobDecoded got;
        Message h = {};
        cr_assert_eq(gob_decode_header(d, GW_DATA(&w), GW_LEN(&w), &got, &h), -EBADMSG);
        cr_assert_str_eq(gob_decoder_why(d), "gob: header of type int, not a struct");
        gob_decoder_free(d);
        gw_done(&w);

        gw_def_struct(&w, 65, "Seq", GOB_ID_STRING, NULL);
        gw_int(&w, 65), gw_uint(&w, 1), gw_str(&w, "7"), gw_uint(&w, 0), gw_end(&w);
        d = new_decoder();
        cr_assert_eq(gob_decode_header(d, GW_DATA(&w), GW_LEN(&w), &got, &h), -EBADMSG);
        cr_assert_str_eq(gob_decoder_why(d), "gob: header field Seq is not an integer");
        gob_decoder_free(d);
        gw_done(&w);

        /* Other fields are read and dropped; a signed Seq is taken. */
        gw_def_struct(&w, 65, "Extra", GOB_ID_FLOAT, "Seq", GOB_ID_INT, NULL);
        gw_int(&w, 65), gw_uint(&w, 1), gw_uint(&w, 0x1234), gw_uint(&w, 1), gw_int(&w, 9), gw_uint(&w, 0), gw_end(&w);
        d = new_decoder();
        cr_assert_eq(gob_decode_header(d, GW_DATA(&w), GW_LEN(&w), &got, &h), 1);
        cr_assert_eq(h.seq, 9);
        cr_assert_str_eq(h.service_method, "");
        message_done(&h);
        gob_decoder_free(d);
        gw_done(&w);
}

/* ---- named limits --------------------------------------------------------------- */

Test(gob_decode, limit_types_per_stream) {
        GobWriter w = {};
        for (int64_t i = 0; i < GOB_MAX_TYPES; i++)
                gw_def(&w, GOB_SLICE, 65 + i, GOB_ID_INT, 0, 0);
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, GW_DATA(&w), GW_LEN(&w));
        cr_assert_eq(vs.r, 0, "%s", vs.why); /* exactly the limit: fine */
        gob_decoder_free(d);
        gw_def(&w, GOB_SLICE, 65 + GOB_MAX_TYPES, GOB_ID_INT, 0, 0);
        assert_fails(&w, -EMSGSIZE, "more than 1024 types defined");
}

Test(gob_decode, limit_fields_per_struct) {
        GobWriter w = {};
        gw_int(&w, -65), gw_uint(&w, 3), gw_uint(&w, 2), gw_uint(&w, GOB_MAX_FIELDS + 1), gw_end(&w);
        assert_fails(&w, -EMSGSIZE, "more fields than the limit");
}

/* A struct type whose one field is itself, nested depth times. */
static void nested(GobWriter *w, unsigned depth) {
        gw_def_struct(w, 65, "Next", 65, NULL);
        gw_int(w, 65);
        for (unsigned i = 1; i < depth; i++)
                gw_uint(w, 1);
        for (unsigned i = 0; i < depth; i++)
                gw_uint(w, 0);
        gw_end(w);
}

Test(gob_decode, limit_nesting_depth) {
        GobWriter w = {};
        nested(&w, GOB_MAX_DEPTH);
        GobDecoder *d = new_decoder();
        Values vs = decode_all(d, GW_DATA(&w), GW_LEN(&w));
        cr_assert_eq(vs.n, 1, "%s", vs.why);
        values_done(&vs);
        gob_decoder_free(d);
        gw_done(&w);
        nested(&w, GOB_MAX_DEPTH + 1);
        assert_fails(&w, -EMSGSIZE, "nested deeper than 100");
}

Test(gob_decode, limit_elements) {
        GobWriter w = {};
        gw_def(&w, GOB_SLICE, 65, GOB_ID_INT, 0, 0);
        gw_int(&w, 65), gw_uint(&w, 0), gw_uint(&w, GOB_MAX_ELEMENTS + 1), gw_end(&w);
        assert_fails(&w, -EMSGSIZE, "slice of 1048577 elements, more than the limit of 1048576");
        gw_def(&w, GOB_MAP, 65, GOB_ID_STRING, GOB_ID_INT, 0);
        gw_int(&w, 65), gw_uint(&w, 0), gw_uint(&w, GOB_MAX_ELEMENTS + 1), gw_end(&w);
        assert_fails(&w, -EMSGSIZE, "map of 1048577 elements");
}

Test(gob_decode, limit_json_values_with_zero_fields_filled_in) {
        /* 5000 structs of 1000 fields sent as 5000 bytes of "00": more
         * than GOB_MAX_VALUES once filled in. */
        GobWriter w = {};
        GobType t = { .id = 65, .kind = GOB_STRUCT, .n_fields = 1000 };
        t.fields = calloc(t.n_fields, sizeof(GobField));
        char names[1000][24];
        for (size_t i = 0; i < t.n_fields; i++) {
                snprintf(names[i], sizeof names[i], "F%zu", i);
                t.fields[i] = (GobField) { names[i], strlen(names[i]), GOB_ID_INT };
        }
        cr_assert_eq(gob_type_append(&w.msg, &t), 0);
        gw_end(&w);
        free(t.fields);
        gw_def(&w, GOB_SLICE, 66, 65, 0, 0);
        gw_int(&w, 66), gw_uint(&w, 0), gw_uint(&w, 5000);
        for (int i = 0; i < 5000; i++)
                gw_uint(&w, 0);
        gw_end(&w);
        assert_fails(&w, -EMSGSIZE, "more than 4194304 JSON values");
}

Test(gob_decode, limit_messages_per_value) {
        /* A struct of interface fields, each holding a value of a new
         * (empty) struct type whose definition ends the message. */
        GobWriter w = {};
        const unsigned n = GOB_MAX_VALUE_MESSAGES;
        GobType t = { .id = 65, .kind = GOB_STRUCT, .n_fields = n };
        t.fields = calloc(n, sizeof(GobField));
        for (size_t i = 0; i < n; i++)
                t.fields[i] = (GobField) { (char *) "F", 1, GOB_ID_INTERFACE };
        cr_assert_eq(gob_type_append(&w.msg, &t), 0);
        gw_end(&w);
        free(t.fields);
        gw_int(&w, 65);
        for (unsigned i = 0; i < n; i++) {
                gw_uint(&w, 1), gw_str(&w, "T");
                GobType e = { .id = 66 + i, .kind = GOB_STRUCT };
                cr_assert_eq(gob_type_append(&w.msg, &e), 0);
                gw_end(&w);
                gw_int(&w, 66 + i), gw_uint(&w, 1), gw_uint(&w, 0);
        }
        gw_uint(&w, 0);
        gw_end(&w);
        /* n + 1 messages: one too many. */
        assert_fails(&w, -EMSGSIZE, "spans more than 16 messages");
}

Test(gob_decode, truncated_stream_never_fails) {
        /* Every prefix of a stream is "more, please", never an error. */
        Buffer b = outer_stream(go_iface, sizeof go_iface - 1);
        for (size_t cut = 0; cut < buffer_len(&b); cut++) {
                GobDecoder *d = new_decoder();
                Values vs = decode_all(d, buffer_data(&b), cut);
                cr_assert_eq(vs.r, 0, "cut at %zu: %s", cut, vs.why);
                cr_assert_leq(vs.n, 1);
                values_done(&vs);
                gob_decoder_free(d);
        }
        buffer_done(&b);
}
