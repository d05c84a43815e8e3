/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry protocol over HTTP (docs/PROTOCOL.md, "Registry"):
 *
 *   POST   /_geerpc_/registry   X-Geerpc-Server: ADDR   register or refresh
 *   GET    /_geerpc_/registry                           list (headers; JSON on request)
 *   DELETE /_geerpc_/registry   X-Geerpc-Server: ADDR   deregister
 *   GET    /metrics                                     Prometheus text
 *
 * /_rpc_/registry is an alias; X-Geerpc-Servers and X-rpc-Servers are
 * accepted for the address. */

#include <microhttpd.h>

#include "registry.h"

#define HANDLERS_PATH "/_geerpc_/registry"
#define HANDLERS_PATH_OLD "/_rpc_/registry"
#define HANDLERS_METRICS_PATH "/metrics"

/* Named limit: the listing in each response header is cut after the last
 * whole address that fits (X-Geerpc-Servers-Truncated: 1 says so); the
 * JSON body (Accept: application/json) always has every server. HTTP
 * clients cap header sizes (libcurl at 100 KiB per header). */
#define HANDLERS_LIST_HEADER_MAX (32U * 1024U)
/* The JSON listing is rendered once for every GET until the set of
 * servers changes or it is this old (its "age_ms" are as of then). */
#define HANDLERS_JSON_MAX_AGE_USEC (1 * USEC_PER_SEC)
/* What the responses' headers need at most, for the HTTP server's pool. */
#define HANDLERS_RESPONSE_HEADER_ROOM (2 * HANDLERS_LIST_HEADER_MAX + 1024U)

/* Rejections are logged at most this many times per interval. */
#define HANDLERS_REJECT_LOG_BURST 20U
#define HANDLERS_REJECT_LOG_INTERVAL_USEC (1 * USEC_PER_SEC)

typedef struct Handlers Handlers;

int handlers_new(Handlers **ret, Registry *registry);
Handlers *handlers_free(Handlers *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Handlers *, handlers_free);

/* For metrics: the HTTP connection count comes from the server. */
void handlers_set_connection_counter(Handlers *h, unsigned (*count)(void *userdata), void *userdata);

/* http_handler_t and http_refused_t (userdata: the Handlers). */
enum MHD_Result handlers_dispatch(struct MHD_Connection *c, const char *method, const char *url, void *userdata);
void handlers_refused(struct MHD_Connection *c, const char *method, unsigned status, void *userdata);
