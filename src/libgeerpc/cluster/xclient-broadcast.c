/* SPDX-License-Identifier: MIT */
#include <signal.h>

#include "basic/log.h"
#include "cluster/xclient-internal.h"
#include "rpc/service-name.h"

/* Broadcast: every server called at once through asynchronous calls (their
 * handlers run on each connection's event thread); the calling thread
 * waits on a condition variable until all are done, cancelling the rest at
 * the first error or at the deadline. */

typedef struct Broadcast Broadcast;

typedef struct Outcome {
        Broadcast *b;
        char *server;
        geerpc_client *client;
        uint64_t id;
        bool started, done;
        int status;
        char *error;
        json_t *reply;
} Outcome;

struct Broadcast {
        geerpc_xclient *x;
        usec_t deadline;
        size_t n;
        Outcome *o;

        /* lock: what the handlers write, and the wait. */
        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC */
        size_t n_started, n_done;
        int first_error; /* 0 until a call fails */
        size_t first_error_index;
        size_t first_reply_index; /* SIZE_MAX until a call succeeds */
        int cancel_reason;        /* 0, -ECANCELED or -ETIMEDOUT once cancelled */
        atomic_size_t next_dial;  /* the dialling threads' work queue */
};

struct geerpc_broadcast_result {
        size_t n, n_failed;
        struct BroadcastItem {
                char *server;
                int status;
                char *error;
                json_t *reply;
        } *items;
};

/* Records an outcome (lock held). */
static void record_locked(Broadcast *b, Outcome *o, int r) {
        o->done = true;
        o->status = r;
        size_t i = (size_t) (o - b->o);
        if (r == 0 && b->first_reply_index == SIZE_MAX)
                b->first_reply_index = i;
        if (r < 0 && b->first_error == 0) {
                b->first_error = r;
                b->first_error_index = i;
        }
}

static void on_reply(geerpc_client *c, int r, json_t *reply, const char *error, void *userdata) {
        Outcome *o = userdata;
        Broadcast *b = o->b;
        /* Copies first: reply and error are borrowed for the callback. */
        json_t *kept = r == 0 ? (reply ? json_incref(reply) : json_null()) : NULL;
        char *text = r == -EREMOTEIO && error ? strdup(error) : NULL;

        pthread_mutex_lock(&b->lock);
        if (r == -ECANCELED && b->cancel_reason != 0)
                r = b->cancel_reason; /* say why: the deadline, or another server's error */
        o->reply = kept;
        o->error = text;
        record_locked(b, o, r);
        b->n_done++;
        pthread_cond_signal(&b->cond);
        pthread_mutex_unlock(&b->lock);
}

/* ---- connecting ------------------------------------------------------------- */

static void *dial_thread(void *userdata) {
        Broadcast *b = userdata;
        for (;;) {
                size_t i = atomic_fetch_add(&b->next_dial, 1);
                if (i >= b->n)
                        return NULL;
                Outcome *o = &b->o[i];
                if (o->client)
                        continue;
                int r = xclient_get_client(b->x, o->server, b->deadline, &o->client);
                if (r < 0)
                        o->status = r;
        }
}

/* Gets a connection to every server, dialling the missing ones in parallel
 * so that one dead server costs one connect timeout, not one each. */
