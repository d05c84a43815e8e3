/* SPDX-License-Identifier: MIT */
#pragma once

/* The RPC server: services with methods, served on sd-event.
 *
 * Conventions for the whole API: functions return >= 0 on success and a
 * negative errno on failure; out-parameters are named ret_*, come last and
 * are only written on success; every type is opaque and reference counted
 * (geerpc_x_unref(NULL) is a no-op and returns NULL). */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <geerpc/defs.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct geerpc_server geerpc_server;

/* A method handler.
 *
 * args: the decoded request body, a borrowed reference (json_incref() it to
 * keep it past the call). userdata: as given to geerpc_server_add_service().
 * On success return >= 0 and set *ret_reply to a new reference (leave it
 * NULL for a JSON null reply). On failure return a negative errno and
 * optionally set *ret_error to a malloc'd text: the caller receives it as
 * the remote error (without one, strerror() of the errno is sent). */
typedef int (*geerpc_method_handler)(json_t *args, void *userdata, json_t **ret_reply, char **ret_error);

enum {
        /* The handler may block (sleep, do I/O, compute for long): it runs on
         * the server's worker pool, never on the I/O loop. Without this flag
         * the handler runs inline on the loop and must return quickly. */
        GEERPC_METHOD_BLOCKING = 1 << 0,
};

/* One method of a service. ABI: `description` came with libgeerpc.so.1
 * (the element size of method tables changed; programs built against
 * libgeerpc.so.0 must be rebuilt, their sources need no change). */
typedef struct geerpc_method {
        const char *name;
        geerpc_method_handler handler;
        unsigned flags;
        /* Optional (NULL: none): one line saying what the method does, for
         * introspection (_geerpc.Describe, /debug/geerpc, geerpcctl
         * describe). Copied at registration; at most
         * GEERPC_METHOD_DESCRIPTION_MAX bytes, no control characters. */
        const char *description;
} geerpc_method;

#define GEERPC_METHOD_DESCRIPTION_MAX 256U

/* The reserved built-in service every server has: _geerpc.Describe
 * (docs/PROTOCOL.md). geerpc_server_add_service() refuses this name. */
#define GEERPC_BUILTIN_SERVICE "_geerpc"

/* Named limits and their defaults. */
#define GEERPC_SERVER_MAX_CONNECTIONS_DEFAULT 4096U
#define GEERPC_SERVER_MAX_PENDING_DEFAULT 1024U /* unanswered calls per connection */
#define GEERPC_SERVER_WORKERS_DEFAULT 64U
/* Connections from one client IP address at once; more are closed as they
 * come. */
#define GEERPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT 256U
/* A connection with nothing in flight and nothing arriving is closed after
 * this long (clients dial again when they need to). */
#define GEERPC_SERVER_IDLE_TIMEOUT_DEFAULT_USEC (5ULL * 60ULL * 1000000ULL)
/* A message that has started to arrive must be complete this long after,
 * and replies, once written, must be read by then: a client that trickles
 * bytes, or reads none, cannot hold a connection for ever. */
#define GEERPC_SERVER_MESSAGE_TIMEOUT_DEFAULT_USEC (30ULL * 1000000ULL)
/* One connection's blocking calls occupy at most 1/GEERPC_SERVER_BLOCKING_SHARE
 * of the workers at once (its others wait their turn), so that one client
 * cannot take every worker from the rest. */
#define GEERPC_SERVER_BLOCKING_SHARE 4U

int geerpc_server_new(geerpc_server **ret);
geerpc_server *geerpc_server_ref(geerpc_server *s);
/* Dropping the last reference closes every connection and listener. A
 * blocking handler still running then is given up to 5 s to return, then
 * detached (its result is discarded). */
geerpc_server *geerpc_server_unref(geerpc_server *s);
/* For __attribute__((cleanup(geerpc_server_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_server, geerpc_server_unref);

/* Registers a service. name and the method table are copied; userdata is
 * borrowed and must outlive the server. -EEXIST if the name is taken (also
 * for GEERPC_BUILTIN_SERVICE), -EINVAL for a name that is not a service
 * name (1 to GEERPC_SERVICE_NAME_MAX ASCII letters, digits or '_';
 * defs.h), a method name that is empty or has a '.', a method without
 * handler, or a description that is too long or holds control characters.
 * Register every service before the server is observed from other threads
 * (geerpc_server_get_*stats()). A registration (registration.h) announces
 * the names of every service added here. */
