/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "rpc/server-internal.h"
#include "rpc/service-name.h"

_public_ int geerpc_server_new(geerpc_server **ret) {
        if (!ret)
                return -EINVAL;
        geerpc_server *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->wake_fd = -EBADF;
        s->max_connections = GEERPC_SERVER_MAX_CONNECTIONS_DEFAULT;
        s->max_pending = GEERPC_SERVER_MAX_PENDING_DEFAULT;
        s->max_message_size = GEERPC_MAX_MESSAGE_SIZE_DEFAULT;
        s->n_workers = GEERPC_SERVER_WORKERS_DEFAULT;
        s->max_connections_per_ip = GEERPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT;
        s->idle_timeout = GEERPC_SERVER_IDLE_TIMEOUT_DEFAULT_USEC;
        s->message_timeout = GEERPC_SERVER_MESSAGE_TIMEOUT_DEFAULT_USEC;
        s->http_enabled = true;
        pthread_mutex_init(&s->lock, NULL);
        int r = server_describe_register(s);
        if (r < 0) {
                geerpc_server_unref(s);
                return r;
        }
        *ret = s;
        return 0;
}

_public_ geerpc_server *geerpc_server_ref(geerpc_server *s) {
        if (s)
                s->n_ref++;
        return s;
}

static void listener_free(Listener *l) {
        sd_event_source_disable_unref(l->source);
        safe_close(l->fd);
        free(l);
}

static void close_listeners(geerpc_server *s) {
        for (Listener *l; (l = LIST_POP(listeners, s->listeners));)
                listener_free(l);
        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
}

static void server_free(geerpc_server *s) {
        close_listeners(s);
        while (s->conns)
                conn_close(s->conns);

        /* Workers first: after this no task is handed back any more. */
        worker_pool_free(s->pool, SERVER_FREE_WAIT_USEC);
        s->pool = NULL;
        for (ServerCall *c; (c = LIST_POP(done, s->done));)
                server_call_discard(c);

        s->wake_source = sd_event_source_disable_unref(s->wake_source);
        s->grace_timer = sd_event_source_disable_unref(s->grace_timer);
        s->deadlines = timer_wheel_free(s->deadlines);
        peer_limit_free_all(&s->peers);
        s->drain_timer = sd_event_source_disable_unref(s->drain_timer);
        s->shrink_timer = sd_event_source_disable_unref(s->shrink_timer);
        s->conns_io = io_set_free(s->conns_io);
        buffer_done(&s->scratch_in);
        buffer_done(&s->scratch_out);
        safe_close(s->wake_fd);
        server_http_free(s);
        sd_event_unref(s->event);

        for (size_t i = 0; i < s->n_services; i++) {
                for (size_t j = 0; j < s->services[i].n_methods; j++) {
                        free(s->services[i].methods[j].name);
                        free(s->services[i].methods[j].description);
                }
                free(s->services[i].methods);
                free(s->services[i].name);
        }
        free(s->services);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

_public_ geerpc_server *geerpc_server_unref(geerpc_server *s) {
        if (!s)
                return NULL;
        if (--s->n_ref > 0)
                return NULL;
        server_free(s);
        return NULL;
}

/* One line of printable text, as introspection shows it. */
static bool description_valid(const char *d) {
        if (!d)
                return true;
        if (strlen(d) > GEERPC_METHOD_DESCRIPTION_MAX)
                return false;
        for (const char *p = d; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static void methods_free(Method *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].name);
                free(m[i].description);
        }
        free(m);
}

