/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "codec/codec.h"
#include "codec/gob-decode.h"
#include "codec/gob-encode.h"

/* application/gob, Go GeeRPC's default codec (its GobCodec): one gob
 * stream per direction of a connection, and per message the header value,
 * then the body value (gob-decode.c, gob-encode.c).
 *
 * Where the stream starts. A Go client writes its Option with
 * json.Encoder, which ends it with "\n", and the stream comes after that:
 * whitespace in front of the first message is skipped. It cannot be the
 * stream's own first byte: every GeeRPC stream begins with the definition
 * of the header's type, which with its field names is longer than 32
 * bytes, so its length byte is none of \t \n \r or space.
 *
 * The Option's padding (option_size). Go's server reads the Option with
 * json.NewDecoder(conn).Decode() and then hands conn to gob: whatever the
 * JSON decoder read from the socket beyond the Option is lost. Its first
 * read asks for 512 bytes; an Option of exactly 512 bytes, ending in '}',
 * fills that read and ends the value (an object ends at its '}'), so the
 * decoder never reads again, and requests written right behind it (our
 * client may send both in one segment) stay in the socket for gob. */
#define GOB_OPTION_SIZE 512

typedef struct GobCodec {
        Codec base;
        GobDecoder *dec;
        GobEncoder *enc;
        bool started;     /* the stream's first byte has come */
        bool have_header; /* pending holds a header waiting for its body */
        Message pending;
        size_t need; /* decode again only once the buffer holds this much */
} GobCodec;

static int gob_codec_init(Codec *c) {
        GobCodec *g = (GobCodec *) c;
        int r = gob_decoder_new(c->max_value, &g->dec);
        if (r < 0)
                return r;
        return gob_encoder_new(&g->enc);
}

static void gob_codec_done(Codec *c) {
        GobCodec *g = (GobCodec *) c;
        message_done(&g->pending);
        gob_decoder_free(g->dec);
        gob_encoder_free(g->enc);
}

static void skip_whitespace(Buffer *in) {
        const char *p = buffer_data(in);
        size_t n = 0, len = buffer_len(in);
        while (n < len && (p[n] == ' ' || p[n] == '\t' || p[n] == '\r' || p[n] == '\n'))
                n++;
        buffer_consume(in, n);
}

static int gob_codec_decode(Codec *c, Buffer *in, Message *ret) {
        GobCodec *g = (GobCodec *) c;

        if (!g->started) {
                skip_whitespace(in);
                if (buffer_len(in) == 0)
                        return 0;
                g->started = true;
        }
        /* A value whose last message is still missing is read again from
         * its start: not before that message can have come. */
        if (buffer_len(in) < g->need)
                return 0;

        for (;;) {
                const uint8_t *p = (const uint8_t *) buffer_data(in);
                GobDecoded d;
                int r = g->have_header ? gob_decode_value(g->dec, p, buffer_len(in), &d)
                                       : gob_decode_header(g->dec, p, buffer_len(in), &d, &g->pending);
                buffer_consume(in, d.consumed);
                if (r < 0) {
                        snprintf(c->decode_why, sizeof c->decode_why, "%s", gob_decoder_why(g->dec));
                        return r;
                }
                if (r == 0) {
                        g->need = d.need;
                        return 0;
                }
                g->need = 0;
                if (!g->have_header) {
                        g->have_header = true;
                        continue;
                }
                g->pending.body = d.value;
                g->pending.body_error = d.error;
                *ret = g->pending;
                g->pending = (Message) {};
                g->have_header = false;
                return 1;
        }
}

/* A header whose body has not come is held here, outside the input buffer:
 * the server's message timeout must see it as a message half sent. (A
 * value whose last message is missing stays in the buffer.) Gob has no
 * bytes a reader skips between messages, so the codec has no probe. */
static bool gob_codec_partial(Codec *c) {
        return ((GobCodec *) c)->have_header;
}

static int gob_codec_encode(Codec *c, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                            json_t *body) {
        GobCodec *g = (GobCodec *) c;
        int r = gob_encode_message(g->enc, out, service_method, seq, error, body);
        if (r < 0)
                snprintf(c->encode_why, sizeof c->encode_why, "%s", gob_encoder_why(g->enc));
        return r;
}

const CodecType codec_gob = {
        .name = "application/gob",
        .option_size = GOB_OPTION_SIZE,
        .object_size = sizeof(GobCodec),
        .init = gob_codec_init,
        .done = gob_codec_done,
        .decode = gob_codec_decode,
        .encode = gob_codec_encode,
        .partial = gob_codec_partial,
};
