/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "basic/log.h"
#include "codec/option.h"
#include "rpc/server-internal.h"

/* One accepted connection: Option first, then a stream of requests. All of
 * it runs on the server's loop thread. */

const char *conn_peer(Conn *c, char *buf, size_t size) {
        SocketAddress sa = { .len = sizeof sa.storage };
        _cleanup_free_ char *s = NULL;
        if (getpeername(c->fd, &sa.sa, &sa.len) < 0 || socket_address_format(&sa, &s) < 0)
                snprintf(buf, size, "fd %d", c->fd);
        else
                snprintf(buf, size, "%s", s);
        return buf;
}

static int conn_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);

static int on_option_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Conn *c = userdata;
        char peer[128];
        log_info("rpc server: %s sent no Option within 10s, closing", conn_peer(c, peer, sizeof peer));
        conn_close(c);
        return 0;
}

int conn_new(geerpc_server *s, int fd, Conn **ret) {
        int r;

        Conn *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = fd;
        /* Edge-triggered while sniffing: peeking leaves the bytes unread,
         * so a level-triggered source would fire again at once while too
         * few of them have come to decide. */
        c->state = s->http_enabled ? CONN_SNIFF : CONN_OPTION;
        c->events = s->http_enabled ? EPOLLIN | EPOLLRDHUP | EPOLLET : EPOLLIN;
        json_scanner_init(&c->option_scanner, OPTION_SIZE_MAX);

        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        r = sd_event_add_io(s->event, &c->io, fd, c->events, conn_io, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_priority(c->io, s->priority);
        r = sd_event_add_time_relative(s->event, &c->option_timer, CLOCK_MONOTONIC, CONN_OPTION_TIMEOUT_USEC,
                                       USEC_PER_SEC, on_option_timeout, c);
        if (r < 0)
                goto fail;

        LIST_PREPEND(conns, s->conns, c);
        s->n_conns++;
        if (c->state == CONN_OPTION)
                counter_inc(&s->stats.accepted[CONN_KIND_RPC]);
        *ret = c;
        return 0;

fail:
        sd_event_source_disable_unref(c->io);
        free(c);
        return r;
}

int conn_release_fd(Conn *c) {
        int fd = c->fd;
        /* Before the socket changes hands: sd-event must not watch it. */
        c->io = sd_event_source_disable_unref(c->io);
        c->fd = -EBADF;
        conn_close(c);
        return fd;
}

void conn_set_events(Conn *c, uint32_t events) {
        if (events == c->events)
                return;
        (void) sd_event_source_set_io_events(c->io, events);
        if (c->events == 0)
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        c->events = events;
}

void conn_close(Conn *c) {
        geerpc_server *s = c->server;

        /* Calls still on workers live on; their results are discarded. */
        while (c->calls)
                server_call_detach(c->calls);
        s->n_unanswered -= c->n_unanswered;

        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->option_timer);
        safe_close(c->fd);
        buffer_done(&c->in);
        buffer_done(&c->out);
        codec_free(c->codec);

        LIST_REMOVE(conns, s->conns, c);
        s->n_conns--;
        free(c);

        server_conn_closed(s);
}

int conn_queue_reply(Conn *c, const char *service_method, uint64_t seq, const char *error, json_t *body) {
        if (!c->codec)
                return -ENOTCONN;
        int r = codec_encode(c->codec, &c->out, service_method, seq, error, body);
        if (r < 0 && body && isempty(error)) {
                /* The reply could not be encoded (e.g. NaN): say so instead. */
                log_warning_errno(r, "rpc server: cannot encode reply of %s: %m", service_method);
                r = codec_encode(c->codec, &c->out, service_method, seq, "rpc server: cannot encode reply", NULL);
        }
        return r;
}

