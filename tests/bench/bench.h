/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared pieces of geerpc-bench: statistics, raw sockets, the servers it
 * measures (in-process, in a child process, and the Go peer), checked calls.
 * Every part fills one value per round into arrays of BENCH_ROUNDS_MAX. */

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "basic/macro.h"
#include "geerpc/client.h"
#include "proc-rss.h"

#define BENCH_ROUNDS_MAX 50

/* ---- statistics (bench-util.c) ------------------------------------------------ */

double bench_percentile(uint64_t *v, size_t n, double p);
double bench_median(const double *v, size_t n);
/* Median of a[i] / b[i] over the rounds, and its spread. */
typedef struct Ratio {
        double median, min, max;
} Ratio;
Ratio bench_ratio(const double *a, const double *b, size_t n);
uint64_t bench_now_ns(void);
usec_t bench_now(void);

/* ---- raw sockets -------------------------------------------------------------- */

bool bench_read_full(int fd, void *buf, size_t n);
bool bench_write_full(int fd, const void *buf, size_t n);
/* Forks a child (which dies with the bench) that runs argv (execv) or, when
 * argv is NULL, child() (which must not return); its out_fd (standard
 * output or error) is *ret_out, its standard input *ret_in (NULL: not
 * given). Returns its pid or a negative errno. */
pid_t bench_spawn(const char *const *argv, void (*child)(void), int out_fd, FILE **ret_in, FILE **ret_out);
/* Reads lines until one holds marker; what follows it, to the next space,
 * into ret. */
int bench_read_after(FILE *f, const char *marker, char *ret, size_t size);
/* A connected loopback TCP pair (TCP_NODELAY, blocking): *ret_client is
 * dialled, *ret_server accepted. */
void bench_tcp_pair(int *ret_client, int *ret_server);

/* ---- the in-process server (Foo and Echo, on a thread of its own) --------------- */

typedef struct Srv Srv;
void bench_server_start(Srv **ret);
const char *bench_server_address(Srv *s);
void bench_server_stop(Srv *s);

/* A server in a child process (for its RSS, and so that client and server
 * do not share a descriptor limit). Forked before any thread exists. */
typedef struct Child {
        pid_t pid;
        char address[128];
} Child;
int bench_child_start(Child *ret);
void bench_child_stop(Child *c);

/* ---- checked calls -------------------------------------------------------------- */

extern atomic_ulong bench_mismatches;

/* Foo.Sum(a, b) through a client (or through call(target, ...): an
 * xclient), checked against a + b. */
typedef int (*bench_call_fn)(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                             char **ret_error);
int bench_checked_sum_via(bench_call_fn call, void *target, json_int_t a, json_int_t b);
int bench_checked_sum(geerpc_client *c, json_int_t a, json_int_t b);
/* Echo.Echo(payload) through a client, checked to come back unchanged. */
int bench_checked_echo(geerpc_client *c, json_t *payload);
/* A JSON string of `size` bytes (letters). */
json_t *bench_payload(size_t size);

/* calls/s of `threads` callers for `duration`, each calling call(target, i, id). */
double bench_concurrent(void *target, int (*call)(void *, json_int_t, json_int_t), int threads, usec_t duration);

/* ---- the Go peer (bench-go.c) ---------------------------------------------------- */

typedef struct GoPeer {
        pid_t pid;
        FILE *in, *out;
        char address[160]; /* server: tcp@...; registry: its URL */
} GoPeer;

typedef struct GoResult {
        double calls, secs, p50_us;
} GoResult;

/* The Go peer binary, or NULL (after saying why, once) when there is none. */
const char *bench_go_peer(void);
int bench_go_start(GoPeer *ret, const char *mode, const char *arg);
/* Runs one workload line on a client peer. */
int bench_go_run(GoPeer *p, GoResult *ret, const char *fmt, ...) _printf_(3, 4);
void bench_go_stop(GoPeer *p);

/* ---- the parts ------------------------------------------------------------------- */

/* bench-large.c: Echo of 64 KiB and 1 MiB against a raw transfer of the
 * same bytes both ways, and against Go. */
typedef struct LargeRound {
        double raw64_us, geerpc64_us, go64_us;      /* one caller, per round trip */
        double raw1m_us, geerpc1m_us, go1m_us;
        double geerpc64x16_rate, go64x16_rate;      /* 16 callers, calls/s */
} LargeRound;
typedef struct Large Large;
int bench_large_new(Large **ret, Srv *srv, GoPeer *go_client);
void bench_large_round(Large *l, usec_t duration, LargeRound *ret);
void bench_large_free(Large *l);
/* µs per 1 MiB Echo's codec work (no sockets); adds the round trips made. */
double bench_codec_run(usec_t duration, unsigned long *ret_calls);

/* bench-conns.c: 1,000 connections with calls spread over them, against
 * Go; RSS per idle connection at 10,000. */
typedef struct ConnsRound {
        double geerpc_rate, go_rate;
        double geerpc_rss_kib, go_rss_kib;
} ConnsRound;
typedef struct Conns Conns;
int bench_conns_new(Conns **ret, Child *child, GoPeer *go_server, GoPeer *go_client, unsigned n);
void bench_conns_round(Conns *c, usec_t duration, ConnsRound *ret);
/* Opens n more connections (one call each), returns the server's RSS growth
 * per connection in KiB, for geerpc and Go; closes them again. */
void bench_conns_idle(Conns *c, unsigned n, double *ret_geerpc_kib, double *ret_go_kib);
void bench_conns_free(Conns *c);

/* bench-async.c: 16 raw ping-pong pairs over 16 sockets, and one thread
 * keeping 256 asynchronous calls in flight on one connection. */
double bench_floor16(usec_t duration, size_t request_size, size_t reply_size);
double bench_async(const char *address, unsigned in_flight, usec_t duration);

/* bench-registry.c: wrk against geeregistry and the Go registry, POST
 * heartbeats and GET (100 servers registered), same run. */
typedef struct RegistryRound {
        double post, go_post, get, go_get; /* requests/s */
} RegistryRound;
int bench_registry(unsigned long rounds, bool quick, RegistryRound *ret, unsigned long *ret_failed);
