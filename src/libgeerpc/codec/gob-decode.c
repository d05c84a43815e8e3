/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec/gob-decode.h"

/* A gob stream is a sequence of messages, each its length and then either a
 * type definition (-id, wireType) or a value (id, the value). Go's encoder
 * writes the definition of an interface value's concrete type where the
 * value is, and may end the message right after it: the value then goes on
 * in the next message. So a value is read from its first message onwards,
 * taking the next message whenever an interface's type sequence needs one;
 * when that message has not all arrived, the value is read again from the
 * start once it has (gob_decode_value() returns 0), and the type
 * definitions met on the way are forgotten meanwhile. */

struct GobDecoder {
        GobTypeTable types;
        size_t max_message;
        char why[200];
};

int gob_decoder_new(size_t max_message, GobDecoder **ret) {
        GobDecoder *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->max_message = max_message;
        *ret = d;
        return 0;
}

GobDecoder *gob_decoder_free(GobDecoder *d) {
        if (!d)
                return NULL;
        gob_table_done(&d->types);
        free(d);
        return NULL;
}

const char *gob_decoder_why(const GobDecoder *d) {
        return d->why;
}

const GobTypeTable *gob_decoder_types(const GobDecoder *d) {
        return &d->types;
}

typedef struct Reader {
        GobDecoder *d;
        GobCursor c;         /* the message being read */
        const uint8_t *base; /* the front of the bytes given */
        const uint8_t *next; /* the first byte after the current message */
        const uint8_t *end;  /* the end of the bytes given */
        size_t span;         /* bytes of the current value's messages */
        unsigned n_messages; /* messages the current value spans */
        unsigned depth;
        size_t n_values; /* JSON values made */
        size_t need;     /* with -EAGAIN: bytes needed, counted from base */
        char *soft;      /* the first part of the value that has no JSON form */
} Reader;

static int bad(Reader *r, int err, const char *fmt, ...) _printf_(3, 4);
static int bad(Reader *r, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int k = snprintf(r->d->why, sizeof r->d->why, "gob: ");
        vsnprintf(r->d->why + k, sizeof r->d->why - (size_t) k, fmt, ap);
        va_end(ap);
        return err;
}

/* Part of the value has no JSON form: it stands as null, reading goes on
 * (the stream stays in step), and the value is refused at the end. */
static int soft(Reader *r, json_t **ret, const char *fmt, ...) _printf_(3, 4);
static int soft(Reader *r, json_t **ret, const char *fmt, ...) {
        if (!r->soft) {
                va_list ap;
                va_start(ap, fmt);
                int k = vasprintf(&r->soft, fmt, ap);
                va_end(ap);
                if (k < 0) {
                        r->soft = NULL;
                        return -ENOMEM;
                }
        }
        *ret = json_null();
        return 0;
}

static int new_value(Reader *r, json_t *v, json_t **ret) {
        if (!v)
                return -ENOMEM;
        if (++r->n_values > GOB_MAX_VALUES) {
                json_decref(v);
                return bad(r, -EMSGSIZE, "value makes more than %u JSON values", GOB_MAX_VALUES);
        }
        *ret = v;
        return 0;
}

static int cut_short(Reader *r) {
        return bad(r, -EBADMSG, "value runs past the end of its message");
}

static int get_uint(Reader *r, uint64_t *ret) {
        return gob_read_uint(&r->c, ret) < 0 ? cut_short(r) : 0;
}

static int get_int(Reader *r, int64_t *ret) {
        return gob_read_int(&r->c, ret) < 0 ? cut_short(r) : 0;
}

static int get_bytes(Reader *r, const uint8_t **ret, size_t *ret_len) {
        return gob_read_bytes(&r->c, ret, ret_len) < 0 ? cut_short(r) : 0;
}

static const GobType *find_type(Reader *r, int64_t id) {
        const GobType *t = gob_table_find(&r->d->types, id);
        if (!t)
                bad(r, -EBADMSG, "unknown type id %" PRId64, id);
        return t;
}

