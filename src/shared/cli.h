/* SPDX-License-Identifier: MIT */
#pragma once

/* Command-line helpers shared by the daemons and geerpcctl (internal; not
 * part of the library's ABI). Usage errors exit with status 2. */

#include <getopt.h>

#include "basic/macro.h"

#define EXIT_USAGE 2

/* The address syntax, for messages and --help. */
#define CLI_ADDRESS_SYNTAX "tcp@HOST:PORT, tcp@[IPv6]:PORT, tcp4@..., tcp6@..., unix@/PATH or http@HOST:PORT"

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

/* A daemon's command line: options only. */
#define CLI_ARG_VERSION 0x1000 /* the val of { "version", no_argument } */
typedef struct CliProgram {
        const char *shortopts;         /* starts with ':'; 'h' is --help */
        const struct option *longopts; /* with --help ('h') and --version (CLI_ARG_VERSION) */
        void (*help)(void);
        /* One option, its value in optarg; < 0 after a usage error. */
        int (*parse_option)(int c, void *userdata);
} CliProgram;

/* Parses argv with p: 1 to run; 0 after --help or --version (printed);
 * < 0 after a usage error (reported once). Arguments that are not options
 * are usage errors. */
int cli_parse_program_args(const CliProgram *p, int argc, char **argv, void *userdata);
