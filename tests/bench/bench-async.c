/* SPDX-License-Identifier: MIT */

/* What 16 blocking threads cost on this machine with no RPC at all (16 raw
 * ping-pong pairs over 16 loopback sockets), and asynchronous calls: one
 * thread (the client's event thread, in the completion handler) keeping a
 * fixed number of Foo.Sum calls in flight on one connection. */

#include <pthread.h>

#include "bench.h"

typedef struct Pair {
        int cfd, sfd;
        size_t request_size, reply_size;
        usec_t end;
        unsigned long n;
        pthread_t client, server;
} Pair;

static void *pair_server(void *userdata) {
        Pair *p = userdata;
        char in[512], out[512];
        memset(out, 'r', sizeof out);
        while (bench_read_full(p->sfd, in, p->request_size) && bench_write_full(p->sfd, out, p->reply_size))
                ;
        return NULL;
}

static void *pair_client(void *userdata) {
        Pair *p = userdata;
        char req[512], rep[512];
        memset(req, 'q', sizeof req);
        while (bench_now() < p->end) {
                for (int k = 0; k < 16; k++) {
                        if (!bench_write_full(p->cfd, req, p->request_size) || !bench_read_full(p->cfd, rep, p->reply_size))
                                abort();
                }
                p->n += 16;
        }
        return NULL;
}

double bench_floor16(usec_t duration, size_t request_size, size_t reply_size) {
        Pair p[16];
        for (int i = 0; i < 16; i++) {
                p[i] = (Pair) { .request_size = MIN(request_size, 512U), .reply_size = MIN(reply_size, 512U) };
                bench_tcp_pair(&p[i].cfd, &p[i].sfd);
                pthread_create(&p[i].server, NULL, pair_server, &p[i]);
        }
        usec_t start = bench_now();
        for (int i = 0; i < 16; i++) {
                p[i].end = start + duration;
                pthread_create(&p[i].client, NULL, pair_client, &p[i]);
        }
        unsigned long total = 0;
        for (int i = 0; i < 16; i++) {
                pthread_join(p[i].client, NULL);
                total += p[i].n;
        }
        double rate = (double) total / ((double) (bench_now() - start) / 1e6);
        for (int i = 0; i < 16; i++) {
                close(p[i].cfd);
                pthread_join(p[i].server, NULL);
                close(p[i].sfd);
        }
        return rate;
}

typedef struct Async {
        geerpc_client *client;
        usec_t end;
        pthread_mutex_t lock;
        pthread_cond_t idle;
        unsigned in_flight;
        unsigned long done;
        json_int_t next;
} Async;

static int async_start(Async *a);

/* The run in progress (one at a time); the expected sum of each call
 * travels in its userdata. */
static Async *the_async;

static void on_sum(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        Async *a = the_async;
        json_int_t want = (json_int_t) (intptr_t) userdata;
        if (r != 0 || json_integer_value(reply) != want)
                atomic_fetch_add(&bench_mismatches, 1);
        pthread_mutex_lock(&a->lock);
        a->done++;
        a->in_flight--;
        bool more = bench_now() < a->end;
        pthread_mutex_unlock(&a->lock);
        if (!more || async_start(a) < 0) {
                pthread_mutex_lock(&a->lock);
                if (a->in_flight == 0)
                        pthread_cond_signal(&a->idle);
                pthread_mutex_unlock(&a->lock);
        }
}

static int async_start(Async *a) {
        pthread_mutex_lock(&a->lock);
        json_int_t i = a->next++ % 1000000;
        a->in_flight++;
        pthread_mutex_unlock(&a->lock);
        json_t *args = json_pack("{s:I,s:I}", "Num1", i, "Num2", (json_int_t) 7);
        int r = geerpc_client_call_async(a->client, "Foo.Sum", args, 10 * USEC_PER_SEC, on_sum,
                                         (void *) (intptr_t) (i + 7), NULL);
        json_decref(args);
        if (r < 0) {
                atomic_fetch_add(&bench_mismatches, 1);
                pthread_mutex_lock(&a->lock);
                a->in_flight--;
                pthread_mutex_unlock(&a->lock);
        }
        return r;
}

double bench_async(const char *address, unsigned in_flight, usec_t duration) {
        Async a = { .lock = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };
        if (geerpc_client_dial(&a.client, address) < 0)
                abort();
        the_async = &a;
        usec_t start = bench_now();
        a.end = start + duration;
        for (unsigned i = 0; i < in_flight; i++)
                if (async_start(&a) < 0)
                        break;
        pthread_mutex_lock(&a.lock);
        while (a.in_flight > 0)
                pthread_cond_wait(&a.idle, &a.lock);
        unsigned long done = a.done;
        pthread_mutex_unlock(&a.lock);
        double rate = (double) done / ((double) (bench_now() - start) / 1e6);
        geerpc_client_unref(a.client);
        return rate;
}
