/* SPDX-License-Identifier: MIT */
#pragma once

/* The state file: the table on disk, so that a restart loses no server and
 * brings back no dead one.
 *
 *     {"version":2,
 *      "servers":[{"addr":"tcp@127.0.0.1:7001","heartbeat_ms":1700000000123,
 *                  "services":["Foo"],"weight":1,"labels":{"zone":"a"}},...],
 *      "overrides":[{"addr":"tcp@127.0.0.1:7002","weight":0},...]}
 *
 * heartbeat_ms is the wall-clock time (Unix epoch, milliseconds) of the
 * server's last heartbeat; servers are written oldest first, with what
 * their heartbeat said (services only when known, labels only when there
 * are some); overrides are the operator's, by address. Addresses are in
 * their canonical spelling (basic/address.h); a file with other spellings
 * loads them canonicalized. Version 1 files (addr and heartbeat_ms only)
 * still load: their servers offer every service, with weight 1. The file
 * is replaced atomically (temporary file PATH.tmpXXXXXX in the same
 * directory, fsync, rename, fsync of the directory), at most once per
 * PERSIST_INTERVAL_USEC while the table changes, and once more on stop.
 * Temporary files left by a write that a crash cut short are removed at
 * start. */

#include <systemd/sd-event.h>

#include "metrics.h"
#include "table.h"

#define PERSIST_INTERVAL_USEC (1 * USEC_PER_SEC)
/* Named limit: a state file larger than this is not read. */
#define PERSIST_FILE_SIZE_MAX (64U * 1024U * 1024U)
#define PERSIST_FILE_NAME "servers.json"
#define PERSIST_VERSION 2
#define PERSIST_TEMPORARY_SUFFIX ".tmp"

typedef struct Persist Persist;

/* table and metrics are borrowed and must outlive the Persist. */
int persist_new(Persist **ret, sd_event *event, const char *path, Table *table, Metrics *metrics);
/* Writes what is pending, then frees. */
Persist *persist_free(Persist *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Persist *, persist_free);

/* Removes stale temporary files, then loads the file into the (empty)
 * table. A missing file is not an error; a corrupt one, or anything but a
 * regular file (a FIFO, a symbolic link), is logged and renamed to
 * PATH.corrupt; servers that have died meanwhile are left out. Returns
 * how many servers were loaded, or -ENOMEM. admit (may be NULL) decides
 * whether a saved address may still register under today's flags (a
 * unix socket outside today's --unix-directory may not): one it refuses is
 * left out with a warning that gives its reason. */
typedef bool (*persist_admit_t)(const char *addr, const char **ret_reason, void *userdata);
int persist_load(Persist *p, persist_admit_t admit, void *userdata);

/* The table changed: write it soon (coalesced). */
void persist_schedule(Persist *p);
/* Writes now if anything is pending. */
int persist_flush(Persist *p);

/* For tests and tools: the file for a given state directory. */
int persist_default_path(const char *state_directory, char **ret);
