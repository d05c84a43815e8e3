/* SPDX-License-Identifier: MIT */
#pragma once

/* gob types: the predefined ones, the wireType definitions a stream sends
 * before the first value that uses them, and the table of the types one
 * direction of a connection has defined (docs/PROTOCOL.md, "The gob
 * codec"). */

#include "codec/gob-wire.h"

/* Named limits of one direction of a gob stream. The message size is the
 * codec's max_value (GEERPC_MAX_MESSAGE_SIZE_DEFAULT unless set). */
#define GOB_MAX_TYPES 1024U          /* type definitions per direction of a connection */
#define GOB_MAX_FIELDS 1024U         /* fields of one struct type */
#define GOB_MAX_DEPTH 100U           /* nesting of one value (structs, slices, maps, interfaces) */
#define GOB_MAX_ELEMENTS (1U << 20)  /* elements of one slice or array, entries of one map */
#define GOB_MAX_VALUES (1U << 22)    /* JSON values one decoded value makes, zero-filled fields included */
#define GOB_MAX_VALUE_MESSAGES 16U   /* messages one value spans (an interface's type definition splits it) */

/* The predefined type ids (encoding/gob's documentation). */
enum {
        GOB_ID_BOOL = 1,
        GOB_ID_INT = 2,
        GOB_ID_UINT = 3,
        GOB_ID_FLOAT = 4,
        GOB_ID_BYTES = 5,
        GOB_ID_STRING = 6,
        GOB_ID_COMPLEX = 7,
        GOB_ID_INTERFACE = 8,
        /* 9..63: reserved, and the ids of wireType's own types. */
        GOB_ID_FIRST_USER = 65, /* the first id an encoder assigns */
};

typedef enum GobKind {
        GOB_BOOL,
        GOB_INT,
        GOB_UINT,
        GOB_FLOAT,
        GOB_BYTES,
        GOB_STRING,
        GOB_COMPLEX,
        GOB_INTERFACE,
        GOB_ARRAY,
        GOB_SLICE,
        GOB_STRUCT,
        GOB_MAP,
        /* Types that marshal themselves (GobEncoder, encoding.BinaryMarshaler,
         * encoding.TextMarshaler): their value is a byte string. */
        GOB_GOB_ENCODER,
        GOB_BINARY_MARSHALER,
        GOB_TEXT_MARSHALER,
        _GOB_KIND_MAX,
} GobKind;

typedef struct GobField {
        char *name; /* NUL-terminated copy; name_len counts the bytes */
        size_t name_len;
        int64_t id;
} GobField;

typedef struct GobType {
        int64_t id;
        GobKind kind;
        char *name;   /* CommonType.Name; may be NULL */
        int64_t elem; /* array, slice, map */
        int64_t key;  /* map */
        int64_t len;  /* array */
        GobField *fields;
        size_t n_fields;
        char *key_text; /* the encoder's interning key (binary); NULL in a decoder */
        size_t key_len;
} GobType;

/* A copy of n bytes (which may hold NULs) with a NUL after them. */
char *gob_memdup(const char *p, size_t n);

/* The predefined type with this id (1..8), or NULL. */
const GobType *gob_builtin_type(int64_t id);
const char *gob_kind_name(GobKind kind);
/* Whether the value of this kind is a byte string on the wire. */
static inline bool gob_kind_is_bytes(GobKind k) {
        return k == GOB_BYTES || k == GOB_STRING || k >= GOB_GOB_ENCODER;
}

GobType *gob_type_free(GobType *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(GobType *, gob_type_free);

/* Parses a wireType (what follows -id in a type definition) into a type
 * with that id. -EBADMSG with *ret_why set when it is not one;
 * -EMSGSIZE for more than GOB_MAX_FIELDS fields. */
int gob_type_parse(GobCursor *c, int64_t id, GobType **ret, const char **ret_why);
/* Appends -id and the wireType of t: a type definition message's body. */
int gob_type_append(Buffer *out, const GobType *t);

/* Open addressing over the positions of the table's array: a slot holds
 * position + 1, 0 is free. */
typedef struct GobIndex {
        uint32_t *slots;
        size_t n_slots; /* a power of two, at least twice the entries */
} GobIndex;

/* The types one direction of a stream has defined, by id, and (for an
 * encoder, which interns types by their structure) by key_text. */
typedef struct GobTypeTable {
        GobType **types; /* in the order defined */
        size_t n, allocated;
        GobIndex by_id, by_key;
} GobTypeTable;

/* A predefined type, or one the table holds; NULL for an unknown id. */
const GobType *gob_table_find(const GobTypeTable *t, int64_t id);
/* The type with this key_text, or NULL. */
const GobType *gob_table_find_key(const GobTypeTable *t, const char *key, size_t len);
/* Takes ownership of type on success. -EEXIST when its id is taken. */
int gob_table_add(GobTypeTable *t, GobType *type);
/* Forgets every type defined after the first n. */
void gob_table_truncate(GobTypeTable *t, size_t n);
void gob_table_done(GobTypeTable *t);
