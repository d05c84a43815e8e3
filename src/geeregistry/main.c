/* SPDX-License-Identifier: MIT */

/* geeregistry: the registry daemon. Flags, sockets (systemd's or its own),
 * sd_notify, the watchdog, signals; the rest is in registry.c (the table
 * and its events), handlers.c (HTTP) and http-server.c (libmicrohttpd on
 * sd-event). */

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "basic/address.h"
#include "auth.h"
#include "shared/cli.h"
#include "shared/daemon-loop.h"
#include "config.h"
#include "basic/duration.h"
#include "handlers.h"
#include "http/http-server.h"
#include "basic/log.h"
#include "persist.h"
#include "registry.h"

#define LISTEN_DEFAULT "127.0.0.1:9999"
#define LISTEN_BACKLOG 4096

#define log_oom() log_error_errno(-ENOMEM, "out of memory")

typedef struct Args {
        const char *listen;
        usec_t timeout;
        unsigned long max_servers;
        HttpLimits http;
        const char *state_file; /* NULL: $STATE_DIRECTORY/servers.json if set; "": none */
        const char *token_file;
} Args;

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "The GeeRPC registry: servers register with heartbeats (POST), clients list\n"
               "the live ones (GET), at %s (and %s).\n"
               "\n"
               "  -l --listen=ADDR              where to listen (default %s); ignored\n"
               "                                when systemd passes sockets\n"
               "     --timeout=DURATION         a server without a heartbeat for this long is\n"
               "                                dead (default 5m; 0: never)\n"
               "     --max-servers=N            most servers registered at once (default %u);\n"
               "                                past it a new server gets 503\n"
               "     --max-connections=N        most HTTP connections per socket (default %u)\n"
               "     --max-connections-per-ip=N most connections from one IP address\n"
               "                                (default %u; 0: no limit)\n"
               "     --idle-timeout=DURATION    close a connection silent this long (default 60s;\n"
               "                                0: never)\n"
               "     --header-timeout=DURATION  a request's headers must be complete this long\n"
               "                                after the connection opened or the previous\n"
               "                                response (default 10s; 0: no limit)\n"
               "     --max-header-size=BYTES    largest request line plus headers (default %u);\n"
               "                                larger requests get 431\n"
               "     --state-file=PATH          keep the table in PATH across restarts (default\n"
               "                                $STATE_DIRECTORY/%s when systemd sets it;\n"
               "                                empty: none)\n"
               "     --token-file=PATH          POST and DELETE need \"Authorization: Bearer\n"
               "                                <token>\" with the token in PATH (default: the\n"
               "                                credential %s, if any)\n"
               "     --log-level=LEVEL          err, warning, notice, info (default) or debug\n"
               "  -h --help                     show this help\n"
               "     --version                  show the version\n"
               "\n"
               "ADDR: HOST:PORT (IPv6 in brackets, port 0: any free port) or unix:/PATH.\n"
               "DURATION: 500ms, 2s, 5m, 1h, or a number of seconds.\n"
               "GET /metrics serves counters in the Prometheus text format.\n"
               "Exit status: 0 stopped cleanly, 1 failed, 2 usage error.\n",
               program_invocation_short_name, HANDLERS_PATH, HANDLERS_PATH_OLD, LISTEN_DEFAULT,
               TABLE_MAX_SERVERS_DEFAULT, HTTP_CONNECTIONS_MAX_DEFAULT, HTTP_CONNECTIONS_PER_IP_MAX_DEFAULT,
               HTTP_HEADER_SIZE_MAX_DEFAULT, PERSIST_FILE_NAME, AUTH_CREDENTIAL_NAME);
}

/* "HOST:PORT", "[V6]:PORT", "unix:/PATH", or the PROTOCOL@ADDRESS form,
 * -> what address_listen() takes. */
static int listen_address(const char *s, char **ret) {
        char *a;
        int k;
        if (strncmp(s, "unix:", 5) == 0)
                k = asprintf(&a, "unix@%s", s + 5);
        else if (strchr(s, '@'))
                k = asprintf(&a, "%s", s);
        else
                k = asprintf(&a, "tcp@%s", s);
        if (k < 0)
                return -ENOMEM;
        Address parsed;
        const char *reason = NULL;
        if (address_parse(a, ADDRESS_ALLOW_PORT_ZERO, &parsed, &reason) < 0) {
                free(a);
                return cli_usage_error("invalid --listen address '%s': %s (expected HOST:PORT, [IPv6]:PORT, "
                                       "unix:/PATH or " CLI_ADDRESS_SYNTAX ")",
                                       s, reason);
        }
        *ret = a;
        return 0;
}

