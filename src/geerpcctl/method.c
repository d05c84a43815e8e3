/* SPDX-License-Identifier: MIT */

/* The arguments of the commands that call a method: SERVICE.METHOD and
 * ARGS_JSON, given inline, on standard input ("-" or "@-") or in a file
 * (@PATH). */

#include <fcntl.h>
#include <stdio.h>

#include "geerpc/defs.h"
#include "geerpcctl.h"
#include "shared/cli.h"

/* Arguments larger than a message could not be sent anyway. */
#define ARGS_JSON_MAX GEERPC_MAX_MESSAGE_SIZE_DEFAULT

/* Reads all of fd, up to ARGS_JSON_MAX bytes; malloc'd, NUL-terminated. */
static int read_all(int fd, char **ret, size_t *ret_len) {
        size_t len = 0, allocated = 0;
        _cleanup_free_ char *buf = NULL;
        for (;;) {
                if (allocated - len < 4096) {
                        allocated = MAX(allocated * 2, (size_t) 65536);
                        char *b = realloc(buf, allocated + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                ssize_t k = read(fd, buf + len, allocated - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > ARGS_JSON_MAX)
                        return -EFBIG;
        }
        buf[len] = 0;
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int load_args(Ctl *c, const char *spec) {
        _cleanup_free_ char *text = NULL;
        const char *from = NULL;
        size_t len;
        json_error_t err;
        int r;

        if (streq(spec, "-") || streq(spec, "@-")) {
                from = "standard input";
                r = read_all(STDIN_FILENO, &text, &len);
        } else if (spec[0] == '@') {
                from = spec + 1;
                _cleanup_close_ int fd = open(spec + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                r = fd < 0 ? negative_errno() : read_all(fd, &text, &len);
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
