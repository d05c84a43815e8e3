/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec/gob-encode.h"
#include "codec/gob-infer.h"

/* A value is written in two steps: its type is found (inferred from the
 * JSON value, or imported from a decoder's table), sending the
 * definitions of the types this stream has not defined yet; then the value
 * is written as that type. Types are interned by their structure (a text
 * key), so equal shapes share one definition. A failed call takes back
 * everything it appended and every type it defined. */

struct GobEncoder {
        GobTypeTable types; /* ours, by key; the id of types[i] is GOB_ID_FIRST_USER + i */
        int64_t header_id;  /* 0 until the header's type is sent */
        int64_t flat_hint;  /* gob_infer()'s */
        const GobTypeTable *tmpl;
        Buffer msg; /* the message being written */
        Buffer key;
        char why[256];
};

int gob_encoder_new(GobEncoder **ret) {
        GobEncoder *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        *ret = e;
        return 0;
}

GobEncoder *gob_encoder_free(GobEncoder *e) {
        if (!e)
                return NULL;
        gob_table_done(&e->types);
        buffer_done(&e->msg);
        buffer_done(&e->key);
        free(e);
        return NULL;
}

const char *gob_encoder_why(const GobEncoder *e) {
        return e->why;
}

int gob_encoder_fail(GobEncoder *e, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int k = snprintf(e->why, sizeof e->why, "gob: ");
        vsnprintf(e->why + k, sizeof e->why - (size_t) k, fmt, ap);
        va_end(ap);
        return err;
}

static const char *json_kind(json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a real number";
        case JSON_NULL:
                return "null";
        default:
                return "a boolean";
        }
}

/* ---- the interned types ----------------------------------------------------- */

/* Whether the type keyed by e->key is defined; its id then. */
static bool key_found(GobEncoder *e, int64_t *ret_id) {
        const GobType *t = gob_table_find_key(&e->types, buffer_data(&e->key), buffer_len(&e->key));
        if (t)
                *ret_id = t->id;
        return t;
}

const GobType *gob_encoder_type(GobEncoder *e, int64_t id) {
        return gob_table_find(&e->types, id);
}

static int64_t next_id(GobEncoder *e) {
        return GOB_ID_FIRST_USER + (int64_t) e->types.n;
}

/* Frames msg as one message at the end of out and empties msg. */
static int frame(Buffer *out, Buffer *msg) {
        size_t n = buffer_len(msg);
        int r = buffer_reserve(out, GOB_UINT_MAX_LEN + n);
        if (r >= 0) {
                uint8_t *w = (uint8_t *) buffer_tail(out);
                size_t k = gob_put_uint(w, n);
                memcpy(w + k, buffer_data(msg), n);
                buffer_advance_end(out, k + n);
        }
        buffer_clear(msg);
        return r;
}

/* Gives t (taken) the next id and the key built in e->key, and sends its
 * definition. */
static int define(GobEncoder *e, Buffer *out, GobType *t, int64_t *ret_id) {
        _cleanup_(gob_type_freep) GobType *owned = t;
        if (e->types.n >= GOB_MAX_TYPES)
                return gob_encoder_fail(e, -EMSGSIZE, "more than %u types sent on this connection", GOB_MAX_TYPES);
        t->id = next_id(e);
        t->key_len = buffer_len(&e->key);
        t->key_text = gob_memdup(buffer_data(&e->key), t->key_len);
        if (!t->key_text)
                return -ENOMEM;
        int r = gob_type_append(&e->msg, t);
        if (r < 0 || (r = frame(out, &e->msg)) < 0 || (r = gob_table_add(&e->types, t)) < 0)
                return r;
        TAKE_PTR(owned);
        *ret_id = t->id;
        return 0;
}

static int key_begin(GobEncoder *e, const char *prefix) {
        buffer_clear(&e->key);
        return buffer_append(&e->key, prefix, strlen(prefix));
}

/* A number and a separator: keys are built on every value's path, so
 * without printf. */
