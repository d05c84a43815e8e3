/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading one direction of a gob stream: messages framed by their length,
 * type definitions kept for the life of the stream, values turned into
 * jansson values (docs/PROTOCOL.md, "The gob codec", for the mapping). */

#include <jansson.h>

#include "codec/gob-types.h"
#include "codec/message.h"

typedef struct GobDecoder GobDecoder;

/* max_message bounds one message and the messages of one value together. */
int gob_decoder_new(size_t max_message, GobDecoder **ret);
GobDecoder *gob_decoder_free(GobDecoder *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(GobDecoder *, gob_decoder_free);

/* What one call took from the front of the bytes it was given. */
typedef struct GobDecoded {
        size_t consumed; /* bytes taken: type definitions, and the value if one came */
        size_t need;     /* when 0 was returned: the bytes (from the front, after
                          * consumed ones) before another call can finish */
        json_t *value;   /* a value (new reference), or NULL when error says why not */
        char *error;     /* malloc'd: the value was read but has no JSON form */
        int64_t type_id; /* the value's type, in gob_decoder_types() */
} GobDecoded;

/* Takes type definitions and then one value: 1 with ret filled, 0 when
 * more bytes are needed (ret->consumed and ret->need say how much was
 * taken and is missing), or a negative errno when the stream is unusable:
 * -EBADMSG (malformed) or -EMSGSIZE (past a limit), with
 * gob_decoder_why() saying what. A value without a JSON form (ret->error)
 * does not end the stream. */
int gob_decode_value(GobDecoder *d, const uint8_t *data, size_t n, GobDecoded *ret);

/* The same for a message header: a struct whose fields ServiceMethod
 * (string), Seq (uint) and Error (string) fill ret_header's; other fields
 * are read and dropped. */
int gob_decode_header(GobDecoder *d, const uint8_t *data, size_t n, GobDecoded *ret, Message *ret_header);

/* Why the last call failed. */
const char *gob_decoder_why(const GobDecoder *d);
/* The types defined so far: valid until the next call. */
const GobTypeTable *gob_decoder_types(const GobDecoder *d);
