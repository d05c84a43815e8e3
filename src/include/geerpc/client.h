/* SPDX-License-Identifier: MIT */
#pragma once

/* The RPC client: one connection to one server, safe to share between
 * threads. Calls are matched to replies by sequence number, so many calls
 * may be in flight at once and complete in any order.
 *
 * A call's outcome is one of:
 *   - 0: success; *ret_reply holds the reply (a new reference);
 *   - -EREMOTEIO: the server answered with an error; *ret_error holds its
 *     text (malloc'd), e.g. "rpc server: can't find service Foo";
 *   - another negative errno: a local failure: -ETIMEDOUT (the call's
 *     deadline passed), -ECONNRESET/-EPIPE (the connection broke; every
 *     pending call fails at once), -ESHUTDOWN (the client was closed),
 *     -ECANCELED (geerpc_client_cancel()), -EBADMSG (undecodable reply),
 *     -EBUSY (too many calls pending), -EINVAL (bad arguments). */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <geerpc/defs.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct geerpc_client geerpc_client;

#define GEERPC_CONNECT_TIMEOUT_DEFAULT_USEC (10ULL * 1000000ULL) /* as Go's DefaultOption */
#define GEERPC_CLIENT_MAX_PENDING_DEFAULT 65536U

/* A client that is not connected yet, so that options can be set. */
int geerpc_client_new(geerpc_client **ret);
/* "application/json" (the default). -EPROTONOSUPPORT for others. */
int geerpc_client_set_codec(geerpc_client *c, const char *codec_type);
/* Bounds dial + Option. 0: no bound. */
int geerpc_client_set_connect_timeout(geerpc_client *c, uint64_t usec);
/* Sent in the Option: the server answers a call whose handler runs longer
 * with "rpc server: request handle timeout: expect within ...". 0: none. */
int geerpc_client_set_handle_timeout(geerpc_client *c, uint64_t usec);
int geerpc_client_set_max_message_size(geerpc_client *c, size_t n);
int geerpc_client_set_max_pending(geerpc_client *c, unsigned n);
/* Dials "tcp@host:port", "tcp@[::1]:port" or "unix@/path" and sends the
 * Option. "http@host:port" dials TCP and sends "CONNECT /_geeprc_
 * HTTP/1.0" first, as Go GeeRPC's DialHTTP (a server answering anything
 * but 200: -ECONNREFUSED; not HTTP: -EBADMSG). -ETIMEDOUT past the
 * connect timeout, which bounds the handshake too. */
int geerpc_client_connect(geerpc_client *c, const char *address);

/* geerpc_client_new() + geerpc_client_connect() with default options. */
int geerpc_client_dial(geerpc_client **ret, const char *address);

geerpc_client *geerpc_client_ref(geerpc_client *c);
/* The last reference closes the connection (pending calls fail with
 * -ESHUTDOWN) and waits for the client's event thread to finish. */
geerpc_client *geerpc_client_unref(geerpc_client *c);
/* For __attribute__((cleanup(geerpc_client_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_client, geerpc_client_unref);

/* Calls service_method ("Service.Method") with args (borrowed; NULL sends
 * JSON null) and waits for the reply for at most timeout_usec (0: no
 * deadline). See above for the outcome; ret_reply and ret_error may be
 * NULL when the caller does not want them. */
int geerpc_client_call(geerpc_client *c, const char *service_method, json_t *args, uint64_t timeout_usec,
                       json_t **ret_reply, char **ret_error);

/* Completion of an asynchronous call, run on the client's event thread.
 * reply and error are borrowed: valid only during the callback. r is the
 * outcome as for geerpc_client_call(). */
typedef void (*geerpc_call_handler)(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata);

/* Starts a call and returns at once; handler runs exactly once, when the
 * reply arrives, the deadline passes, the call is cancelled or the
 * connection breaks. ret_id (optional) identifies it for cancel. If the
 * call cannot be started, a negative errno is returned and handler is not
 * called. */
int geerpc_client_call_async(geerpc_client *c, const char *service_method, json_t *args, uint64_t timeout_usec,
                             geerpc_call_handler handler, void *userdata, uint64_t *ret_id);
/* Completes a pending call with -ECANCELED. -ENOENT if it is not pending
 * (already complete). */
int geerpc_client_cancel(geerpc_client *c, uint64_t id);

/* Closes the connection: pending calls fail with -ESHUTDOWN. */
int geerpc_client_close(geerpc_client *c);
/* 1 while the connection is usable, 0 once it is closed or broken. */
int geerpc_client_is_available(geerpc_client *c);
/* The address dialled, or NULL. Borrowed. */
const char *geerpc_client_get_address(geerpc_client *c);

#ifdef __cplusplus
}
#endif
