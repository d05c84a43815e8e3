/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "basic/list.h"
#include "basic/log.h"
#include "http/http-server.h"

/* MHD keeps a request's headers and builds the response's headers in one
 * per-connection memory pool; this is what it needs beyond the two. */
#define HTTP_POOL_SLACK (8U * 1024U)
/* MHD's timeouts are whole seconds; wake-ups need not be finer than this. */
#define HTTP_TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
/* A peer that half-closed while its request was being answered gets this
 * long for the answer (normally immediate) before the connection closes. */
#define HTTP_HANGUP_GRACE_USEC (1 * USEC_PER_SEC)

typedef struct Listener {
        HttpServer *server;
        struct MHD_Daemon *mhd;
        int fd;
        bool owned;
        bool quiesced;
        sd_event_source *io;
        sd_event_source *timer;
        usec_t armed; /* the timer's time, USEC_INFINITY when off */
        /* A connection closed during MHD_run(): MHD puts its listening
         * socket back into epoll (after reaching the connection limit) only
         * at the start of a run, so it needs one more. */
        bool rerun;
} Listener;

/* One per accepted connection (MHD's "socket context"). */
typedef struct Conn {
        HttpServer *server;
        Listener *listener;
        LIST_FIELDS(struct Conn, conns);
        int fd;
        /* Since when the connection waits for a request's headers;
         * USEC_INFINITY while a request is being answered. */
        usec_t waiting_since;
        size_t body;   /* bytes of the current request's body thrown away */
        bool answered; /* a response is queued for the current request */
        bool closing;
        bool peer_closed; /* FIN seen while a request was being answered */
        sd_event_source *deadline;
        sd_event_source *hangup; /* the peer's FIN (EPOLLRDHUP) */
} Conn;

struct HttpServer {
        sd_event *event;
        HttpLimits limits;
        http_handler_t handler;
        http_refused_t refused;
        void *userdata;

        Listener **listeners;
        unsigned n_listeners;
        /* Serves the connections of http_server_add_connection(); made on
         * first use. */
        Listener *adopter;
        LIST_HEAD(Conn, conns);
        atomic_uint n_conns; /* read by other threads (the RPC server's stats) */

        bool stopping;
        sd_event_source *stop_timer;
        http_stopped_t stopped;
        void *stopped_userdata;
};

static usec_t loop_now(HttpServer *s) {
        uint64_t now;
        if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) < 0)
                return now_usec(CLOCK_MONOTONIC);
        return now;
}

/* ---- connections ---------------------------------------------------------- */

/* Makes MHD see end-of-file on the socket, so that it closes the
 * connection itself on its next run. */
static void conn_shutdown(Conn *c, const char *why) {
        if (c->closing)
                return;
        c->closing = true;
        log_debug("closing HTTP connection (fd %d): %s", c->fd, why);
        (void) shutdown(c->fd, SHUT_RDWR);
}

static int arm_oneshot(sd_event_source *es, usec_t when) {
        int r = sd_event_source_set_time(es, when);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
}

static int on_deadline(sd_event_source *es, uint64_t now, void *userdata) {
        Conn *c = userdata;
        usec_t timeout = c->server->limits.header_timeout;

        if (c->peer_closed) {
                conn_shutdown(c, "the peer closed and its request did not complete");
                return 0;
        }
        if (timeout == 0)
                return 0;
        if (c->waiting_since == USEC_INFINITY)
                /* Busy with a request: look again later. */
                return arm_oneshot(es, usec_add(now, timeout));
        usec_t deadline = usec_add(c->waiting_since, timeout);
        if (now < deadline)
                return arm_oneshot(es, deadline);
        conn_shutdown(c, "no complete request headers in time");
        return 0;
}

/* libmicrohttpd (0.9.75, epoll mode) reads edge-triggered and may not
 * notice a FIN that came with the last bytes of an incomplete request: the
 * connection would linger until a timeout. This watches for the FIN
 * itself. It runs at idle priority, after MHD has processed what came
 * before the FIN: a request that was complete is being answered by then
 * (waiting_since is USEC_INFINITY) and gets HTTP_HANGUP_GRACE_USEC to
 * finish; a connection that waits for a request is closed at once. */
static int on_hangup(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        if (c->waiting_since != USEC_INFINITY) {
                conn_shutdown(c, "the peer closed before sending a complete request");
                return 0;
        }
        c->peer_closed = true;
        return arm_oneshot(c->deadline, usec_add(loop_now(c->server), HTTP_HANGUP_GRACE_USEC));
}

