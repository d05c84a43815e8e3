/* SPDX-License-Identifier: MIT */

/* geeregistry's HTTP limits (header size, body size, connections, per-IP
 * connections, idle and header timeouts), and a barrage of malformed
 * requests over raw sockets after which it must still serve. */

#include <poll.h>
#include <sys/socket.h>

#include "registry-util.h"

/* Writes req (then half-closes unless keep_open) and reads the reply
 * until the server closes or timeout. */
static char *exchange(const char *addr, const void *req, size_t n, bool keep_open, usec_t timeout) {
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
        (void) tl_write_all(fd, req, n); /* the server may close early */
        if (!keep_open)
                shutdown(fd, SHUT_WR);
        char *got = tl_read_until_eof(fd, timeout, NULL);
        close(fd);
        return got;
}

static int status_of(const char *response) {
        int status = 0;
        if (sscanf(response, "HTTP/1.%*d %d", &status) != 1)
                return 0;
        return status;
}

/* Whether the server answers nothing on fd for a while (it is queued). */
static bool silent_for(int fd, usec_t t) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, (int) (t / USEC_PER_MSEC)) == 0;
}

Test(registry_limits, header_size) {
        Reg r = reg_start((const char *[]) { "--max-header-size=1024", NULL });
        char pad[2200];
        memset(pad, 'a', sizeof pad - 1);
        pad[sizeof pad - 1] = 0;

        char header[2300];
        snprintf(header, sizeof header, "X-Pad: %.600s", pad);
        cr_assert_eq(reg_request("GET", r.url, header, NULL), 200);

        snprintf(header, sizeof header, "X-Pad: %s", pad);
        TlHttp h;
        cr_assert_eq(reg_request("GET", r.url, header, &h), 431);
        cr_assert_str_eq(h.body, "request headers too large\n");
        tl_http_done(&h);

        /* Far past the limit: libmicrohttpd's own memory limit answers. */
        size_t big = 200 * 1024;
        char *req = malloc(big + 128);
        cr_assert_not_null(req);
        int n = sprintf(req, "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Pad: ");
        memset(req + n, 'b', big);
        strcpy(req + n + big, "\r\n\r\n");
        char *got = exchange(r.addr, req, strlen(req), false, 10 * USEC_PER_SEC);
        cr_assert(status_of(got) == 431 || *got == 0, "got: %.60s", got);
        free(got);
        free(req);

        cr_assert_eq(reg_metric(&r, "geeregistry_http_requests_total{method=\"GET\",code=\"431\"}"), 1);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);
}

Test(registry_limits, body_size) {
        Reg r = reg_start(NULL);
        const char *small = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:7001\r\n"
                            "Content-Length: 5\r\nConnection: close\r\n\r\nhello";
        char *got = exchange(r.addr, small, strlen(small), false, 10 * USEC_PER_SEC);
        cr_assert_eq(status_of(got), 200, "got: %s", got);
        free(got);

        const char *huge = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:7002\r\n"
                           "Content-Length: 99999999999\r\n\r\n";
        got = exchange(r.addr, huge, strlen(huge), true, 10 * USEC_PER_SEC);
        cr_assert_eq(status_of(got), 413, "got: %s", got);
        free(got);

        /* A chunked body that grows past the limit: the connection closes. */
        int fd = tl_connect(r.addr);
        const char *head = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:7003\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
        cr_assert(tl_write_all(fd, head, strlen(head)));
        char chunk[8200];
        int n = sprintf(chunk, "2000\r\n");
        memset(chunk + n, 'z', 0x2000);
        memcpy(chunk + n + 0x2000, "\r\n", 2);
        bool closed = false;
        for (int i = 0; i < 64 && !closed; i++)
                closed = !tl_write_all(fd, chunk, (size_t) n + 0x2000 + 2);
        cr_assert(closed || tl_wait_eof(fd, 10 * USEC_PER_SEC), "a 512 KiB body was accepted");
        close(fd);

        reg_assert_list(&r, "tcp@127.0.0.1:7001");
        reg_stop(&r);
}

Test(registry_limits, connection_limit_queues_the_rest) {
        Reg r = reg_start((const char *[]) { "--max-connections=3", "--max-connections-per-ip=0",
                                             "--header-timeout=0", NULL });
        int idle[3];
        for (int i = 0; i < 3; i++)
                idle[i] = tl_connect(r.addr);
        tl_sleep(200 * USEC_PER_MSEC);

        int fd = tl_connect(r.addr);
        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        cr_assert(tl_write_all(fd, get, strlen(get)));
        cr_assert(silent_for(fd, 1 * USEC_PER_SEC), "a fourth connection was served");
        close(idle[0]);
        char *got = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        cr_assert_eq(status_of(got), 200, "the queued connection was not served once a slot freed: %s", got);
        free(got);
        close(fd);
        close(idle[1]);
        close(idle[2]);
        reg_stop(&r);
}

