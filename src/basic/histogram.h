/* SPDX-License-Identifier: MIT */
#pragma once

/* Counters and latency histograms that a hot path bumps and any thread may
 * read. Every update is one relaxed atomic add: no lock, no ordering with
 * anything else (a reader sees each number torn-free, not a consistent
 * snapshot of several; the metrics do not need one). */

#include <stdatomic.h>

#include "basic/macro.h"

typedef atomic_uint_fast64_t Counter;

static inline void counter_add(Counter *c, uint64_t n) {
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
static inline void counter_inc(Counter *c) {
        counter_add(c, 1);
}
static inline uint64_t counter_get(const Counter *c) {
        return atomic_load_explicit((Counter *) c, memory_order_relaxed);
}

/* Upper bounds of the latency buckets, 10 µs to 30 s: loopback calls take
 * tens of microseconds, a handler that blocks may take seconds. Durations
 * are nanoseconds: an inline handler may take less than a microsecond, and
 * the sum should not lose it. */
#define HISTOGRAM_BUCKETS 20
extern const uint64_t histogram_bounds_nsec[HISTOGRAM_BUCKETS];

typedef struct Histogram {
        /* Per bucket, not cumulative (one add per observation); the last
         * one counts what is above the largest bound. */
        Counter buckets[HISTOGRAM_BUCKETS + 1];
        Counter sum_nsec;
} Histogram;

static inline void histogram_observe(Histogram *h, uint64_t nsec) {
        size_t i = 0;
        /* Fast calls, the common case, stop at the first bounds. */
        while (i < HISTOGRAM_BUCKETS && nsec > histogram_bounds_nsec[i])
                i++;
        counter_inc(&h->buckets[i]);
        counter_add(&h->sum_nsec, nsec);
}

/* A copy with cumulative counts, as Prometheus and the API report them:
 * cumulative[i] = observations <= histogram_bounds_nsec[i]; count = all. */
typedef struct HistogramSnapshot {
        uint64_t cumulative[HISTOGRAM_BUCKETS];
        uint64_t count;
        uint64_t sum_nsec;
} HistogramSnapshot;

void histogram_snapshot(const Histogram *h, HistogramSnapshot *ret);
/* Writes nsec as decimal seconds without trailing zeros ("0.00001", "2.5",
 * "10"), as Prometheus' le labels and sums are written. */
const char *seconds_format(char buf[static 32], uint64_t nsec);
