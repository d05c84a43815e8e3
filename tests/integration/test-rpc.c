/* SPDX-License-Identifier: MIT */

/* The RPC core, client and server in one process: the server runs its own
 * sd-event loop on a thread, clients call from the test's threads. */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "foo.h"
#include "geerpc/client.h"
#include "geerpc/server.h"
#include "testlib.h"

/* ---- an in-process server with a test service ------------------------------ */

static int test_echo(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        *ret_reply = json_incref(args);
        return 0;
}

/* Sleeps args.ms milliseconds on a worker, then returns args. */
static int test_slow(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        tl_sleep((usec_t) json_integer_value(json_object_get(args, "ms")) * USEC_PER_MSEC);
        *ret_reply = json_incref(args);
        return 0;
}

static int test_fail(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        if (json_is_string(args))
                *ret_error = strdup(json_string_value(args));
        return -EDOM;
}

static int test_big(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        size_t n = (size_t) json_integer_value(args);
        char *s = malloc(n + 1);
        memset(s, 'x', n);
        s[n] = 0;
        *ret_reply = json_string(s);
        free(s);
        return 0;
}

typedef struct Srv {
        geerpc_server *server;
        char *address;
        pthread_t thread;
        bool running;
} Srv;

static void *srv_thread(void *userdata) {
        Srv *s = userdata;
        int r = geerpc_server_run(s->server);
        cr_assert_eq(r, 0);
        return NULL;
}

static void srv_start_at(Srv *s, const char *listen) {
        static const geerpc_method methods[] = {
                { .name = "Echo", .handler = test_echo },
                { .name = "Slow", .handler = test_slow, .flags = GEERPC_METHOD_BLOCKING },
                { .name = "Fail", .handler = test_fail },
                { .name = "Big", .handler = test_big },
        };
        *s = (Srv) {};
        cr_assert_eq(geerpc_server_new(&s->server), 0);
        tl_server_attach_private(s->server); /* run on a thread of its own */
        cr_assert_eq(geerpc_server_add_service(s->server, "Test", methods, ELEMENTSOF(methods), NULL), 0);
        cr_assert_eq(foo_register(s->server), 0);
        cr_assert_eq(geerpc_server_listen(s->server, listen, &s->address), 0);
        cr_assert_eq(pthread_create(&s->thread, NULL, srv_thread, s), 0);
        s->running = true;
}

static void srv_start(Srv *s) {
        srv_start_at(s, "tcp@127.0.0.1:0");
}

static void srv_stop(Srv *s, usec_t grace) {
        if (s->running) {
                cr_assert_eq(geerpc_server_stop(s->server, grace, NULL, NULL), 0);
                pthread_join(s->thread, NULL);
                s->running = false;
        }
        geerpc_server_unref(s->server);
        free(s->address);
}

static geerpc_client *dial(Srv *s) {
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, s->address), 0);
        return c;
}

static long long sum(geerpc_client *c, long long a, long long b) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", (json_int_t) a, "Num2", (json_int_t) b), *reply = NULL;
        int r = geerpc_client_call(c, "Foo.Sum", args, 5 * USEC_PER_SEC, &reply, NULL);
        json_decref(args);
        cr_assert_eq(r, 0, "Foo.Sum failed: %s", strerror(-r));
        long long v = json_integer_value(reply);
        json_decref(reply);
        return v;
}

/* ---- the tests ------------------------------------------------------------------ */

Test(rpc, sum_and_sleep) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        cr_assert_eq(sum(c, 3, 4), 7);
        cr_assert_eq(sum(c, -10, 4), -6);

        json_t *args = json_pack("{s:i,s:i}", "Num1", 1, "Num2", 2), *reply = NULL;
        cr_assert_eq(geerpc_client_call(c, "Foo.Sleep", args, 10 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 3);
        json_decref(reply);
        json_decref(args);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

typedef struct Worker {
        geerpc_client *client;
        int id;
        int n;
        atomic_int *ok;
} Worker;

static void *hammer(void *userdata) {
        Worker *w = userdata;
        for (int i = 0; i < w->n; i++) {
                /* A value unique to this call: a mismatched reply shows. */
                json_t *args = json_pack("{s:i,s:i,s:s}", "t", w->id, "i", i, "pad", i % 3 ? "x" : "yyyyyyyyyyyy");
                json_t *reply = NULL;
                int r = geerpc_client_call(w->client, "Test.Echo", args, 30 * USEC_PER_SEC, &reply, NULL);
                if (r == 0 && json_equal(args, reply))
                        atomic_fetch_add(w->ok, 1);
                else
                        fprintf(stderr, "call %d/%d: r=%d\n", w->id, i, r);
                json_decref(args);
                if (reply)
                        json_decref(reply);
        }
        return NULL;
}

static void run_hammer(const char *address, int threads, int per_thread) {
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, address), 0);
        atomic_int ok = 0;
        pthread_t t[64];
        Worker w[64];
        for (int i = 0; i < threads; i++) {
                w[i] = (Worker) { c, i, per_thread, &ok };
                pthread_create(&t[i], NULL, hammer, &w[i]);
        }
        for (int i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
        cr_assert_eq(atomic_load(&ok), threads * per_thread, "only %d of %d calls matched", atomic_load(&ok),
                     threads * per_thread);
        geerpc_client_unref(c);
}

