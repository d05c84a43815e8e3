/* SPDX-License-Identifier: MIT */

/* What one client may take from a geerpc-example server, and for how long:
 * its share of the workers (and no worker once it is gone), a connection
 * only while it sends whole messages and reads its replies, a bounded
 * number of connections per address. Raw sockets play the bad clients; a
 * geerpc client is the good one, served throughout. */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "geerpc/client.h"
#include "testlib.h"

#define OPTION "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\"}\n"

static int connect_with_option(const char *addr) {
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
        cr_assert(tl_write_all(fd, OPTION, strlen(OPTION)));
        return fd;
}

/* n concurrent Foo.Sleep {"Num1":seconds} on one client; returns how many
 * succeeded, and how long they all took. */
typedef struct Sleeper {
        geerpc_client *client;
        int seconds;
        int r;
} Sleeper;

static void *sleeper(void *userdata) {
        Sleeper *s = userdata;
        json_t *args = json_pack("{s:i}", "Num1", s->seconds);
        s->r = geerpc_client_call(s->client, "Foo.Sleep", args, 30 * USEC_PER_SEC, NULL, NULL);
        json_decref(args);
        return NULL;
}

static unsigned sleep_calls(const char *addr, unsigned n_clients, unsigned per_client, int seconds, usec_t *ret_took) {
        geerpc_client *clients[16];
        Sleeper s[256];
        pthread_t t[256];
        unsigned n = n_clients * per_client, ok = 0;
        cr_assert_leq(n, ELEMENTSOF(s));
        for (unsigned i = 0; i < n_clients; i++)
                cr_assert_eq(geerpc_client_dial(&clients[i], addr), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < n; i++) {
                s[i] = (Sleeper) { .client = clients[i % n_clients], .seconds = seconds, .r = 1 };
                cr_assert_eq(pthread_create(&t[i], NULL, sleeper, &s[i]), 0);
        }
        for (unsigned i = 0; i < n; i++) {
                pthread_join(t[i], NULL);
                ok += s[i].r == 0;
        }
        *ret_took = now_usec(CLOCK_MONOTONIC) - t0;
        for (unsigned i = 0; i < n_clients; i++)
                geerpc_client_unref(clients[i]);
        return ok;
}

/* 64 calls that would sleep an hour, on one connection, then the
 * connection goes: before, every worker slept for the hour and every other
 * client's blocking call timed out. Now the connection has its share of
 * the workers (16 of 64) while it is there, and none once it is gone. */
Test(rpc_limits, one_connection_cannot_take_every_worker) {
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { "--workers=16", NULL }, NULL, &addr);

        int hog = connect_with_option(addr);
        char req[128];
        for (int i = 0; i < 64; i++) {
                int k = snprintf(req, sizeof req, "{\"ServiceMethod\":\"Foo.Sleep\",\"Seq\":%d}\n{\"Num1\":3600}\n", i);
                cr_assert(tl_write_all(hog, req, (size_t) k));
        }
        tl_sleep(300 * USEC_PER_MSEC);

        /* While it is there: its share is 4 workers; 12 remain. */
        usec_t took;
        unsigned ok = sleep_calls(addr, 4, 3, 1, &took);
        fprintf(stderr, "12 Foo.Sleep(1) beside the hog: %u succeeded in %llu ms\n", ok,
                (unsigned long long) (took / USEC_PER_MSEC));
        cr_assert_eq(ok, 12, "other clients' blocking calls were not served");
        cr_assert_lt(took, 5 * USEC_PER_SEC);

        /* Gone: its four running calls are cancelled, its 60 waiting ones
         * dropped, and all 16 workers serve the others at once (with the
         * hog's four still sleeping, 16 calls of 3 s take 6 s). */
        close(hog);
        tl_sleep(500 * USEC_PER_MSEC);
        ok = sleep_calls(addr, 4, 4, 3, &took);
        fprintf(stderr, "16 Foo.Sleep(3) after the hog left: %u succeeded in %llu ms\n", ok,
                (unsigned long long) (took / USEC_PER_MSEC));
        cr_assert_eq(ok, 16);
        cr_assert_lt(took, 5 * USEC_PER_SEC, "the gone client's calls still held workers");

        tl_proc_free(p);
        free(addr);
}

/* ---- slow clients ---------------------------------------------------------- */

/* Whether the server closed fd (EOF or reset), without waiting. */
static bool closed_by_server(int fd) {
        char buf[256];
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k > 0)
                        continue; /* the probe's whitespace, say */
                return k == 0 || (errno != EAGAIN && errno != EINTR);
        }
}

#define TRICKLERS 1000
#define SILENT 1000

/* 1,000 connections that send a message one byte per second and 1,000
 * that send nothing after the Option are closed once the message timeout
 * and the idle timeout (2 s each here) have passed, while a good client
 * is served throughout. Before, all 2,000 stayed for ever. */
