/* SPDX-License-Identifier: MIT */

/* geerpcctl: the command-line client. Lists the alive servers, calls one
 * server, or broadcasts to all of them, finding them through a registry
 * (--registry, $GEERPC_REGISTRY) or a given list (--server). */

#include <getopt.h>
#include <stdio.h>

#include "basic/address.h"
#include "shared/cli.h"
#include "config.h"
#include "geerpc/discovery.h"
#include "geerpc/xclient.h"
#include "basic/log.h"

/* Exit statuses (documented in --help and README.md). */
enum {
        EXIT_OK = 0,
        EXIT_REMOTE = 1,      /* the call returned a remote error */
        /* EXIT_USAGE (2, cli.h): usage, or invalid JSON arguments */
        EXIT_UNREACHABLE = 3, /* no server or registry reachable, or the deadline passed */
};

#define TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)

typedef struct Args {
        const char *registry;
        char **servers;
        size_t n_servers;
        geerpc_select_mode mode;
        const char *key;
        usec_t timeout; /* 0: none */
        usec_t deadline; /* CLOCK_MONOTONIC, from timeout; USEC_INFINITY: none */
        bool json;
        const char *command;
        const char *method;
        json_t *call_args;
} Args;

static void help(void) {
        printf("Usage: %s [OPTIONS] COMMAND [ARGUMENTS]\n"
               "\n"
               "Calls GeeRPC servers found through a registry or given as a list.\n"
               "\n"
               "Commands:\n"
               "  servers                             list the alive servers, one per line\n"
               "  call SERVICE.METHOD ARGS_JSON       call one server, print the reply as JSON\n"
               "  broadcast SERVICE.METHOD ARGS_JSON  call every server at once; print the first\n"
               "                                      reply, or which servers failed\n"
               "\n"
               "Options:\n"
               "  -r --registry=URL           the registry (default: $GEERPC_REGISTRY):\n"
               "                              http://127.0.0.1:9999/_geerpc_/registry, or\n"
               "                              etcd://HOST:PORT[,HOST:PORT...][/PREFIX]\n"
               "  -s --server=ADDR[,ADDR...]  these servers instead of a registry\n"
               "  -m --mode=MODE              how call picks a server: random (default),\n"
               "                              roundrobin, or hash:KEY (the same KEY goes to\n"
               "                              the same server while the servers stay the same)\n"
               "  -t --timeout=DURATION       deadline for the whole command (default 10s;\n"
               "                              0: none); calls still running then are cancelled\n"
               "     --json                   machine-readable output on stdout\n"
               "     --log-level=LEVEL        err (default), warning, notice, info or debug\n"
               "  -h --help                   show this help\n"
               "     --version                show the version\n"
               "\n"
               "ARGS_JSON is any JSON value, e.g. '{\"Num1\":3,\"Num2\":4}'.\n"
               "DURATION: 500ms, 2s, 5m, 1h, or a number of seconds.\n"
               "ADDR: tcp@HOST:PORT, tcp@[IPv6]:PORT, tcp4@..., tcp6@..., unix@/PATH.\n"
               "\n"
               "With --json: servers prints {\"servers\":[...]}; call prints\n"
               "{\"server\":ADDR,\"reply\":VALUE}; broadcast prints {\"reply\":VALUE,\"servers\":[...]}\n"
               "or, when it failed, {\"error\":TEXT,\"servers\":[{\"server\":ADDR,\"ok\":BOOL,\"error\":TEXT}]}.\n"
               "\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  the call returned a remote error (its text on stderr)\n"
               "  2  usage error, or ARGS_JSON is not valid JSON\n"
               "  3  no server or registry reachable (an empty list included), or the\n"
               "     deadline passed\n",
               program_invocation_short_name);
}

