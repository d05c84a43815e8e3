/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry itself, apart from HTTP: the table of servers with its
 * sweep timer, the events (registered, refreshed, deregistered, expired)
 * and what follows each (a journal entry, counters, a state file write,
 * STATUS= for systemd). handlers.c speaks HTTP on top of this. */

#include <systemd/sd-event.h>

#include "metrics.h"
#include "table.h"

#define REGISTRY_TIMEOUT_DEFAULT_USEC (5 * USEC_PER_MINUTE)
/* STATUS= is sent at most this often (it changes with every registration). */
#define REGISTRY_STATUS_INTERVAL_USEC (100 * USEC_PER_MSEC)
/* The sweep may remove a dead server this much after it died. */
#define REGISTRY_SWEEP_ACCURACY_USEC (50 * USEC_PER_MSEC)

/* Where unix sockets may be registered, unless --unix-directory says
 * otherwise: where the units put them (tmpfiles.d/geerpc.conf). */
#define REGISTRY_UNIX_DIRECTORY_DEFAULT "/run/geerpc"

typedef struct RegistryConfig {
        usec_t timeout; /* 0: servers never expire */
        size_t max_servers;
        const char *state_file;     /* NULL: no persistence */
        const char *token;          /* NULL: anyone may write */
        const char *unix_directory; /* unix addresses must be inside it; NULL: anywhere */
} RegistryConfig;

typedef struct Registry Registry;

/* Loads the state file, if any. */
int registry_new(Registry **ret, sd_event *event, const RegistryConfig *config);
/* Writes the state file one last time. */
Registry *registry_free(Registry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Registry *, registry_free);

/* POST: validates addr and registers or refreshes it, in its canonical
 * spelling (basic/address.h), so that "tcp@127.1:080" and
 * "tcp@127.0.0.1:80" are one server, with what its heartbeat says (meta,
 * already validated). Returns a TableHeartbeat, -EINVAL with *ret_reason
 * set (also for a unix socket outside the configured folder), -ENOSPC
 * (full), -ENOMEM. */
int registry_heartbeat(Registry *r, const char *addr, const ServerMeta *meta, const char **ret_reason);
/* PATCH: the operator's weight for addr (0: drain), or weight < 0 to
 * clear it. Any spelling of the address: the override is kept under the
 * canonical one, so it applies to the server whatever spelling it
 * registers with. Returns 1 when it changed something, 0 when it was
 * already so, -ENOENT (clearing none), -EINVAL with *ret_reason, -ENOSPC
 * (too many overrides), -ENOMEM. *ret_own_weight (may be NULL): the
 * server's own weight, -1 when it is not registered. */
int registry_override(Registry *r, const char *addr, int weight, int *ret_own_weight, const char **ret_reason);
/* DELETE (of any spelling): 0 when removed, -ENOENT when it was not
 * there, -EINVAL. */
int registry_deregister(Registry *r, const char *addr, const char **ret_reason);
/* Removes dead servers now, so that what follows lists only live ones. */
void registry_expire(Registry *r);

Table *registry_table(Registry *r);
Metrics *registry_metrics(Registry *r);
const char *registry_token(Registry *r);
usec_t registry_timeout(Registry *r);
/* The loop's current time (CLOCK_MONOTONIC). */
usec_t registry_now(Registry *r);
/* Seconds for X-Geerpc-Timeout and "timeout_s": whole seconds, at least 1
 * unless servers never expire (0). */
uint64_t registry_timeout_seconds(Registry *r);

/* STATUS= text for systemd, e.g. "3 servers alive". */
int registry_status(Registry *r, char **ret);