static int key_number(GobEncoder *e, int64_t v, char sep) {
        char buf[24], *p = buf + sizeof buf;
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;
        *--p = sep;
        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                *--p = '-';
        return buffer_append(&e->key, p, (size_t) (buf + sizeof buf - p));
}

/* A new type of this kind: a struct with these fields (copied). */
static GobType *new_type(GobKind kind, const char *name, const GobField *fields, size_t n) {
        _cleanup_(gob_type_freep) GobType *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->kind = kind;
        if (name && !(t->name = strdup(name)))
                return NULL;
        if (kind != GOB_STRUCT)
                return TAKE_PTR(t);
        if (!(t->fields = calloc(MAX(n, (size_t) 1), sizeof(GobField))))
                return NULL;
        for (; t->n_fields < n; t->n_fields++) {
                GobField *f = &t->fields[t->n_fields];
                *f = (GobField) { gob_memdup(fields[t->n_fields].name, fields[t->n_fields].name_len),
                                  fields[t->n_fields].name_len, fields[t->n_fields].id };
                if (!f->name)
                        return NULL;
        }
        return TAKE_PTR(t);
}

/* A struct type with these fields, found or defined. */
int gob_encoder_intern_struct(GobEncoder *e, Buffer *out, const char *name, const GobField *fields, size_t n,
                              int64_t *ret_id) {
        int r = key_begin(e, name ? name : "{");
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = key_number(e, (int64_t) fields[i].name_len, '"');
                if (r >= 0)
                        r = buffer_append(&e->key, fields[i].name, fields[i].name_len);
                if (r >= 0)
                        r = key_number(e, fields[i].id, ';');
        }
        if (r < 0 || key_found(e, ret_id))
                return r;
        GobType *t = new_type(GOB_STRUCT, name, fields, n);
        return t ? define(e, out, t, ret_id) : -ENOMEM;
}

int gob_encoder_intern_slice(GobEncoder *e, Buffer *out, int64_t elem, int64_t *ret_id) {
        int r = key_begin(e, "[]");
        if (r < 0 || (r = key_number(e, elem, ';')) < 0 || key_found(e, ret_id))
                return r;
        GobType *t = new_type(GOB_SLICE, NULL, NULL, 0);
        if (!t)
                return -ENOMEM;
        t->elem = elem;
        return define(e, out, t, ret_id);
}

/* ---- importing a decoder's type ---------------------------------------------- */

static int tmpl_key(GobEncoder *e, int64_t src) {
        int r = key_begin(e, "T");
        return r < 0 ? r : key_number(e, src, ';');
}

/* Our id for the decoder's type src: predefined ids are everyone's;
 * imported ones are found by their key; pending ones get the ids they
 * will be defined with. */
static int64_t tmpl_translate(GobEncoder *e, int64_t src, const int64_t *pending, size_t n_pending) {
        if (gob_builtin_type(src))
                return src;
        for (size_t i = 0; i < n_pending; i++)
                if (pending[i] == src)
                        return next_id(e) + (int64_t) i;
        int64_t id;
        return tmpl_key(e, src) >= 0 && key_found(e, &id) ? id : 0;
}

/* Collects the types reachable from src that are not imported yet. */
static int tmpl_collect(GobEncoder *e, int64_t src, int64_t **pending, size_t *n) {
        if (tmpl_translate(e, src, *pending, *n) > 0)
                return 0;
        const GobType *t = gob_table_find(e->tmpl, src);
        if (!t)
                return gob_encoder_fail(e, -EINVAL, "type %" PRId64 " is not in the template table", src);
        if (*n + e->types.n >= GOB_MAX_TYPES)
                return gob_encoder_fail(e, -EMSGSIZE, "more than %u types sent on this connection", GOB_MAX_TYPES);
        int64_t *p = reallocarray(*pending, *n + 1, sizeof(int64_t));
        if (!p)
                return -ENOMEM;
        *pending = p;
        p[(*n)++] = src;
        int r = 0;
        if (t->elem)
                r = tmpl_collect(e, t->elem, pending, n);
        if (r >= 0 && t->key)
                r = tmpl_collect(e, t->key, pending, n);
        for (size_t i = 0; i < t->n_fields && r >= 0; i++)
                r = tmpl_collect(e, t->fields[i].id, pending, n);
        return r;
}