Test(rpc_limits, trickling_and_silent_connections_are_closed) {
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { "--idle-timeout=2s", "--message-timeout=2s",
                                                        "--max-connections-per-ip=0", NULL },
                                     NULL, &addr);
        TlCaller *good = tl_caller_start(addr, 50 * USEC_PER_MSEC);

        static int trickle[TRICKLERS], silent[SILENT];
        for (int i = 0; i < TRICKLERS; i++)
                trickle[i] = connect_with_option(addr);
        for (int i = 0; i < SILENT; i++)
                silent[i] = connect_with_option(addr);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);

        /* A header, one byte a second on every trickling connection, for up
         * to 12 s: the message timeout must cut them all. */
        const char *header = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1,\"Error\":\"\"}";
        bool open_t[TRICKLERS], open_s[SILENT];
        size_t n_open = TRICKLERS + SILENT;
        memset(open_t, 1, sizeof open_t);
        memset(open_s, 1, sizeof open_s);
        for (size_t tick = 0; tick < 12 && n_open > 0; tick++) {
                for (int i = 0; i < TRICKLERS; i++)
                        if (open_t[i] && (closed_by_server(trickle[i]) ||
                                          send(trickle[i], header + tick % strlen(header), 1, MSG_NOSIGNAL) < 0)) {
                                open_t[i] = false;
                                n_open--;
                        }
                for (int i = 0; i < SILENT; i++)
                        if (open_s[i] && closed_by_server(silent[i])) {
                                open_s[i] = false;
                                n_open--;
                        }
                tl_sleep(USEC_PER_SEC);
        }
        usec_t took = now_usec(CLOCK_MONOTONIC) - t0;

        unsigned ok, failed;
        usec_t slowest;
        tl_caller_stop(good, &ok, &failed, &slowest);
        fprintf(stderr, "%zu of %d slow connections still open after %llu ms; the good client: %u calls, %u failed, "
                        "slowest %llu ms\n",
                n_open, TRICKLERS + SILENT, (unsigned long long) (took / USEC_PER_MSEC), ok + failed, failed,
                (unsigned long long) (slowest / USEC_PER_MSEC));
        cr_assert_eq(n_open, 0, "%zu slow connections kept", n_open);
        cr_assert_gt(ok, 20);
        cr_assert_eq(failed, 0);
        cr_assert_lt(slowest, 5 * USEC_PER_SEC);

        for (int i = 0; i < TRICKLERS; i++)
                close(trickle[i]);
        for (int i = 0; i < SILENT; i++)
                close(silent[i]);
        tl_proc_free(p);
        free(addr);
}

/* A client that sends requests and never reads the replies holds its
 * connection only until the message timeout, when replies are left
 * unread in the server's buffer; or, when they all fit in the kernel's,
 * which then reads as nothing in flight, until the idle timeout. */
Test(rpc_limits, client_that_reads_nothing_is_closed) {
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { "--message-timeout=2s", "--idle-timeout=2s", NULL }, NULL,
                                     &addr);
        int fd = connect_with_option(addr);
        int one = 4096;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);

        /* Requests until the server stops taking them (its replies pile up
         * unread), within 10 s. */
        const char *req = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":1}\n{\"Num1\":1,\"Num2\":2}\n";
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        bool blocked = false;
        while (!blocked && now_usec(CLOCK_MONOTONIC) < deadline) {
                ssize_t k = send(fd, req, strlen(req), MSG_NOSIGNAL);
                if (k < 0)
                        blocked = errno == EAGAIN;
        }
        cr_assert(blocked, "the server took requests for 10 s without stopping");

        /* Then only the unread replies are left: cut ~2 s after the server
         * has answered all it took (generous: a sanitizer build answers
         * slowly). The
         * server's close shows as its FIN (our side in CLOSE_WAIT), or as
         * a reset when it left bytes of ours unread: the replies still
         * queued here tell nothing. */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        bool cut = false;
        while (!cut && now_usec(CLOCK_MONOTONIC) - t0 < 60 * USEC_PER_SEC) {
                struct pollfd pfd = { .fd = fd, .events = 0 };
                struct tcp_info ti = {};
                socklen_t l = sizeof ti;
                (void) poll(&pfd, 1, 100);
                cut = (pfd.revents & (POLLHUP | POLLERR)) ||
                      (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) >= 0 &&
                       (ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE));
        }
        fprintf(stderr, "a client reading nothing was cut after %llu ms\n",
                (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC));
        cr_assert(cut, "a client that reads nothing kept its connection");
        close(fd);
        tl_proc_free(p);
        free(addr);
}

/* One address gets --max-connections-per-ip connections; more are closed
 * as they come, and a slot freed is taken again. */
Test(rpc_limits, connections_per_address) {
        char *addr;
        TlProc *p = tl_start_example((const char *[]) { "--max-connections-per-ip=8", NULL }, NULL, &addr);
        int fds[8];
        for (int i = 0; i < 8; i++)
                fds[i] = connect_with_option(addr);
        int extra = connect_with_option(addr);
        cr_assert(tl_wait_eof(extra, 5 * USEC_PER_SEC), "a ninth connection from one address was served");
        close(extra);

        close(fds[0]);
        tl_sleep(200 * USEC_PER_MSEC);
        geerpc_client *c = NULL;
        json_t *reply = NULL;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        cr_assert_eq(tl_call_json(c, "Foo.Sum", "{\"Num1\":2,\"Num2\":3}", &reply, NULL),
                     0, "the freed slot was not taken again");
        cr_assert_eq(json_integer_value(reply), 5);
        json_decref(reply);
        geerpc_client_unref(c);
        for (int i = 1; i < 8; i++)
                close(fds[i]);
        tl_proc_free(p);
        free(addr);
}
