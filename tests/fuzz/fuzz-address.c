/* SPDX-License-Identifier: MIT */
/* PROTOCOL@ADDRESS, as a registry or etcd hands them to every client and
 * as servers register themselves: whatever parses has one canonical
 * spelling that parses to the same address. Nothing here resolves names. */

#include "basic/address.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 2 * ADDRESS_MAX)
                return 0;
        char *s = fuzz_string(data, size);
        Address a;
        const char *reason = NULL;
        int r = address_parse(s, size > 0 && data[0] == 'u' ? 0 : ADDRESS_ALLOW_PORT_ZERO, &a, &reason);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL && reason && *reason);
        } else {
                /* The canonical spelling parses to the same address, and is
                 * its own canonical spelling. */
                char *c = NULL, *again = NULL;
                Address b;
                FUZZ_ASSERT(strlen(s) <= ADDRESS_MAX);
                FUZZ_ASSERT(address_format(&a, &c) >= 0);
                FUZZ_ASSERT(strlen(c) <= ADDRESS_MAX);
                FUZZ_ASSERT(address_parse(c, ADDRESS_ALLOW_PORT_ZERO, &b, NULL) >= 0);
                FUZZ_ASSERT(memcmp(&a, &b, sizeof a) == 0);
                FUZZ_ASSERT(address_format(&b, &again) >= 0 && streq(c, again));
                FUZZ_ASSERT(a.protocol != ADDRESS_UNIX || (!strstr(a.path, "/./") && !strstr(a.path, "/../") &&
                                                            !strstr(a.path, "//")));
                free(c);
                free(again);
                if (a.protocol == ADDRESS_UNIX) {
                        FUZZ_ASSERT(a.path[0] == '/' && strlen(a.path) < sizeof a.path);
                        SocketAddress sa;
                        FUZZ_ASSERT(address_resolve(&a, &sa) >= 0);
                        FUZZ_ASSERT(sa.sa.sa_family == AF_UNIX);
                } else
                        FUZZ_ASSERT(a.host[0] && strlen(a.host) <= ADDRESS_HOST_MAX);
        }
        free(s);
        return 0;
}
