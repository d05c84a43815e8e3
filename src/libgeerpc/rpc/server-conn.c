/* SPDX-License-Identifier: MIT */
#include <malloc.h>
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

static void conn_io(IoSetEntry *e, uint32_t revents, void *userdata);

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
        c->accepted = c->last_input = loop_now(s);
        c->partial_since = c->unread_since = c->idle_since = c->probed_at = USEC_INFINITY;
        /* Edge-triggered while sniffing: peeking leaves the bytes unread,
         * so a level-triggered source would fire again at once while too
         * few of them have come to decide. */
        c->state = s->http_enabled ? CONN_SNIFF : CONN_OPTION;
        json_scanner_init(&c->option_scanner, OPTION_SIZE_MAX);

        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        r = io_set_add(s->conns_io, &c->io, fd, s->http_enabled ? EPOLLIN | EPOLLRDHUP | EPOLLET : EPOLLIN, conn_io,
                       c);
        if (r < 0) {
                free(c);
                return r;
        }
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
        /* Before the socket changes hands: we must not watch it. */
        io_set_remove(&c->io);
        c->fd = -EBADF;
        conn_close(c);
        return fd;
}

void conn_set_events(Conn *c, uint32_t events) {
        (void) io_set_set_events(&c->io, events);
        (void) io_set_set_enabled(&c->io, true);
}

/* ---- buffers: shared while nothing is half done ------------------------------ */

/* Moves what is left in a shared buffer behind the connection's own bytes:
 * a large remainder by exchanging the buffers (no copy; the shared one
 * gets the connection's empty one), a small one by copying. */
static int conn_stash(Buffer *own, Buffer *shared) {
        int r = 0;
        if (buffer_len(shared) == 0)
                ;
        else if (buffer_len(own) == 0 && buffer_len(shared) > CONN_BUFFER_KEEP / 4)
                buffer_swap(own, shared);
        else
                r = buffer_append(own, buffer_data(shared), buffer_len(shared));
        buffer_clear(shared);
        return r;
}

/* Where a reply goes: the shared buffer, unless the connection has output
 * waiting (replies keep their order). */
static Buffer *conn_output(Conn *c) {
        geerpc_server *s = c->server;
        if (buffer_len(&c->out) > 0 || (s->scratch_out_owner && s->scratch_out_owner != c))
                return &c->out;
        s->scratch_out_owner = c;
        return &s->scratch_out;
}

static size_t conn_output_len(Conn *c) {
        geerpc_server *s = c->server;
        return buffer_len(&c->out) + (s->scratch_out_owner == c ? buffer_len(&s->scratch_out) : 0);
}

/* Where the connection's input is: the shared buffer while this wake-up's
 * bytes are there, else its own. */
static Buffer *conn_input(Conn *c) {
        geerpc_server *s = c->server;
        return s->scratch_in_owner == c ? &s->scratch_in : &c->in;
}

/* Keeps what a shared buffer holds for the connection in its own. */
static int conn_stash_input(Conn *c) {
        geerpc_server *s = c->server;
        if (s->scratch_in_owner != c)
                return 0;
        s->scratch_in_owner = NULL;
        return conn_stash(&c->in, &s->scratch_in);
}

static void conn_forget_shared(Conn *c) {
        geerpc_server *s = c->server;
        if (s->scratch_in_owner == c) {
                buffer_clear(&s->scratch_in);
                s->scratch_in_owner = NULL;
        }
        if (s->scratch_out_owner == c) {
                buffer_clear(&s->scratch_out);
                s->scratch_out_owner = NULL;
        }
}

static int on_shrink(sd_event_source *es, uint64_t usec, void *userdata);

/* An empty buffer of the connection's is freed at once when small; a large
 * one stays while the connection is busy (regrowing it for every large
 * message would cost copies and page faults) and goes once it is idle. */
static void conn_trim(Conn *c) {
        geerpc_server *s = c->server;
        bool roomy = false;

        Buffer *own[] = { &c->in, &c->out };
        for (size_t i = 0; i < ELEMENTSOF(own); i++) {
                if (own[i]->allocated > CONN_BUFFER_KEEP)
                        roomy = true;
                else if (buffer_len(own[i]) == 0)
                        buffer_done(own[i]);
        }
        if (!roomy || c->is_roomy)
                return;
        LIST_PREPEND(roomy, s->roomy, c);
        c->is_roomy = true;
        if (!s->shrink_timer)
                (void) sd_event_add_time_relative(s->event, &s->shrink_timer, CLOCK_MONOTONIC, CONN_BUFFER_IDLE_USEC,
                                                  CONN_BUFFER_IDLE_USEC / 4, on_shrink, s);
        else
                (void) sd_event_source_set_enabled(s->shrink_timer, SD_EVENT_ONESHOT);
}

