/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec/gob-encode.h"

/* A value is written in two steps: its type is found (inferred from the
 * JSON value, or imported from a decoder's table), sending the
 * definitions of the types this stream has not defined yet; then the value
 * is written as that type. Types are interned by their structure (a text
 * key), so equal shapes share one definition. A failed call takes back
 * everything it appended and every type it defined. */

struct GobEncoder {
        GobTypeTable types; /* ours, by key; the id of types[i] is GOB_ID_FIRST_USER + i */
        int64_t header_id;  /* 0 until the header's type is sent */
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

static int fail(GobEncoder *e, int err, const char *fmt, ...) _printf_(3, 4);
static int fail(GobEncoder *e, int err, const char *fmt, ...) {
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

static const GobType *our_type(GobEncoder *e, int64_t id) {
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
                return fail(e, -EMSGSIZE, "more than %u types sent on this connection", GOB_MAX_TYPES);
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
static int intern_struct(GobEncoder *e, Buffer *out, const char *name, const GobField *fields, size_t n,
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

static int intern_slice(GobEncoder *e, Buffer *out, int64_t elem, int64_t *ret_id) {
        int r = key_begin(e, "[]");
        if (r < 0 || (r = key_number(e, elem, ';')) < 0 || key_found(e, ret_id))
                return r;
        GobType *t = new_type(GOB_SLICE, NULL, NULL, 0);
        if (!t)
                return -ENOMEM;
        t->elem = elem;
        return define(e, out, t, ret_id);
}

/* ---- inferring a type from a JSON value ----------------------------------- */

/* The shape of a JSON value, before its types are interned. Shapes live
 * in an arena for one call. */
#define SHAPE_UNKNOWN (-1) /* the element of arrays that are all empty */

typedef struct Shape Shape;
typedef struct ShapeField {
        const char *name;
        size_t len;
        Shape *shape;
} ShapeField;

struct Shape {
        int kind; /* a GobKind or SHAPE_UNKNOWN */
        Shape *elem;
        ShapeField *fields;
        size_t n_fields, allocated;
};

static Shape shape_bool = { .kind = GOB_BOOL }, shape_int = { .kind = GOB_INT }, shape_float = { .kind = GOB_FLOAT },
             shape_string = { .kind = GOB_STRING }, shape_unknown = { .kind = SHAPE_UNKNOWN };

typedef struct ArenaBlock {
        struct ArenaBlock *next;
        max_align_t data[];
} ArenaBlock;

/* The first block is inline: a small value needs no malloc() at all. */
typedef struct Arena {
        ArenaBlock *blocks;
        char *p;
        size_t left;
        max_align_t first[512 / sizeof(max_align_t)];
} Arena;

static void arena_init(Arena *a) {
        a->blocks = NULL;
        a->p = (char *) a->first;
        a->left = sizeof a->first;
}

static void *arena_alloc(Arena *a, size_t n) {
        n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
        if (n > a->left) {
                size_t size = MAX(n, (size_t) 4096);
                ArenaBlock *b = malloc(sizeof(ArenaBlock) + size);
                if (!b)
                        return NULL;
                b->next = a->blocks;
                a->blocks = b;
                a->p = (char *) b->data;
                a->left = size;
        }
        void *p = a->p;
        a->p += n;
        a->left -= n;
        return memset(p, 0, n);
}

static void arena_done(Arena *a) {
        while (a->blocks) {
                ArenaBlock *b = a->blocks;
                a->blocks = b->next;
                free(b);
        }
}

static int add_field(Arena *a, Shape *s, const char *name, size_t len, Shape *shape) {
        if (s->n_fields == s->allocated) {
                size_t k = MAX(s->allocated * 2, (size_t) 4);
                ShapeField *f = arena_alloc(a, k * sizeof(ShapeField));
                if (!f)
                        return -ENOMEM;
                if (s->n_fields > 0)
                        memcpy(f, s->fields, s->n_fields * sizeof(ShapeField));
                s->fields = f;
                s->allocated = k;
        }
        s->fields[s->n_fields++] = (ShapeField) { name, len, shape };
        return 0;
}

/* Go's gob matches struct fields by name, and only exported ones. */
static bool is_exported_identifier(const char *s, size_t n) {
        if (n == 0 || s[0] < 'A' || s[0] > 'Z')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static int unify(GobEncoder *e, Arena *a, Shape *x, Shape *y, Shape **ret);

static const char *shape_name(const Shape *s) {
        return s->kind == SHAPE_UNKNOWN ? "?" : s->kind == GOB_STRUCT ? "objects" : s->kind == GOB_SLICE ? "arrays"
               : s->kind == GOB_STRING                                 ? "strings"
               : s->kind == GOB_BOOL                                   ? "booleans"
                                                                       : "numbers";
}

/* Objects in one array share a struct type: the union of their fields, in
 * the order they first appear. */
static int unify_fields(GobEncoder *e, Arena *a, Shape *x, Shape *y) {
        for (size_t i = 0; i < y->n_fields; i++) {
                const ShapeField *f = &y->fields[i];
                size_t j = i < x->n_fields && x->fields[i].len == f->len && memcmp(x->fields[i].name, f->name, f->len) == 0 ? i : 0;
                for (; j < x->n_fields; j++)
                        if (x->fields[j].len == f->len && memcmp(x->fields[j].name, f->name, f->len) == 0)
                                break;
                int r = j < x->n_fields ? unify(e, a, x->fields[j].shape, f->shape, &x->fields[j].shape)
                                        : add_field(a, x, f->name, f->len, f->shape);
                if (r < 0)
                        return r;
        }
        if (x->n_fields > GOB_MAX_FIELDS)
                return fail(e, -EMSGSIZE, "objects in one array have more than %u keys together", GOB_MAX_FIELDS);
        return 0;
}

/* The shape that values of shapes x and y share; x may be changed. */
static int unify(GobEncoder *e, Arena *a, Shape *x, Shape *y, Shape **ret) {
        if (x->kind == SHAPE_UNKNOWN || x == y) {
                *ret = y;
                return 0;
        }
        if (y->kind == SHAPE_UNKNOWN) {
                *ret = x;
                return 0;
        }
        if ((x->kind == GOB_INT && y->kind == GOB_FLOAT) || (x->kind == GOB_FLOAT && y->kind == GOB_INT)) {
                *ret = &shape_float;
                return 0;
        }
        if (x->kind != y->kind)
                return fail(e, -EINVAL, "an array mixes %s and %s: a Go slice holds one type", shape_name(x),
                            shape_name(y));
        int r = 0;
        if (x->kind == GOB_SLICE)
                r = unify(e, a, x->elem, y->elem, &x->elem);
        else if (x->kind == GOB_STRUCT)
                r = unify_fields(e, a, x, y);
        if (r < 0)
                return r;
        *ret = x;
        return 0;
}

static int infer(GobEncoder *e, Arena *a, json_t *v, unsigned depth, Shape **ret);

static int infer_object(GobEncoder *e, Arena *a, json_t *v, unsigned depth, Shape **ret) {
        Shape *s = arena_alloc(a, sizeof(Shape));
        if (!s)
                return -ENOMEM;
        s->kind = GOB_STRUCT;
        const char *key;
        size_t len;
        json_t *value;
        json_object_keylen_foreach(v, key, len, value) {
                if (json_is_null(value))
                        continue; /* left out, as gob leaves out zero values */
                if (!is_exported_identifier(key, len))
                        return fail(e, -EINVAL,
                                    "key \"%.*s\" is not an exported Go identifier (an ASCII capital letter, then "
                                    "letters, digits or _): Go could not store it",
                                    (int) MIN(len, (size_t) 64), key);
                Shape *f;
                int r = infer(e, a, value, depth + 1, &f);
                if (r < 0 || (r = add_field(a, s, key, len, f)) < 0)
                        return r;
        }
        if (s->n_fields > GOB_MAX_FIELDS)
                return fail(e, -EMSGSIZE, "an object with more than %u keys", GOB_MAX_FIELDS);
        *ret = s;
        return 0;
}

static int infer_array(GobEncoder *e, Arena *a, json_t *v, unsigned depth, Shape **ret) {
        Shape *s = arena_alloc(a, sizeof(Shape));
        if (!s)
                return -ENOMEM;
        s->kind = GOB_SLICE;
        s->elem = &shape_unknown;
        size_t i;
        json_t *x;
        if (json_array_size(v) > GOB_MAX_ELEMENTS)
                return fail(e, -EMSGSIZE, "an array of more than %u elements", GOB_MAX_ELEMENTS);
        json_array_foreach(v, i, x) {
                if (json_is_null(x))
                        return fail(e, -EINVAL, "null at index %zu of an array: a Go slice holds no nil", i);
                Shape *el;
                int r = infer(e, a, x, depth + 1, &el);
                if (r < 0 || (r = unify(e, a, s->elem, el, &s->elem)) < 0)
                        return r;
        }
        *ret = s;
        return 0;
}

/* depth: the objects and arrays around v (as the decoder counts them). */
static int infer(GobEncoder *e, Arena *a, json_t *v, unsigned depth, Shape **ret) {
        if ((json_is_object(v) || json_is_array(v)) && depth >= GOB_MAX_DEPTH)
                return fail(e, -EMSGSIZE, "value nested deeper than %u", GOB_MAX_DEPTH);
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return infer_object(e, a, v, depth, ret);
        case JSON_ARRAY:
                return infer_array(e, a, v, depth, ret);
        case JSON_STRING:
                *ret = &shape_string;
                return 0;
        case JSON_INTEGER:
                *ret = &shape_int;
                return 0;
        case JSON_REAL:
                *ret = &shape_float;
                return 0;
        case JSON_TRUE:
        case JSON_FALSE:
                *ret = &shape_bool;
                return 0;
        default:
                return fail(e, -EINVAL, "null has no gob form here");
        }
}

/* A field that can only hold empty arrays is always left out: it gets no
 * type (Go keeps its nil slice). */
static bool shape_is_void(const Shape *s) {
        return s->kind == GOB_SLICE && s->elem->kind == SHAPE_UNKNOWN;
}

static int intern_shape(GobEncoder *e, Buffer *out, const Shape *s, int64_t *ret_id) {
        static const int64_t scalar_ids[] = {
                [GOB_BOOL] = GOB_ID_BOOL, [GOB_INT] = GOB_ID_INT, [GOB_FLOAT] = GOB_ID_FLOAT, [GOB_STRING] = GOB_ID_STRING,
        };
        int64_t id;
        int r;

        switch (s->kind) {
        case SHAPE_UNKNOWN:
                *ret_id = GOB_ID_INTERFACE;
                return 0;
        case GOB_SLICE:
                if ((r = intern_shape(e, out, s->elem, &id)) < 0)
                        return r;
                return intern_slice(e, out, id, ret_id);
        case GOB_STRUCT: {
                GobField small[16];
                _cleanup_free_ GobField *heap = NULL;
                GobField *fields = small;
                size_t n = 0;
                if (s->n_fields > ELEMENTSOF(small) && !(fields = heap = calloc(s->n_fields, sizeof(GobField))))
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_fields; i++) {
                        if (shape_is_void(s->fields[i].shape))
                                continue;
                        if ((r = intern_shape(e, out, s->fields[i].shape, &id)) < 0)
                                return r;
                        fields[n++] = (GobField) { (char *) s->fields[i].name, s->fields[i].len, id };
                }
                return intern_struct(e, out, NULL, fields, n, ret_id);
        }
        default:
                *ret_id = scalar_ids[s->kind];
                return 0;
        }
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
                return fail(e, -EINVAL, "type %" PRId64 " is not in the template table", src);
        if (*n + e->types.n >= GOB_MAX_TYPES)
                return fail(e, -EMSGSIZE, "more than %u types sent on this connection", GOB_MAX_TYPES);
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
        return fail(e, -EINVAL, "%s cannot be sent as a gob %s", json_kind(v), gob_kind_name(t->kind));
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
                const GobType *ft = our_type(e, t->fields[i].id);
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
                return fail(e, -EINVAL, "an array of %zu elements cannot be sent as a Go array of %" PRId64, n, t->len);
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
        return fail(e, -EINVAL, "key \"%.*s\" cannot be sent as a gob map key of type %s", (int) MIN(len, (size_t) 64),
                    key, gob_kind_name(kt->kind));
}

static int write_map(GobEncoder *e, Buffer *b, const GobType *t, json_t *v) {
        if (!json_is_object(v))
                return mismatch(e, v, t);
        const GobType *kt = our_type(e, t->key);
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
        const GobType *t = our_type(e, id);
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
                return fail(e, -EINVAL, "complex numbers cannot be sent from JSON");
        case GOB_INTERFACE:
                if (json_is_null(v))
                        return gob_append_uint(b, 0); /* a nil interface */
                return fail(e, -EINVAL, "interface values cannot be sent (%s for an interface{})", json_kind(v));
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
        const GobType *t = our_type(e, id);
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
                r = intern_struct(e, out, "Header", fields, ELEMENTSOF(fields), &e->header_id);
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
        Arena a;
        Shape *s = NULL;
        int64_t id;
        int r;

        arena_init(&a);
        if (!v || json_is_null(v)) {
                /* What Go GeeRPC sends where there is no body: struct{}{}. */
                r = intern_struct(e, out, NULL, NULL, 0, &id);
                v = NULL;
        } else if ((r = infer(e, &a, v, 0, &s)) >= 0)
                r = intern_shape(e, out, s, &id);
        arena_done(&a);
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
