/* SPDX-License-Identifier: MIT */
/* The gob decoder: a stream of headers and values arriving in pieces (the
 * first byte chooses their size). Whatever decodes must write out again
 * as the types it came with and decode to the same JSON; and whatever the
 * encoder infers a type for must decode. */

#include "codec/gob-decode.h"
#include "codec/gob-encode.h"
#include "fuzz.h"

#define FUZZ_VALUE_MAX 65536U
#define FUZZ_MESSAGES_MAX 256U

/* Decodes one value from b (which must hold it whole). */
static json_t *decode_whole(GobDecoder *d, Buffer *b) {
        GobDecoded v;
        FUZZ_ASSERT(gob_decode_value(d, (const uint8_t *) buffer_data(b), buffer_len(b), &v) == 1);
        FUZZ_ASSERT(v.consumed == buffer_len(b) && v.value);
        buffer_clear(b);
        return v.value;
}

/* json_equal(), but for keys that hold NULs too (jansson's looks them up
 * as C strings). */
static bool same(json_t *a, json_t *b) {
        if (json_typeof(a) != json_typeof(b))
                return json_is_number(a) && json_is_number(b) && json_number_value(a) == json_number_value(b);
        if (json_is_object(a)) {
                const char *key;
                size_t len;
                json_t *v;
                if (json_object_size(a) != json_object_size(b))
                        return false;
                json_object_keylen_foreach(a, key, len, v) {
                        json_t *w = json_object_getn(b, key, len);
                        if (!w || !same(v, w))
                                return false;
                }
                return true;
        }
        if (json_is_array(a)) {
                if (json_array_size(a) != json_array_size(b))
                        return false;
                for (size_t i = 0; i < json_array_size(a); i++)
                        if (!same(json_array_get(a, i), json_array_get(b, i)))
                                return false;
                return true;
        }
        return json_equal(a, b);
}

static void round_trip(GobDecoder *d, GobEncoder *as_typed, GobDecoder *d_typed, GobEncoder *inferred,
                       GobDecoder *d_inferred, const GobDecoded *v) {
        Buffer b = {};
        if (gob_encode_value_as(as_typed, &b, v->value, gob_decoder_types(d), v->type_id) >= 0) {
                json_t *again = decode_whole(d_typed, &b);
                FUZZ_ASSERT(same(again, v->value));
                json_decref(again);
        } else
                FUZZ_ASSERT(buffer_len(&b) == 0);
        if (gob_encode_value(inferred, &b, v->value) >= 0)
                json_decref(decode_whole(d_inferred, &b));
        else
                FUZZ_ASSERT(buffer_len(&b) == 0);
        buffer_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t piece = 1 + data[0] % 64, fed = 1, n = 0;
        GobDecoder *d, *d_typed, *d_inferred;
        GobEncoder *as_typed, *inferred;
        Buffer in = {};

        FUZZ_ASSERT(gob_decoder_new(FUZZ_VALUE_MAX, &d) >= 0 && gob_decoder_new(1 << 24, &d_typed) >= 0 &&
                    gob_decoder_new(1 << 24, &d_inferred) >= 0);
        FUZZ_ASSERT(gob_encoder_new(&as_typed) >= 0 && gob_encoder_new(&inferred) >= 0);
        while (n < FUZZ_MESSAGES_MAX) {
                GobDecoded v;
                Message h = {};
                const uint8_t *p = (const uint8_t *) buffer_data(&in);
                /* Headers and values alternate, as in a GeeRPC stream. */
                int r = n % 2 == 0 ? gob_decode_header(d, p, buffer_len(&in), &v, &h)
                                   : gob_decode_value(d, p, buffer_len(&in), &v);
                FUZZ_ASSERT(v.consumed <= buffer_len(&in));
                buffer_consume(&in, v.consumed);
                if (r < 0) {
                        FUZZ_ASSERT(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
                        FUZZ_ASSERT(strncmp(gob_decoder_why(d), "gob: ", 5) == 0 || r == -ENOMEM);
                        break;
                }
                if (r == 1) {
                        if (n % 2 == 0)
                                FUZZ_ASSERT(h.service_method && h.error);
                        else if (v.value)
                                round_trip(d, as_typed, d_typed, inferred, d_inferred, &v);
                        else
                                FUZZ_ASSERT(v.error && strncmp(v.error, "gob: ", 5) == 0);
                        n++;
                        message_done(&h);
                        if (v.value)
                                json_decref(v.value);
                        free(v.error);
                        continue;
                }
                /* Waiting for more: something must be missing. */
                FUZZ_ASSERT(v.need > buffer_len(&in) && !v.value && !v.error);
                if (fed == size)
                        break;
                size_t k = MIN(piece, size - fed);
                FUZZ_ASSERT(buffer_append(&in, data + fed, k) >= 0);
                fed += k;
        }
        buffer_done(&in);
        gob_decoder_free(d);
        gob_decoder_free(d_typed);
        gob_decoder_free(d_inferred);
        gob_encoder_free(as_typed);
        gob_encoder_free(inferred);
        return 0;
}