static int parse_servers(Args *a, const char *value) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                t += strspn(t, " \t");
                t[strcspn(t, " \t")] = 0;
                if (!*t)
                        continue;
                const char *reason = NULL;
                Address addr;
                if (address_parse(t, 0, &addr, &reason) < 0)
                        return cli_usage_error("invalid server address '%s' for --server: %s", t, reason);
                char **v = reallocarray(a->servers, a->n_servers + 1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
                a->servers = v;
                if (!(a->servers[a->n_servers] = strdup(t)))
                        return -ENOMEM;
                a->n_servers++;
        }
        if (a->n_servers == 0)
                return cli_usage_error("--server needs at least one address");
        return 0;
}

static int parse_mode(Args *a, const char *value) {
        if (streq(value, "random"))
                a->mode = GEERPC_SELECT_RANDOM;
        else if (streq(value, "roundrobin"))
                a->mode = GEERPC_SELECT_ROUND_ROBIN;
        else if (strncmp(value, "hash:", 5) == 0 && value[5]) {
                a->mode = GEERPC_SELECT_HASH;
                a->key = value + 5;
        } else
                return cli_usage_error("invalid --mode: '%s' (random, roundrobin or hash:KEY)", value);
        return 0;
}

/* The positional part: COMMAND [SERVICE.METHOD ARGS_JSON]. */
static int parse_command(Args *a, int argc, char **argv) {
        if (optind >= argc)
                return cli_usage_error("missing command (servers, call or broadcast)");
        a->command = argv[optind++];
        if (streq(a->command, "servers")) {
                if (optind < argc)
                        return cli_usage_error("unexpected argument for servers: %s", argv[optind]);
                return 0;
        }
        if (!streq(a->command, "call") && !streq(a->command, "broadcast"))
                return cli_usage_error("unknown command '%s' (servers, call or broadcast)", a->command);
        if (argc - optind != 2)
                return cli_usage_error("usage: %s SERVICE.METHOD ARGS_JSON", a->command);
        a->method = argv[optind];
        const char *dot = strchr(a->method, '.');
        if (!dot || dot == a->method || !dot[1])
                return cli_usage_error("invalid method '%s' (expected Service.Method)", a->method);
        json_error_t err;
        a->call_args = json_loads(argv[optind + 1], JSON_DECODE_ANY, &err);
        if (!a->call_args)
                return cli_usage_error("invalid JSON arguments: %s (line %d, column %d)", err.text, err.line,
                                       err.column);
        return 0;
}

