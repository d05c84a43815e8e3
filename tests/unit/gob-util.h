/* SPDX-License-Identifier: MIT */
#pragma once

/* Builders of gob streams by hand, for the gob unit tests. */

#include <criterion/criterion.h>
#include <stdarg.h>

#include "codec/gob-encode.h"
#include "codec/gob-types.h"

static inline GobEncoder *new_encoder(void) {
        GobEncoder *e;
        cr_assert_eq(gob_encoder_new(&e), 0);
        return e;
}

/* A JSON text (NULs allowed) as a jansson value. */
static inline json_t *parse(const char *text) {
        json_error_t err;
        json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        cr_assert_not_null(v, "%s: %s", text, err.text);
        return v;
}

/* A stream under construction: msg is the message being written, out the
 * stream so far. */
typedef struct GobWriter {
        Buffer out, msg;
} GobWriter;

static inline void gw_uint(GobWriter *w, uint64_t v) {
        cr_assert_eq(gob_append_uint(&w->msg, v), 0);
}
static inline void gw_int(GobWriter *w, int64_t v) {
        cr_assert_eq(gob_append_int(&w->msg, v), 0);
}
static inline void gw_str(GobWriter *w, const char *s) {
        cr_assert_eq(gob_append_bytes(&w->msg, s, strlen(s)), 0);
}
static inline void gw_raw(GobWriter *w, const void *p, size_t n) {
        cr_assert_eq(buffer_append(&w->msg, p, n), 0);
}
/* Frames the message written so far. */
static inline void gw_end(GobWriter *w) {
        cr_assert_eq(gob_append_uint(&w->out, buffer_len(&w->msg)), 0);
        cr_assert_eq(buffer_append(&w->out, buffer_data(&w->msg), buffer_len(&w->msg)), 0);
        buffer_clear(&w->msg);
}

/* A type definition message for a struct type: fields as name, int id pairs,
 * ended by NULL. */
static inline void gw_def_struct(GobWriter *w, int64_t id, ...) {
        GobType t = { .id = id, .kind = GOB_STRUCT };
        GobField fields[64];
        va_list ap;
        va_start(ap, id);
        for (const char *name; (name = va_arg(ap, const char *));) {
                cr_assert_lt(t.n_fields, ELEMENTSOF(fields));
                fields[t.n_fields++] = (GobField) { (char *) name, strlen(name), va_arg(ap, int) };
        }
        va_end(ap);
        t.fields = fields;
        cr_assert_eq(gob_type_append(&w->msg, &t), 0);
        gw_end(w);
}

static inline void gw_def(GobWriter *w, GobKind kind, int64_t id, int64_t elem, int64_t key, int64_t len) {
        GobType t = { .id = id, .kind = kind, .elem = elem, .key = key, .len = len };
        cr_assert_eq(gob_type_append(&w->msg, &t), 0);
        gw_end(w);
}

static inline void gw_done(GobWriter *w) {
        buffer_done(&w->out);
        buffer_done(&w->msg);
}

#define GW_DATA(w) ((const uint8_t *) buffer_data(&(w)->out))
#define GW_LEN(w) buffer_len(&(w)->out)

/* The three messages of Go GeeRPC's first call: the header's type, a
 * header {ServiceMethod "Foo.Sum", Seq 1}; then Args{Num1, Num2 int}'s
 * type and Args{3, 4}; then a second call, Seq 2, Args{0, 5}. Written by
 * Go 1.19's encoding/gob. */
static const char go_call[] =
        "\x38\xff\x81\x03\x01\x01\x06\x48\x65\x61\x64\x65\x72\x01\xff\x82\x00\x01\x03\x01\x0d\x53\x65\x72"
        "\x76\x69\x63\x65\x4d\x65\x74\x68\x6f\x64\x01\x0c\x00\x01\x03\x53\x65\x71\x01\x06\x00\x01\x05\x45"
        "\x72\x72\x6f\x72\x01\x0c\x00\x00\x00\x0e\xff\x82\x01\x07\x46\x6f\x6f\x2e\x53\x75\x6d\x01\x01\x00"
        "\x24\xff\x83\x03\x01\x01\x04\x41\x72\x67\x73\x01\xff\x84\x00\x01\x02\x01\x04\x4e\x75\x6d\x31\x01"
        "\x04\x00\x01\x04\x4e\x75\x6d\x32\x01\x04\x00\x00\x00\x07\xff\x84\x01\x06\x01\x08\x00\x0e\xff\x82"
        "\x01\x07\x46\x6f\x6f\x2e\x53\x75\x6d\x01\x02\x00\x05\xff\x84\x02\x0a\x00";
