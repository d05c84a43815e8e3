/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/buffer.h"

Test(buffer, append_consume_compact) {
        Buffer b = {};
        cr_assert_eq(buffer_append(&b, "hello ", 6), 0);
        cr_assert_eq(buffer_append(&b, "world", 5), 0);
        cr_assert_eq(buffer_len(&b), 11);
        buffer_consume(&b, 6);
        cr_assert_eq(buffer_len(&b), 5);
        cr_assert(memcmp(buffer_data(&b), "world", 5) == 0);

        /* Reserving moves the live bytes to the front before growing. */
        size_t before = b.allocated;
        cr_assert_eq(buffer_reserve(&b, before - 5), 0);
        cr_assert_eq(b.allocated, before);
        cr_assert_eq(b.start, 0);
        cr_assert(memcmp(buffer_data(&b), "world", 5) == 0);

        cr_assert_eq(buffer_reserve(&b, 1 << 20), 0);
        cr_assert_geq(buffer_room(&b), 1 << 20);
        cr_assert(memcmp(buffer_data(&b), "world", 5) == 0);

        buffer_consume(&b, 100);
        cr_assert_eq(buffer_len(&b), 0);
        buffer_done(&b);
        cr_assert_null(b.data);
}

Test(buffer, swap) {
        Buffer a = {}, b = {};
        buffer_append(&a, "a", 1);
        buffer_swap(&a, &b);
        cr_assert_eq(buffer_len(&a), 0);
        cr_assert_eq(buffer_len(&b), 1);
        buffer_done(&a);
        buffer_done(&b);
}

Test(buffer, overflow_is_refused) {
        Buffer b = {};
        buffer_append(&b, "x", 1);
        cr_assert_eq(buffer_reserve(&b, SIZE_MAX - 2), -ENOMEM);
        buffer_done(&b);
}
