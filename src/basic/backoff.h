/* SPDX-License-Identifier: MIT */
#pragma once

/* Exponential backoff with jitter, for every retry loop (heartbeats, the
 * xclient's ejected servers). */

#include "basic/macro.h"

/* initial, doubling with each failure (failures >= 1), capped at max, then
 * spread over [0.8, 1.2) of its value (jitter01 in [0, 1)) so that peers
 * that failed together do not come back in lockstep; never above max. */
static inline usec_t backoff_delay(usec_t initial, usec_t max, unsigned failures, double jitter01) {
        unsigned shift = failures > 0 ? MIN(failures - 1, 30U) : 0;
        usec_t d = MIN(initial << shift, max);
        d = (usec_t) ((double) d * (0.8 + 0.4 * jitter01));
        return MIN(MAX(d, (usec_t) 1), max);
}

/* A uniform number in [0, 1) for the jitter. */
static inline double backoff_jitter(void) {
        return (double) arc4random() / 4294967296.0;
}
