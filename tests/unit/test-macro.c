/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "basic/macro.h"

static int calls;
static int next_value(void) {
        return ++calls;
}

Test(macro, in_set) {
        cr_assert(IN_SET(3, 1, 2, 3));
        cr_assert(IN_SET(1, 1));
        cr_assert_not(IN_SET(4, 1, 2, 3));
        cr_assert_not(IN_SET(-1, 1));
        /* x is evaluated once. */
        calls = 0;
        cr_assert(IN_SET(next_value(), 5, 1));
        cr_assert_eq(calls, 1);
        enum { A, B, C } e = C;
        cr_assert(IN_SET(e, B, C));
        cr_assert_not(IN_SET(e, A, B));
}