int server_add_service(geerpc_server *s, const char *name, const geerpc_method *methods, size_t n_methods,
                       void *userdata) {
        if (!s || !service_name_is_valid(name) || (n_methods > 0 && !methods))
                return -EINVAL;
        for (size_t i = 0; i < s->n_services; i++)
                if (streq(s->services[i].name, name))
                        return -EEXIST;
        for (size_t i = 0; i < n_methods; i++) {
                if (isempty(methods[i].name) || !methods[i].handler || strchr(methods[i].name, '.') ||
                    !description_valid(methods[i].description))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(methods[i].name, methods[j].name))
                                return -EEXIST;
        }

        Service *n = realloc(s->services, (s->n_services + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        s->services = n;

        Service svc = { .userdata = userdata, .n_methods = n_methods };
        svc.name = strdup(name);
        svc.methods = calloc(n_methods ?: 1, sizeof(Method));
        if (!svc.name || !svc.methods)
                goto oom;
        for (size_t i = 0; i < n_methods; i++) {
                Method *m = &svc.methods[i];
                m->name = strdup(methods[i].name);
                m->handler = methods[i].handler;
                m->flags = methods[i].flags;
                m->description = methods[i].description ? strdup(methods[i].description) : NULL;
                if (!m->name || (methods[i].description && !m->description))
                        goto oom;
        }
        s->services[s->n_services++] = svc;
        return 0;

oom:
        methods_free(svc.methods, n_methods);
        free(svc.name);
        return -ENOMEM;
}

int server_get_service_names(geerpc_server *s, char ***ret) {
        char **v = calloc(s->n_services + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < s->n_services; i++) {
                /* Every geerpc server has it: not worth announcing. */
                if (streq(s->services[i].name, GEERPC_BUILTIN_SERVICE))
                        continue;
                if (!(v[k++] = strdup(s->services[i].name))) {
                        strv_free(v);
                        return -ENOMEM;
                }
        }
        strv_sort_unique(v);
        *ret = v;
        return 0;
}

_public_ int geerpc_server_add_service(geerpc_server *s, const char *name, const geerpc_method *methods,
                                       size_t n_methods, void *userdata) {
        if (s && name && streq(name, GEERPC_BUILTIN_SERVICE))
                return -EEXIST;
        return server_add_service(s, name, methods, n_methods, userdata);
}

_public_ int geerpc_server_attach_event(geerpc_server *s, sd_event *event, int64_t priority) {
        int r;

        if (!s)
                return -EINVAL;
        if (s->event)
                return -EBUSY;

        if (event)
                s->event = sd_event_ref(event);
        else {
                /* The one a registration attaches to by default too, so
                 * that geerpc_server_run() also runs its heartbeats. */
                r = sd_event_default(&s->event);
                if (r < 0)
                        return r;
        }
        s->priority = priority;

        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_add_io(s->event, &s->wake_source, s->wake_fd, EPOLLIN, server_on_wake, s);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_priority(s->wake_source, priority);
        (void) sd_event_source_set_description(s->wake_source, "geerpc-server-wake");
        r = timer_wheel_new(&s->deadlines, s->event, priority, SERVER_DEADLINE_TICK_USEC, conn_on_deadline, s);
        if (r < 0)
                goto fail;
        /* Every connection behind one source (basic/io-set.h). */
        r = io_set_new(&s->conns_io, s->event, priority, "geerpc-server-connections");
        if (r < 0)
                goto fail;
        r = server_http_new(s);
        if (r < 0)
                goto fail;
        return 0;

fail:
        s->deadlines = timer_wheel_free(s->deadlines);
        s->conns_io = io_set_free(s->conns_io);
        s->wake_source = sd_event_source_disable_unref(s->wake_source);
        s->wake_fd = safe_close(s->wake_fd);
        s->event = sd_event_unref(s->event);
        return r;
}

_public_ sd_event *geerpc_server_get_event(geerpc_server *s) {
        return s ? s->event : NULL;
}

static void set_listeners_enabled(geerpc_server *s, bool on) {
        if (s->listeners_paused == !on)
                return;
        s->listeners_paused = !on;
        LIST_FOREACH(listeners, l, s->listeners)
                (void) sd_event_source_set_enabled(l->source, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int on_accept_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        geerpc_server *s = userdata;
        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
        if (s->state == SERVER_IDLE && s->n_conns < s->max_connections)
                set_listeners_enabled(s, true);
        return 0;
}

/* Serves an accepted socket, unless its address has too many already. */
static void accept_one(geerpc_server *s, int fd, const SocketAddress *peer) {
        PeerCount *count = NULL;
        Conn *c;
        int r = peer_limit_take(&s->peers, &peer->sa, peer->len, s->max_connections_per_ip, &count);
        if (r == -EUSERS) {
                _cleanup_free_ char *who = NULL;
                (void) socket_address_format(peer, &who);
                log_debug("rpc server: %s has %u connections already, closing a new one", who ?: "a client",
                          s->max_connections_per_ip);
                safe_close(fd);
                return;
        }
        if (r >= 0)
                r = conn_new(s, fd, count, &c);
        if (r < 0) {
                log_warning_errno(r, "rpc server: cannot set up connection: %m");
                safe_close(fd);
        }
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Listener *l = userdata;
        geerpc_server *s = l->server;

        for (int i = 0; i < SERVER_ACCEPT_BATCH; i++) {
                if (s->n_conns >= s->max_connections) {
                        /* Leave further connections in the backlog until one
                         * closes, rather than accept and drop them. */
                        log_warning("rpc server: connection limit (%u) reached, pausing accept", s->max_connections);
                        set_listeners_enabled(s, false);
                        return 0;
                }
                SocketAddress peer = { .len = sizeof peer.storage };
                int cfd = accept4(fd, &peer.sa, &peer.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_warning_errno(errno, "rpc server: accept failed, pausing 100ms: %m");
                                set_listeners_enabled(s, false);
                                if (!s->accept_retry)
                                        (void) sd_event_add_time_relative(s->event, &s->accept_retry,
                                                                          CLOCK_MONOTONIC, 100 * USEC_PER_MSEC, TIMER_ACCURACY_PRECISE,
                                                                          on_accept_retry, s);
                                return 0;
                        }
                        log_warning_errno(errno, "rpc server: accept failed: %m");
                        return 0;
                }
                accept_one(s, cfd, &peer);
        }
        return 0;
}

static int add_listener(geerpc_server *s, int fd) {
        int r;

        if (!s->event) {
                r = geerpc_server_attach_event(s, NULL, 0);
                if (r < 0)
                        return r;
        }
        Listener *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->server = s;
        l->fd = fd;
        r = sd_event_add_io(s->event, &l->source, fd, EPOLLIN, on_accept, l);
        if (r < 0) {
                free(l);
                return r;
        }
        (void) sd_event_source_set_priority(l->source, s->priority);
        (void) sd_event_source_set_description(l->source, "geerpc-server-listen");
        if (s->listeners_paused)
                (void) sd_event_source_set_enabled(l->source, SD_EVENT_OFF);
        LIST_PREPEND(listeners, s->listeners, l);
        return 0;
}

_public_ int geerpc_server_listen_fd(geerpc_server *s, int fd, char **ret_address) {
        _cleanup_free_ char *addr = NULL;
        int r;

        if (!s || fd < 0)
                return -EINVAL;
        if (s->state != SERVER_IDLE)
                return -ESHUTDOWN;

        int type = 0, listening = 0;
        socklen_t l = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
                return negative_errno();
        l = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) < 0)
                return negative_errno();
        if (type != SOCK_STREAM || !listening)
                return -ENOTSOCK;
        /* systemd hands sockets over in blocking mode unless NonBlocking=yes:
         * accept() in a loop would then stall the event loop. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();

        if (ret_address) {
                r = address_from_socket(fd, &addr);
                if (r < 0)
                        return r;
        }
        r = add_listener(s, fd);
        if (r < 0)
                return r;
        if (ret_address)
                *ret_address = TAKE_PTR(addr);
        return 0;
}

_public_ int geerpc_server_listen(geerpc_server *s, const char *address, char **ret_address) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!s || !address)
                return -EINVAL;
        r = address_listen(address, SOMAXCONN, &fd);
        if (r < 0)
                return r;
        r = geerpc_server_listen_fd(s, fd, ret_address);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

_public_ int geerpc_server_set_max_connections(geerpc_server *s, unsigned n) {
        if (!s)
                return -EINVAL;
        s->max_connections = n ?: GEERPC_SERVER_MAX_CONNECTIONS_DEFAULT;
        return 0;
}

_public_ int geerpc_server_set_max_pending(geerpc_server *s, unsigned n) {
        if (!s)
                return -EINVAL;
        s->max_pending = n ?: GEERPC_SERVER_MAX_PENDING_DEFAULT;
        return 0;
}

_public_ int geerpc_server_set_max_message_size(geerpc_server *s, size_t n) {
        if (!s || (n > 0 && n < 64))
                return -EINVAL;
        s->max_message_size = n ?: GEERPC_MAX_MESSAGE_SIZE_DEFAULT;
        return 0;
}

_public_ int geerpc_server_set_worker_threads(geerpc_server *s, unsigned n) {
        if (!s || n > WORKER_POOL_THREADS_MAX)
                return -EINVAL;
        if (s->pool)
                return -EBUSY;
        s->n_workers = n ?: GEERPC_SERVER_WORKERS_DEFAULT;
        return 0;
}

_public_ int geerpc_server_set_max_connections_per_ip(geerpc_server *s, unsigned n) {
        if (!s)
                return -EINVAL;
        s->max_connections_per_ip = n == UINT_MAX ? 0 : n ?: GEERPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT;
        return 0;
}

_public_ int geerpc_server_set_idle_timeout(geerpc_server *s, uint64_t usec) {
        if (!s)
                return -EINVAL;
        s->idle_timeout = usec ?: GEERPC_SERVER_IDLE_TIMEOUT_DEFAULT_USEC;
        return 0;
}

_public_ int geerpc_server_set_message_timeout(geerpc_server *s, uint64_t usec) {
        if (!s)
                return -EINVAL;
        s->message_timeout = usec ?: GEERPC_SERVER_MESSAGE_TIMEOUT_DEFAULT_USEC;
        return 0;
}

_public_ int geerpc_server_set_max_blocking_per_connection(geerpc_server *s, unsigned n) {
        if (!s)
                return -EINVAL;
        s->max_blocking_per_conn = n;
        return 0;
}

unsigned server_blocking_per_conn(geerpc_server *s) {
        return s->max_blocking_per_conn ?: MAX(s->n_workers / GEERPC_SERVER_BLOCKING_SHARE, 1U);
}

int server_ensure_pool(geerpc_server *s) {
        if (s->pool)
                return 0;
        return worker_pool_new(&s->pool, s->n_workers, WORKER_POOL_QUEUE_MAX_DEFAULT);
}

_public_ int geerpc_server_set_http(geerpc_server *s, int enabled) {
        if (!s)
                return -EINVAL;
        s->http_enabled = enabled;
        return 0;
}

_public_ unsigned geerpc_server_get_n_connections(geerpc_server *s) {
        return s ? s->n_conns : 0;
}

_public_ unsigned geerpc_server_get_n_inflight(geerpc_server *s) {
        return s ? s->n_unanswered : 0;
}

void server_conn_closed(geerpc_server *s) {
        if (s->state == SERVER_IDLE && s->listeners_paused && !s->accept_retry && s->n_conns < s->max_connections)
                set_listeners_enabled(s, true);
        server_check_stopped(s);
}

static void finish_stop(geerpc_server *s) {
        s->state = SERVER_STOPPED;
        s->grace_timer = sd_event_source_disable_unref(s->grace_timer);
        s->drain_timer = sd_event_source_disable_unref(s->drain_timer);
        geerpc_server_stopped_handler done = s->stop_done;
        void *ud = s->stop_userdata;
        s->stop_done = NULL;
        /* The handler may drop the last reference. */
        geerpc_server_ref(s);
        if (done)
                done(s, ud);
        if (s->exit_loop_on_stop)
                (void) sd_event_exit(s->event, 0);
        geerpc_server_unref(s);
}