static int tmpl_import(GobEncoder *e, Buffer *out, int64_t src, int64_t *ret_id) {
        _cleanup_free_ int64_t *pending = NULL;
        size_t n = 0;
        int r = tmpl_collect(e, src, &pending, &n);
        if (r < 0)
                return r;
        /* Defined in the order collected, so each gets the id promised. */
        for (size_t i = 0; i < n; i++) {
                const GobType *t = gob_table_find(e->tmpl, pending[i]);
                GobType *c = new_type(t->kind, t->name, t->fields, t->n_fields);
                if (!c)
                        return -ENOMEM;
                c->len = t->len;
                c->elem = t->elem ? tmpl_translate(e, t->elem, pending + i, n - i) : 0;
                c->key = t->key ? tmpl_translate(e, t->key, pending + i, n - i) : 0;
                for (size_t k = 0; k < c->n_fields; k++)
                        c->fields[k].id = tmpl_translate(e, c->fields[k].id, pending + i, n - i);
                int64_t id;
                if ((r = tmpl_key(e, pending[i])) < 0 || (r = define(e, out, c, &id)) < 0)
                        return r;
        }
        *ret_id = tmpl_translate(e, src, NULL, 0);
        return 0;
}

/* ---- writing values ------------------------------------------------------------ */

static int write_value(GobEncoder *e, Buffer *b, int64_t id, json_t *v);

static int mismatch(GobEncoder *e, json_t *v, const GobType *t) {
        return gob_encoder_fail(e, -EINVAL, "%s cannot be sent as a gob %s", json_kind(v), gob_kind_name(t->kind));
}

/* Whether a struct field is left out: gob sends no zero values; empty
 * maps are the exception (Go sends them). */
static bool left_out(const GobType *t, json_t *v) {
        if (!v || json_is_null(v))
                return true;
        switch (t->kind) {
        case GOB_BOOL:
                return json_is_false(v);
        case GOB_INT:
        case GOB_UINT:
                return json_is_integer(v) && json_integer_value(v) == 0;
        case GOB_FLOAT:
                return json_is_number(v) && json_number_value(v) == 0.0;
        case GOB_SLICE:
                return json_is_array(v) && json_array_size(v) == 0;
        default:
                return gob_kind_is_bytes(t->kind) && json_is_string(v) && json_string_length(v) == 0;
        }
}

static int write_struct(GobEncoder *e, Buffer *b, const GobType *t, json_t *v) {
        if (!json_is_object(v))
                return mismatch(e, v, t);
        int64_t last = -1;
        for (size_t i = 0; i < t->n_fields; i++) {
                json_t *f = json_object_getn(v, t->fields[i].name, t->fields[i].name_len);
                const GobType *ft = gob_encoder_type(e, t->fields[i].id);
                if (left_out(ft, f))
                        continue;
                int r = gob_append_uint(b, (uint64_t) ((int64_t) i - last));
                if (r < 0 || (r = write_value(e, b, ft->id, f)) < 0)
                        return r;
                last = (int64_t) i;
        }
        return gob_append_uint(b, 0);
}

static int write_list(GobEncoder *e, Buffer *b, const GobType *t, json_t *v) {
        if (!json_is_array(v))
                return mismatch(e, v, t);
        size_t n = json_array_size(v), i;
        if (t->kind == GOB_ARRAY && n != (size_t) t->len)
                return gob_encoder_fail(e, -EINVAL, "an array of %zu elements cannot be sent as a Go array of %" PRId64, n, t->len);
        json_t *x;
        int r = gob_append_uint(b, n);
        json_array_foreach(v, i, x) {
                if (r < 0 || (r = write_value(e, b, t->elem, x)) < 0)
                        return r;
        }
        return r;
}

