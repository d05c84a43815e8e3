/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <search.h>

#include "rpc/peer-limit.h"

struct PeerCount {
        unsigned char key[16]; /* the address, IPv4 as IPv4-mapped IPv6 */
        unsigned n;
};

static int compare(const void *a, const void *b) {
        return memcmp(((const PeerCount *) a)->key, ((const PeerCount *) b)->key, sizeof ((PeerCount *) NULL)->key);
}

/* One key per address, however it reached us: an IPv4 client on a
 * dual-stack socket is the same client as on an IPv4 one. */
static bool make_key(const struct sockaddr *sa, socklen_t len, unsigned char key[static 16]) {
        if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                memcpy(key, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
                return true;
        }
        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
                memcpy(key, mapped, 12);
                memcpy(key + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                return true;
        }
        return false;
}

int peer_limit_take(void **root, const struct sockaddr *sa, socklen_t len, unsigned max, PeerCount **ret) {
        PeerCount probe;
        if (!make_key(sa, len, probe.key)) {
                *ret = NULL;
                return 0;
        }
        void **node = tfind(&probe, root, compare);
        PeerCount *p = node ? *node : NULL;
        if (p && max > 0 && p->n >= max)
                return -EUSERS;
        if (!p) {
                p = calloc(1, sizeof *p);
                if (!p)
                        return -ENOMEM;
                memcpy(p->key, probe.key, sizeof p->key);
                if (!tsearch(p, root, compare)) {
                        free(p);
                        return -ENOMEM;
                }
        }
        p->n++;
        *ret = p;
        return 0;
}

void peer_limit_release(void **root, PeerCount *p) {
        if (!p || --p->n > 0)
                return;
        (void) tdelete(p, root, compare);
        free(p);
}

void peer_limit_free_all(void **root) {
        tdestroy(*root, free);
        *root = NULL;
}
