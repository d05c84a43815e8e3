/* SPDX-License-Identifier: MIT */
#pragma once

/* Server-side registration: keeps one server address registered with a
 * registry by heartbeats, driven by sd-event timers, with HTTP done by
 * libcurl on the same loop so that a slow or dead registry never blocks it.
 *
 * Registry URLs:
 *   http://HOST:PORT/_geerpc_/registry   geeregistry (or Go GeeRPC's registry)
 *   etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
 *                                        etcd v3: the key PREFIX/ADDR (default
 *                                        prefix /geerpc/services) is bound to a
 *                                        lease that heartbeats keep alive
 *
 * Each heartbeat also says what the server offers (docs/PROTOCOL.md): the
 * services of the server it belongs to (geerpc_registration_set_server()),
 * its weight and its labels, so that clients call it only for its services
 * and in proportion to its weight. Without them it registers as a Go
 * GeeRPC server does: listed for every service, weight 1.
 *
 * Beyond the Go original: a failed heartbeat is retried with exponential
 * backoff and jitter (1 s doubling, capped at the period) and the server
 * registers again as soon as the registry answers; a graceful stop
 * deregisters at once. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include <geerpc/defs.h>
#include <geerpc/server.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct geerpc_registration geerpc_registration;

typedef enum geerpc_registration_state {
        GEERPC_REGISTRATION_IDLE,       /* not started */
        GEERPC_REGISTRATION_STARTING,   /* first heartbeat in flight */
        GEERPC_REGISTRATION_REGISTERED, /* the last heartbeat succeeded */
        GEERPC_REGISTRATION_RETRYING,   /* the last heartbeat failed; retrying */
        GEERPC_REGISTRATION_STOPPING,   /* deregistering */
        GEERPC_REGISTRATION_STOPPED,
} geerpc_registration_state;

/* Named limits and defaults. */
#define GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC (4ULL * 60ULL * 1000000ULL) /* 5 min registry timeout - 1 min */
#define GEERPC_HEARTBEAT_PERIOD_MIN_USEC (500ULL * 1000ULL)             /* never beat more often */
#define GEERPC_HEARTBEAT_BACKOFF_INITIAL_USEC (1000000ULL)
#define GEERPC_DEREGISTER_TIMEOUT_DEFAULT_USEC (2000000ULL)
#define GEERPC_REGISTRY_TOKEN_MAX 4096
#define GEERPC_ETCD_LEASE_TTL_DEFAULT_USEC (30ULL * 1000000ULL)

/* registry_url: see above. The scheme is case-insensitive (RFC 3986);
 * -EPROTONOSUPPORT for a scheme other than http, https and etcd, -EINVAL
 * for a URL without one or otherwise malformed (the same rule as
 * geerpc_discovery_new_from_url()). address: the PROTOCOL@ADDRESS to
 * announce (-EINVAL if it is not one), announced in its canonical spelling
 * (docs/PROTOCOL.md, "Addresses": "tcp@127.1:080" is announced as
 * "tcp@127.0.0.1:80", which geerpc_registration_get_address() returns).
 * Both are copied. */
int geerpc_registration_new(geerpc_registration **ret, const char *registry_url, const char *address);
geerpc_registration *geerpc_registration_ref(geerpc_registration *r);
/* Dropping the last reference cancels requests in flight without
 * deregistering (use geerpc_registration_stop() for that). */
geerpc_registration *geerpc_registration_unref(geerpc_registration *r);
/* For __attribute__((cleanup(geerpc_registration_unrefp))) (geerpc/defs.h). */
_GEERPC_DEFINE_POINTER_CLEANUP_FUNC(geerpc_registration, geerpc_registration_unref);

/* A fixed heartbeat period. 0 (the default): derived from the registry.
 * geeregistry: its X-Geerpc-Timeout minus one minute, or a third of it when
 * it is shorter than three minutes, never below GEERPC_HEARTBEAT_PERIOD_MIN;
 * GEERPC_HEARTBEAT_PERIOD_DEFAULT when the registry does not say. etcd: the
 * lease TTL is three periods (GEERPC_ETCD_LEASE_TTL_DEFAULT without one) and
 * the lease is kept alive every TTL/3. */