static int enter(Reader *r) {
        if (++r->depth > GOB_MAX_DEPTH)
                return bad(r, -EMSGSIZE, "value nested deeper than %u", GOB_MAX_DEPTH);
        return 0;
}

/* Leaves a struct, list or map with its outcome k: v is handed over, or
 * dropped on failure. */
static int leave(Reader *r, int k, json_t *v, json_t **ret) {
        if (k < 0) {
                json_decref(v);
                return k;
        }
        r->depth--;
        *ret = v;
        return 0;
}

static int set_member(json_t *o, const char *key, size_t len, json_t *v) {
        return json_object_setn_new_nocheck(o, key, len, v) < 0 ? -ENOMEM : 0;
}

/* ---- framing and type definitions ------------------------------------------ */

static int need(Reader *r, size_t offset) {
        r->need = offset;
        return -EAGAIN;
}

/* Makes the message at r->next the current one. -EAGAIN (r->need set)
 * when it has not all arrived. */
static int frame(Reader *r) {
        GobCursor c = { r->next, r->end };
        size_t at = (size_t) (r->next - r->base);
        uint64_t len;

        if (c.p >= c.end)
                return need(r, at + 1);
        if (gob_read_uint(&c, &len) < 0) {
                unsigned count = 256U - *c.p;
                if (*c.p < 0x80 || count > 8)
                        return bad(r, -EBADMSG, "message length with an impossible byte count");
                return need(r, at + 1 + count);
        }
        if (len == 0)
                return bad(r, -EBADMSG, "empty message");
        if (len > r->d->max_message || r->span + len > r->d->max_message)
                return bad(r, -EMSGSIZE, "message of %" PRIu64 " bytes, more than the limit of %zu", r->span + len,
                           r->d->max_message);
        size_t body = (size_t) (c.p - r->base);
        if (len > gob_cursor_left(&c))
                return need(r, body + (size_t) len);
        if (++r->n_messages > GOB_MAX_VALUE_MESSAGES)
                return bad(r, -EMSGSIZE, "value spans more than %u messages", GOB_MAX_VALUE_MESSAGES);
        r->span += len;
        r->c = (GobCursor) { c.p, c.p + len };
        r->next = r->c.end;
        return 0;
}

/* Defines type id from the wireType at the cursor. */
static int define_type(Reader *r, int64_t id) {
        if (id < 64)
                return bad(r, -EBADMSG, "type id %" PRId64 " is predefined", id);
        if (gob_table_find(&r->d->types, id))
                return bad(r, -EBADMSG, "type %" PRId64 " defined twice", id);
        if (r->d->types.n >= GOB_MAX_TYPES)
                return bad(r, -EMSGSIZE, "more than %u types defined", GOB_MAX_TYPES);

        GobType *t;
        const char *why = NULL;
        int k = gob_type_parse(&r->c, id, &t, &why);
        if (k < 0)
                return why ? bad(r, k, "type %" PRId64 ": %s", id, why) : k;
        k = gob_table_add(&r->d->types, t);
        if (k < 0)
                gob_type_free(t);
        return k;
}

/* A negative type id in front of a wireType. */
static int definition_id(Reader *r, int64_t id, int64_t *ret) {
        if (id == INT64_MIN)
                return bad(r, -EBADMSG, "type id out of range");
        *ret = -id;
        return 0;
}

/* ---- values ---------------------------------------------------------------- */

static int read_value(Reader *r, int64_t id, json_t **ret);

/* What a field that gob left out holds: the zero value of its type. Only
 * nil pointers can be left out of struct and array fields (Go sends zero
 * structs and arrays), and a nil map is left out where an empty one is
 * sent, so those become null; a slice left out was nil or empty: []. */
