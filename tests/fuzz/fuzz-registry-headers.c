/* SPDX-License-Identifier: MIT */
/* A registry's answers as clients read them: the header block (up to the
 * first empty line) and the body. Discovery takes the server list from
 * them; registration the heartbeat period from X-Geerpc-Timeout. */

#include "basic/address.h"
#include "cluster/discovery-internal.h"
#include "cluster/registration-internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *blank = memmem(p, size, "\r\n\r\n", 4);
        size_t hl = blank ? (size_t) (blank - p) + 4 : size;
        Buffer headers = {}, body = {};
        FUZZ_ASSERT(buffer_append(&headers, p, hl) >= 0);
        FUZZ_ASSERT(buffer_append(&body, p + hl, size - hl) >= 0);

        usec_t timeout = registration_registry_timeout(&headers);
        /* duration_parse()'s bound on plain seconds. */
        FUZZ_ASSERT(timeout == USEC_INFINITY || timeout <= (usec_t) 1000000000000 * USEC_PER_SEC);
        usec_t period = registration_derive_period(timeout);
        FUZZ_ASSERT(period >= GEERPC_HEARTBEAT_PERIOD_MIN_USEC && period < USEC_INFINITY);

        ServerSet *set = NULL;
        char *error = NULL;
        int r = registry_parse_response(&headers, &body, now_usec(CLOCK_MONOTONIC), &set, &error);
        if (r >= 0) {
                FUZZ_ASSERT(set && set->n <= GEERPC_DISCOVERY_MAX_SERVERS);
                for (size_t i = 0; i < set->n; i++) {
                        Address a;
                        const ServerEntry *e = &set->entries[i];
                        FUZZ_ASSERT(address_parse(set->addrs[i], 0, &a, NULL) >= 0);
                        FUZZ_ASSERT(i == 0 || strcmp(set->addrs[i - 1], set->addrs[i]) < 0);
                        FUZZ_ASSERT(e->addr == set->addrs[i]);
                        FUZZ_ASSERT(e->meta.weight <= GEERPC_WEIGHT_MAX);
                        FUZZ_ASSERT(e->server_weight >= -1 && e->server_weight <= (int) GEERPC_WEIGHT_MAX);
                        FUZZ_ASSERT(strv_length(e->meta.services) <= GEERPC_SERVICES_MAX);
                        FUZZ_ASSERT(strv_length(e->meta.labels) <= GEERPC_LABELS_MAX);
                }
                /* What picking is built from agrees with the entries. */
                FUZZ_ASSERT(set->n_active <= set->n);
                server_set_unref(set);
        } else
                FUZZ_ASSERT(r == -EBADMSG || r == -ENOMEM);
        free(error);
        buffer_done(&headers);
        buffer_done(&body);
        return 0;
}
