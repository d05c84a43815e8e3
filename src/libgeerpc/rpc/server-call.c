/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "basic/duration.h"
#include "basic/log.h"
#include "rpc/server-internal.h"

/* Dispatching one request: finding the method, running it inline or on the
 * worker pool, the handle timeout, and handing results back to the loop.
 * Error texts are the Go original's. */

static Service *find_service(geerpc_server *s, const char *name, size_t len) {
        for (size_t i = 0; i < s->n_services; i++)
                if (strlen(s->services[i].name) == len && memcmp(s->services[i].name, name, len) == 0)
                        return &s->services[i];
        return NULL;
}

static Method *find_method(Service *svc, const char *name) {
        for (size_t i = 0; i < svc->n_methods; i++)
                if (streq(svc->methods[i].name, name))
                        return &svc->methods[i];
        return NULL;
}

/* Queues an error reply (body "{}") for a request; the text is formatted. */
static void reply_error(Conn *c, const Message *m, const char *fmt, ...) _printf_(3, 4);
static void reply_error(Conn *c, const Message *m, const char *fmt, ...) {
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        (void) conn_queue_reply(c, m->service_method, m->seq, text, NULL);
}

static void timeout_text(char *buf, size_t size, usec_t timeout) {
        char d[GO_DURATION_MAX];
        snprintf(buf, size, "rpc server: request handle timeout: expect within %s",
                 go_duration_format(d, (int64_t) (timeout * NSEC_PER_USEC)));
}

static void reply_result(Conn *c, const char *service_method, uint64_t seq, int r, json_t *reply, const char *error) {
        if (r >= 0)
                (void) conn_queue_reply(c, service_method, seq, NULL, reply ?: json_null());
        else {
                char buf[128];
                if (isempty(error)) {
                        snprintf(buf, sizeof buf, "%s", strerror(-r));
                        error = buf;
                }
                (void) conn_queue_reply(c, service_method, seq, error, NULL);
        }
}

static void run_inline(Conn *c, Method *method, void *userdata, Message *m) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;
        uint64_t start = now_nsec(CLOCK_MONOTONIC);

        int r = method->handler(m->body, userdata, &reply, &error);
        uint64_t took = now_nsec(CLOCK_MONOTONIC) - start;

        /* An inline handler cannot be interrupted; one that overran still
         * gets the timeout answer, as the caller was promised. */
        if (c->handle_timeout > 0 && took > c->handle_timeout * NSEC_PER_USEC) {
                char text[160];
                timeout_text(text, sizeof text, c->handle_timeout);
                (void) conn_queue_reply(c, m->service_method, m->seq, text, NULL);
                method_count(method, GEERPC_CALL_TIMEOUT, took);
        } else {
                reply_result(c, m->service_method, m->seq, r, reply, error);
                method_count(method, r >= 0 ? GEERPC_CALL_OK : GEERPC_CALL_ERROR, took);
        }
        if (reply)
                json_decref(reply);
}

static void call_unref(ServerCall *call) {
        if (atomic_fetch_sub(&call->n_ref, 1) != 1)
                return;
        free(call->service_method);
        if (call->args)
                json_decref(call->args);
        if (call->reply)
                json_decref(call->reply);
        free(call->error);
        free(call);
}

static void call_run(WorkerTask *t) {
        ServerCall *call = (ServerCall *) t;
        call->result = call->handler(call->args, call->userdata, &call->reply, &call->error);
}

/* Worker thread: queue the finished call for the loop. */
static void call_complete(WorkerTask *t) {
        ServerCall *call = (ServerCall *) t;
        geerpc_server *s = call->server;

        pthread_mutex_lock(&s->lock);
        bool was_empty = LIST_IS_EMPTY(s->done);
        LIST_APPEND(done, s->done, call);
        pthread_mutex_unlock(&s->lock);

        if (was_empty) {
                uint64_t one = 1;
                (void) !write(s->wake_fd, &one, sizeof one);
        }
}

static void call_abandon(WorkerTask *t) {
        call_unref((ServerCall *) t);
}

/* Once per call: the first outcome counts (a timeout, then the late result). */
static void call_count(ServerCall *call, geerpc_call_code code) {
        if (call->counted)
                return;
        call->counted = true;
        method_count(call->method, code,
                     code == GEERPC_CALL_CANCELED || code == GEERPC_CALL_UNAVAILABLE ? NOT_RUN
                                                                                      : now_nsec(CLOCK_MONOTONIC) - call->start);
}

static void call_mark_answered(ServerCall *call) {
        if (call->answered)
                return;
        call->answered = true;
        call->conn->n_unanswered--;
        call->server->n_unanswered--;
}

/* Loop thread: forget the connection (it closes, or the call is done). */
void server_call_detach(ServerCall *call) {
        Conn *c = call->conn;
        call->timer = sd_event_source_disable_unref(call->timer);
        if (c) {
                if (!call->answered) {
                        /* conn_close() settles the connection's counters. */
                        call->answered = true;
                }
                LIST_REMOVE(calls, c->calls, call);
                call->conn = NULL;
                call_unref(call); /* the connection's reference */
        }
}

void server_call_discard(ServerCall *call) {
        server_call_detach(call);
        call_unref(call); /* the worker's reference */
}

static int on_call_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        ServerCall *call = userdata;
        Conn *c = call->conn;
        char text[160];

        call->timer = sd_event_source_disable_unref(call->timer);
        if (!c || call->answered)
                return 0;
        timeout_text(text, sizeof text, c->handle_timeout);
        (void) conn_queue_reply(c, call->service_method, call->seq, text, NULL);
        call_mark_answered(call);
        call_count(call, GEERPC_CALL_TIMEOUT);
        /* The handler keeps running; its result will be dropped. */
        conn_process(c);
        return 0;
}

