/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdio.h>

#include "basic/address.h"
#include "cluster/discovery-internal.h"
#include "http/http-client.h"
#include "codec/json-util.h"
#include "basic/log.h"
#include "basic/url.h"

/* Discovery from a registry over HTTP (the Go original's
 * GeeRegistryDiscovery): one GET fetches the alive servers. The cache
 * around it is discovery.c's. */

typedef struct RegistryBackend {
        char *url;
} RegistryBackend;

/* ---- reading the response ----------------------------------------------- */

typedef struct EntryList {
        ServerEntry *v; /* addresses: canonical spellings, owned */
        size_t n, allocated;
        size_t n_invalid;
        bool truncated;
} EntryList;

static void entry_list_done(EntryList *l) {
        server_entries_free(l->v, l->n);
}

/* Takes meta. */
static int entry_list_add(EntryList *l, const char *addr, ServerMeta *meta, usec_t heartbeat, int server_weight) {
        const char *reason = NULL;
        _cleanup_free_ char *canonical = NULL;
        int r = address_canonicalize(addr, 0, &canonical, &reason);
        if (r == -EINVAL) {
                log_debug("rpc discovery: skipping invalid address '%s' from the registry: %s", addr, reason);
                l->n_invalid++;
                server_meta_done(meta);
                return 0;
        }
        if (r < 0) {
                server_meta_done(meta);
                return r;
        }
        if (l->n >= GEERPC_DISCOVERY_MAX_SERVERS) {
                l->truncated = true;
                server_meta_done(meta);
                return 0;
        }
        if (l->n == l->allocated) {
                size_t k = MAX(l->allocated * 2, (size_t) 16);
                ServerEntry *v = reallocarray(l->v, k, sizeof *v);
                if (!v) {
                        server_meta_done(meta);
                        return -ENOMEM;
                }
                l->v = v;
                l->allocated = k;
        }
        l->v[l->n++] = (ServerEntry) {
                .addr = TAKE_PTR(canonical),
                .meta = *meta,
                .heartbeat = heartbeat,
                .server_weight = server_weight,
        };
        *meta = (ServerMeta) {};
        return 0;
}

/* One {"addr":..., "age_ms":..., metadata} of the JSON listing (or a
 * bare address string). */
static int parse_json_entry(json_t *e, usec_t now, EntryList *l) {
        ServerMeta meta = SERVER_META_DEFAULT;
        json_t *addr = json_is_object(e) ? json_object_get(e, "addr") : e;
        const char *why = NULL;
        if (!json_is_string(addr) || (json_is_object(e) && server_meta_from_json(e, &meta, &why) < 0)) {
                if (why)
                        log_debug("rpc discovery: skipping a server in the registry's list: %s", why);
                l->n_invalid++;
                return 0;
        }
        json_t *age = json_object_get(e, "age_ms"), *own = json_object_get(e, "server_weight");
        usec_t heartbeat = 0;
        if (json_is_integer(age) && json_integer_value(age) >= 0) {
                usec_t a = (usec_t) json_integer_value(age) * USEC_PER_MSEC;
                heartbeat = now > a ? now - a : 1;
        }
        int server_weight = -1;
        if (json_is_integer(own) && json_integer_value(own) >= 0 && json_integer_value(own) <= GEERPC_WEIGHT_MAX)
                server_weight = (int) json_integer_value(own);
        return entry_list_add(l, json_string_value(addr), &meta, heartbeat, server_weight);
}

/* 1 when the body is a registry JSON document (and l holds its list), 0
 * when it is not one (try the headers), or a negative errno. */