Test(rpc, ten_thousand_calls_from_16_threads_over_one_connection) {
        Srv s;
        srv_start(&s);
        run_hammer(s.address, 16, 625);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, unix_and_ipv6) {
        char dir[] = "/tmp/geerpc-rpc-XXXXXX", addr[128];
        cr_assert(mkdtemp(dir));
        snprintf(addr, sizeof addr, "unix@%s/rpc.sock", dir);
        Srv s;
        srv_start_at(&s, addr);
        cr_assert_str_eq(s.address, addr);
        geerpc_client *c = dial(&s);
        cr_assert_eq(sum(c, 1, 1), 2);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
        snprintf(addr, sizeof addr, "%s/rpc.sock", dir);
        unlink(addr);
        rmdir(dir);

        srv_start_at(&s, "tcp@[::1]:0");
        cr_assert(strncmp(s.address, "tcp@[::1]:", 10) == 0);
        c = dial(&s);
        cr_assert_eq(sum(c, 2, 2), 4);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

static void expect_remote_error(geerpc_client *c, const char *method, json_t *args, const char *want) {
        char *error = NULL;
        json_t *reply = NULL;
        int r = geerpc_client_call(c, method, args, 5 * USEC_PER_SEC, &reply, &error);
        cr_assert_eq(r, -EREMOTEIO, "%s: r=%d", method, r);
        cr_assert_null(reply);
        cr_assert_str_eq(error, want);
        free(error);
}

Test(rpc, go_error_texts) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        json_t *args = json_pack("{}");
        expect_remote_error(c, "Bar.Sum", args, "rpc server: can't find service Bar");
        expect_remote_error(c, "Foo.Nope", args, "rpc server: can't find method Nope");
        expect_remote_error(c, "FooSum", args, "rpc server: service/method request ill-formed: FooSum");
        json_t *text = json_string("the handler's own words");
        expect_remote_error(c, "Test.Fail", text, "the handler's own words");
        expect_remote_error(c, "Test.Fail", args, strerror(EDOM));
        json_decref(text);
        json_t *bad = json_pack("{s:s}", "Num1", "three");
        expect_remote_error(c, "Foo.Sum", bad, "Foo: Num1 and Num2 must be integers");
        json_decref(bad);
        /* The connection is still in sync after all of that. */
        cr_assert_eq(sum(c, 20, 22), 42);
        json_decref(args);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, handle_timeout) {
        Srv s;
        srv_start(&s);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_new(&c), 0);
        cr_assert_eq(geerpc_client_set_handle_timeout(c, 300 * USEC_PER_MSEC), 0);
        cr_assert_eq(geerpc_client_connect(c, s.address), 0);

        json_t *args = json_pack("{s:i}", "ms", 3000);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        expect_remote_error(c, "Test.Slow", args, "rpc server: request handle timeout: expect within 300ms");
        /* The answer came on time, not when the handler finished. */
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 2500 * USEC_PER_MSEC);
        json_decref(args);

        /* A quick call meanwhile is answered normally; the late result of the
         * slow one is discarded without disturbing the stream. */
        cr_assert_eq(sum(c, 1, 2), 3);
        tl_sleep(3 * USEC_PER_SEC);
        cr_assert_eq(sum(c, 2, 3), 5);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, client_deadline_and_late_reply_dropped) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        json_t *args = json_pack("{s:i}", "ms", 1500), *reply = NULL;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        int r = geerpc_client_call(c, "Test.Slow", args, 200 * USEC_PER_MSEC, &reply, NULL);
        cr_assert_eq(r, -ETIMEDOUT);
        cr_assert_null(reply);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 1400 * USEC_PER_MSEC, "the deadline was not kept");
        json_decref(args);

        tl_sleep(1500 * USEC_PER_MSEC); /* the late reply arrives and is dropped */
        cr_assert_eq(sum(c, 5, 6), 11);
        cr_assert_eq(geerpc_client_is_available(c), 1);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

typedef struct AsyncResult {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int n;
        int results[128];
        long long values[128];
        char *errors[128];
} AsyncResult;

static void on_done(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        AsyncResult *a = userdata;
        pthread_mutex_lock(&a->lock);
        a->results[a->n] = r;
        a->values[a->n] = r == 0 ? json_integer_value(reply) : 0;
        a->errors[a->n] = error ? strdup(error) : NULL;
        a->n++;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
}

