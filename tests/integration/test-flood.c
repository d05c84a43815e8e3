/* SPDX-License-Identifier: MIT */

/* Whitespace floods: every JSON reader that a peer feeds (the RPC server
 * before and after the Option, the RPC client, the etcd watch) drops
 * whitespace between values as it comes and counts it against the bound
 * of the next value, so a peer that sends nothing but spaces is cut off at
 * the bound and costs no memory. Each test floods 64 MiB, far past every
 * bound, and checks both: the connection was closed near the bound, and
 * the reader's peak memory hardly moved. */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "geerpc/client.h"
#include "geerpc/discovery.h"
#include "testlib.h"

#define FLOOD_TOTAL (64U * 1024U * 1024U)
#define FLOOD_CHUNK (64U * 1024U)
/* What may pass the bound before the reader closes: the kernel's socket
 * buffers on both ends (loopback autotuning reaches a few MiB each). */
#define FLOOD_SLACK (16U * 1024U * 1024U)
/* The reader's peak memory may grow by this much, not by the flood (a
 * server reads up to 1 MiB per wake-up into a buffer that doubles, so a
 * few MiB). ThreadSanitizer maps shadow memory for every byte the program
 * touches, several times its size. */
#if defined(__SANITIZE_THREAD__)
#define RSS_GROWTH_MAX_KIB (32U * 1024U)
#else
#define RSS_GROWTH_MAX_KIB (8U * 1024U)
#endif

#define OPTION "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\",\"ConnectTimeout\":10000000000}\n"

/* Peak resident memory (VmHWM) of pid, KiB. */
static long rss_peak_kib(pid_t pid) {
        char path[64], line[256];
        long v = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        cr_assert_not_null(f, "cannot read %s", path);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
                        break;
        fclose(f);
        cr_assert_gt(v, 0);
        return v;
}

/* Writes spaces until the peer closes or total bytes went out. Returns
 * the bytes written; *ret_closed tells whether the peer closed. */
static size_t flood(int fd, size_t total, bool *ret_closed) {
        static char spaces[FLOOD_CHUNK];
        memset(spaces, ' ', sizeof spaces);
        struct timeval tv = { .tv_sec = 10 };
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        size_t written = 0;
        *ret_closed = false;
        while (written < total) {
                ssize_t k = send(fd, spaces, MIN(sizeof spaces, total - written), MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        *ret_closed = errno == EPIPE || errno == ECONNRESET;
                        break;
                }
                written += (size_t) k;
        }
        return written;
}

/* The reader closed near its bound, and its peak memory hardly moved. */
static void assert_cut_off(const char *who, bool closed, size_t written, size_t bound, long before, long after) {
        fprintf(stderr, "flood of %s: %zu bytes taken before it closed; VmHWM %ld -> %ld KiB\n", who, written, before,
                after);
        cr_assert(closed, "%s took %zu bytes of whitespace without closing (bound %zu)", who, written, bound);
        cr_assert_leq(written, bound + FLOOD_SLACK);
        cr_assert_lt(after - before, (long) RSS_GROWTH_MAX_KIB, "%s grew by %ld KiB", who, after - before);
}

/* ---- the RPC server ------------------------------------------------------- */

static void flood_server(bool option_first, size_t bound) {
        char *addr = NULL;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        long before = rss_peak_kib(tl_pid(p));

        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0);
        if (option_first)
                cr_assert(tl_write_all(fd, OPTION, strlen(OPTION)));
        bool closed;
        size_t written = flood(fd, FLOOD_TOTAL, &closed);
        close(fd);
        assert_cut_off(option_first ? "geerpc-example after the Option" : "geerpc-example before the Option", closed,
                       written, bound, before, rss_peak_kib(tl_pid(p)));

        /* It still serves. */
        geerpc_client *c = NULL;
        json_t *reply = NULL;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        cr_assert_eq(tl_call_json(c, "Foo.Sum", "{\"Num1\":1,\"Num2\":2}", &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 3);
        json_decref(reply);
        geerpc_client_unref(c);
        tl_proc_free(p);
        free(addr);
}

Test(flood, server_after_the_option) {
        flood_server(true, 16U * 1024U * 1024U); /* GEERPC_MAX_MESSAGE_SIZE_DEFAULT */
}

Test(flood, server_before_the_option) {
        flood_server(false, 4096); /* the Option's own bound */
}

/* ---- a peer in this process ------------------------------------------------- */

typedef struct Peer {
        int listener;
        char addr[64];
        pthread_t thread;
        /* For the etcd watch: answer ranges, stream the watch. */
        bool etcd;
        size_t written;
        bool closed;
        bool done;
} Peer;

