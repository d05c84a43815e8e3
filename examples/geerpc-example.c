/* SPDX-License-Identifier: MIT */

/* geerpc-example: the example RPC server (services Foo and Echo), as a systemd-style
 * daemon: socket activation or --listen, registration with a registry by
 * heartbeats, sd_notify READY/STATUS/STOPPING, the watchdog, and a graceful
 * stop on SIGTERM (deregister at once, then drain in-flight calls). */

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "shared/cli.h"
#include "shared/daemon-loop.h"
#include "config.h"
#include "basic/duration.h"
#include "echo.h"
#include "foo.h"
#include "basic/address.h"
#include "basic/strv.h"
#include "basic/url.h"
#include "cluster/server-meta.h"
#include "geerpc/registration.h"
#include "geerpc/server.h"
#include "basic/log.h"

#define GRACE_DEFAULT_USEC (10 * USEC_PER_SEC)
#define STATUS_REFRESH_USEC (1 * USEC_PER_SEC)

typedef struct Args {
        const char *listen;
        const char *advertise;
        const char *registry;
        const char *token_file;
        usec_t heartbeat;
        usec_t grace;
        unsigned workers;
        usec_t idle_timeout;    /* 0: the library's default */
        usec_t message_timeout;
        unsigned max_connections_per_ip;
        unsigned weight;
        char **labels;   /* key=value */
        bool foo, echo;  /* --services */
        bool no_http;
} Args;

static void help(void) {
        char idle[GO_DURATION_MAX], message[GO_DURATION_MAX];
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "Serves the example RPC services Foo (Foo.Sum, Foo.Sleep) and Echo (Echo.Echo).\n"
               "\n"
               "  -l --listen=ADDR       address to serve on (default tcp@127.0.0.1:0);\n"
               "                         ignored when systemd passes a socket\n"
               "     --advertise=ADDR    address to announce instead of the socket's own\n"
               "                         (needed when listening on 0.0.0.0 or ::)\n"
               "  -r --registry=URL      register with the registry at URL:\n"
               "                         http://127.0.0.1:9999/_geerpc_/registry (geeregistry)\n"
               "                         etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (etcd v3)\n"
               "     --heartbeat=DURATION  heartbeat period (default: from the registry's\n"
               "                         timeout: timeout - 1m, or a third of a short one)\n"
               "     --token-file=PATH   send this token to the registry (default: the\n"
               "                         credential registry-token, if systemd passes one)\n"
               "     --services=LIST     which services to serve: Foo, Echo or Foo,Echo (default)\n"
               "     --weight=N          the weight clients pick this server by, 0-1000 (default\n"
               "                         1; 0: registered but never chosen)\n"
               "     --label=KEY=VALUE   a label for the registry (repeatable, at most 16)\n"
               "     --grace=DURATION    how long in-flight calls may finish on stop (default 10s)\n"
               "     --workers=N         threads for blocking methods (default %u)\n"
               "     --idle-timeout=DURATION  close a connection with nothing in flight and\n"
               "                         nothing arriving for this long (default %s; 0: never)\n"
               "     --message-timeout=DURATION  a message that has started to arrive must be\n"
               "                         complete, and replies read, within this (default %s;\n"
               "                         0: no limit)\n"
               "     --max-connections-per-ip=N  connections from one address (default %u;\n"
               "                         0: no limit)\n"
               "     --no-http           serve RPC only: no HTTP on the port (no CONNECT,\n"
               "                         /metrics or /debug/geerpc)\n"
               "     --log-level=LEVEL   err, warning, notice, info (default) or debug\n"
               "  -h --help              show this help\n"
               "     --version           show the version\n"
               "\n"
               "DURATION: 500ms, 2s, 5m, 1h, or a number of seconds.\n"
               "ADDR: " CLI_ADDRESS_SYNTAX " (port 0: any free port).\n"
               "Exit status: 0 stopped cleanly, 1 failed, 2 usage error.\n",
               program_invocation_short_name, GEERPC_SERVER_WORKERS_DEFAULT,
               duration_format_short(idle, GEERPC_SERVER_IDLE_TIMEOUT_DEFAULT_USEC),
               duration_format_short(message, GEERPC_SERVER_MESSAGE_TIMEOUT_DEFAULT_USEC),
               GEERPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT);
}

