/* SPDX-License-Identifier: MIT */

/* The RPC core across processes: the real geerpc-example binary, clients
 * from this process, and raw sockets that misbehave. */

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "geerpc/client.h"
#include "proc-rss.h"
#include "testlib.h"

#define OPTION "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\",\"ConnectTimeout\":10000000000,\"HandleTimeout\":0}\n"

static long long sum(geerpc_client *c, long long a, long long b) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", (json_int_t) a, "Num2", (json_int_t) b), *reply = NULL;
        int r = geerpc_client_call(c, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL);
        json_decref(args);
        cr_assert_eq(r, 0, "Foo.Sum failed: %s", strerror(-r));
        long long v = json_integer_value(reply);
        json_decref(reply);
        return v;
}

static void assert_serves(const char *addr) {
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        cr_assert_eq(sum(c, 40, 2), 42);
        geerpc_client_unref(c);
}

/* Sends raw bytes, expects the server to close the connection, then checks
 * that the server still serves and logged `logged`. */
static void expect_closed(TlProc *p, const char *addr, const void *bytes, size_t n, bool half_close,
                          const char *logged) {
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0);
        /* The server may close before reading everything: ignore EPIPE. */
        (void) tl_write_all(fd, bytes, n);
        if (half_close)
                shutdown(fd, SHUT_WR);
        cr_assert(tl_wait_eof(fd, 15 * USEC_PER_SEC), "server did not close the connection");
        close(fd);
        if (logged) {
                char *line = tl_wait_line(p, logged, 5 * USEC_PER_SEC);
                cr_assert_not_null(line, "no log line with '%s'", logged);
                free(line);
        }
        assert_serves(addr);
}

Test(rpc_process, raw_wire_format) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        int fd = tl_connect(addr);
        const char *req = OPTION "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":5,\"Error\":\"\"}\n{\"Num1\":3,\"Num2\":4}\n";
        cr_assert(tl_write_all(fd, req, strlen(req)));
        shutdown(fd, SHUT_WR);
        char *got = tl_read_until_eof(fd, 5 * USEC_PER_SEC, NULL);
        cr_assert_str_eq(got, "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":5,\"Error\":\"\"}\n7\n");
        free(got);
        close(fd);
        free(addr);
        tl_proc_free(p);
}

Test(rpc_process, no_newlines_and_any_whitespace) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        int fd = tl_connect(addr);
        const char *req = "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\"}"
                          "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1}{\"Num1\":1,\"Num2\":1}"
                          " \t\r\n{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":2}\n\n{\"Num1\":2,\"Num2\":2}";
        cr_assert(tl_write_all(fd, req, strlen(req)));
        shutdown(fd, SHUT_WR);
        char *got = tl_read_until_eof(fd, 5 * USEC_PER_SEC, NULL);
        cr_assert_str_eq(got, "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}\n2\n"
                              "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":2,\"Error\":\"\"}\n4\n");
        free(got);
        close(fd);
        free(addr);
        tl_proc_free(p);
}

Test(rpc_process, server_survives_bad_clients) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);

        const char *bad_magic = "{\"MagicNumber\":1,\"CodecType\":\"application/json\"}\n";
        expect_closed(p, addr, bad_magic, strlen(bad_magic), false, "invalid magic number 1");

        const char *bad_codec = "{\"MagicNumber\":3927900,\"CodecType\":\"application/gobble\"}\n";
        expect_closed(p, addr, bad_codec, strlen(bad_codec), false, "invalid codec type application/gobble");

        /* Text that is neither JSON nor HTTP (an HTTP method is upper-case;
         * HTTP requests are test-http-face.c's). */
        const char *not_json = "hello / HTTP/1.1\r\nHost: x\r\n\r\n";
        expect_closed(p, addr, not_json, strlen(not_json), false, "options error");

        const char binary[] = { 0x00, 0x01, 0x02, (char) 0xff, (char) 0xfe, 0x7f };
        expect_closed(p, addr, binary, sizeof binary, false, "options error");

        const char *bad_header = OPTION "[1,2]\n{}\n";
        expect_closed(p, addr, bad_header, strlen(bad_header), false, "read header error");

        const char *garbage_after = OPTION "}}}}\n";
        expect_closed(p, addr, garbage_after, strlen(garbage_after), false, "read header error");

        /* Truncated: half a header, then the client stops sending. */
        const char *truncated = OPTION "{\"ServiceMethod\":\"Foo.Sum\",\"Se";
        expect_closed(p, addr, truncated, strlen(truncated), true, NULL);

        /* A 20 MiB value: over the 16 MiB limit, the connection closes. */
        size_t big = 20U << 20;
        char *blob = malloc(strlen(OPTION) + big);
        memcpy(blob, OPTION, strlen(OPTION));
        memset(blob + strlen(OPTION), ' ', big);
        blob[strlen(OPTION)] = '"';
        expect_closed(p, addr, blob, strlen(OPTION) + big, false, "message larger than the limit");
        free(blob);

        cr_assert_eq(tl_wait_exit(p, 0), -ETIMEDOUT, "the server died");
        free(addr);
        tl_proc_free(p);
}

