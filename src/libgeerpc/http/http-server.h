/* SPDX-License-Identifier: MIT */
#pragma once

/* libmicrohttpd driven by an sd-event loop.
 *
 * One MHD daemon per listening socket, each in "external polling" mode
 * with epoll (MHD_USE_EPOLL | MHD_USE_ITC, no thread of its own): MHD's
 * epoll fd is an sd-event io source, a time source follows
 * MHD_get_timeout(), and MHD_run() is called on either. Everything runs on
 * the loop's thread.
 *
 * Sockets handed in by systemd are never closed or shut down here: the
 * daemon is quiesced (it gives the socket back) before it is stopped. */

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"

/* Named limits, each with a flag in geeregistry. */
#define HTTP_CONNECTIONS_MAX_DEFAULT 1024U
#define HTTP_CONNECTIONS_PER_IP_MAX_DEFAULT 256U
/* No byte at all for this long: MHD closes the connection. */
#define HTTP_IDLE_TIMEOUT_DEFAULT_USEC (60 * USEC_PER_SEC)
/* A request's complete headers must arrive within this time of the
 * connection opening or of the previous response: a client that trickles
 * a byte now and then (slowloris) defeats an idle timeout, not this. It
 * also bounds how long an idle keep-alive connection stays open. */
#define HTTP_HEADER_TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)
/* Request line plus headers; larger requests get 431. */
#define HTTP_HEADER_SIZE_MAX_DEFAULT (16U * 1024U)
#define HTTP_HEADER_SIZE_MIN 1024U
#define HTTP_HEADER_SIZE_LIMIT (1024U * 1024U)
/* Request bodies are read and thrown away (the protocol has none), up to
 * this size; a larger one gets 413 or the connection is closed. */
#define HTTP_BODY_MAX (64U * 1024U)
/* On stop, connections busy with a request may finish for this long. */
#define HTTP_STOP_GRACE_USEC (5 * USEC_PER_SEC)

typedef struct HttpLimits {
        unsigned max_connections;
        unsigned max_connections_per_ip; /* 0: no limit */
        usec_t idle_timeout;             /* 0: none */
        usec_t header_timeout;           /* 0: none */
        size_t max_header_size;
        size_t response_header_room; /* the largest response headers the handler sends */
} HttpLimits;

#define HTTP_LIMITS_DEFAULT                                                                            \
        ((HttpLimits) { .max_connections = HTTP_CONNECTIONS_MAX_DEFAULT,                               \
                        .max_connections_per_ip = HTTP_CONNECTIONS_PER_IP_MAX_DEFAULT,                 \
                        .idle_timeout = HTTP_IDLE_TIMEOUT_DEFAULT_USEC,                                \
                        .header_timeout = HTTP_HEADER_TIMEOUT_DEFAULT_USEC,                            \
                        .max_header_size = HTTP_HEADER_SIZE_MAX_DEFAULT })

/* Called once per request, once its headers have arrived and its body (if
 * any) has been discarded. It must queue a response (MHD_queue_response)
 * and return its result; returning MHD_NO closes the connection. */
typedef enum MHD_Result (*http_handler_t)(struct MHD_Connection *c, const char *method, const char *url,
                                          void *userdata);
/* Called when an answer did not come from the handler: the server's own
 * 413 and 431 replies (for counting). */
typedef void (*http_refused_t)(struct MHD_Connection *c, const char *method, unsigned status, void *userdata);

typedef struct HttpServer HttpServer;

/* Queues a response: body (size bytes, copied) with its Content-Type
 * (NULL: none) and extra headers (NULL-terminated name, value pairs; may be
 * NULL). Returns MHD_queue_response()'s result. */
enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *content_type, const void *body,
                             size_t size, const char *const *headers);

int http_server_new(HttpServer **ret, sd_event *event, const HttpLimits *limits, http_handler_t handler,
                    http_refused_t refused, void *userdata);
/* Stops every daemon at once (connections are closed). */
HttpServer *http_server_free(HttpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, http_server_free);

/* Serves a listening socket. owned: close it when done (false for sockets
 * from systemd). On failure an owned fd is closed. */
int http_server_add_listener(HttpServer *s, int fd, bool owned);
/* Serves a connection accepted elsewhere whose first bytes (still unread)
 * were found to be HTTP: the RPC server's port. One daemon without a
 * listening socket of its own (MHD_USE_NO_LISTEN_SOCKET) takes all of
 * them, under the same limits. The socket belongs to MHD from here on and
 * is closed by it, on failure too (e.g. past the connection limits). */
int http_server_add_connection(HttpServer *s, int fd);

/* Open connections; may be called from any thread. */
unsigned http_server_n_connections(HttpServer *s);

/* Graceful stop: stops accepting, closes connections that wait for a
 * request, lets the others finish their response (for at most
 * HTTP_STOP_GRACE_USEC), then calls done once. */
typedef void (*http_stopped_t)(HttpServer *s, void *userdata);
int http_server_stop(HttpServer *s, http_stopped_t done, void *userdata);