static void connect_all(Broadcast *b) {
        size_t n_missing = 0;
        for (size_t i = 0; i < b->n; i++) {
                b->o[i].client = xclient_lookup(b->x, b->o[i].server);
                n_missing += !b->o[i].client;
        }
        if (n_missing == 0)
                return;

        pthread_t threads[GEERPC_XCLIENT_DIAL_PARALLEL_MAX];
        size_t n_threads = 0, want = MIN(n_missing, (size_t) GEERPC_XCLIENT_DIAL_PARALLEL_MAX);
        atomic_init(&b->next_dial, 0);
        if (want > 1) {
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                while (n_threads < want && pthread_create(&threads[n_threads], NULL, dial_thread, b) == 0)
                        n_threads++;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        /* This thread dials too (alone when threads could not be made). */
        (void) dial_thread(b);
        for (size_t i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
}

/* ---- calling and waiting -------------------------------------------------- */

static void start_all(Broadcast *b, const char *service_method, json_t *args) {
        /* A failed dial is the first error: nothing is sent then. */
        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; i < b->n; i++)
                if (!b->o[i].client)
                        record_locked(b, &b->o[i], b->o[i].status);
        pthread_mutex_unlock(&b->lock);

        for (size_t i = 0; i < b->n; i++) {
                Outcome *o = &b->o[i];
                if (o->done)
                        continue;
                pthread_mutex_lock(&b->lock);
                if (b->first_error != 0)
                        record_locked(b, o, -ECANCELED);
                else
                        o->started = true;
                pthread_mutex_unlock(&b->lock);
                if (!o->started)
                        continue;

                usec_t timeout = 0;
                if (b->deadline != USEC_INFINITY) {
                        usec_t now = now_usec(CLOCK_MONOTONIC);
                        timeout = b->deadline > now ? b->deadline - now : 1;
                }
                int r = geerpc_client_call_async(o->client, service_method, args, timeout, on_reply, o, &o->id);
                pthread_mutex_lock(&b->lock);
                if (r < 0) {
                        o->started = false;
                        record_locked(b, o, r);
                } else
                        b->n_started++;
                pthread_mutex_unlock(&b->lock);
        }
}

/* Cancels every call still running (lock held; dropped meanwhile). */
static void cancel_running_locked(Broadcast *b, int reason) {
        b->cancel_reason = reason;
        for (size_t i = 0; i < b->n; i++) {
                Outcome *o = &b->o[i];
                if (!o->started || o->done)
                        continue;
                pthread_mutex_unlock(&b->lock);
                /* -ENOENT: it just completed; its handler is on its way. */
                (void) geerpc_client_cancel(o->client, o->id);
                pthread_mutex_lock(&b->lock);
        }
}

static void wait_all(Broadcast *b) {
        pthread_mutex_lock(&b->lock);
        while (b->n_done < b->n_started) {
                if (b->cancel_reason == 0) {
                        bool late = b->deadline != USEC_INFINITY && now_usec(CLOCK_MONOTONIC) >= b->deadline;
                        if (b->first_error != 0) {
                                /* Past the deadline the others overran it too. */
                                cancel_running_locked(b, late ? -ETIMEDOUT : -ECANCELED);
                                continue;
                        }
                        if (late) {
                                cancel_running_locked(b, -ETIMEDOUT);
                                continue;
                        }
                }
                /* After a cancel every handler comes promptly. */
                if (b->cancel_reason != 0 || b->deadline == USEC_INFINITY)
                        pthread_cond_wait(&b->cond, &b->lock);
                else {
                        struct timespec ts = {
                                .tv_sec = (time_t) (b->deadline / USEC_PER_SEC),
                                .tv_nsec = (long) (b->deadline % USEC_PER_SEC * NSEC_PER_USEC),
                        };
                        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
                }
        }
        pthread_mutex_unlock(&b->lock);
}

/* ---- the result ------------------------------------------------------------- */

static geerpc_broadcast_result *result_from(Broadcast *b) {
        geerpc_broadcast_result *res = calloc(1, sizeof *res);
        if (!res)
                return NULL;
        res->items = calloc(b->n, sizeof *res->items);
        if (!res->items) {
                free(res);
                return NULL;
        }
        res->n = b->n;
        for (size_t i = 0; i < b->n; i++) {
                Outcome *o = &b->o[i];
                res->items[i] = (struct BroadcastItem) {
                        .server = TAKE_PTR(o->server),
                        .status = o->status,
                        .error = TAKE_PTR(o->error),
                        .reply = TAKE_PTR(o->reply),
                };
                res->n_failed += o->status != 0;
        }
        return res;
}

/* Connections that broke under a call are dialled again next time. */
static void drop_broken(Broadcast *b) {
        for (size_t i = 0; i < b->n; i++) {
                Outcome *o = &b->o[i];
                if (o->client && xclient_call_broke_connection(o->client, o->status))
                        xclient_drop(b->x, o->server, o->client);
        }
}

static void broadcast_done(Broadcast *b) {
        for (size_t i = 0; b->o && i < b->n; i++) {
                Outcome *o = &b->o[i];
                geerpc_client_unref(o->client);
                free(o->server);
                free(o->error);
                if (o->reply)
                        json_decref(o->reply);
        }
        free(b->o);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
}

static int broadcast_init(Broadcast *b, geerpc_xclient *x, ServerSet *s, usec_t deadline) {
        *b = (Broadcast) { .x = x, .deadline = deadline, .first_reply_index = SIZE_MAX };
        pthread_mutex_init(&b->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&b->cond, &attr);
        pthread_condattr_destroy(&attr);
        /* Draining servers are never chosen, for a broadcast either. */
        b->o = calloc(MAX(s->n_active, (size_t) 1), sizeof(Outcome));
        if (!b->o)
                return -ENOMEM;
        b->n = s->n_active;
        for (size_t k = 0; k < s->n_active; k++) {
                b->o[k].b = b;
                b->o[k].server = strdup(s->addrs[s->active[k]]);
                if (!b->o[k].server)
                        return -ENOMEM;
        }
        return 0;
}

_public_ int geerpc_xclient_broadcast(geerpc_xclient *x, const char *service_method, json_t *args, uint64_t timeout_usec,
                                      json_t **ret_reply, char **ret_error, geerpc_broadcast_result **ret_result) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        char buf[GEERPC_SERVICE_NAME_MAX + 1];
        Broadcast b;

        if (!x || isempty(service_method))
                return -EINVAL;
        usec_t deadline = timeout_usec == 0 ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), timeout_usec);
        int r = discovery_acquire(x->discovery, service_of_method(service_method, buf), deadline, &s);
        if (r < 0)
                return r;
        if (s->n_active == 0)
                return -ENXIO;
        r = broadcast_init(&b, x, s, deadline);
        if (r < 0) {
                broadcast_done(&b);
                return r;
        }

        connect_all(&b);
        start_all(&b, service_method, args);
        wait_all(&b);
        drop_broken(&b);

        /* Every handler has run: b is ours alone again. */
        r = b.first_error;
        geerpc_broadcast_result *res = ret_result ? result_from(&b) : NULL;
        if (ret_result && !res)
                r = -ENOMEM;
        else {
                json_t *reply = r == 0 ? res ? res->items[b.first_reply_index].reply : b.o[b.first_reply_index].reply : NULL;
                if (r == 0 && ret_reply)
                        *ret_reply = json_incref(reply);
                if (r == -EREMOTEIO && ret_error) {
                        const char *e = res ? res->items[b.first_error_index].error : b.o[b.first_error_index].error;
                        *ret_error = strdup(strempty(e));
                }
                if (ret_result)
                        *ret_result = res;
        }
        if (r < 0 && r != -ENOMEM)
                log_debug_errno(r, "rpc xclient: broadcast %s failed: %m", service_method);
        broadcast_done(&b);
        return r;
}

