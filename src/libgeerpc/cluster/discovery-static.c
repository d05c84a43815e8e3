/* SPDX-License-Identifier: MIT */
#include "cluster/discovery-internal.h"

/* A fixed list (the Go original's MultiServersDiscovery): nothing to fetch,
 * never stale; geerpc_discovery_update() replaces it. */

static void static_free_backend(void *backend) {
}

static const DiscoveryVTable static_vtable = {
        .name = "static",
        .fetch = NULL,
        .free_backend = static_free_backend,
};

_public_ int geerpc_discovery_new_static(geerpc_discovery **ret, const char *const *servers, size_t n) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (!ret)
                return -EINVAL;
        int r = discovery_server_set_new(servers, n, &s);
        if (r < 0)
                return r;
        return discovery_new(&static_vtable, NULL, "static list", s, ret);
}
