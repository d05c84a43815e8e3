/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/list.h"

typedef struct Item Item;
struct Item {
        int value;
        LIST_FIELDS(Item, a);
        LIST_FIELDS(Item, b);
};

/* Walks the list both ways and checks every link against want[]. */
static void check(Item *head, const int *want, size_t n) {
        size_t k = 0;
        LIST_FOREACH(a, i, head) {
                cr_assert_lt(k, n);
                cr_assert_eq(i->value, want[k], "position %zu: %d, want %d", k, i->value, want[k]);
                cr_assert(LIST_IS_LINKED(a, i));
                k++;
        }
        cr_assert_eq(k, n);
        LIST_FOREACH_BACKWARDS(a, i, head) {
                cr_assert_gt(k, 0);
                k--;
                cr_assert_eq(i->value, want[k]);
        }
        cr_assert_eq(k, 0);
        if (n == 0) {
                cr_assert(LIST_IS_EMPTY(head));
                cr_assert_null(LIST_TAIL(a, head));
        } else {
                cr_assert_not(LIST_IS_EMPTY(head));
                cr_assert_eq(LIST_TAIL(a, head)->value, want[n - 1]);
                cr_assert_null(LIST_TAIL(a, head)->a_next);
                cr_assert_null(LIST_PREV(a, head, head));
                cr_assert_eq(LIST_JUST_US(a, head), n == 1);
        }
}

#define CHECK(head, ...)                                                          \
        do {                                                                      \
                const int _w[] = { __VA_ARGS__ };                                 \
                check(head, _w, sizeof _w / sizeof _w[0]);                        \
        } while (0)

Test(list, empty) {
        LIST_HEAD(Item, head) = NULL;
        check(head, NULL, 0);
        cr_assert_null(LIST_POP(a, head));
        Item x = { .value = 1 };
        LIST_INIT(a, &x);
        cr_assert_not(LIST_IS_LINKED(a, &x));
}

Test(list, prepend_append) {
        Item it[4] = { { .value = 0 }, { .value = 1 }, { .value = 2 }, { .value = 3 } };
        LIST_HEAD(Item, head);
        LIST_HEAD_INIT(head);

        cr_assert_eq(LIST_APPEND(a, head, &it[1]), &it[1]);
        CHECK(head, 1);
        cr_assert_eq(LIST_PREPEND(a, head, &it[0]), &it[0]);
        CHECK(head, 0, 1);
        LIST_APPEND(a, head, &it[2]);
        CHECK(head, 0, 1, 2);
        LIST_APPEND(a, head, &it[3]);
        CHECK(head, 0, 1, 2, 3);
}

Test(list, remove_every_position) {
        /* From a list of four, remove the first, a middle one, the last,
         * and then the rest: every case of LIST_REMOVE. */
        for (int which = 0; which < 4; which++) {
                Item it[4] = { { .value = 0 }, { .value = 1 }, { .value = 2 }, { .value = 3 } };
                LIST_HEAD(Item, head) = NULL;
                for (int i = 0; i < 4; i++)
                        LIST_APPEND(a, head, &it[i]);
                cr_assert_eq(LIST_REMOVE(a, head, &it[which]), &it[which]);
                cr_assert_not(LIST_IS_LINKED(a, &it[which]));
                cr_assert_null(it[which].a_next);
                int want[3], k = 0;
                for (int i = 0; i < 4; i++)
                        if (i != which)
                                want[k++] = i;
                check(head, want, 3);
        }
}

Test(list, remove_down_to_empty_and_reuse) {
        Item it[2] = { { .value = 0 }, { .value = 1 } };
        LIST_HEAD(Item, head) = NULL;
        LIST_PREPEND(a, head, &it[1]);
        LIST_PREPEND(a, head, &it[0]);
        LIST_REMOVE(a, head, &it[1]); /* the last of two */
        CHECK(head, 0);
        LIST_REMOVE(a, head, &it[0]); /* the only one */
        check(head, NULL, 0);
        /* Emptied, the list works as new. */
        LIST_APPEND(a, head, &it[1]);
        LIST_APPEND(a, head, &it[0]);
        CHECK(head, 1, 0);
}

Test(list, insert_after) {
        Item it[5] = { { .value = 0 }, { .value = 1 }, { .value = 2 }, { .value = 3 }, { .value = 4 } };
        LIST_HEAD(Item, head) = NULL;
        LIST_INSERT_AFTER(a, head, NULL, &it[2]); /* into an empty list */
        CHECK(head, 2);
        LIST_INSERT_AFTER(a, head, &it[2], &it[4]); /* after the last */
        CHECK(head, 2, 4);
        LIST_INSERT_AFTER(a, head, &it[2], &it[3]); /* in the middle */
        CHECK(head, 2, 3, 4);
        LIST_INSERT_AFTER(a, head, NULL, &it[0]); /* first */
        CHECK(head, 0, 2, 3, 4);
        LIST_INSERT_AFTER(a, head, &it[0], &it[1]);
        CHECK(head, 0, 1, 2, 3, 4);
}

Test(list, pop_is_fifo_with_append) {
        Item it[3] = { { .value = 0 }, { .value = 1 }, { .value = 2 } };
        LIST_HEAD(Item, q) = NULL;
        for (int i = 0; i < 3; i++)
                LIST_APPEND(a, q, &it[i]);
        for (int i = 0; i < 3; i++) {
                Item *x = LIST_POP(a, q);
                cr_assert_eq(x, &it[i]);
                cr_assert_not(LIST_IS_LINKED(a, x));
        }
        cr_assert_null(LIST_POP(a, q));
        check(q, NULL, 0);
}

Test(list, foreach_safe_may_remove) {
        Item it[6];
        LIST_HEAD(Item, head) = NULL;
        for (int i = 0; i < 6; i++) {
                it[i] = (Item) { .value = i };
                LIST_APPEND(a, head, &it[i]);
        }
        /* Removing the current element, including the first and last. */
        LIST_FOREACH_SAFE(a, i, n, head)
                if (i->value % 2 == 0 || i->value == 5)
                        LIST_REMOVE(a, head, i);
        CHECK(head, 1, 3);
        LIST_FOREACH_SAFE(a, i, n, head)
                LIST_REMOVE(a, head, i);
        check(head, NULL, 0);
}

Test(list, two_lists_through_one_element) {
        Item it[3] = { { .value = 0 }, { .value = 1 }, { .value = 2 } };
        LIST_HEAD(Item, la) = NULL;
        LIST_HEAD(Item, lb) = NULL;
        for (int i = 0; i < 3; i++) {
                LIST_APPEND(a, la, &it[i]);
                LIST_PREPEND(b, lb, &it[i]);
        }
        LIST_REMOVE(b, lb, &it[1]);
        /* The other list is untouched. */
        CHECK(la, 0, 1, 2);
        int k = 0;
        const int want[] = { 2, 0 };
        LIST_FOREACH(b, i, lb)
                cr_assert_eq(i->value, want[k++]);
        cr_assert_eq(k, 2);
        cr_assert_eq(LIST_TAIL(b, lb), &it[0]);
}