Test(registry_limits, per_ip_connection_limit) {
        Reg r = reg_start((const char *[]) { "--max-connections-per-ip=2", "--header-timeout=0", NULL });
        int a = tl_connect(r.addr), b = tl_connect(r.addr);
        tl_sleep(200 * USEC_PER_MSEC);

        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        char *got = exchange(r.addr, get, strlen(get), true, 10 * USEC_PER_SEC);
        cr_assert_str_eq(got, "", "a third connection from one address was served");
        free(got);

        close(a);
        /* Give the server a moment to see the close, then it serves again. */
        bool served = false;
        for (int i = 0; i < 50 && !served; i++) {
                got = exchange(r.addr, get, strlen(get), true, 10 * USEC_PER_SEC);
                served = status_of(got) == 200;
                free(got);
                if (!served)
                        tl_sleep(100 * USEC_PER_MSEC);
        }
        cr_assert(served);
        close(b);
        reg_stop(&r);
}

Test(registry_limits, idle_connection_is_closed) {
        Reg r = reg_start((const char *[]) { "--idle-timeout=1s", "--header-timeout=0", NULL });
        int fd = tl_connect(r.addr);
        cr_assert(tl_wait_eof(fd, 15 * USEC_PER_SEC), "an idle connection stayed open");
        close(fd);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);
}

Test(registry_limits, slowloris_is_cut_by_the_header_timeout) {
        /* No idle timeout: only the header deadline can catch a client that
         * sends a byte every 200 ms and never finishes its headers. */
        Reg r = reg_start((const char *[]) { "--idle-timeout=0", "--header-timeout=1s", NULL });
        int fd = tl_connect(r.addr);
        const char *start = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        cr_assert(tl_write_all(fd, start, strlen(start)));
        bool closed = false;
        for (int i = 0; i < 75 && !closed; i++) { /* 15 s at most */
                if (!tl_write_all(fd, "s", 1))
                        closed = true;
                else
                        closed = tl_wait_eof(fd, 200 * USEC_PER_MSEC);
        }
        cr_assert(closed, "a trickling client kept its connection");
        close(fd);

        /* Keep-alive: a finished request re-arms the deadline; an idle
         * connection after a response is closed too. */
        fd = tl_connect(r.addr);
        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
        cr_assert(tl_write_all(fd, get, strlen(get)));
        cr_assert(tl_wait_eof(fd, 15 * USEC_PER_SEC), "an idle keep-alive connection stayed open");
        close(fd);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);
}

/* A body that trickles in is held to the same deadline as the headers:
 * 16 POSTs that declare 60000 bytes and send one now and then must not
 * hold every connection, and a GET must be answered once the deadline has
 * cut them. */
Test(registry_limits, slow_bodies_are_cut_by_the_request_timeout) {
        Reg r = reg_start((const char *[]) { "--max-connections=16", "--max-connections-per-ip=0", "--idle-timeout=0",
                                             "--header-timeout=2s", NULL });
        const char *head = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:7001\r\n"
                           "Content-Length: 60000\r\n\r\n";
        int slow[16];
        bool open[16];
        for (int i = 0; i < 16; i++) {
                slow[i] = tl_connect(r.addr);
                cr_assert_geq(slow[i], 0);
                cr_assert(tl_write_all(slow[i], head, strlen(head)));
                open[i] = true;
        }
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        int get = tl_connect(r.addr);
        const char *req = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        cr_assert(tl_write_all(get, req, strlen(req)));

        /* One body byte per connection every 500 ms, for at most 10 s. */
        size_t n_open = 16;
        for (int tick = 0; tick < 20 && n_open > 0; tick++) {
                for (int i = 0; i < 16; i++)
                        if (open[i] && (!tl_write_all(slow[i], "b", 1) || tl_wait_eof(slow[i], 0))) {
                                open[i] = false;
                                n_open--;
                        }
                tl_sleep(500 * USEC_PER_MSEC);
        }
        usec_t cut = now_usec(CLOCK_MONOTONIC) - t0;
        cr_assert_eq(n_open, 0, "%zu trickling bodies still hold their connection after %llu ms", n_open,
                     (unsigned long long) (cut / USEC_PER_MSEC));
        char *got = tl_read_until_eof(get, 10 * USEC_PER_SEC, NULL);
        cr_assert_eq(status_of(got), 200, "the GET was not answered once the slow bodies were cut: %.40s", got);
        free(got);
        close(get);
        for (int i = 0; i < 16; i++)
                close(slow[i]);
        reg_assert_list(&r, "");
        reg_stop(&r);
}

