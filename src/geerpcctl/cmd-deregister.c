/* SPDX-License-Identifier: MIT */

/* geerpcctl deregister ADDR: removes a server from the registry at once,
 * for an operator cleaning up after a server that died without
 * deregistering (a server still running registers again with its next
 * heartbeat). geeregistry: a DELETE, with the write token when the
 * registry wants one; etcd: the server's key is deleted. */

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
        _cleanup_(etcd_target_done) EtcdTarget t = {};
        int status = ctl_etcd_target(c, &t);
        if (status != 0)
                return status;
        _cleanup_free_ char *key64 = ctl_etcd_key64(c, &t, etcd_key_for);
        _cleanup_json_ json_t *body = key64 ? json_pack("{s:s}", "key", key64) : NULL, *response = NULL;
        if (!body)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        status = ctl_etcd_request(c, &t, "/v3/kv/deleterange", body, &response);
        if (status != 0)
                return status;
        return ctl_etcd_deleted(response) ? deregistered(c) : not_registered(c);
}

static int deregister_run(Ctl *c) {
        return ctl_registry_write(c, deregister_http, deregister_etcd);
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
