/* SPDX-License-Identifier: MIT */

/* geerpcctl servers: the servers a registry lists, with their age (from
 * the registry's JSON listing: what it says about each server is passed
 * on with --json), or the --server list as it was given. */

#include <strings.h>

#include "basic/address.h"
#include "basic/duration.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

static bool registry_is_http(const char *url) {
        return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* The entries of a geeregistry's JSON listing whose address is valid;
 * NULL when the body is not one (a Go registry answers with headers
 * only). */
static json_t *listing_entries(const Buffer *body) {
        _cleanup_json_ json_t *root = json_loadb(buffer_data(body), buffer_len(body), 0, NULL);
        json_t *servers = json_is_object(root) ? json_object_get(root, "servers") : NULL, *e;
        size_t i;
        if (!json_is_array(servers))
                return NULL;
        json_t *list = json_array();
        json_array_foreach(servers, i, e) {
                Address a;
                const char *addr = json_string_value(json_object_get(e, "addr"));
                if (addr && address_parse(addr, 0, &a, NULL) >= 0)
                        json_array_append(list, e);
        }
        return list;
}

/* 0 with *ret the registry's entries, or NULL when it gives no JSON
 * listing; else the exit status (reported). */
static int fetch_listing(Ctl *c, json_t **ret) {
        const char *const headers[] = { "Accept: application/json", NULL };
        HttpResult res;
        int status = ctl_registry_request(c, "GET", headers, "get the servers from the registry", &res);
        if (status != 0)
                return status;
        if (res.status != 200)
                status = output_failure(&c->out, EXIT_UNREACHABLE, NULL,
                                        "cannot get the servers from the registry at %s: HTTP status %ld (is the URL right?)",
                                        c->registry, res.status);
        else
                *ret = listing_entries(&res.body);
        http_result_done(&res);
        return status;
}

/* The list as the discovery has it: addresses only. */
static int discovery_entries(Ctl *c, json_t **ret) {
        geerpc_discovery *d = NULL;
        char **all = NULL;
        size_t n = 0;
        int r = ctl_discovery(c, &d);
        if (r != 0)
                return r;
        r = geerpc_discovery_get_all(d, &all, &n);
        if (r < 0)
                return output_failure(&c->out, ctl_exit_status(r), NULL, "%s", ctl_error_text(r, NULL));
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_pack("{s:s}", "addr", all[i]));
        free(all);
        *ret = list;
        return 0;
}

/* table: SERVER and AGE; plain: the addresses alone, one per line, as
 * scripts read them. */
static void print_entries(const Ctl *c, json_t *list) {
        static const char *const headers[] = { "SERVER", "AGE" };
        size_t n = json_array_size(list), n_cols = c->out.mode == OUTPUT_TABLE ? 2 : 1;
        _cleanup_free_ const char **cells = calloc(n_cols * n + 1, sizeof(char *));
        _cleanup_free_ char *ages = calloc(n + 1, GO_DURATION_MAX);
        if (!cells || !ages)
                return;
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(list, i), *age = json_object_get(e, "age_ms");
                cells[i * n_cols] = json_string_value(json_object_get(e, "addr"));
                if (n_cols > 1)
                        cells[i * n_cols + 1] =
                                json_is_integer(age) && json_integer_value(age) >= 0
                                        ? duration_format_short(ages + i * GO_DURATION_MAX,
                                                                (usec_t) json_integer_value(age) * USEC_PER_MSEC)
                                        : "-";
        }
        output_table(&c->out, n_cols, headers, cells, n);
}

static int servers_run(Ctl *c) {
        _cleanup_json_ json_t *list = NULL, *root = NULL;
        int r;

        if (c->registry && registry_is_http(c->registry) && (r = fetch_listing(c, &list)) != 0)
                return r;
        if (!list && (r = discovery_entries(c, &list)) != 0)
                return r;

        if (c->registry)
                root = json_pack("{s:s,s:s,s:O}", "source", "registry", "registry", c->registry, "servers", list);
        else {
                output_note("the servers given with --server, as given (not checked)");
                root = json_pack("{s:s,s:O}", "source", "given", "servers", list);
        }
        if (json_array_size(list) == 0)
                return output_failure(&c->out, EXIT_UNREACHABLE, root, "%s", ctl_error_text(-ENXIO, NULL));
        if (c->out.mode == OUTPUT_JSON)
                output_json(&c->out, root);
        else
                print_entries(c, list);
        return EXIT_OK;
}

static int servers_parse(Ctl *c, int argc, char **argv) {
        if (argc > 0)
                return cli_usage_error("unexpected argument for servers: %s", argv[0]);
        return 0;
}

const CtlCommand command_servers = {
        .name = "servers",
        .synopsis = "",
        .help = "list the servers and their age (the time\n"
                "since their last heartbeat); with\n"
                "--server: the given list",
        .needs = CTL_NEEDS_SERVERS,
        .parse = servers_parse,
        .run = servers_run,
};
