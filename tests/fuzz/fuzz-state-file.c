/* SPDX-License-Identifier: MIT */
/* The registry's state file as it finds it at start-up (written by an
 * earlier run, possibly cut short, possibly by someone else; version 1 or
 * 2). What loads must be valid (canonical addresses, metadata within its
 * limits), and must come back the same after a write and a load: every
 * server with its services, weight and labels, and every override. */

#include <fcntl.h>
#include <sys/stat.h>

#include "basic/address.h"
#include "fuzz.h"
#include "persist.h"

#define FUZZ_MAX_SERVERS 64U

typedef struct Collect {
        char **lines;
        size_t n;
} Collect;

static void check_canonical(const char *addr) {
        _cleanup_free_ char *c = NULL;
        FUZZ_ASSERT(address_canonicalize(addr, 0, &c, NULL) >= 0 && streq(c, addr));
}

/* "ADDR services=... weight=N labels=..." */
static int collect_one(const TableEntry *e, void *userdata) {
        Collect *c = userdata;
        check_canonical(e->addr);
        FUZZ_ASSERT(e->meta.weight <= GEERPC_WEIGHT_MAX);
        FUZZ_ASSERT(strv_length(e->meta.services) <= GEERPC_SERVICES_MAX);
        FUZZ_ASSERT(strv_length(e->meta.labels) <= GEERPC_LABELS_MAX);
        _cleanup_free_ char *services = strv_join(e->meta.services, ","), *labels = strv_join(e->meta.labels, ",");
        FUZZ_ASSERT(services && labels);
        FUZZ_ASSERT(asprintf(&c->lines[c->n++], "%s services=%s%s weight=%u labels=%s", e->addr,
                             e->meta.services ? "" : "unknown", services, e->meta.weight, labels) >= 0);
        return 0;
}

/* "override ADDR N" */
static int collect_override(const char *addr, unsigned weight, void *userdata) {
        Collect *c = userdata;
        check_canonical(addr);
        FUZZ_ASSERT(weight <= GEERPC_WEIGHT_MAX);
        FUZZ_ASSERT(asprintf(&c->lines[c->n++], "override %s %u", addr, weight) >= 0);
        return 0;
}

/* Loads path into a fresh table and describes its servers and overrides
 * (sorted by address), one line each. */
static size_t load(sd_event *event, const char *path, usec_t timeout, bool rewrite, char **ret) {
        Table *t = NULL;
        Persist *p = NULL;
        Metrics m = {};
        FUZZ_ASSERT(table_new(&t, FUZZ_MAX_SERVERS, timeout) >= 0);
        FUZZ_ASSERT(persist_new(&p, event, path, t, &m) >= 0);
        int r = persist_load(p, NULL, NULL);
        FUZZ_ASSERT(r >= 0 && (size_t) r == table_size(t) && table_size(t) <= FUZZ_MAX_SERVERS);

        FUZZ_ASSERT(table_n_overrides(t) <= FUZZ_MAX_SERVERS);
        Collect c = { .lines = ret };
        FUZZ_ASSERT(table_foreach_sorted(t, collect_one, &c) >= 0);
        FUZZ_ASSERT(table_foreach_override(t, collect_override, &c) >= 0);
        if (rewrite)
                persist_schedule(p); /* persist_free() writes it */
        persist_free(p);
        table_free(t);
        return c.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char dir[64], path[128];
        static sd_event *event;
        if (!event) {
                /* tmpfs when there is one: a write is fsync'ed. */
                snprintf(dir, sizeof dir, "%s/fuzz-state-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
                FUZZ_ASSERT(mkdtemp(dir));
                snprintf(path, sizeof path, "%s/servers.json", dir);
                FUZZ_ASSERT(sd_event_new(&event) >= 0);
        }

        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_ASSERT(fd >= 0);
        FUZZ_ASSERT(write(fd, data, size) == (ssize_t) size);
        close(fd);

        /* Servers that never expire: the round trip must not depend on
         * the clock. Then once with expiry, for its own paths. */
        char *first[2 * FUZZ_MAX_SERVERS], *second[2 * FUZZ_MAX_SERVERS];
        size_t n = load(event, path, 0, true, first);
        size_t k = load(event, path, 0, false, second);
        FUZZ_ASSERT(n == k);
        for (size_t i = 0; i < n; i++) {
                FUZZ_ASSERT(streq(first[i], second[i]));
                free(first[i]);
                free(second[i]);
        }
        k = load(event, path, 5 * USEC_PER_MINUTE, false, second);
        for (size_t i = 0; i < k; i++)
                free(second[i]);
        return 0;
}
