/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "shared/cli.h"
#include "config.h"
#include "basic/address.h"
#include "basic/duration.h"
#include "basic/log.h"

static char last_error[1024];

int cli_usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last_error, sizeof last_error, fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", program_invocation_short_name, last_error,
                program_invocation_short_name);
        return -EINVAL;
}

const char *cli_last_usage_error(void) {
        return last_error[0] ? last_error : NULL;
}

int cli_getopt_error(int c, char *const *argv) {
        /* optind has moved past a long option and past a short one that
         * ends its word; inside a cluster (-xy) only optopt tells. */
        const char *word = optind > 0 ? argv[optind - 1] : "";
        if (c == ':') {
                if (optopt > ' ' && optopt < 0x7f && strncmp(word, "--", 2) != 0)
                        return cli_usage_error("option '-%c' needs a value", optopt);
                return cli_usage_error("option '%s' needs a value", word);
        }
        if (optopt > ' ' && optopt < 0x7f && strncmp(word, "--", 2) != 0)
                return cli_usage_error("unknown option '-%c'", optopt);
        if (optopt != 0) /* a value given to an option that takes none */
                return cli_usage_error("option '%.*s' takes no value", (int) strcspn(word, "="), word);
        return cli_usage_error("unknown option '%.*s'", (int) strcspn(word, "="), word);
}

int cli_parse_duration(const char *option, const char *value, usec_t *ret) {
        if (duration_parse(value, ret) < 0)
                return cli_usage_error("invalid duration for --%s: '%s' (use e.g. 500ms, 2s, 5m, 1h or seconds)",
                                       option, value);
        return 0;
}

int cli_parse_unsigned(const char *option, const char *value, unsigned long min, unsigned long max,
                       unsigned long *ret) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(value, &end, 10);
        if (errno != 0 || end == value || *end || value[0] == '-' || n < min || n > max)
                return cli_usage_error("invalid value for --%s: '%s' (expected %lu-%lu)", option, value, min, max);
        *ret = n;
        return 0;
}

int cli_parse_log_level(const char *value) {
        int l = log_level_from_string(value);
        if (l < 0)
                return cli_usage_error("invalid --log-level: '%s' (err, warning, notice, info, debug)", value);
        log_set_max_level(l);
        return 0;
}

int cli_parse_address(const char *option, const char *value, unsigned flags) {
        Address a;
        const char *reason = NULL;
        if (address_parse(value, (AddressFlags) flags, &a, &reason) < 0)
                return cli_usage_error("invalid --%s address '%s': %s (expected %s)", option, value, strempty(reason),
                                       CLI_ADDRESS_SYNTAX);
        return 0;
}

int cli_parse_program_args(const CliProgram *p, int argc, char **argv, void *userdata) {
        int c;
        while ((c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL)) >= 0)
                switch (c) {
                case 'h':
                        p->help();
                        return 0;
                case CLI_ARG_VERSION:
                        printf("%s %s\n", program_invocation_short_name, GEERPC_VERSION);
                        return 0;
                case '?':
                case ':':
                        return cli_getopt_error(c, argv);
                default:
                        if (p->parse_option(c, userdata) < 0)
                                return -EINVAL;
                }
        if (optind < argc)
                return cli_usage_error("unexpected argument: %s", argv[optind]);
        return 1;
}
