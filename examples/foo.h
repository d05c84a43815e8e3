/* SPDX-License-Identifier: MIT */
#pragma once

/* Service Foo, as in the Go original: Sum adds Num1 and Num2; Sleep sleeps
 * Num1 seconds (on a worker thread), then adds; unlike the original, Sleep
 * gives up when nobody waits for it any more. */

#include <geerpc/server.h>

/* Named limit: Foo.Sleep refuses to hold a worker longer than this. */
#define FOO_SLEEP_MAX_SECONDS 3600
/* Foo.Sleep looks this often whether its call was cancelled
 * (geerpc_call_is_cancelled()), and if so returns -ECANCELED at once. */
#define FOO_SLEEP_SLICE_MS 100

int foo_register(geerpc_server *s);
