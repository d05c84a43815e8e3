/* SPDX-License-Identifier: MIT */
/* The registry's state file as it finds it at start-up (written by an
 * earlier run, possibly cut short, possibly by someone else). What loads
 * must be valid, and must come back the same after a write and a load. */

#include <fcntl.h>
#include <sys/stat.h>

#include "basic/address.h"
#include "fuzz.h"
#include "persist.h"

#define FUZZ_MAX_SERVERS 64U

typedef struct Collect {
        char **addrs;
        size_t n;
} Collect;

static int collect_one(const TableEntry *e, void *userdata) {
        Collect *c = userdata;
        Address a;
        FUZZ_ASSERT(address_parse(e->addr, 0, &a, NULL) >= 0);
        c->addrs[c->n++] = strdup(e->addr);
        return 0;
}

/* Loads path into a fresh table and collects its addresses (sorted). */
static size_t load(sd_event *event, const char *path, usec_t timeout, bool rewrite, char **ret) {
        Table *t = NULL;
        Persist *p = NULL;
        Metrics m = {};
        FUZZ_ASSERT(table_new(&t, FUZZ_MAX_SERVERS, timeout) >= 0);
        FUZZ_ASSERT(persist_new(&p, event, path, t, &m) >= 0);
        int r = persist_load(p);
        FUZZ_ASSERT(r >= 0 && (size_t) r == table_size(t) && table_size(t) <= FUZZ_MAX_SERVERS);

        Collect c = { .addrs = ret };
        FUZZ_ASSERT(table_foreach_sorted(t, collect_one, &c) >= 0);
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
        char *first[FUZZ_MAX_SERVERS], *second[FUZZ_MAX_SERVERS];
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