static void call_finish(ServerCall *call) {
        Conn *c = call->conn;
        /* Answered already: timed out. No connection: nobody to answer. */
        call_count(call, !c ? GEERPC_CALL_CANCELED : call->result >= 0 ? GEERPC_CALL_OK : GEERPC_CALL_ERROR);
        if (c) {
                if (!call->answered) {
                        reply_result(c, call->service_method, call->seq, call->result, call->reply, call->error);
                        call_mark_answered(call);
                }
                server_call_detach(call);
                conn_process(c);
        }
        call_unref(call); /* the worker's reference */
}

int server_on_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        geerpc_server *s = userdata;
        uint64_t n;
        (void) !read(fd, &n, sizeof n);

        pthread_mutex_lock(&s->lock);
        LIST_HEAD(ServerCall, list) = TAKE_PTR(s->done);
        bool stop = s->stop_requested && s->state == SERVER_IDLE;
        usec_t grace = s->stop_grace;
        pthread_mutex_unlock(&s->lock);

        geerpc_server_ref(s);
        for (ServerCall *c; (c = LIST_POP(done, list));)
                call_finish(c);
        if (stop)
                server_begin_stop(s, grace);
        geerpc_server_unref(s);
        return 0;
}

static ServerCall *call_new(Conn *c, Method *method, void *userdata) {
        ServerCall *call = calloc(1, sizeof *call);
        if (!call)
                return NULL;
        *call = (ServerCall) {
                .task = { .run = call_run, .complete = call_complete, .abandon = call_abandon },
                .server = c->server,
                .conn = c,
                .handler = method->handler,
                .method = method,
                .userdata = userdata,
                .start = now_nsec(CLOCK_MONOTONIC),
        };
        atomic_init(&call->n_ref, 2); /* the connection's and the worker's */
        return call;
}

/* The Option's HandleTimeout, as a timer on the loop. */
static int call_arm_timeout(Conn *c, ServerCall *call) {
        if (c->handle_timeout == 0)
                return 0;
        int r = sd_event_add_time_relative(c->server->event, &call->timer, CLOCK_MONOTONIC, c->handle_timeout,
                                           TIMER_ACCURACY_PRECISE, on_call_timeout, call);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(call->timer, c->server->priority);
        return 0;
}

/* Hands the call to a worker; the call counts as unanswered until its
 * result is queued. When the pool refuses it, the caller is answered at
 * once and the call is dropped. */
static void call_submit(Conn *c, ServerCall *call, Message *m) {
        geerpc_server *s = c->server;

        LIST_PREPEND(calls, c->calls, call);
        c->n_unanswered++;
        s->n_unanswered++;

        int r = worker_pool_submit(s->pool, &call->task);
        if (r >= 0)
                return;
        call_mark_answered(call);
        call_count(call, GEERPC_CALL_UNAVAILABLE);
        m->service_method = strdup(call->service_method);
        server_call_detach(call);
        call_unref(call);
        if (!m->service_method)
                return;
        if (r == -EAGAIN)
                reply_error(c, m, "rpc server: too many calls queued, try again later");
        else
                reply_error(c, m, "rpc server: cannot run call: %s", strerror(-r));
}

static void run_blocking(Conn *c, Method *method, void *userdata, Message *m) {
        int r;

        r = server_ensure_pool(c->server);
        if (r < 0) {
                method_count(method, GEERPC_CALL_UNAVAILABLE, NOT_RUN);
                reply_error(c, m, "rpc server: cannot start worker threads: %s", strerror(-r));
                return;
        }
        ServerCall *call = call_new(c, method, userdata);
        if (!call) {
                method_count(method, GEERPC_CALL_UNAVAILABLE, NOT_RUN);
                reply_error(c, m, "rpc server: out of memory");
                return;
        }
        r = call_arm_timeout(c, call);
        if (r < 0) {
                free(call);
                method_count(method, GEERPC_CALL_UNAVAILABLE, NOT_RUN);
                reply_error(c, m, "rpc server: cannot arm handle timeout: %s", strerror(-r));
                return;
        }
        call->service_method = TAKE_PTR(m->service_method);
        call->seq = m->seq;
        call->args = TAKE_PTR(m->body);
        call_submit(c, call, m);
}

void server_dispatch(Conn *c, Message *m) {
        geerpc_server *s = c->server;

        const char *sm = strempty(m->service_method);
        const char *dot = strrchr(sm, '.');
        if (!dot) {
                counter_inc(&s->stats.unmatched[GEERPC_CALL_BAD_REQUEST]);
                reply_error(c, m, "rpc server: service/method request ill-formed: %s", sm);
                return;
        }
        Service *svc = find_service(s, sm, (size_t) (dot - sm));
        if (!svc) {
                counter_inc(&s->stats.unmatched[GEERPC_CALL_UNKNOWN_SERVICE]);
                reply_error(c, m, "rpc server: can't find service %.*s", (int) (dot - sm), sm);
                return;
        }
        Method *method = find_method(svc, dot + 1);
        if (!method) {
                counter_inc(&svc->unknown_method);
                reply_error(c, m, "rpc server: can't find method %s", dot + 1);
                return;
        }

        /* As the original: the method is looked up first, then the body. */
        if (m->body_error) {
                method_count(method, GEERPC_CALL_BAD_REQUEST, NOT_RUN);
                reply_error(c, m, "rpc server: read body err: %s", m->body_error);
                return;
        }

        if (method->flags & GEERPC_METHOD_BLOCKING)
                run_blocking(c, method, svc->userdata, m);
        else
                run_inline(c, method, svc->userdata, m);
}
