/* SPDX-License-Identifier: MIT */
#pragma once

/* Pending calls by sequence number: an intrusive chained hash table. The
 * client's sequence numbers are consecutive, so the low bits spread well. */

#include "basic/macro.h"

typedef struct SeqNode {
        uint64_t seq;
        struct SeqNode *next;
} SeqNode;

typedef struct SeqTable {
        SeqNode **buckets;
        size_t n_buckets; /* a power of two */
        size_t n;
} SeqTable;

int seq_table_put(SeqTable *t, SeqNode *n);
SeqNode *seq_table_remove(SeqTable *t, uint64_t seq);
/* Empties the table; returns its nodes as a list linked through next. */
SeqNode *seq_table_steal_all(SeqTable *t);
void seq_table_done(SeqTable *t);