static int zero_value(Reader *r, int64_t id, json_t **ret) {
        const GobType *t = find_type(r, id);
        if (!t)
                return -EBADMSG;
        switch (t->kind) {
        case GOB_BOOL:
                return new_value(r, json_false(), ret);
        case GOB_INT:
        case GOB_UINT:
                return new_value(r, json_integer(0), ret);
        case GOB_FLOAT:
                return new_value(r, json_real(0.0), ret);
        case GOB_COMPLEX:
                return soft(r, ret, "gob: complex numbers have no JSON form");
        case GOB_SLICE:
                return new_value(r, json_array(), ret);
        default:
                if (gob_kind_is_bytes(t->kind))
                        return new_value(r, json_string(""), ret);
                return new_value(r, json_null(), ret);
        }
}

/* Steps to the next field of a struct of type t: 1 with *field set, 0 at
 * the struct's end. */
static int next_field(Reader *r, const GobType *t, int64_t *field) {
        uint64_t delta;
        int k = get_uint(r, &delta);
        if (k < 0 || delta == 0)
                return k;
        if (delta > (uint64_t) ((int64_t) t->n_fields - 1 - *field))
                return bad(r, -EBADMSG, "field number out of range for struct type %" PRId64, t->id);
        *field += (int64_t) delta;
        return 1;
}

typedef struct FieldValues {
        json_t *small[16];
        json_t **v;
        size_t n;
} FieldValues;

static void field_values_done(FieldValues *f) {
        for (size_t i = 0; f->v && i < f->n; i++)
                if (f->v[i])
                        json_decref(f->v[i]);
        if (f->v != f->small)
                free(f->v);
}

static int read_struct(Reader *r, const GobType *t, json_t **ret) {
        _cleanup_(field_values_done) FieldValues f = { .n = t->n_fields };
        int k = enter(r);
        if (k < 0)
                return k;
        f.v = f.n <= ELEMENTSOF(f.small) ? f.small : calloc(f.n, sizeof(json_t *));
        if (!f.v)
                return -ENOMEM;

        int64_t field = -1;
        while ((k = next_field(r, t, &field)) > 0)
                if ((k = read_value(r, t->fields[field].id, &f.v[field])) < 0)
                        return k;
        if (k < 0)
                return k;

        json_t *o;
        if ((k = new_value(r, json_object(), &o)) < 0)
                return k;
        for (size_t i = 0; i < f.n && k >= 0; i++) {
                json_t *v = TAKE_PTR(f.v[i]);
                if (v || (k = zero_value(r, t->fields[i].id, &v)) >= 0)
                        k = set_member(o, t->fields[i].name, t->fields[i].name_len, v);
        }
        return leave(r, k, o, ret);
}

/* Enters a slice, array or map: its count, within the limit. */
static int read_count(Reader *r, const GobType *t, uint64_t *ret) {
        int k = enter(r);
        if (k < 0 || (k = get_uint(r, ret)) < 0)
                return k;
        if (*ret > GOB_MAX_ELEMENTS)
                return bad(r, -EMSGSIZE, "%s of %" PRIu64 " elements, more than the limit of %u", gob_kind_name(t->kind),
                           *ret, GOB_MAX_ELEMENTS);
        return 0;
}

/* Slices and arrays: a count, then every element. */
static int read_list(Reader *r, const GobType *t, json_t **ret) {
        uint64_t n;
        int k = read_count(r, t, &n);
        if (k < 0)
                return k;
        if (t->kind == GOB_ARRAY && n != (uint64_t) t->len)
                return bad(r, -EBADMSG, "array of %" PRId64 " elements sent with %" PRIu64, t->len, n);

        json_t *a;
        if ((k = new_value(r, json_array(), &a)) < 0)
                return k;
        for (uint64_t i = 0; i < n && k >= 0; i++) {
                json_t *v;
                if ((k = read_value(r, t->elem, &v)) >= 0)
                        k = json_array_append_new(a, v) < 0 ? -ENOMEM : 0;
        }
        return leave(r, k, a, ret);
}

