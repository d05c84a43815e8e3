/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "echo.h"

static int echo_echo(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        /* args is borrowed; the reply is a new reference to the same value. */
        *ret_reply = args ? json_incref(args) : NULL;
        return 0;
}

int echo_register(geerpc_server *s) {
        static const geerpc_method methods[] = {
                { .name = "Echo", .handler = echo_echo, .description = "returns its argument unchanged" },
        };
        return geerpc_server_add_service(s, "Echo", methods, sizeof methods / sizeof methods[0], NULL);
}
