/* SPDX-License-Identifier: MIT */
#include "codec/gob-types.h"

/* ---- predefined types ------------------------------------------------------ */

static const GobType builtins[] = {
        { .id = GOB_ID_BOOL, .kind = GOB_BOOL, .name = (char *) "bool" },
        { .id = GOB_ID_INT, .kind = GOB_INT, .name = (char *) "int" },
        { .id = GOB_ID_UINT, .kind = GOB_UINT, .name = (char *) "uint" },
        { .id = GOB_ID_FLOAT, .kind = GOB_FLOAT, .name = (char *) "float" },
        { .id = GOB_ID_BYTES, .kind = GOB_BYTES, .name = (char *) "bytes" },
        { .id = GOB_ID_STRING, .kind = GOB_STRING, .name = (char *) "string" },
        { .id = GOB_ID_COMPLEX, .kind = GOB_COMPLEX, .name = (char *) "complex" },
        { .id = GOB_ID_INTERFACE, .kind = GOB_INTERFACE, .name = (char *) "interface" },
};

const GobType *gob_builtin_type(int64_t id) {
        if (id < GOB_ID_BOOL || id > GOB_ID_INTERFACE)
                return NULL;
        return &builtins[id - 1];
}

const char *gob_kind_name(GobKind kind) {
        static const char *const names[_GOB_KIND_MAX] = {
                [GOB_BOOL] = "bool",
                [GOB_INT] = "int",
                [GOB_UINT] = "uint",
                [GOB_FLOAT] = "float",
                [GOB_BYTES] = "[]byte",
                [GOB_STRING] = "string",
                [GOB_COMPLEX] = "complex",
                [GOB_INTERFACE] = "interface",
                [GOB_ARRAY] = "array",
                [GOB_SLICE] = "slice",
                [GOB_STRUCT] = "struct",
                [GOB_MAP] = "map",
                [GOB_GOB_ENCODER] = "GobEncoder",
                [GOB_BINARY_MARSHALER] = "BinaryMarshaler",
                [GOB_TEXT_MARSHALER] = "TextMarshaler",
        };
        return kind < _GOB_KIND_MAX ? names[kind] : "?";
}

char *gob_memdup(const char *p, size_t n) {
        char *s = malloc(n + 1);
        if (!s)
                return NULL;
        if (n > 0)
                memcpy(s, p, n);
        s[n] = 0;
        return s;
}

GobType *gob_type_free(GobType *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_fields; i++)
                free(t->fields[i].name);
        free(t->fields);
        free(t->name);
        free(t->key_text);
        free(t);
        return NULL;
}

/* ---- parsing a wireType ------------------------------------------------------ */

/* wireType's fields in order, and the kind each one defines. */
static const GobKind wire_kinds[] = {
        GOB_ARRAY, GOB_SLICE, GOB_STRUCT, GOB_MAP, GOB_GOB_ENCODER, GOB_BINARY_MARSHALER, GOB_TEXT_MARSHALER,
};

static int fail(const char **ret_why, const char *why) {
        *ret_why = why;
        return -EBADMSG;
}

/* Steps to the next field of a struct on the wire: 1 with *field set, 0 at
 * the struct's end. */
static int next_field(GobCursor *c, int *field, int n_fields, const char **ret_why) {
        uint64_t d;
        if (gob_read_uint(c, &d) < 0)
                return fail(ret_why, "type definition cut short");
        if (d == 0)
                return 0;
        if (d > (uint64_t) (n_fields - 1 - *field))
                return fail(ret_why, "type definition has a field number out of range");
        *field += (int) d;
        return 1;
}

static int read_string(GobCursor *c, char **ret, size_t *ret_len, const char **ret_why) {
        const uint8_t *p;
        size_t n;
        if (gob_read_bytes(c, &p, &n) < 0)
                return fail(ret_why, "type definition cut short");
        char *s = gob_memdup((const char *) p, n);
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        if (ret_len)
                *ret_len = n;
        return 0;
}

static int read_id(GobCursor *c, int64_t *ret, const char **ret_why) {
        if (gob_read_int(c, ret) < 0)
                return fail(ret_why, "type definition cut short");
        return 0;
}

/* CommonType{Name string; Id int}: the id repeats the definition's; only
 * the name is kept. */
static int parse_common(GobCursor *c, GobType *t, const char **ret_why) {
        int f = -1, k;
        while ((k = next_field(c, &f, 2, ret_why)) > 0) {
                int64_t ignored;
                int r = f == 0 ? read_string(c, &t->name, NULL, ret_why) : read_id(c, &ignored, ret_why);
                if (r < 0)
                        return r;
        }
        return k;
}

/* fieldType{Name string; Id int}. */
static int parse_field(GobCursor *c, GobField *field, const char **ret_why) {
        int f = -1, k;
        while ((k = next_field(c, &f, 2, ret_why)) > 0) {
                int r = f == 0 ? read_string(c, &field->name, &field->name_len, ret_why) : read_id(c, &field->id, ret_why);
                if (r < 0)
                        return r;
        }
        if (k < 0)
                return k;
        if (!field->name && !(field->name = strdup("")))
                return -ENOMEM;
        return 0;
}

