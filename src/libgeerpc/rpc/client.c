/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "basic/address.h"
#include "rpc/client-internal.h"
#include "basic/log.h"
#include "codec/option.h"
#include "http/http-connect.h"

/* The client object: options, connect, the call entry points. The I/O
 * roles and the event thread are in client-io.c. */

_public_ int geerpc_client_new(geerpc_client **ret) {
        if (!ret)
                return -EINVAL;
        geerpc_client *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        atomic_init(&c->n_ref, 1);
        c->fd = -EBADF;
        c->bg_io.fd = -EBADF;
        c->deadline_armed = USEC_INFINITY;
        pthread_cond_init(&c->bg_cond, NULL);
        c->codec_type = &codec_json;
        c->connect_timeout = GEERPC_CONNECT_TIMEOUT_DEFAULT_USEC;
        c->max_message_size = GEERPC_MAX_MESSAGE_SIZE_DEFAULT;
        c->max_pending = GEERPC_CLIENT_MAX_PENDING_DEFAULT;
        /* Adaptive: the critical sections are a few hundred instructions;
         * spinning briefly beats sleeping in the kernel under contention. */
        pthread_mutexattr_t ma;
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
        pthread_mutex_init(&c->lock, &ma);
        pthread_mutex_init(&c->wlock, &ma);
        pthread_mutexattr_destroy(&ma);
        *ret = c;
        return 0;
}

_public_ int geerpc_client_set_codec(geerpc_client *c, const char *codec_type) {
        if (!c || !codec_type)
                return -EINVAL;
        if (c->fd >= 0)
                return -EISCONN;
        const CodecType *t = codec_type_find(codec_type);
        if (!t)
                return -EPROTONOSUPPORT;
        c->codec_type = t;
        return 0;
}

_public_ int geerpc_client_set_connect_timeout(geerpc_client *c, uint64_t usec) {
        if (!c)
                return -EINVAL;
        c->connect_timeout = usec == 0 ? USEC_INFINITY : usec;
        return 0;
}

_public_ int geerpc_client_set_handle_timeout(geerpc_client *c, uint64_t usec) {
        if (!c || usec > (uint64_t) INT64_MAX / NSEC_PER_USEC)
                return -EINVAL;
        if (c->fd >= 0)
                return -EISCONN;
        c->handle_timeout = usec;
        return 0;
}

_public_ int geerpc_client_set_max_message_size(geerpc_client *c, size_t n) {
        if (!c || (n > 0 && n < 64))
                return -EINVAL;
        if (c->fd >= 0)
                return -EISCONN;
        c->max_message_size = n ?: GEERPC_MAX_MESSAGE_SIZE_DEFAULT;
        return 0;
}

_public_ int geerpc_client_set_max_pending(geerpc_client *c, unsigned n) {
        if (!c)
                return -EINVAL;
        c->max_pending = n ?: GEERPC_CLIENT_MAX_PENDING_DEFAULT;
        return 0;
}

/* Waits for the (non-blocking) socket to become ready, before the deadline. */
static int wait_ready(int fd, short events, usec_t deadline) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (now >= deadline)
                return -ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int ms = deadline == USEC_INFINITY ? -1 : (int) MIN((deadline - now + 999) / 1000, (usec_t) INT32_MAX);
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
                return negative_errno();
        return 0;
}

