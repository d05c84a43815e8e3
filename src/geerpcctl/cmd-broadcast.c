/* SPDX-License-Identifier: MIT */

/* geerpcctl broadcast: one call to every server at once; the first reply,
 * or which servers failed and why. */

#include <stdio.h>

#include "geerpcctl.h"

static json_t *servers_json(const geerpc_broadcast_result *res) {
        json_t *list = json_array();
        for (size_t i = 0; i < geerpc_broadcast_result_get_count(res); i++) {
                int st = geerpc_broadcast_result_get_status(res, i);
                json_t *e = json_pack("{s:s,s:b}", "server", geerpc_broadcast_result_get_server(res, i), "ok", st == 0);
                if (st != 0)
                        json_object_set_new(e, "error",
                                            json_text(ctl_error_text(st, geerpc_broadcast_result_get_error(res, i))));
                json_array_append_new(list, e);
        }
        return list;
}

static void note_failed_servers(const geerpc_broadcast_result *res) {
        for (size_t i = 0; i < geerpc_broadcast_result_get_count(res); i++) {
                int st = geerpc_broadcast_result_get_status(res, i);
                if (st != 0)
                        output_note("%s: %s", geerpc_broadcast_result_get_server(res, i),
                                    ctl_error_text(st, geerpc_broadcast_result_get_error(res, i)));
        }
}

static int broadcast_run(Ctl *c) {
        geerpc_xclient *x;
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL, *label = NULL;
        geerpc_broadcast_result *res = NULL;
        int r = ctl_xclient(c, &x);
        if (r != 0)
                return r;

        if (asprintf(&label, "broadcast %s", c->method) < 0)
                label = NULL;
        Progress *p = progress_start(&c->out, strempty(label), 0);
        r = geerpc_xclient_broadcast(x, c->method, c->call_args, ctl_remaining(c), &reply, &error, &res);
        progress_stop(p);

        _cleanup_json_ json_t *servers = res ? servers_json(res) : NULL;
        int status = ctl_exit_status(r);
        if (r < 0) {
                const char *text = ctl_error_text(r, error);
                _cleanup_json_ json_t *extra = json_pack("{s:s,s:O}", "method", c->method, "servers",
                                                         servers ?: json_null());
                output_failure_error(&c->out, status, extra, text, "broadcast %s: %s", c->method, text);
                note_failed_servers(res);
        } else if (c->out.mode == OUTPUT_JSON) {
                _cleanup_json_ json_t *root = json_pack("{s:O,s:O}", "reply", reply, "servers", servers ?: json_null());
                output_json(&c->out, root);
        } else
                output_json(&c->out, reply);
        if (reply)
                json_decref(reply);
        geerpc_broadcast_result_free(res);
        return status;
}

const CtlCommand command_broadcast = {
        .name = "broadcast",
        .synopsis = "SERVICE.METHOD ARGS_JSON",
        .help = "call every server at once; print the\n"
                "first reply, or which servers failed",
        .needs = CTL_NEEDS_SERVERS,
        .parse = ctl_parse_method_args,
        .run = broadcast_run,
};
