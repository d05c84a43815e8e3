/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "describe.h"
#include "geerpc/client.h"
#include "geerpc/server.h"

/* Asks one server for its description, within the deadline. */
static int describe_one(const DescribeArgs *a, const char *server, json_t **ret, char **ret_error) {
        geerpc_client *c;
        usec_t left = 0;
        if (a->deadline != USEC_INFINITY) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= a->deadline)
                        return -ETIMEDOUT;
                left = a->deadline - now;
        }
        int r = geerpc_client_new(&c);
        if (r < 0)
                return r;
        r = geerpc_client_set_connect_timeout(c, left);
        if (r >= 0)
                r = geerpc_client_connect(c, server);
        json_t *args = a->service ? json_pack("{s:s}", "Service", a->service) : json_null();
        if (r >= 0)
                r = geerpc_client_call(c, GEERPC_BUILTIN_SERVICE ".Describe", args, left, ret, ret_error);
        json_decref(args);
        geerpc_client_unref(c);
        return r;
}

/* What a server says is printed: control characters become '?'. */
static const char *printable(const char *s, char *buf, size_t size) {
        size_t i = 0;
        for (; s && s[i] && i < size - 1; i++)
                buf[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = 0;
        return buf;
}

/* Calls f for every method of a description: SERVICE.METHOD, its kind,
 * its description (may be NULL). */
static void foreach_method(json_t *d, void (*f)(const char *name, const char *kind, const char *text, void *ud),
                           void *userdata) {
        size_t i, j;
        json_t *svc, *m;
        json_array_foreach(json_object_get(d, "services"), i, svc) {
                const char *sname = json_string_value(json_object_get(svc, "name"));
                json_array_foreach(json_object_get(svc, "methods"), j, m) {
                        const char *mname = json_string_value(json_object_get(m, "name"));
                        char full[512];
                        if (!sname || !mname)
                                continue;
                        snprintf(full, sizeof full, "%s.%s", sname, mname);
                        f(full, json_string_value(json_object_get(m, "kind")),
                          json_string_value(json_object_get(m, "description")), userdata);
                }
        }
}

static void print_method(const char *name, const char *kind, const char *text, void *userdata) {
        char n[512], k[32], t[512];
        printf("  %-28s %-9s %s\n", printable(name, n, sizeof n), printable(kind ?: "?", k, sizeof k),
               printable(text ?: "", t, sizeof t));
}

static void collect_method(const char *name, const char *kind, const char *text, void *userdata) {
        json_t *names = userdata;
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v)
                if (streq(json_string_value(v), name))
                        return;
        json_array_append_new(names, json_string(name));
}

int describe_servers(const DescribeArgs *a, char *const *servers, size_t n) {
        json_t *all = json_array(), *names = json_array();
        int result = 0;

        for (size_t i = 0; i < n; i++) {
                json_t *d = NULL;
                _cleanup_free_ char *error = NULL;
                int r = describe_one(a, servers[i], &d, &error);
                if (r < 0) {
                        const char *text = a->error_text(r, error);
                        fprintf(stderr, "%s: describe %s: %s\n", program_invocation_short_name, servers[i], text);
                        json_array_append_new(all, json_pack("{s:s,s:s}", "server", servers[i], "error", text));
                        /* An unreachable server outweighs a refusal. */
                        if (r != -EREMOTEIO || result == 0)
                                result = r;
                        continue;
                }
                if (a->list)
                        foreach_method(d, collect_method, names);
                else if (!a->json) {
                        printf("%s%s\n", i > 0 ? "\n" : "", servers[i]);
                        foreach_method(d, print_method, NULL);
                }
                json_object_set_new(d, "server", json_string(servers[i]));
                json_array_append_new(all, d);
        }

        if (a->json) {
                json_t *root = a->list ? json_pack("{s:O}", "methods", names) : json_pack("{s:O}", "servers", all);
                char *s = json_dumps(root, JSON_COMPACT);
                if (s)
                        puts(s);
                free(s);
                json_decref(root);
        } else if (a->list) {
                size_t i;
                json_t *v;
                json_array_foreach(names, i, v) {
                        char buf[512];
                        puts(printable(json_string_value(v), buf, sizeof buf));
                }
        }
        json_decref(all);
        json_decref(names);
        return result;
}
