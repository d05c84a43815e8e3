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
        _cleanup_(ctl_token_freep) char *auth = NULL;
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
        else
                status = ctl_registry_refused(c, &res);
        http_result_done(&res);
        return status;
}

static int deregister_etcd(Ctl *c) {
        EtcdTarget t = {};
        const char *reason = NULL;
        _cleanup_free_ char *canonical = NULL, *key = NULL, *key64 = NULL, *error = NULL;
        _cleanup_json_ json_t *body = NULL, *response = NULL;
        long http_status = 0;
        int r = etcd_url_parse(c->registry, &t, &reason), status;
        if (r < 0)
                return output_failure(&c->out, EXIT_USAGE, NULL, "invalid --registry URL '%s': %s", c->registry,
                                      strempty(reason));
        /* The key of the server's own (canonical) spelling of its address. */
        r = address_canonicalize(c->address, 0, &canonical, NULL);
        key = r >= 0 ? etcd_key_for(&t, canonical) : NULL;
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
        else if (etcd_json_int(json_object_get(response, "deleted"), 0, INT64_MAX, &deleted) < 0 || deleted == 0)
                status = not_registered(c);
        else
                status = deregistered(c);
        etcd_target_done(&t);
        return status;
}

static int deregister_run(Ctl *c) {
        _cleanup_(ctl_token_freep) char *token = NULL;
        int r = ctl_load_token(c, &token);
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

static const CtlOption deregister_options[] = {
        CTL_OPTION_TOKEN_FILE,
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
