/* SPDX-License-Identifier: MIT */

/* geerpcctl drain ADDR, undrain ADDR, weight ADDR N: the operator's weight
 * for a server, kept apart from what the server's own heartbeats say
 * (docs/PROTOCOL.md, "Operator overrides"): drain is weight 0 (listed,
 * never chosen), undrain clears the override (the server's own weight
 * applies again). geeregistry: a PATCH with the write token, as
 * deregister's DELETE; etcd: the override's own key (etcd-override.h) put
 * or deleted, with the same answers. */

#include <stdio.h>

#include "cluster/etcd-override.h"
#include "cluster/etcd-response.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

/* line (taken; NULL when out of memory): the registry's, "ADDR: weight
 * 0 (its own: 2)". */
static int done(Ctl *c, char *taken) {
        _cleanup_free_ char *line = taken;
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

static int no_override(Ctl *c) {
        return output_failure(&c->out, EXIT_REMOTE, NULL, "%s has no operator's weight to clear at %s", c->address,
                              c->registry);
}

static int override_http(Ctl *c, const char *token) {
        _cleanup_free_ char *server = NULL, *value = NULL;
        _cleanup_(ctl_token_freep) char *auth = NULL;
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
        if (res.status == 200) {
                char *line = strndup(buffer_data(&res.body), MIN(buffer_len(&res.body), (size_t) 4096));
                if (line)
                        line[strcspn(line, "\r\n")] = 0;
                status = done(c, line);
        } else if (res.status == 404 && c->weight < 0)
                status = no_override(c);
        else
                status = ctl_registry_refused(c, &res);
        http_result_done(&res);
        return status;
}

/* The server's own weight from its key, for the line geeregistry would
 * answer: -ENOENT when it is not registered, < 0 when it is not known. */
static int etcd_own_weight(Ctl *c, EtcdTarget *t) {
        _cleanup_free_ char *key64 = ctl_etcd_key64(c, t, etcd_key_for), *error = NULL;
        _cleanup_json_ json_t *body = key64 ? json_pack("{s:s}", "key", key64) : NULL, *response = NULL;
        _cleanup_(etcd_range_done) EtcdRange range = {};
        long http_status = 0;
        if (!body)
                return -ENOMEM;
        int r = etcd_call_sync(t, "/v3/kv/range", body, ctl_remaining(c) ?: HTTP_TIMEOUT_DEFAULT_USEC, &http_status,
                               &response, &error);
        if (r < 0 || http_status != 200 || etcd_parse_range(t, response, &range) < 0)
                return r < 0 ? r : -EPROTO;
        return range.n_servers > 0 ? (int) range.servers[0].meta.weight : -ENOENT;
}

/* The line geeregistry answers (handlers.c), for own (the server's own
 * weight, or etcd_own_weight()'s error). */
static char *etcd_line(const Ctl *c, int own) {
        char *line = NULL;
        int k;
        if (c->weight < 0)
                k = asprintf(&line, "%s: override cleared%s", c->address, own == -ENOENT ? " (not registered)" : "");
        else if (own >= 0)
                k = asprintf(&line, "%s: weight %d (its own: %d)", c->address, c->weight, own);
        else if (own == -ENOENT)
                k = asprintf(&line, "%s: weight %d, kept for when it registers", c->address, c->weight);
        else
                k = asprintf(&line, "%s: weight %d", c->address, c->weight);
        return k < 0 ? NULL : line;
}

static int override_etcd(Ctl *c) {
        _cleanup_(etcd_target_done) EtcdTarget t = {};
        int status = ctl_etcd_target(c, &t);
        if (status != 0)
                return status;
        _cleanup_free_ char *key64 = ctl_etcd_key64(c, &t, etcd_override_key_for), *value = NULL, *value64 = NULL;
        if (c->weight >= 0 && (value = etcd_override_format((unsigned) c->weight)))
                value64 = base64_encode(value, strlen(value));
        _cleanup_json_ json_t *response = NULL, *body = NULL;
        if (key64 && c->weight < 0)
                body = json_pack("{s:s}", "key", key64);
        else if (key64 && value64)
                body = json_pack("{s:s,s:s}", "key", key64, "value", value64);
        if (!body)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        status = ctl_etcd_request(c, &t, c->weight < 0 ? "/v3/kv/deleterange" : "/v3/kv/put", body, &response);
        if (status != 0)
                return status;
        if (c->weight < 0 && !ctl_etcd_deleted(response))
                return no_override(c);

        return done(c, etcd_line(c, etcd_own_weight(c, &t)));
}

static int override_run(Ctl *c) {
        return ctl_registry_write(c, override_http, override_etcd);
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
        .help = "make the registry (geeregistry or etcd)\n"
                "list a server with weight 0: never\n"
                "chosen, whatever its heartbeats say,\n"
                "until undrain",
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
