/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry protocol over HTTP (docs/PROTOCOL.md, "Registry"):
 *
 *   POST   /_geerpc_/registry   X-Geerpc-Server: ADDR   register or refresh, with
 *                               [X-Geerpc-Services, X-Geerpc-Weight, X-Geerpc-Labels]
 *   GET    /_geerpc_/registry[?service=NAME]            list (headers; JSON on request)
 *   PATCH  /_geerpc_/registry   X-Geerpc-Server: ADDR   the operator's weight
 *                               X-Geerpc-Weight-Override: N | clear
 *   DELETE /_geerpc_/registry   X-Geerpc-Server: ADDR   deregister
 *   GET    /metrics                                     Prometheus text
 *
 * /_rpc_/registry is an alias; X-Geerpc-Servers and X-rpc-Servers are
 * accepted for the address. What a GET answers is listing.c's. */

#include <microhttpd.h>

#include "listing.h"
#include "registry.h"

#define HANDLERS_PATH "/_geerpc_/registry"
#define HANDLERS_PATH_OLD "/_rpc_/registry"
#define HANDLERS_METRICS_PATH "/metrics"

/* What the responses' headers need at most, for the HTTP server's pool:
 * longer listings go out as raw responses (listing.h). */
#define HANDLERS_RESPONSE_HEADER_ROOM LISTING_RESPONSE_HEADER_ROOM

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
