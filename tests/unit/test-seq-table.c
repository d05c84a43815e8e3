/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "rpc/seq-table.h"

Test(seq_table, put_remove_many) {
        SeqTable t = {};
        enum { N = 10000 };
        SeqNode *nodes = calloc(N, sizeof *nodes);
        for (size_t i = 0; i < N; i++) {
                nodes[i].seq = i * 7 + 1;
                cr_assert_eq(seq_table_put(&t, &nodes[i]), 0);
        }
        cr_assert_eq(t.n, N);
        for (size_t i = 0; i < N; i += 2)
                cr_assert_eq(seq_table_remove(&t, i * 7 + 1), &nodes[i]);
        cr_assert_null(seq_table_remove(&t, 2)); /* never there */
        cr_assert_null(seq_table_remove(&t, 1)); /* already removed */
        cr_assert_eq(t.n, N / 2);

        size_t k = 0;
        for (SeqNode *n = seq_table_steal_all(&t); n; n = n->next) {
                cr_assert_eq((n->seq - 1) / 7 % 2, 1);
                k++;
        }
        cr_assert_eq(k, N / 2);
        cr_assert_eq(t.n, 0);
        seq_table_done(&t);
        free(nodes);
}

Test(seq_table, empty) {
        SeqTable t = {};
        cr_assert_null(seq_table_remove(&t, 1));
        cr_assert_null(seq_table_steal_all(&t));
        seq_table_done(&t);
}
