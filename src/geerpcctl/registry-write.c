/* SPDX-License-Identifier: MIT */

/* What the commands that write to the registry share (deregister, drain,
 * undrain, weight): the write token and the registry's refusal; for etcd,
 * the target, the address's key and one request. */

#include "basic/address.h"
#include "cluster/registration-internal.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

int ctl_parse_token_file(Ctl *c, const char *value) {
        c->token_file = value;
        return 0;
}

int ctl_load_token(Ctl *c, char **ret) {
        const char *env = getenv("GEERPC_TOKEN");
        int r;
        if (c->token_file) {
                r = registration_token_read_file(c->token_file, ret);
                if (r < 0)
                        return output_failure(&c->out, EXIT_USAGE, NULL, "cannot use the token in %s: %s",
                                              c->token_file,
                                              r == -EINVAL ? "blank, or it has spaces or control characters"
                                                           : strerror(-r));
        } else if (!isempty(env)) {
                if (!registration_token_is_valid(env))
                        return output_failure(&c->out, EXIT_USAGE, NULL,
                                              "$GEERPC_TOKEN has spaces or control characters, or is too long");
                if (!(*ret = strdup(env)))
                        return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        }
        return 0;
}

void ctl_token_freep(char **p) {
        if (*p)
                explicit_bzero(*p, strlen(*p));
        free(*p);
}

int ctl_registry_refused(Ctl *c, const HttpResult *res) {
        /* The registry's one-line reason, whatever it holds. */
        _cleanup_free_ char *body = strndup(buffer_data(&res->body), MIN(buffer_len(&res->body), (size_t) 4096));
        if (body)
                body[strcspn(body, "\r\n")] = 0;
        _cleanup_json_ json_t *extra = json_pack("{s:i}", "http_status", (int) res->status);
        return output_failure(&c->out, EXIT_REMOTE, extra, "the registry refused: HTTP %ld%s%s%s", res->status,
                              isempty(body) ? "" : ": ", strempty(body),
                              res->status == 401 ? " (give the token with --token-file or $GEERPC_TOKEN)" : "");
}

int ctl_registry_write(Ctl *c, int (*http)(Ctl *c, const char *token), int (*etcd)(Ctl *c)) {
        _cleanup_(ctl_token_freep) char *token = NULL;
        int r = ctl_load_token(c, &token);
        if (r != 0)
                return r;
        if (etcd_url_is(c->registry))
                return etcd(c);
        return http(c, token);
}

int ctl_etcd_target(Ctl *c, EtcdTarget *ret) {
        const char *reason = NULL;
        int r = etcd_url_parse(c->registry, ret, &reason);
        if (r == -ENOMEM)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        if (r < 0)
                return output_failure(&c->out, EXIT_USAGE, NULL, "invalid --registry URL '%s': %s", c->registry,
                                      strempty(reason));
        return 0;
}

char *ctl_etcd_key64(const Ctl *c, const EtcdTarget *t, char *(*key_for)(const EtcdTarget *, const char *)) {
        /* The key of the server's own (canonical) spelling of its address. */
        _cleanup_free_ char *canonical = NULL, *key = NULL;
        if (address_canonicalize(c->address, 0, &canonical, NULL) < 0 || !(key = key_for(t, canonical)))
                return NULL;
        return base64_encode(key, strlen(key));
}

int ctl_etcd_request(Ctl *c, EtcdTarget *t, const char *path, json_t *body, json_t **ret_response) {
        _cleanup_free_ char *error = NULL;
        _cleanup_json_ json_t *response = NULL;
        long http_status = 0;
        int r = etcd_call_sync(t, path, body, ctl_remaining(c) ?: HTTP_TIMEOUT_DEFAULT_USEC, &http_status, &response,
                               &error);
        if (r < 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "cannot reach etcd at %s: %s", c->registry,
                                      error ?: strerror(-r));
        if (http_status != 200)
                return output_failure(&c->out, EXIT_REMOTE, NULL, "etcd refused: HTTP %ld: %s", http_status,
                                      strempty(etcd_error_message(response)));
        *ret_response = TAKE_PTR(response);
        return 0;
}

bool ctl_etcd_deleted(json_t *response) {
        int64_t deleted = 0;
        return etcd_json_int(json_object_get(response, "deleted"), 0, INT64_MAX, &deleted) >= 0 && deleted > 0;
}
