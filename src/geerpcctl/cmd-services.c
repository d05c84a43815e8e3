/* SPDX-License-Identifier: MIT */

/* geerpcctl services: each service some server announces, with the servers
 * a call to it may reach: those that offer it, and those whose services
 * are unknown (registered the Go original's way), which are listed for
 * every service. */

#include "basic/strv.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

/* Every service name in l, sorted, unique. */
static int service_names(const geerpc_server_list *l, char ***ret) {
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < geerpc_server_list_get_count(l); i++)
                for (const char *const *p = geerpc_server_list_get_services(l, i); p && *p; p++)
                        if (strv_push(&names, *p) < 0)
                                return -ENOMEM;
        strv_sort_unique(names);
        *ret = TAKE_PTR(names);
        return 0;
}

static bool reaches(const geerpc_server_list *l, size_t i, const char *service) {
        const char *const *v = geerpc_server_list_get_services(l, i);
        return !v || strv_contains((char *const *) v, service);
}

/* {"services":[{"name":...,"servers":[...]}],"unknown":[...]}: unknown,
 * the servers whose services are unknown (in every service's list too). */
static json_t *services_json(const geerpc_server_list *l, char *const *names) {
        json_t *services = json_array(), *unknown = json_array();
        size_t n = geerpc_server_list_get_count(l);
        for (char *const *s = names; services && *s; s++) {
                json_t *servers = json_array();
                for (size_t i = 0; i < n; i++)
                        if (reaches(l, i, *s))
                                json_array_append_new(servers, json_string(geerpc_server_list_get_address(l, i)));
                json_array_append_new(services, json_pack("{s:s,s:o}", "name", *s, "servers", servers));
        }
        for (size_t i = 0; unknown && i < n; i++)
                if (!geerpc_server_list_get_services(l, i))
                        json_array_append_new(unknown, json_string(geerpc_server_list_get_address(l, i)));
        return json_pack("{s:o,s:o}", "services", services, "unknown", unknown);
}

/* table: SERVICE, SERVERS (comma-joined); plain: the names. */
static int print_services(const Ctl *c, const geerpc_server_list *l, char *const *names) {
        static const char *const headers[] = { "SERVICE", "SERVERS" };
        size_t n = strv_length(names), n_cols = c->out.mode == OUTPUT_TABLE ? 2 : 1;
        _cleanup_free_ const char **cells = calloc(n_cols * n + 1, sizeof(char *));
        _cleanup_strv_free_ char **lists = calloc(n + 1, sizeof(char *));
        if (!cells || !lists)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                cells[k * n_cols] = names[k];
                if (n_cols == 1)
                        continue;
                _cleanup_strv_free_ char **servers = calloc(1, sizeof(char *));
                for (size_t i = 0; servers && i < geerpc_server_list_get_count(l); i++)
                        if (reaches(l, i, names[k]) && strv_push(&servers, geerpc_server_list_get_address(l, i)) < 0)
                                return -ENOMEM;
                lists[k] = servers ? strv_join(servers, ",") : NULL;
                if (!lists[k])
                        return -ENOMEM;
                cells[k * n_cols + 1] = lists[k];
        }
        output_table(&c->out, n_cols, headers, cells, n);
        return 0;
}

static int services_run(Ctl *c) {
        _cleanup_(geerpc_server_list_unrefp) geerpc_server_list *l = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r = ctl_server_list(c, NULL, &l);
        if (r != 0)
                return r;
        if (service_names(l, &names) < 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        _cleanup_json_ json_t *root = services_json(l, names);
        size_t unknown = json_array_size(json_object_get(root, "unknown"));
        if (geerpc_server_list_get_count(l) == 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, root, "%s", ctl_error_text(-ENXIO, NULL));
        if (unknown > 0 && c->out.mode != OUTPUT_JSON)
                output_note("%zu server%s say%s no services (registered the Go original's way): listed for every "
                            "service",
                            unknown, unknown == 1 ? "" : "s", unknown == 1 ? "s" : "");
        if (c->out.mode == OUTPUT_JSON)
                output_json(&c->out, root);
        else if (print_services(c, l, names) < 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        return EXIT_OK;
}

static int services_parse(Ctl *c, int argc, char **argv) {
        if (argc > 0)
                return cli_usage_error("unexpected argument for services: %s", argv[0]);
        return 0;
}

const CtlCommand command_services = {
        .name = "services",
        .synopsis = "",
        .help = "list each service the servers announce,\n"
                "with the servers a call to it may reach",
        .needs = CTL_NEEDS_SERVERS,
        .parse = services_parse,
        .run = services_run,
};