static int parse_fields(GobCursor *c, GobType *t, const char **ret_why) {
        uint64_t n;
        if (gob_read_uint(c, &n) < 0)
                return fail(ret_why, "type definition cut short");
        if (n > GOB_MAX_FIELDS) {
                *ret_why = "struct type has more fields than the limit";
                return -EMSGSIZE;
        }
        if (n > gob_cursor_left(c))
                return fail(ret_why, "type definition cut short");
        if (t->fields)
                return fail(ret_why, "struct type lists its fields twice");
        t->fields = calloc(MAX(n, (uint64_t) 1), sizeof(GobField));
        if (!t->fields)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
                GobField *field = &t->fields[t->n_fields++];
                int r = parse_field(c, field, ret_why);
                if (r < 0)
                        return r;
                if (field->id == 0)
                        return fail(ret_why, "struct field without a type");
        }
        return 0;
}

/* arrayType{CommonType; Elem; Len}, sliceType{CommonType; Elem},
 * structType{CommonType; Field []*fieldType}, mapType{CommonType; Key;
 * Elem}, gobEncoderType{CommonType}. */
static int parse_body(GobCursor *c, GobType *t, const char **ret_why) {
        int n_fields = t->kind == GOB_ARRAY || t->kind == GOB_MAP ? 3 : t->kind == GOB_SLICE || t->kind == GOB_STRUCT ? 2 : 1;
        int f = -1, k, r;
        while ((k = next_field(c, &f, n_fields, ret_why)) > 0) {
                if (f == 0)
                        r = parse_common(c, t, ret_why);
                else if (t->kind == GOB_STRUCT)
                        r = parse_fields(c, t, ret_why);
                else if (t->kind == GOB_ARRAY && f == 2)
                        r = read_id(c, &t->len, ret_why);
                else if (t->kind == GOB_MAP && f == 1)
                        r = read_id(c, &t->key, ret_why);
                else
                        r = read_id(c, &t->elem, ret_why);
                if (r < 0)
                        return r;
        }
        if (k < 0)
                return k;
        if ((t->kind == GOB_ARRAY || t->kind == GOB_SLICE || t->kind == GOB_MAP) && t->elem == 0)
                return fail(ret_why, "type definition without an element type");
        if (t->kind == GOB_MAP && t->key == 0)
                return fail(ret_why, "map type without a key type");
        if (t->kind == GOB_ARRAY && t->len < 0)
                return fail(ret_why, "array type with a negative length");
        return 0;
}

int gob_type_parse(GobCursor *c, int64_t id, GobType **ret, const char **ret_why) {
        _cleanup_(gob_type_freep) GobType *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->id = id;

        int f = -1, k, r;
        bool have_kind = false;
        while ((k = next_field(c, &f, (int) ELEMENTSOF(wire_kinds), ret_why)) > 0) {
                if (have_kind)
                        return fail(ret_why, "type definition names two kinds");
                have_kind = true;
                t->kind = wire_kinds[f];
                r = parse_body(c, t, ret_why);
                if (r < 0)
                        return r;
        }
        if (k < 0)
                return k;
        if (!have_kind)
                return fail(ret_why, "type definition names no kind");
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- writing a wireType ------------------------------------------------------ */

/* Writes a struct's fields with delta numbering, as gob does. */
typedef struct FieldWriter {
        Buffer *out;
        int field;
        int r;
} FieldWriter;

static void fw_field(FieldWriter *w, int f) {
        if (w->r >= 0)
                w->r = gob_append_uint(w->out, (uint64_t) (f - w->field));
        w->field = f;
}

static void fw_int(FieldWriter *w, int f, int64_t v) {
        if (v == 0)
                return; /* zero values are left out */
        fw_field(w, f);
        if (w->r >= 0)
                w->r = gob_append_int(w->out, v);
}

static void fw_string(FieldWriter *w, int f, const char *s, size_t n) {
        if (n == 0)
                return;
        fw_field(w, f);
        if (w->r >= 0)
                w->r = gob_append_bytes(w->out, s, n);
}

static void fw_end(FieldWriter *w) {
        if (w->r >= 0)
                w->r = gob_append_uint(w->out, 0);
}

int gob_type_append(Buffer *out, const GobType *t) {
        size_t kind_field = 0;
        while (kind_field < ELEMENTSOF(wire_kinds) && wire_kinds[kind_field] != t->kind)
                kind_field++;
        if (kind_field == ELEMENTSOF(wire_kinds))
                return -EINVAL;

        FieldWriter wire = { .out = out, .field = -1, .r = gob_append_int(out, -t->id) };
        fw_field(&wire, (int) kind_field);

        FieldWriter body = { .out = out, .field = -1, .r = wire.r };
        fw_field(&body, 0);
        FieldWriter common = { .out = out, .field = -1, .r = body.r };
        fw_string(&common, 0, t->name, t->name ? strlen(t->name) : 0);
        fw_int(&common, 1, t->id);
        fw_end(&common);
        body.r = common.r;

        switch (t->kind) {
        case GOB_ARRAY:
                fw_int(&body, 1, t->elem);
                fw_int(&body, 2, t->len);
                break;
        case GOB_SLICE:
                fw_int(&body, 1, t->elem);
                break;
        case GOB_MAP:
                fw_int(&body, 1, t->key);
                fw_int(&body, 2, t->elem);
                break;
        case GOB_STRUCT:
                if (t->n_fields == 0)
                        break;
                fw_field(&body, 1);
                if (body.r >= 0)
                        body.r = gob_append_uint(out, t->n_fields);
                for (size_t i = 0; i < t->n_fields && body.r >= 0; i++) {
                        FieldWriter fw = { .out = out, .field = -1, .r = 0 };
                        fw_string(&fw, 0, t->fields[i].name, t->fields[i].name_len);
                        fw_int(&fw, 1, t->fields[i].id);
                        fw_end(&fw);
                        body.r = fw.r;
                }
                break;
        default:
                break;
        }
        fw_end(&body);
        wire.r = body.r;
        fw_end(&wire);
        return wire.r;
}

/* ---- the table ------------------------------------------------------------- */

static uint64_t hash_id(int64_t id) {
        return (uint64_t) id * UINT64_C(0x9E3779B97F4A7C15) >> 32;
}

static uint64_t hash_key(const char *key, size_t len) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (uint8_t) key[i]) * UINT64_C(1099511628211);
        return h;
}