static int parse_args(int argc, char **argv, Args *a) {
        enum { ARG_JSON = 0x100, ARG_LOG_LEVEL, ARG_VERSION };
        static const struct option options[] = {
                { "registry", required_argument, NULL, 'r' },
                { "server", required_argument, NULL, 's' },
                { "mode", required_argument, NULL, 'm' },
                { "timeout", required_argument, NULL, 't' },
                { "json", no_argument, NULL, ARG_JSON },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c, r;

        /* "+": options end at the command, so that ARGS_JSON may start
         * with a dash (a negative number). */
        while ((c = getopt_long(argc, argv, "+r:s:m:t:h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        a->registry = optarg;
                        break;
                case 's':
                        if ((r = parse_servers(a, optarg)) < 0)
                                return r;
                        break;
                case 'm':
                        if (parse_mode(a, optarg) < 0)
                                return -EINVAL;
                        break;
                case 't':
                        if (cli_parse_duration("timeout", optarg, &a->timeout) < 0)
                                return -EINVAL;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                case ARG_LOG_LEVEL:
                        if (cli_parse_log_level(optarg) < 0)
                                return -EINVAL;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("geerpcctl %s\n", GEERPC_VERSION);
                        return 0;
                default:
                        return cli_usage_error("invalid command line");
                }

        if (a->registry && a->n_servers > 0)
                return cli_usage_error("--registry and --server exclude each other");
        if (!a->registry && a->n_servers == 0) {
                const char *env = getenv("GEERPC_REGISTRY");
                if (isempty(env))
                        return cli_usage_error("no servers: give --registry URL, --server ADDR or $GEERPC_REGISTRY");
                a->registry = env;
        }
        r = parse_command(a, argc, argv);
        return r < 0 ? r : 1;
}

/* ---- output ----------------------------------------------------------------- */

static const char *error_text(int r, const char *remote) {
        switch (r) {
        case -EREMOTEIO:
                return strempty(remote);
        case -ENXIO:
                return "rpc discovery: no available servers";
        case -ETIMEDOUT:
                return "deadline exceeded";
        case -ECANCELED:
                return "cancelled: another server failed first";
        case -ESTALE:
                return "rpc discovery: registry unreachable for too long, cached list too old";
        case -EPROTO:
                return "the registry answered with an error status (is the URL right?)";
        case -EBADMSG:
                return "bad response (no server list, or an undecodable reply)";
        case -EMSGSIZE:
                return "the registry's server-list header is longer than libcurl accepts (100 KiB, about 4,800 "
                       "servers): a registry without a JSON listing (the Go original's) lists too many";
        case -EFBIG:
                return "the registry's answer is larger than 64 MiB";
        default:
                return strerror(-r);
        }
}

/* What is left of the command's deadline, as the library's timeouts say
 * it (0: none). */
static uint64_t remaining(const Args *a) {
        if (a->deadline == USEC_INFINITY)
                return 0;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        return a->deadline > now ? a->deadline - now : 1;
}

static int exit_status(int r) {
        return r == 0 ? EXIT_OK : r == -EREMOTEIO ? EXIT_REMOTE : EXIT_UNREACHABLE;
}

static void print_json(json_t *v) {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (s)
                puts(s);
        free(s);
}

/* ---- commands --------------------------------------------------------------- */

static int cmd_servers(const Args *a, geerpc_discovery *d) {
        char **all = NULL;
        size_t n = 0;
        int r = geerpc_discovery_get_all(d, &all, &n);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, error_text(r, NULL));
                return exit_status(r);
        }
        if (a->json) {
                json_t *list = json_array();
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(list, json_string(all[i]));
                json_t *root = json_pack("{s:o}", "servers", list);
                print_json(root);
                json_decref(root);
        } else
                for (size_t i = 0; i < n; i++)
                        puts(all[i]);
        free(all);
        if (n == 0) {
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, error_text(-ENXIO, NULL));
                return EXIT_UNREACHABLE;
        }
        return EXIT_OK;
}

static int cmd_call(const Args *a, geerpc_xclient *x) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL, *server = NULL;
        int r = geerpc_xclient_call_full(x, a->key, a->method, a->call_args, remaining(a), &reply, &error, &server);
        if (r < 0) {
                if (server)
                        fprintf(stderr, "%s: call %s on %s: %s\n", program_invocation_short_name, a->method, server,
                                error_text(r, error));
                else
                        fprintf(stderr, "%s: call %s: %s\n", program_invocation_short_name, a->method,
                                error_text(r, error));
                return exit_status(r);
        }
        if (a->json) {
                json_t *root = json_pack("{s:s,s:O}", "server", server, "reply", reply);
                print_json(root);
                json_decref(root);
        } else
                print_json(reply);
        json_decref(reply);
        return EXIT_OK;
}

static json_t *servers_json(const geerpc_broadcast_result *res) {
        json_t *list = json_array();
        for (size_t i = 0; i < geerpc_broadcast_result_get_count(res); i++) {
                int st = geerpc_broadcast_result_get_status(res, i);
                json_t *e = json_pack("{s:s,s:b}", "server", geerpc_broadcast_result_get_server(res, i), "ok", st == 0);
                if (st != 0)
                        json_object_set_new(e, "error",
                                            json_string(error_text(st, geerpc_broadcast_result_get_error(res, i))));
                json_array_append_new(list, e);
        }
        return list;
}