static void async_wait(AsyncResult *a, int n) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 20 * USEC_PER_SEC;
        pthread_mutex_lock(&a->lock);
        while (a->n < n && now_usec(CLOCK_MONOTONIC) < deadline) {
                pthread_mutex_unlock(&a->lock);
                tl_sleep(5 * USEC_PER_MSEC);
                pthread_mutex_lock(&a->lock);
        }
        pthread_mutex_unlock(&a->lock);
        cr_assert_eq(a->n, n, "%d of %d async calls completed", a->n, n);
}

Test(rpc, async_calls) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        static AsyncResult a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        long long expect = 0;
        for (int i = 0; i < 100; i++) {
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1);
                cr_assert_eq(geerpc_client_call_async(c, "Foo.Sum", args, 5 * USEC_PER_SEC, on_done, &a, NULL), 0);
                json_decref(args);
                expect += i + 1;
        }
        async_wait(&a, 100);
        long long got = 0;
        for (int i = 0; i < 100; i++) {
                cr_assert_eq(a.results[i], 0);
                got += a.values[i];
        }
        cr_assert_eq(got, expect);

        /* Mixed with blocking calls on the same connection. */
        cr_assert_eq(sum(c, 1, 1), 2);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, async_deadline_cancel_and_remote_error) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        static AsyncResult a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        json_t *slow = json_pack("{s:i}", "ms", 2000);
        uint64_t id;

        cr_assert_eq(geerpc_client_call_async(c, "Test.Slow", slow, 100 * USEC_PER_MSEC, on_done, &a, NULL), 0);
        async_wait(&a, 1);
        cr_assert_eq(a.results[0], -ETIMEDOUT);

        cr_assert_eq(geerpc_client_call_async(c, "Test.Slow", slow, 0, on_done, &a, &id), 0);
        cr_assert_eq(geerpc_client_cancel(c, id), 0);
        async_wait(&a, 2);
        cr_assert_eq(a.results[1], -ECANCELED);
        cr_assert_eq(geerpc_client_cancel(c, id), -ENOENT);

        cr_assert_eq(geerpc_client_call_async(c, "Nope.X", slow, 0, on_done, &a, NULL), 0);
        async_wait(&a, 3);
        cr_assert_eq(a.results[2], -EREMOTEIO);
        cr_assert_str_eq(a.errors[2], "rpc server: can't find service Nope");

        cr_assert_eq(geerpc_client_call_async(c, "Foo.Sum", NULL, 0, NULL, NULL, NULL), -EINVAL);
        json_decref(slow);
        geerpc_client_unref(c);
        srv_stop(&s, 3 * USEC_PER_SEC);
}

static void *call_slow(void *userdata) {
        geerpc_client *c = userdata;
        json_t *args = json_pack("{s:i}", "ms", 10000);
        int r = geerpc_client_call(c, "Test.Slow", args, 30 * USEC_PER_SEC, NULL, NULL);
        json_decref(args);
        return (void *) (intptr_t) r;
}

static unsigned n_threads(void) {
        unsigned n = 0;
        DIR *d = opendir("/proc/self/task");
        cr_assert_not_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static geerpc_client *unref_in_handler; /* dropped by the next handler */

static void on_done_dropping(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        /* The last reference to another client, from a handler: the event
         * thread frees it once it has let it go. */
        geerpc_client_unref(TAKE_PTR(unref_in_handler));
        on_done(c, r, reply, error, userdata);
}

/* Asynchronous calls on many clients: one event thread for all of them,
 * and it ends after the last client (even one dropped from a handler). */
Test(rpc, clients_share_one_event_thread) {
        enum { N = 64 };
        Srv s;
        srv_start(&s);
        unsigned before = n_threads();
        static AsyncResult a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        geerpc_client *c[N];
        for (int i = 0; i < N; i++) {
                c[i] = dial(&s);
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1);
                cr_assert_eq(geerpc_client_call_async(c[i], "Foo.Sum", args, 5 * USEC_PER_SEC, on_done, &a, NULL), 0);
                json_decref(args);
        }
        async_wait(&a, N);
        for (int i = 0; i < N; i++)
                cr_assert_eq(a.results[i], 0);
        cr_assert_eq(n_threads(), before + 1, "%u threads for %d clients' calls", n_threads() - before, N);

        /* c[1]'s handler drops c[0]'s last reference. */
        unref_in_handler = TAKE_PTR(c[0]);
        cr_assert_eq(geerpc_client_call_async(c[1], "Foo.Sum", NULL, 5 * USEC_PER_SEC, on_done_dropping, &a, NULL), 0);
        async_wait(&a, N + 1);
        cr_assert_null(unref_in_handler);
        for (int i = 1; i < N; i++)
                geerpc_client_unref(c[i]);
        for (int i = 0; i < 200 && n_threads() > before; i++)
                tl_sleep(10 * USEC_PER_MSEC);
        cr_assert_eq(n_threads(), before, "the event thread outlived its clients");
        srv_stop(&s, USEC_PER_SEC);
}