Test(registry_limits, half_closed_incomplete_request_is_dropped) {
        /* Neither timeout may close these: the peer's FIN must. */
        Reg r = reg_start((const char *[]) { "--idle-timeout=0", "--header-timeout=1h", NULL });
        const char *incomplete[] = {
                "\r\n\r\n\r\n",
                "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Half: ",
                "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello */
                "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:7009\r\n"
                "Content-Length: 10\r\n\r\nab",
        };
        for (size_t i = 0; i < ELEMENTSOF(incomplete); i++) {
                int fd = tl_connect(r.addr);
                cr_assert(tl_write_all(fd, incomplete[i], strlen(incomplete[i])));
                shutdown(fd, SHUT_WR);
                cr_assert(tl_wait_eof(fd, 20 * USEC_PER_SEC), "request %zu: the connection stayed open", i);
                close(fd);
        }
        /* A complete request followed by the FIN is still answered. */
        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
        char *got = exchange(r.addr, get, strlen(get), false, 30 * USEC_PER_SEC);
        cr_assert_eq(status_of(got), 200, "%s", got);
        free(got);
        cr_assert(reg_wait_metric(&r, "geeregistry_http_connections", 1, 10 * USEC_PER_SEC));
        reg_stop(&r);
}

/* Requests pipelined on one connection are answered as fast as they are
 * read, not one per timer tick: 5,000 GETs took over 5 s when each waited
 * for the next 1 ms wake-up. */