static int cmd_broadcast(const Args *a, geerpc_xclient *x) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;
        geerpc_broadcast_result *res = NULL;
        int r = geerpc_xclient_broadcast(x, a->method, a->call_args, remaining(a), &reply, &error, &res);

        if (r < 0) {
                fprintf(stderr, "%s: broadcast %s: %s\n", program_invocation_short_name, a->method, error_text(r, error));
                for (size_t i = 0; i < geerpc_broadcast_result_get_count(res); i++) {
                        int st = geerpc_broadcast_result_get_status(res, i);
                        if (st != 0)
                                fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name,
                                        geerpc_broadcast_result_get_server(res, i),
                                        error_text(st, geerpc_broadcast_result_get_error(res, i)));
                }
        }
        if (a->json && res) {
                json_t *root = r == 0 ? json_pack("{s:O,s:o}", "reply", reply, "servers", servers_json(res))
                                      : json_pack("{s:s,s:o}", "error", error_text(r, error), "servers", servers_json(res));
                print_json(root);
                json_decref(root);
        } else if (r == 0)
                print_json(reply);
        if (reply)
                json_decref(reply);
        geerpc_broadcast_result_free(res);
        return exit_status(r);
}

/* ---- main ------------------------------------------------------------------- */

static int open_discovery(const Args *a, geerpc_discovery **ret) {
        int r;
        if (!a->registry)
                return geerpc_discovery_new_static(ret, (const char *const *) a->servers, a->n_servers);
        r = geerpc_discovery_new_from_url(ret, a->registry);
        if (r == -EINVAL)
                return cli_usage_error("invalid --registry URL '%s' (expected http://HOST:PORT/PATH or "
                                       "etcd://HOST:PORT[,HOST:PORT...][/PREFIX])",
                                       a->registry);
        if (r < 0)
                return r;
        /* One request to the registry, within the command's deadline. */
        if (a->timeout > 0)
                (void) geerpc_discovery_set_refresh_timeout(*ret, MIN(a->timeout, GEERPC_DISCOVERY_REFRESH_TIMEOUT_DEFAULT_USEC));
        return 0;
}

int main(int argc, char **argv) {
        Args a = { .mode = GEERPC_SELECT_RANDOM, .timeout = TIMEOUT_DEFAULT_USEC };
        geerpc_discovery *d = NULL;
        geerpc_xclient *x = NULL;
        int r, status;

        /* A tool's stderr is for its own messages: the library's warnings
         * only with --log-level or $GEERPC_LOG_LEVEL. */
        log_set_max_level(LOG_ERR);
        log_parse_environment();
        r = parse_args(argc, argv, &a);
        if (r <= 0) {
                status = r < 0 ? EXIT_USAGE : EXIT_OK;
                goto finish;
        }
        a.deadline = a.timeout == 0 ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), a.timeout);
        r = open_discovery(&a, &d);
        if (r < 0) {
                status = r == -EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE;
                goto finish;
        }
        if (a.registry) {
                r = geerpc_discovery_refresh(d);
                if (r < 0) {
                        fprintf(stderr, "%s: cannot get the servers from the registry at %s: %s\n",
                                program_invocation_short_name, a.registry, error_text(r, NULL));
                        status = EXIT_UNREACHABLE;
                        goto finish;
                }
        }
        if (streq(a.command, "servers")) {
                status = cmd_servers(&a, d);
                goto finish;
        }
        r = geerpc_xclient_new(&x, d, a.mode);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, strerror(-r));
                status = EXIT_UNREACHABLE;
                goto finish;
        }
        status = streq(a.command, "call") ? cmd_call(&a, x) : cmd_broadcast(&a, x);

finish:
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);
        if (a.call_args)
                json_decref(a.call_args);
        for (size_t i = 0; i < a.n_servers; i++)
                free(a.servers[i]);
        free(a.servers);
        return status;
}