void server_check_stopped(geerpc_server *s) {
        if (s->state == SERVER_STOPPING && s->n_conns == 0 && (!s->http || s->http_stopped))
                finish_stop(s);
}

static int on_grace_expired(sd_event_source *es, uint64_t usec, void *userdata) {
        geerpc_server *s = userdata;
        if (s->n_conns > 0)
                log_notice("rpc server: grace period over, closing %u connection(s) with %u call(s) unanswered",
                           s->n_conns, s->n_unanswered);
        geerpc_server_ref(s);
        while (s->conns)
                conn_close(s->conns);
        /* HTTP connections still busy close when the server is freed. */
        s->http_stopped = true;
        server_check_stopped(s);
        geerpc_server_unref(s);
        return 0;
}

/* While stopping: closes the connections that have gone quiet. */
static int on_drain_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        geerpc_server *s = userdata;
        geerpc_server_ref(s);
        LIST_FOREACH_SAFE(conns, c, n, s->conns)
                (void) conn_drain_check(c);
        /* The last connection's close may have ended the stop (and freed
         * this timer). */
        if (s->drain_timer && s->conns) {
                (void) sd_event_source_set_time_relative(s->drain_timer, CONN_DRAIN_QUIET_USEC / 4);
                (void) sd_event_source_set_enabled(s->drain_timer, SD_EVENT_ONESHOT);
        }
        server_check_stopped(s);
        geerpc_server_unref(s);
        return 0;
}

