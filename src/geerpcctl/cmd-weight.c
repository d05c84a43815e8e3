/* SPDX-License-Identifier: MIT */

/* geerpcctl drain ADDR, undrain ADDR, weight ADDR N: the operator's weight
 * for a server, kept by geeregistry apart from what the server's own
 * heartbeats say (docs/PROTOCOL.md, "Operator overrides"): drain is weight
 * 0 (listed, never chosen), undrain clears the override (the server's own
 * weight applies again). A PATCH with the write token, as deregister's
 * DELETE. */

#include <strings.h>

#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

static int done(Ctl *c, const HttpResult *res) {
        /* The registry's line: "ADDR: weight 0 (its own: 2)". */
        _cleanup_free_ char *line = strndup(buffer_data(&res->body), MIN(buffer_len(&res->body), (size_t) 4096));
        if (line)
                line[strcspn(line, "\r\n")] = 0;
        if (c->out.mode == OUTPUT_JSON) {
                _cleanup_json_ json_t *root = json_pack("{s:s,s:s,s:o,s:o}", "server", c->address, "registry",
                                                        c->registry, "weight",
                                                        c->weight < 0 ? json_null() : json_integer(c->weight),
                                                        "message", json_text(strempty(line)));
                output_json(&c->out, root);
        } else {
                _cleanup_free_ char *shown = text_escape(strempty(line), OUTPUT_TEXT_MAX);
                printf("%s\n", strempty(shown));
        }
        return EXIT_OK;
}

static int override_run(Ctl *c) {
        if (strncasecmp(c->registry, "etcd://", 7) == 0)
                return output_failure(&c->out, EXIT_USAGE, NULL,
                                      "%s needs a geeregistry: etcd has no operator's weights (edit the server's value "
                                      "under the prefix, or give the server --weight)",
                                      c->command->name);
        _cleanup_(ctl_token_freep) char *token = NULL, *auth = NULL;
        int r = ctl_load_token(c, &token);
        if (r != 0)
                return r;
        _cleanup_free_ char *server = NULL, *value = NULL;
        if (asprintf(&server, "X-Geerpc-Server: %s", c->address) < 0 ||
            (c->weight < 0 ? asprintf(&value, "X-Geerpc-Weight-Override: clear")
                           : asprintf(&value, "X-Geerpc-Weight-Override: %d", c->weight)) < 0 ||
            (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0))
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        const char *const headers[] = { server, value, auth, NULL };
        HttpResult res;
        int status = ctl_registry_request(c, "PATCH", headers, "reach the registry", &res);
        if (status != 0)
                return status;
        if (res.status == 200)
                status = done(c, &res);
        else if (res.status == 404 && c->weight < 0)
                status = output_failure(&c->out, EXIT_REMOTE, NULL, "%s has no operator's weight to clear at %s",
                                        c->address, c->registry);
        else
                status = ctl_registry_refused(c, &res);
        http_result_done(&res);
        return status;
}

/* ADDR, and for weight N. */
static int override_parse(Ctl *c, int argc, char **argv) {
        bool weight = streq(c->command->name, "weight");
        unsigned long n = 0;
        if (argc != (weight ? 2 : 1))
                return cli_usage_error("usage: %s %s", c->command->name, c->command->synopsis);
        if (weight && cli_parse_unsigned("weight", argv[1], 0, GEERPC_WEIGHT_MAX, &n) < 0)
                return -EINVAL;
        if (cli_parse_address("server", argv[0], 0) < 0)
                return -EINVAL;
        c->address = argv[0];
        /* drain: 0; undrain: cleared. */
        c->weight = weight ? (int) n : streq(c->command->name, "undrain") ? -1 : 0;
        return 0;
}

static const CtlOption override_options[] = {
        CTL_OPTION_TOKEN_FILE,
        {},
};

const CtlCommand command_drain = {
        .name = "drain",
        .synopsis = "ADDR",
        .help = "make the registry list a server with\n"
                "weight 0: never chosen, whatever its\n"
                "heartbeats say, until undrain",
        .options = override_options,
        .needs = CTL_NEEDS_REGISTRY,
        .parse = override_parse,
        .run = override_run,
};

const CtlCommand command_undrain = {
        .name = "undrain",
        .synopsis = "ADDR",
        .help = "clear the operator's weight of a server\n"
                "(drain or weight): its own applies again",
        .options = override_options,
        .needs = CTL_NEEDS_REGISTRY,
        .parse = override_parse,
        .run = override_run,
};

const CtlCommand command_weight = {
        .name = "weight",
        .synopsis = "ADDR N",
        .help = "set the weight (0-1000) clients pick a\n"
                "server by, whatever its heartbeats say,\n"
                "until undrain",
        .options = override_options,
        .needs = CTL_NEEDS_REGISTRY,
        .parse = override_parse,
        .run = override_run,
};