/* Writes the whole buffer before the deadline. */
static int write_all(int fd, Buffer *b, usec_t deadline) {
        while (buffer_len(b) > 0) {
                ssize_t n = send(fd, buffer_data(b), buffer_len(b), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n >= 0) {
                        buffer_consume(b, (size_t) n);
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                int r = wait_ready(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* http@ addresses: CONNECT first, as Go's DialHTTP (docs/PROTOCOL.md).
 * Bytes after the answer's head, should the server have sent any yet,
 * belong to the RPC stream: they stay in in. A server that answers with
 * anything but 200 refused the connection. */
static int http_handshake(int fd, const char *address, usec_t deadline, Buffer *in) {
        Buffer req = {};
        int r = buffer_append_string(&req, HTTP_CONNECT_REQUEST);
        if (r >= 0)
                r = write_all(fd, &req, deadline);
        buffer_done(&req);
        if (r < 0)
                return r;

        for (;;) {
                unsigned status = 0;
                r = http_connect_response_parse(buffer_data(in), buffer_len(in), HTTP_CONNECT_HEAD_MAX, &status);
                if (r > 0) {
                        buffer_consume(in, (size_t) r);
                        if (status == 200)
                                return 0;
                        log_debug("rpc client: %s answered CONNECT with status %u", address, status);
                        return -ECONNREFUSED;
                }
                if (r < 0) {
                        log_debug("rpc client: %s did not answer CONNECT with HTTP", address);
                        return -EBADMSG;
                }
                r = buffer_reserve(in, 4096);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, buffer_tail(in), buffer_room(in), MSG_DONTWAIT);
                if (n > 0)
                        buffer_advance_end(in, (size_t) n);
                else if (n == 0)
                        return -ECONNRESET;
                else if (errno == EAGAIN)
                        r = wait_ready(fd, POLLIN, deadline);
                else if (errno != EINTR)
                        r = negative_errno();
                if (r < 0)
                        return r;
        }
}

/* The connection's first message, before the deadline (the socket is still
 * non-blocking). */
static int send_option(geerpc_client *c, int fd, usec_t deadline) {
        Buffer opt = {};
        Option o = {
                .magic_number = GEERPC_MAGIC_NUMBER,
                .connect_timeout_ns = c->connect_timeout == USEC_INFINITY ? 0 : (int64_t) (c->connect_timeout * NSEC_PER_USEC),
                .handle_timeout_ns = (int64_t) (c->handle_timeout * NSEC_PER_USEC),
        };
        strncpy(o.codec_type, c->codec_type->name, sizeof o.codec_type - 1);
        int r = c->codec_type->option_size > 0 ? option_append_padded(&opt, &o, c->codec_type->option_size)
                                               : option_append(&opt, &o);
        if (r >= 0)
                r = write_all(fd, &opt, deadline);
        buffer_done(&opt);
        return r;
}

/* The socket blocks from here on: a waiting caller sleeps in recv() itself
 * (one system call per reply instead of ppoll() + recv()), with SO_RCVTIMEO
 * bounding each sleep so deadlines are kept. Every other send and receive
 * passes MSG_DONTWAIT. */
static int make_blocking_in_slices(int fd) {
        struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t) CLIENT_RECV_SLICE_USEC };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                return negative_errno();
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return negative_errno();
        return 0;
}

_public_ int geerpc_client_connect(geerpc_client *c, const char *address) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(codec_freep) Codec *codec = NULL;
        _cleanup_free_ char *a = NULL;
        int r;

        if (!c || !address)
                return -EINVAL;
        if (c->fd >= 0)
                return -EISCONN;

        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), c->connect_timeout);
        a = strdup(address);
        if (!a)
                return -ENOMEM;
        Address parsed;
        r = address_parse(address, 0, &parsed, NULL);
        if (r < 0)
                return r;
        r = address_dial(address, c->connect_timeout, &fd);
        if (r < 0)
                return r;
        if (parsed.protocol == ADDRESS_HTTP) {
                r = http_handshake(fd, address, deadline, &c->in);
                if (r < 0) {
                        buffer_clear(&c->in);
                        return r;
                }
        }
        r = codec_new(c->codec_type, c->max_message_size, &codec);
        if (r < 0)
                return r;
        r = send_option(c, fd, deadline);
        if (r < 0)
                return r;
        r = make_blocking_in_slices(fd);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        c->fd = TAKE_FD(fd);
        c->codec = TAKE_PTR(codec);
        c->address = TAKE_PTR(a);
        /* Closed before it connected: it stays closed (calls fail with
         * -ESHUTDOWN). */
        if (c->state == CLIENT_NEW)
                client_set_state_locked(c, CLIENT_CONNECTED);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

_public_ int geerpc_client_dial(geerpc_client **ret, const char *address) {
        geerpc_client *c;
        int r;

        if (!ret)
                return -EINVAL;
        r = geerpc_client_new(&c);
        if (r < 0)
                return r;
        r = geerpc_client_connect(c, address);
        if (r < 0) {
                geerpc_client_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

_public_ geerpc_client *geerpc_client_ref(geerpc_client *c) {
        if (c)
                atomic_fetch_add(&c->n_ref, 1);
        return c;
}

_public_ int geerpc_client_close(geerpc_client *c) {
        if (!c)
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        bool was_closed = c->state != CLIENT_CONNECTED;
        client_fail_locked(c, -ESHUTDOWN); /* nothing if already closed */
        pthread_mutex_unlock(&c->lock);
        return was_closed ? -ENOTCONN : 0;
}

_public_ geerpc_client *geerpc_client_unref(geerpc_client *c) {
        if (!c)
                return NULL;
        if (atomic_fetch_sub(&c->n_ref, 1) != 1)
                return NULL;

        pthread_mutex_lock(&c->lock);
        client_fail_locked(c, -ESHUTDOWN); /* nothing if already closed */
        bool bg = c->bg_state != BG_NONE;
        pthread_mutex_unlock(&c->lock);

        if (bg && client_loop_on_thread(c->loop)) {
                /* Dropped from a completion handler (this client's or
                 * another's): the event thread cannot wait for itself; it
                 * frees the client once it has run what is left. */
                pthread_mutex_lock(&c->lock);
                client_set_bg_locked(c, BG_QUITTING_FREE);
                client_wake_bg(c);
                pthread_mutex_unlock(&c->lock);
                return NULL;
        }
        ClientLoop *l = bg ? c->loop : NULL;
        if (bg)
                client_stop_bg(c);
        client_free_resources(c);
        if (l)
                client_loop_release(l);
        return NULL;
}

_public_ int geerpc_client_is_available(geerpc_client *c) {
        if (!c)
                return 0;
        pthread_mutex_lock(&c->lock);
        bool ok = c->state == CLIENT_CONNECTED;
        if (ok && c->reader == READER_NONE && c->pending.n == 0) {
                /* Nobody is reading, so a peer that went away would go
                 * unnoticed until the next call: look now. */
                struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };
                if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                        client_fail_locked(c, -ECONNRESET);
                        ok = false;
                }
        }
        pthread_mutex_unlock(&c->lock);
        return ok;
}

