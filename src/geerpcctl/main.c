/* SPDX-License-Identifier: MIT */

/* geerpcctl: the command-line client. Lists the servers, calls one server,
 * broadcasts to all of them, deregisters one, or describes what they
 * serve, finding them through a registry (--registry, $GEERPC_REGISTRY)
 * or a given list (--server).
 *
 * This file holds the tables (global options, commands), parses the
 * command line from them, prints --help from them, and dispatches. */

#include <assert.h>
#include <getopt.h>
#include <stdio.h>

#include "basic/address.h"
#include "basic/log.h"
#include "config.h"
#include "geerpcctl.h"
#include "shared/cli.h"

static const CtlCommand *const commands[] = {
        &command_servers,
        &command_call,
        &command_broadcast,
        &command_deregister,
        &command_describe,
        &command_list,
};

/* ---- global options ------------------------------------------------------- */

static int parse_registry(Ctl *c, const char *value) {
        c->registry = value;
        return 0;
}

static int parse_servers(Ctl *c, const char *value) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;
        if (!copy)
                return cli_usage_error("%s", strerror(ENOMEM));
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                t += strspn(t, " \t");
                t[strcspn(t, " \t")] = 0;
                if (!*t)
                        continue;
                const char *reason = NULL;
                Address addr;
                if (address_parse(t, 0, &addr, &reason) < 0)
                        return cli_usage_error("invalid server address '%s' for --server: %s (expected %s)", t, reason,
                                               CLI_ADDRESS_SYNTAX);
                char **v = reallocarray(c->servers, c->n_servers + 1, sizeof(char *));
                if (!v)
                        return cli_usage_error("%s", strerror(ENOMEM));
                c->servers = v;
                if (!(c->servers[c->n_servers] = strdup(t)))
                        return cli_usage_error("%s", strerror(ENOMEM));
                c->n_servers++;
        }
        if (c->n_servers == 0)
                return cli_usage_error("--server needs at least one address");
        return 0;
}

static int parse_mode(Ctl *c, const char *value) {
        if (streq(value, "random"))
                c->mode = GEERPC_SELECT_RANDOM;
        else if (streq(value, "roundrobin"))
                c->mode = GEERPC_SELECT_ROUND_ROBIN;
        else if (strncmp(value, "hash:", 5) == 0 && value[5]) {
                c->mode = GEERPC_SELECT_HASH;
                c->key = value + 5;
        } else
                return cli_usage_error("invalid --mode: '%s' (random, roundrobin or hash:KEY)", value);
        return 0;
}

static int parse_timeout(Ctl *c, const char *value) {
        return cli_parse_duration("timeout", value, &c->timeout);
}

static int parse_output(Ctl *c, const char *value) {
        int m = output_mode_from_string(value);
        if (m < 0)
                return cli_usage_error("invalid --output: '%s' (json, table or plain)", value);
        c->out.mode = m;
        return 0;
}

static int parse_json(Ctl *c, const char *value) {
        c->out.mode = OUTPUT_JSON;
        return 0;
}

static int parse_log_level(Ctl *c, const char *value) {
        return cli_parse_log_level(value);
}

static const CtlOption options[] = {
        { "registry", 'r', "URL", "the registry (default: $GEERPC_REGISTRY):\n"
                                  "http://127.0.0.1:9999/_geerpc_/registry or\n"
                                  "etcd://HOST:PORT[,HOST:PORT...][/PREFIX]", parse_registry },
        { "server", 's', "ADDR[,ADDR...]", "these servers instead of a registry", parse_servers },
        { "mode", 'm', "MODE", "how call picks a server: random\n"
                               "(default), roundrobin, or hash:KEY (the\n"
                               "same KEY goes to the same server while\n"
                               "the servers stay the same)", parse_mode },
        { "timeout", 't', "DURATION", "deadline for the whole command\n"
                                      "(default 10s; 0: none); calls still\n"
                                      "running then are cancelled", parse_timeout },
        { "output", 'o', "MODE", "json, table (default on a terminal) or\n"
                                 "plain (default otherwise: bare values,\n"
                                 "for scripts)", parse_output },
        { "json", 0, NULL, "the same as --output=json: one JSON\n"
                           "object on stdout, whatever the outcome", parse_json },
        { "log-level", 0, "LEVEL", "err (default), warning, notice, info or\n"
                                   "debug", parse_log_level },
        {},
};

/* ---- help ------------------------------------------------------------------ */

#define HELP_COLUMN 38

/* The help text of a line that took n columns so far: its first line at
 * HELP_COLUMN (or on a line of its own when the start is too long), the
 * others below it. */