static void conn_free(Conn *c) {
        HttpServer *s = c->server;
        LIST_REMOVE(conns, s->conns, c);
        s->n_conns--;
        sd_event_source_disable_unref(c->deadline);
        sd_event_source_disable_unref(c->hangup);
        free(c);
}

static int conn_watch(Conn *c) {
        HttpServer *s = c->server;
        usec_t timeout = s->limits.header_timeout;
        int r = sd_event_add_time(s->event, &c->deadline, CLOCK_MONOTONIC,
                                  timeout > 0 ? usec_add(c->waiting_since, timeout) : USEC_INFINITY,
                                  HTTP_TIMER_ACCURACY_USEC, on_deadline, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->deadline, timeout > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        if (c->fd < 0)
                return 0;
        r = sd_event_add_io(s->event, &c->hangup, c->fd, EPOLLRDHUP, on_hangup, c);
        if (r >= 0)
                r = sd_event_source_set_priority(c->hangup, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->hangup, SD_EVENT_ONESHOT);
        return r;
}

static Conn *conn_new(Listener *l, struct MHD_Connection *mc) {
        HttpServer *s = l->server;
        Conn *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        *c = (Conn) { .server = s, .listener = l, .fd = info ? info->connect_fd : -1, .waiting_since = loop_now(s) };
        int r = conn_watch(c);
        if (r < 0) {
                log_warning_errno(r, "cannot watch an HTTP connection: %m");
                sd_event_source_disable_unref(c->deadline);
                sd_event_source_disable_unref(c->hangup);
                free(c);
                return NULL;
        }
        LIST_PREPEND(conns, s->conns, c);
        s->n_conns++;
        return c;
}

static void maybe_stopped(HttpServer *s) {
        if (s->stopping && s->n_conns == 0 && s->stop_timer)
                /* Finish from the loop, not from inside MHD_run(). */
                (void) arm_oneshot(s->stop_timer, 1);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        Listener *l = cls;
        HttpServer *s = l->server;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                Conn *c = conn_new(l, mc);
                *socket_context = c;
                if (!c)
                        log_warning("cannot track an HTTP connection; it has no header deadline");
                else if (s->stopping)
                        conn_shutdown(c, "stopping");
                return;
        }
        if (*socket_context) {
                conn_free(*socket_context);
                *socket_context = NULL;
        }
        l->rerun = true;
        maybe_stopped(s);
}

static Conn *conn_get(struct MHD_Connection *mc) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return info ? info->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
        HttpServer *s = cls;
        Conn *c = conn_get(mc);
        *con_cls = NULL;
        if (!c)
                return;
        c->waiting_since = loop_now(s);
        if (s->stopping)
                conn_shutdown(c, "stopping");
        else if (c->peer_closed)
                conn_shutdown(c, "the peer closed");
}

/* ---- requests ------------------------------------------------------------- */

enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *content_type, const void *body,
                             size_t size, const char *const *headers) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(size, (void *) body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        if (content_type)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        for (size_t i = 0; headers && headers[i]; i += 2)
                (void) MHD_add_response_header(resp, headers[i], headers[i + 1]);
        enum MHD_Result r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result refuse(HttpServer *s, Conn *c, struct MHD_Connection *mc, const char *method, unsigned status,
                              const char *body) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                                                    MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        enum MHD_Result r = MHD_queue_response(mc, status, resp);
        MHD_destroy_response(resp);
        if (r == MHD_YES) {
                if (c)
                        c->answered = true;
                if (s->refused)
                        s->refused(mc, method, status, s->userdata);
        }
        return r;
}

/* The first call: the headers are complete. */
static enum MHD_Result on_headers(HttpServer *s, Conn *c, struct MHD_Connection *mc, const char *method) {
        if (c) {
                c->waiting_since = USEC_INFINITY;
                c->body = 0;
                c->answered = false;
        }

        const union MHD_ConnectionInfo *info = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (info && info->header_size > s->limits.max_header_size)
                return refuse(s, c, mc, method, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                              "request headers too large\n");

        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
                char *end;
                errno = 0;
                unsigned long long n = strtoull(cl, &end, 10);
                if (errno == 0 && end != cl && *end == 0 && n > HTTP_BODY_MAX)
                        return refuse(s, c, mc, method, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
        }
        /* Answer on a later call: a response queued now would make MHD
         * close the connection instead of keeping it alive. */
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls) {
        HttpServer *s = cls;
        Conn *c = conn_get(mc);

        if (!*con_cls) {
                *con_cls = s; /* any non-NULL marker */
                return on_headers(s, c, mc, method);
        }
        if (c && c->answered) {
                *upload_size = 0;
                return MHD_YES;
        }
        if (*upload_size > 0) {
                size_t n = *upload_size;
                *upload_size = 0;
                if (c) {
                        c->body += n;
                        if (c->body > HTTP_BODY_MAX) {
                                log_debug("request body larger than %u bytes, closing the connection", HTTP_BODY_MAX);
                                return MHD_NO; /* a chunked body: too late for a 413 */
                        }
                }
                return MHD_YES;
        }
        if (c)
                c->answered = true;
        return s->handler(mc, method, url, s->userdata);
}

