/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the RPC client, shared by client.c (object, connect, calls)
 * and client-io.c (the read and write roles, the event thread).
 *
 * Two roles move between threads instead of one I/O thread doing all the
 * work, so that a sequential caller reads its own reply with no thread
 * hop (the cost that dominates a loopback round trip):
 *
 *  - the reader: whoever holds it reads the socket and hands each reply to
 *    its call. A blocking caller takes it when nobody has it; when its own
 *    reply has come it passes the role to another waiting caller, or to the
 *    event thread when only asynchronous calls are left.
 *  - the flusher: whoever appends a request while nobody is writing writes
 *    the buffer, picking up whatever other threads appended meanwhile (write
 *    coalescing). While the reader is handing out a batch of replies, the
 *    callers it wakes only append: the reader writes their requests in one
 *    go before it reads again. When the socket is full the rest goes to the
 *    event thread, which waits for POLLOUT; callers never block on a write.
 *
 * The event thread (an sd-event loop) is started on first need: async
 * calls (their deadlines and completion callbacks run there) or a full
 * socket. */

#include <pthread.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

#include "basic/buffer.h"
#include "codec/codec.h"
#include "geerpc/client.h"
#include "rpc/seq-table.h"

#define CLIENT_READ_CHUNK (64U * 1024U)
#define CLIENT_DELIVER_BATCH 64 /* replies handed over per lock */

/* How long a reader sleeps in recv() before looking at its deadline again;
 * deadlines closer than this are waited for with ppoll() instead. */
#define CLIENT_RECV_SLICE_USEC (200 * USEC_PER_MSEC)

typedef struct ClientCall ClientCall;
struct ClientCall {
        SeqNode node; /* seq and the pending table's link; first */
        bool async;
        atomic_bool done; /* set (release) once result/reply/error are final */
        bool waiting;     /* a blocking caller sleeps on wake; in c->waiters */
        bool discarded;   /* async call that failed to start: no callback */
        int result;
        json_t *reply;
        char *error;
        atomic_uint wake;           /* futex word: bumped to wake the caller */
        ClientCall *wprev, *wnext;  /* in the waiters list */
        /* Async calls; the timer is the event thread's alone. */
        geerpc_client *client;
        geerpc_call_handler handler;
        void *userdata;
        usec_t deadline; /* CLOCK_MONOTONIC; USEC_INFINITY: none */
        sd_event_source *timer;
        ClientCall *new_next;  /* in async_new: timer not armed yet */
        ClientCall *done_next; /* in completed: callback not run yet */
};

struct geerpc_client {
        atomic_uint n_ref;
        char *address;
        const CodecType *codec_type;
        usec_t connect_timeout;
        usec_t handle_timeout;
        size_t max_message_size;
        unsigned max_pending;

        int fd;
        Codec *codec; /* decode: reader only; encode: under wlock */

        /* lock: pending calls, the reader role, the state. */
        pthread_mutex_t lock;
        SeqTable pending;
        uint64_t next_seq;
        bool connected;
        bool closed;
        int close_error;
        bool reader_busy;
        ClientCall *waiters; /* blocking calls waiting, not reading */
        unsigned n_async;    /* async calls pending */
        ClientCall *async_new, *async_new_tail;
        ClientCall *completed, *completed_tail;

        Buffer in; /* the reader's */

        /* wlock: the output queue and the flusher role. Taken before lock
         * when both are needed. */
        pthread_mutex_t wlock;
        Buffer out, sending;
        bool flushing;
        bool write_stalled;     /* the event thread holds the flusher role */
        bool reader_delivering; /* the reader hands out replies, then flushes */

        /* The event thread. */
        bool bg_started;
        bool bg_quit;
        bool bg_reading; /* the event thread holds the reader role */
        bool free_on_exit;
        pthread_t bg;
        int wake_fd;
        sd_event *bg_event;
        sd_event_source *bg_io, *bg_wake;
        uint32_t bg_events;
};

/* client-io.c */
/* -EINVAL when the codec cannot encode args: *ret_why (optional) says why. */
int client_send_request(geerpc_client *c, const char *service_method, uint64_t seq, json_t *args, char **ret_why);
int client_wait_reply(geerpc_client *c, ClientCall *call, usec_t deadline);
void client_fail_locked(geerpc_client *c, int error);
void client_complete_locked(geerpc_client *c, ClientCall *call, int result, json_t *reply, char *error);
int client_ensure_bg_locked(geerpc_client *c);
void client_wake_bg(geerpc_client *c);
void client_stop_bg(geerpc_client *c);
void client_free_resources(geerpc_client *c);
