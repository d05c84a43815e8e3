/* SPDX-License-Identifier: MIT */
#pragma once

/* Server sets and the select modes (random, round-robin, consistent
 * hashing).
 *
 * A ServerSet is an immutable snapshot of a discovery's list: sorted,
 * without duplicates, reference counted. Readers take a reference under the
 * discovery's lock and use it without any lock; a refresh installs a new
 * set instead of changing the old one. The hash ring is built on the first
 * hash pick and then shared by every reader of the set. */

#include <stdatomic.h>

#include "geerpc/discovery.h"
#include "basic/macro.h"

/* Named limit: points each server owns on the hash ring. More points
 * spread keys more evenly; each costs 16 bytes per server. */
#define SELECT_HASH_VNODES 160U

typedef struct HashRing HashRing;

typedef struct ServerSet {
        atomic_uint n_ref;
        size_t n;
        char **addrs; /* sorted, unique */
        _Atomic(HashRing *) ring;
} ServerSet;

/* Copies addrs, sorts them and drops duplicates. n may be 0. */
int server_set_new(const char *const *addrs, size_t n, ServerSet **ret);
ServerSet *server_set_ref(ServerSet *s);
ServerSet *server_set_unref(ServerSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ServerSet *, server_set_unref);
bool server_set_equal(const ServerSet *a, const ServerSet *b);

/* Picks a server and returns its index in s.
 *
 * rr: the round-robin position (shared by every caller of one discovery).
 * key: the consistent-hashing key (required for GEERPC_SELECT_HASH).
 * avoid: servers already tried by this call (failover); the pick skips
 * them: round-robin moves on, random picks among the others, hashing walks
 * clockwise on the ring to the next server (so a key's fallback is stable
 * too).
 *
 * -ENXIO when s is empty or every server is avoided, -EINVAL for a bad
 * mode or a missing key. */
int select_pick(ServerSet *s, geerpc_select_mode mode, const char *key, atomic_uint_fast64_t *rr,
                const char *const *avoid, size_t n_avoid);

/* A random 64-bit number from a per-thread generator seeded by the kernel
 * (not for secrets). */
uint64_t select_random_u64(void);

/* The 64-bit hash used for the ring (exposed for the tests). */
uint64_t select_hash(const void *p, size_t n);