int geerpc_server_add_service(geerpc_server *s, const char *name, const geerpc_method *methods, size_t n_methods,
                              void *userdata);

/* Attaches to an event loop (NULL: the calling thread's default loop,
 * sd_event_default()). Optional: the first listen call (or
 * geerpc_server_run()) attaches to the default loop otherwise, the same
 * loop a geerpc_registration attaches to by default, so that
 * geerpc_server_run() runs its heartbeats too. A program that serves
 * several servers from threads of their own attaches each to a loop of its
 * own. The loop must be run from one thread only; only geerpc_server_stop()
 * may be called from another thread. */
int geerpc_server_attach_event(geerpc_server *s, sd_event *event, int64_t priority);
/* Borrowed reference, or NULL before the server is attached. */
sd_event *geerpc_server_get_event(geerpc_server *s);

/* Opens and serves a listening socket on an address such as
 * "tcp@127.0.0.1:0", "tcp@[::1]:7001" or "unix@/run/geerpc/foo.sock".
 * ret_address (optional, malloc'd) receives the address actually bound, with
 * the port chosen by the kernel. */
int geerpc_server_listen(geerpc_server *s, const char *address, char **ret_address);
/* Serves a listening socket the caller already has (e.g. from socket
 * activation). On success the server owns fd. */
int geerpc_server_listen_fd(geerpc_server *s, int fd, char **ret_address);

/* Limits; call before serving. 0 restores the default. */
int geerpc_server_set_max_connections(geerpc_server *s, unsigned n);
/* UINT_MAX: no limit per address. */
int geerpc_server_set_max_connections_per_ip(geerpc_server *s, unsigned n);
/* Microseconds; UINT64_MAX: none. */
int geerpc_server_set_idle_timeout(geerpc_server *s, uint64_t usec);
int geerpc_server_set_message_timeout(geerpc_server *s, uint64_t usec);
int geerpc_server_set_max_pending(geerpc_server *s, unsigned n);
int geerpc_server_set_max_message_size(geerpc_server *s, size_t n);
int geerpc_server_set_worker_threads(geerpc_server *s, unsigned n);
/* Blocking calls one connection may have on the workers at once (default:
 * the workers / GEERPC_SERVER_BLOCKING_SHARE, at least 1); the rest of its
 * blocking calls wait, in order, for one of them to finish. */
int geerpc_server_set_max_blocking_per_connection(geerpc_server *s, unsigned n);

/* For a blocking handler, on its worker thread: 1 once nobody waits for
 * its result any more (the connection closed, the call's HandleTimeout
 * passed, the server's stop grace ended), so that it may give up early;
 * whatever it returns then is discarded. 0 otherwise, and outside a
 * blocking handler. */
int geerpc_call_is_cancelled(void);

typedef void (*geerpc_server_stopped_handler)(geerpc_server *s, void *userdata);

/* Graceful stop: stops accepting; the connections it has are still read
 * and answered (one accepted just before may have its request on the way),
 * each closed once quiet (nothing received for 200 ms, nothing in flight);
 * after grace_usec every connection left is closed. Then done (if given)
 * runs on the loop thread. Safe to call from any thread; -EALREADY if a
 * stop is under way. */
int geerpc_server_stop(geerpc_server *s, uint64_t grace_usec, geerpc_server_stopped_handler done, void *userdata);

/* Runs the server's loop until a geerpc_server_stop() completes, then
 * returns 0 (or a negative errno from the loop). */
int geerpc_server_run(geerpc_server *s);

/* HTTP on the RPC port (on by default): every connection whose first bytes
 * are an HTTP request is served by an HTTP server on the same loop:
 * "CONNECT /_geeprc_" (RPC over HTTP, as Go GeeRPC), GET /metrics
 * (Prometheus), GET /debug/geerpc (services, methods, counts; JSON with
 * Accept: application/json or ?format=json). With 0, every connection is
 * RPC, as before. Applies to connections accepted afterwards. */