int geerpc_registration_set_period(geerpc_registration *r, uint64_t usec);
/* Sends "Authorization: Bearer <token>". The token is copied. */
int geerpc_registration_set_token(geerpc_registration *r, const char *token);
/* Reads the token from a file (surrounding whitespace stripped). */
int geerpc_registration_load_token_file(geerpc_registration *r, const char *path);
/* Reads the systemd credential "registry-token" from $CREDENTIALS_DIRECTORY
 * if there is one: returns 1 when loaded, 0 when there is none or it is
 * blank (the shipped units pass a blank one when no token file exists). */
int geerpc_registration_load_credential(geerpc_registration *r);

/* The server this registration belongs to: every heartbeat announces the
 * services in its table (geerpc_server_add_service()), so services added
 * later are announced by the next one. A reference is taken; NULL drops
 * it (services unknown: listed for every service). More services than
 * GEERPC_SERVICES_MAX (defs.h) are announced as unknown, with a warning.
 * Call from the loop thread. */
int geerpc_registration_set_server(geerpc_registration *r, geerpc_server *s);
/* The weight clients pick this server by, 0 to GEERPC_WEIGHT_MAX (default
 * GEERPC_WEIGHT_DEFAULT); 0 drains it: still registered, never chosen.
 * -EINVAL past the maximum. */
int geerpc_registration_set_weight(geerpc_registration *r, unsigned weight);
/* Sets the label key to value (both copied), or removes it when value is
 * NULL. Limits and characters: defs.h. -EINVAL for an invalid key or
 * value, -E2BIG past GEERPC_LABELS_MAX labels. */
int geerpc_registration_set_label(geerpc_registration *r, const char *key, const char *value);
/* A change of server, weight or label is sent at once by an extra
 * heartbeat when the registration is running. */

/* Called on the loop thread after every change: a heartbeat succeeded or
 * failed, or the registration stopped. */
typedef void (*geerpc_registration_handler)(geerpc_registration *r, void *userdata);
int geerpc_registration_set_handler(geerpc_registration *r, geerpc_registration_handler handler, void *userdata);

/* NULL: the calling thread's default loop (sd_event_default()), which is
 * also where a server attaches by default: with both implicit,
 * geerpc_server_run() keeps the server registered. Optional: start()
 * attaches to the default loop otherwise. */
int geerpc_registration_attach_event(geerpc_registration *r, sd_event *event, int64_t priority);
/* Sends the first heartbeat now, then keeps the server registered. */
int geerpc_registration_start(geerpc_registration *r);
/* Stops heartbeats and deregisters (DELETE), bounded by timeout_usec (0:
 * GEERPC_DEREGISTER_TIMEOUT_DEFAULT). done runs on the loop when finished
 * (deregistered, or the attempt failed or timed out: the registry then
 * forgets the server when its heartbeat times out). */
int geerpc_registration_stop(geerpc_registration *r, uint64_t timeout_usec, geerpc_registration_handler done,
                             void *userdata);

geerpc_registration_state geerpc_registration_get_state(geerpc_registration *r);
const char *geerpc_registration_state_to_string(geerpc_registration_state s);
/* Why the last heartbeat failed, or NULL. Borrowed; valid until the next
 * change. */
const char *geerpc_registration_get_last_error(geerpc_registration *r);
/* CLOCK_MONOTONIC time of the last successful heartbeat, 0 if none. */
uint64_t geerpc_registration_get_last_success(geerpc_registration *r);
/* CLOCK_MONOTONIC time of the next heartbeat or retry, 0 if none. */
uint64_t geerpc_registration_get_next_attempt(geerpc_registration *r);
/* The period in use (explicit, or derived from the registry). */
uint64_t geerpc_registration_get_period(geerpc_registration *r);
const char *geerpc_registration_get_url(geerpc_registration *r);
const char *geerpc_registration_get_address(geerpc_registration *r);

#ifdef __cplusplus
}
#endif