static int parse_services(Args *a, const char *value) {
        _cleanup_strv_free_ char **v = NULL;
        const char *why;
        if (server_meta_parse_services(value, &v, &why) < 0)
                return cli_usage_error("invalid --services '%s': %s", value, why);
        a->foo = a->echo = false;
        for (char **p = v; *p; p++) {
                if (streq(*p, "Foo"))
                        a->foo = true;
                else if (streq(*p, "Echo"))
                        a->echo = true;
                else
                        return cli_usage_error("unknown service '%s' in --services (Foo, Echo)", *p);
        }
        if (!a->foo && !a->echo)
                return cli_usage_error("--services needs at least one of Foo, Echo");
        return 0;
}

static int parse_label(Args *a, const char *value) {
        _cleanup_strv_free_ char **v = NULL;
        const char *why, *eq = strchr(value, '=');
        /* One label per flag; the registry's own rules. */
        if (!eq || strchr(value, ',') || server_meta_parse_labels(value, &v, &why) < 0)
                return cli_usage_error("invalid --label '%s': %s", value,
                                       !eq || strchr(value, ',') ? "expected KEY=VALUE" : why);
        if (strv_length(a->labels) >= GEERPC_LABELS_MAX)
                return cli_usage_error("more than %u --label flags", GEERPC_LABELS_MAX);
        return strv_push(&a->labels, value);
}

enum {
        ARG_ADVERTISE = 0x100,
        ARG_HEARTBEAT,
        ARG_TOKEN_FILE,
        ARG_GRACE,
        ARG_WORKERS,
        ARG_NO_HTTP,
        ARG_LOG_LEVEL,
        ARG_IDLE_TIMEOUT,
        ARG_MESSAGE_TIMEOUT,
        ARG_MAX_CONNECTIONS_PER_IP,
        ARG_SERVICES,
        ARG_WEIGHT,
        ARG_LABEL,
};

static int parse_registry_url(Args *a, const char *value) {
        /* The library's own test of the scheme (case-insensitive, as the
         * registration that takes the URL does). */
        if (url_scheme(value) < 0)
                return cli_usage_error("invalid --registry URL '%s' (expected http://HOST:PORT/PATH "
                                       "or etcd://HOST:PORT[,HOST:PORT...][/PREFIX])",
                                       value);
        a->registry = value;
        return 0;
}

static int parse_heartbeat(Args *a, const char *value) {
        if (cli_parse_duration("heartbeat", value, &a->heartbeat) < 0)
                return -EINVAL;
        if (a->heartbeat < GEERPC_HEARTBEAT_PERIOD_MIN_USEC)
                return cli_usage_error("--heartbeat must be at least 500ms");
        return 0;
}

/* A server timeout; 0 is the library's "none" (USEC_INFINITY). */
static int parse_timeout(const char *option, const char *value, usec_t *ret) {
        if (cli_parse_duration(option, value, ret) < 0)
                return -EINVAL;
        if (*ret == 0)
                *ret = USEC_INFINITY;
        return 0;
}

