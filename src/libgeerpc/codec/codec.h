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
        size_t object_size;
        int (*init)(Codec *c);
        void (*done)(Codec *c);
        /* Takes one whole message from the front of in (consuming its bytes).
         * Returns 1 with *ret filled, 0 when more bytes are needed, or a
         * negative errno when the stream is unusable (-EBADMSG garbage,
         * -EMSGSIZE over the size bound). A body that was framed correctly
         * but does not decode is not fatal: ret->body_error says why. */
        int (*decode)(Codec *c, Buffer *in, Message *ret);
        /* Appends one message to out. body may be NULL for "{}". */
        int (*encode)(Codec *c, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                      json_t *body);
        /* Whether decode() holds part of a message (beyond what is in the
         * input buffer): a header whose body has not come, say. NULL: never. */
        bool (*partial)(Codec *c);
} CodecType;

struct Codec {
        const CodecType *type;
        size_t max_value; /* bound on one decoded value (header or body) */
};

extern const CodecType codec_json;

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
