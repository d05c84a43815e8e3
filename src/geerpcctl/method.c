/* SPDX-License-Identifier: MIT */

/* The arguments of the commands that call a method: SERVICE.METHOD and
 * ARGS_JSON, given inline, on standard input ("-" or "@-") or in a file
 * (@PATH). */

#include <fcntl.h>
#include <stdio.h>

#include "basic/fileio.h"
#include "geerpc/defs.h"
#include "geerpcctl.h"
#include "shared/cli.h"

/* Arguments larger than a message could not be sent anyway. */
#define ARGS_JSON_MAX GEERPC_MAX_MESSAGE_SIZE_DEFAULT

static int load_args(Ctl *c, const char *spec) {
        _cleanup_free_ char *text = NULL;
        const char *from = NULL;
        size_t len;
        json_error_t err;
        int r;

        if (streq(spec, "-") || streq(spec, "@-")) {
                from = "standard input";
                r = read_full_fd(STDIN_FILENO, ARGS_JSON_MAX, &text, &len);
        } else if (spec[0] == '@') {
                from = spec + 1;
                _cleanup_close_ int fd = open(spec + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                r = fd < 0 ? negative_errno() : read_full_fd(fd, ARGS_JSON_MAX, &text, &len);
        } else {
                c->call_args = json_loads(spec, JSON_DECODE_ANY, &err);
                if (!c->call_args)
                        return cli_usage_error("invalid JSON arguments: %s (line %d, column %d)", err.text, err.line,
                                               err.column);
                return 0;
        }
        if (r == -EFBIG)
                return cli_usage_error("ARGS_JSON from %s is larger than %u bytes", from, ARGS_JSON_MAX);
        if (r < 0)
                return cli_usage_error("cannot read ARGS_JSON from %s: %s", from, strerror(-r));
        c->call_args = json_loadb(text, len, JSON_DECODE_ANY, &err);
        if (!c->call_args)
                return cli_usage_error("invalid JSON arguments from %s: %s (line %d, column %d)", from, err.text,
                                       err.line, err.column);
        return 0;
}

int ctl_parse_method_args(Ctl *c, int argc, char **argv) {
        if (argc != 2)
                return cli_usage_error("usage: %s SERVICE.METHOD ARGS_JSON", c->command->name);
        c->method = argv[0];
        const char *dot = strchr(c->method, '.');
        if (!dot || dot == c->method || !dot[1])
                return cli_usage_error("invalid method '%s' (expected Service.Method)", c->method);
        return load_args(c, argv[1]);
}