/* ---- result accessors ---------------------------------------------------- */

_public_ size_t geerpc_broadcast_result_get_count(const geerpc_broadcast_result *r) {
        return r ? r->n : 0;
}

_public_ size_t geerpc_broadcast_result_get_n_failed(const geerpc_broadcast_result *r) {
        return r ? r->n_failed : 0;
}

_public_ const char *geerpc_broadcast_result_get_server(const geerpc_broadcast_result *r, size_t i) {
        return r && i < r->n ? r->items[i].server : NULL;
}

_public_ int geerpc_broadcast_result_get_status(const geerpc_broadcast_result *r, size_t i) {
        return r && i < r->n ? r->items[i].status : -EINVAL;
}

_public_ const char *geerpc_broadcast_result_get_error(const geerpc_broadcast_result *r, size_t i) {
        return r && i < r->n ? r->items[i].error : NULL;
}

_public_ json_t *geerpc_broadcast_result_get_reply(const geerpc_broadcast_result *r, size_t i) {
        return r && i < r->n ? r->items[i].reply : NULL;
}

_public_ geerpc_broadcast_result *geerpc_broadcast_result_free(geerpc_broadcast_result *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++) {
                free(r->items[i].server);
                free(r->items[i].error);
                if (r->items[i].reply)
                        json_decref(r->items[i].reply);
        }
        free(r->items);
        free(r);
        return NULL;
}