Test(registry_limits, pipelined_requests_are_served_at_once) {
        Reg r = reg_start(NULL);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        const char *get = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
        const char *last = "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        size_t n = 5000, gl = strlen(get);
        char *req = malloc(n * gl + strlen(last) + 1);
        cr_assert_not_null(req);
        for (size_t i = 0; i < n - 1; i++)
                memcpy(req + i * gl, get, gl);
        strcpy(req + (n - 1) * gl, last);

        int fd = tl_connect(r.addr);
        cr_assert_geq(fd, 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        cr_assert(tl_write_all(fd, req, strlen(req)));
        char *got = tl_read_until_eof(fd, 30 * USEC_PER_SEC, NULL);
        usec_t took = now_usec(CLOCK_MONOTONIC) - t0;
        close(fd);
        size_t answers = 0;
        for (const char *p = got; (p = strstr(p, "HTTP/1.1 200 OK")); p++)
                answers++;
        fprintf(stderr, "%zu pipelined GETs answered in %llu ms\n", answers, (unsigned long long) (took / USEC_PER_MSEC));
        cr_assert_eq(answers, n);
        cr_assert_lt(took, 2500 * USEC_PER_MSEC, "%zu pipelined GETs took %llu ms", n,
                     (unsigned long long) (took / USEC_PER_MSEC));
        free(got);
        free(req);
        reg_stop(&r);
}

Test(registry_limits, keep_alive_serves_many_requests) {
        Reg r = reg_start(NULL);
        int fd = tl_connect(r.addr);
        char req[256];
        for (int i = 0; i < 50; i++) {
                int n = snprintf(req, sizeof req,
                                 "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:%d\r\n"
                                 "Content-Length: 0\r\n\r\n",
                                 7000 + i % 5);
                cr_assert(tl_write_all(fd, req, (size_t) n));
                char buf[1024];
                ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
                cr_assert_gt(k, 0, "the connection was not kept alive (request %d)", i);
                buf[k] = 0;
                cr_assert_eq(status_of(buf), 200, "%s", buf);
        }
        close(fd);
        cr_assert_eq(reg_metric(&r, "geeregistry_heartbeats_total"), 50);
        cr_assert_eq(reg_metric(&r, "geeregistry_servers"), 5);
        reg_stop(&r);
}

/* ---- the barrage ---------------------------------------------------------- */

#define BARRAGE 1000
#define SLOWLORIS 20

typedef struct Bad {
        char *bytes;
        size_t n;
        int expect;      /* status, 0: anything (or nothing) */
        bool truncated;  /* send and hang up without reading */
} Bad;

static Bad make_bad(unsigned i, unsigned *seed) {
        Bad b = {};
        char *s = NULL;
        switch (i % 10) {
        case 0: { /* oversized headers (default limit: 16 KiB) */
                size_t pad = 20000;
                s = malloc(pad + 128);
                cr_assert_not_null(s);
                int n = sprintf(s, "GET " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Pad: ");
                memset(s + n, 'p', pad);
                strcpy(s + n + pad, "\r\nConnection: close\r\n\r\n");
                b.expect = 431;
                break;
        }
        case 1: { /* invalid addresses */
                static const char *const addrs[] = { "tcp@127.0.0.1:99999", "tcp@:1", "nope", "unix@relative",
                                                     "tcp@[::1:5", "tcp@h:1,tcp@h:2", "tcp@-bad-:1", "@",
                                                     "tcp@127.0.0.1:-1" };
                cr_assert_geq(asprintf(&s, "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: %s\r\n"
                                           "Content-Length: 0\r\nConnection: close\r\n\r\n",
                                       addrs[(i / 10) % ELEMENTSOF(addrs)]),
                              0);
                b.expect = 400;
                break;
        }
        case 2: /* binary garbage */
                b.n = 64 + rand_r(seed) % 512;
                s = malloc(b.n);
                cr_assert_not_null(s);
                for (size_t k = 0; k < b.n; k++)
                        s[k] = (char) rand_r(seed);
                break;
        case 3: /* truncated */
                s = strdup("POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Ser");
                b.truncated = true;
                break;
        case 4: /* no address header */
                s = strdup("POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                b.expect = 400;
                break;
        case 5: { /* broken request lines */
                static const char *const lines[] = { "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", " / HTTP/1.1\r\n\r\n",
                                                     "\r\n\r\n\r\n", "GET /\r\n\r\n", "GET " REG_PATH " FOO\r\n\r\n" };
                s = strdup(lines[(i / 10) % ELEMENTSOF(lines)]);
                break;
        }
        case 6: /* headers without a colon */
                s = strdup("GET " REG_PATH " HTTP/1.1\r\nHost x\r\nJunk\r\n\r\n");
                break;
        case 7: /* a body too large to read */
                s = strdup("POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:1\r\n"
                           "Content-Length: 18446744073709551615\r\n\r\n");
                break;
        case 8: /* a broken chunked body */
                s = strdup("POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@127.0.0.1:2\r\n"
                           "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nnot hex\r\n\r\n");
                break;
        case 9: /* control characters and NULs in the address */
                s = malloc(160);
                cr_assert_not_null(s);
                b.n = (size_t) sprintf(s, "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: tcp@1.2.3.4:5");
                s[b.n++] = (char) (i % 2 ? 0x01 : 0x00);
                memcpy(s + b.n, "\r\nConnection: close\r\n\r\n", 23);
                b.n += 23;
                break;
        }
        b.bytes = s;
        if (b.n == 0)
                b.n = strlen(s);
        return b;
}

static void slowloris_tick(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0 && !tl_write_all(fds[i], "x", 1))
                        fds[i] = safe_close(fds[i]);
}

Test(registry_limits, barrage_of_malformed_requests) {
        Reg r = reg_start((const char *[]) { "--header-timeout=1s", NULL });
        int slow[SLOWLORIS];
        for (int i = 0; i < SLOWLORIS; i++) {
                slow[i] = tl_connect(r.addr);
                cr_assert_geq(slow[i], 0);
                const char *start = "POST " REG_PATH " HTTP/1.1\r\nHost: x\r\nX-Geerpc-Server: ";
                cr_assert(tl_write_all(slow[i], start, strlen(start)));
        }

        unsigned seed = 42;
        usec_t started = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < BARRAGE; i++) {
                Bad b = make_bad(i, &seed);
                if (b.truncated) {
                        int fd = tl_connect(r.addr);
                        cr_assert_geq(fd, 0, "connect failed after %u requests", i);
                        (void) tl_write_all(fd, b.bytes, b.n);
                        close(fd);
                } else {
                        char *got = exchange(r.addr, b.bytes, b.n, false, 10 * USEC_PER_SEC);
                        if (b.expect)
                                cr_assert_eq(status_of(got), b.expect, "request %u: %.80s", i, got);
                        free(got);
                }
                free(b.bytes);
                if (i % 25 == 0)
                        slowloris_tick(slow, SLOWLORIS);
        }
        usec_t took = now_usec(CLOCK_MONOTONIC) - started;
        fprintf(stderr, "barrage of %d took %.2f s\n", BARRAGE, (double) took / USEC_PER_SEC);

        /* The trickling connections are cut by the header deadline. */
        for (int i = 0; i < SLOWLORIS; i++)
                if (slow[i] >= 0) {
                        cr_assert(tl_wait_eof(slow[i], 15 * USEC_PER_SEC), "slowloris connection %d stayed open", i);
                        close(slow[i]);
                }

        reg_assert_running(&r);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7001");
        cr_assert(reg_wait_metric(&r, "geeregistry_http_connections", 1, 10 * USEC_PER_SEC),
                  "connections were left open");
        cr_assert_eq(reg_metric(&r, "geeregistry_servers"), 1);
        reg_stop(&r);
}