/* Runs on the loop thread, from the wake-up handler. */
void server_begin_stop(geerpc_server *s, usec_t grace) {
        if (s->state != SERVER_IDLE)
                return;
        s->state = SERVER_STOPPING;
        close_listeners(s);
        server_http_stop(s);
        if (grace > 0 && grace != USEC_INFINITY)
                (void) sd_event_add_time_relative(s->event, &s->grace_timer, CLOCK_MONOTONIC, grace, TIMER_ACCURACY_PRECISE,
                                                  on_grace_expired, s);
        else if (grace == 0) {
                on_grace_expired(NULL, 0, s);
                return;
        }
        geerpc_server_ref(s);
        LIST_FOREACH_SAFE(conns, c, n, s->conns)
                conn_start_draining(c);
        if (s->conns)
                (void) sd_event_add_time_relative(s->event, &s->drain_timer, CLOCK_MONOTONIC, CONN_DRAIN_QUIET_USEC / 4,
                                                  CONN_DRAIN_QUIET_USEC / 8, on_drain_tick, s);
        server_check_stopped(s);
        geerpc_server_unref(s);
}

_public_ int geerpc_server_stop(geerpc_server *s, uint64_t grace_usec, geerpc_server_stopped_handler done,
                                void *userdata) {
        if (!s)
                return -EINVAL;

        pthread_mutex_lock(&s->lock);
        if (s->stop_requested) {
                pthread_mutex_unlock(&s->lock);
                return -EALREADY;
        }
        s->stop_requested = true;
        s->stop_grace = grace_usec;
        s->stop_done = done;
        s->stop_userdata = userdata;
        bool attached = s->event;
        pthread_mutex_unlock(&s->lock);

        if (!attached) {
                /* Nothing is being served: stopped at once. */
                s->state = SERVER_STOPPED;
                if (done)
                        done(s, userdata);
                return 0;
        }
        /* The loop thread picks the request up (this may be another thread). */
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
                return negative_errno();
        return 0;
}

_public_ int geerpc_server_run(geerpc_server *s) {
        int r;

        if (!s)
                return -EINVAL;
        if (!s->event) {
                r = geerpc_server_attach_event(s, NULL, 0);
                if (r < 0)
                        return r;
        }
        if (s->state == SERVER_STOPPED)
                return 0;
        s->exit_loop_on_stop = true;
        r = sd_event_loop(s->event);
        s->exit_loop_on_stop = false;
        return r < 0 ? r : 0;
}