/* A map key as a JSON object key: strings as they are, integers in
 * decimal (as Go's encoding/json writes them). *ret_key is NULL when the
 * key type has no JSON form. */
static int read_key(Reader *r, const GobType *kt, char buf[static 32], const char **ret_key, size_t *ret_len) {
        int k;
        *ret_key = NULL;
        if (gob_kind_is_bytes(kt->kind))
                return get_bytes(r, (const uint8_t **) ret_key, ret_len);
        if (kt->kind == GOB_INT || kt->kind == GOB_UINT) {
                uint64_t u;
                if ((k = get_uint(r, &u)) < 0)
                        return k;
                int l = kt->kind == GOB_INT ? snprintf(buf, 32, "%" PRId64, gob_uint_to_int(u))
                                            : snprintf(buf, 32, "%" PRIu64, u);
                *ret_key = buf;
                *ret_len = (size_t) l;
                return 0;
        }
        json_t *v;
        if ((k = read_value(r, kt->id, &v)) < 0)
                return k;
        json_decref(v);
        return soft(r, &v, "gob: map keys of type %s have no JSON form", gob_kind_name(kt->kind));
}

static int read_map(Reader *r, const GobType *t, json_t **ret) {
        uint64_t n;
        int k = read_count(r, t, &n);
        if (k < 0)
                return k;
        const GobType *kt = find_type(r, t->key);
        if (!kt)
                return -EBADMSG;

        json_t *o;
        if ((k = new_value(r, json_object(), &o)) < 0)
                return k;
        for (uint64_t i = 0; i < n && k >= 0; i++) {
                char buf[32];
                const char *key;
                size_t len = 0;
                json_t *v = NULL;
                if ((k = read_key(r, kt, buf, &key, &len)) < 0 || (k = read_value(r, t->elem, &v)) < 0)
                        break;
                if (key)
                        k = set_member(o, key, len, v);
                else
                        json_decref(v);
        }
        return leave(r, k, o, ret);
}

static int read_top(Reader *r, int64_t id, json_t **ret);

/* The concrete type's name (empty: nil), the type sequence (definitions
 * of types not yet sent, then the id), a byte count, and the value as if
 * it were sent on its own. */
static int read_interface(Reader *r, json_t **ret) {
        const uint8_t *name;
        size_t len;
        int64_t id;
        int k = enter(r);
        if (k < 0 || (k = get_bytes(r, &name, &len)) < 0)
                return k;
        if (len == 0) {
                r->depth--;
                return new_value(r, json_null(), ret);
        }
        for (;;) {
                if (r->c.p == r->c.end && (k = frame(r)) < 0)
                        return k;
                if ((k = get_int(r, &id)) < 0)
                        return k;
                if (id >= 0)
                        break;
                if ((k = definition_id(r, id, &id)) < 0 || (k = define_type(r, id)) < 0)
                        return k;
                /* Within a message, what follows a definition is counted
                 * as a message of its own would be. */
                uint64_t ignored;
                if (r->c.p < r->c.end && (k = get_uint(r, &ignored)) < 0)
                        return k;
        }
        if (id == 0)
                return bad(r, -EBADMSG, "interface value of type id 0");
        uint64_t count; /* lets a reader skip a value it cannot store */
        if ((k = get_uint(r, &count)) < 0 || (k = read_top(r, id, ret)) < 0)
                return k;
        r->depth--;
        return 0;
}