/* ---- the daemons on the loop ---------------------------------------------- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof buf, fmt, ap);
        size_t l = strlen(buf);
        while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
                buf[--l] = 0;
        /* MHD reports every misbehaving client; those are not our errors. */
        log_debug("libmicrohttpd: %s", buf);
}

static void listener_run(Listener *l) {
        if (MHD_run(l->mhd) != MHD_YES)
                log_debug("MHD_run failed");
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        listener_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Listener *l = userdata;
        l->armed = USEC_INFINITY;
        listener_run(l);
        return 0;
}

/* Before the loop sleeps: wake up when MHD wants to run again even if no
 * socket is ready (timeouts, data MHD has read but not processed). */
static int on_prepare(sd_event_source *es, void *userdata) {
        Listener *l = userdata;
        MHD_UNSIGNED_LONG_LONG ms;
        usec_t when = USEC_INFINITY;

        if (l->rerun) {
                l->rerun = false;
                when = 1; /* in the past: at once */
        } else if (MHD_get_timeout(l->mhd, &ms) == MHD_YES) {
                /* ms -> usec, saturating: a huge value means "no timeout". */
                usec_t delta = ms >= (USEC_INFINITY - 1) / USEC_PER_MSEC ? USEC_INFINITY : (usec_t) ms * USEC_PER_MSEC;
                /* The loop's "now" is from the start of this iteration, so
                 * the timer can only fire early, never late. */
                when = delta == USEC_INFINITY ? USEC_INFINITY : usec_add(loop_now(l->server), delta);
        }
        if (when == l->armed && when != 1)
                return 0;
        l->armed = when;
        if (when == USEC_INFINITY)
                return sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        return arm_oneshot(l->timer, MAX(when, (usec_t) 1));
}

static Listener *listener_free(Listener *l) {
        if (!l)
                return NULL;
        l->io = sd_event_source_disable_unref(l->io);
        l->timer = sd_event_source_disable_unref(l->timer);
        if (l->mhd) {
                /* Take the socket back first: MHD_stop_daemon() would shut it
                 * down, and a socket from systemd must outlive us. */
                if (!l->quiesced && l->fd >= 0)
                        (void) MHD_quiesce_daemon(l->mhd);
                MHD_stop_daemon(l->mhd);
        }
        if (l->owned)
                safe_close(l->fd);
        free(l);
        return NULL;
}

static int listener_start(HttpServer *s, Listener *l) {
        const HttpLimits *lim = &s->limits;
        unsigned idle_s = lim->idle_timeout == 0 ? 0
                                                 : (unsigned) MIN((lim->idle_timeout + USEC_PER_SEC - 1) / USEC_PER_SEC,
                                                                  (usec_t) UINT32_MAX);
        size_t pool = lim->max_header_size + lim->response_header_room + HTTP_POOL_SLACK;

        /* fd < 0: the daemon that serves connections accepted elsewhere,
         * with no listening socket (the option would have MHD use -1). */
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | (l->fd < 0 ? MHD_USE_NO_LISTEN_SOCKET : 0);
        struct MHD_OptionItem listen[] = {
                { l->fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, l->fd, NULL },
                { MHD_OPTION_END, 0, NULL },
        };
        l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                                  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                  MHD_OPTION_ARRAY, listen,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) lim->max_connections,
                                  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) lim->max_connections_per_ip,
                                  MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                  MHD_OPTION_END);
        if (!l->mhd)
                return log_error_errno(-EINVAL, "libmicrohttpd refused to start on fd %d", l->fd);

        const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0)
                return log_error_errno(-EINVAL, "libmicrohttpd has no epoll fd");

        int r = sd_event_add_io(s->event, &l->io, info->epoll_fd, EPOLLIN, on_io, l);
        if (r >= 0)
                r = sd_event_source_set_prepare(l->io, on_prepare);
        if (r >= 0)
                r = sd_event_add_time(s->event, &l->timer, CLOCK_MONOTONIC, USEC_INFINITY, HTTP_TIMER_ACCURACY_USEC,
                                      on_timer, l);
        if (r < 0)
                return log_error_errno(r, "cannot put libmicrohttpd on the event loop: %m");
        (void) sd_event_source_set_description(l->io, "mhd-epoll");
        (void) sd_event_source_set_description(l->timer, "mhd-timeout");
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        l->armed = USEC_INFINITY;
        return 0;
}

