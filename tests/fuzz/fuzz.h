/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the harnesses (tests/fuzz/meson.build says how they are built
 * and run). A harness defines only LLVMFuzzerTestOneInput(). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding like a crash: say which, then abort so
 * that libFuzzer saves the input (and a replay test fails). */
#define FUZZ_ASSERT(cond)                                                                      \
        do {                                                                                   \
                if (!(cond)) {                                                                 \
                        fprintf(stderr, "fuzz: %s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
                                #cond);                                                        \
                        abort();                                                               \
                }                                                                              \
        } while (0)

/* The library logs what peers do wrong; millions of inputs would drown
 * the fuzzer's own output (GEERPC_LOG_LEVEL still overrides, to debug a
 * crash). */
__attribute__((constructor)) static void fuzz_quiet_logs(void) {
        log_set_max_level(LOG_CRIT);
        log_parse_environment();
}

/* The input as a NUL-terminated string (malloc'd; aborts on OOM). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        FUZZ_ASSERT(s);
        if (size > 0)
                memcpy(s, data, size);
        s[size] = 0;
        return s;
}
