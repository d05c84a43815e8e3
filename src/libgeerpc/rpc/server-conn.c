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

static usec_t loop_now(geerpc_server *s) {
        uint64_t now;
        if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) < 0)
                return now_usec(CLOCK_MONOTONIC);
        return now;
}

int conn_new(geerpc_server *s, int fd, PeerCount *peer, Conn **ret) {
        int r;

        Conn *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = fd;
        c->io_on = true;
        c->accepted = loop_now(s);
        c->partial_since = c->unread_since = c->idle_since = c->probed_at = USEC_INFINITY;
        /* Edge-triggered while sniffing: peeking leaves the bytes unread,
         * so a level-triggered source would fire again at once while too
         * few of them have come to decide. */
        c->state = s->http_enabled ? CONN_SNIFF : CONN_OPTION;
        c->events = s->http_enabled ? EPOLLIN | EPOLLRDHUP | EPOLLET : EPOLLIN;
        json_scanner_init(&c->option_scanner, OPTION_SIZE_MAX);

        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        r = sd_event_add_io(s->event, &c->io, fd, c->events, conn_io, c);
        if (r < 0) {
                free(c);
                return r;
        }
        (void) sd_event_source_set_priority(c->io, s->priority);
        c->peer = peer;
        /* Until it is an RPC connection with its Option taken. */
        timer_wheel_set(s->deadlines, &c->deadline, usec_add(c->accepted, CONN_OPTION_TIMEOUT_USEC));

        LIST_PREPEND(conns, s->conns, c);
        s->n_conns++;
        if (c->state == CONN_OPTION)
                counter_inc(&s->stats.accepted[CONN_KIND_RPC]);
        *ret = c;
        return 0;
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
        if (events != c->events)
                (void) sd_event_source_set_io_events(c->io, events);
        if (!c->io_on)
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        c->events = events;
        c->io_on = true;
}

void conn_close(Conn *c) {
        geerpc_server *s = c->server;

        server_conn_cancel_calls(c);
        s->n_unanswered -= c->n_unanswered;

        timer_wheel_remove(s->deadlines, &c->deadline);
        peer_limit_release(&s->peers, c->peer);
        sd_event_source_disable_unref(c->io);
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
                /* The reply has no form in this codec (a key gob cannot
                 * carry, ...): the caller learns why. */
                char text[300];
                snprintf(text, sizeof text, "rpc server: cannot encode reply%s%s", c->codec->encode_why[0] ? ": " : "",
                         c->codec->encode_why);
                log_warning("%s (%s)", text, service_method);
                r = codec_encode(c->codec, &c->out, service_method, seq, text, NULL);
        }
        return r;
}

/* Returns 1 when something went out, 0 when nothing could, < 0 when the
 * connection must close. */
