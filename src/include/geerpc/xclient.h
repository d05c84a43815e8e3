/* SPDX-License-Identifier: MIT */
#pragma once

/* The load-balancing client (the Go original's XClient): calls go to a
 * server picked from a discovery by a select mode.
 *
 * An xclient keeps one geerpc_client (one connection) per server address
 * and reuses it for every call to that server. A connection found broken
 * (closed by the peer, or a call failed with a connection error) is
 * dropped and dialled again on the next call that picks the server.
 *
 * Thread-safe: any number of threads may call through one xclient at once.
 * Its lock guards only the address -> connection map; it is never held
 * during a dial or a call.
 *
 * Outcomes are those of geerpc_client_call() (client.h), plus discovery's
 * (discovery.h: -ENXIO "rpc discovery: no available servers", -ESTALE, a
 * registry failure) and the dial's (-ECONNREFUSED, -ENOENT for a missing
 * unix socket, -ETIMEDOUT, ...). */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <geerpc/client.h>
#include <geerpc/discovery.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct geerpc_xclient geerpc_xclient;
typedef struct geerpc_broadcast_result geerpc_broadcast_result;

/* Named limits. */
#define GEERPC_XCLIENT_FAILOVER_MAX 64U     /* retries on other servers, per call */
#define GEERPC_XCLIENT_DIAL_PARALLEL_MAX 16U /* concurrent dials in a broadcast */
#define GEERPC_XCLIENT_CODECS_MAX 1024U       /* servers whose codec is remembered */
/* Ejection: a server whose dial failed is passed over for a backoff
 * (1 s, doubling with each failed dial up to 30 s, +-20% jitter); when it
 * ends, one call probes it (the others still pass it over) and a dial that
 * succeeds puts it back. When every server is ejected, calls try the one
 * whose backoff ends first. At most GEERPC_XCLIENT_EJECTED_MAX servers are
 * remembered. */
#define GEERPC_XCLIENT_EJECT_BACKOFF_INITIAL_USEC (1000000ULL)
#define GEERPC_XCLIENT_EJECT_BACKOFF_MAX_USEC (30ULL * 1000000ULL)
#define GEERPC_XCLIENT_EJECTED_MAX 4096U

/* d: a new reference is taken. mode: see discovery.h. */
int geerpc_xclient_new(geerpc_xclient **ret, geerpc_discovery *d, geerpc_select_mode mode);
geerpc_xclient *geerpc_xclient_ref(geerpc_xclient *x);
/* The last reference closes every connection (calls still running on them
 * fail with -ESHUTDOWN). */
geerpc_xclient *geerpc_xclient_unref(geerpc_xclient *x);
/* For __attribute__((cleanup(geerpc_xclient_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_xclient, geerpc_xclient_unref);
/* Closes every connection now; later calls fail with -ESHUTDOWN. */
int geerpc_xclient_close(geerpc_xclient *x);

/* A call whose dial fails (refused, unreachable, timed out: its request was
 * never sent) is always tried on another server of the service, whatever
 * the failover setting, and that server is ejected (above).
 *
 * Failover: when a call's connection breaks after its request was sent, it
 * is retried on another server, up to n times (at most
 * GEERPC_XCLIENT_FAILOVER_MAX). Never on a remote error (-EREMOTEIO) or a
 * deadline (-ETIMEDOUT). Default 0, as the original. Such a call may have
 * run on that server: use failover for idempotent methods. */
int geerpc_xclient_set_failover(geerpc_xclient *x, unsigned n);
/* For the connections this xclient dials (client.h); call before the first
 * call. connect timeout 0: no bound but the call's deadline. */
int geerpc_xclient_set_connect_timeout(geerpc_xclient *x, uint64_t usec);
int geerpc_xclient_set_handle_timeout(geerpc_xclient *x, uint64_t usec);