/* One client at a time per thread, dropped as soon as its asynchronous
 * call has completed: the event thread ends and starts again and again
 * while other threads wake it for their own clients. The loop must not be
 * freed under a thread that is still waking it (AddressSanitizer and
 * ThreadSanitizer runs watch this one). */
typedef struct Churn {
        Srv *srv;
        atomic_int done; /* calls completed, by the handler */
        int failed;
} Churn;

static void on_churn_done(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        atomic_int *done = userdata;
        atomic_fetch_add(done, r == 0 && json_integer_value(reply) == 3 ? 1 : 1000000);
}

static void *churn_main(void *userdata) {
        Churn *k = userdata;
        for (int i = 0; i < 200; i++) {
                geerpc_client *c;
                atomic_int done = 0;
                json_t *args = json_pack("{s:i,s:i}", "Num1", 1, "Num2", 2);
                if (geerpc_client_dial(&c, k->srv->address) < 0 ||
                    geerpc_client_call_async(c, "Foo.Sum", args, 10 * USEC_PER_SEC, on_churn_done, &done, NULL) < 0) {
                        json_decref(args);
                        k->failed++;
                        return NULL;
                }
                json_decref(args);
                for (int spin = 0; atomic_load(&done) == 0 && spin < 10000; spin++)
                        tl_sleep(USEC_PER_MSEC);
                if (atomic_load(&done) != 1)
                        k->failed++;
                /* At once: the event thread may still be busy with it. */
                geerpc_client_unref(c);
        }
        return NULL;
}

Test(rpc, event_thread_churn) {
        enum { THREADS = 4 };
        Srv s;
        srv_start(&s);
        unsigned before = n_threads();
        Churn k[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
                k[i] = (Churn) { .srv = &s };
                cr_assert_eq(pthread_create(&t[i], NULL, churn_main, &k[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(t[i], NULL);
                cr_assert_eq(k[i].failed, 0, "thread %d: %d calls failed", i, k[i].failed);
        }
        for (int i = 0; i < 200 && n_threads() > before; i++)
                tl_sleep(10 * USEC_PER_MSEC);
        cr_assert_eq(n_threads(), before, "the event thread outlived its clients");
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, broken_connection_fails_every_pending_call_at_once) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        static AsyncResult a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
                pthread_create(&t[i], NULL, call_slow, c);
        json_t *args = json_pack("{s:i}", "ms", 10000);
        cr_assert_eq(geerpc_client_call_async(c, "Test.Slow", args, 0, on_done, &a, NULL), 0);
        json_decref(args);
        tl_sleep(300 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_server_get_n_inflight(s.server), 5);

        /* Grace 0: connections close at once, mid-call. */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(geerpc_server_stop(s.server, 0, NULL, NULL), 0);
        for (int i = 0; i < 4; i++) {
                void *r;
                pthread_join(t[i], &r);
                cr_assert_eq((int) (intptr_t) r, -ECONNRESET, "call %d: %d", i, (int) (intptr_t) r);
        }
        async_wait(&a, 1);
        cr_assert_eq(a.results[0], -ECONNRESET);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 5 * USEC_PER_SEC, "pending calls hung");
        cr_assert_eq(geerpc_client_is_available(c), 0);
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", NULL, USEC_PER_SEC, NULL, NULL), -ECONNRESET);
        geerpc_client_unref(c);
        pthread_join(s.thread, NULL);
        s.running = false;
        srv_stop(&s, 0);
}

Test(rpc, graceful_stop_lets_inflight_calls_finish) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        static AsyncResult a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        json_t *args = json_pack("{s:i}", "ms", 500);
        cr_assert_eq(geerpc_client_call_async(c, "Test.Slow", args, 0, on_done, &a, NULL), 0);
        json_decref(args);
        tl_sleep(100 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_server_stop(s.server, 10 * USEC_PER_SEC, NULL, NULL), 0);
        cr_assert_eq(geerpc_server_stop(s.server, 10 * USEC_PER_SEC, NULL, NULL), -EALREADY);
        async_wait(&a, 1);
        cr_assert_eq(a.results[0], 0, "in-flight call failed: %d", a.results[0]);
        pthread_join(s.thread, NULL);
        s.running = false;
        /* Not accepting any more. */
        geerpc_client *d;
        cr_assert_eq(geerpc_client_dial(&d, s.address), -ECONNREFUSED);
        geerpc_client_unref(c);
        srv_stop(&s, 0);
}

/* A connection the server accepted just before it was told to stop: its
 * request arrives during the grace period and is answered; once quiet the
 * connection closes, and the stop ends long before the grace period. */
