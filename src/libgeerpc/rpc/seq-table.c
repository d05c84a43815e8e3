/* SPDX-License-Identifier: MIT */
#include "rpc/seq-table.h"

#define SEQ_TABLE_MIN_BUCKETS 64

static int grow(SeqTable *t) {
        size_t nb = t->n_buckets ? t->n_buckets * 2 : SEQ_TABLE_MIN_BUCKETS;
        SeqNode **b = calloc(nb, sizeof *b);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_buckets; i++)
                for (SeqNode *n = t->buckets[i], *next; n; n = next) {
                        next = n->next;
                        size_t h = n->seq & (nb - 1);
                        n->next = b[h];
                        b[h] = n;
                }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = nb;
        return 0;
}

int seq_table_put(SeqTable *t, SeqNode *n) {
        if (t->n >= t->n_buckets) {
                int r = grow(t);
                if (r < 0)
                        return r;
        }
        size_t h = n->seq & (t->n_buckets - 1);
        n->next = t->buckets[h];
        t->buckets[h] = n;
        t->n++;
        return 0;
}

SeqNode *seq_table_remove(SeqTable *t, uint64_t seq) {
        if (t->n_buckets == 0)
                return NULL;
        for (SeqNode **i = &t->buckets[seq & (t->n_buckets - 1)]; *i; i = &(*i)->next)
                if ((*i)->seq == seq) {
                        SeqNode *n = *i;
                        *i = n->next;
                        n->next = NULL;
                        t->n--;
                        return n;
                }
        return NULL;
}

SeqNode *seq_table_steal_all(SeqTable *t) {
        SeqNode *list = NULL;
        for (size_t i = 0; i < t->n_buckets; i++)
                while (t->buckets[i]) {
                        SeqNode *n = t->buckets[i];
                        t->buckets[i] = n->next;
                        n->next = list;
                        list = n;
                }
        t->n = 0;
        return list;
}

void seq_table_done(SeqTable *t) {
        free(t->buckets);
        *t = (SeqTable) {};
}