/* The codec of the connections this xclient dials: GEERPC_CODEC_JSON,
 * GEERPC_CODEC_GOB, or NULL (the default): per server, found out at its
 * first dial and remembered (the last GEERPC_XCLIENT_CODECS_MAX servers):
 * JSON where the server answers in it (every geerpc server), gob where it
 * closes the connection at a JSON Option (Go GeeRPC servers, whose only
 * codec is gob). So a registry listing both kinds works with no setting.
 * Finding out costs the first dial of each server one more round trip
 * (a Go server also logs the JSON Option it refused). Connections already
 * open keep their codec. -EPROTONOSUPPORT for an unknown codec. */
int geerpc_xclient_set_codec(geerpc_xclient *x, const char *codec_type);

/* Picks a server offering the service of service_method ("Foo" of
 * "Foo.Sum"; a server whose services are unknown offers every one) and
 * calls service_method on it, as geerpc_client_call().
 * timeout_usec (0: none) bounds everything: discovery, dial, call and
 * retries. In GEERPC_SELECT_HASH mode use geerpc_xclient_call_full() with
 * a key (this returns -EINVAL there). */
int geerpc_xclient_call(geerpc_xclient *x, const char *service_method, json_t *args, uint64_t timeout_usec,
                        json_t **ret_reply, char **ret_error);

/* geerpc_xclient_call() with a key for GEERPC_SELECT_HASH (ignored by the
 * other modes; may be NULL for them), and ret_server (optional): a
 * malloc'd copy of the address of the server that gave the outcome -- the
 * one that answered, or the last one tried when the call failed. Like
 * ret_error it is written on failure too, whenever a server was picked. */
int geerpc_xclient_call_full(geerpc_xclient *x, const char *key, const char *service_method, json_t *args,
                             uint64_t timeout_usec, json_t **ret_reply, char **ret_error, char **ret_server);

/* Calls service_method on every server of its service at once (the Go
 * original's Broadcast; draining servers, of weight 0, are left out). Returns 0 when every server succeeded, with *ret_reply set to
 * the first reply that came. Otherwise returns the first error (and on
 * -EREMOTEIO its text in *ret_error); that first error cancels the calls
 * still running. timeout_usec (0: none) bounds the whole broadcast: calls
 * still running when it passes are cancelled and count as -ETIMEDOUT.
 * -ENXIO when there is no server.
 *
 * ret_result (optional) receives the outcome of every server. Unlike other
 * ret_* parameters it is written on failure too -- that is its point --
 * whenever servers were called; not when the broadcast could not start
 * (-EINVAL, -ENOMEM, a discovery error). The caller owns it: free it with
 * geerpc_broadcast_result_free(). */
int geerpc_xclient_broadcast(geerpc_xclient *x, const char *service_method, json_t *args, uint64_t timeout_usec,
                             json_t **ret_reply, char **ret_error, geerpc_broadcast_result **ret_result);

/* The outcome of one broadcast, one entry per server, sorted by address.
 * Every pointer returned is borrowed from r and valid until it is freed. */
size_t geerpc_broadcast_result_get_count(const geerpc_broadcast_result *r);
/* The server's address, or NULL when i is out of range. */
const char *geerpc_broadcast_result_get_server(const geerpc_broadcast_result *r, size_t i);
/* 0: it replied; -EREMOTEIO: it answered an error (see get_error);
 * -ETIMEDOUT: it overran the deadline and was cancelled; -ECANCELED: it was
 * cancelled because another server failed first (or never called because
 * a dial failed); otherwise its dial or connection error. -EINVAL when i
 * is out of range. */
int geerpc_broadcast_result_get_status(const geerpc_broadcast_result *r, size_t i);
/* The remote error text when the status is -EREMOTEIO, else NULL. */
const char *geerpc_broadcast_result_get_error(const geerpc_broadcast_result *r, size_t i);
/* The reply when the status is 0, else NULL. */
json_t *geerpc_broadcast_result_get_reply(const geerpc_broadcast_result *r, size_t i);
/* Servers whose status is not 0. */
size_t geerpc_broadcast_result_get_n_failed(const geerpc_broadcast_result *r);
geerpc_broadcast_result *geerpc_broadcast_result_free(geerpc_broadcast_result *r);
/* For __attribute__((cleanup(geerpc_broadcast_result_freep))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_broadcast_result, geerpc_broadcast_result_free);

#ifdef __cplusplus
}
#endif