enum {
        ARG_TIMEOUT = 0x100,
        ARG_MAX_SERVERS,
        ARG_MAX_CONNECTIONS,
        ARG_MAX_CONNECTIONS_PER_IP,
        ARG_IDLE_TIMEOUT,
        ARG_HEADER_TIMEOUT,
        ARG_MAX_HEADER_SIZE,
        ARG_STATE_FILE,
        ARG_TOKEN_FILE,
        ARG_LOG_LEVEL,
};

/* An unsigned option into an unsigned field. */
static int parse_unsigned_into(const char *option, const char *value, unsigned long min, unsigned long max,
                               unsigned *ret) {
        unsigned long n;
        if (cli_parse_unsigned(option, value, min, max, &n) < 0)
                return -EINVAL;
        *ret = (unsigned) n;
        return 0;
}

/* One option with its value (optarg); < 0 after a usage error. */
static int parse_option(int c, void *userdata) {
        Args *a = userdata;
        unsigned long n;
        switch (c) {
        case 'l':
                a->listen = optarg;
                return 0;
        case ARG_TIMEOUT:
                return cli_parse_duration("timeout", optarg, &a->timeout);
        case ARG_MAX_SERVERS:
                return cli_parse_unsigned("max-servers", optarg, 1, TABLE_MAX_SERVERS_LIMIT, &a->max_servers);
        case ARG_MAX_CONNECTIONS:
                return parse_unsigned_into("max-connections", optarg, 1, 1000000, &a->http.max_connections);
        case ARG_MAX_CONNECTIONS_PER_IP:
                return parse_unsigned_into("max-connections-per-ip", optarg, 0, 1000000,
                                           &a->http.max_connections_per_ip);
        case ARG_IDLE_TIMEOUT:
                return cli_parse_duration("idle-timeout", optarg, &a->http.idle_timeout);
        case ARG_HEADER_TIMEOUT:
                return cli_parse_duration("header-timeout", optarg, &a->http.header_timeout);
        case ARG_MAX_HEADER_SIZE:
                if (cli_parse_unsigned("max-header-size", optarg, HTTP_HEADER_SIZE_MIN, HTTP_HEADER_SIZE_LIMIT, &n) < 0)
                        return -EINVAL;
                a->http.max_header_size = n;
                return 0;
        case ARG_STATE_FILE:
                a->state_file = optarg;
                return 0;
        case ARG_TOKEN_FILE:
                a->token_file = optarg;
                return 0;
        case ARG_LOG_LEVEL:
                return cli_parse_log_level(optarg);
        default:
                return -EINVAL;
        }
}

static const struct option options[] = {
        { "listen", required_argument, NULL, 'l' },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "max-servers", required_argument, NULL, ARG_MAX_SERVERS },
        { "max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS },
        { "max-connections-per-ip", required_argument, NULL, ARG_MAX_CONNECTIONS_PER_IP },
        { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
        { "header-timeout", required_argument, NULL, ARG_HEADER_TIMEOUT },
        { "max-header-size", required_argument, NULL, ARG_MAX_HEADER_SIZE },
        { "state-file", required_argument, NULL, ARG_STATE_FILE },
        { "token-file", required_argument, NULL, ARG_TOKEN_FILE },
        { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, CLI_ARG_VERSION },
        {},
};

/* 1: run; 0: done (--help, --version); < 0: usage error (reported). */
static int parse_args(int argc, char **argv, Args *a) {
        static const CliProgram program = {
                .shortopts = ":l:h",
                .longopts = options,
                .help = help,
                .parse_option = parse_option,
        };
        int r = cli_parse_program_args(&program, argc, argv, a);
        if (r <= 0)
                return r;
        _cleanup_free_ char *checked = NULL;
        if (listen_address(a->listen, &checked) < 0)
                return -EINVAL;
        return 1;
}

/* ---- sockets -------------------------------------------------------------- */

/* "listening on http://127.0.0.1:41234/_geerpc_/registry": tests and
 * people read the real port here. */
static void log_listening(int fd) {
        _cleanup_free_ char *a = NULL;
        int r = address_from_socket(fd, &a);
        if (r < 0) {
                log_info("listening on fd %d (%s)", fd, strerror(-r));
                return;
        }
        const char *at = strchr(a, '@');
        const char *where = at ? at + 1 : a;
        if (strncmp(a, "unix@", 5) == 0)
                log_struct(LOG_INFO, 0, LOG_FIELDS({ "MESSAGE_ID", LOG_MESSAGE_ID_SERVING }),
                           "listening on unix:%s (HTTP at %s)", where, HANDLERS_PATH);
        else
                log_struct(LOG_INFO, 0, LOG_FIELDS({ "MESSAGE_ID", LOG_MESSAGE_ID_SERVING }),
                           "listening on http://%s%s", where, HANDLERS_PATH);
}

static int open_listeners(HttpServer *server, const char *listen) {
        int n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "cannot read the sockets passed by systemd: %m");
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                        return log_error_errno(-EINVAL, "fd %d from systemd is not a listening stream socket", fd);
                int r = http_server_add_listener(server, fd, false);
                if (r < 0)
                        return log_error_errno(r, "cannot serve fd %d from systemd: %m", fd);
                log_listening(fd);
        }
        if (n > 0)
                return 0;

        _cleanup_free_ char *a = NULL;
        int fd, r = listen_address(listen, &a);
        if (r < 0)
                return r;
        r = address_listen(a, LISTEN_BACKLOG, &fd);
        if (r < 0)
                return log_error_errno(r, "cannot listen on %s: %m", listen);
        r = http_server_add_listener(server, fd, true);
        if (r < 0)
                return log_error_errno(r, "cannot serve %s: %m", listen);
        log_listening(fd);
        return 0;
}

