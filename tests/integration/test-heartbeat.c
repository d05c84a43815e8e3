/* SPDX-License-Identifier: MIT */

/* Server-side registration end to end: geerpc-example processes heartbeat
 * to a real geeregistry process. */

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "basic/address.h"
#include "geerpc/client.h"
#include "testlib.h"

/* The servers the registry lists (X-Geerpc-Servers), malloc'd; "" if none. */
static char *listed(const char *url) {
        TlHttp h;
        cr_assert_eq(tl_http("GET", url, NULL, &h), 0, "registry did not answer");
        cr_assert_eq(h.status, 200);
        char *v = tl_http_header(&h, "X-Geerpc-Servers");
        tl_http_done(&h);
        return v ?: strdup("");
}

static bool is_listed(const char *url, const char *addr) {
        char *l = listed(url);
        bool found = false;
        for (char *save, *t = strtok_r(l, ",", &save); t; t = strtok_r(NULL, ",", &save))
                found = found || streq(t, addr);
        free(l);
        return found;
}

/* Polls until the address is (or is not) listed; bounded. */
static bool wait_listed(const char *url, const char *addr, bool want, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                if (is_listed(url, addr) == want)
                        return true;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                tl_sleep(50 * USEC_PER_MSEC);
        }
}

/* Starts geeregistry on listen (e.g. "127.0.0.1:0") and returns its URL. */
static TlProc *start_registry(const char *listen, const char *timeout, char **ret_url) {
        char l[64], t[64];
        snprintf(l, sizeof l, "--listen=%s", listen);
        snprintf(t, sizeof t, "--timeout=%s", timeout);
        const char *argv[] = { tl_binary("geeregistry"), l, t, NULL };
        TlProc *p = tl_spawn(argv, NULL);
        char *line = tl_wait_line(p, "listening on http://", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "geeregistry did not start");
        char *u = strstr(line, "http://");
        u[strcspn(u, " \t")] = 0;
        if (!strstr(u, "/_geerpc_/registry"))
                cr_assert(asprintf(ret_url, "%s/_geerpc_/registry", u) > 0);
        else
                *ret_url = strdup(u);
        free(line);
        return p;
}

/* "http://127.0.0.1:PORT/..." -> "127.0.0.1:PORT" */
static char *url_hostport(const char *url) {
        const char *h = url + strlen("http://");
        return strndup(h, strcspn(h, "/"));
}

static TlProc *start_server(const char *registry_url, char **ret_addr) {
        char r[256];
        snprintf(r, sizeof r, "--registry=%s", registry_url);
        return tl_start_example((const char *[]) { r, NULL }, NULL, ret_addr);
}

