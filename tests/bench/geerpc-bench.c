/* SPDX-License-Identifier: MIT */

/* geerpc-bench: libgeerpc against the physical floor and against the Go
 * peer (tests/go/gob-peer.go, the original's design), measured side
 * by side in one run. Each round measures every figure once, baseline and
 * geerpc back to back, so that whatever else the machine is doing hits
 * both; ratios are taken per round and their median and spread reported.
 *
 *   floor     raw TCP ping-pong over loopback between two threads
 *             (TCP_NODELAY, blocking read/write, messages of the same size
 *             as a Foo.Sum call and its reply)
 *   seq       one caller, Foo.Sum on an in-process server thread
 *   conc16    16 callers through one client (one connection)
 *   gob       seq and conc16 again with the gob codec (JSON above)
 *   codecs    the codecs alone, no sockets: a Foo.Sum request and its reply
 *             encoded and decoded, per call, JSON and gob
 *   xclient   16 callers through an xclient over 2 servers (round-robin)
 *   large     Echo.Echo of 64 KiB and 1 MiB against a raw transfer of the
 *             same bytes both ways, and against Go; 16 callers at 64 KiB
 *   codec     the codec's work in a 1 MiB Echo, no sockets (for callgrind)
 *   conns     1,000 connections to a server process, 16 callers spreading
 *             calls over them, against Go (calls/s, server RSS); the
 *             server's RSS per idle connection at 10,000
 *   floor16   16 raw ping-pong pairs over 16 sockets (no RPC at all)
 *   async     one thread keeping 256 asynchronous calls in flight on one
 *             connection
 *   registry  wrk POST heartbeats and GET (100 servers registered) against
 *             geeregistry and the Go registry
 *
 * Every reply is checked; a lost or mismatched call fails the run. */

#include <getopt.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>

#include "bench.h"
#include "codec/codec.h"
#include "shared/cli.h"
#include "geerpc/client.h"
#include "geerpc/discovery.h"
#include "geerpc/xclient.h"
#include "basic/log.h"

/* ---- the floor: raw ping-pong ---------------------------------------------- */

/* The same sizes as a Foo.Sum request and its reply on the wire. */
static size_t request_size, reply_size;

static void measure_wire_sizes(void) {
        const char *req = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":12345,\"Error\":\"\"}\n{\"Num1\":1234,\"Num2\":5678}\n";
        const char *rep = "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":12345,\"Error\":\"\"}\n6912\n";
        request_size = strlen(req);
        reply_size = strlen(rep);
}

static void *floor_server(void *userdata) {
        int fd = (int) (intptr_t) userdata;
        char in[512], out[512];
        memset(out, 'r', sizeof out);
        while (bench_read_full(fd, in, request_size) && bench_write_full(fd, out, reply_size))
                ;
        return NULL;
}

/* Round trips for `duration`; RTTs (ns) into samples. Returns the count. */
static size_t floor_run(usec_t duration, uint64_t *samples, size_t cap, double *ret_rate) {
        int fd, sfd;
        bench_tcp_pair(&fd, &sfd);
        pthread_t t;
        pthread_create(&t, NULL, floor_server, (void *) (intptr_t) sfd);

        char req[512], rep[512];
        memset(req, 'q', sizeof req);
        size_t n = 0;
        usec_t start = bench_now(), end = start + duration;
        while (bench_now() < end) {
                uint64_t t0 = bench_now_ns();
                if (!bench_write_full(fd, req, request_size) || !bench_read_full(fd, rep, reply_size))
                        abort();
                if (n < cap)
                        samples[n] = bench_now_ns() - t0;
                n++;
        }
        *ret_rate = (double) n / ((double) (bench_now() - start) / 1e6);
        close(fd);
        pthread_join(t, NULL);
        close(sfd);
        return MIN(n, cap);
}

/* ---- geerpc ------------------------------------------------------------------ */

static int via_xclient(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                       char **ret_error) {
        return geerpc_xclient_call(target, method, args, timeout, ret_reply, ret_error);
}

static int checked_sum(geerpc_client *c, json_int_t a, json_int_t b) {
        return bench_checked_sum(c, a, b);
}

static size_t seq_calls;

static geerpc_client *dial(const char *address, const char *codec) {
        geerpc_client *c;
        if (geerpc_client_new(&c) < 0 || geerpc_client_set_codec(c, codec) < 0 || geerpc_client_connect(c, address) < 0)
                abort();
        return c;
}

