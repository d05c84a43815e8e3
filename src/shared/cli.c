/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "shared/cli.h"
#include "basic/duration.h"
#include "basic/log.h"

int cli_usage_error(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help'.\n", program_invocation_short_name);
        return -EINVAL;
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
