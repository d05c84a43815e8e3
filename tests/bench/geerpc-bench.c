/* SPDX-License-Identifier: MIT */

/* geerpc-bench: libgeerpc against the physical floor, measured side by side
 * in one run. Each round measures the baseline and then geerpc, so that
 * whatever else the machine is doing hits both.
 *
 *   floor     raw TCP ping-pong over loopback between two threads
 *             (TCP_NODELAY, blocking read/write, messages of the same size
 *             as a Foo.Sum call and its reply)
 *   seq       one caller, Foo.Sum on an in-process server thread
 *   conc16    16 callers through one client (one connection)
 *   xclient   16 callers through an xclient over 2 servers (round-robin)
 *   registry  GET (100 servers registered) and POST heartbeats per second
 *             against a geeregistry process, 16 keep-alive connections
 *
 * Every reply is checked; a lost or mismatched call fails the run. */

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "bench.h"
#include "shared/cli.h"
#include "foo.h"
#include "geerpc/client.h"
#include "geerpc/discovery.h"
#include "geerpc/server.h"
#include "geerpc/xclient.h"
#include "basic/log.h"

/* ---- statistics ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

double bench_percentile(uint64_t *v, size_t n, double p) {
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof *v, cmp_u64);
        size_t i = (size_t) ceil(p / 100.0 * (double) n);
        return (double) v[i == 0 ? 0 : MIN(i - 1, n - 1)];
}

double bench_median(double *v, size_t n) {
        uint64_t tmp[64];
        n = MIN(n, ELEMENTSOF(tmp));
        for (size_t i = 0; i < n; i++)
                tmp[i] = (uint64_t) (v[i] * 1000.0);
        return bench_percentile(tmp, n, 50) / 1000.0;
}

static usec_t now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

/* ---- the floor: raw ping-pong ---------------------------------------------- */

/* The same sizes as a Foo.Sum request and its reply on the wire. */
static size_t request_size, reply_size;

static void measure_wire_sizes(void) {
        const char *req = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":12345,\"Error\":\"\"}\n{\"Num1\":1234,\"Num2\":5678}\n";
        const char *rep = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":12345,\"Error\":\"\"}\n6912\n";
        request_size = strlen(req);
        reply_size = strlen(rep);
}

static bool read_full(int fd, char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = read(fd, buf, n);
                if (k <= 0) {
                        if (k < 0 && errno == EINTR)
                                continue;
                        return false;
                }
                buf += k;
                n -= (size_t) k;
        }
        return true;
}

static bool write_full(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
                if (k <= 0) {
                        if (k < 0 && errno == EINTR)
                                continue;
                        return false;
                }
                buf += k;
                n -= (size_t) k;
        }
        return true;
}