static size_t seq_run(const char *address, const char *codec, usec_t duration, uint64_t *samples, size_t cap) {
        geerpc_client *c = dial(address, codec);
        size_t n = 0;
        usec_t end = bench_now() + duration;
        while (bench_now() < end) {
                uint64_t t0 = bench_now_ns();
                checked_sum(c, (json_int_t) n, 5678);
                if (n < cap)
                        samples[n] = bench_now_ns() - t0;
                n++;
        }
        geerpc_client_unref(c);
        seq_calls += n;
        return MIN(n, cap);
}

static int client_call(void *target, json_int_t a, json_int_t b) {
        return checked_sum(target, a, b);
}

static int xclient_call(void *target, json_int_t a, json_int_t b) {
        return bench_checked_sum_via(via_xclient, target, a, b);
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

static double conc_run(const char *address, const char *codec, int threads, usec_t duration) {
        geerpc_client *c = dial(address, codec);
        double rate = bench_concurrent(c, client_call, threads, duration);
        geerpc_client_unref(c);
        return rate;
}

/* ---- the codecs alone ------------------------------------------------------ */

/* A client's and a server's codec of one connection, as they work on every
 * call: the request encoded, decoded, the reply encoded, decoded. Returns
 * ns per call. */
static double codec_run(const char *name, usec_t duration) {
        Codec *client, *server;
        Buffer wire = {};
        if (codec_new(codec_type_find(name), GEERPC_MAX_MESSAGE_SIZE_DEFAULT, &client) < 0 ||
            codec_new(codec_type_find(name), GEERPC_MAX_MESSAGE_SIZE_DEFAULT, &server) < 0)
                abort();
        size_t n = 0;
        uint64_t start = bench_now_ns();
        usec_t end = bench_now() + duration;
        while (bench_now() < end)
                for (int k = 0; k < 256; k++, n++) {
                        json_t *args = json_pack("{s:I,s:I}", "Num1", (json_int_t) n, "Num2", (json_int_t) 5678);
                        Message m;
                        if (codec_encode(client, &wire, "Foo.Sum", n + 1, NULL, args) < 0 ||
                            codec_decode(server, &wire, &m) != 1)
                                abort();
                        json_t *reply = json_integer(json_integer_value(json_object_get(m.body, "Num1")) + 5678);
                        if (codec_encode(server, &wire, m.service_method, m.seq, NULL, reply) < 0)
                                abort();
                        message_done(&m);
                        if (codec_decode(client, &wire, &m) != 1 || json_integer_value(m.body) != (json_int_t) n + 5678)
                                atomic_fetch_add(&bench_mismatches, 1);
                        message_done(&m);
                        json_decref(reply);
                        json_decref(args);
                }
        double ns = (double) (bench_now_ns() - start) / (double) n;
        codec_free(client);
        codec_free(server);
        buffer_done(&wire);
        return ns;
}

/* ---- main ---------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: %s [--quick] [--rounds N] [--duration DURATION] [--only PART[,PART...]]\n"
               "\n"
               "Measures libgeerpc against raw sockets and against the Go peer (the original's\n"
               "design) on the same machine in the same run, every figure once per round,\n"
               "baseline and geerpc back to back. Prints one line per figure and, last, the\n"
               "ratios (median over the rounds, spread in brackets):\n"
               "  R1 seq_p50_vs_floor   geerpc sequential p50 / floor p50\n"
               "  R2 conc16_vs_floor    16 callers on one connection, calls/s / floor round trips/s\n"
               "  conc16_vs_floor16     the same against 16 raw pairs over 16 sockets\n"
               "  async_vs_floor        256 asynchronous calls in flight, calls/s / floor\n"
               "  large_*_vs_raw        Echo round trip / raw transfer of the same bytes both ways\n"
               "  gob_vs_json           gob's seq p50, conc16 calls/s and codec ns / JSON's\n"
               "  vs_go                 geerpc / Go (rates; RSS: geerpc / Go)\n"
               "NaN: not measured (a part left out, Go or wrk missing). --quick finishes in under\n"
               "30 s.\n"
               "PART: floor seq conc16 gob codecs xclient large codec conns floor16 async registry.\n",
               program_invocation_short_name);
}

static const char *only; /* profiling aid: run some parts only */

static bool want(const char *part) {
        if (!only)
                return true;
        size_t l = strlen(part);
        for (const char *p = only; *p;) {
                size_t k = strcspn(p, ",");
                if (k == l && strncmp(p, part, l) == 0)
                        return true;
                p += k + (p[k] == ',');
        }
        return false;
}

static void print_ratio(const char *name, Ratio r) {
        printf(" %s=%.2f (%.2f..%.2f)", name, r.median, r.min, r.max);
}

typedef struct Rounds {
        double f50[BENCH_ROUNDS_MAX], f99[BENCH_ROUNDS_MAX], frate[BENCH_ROUNDS_MAX];
        double g50[BENCH_ROUNDS_MAX], g99[BENCH_ROUNDS_MAX], c16[BENCH_ROUNDS_MAX], x16[BENCH_ROUNDS_MAX];
        double f16[BENCH_ROUNDS_MAX], async[BENCH_ROUNDS_MAX], codec[BENCH_ROUNDS_MAX];
        unsigned long codec_calls;
        /* gob: seq p50/p99, conc16; the codecs alone, ns per call */
        double b50[BENCH_ROUNDS_MAX], b99[BENCH_ROUNDS_MAX], b16[BENCH_ROUNDS_MAX];
        double cj[BENCH_ROUNDS_MAX], cg[BENCH_ROUNDS_MAX];
        LargeRound large[BENCH_ROUNDS_MAX];
        ConnsRound conns[BENCH_ROUNDS_MAX];
        RegistryRound registry[BENCH_ROUNDS_MAX];
        double idle_kib, go_idle_kib;
} Rounds;

/* One double field of an array of per-round structs, as a plain array. */
static void column(double *dst, const void *src, size_t stride, size_t offset, size_t n) {
        for (size_t i = 0; i < n; i++)
                memcpy(&dst[i], (const char *) src + i * stride + offset, sizeof(double));
}
#define COLUMN(dst, src, field, n) column(dst, src, sizeof *(src), offsetof(typeof(*(src)), field), n)

static void print_results(Rounds *R, unsigned long rounds, unsigned long registry_failed) {
        double a[BENCH_ROUNDS_MAX], b[BENCH_ROUNDS_MAX];
        LargeRound *L = R->large;
        ConnsRound *C = R->conns;
        RegistryRound *G = R->registry;
        unsigned long n = rounds;

        if (want("floor"))
                printf("floor rtt_p50_us=%.1f rtt_p99_us=%.1f round_trips_per_s=%.0f\n", bench_median(R->f50, n),
                       bench_median(R->f99, n), bench_median(R->frate, n));
        if (want("seq"))
                printf("geerpc seq_p50_us=%.1f seq_p99_us=%.1f\n", bench_median(R->g50, n), bench_median(R->g99, n));
        if (want("conc16"))
                printf("geerpc conc16_one_connection_calls_per_s=%.0f\n", bench_median(R->c16, n));
        if (want("gob")) {
                printf("geerpc gob seq_p50_us=%.1f seq_p99_us=%.1f\n", bench_median(R->b50, n), bench_median(R->b99, n));
                printf("geerpc gob conc16_one_connection_calls_per_s=%.0f\n", bench_median(R->b16, n));
        }
        if (want("codecs"))
                printf("codecs json_ns_per_call=%.0f gob_ns_per_call=%.0f (request and reply, each encoded and decoded)\n",
                       bench_median(R->cj, n), bench_median(R->cg, n));
        if (want("xclient"))
                printf("geerpc conc16_xclient_2_servers_calls_per_s=%.0f\n", bench_median(R->x16, n));
        if (want("floor16"))
                printf("floor16 round_trips_per_s=%.0f (16 raw pairs over 16 sockets)\n", bench_median(R->f16, n));
        if (want("async"))
                printf("geerpc async_256_in_flight_calls_per_s=%.0f\n", bench_median(R->async, n));
#define MED(field) (COLUMN(a, L, field, n), bench_median(a, n))
        if (want("large")) {
                printf("large 64KiB: raw_us=%.0f geerpc_us=%.0f go_us=%.0f | 1MiB: raw_us=%.0f geerpc_us=%.0f go_us=%.0f\n",
                       MED(raw64_us), MED(geerpc64_us), MED(go64_us), MED(raw1m_us), MED(geerpc1m_us), MED(go1m_us));
                printf("large 64KiB x16 callers: geerpc_calls_per_s=%.0f go_calls_per_s=%.0f\n", MED(geerpc64x16_rate),
                       MED(go64x16_rate));
        }
#undef MED
        if (want("codec"))
                printf("codec 1MiB Echo without sockets: us_per_round_trip=%.0f (%lu round trips)\n",
                       bench_median(R->codec, n), R->codec_calls);
#define MED(field) (COLUMN(a, C, field, n), bench_median(a, n))
        if (want("conns")) {
                printf("conns 1000 (a call in flight on each): geerpc_calls_per_s=%.0f go_calls_per_s=%.0f "
                       "server_rss_MiB geerpc=%.1f go=%.1f\n",
                       MED(geerpc_rate), MED(go_rate), MED(geerpc_rss_kib) / 1024, MED(go_rss_kib) / 1024);
                printf("idle 10000: server_KiB_per_connection geerpc=%.1f go=%.1f\n", R->idle_kib, R->go_idle_kib);
        }
#undef MED
#define MED(field) (COLUMN(a, G, field, n), bench_median(a, n))
        if (want("registry"))
                printf("registry (wrk -t2 -c32, 100 servers): post_per_s=%.0f go_post_per_s=%.0f get_per_s=%.0f "
                       "go_get_per_s=%.0f (%lu failed)\n",
                       MED(post), MED(go_post), MED(get), MED(go_get), registry_failed);
#undef MED
        printf("checked calls: %lu failed or mismatched\n", (unsigned long) atomic_load(&bench_mismatches));
        fprintf(stderr, "(%zu sequential calls in all)\n", seq_calls);

#define RATIO(name, src, fa, fb)                         \
        do {                                             \
                COLUMN(a, src, fa, n);                   \
                COLUMN(b, src, fb, n);                   \
                print_ratio(name, bench_ratio(a, b, n)); \
        } while (0)
        if (want("floor") && (want("seq") || want("conc16"))) {
                printf("ratio");
                print_ratio("seq_p50_vs_floor", bench_ratio(R->g50, R->f50, n));
                print_ratio("conc16_vs_floor", bench_ratio(R->c16, R->frate, n));
                printf("\n");
        }
        if (want("gob") || want("codecs")) {
                printf("ratio gob_vs_json");
                print_ratio("seq_p50", bench_ratio(R->b50, R->g50, n));
                print_ratio("conc16_rate", bench_ratio(R->b16, R->c16, n));
                print_ratio("codec_ns", bench_ratio(R->cg, R->cj, n));
                printf("\n");
        }
        if (want("floor16") || want("async")) {
                printf("ratio");
                print_ratio("floor16_vs_floor", bench_ratio(R->f16, R->frate, n));
                print_ratio("conc16_vs_floor16", bench_ratio(R->c16, R->f16, n));
                print_ratio("async_vs_floor", bench_ratio(R->async, R->frate, n));
                printf("\n");
        }
        if (want("large")) {
                printf("ratio");
                RATIO("large_64KiB_vs_raw", L, geerpc64_us, raw64_us);
                RATIO("large_1MiB_vs_raw", L, geerpc1m_us, raw1m_us);
                printf("\n");
        }
        if (want("large") || want("conns") || want("registry")) {
                printf("ratio vs_go");
                RATIO("large_64KiB", L, go64_us, geerpc64_us);
                RATIO("large_1MiB", L, go1m_us, geerpc1m_us);
                RATIO("large_64KiB_x16", L, geerpc64x16_rate, go64x16_rate);
                RATIO("conns_1000", C, geerpc_rate, go_rate);
                RATIO("conns_rss", C, geerpc_rss_kib, go_rss_kib);
                RATIO("registry_post", G, post, go_post);
                RATIO("registry_get", G, get, go_get);
                printf("\n");
        }
#undef RATIO
}

static void set_nan(double *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                v[i] = NAN;
}

int main(int argc, char **argv) {
        unsigned long rounds = 9;
        usec_t duration = USEC_PER_SEC;
        bool quick = false;
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
                        quick = true;
                        rounds = 5;
                        duration = 150 * USEC_PER_MSEC;
                        break;
                case 'r':
                        if (cli_parse_unsigned("rounds", optarg, 1, BENCH_ROUNDS_MAX, &rounds) < 0)
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

        /* 10,000 idle connections and 1,000 busy ones, each end in a
         * process of its own. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* Forked first: no thread exists yet. */
        Child child = {};
        if (want("conns") && bench_child_start(&child) < 0) {
                fprintf(stderr, "cannot start the server process\n");
                return 1;
        }

        enum { CAP = 2000000 };
        uint64_t *fs = malloc(CAP * sizeof *fs), *gs = malloc(CAP * sizeof *gs);
        Rounds *R = calloc(1, sizeof *R);
        R->idle_kib = R->go_idle_kib = NAN;

        Srv *srv, *srv2;
        bench_server_start(&srv);
        bench_server_start(&srv2);
        const char *both[] = { bench_server_address(srv), bench_server_address(srv2) };

        GoPeer go_server = {}, go_client = {};
        if ((want("large") || want("conns")) && bench_go_start(&go_server, "server", NULL) >= 0)
                (void) bench_go_start(&go_client, "bench", go_server.address);
        Large *large = NULL;
        Conns *conns = NULL;
        if (want("large") && bench_large_new(&large, srv, &go_client) < 0)
                abort();
        if (want("conns") && bench_conns_new(&conns, &child, &go_server, &go_client, 1000) < 0)
                abort();

        for (unsigned long r = 0; r < rounds; r++) {
                size_t n;
                R->f50[r] = R->f99[r] = R->frate[r] = R->g50[r] = R->g99[r] = R->c16[r] = R->x16[r] = R->f16[r] =
                        R->async[r] = R->codec[r] = R->b50[r] = R->b99[r] = R->b16[r] = R->cj[r] = R->cg[r] = NAN;
                set_nan((double *) &R->large[r], sizeof(LargeRound) / sizeof(double));
                set_nan((double *) &R->conns[r], sizeof(ConnsRound) / sizeof(double));
                if (want("codecs"))
                        for (int k = 0; k < 2; k++) {
                                bool gob = (k + r) % 2 == 1;
                                (gob ? R->cg : R->cj)[r] = codec_run(gob ? GEERPC_CODEC_GOB : GEERPC_CODEC_JSON,
                                                                     duration / 4);
                        }
                if (want("floor")) {
                        n = floor_run(duration, fs, CAP, &R->frate[r]);
                        R->f50[r] = bench_percentile(fs, n, 50) / 1000.0;
                        R->f99[r] = bench_percentile(fs, n, 99) / 1000.0;
                }
                /* JSON and gob back to back, each first in every other
                 * round, so that neither gets the quieter moment. */
                for (int k = 0; k < 2; k++) {
                        bool gob = (k + r) % 2 == 1;
                        if (gob ? want("gob") : want("seq")) {
                                n = seq_run(bench_server_address(srv), gob ? GEERPC_CODEC_GOB : GEERPC_CODEC_JSON,
                                            duration, gs, CAP);
                                (gob ? R->b50 : R->g50)[r] = bench_percentile(gs, n, 50) / 1000.0;
                                (gob ? R->b99 : R->g99)[r] = bench_percentile(gs, n, 99) / 1000.0;
                        }
                }
                for (int k = 0; k < 2; k++) {
                        bool gob = (k + r) % 2 == 1;
                        if (gob ? want("gob") : want("conc16"))
                                (gob ? R->b16 : R->c16)[r] = conc_run(bench_server_address(srv),
                                                                      gob ? GEERPC_CODEC_GOB : GEERPC_CODEC_JSON, 16,
                                                                      duration);
                }
                if (want("xclient"))
                        R->x16[r] = xclient_run(both, 2, 16, duration);
                if (want("floor16"))
                        R->f16[r] = bench_floor16(duration, request_size, reply_size);
                if (want("async"))
                        R->async[r] = bench_async(bench_server_address(srv), 256, duration);
                if (large)
                        bench_large_round(large, duration, &R->large[r]);
                if (want("codec"))
                        R->codec[r] = bench_codec_run(duration, &R->codec_calls);
                if (conns)
                        bench_conns_round(conns, duration, &R->conns[r]);
                fprintf(stderr,
                        "round %lu: floor p50 %.1fus %.0f/s | seq p50 %.1fus | conc16 %.0f/s | gob seq p50 %.1fus "
                        "conc16 %.0f/s | xclient16 %.0f/s | floor16 %.0f/s | async %.0f/s | 1MiB %.0fus (raw %.0fus, "
                        "Go %.0fus) | conns %.0f/s (Go %.0f/s)\n",
                        r + 1, R->f50[r], R->frate[r], R->g50[r], R->c16[r], R->b50[r], R->b16[r], R->x16[r], R->f16[r],
                        R->async[r], R->large[r].geerpc1m_us, R->large[r].raw1m_us, R->large[r].go1m_us,
                        R->conns[r].geerpc_rate, R->conns[r].go_rate);
        }
        if (conns)
                bench_conns_idle(conns, 10000, &R->idle_kib, &R->go_idle_kib);
        bench_conns_free(conns);
        bench_large_free(large);
        bench_go_stop(&go_client);
        bench_go_stop(&go_server);
        bench_server_stop(srv);
        bench_server_stop(srv2);
        bench_child_stop(&child);

        unsigned long rfailed = 0;
        for (size_t i = 0; i < BENCH_ROUNDS_MAX; i++)
                R->registry[i] = (RegistryRound) { NAN, NAN, NAN, NAN };
        if (want("registry") && bench_registry(rounds, quick, R->registry, &rfailed) < 0)
                rfailed++;

        print_results(R, rounds, rfailed);
        free(R);
        free(fs);
        free(gs);
        return atomic_load(&bench_mismatches) == 0 && rfailed == 0 ? 0 : 1;
}
