/* SPDX-License-Identifier: MIT */

/* geeregistry as a process: the command line, its listen addresses,
 * socket activation (systemd-socket-activate, and a socket handed in the
 * way systemd does it), sd_notify and the watchdog, and the stop. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "registry-util.h"

#define SOCKET_ACTIVATE "/usr/bin/systemd-socket-activate"

/* ---- the command line ----------------------------------------------------- */

static int run(const char *const *args, char **ret_out, char **ret_err) {
        const char *argv[16] = { tl_binary("geeregistry") };
        size_t n = 1;
        for (size_t i = 0; args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return tl_run(argv, NULL, 20 * USEC_PER_SEC, ret_out, ret_err);
}

Test(registry_daemon, help_documents_every_flag) {
        char *out, *err;
        cr_assert_eq(run((const char *[]) { "--help", NULL }, &out, &err), 0);
        const char *flags[] = { "--listen=", "--timeout=", "--max-servers=", "--max-connections=",
                                "--max-connections-per-ip=", "--idle-timeout=", "--header-timeout=",
                                "--max-header-size=", "--state-file=", "--token-file=", "--log-level=",
                                "--help", "--version" };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                cr_assert_not_null(strstr(out, flags[i]), "--help does not mention %s", flags[i]);
        free(out);
        free(err);

        cr_assert_eq(run((const char *[]) { "--version", NULL }, &out, &err), 0);
        cr_assert_eq(strncmp(out, "geeregistry ", 12), 0, "%s", out);
        free(out);
        free(err);
}

Test(registry_daemon, bad_flags_exit_2_with_a_usage_line) {
        static const struct {
                const char *arg, *message;
        } bad[] = {
                { "--bogus", "geeregistry: unknown option '--bogus'\nTry" },
                { "--listen", "geeregistry: option '--listen' needs a value\nTry" },
                { "--timeout=soon", "invalid duration for --timeout: 'soon'" },
                { "--idle-timeout=-1s", "invalid duration for --idle-timeout" },
                { "--header-timeout=x", "invalid duration for --header-timeout" },
                { "--max-servers=0", "invalid value for --max-servers: '0'" },
                { "--max-servers=lots", "invalid value for --max-servers" },
                { "--max-connections=0", "invalid value for --max-connections" },
                { "--max-connections-per-ip=-2", "invalid value for --max-connections-per-ip" },
                { "--max-header-size=10", "invalid value for --max-header-size: '10'" },
                { "--listen=nowhere", "invalid --listen address 'nowhere': missing port (expected HOST:PORT" },
                { "--listen=127.0.0.1:70000", "invalid --listen address" },
                { "--listen=unix:relative", "invalid --listen address" },
                { "--log-level=loud", "invalid --log-level: 'loud'" },
                { "extra", "unexpected argument: extra" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *out, *err;
                cr_assert_eq(run((const char *[]) { bad[i].arg, NULL }, &out, &err), 2, "%s", bad[i].arg);
                cr_assert_not_null(strstr(err, bad[i].message), "%s: stderr was: %s", bad[i].arg, err);
                cr_assert_not_null(strstr(err, "Try 'geeregistry --help'."), "%s", err);
                /* once: getopt itself prints nothing */
                cr_assert_null(strstr(strstr(err, "Try") + 1, "Try"), "%s", err);
                cr_assert_eq(strncmp(err, "geeregistry: ", 13), 0, "%s", err);
                free(out);
                free(err);
        }
}

Test(registry_daemon, startup_errors_exit_1) {
        Reg r = reg_start(NULL);
        char listen[400], *out, *err;
        snprintf(listen, sizeof listen, "--listen=%s", r.base + strlen("http://"));
        cr_assert_eq(run((const char *[]) { listen, NULL }, &out, &err), 1);
        cr_assert_not_null(strstr(err, "cannot listen on"), "%s", err);
        free(out);
        free(err);

        cr_assert_eq(run((const char *[]) { "--token-file=/nonexistent/token", NULL }, &out, &err), 1);
        cr_assert_not_null(strstr(err, "cannot read token file /nonexistent/token"), "%s", err);
        free(out);
        free(err);
        reg_stop(&r);
}

/* ---- listen addresses ----------------------------------------------------- */

Test(registry_daemon, listens_on_ipv6_loopback) {
        Reg r = reg_start((const char *[]) { "--listen=[::1]:0", NULL });
        cr_assert_eq(strncmp(r.base, "http://[::1]:", 13), 0, "%s", r.base);
        cr_assert_eq(reg_post(&r, "tcp@[::1]:7001"), 200);
        reg_assert_list(&r, "tcp@[::1]:7001");
        reg_stop(&r);
}

Test(registry_daemon, listens_on_a_unix_socket) {
        char *dir = reg_tmpdir(), path[256], listen[300], addr[300];
        snprintf(path, sizeof path, "%s/registry.sock", dir);
        snprintf(listen, sizeof listen, "--listen=unix:%s", path);
        snprintf(addr, sizeof addr, "unix@%s", path);
        const char *argv[] = { tl_binary("geeregistry"), listen, NULL };
        TlProc *p = tl_spawn(argv, NULL);
        char *line = tl_wait_line(p, "listening on unix:", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        cr_assert_not_null(strstr(line, path), "%s", line);
        free(line);

        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0);
        const char *req = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: unix@/run/a.sock\r\n"
                          "Content-Length: 0\r\nConnection: close\r\n\r\n";
        cr_assert(tl_write_all(fd, req, strlen(req)));
        char *got = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        cr_assert_eq(strncmp(got, "HTTP/1.1 200", 12), 0, "%s", got);
        free(got);
        close(fd);

        tl_kill(p, SIGTERM);
        cr_assert_eq(tl_wait_exit(p, 15 * USEC_PER_SEC), 0);
        tl_proc_free(p);
        reg_rmdir(dir);
}

/* ---- socket activation ---------------------------------------------------- */

static TlProc *start_socket_activate(TlNotify *n, int *ret_port) {
        for (int attempt = 0; attempt < 2; attempt++) {
                int port = tl_free_port(); /* a race with others: retried once */
                char listen[64];
                snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
                const char *argv[] = { SOCKET_ACTIVATE, "-l", listen, "-E", "NOTIFY_SOCKET", "-E",
                                       "WATCHDOG_USEC=1000000", tl_binary("geeregistry"),
                                       /* ignored when sockets are passed; would fail if used */
                                       "--listen=unix:/nonexistent/dir/registry.sock", NULL };
                TlProc *p = tl_spawn(argv, (const char *[]) { tl_notify_env(n), NULL });
                char *line = tl_wait_line(p, "Listening on", 10 * USEC_PER_SEC);
                if (line) {
                        free(line);
                        *ret_port = port;
                        return p;
                }
                char *out = tl_output(p);
                bool in_use = strstr(out, "in use") != NULL;
                free(out);
                tl_proc_free(p);
                cr_assert(in_use && attempt == 0, "systemd-socket-activate did not start");
        }
        return NULL;
}

Test(registry_daemon, serves_the_socket_from_systemd_socket_activate) {
        if (access(SOCKET_ACTIVATE, X_OK) < 0)
                cr_skip_test("%s is not installed", SOCKET_ACTIVATE);
        TlNotify *n = tl_notify_new();
        int port;
        TlProc *p = start_socket_activate(n, &port);
        char url[128], needle[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d" REG_PATH, port);

        /* The first connection starts it; the request waits in the backlog. */
        cr_assert_eq(reg_post_as(url, "X-Geerpc-Server", "tcp@127.0.0.1:7001"), 200);
        snprintf(needle, sizeof needle, "listening on http://127.0.0.1:%d" REG_PATH, port);
        char *line = tl_wait_line(p, needle, 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "it did not serve the passed socket");
        free(line);
        char *list = reg_list_url(url, "X-Geerpc-Servers");
        cr_assert_str_eq(list, "tcp@127.0.0.1:7001");
        free(list);

        char *ready = tl_notify_wait(n, "READY=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(ready);
        free(ready);
        char *wd = tl_notify_wait(n, "WATCHDOG=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(wd, "no watchdog ping with WATCHDOG_USEC set");
        free(wd);

        tl_kill(p, SIGTERM);
        char *stopping = tl_notify_wait(n, "STOPPING=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(stopping);
        free(stopping);
        cr_assert_eq(tl_wait_exit(p, 15 * USEC_PER_SEC), 0);
        tl_proc_free(p);
        tl_notify_free(n);
}

/* Starts geeregistry with lfd as its fd 3 and LISTEN_PID set to its own
 * pid (known only in the child: the shell's $$ survives exec). */
static TlProc *start_with_socket(int lfd) {
        char script[256];
        cr_assert_neq(lfd, 3);
        snprintf(script, sizeof script, "exec 3<&%d %d<&-; export LISTEN_FDS=1 LISTEN_PID=$$; exec \"$0\" \"$@\"",
                 lfd, lfd);
        const char *argv[] = { "/bin/sh", "-c", script, tl_binary("geeregistry"),
                               "--listen=unix:/nonexistent/dir/registry.sock", NULL };
        return tl_spawn(argv, (const char *[]) { "-LISTEN_FDS", "-LISTEN_PID", NULL });
}

Test(registry_daemon, passed_socket_outlives_a_restart) {
        /* Not CLOEXEC: the child inherits it, as from systemd. */
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof sa;
        cr_assert_eq(bind(lfd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(lfd, 16), 0);
        cr_assert_eq(getsockname(lfd, (struct sockaddr *) &sa, &l), 0);
        char url[128], addr[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u" REG_PATH, ntohs(sa.sin_port));
        snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", ntohs(sa.sin_port));

        TlProc *p = start_with_socket(lfd);
        char *line = tl_wait_line(p, "listening on http://127.0.0.1:", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_eq(reg_post_as(url, "X-Geerpc-Server", "tcp@127.0.0.1:7001"), 200);
        tl_kill(p, SIGTERM);
        cr_assert_eq(tl_wait_exit(p, 15 * USEC_PER_SEC), 0);
        tl_proc_free(p);

        /* The socket still listens: a client connects while nobody serves... */
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0, "the stop shut down the socket systemd owns: %s", strerror(-fd));
        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        cr_assert(tl_write_all(fd, get, strlen(get)));

        /* ...and the next instance answers it. */
        p = start_with_socket(lfd);
        char *got = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        cr_assert_eq(strncmp(got, "HTTP/1.1 200", 12), 0, "the restarted registry did not answer: %s", got);
        free(got);
        close(fd);
        tl_kill(p, SIGTERM);
        cr_assert_eq(tl_wait_exit(p, 15 * USEC_PER_SEC), 0);
        tl_proc_free(p);
        close(lfd);
}

/* ---- sd_notify, watchdog, stop -------------------------------------------- */

/* Waits for "STATUS=<expected>", skipping other STATUS= lines. */
static bool wait_status(TlNotify *n, const char *expected) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return false;
                char *line = tl_notify_wait(n, "STATUS=", deadline - now);
                if (!line)
                        return false;
                bool ok = streq(line + strlen("STATUS="), expected);
                free(line);
                if (ok)
                        return true;
        }
}

Test(registry_daemon, notify_ready_status_and_stopping) {
        TlNotify *n = tl_notify_new();
        Reg r = reg_start_env(NULL, (const char *[]) { tl_notify_env(n), NULL });

        char *ready = tl_notify_wait(n, "READY=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(ready);
        free(ready);
        cr_assert(wait_status(n, "0 servers alive"));

        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        cr_assert(wait_status(n, "2 servers alive"), "STATUS= did not follow the registrations");
        cr_assert_eq(reg_delete(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert(wait_status(n, "1 server alive"));

        /* An idle keep-alive connection does not hold up the stop. */
        int fd = tl_connect(r.addr);
        tl_kill(r.proc, SIGTERM);
        char *stopping = tl_notify_wait(n, "STOPPING=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(stopping);
        free(stopping);
        cr_assert(tl_wait_eof(fd, 10 * USEC_PER_SEC));
        close(fd);
        cr_assert_eq(tl_wait_exit(r.proc, 15 * USEC_PER_SEC), 0);
        tl_proc_free(r.proc);
        tl_notify_free(n);
}

Test(registry_daemon, sigint_stops_too) {
        Reg r = reg_start(NULL);
        tl_kill(r.proc, SIGINT);
        cr_assert_eq(tl_wait_exit(r.proc, 15 * USEC_PER_SEC), 0);
        char *line = tl_wait_line(r.proc, "stopped", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        tl_proc_free(r.proc);
}

Test(registry_daemon, watchdog_pings_with_its_own_pid) {
        TlNotify *n = tl_notify_new();
        /* The shell's $$ is the pid geeregistry will have after exec. */
        const char *argv[] = { "/bin/sh", "-c", "export WATCHDOG_PID=$$; exec \"$0\" \"$@\"",
                               tl_binary("geeregistry"), "--listen=127.0.0.1:0", NULL };
        Reg r = { .proc = tl_spawn(argv, (const char *[]) { tl_notify_env(n), "WATCHDOG_USEC=400000", NULL }) };
        reg_wait_listening(&r);
        for (int i = 0; i < 2; i++) {
                char *wd = tl_notify_wait(n, "WATCHDOG=1", 10 * USEC_PER_SEC);
                cr_assert_not_null(wd, "watchdog ping %d did not come", i);
                free(wd);
        }
        reg_stop(&r);
        tl_notify_free(n);
}

Test(registry_daemon, watchdog_for_another_pid_is_not_ours) {
        TlNotify *n = tl_notify_new();
        Reg r = reg_start_env(NULL, (const char *[]) { tl_notify_env(n), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1",
                                                       NULL });
        char *ready = tl_notify_wait(n, "READY=1", 10 * USEC_PER_SEC);
        cr_assert_not_null(ready);
        free(ready);
        char *wd = tl_notify_wait(n, "WATCHDOG=1", 2 * USEC_PER_SEC);
        cr_assert_null(wd, "pinged a watchdog meant for pid 1");
        reg_stop(&r);
        tl_notify_free(n);
}

Test(registry_daemon, watchdog_pings) {
        TlNotify *n = tl_notify_new();
        /* No WATCHDOG_PID: the pid is not known before exec, and
         * sd_watchdog_enabled() accepts its absence. */
        Reg r = reg_start_env(NULL, (const char *[]) { tl_notify_env(n), "WATCHDOG_USEC=500000", "-WATCHDOG_PID",
                                                       NULL });
        for (int i = 0; i < 2; i++) {
                char *wd = tl_notify_wait(n, "WATCHDOG=1", 10 * USEC_PER_SEC);
                cr_assert_not_null(wd, "watchdog ping %d did not come", i);
                free(wd);
        }
        reg_stop(&r);
        tl_notify_free(n);
}
