/* SPDX-License-Identifier: MIT */
#pragma once

/* What a registry knows about a server besides its address: the services
 * it offers, its weight and its labels (limits in geerpc/defs.h). One
 * module for every place that reads or writes them: the heartbeat's
 * headers (registration, geeregistry), the registry's JSON listing and
 * state file, etcd's value, discovery.
 *
 * Wire forms (docs/PROTOCOL.md):
 *   X-Geerpc-Services: Foo,Echo      names, comma-separated
 *   X-Geerpc-Weight: 3               0..GEERPC_WEIGHT_MAX
 *   X-Geerpc-Labels: zone=a,rack=7   key=value, comma-separated
 *   JSON: "services":["Echo","Foo"],"weight":3,"labels":{"rack":"7","zone":"a"}
 * Parsers trim blanks around items, and return -EINVAL with a one-line
 * reason (a static string) for anything else. */

#include <jansson.h>

#include "basic/buffer.h"
#include "basic/strv.h"
#include "geerpc/defs.h"

typedef struct ServerMeta {
        /* Sorted, unique. NULL: unknown (a server registered the Go
         * original's way), which offers every service. */
        char **services;
        unsigned weight; /* 0: draining, never chosen */
        /* "key=value" strings sorted by key, keys unique; NULL: none. */
        char **labels;
} ServerMeta;

#define SERVER_META_DEFAULT ((ServerMeta) { .weight = GEERPC_WEIGHT_DEFAULT })

void server_meta_done(ServerMeta *m);
int server_meta_copy(const ServerMeta *m, ServerMeta *ret);
bool server_meta_equal(const ServerMeta *a, const ServerMeta *b);
/* Whether m's server is listed for service (NULL: any): it offers it, or
 * its services are unknown; every server offers GEERPC_BUILTIN_SERVICE. */
bool server_meta_offers(const ServerMeta *m, const char *service);

bool server_label_key_is_valid(const char *key);
bool server_label_value_is_valid(const char *value);

/* The header forms. *ret is untouched on failure. */
int server_meta_parse_services(const char *s, char ***ret, const char **ret_reason);
int server_meta_parse_weight(const char *s, unsigned *ret, const char **ret_reason);
int server_meta_parse_labels(const char *s, char ***ret, const char **ret_reason);

/* Appends ,"services":[...],"weight":N,"labels":{...}: each only when it
 * says more than its absence (services known, a weight other than the
 * default, some labels). */
int server_meta_append_json(Buffer *out, const ServerMeta *m);
/* Reads those members of obj (absent ones: unknown services, the default
 * weight, no labels), checked as the headers are. */
int server_meta_from_json(json_t *obj, ServerMeta *ret, const char **ret_reason);
