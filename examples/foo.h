/* SPDX-License-Identifier: MIT */
#pragma once

/* Service Foo, exactly as in the Go original: Sum adds Num1 and Num2; Sleep
 * sleeps Num1 seconds (on a worker thread), then adds. */

#include <geerpc/server.h>

/* Named limit: Foo.Sleep refuses to hold a worker longer than this. */
#define FOO_SLEEP_MAX_SECONDS 3600

int foo_register(geerpc_server *s);
