/* SPDX-License-Identifier: MIT */
#pragma once

/* Thin wrappers around futex(2), for waits that should not pay for a
 * mutex re-acquire on wake-up (the client's per-call waits). */

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include "basic/macro.h"

/* Sleeps while *word == expected, until woken or the CLOCK_MONOTONIC
 * deadline (USEC_INFINITY: none). Spurious returns are possible: callers
 * re-check their condition. */
static inline void futex_wait_until(atomic_uint *word, unsigned expected, usec_t deadline) {
        struct timespec ts, *tsp = NULL;
        if (deadline != USEC_INFINITY) {
                ts.tv_sec = (time_t) (deadline / USEC_PER_SEC);
                ts.tv_nsec = (long) (deadline % USEC_PER_SEC * NSEC_PER_USEC);
                tsp = &ts;
        }
        /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
        (void) syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp, NULL,
                       FUTEX_BITSET_MATCH_ANY);
}

static inline void futex_wake_one(atomic_uint *word) {
        (void) syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}
