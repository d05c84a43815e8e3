/* SPDX-License-Identifier: MIT */

/* geerpcctl deregister ADDR: removes a server from the registry at once,
 * for an operator cleaning up after a server that died without
 * deregistering (a server still running registers again with its next
 * heartbeat). geeregistry: a DELETE, with the write token when the
 * registry wants one; etcd: the server's key is deleted. */

#include <strings.h>

#include "basic/address.h"
#include "cluster/etcd.h"
#include "cluster/registration-internal.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

/* The token: --token-file, else $GEERPC_TOKEN, else none. Returns 0 or
 * the exit status (reported). */
static int load_token(Ctl *c, char **ret) {
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

static void erase_freep(char **p) {
        if (*p)
                explicit_bzero(*p, strlen(*p));
        free(*p);
}

static int deregistered(Ctl *c) {
        if (c->out.mode == OUTPUT_JSON) {
                _cleanup_json_ json_t *root = json_pack("{s:s,s:s}", "deregistered", c->address, "registry", c->registry);
                output_json(&c->out, root);
        } else
                printf("deregistered %s\n", c->address);
        return EXIT_OK;
}

static int not_registered(Ctl *c) {
        return output_failure(&c->out, EXIT_REMOTE, NULL, "%s is not registered at %s", c->address, c->registry);
}

static int deregister_http(Ctl *c, const char *token) {
        _cleanup_free_ char *server = NULL;
        _cleanup_(erase_freep) char *auth = NULL;
        if (asprintf(&server, "X-Geerpc-Server: %s", c->address) < 0 ||
            (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0))
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        const char *const headers[] = { server, auth, NULL };
        HttpResult res;
        int status = ctl_registry_request(c, "DELETE", headers, "reach the registry", &res);
        if (status != 0)
                return status;
        if (res.status == 200)
                status = deregistered(c);
        else if (res.status == 404)
                status = not_registered(c);
        else {
                /* The registry's one-line reason, whatever it holds. */
                _cleanup_free_ char *body = strndup(buffer_data(&res.body), MIN(buffer_len(&res.body), (size_t) 4096));
                if (body)
                        body[strcspn(body, "\r\n")] = 0;
                _cleanup_json_ json_t *extra = json_pack("{s:i}", "http_status", (int) res.status);
                status = output_failure(&c->out, EXIT_REMOTE, extra, "the registry refused: HTTP %ld%s%s%s", res.status,
                                        isempty(body) ? "" : ": ", strempty(body),
                                        res.status == 401 ? " (give the token with --token-file or $GEERPC_TOKEN)" : "");
        }
        http_result_done(&res);
        return status;
}

static int deregister_etcd(Ctl *c) {
        EtcdTarget t = {};
        const char *reason = NULL;
        _cleanup_free_ char *key = NULL, *key64 = NULL, *error = NULL;
        _cleanup_json_ json_t *body = NULL, *response = NULL;
        long http_status = 0;
        int r = etcd_url_parse(c->registry, &t, &reason), status;
        if (r < 0)
                return output_failure(&c->out, EXIT_USAGE, NULL, "invalid --registry URL '%s': %s", c->registry,
                                      strempty(reason));
        key = etcd_key_for(&t, c->address);
        key64 = key ? base64_encode(key, strlen(key)) : NULL;
        body = key64 ? json_pack("{s:s}", "key", key64) : NULL;
        if (!body) {
                etcd_target_done(&t);
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        }
        r = etcd_call_sync(&t, "/v3/kv/deleterange", body, ctl_remaining(c) ?: HTTP_TIMEOUT_DEFAULT_USEC,
                           &http_status, &response, &error);
        int64_t deleted = 0;
        if (r < 0)
                status = output_failure(&c->out, EXIT_UNREACHABLE, NULL, "cannot reach etcd at %s: %s", c->registry,
                                        error ?: strerror(-r));
        else if (http_status != 200)
                status = output_failure(&c->out, EXIT_REMOTE, NULL, "etcd refused: HTTP %ld: %s", http_status,
                                        strempty(etcd_error_message(response)));
        else if (etcd_json_int(json_object_get(response, "deleted"), &deleted) < 0 || deleted == 0)
                status = not_registered(c);
        else
                status = deregistered(c);
        etcd_target_done(&t);
        return status;
}

static int deregister_run(Ctl *c) {
        _cleanup_(erase_freep) char *token = NULL;
        int r = load_token(c, &token);
        if (r != 0)
                return r;
        if (strncasecmp(c->registry, "etcd://", 7) == 0)
                return deregister_etcd(c);
        return deregister_http(c, token);
}

static int deregister_parse(Ctl *c, int argc, char **argv) {
        if (argc != 1)
                return cli_usage_error("usage: deregister ADDR");
        if (cli_parse_address("server", argv[0], 0) < 0)
                return -EINVAL;
        c->address = argv[0];
        return 0;
}

static int parse_token_file(Ctl *c, const char *value) {
        c->token_file = value;
        return 0;
}

static const CtlOption deregister_options[] = {
        { "token-file", 0, "PATH", "the registry's write token (default:\n"
                                  "$GEERPC_TOKEN)", parse_token_file },
        {},
};

const CtlCommand command_deregister = {
        .name = "deregister",
        .synopsis = "ADDR",
        .help = "remove a server from the registry now\n"
                "(a running server registers again with\n"
                "its next heartbeat)",
        .options = deregister_options,
        .needs = CTL_NEEDS_REGISTRY,
        .parse = deregister_parse,
        .run = deregister_run,
};
