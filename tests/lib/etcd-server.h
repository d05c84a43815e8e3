/* SPDX-License-Identifier: MIT */
#pragma once

/* A private etcd for the etcd tests: ephemeral loopback ports, a temporary
 * data directory, stopped by PID. The etcd binary comes from $ETCD (set by
 * tests/meson.build when etcd-server is installed). */

#include <jansson.h>

#include "testlib.h"

typedef struct TlEtcd {
        TlProc *proc;
        char dir[64];
        char client[64]; /* 127.0.0.1:PORT */
        char peer[64];
        char url[96];    /* etcd://127.0.0.1:PORT */
} TlEtcd;

/* Starts etcd and waits until it answers /health. */
void tl_etcd_start(TlEtcd *e);
/* Stops it (SIGTERM, then SIGKILL) keeping its data. */
void tl_etcd_stop(TlEtcd *e);
/* Starts it again on the same ports with the same data. */
void tl_etcd_restart(TlEtcd *e);
/* Stops it and removes its data. */
void tl_etcd_free(TlEtcd *e);

/* `etcdctl get --prefix PREFIX -w json` against it; returns the parsed
 * output (a new reference) or NULL. */
json_t *tl_etcdctl_get_prefix(TlEtcd *e, const char *prefix);
/* The keys under prefix (decoded, sorted, comma-joined; malloc'd) and
 * whether every one of them has a lease. */
char *tl_etcd_keys(TlEtcd *e, const char *prefix, bool *ret_all_leased);
