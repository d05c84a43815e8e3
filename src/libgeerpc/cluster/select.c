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

static uint64_t ring_total(const ServerSet *s) {
        uint64_t total = 0;
        for (size_t k = 0; k < s->n_active; k++)
                total += (uint64_t) SELECT_HASH_VNODES * s->entries[s->active[k]].meta.weight;
        return total;
}

static size_t ring_points(unsigned weight, uint64_t total) {
        uint64_t p = (uint64_t) SELECT_HASH_VNODES * weight;
        if (total > SELECT_HASH_POINTS_MAX)
                /* Scaled down alike, and never to nothing. */
                p = MAX(p * SELECT_HASH_POINTS_MAX / total, (uint64_t) (weight > 0));
        return (size_t) p;
}

size_t select_ring_points(const ServerSet *s, unsigned weight) {
        return ring_points(weight, ring_total(s));
}

/* A server's points depend on its address and weight only, never on the
 * other servers (unless the ring is at its size limit): that is what keeps
 * keys in place when the set changes. Its points are the first of one
 * sequence per address, so a change of weight moves keys only to or from
 * that server. */
static HashRing *ring_build(const ServerSet *s) {
        uint64_t total = ring_total(s);
        size_t n = 0;
        for (size_t k = 0; k < s->n_active; k++)
                n += ring_points(s->entries[s->active[k]].meta.weight, total);
        HashRing *ring = malloc(sizeof *ring + n * sizeof ring->points[0]);
        if (!ring)
                return NULL;
        ring->n = n;
        size_t j = 0;
        for (size_t k = 0; k < s->n_active; k++) {
                uint32_t i = s->active[k];
                uint64_t base = select_hash(s->addrs[i], strlen(s->addrs[i]));
                size_t points = ring_points(s->entries[i].meta.weight, total);
                for (uint64_t v = 0; v < points; v++)
                        ring->points[j++] = (struct RingPoint) {
                                .hash = mix64(base + (v + 1) * 0x9E3779B97F4A7C15ULL),
                                .server = i,
                        };
        }
        if (n > 0)
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

static bool skipped(const ServerSet *s, uint32_t i, select_skip_t skip, void *userdata) {
        return skip && skip(s->addrs[i], userdata);
}

/* The first active server from position start on (wrapping) not skipped. */
static int scan_from(const ServerSet *s, size_t start, select_skip_t skip, void *userdata) {
        for (size_t k = 0; k < s->n_active; k++) {
                uint32_t i = s->active[(start + k) % s->n_active];
                if (!skipped(s, i, skip, userdata))
                        return (int) i;
        }
        return -ENXIO;
}

/* The active position whose weight range holds x (x < total weight). */
static size_t cumulative_find(const ServerSet *s, uint64_t x) {
        size_t lo = 0, hi = s->n_active;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->cumulative[mid] <= x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int pick_random(const ServerSet *s, select_skip_t skip, void *userdata) {
        if (s->uniform)
                return scan_from(s, (size_t) (select_random_u64() % s->n_active), skip, userdata);
        uint64_t total = s->cumulative[s->n_active - 1];
        uint32_t i = s->active[cumulative_find(s, select_random_u64() % total)];
        if (!skipped(s, i, skip, userdata))
                return (int) i;
        /* Drawn again among the others: a draw that hit a skipped server
         * must not favour its neighbours. */
        total = 0;
        for (size_t k = 0; k < s->n_active; k++)
                if (!skipped(s, s->active[k], skip, userdata))
                        total += s->entries[s->active[k]].meta.weight;
        if (total == 0)
                return -ENXIO;
        uint64_t x = select_random_u64() % total;
        for (size_t k = 0; k < s->n_active; k++) {
                i = s->active[k];
                if (skipped(s, i, skip, userdata))
                        continue;
                if (x < s->entries[i].meta.weight)
                        return (int) i;
                x -= s->entries[i].meta.weight;
        }
        return -ENXIO; /* not reached */
}

/* nginx's smooth weighted round-robin: every server gains its weight, the
 * one with the most is chosen and pays the total back. Over a cycle each
 * server is chosen weight times, spread out rather than in a burst. */
static int pick_weighted_round_robin(ServerSet *s, select_skip_t skip, void *userdata) {
        int best = -ENXIO;
        pthread_mutex_lock(&s->wrr_lock);
        if (!s->wrr_current)
                s->wrr_current = calloc(s->n_active, sizeof(int64_t));
        if (!s->wrr_current) {
                pthread_mutex_unlock(&s->wrr_lock);
                return -ENOMEM;
        }
        int64_t total = 0;
        size_t best_k = 0;
        for (size_t k = 0; k < s->n_active; k++) {
                uint32_t i = s->active[k];
                if (skipped(s, i, skip, userdata))
                        continue;
                int64_t w = s->entries[i].meta.weight;
                s->wrr_current[k] += w;
                total += w;
                if (best < 0 || s->wrr_current[k] > s->wrr_current[best_k]) {
                        best = (int) i;
                        best_k = k;
                }
        }
        if (best >= 0)
                s->wrr_current[best_k] -= total;
        pthread_mutex_unlock(&s->wrr_lock);
        return best;
}

static int pick_hash(ServerSet *s, const char *key, select_skip_t skip, void *userdata) {
        HashRing *ring = ring_get(s);
        if (!ring)
                return -ENOMEM;
        if (ring->n == 0)
                return -ENXIO;
        size_t p = ring_find(ring, select_hash(key, strlen(key)));
        for (size_t k = 0; k < ring->n; k++) {
                uint32_t i = ring->points[(p + k) % ring->n].server;
                if (!skipped(s, i, skip, userdata))
                        return (int) i;
        }
        return -ENXIO;
}

int select_pick(ServerSet *s, geerpc_select_mode mode, const char *key, select_skip_t skip, void *userdata) {
        if (!s)
                return -EINVAL;
        switch (mode) {
        case GEERPC_SELECT_RANDOM:
                if (s->n_active == 0)
                        return -ENXIO;
                return pick_random(s, skip, userdata);
        case GEERPC_SELECT_ROUND_ROBIN:
                if (s->n_active == 0)
                        return -ENXIO;
                if (!s->uniform)
                        return pick_weighted_round_robin(s, skip, userdata);
                return scan_from(s, (size_t) (atomic_fetch_add(&s->rr, 1) % s->n_active), skip, userdata);
        case GEERPC_SELECT_HASH:
                if (!key)
                        return -EINVAL;
                if (s->n_active == 0)
                        return -ENXIO;
                return pick_hash(s, key, skip, userdata);
        default:
                return -EINVAL;
        }
}