/* Finds by id, or by key when key is not NULL. */
static const GobType *probe(const GobTypeTable *t, const GobIndex *ix, uint64_t h, int64_t id, const char *key,
                            size_t len) {
        if (ix->n_slots == 0)
                return NULL;
        for (size_t s = h & (ix->n_slots - 1);; s = (s + 1) & (ix->n_slots - 1)) {
                uint32_t v = ix->slots[s];
                if (v == 0)
                        return NULL;
                const GobType *x = t->types[v - 1];
                if (key ? x->key_len == len && memcmp(x->key_text, key, len) == 0 : x->id == id)
                        return x;
        }
}

const GobType *gob_table_find(const GobTypeTable *t, int64_t id) {
        const GobType *b = gob_builtin_type(id);
        return b ?: probe(t, &t->by_id, hash_id(id), id, NULL, 0);
}

const GobType *gob_table_find_key(const GobTypeTable *t, const char *key, size_t len) {
        return probe(t, &t->by_key, hash_key(key, len), 0, key, len);
}

static void index_put(GobIndex *ix, uint64_t h, size_t pos) {
        size_t s = h & (ix->n_slots - 1);
        while (ix->slots[s] != 0)
                s = (s + 1) & (ix->n_slots - 1);
        ix->slots[s] = (uint32_t) (pos + 1);
}

static void table_put(GobTypeTable *t, size_t i) {
        const GobType *x = t->types[i];
        index_put(&t->by_id, hash_id(x->id), i);
        if (x->key_text)
                index_put(&t->by_key, hash_key(x->key_text, x->key_len), i);
}

/* Rebuilds both indexes, with n_slots slots (0: as they are). */
static int table_reindex(GobTypeTable *t, size_t n_slots) {
        GobIndex *ixs[] = { &t->by_id, &t->by_key };
        for (size_t k = 0; k < ELEMENTSOF(ixs); k++) {
                GobIndex *ix = ixs[k];
                if (n_slots > 0 && n_slots != ix->n_slots) {
                        uint32_t *slots = calloc(n_slots, sizeof(uint32_t));
                        if (!slots)
                                return -ENOMEM;
                        free(ix->slots);
                        ix->slots = slots;
                        ix->n_slots = n_slots;
                } else if (ix->slots)
                        memset(ix->slots, 0, ix->n_slots * sizeof(uint32_t));
        }
        for (size_t i = 0; i < t->n; i++)
                table_put(t, i);
        return 0;
}

int gob_table_add(GobTypeTable *t, GobType *type) {
        if (gob_table_find(t, type->id))
                return -EEXIST;
        if (t->n == t->allocated) {
                size_t k = MAX(t->allocated * 2, (size_t) 16);
                GobType **v = reallocarray(t->types, k, sizeof(GobType *));
                if (!v)
                        return -ENOMEM;
                t->types = v;
                t->allocated = k;
        }
        if ((t->n + 1) * 2 > t->by_id.n_slots) {
                int r = table_reindex(t, MAX(t->by_id.n_slots * 2, (size_t) 32));
                if (r < 0)
                        return r;
        }
        t->types[t->n] = type;
        table_put(t, t->n++);
        return 0;
}

void gob_table_truncate(GobTypeTable *t, size_t n) {
        if (n >= t->n)
                return;
        while (t->n > n)
                gob_type_free(t->types[--t->n]);
        /* Rare (a value that was cut short, an encode that failed): the
         * indexes are simply rebuilt. */
        (void) table_reindex(t, 0);
}

void gob_table_done(GobTypeTable *t) {
        gob_table_truncate(t, 0);
        free(t->types);
        free(t->by_id.slots);
        free(t->by_key.slots);
        *t = (GobTypeTable) {};
}