Test(rpc, stop_answers_a_connection_accepted_just_before) {
        Srv s;
        srv_start(&s);
        int fd = tl_connect(s.address);
        cr_assert_geq(fd, 0);
        for (int i = 0; i < 5000 && geerpc_server_get_n_connections(s.server) < 1; i++)
                tl_sleep(USEC_PER_MSEC);
        cr_assert_eq(geerpc_server_get_n_connections(s.server), 1, "the server did not accept");

        usec_t start = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(geerpc_server_stop(s.server, 20 * USEC_PER_SEC, NULL, NULL), 0);
        tl_sleep(50 * USEC_PER_MSEC);
        const char *req = "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\"}\n"
                          "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":7,\"Error\":\"\"}\n{\"Num1\":1,\"Num2\":2}\n";
        cr_assert(tl_write_all(fd, req, strlen(req)));
        char *got = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        cr_assert_str_eq(got, "{\"ServiceMethod\":\"Foo.Sum\",\"Seq\":7,\"Error\":\"\"}\n3\n");
        free(got);
        close(fd);

        pthread_join(s.thread, NULL);
        s.running = false;
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        cr_assert_lt(took, 10 * USEC_PER_SEC, "the stop took %llu ms", (unsigned long long) (took / USEC_PER_MSEC));
        srv_stop(&s, 0);
}

/* While stopping, a connection keeps being served; an idle one closes
 * soon, without waiting for the grace period. */
Test(rpc, stop_serves_busy_connections_and_closes_quiet_ones) {
        Srv s;
        srv_start(&s);
        geerpc_client *busy = dial(&s), *quiet = dial(&s);
        cr_assert_eq(sum(busy, 1, 1), 2);
        cr_assert_eq(sum(quiet, 1, 1), 2);
        usec_t start = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(geerpc_server_stop(s.server, 20 * USEC_PER_SEC, NULL, NULL), 0);
        /* Calls keep coming without a pause: they are answered. */
        for (int i = 0; i < 20; i++) {
                cr_assert_eq(sum(busy, i, 1), i + 1);
                tl_sleep(10 * USEC_PER_MSEC);
        }
        pthread_join(s.thread, NULL);
        s.running = false;
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        cr_assert_lt(took, 10 * USEC_PER_SEC, "the stop took %llu ms", (unsigned long long) (took / USEC_PER_MSEC));
        /* Both are closed now: the next call fails. */
        cr_assert_lt(geerpc_client_call(quiet, "Foo.Sum", NULL, 5 * USEC_PER_SEC, NULL, NULL), 0);
        geerpc_client_unref(busy);
        geerpc_client_unref(quiet);
        srv_stop(&s, 0);
}

Test(rpc, close_fails_pending_calls) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        pthread_t t;
        pthread_create(&t, NULL, call_slow, c);
        tl_sleep(200 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_client_close(c), 0);
        void *r;
        pthread_join(t, &r);
        cr_assert_eq((int) (intptr_t) r, -ESHUTDOWN);
        cr_assert_eq(geerpc_client_close(c), -ENOTCONN);
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", NULL, 0, NULL, NULL), -ESHUTDOWN);
        geerpc_client_unref(c);
        srv_stop(&s, 0);
}

Test(rpc, message_size_limits) {
        Srv s;
        srv_start(&s);
        cr_assert_eq(geerpc_server_set_max_message_size(s.server, 10), -EINVAL);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_new(&c), 0);
        cr_assert_eq(geerpc_client_set_max_message_size(c, 64 * 1024), 0);
        cr_assert_eq(geerpc_client_connect(c, s.address), 0);

        /* A reply over the client's limit breaks only that connection. */
        json_t *n = json_integer(100 * 1024), *reply = NULL;
        cr_assert_eq(geerpc_client_call(c, "Test.Big", n, 5 * USEC_PER_SEC, &reply, NULL), -EBADMSG);
        json_decref(n);
        geerpc_client_unref(c);

        /* A 20 MiB request is over the server's 16 MiB default. */
        c = dial(&s);
        size_t big = 20U << 20;
        char *blob = malloc(big + 1);
        memset(blob, 'a', big);
        blob[big] = 0;
        json_t *args = json_string(blob);
        free(blob);
        int r = geerpc_client_call(c, "Test.Echo", args, 20 * USEC_PER_SEC, NULL, NULL);
        cr_assert(r == -ECONNRESET || r == -EPIPE, "r=%d", r);
        json_decref(args);
        geerpc_client_unref(c);

        /* And the server serves the next client. */
        c = dial(&s);
        cr_assert_eq(sum(c, 1, 2), 3);
        json_t *m = json_integer(1024 * 1024);
        cr_assert_eq(geerpc_client_call(c, "Test.Big", m, 5 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_string_length(reply), 1024 * 1024);
        json_decref(reply);
        json_decref(m);
        geerpc_client_unref(c);
        srv_stop(&s, 0);
}