static void conn_unroom(Conn *c) {
        if (!c->is_roomy)
                return;
        LIST_REMOVE(roomy, c->server->roomy, c);
        c->is_roomy = false;
}

static int on_shrink(sd_event_source *es, uint64_t usec, void *userdata) {
        geerpc_server *s = userdata;
        usec_t now = loop_now(s);
        size_t freed = 0;

        LIST_FOREACH_SAFE(roomy, c, n, s->roomy)
                if (buffer_len(&c->in) == 0 && buffer_len(&c->out) == 0 &&
                    now - c->last_input >= CONN_BUFFER_IDLE_USEC) {
                        freed += c->in.allocated + c->out.allocated;
                        buffer_done(&c->in);
                        buffer_done(&c->out);
                        conn_unroom(c);
                }
        /* The shared buffers, too, once a large message has gone through. */
        Buffer *shared[] = { &s->scratch_in, &s->scratch_out };
        for (size_t i = 0; i < ELEMENTSOF(shared); i++)
                if (shared[i]->allocated > CONN_BUFFER_KEEP && buffer_len(shared[i]) == 0) {
                        freed += shared[i]->allocated;
                        buffer_done(shared[i]);
                }
        /* Large buffers come from the heap once the allocator has seen a
         * few (its mmap threshold moves up): give the pages back. */
        if (freed >= CONN_BUFFER_TRIM_MIN)
                (void) malloc_trim(0);
        if (s->roomy)
                (void) sd_event_source_set_time_relative(es, CONN_BUFFER_IDLE_USEC);
        (void) sd_event_source_set_enabled(es, s->roomy ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        return 0;
}

void conn_close(Conn *c) {
        geerpc_server *s = c->server;

        server_conn_cancel_calls(c);
        s->n_unanswered -= c->n_unanswered;

        timer_wheel_remove(s->deadlines, &c->deadline);
        peer_limit_release(&s->peers, c->peer);
        io_set_remove(&c->io);
        safe_close(c->fd);
        conn_forget_shared(c);
        conn_unroom(c);
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
        Buffer *out = conn_output(c);
        int r = codec_encode(c->codec, out, service_method, seq, error, body);
        if (r < 0 && body && isempty(error)) {
                /* The reply has no form in this codec (a key gob cannot
                 * carry, ...): the caller learns why. */
                char text[300];
                snprintf(text, sizeof text, "rpc server: cannot encode reply%s%s", c->codec->encode_why[0] ? ": " : "",
                         c->codec->encode_why);
                log_warning("%s (%s)", text, service_method);
                r = codec_encode(c->codec, out, service_method, seq, text, NULL);
        }
        return r;
}

/* Returns 1 when something went out, 0 when nothing could, < 0 when the
 * connection must close. */
static int conn_send(Conn *c, Buffer *b) {
        int progress = 0;
        while (buffer_len(b) > 0) {
                ssize_t n = send(c->fd, buffer_data(b), buffer_len(b), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                counter_add(&c->server->stats.bytes_out, (uint64_t) n);
                buffer_consume(b, (size_t) n);
                progress = 1;
        }
        return progress;
}

/* Sends what is queued: the connection's own output, then what its replies
 * put in the shared buffer; what the socket does not take stays with the
 * connection. Returns as conn_send(). */
static int conn_flush(Conn *c) {
        geerpc_server *s = c->server;
        int r = conn_send(c, &c->out);
        if (s->scratch_out_owner != c)
                return r;
        if (r >= 0 && buffer_len(&c->out) == 0) {
                int k = conn_send(c, &s->scratch_out);
                r = k < 0 ? k : MAX(r, k);
        }
        s->scratch_out_owner = NULL;
        int k = conn_stash(&c->out, &s->scratch_out);
        return r < 0 ? r : k < 0 ? k : r;
}

/* Backpressure: stop taking requests while too many are unanswered or too
 * much output waits for the peer to read it. */
static bool conn_may_decode(Conn *c) {
        return c->state == CONN_OPTION || c->state == CONN_CONNECT ||
               (c->state == CONN_RUNNING && c->n_unanswered < c->server->max_pending &&
                conn_output_len(c) < CONN_OUTPUT_HIGH_WATER);
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
        /* Waiting for nothing, the entry is off; but a probed peer's
         * reset must still be seen (epoll always reports errors). */
        if (want == 0 && !conn_probing(c))
                (void) io_set_set_enabled(&c->io, false);
        else
                conn_set_events(c, want);
}

/* A peer that closed for good answers the probe with a reset, which closes
 * the connection and cancels its calls; one that only half-closed skips
 * it, as whitespace between messages. */
static void conn_probe(Conn *c, usec_t now) {
        (void) buffer_append(conn_output(c), c->codec->type->probe, strlen(c->codec->type->probe));
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
        if (c->state != CONN_RUNNING) {
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

/* Stopping: nothing half received, nothing received for a while. */
static bool conn_quiet(Conn *c) {
        return c->draining && buffer_len(&c->in) == 0 && !codec_partial(c->codec) &&
               loop_now(c->server) - c->last_input >= CONN_DRAIN_QUIET_USEC;
}

static bool conn_finished(Conn *c) {
        return (c->input_done || c->close_after_flush || conn_quiet(c)) && c->n_unanswered == 0 &&
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
                r = codec_decode(c->codec, conn_input(c), &m);
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
        if (conn_stash_input(c) < 0)
                goto close;
        if (conn_probing(c) && c->probed_at == USEC_INFINITY)
                conn_probe(c, now); /* it has just stopped sending */

        r = conn_flush(c);
        if (r < 0) {
                log_debug_errno(r, "rpc server: write to %s failed: %m", conn_peer(c, peer, sizeof peer));
                goto close;
        }
        if (conn_finished(c))
                goto close;
        conn_trim(c);
        conn_update_events(c);
        conn_track(c, decoded, r > 0, now);
        (void) conn_deadline(c, &at);
        timer_wheel_set(s->deadlines, &c->deadline, at);
        return;

close:
        conn_close(c);
}

/* A connection the server accepted is served to the end of the grace
 * period: its peer may have sent a request that has not arrived yet (one
 * accepted just before the stop, say). It closes once it has been quiet
 * for CONN_DRAIN_QUIET_USEC with nothing in flight. */
void conn_start_draining(Conn *c) {
        c->draining = true;
        (void) conn_drain_check(c);
}

bool conn_drain_check(Conn *c) {
        if (!conn_finished(c))
                return false;
        conn_close(c);
        return true;
}

/* Reads what the socket has, up to CONN_READ_BUDGET: into the shared
 * buffer when the connection has nothing half read (so that an idle
 * connection holds no buffer), else into its own, whose room grows with
 * what it holds past CONN_READ_CHUNK (a large message takes few reads and
 * few copies). Returns
 * 0 (c->eof set once the peer has closed its side), or a negative errno. */
static int conn_read(Conn *c) {
        geerpc_server *s = c->server;
        size_t total = 0;
        int r;

        Buffer *in = &c->in;
        if (c->state == CONN_RUNNING && buffer_len(&c->in) == 0 && !s->scratch_in_owner) {
                in = &s->scratch_in;
                s->scratch_in_owner = c;
        }
        while (total < CONN_READ_BUDGET) {
                size_t held = buffer_len(in);
                r = buffer_reserve(in, held < CONN_READ_CHUNK ? CONN_READ_CHUNK - held : held);
                if (r < 0)
                        return r;
                size_t room = buffer_room(in);
                ssize_t n = recv(c->fd, buffer_tail(in), room, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                if (n == 0) {
                        c->eof = true;
                        break;
                }
                counter_add(&s->stats.bytes_in, (uint64_t) n);
                buffer_advance_end(in, (size_t) n);
                total += (size_t) n;
                if ((size_t) n < room)
                        break; /* the socket is empty */
                if (in != &c->in) {
                        /* More than the shared buffer holds: a large
                         * message, which the connection keeps. */
                        r = conn_stash_input(c);
                        if (r < 0)
                                return r;
                        in = &c->in;
                }
        }
        if (total > 0)
                c->last_input = loop_now(s);
        return 0;
}

static void conn_io(IoSetEntry *e, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char peer[128];

        if (c->state == CONN_SNIFF && server_http_sniff(c, revents) <= 0)
                return;

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
                        return;
                }
        } else if ((revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLOUT)) {
                conn_close(c);
                return;
        }
        conn_process(c);
}
