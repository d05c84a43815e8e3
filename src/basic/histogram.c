/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "basic/histogram.h"

#define US(n) ((uint64_t) (n) * NSEC_PER_USEC)
#define MS(n) ((uint64_t) (n) * NSEC_PER_USEC * 1000)

const uint64_t histogram_bounds_nsec[HISTOGRAM_BUCKETS] = {
        US(10), US(25), US(50), US(100), US(250), US(500),
        MS(1), US(2500), MS(5), MS(10), MS(25), MS(50), MS(100), MS(250), MS(500),
        MS(1000), MS(2500), MS(5000), MS(10000), MS(30000),
};

void histogram_snapshot(const Histogram *h, HistogramSnapshot *ret) {
        uint64_t total = 0;
        for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
                total += counter_get(&h->buckets[i]);
                ret->cumulative[i] = total;
        }
        ret->count = total + counter_get(&h->buckets[HISTOGRAM_BUCKETS]);
        ret->sum_nsec = counter_get(&h->sum_nsec);
}

const char *seconds_format(char buf[static 32], uint64_t nsec) {
        uint64_t whole = nsec / NSEC_PER_SEC, frac = nsec % NSEC_PER_SEC;
        if (frac == 0) {
                snprintf(buf, 32, "%" PRIu64, whole);
                return buf;
        }
        int digits = 9;
        while (frac % 10 == 0) {
                frac /= 10;
                digits--;
        }
        snprintf(buf, 32, "%" PRIu64 ".%0*" PRIu64, whole, digits, frac);
        return buf;
}