Test(rpc, connection_limit_pauses_accept) {
        Srv s;
        srv_start(&s);
        srv_stop(&s, 0);
        /* Start afresh with a limit of 2. */
        *(&s) = (Srv) {};
        cr_assert_eq(geerpc_server_new(&s.server), 0);
        tl_server_attach_private(s.server);
        cr_assert_eq(foo_register(s.server), 0);
        cr_assert_eq(geerpc_server_set_max_connections(s.server, 2), 0);
        cr_assert_eq(geerpc_server_listen(s.server, "tcp@127.0.0.1:0", &s.address), 0);
        cr_assert_eq(pthread_create(&s.thread, NULL, srv_thread, &s), 0);
        s.running = true;

        geerpc_client *a = dial(&s), *b = dial(&s), *c = dial(&s);
        cr_assert_eq(sum(a, 1, 1), 2);
        cr_assert_eq(sum(b, 1, 1), 2);
        /* The third waits in the backlog: its call times out... */
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", NULL, 300 * USEC_PER_MSEC, NULL, NULL), -ETIMEDOUT);
        /* ...until another connection closes. */
        geerpc_client_unref(a);
        cr_assert_eq(sum(c, 2, 2), 4);
        geerpc_client_unref(b);
        geerpc_client_unref(c);
        srv_stop(&s, 0);
}

Test(rpc, cleanup_helpers_release_at_the_end_of_the_scope) {
        Srv s;
        srv_start(&s);
        {
                _cleanup_(geerpc_client_unrefp) geerpc_client *c = dial(&s);
                _cleanup_(geerpc_client_unrefp) geerpc_client *none = NULL; /* NULL: nothing to do */
                cr_assert_eq(sum(c, 1, 2), 3);
                cr_assert_eq(geerpc_server_get_n_connections(s.server), 1);
        }
        /* The client is gone with its scope, and its connection with it. */
        for (int i = 0; i < 250 && geerpc_server_get_n_connections(s.server) > 0; i++)
                tl_sleep(20 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_server_get_n_connections(s.server), 0);
        srv_stop(&s, 0);

        /* The server's: its listener closes with it. */
        char *address;
        {
                _cleanup_(geerpc_server_unrefp) geerpc_server *srv = NULL;
                cr_assert_eq(geerpc_server_new(&srv), 0);
                cr_assert_eq(geerpc_server_listen(srv, "tcp@127.0.0.1:0", &address), 0);
        }
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, address), -ECONNREFUSED);
        free(address);
}

Test(rpc, api_misuse) {
        geerpc_server *s;
        cr_assert_eq(geerpc_server_new(&s), 0);
        static const geerpc_method m[] = { { .name = "X", .handler = test_echo } };
        static const geerpc_method dup[] = { { .name = "X", .handler = test_echo }, { .name = "X", .handler = test_echo } };
        static const geerpc_method nohandler[] = { { .name = "X" } };
        cr_assert_eq(geerpc_server_add_service(s, "A", m, 1, NULL), 0);
        cr_assert_eq(geerpc_server_add_service(s, "A", m, 1, NULL), -EEXIST);
        cr_assert_eq(geerpc_server_add_service(s, "B.C", m, 1, NULL), -EINVAL);
        cr_assert_eq(geerpc_server_add_service(s, "", m, 1, NULL), -EINVAL);
        cr_assert_eq(geerpc_server_add_service(s, "D", dup, 2, NULL), -EEXIST);
        cr_assert_eq(geerpc_server_add_service(s, "E", nohandler, 1, NULL), -EINVAL);
        cr_assert_eq(geerpc_server_listen(s, "udp@1.2.3.4:5", NULL), -EINVAL);
        cr_assert_eq(geerpc_server_listen_fd(s, 0, NULL), -ENOTSOCK);
        cr_assert_null(geerpc_server_unref(s));
        cr_assert_null(geerpc_server_unref(NULL));

        geerpc_client *c;
        cr_assert_eq(geerpc_client_new(&c), 0);
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", NULL, 0, NULL, NULL), -ENOTCONN);
        cr_assert_eq(geerpc_client_set_codec(c, "application/xml"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_client_connect(c, "tcp@127.0.0.1"), -EINVAL);
        cr_assert_null(geerpc_client_unref(c));
        cr_assert_null(geerpc_client_unref(NULL));
}

Test(rpc, adopted_blocking_listen_socket_does_not_stall_the_loop) {
        /* As systemd hands sockets over by default: blocking. */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(fd, 16), 0);

        Srv s = {};
        cr_assert_eq(geerpc_server_new(&s.server), 0);
        tl_server_attach_private(s.server);
        cr_assert_eq(foo_register(s.server), 0);
        cr_assert_eq(geerpc_server_listen_fd(s.server, fd, &s.address), 0);
        cr_assert_eq(pthread_create(&s.thread, NULL, srv_thread, &s), 0);
        s.running = true;

        geerpc_client *a = dial(&s), *b = dial(&s);
        cr_assert_eq(sum(a, 1, 2), 3);
        cr_assert_eq(sum(b, 3, 4), 7);
        geerpc_client_unref(a);
        geerpc_client_unref(b);
        srv_stop(&s, 0);
}