int geerpc_server_set_http(geerpc_server *s, int enabled);

/* Observability: open connections, calls received but not yet answered.
 * Safe to call from any thread. */
unsigned geerpc_server_get_n_connections(geerpc_server *s);
unsigned geerpc_server_get_n_inflight(geerpc_server *s);

/* How a call ended, as counted by the statistics below and as the "code"
 * label of geerpc_server_calls_total in /metrics. */
typedef enum geerpc_call_code {
        GEERPC_CALL_OK,              /* "ok": the handler succeeded */
        GEERPC_CALL_ERROR,           /* "error": the handler returned an error */
        GEERPC_CALL_TIMEOUT,         /* "timeout": answered "request handle timeout" */
        GEERPC_CALL_BAD_REQUEST,     /* "bad_request": ill-formed name, unreadable body */
        GEERPC_CALL_UNKNOWN_SERVICE, /* "unknown_service" */
        GEERPC_CALL_UNKNOWN_METHOD,  /* "unknown_method" */
        GEERPC_CALL_UNAVAILABLE,     /* "unavailable": worker queue full, no threads, no memory */
        GEERPC_CALL_CANCELED,        /* "canceled": the connection closed before the handler returned */
        _GEERPC_CALL_CODE_MAX,
} geerpc_call_code;

/* "ok", "error", ... as above; NULL for an unknown code. */
const char *geerpc_call_code_to_string(geerpc_call_code code);

/* Array sizes in the structures below; fixed, so that later codes or
 * buckets do not change the structures' layout. */
#define GEERPC_CALL_CODE_SLOTS 16
#define GEERPC_DURATION_BUCKETS 20

/* A method's numbers since the server was created. Strings are borrowed
 * from the server (valid as long as it is). Every call that reached the
 * method is in calls[] by code; those that ran its handler (ok, error,
 * timeout) are in the duration histogram too: the time from reading the
 * request to queueing the reply, in microseconds. duration_buckets[i]
 * counts the calls that took at most duration_le_usec[i] (cumulative, as
 * Prometheus); duration_count counts them all. */
typedef struct geerpc_method_stats {
        const char *service;
        const char *method;
        const char *description; /* NULL: none */
        unsigned flags;          /* GEERPC_METHOD_BLOCKING, ... */
        uint64_t calls[GEERPC_CALL_CODE_SLOTS]; /* by geerpc_call_code; the rest 0 */
        uint64_t duration_count;
        uint64_t duration_sum_usec;
        uint64_t duration_le_usec[GEERPC_DURATION_BUCKETS];
        uint64_t duration_buckets[GEERPC_DURATION_BUCKETS];
} geerpc_method_stats;

/* The numbers of Service.Method; -ENOENT if there is no such method. May
 * be called from any thread: the counters are atomic, each read on its
 * own (a snapshot taken while calls run may be off by the calls running). */
int geerpc_server_get_method_stats(geerpc_server *s, const char *service, const char *method,
                                   geerpc_method_stats *ret);
/* The same for the index-th method, counting through every service in
 * registration order (the built-in service first): index 0, 1, ... until
 * -ENOENT. */
int geerpc_server_get_method_stats_by_index(geerpc_server *s, size_t index, geerpc_method_stats *ret);

/* The server's numbers. calls[] counts every call by code, including
 * those to unknown services and methods (which no method's stats hold). */
typedef struct geerpc_server_stats {
        uint64_t connections;      /* open RPC connections, those not yet told apart included */
        uint64_t http_connections; /* open HTTP connections */
        uint64_t in_flight;        /* calls received, not yet answered */
        uint64_t bytes_received;   /* on RPC connections, CONNECT handshakes included */
        uint64_t bytes_sent;
        uint64_t calls[GEERPC_CALL_CODE_SLOTS];
} geerpc_server_stats;

int geerpc_server_get_stats(geerpc_server *s, geerpc_server_stats *ret);

#ifdef __cplusplus
}
#endif
