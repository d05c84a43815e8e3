/* SPDX-License-Identifier: MIT */

/* geerpcctl servers [--service NAME]: the servers a registry lists (with
 * --service, those that offer NAME or whose services are unknown), each
 * with what the registry says of it: its services, weight, labels and age
 * (the time since its last heartbeat); or the --server list as it was
 * given. */

#include <inttypes.h>

#include "basic/duration.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "rpc/service-name.h"
#include "shared/cli.h"

/* {"addr":...,"age_ms":N,"services":[...],"weight":N,"server_weight":N,
 * "labels":{...}}: services only when known (unknown: every service),
 * server_weight only under an operator's override, age_ms when known. */
static json_t *entry_json(const geerpc_server_list *l, size_t i) {
        json_t *e = json_pack("{s:s,s:i}", "addr", geerpc_server_list_get_address(l, i), "weight",
                              geerpc_server_list_get_weight(l, i));
        uint64_t age = geerpc_server_list_get_age(l, i);
        const char *const *services = geerpc_server_list_get_services(l, i), *const *labels =
                geerpc_server_list_get_labels(l, i);
        int own = geerpc_server_list_get_server_weight(l, i);
        if (!e)
                return NULL;
        if (age != UINT64_MAX)
                json_object_set_new(e, "age_ms", json_integer((json_int_t) (age / USEC_PER_MSEC)));
        if (services) {
                json_t *a = json_array();
                for (const char *const *p = services; *p; p++)
                        json_array_append_new(a, json_string(*p));
                json_object_set_new(e, "services", a);
        }
        if (own >= 0)
                json_object_set_new(e, "server_weight", json_integer(own));
        if (labels) {
                json_t *o = json_object();
                for (const char *const *p = labels; *p; p++) {
                        const char *eq = strchr(*p, '=');
                        json_object_setn_new(o, *p, (size_t) (eq - *p), json_string(eq + 1));
                }
                json_object_set_new(e, "labels", o);
        }
        return e;
}

/* A list of strings joined by commas, or dflt when there is none. */
static char *joined(const char *const *v, const char *dflt) {
        size_t n = 0;
        for (const char *const *p = v; p && *p; p++)
                n += strlen(*p) + 1;
        if (n == 0)
                return strdup(dflt);
        char *s = malloc(n), *q = s;
        for (const char *const *p = v; s && *p; p++)
                q = stpcpy(q, *p), *q++ = ',';
        if (s)
                q[-1] = 0;
        return s;
}

/* "3", "0 (draining)", "0 (drained; its own: 2)", "5 (operator; its own: 2)". */
static char *weight_text(const geerpc_server_list *l, size_t i) {
        int w = geerpc_server_list_get_weight(l, i), own = geerpc_server_list_get_server_weight(l, i);
        char *s;
        int k = own >= 0 ? asprintf(&s, "%d (%s; its own: %d)", w, w == 0 ? "drained" : "operator", own)
                         : asprintf(&s, "%d%s", w, w == 0 ? " (draining)" : "");
        return k < 0 ? NULL : s;
}

/* table: SERVER, SERVICES (* when unknown: every service), WEIGHT, LABELS,
 * AGE; plain: the addresses alone, one per line, as scripts read them. */
static int print_list(const Ctl *c, const geerpc_server_list *l) {
        static const char *const headers[] = { "SERVER", "SERVICES", "WEIGHT", "LABELS", "AGE" };
        enum { N_COLS = ELEMENTSOF(headers) };
        size_t n = geerpc_server_list_get_count(l), n_cols = c->out.mode == OUTPUT_TABLE ? N_COLS : 1;
        _cleanup_free_ const char **cells = calloc(n_cols * n + 1, sizeof(char *));
        _cleanup_free_ char **owned = calloc(3 * n + 1, sizeof(char *));
        _cleanup_free_ char *ages = calloc(n + 1, GO_DURATION_MAX);
        if (!cells || !owned || !ages)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char **row = cells + i * n_cols;
                row[0] = geerpc_server_list_get_address(l, i);
                if (n_cols == 1)
                        continue;
                uint64_t age = geerpc_server_list_get_age(l, i);
                owned[3 * i] = joined(geerpc_server_list_get_services(l, i), "*");
                owned[3 * i + 1] = weight_text(l, i);
                owned[3 * i + 2] = joined(geerpc_server_list_get_labels(l, i), "-");
                row[1] = owned[3 * i] ?: "?";
                row[2] = owned[3 * i + 1] ?: "?";
                row[3] = owned[3 * i + 2] ?: "?";
                row[4] = age == UINT64_MAX ? "-" : duration_format_short(ages + i * GO_DURATION_MAX, age);
        }
        output_table(&c->out, n_cols, headers, cells, n);
        for (size_t i = 0; i < 3 * n; i++)
                free(owned[i]);
        return 0;
}

static int servers_run(Ctl *c) {
        _cleanup_(geerpc_server_list_unrefp) geerpc_server_list *l = NULL;
        _cleanup_json_ json_t *list = json_array(), *root = NULL;
        int r = ctl_server_list(c, c->service, &l);
        if (r != 0)
                return r;

        size_t n = geerpc_server_list_get_count(l);
        for (size_t i = 0; list && i < n; i++)
                json_array_append_new(list, c->registry ? entry_json(l, i)
                                                        : json_pack("{s:s}", "addr",
                                                                    geerpc_server_list_get_address(l, i)));
        if (c->registry)
                root = json_pack("{s:s,s:s,s:O}", "source", "registry", "registry", c->registry, "servers", list);
        else {
                output_note("the servers given with --server, as given (not checked)");
                root = json_pack("{s:s,s:O}", "source", "given", "servers", list);
        }
        if (root && c->service)
                json_object_set_new(root, "service", json_string(c->service));
        if (n == 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, root, "%s", ctl_error_text(-ENXIO, NULL));
        if (c->out.mode == OUTPUT_JSON)
                output_json(&c->out, root);
        else if (print_list(c, l) < 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        return EXIT_OK;
}

static int servers_parse(Ctl *c, int argc, char **argv) {
        if (argc > 0)
                return cli_usage_error("unexpected argument for servers: %s", argv[0]);
        return 0;
}

static int parse_service(Ctl *c, const char *value) {
        if (!service_name_is_valid(value))
                return cli_usage_error("invalid --service '%s': 1-64 ASCII letters, digits or '_'", value);
        c->service = value;
        return 0;
}

static const CtlOption servers_options[] = {
        { "service", 0, "NAME", "only the servers of this service (those\n"
                                "that offer it, or whose services are\n"
                                "unknown)", parse_service },
        {},
};

const CtlCommand command_servers = {
        .name = "servers",
        .synopsis = "",
        .help = "list the servers with their services,\n"
                "weight, labels and age (the time since\n"
                "their last heartbeat); with --server:\n"
                "the given list",
        .options = servers_options,
        .needs = CTL_NEEDS_SERVERS,
        .parse = servers_parse,
        .run = servers_run,
};