static int read_value(Reader *r, int64_t id, json_t **ret) {
        const GobType *t = find_type(r, id);
        uint64_t u;
        double d;
        const uint8_t *p;
        size_t n;
        int k;

        if (!t)
                return -EBADMSG;
        switch (t->kind) {
        case GOB_BOOL:
                return (k = get_uint(r, &u)) < 0 ? k : new_value(r, json_boolean(u != 0), ret);
        case GOB_INT:
                return (k = get_uint(r, &u)) < 0 ? k : new_value(r, json_integer(gob_uint_to_int(u)), ret);
        case GOB_UINT:
                if ((k = get_uint(r, &u)) < 0)
                        return k;
                if (u > (uint64_t) INT64_MAX)
                        return soft(r, ret, "gob: uint %" PRIu64 " is beyond the range of a JSON integer", u);
                return new_value(r, json_integer((json_int_t) u), ret);
        case GOB_FLOAT:
                if ((k = get_uint(r, &u)) < 0)
                        return k;
                d = gob_uint_to_float(u);
                if (!isfinite(d))
                        return soft(r, ret, "gob: float %g has no JSON form", d);
                return new_value(r, json_real(d), ret);
        case GOB_COMPLEX:
                if ((k = get_uint(r, &u)) < 0 || (k = get_uint(r, &u)) < 0)
                        return k;
                return soft(r, ret, "gob: complex numbers have no JSON form");
        case GOB_INTERFACE:
                return read_interface(r, ret);
        case GOB_STRUCT:
                return read_struct(r, t, ret);
        case GOB_ARRAY:
        case GOB_SLICE:
                return read_list(r, t, ret);
        case GOB_MAP:
                return read_map(r, t, ret);
        default:
                /* Strings and byte strings are carried byte for byte. */
                if ((k = get_bytes(r, &p, &n)) < 0)
                        return k;
                return new_value(r, json_stringn_nocheck((const char *) p, n), ret);
        }
}

/* A value as Encode() sends it: a struct as it is, anything else as a
 * struct of one field (a zero field delta in front). */
static int read_top(Reader *r, int64_t id, json_t **ret) {
        const GobType *t = find_type(r, id);
        if (!t)
                return -EBADMSG;
        if (t->kind == GOB_STRUCT)
                return read_struct(r, t, ret);
        uint64_t delta;
        int k = get_uint(r, &delta);
        if (k < 0)
                return k;
        if (delta != 0)
                return bad(r, -EBADMSG, "value of type %" PRId64 " without its zero field delta", id);
        return read_value(r, id, ret);
}

/* ---- one value from the stream ---------------------------------------------- */

/* Takes type definition messages from the front until a value message
 * begins: 1 with the cursor after its type id, 0 when more bytes are
 * needed, < 0 on failure. */
static int begin_value(Reader *r, GobDecoded *ret, int64_t *ret_id) {
        for (;;) {
                r->span = 0;
                r->n_messages = 0;
                int64_t id;
                int k = frame(r);
                if (k == -EAGAIN) {
                        ret->need = r->need - ret->consumed;
                        return 0;
                }
                if (k < 0 || (k = get_int(r, &id)) < 0)
                        return k;
                if (id > 0) {
                        *ret_id = id;
                        return 1;
                }
                if (id == 0)
                        return bad(r, -EBADMSG, "message with type id 0");
                if ((k = definition_id(r, id, &id)) < 0 || (k = define_type(r, id)) < 0)
                        return k;
                if (r->c.p != r->c.end)
                        return bad(r, -EBADMSG, "%zu stray bytes after the definition of type %" PRId64,
                                   gob_cursor_left(&r->c), id);
                ret->consumed = (size_t) (r->next - r->base);
        }
}

/* After the value: k is what reading it returned. A value cut short is
 * read again later; its type definitions are forgotten meanwhile. */
static int end_value(Reader *r, GobDecoded *ret, int k, size_t n_types) {
        if (k == -EAGAIN) {
                gob_table_truncate(&r->d->types, n_types);
                ret->need = r->need - ret->consumed;
                return 0;
        }
        if (k < 0)
                return k;
        if (r->c.p != r->c.end)
                return bad(r, -EBADMSG, "%zu bytes left over after a value", gob_cursor_left(&r->c));
        ret->consumed = (size_t) (r->next - r->base);
        return 1;
}

/* ---- headers ------------------------------------------------------------- */