static void peer_listen(Peer *p) {
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 16, &p->listener), 0);
        int flags = fcntl(p->listener, F_GETFL);
        fcntl(p->listener, F_SETFL, flags & ~O_NONBLOCK);
        char *a = NULL;
        cr_assert_eq(address_from_socket(p->listener, &a), 0);
        snprintf(p->addr, sizeof p->addr, "%s", a + strlen("tcp@"));
        free(a);
}

/* Reads one HTTP request (headers and a Content-Length body); returns its
 * path (malloc'd) or NULL. */
static char *read_request(int fd) {
        char buf[8192];
        size_t n = 0;
        char *end = NULL;
        while (!end && n < sizeof buf - 1) {
                ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
                if (k <= 0)
                        return NULL;
                n += (size_t) k;
                buf[n] = 0;
                end = strstr(buf, "\r\n\r\n");
        }
        if (!end)
                return NULL;
        const char *cl = strcasestr(buf, "Content-Length:");
        size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0, have = n - (size_t) (end + 4 - buf);
        while (have < body) {
                ssize_t k = recv(fd, buf, MIN(sizeof buf, body - have), 0);
                if (k <= 0)
                        return NULL;
                have += (size_t) k;
        }
        char *sp = strchr(buf, ' ');
        return sp ? strndup(sp + 1, strcspn(sp + 1, " ")) : NULL;
}

static void *peer_main(void *userdata) {
        Peer *p = userdata;
        for (;;) {
                int fd = accept4(p->listener, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        break;
                bool closed;
                if (!p->etcd) {
                        /* An RPC server: take the Option and a request,
                         * then answer with whitespace only. */
                        char buf[4096];
                        (void) !recv(fd, buf, sizeof buf, 0);
                        p->written = flood(fd, FLOOD_TOTAL, &closed);
                        p->closed = closed;
                        close(fd);
                        break;
                }
                char *path = read_request(fd);
                if (path && streq(path, "/v3/kv/range")) {
                        const char *body = "{\"header\":{\"revision\":\"5\"},\"kvs\":[]}";
                        char resp[256];
                        int k = snprintf(resp, sizeof resp,
                                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                         "Connection: close\r\n\r\n%s",
                                         strlen(body), body);
                        (void) tl_write_all(fd, resp, (size_t) k);
                } else if (path && streq(path, "/v3/watch")) {
                        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                                           "{\"result\":{\"header\":{\"revision\":\"5\"},\"created\":true}}\n";
                        (void) tl_write_all(fd, head, strlen(head));
                        p->written = flood(fd, FLOOD_TOTAL, &closed);
                        p->closed = closed;
                        free(path);
                        close(fd);
                        break;
                }
                free(path);
                close(fd);
        }
        __atomic_store_n(&p->done, true, __ATOMIC_RELEASE);
        return NULL;
}

static void peer_start(Peer *p, bool etcd) {
        *p = (Peer) { .etcd = etcd };
        peer_listen(p);
        cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_wait(Peer *p, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) && now_usec(CLOCK_MONOTONIC) < deadline)
                tl_sleep(20 * USEC_PER_MSEC);
        cr_assert(__atomic_load_n(&p->done, __ATOMIC_ACQUIRE), "the flood did not end");
        pthread_join(p->thread, NULL);
        close(p->listener);
}

Test(flood, client) {
        Peer p;
        peer_start(&p, false);
        long before = rss_peak_kib(getpid());

        char addr[80];
        snprintf(addr, sizeof addr, "tcp@%s", p.addr);
        geerpc_client *c = NULL;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        int r = geerpc_client_call(c, "Foo.Sum", NULL, 60 * USEC_PER_SEC, NULL, NULL);
        geerpc_client_unref(c);
        peer_wait(&p, 60 * USEC_PER_SEC);
        cr_assert_eq(r, -EBADMSG, "the call ended with %d", r);
        assert_cut_off("a client", p.closed, p.written, 16U * 1024U * 1024U, before, rss_peak_kib(getpid()));
}

Test(flood, etcd_watch) {
        Peer p;
        peer_start(&p, true);
        long before = rss_peak_kib(getpid());

        char url[96];
        snprintf(url, sizeof url, "etcd://%s", p.addr);
        geerpc_discovery *d = NULL;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, url), 0);
        cr_assert_eq(geerpc_discovery_refresh(d), 0); /* starts the watch */
        peer_wait(&p, 60 * USEC_PER_SEC);
        geerpc_discovery_unref(d);
        assert_cut_off("an etcd watch", p.closed, p.written, 4U * 1024U * 1024U /* WATCH_MESSAGE_MAX */, before,
                       rss_peak_kib(getpid()));
}
