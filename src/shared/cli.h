/* SPDX-License-Identifier: MIT */
#pragma once

/* Command-line helpers shared by the daemons and geerpcctl (internal; not
 * part of the library's ABI). Usage errors exit with status 2. */

#include "basic/macro.h"

#define EXIT_USAGE 2

/* The address syntax, for messages and --help. */
#define CLI_ADDRESS_SYNTAX "tcp@HOST:PORT, tcp@[IPv6]:PORT, tcp4@..., tcp6@... or unix@/PATH"

/* Prints "PROGRAM: <message>" and "Try 'PROGRAM --help'." to stderr and
 * returns -EINVAL. The message is kept for cli_last_usage_error(). */
int cli_usage_error(const char *fmt, ...) _printf_(1, 2);
/* The message of the last cli_usage_error(), or NULL. */
const char *cli_last_usage_error(void);

/* For getopt_long() called with an option string that starts with ':'
 * (after any '+'), so that getopt itself prints nothing: reports what it
 * returned for a bad command line ('?' or ':') once, with the program's
 * short name. Returns -EINVAL. */
int cli_getopt_error(int c, char *const *argv);

/* Parse an option value or report a usage error naming the option. */
int cli_parse_duration(const char *option, const char *value, usec_t *ret);
int cli_parse_unsigned(const char *option, const char *value, unsigned long min, unsigned long max,
                       unsigned long *ret);
int cli_parse_log_level(const char *value);
/* A PROTOCOL@ADDRESS for --OPTION; flags as address_parse()'s. On error
 * the message says why and what the syntax is. */
int cli_parse_address(const char *option, const char *value, unsigned flags);
