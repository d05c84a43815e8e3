/* SPDX-License-Identifier: MIT */
#pragma once

/* A registry and servers for the client-side tests: a real geeregistry on
 * an ephemeral loopback port and geerpc-example processes that register
 * with it by heartbeat. Every process is stopped by PID in
 * tl_cluster_free(). */

#include "testlib.h"

#define TL_CLUSTER_MAX 8

typedef struct TlCluster {
        TlProc *registry;
        char **registry_args; /* extra geeregistry arguments, kept for restarts */
        char *url;      /* http://127.0.0.1:PORT/_geerpc_/registry */
        char *hostport; /* 127.0.0.1:PORT, to start it again on the same port */
        size_t n;
        TlProc *servers[TL_CLUSTER_MAX];
        char *addrs[TL_CLUSTER_MAX];
        char **server_args[TL_CLUSTER_MAX];
} TlCluster;

/* A registry and n servers, returned once every server is listed. */
TlCluster *tl_cluster_new(size_t n);
/* A registry started with extra arguments (NULL-terminated, may be NULL:
 * --state-file=..., --token-file=...), no servers. */
TlCluster *tl_cluster_new_registry(const char *const *registry_args);
/* Starts one more server (heartbeat 1s); does not wait for its listing.
 * Returns its index. */
size_t tl_cluster_add_server(TlCluster *c);
/* The same with extra geerpc-example arguments (--services=, --weight=,
 * --label=, --listen=, ...; NULL-terminated). */
size_t tl_cluster_add_server_with(TlCluster *c, const char *const *args);
/* SIGKILL for server i; tl_cluster_restart_server() starts it again on the
 * same address with the same arguments. */
void tl_cluster_kill_server(TlCluster *c, size_t i);
void tl_cluster_restart_server(TlCluster *c, size_t i);
/* SIGKILL for the registry; tl_cluster_start_registry() brings it back on
 * the same port (empty: the servers register again by heartbeat). */
void tl_cluster_stop_registry(TlCluster *c);
void tl_cluster_start_registry(TlCluster *c);
/* Polls the registry until addr is (want) or is not listed; bounded. */
bool tl_cluster_wait_listed(TlCluster *c, const char *addr, bool want, usec_t timeout);
/* The registry's count of GET requests on its registry paths, from
 * /metrics; -1 when unavailable. */
long tl_cluster_registry_gets(TlCluster *c);
void tl_cluster_free(TlCluster *c);
