/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/sort-util.h"

static int cmp_int(const void *key, const void *element) {
        int a = *(const int *) key, b = *(const int *) element;
        return a < b ? -1 : a > b;
}

static int cmp_str(const void *key, const void *element) {
        return strcmp(key, *(const char *const *) element);
}

static size_t search_int(const int *v, size_t n, int key, bool *found) {
        return sorted_search(&key, v, n, sizeof *v, cmp_int, found);
}

Test(sorted_search, empty_array) {
        bool found = true;
        cr_assert_eq(sorted_search(&(int) { 1 }, NULL, 0, sizeof(int), cmp_int, &found), 0);
        cr_assert_not(found);
}

Test(sorted_search, every_position) {
        const int v[] = { 10, 20, 30, 40, 50 };
        bool found;
        for (size_t i = 0; i < 5; i++) {
                cr_assert_eq(search_int(v, 5, v[i], &found), i);
                cr_assert(found);
                /* Just below: the same slot, not found. */
                cr_assert_eq(search_int(v, 5, v[i] - 1, &found), i);
                cr_assert_not(found);
        }
        cr_assert_eq(search_int(v, 5, 51, &found), 5, "past the end: n");
        cr_assert_not(found);
        cr_assert_eq(search_int(v, 5, 0, NULL), 0, "ret_found is optional");
}

Test(sorted_search, duplicates_give_the_first) {
        const int v[] = { 1, 2, 2, 2, 2, 2, 3, 3, 9 };
        bool found;
        cr_assert_eq(search_int(v, 9, 2, &found), 1);
        cr_assert(found);
        cr_assert_eq(search_int(v, 9, 3, &found), 6);
        cr_assert(found);
        cr_assert_eq(search_int(v, 9, 4, &found), 8);
        cr_assert_not(found);
}

Test(sorted_search, every_length_every_key) {
        /* Odd and even lengths, keys before, on and between elements. */
        int v[64];
        for (size_t n = 0; n <= 64; n++) {
                for (size_t i = 0; i < n; i++)
                        v[i] = (int) i * 2;
                for (int key = -1; key <= (int) n * 2; key++) {
                        bool found;
                        size_t want = key < 0 ? 0 : (size_t) (key + 1) / 2;
                        cr_assert_eq(search_int(v, n, key, &found), want, "n=%zu key=%d", n, key);
                        cr_assert_eq(found, key >= 0 && key % 2 == 0 && (size_t) key < n * 2, "n=%zu key=%d", n, key);
                }
        }
}

Test(sorted_search, strings) {
        const char *v[] = { "tcp@127.0.0.1:1", "tcp@127.0.0.1:2", "unix@/run/x.sock" };
        bool found;
        cr_assert_eq(sorted_search("tcp@127.0.0.1:2", v, 3, sizeof v[0], cmp_str, &found), 1);
        cr_assert(found);
        cr_assert_eq(sorted_search("tcp@127.0.0.1:10", v, 3, sizeof v[0], cmp_str, &found), 1);
        cr_assert_not(found);
        cr_assert_eq(sorted_search("zzz", v, 3, sizeof v[0], cmp_str, &found), 3);
        cr_assert_not(found);
}

Test(strptr_compare, sorts_strings_and_finds_them) {
        const char *v[] = { "b", "a", "c", "ab" };
        qsort(v, 4, sizeof v[0], strptr_compare);
        cr_assert_str_eq(v[0], "a");
        cr_assert_str_eq(v[1], "ab");
        cr_assert_str_eq(v[2], "b");
        cr_assert_str_eq(v[3], "c");
}
