/* SPDX-License-Identifier: MIT */

/* Many connections: N connections to one server (a child process, so that
 * its RSS is its own), one call in flight on each: asynchronous calls, each
 * completion handler starting the next call on its connection; the Go peer
 * runs one goroutine per connection, calling in a loop.
 * And idle connections: the server's RSS growth for n more connections that
 * each made one call and then sit idle. */

#include <math.h>
#include <pthread.h>

#include "bench.h"

struct Conns {
        Child *child;
        GoPeer *go_server, *go_client;
        unsigned n;
        geerpc_client **clients;
};

static geerpc_client **dial_many(const char *address, unsigned n) {
        geerpc_client **c = calloc(n, sizeof *c);
        if (!c)
                return NULL;
        for (unsigned i = 0; i < n; i++)
                if (geerpc_client_dial(&c[i], address) < 0) {
                        fprintf(stderr, "conns: cannot dial connection %u: %s\n", i, strerror(errno));
                        while (i > 0)
                                geerpc_client_unref(c[--i]);
                        free(c);
                        return NULL;
                }
        return c;
}

static void unref_many(geerpc_client **c, unsigned n) {
        for (unsigned i = 0; c && i < n; i++)
                geerpc_client_unref(c[i]);
        free(c);
}

int bench_conns_new(Conns **ret, Child *child, GoPeer *go_server, GoPeer *go_client, unsigned n) {
        Conns *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (Conns) { child, go_server, go_client, n, dial_many(child->address, n) };
        if (!c->clients) {
                free(c);
                return -EIO;
        }
        *ret = c;
        return 0;
}

void bench_conns_free(Conns *c) {
        if (!c)
                return;
        unref_many(c->clients, c->n);
        free(c);
}

typedef struct Spread {
        Conns *conns;
        usec_t end;
        pthread_mutex_t lock;
        pthread_cond_t idle;
        unsigned in_flight;
        unsigned long done;
} Spread;

typedef struct SpreadCall {
        Spread *spread;
        geerpc_client *client;
        json_int_t i;
} SpreadCall;

static int spread_start(SpreadCall *sc);

static void spread_done(SpreadCall *sc) {
        Spread *s = sc->spread;
        pthread_mutex_lock(&s->lock);
        if (--s->in_flight == 0)
                pthread_cond_signal(&s->idle);
        pthread_mutex_unlock(&s->lock);
}

static void on_spread_reply(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        SpreadCall *sc = userdata;
        Spread *s = sc->spread;
        if (r != 0 || json_integer_value(reply) != sc->i + 7)
                atomic_fetch_add(&bench_mismatches, 1);
        pthread_mutex_lock(&s->lock);
        s->done++;
        pthread_mutex_unlock(&s->lock);
        sc->i++;
        if (bench_now() >= s->end || spread_start(sc) < 0)
                spread_done(sc);
}

static int spread_start(SpreadCall *sc) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", sc->i, "Num2", (json_int_t) 7);
        int r = geerpc_client_call_async(sc->client, "Foo.Sum", args, 30 * USEC_PER_SEC, on_spread_reply, sc, NULL);
        json_decref(args);
        if (r < 0)
                atomic_fetch_add(&bench_mismatches, 1);
        return r;
}

/* calls/s with one call in flight on each connection. */
static double spread_run(Conns *c, usec_t duration) {
        Spread s = { .conns = c, .lock = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };
        SpreadCall *calls = calloc(c->n, sizeof *calls);
        usec_t start = bench_now();
        s.end = start + duration;
        s.in_flight = c->n;
        for (unsigned i = 0; i < c->n; i++) {
                calls[i] = (SpreadCall) { &s, c->clients[i], 0 };
                if (spread_start(&calls[i]) < 0)
                        spread_done(&calls[i]);
        }
        pthread_mutex_lock(&s.lock);
        while (s.in_flight > 0)
                pthread_cond_wait(&s.idle, &s.lock);
        double rate = (double) s.done / ((double) (bench_now() - start) / 1e6);
        pthread_mutex_unlock(&s.lock);
        free(calls);
        return rate;
}

void bench_conns_round(Conns *c, usec_t duration, ConnsRound *ret) {
        GoResult g;
        ret->geerpc_rate = spread_run(c, duration);
        ret->geerpc_rss_kib = (double) proc_rss_kib(c->child->pid);
        ret->go_rate = bench_go_run(c->go_client, &g, "conns %u %u %llu", c->n, c->n,
                                    (unsigned long long) (duration / USEC_PER_MSEC)) < 0
                               ? NAN
                               : g.calls / g.secs;
        ret->go_rss_kib = c->go_server->pid > 0 ? (double) proc_rss_kib(c->go_server->pid) : NAN;
}

void bench_conns_idle(Conns *c, unsigned n, double *ret_geerpc_kib, double *ret_go_kib) {
        GoResult g;

        long before = proc_rss_kib(c->child->pid);
        geerpc_client **more = dial_many(c->child->address, n);
        for (unsigned i = 0; more && i < n; i++)
                bench_checked_sum(more[i], i, 1);
        long after = proc_rss_kib(c->child->pid);
        *ret_geerpc_kib = more && before > 0 && after > 0 ? (double) (after - before) / n : NAN;
        unref_many(more, n);

        *ret_go_kib = NAN;
        if (c->go_server->pid <= 0)
                return;
        before = proc_rss_kib(c->go_server->pid);
        if (bench_go_run(c->go_client, &g, "idle %u", n) >= 0) {
                after = proc_rss_kib(c->go_server->pid);
                *ret_go_kib = (double) (after - before) / n;
        }
        (void) bench_go_run(c->go_client, &g, "close");
}