static int write_key(GobEncoder *e, Buffer *b, const GobType *kt, const char *key, size_t len) {
        if (gob_kind_is_bytes(kt->kind))
                return gob_append_bytes(b, key, len);
        char buf[32], *end;
        if ((kt->kind == GOB_INT || kt->kind == GOB_UINT) && len > 0 && len < sizeof buf) {
                memcpy(buf, key, len);
                buf[len] = 0;
                errno = 0;
                if (kt->kind == GOB_INT) {
                        long long x = strtoll(buf, &end, 10);
                        if (errno == 0 && *end == 0)
                                return gob_append_int(b, x);
                } else if (buf[0] != '-') {
                        unsigned long long x = strtoull(buf, &end, 10);
                        if (errno == 0 && *end == 0)
                                return gob_append_uint(b, x);
                }
        }
        return gob_encoder_fail(e, -EINVAL, "key \"%.*s\" cannot be sent as a gob map key of type %s", (int) MIN(len, (size_t) 64),
                    key, gob_kind_name(kt->kind));
}

static int write_map(GobEncoder *e, Buffer *b, const GobType *t, json_t *v) {
        if (!json_is_object(v))
                return mismatch(e, v, t);
        const GobType *kt = gob_encoder_type(e, t->key);
        const char *key;
        size_t len;
        json_t *x;
        int r = gob_append_uint(b, json_object_size(v));
        json_object_keylen_foreach(v, key, len, x) {
                if (r < 0 || (r = write_key(e, b, kt, key, len)) < 0 || (r = write_value(e, b, t->elem, x)) < 0)
                        return r;
        }
        return r;
}

static int write_value(GobEncoder *e, Buffer *b, int64_t id, json_t *v) {
        const GobType *t = gob_encoder_type(e, id);
        switch (t->kind) {
        case GOB_BOOL:
                return json_is_boolean(v) ? gob_append_uint(b, json_is_true(v)) : mismatch(e, v, t);
        case GOB_INT:
                return json_is_integer(v) ? gob_append_int(b, json_integer_value(v)) : mismatch(e, v, t);
        case GOB_UINT:
                return json_is_integer(v) && json_integer_value(v) >= 0
                               ? gob_append_uint(b, (uint64_t) json_integer_value(v))
                               : mismatch(e, v, t);
        case GOB_FLOAT:
                return json_is_number(v) ? gob_append_float(b, json_number_value(v)) : mismatch(e, v, t);
        case GOB_COMPLEX:
                return gob_encoder_fail(e, -EINVAL, "complex numbers cannot be sent from JSON");
        case GOB_INTERFACE:
                if (json_is_null(v))
                        return gob_append_uint(b, 0); /* a nil interface */
                return gob_encoder_fail(e, -EINVAL, "interface values cannot be sent (%s for an interface{})", json_kind(v));
        case GOB_STRUCT:
                return write_struct(e, b, t, v);
        case GOB_ARRAY:
        case GOB_SLICE:
                return write_list(e, b, t, v);
        case GOB_MAP:
                return write_map(e, b, t, v);
        default:
                if (!json_is_string(v))
                        return mismatch(e, v, t);
                return gob_append_bytes(b, json_string_value(v), json_string_length(v));
        }
}

/* ---- messages ---------------------------------------------------------------- */

/* Where a call started, to take everything back if it fails. */
typedef struct Mark {
        size_t out_len;
        size_t n_types;
} Mark;

static Mark mark(GobEncoder *e, Buffer *out) {
        e->why[0] = 0;
        return (Mark) { buffer_len(out), e->types.n };
}

static int rollback(GobEncoder *e, Buffer *out, Mark m, int r) {
        out->end = out->start + m.out_len;
        buffer_clear(&e->msg);
        gob_table_truncate(&e->types, m.n_types);
        if (e->header_id >= next_id(e))
                e->header_id = 0;
        return r;
}

/* The value message: its id, then a struct as it is or anything else as a
 * struct of one field (a zero delta in front). */