int http_server_add_listener(HttpServer *s, int fd, bool owned) {
        /* systemd passes sockets blocking unless NonBlocking=yes; MHD
         * accepts several connections per run and must never block. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
                int r = negative_errno();
                if (owned)
                        safe_close(fd);
                return log_error_errno(r, "cannot make listening socket %d non-blocking: %m", fd);
        }
        Listener **a = reallocarray(s->listeners, s->n_listeners + 1, sizeof *a);
        if (!a) {
                if (owned)
                        safe_close(fd);
                return -ENOMEM;
        }
        s->listeners = a;

        Listener *l = calloc(1, sizeof *l);
        if (!l) {
                if (owned)
                        safe_close(fd);
                return -ENOMEM;
        }
        *l = (Listener) { .server = s, .fd = fd, .owned = owned };
        int r = listener_start(s, l);
        if (r < 0) {
                listener_free(l);
                return r;
        }
        s->listeners[s->n_listeners++] = l;
        return 0;
}

int http_server_add_connection(HttpServer *s, int fd) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int r;

        if (s->stopping) {
                safe_close(fd);
                return -ESHUTDOWN;
        }
        if (getpeername(fd, (struct sockaddr *) &peer, &len) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        if (!s->adopter) {
                Listener *l = calloc(1, sizeof *l);
                if (!l) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                *l = (Listener) { .server = s, .fd = -EBADF };
                r = listener_start(s, l);
                if (r < 0) {
                        listener_free(l);
                        safe_close(fd);
                        return r;
                }
                s->adopter = l;
        }
        /* MHD closes the socket when it refuses it (its connection limits). */
        if (MHD_add_connection(s->adopter->mhd, fd, (struct sockaddr *) &peer, len) != MHD_YES)
                return negative_errno();
        /* The request's first bytes are already waiting: run MHD at once. */
        s->adopter->rerun = true;
        return 0;
}

unsigned http_server_n_connections(HttpServer *s) {
        return s->n_conns;
}

int http_server_new(HttpServer **ret, sd_event *event, const HttpLimits *limits, http_handler_t handler,
                    http_refused_t refused, void *userdata) {
        HttpServer *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (HttpServer) {
                .event = sd_event_ref(event),
                .limits = *limits,
                .handler = handler,
                .refused = refused,
                .userdata = userdata,
        };
        *ret = s;
        return 0;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        /* Stopping the daemons closes their connections, which frees the
         * Conns through on_connection(). */
        for (unsigned i = 0; i < s->n_listeners; i++)
                listener_free(s->listeners[i]);
        free(s->listeners);
        listener_free(s->adopter);
        while (s->conns)
                conn_free(s->conns);
        sd_event_source_disable_unref(s->stop_timer);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

/* ---- stop ----------------------------------------------------------------- */

static int on_stop_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        HttpServer *s = userdata;
        if (s->n_conns > 0)
                log_notice("stop grace period over, closing %u HTTP connection(s)", s->n_conns);
        http_stopped_t done = s->stopped;
        s->stopped = NULL;
        if (done)
                done(s, s->stopped_userdata);
        return 0;
}

int http_server_stop(HttpServer *s, http_stopped_t done, void *userdata) {
        if (s->stopping)
                return -EALREADY;
        s->stopping = true;
        s->stopped = done;
        s->stopped_userdata = userdata;

        for (unsigned i = 0; i < s->n_listeners; i++) {
                Listener *l = s->listeners[i];
                (void) MHD_quiesce_daemon(l->mhd);
                l->quiesced = true;
                if (l->owned)
                        l->fd = safe_close(l->fd);
        }
        LIST_FOREACH(conns, c, s->conns)
                if (c->waiting_since != USEC_INFINITY)
                        conn_shutdown(c, "stopping");

        int r = sd_event_add_time_relative(s->event, &s->stop_timer, CLOCK_MONOTONIC,
                                           s->n_conns == 0 ? 0 : HTTP_STOP_GRACE_USEC, 0, on_stop_timer, s);
        if (r < 0)
                return r;
        return 0;
}