static void set_blocking_nodelay(int fd) {
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int flags = fcntl(fd, F_GETFL);
        (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

static void *floor_server(void *userdata) {
        int lfd = (int) (intptr_t) userdata;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        set_blocking_nodelay(fd);
        char in[512], out[512];
        memset(out, 'r', sizeof out);
        while (read_full(fd, in, request_size) && write_full(fd, out, reply_size))
                ;
        close(fd);
        return NULL;
}

/* Round trips for `duration`; RTTs (ns) into samples. Returns the count. */
static size_t floor_run(usec_t duration, uint64_t *samples, size_t cap, double *ret_rate) {
        int lfd, fd;
        char *addr;
        if (address_listen("tcp@127.0.0.1:0", 4, &lfd) < 0 || address_from_socket(lfd, &addr) < 0)
                abort();
        set_blocking_nodelay(lfd);
        pthread_t t;
        pthread_create(&t, NULL, floor_server, (void *) (intptr_t) lfd);
        if (address_dial(addr, USEC_PER_SEC * 5, &fd) < 0)
                abort();
        set_blocking_nodelay(fd);

        char req[512], rep[512];
        memset(req, 'q', sizeof req);
        size_t n = 0;
        usec_t start = now(), end = start + duration;
        while (now() < end) {
                uint64_t t0 = now_ns();
                if (!write_full(fd, req, request_size) || !read_full(fd, rep, reply_size))
                        abort();
                if (n < cap)
                        samples[n] = now_ns() - t0;
                n++;
        }
        *ret_rate = (double) n / ((double) (now() - start) / 1e6);
        close(fd);
        pthread_join(t, NULL);
        close(lfd);
        free(addr);
        return MIN(n, cap);
}

/* ---- geerpc: an in-process server --------------------------------------------- */

typedef struct Srv {
        geerpc_server *server;
        char *address;
        pthread_t thread;
} Srv;

static void *srv_main(void *userdata) {
        Srv *s = userdata;
        (void) geerpc_server_run(s->server);
        return NULL;
}

void bench_server_start(Srv **ret) {
        Srv *s = calloc(1, sizeof *s);
        sd_event *e = NULL;
        /* A loop of its own: it runs on a thread of its own. */
        if (sd_event_new(&e) < 0 || geerpc_server_new(&s->server) < 0 ||
            geerpc_server_attach_event(s->server, e, 0) < 0 || foo_register(s->server) < 0 ||
            geerpc_server_listen(s->server, "tcp@127.0.0.1:0", &s->address) < 0)
                abort();
        sd_event_unref(e);
        pthread_create(&s->thread, NULL, srv_main, s);
        *ret = s;
}

const char *bench_server_address(Srv *s) {
        return s->address;
}

void bench_server_stop(Srv *s) {
        geerpc_server_stop(s->server, USEC_PER_SEC, NULL, NULL);
        pthread_join(s->thread, NULL);
        geerpc_server_unref(s->server);
        free(s->address);
        free(s);
}

static atomic_ulong mismatches;

typedef int (*call_fn)(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                       char **ret_error);

/* One checked Foo.Sum call (through a client or an xclient): the reply
 * must be a + b. */
static int checked_sum_via(call_fn call, void *target, json_int_t a, json_int_t b) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", a, "Num2", b), *reply = NULL;
        int r = call(target, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL);
        json_decref(args);
        if (r == 0 && json_integer_value(reply) != a + b)
                r = -EBADMSG;
        if (reply)
                json_decref(reply);
        if (r < 0)
                atomic_fetch_add(&mismatches, 1);
        return r;
}

static int via_client(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                      char **ret_error) {
        return geerpc_client_call(target, method, args, timeout, ret_reply, ret_error);
}

static int via_xclient(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                       char **ret_error) {
        return geerpc_xclient_call(target, method, args, timeout, ret_reply, ret_error);
}

static int checked_sum(geerpc_client *c, json_int_t a, json_int_t b) {
        return checked_sum_via(via_client, c, a, b);
}

static size_t seq_calls;

static size_t seq_run(const char *address, usec_t duration, uint64_t *samples, size_t cap) {
        geerpc_client *c;
        if (geerpc_client_dial(&c, address) < 0)
                abort();
        size_t n = 0;
        usec_t end = now() + duration;
        while (now() < end) {
                uint64_t t0 = now_ns();
                checked_sum(c, (json_int_t) n, 5678);
                if (n < cap)
                        samples[n] = now_ns() - t0;
                n++;
        }
        geerpc_client_unref(c);
        seq_calls += n;
        return MIN(n, cap);
}

typedef struct Caller {
        void *target; /* geerpc_client or geerpc_xclient */
        int (*call)(void *target, json_int_t a, json_int_t b);
        int id;
        usec_t end;
        unsigned long calls;
} Caller;

static void *caller_main(void *userdata) {
        Caller *c = userdata;
        json_int_t i = 0;
        while (now() < c->end) {
                /* Check time every few calls: clock reads are not free. */
                for (int k = 0; k < 16; k++, i++)
                        c->call(c->target, i, c->id);
                c->calls += 16;
        }
        return NULL;
}

static int client_call(void *target, json_int_t a, json_int_t b) {
        return checked_sum(target, a, b);
}

double bench_concurrent(void *target, int (*call)(void *, json_int_t, json_int_t), int threads, usec_t duration) {
        Caller cl[64];
        pthread_t t[64];
        usec_t start = now();
        for (int i = 0; i < threads; i++) {
                cl[i] = (Caller) { target, call, i, start + duration, 0 };
                pthread_create(&t[i], NULL, caller_main, &cl[i]);
        }
        unsigned long total = 0;
        for (int i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                total += cl[i].calls;
        }
        return (double) total / ((double) (now() - start) / 1e6);
}

static int xclient_call(void *target, json_int_t a, json_int_t b) {
        return checked_sum_via(via_xclient, target, a, b);
}

static double xclient_run(const char *const *addresses, size_t n, int threads, usec_t duration) {
        geerpc_discovery *d;
        geerpc_xclient *x;
        if (geerpc_discovery_new_static(&d, addresses, n) < 0 || geerpc_xclient_new(&x, d, GEERPC_SELECT_ROUND_ROBIN) < 0)
                abort();
        double rate = bench_concurrent(x, xclient_call, threads, duration);
        geerpc_xclient_unref(x);
        geerpc_discovery_unref(d);
        return rate;
}

static double conc_run(const char *address, int threads, usec_t duration) {
        geerpc_client *c;
        if (geerpc_client_dial(&c, address) < 0)
                abort();
        double rate = bench_concurrent(c, client_call, threads, duration);
        geerpc_client_unref(c);
        return rate;
}

/* ---- main ---------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: %s [--quick] [--rounds N] [--duration DURATION]\n"
               "\n"
               "Measures libgeerpc against a raw TCP ping-pong on the same machine in the\n"
               "same run, alternating baseline and geerpc in every round. Prints one line per\n"
               "figure and, last, the ratios:\n"
               "  ratio seq_p50_vs_floor=R1 conc16_vs_floor_rate=R2\n"
               "R1 = geerpc sequential p50 / floor p50; R2 = geerpc 16-caller calls/s /\n"
               "floor round trips/s. --quick finishes in well under 20 s.\n"
               "--only floor|seq|conc16|xclient|registry runs one part (for profiling).\n",
               program_invocation_short_name);
}

int main(int argc, char **argv) {
        unsigned long rounds = 9;
        usec_t duration = USEC_PER_SEC;
        const char *only = NULL; /* profiling aid: run one part only */
        static const struct option options[] = {
                { "quick", no_argument, NULL, 'q' },
                { "rounds", required_argument, NULL, 'r' },
                { "duration", required_argument, NULL, 'd' },
                { "only", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "qr:d:o:h", options, NULL)) >= 0)
                switch (c) {
                case 'q':
                        rounds = 5;
                        duration = 300 * USEC_PER_MSEC;
                        break;
                case 'r':
                        if (cli_parse_unsigned("rounds", optarg, 1, 50, &rounds) < 0)
                                return EXIT_USAGE;
                        break;
                case 'd':
                        if (cli_parse_duration("duration", optarg, &duration) < 0)
                                return EXIT_USAGE;
                        break;
                case 'o':
                        only = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return EXIT_USAGE;
                }

        log_set_max_level(LOG_WARNING);
        measure_wire_sizes();

        enum { CAP = 2000000 };
        uint64_t *fs = malloc(CAP * sizeof *fs), *gs = malloc(CAP * sizeof *gs);
        double f50[64], f99[64], frate[64], g50[64], g99[64], c16[64], x16[64];

        Srv *srv, *srv2;
        bench_server_start(&srv);
        bench_server_start(&srv2);
        const char *both[] = { bench_server_address(srv), bench_server_address(srv2) };

        for (unsigned long r = 0; r < rounds; r++) {
                size_t n;
                f50[r] = f99[r] = frate[r] = g50[r] = g99[r] = c16[r] = x16[r] = NAN;
                if (!only || streq(only, "floor")) {
                        n = floor_run(duration, fs, CAP, &frate[r]);
                        f50[r] = bench_percentile(fs, n, 50) / 1000.0;
                        f99[r] = bench_percentile(fs, n, 99) / 1000.0;
                }
                if (!only || streq(only, "seq")) {
                        n = seq_run(bench_server_address(srv), duration, gs, CAP);
                        g50[r] = bench_percentile(gs, n, 50) / 1000.0;
                        g99[r] = bench_percentile(gs, n, 99) / 1000.0;
                }
                if (!only || streq(only, "conc16"))
                        c16[r] = conc_run(bench_server_address(srv), 16, duration);
                if (!only || streq(only, "xclient"))
                        x16[r] = xclient_run(both, 2, 16, duration);
                fprintf(stderr,
                        "round %lu: floor p50 %.1fus rate %.0f/s | seq p50 %.1fus | conc16 %.0f/s | xclient16 %.0f/s\n",
                        r + 1, f50[r], frate[r], g50[r], c16[r], x16[r]);
        }
        bench_server_stop(srv);
        bench_server_stop(srv2);

        double rget = NAN, rpost = NAN;
        unsigned long rfailed = 0;
        if (!only || streq(only, "registry"))
                if (bench_registry(rounds, duration, 16, &rget, &rpost, &rfailed) < 0)
                        rfailed++;

        /* Ratios per round (baseline and geerpc measured back to back), then
         * the median: the loopback floor itself moves by a factor of two or
         * three between rounds on a shared VM, depending on where the
         * scheduler puts the two threads. */
        double r1[64], r2[64];
        for (unsigned long r = 0; r < rounds; r++) {
                r1[r] = g50[r] / f50[r];
                r2[r] = c16[r] / frate[r];
        }
        double F50 = bench_median(f50, rounds), F99 = bench_median(f99, rounds), FR = bench_median(frate, rounds);
        double G50 = bench_median(g50, rounds), G99 = bench_median(g99, rounds), C16 = bench_median(c16, rounds);
        double R1 = bench_median(r1, rounds), R2 = bench_median(r2, rounds);
        double r1min = r1[0], r1max = r1[0], r2min = r2[0], r2max = r2[0];
        for (unsigned long r = 1; r < rounds; r++) {
                r1min = MIN(r1min, r1[r]);
                r1max = MAX(r1max, r1[r]);
                r2min = MIN(r2min, r2[r]);
                r2max = MAX(r2max, r2[r]);
        }
        printf("floor rtt_p50_us=%.1f rtt_p99_us=%.1f round_trips_per_s=%.0f\n", F50, F99, FR);
        printf("geerpc seq_p50_us=%.1f seq_p99_us=%.1f\n", G50, G99);
        printf("geerpc conc16_one_connection_calls_per_s=%.0f\n", C16);
        printf("geerpc conc16_xclient_2_servers_calls_per_s=%.0f\n", bench_median(x16, rounds));
        printf("registry get_100_servers_per_s=%.0f post_heartbeats_per_s=%.0f (16 keep-alive connections, %lu failed)\n",
               rget, rpost, rfailed);
        printf("spread over %lu rounds: seq_p50_vs_floor %.2f..%.2f, conc16_vs_floor_rate %.2f..%.2f\n", rounds, r1min,
               r1max, r2min, r2max);
        printf("checked calls: %lu failed or mismatched\n", (unsigned long) atomic_load(&mismatches));
        fprintf(stderr, "(%zu sequential calls in all)\n", seq_calls);
        printf("ratio seq_p50_vs_floor=%.2f conc16_vs_floor_rate=%.2f\n", R1, R2);
        free(fs);
        free(gs);
        return atomic_load(&mismatches) == 0 && rfailed == 0 ? 0 : 1;
}
