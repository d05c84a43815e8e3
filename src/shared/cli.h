/* SPDX-License-Identifier: MIT */
#pragma once

/* Command-line helpers shared by the daemons and geerpcctl (internal; not
 * part of the library's ABI). Usage errors exit with status 2. */

#include "basic/macro.h"

#define EXIT_USAGE 2

/* Prints "PROGRAM: <message>" and "Try 'PROGRAM --help'." to stderr and
 * returns -EINVAL. */
int cli_usage_error(const char *fmt, ...) _printf_(1, 2);

/* Parse an option value or report a usage error naming the option. */
int cli_parse_duration(const char *option, const char *value, usec_t *ret);
int cli_parse_unsigned(const char *option, const char *value, unsigned long min, unsigned long max,
                       unsigned long *ret);
int cli_parse_log_level(const char *value);
