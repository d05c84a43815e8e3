/* SPDX-License-Identifier: MIT */

/* geerpc-bench's shared pieces: statistics, raw sockets, the servers it
 * measures, checked calls. */

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "basic/address.h"
#include "bench.h"
#include "echo.h"
#include "foo.h"
#include "geerpc/server.h"

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

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* NaN (a part that did not run) is left out. */
double bench_median(const double *v, size_t n) {
        double tmp[BENCH_ROUNDS_MAX];
        size_t k = 0;
        for (size_t i = 0; i < MIN(n, ELEMENTSOF(tmp)); i++)
                if (!isnan(v[i]))
                        tmp[k++] = v[i];
        if (k == 0)
                return NAN;
        qsort(tmp, k, sizeof *tmp, cmp_double);
        return k % 2 ? tmp[k / 2] : (tmp[k / 2 - 1] + tmp[k / 2]) / 2;
}

Ratio bench_ratio(const double *a, const double *b, size_t n) {
        double r[BENCH_ROUNDS_MAX];
        Ratio out = { NAN, NAN, NAN };
        n = MIN(n, ELEMENTSOF(r));
        for (size_t i = 0; i < n; i++) {
                r[i] = a[i] / b[i];
                if (isnan(r[i]))
                        continue;
                out.min = isnan(out.min) ? r[i] : MIN(out.min, r[i]);
                out.max = isnan(out.max) ? r[i] : MAX(out.max, r[i]);
        }
        out.median = bench_median(r, n);
        return out;
}

uint64_t bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

usec_t bench_now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* ---- raw sockets ---------------------------------------------------------------- */

/* The whole of n bytes, read or written; false on EOF or error. */
static bool io_full(int fd, void *buf, size_t n, bool out) {
        char *p = buf;
        while (n > 0) {
                ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);
                if (k <= 0) {
                        if (k < 0 && errno == EINTR)
                                continue;
                        return false;
                }
                p += k;
                n -= (size_t) k;
        }
        return true;
}

bool bench_read_full(int fd, void *buf, size_t n) {
        return io_full(fd, buf, n, false);
}

bool bench_write_full(int fd, const void *buf, size_t n) {
        return io_full(fd, (void *) buf, n, true);
}

pid_t bench_spawn(const char *const *argv, void (*child)(void), int out_fd, FILE **ret_in, FILE **ret_out) {
        int in[2] = { -EBADF, -EBADF }, out[2];
        if ((ret_in && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Nothing outlives the bench. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (ret_in)
                        dup2(in[0], STDIN_FILENO);
                dup2(out[1], out_fd);
                if (child)
                        child();
                else
                        execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        if (ret_in) {
                close(in[0]);
                *ret_in = fdopen(in[1], "w");
                setvbuf(*ret_in, NULL, _IOLBF, 0);
        }
        close(out[1]);
        *ret_out = fdopen(out[0], "r");
        return pid;
}

int bench_read_after(FILE *f, const char *marker, char *ret, size_t size) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
                char *m = strstr(line, marker);
                if (!m)
                        continue;
                m += strlen(marker);
                m[strcspn(m, " \n")] = 0;
                snprintf(ret, size, "%s", m);
                return 0;
        }
        return -EIO;
}

