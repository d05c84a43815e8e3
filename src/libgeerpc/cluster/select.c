/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <sys/random.h>

#include "basic/sort-util.h"
#include "cluster/select.h"

struct HashRing {
        size_t n;
        struct RingPoint {
                uint64_t hash;
                uint32_t server;
        } points[];
};

/* ---- server sets ------------------------------------------------------------ */

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

int server_set_new(const char *const *addrs, size_t n, ServerSet **ret) {
        if (!ret || (n > 0 && !addrs))
                return -EINVAL;
        ServerSet *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        atomic_init(&s->n_ref, 1);
        atomic_init(&s->ring, NULL);
        if (n > 0) {
                s->addrs = calloc(n, sizeof(char *));
                if (!s->addrs) {
                        free(s);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < n; i++) {
                s->addrs[i] = addrs[i] ? strdup(addrs[i]) : NULL;
                if (!s->addrs[i]) {
                        strv_free_n(s->addrs, i);
                        free(s);
                        return addrs[i] ? -ENOMEM : -EINVAL;
                }
        }
        if (n > 1)
                qsort(s->addrs, n, sizeof(char *), strptr_compare);
        /* Drop duplicates: a list with one server twice would give it twice
         * the traffic. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (k > 0 && streq(s->addrs[k - 1], s->addrs[i]))
                        free(s->addrs[i]);
                else
                        s->addrs[k++] = s->addrs[i];
        }
        s->n = k;
        *ret = s;
        return 0;
}

ServerSet *server_set_ref(ServerSet *s) {
        if (s)
                atomic_fetch_add(&s->n_ref, 1);
        return s;
}

ServerSet *server_set_unref(ServerSet *s) {
        if (!s || atomic_fetch_sub(&s->n_ref, 1) != 1)
                return NULL;
        free(atomic_load(&s->ring));
        strv_free_n(s->addrs, s->n);
        free(s);
        return NULL;
}

bool server_set_equal(const ServerSet *a, const ServerSet *b) {
        if (!a || !b)
                return a == b;
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->addrs[i], b->addrs[i]))
                        return false;
        return true;
}

/* ---- randomness and hashing ---------------------------------------------- */

uint64_t select_random_u64(void) {
        static __thread uint64_t state;
        if (_unlikely_(state == 0)) {
                if (getrandom(&state, sizeof state, GRND_NONBLOCK) != sizeof state)
                        state = now_usec(CLOCK_MONOTONIC) ^ ((uint64_t) pthread_self() << 1);
                state |= 1; /* xorshift must not start at 0 */
        }
        /* xorshift64* */
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
}

/* MurmurHash3's finalizer: every input bit affects every output bit, which
 * FNV alone does not give for strings that differ only at the end. */
static uint64_t mix64(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return h;
}

uint64_t select_hash(const void *p, size_t n) {
        const unsigned char *b = p;
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 0x100000001b3ULL;
        }
        return mix64(h);
}

/* ---- the hash ring ---------------------------------------------------------- */

static int cmp_point(const void *a, const void *b) {
        const struct RingPoint *x = a, *y = b;
        if (x->hash != y->hash)
                return x->hash < y->hash ? -1 : 1;
        return x->server < y->server ? -1 : x->server > y->server;
}

/* A server's points depend on its address only, never on the other
 * servers: that is what keeps keys in place when the set changes. */
static HashRing *ring_build(const ServerSet *s) {
        size_t n = s->n * SELECT_HASH_VNODES;
        HashRing *ring = malloc(sizeof *ring + n * sizeof ring->points[0]);
        if (!ring)
                return NULL;
        ring->n = n;
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++) {
                uint64_t base = select_hash(s->addrs[i], strlen(s->addrs[i]));
                for (uint64_t v = 0; v < SELECT_HASH_VNODES; v++)
                        ring->points[k++] = (struct RingPoint) {
                                .hash = mix64(base + (v + 1) * 0x9E3779B97F4A7C15ULL),
                                .server = (uint32_t) i,
                        };
        }
        qsort(ring->points, n, sizeof ring->points[0], cmp_point);
        return ring;
}

static HashRing *ring_get(ServerSet *s) {
        HashRing *ring = atomic_load(&s->ring);
        if (ring)
                return ring;
        HashRing *fresh = ring_build(s);
        if (!fresh)
                return NULL;
        /* Another thread may have built it meanwhile: keep theirs. */
        if (!atomic_compare_exchange_strong(&s->ring, &ring, fresh)) {
                free(fresh);
                return ring;
        }
        return fresh;
}

static int point_compare(const void *hash, const void *point) {
        uint64_t h = *(const uint64_t *) hash, p = ((const struct RingPoint *) point)->hash;
        return h < p ? -1 : h > p;
}

/* The first point at or after h, wrapping around. */
static size_t ring_find(const HashRing *ring, uint64_t h) {
        size_t i = sorted_search(&h, ring->points, ring->n, sizeof ring->points[0], point_compare, NULL);
        return i == ring->n ? 0 : i;
}

/* ---- picking ---------------------------------------------------------------- */

static bool avoided(const char *addr, const char *const *avoid, size_t n_avoid) {
        for (size_t i = 0; i < n_avoid; i++)
                if (avoid[i] && streq(addr, avoid[i]))
                        return true;
        return false;
}

/* The first server from index start on (wrapping) that is not avoided. */
static int scan_from(const ServerSet *s, size_t start, const char *const *avoid, size_t n_avoid) {
        for (size_t k = 0; k < s->n; k++) {
                size_t i = (start + k) % s->n;
                if (!avoided(s->addrs[i], avoid, n_avoid))
                        return (int) i;
        }
        return -ENXIO;
}

static int pick_hash(ServerSet *s, const char *key, const char *const *avoid, size_t n_avoid) {
        HashRing *ring = ring_get(s);
        if (!ring)
                return -ENOMEM;
        size_t p = ring_find(ring, select_hash(key, strlen(key)));
        for (size_t k = 0; k < ring->n; k++) {
                uint32_t i = ring->points[(p + k) % ring->n].server;
                if (!avoided(s->addrs[i], avoid, n_avoid))
                        return (int) i;
        }
        return -ENXIO;
}

int select_pick(ServerSet *s, geerpc_select_mode mode, const char *key, atomic_uint_fast64_t *rr,
                const char *const *avoid, size_t n_avoid) {
        if (!s)
                return -EINVAL;
        switch (mode) {
        case GEERPC_SELECT_RANDOM:
                if (s->n == 0)
                        return -ENXIO;
                return scan_from(s, (size_t) (select_random_u64() % s->n), avoid, n_avoid);
        case GEERPC_SELECT_ROUND_ROBIN:
                if (!rr)
                        return -EINVAL;
                if (s->n == 0)
                        return -ENXIO;
                return scan_from(s, (size_t) (atomic_fetch_add(rr, 1) % s->n), avoid, n_avoid);
        case GEERPC_SELECT_HASH:
                if (!key)
                        return -EINVAL;
                if (s->n == 0)
                        return -ENXIO;
                return pick_hash(s, key, avoid, n_avoid);
        default:
                return -EINVAL;
        }
}