_public_ const char *geerpc_client_get_address(geerpc_client *c) {
        return c ? c->address : NULL;
}

static usec_t deadline_from_timeout(uint64_t timeout_usec) {
        return timeout_usec == 0 ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), timeout_usec);
}

/* Registers the call under a new sequence number. */
static int register_call(geerpc_client *c, ClientCall *call) {
        int r;
        pthread_mutex_lock(&c->lock);
        if (c->fd < 0)
                r = -ENOTCONN; /* never connected */
        else if (c->state == CLIENT_CLOSED)
                r = c->close_error;
        else if (c->pending.n >= c->max_pending)
                r = -EBUSY;
        else {
                call->node.seq = ++c->next_seq;
                r = seq_table_put(&c->pending, &call->node);
                if (r >= 0 && call->async) {
                        r = client_ensure_bg_locked(c);
                        if (r < 0)
                                seq_table_remove(&c->pending, call->node.seq);
                        else {
                                c->n_async++;
                                LIST_APPEND(async_new, c->async_new, call);
                        }
                }
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

_public_ int geerpc_client_call(geerpc_client *c, const char *service_method, json_t *args, uint64_t timeout_usec,
                                json_t **ret_reply, char **ret_error) {
        if (!c || isempty(service_method))
                return -EINVAL;

        usec_t deadline = deadline_from_timeout(timeout_usec);
        ClientCall call = {};
        int r;

        r = register_call(c, &call);
        if (r < 0)
                return r;

        _cleanup_free_ char *why = NULL;
        r = client_send_request(c, service_method, call.node.seq, args, false, &why);
        if (r < 0) {
                /* Nothing was written: take the call back, unless the
                 * connection broke meanwhile and completed it. */
                pthread_mutex_lock(&c->lock);
                bool mine = seq_table_remove(&c->pending, call.node.seq);
                pthread_mutex_unlock(&c->lock);
                if (mine) {
                        if (ret_error && why)
                                *ret_error = TAKE_PTR(why);
                        return r;
                }
        }

        r = client_wait_reply(c, &call, deadline);

        if (r == 0 && ret_reply)
                *ret_reply = TAKE_PTR(call.reply);
        if (r == -EREMOTEIO && ret_error)
                *ret_error = TAKE_PTR(call.error);
        if (call.reply)
                json_decref(call.reply);
        free(call.error);
        return r;
}

_public_ int geerpc_client_call_async(geerpc_client *c, const char *service_method, json_t *args,
                                      uint64_t timeout_usec, geerpc_call_handler handler, void *userdata,
                                      uint64_t *ret_id) {
        int r;

        if (!c || isempty(service_method) || !handler)
                return -EINVAL;

        ClientCall *call = calloc(1, sizeof *call);
        if (!call)
                return -ENOMEM;
        call->async = true;
        call->client = c;
        call->handler = handler;
        call->userdata = userdata;
        call->deadline = deadline_from_timeout(timeout_usec);

        r = register_call(c, call);
        if (r < 0) {
                free(call);
                return r;
        }
        uint64_t id = call->node.seq;

        r = client_send_request(c, service_method, id, args, true, NULL);
        if (r < 0) {
                pthread_mutex_lock(&c->lock);
                if (seq_table_remove(&c->pending, id)) {
                        /* The event thread frees it without a callback. */
                        call->discarded = true;
                        atomic_store(&call->done, true);
                        c->n_async--;
                } else
                        r = 0; /* the connection broke: the handler will say so */
                pthread_mutex_unlock(&c->lock);
                client_wake_bg(c);
                if (r < 0)
                        return r;
        } else
                client_wake_bg(c);

        if (ret_id)
                *ret_id = id;
        return 0;
}

_public_ int geerpc_client_cancel(geerpc_client *c, uint64_t id) {
        if (!c)
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        ClientCall *call = (ClientCall *) seq_table_remove(&c->pending, id);
        if (call)
                client_complete_locked(c, call, -ECANCELED, NULL, NULL);
        pthread_mutex_unlock(&c->lock);
        if (!call)
                return -ENOENT;
        client_wake_bg(c);
        return 0;
}
