/* SPDX-License-Identifier: MIT */
#include "codec/gob-infer.h"

/* The gob type a JSON value gets (docs/PROTOCOL.md, "The gob codec"): the
 * type a Go program would declare for it. First a shape is inferred for
 * the value (objects are structs of their keys, arrays slices of what
 * their elements share, unified across the elements); then the shape's
 * types are interned by the encoder, which sends the definitions it has
 * not sent yet. Shapes live in an arena for one call. */

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
                return gob_encoder_fail(e, -EMSGSIZE, "objects in one array have more than %u keys together", GOB_MAX_FIELDS);
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
                return gob_encoder_fail(e, -EINVAL, "an array mixes %s and %s: a Go slice holds one type", shape_name(x),
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
                        return gob_encoder_fail(e, -EINVAL,
                                    "key \"%.*s\" is not an exported Go identifier (an ASCII capital letter, then "
                                    "letters, digits or _): Go could not store it",
                                    (int) MIN(len, (size_t) 64), key);
                Shape *f;
                int r = infer(e, a, value, depth + 1, &f);
                if (r < 0 || (r = add_field(a, s, key, len, f)) < 0)
                        return r;
        }
        if (s->n_fields > GOB_MAX_FIELDS)
                return gob_encoder_fail(e, -EMSGSIZE, "an object with more than %u keys", GOB_MAX_FIELDS);
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
                return gob_encoder_fail(e, -EMSGSIZE, "an array of more than %u elements", GOB_MAX_ELEMENTS);
        json_array_foreach(v, i, x) {
                if (json_is_null(x))
                        return gob_encoder_fail(e, -EINVAL, "null at index %zu of an array: a Go slice holds no nil", i);
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
                return gob_encoder_fail(e, -EMSGSIZE, "value nested deeper than %u", GOB_MAX_DEPTH);
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
                return gob_encoder_fail(e, -EINVAL, "null has no gob form here");
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
                return gob_encoder_intern_slice(e, out, id, ret_id);
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
                return gob_encoder_intern_struct(e, out, NULL, fields, n, ret_id);
        }
        default:
                *ret_id = scalar_ids[s->kind];
                return 0;
        }
}

/* The builtin type of a scalar member, 0 for anything else. */
static int64_t scalar_id(json_t *v) {
        switch (json_typeof(v)) {
        case JSON_INTEGER:
                return GOB_ID_INT;
        case JSON_REAL:
                return GOB_ID_FLOAT;
        case JSON_STRING:
                return GOB_ID_STRING;
        case JSON_TRUE:
        case JSON_FALSE:
                return GOB_ID_BOOL;
        default:
                return 0;
        }
}

/* The hot path: an object of scalar members with the keys, in order, and
 * the member types of the last such object has its type. Checked against
 * the table itself, so a hint left by a call that failed is harmless. */
static bool same_flat_type(GobEncoder *e, json_t *v, int64_t hint) {
        const GobType *t = hint > 0 ? gob_encoder_type(e, hint) : NULL;
        if (!t || t->kind != GOB_STRUCT || t->n_fields != json_object_size(v))
                return false;
        const char *key;
        size_t len, i = 0;
        json_t *m;
        json_object_keylen_foreach(v, key, len, m) {
                const GobField *f = &t->fields[i++];
                if (f->name_len != len || memcmp(f->name, key, len) != 0 || f->id != scalar_id(m))
                        return false;
        }
        return true;
}

static bool is_flat(json_t *v) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m)
                if (!scalar_id(m))
                        return false;
        return true;
}

int gob_infer(GobEncoder *e, Buffer *out, json_t *v, int64_t *hint, int64_t *ret_id) {
        if (json_is_object(v) && same_flat_type(e, v, *hint)) {
                *ret_id = *hint;
                return 0;
        }
        Arena a;
        Shape *s;
        arena_init(&a);
        int r = infer(e, &a, v, 0, &s);
        if (r >= 0)
                r = intern_shape(e, out, s, ret_id);
        arena_done(&a);
        if (r >= 0 && json_is_object(v) && is_flat(v))
                *hint = *ret_id;
        return r;
}
