/* SPDX-License-Identifier: MIT */
#pragma once

/* Operator overrides in etcd: the weight an operator sets for an address
 * (geerpcctl drain, weight, undrain), kept in a key of its own so that
 * nothing the server does touches it:
 *
 *   PREFIX/_overrides/ADDR    {"weight":N}    (0 drains; no lease)
 *
 * The key is inside the range discovery lists and watches, so a change
 * reaches every client at once; it cannot be mistaken for a server's key
 * (PREFIX/ADDR), because an address starts with its protocol and '@'
 * ("tcp@..."), never with '_' or a '/'. It is bound to no lease: the
 * server's re-registrations, restarts and lease expiry leave it alone, and
 * it applies to the address whenever a server is registered there. */

#include "cluster/etcd.h"
#include "cluster/select.h"

#define ETCD_OVERRIDE_DIR "_overrides"
/* The longest value read as an override (ours are about 14 bytes); a
 * longer one is ignored as malformed. */
#define ETCD_OVERRIDE_VALUE_MAX 256U

/* PREFIX/_overrides/ADDR (malloc'd; addr as given). */
char *etcd_override_key_for(const EtcdTarget *t, const char *addr);
/* Of a key's part after "PREFIX/": the address it overrides, when it is
 * an override key (a pointer into rest), else NULL. */
const char *etcd_override_key_addr(const char *rest);

/* An override's value: a JSON object whose "weight" is an integer from 0
 * to GEERPC_WEIGHT_MAX (other members are ignored), at most
 * ETCD_OVERRIDE_VALUE_MAX bytes. -EINVAL with a one-line reason (a static
 * string) for anything else. */
int etcd_override_parse(const char *value, size_t len, unsigned *ret_weight, const char **ret_reason);
/* The value geerpcctl writes: {"weight":N} (malloc'd). */
char *etcd_override_format(unsigned weight);

/* The set clients pick from: servers (sorted by address) with the weight
 * of their address's override, if any, in force and their own kept as
 * server_weight. overrides: sorted by address, each's weight in
 * meta.weight; an override without a server lists nothing. */
int etcd_overrides_apply(const ServerEntry *servers, size_t n, const ServerEntry *overrides, size_t n_overrides,
                         ServerSet **ret);
