/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "gob-util.h"

static void assert_bytes(const Buffer *b, const char *want, size_t n) {
        cr_assert_eq(buffer_len(b), n, "%zu bytes, want %zu", buffer_len(b), n);
        cr_assert_eq(memcmp(buffer_data(b), want, n), 0);
}

/* The examples of encoding/gob's documentation. */
Test(gob_types, primitive_encodings) {
        Buffer b = {};
        cr_assert_eq(gob_append_uint(&b, 0), 0);
        cr_assert_eq(gob_append_uint(&b, 7), 0);
        cr_assert_eq(gob_append_uint(&b, 256), 0);
        cr_assert_eq(gob_append_int(&b, -129), 0);
        cr_assert_eq(gob_append_float(&b, 17.0), 0);
        cr_assert_eq(gob_append_uint(&b, UINT64_MAX), 0);
        cr_assert_eq(gob_append_int(&b, INT64_MIN), 0);
        assert_bytes(&b, "\x00\x07\xfe\x01\x00\xfe\x01\x01\xfe\x31\x40"
                         "\xf8\xff\xff\xff\xff\xff\xff\xff\xff\xf8\xff\xff\xff\xff\xff\xff\xff\xff", 29);

        GobCursor c = { (const uint8_t *) buffer_data(&b), (const uint8_t *) buffer_data(&b) + buffer_len(&b) };
        uint64_t u;
        int64_t i;
        double d;
        cr_assert_eq(gob_read_uint(&c, &u), 0);
        cr_assert_eq(u, 0);
        cr_assert_eq(gob_read_uint(&c, &u), 0);
        cr_assert_eq(u, 7);
        cr_assert_eq(gob_read_uint(&c, &u), 0);
        cr_assert_eq(u, 256);
        cr_assert_eq(gob_read_int(&c, &i), 0);
        cr_assert_eq(i, -129);
        cr_assert_eq(gob_read_float(&c, &d), 0);
        cr_assert_eq(d, 17.0);
        cr_assert_eq(gob_read_uint(&c, &u), 0);
        cr_assert_eq(u, UINT64_MAX);
        cr_assert_eq(gob_read_int(&c, &i), 0);
        cr_assert_eq(i, INT64_MIN);
        cr_assert_eq(gob_read_uint(&c, &u), -EBADMSG);
        buffer_done(&b);
}

Test(gob_types, reads_refuse_what_is_not_there) {
        static const uint8_t bad[][3] = { { 0xf7 }, { 0xfe, 0x01 }, { 0x05, 'a' } };
        uint64_t u;
        const uint8_t *p;
        size_t n;
        GobCursor c = { bad[0], bad[0] + 1 };
        cr_assert_eq(gob_read_uint(&c, &u), -EBADMSG); /* a count of 9 bytes */
        c = (GobCursor) { bad[1], bad[1] + 2 };
        cr_assert_eq(gob_read_uint(&c, &u), -EBADMSG); /* one byte of two */
        c = (GobCursor) { bad[2], bad[2] + 2 };
        cr_assert_eq(gob_read_bytes(&c, &p, &n), -EBADMSG); /* 5 bytes announced, 1 there */
}

/* Go GeeRPC's header type, as Go 1.19 defines it (id 65). */
Test(gob_types, header_definition_is_gos) {
        GobField fields[] = {
                { (char *) "ServiceMethod", 13, GOB_ID_STRING },
                { (char *) "Seq", 3, GOB_ID_UINT },
                { (char *) "Error", 5, GOB_ID_STRING },
        };
        GobType t = { .id = 65, .kind = GOB_STRUCT, .name = (char *) "Header", .fields = fields, .n_fields = 3 };
        Buffer b = {};
        cr_assert_eq(gob_type_append(&b, &t), 0);
        assert_bytes(&b, go_call + 1, 0x38);

        GobCursor c = { (const uint8_t *) go_call + 1, (const uint8_t *) go_call + 1 + 0x38 };
        int64_t id;
        GobType *parsed;
        const char *why = NULL;
        cr_assert_eq(gob_read_int(&c, &id), 0);
        cr_assert_eq(id, -65);
        cr_assert_eq(gob_type_parse(&c, 65, &parsed, &why), 0);
        cr_assert_eq(c.p, c.end);
        cr_assert_eq(parsed->kind, GOB_STRUCT);
        cr_assert_str_eq(parsed->name, "Header");
        cr_assert_eq(parsed->n_fields, 3);
        cr_assert_str_eq(parsed->fields[0].name, "ServiceMethod");
        cr_assert_eq(parsed->fields[1].id, GOB_ID_UINT);
        cr_assert_str_eq(parsed->fields[2].name, "Error");
        gob_type_free(parsed);
        buffer_done(&b);
}

Test(gob_types, every_kind_round_trips) {
        GobField f = { (char *) "X", 1, 66 };
        const GobType types[] = {
                { .id = 65, .kind = GOB_ARRAY, .name = (char *) "[3]int", .elem = GOB_ID_INT, .len = 3 },
                { .id = 66, .kind = GOB_SLICE, .elem = 65 },
                { .id = 67, .kind = GOB_MAP, .key = GOB_ID_INT, .elem = 66 },
                { .id = 68, .kind = GOB_STRUCT, .fields = &f, .n_fields = 1 },
                { .id = 69, .kind = GOB_GOB_ENCODER, .name = (char *) "Time" },
                { .id = 70, .kind = GOB_BINARY_MARSHALER },
                { .id = 71, .kind = GOB_TEXT_MARSHALER },
                { .id = 72, .kind = GOB_STRUCT },
        };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                Buffer b = {};
                cr_assert_eq(gob_type_append(&b, &types[i]), 0);
                GobCursor c = { (const uint8_t *) buffer_data(&b), (const uint8_t *) buffer_data(&b) + buffer_len(&b) };
                int64_t id;
                GobType *t;
                const char *why = NULL;
                cr_assert_eq(gob_read_int(&c, &id), 0);
                cr_assert_eq(id, -types[i].id);
                cr_assert_eq(gob_type_parse(&c, -id, &t, &why), 0, "%s", why);
                cr_assert_eq(c.p, c.end);
                cr_assert_eq(t->kind, types[i].kind);
                cr_assert_eq(t->elem, types[i].elem);
                cr_assert_eq(t->key, types[i].key);
                cr_assert_eq(t->len, types[i].len);
                cr_assert_eq(t->n_fields, types[i].n_fields);
                cr_assert_str_eq(strempty(t->name), strempty(types[i].name));
                gob_type_free(t);
                buffer_done(&b);
        }
}

Test(gob_types, table_finds_adds_and_forgets) {
        GobTypeTable t = {};
        cr_assert_eq(gob_table_find(&t, GOB_ID_STRING)->kind, GOB_STRING);
        cr_assert_null(gob_table_find(&t, 65));
        cr_assert_null(gob_table_find(&t, 9));
        for (int64_t id = 1000; id < 1300; id++) {
                GobType *x = calloc(1, sizeof *x);
                x->id = id;
                x->kind = GOB_SLICE;
                cr_assert_eq(gob_table_add(&t, x), 0);
        }
        GobType dup = { .id = 1100 };
        cr_assert_eq(gob_table_add(&t, &dup), -EEXIST);
        cr_assert_eq(gob_table_find(&t, 1299)->id, 1299);
        gob_table_truncate(&t, 100);
        cr_assert_eq(gob_table_find(&t, 1099)->id, 1099);
        cr_assert_null(gob_table_find(&t, 1100));
        cr_assert_null(gob_table_find(&t, 1299));
        gob_table_done(&t);
}
