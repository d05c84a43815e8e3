/* SPDX-License-Identifier: MIT */
#pragma once

/* Server sets (server-set.c) and the select modes (select.c): random and
 * round-robin by weight, the consistent-hash ring.
 *
 * A ServerSet is an immutable snapshot of a discovery's list: sorted by
 * address, without duplicates, each server with what the registry says of
 * it (services, weight, labels), reference counted. Readers take a
 * reference under the discovery's lock and use it without any lock; a
 * refresh installs a new set instead of changing the old one. What picking
 * needs is built with the set (the servers that may be chosen, running
 * weight sums), except the hash ring, built on the first hash pick and then
 * shared, and the smooth weighted round-robin's counters, the one mutable
 * part (under their own lock). The public geerpc_server_list is this. */

#include <pthread.h>
#include <stdatomic.h>

#include "cluster/server-meta.h"
#include "geerpc/discovery.h"
#include "basic/macro.h"

/* Named limits of the hash ring: points per unit of weight (a server of
 * weight w owns w times as many; 160 per server as before weights), and
 * the most points one ring holds (as many as 65,536 servers of weight 1):
 * past it every server's count is scaled down alike. */
#define SELECT_HASH_VNODES 160U
#define SELECT_HASH_POINTS_MAX (SELECT_HASH_VNODES * 65536U)

typedef struct HashRing HashRing;

typedef struct ServerEntry {
        const char *addr;
        ServerMeta meta;     /* weight: the one clients pick by */
        usec_t heartbeat;    /* CLOCK_MONOTONIC of the last heartbeat; 0: unknown */
        int server_weight;   /* the server's own, when an operator overrode it; -1: not overridden */
} ServerEntry;

typedef struct geerpc_server_list {
        atomic_uint n_ref;
        size_t n;
        char **addrs;        /* sorted, unique */
        ServerEntry *entries; /* parallel to addrs (entries[i].addr == addrs[i]) */

        /* For picking. */
        size_t n_active;     /* servers with weight > 0 */
        uint32_t *active;    /* their indices, in address order */
        bool uniform;        /* every active server has the same weight */
        atomic_uint_fast64_t rr; /* round-robin position, from a random start */
        uint64_t *cumulative; /* running weight sums over active; NULL when uniform */
        _Atomic(HashRing *) ring;
        pthread_mutex_t wrr_lock;
        int64_t *wrr_current; /* smooth weighted round-robin, per active server */
} ServerSet;

/* For entries whose address is owned (lists being built, before a set is
 * made of them): frees the address and the metadata. */
void server_entry_done(ServerEntry *e);
void server_entries_free(ServerEntry *v, size_t n);

/* Copies addrs (no metadata: every service, weight 1), sorts them and
 * drops duplicates. n may be 0. -EINVAL for a NULL address. */
int server_set_new(const char *const *addrs, size_t n, ServerSet **ret);
/* The same with metadata (copied); of duplicate addresses the first wins. */
int server_set_new_entries(const ServerEntry *entries, size_t n, ServerSet **ret);
ServerSet *server_set_ref(ServerSet *s);
ServerSet *server_set_unref(ServerSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ServerSet *, server_set_unref);
/* Same servers with the same metadata (heartbeat times aside). */
bool server_set_equal(const ServerSet *a, const ServerSet *b);
/* The servers listed for service (offering it, or with unknown services):
 * a new reference, s itself when that is all of them. */
int server_set_filter(ServerSet *s, const char *service, ServerSet **ret);

/* A server to leave out of this pick (tried already, or ejected). */
typedef bool (*select_skip_t)(const char *addr, void *userdata);

/* Picks a server of weight > 0 and returns its index in s.
 *
 * random: each server with probability weight / total. round-robin: equal
 * weights take turns in address order (the position is the set's, shared
 * by every caller of the list); unequal ones by smooth weighted round-robin (3:1 is a a b a,
 * not a a a b). hash: the first point at or after the key's hash on a
 * ring where each server owns points in proportion to its weight.
 * Servers for which skip (may be NULL) says true are passed over: random
 * picks by weight among the others, round-robin moves on, hashing walks
 * clockwise to the next server (so a key's fallback is stable too).
 *
 * -ENXIO when no server may be chosen, -EINVAL for a bad mode or a
 * missing key. */
int select_pick(ServerSet *s, geerpc_select_mode mode, const char *key, select_skip_t skip, void *userdata);

/* A random 64-bit number from a per-thread generator seeded by the kernel
 * (not for secrets). */
uint64_t select_random_u64(void);

/* The 64-bit hash used for the ring (exposed for the tests). */
uint64_t select_hash(const void *p, size_t n);
/* Ring points of a server of weight w in s (exposed for the tests). */
size_t select_ring_points(const ServerSet *s, unsigned weight);
