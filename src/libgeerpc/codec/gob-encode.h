/* SPDX-License-Identifier: MIT */
#pragma once

/* Writing one direction of a gob stream: jansson values as gob values,
 * each preceded by the definitions of the types this stream has not sent
 * yet (docs/PROTOCOL.md, "The gob codec", for the mapping). */

#include <jansson.h>

#include "codec/gob-types.h"

typedef struct GobEncoder GobEncoder;

int gob_encoder_new(GobEncoder **ret);
GobEncoder *gob_encoder_free(GobEncoder *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(GobEncoder *, gob_encoder_free);

/* Appends a header {ServiceMethod string; Seq uint64; Error string} (as Go
 * GeeRPC's codec.Header), its type's definition first on the first call. */
int gob_encode_header(GobEncoder *e, Buffer *out, const char *service_method, uint64_t seq, const char *error);

/* Appends v (borrowed; NULL or null: an empty struct) with the type the
 * mapping gives it. -EINVAL when v has no gob form (a key that is not an
 * exported Go identifier, a mixed array, ...), -EMSGSIZE past a limit:
 * gob_encoder_why() says which; nothing is appended then, and the stream
 * goes on as if the call had not been made. */
int gob_encode_value(GobEncoder *e, Buffer *out, json_t *v);

/* A GeeRPC message: the header, then the body (gob_encode_value()'s
 * mapping), all or nothing. */
int gob_encode_message(GobEncoder *e, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                       json_t *body);

/* The same, but v is written as type tmpl_id of a decoder's table (e.g.
 * the type it arrived with), for round trips that keep Go's types: maps,
 * uints, []byte, arrays. Every call on one encoder must name the same
 * table. */
int gob_encode_value_as(GobEncoder *e, Buffer *out, json_t *v, const GobTypeTable *tmpl, int64_t tmpl_id);

/* Why the last call failed. */
const char *gob_encoder_why(const GobEncoder *e);

/* For gob-infer.c: a failure with its reason; a type defined by e (or
 * NULL); the struct and slice types (found, or defined and sent to out). */
const GobType *gob_encoder_type(GobEncoder *e, int64_t id);
int gob_encoder_fail(GobEncoder *e, int err, const char *fmt, ...) _printf_(3, 4);
int gob_encoder_intern_struct(GobEncoder *e, Buffer *out, const char *name, const GobField *fields, size_t n,
                              int64_t *ret_id);
int gob_encoder_intern_slice(GobEncoder *e, Buffer *out, int64_t elem, int64_t *ret_id);