/* ---- statistics and introspection --------------------------------------------- */

Test(rpc, stats_api_counts_from_another_thread) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(tl_call_json(c, "Test.Echo", "[1]", NULL, NULL), 0);
        for (int i = 0; i < 2; i++)
                cr_assert_eq(tl_call_json(c, "Test.Fail", "\"no\"", NULL, NULL), -EREMOTEIO);
        cr_assert_eq(tl_call_json(c, "Test.Nope", "{}", NULL, NULL), -EREMOTEIO);
        cr_assert_eq(tl_call_json(c, "Nope.X", "{}", NULL, NULL), -EREMOTEIO);

        /* This thread is not the server's loop thread. */
        geerpc_method_stats m;
        cr_assert_eq(geerpc_server_get_method_stats(s.server, "Test", "Echo", &m), 0);
        cr_assert_str_eq(m.service, "Test");
        cr_assert_str_eq(m.method, "Echo");
        cr_assert_null(m.description);
        cr_assert_eq(m.flags, 0);
        cr_assert_eq(m.calls[GEERPC_CALL_OK], 5);
        cr_assert_eq(m.calls[GEERPC_CALL_ERROR], 0);
        cr_assert_eq(m.duration_count, 5);
        cr_assert_eq(m.duration_le_usec[0], 10);
        cr_assert_eq(m.duration_le_usec[GEERPC_DURATION_BUCKETS - 1], 30 * USEC_PER_SEC);
        for (size_t i = 1; i < GEERPC_DURATION_BUCKETS; i++)
                cr_assert_geq(m.duration_buckets[i], m.duration_buckets[i - 1]);
        cr_assert_leq(m.duration_buckets[GEERPC_DURATION_BUCKETS - 1], 5);

        cr_assert_eq(geerpc_server_get_method_stats(s.server, "Test", "Fail", &m), 0);
        cr_assert_eq(m.calls[GEERPC_CALL_ERROR], 2);
        cr_assert_eq(geerpc_server_get_method_stats(s.server, "Foo", "Sleep", &m), 0);
        cr_assert_eq(m.flags, GEERPC_METHOD_BLOCKING);
        cr_assert_str_eq(m.description, "sleeps Num1 seconds, then returns Num1 + Num2");
        cr_assert_eq(geerpc_server_get_method_stats(s.server, "Test", "Nope", &m), -ENOENT);
        cr_assert_eq(geerpc_server_get_method_stats(s.server, NULL, "Nope", &m), -EINVAL);

        /* By index: the built-in service first, then registration order. */
        const char *order[] = { "_geerpc.Describe", "Test.Echo", "Test.Slow", "Test.Fail", "Test.Big", "Foo.Sum", "Foo.Sleep" };
        size_t n = 0;
        for (; geerpc_server_get_method_stats_by_index(s.server, n, &m) == 0; n++) {
                char name[64];
                snprintf(name, sizeof name, "%s.%s", m.service, m.method);
                cr_assert_lt(n, ELEMENTSOF(order));
                cr_assert_str_eq(name, order[n]);
        }
        cr_assert_eq(n, ELEMENTSOF(order));

        geerpc_server_stats st;
        cr_assert_eq(geerpc_server_get_stats(s.server, &st), 0);
        cr_assert_eq(st.calls[GEERPC_CALL_OK], 5);
        cr_assert_eq(st.calls[GEERPC_CALL_ERROR], 2);
        cr_assert_eq(st.calls[GEERPC_CALL_UNKNOWN_METHOD], 1);
        cr_assert_eq(st.calls[GEERPC_CALL_UNKNOWN_SERVICE], 1);
        cr_assert_eq(st.connections, 1);
        cr_assert_eq(st.in_flight, 0);
        cr_assert_gt(st.bytes_received, 9 * 40);
        cr_assert_gt(st.bytes_sent, 9 * 40);
        cr_assert_str_eq(geerpc_call_code_to_string(GEERPC_CALL_CANCELED), "canceled");
        cr_assert_str_eq(geerpc_call_code_to_string(GEERPC_CALL_UNKNOWN_METHOD), "unknown_method");
        cr_assert_null(geerpc_call_code_to_string(_GEERPC_CALL_CODE_MAX));
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, builtin_describe_service) {
        Srv s;
        srv_start(&s);
        geerpc_client *c = dial(&s);
        json_t *reply = NULL;
        char *err = NULL;

        cr_assert_eq(tl_call_json(c, "_geerpc.Describe", "{\"Service\":\"Foo\"}", &reply, NULL), 0);
        char *text = json_dumps(reply, JSON_COMPACT);
        cr_assert_str_eq(text, "{\"services\":[{\"name\":\"Foo\",\"methods\":["
                               "{\"name\":\"Sum\",\"kind\":\"inline\",\"description\":\"returns Num1 + Num2\"},"
                               "{\"name\":\"Sleep\",\"kind\":\"blocking\",\"description\":"
                               "\"sleeps Num1 seconds, then returns Num1 + Num2\"}]}]}");
        free(text);
        json_decref(reply);

        /* null, {} and {"service": ""}: every service, in order. */
        const char *all[] = { "null", "{}", "{\"service\":\"\"}" };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                cr_assert_eq(tl_call_json(c, "_geerpc.Describe", all[i], &reply, NULL), 0);
                json_t *list = json_object_get(reply, "services");
                cr_assert_eq(json_array_size(list), 3);
                cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")), "_geerpc");
                cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "name")), "Test");
                json_t *slow = json_array_get(json_object_get(json_array_get(list, 1), "methods"), 1);
                cr_assert_str_eq(json_string_value(json_object_get(slow, "kind")), "blocking");
                cr_assert_null(json_object_get(slow, "description"));
                json_decref(reply);
        }

        cr_assert_eq(tl_call_json(c, "_geerpc.Describe", "{\"Service\":\"Nope\"}", NULL, &err), -EREMOTEIO);
        cr_assert_str_eq(err, "_geerpc.Describe: no service Nope");
        free(err);
        cr_assert_eq(tl_call_json(c, "_geerpc.Describe", "42", NULL, &err), -EREMOTEIO);
        cr_assert_str_eq(err, "_geerpc.Describe: arguments must be null or {\"Service\":NAME}");
        free(err);
        cr_assert_eq(tl_call_json(c, "_geerpc.Describe", "{\"Service\":7}", NULL, &err), -EREMOTEIO);
        cr_assert_str_eq(err, "_geerpc.Describe: Service must be a string");
        free(err);
        geerpc_client_unref(c);
        srv_stop(&s, USEC_PER_SEC);
}

