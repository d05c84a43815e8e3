/* SPDX-License-Identifier: MIT */
#pragma once

/* geerpcctl describe [SERVICE] and geerpcctl list: what servers serve,
 * asked of each with the built-in _geerpc.Describe. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/macro.h"

typedef struct DescribeArgs {
        const char *service; /* NULL: every service */
        bool list;           /* list: SERVICE.METHOD lines, each once */
        bool json;
        usec_t deadline;     /* CLOCK_MONOTONIC; USEC_INFINITY: none */
        /* How an error reads (geerpcctl's texts). */
        const char *(*error_text)(int r, const char *remote);
} DescribeArgs;

/* Asks every server in turn and prints what they said. Returns 0 when
 * all answered; the errno of the last server that could not be reached;
 * else -EREMOTEIO when one answered with an error (no such service, or no
 * _geerpc service: not a geerpc server). */
int describe_servers(const DescribeArgs *a, char *const *servers, size_t n);