/* ---- the daemon ----------------------------------------------------------- */

typedef struct Daemon {
        sd_event *event;
        Registry *registry;
        Handlers *handlers;
        HttpServer *server;
        bool stopping;
} Daemon;

static void on_stopped(HttpServer *s, void *userdata) {
        Daemon *d = userdata;
        (void) sd_event_exit(d->event, 0);
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        if (d->stopping)
                return 0;
        d->stopping = true;
        log_info("received %s, stopping", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        if (http_server_stop(d->server, on_stopped, d) < 0)
                (void) sd_event_exit(d->event, 0);
        return 0;
}


static unsigned count_connections(void *userdata) {
        return http_server_n_connections(userdata);
}

static int setup_loop(Daemon *d) {
        return daemon_loop_new(&d->event, on_signal, d);
}

static int setup(Daemon *d, const Args *a) {
        _cleanup_free_ char *token = NULL, *token_source = NULL, *state = NULL;
        int r = setup_loop(d);
        if (r < 0)
                return r;

        r = auth_load(a->token_file, &token, &token_source);
        if (r < 0)
                return r; /* logged */
        if (token)
                log_info("POST and DELETE need the bearer token from %s", token_source);

        if (!a->state_file) {
                const char *dir = getenv("STATE_DIRECTORY");
                if (!isempty(dir) && persist_default_path(dir, &state) < 0)
                        return log_oom();
        } else if (*a->state_file) {
                state = strdup(a->state_file);
                if (!state)
                        return log_oom();
        }

        RegistryConfig config = {
                .timeout = a->timeout,
                .max_servers = a->max_servers,
                .state_file = state,
                .token = token,
        };
        r = registry_new(&d->registry, d->event, &config);
        if (token)
                explicit_bzero(token, strlen(token));
        if (r < 0)
                return log_error_errno(r, "cannot set up the registry: %m");

        r = handlers_new(&d->handlers, d->registry);
        if (r < 0)
                return log_oom();
        HttpLimits limits = a->http;
        limits.response_header_room = HANDLERS_RESPONSE_HEADER_ROOM;
        r = http_server_new(&d->server, d->event, &limits, handlers_dispatch, handlers_refused, d->handlers);
        if (r < 0)
                return log_oom();
        handlers_set_connection_counter(d->handlers, count_connections, d->server);
        return open_listeners(d->server, a->listen);
}

int main(int argc, char **argv) {
        Args a = {
                .listen = LISTEN_DEFAULT,
                .timeout = REGISTRY_TIMEOUT_DEFAULT_USEC,
                .max_servers = TABLE_MAX_SERVERS_DEFAULT,
                .http = HTTP_LIMITS_DEFAULT,
        };
        Daemon d = {};
        int r;

        log_parse_environment();
        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;

        r = setup(&d, &a);
        if (r >= 0) {
                char timeout[GO_DURATION_MAX];
                _cleanup_free_ char *status = NULL;
                (void) registry_status(d.registry, &status);
                log_info("serving (timeout %s, at most %lu servers)",
                         a.timeout ? duration_format_short(timeout, a.timeout) : "never", a.max_servers);
                (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(status));

                r = sd_event_loop(d.event);
                if (r < 0)
                        log_error_errno(r, "event loop failed: %m");
        }

        http_server_free(d.server);
        handlers_free(d.handlers);
        registry_free(d.registry); /* writes the state file */
        sd_event_unref(d.event);
        if (r >= 0)
                log_info("stopped");
        return r < 0 ? 1 : 0;
}