Test(rpc_process, silent_client_is_dropped_after_option_timeout) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        int fd = tl_connect(addr);
        cr_assert(tl_wait_eof(fd, 20 * USEC_PER_SEC), "connection without an Option was kept open");
        close(fd);
        assert_serves(addr);
        free(addr);
        tl_proc_free(p);
}

typedef struct Caller {
        const char *addr;
        geerpc_client *client;
        atomic_int *ok;
        int n;
} Caller;

static void *caller(void *userdata) {
        Caller *c = userdata;
        for (int i = 0; i < c->n; i++) {
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", (int) (intptr_t) pthread_self() & 0xffff);
                json_t *reply = NULL;
                if (geerpc_client_call(c->client, "Foo.Sum", args, 30 * USEC_PER_SEC, &reply, NULL) == 0 &&
                    json_integer_value(reply) == i + ((int) (intptr_t) pthread_self() & 0xffff))
                        atomic_fetch_add(c->ok, 1);
                json_decref(args);
                if (reply)
                        json_decref(reply);
        }
        return NULL;
}

Test(rpc_process, ten_thousand_calls_from_16_threads) {
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { "--log-level=info", NULL }, NULL, &addr);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        atomic_int ok = 0;
        pthread_t t[16];
        Caller cl = { addr, c, &ok, 625 };
        for (int i = 0; i < 16; i++)
                pthread_create(&t[i], NULL, caller, &cl);
        for (int i = 0; i < 16; i++)
                pthread_join(t[i], NULL);
        cr_assert_eq(atomic_load(&ok), 10000);
        geerpc_client_unref(c);
        free(addr);
        tl_proc_free(p);
}

static void *sleep_call(void *userdata) {
        geerpc_client *c = userdata;
        json_t *args = json_pack("{s:i,s:i}", "Num1", 30, "Num2", 0);
        int r = geerpc_client_call(c, "Foo.Sleep", args, 60 * USEC_PER_SEC, NULL, NULL);
        json_decref(args);
        return (void *) (intptr_t) r;
}

Test(rpc_process, server_killed_mid_call) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
                pthread_create(&t[i], NULL, sleep_call, c);
        tl_sleep(300 * USEC_PER_MSEC);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        tl_kill(p, SIGKILL);
        for (int i = 0; i < 3; i++) {
                void *r;
                pthread_join(t[i], &r);
                cr_assert_eq((int) (intptr_t) r, -ECONNRESET);
        }
        /* Promptly: long before the 30 s the handlers would have taken. */
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 10 * USEC_PER_SEC);
        geerpc_client_unref(c);
        free(addr);
        tl_proc_free(p);
}

typedef struct SleepCall {
        geerpc_client *client;
        json_t *reply;
        int r;
} SleepCall;

static void *sleep_one_second(void *userdata) {
        SleepCall *x = userdata;
        json_t *args = json_pack("{s:i,s:i}", "Num1", 1, "Num2", 5);
        x->r = geerpc_client_call(x->client, "Foo.Sleep", args, 10 * USEC_PER_SEC, &x->reply, NULL);
        json_decref(args);
        return NULL;
}

