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

typedef struct geerpc_method {
        const char *name;
        geerpc_method_handler handler;
        unsigned flags;
} geerpc_method;

/* Named limits and their defaults. */
#define GEERPC_SERVER_MAX_CONNECTIONS_DEFAULT 4096U
#define GEERPC_SERVER_MAX_PENDING_DEFAULT 1024U /* unanswered calls per connection */
#define GEERPC_SERVER_WORKERS_DEFAULT 64U

int geerpc_server_new(geerpc_server **ret);
geerpc_server *geerpc_server_ref(geerpc_server *s);
/* Dropping the last reference closes every connection and listener. A
 * blocking handler still running then is given up to 5 s to return, then
 * detached (its result is discarded). */
geerpc_server *geerpc_server_unref(geerpc_server *s);
/* For __attribute__((cleanup(geerpc_server_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_server, geerpc_server_unref);

/* Registers a service. name and the method table are copied; userdata is
 * borrowed and must outlive the server. -EEXIST if the name is taken,
 * -EINVAL for a name that is not a service name (1 to
 * GEERPC_SERVICE_NAME_MAX ASCII letters, digits or '_'; defs.h), a method
 * name that is empty or has a '.', or a method without handler. A
 * registration (registration.h) announces the names of every service added
 * here. */
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
int geerpc_server_set_max_pending(geerpc_server *s, unsigned n);
int geerpc_server_set_max_message_size(geerpc_server *s, size_t n);
int geerpc_server_set_worker_threads(geerpc_server *s, unsigned n);

typedef void (*geerpc_server_stopped_handler)(geerpc_server *s, void *userdata);

/* Graceful stop: stops accepting and reading new requests, lets in-flight
 * calls finish and their replies drain for up to grace_usec, then closes
 * every connection and calls done (if given) on the loop thread. Safe to
 * call from any thread; -EALREADY if a stop is under way. */
int geerpc_server_stop(geerpc_server *s, uint64_t grace_usec, geerpc_server_stopped_handler done, void *userdata);

/* Runs the server's loop until a geerpc_server_stop() completes, then
 * returns 0 (or a negative errno from the loop). */
int geerpc_server_run(geerpc_server *s);

/* Observability: open connections, calls received but not yet answered.
 * Safe to call from any thread. */
unsigned geerpc_server_get_n_connections(geerpc_server *s);
unsigned geerpc_server_get_n_inflight(geerpc_server *s);

#ifdef __cplusplus
}
#endif
