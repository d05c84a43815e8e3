/* SPDX-License-Identifier: MIT */
#pragma once

/* The codec seam: the server and the client only see this interface, so that
 * a second codec (Go's gob) is one more CodecType and nothing else.
 *
 * A Codec holds the per-connection state of one direction pair: the decoder
 * (which may keep a half-read message between calls) and the encoder. The
 * server and the client keep the two halves on different threads, so a codec
 * must keep decode state and encode state apart: decode() touches only the
 * former, encode() only the latter. */

#include "basic/buffer.h"
#include "codec/message.h"

typedef struct Codec Codec;

typedef struct CodecType {
        const char *name; /* the CodecType of the Option, e.g. "application/json" */
        /* A client pads its Option with spaces to this many bytes (0: no
         * padding), see codec-gob.c for why. */
        size_t option_size;
        size_t object_size;
        int (*init)(Codec *c);
        void (*done)(Codec *c);
        /* Takes one whole message from the front of in (consuming its bytes).
         * Returns 1 with *ret filled, 0 when more bytes are needed, or a
         * negative errno when the stream is unusable (-EBADMSG garbage,
         * -EMSGSIZE over the size bound). A body that was framed correctly
         * but does not decode is not fatal: ret->body_error says why. */
        int (*decode)(Codec *c, Buffer *in, Message *ret);
        /* Appends one message to out. body may be NULL for "{}". On failure
         * nothing is appended; -EINVAL when body has no form in this codec
         * (encode_why says why). */
        int (*encode)(Codec *c, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                      json_t *body);
        /* Whether decode() holds part of a message (beyond what is in the
         * input buffer): a header whose body has not come, say. NULL: never. */
        bool (*partial)(Codec *c);
        /* Bytes a reader skips between messages (JSON: a newline), or
         * NULL. The server sends them to a client that stopped sending
         * while its calls run, to learn whether it is still there to read
         * the answers: a socket closed for good answers them with a reset. */
        const char *probe;
} CodecType;

struct Codec {
        const CodecType *type;
        size_t max_value; /* bound on one decoded value (header or body) */
        /* Why the last decode() or encode() failed, for the log and the
         * caller ("" when the codec has nothing to add). Each belongs to its
         * half. */
        char decode_why[200];
        char encode_why[256];
};

extern const CodecType codec_json;
extern const CodecType codec_gob;

const CodecType *codec_type_find(const char *name);

int codec_new(const CodecType *type, size_t max_value, Codec **ret);
Codec *codec_free(Codec *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Codec *, codec_free);

static inline int codec_decode(Codec *c, Buffer *in, Message *ret) {
        return c->type->decode(c, in, ret);
}
static inline bool codec_partial(Codec *c) {
        return c && c->type->partial && c->type->partial(c);
}
static inline int codec_encode(Codec *c, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                               json_t *body) {
        return c->type->encode(c, out, service_method, seq, error, body);
}