Test(rpc_process, sigterm_drains_inflight_calls) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        SleepCall x = { .r = -1 };
        cr_assert_eq(geerpc_client_dial(&x.client, addr), 0);
        pthread_t t;
        pthread_create(&t, NULL, sleep_one_second, &x);
        tl_sleep(300 * USEC_PER_MSEC);
        tl_kill(p, SIGTERM);
        pthread_join(t, NULL);
        cr_assert_eq(x.r, 0, "in-flight call failed: %d", x.r);
        cr_assert_eq(json_integer_value(x.reply), 6);
        int status = tl_wait_exit(p, 10 * USEC_PER_SEC);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        json_decref(x.reply);
        geerpc_client_unref(x.client);
        free(addr);
        tl_proc_free(p);
}

Test(rpc_process, bad_flags_exit_2) {
        const char *argv[] = { tl_binary("geerpc-example"), "--workers=0", NULL };
        char *err = NULL;
        cr_assert_eq(tl_run(argv, NULL, 10 * USEC_PER_SEC, NULL, &err), 2);
        cr_assert(strstr(err, "invalid value for --workers"), "%s", err);
        free(err);
        /* A bad --listen is a usage error that says why and what the
         * syntax is. */
        const char *listen[] = { "--listen=udp@x:1", "--listen=nonsense", "--listen=tcp@127.0.0.1:70000" };
        for (size_t i = 0; i < ELEMENTSOF(listen); i++) {
                const char *argv2[] = { tl_binary("geerpc-example"), listen[i], NULL };
                cr_assert_eq(tl_run(argv2, NULL, 10 * USEC_PER_SEC, NULL, &err), 2, "%s", listen[i]);
                cr_assert(strstr(err, "invalid --listen address '"), "%s", err);
                cr_assert(strstr(err, "(expected tcp@HOST:PORT, tcp@[IPv6]:PORT, tcp4@..., tcp6@..., unix@/PATH or http@HOST:PORT)\n"),
                          "%s", err);
                free(err);
        }
        /* --registry: the scheme as the library reads it (case-insensitive,
         * http, https or etcd); anything else is a usage error. */
        const char *registry[] = { "--registry=ftp://127.0.0.1:1/x", "--registry=nourl", "--registry=://x" };
        for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
                const char *argv2[] = { tl_binary("geerpc-example"), registry[i], NULL };
                cr_assert_eq(tl_run(argv2, NULL, 10 * USEC_PER_SEC, NULL, &err), 2, "%s", registry[i]);
                cr_assert(strstr(err, "invalid --registry URL '"), "%s", err);
                free(err);
        }
        char *addr;
        TlProc *upper = tl_start_example((const char *[]) { "--registry=HTTP://127.0.0.1:1/_geerpc_/registry", NULL },
                                         NULL, &addr);
        cr_assert_not_null(upper, "geerpc-example refused an upper-case HTTP:// registry URL");
        tl_kill(upper, SIGTERM);
        cr_assert_eq(tl_wait_exit(upper, 20 * USEC_PER_SEC), 0, "geerpc-example did not stop cleanly");
        tl_proc_free(upper);
        free(addr);
        /* getopt's complaints: once, with the short name. */
        const char *argv3[] = { tl_binary("geerpc-example"), "--bogus", NULL };
        cr_assert_eq(tl_run(argv3, NULL, 10 * USEC_PER_SEC, NULL, &err), 2);
        cr_assert_str_eq(err, "geerpc-example: unknown option '--bogus'\nTry 'geerpc-example --help'.\n");
        free(err);
        const char *argv4[] = { tl_binary("geerpc-example"), "--grace", NULL };
        cr_assert_eq(tl_run(argv4, NULL, 10 * USEC_PER_SEC, NULL, &err), 2);
        cr_assert_str_eq(err, "geerpc-example: option '--grace' needs a value\nTry 'geerpc-example --help'.\n");
        free(err);
}

/* ---- memory: what a connection holds ---------------------------------------- */

