/* SPDX-License-Identifier: MIT */
#pragma once

/* What a GET of the registry answers, for every server or one service
 * (?service=NAME: the servers offering it, and those whose services are
 * unknown):
 *
 *   - the header listing, X-Geerpc-Servers and X-rpc-Servers, the only
 *     thing Go GeeRPC clients read: the servers that may be chosen (weight
 *     > 0), sorted, comma-joined. A plain GET gets all of them up to
 *     LISTING_HEADER_MAX; a list longer than fits libmicrohttpd's
 *     per-connection pool (LISTING_HEADER_INLINE_MAX) is written as a raw
 *     response (http-server.h) that closes the connection;
 *   - with Accept: application/json, the JSON body with every listed
 *     server, draining ones included, and what the registry knows of
 *     each; its headers are cut at LISTING_HEADER_INLINE_MAX.
 *
 * Both answers are cached per service (the last LISTING_CACHE_MAX services
 * asked for) until the table's generation changes (a server added,
 * removed, its metadata or an override changed); the JSON answer, whose
 * ages grow old, also once it is LISTING_JSON_MAX_AGE_USEC old. Rendering
 * 65,536 servers takes tens of milliseconds of the registry's only
 * thread: every GET in between shares one rendering (MHD reference-counts
 * responses, so one still being sent outlives its replacement). */

#include <microhttpd.h>

#include "http/http-server.h"
#include "registry.h"

/* Named limits. A listing header carries at most LISTING_HEADER_MAX bytes
 * of addresses, cut after a whole address (X-Geerpc-Servers-Truncated: 1
 * says so): 16 MiB holds 65,536 (--max-servers' default) addresses of the
 * longest kind (255 bytes). Go's HTTP client reads at most 10 MiB of
 * response headers by default (http.Transport.MaxResponseHeaderBytes),
 * 100,000 addresses of 50 bytes in the two headers. */
#define LISTING_HEADER_MAX (16U * 1024U * 1024U)
/* Up to this the answer goes through libmicrohttpd (keep-alive) and what
 * the JSON answer's headers carry; it sizes MHD's per-connection pool. */
#define LISTING_HEADER_INLINE_MAX (32U * 1024U)
#define LISTING_RESPONSE_HEADER_ROOM (2 * LISTING_HEADER_INLINE_MAX + 1024U)
#define LISTING_CACHE_MAX 16U
/* The JSON listing's "age_ms" are as of its rendering, at most this old. */
#define LISTING_JSON_MAX_AGE_USEC (1 * USEC_PER_SEC)

typedef struct Listing Listing;

int listing_new(Listing **ret, Registry *registry);
Listing *listing_free(Listing *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Listing *, listing_free);

/* A plain GET for service (NULL: every server; a valid name otherwise):
 * either *ret_response (borrowed from the cache: queue it, do not destroy
 * it) or *ret_raw (a new reference). */
int listing_plain(Listing *l, const char *service, struct MHD_Response **ret_response, HttpRaw **ret_raw);
/* A JSON GET for service: borrowed from the cache (queue it, do not
 * destroy it); NULL when out of memory. */
struct MHD_Response *listing_json(Listing *l, const char *service);