static void print_help_text(int n, const char *h) {
        for (bool first = true; *h; first = false) {
                size_t len = strcspn(h, "\n");
                if (first && n < HELP_COLUMN)
                        printf("%*s", HELP_COLUMN - n, "");
                else
                        printf("\n%*s", HELP_COLUMN, "");
                printf("%.*s", (int) len, h);
                h += len + (h[len] == '\n');
        }
        putchar('\n');
}

/* "  -r --registry=URL" and its help text. */
static void print_option(const CtlOption *o, const char *indent) {
        int n = printf("%s%c%c --%s%s%s", indent, o->short_name ? '-' : ' ', o->short_name ?: ' ', o->name,
                       o->metavar ? "=" : "", strempty(o->metavar));
        print_help_text(n, o->help);
}

static void print_command(const CtlCommand *cmd) {
        int n = printf("  %s%s%s", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis);
        print_help_text(n, cmd->help);
        for (const CtlOption *o = cmd->options; o && o->name; o++)
                print_option(o, "    ");
}

static void help(void) {
        printf("Usage: %s [OPTIONS] COMMAND [COMMAND OPTIONS] [ARGUMENTS]\n"
               "\n"
               "Calls GeeRPC servers found through a registry or given as a list.\n"
               "\n"
               "Commands:\n",
               program_invocation_short_name);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                print_command(commands[i]);
        printf("\nOptions (before or after the command):\n");
        for (const CtlOption *o = options; o->name; o++)
                print_option(o, "  ");
        printf("  -h --help                           show this help\n"
               "     --version                        show the version\n"
               "\n"
               "ARGS_JSON is any JSON value, e.g. '{\"Num1\":3,\"Num2\":4}', or - (also @-) to\n"
               "read it from standard input, or @PATH to read it from a file.\n"
               "DURATION: 500ms, 2s, 5m, 1h, or a number of seconds.\n"
               "ADDR: " CLI_ADDRESS_SYNTAX ".\n"
               "\n"
               "With --json every outcome is one JSON object on stdout: servers prints\n"
               "{\"source\":...,\"servers\":[{\"addr\":ADDR,\"age_ms\":N},...]}; call prints\n"
               "{\"server\":ADDR,\"reply\":VALUE} (with --count: calls, failures, rate and\n"
               "latency); broadcast prints {\"reply\":VALUE,\"servers\":[...]}; deregister prints\n"
               "{\"deregistered\":ADDR}; describe prints {\"servers\":[{\"server\":ADDR,\"services\":[...]},\n"
               "...]}; list prints {\"methods\":[...]}; a failure prints\n"
               "{\"error\":TEXT,\"code\":STATUS,...}.\n"
               "JSON is indented on a terminal. Without --json, text from servers and\n"
               "registries is printed with control characters escaped, and cut after\n"
               "%u bytes (--json carries all of it).\n"
               "\n"
               "Environment: GEERPC_REGISTRY (--registry), GEERPC_TOKEN (deregister's token),\n"
               "GEERPC_LOG_LEVEL (--log-level).\n"
               "\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  the call returned a remote error (its text on stderr), the\n"
               "     registry refused, or a server has no such service or does not\n"
               "     describe itself (describe, list)\n"
               "  2  usage error, or ARGS_JSON is not valid JSON\n"
               "  3  no server or registry reachable (an empty list included), or the\n"
               "     deadline passed\n",
               OUTPUT_TEXT_MAX);
}

/* ---- parsing ------------------------------------------------------------------ */

enum { ARG_HELP = 0x200, ARG_VERSION };

/* The getopt tables for the global options and, if given, a command's. */
typedef struct OptionTable {
        struct option longopts[64];
        const CtlOption *by_val[64];
        char shortopts[160];
} OptionTable;

static void table_add(OptionTable *t, size_t *n, const CtlOption *o) {
        /* Room for the entry, --help, --version and the terminator. */
        assert(*n + 3 < ELEMENTSOF(t->longopts));
        int val = o->short_name ?: (int) (0x100 + *n);
        t->longopts[*n] = (struct option) { o->name, o->metavar ? required_argument : no_argument, NULL, val };
        t->by_val[*n] = o;
        if (o->short_name) {
                size_t l = strlen(t->shortopts);
                t->shortopts[l++] = o->short_name;
                if (o->metavar)
                        t->shortopts[l++] = ':';
                t->shortopts[l] = 0;
        }
        (*n)++;
}

static void table_build(OptionTable *t, const CtlCommand *cmd) {
        size_t n = 0;
        *t = (OptionTable) {};
        /* "+": options end at the first argument, so that ARGS_JSON may
         * start with a dash (a negative number); ":": we report errors. */
        strcpy(t->shortopts, "+:h");
        for (const CtlOption *o = options; o->name; o++)
                table_add(t, &n, o);
        for (const CtlOption *o = cmd ? cmd->options : NULL; o && o->name; o++)
                table_add(t, &n, o);
        t->longopts[n++] = (struct option) { "help", no_argument, NULL, ARG_HELP };
        t->longopts[n++] = (struct option) { "version", no_argument, NULL, ARG_VERSION };
        t->longopts[n] = (struct option) {};
}

