/* SPDX-License-Identifier: MIT */

/* geerpc-example: the example RPC server (service Foo), as a systemd-style
 * daemon: socket activation or --listen, sd_notify READY/STATUS/STOPPING,
 * the watchdog, and a graceful stop on SIGTERM. */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cli.h"
#include "config.h"
#include "duration.h"
#include "foo.h"
#include "geerpc/server.h"
#include "log.h"

#define GRACE_DEFAULT_USEC (10 * USEC_PER_SEC)

typedef struct Args {
        const char *listen;
        const char *advertise;
        usec_t grace;
        unsigned workers;
} Args;

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "Serves the example RPC service Foo (Foo.Sum, Foo.Sleep).\n"
               "\n"
               "  -l --listen=ADDR       address to serve on (default tcp@127.0.0.1:0);\n"
               "                         ignored when systemd passes a socket\n"
               "     --advertise=ADDR    address to announce instead of the socket's own\n"
               "     --grace=DURATION    how long in-flight calls may finish on stop (default 10s)\n"
               "     --workers=N         threads for blocking methods (default %u)\n"
               "     --log-level=LEVEL   err, warning, notice, info (default) or debug\n"
               "  -h --help              show this help\n"
               "     --version           show the version\n"
               "\n"
               "DURATION: 500ms, 2s, 5m, 1h, or a number of seconds.\n"
               "ADDR: tcp@HOST:PORT, tcp@[IPv6]:PORT, tcp4@..., tcp6@..., unix@/PATH.\n",
               program_invocation_short_name, GEERPC_SERVER_WORKERS_DEFAULT);
}

static int parse_args(int argc, char **argv, Args *a) {
        enum { ARG_ADVERTISE = 0x100, ARG_GRACE, ARG_WORKERS, ARG_LOG_LEVEL, ARG_VERSION };
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },
                { "advertise", required_argument, NULL, ARG_ADVERTISE },
                { "grace", required_argument, NULL, ARG_GRACE },
                { "workers", required_argument, NULL, ARG_WORKERS },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "l:h", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        a->listen = optarg;
                        break;
                case ARG_ADVERTISE:
                        a->advertise = optarg;
                        break;
                case ARG_GRACE:
                        if (cli_parse_duration("grace", optarg, &a->grace) < 0)
                                return -EINVAL;
                        break;
                case ARG_WORKERS: {
                        unsigned long n;
                        if (cli_parse_unsigned("workers", optarg, 1, 4096, &n) < 0)
                                return -EINVAL;
                        a->workers = (unsigned) n;
                        break;
                }
                case ARG_LOG_LEVEL:
                        if (cli_parse_log_level(optarg) < 0)
                                return -EINVAL;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("geerpc-example %s\n", GEERPC_VERSION);
                        return 0;
                default:
                        /* getopt already said what was wrong. */
                        return cli_usage_error("invalid command line");
                }
        if (optind < argc)
                return cli_usage_error("unexpected argument: %s", argv[optind]);
        return 1;
}

typedef struct Daemon {
        sd_event *event;
        geerpc_server *server;
        char *address;
        usec_t grace;
        bool stopping;
} Daemon;

static void on_stopped(geerpc_server *s, void *userdata) {
        Daemon *d = userdata;
        log_info("stopped");
        (void) sd_event_exit(d->event, 0);
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        if (d->stopping)
                return 0;
        d->stopping = true;
        log_info("received %s, stopping", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping: draining in-flight calls");
        int r = geerpc_server_stop(d->server, d->grace, on_stopped, d);
        if (r < 0)
                (void) sd_event_exit(d->event, 0);
        return 0;
}

#ifdef GEERPC_TEST_HOOKS
/* Test builds only: SIGUSR2 hangs the event loop so that the systemd test
 * can watch the watchdog kill and restart the service. */
static int on_hang(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        log_warning("test hook: SIGUSR2 received, hanging the event loop");
        for (;;)
                sleep(3600);
        return 0;
}
#endif

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

int main(int argc, char **argv) {
        Args a = { .listen = "tcp@127.0.0.1:0", .grace = GRACE_DEFAULT_USEC };
        Daemon d = {};
        int r;

        log_parse_environment();
        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        d.grace = a.grace;

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
#ifdef GEERPC_TEST_HOOKS
        sigaddset(&mask, SIGUSR2);
#endif
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&d.event);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                goto finish;
        }
        (void) sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d);
        (void) sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d);
#ifdef GEERPC_TEST_HOOKS
        (void) sd_event_add_signal(d.event, NULL, SIGUSR2, on_hang, &d);
#endif
        /* Pings the watchdog from the loop when WatchdogSec= is set, so that
         * a hung loop is caught. */
        r = sd_event_set_watchdog(d.event, true);
        if (r < 0)
                log_warning_errno(r, "cannot enable the watchdog: %m");

        r = geerpc_server_new(&d.server);
        if (r >= 0 && a.workers)
                r = geerpc_server_set_worker_threads(d.server, a.workers);
        if (r >= 0)
                r = geerpc_server_attach_event(d.server, d.event, 0);
        if (r >= 0)
                r = foo_register(d.server);
        if (r < 0) {
                log_error_errno(r, "cannot set up the server: %m");
                goto finish;
        }
        r = open_listener(&d, &a);
        if (r < 0)
                goto finish;

        const char *advertised = a.advertise ?: d.address;
        log_struct(LOG_INFO, 0, LOG_FIELDS({ "GEERPC_ADDR", advertised }, { "MESSAGE_ID", LOG_MESSAGE_ID_SERVING }),
                   "serving on %s", advertised);
        (void) sd_notifyf(false, "READY=1\nSTATUS=serving on %s", advertised);

        r = sd_event_loop(d.event);
        if (r < 0)
                log_error_errno(r, "event loop failed: %m");

finish:
        geerpc_server_unref(d.server);
        sd_event_unref(d.event);
        free(d.address);
        return r < 0 ? 1 : 0;
}