static int parse_json_body(json_t *root, usec_t now, EntryList *l) {
        json_t *servers = json_is_object(root) ? json_object_get(root, "servers") : NULL;
        if (!json_is_array(servers))
                return 0;
        size_t i;
        json_t *e;
        json_array_foreach(servers, i, e) {
                int r = parse_json_entry(e, now, l);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* Splits a comma-joined header value in place. */
static int parse_header_value(char *value, EntryList *l) {
        char *save = NULL;
        for (char *tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                tok += strspn(tok, " \t");
                size_t len = strlen(tok);
                while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
                        tok[--len] = 0;
                if (len == 0)
                        continue;
                ServerMeta meta = SERVER_META_DEFAULT;
                int r = entry_list_add(l, tok, &meta, 0, -1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int registry_parse_response(const Buffer *headers, const Buffer *body, usec_t now, ServerSet **ret,
                            char **ret_error) {
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *value = NULL;
        EntryList l = {};
        int r = 0;

        if (body && buffer_len(body) > 0)
                root = json_loadb(buffer_data(body), buffer_len(body), 0, NULL);
        if (root)
                r = parse_json_body(root, now, &l);
        if (r == 0) {
                /* No JSON list: the headers (a Go registry, or one that
                 * ignores Accept). Both spellings: X-rpc-Servers is the older
                 * Go variant's. */
                value = http_header_get(headers, "X-Geerpc-Servers");
                if (!value)
                        value = http_header_get(headers, "X-rpc-Servers");
                if (!value) {
                        if (ret_error)
                                *ret_error = strdup("the registry's response carries no server list");
                        entry_list_done(&l);
                        return -EBADMSG;
                }
                r = parse_header_value(value, &l);
        }
        if (r >= 0) {
                if (l.truncated)
                        log_warning("rpc discovery: the registry lists more than %u servers, using the first %u",
                                    GEERPC_DISCOVERY_MAX_SERVERS, GEERPC_DISCOVERY_MAX_SERVERS);
                if (l.n_invalid > 0)
                        log_debug("rpc discovery: skipped %zu invalid entries in the registry's list", l.n_invalid);
                r = server_set_new_entries(l.v, l.n, ret);
        }
        entry_list_done(&l);
        return r;
}

/* ---- the back end ------------------------------------------------------------ */

static int registry_fetch(geerpc_discovery *d, const char *service, usec_t timeout, ServerSet **ret,
                          char **ret_error) {
        RegistryBackend *b = d->backend;
        const char *const headers[] = { "Accept: application/json", NULL };
        _cleanup_free_ char *url = NULL;
        /* Service names need no escaping (service-name.h). A registry that
         * does not know the parameter (the Go original's) ignores it. */
        if (service && asprintf(&url, "%s%cservice=%s", b->url, strchr(b->url, '?') ? '&' : '?', service) < 0)
                return -ENOMEM;
        HttpRequestSpec spec = {
                .method = "GET",
                .url = url ?: b->url,
                .headers = headers,
                .timeout = timeout,
                .connect_timeout = MIN(timeout, HTTP_CONNECT_TIMEOUT_DEFAULT_USEC),
                .max_response = DISCOVERY_REGISTRY_RESPONSE_MAX,
        };
        HttpResult res = {};
        int r = http_perform(&spec, &res);
        if (r < 0)
                return r;
        if (res.result == -EMSGSIZE && streq_ptr(res.error, HTTP_HEADER_LINE_TOO_LONG)) {
                /* A Go registry sends its whole list in one header. */
                r = -EMSGSIZE;
                if (asprintf(ret_error, "the registry's server list header is longer than libcurl accepts (100 KiB, "
                                        "about 4,800 servers): it lists too many servers for a registry without a "
                                        "JSON body") < 0)
                        *ret_error = NULL;
        } else if (res.result == -EMSGSIZE) {
                r = -EFBIG;
                if (asprintf(ret_error, "the registry's answer is larger than %u MiB",
                             DISCOVERY_REGISTRY_RESPONSE_MAX / (1024U * 1024U)) < 0)
                        *ret_error = NULL;
        } else if (res.result < 0) {
                r = res.result;
                *ret_error = TAKE_PTR(res.error);
        } else if (res.status != 200) {
                r = -EPROTO;
                if (asprintf(ret_error, "HTTP status %ld", res.status) < 0)
                        *ret_error = NULL;
        } else
                r = registry_parse_response(&res.headers, &res.body, now_usec(CLOCK_MONOTONIC), ret, ret_error);
        http_result_done(&res);
        return r;
}

static void registry_free_backend(void *backend) {
        RegistryBackend *b = backend;
        if (!b)
                return;
        free(b->url);
        free(b);
}

static const DiscoveryVTable registry_vtable = {
        .name = "registry",
        .fetch = registry_fetch,
        .free_backend = registry_free_backend,
};

_public_ int geerpc_discovery_new_registry(geerpc_discovery **ret, const char *url) {
        if (!ret || isempty(url))
                return -EINVAL;
        int s = url_scheme(url);
        if (s < 0)
                return s;
        if (s != URL_SCHEME_HTTP && s != URL_SCHEME_HTTPS)
                return -EPROTONOSUPPORT;
        RegistryBackend *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->url = strdup(url);
        if (!b->url) {
                free(b);
                return -ENOMEM;
        }
        return discovery_new(&registry_vtable, b, url, NULL, ret);
}