/* Parses options until the first argument. 1: go on; 0: done (--help,
 * --version); < 0: a usage error (reported). */
static int parse_options(Ctl *c, const CtlCommand *cmd, int argc, char **argv) {
        OptionTable t;
        int k;
        table_build(&t, cmd);
        optind = 0; /* glibc: start afresh, also on a second argv */
        while ((k = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) >= 0) {
                if (k == 'h' || k == ARG_HELP) {
                        help();
                        return 0;
                }
                if (k == ARG_VERSION) {
                        if (c->out.mode == OUTPUT_JSON)
                                printf("{\"version\":\"%s\"}\n", GEERPC_VERSION);
                        else
                                printf("geerpcctl %s\n", GEERPC_VERSION);
                        return 0;
                }
                if (k == '?' || k == ':')
                        return cli_getopt_error(k, argv);
                const CtlOption *o = NULL;
                for (size_t i = 0; t.longopts[i].name && !o; i++)
                        if (t.longopts[i].val == k)
                                o = t.by_val[i];
                if (!o || o->parse(c, o->metavar ? optarg : NULL) < 0)
                        return -EINVAL;
        }
        return 1;
}

static const CtlCommand *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i]->name, name))
                        return commands[i];
        return NULL;
}

static char *command_names(void) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "%s%s", i == 0 ? "" : i + 1 == ELEMENTSOF(commands) ? " or " : ", ", commands[i]->name);
        fclose(f);
        return s;
}

/* Where the servers are: --registry, --server, or $GEERPC_REGISTRY. */
static int check_target(Ctl *c) {
        const CtlCommand *cmd = c->command;
        if (cmd->needs == CTL_NEEDS_NOTHING)
                return 0;
        if (c->registry && c->n_servers > 0)
                return cli_usage_error("--registry and --server exclude each other");
        if (!c->registry && c->n_servers == 0) {
                const char *env = getenv("GEERPC_REGISTRY");
                if (isempty(env))
                        return cli_usage_error("no servers: give --registry URL, --server ADDR or $GEERPC_REGISTRY");
                c->registry = env;
        }
        if (cmd->needs == CTL_NEEDS_REGISTRY && !c->registry)
                return cli_usage_error("%s needs a registry (--registry or $GEERPC_REGISTRY), not --server",
                                       cmd->name);
        return ctl_open_discovery(c);
}

/* 1: run c->command; 0: done; < 0: usage error (reported). */
static int parse_args(Ctl *c, int argc, char **argv) {
        int r = parse_options(c, NULL, argc, argv);
        if (r <= 0)
                return r;
        if (optind >= argc) {
                _cleanup_free_ char *names = command_names();
                return cli_usage_error("missing command (%s)", strempty(names));
        }
        int first = optind;
        c->command = find_command(argv[first]);
        if (!c->command) {
                _cleanup_free_ char *names = command_names();
                return cli_usage_error("unknown command '%s' (%s)", argv[first], strempty(names));
        }
        /* The command's options (and global ones after the command), then
         * its arguments. */
        r = parse_options(c, c->command, argc - first, argv + first);
        if (r <= 0)
                return r;
        r = c->command->parse(c, argc - first - optind, argv + first + optind);
        if (r < 0)
                return r;
        r = check_target(c);
        return r < 0 ? r : 1;
}

int main(int argc, char **argv) {
        Ctl c = { .mode = GEERPC_SELECT_RANDOM, .timeout = CTL_TIMEOUT_DEFAULT_USEC };
        int r, status;

        /* A tool's stderr is for its own messages: the library's warnings
         * only with --log-level or $GEERPC_LOG_LEVEL. */
        log_set_max_level(LOG_ERR);
        log_parse_environment();
        output_init(&c.out);
        output_prescan(&c.out, argc, argv);

        r = parse_args(&c, argc, argv);
        if (r < 0) {
                if (c.out.mode == OUTPUT_JSON) {
                        _cleanup_json_ json_t *root = json_pack("{s:o,s:i}", "error",
                                                                 json_text(cli_last_usage_error() ?: "usage error"),
                                                                 "code", EXIT_USAGE);
                        output_json(&c.out, root);
                }
                status = EXIT_USAGE;
        } else if (r == 0)
                status = EXIT_OK;
        else {
                c.deadline = c.timeout == 0 ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), c.timeout);
                status = c.command->run(&c);
        }
        ctl_done(&c);
        return status;
}