static bool field_is(const GobField *f, const char *name) {
        return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0;
}

static int read_header_string(Reader *r, const GobField *f, char **ret) {
        const GobType *t = find_type(r, f->id);
        const uint8_t *p;
        size_t n;
        if (!t)
                return -EBADMSG;
        if (!gob_kind_is_bytes(t->kind))
                return bad(r, -EBADMSG, "header field %s is not a string", f->name);
        int k = get_bytes(r, &p, &n);
        if (k < 0)
                return k;
        char *s = malloc(n + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, p, n);
        s[n] = 0;
        free(*ret);
        *ret = s;
        return 0;
}

static int read_header_seq(Reader *r, const GobField *f, uint64_t *ret) {
        const GobType *t = find_type(r, f->id);
        if (!t)
                return -EBADMSG;
        if (t->kind != GOB_UINT && t->kind != GOB_INT)
                return bad(r, -EBADMSG, "header field Seq is not an integer");
        int k = get_uint(r, ret);
        if (k < 0 || t->kind == GOB_UINT)
                return k;
        int64_t i = gob_uint_to_int(*ret);
        if (i < 0)
                return bad(r, -EBADMSG, "header field Seq is negative");
        *ret = (uint64_t) i;
        return 0;
}

/* The hot path: the three fields are read straight into the message. */
static int read_header(Reader *r, int64_t id, Message *m) {
        const GobType *t = find_type(r, id);
        if (!t)
                return -EBADMSG;
        if (t->kind != GOB_STRUCT)
                return bad(r, -EBADMSG, "header of type %s, not a struct", gob_kind_name(t->kind));

        int k;
        int64_t field = -1;
        while ((k = next_field(r, t, &field)) > 0) {
                const GobField *f = &t->fields[field];
                json_t *other;
                if (field_is(f, "ServiceMethod"))
                        k = read_header_string(r, f, &m->service_method);
                else if (field_is(f, "Error"))
                        k = read_header_string(r, f, &m->error);
                else if (field_is(f, "Seq"))
                        k = read_header_seq(r, f, &m->seq);
                else if ((k = read_value(r, f->id, &other)) >= 0)
                        json_decref(other);
                if (k < 0)
                        return k;
        }
        if (k < 0)
                return k;
        if ((!m->service_method && !(m->service_method = strdup(""))) || (!m->error && !(m->error = strdup(""))))
                return -ENOMEM;
        return 0;
}

/* One value, or one header when header is not NULL. */
static int decode(GobDecoder *d, const uint8_t *data, size_t n, GobDecoded *ret, Message *header) {
        Reader r = { .d = d, .base = data, .next = data, .end = data + n };
        Message m = {};
        json_t *v = NULL;
        int64_t id = 0;

        *ret = (GobDecoded) {};
        d->why[0] = 0;
        int k = begin_value(&r, ret, &id);
        if (k <= 0)
                return k;
        size_t n_types = d->types.n;
        k = end_value(&r, ret, header ? read_header(&r, id, &m) : read_top(&r, id, &v), n_types);
        if (k <= 0 || header) {
                /* On failure, what was read is dropped (a value whole but
                 * followed by stray bytes too); a header's unused fields
                 * may have left a soft error: it does not matter. */
                if (v)
                        json_decref(v);
                free(r.soft);
                if (k <= 0) {
                        message_done(&m);
                        return k;
                }
                *header = m;
        } else if (r.soft) {
                json_decref(v);
                ret->error = r.soft;
        } else
                ret->value = v;
        ret->type_id = id;
        return 1;
}

int gob_decode_value(GobDecoder *d, const uint8_t *data, size_t n, GobDecoded *ret) {
        return decode(d, data, n, ret, NULL);
}

int gob_decode_header(GobDecoder *d, const uint8_t *data, size_t n, GobDecoded *ret, Message *ret_header) {
        return decode(d, data, n, ret, ret_header);
}
