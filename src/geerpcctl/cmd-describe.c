/* SPDX-License-Identifier: MIT */

/* geerpcctl describe [SERVICE] and list [SERVICE]: what the servers serve,
 * asked of each in turn with the built-in _geerpc.Describe (a client of
 * its own per server, within what is left of the deadline), so that one
 * server that fails does not hide the others. */

#include <stdio.h>

#include "geerpc/client.h"
#include "geerpc/server.h"
#include "geerpcctl.h"
#include "shared/cli.h"

static int describe_parse(Ctl *c, int argc, char **argv) {
        if (argc > 1)
                return cli_usage_error("usage: %s [SERVICE]", c->command->name);
        c->service = argc == 1 ? argv[0] : NULL;
        if (c->service && (!*c->service || strchr(c->service, '.')))
                return cli_usage_error("invalid service '%s' (a name without '.')", c->service);
        return 0;
}

static int describe_one(Ctl *c, const char *server, json_t **ret, char **ret_error) {
        _cleanup_(geerpc_client_unrefp) geerpc_client *client = NULL;
        int r = geerpc_client_new(&client);
        if (r < 0)
                return r;
        r = geerpc_client_set_connect_timeout(client, ctl_remaining(c));
        if (r >= 0)
                r = geerpc_client_connect(client, server);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *args = c->service ? json_pack("{s:s}", "Service", c->service) : json_null();
        return geerpc_client_call(client, GEERPC_BUILTIN_SERVICE ".Describe", args, ctl_remaining(c), ret, ret_error);
}

/* Asks every server. *ret_all: what each said ({"server","services"}) or
 * why not ({"server","error"}), in the discovery's order. Returns 0, or
 * the worst outcome: an unreachable server outweighs a refusal. The exit
 * status instead, when there are no servers (reported). */
static int ask_all(Ctl *c, json_t **ret_all, int *ret_worst) {
        geerpc_discovery *d;
        char **servers = NULL;
        size_t n = 0;
        int worst = 0, r = ctl_discovery(c, &d);
        if (r != 0)
                return r;
        r = geerpc_discovery_get_all(d, &servers, &n);
        if (r >= 0 && n == 0)
                r = -ENXIO;
        if (r < 0) {
                free(servers);
                return output_failure(&c->out, ctl_exit_status(r), NULL, "%s", ctl_error_text(r, NULL));
        }
        json_t *all = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *d_one = NULL;
                _cleanup_free_ char *error = NULL;
                r = describe_one(c, servers[i], &d_one, &error);
                if (r < 0) {
                        const char *text = ctl_error_text(r, error);
                        output_note("describe %s: %s", servers[i], text);
                        json_array_append_new(all, json_pack("{s:s,s:o}", "server", servers[i], "error", json_text(text)));
                        if (r != -EREMOTEIO || worst == 0)
                                worst = r;
                        continue;
                }
                if (!json_is_object(d_one))
                        d_one = json_decref_null(d_one) ?: json_object();
                json_object_set_new(d_one, "server", json_string(servers[i]));
                json_array_append_new(all, d_one);
        }
        free(servers);
        *ret_all = all;
        *ret_worst = worst;
        return 0;
}

/* Calls f for each method of each description that came. */
typedef void (*method_fn)(const char *server, const char *name, json_t *method, void *userdata);

static void foreach_method(json_t *all, method_fn f, void *userdata) {
        size_t i, j, k;
        json_t *one, *svc, *m;
        json_array_foreach(all, i, one)
                json_array_foreach(json_object_get(one, "services"), j, svc)
                        json_array_foreach(json_object_get(svc, "methods"), k, m) {
                                const char *s = json_string_value(json_object_get(svc, "name"));
                                const char *name = json_string_value(json_object_get(m, "name"));
                                _cleanup_free_ char *full = NULL;
                                if (s && name && asprintf(&full, "%s.%s", s, name) >= 0)
                                        f(json_string_value(json_object_get(one, "server")), full, m, userdata);
                        }
}

/* The rows of the table as strings (cells point into the JSON or into
 * names, which outlives the table). */
typedef struct Rows {
        json_t *names; /* the cells' own strings */
        const char **cells;
        size_t n_cols, n_rows;
} Rows;

static void add_row(Rows *t, const char *const *cells) {
        const char **v = reallocarray(t->cells, (t->n_rows + 1) * t->n_cols, sizeof(char *));
        if (!v)
                return;
        t->cells = v;
        for (size_t i = 0; i < t->n_cols; i++)
                v[t->n_rows * t->n_cols + i] = cells[i];
        t->n_rows++;
}

static void describe_row(const char *server, const char *name, json_t *m, void *userdata) {
        Rows *t = userdata;
        json_t *copy = json_string(name);
        json_array_append_new(t->names, copy);
        const char *cells[] = { server, json_string_value(copy), json_string_value(json_object_get(m, "kind")),
                                json_string_value(json_object_get(m, "description")) };
        add_row(t, cells);
}

static void list_row(const char *server, const char *name, json_t *m, void *userdata) {
        Rows *t = userdata;
        size_t i;
        json_t *v;
        json_array_foreach(t->names, i, v)
                if (streq(json_string_value(v), name))
                        return;
        json_t *copy = json_string(name);
        json_array_append_new(t->names, copy);
        add_row(t, (const char *[]) { json_string_value(copy) });
}

static int run(Ctl *c, bool list) {
        static const char *const describe_headers[] = { "SERVER", "METHOD", "KIND", "DESCRIPTION" };
        static const char *const list_headers[] = { "METHOD" };
        _cleanup_json_ json_t *all = NULL;
        int worst = 0, status = ask_all(c, &all, &worst);
        if (status != 0)
                return status;

        Rows t = { .names = json_array(), .n_cols = list ? 1 : 4 };
        foreach_method(all, list ? list_row : describe_row, &t);
        _cleanup_json_ json_t *extra = list ? json_pack("{s:O}", "methods", t.names) : json_pack("{s:O}", "servers", all);
        if (worst != 0) {
                if (c->out.mode != OUTPUT_JSON)
                        output_table(&c->out, t.n_cols, list ? list_headers : describe_headers, t.cells, t.n_rows);
                status = output_failure(&c->out, ctl_exit_status(worst), extra, "%s: a server did not answer (%s)",
                                        c->command->name, ctl_error_text(worst, NULL));
        } else if (c->out.mode == OUTPUT_JSON)
                output_json(&c->out, extra);
        else
                output_table(&c->out, t.n_cols, list ? list_headers : describe_headers, t.cells, t.n_rows);
        free(t.cells);
        json_decref(t.names);
        return status;
}

static int describe_run(Ctl *c) {
        return run(c, false);
}

static int list_run(Ctl *c) {
        return run(c, true);
}

const CtlCommand command_describe = {
        .name = "describe",
        .synopsis = "[SERVICE]",
        .help = "each server's methods: kind (inline or\n"
                "blocking) and description, as the\n"
                "server tells them (_geerpc.Describe)",
        .needs = CTL_NEEDS_SERVERS,
        .parse = describe_parse,
        .run = describe_run,
};

const CtlCommand command_list = {
        .name = "list",
        .synopsis = "[SERVICE]",
        .help = "every SERVICE.METHOD the servers serve,\n"
                "each once",
        .needs = CTL_NEEDS_SERVERS,
        .parse = describe_parse,
        .run = list_run,
};
