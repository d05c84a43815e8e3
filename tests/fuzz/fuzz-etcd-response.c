/* SPDX-License-Identifier: MIT */
/* etcd's answers as the etcd back ends read them: one JSON document read
 * as a range response, a watch message, a lease grant and a keepalive.
 * Whatever is accepted must be usable as is: valid addresses under the
 * prefix, sorted; revisions a watch can start after; TTLs a heartbeat
 * period can be made of. */

#include "basic/address.h"
#include "cluster/etcd-response.h"
#include "codec/json-util.h"
#include "fuzz.h"

static void check_addr(const char *a) {
        Address parsed;
        FUZZ_ASSERT(a && address_parse(a, 0, &parsed, NULL) >= 0);
}

/* What a value's metadata may say (server-meta.h's limits). */
static void check_entry(const ServerEntry *e) {
        check_addr(e->addr);
        FUZZ_ASSERT(e->meta.weight <= GEERPC_WEIGHT_MAX);
        size_t n = strv_length(e->meta.services);
        FUZZ_ASSERT(n <= GEERPC_SERVICES_MAX);
        for (size_t i = 0; i < n; i++)
                FUZZ_ASSERT(strlen(e->meta.services[i]) >= 1 &&
                            strlen(e->meta.services[i]) <= GEERPC_SERVICE_NAME_MAX);
        FUZZ_ASSERT(strv_length(e->meta.labels) <= GEERPC_LABELS_MAX);
}

static void check(const EtcdTarget *t, json_t *v) {
        EtcdRange range = {};
        int64_t id = 0, ttl = 0;
        if (etcd_parse_range(t, v, &range) >= 0) {
                FUZZ_ASSERT(range.revision >= 0 && range.revision <= ETCD_REVISION_MAX);
                FUZZ_ASSERT(range.revision + 1 > range.revision); /* where the watch starts */
                for (size_t i = 0; i < range.n_servers; i++) {
                        check_entry(&range.servers[i]);
                        FUZZ_ASSERT(i == 0 || strcmp(range.servers[i - 1].addr, range.servers[i].addr) <= 0);
                }
                for (size_t i = 0; i < range.n_overrides; i++) {
                        check_entry(&range.overrides[i]);
                        FUZZ_ASSERT(i == 0 || strcmp(range.overrides[i - 1].addr, range.overrides[i].addr) <= 0);
                }
                etcd_range_done(&range);
        }

        EtcdWatchMessage m = {};
        if (etcd_parse_watch_message(t, v, &m) >= 0) {
                FUZZ_ASSERT(m.compact_revision >= 0);
                for (size_t i = 0; i < m.n_events; i++) {
                        if (m.events[i].entry.addr)
                                check_entry(&m.events[i].entry);
                        FUZZ_ASSERT(m.events[i].mod_revision >= 0 && m.events[i].mod_revision <= ETCD_REVISION_MAX);
                }
                etcd_watch_message_done(&m);
        }

        /* A TTL becomes a heartbeat period in microseconds. */
        if (etcd_parse_grant(v, &id, &ttl) >= 0)
                FUZZ_ASSERT(id > 0 && ttl > 0 && ttl <= ETCD_TTL_MAX && (usec_t) ttl < USEC_INFINITY / USEC_PER_SEC);
        if (etcd_parse_keepalive(v, &ttl) >= 0)
                FUZZ_ASSERT(ttl > 0 && ttl <= ETCD_TTL_MAX);
        (void) etcd_error_message(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static EtcdTarget t;
        if (!t.prefix)
                FUZZ_ASSERT(etcd_url_parse("etcd://127.0.0.1:2379/geerpc/services", &t, NULL) >= 0);

        json_t *v = json_parse_value((const char *) data, size, 0, NULL);
        if (!v)
                return 0;
        check(&t, v);
        json_decref(v);
        return 0;
}
