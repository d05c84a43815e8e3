/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "codec/json-util.h"
#include "rpc/server-internal.h"

/* Introspection: what a server serves, as JSON, for the built-in service
 * _geerpc.Describe and for /debug/geerpc. */

const char *method_kind(const Method *m) {
        return m->flags & GEERPC_METHOD_BLOCKING ? "blocking" : "inline";
}

static json_t *describe_method(const Method *m, bool with_stats) {
        json_t *o = json_pack("{s:s,s:s}", "name", m->name, "kind", method_kind(m));
        if (o && m->description && json_object_set_new(o, "description", json_string(m->description)) < 0)
                o = json_decref_null(o);
        if (o && with_stats && json_object_update_new(o, method_stats_json(m)) < 0)
                o = json_decref_null(o);
        return o;
}

static json_t *describe_service(const Service *svc, bool with_stats) {
        json_t *methods = json_array();
        for (size_t i = 0; methods && i < svc->n_methods; i++)
                if (json_array_append_new(methods, describe_method(&svc->methods[i], with_stats)) < 0)
                        methods = json_decref_null(methods);
        json_t *o = methods ? json_pack("{s:s,s:o}", "name", svc->name, "methods", methods) : NULL;
        if (o && with_stats &&
            json_object_set_new(o, "unknown_method_calls", json_integer((json_int_t) counter_get(&svc->unknown_method))) < 0)
                o = json_decref_null(o);
        return o;
}

json_t *server_describe(geerpc_server *s, const char *service, bool with_stats) {
        json_t *list = json_array();
        bool found = !service;
        for (size_t i = 0; list && i < s->n_services; i++) {
                const Service *svc = &s->services[i];
                if (service && !streq(svc->name, service))
                        continue;
                found = true;
                if (json_array_append_new(list, describe_service(svc, with_stats)) < 0)
                        list = json_decref_null(list);
        }
        if (!list || !found) {
                if (list)
                        json_decref(list);
                return NULL;
        }
        return json_pack("{s:o}", "services", list);
}

/* _geerpc.Describe: null or {} for every service, {"Service":NAME} for one. */
static int describe(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        geerpc_server *s = userdata;
        const char *service = NULL;

        if (json_is_object(args)) {
                json_t *v = json_object_get_fold(args, "Service");
                if (v && !json_is_null(v) && !json_is_string(v)) {
                        *ret_error = strdup(GEERPC_BUILTIN_SERVICE ".Describe: Service must be a string");
                        return -EINVAL;
                }
                service = json_string_value(v);
        } else if (!json_is_null(args)) {
                *ret_error = strdup(GEERPC_BUILTIN_SERVICE ".Describe: arguments must be null or {\"Service\":NAME}");
                return -EINVAL;
        }
        json_t *d = server_describe(s, isempty(service) ? NULL : service, false);
        if (!d) {
                if (isempty(service))
                        return -ENOMEM;
                if (asprintf(ret_error, GEERPC_BUILTIN_SERVICE ".Describe: no service %s", service) < 0)
                        *ret_error = NULL;
                return -ENOENT;
        }
        *ret_reply = d;
        return 0;
}

int server_describe_register(geerpc_server *s) {
        const geerpc_method methods[] = {
                { .name = "Describe",
                  .handler = describe,
                  .description = "this server's services and methods: null for all, {\"Service\":NAME} for one" },
        };
        return server_add_service(s, GEERPC_BUILTIN_SERVICE, methods, ELEMENTSOF(methods), s);
}