Test(rpc, descriptions_and_the_reserved_name_at_registration) {
        geerpc_server *s;
        cr_assert_eq(geerpc_server_new(&s), 0);
        geerpc_method m = { .name = "X", .handler = test_echo };
        cr_assert_eq(geerpc_server_add_service(s, GEERPC_BUILTIN_SERVICE, &m, 1, NULL), -EEXIST);
        char text[GEERPC_METHOD_DESCRIPTION_MAX + 2];
        memset(text, 'd', sizeof text - 1);
        text[sizeof text - 1] = 0;
        m.description = text;
        cr_assert_eq(geerpc_server_add_service(s, "A", &m, 1, NULL), -EINVAL);
        text[GEERPC_METHOD_DESCRIPTION_MAX] = 0;
        cr_assert_eq(geerpc_server_add_service(s, "A", &m, 1, NULL), 0);
        m.description = "two\nlines";
        cr_assert_eq(geerpc_server_add_service(s, "B", &m, 1, NULL), -EINVAL);
        m.description = "tab\there";
        cr_assert_eq(geerpc_server_add_service(s, "C", &m, 1, NULL), -EINVAL);
        geerpc_method_stats st;
        cr_assert_eq(geerpc_server_get_method_stats(s, "A", "X", &st), 0);
        cr_assert_eq(strlen(st.description), GEERPC_METHOD_DESCRIPTION_MAX);
        cr_assert_eq(geerpc_server_get_method_stats(s, "B", "X", &st), -ENOENT);
        geerpc_server_unref(s);
}

/* GET /metrics on the server's port; the status (0: no HTTP answer). */
static long get_metrics(const char *address) {
        char url[128];
        TlHttp h;
        snprintf(url, sizeof url, "http://%s/metrics", strchr(address, '@') + 1);
        (void) tl_http("GET", url, NULL, &h);
        long status = h.status;
        tl_http_done(&h);
        return status;
}

Test(rpc, http_face_on_by_default_and_off_by_switch) {
        Srv s;
        srv_start(&s);
        cr_assert_eq(get_metrics(s.address), 200);
        srv_stop(&s, USEC_PER_SEC);

        geerpc_server *off;
        char *addr;
        cr_assert_eq(geerpc_server_new(&off), 0);
        tl_server_attach_private(off);
        cr_assert_eq(geerpc_server_set_http(off, false), 0);
        cr_assert_eq(foo_register(off), 0);
        cr_assert_eq(geerpc_server_listen(off, "tcp@127.0.0.1:0", &addr), 0);
        Srv t = { .server = off, .address = addr };
        cr_assert_eq(pthread_create(&t.thread, NULL, srv_thread, &t), 0);
        t.running = true;
        cr_assert_eq(get_metrics(addr), 0);
        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, addr), 0);
        cr_assert_eq(sum(c, 1, 2), 3);
        geerpc_client_unref(c);
        srv_stop(&t, USEC_PER_SEC);
        cr_assert_eq(geerpc_server_set_http(NULL, true), -EINVAL);
}