/* Returns < 0 when the connection must close. */
static int conn_flush(Conn *c) {
        while (buffer_len(&c->out) > 0) {
                ssize_t n = send(c->fd, buffer_data(&c->out), buffer_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                counter_add(&c->server->stats.bytes_out, (uint64_t) n);
                buffer_consume(&c->out, (size_t) n);
        }
        return 0;
}

/* Backpressure: stop taking requests while too many are unanswered or too
 * much output waits for the peer to read it. */
static bool conn_may_decode(Conn *c) {
        return c->state == CONN_OPTION || c->state == CONN_CONNECT ||
               (c->state == CONN_RUNNING && c->n_unanswered < c->server->max_pending &&
                buffer_len(&c->out) < CONN_OUTPUT_HIGH_WATER);
}

static bool conn_may_read(Conn *c) {
        return !c->eof && !c->close_after_flush && conn_may_decode(c);
}

static void conn_update_events(Conn *c) {
        uint32_t want = 0;
        if (conn_may_read(c))
                want |= EPOLLIN;
        if (buffer_len(&c->out) > 0)
                want |= EPOLLOUT;
        if (want == c->events)
                return;
        if (want == 0) {
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                c->events = 0;
        } else
                conn_set_events(c, want);
}

/* Returns 1 once the Option is taken, 0 when more bytes are needed, < 0 to
 * close. */
static int conn_handle_option(Conn *c) {
        size_t s, e;
        char peer[128];

        int r = json_scanner_scan(&c->option_scanner, buffer_data(&c->in), buffer_len(&c->in), &s, &e);
        if (r == 0)
                return 0;
        if (r < 0) {
                log_info("rpc server: options error from %s: %s, closing", conn_peer(c, peer, sizeof peer),
                         r == -EMSGSIZE ? "Option too large" : "not JSON");
                return r;
        }

        Option o;
        _cleanup_free_ char *why = NULL;
        r = option_parse(buffer_data(&c->in) + s, e - s, &o, &why);
        if (r < 0) {
                log_info("%s (from %s), closing", strempty(why), conn_peer(c, peer, sizeof peer));
                return r;
        }
        buffer_consume(&c->in, e);

        r = codec_new(codec_type_find(o.codec_type), c->server->max_message_size, &c->codec);
        if (r < 0)
                return r;
        c->handle_timeout = (usec_t) o.handle_timeout_ns / NSEC_PER_USEC;
        if (o.handle_timeout_ns > 0 && c->handle_timeout == 0)
                c->handle_timeout = 1;
        c->state = CONN_RUNNING;
        c->option_timer = sd_event_source_disable_unref(c->option_timer);
        return 1;
}

static bool conn_finished(Conn *c) {
        return (c->state == CONN_DRAINING || c->input_done || c->close_after_flush) && c->n_unanswered == 0 &&
               buffer_len(&c->out) == 0;
}

void conn_process(Conn *c) {
        char peer[128];
        int r;

        if (c->state == CONN_CONNECT) {
                r = server_http_connect(c);
                if (r < 0)
                        c->close_after_flush = true;
                else if (r == 0 && c->eof)
                        goto close;
        }
        if (c->state == CONN_OPTION) {
                r = conn_handle_option(c);
                if (r < 0 || (r == 0 && c->eof))
                        goto close;
        }

        while (c->state == CONN_RUNNING && conn_may_decode(c)) {
                Message m;
                r = codec_decode(c->codec, &c->in, &m);
                if (r == 0) {
                        /* After EOF no more bytes come: what is left is all. */
                        c->input_done = c->eof;
                        break;
                }
                if (r < 0) {
                        log_info("rpc server: read header error from %s: %s, closing",
                                 conn_peer(c, peer, sizeof peer),
                                 r == -EMSGSIZE ? "message larger than the limit" : "malformed message");
                        goto close;
                }
                server_dispatch(c, &m);
                message_done(&m);
        }

        r = conn_flush(c);
        if (r < 0) {
                log_debug_errno(r, "rpc server: write to %s failed: %m", conn_peer(c, peer, sizeof peer));
                goto close;
        }
        if (conn_finished(c))
                goto close;
        conn_update_events(c);
        return;

close:
        conn_close(c);
}

void conn_start_draining(Conn *c) {
        if (c->state == CONN_SNIFF || c->state == CONN_CONNECT || c->state == CONN_OPTION) {
                conn_close(c);
                return;
        }
        c->state = CONN_DRAINING;
        if (conn_finished(c)) {
                conn_close(c);
                return;
        }
        conn_update_events(c);
}

/* Reads what the socket has: 0 (c->eof set once the peer has closed its
 * side), or a negative errno. */
static int conn_read(Conn *c) {
        int r = buffer_reserve(&c->in, CONN_READ_CHUNK);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = recv(c->fd, buffer_tail(&c->in), buffer_room(&c->in), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                if (n == 0) {
                        c->eof = true;
                        return 0;
                }
                counter_add(&c->server->stats.bytes_in, (uint64_t) n);
                buffer_advance_end(&c->in, (size_t) n);
                return 0;
        }
}

static int conn_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char peer[128];

        if (c->state == CONN_SNIFF && server_http_sniff(c, revents) <= 0)
                return 0;

        if (revents & EPOLLIN) {
                /* At EOF the peer has nothing more to say: what it already
                 * asked is answered, then the connection closes. */
                int r = conn_read(c);
                if (r == -ECONNRESET) {
                        /* Reset rather than closed: what it sent before is
                         * answered all the same, as after EOF (the replies
                         * fail to go out if it is really gone). */
                        log_debug_errno(r, "rpc server: %s reset the connection: %m",
                                        conn_peer(c, peer, sizeof peer));
                        c->eof = true;
                } else if (r < 0) {
                        log_debug_errno(r, "rpc server: read from %s failed: %m", conn_peer(c, peer, sizeof peer));
                        conn_close(c);
                        return 0;
                }
        } else if ((revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLOUT)) {
                conn_close(c);
                return 0;
        }
        conn_process(c);
        return 0;
}