static int conn_flush(Conn *c) {
        int progress = 0;
        while (buffer_len(&c->out) > 0) {
                ssize_t n = send(c->fd, buffer_data(&c->out), buffer_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                counter_add(&c->server->stats.bytes_out, (uint64_t) n);
                buffer_consume(&c->out, (size_t) n);
                progress = 1;
        }
        return progress;
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

/* The peer stopped sending while calls it made run: whether it is still
 * there to read their answers is worth finding out (conn_probe()). */
static bool conn_probing(Conn *c) {
        return c->eof && c->calls && c->codec && c->codec->type->probe;
}

static void conn_update_events(Conn *c) {
        uint32_t want = 0;
        if (conn_may_read(c))
                want |= EPOLLIN;
        if (buffer_len(&c->out) > 0)
                want |= EPOLLOUT;
        /* Waiting for nothing, the source is off; but a probed peer's
         * reset must still be seen (epoll always reports errors). */
        bool on = want != 0 || conn_probing(c);
        if (want != c->events)
                (void) sd_event_source_set_io_events(c->io, want);
        if (on != c->io_on)
                (void) sd_event_source_set_enabled(c->io, on ? SD_EVENT_ON : SD_EVENT_OFF);
        c->events = want;
        c->io_on = on;
}

/* A peer that closed for good answers the probe with a reset, which closes
 * the connection and cancels its calls; one that only half-closed skips
 * it, as whitespace between messages. */
static void conn_probe(Conn *c, usec_t now) {
        (void) buffer_append(&c->out, c->codec->type->probe, strlen(c->codec->type->probe));
        c->probed_at = now;
}

/* Since when the connection waits for what, after a round of reading,
 * decoding and writing. */
static void conn_track(Conn *c, bool decoded, bool wrote, usec_t now) {
        bool partial = c->state == CONN_RUNNING && conn_may_decode(c) &&
                       (buffer_len(&c->in) > 0 || codec_partial(c->codec));
        bool unread = buffer_len(&c->out) > 0;
        bool idle = c->n_unanswered == 0 && !partial && !unread;

        /* Each decoded message starts the clock again for the next. */
        c->partial_since = !partial ? USEC_INFINITY : decoded || c->partial_since == USEC_INFINITY ? now : c->partial_since;
        c->unread_since = !unread ? USEC_INFINITY : wrote || c->unread_since == USEC_INFINITY ? now : c->unread_since;
        c->idle_since = !idle ? USEC_INFINITY : decoded || c->idle_since == USEC_INFINITY ? now : c->idle_since;
        if (!conn_probing(c))
                c->probed_at = USEC_INFINITY;
}

typedef enum ConnWait {
        CONN_WAIT_NOTHING,
        CONN_WAIT_OPTION,
        CONN_WAIT_MESSAGE,
        CONN_WAIT_READER,
        CONN_WAIT_IDLE,
        CONN_WAIT_PROBE,
} ConnWait;

/* The connection's next deadline, and what it is for. */
static ConnWait conn_deadline(Conn *c, usec_t *ret) {
        geerpc_server *s = c->server;
        if (!IN_SET(c->state, CONN_RUNNING, CONN_DRAINING)) {
                /* Sniffed, through CONNECT, or not: the Option within 10 s. */
                *ret = usec_add(c->accepted, CONN_OPTION_TIMEOUT_USEC);
                return CONN_WAIT_OPTION;
        }
        const struct {
                ConnWait what;
                usec_t since, timeout;
        } waits[] = {
                { CONN_WAIT_MESSAGE, c->partial_since, s->message_timeout },
                { CONN_WAIT_READER, c->unread_since, s->message_timeout },
                { CONN_WAIT_IDLE, c->idle_since, s->idle_timeout },
                { CONN_WAIT_PROBE, c->probed_at, CONN_PROBE_INTERVAL_USEC },
        };
        ConnWait what = CONN_WAIT_NOTHING;
        *ret = USEC_INFINITY;
        for (size_t i = 0; i < ELEMENTSOF(waits); i++) {
                usec_t at = waits[i].since == USEC_INFINITY ? USEC_INFINITY : usec_add(waits[i].since, waits[i].timeout);
                if (at < *ret) {
                        *ret = at;
                        what = waits[i].what;
                }
        }
        return what;
}

void conn_on_deadline(WheelEntry *e, void *userdata) {
        Conn *c = (Conn *) e;
        geerpc_server *s = userdata;
        usec_t at, now = loop_now(s);
        char peer[128];

        ConnWait what = conn_deadline(c, &at);
        if (what == CONN_WAIT_NOTHING || at > now) {
                timer_wheel_set(s->deadlines, &c->deadline, at); /* moved meanwhile */
                return;
        }
        switch (what) {
        case CONN_WAIT_PROBE:
                conn_probe(c, now);
                conn_process(c);
                return;
        case CONN_WAIT_OPTION:
                log_info("rpc server: %s sent no Option within 10s, closing", conn_peer(c, peer, sizeof peer));
                break;
        case CONN_WAIT_MESSAGE:
                log_info("rpc server: %s did not complete a message within the message timeout, closing",
                         conn_peer(c, peer, sizeof peer));
                break;
        case CONN_WAIT_READER:
                log_info("rpc server: %s did not read its replies within the message timeout, closing",
                         conn_peer(c, peer, sizeof peer));
                break;
        case CONN_WAIT_IDLE:
                log_debug("rpc server: %s idle for the idle timeout, closing", conn_peer(c, peer, sizeof peer));
                conn_close(c);
                return;
        default:
                break;
        }
        /* A peer that overstayed gets a reset, not a FIN queued behind
         * replies it will not read: that would hold the kernel's buffers
         * (and keep the peer unaware) for as long as it reads nothing. */
        struct linger abort_now = { .l_onoff = 1, .l_linger = 0 };
        (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
        conn_close(c);
}

/* Returns 1 once the Option is taken, 0 when more bytes are needed, < 0 to
 * close. */
static int conn_handle_option(Conn *c) {
        size_t n;
        char peer[128];

        int r = json_scanner_scan(&c->option_scanner, &c->in, &n);
        if (r == 0)
                return 0;
        if (r < 0) {
                log_info("rpc server: options error from %s: %s, closing", conn_peer(c, peer, sizeof peer),
                         r == -EMSGSIZE ? "Option too large" : "not JSON");
                return r;
        }

        Option o;
        _cleanup_free_ char *why = NULL;
        r = option_parse(buffer_data(&c->in), n, &o, &why);
        if (r < 0) {
                log_info("%s (from %s), closing", strempty(why), conn_peer(c, peer, sizeof peer));
                return r;
        }
        json_scanner_consume(&c->option_scanner, &c->in, n);

        r = codec_new(codec_type_find(o.codec_type), c->server->max_message_size, &c->codec);
        if (r < 0)
                return r;
        c->handle_timeout = (usec_t) o.handle_timeout_ns / NSEC_PER_USEC;
        if (o.handle_timeout_ns > 0 && c->handle_timeout == 0)
                c->handle_timeout = 1;
        c->state = CONN_RUNNING;
        return 1;
}

static bool conn_finished(Conn *c) {
        return (c->state == CONN_DRAINING || c->input_done || c->close_after_flush) && c->n_unanswered == 0 &&
               buffer_len(&c->out) == 0;
}

void conn_process(Conn *c) {
        geerpc_server *s = c->server;
        usec_t now = loop_now(s), at;
        bool decoded = false;
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
                decoded = r > 0;
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
                                 c->codec->decode_why[0] ? c->codec->decode_why
                                 : r == -EMSGSIZE        ? "message larger than the limit"
                                                         : "malformed message");
                        goto close;
                }
                server_dispatch(c, &m);
                message_done(&m);
                decoded = true;
        }
        if (conn_probing(c) && c->probed_at == USEC_INFINITY)
                conn_probe(c, now); /* it has just stopped sending */

        r = conn_flush(c);
        if (r < 0) {
                log_debug_errno(r, "rpc server: write to %s failed: %m", conn_peer(c, peer, sizeof peer));
                goto close;
        }
        if (conn_finished(c))
                goto close;
        conn_update_events(c);
        conn_track(c, decoded, r > 0, now);
        (void) conn_deadline(c, &at);
        timer_wheel_set(s->deadlines, &c->deadline, at);
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