static int write_message(GobEncoder *e, Buffer *out, int64_t id, json_t *v) {
        Buffer *b = &e->msg;
        int r = gob_append_int(b, id);
        if (r < 0)
                return r;
        const GobType *t = gob_encoder_type(e, id);
        if (!v)
                v = json_null();
        if (t->kind == GOB_STRUCT)
                /* null: every field left out */
                r = json_is_null(v) ? gob_append_uint(b, 0) : write_struct(e, b, t, v);
        else if ((r = gob_append_uint(b, 0)) >= 0)
                r = write_value(e, b, id, v);
        return r < 0 ? r : frame(out, b);
}

static int header_message(GobEncoder *e, Buffer *out, const char *service_method, uint64_t seq, const char *error) {
        int r = 0;
        if (e->header_id == 0) {
                static const GobField fields[] = {
                        { (char *) "ServiceMethod", 13, GOB_ID_STRING },
                        { (char *) "Seq", 3, GOB_ID_UINT },
                        { (char *) "Error", 5, GOB_ID_STRING },
                };
                r = gob_encoder_intern_struct(e, out, "Header", fields, ELEMENTSOF(fields), &e->header_id);
        }
        /* Written by hand: it is on every call's path. Zero fields are left
         * out, so the deltas depend on which fields are there. */
        Buffer *b = &e->msg;
        size_t sm = strlen(strempty(service_method)), el = strlen(strempty(error));
        if (r < 0 || (r = buffer_reserve(b, 5 * GOB_UINT_MAX_LEN + sm + el + 1)) < 0)
                return r;
        uint8_t *w0 = (uint8_t *) buffer_tail(b), *w = w0;
        w += gob_put_uint(w, gob_int_to_uint(e->header_id));
        if (sm > 0) {
                *w++ = 1;
                w += gob_put_uint(w, sm);
                w = mempcpy(w, service_method, sm);
        }
        if (seq != 0) {
                *w++ = sm > 0 ? 1 : 2;
                w += gob_put_uint(w, seq);
        }
        if (el > 0) {
                *w++ = seq != 0 ? 1 : sm > 0 ? 2 : 3;
                w += gob_put_uint(w, el);
                w = mempcpy(w, error, el);
        }
        *w++ = 0;
        buffer_advance_end(b, (size_t) (w - w0));
        return frame(out, b);
}

static int value_message(GobEncoder *e, Buffer *out, json_t *v) {
        int64_t id;
        int r;
        if (!v || json_is_null(v)) {
                /* What Go GeeRPC sends where there is no body: struct{}{}. */
                r = gob_encoder_intern_struct(e, out, NULL, NULL, 0, &id);
                v = NULL;
        } else
                r = gob_infer(e, out, v, &e->flat_hint, &id);
        return r < 0 ? r : write_message(e, out, id, v);
}

int gob_encode_header(GobEncoder *e, Buffer *out, const char *service_method, uint64_t seq, const char *error) {
        Mark m = mark(e, out);
        int r = header_message(e, out, service_method, seq, error);
        return r < 0 ? rollback(e, out, m, r) : 0;
}

int gob_encode_value(GobEncoder *e, Buffer *out, json_t *v) {
        Mark m = mark(e, out);
        int r = value_message(e, out, v);
        return r < 0 ? rollback(e, out, m, r) : 0;
}

int gob_encode_message(GobEncoder *e, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                       json_t *body) {
        Mark m = mark(e, out);
        int r = header_message(e, out, service_method, seq, error);
        if (r >= 0)
                r = value_message(e, out, body);
        return r < 0 ? rollback(e, out, m, r) : 0;
}

int gob_encode_value_as(GobEncoder *e, Buffer *out, json_t *v, const GobTypeTable *tmpl, int64_t tmpl_id) {
        if (e->tmpl && e->tmpl != tmpl)
                return -EINVAL;
        e->tmpl = tmpl;
        Mark m = mark(e, out);
        int64_t id;
        int r = tmpl_import(e, out, tmpl_id, &id);
        if (r >= 0)
                r = write_message(e, out, id, v);
        return r < 0 ? rollback(e, out, m, r) : 0;
}