/* One option with its value (optarg); < 0 after a usage error. */
static int parse_option(int c, void *userdata) {
        Args *a = userdata;
        unsigned long n;
        switch (c) {
        case 'l':
                a->listen = optarg;
                return cli_parse_address("listen", optarg, ADDRESS_ALLOW_PORT_ZERO);
        case ARG_ADVERTISE:
                a->advertise = optarg;
                return cli_parse_address("advertise", optarg, 0);
        case 'r':
                return parse_registry_url(a, optarg);
        case ARG_HEARTBEAT:
                return parse_heartbeat(a, optarg);
        case ARG_TOKEN_FILE:
                a->token_file = optarg;
                return 0;
        case ARG_GRACE:
                return cli_parse_duration("grace", optarg, &a->grace);
        case ARG_WORKERS:
                if (cli_parse_unsigned("workers", optarg, 1, 4096, &n) < 0)
                        return -EINVAL;
                a->workers = (unsigned) n;
                return 0;
        case ARG_NO_HTTP:
                a->no_http = true;
                return 0;
        case ARG_LOG_LEVEL:
                return cli_parse_log_level(optarg);
        case ARG_IDLE_TIMEOUT:
                return parse_timeout("idle-timeout", optarg, &a->idle_timeout);
        case ARG_MESSAGE_TIMEOUT:
                return parse_timeout("message-timeout", optarg, &a->message_timeout);
        case ARG_MAX_CONNECTIONS_PER_IP:
                if (cli_parse_unsigned("max-connections-per-ip", optarg, 0, 1000000, &n) < 0)
                        return -EINVAL;
                a->max_connections_per_ip = n == 0 ? UINT_MAX : (unsigned) n; /* the library's "no limit" */
                return 0;
        case ARG_SERVICES:
                return parse_services(a, optarg);
        case ARG_WEIGHT:
                if (cli_parse_unsigned("weight", optarg, 0, GEERPC_WEIGHT_MAX, &n) < 0)
                        return -EINVAL;
                a->weight = (unsigned) n;
                return 0;
        case ARG_LABEL:
                return parse_label(a, optarg);
        default:
                return -EINVAL;
        }
}

