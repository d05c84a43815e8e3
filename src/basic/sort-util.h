/* SPDX-License-Identifier: MIT */
#pragma once

/* Searching sorted arrays. */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* For qsort(3) of an array of strings. */
static inline int strptr_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Compares a key with an array element, as for bsearch(3): < 0 when the
 * key sorts before the element, 0 when equal, > 0 after. */
typedef int (*search_compare_t)(const void *key, const void *element);

/* Binary search in base[0..n) (each element size bytes, sorted by cmp):
 * returns the index of the first element that is not less than key, which
 * is also where key goes to keep the array sorted (n when every element is
 * less). *ret_found (optional) tells whether that element equals key.
 *
 * Inline, so that the compiler can inline cmp too: the xclient looks its
 * connection up on every call. */
static inline size_t sorted_search(const void *key, const void *base, size_t n, size_t size, search_compare_t cmp,
                                   bool *ret_found) {
        size_t lo = 0, hi = n;
        bool found = false;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = cmp(key, (const char *) base + mid * size);
                if (c > 0)
                        lo = mid + 1;
                else {
                        /* Equal elements are contiguous: the first one is
                         * at or before mid, where the search converges. */
                        found = found || c == 0;
                        hi = mid;
                }
        }
        if (ret_found)
                *ret_found = found;
        return lo;
}
