/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "basic/sort-util.h"
#include "cluster/etcd-override.h"
#include "codec/json-util.h"

char *etcd_override_key_for(const EtcdTarget *t, const char *addr) {
        char *k;
        return asprintf(&k, "%s/" ETCD_OVERRIDE_DIR "/%s", t->prefix, addr) < 0 ? NULL : k;
}

const char *etcd_override_key_addr(const char *rest) {
        size_t l = strlen(ETCD_OVERRIDE_DIR);
        if (strncmp(rest, ETCD_OVERRIDE_DIR, l) != 0 || rest[l] != '/')
                return NULL;
        return rest + l + 1;
}

int etcd_override_parse(const char *value, size_t len, unsigned *ret_weight, const char **ret_reason) {
        const char *why = NULL;
        /* json_is_object() evaluates its argument twice: load first. */
        _cleanup_json_ json_t *o = len <= ETCD_OVERRIDE_VALUE_MAX ? json_loadb(value, len, 0, NULL) : NULL;
        json_t *w = NULL;
        if (len > ETCD_OVERRIDE_VALUE_MAX)
                why = "the value is longer than 256 bytes";
        else if (!json_is_object(o))
                why = "the value is not a JSON object";
        else if (w = json_object_get(o, "weight"), !json_is_integer(w))
                why = "the value has no integer \"weight\"";
        else if (json_integer_value(w) < 0 || json_integer_value(w) > (json_int_t) GEERPC_WEIGHT_MAX)
                why = "the weight is not from 0 to 1000";
        if (why) {
                if (ret_reason)
                        *ret_reason = why;
                return -EINVAL;
        }
        *ret_weight = (unsigned) json_integer_value(w);
        return 0;
}

char *etcd_override_format(unsigned weight) {
        char *s;
        return asprintf(&s, "{\"weight\":%u}", weight) < 0 ? NULL : s;
}

static int addr_compare(const void *addr, const void *element) {
        return strcmp(addr, ((const ServerEntry *) element)->addr);
}

int etcd_overrides_apply(const ServerEntry *servers, size_t n, const ServerEntry *overrides, size_t n_overrides,
                         ServerSet **ret) {
        if (n_overrides == 0 || n == 0)
                return server_set_new_entries(servers, n, ret);
        /* Shallow copies: server_set_new_entries() copies what they borrow. */
        _cleanup_free_ ServerEntry *v = calloc(n, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool found;
                size_t k = sorted_search(servers[i].addr, overrides, n_overrides, sizeof *overrides, addr_compare,
                                         &found);
                v[i] = servers[i];
                if (found) {
                        v[i].server_weight = (int) servers[i].meta.weight;
                        v[i].meta.weight = overrides[k].meta.weight;
                }
        }
        return server_set_new_entries(v, n, ret);
}