static const struct option options[] = {
        { "listen", required_argument, NULL, 'l' },
        { "advertise", required_argument, NULL, ARG_ADVERTISE },
        { "registry", required_argument, NULL, 'r' },
        { "heartbeat", required_argument, NULL, ARG_HEARTBEAT },
        { "token-file", required_argument, NULL, ARG_TOKEN_FILE },
        { "grace", required_argument, NULL, ARG_GRACE },
        { "workers", required_argument, NULL, ARG_WORKERS },
        { "services", required_argument, NULL, ARG_SERVICES },
        { "weight", required_argument, NULL, ARG_WEIGHT },
        { "label", required_argument, NULL, ARG_LABEL },
        { "no-http", no_argument, NULL, ARG_NO_HTTP },
        { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
        { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
        { "message-timeout", required_argument, NULL, ARG_MESSAGE_TIMEOUT },
        { "max-connections-per-ip", required_argument, NULL, ARG_MAX_CONNECTIONS_PER_IP },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, CLI_ARG_VERSION },
        {},
};

static const CliProgram program = {
        .shortopts = ":l:r:h",
        .longopts = options,
        .help = help,
        .parse_option = parse_option,
};

typedef struct Daemon {
        sd_event *event;
        geerpc_server *server;
        geerpc_registration *registration;
        sd_event_source *status_timer;
        char *address;          /* what the socket is bound to */
        const char *advertised; /* what the registry is told */
        usec_t grace;
        bool ready;
        bool stopping;
        bool server_stopped;
        bool deregistered;
} Daemon;

/* STATUS= for `systemctl status`: what we serve and how the registration
 * is doing, kept current by a timer. */
static void update_status(Daemon *d) {
        char text[1024], ago[GO_DURATION_MAX], in[GO_DURATION_MAX];
        geerpc_registration *r = d->registration;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (d->stopping)
                return;
        if (!r)
                snprintf(text, sizeof text, "serving on %s", d->advertised);
        else
                switch (geerpc_registration_get_state(r)) {
                case GEERPC_REGISTRATION_REGISTERED: {
                        usec_t last = geerpc_registration_get_last_success(r);
                        snprintf(text, sizeof text, "serving on %s, registered at %s, last heartbeat %s ago",
                                 d->advertised, geerpc_registration_get_url(r),
                                 duration_format_short(ago, now > last ? now - last : 0));
                        break;
                }
                case GEERPC_REGISTRATION_RETRYING: {
                        usec_t next = geerpc_registration_get_next_attempt(r);
                        snprintf(text, sizeof text, "serving on %s, registry unreachable: %s, retrying in %s",
                                 d->advertised, strempty(geerpc_registration_get_last_error(r)),
                                 duration_format_short(in, next > now ? next - now : 0));
                        break;
                }
                default:
                        snprintf(text, sizeof text, "serving on %s, registering at %s", d->advertised,
                                 geerpc_registration_get_url(r));
                }
        (void) sd_notifyf(false, "STATUS=%s", text);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        update_status(userdata);
        (void) sd_event_source_set_time_relative(s, STATUS_REFRESH_USEC);
        return 0;
}

/* READY=1 once serving and, with a registry, once the first heartbeat has
 * been answered or has failed (it keeps retrying then): `systemctl start`
 * returns when clients can find the server, not a moment before. The
 * first heartbeat is bounded in time by the library. */
static void notify_ready(Daemon *d) {
        if (d->ready)
                return;
        d->ready = true;
        (void) sd_notify(false, "READY=1");
}

static void on_registration_change(geerpc_registration *r, void *userdata) {
        Daemon *d = userdata;
        if (geerpc_registration_get_state(r) != GEERPC_REGISTRATION_STARTING)
                notify_ready(d);
        update_status(d);
}

static void maybe_exit(Daemon *d) {
        if (d->server_stopped && d->deregistered) {
                log_info("stopped");
                (void) sd_event_exit(d->event, 0);
        }
}

static void on_stopped(geerpc_server *s, void *userdata) {
        Daemon *d = userdata;
        d->server_stopped = true;
        maybe_exit(d);
}

static void on_deregistered(geerpc_registration *r, void *userdata) {
        Daemon *d = userdata;
        d->deregistered = true;
        maybe_exit(d);
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        if (d->stopping)
                return 0;
        d->stopping = true;
        log_info("received %s, stopping", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping: deregistering and draining in-flight calls");
        d->status_timer = sd_event_source_disable_unref(d->status_timer);

        /* Deregister first, so that clients stop picking this server at once,
         * while the calls already here are still answered. */
        if (!d->registration || geerpc_registration_stop(d->registration, 0, on_deregistered, d) < 0)
                d->deregistered = true;
        if (geerpc_server_stop(d->server, d->grace, on_stopped, d) < 0)
                d->server_stopped = true;
        maybe_exit(d);
        return 0;
}


static int open_listener(Daemon *d, const Args *a) {
        int n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "cannot read the sockets passed by systemd: %m");
        if (n > 1)
                return log_error_errno(-EINVAL, "systemd passed %d sockets, expected one", n);
        if (n == 1) {
                int r = geerpc_server_listen_fd(d->server, SD_LISTEN_FDS_START, &d->address);
                if (r < 0)
                        return log_error_errno(r, "cannot serve the socket passed by systemd: %m");
                return 0;
        }
        int r = geerpc_server_listen(d->server, a->listen, &d->address);
        if (r < 0)
                return log_error_errno(r, "cannot listen on %s: %m", a->listen);
        return 0;
}

static bool address_is_unspecified(const char *a) {
        return strstr(a, "@0.0.0.0:") || strstr(a, "@[::]:");
}

static int setup_registration(Daemon *d, const Args *a) {
        int r;

        if (!a->registry)
                return 0;
        if (address_is_unspecified(d->advertised))
                return log_error_errno(-EINVAL, "serving on %s, which clients cannot dial: pass --advertise ADDR",
                                       d->advertised);
        r = geerpc_registration_new(&d->registration, a->registry, d->advertised);
        if (r < 0)
                return log_error_errno(r, "invalid registry URL %s: %m", a->registry);
        if (a->heartbeat)
                (void) geerpc_registration_set_period(d->registration, a->heartbeat);
        r = geerpc_registration_set_server(d->registration, d->server);
        if (r >= 0)
                r = geerpc_registration_set_weight(d->registration, a->weight);
        for (char **l = a->labels; r >= 0 && l && *l; l++) {
                char *eq = strchr(*l, '=');
                *eq = 0;
                r = geerpc_registration_set_label(d->registration, *l, eq + 1);
                *eq = '=';
        }
        if (r < 0)
                return log_error_errno(r, "cannot set what the registration announces: %m");
        if (a->token_file) {
                r = geerpc_registration_load_token_file(d->registration, a->token_file);
                if (r < 0)
                        return log_error_errno(r, "cannot read token file %s: %m", a->token_file);
        } else {
                r = geerpc_registration_load_credential(d->registration);
                if (r < 0)
                        return log_error_errno(r, "cannot read the credential registry-token: %m");
                if (r > 0)
                        log_info("using the registry token from the credential registry-token");
        }
        (void) geerpc_registration_set_handler(d->registration, on_registration_change, d);
        r = geerpc_registration_attach_event(d->registration, d->event, 0);
        if (r >= 0)
                r = geerpc_registration_start(d->registration);
        if (r < 0)
                return log_error_errno(r, "cannot start registration: %m");
        return 0;
}

int main(int argc, char **argv) {
        Args a = { .listen = "tcp@127.0.0.1:0", .grace = GRACE_DEFAULT_USEC, .weight = GEERPC_WEIGHT_DEFAULT,
                   .foo = true, .echo = true };
        Daemon d = {};
        int r;

        log_parse_environment();
        r = cli_parse_program_args(&program, argc, argv, &a);
        if (r <= 0) {
                strv_free(a.labels);
                return r < 0 ? EXIT_USAGE : 0;
        }
        d.grace = a.grace;

        r = daemon_loop_new(&d.event, on_signal, &d);
        if (r < 0)
                goto finish;

        r = geerpc_server_new(&d.server);
        if (r >= 0 && a.workers)
                r = geerpc_server_set_worker_threads(d.server, a.workers);
        if (r >= 0 && a.no_http)
                r = geerpc_server_set_http(d.server, false);
        if (r >= 0)
                r = geerpc_server_set_idle_timeout(d.server, a.idle_timeout);
        if (r >= 0)
                r = geerpc_server_set_message_timeout(d.server, a.message_timeout);
        if (r >= 0)
                r = geerpc_server_set_max_connections_per_ip(d.server, a.max_connections_per_ip);
        if (r >= 0)
                r = geerpc_server_attach_event(d.server, d.event, 0);
        if (r >= 0 && a.foo)
                r = foo_register(d.server);
        if (r >= 0 && a.echo)
                r = echo_register(d.server);
        if (r < 0) {
                log_error_errno(r, "cannot set up the server: %m");
                goto finish;
        }
        r = open_listener(&d, &a);
        if (r < 0)
                goto finish;

        d.advertised = a.advertise ?: d.address;
        log_struct(LOG_INFO, 0,
                   LOG_FIELDS({ "GEERPC_ADDR", d.advertised }, { "GEERPC_REGISTRY", a.registry },
                              { "MESSAGE_ID", LOG_MESSAGE_ID_SERVING }),
                   "serving on %s", d.advertised);
        r = setup_registration(&d, &a);
        if (r < 0)
                goto finish;
        if (!d.registration)
                notify_ready(&d);
        update_status(&d);
        (void) sd_event_add_time_relative(d.event, &d.status_timer, CLOCK_MONOTONIC, STATUS_REFRESH_USEC,
                                          USEC_PER_SEC / 4, on_status_timer, &d);
        (void) sd_event_source_set_enabled(d.status_timer, SD_EVENT_ON);

        r = sd_event_loop(d.event);
        if (r < 0)
                log_error_errno(r, "event loop failed: %m");

finish:
        sd_event_source_disable_unref(d.status_timer);
        geerpc_registration_unref(d.registration);
        geerpc_server_unref(d.server);
        sd_event_unref(d.event);
        free(d.address);
        strv_free(a.labels);
        return r < 0 ? 1 : 0;
}
