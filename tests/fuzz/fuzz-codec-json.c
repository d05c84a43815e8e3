/* SPDX-License-Identifier: MIT */
/* The application/json codec's framing: a stream of headers and bodies,
 * arriving in pieces (the first byte chooses their size). Every message
 * that decodes must encode and decode again to the same message. */

#include "codec/codec.h"
#include "fuzz.h"

#define FUZZ_VALUE_MAX 4096U
#define FUZZ_MESSAGES_MAX 256U

static void round_trip(const Message *m) {
        Codec *c = NULL;
        Buffer b = {};
        Message again = {};

        FUZZ_ASSERT(codec_new(&codec_json, 0, &c) >= 0);
        if (codec_encode(c, &b, m->service_method, m->seq, m->error, m->body) < 0)
                goto finish; /* e.g. a string that is not UTF-8: the server says so instead */
        FUZZ_ASSERT(codec_decode(c, &b, &again) == 1);
        FUZZ_ASSERT(streq(again.service_method, m->service_method));
        FUZZ_ASSERT(streq(again.error, strempty(m->error)));
        FUZZ_ASSERT(again.seq == m->seq);
        FUZZ_ASSERT(again.body && !again.body_error);
        FUZZ_ASSERT(m->body ? json_equal(again.body, m->body) : json_is_object(again.body));
        FUZZ_ASSERT(codec_decode(c, &b, &again) == 0); /* drops the newline */
        FUZZ_ASSERT(buffer_len(&b) == 0);
finish:
        message_done(&again);
        buffer_done(&b);
        codec_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t piece = 1 + data[0] % 64, fed = 1, n = 0;
        Codec *c = NULL;
        Buffer in = {};

        FUZZ_ASSERT(codec_new(&codec_json, FUZZ_VALUE_MAX, &c) >= 0);
        while (n < FUZZ_MESSAGES_MAX) {
                Message m = {};
                int r = codec_decode(c, &in, &m);
                if (r < 0) {
                        FUZZ_ASSERT(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
                        break;
                }
                if (r == 1) {
                        n++;
                        FUZZ_ASSERT(m.service_method && m.error);
                        FUZZ_ASSERT(!m.body != !m.body_error);
                        if (m.body)
                                round_trip(&m);
                        message_done(&m);
                        continue;
                }
                /* Waiting for more: what is kept is within the bound,
                 * whitespace included (a header waits apart). */
                FUZZ_ASSERT(buffer_len(&in) < FUZZ_VALUE_MAX);
                if (fed == size)
                        break;
                size_t k = MIN(piece, size - fed);
                FUZZ_ASSERT(buffer_append(&in, data + fed, k) >= 0);
                fed += k;
        }
        buffer_done(&in);
        codec_free(c);
        return 0;
}