static void set_blocking_nodelay(int fd) {
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int flags = fcntl(fd, F_GETFL);
        (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

void bench_tcp_pair(int *ret_client, int *ret_server) {
        _cleanup_free_ char *addr = NULL;
        int lfd, cfd, sfd;
        if (address_listen("tcp@127.0.0.1:0", 4, &lfd) < 0 || address_from_socket(lfd, &addr) < 0 ||
            address_dial(addr, USEC_PER_SEC * 5, &cfd) < 0)
                abort();
        set_blocking_nodelay(lfd);
        sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (sfd < 0)
                abort();
        close(lfd);
        set_blocking_nodelay(cfd);
        set_blocking_nodelay(sfd);
        *ret_client = cfd;
        *ret_server = sfd;
}

/* ---- servers ---------------------------------------------------------------------- */

/* The example daemon's services: Foo and Echo (examples/). */
static int bench_register(geerpc_server *s) {
        int r = foo_register(s);
        if (r < 0)
                return r;
        return echo_register(s);
}

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
            geerpc_server_attach_event(s->server, e, 0) < 0 || bench_register(s->server) < 0 ||
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

/* The child: a server with room for every connection the bench opens,
 * its address on standard output, then its loop until it is killed. */
static void child_main(void) {
        geerpc_server *s;
        char *address;
        if (geerpc_server_new(&s) < 0 || bench_register(s) < 0 || geerpc_server_set_max_connections(s, 65536) < 0 ||
            geerpc_server_set_max_connections_per_ip(s, UINT_MAX) < 0 ||
            geerpc_server_listen(s, "tcp@127.0.0.1:0", &address) < 0)
                _exit(1);
        printf("serving on %s\n", address);
        fflush(stdout);
        (void) geerpc_server_run(s);
        _exit(0);
}

int bench_child_start(Child *ret) {
        FILE *out;
        pid_t pid = bench_spawn(NULL, child_main, STDOUT_FILENO, NULL, &out);
        if (pid < 0)
                return pid;
        *ret = (Child) { .pid = pid };
        int r = bench_read_after(out, "serving on ", ret->address, sizeof ret->address);
        fclose(out);
        return r;
}

void bench_child_stop(Child *c) {
        if (c->pid <= 0)
                return;
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
}

/* ---- checked calls ------------------------------------------------------------------ */

atomic_ulong bench_mismatches;

/* Drops the reply and counts a failed call; returns r. */
static int tally(int r, json_t *reply) {
        if (reply)
                json_decref(reply);
        if (r < 0)
                atomic_fetch_add(&bench_mismatches, 1);
        return r;
}

int bench_checked_sum_via(bench_call_fn call, void *target, json_int_t a, json_int_t b) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", a, "Num2", b), *reply = NULL;
        int r = call(target, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL);
        json_decref(args);
        if (r == 0 && json_integer_value(reply) != a + b)
                r = -EBADMSG;
        return tally(r, reply);
}

static int via_client(void *target, const char *method, json_t *args, uint64_t timeout, json_t **ret_reply,
                      char **ret_error) {
        return geerpc_client_call(target, method, args, timeout, ret_reply, ret_error);
}

int bench_checked_sum(geerpc_client *c, json_int_t a, json_int_t b) {
        return bench_checked_sum_via(via_client, c, a, b);
}

int bench_checked_echo(geerpc_client *c, json_t *payload) {
        json_t *reply = NULL;
        int r = geerpc_client_call(c, "Echo.Echo", payload, 30 * USEC_PER_SEC, &reply, NULL);
        if (r == 0 && (!json_is_string(reply) || json_string_length(reply) != json_string_length(payload) ||
                       memcmp(json_string_value(reply), json_string_value(payload), json_string_length(payload)) != 0))
                r = -EBADMSG;
        return tally(r, reply);
}

json_t *bench_payload(size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        for (size_t i = 0; i < size; i++)
                s[i] = (char) ('a' + i % 26);
        json_t *v = json_stringn_nocheck(s, size);
        free(s);
        if (!v)
                abort();
        return v;
}

typedef struct Caller {
        void *target;
        int (*call)(void *target, json_int_t a, json_int_t b);
        int id;
        usec_t end;
        unsigned long calls;
} Caller;

static void *caller_main(void *userdata) {
        Caller *c = userdata;
        json_int_t i = 0;
        while (bench_now() < c->end) {
                /* Check time every few calls: clock reads are not free. */
                for (int k = 0; k < 16; k++, i++)
                        c->call(c->target, i, c->id);
                c->calls += 16;
        }
        return NULL;
}

double bench_concurrent(void *target, int (*call)(void *, json_int_t, json_int_t), int threads, usec_t duration) {
        Caller cl[64];
        pthread_t t[64];
        usec_t start = bench_now();
        if (threads > 64)
                abort();
        for (int i = 0; i < threads; i++) {
                cl[i] = (Caller) { target, call, i, start + duration, 0 };
                pthread_create(&t[i], NULL, caller_main, &cl[i]);
        }
        unsigned long total = 0;
        for (int i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                total += cl[i].calls;
        }
        return (double) total / ((double) (bench_now() - start) / 1e6);
}
