/* SPDX-License-Identifier: MIT */
#pragma once

/* libgeerpc: the GeeRPC framework in C.
 *
 *   geerpc/server.h   the RPC server (services, sd-event loop, worker pool)
 *   geerpc/client.h   the RPC client (blocking and asynchronous calls)
 *   geerpc/discovery.h  service discovery: static lists, the registry
 *   geerpc/xclient.h  the load-balancing client, broadcast
 *   geerpc/registration.h  keeping a server registered (heartbeats)
 *   geerpc/log.h      the log level
 *
 * Build with: pkg-config --cflags --libs geerpc */

#include <geerpc/defs.h>
#include <geerpc/log.h>
#include <geerpc/server.h>
#include <geerpc/client.h>
#include <geerpc/discovery.h>
#include <geerpc/xclient.h>
#include <geerpc/registration.h>