/* Under a sanitizer the allocator keeps freed memory a while (ASan's
 * quarantine) and every allocation brings shadow memory and red zones: the
 * server is told to give freed memory back at once, and an idle
 * connection's bound allows for the shadow. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IDLE_CONNECTION_KIB_MAX 48.0
#else
#define IDLE_CONNECTION_KIB_MAX 4.0
#endif

static TlProc *start_measured(char **ret_addr) {
        static char asan[1024], tsan[1024];
        snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s:quarantine_size_mb=0:allocator_release_to_os_interval_ms=50",
                 getenv("ASAN_OPTIONS") ?: "");
        snprintf(tsan, sizeof tsan, "TSAN_OPTIONS=%s:allocator_release_to_os_interval_ms=50", getenv("TSAN_OPTIONS") ?: "");
        const char *const env[] = { asan, tsan, NULL };
        /* Thousands of connections from this one address. */
        const char *const args[] = { "--max-connections-per-ip=0", NULL };
        return tl_start_example(args, env, ret_addr);
}

static long rss_kib(pid_t pid) {
        long kib = proc_rss_kib(pid);
        cr_assert_gt(kib, 0, "cannot read the server's RSS");
        return kib;
}

/* Idle connections, each after one call (the Option and the request sent
 * apart, as a client does), cost the server almost nothing: no buffer of
 * their own. */
Test(rpc_process, idle_connections_hold_no_buffers) {
        enum { N = 2000 };
        char *addr;
        TlProc *p = start_measured(&addr);
        assert_serves(addr);
        long before = rss_kib(tl_pid(p));
        geerpc_client **c = calloc(N, sizeof *c);
        /* Every Option first, then every call. */
        for (int i = 0; i < N; i++)
                cr_assert_eq(geerpc_client_dial(&c[i], addr), 0, "connection %d", i);
        for (int i = 0; i < N; i++)
                cr_assert_eq(sum(c[i], i, 1), i + 1);
        long after = rss_kib(tl_pid(p));
        double per = (double) (after - before) / N;
        cr_log_info("%d idle connections: %.2f KiB each", N, per);
        /* The goal is at most 20 KiB; a connection's own state is well
         * under 1 KiB, a page of buffer would be 4. */
        cr_assert_lt(per, IDLE_CONNECTION_KIB_MAX, "%.1f KiB per idle connection", per);
        for (int i = 0; i < N; i++)
                geerpc_client_unref(c[i]);
        free(c);
        free(addr);
        tl_proc_free(p);
}

/* Connections that once sent a large message give its buffer back after a
 * while without traffic (they used to hold it until they closed). */
Test(rpc_process, buffers_of_idle_connections_shrink) {
        enum { N = 16, PAD = 4 * 1024 * 1024 };
        char *addr;
        TlProc *p = start_measured(&addr);
        assert_serves(addr);
        long base = rss_kib(tl_pid(p));

        char *pad = malloc(PAD + 1);
        memset(pad, 'x', PAD);
        pad[PAD] = 0;
        json_t *args = json_pack("{s:i,s:i,s:s}", "Num1", 1, "Num2", 2, "Pad", pad);
        free(pad);
        geerpc_client *c[N];
        for (int i = 0; i < N; i++) {
                json_t *reply = NULL;
                cr_assert_eq(geerpc_client_dial(&c[i], addr), 0);
                cr_assert_eq(geerpc_client_call(c[i], "Foo.Sum", args, 30 * USEC_PER_SEC, &reply, NULL), 0);
                cr_assert_eq(json_integer_value(reply), 3);
                json_decref(reply);
        }
        json_decref(args);
        long busy = rss_kib(tl_pid(p));
        cr_assert_gt(busy - base, N * (PAD / 1024) / 2, "the large messages were not held (%ld KiB)", busy - base);

        /* Idle now (connections open): the buffers go within a few seconds. */
        long now = busy;
        for (int i = 0; i < 100 && now - base > 16 * 1024; i++) {
                tl_sleep(100 * USEC_PER_MSEC);
                now = rss_kib(tl_pid(p));
        }
        cr_assert_leq(now - base, 16 * 1024, "idle connections still hold %ld KiB (%ld KiB while busy)", now - base,
                      busy - base);
        assert_serves(addr);
        for (int i = 0; i < N; i++)
                geerpc_client_unref(c[i]);
        free(addr);
        tl_proc_free(p);
}
