/* SPDX-License-Identifier: MIT */
#pragma once

/* Service Echo: Echo.Echo returns its argument unchanged (any JSON value),
 * for tests of routing by service and of payload sizes, and benchmarks. */

#include <geerpc/server.h>

int echo_register(geerpc_server *s);