Test(heartbeat, registers_and_stays_alive_past_the_registry_timeout) {
        char *url, *addr;
        TlProc *reg = start_registry("127.0.0.1:0", "2s", &url);
        TlProc *srv = start_server(url, &addr);
        cr_assert(wait_listed(url, addr, true, 10 * USEC_PER_SEC), "%s never listed", addr);
        /* The period comes from the registry's 2 s timeout (a third of it):
         * after three timeouts it is still there. */
        char *line = tl_wait_line(srv, "heartbeat every", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        cr_assert(strstr(line, "heartbeat every 666ms"), "%s", line);
        free(line);
        for (int i = 0; i < 6; i++) {
                tl_sleep(USEC_PER_SEC);
                cr_assert(is_listed(url, addr), "%s expired after %d s", addr, i + 1);
        }
        tl_proc_free(srv);
        tl_proc_free(reg);
        free(url);
        free(addr);
}

Test(heartbeat, registers_again_after_the_registry_comes_back) {
        char *url, *addr;
        TlProc *reg = start_registry("127.0.0.1:0", "2s", &url);
        TlProc *srv = start_server(url, &addr);
        cr_assert(wait_listed(url, addr, true, 10 * USEC_PER_SEC));

        /* Down for longer than the timeout: the registry forgets nothing on
         * a SIGKILL only if it persists; without a state file it starts
         * empty, so the server must register again by itself. */
        tl_kill(reg, SIGKILL);
        tl_proc_free(reg);
        tl_sleep(3 * USEC_PER_SEC);
        char *hostport = url_hostport(url);
        char *url2;
        reg = start_registry(hostport, "2s", &url2);
        cr_assert(wait_listed(url, addr, true, 10 * USEC_PER_SEC), "%s did not come back", addr);
        char *line = tl_wait_line(srv, "registry reachable again", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_eq(tl_wait_exit(srv, 0), -ETIMEDOUT, "the server restarted or died");
        tl_proc_free(srv);
        tl_proc_free(reg);
        free(hostport);
        free(url);
        free(url2);
        free(addr);
}

typedef struct SleepCall {
        const char *addr;
        int r;
        long long value;
} SleepCall;

static void *sleep_call(void *userdata) {
        SleepCall *s = userdata;
        geerpc_client *c;
        s->r = geerpc_client_dial(&c, s->addr);
        if (s->r < 0)
                return NULL;
        json_t *args = json_pack("{s:i,s:i}", "Num1", 2, "Num2", 40), *reply = NULL;
        s->r = geerpc_client_call(c, "Foo.Sleep", args, 20 * USEC_PER_SEC, &reply, NULL);
        if (s->r == 0)
                s->value = json_integer_value(reply);
        json_decref(args);
        if (reply)
                json_decref(reply);
        geerpc_client_unref(c);
        return NULL;
}

Test(heartbeat, sigterm_deregisters_at_once_and_answers_inflight_calls) {
        char *url, *addr;
        TlProc *reg = start_registry("127.0.0.1:0", "5m", &url);
        TlProc *srv = start_server(url, &addr);
        cr_assert(wait_listed(url, addr, true, 10 * USEC_PER_SEC));

        SleepCall sc = { .addr = addr, .r = -1 };
        pthread_t t;
        pthread_create(&t, NULL, sleep_call, &sc);
        tl_sleep(300 * USEC_PER_MSEC);
        tl_kill(srv, SIGTERM);
        /* Gone long before the 5 minute timeout: at once. */
        cr_assert(wait_listed(url, addr, false, 3 * USEC_PER_SEC), "%s still listed after SIGTERM", addr);
        pthread_join(t, NULL);
        cr_assert_eq(sc.r, 0, "in-flight Foo.Sleep failed: %d", sc.r);
        cr_assert_eq(sc.value, 42);
        int status = tl_wait_exit(srv, 10 * USEC_PER_SEC);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char *line = tl_wait_line(srv, "deregistered", 0);
        cr_assert_not_null(line);
        free(line);
        tl_proc_free(srv);
        tl_proc_free(reg);
        free(url);
        free(addr);
}

Test(heartbeat, silent_registry_does_not_stall_rpc_or_watchdog) {
        /* A "registry" that accepts connections but never answers. */
        int fd;
        char *hole, url[128];
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 64, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &hole), 0);
        snprintf(url, sizeof url, "http://%s/_geerpc_/registry", hole + 4);

        TlNotify *n = tl_notify_new();
        char r[256];
        snprintf(r, sizeof r, "--registry=%s", url);
        const char *env[] = { tl_notify_env(n), "WATCHDOG_USEC=1000000", "-WATCHDOG_PID", NULL };
        char *addr;
        TlProc *srv = tl_start_example((const char *[]) { r, "--heartbeat=1s", NULL }, env, &addr);
        char *ready = tl_notify_wait(n, "READY=1", 5 * USEC_PER_SEC);
        cr_assert_not_null(ready);
        free(ready);

        char *status = tl_notify_wait(n, "STATUS=serving on tcp@127.0.0.1:", 15 * USEC_PER_SEC);
        for (int i = 0; status && !strstr(status, "registry unreachable") && i < 30; i++) {
                free(status);
                status = tl_notify_wait(n, "STATUS=", 2 * USEC_PER_SEC);
        }
        cr_assert(status && strstr(status, "registry unreachable:") && strstr(status, "retrying in"), "%s", status);
        free(status);

        /* Meanwhile RPC is served and the watchdog keeps being pinged. */
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        for (int i = 0; i < 5; i++) {
                char *w = tl_notify_wait(n, "WATCHDOG=1", 3 * USEC_PER_SEC);
                cr_assert_not_null(w, "watchdog ping %d missing", i);
                free(w);
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1), *reply = NULL;
                cr_assert_eq(geerpc_client_call(c, "Foo.Sum", args, 2 * USEC_PER_SEC, &reply, NULL), 0);
                cr_assert_eq(json_integer_value(reply), i + 1);
                json_decref(args);
                json_decref(reply);
        }
        geerpc_client_unref(c);

        /* And SIGTERM still exits promptly: the DELETE is bounded. */
        tl_kill(srv, SIGTERM);
        int st = tl_wait_exit(srv, 10 * USEC_PER_SEC);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
        char *stopping = tl_notify_wait(n, "STOPPING=1", USEC_PER_SEC);
        cr_assert_not_null(stopping);
        free(stopping);
        tl_proc_free(srv);
        tl_notify_free(n);
        close(fd);
        free(hole);
        free(addr);
}

