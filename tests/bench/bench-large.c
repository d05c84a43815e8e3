/* SPDX-License-Identifier: MIT */

/* Large values: Echo.Echo of a 64 KiB and a 1 MiB string, one caller, against
 * a raw transfer of the same number of bytes both ways over a loopback TCP
 * pair (blocking, TCP_NODELAY: write all, the peer reads all and writes it
 * back, read all), and against the Go peer; and 16 callers with 64 KiB. */

#include <math.h>
#include <pthread.h>

#include "bench.h"
#include "codec/codec.h"

#define LARGE_SMALL (64U * 1024U)
#define LARGE_BIG (1024U * 1024U)

struct Large {
        Srv *srv;
        GoPeer *go;
        geerpc_client *client;
        json_t *small, *big;
};

int bench_large_new(Large **ret, Srv *srv, GoPeer *go_client) {
        Large *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->srv = srv;
        l->go = go_client;
        l->small = bench_payload(LARGE_SMALL);
        l->big = bench_payload(LARGE_BIG);
        int r = geerpc_client_dial(&l->client, bench_server_address(srv));
        if (r < 0) {
                bench_large_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

void bench_large_free(Large *l) {
        if (!l)
                return;
        geerpc_client_unref(l->client);
        json_decref(l->small);
        json_decref(l->big);
        free(l);
}

typedef struct RawEcho {
        int fd;
        size_t size;
} RawEcho;

static void *raw_echo_main(void *userdata) {
        RawEcho *e = userdata;
        char *buf = malloc(e->size);
        while (buf && bench_read_full(e->fd, buf, e->size) && bench_write_full(e->fd, buf, e->size))
                ;
        free(buf);
        return NULL;
}

/* µs per round trip of `size` bytes each way. */
static double raw_run(size_t size, usec_t duration) {
        int cfd, sfd;
        bench_tcp_pair(&cfd, &sfd);
        RawEcho e = { sfd, size };
        pthread_t t;
        pthread_create(&t, NULL, raw_echo_main, &e);
        char *out = malloc(size), *in = malloc(size);
        memset(out, 'x', size);
        unsigned long n = 0;
        usec_t start = bench_now(), end = start + duration;
        while (bench_now() < end) {
                if (!bench_write_full(cfd, out, size) || !bench_read_full(cfd, in, size))
                        abort();
                n++;
        }
        double us = (double) (bench_now() - start) / (double) n;
        close(cfd);
        pthread_join(t, NULL);
        close(sfd);
        free(out);
        free(in);
        return us;
}

/* µs per Echo call of payload, one caller. */
static double echo_run(geerpc_client *c, json_t *payload, usec_t duration) {
        unsigned long n = 0;
        usec_t start = bench_now(), end = start + duration;
        while (bench_now() < end) {
                bench_checked_echo(c, payload);
                n++;
        }
        return (double) (bench_now() - start) / (double) n;
}

static json_t *small_payload;

static int echo_small(void *target, json_int_t a, json_int_t b) {
        return bench_checked_echo(target, small_payload);
}

static double go_us(GoPeer *go, size_t size, usec_t duration) {
        GoResult g;
        if (bench_go_run(go, &g, "seq %zu %llu", size, (unsigned long long) (duration / USEC_PER_MSEC)) < 0)
                return NAN;
        return g.secs * 1e6 / g.calls;
}

void bench_large_round(Large *l, usec_t duration, LargeRound *ret) {
        GoResult g;

        ret->raw64_us = raw_run(LARGE_SMALL, duration);
        ret->geerpc64_us = echo_run(l->client, l->small, duration);
        ret->go64_us = go_us(l->go, LARGE_SMALL, duration);
        ret->raw1m_us = raw_run(LARGE_BIG, duration);
        ret->geerpc1m_us = echo_run(l->client, l->big, duration);
        ret->go1m_us = go_us(l->go, LARGE_BIG, duration);

        small_payload = l->small;
        ret->geerpc64x16_rate = bench_concurrent(l->client, echo_small, 16, duration);
        ret->go64x16_rate = bench_go_run(l->go, &g, "conc 16 %u %llu", LARGE_SMALL,
                                         (unsigned long long) (duration / USEC_PER_MSEC)) < 0
                                    ? NAN
                                    : g.calls / g.secs;
}

/* The codec's share of a 1 MiB Echo, without sockets: encode the request,
 * decode it, encode the reply, decode it; every reply checked. For
 * callgrind: instructions per round trip = total / *ret_calls. */
double bench_codec_run(usec_t duration, unsigned long *ret_calls) {
        Codec *cc, *sd, *sc, *cd;
        Buffer wire = {}, back = {};
        json_t *payload = bench_payload(LARGE_BIG);
        if (codec_new(&codec_json, 0, &cc) < 0 || codec_new(&codec_json, 0, &sd) < 0 ||
            codec_new(&codec_json, 0, &sc) < 0 || codec_new(&codec_json, 0, &cd) < 0)
                abort();
        unsigned long n = 0;
        usec_t start = bench_now(), end = start + duration;
        while (bench_now() < end) {
                Message m = {}, r = {};
                if (codec_encode(cc, &wire, "Echo.Echo", n, NULL, payload) < 0 || codec_decode(sd, &wire, &m) != 1 ||
                    codec_encode(sc, &back, m.service_method, m.seq, NULL, m.body) < 0 || codec_decode(cd, &back, &r) != 1 ||
                    !json_equal(r.body, payload))
                        atomic_fetch_add(&bench_mismatches, 1);
                message_done(&m);
                message_done(&r);
                n++;
        }
        double us = (double) (bench_now() - start) / (double) n;
        buffer_done(&wire);
        buffer_done(&back);
        codec_free(cc);
        codec_free(sd);
        codec_free(sc);
        codec_free(cd);
        json_decref(payload);
        *ret_calls += n;
        return us;
}
