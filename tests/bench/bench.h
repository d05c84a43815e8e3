/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared pieces of geerpc-bench. */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef struct Srv Srv;

double bench_percentile(uint64_t *v, size_t n, double p);
double bench_median(double *v, size_t n);
void bench_server_start(Srv **ret);
const char *bench_server_address(Srv *s);
void bench_server_stop(Srv *s);
/* calls/s of `threads` callers for `duration`. */
double bench_concurrent(void *target, int (*call)(void *, json_int_t, json_int_t), int threads, usec_t duration);

/* bench-registry.c: GET (100 servers registered) and POST heartbeats per
 * second against a geeregistry process, `threads` keep-alive connections. */
int bench_registry(unsigned long rounds, usec_t duration, int threads, double *ret_get, double *ret_post,
                   unsigned long *ret_failed);