Test(heartbeat, socket_activation_registers_the_passed_socket) {
        char *url;
        TlProc *reg = start_registry("127.0.0.1:0", "5m", &url);

        /* systemd-socket-activate needs a port number up front. */
        int fd;
        char *probe;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 1, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &probe), 0);
        close(fd);
        const char *port = strrchr(probe, ':') + 1;
        char listen[64], r[256];
        snprintf(listen, sizeof listen, "127.0.0.1:%s", port);
        snprintf(r, sizeof r, "--registry=%s", url);

        TlNotify *n = tl_notify_new();
        const char *argv[] = { "/usr/bin/systemd-socket-activate", "-l", listen, "-E", "NOTIFY_SOCKET", "-E",
                               "GEERPC_LOG_LEVEL", tl_binary("geerpc-example"), r, "--listen=tcp@127.0.0.1:1", NULL };
        const char *env[] = { tl_notify_env(n), NULL };
        TlProc *sa = tl_spawn(argv, env);
        char *l = tl_wait_line(sa, "Listening on", 5 * USEC_PER_SEC);
        cr_assert_not_null(l, "systemd-socket-activate did not listen");
        free(l);

        /* The first connection starts the server on the passed socket. */
        geerpc_client *c;
        char addr[64];
        snprintf(addr, sizeof addr, "tcp@127.0.0.1:%s", port);
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        json_t *args = json_pack("{s:i,s:i}", "Num1", 2, "Num2", 3), *reply = NULL;
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 5);
        json_decref(args);
        json_decref(reply);
        geerpc_client_unref(c);

        char *line = tl_wait_line(sa, "serving on ", 5 * USEC_PER_SEC);
        cr_assert(line && strstr(line, addr), "%s", line);
        free(line);
        cr_assert(wait_listed(url, addr, true, 10 * USEC_PER_SEC), "%s not registered", addr);
        char *ready = tl_notify_wait(n, "READY=1", 5 * USEC_PER_SEC);
        cr_assert_not_null(ready);
        free(ready);

        tl_kill(sa, SIGTERM);
        tl_wait_exit(sa, 10 * USEC_PER_SEC);
        tl_proc_free(sa);
        tl_proc_free(reg);
        tl_notify_free(n);
        free(probe);
        free(url);
}

Test(heartbeat, unusable_advertised_address_is_refused) {
        const char *argv[] = { tl_binary("geerpc-example"), "--listen=tcp@0.0.0.0:0",
                               "--registry=http://127.0.0.1:9/_geerpc_/registry", NULL };
        char *err = NULL;
        cr_assert_eq(tl_run(argv, NULL, 10 * USEC_PER_SEC, NULL, &err), 1);
        cr_assert(strstr(err, "pass --advertise"), "%s", err);
        free(err);
        const char *bad[] = { tl_binary("geerpc-example"), "--registry=ftp://x", NULL };
        cr_assert_eq(tl_run(bad, NULL, 10 * USEC_PER_SEC, NULL, NULL), 2);
        const char *bad2[] = { tl_binary("geerpc-example"), "--heartbeat=10ms", NULL };
        cr_assert_eq(tl_run(bad2, NULL, 10 * USEC_PER_SEC, NULL, NULL), 2);
}
