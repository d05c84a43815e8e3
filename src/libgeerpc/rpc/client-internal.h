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
 * socket.
 *
 * Who holds what is spelled out by four small state machines, each under
 * one lock (ClientState, ClientReader, ClientBg under lock; ClientFlusher
 * under wlock). Every change goes through a setter below that assert()s
 * the transition is one the design allows; the connection's and the event
 * thread's changes are logged at debug level (the roles change hands on
 * every call: they are asserted, not logged). */

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

#include "basic/buffer.h"
#include "basic/list.h"
#include "basic/log.h"
#include "codec/codec.h"
#include "geerpc/client.h"
#include "rpc/client-loop.h"
#include "rpc/seq-table.h"

#define CLIENT_READ_CHUNK (64U * 1024U)
#define CLIENT_DELIVER_BATCH 64 /* replies handed over per lock */

/* How long a reader sleeps in recv() before looking at its deadline again;
 * deadlines closer than this are waited for with ppoll() instead. */
#define CLIENT_RECV_SLICE_USEC (200 * USEC_PER_MSEC)

/* The connection (under lock). */
typedef enum ClientState {
        CLIENT_NEW,       /* not connected: options may be set */
        CLIENT_CONNECTED, /* calls may be made */
        CLIENT_CLOSED,    /* closed or broken: every call fails with close_error */
        _CLIENT_STATE_MAX,
} ClientState;

/* Who holds the reader role (under lock). */
typedef enum ClientReader {
        READER_NONE,         /* free: the next blocking caller that waits takes it */
        READER_CALLER,       /* a blocking caller sleeps in recv() and hands out replies */
        READER_EVENT_THREAD, /* only async calls wait: the event thread reads on POLLIN */
        _CLIENT_READER_MAX,
} ClientReader;

/* Who holds the flusher role (under wlock). */
typedef enum ClientFlusher {
        FLUSHER_NONE,    /* the next thread that appends a request writes */
        FLUSHER_WRITING, /* a thread writes, and keeps writing what others append meanwhile */
        FLUSHER_STALLED, /* the socket was full: the event thread waits for POLLOUT, then writes */
        _CLIENT_FLUSHER_MAX,
} ClientFlusher;

/* The client on the shared event thread (under lock; client-loop.h). */
typedef enum ClientBg {
        BG_NONE,          /* not attached */
        BG_RUNNING,       /* attached: its socket and its calls' timers are on the loop */
        BG_QUITTING,      /* the last unref waits for the loop to let it go */
        BG_QUITTING_FREE, /* the last unref ran on the loop thread: the loop frees it */
        BG_DETACHED,      /* let go (after QUITTING): the last unref frees it */
        _CLIENT_BG_MAX,
} ClientBg;

typedef struct ClientCall ClientCall;
struct ClientCall {
        SeqNode node; /* seq and the pending table's link; first */
        bool async;
        atomic_bool done; /* set (release) once result/reply/error are final */
        bool discarded;   /* async call that failed to start: no callback */
        int result;
        json_t *reply;
        char *error;
        atomic_uint wake; /* futex word: bumped to wake the caller */
        LIST_FIELDS(ClientCall, waiters); /* linked while a blocking caller sleeps on wake */
        /* Async calls; the timer is the event thread's alone. */
        geerpc_client *client;
        geerpc_call_handler handler;
        void *userdata;
        usec_t deadline; /* CLOCK_MONOTONIC; USEC_INFINITY: none */
        LIST_FIELDS(ClientCall, deadlines); /* in the client's list, by deadline */
        LIST_FIELDS(ClientCall, async_new); /* not in that list yet */
        LIST_FIELDS(ClientCall, completed); /* callback not run yet */
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

        /* lock: pending calls, the reader role, the state, the event
         * thread's state. */
        pthread_mutex_t lock;
        SeqTable pending;
        uint64_t next_seq;
        ClientState state;
        int close_error; /* < 0 once CLIENT_CLOSED */
        ClientReader reader;
        LIST_HEAD(ClientCall, waiters); /* blocking calls waiting, not reading */
        unsigned n_async;               /* async calls pending */
        LIST_HEAD(ClientCall, async_new);
        LIST_HEAD(ClientCall, completed);

        Buffer in; /* the reader's */

        /* wlock: the output queue and the flusher role. Taken before lock
         * when both are needed. */
        pthread_mutex_t wlock;
        Buffer out, sending;
        ClientFlusher flusher;
        /* The reader hands out a batch of replies: what is appended
         * meanwhile waits for it (unless a flusher is at work), as it
         * writes it all at once when done. A window of the reader role,
         * kept under wlock because appenders look at it. */
        bool delivering;
        /* The event thread runs completion handlers: asynchronous calls
         * appended meanwhile wait for it to write them all at once. */
        bool completing;

        /* The event thread (client-loop.h): the state is under lock, and
         * bg_cond says when it changes to BG_DETACHED; loop is set once
         * (atomically: client_wake_bg() reads it without a lock); the rest
         * is the loop thread's own. */
        ClientBg bg_state;
        pthread_cond_t bg_cond;
        ClientLoop *loop;
        bool loop_queued;                          /* under the loop's lock */
        LIST_FIELDS(struct geerpc_client, loop_queue); /* likewise */
        IoSetEntry bg_io;
        uint32_t bg_events;
        /* Async calls with a deadline, earliest first, and one timer for
         * them all (a time source per call cost more than the rest of the
         * call). The timer may fire early, never late: it is armed at the
         * earliest deadline known when armed, and completions only remove
         * calls. */
        LIST_HEAD(ClientCall, deadlines);
        sd_event_source *deadline_timer;
        usec_t deadline_armed; /* USEC_INFINITY: off */
};

/* ---- the state machines' transitions ---------------------------------------- */

const char *client_state_to_string(ClientState s);
const char *client_bg_to_string(ClientBg s);

static inline void client_set_state_locked(geerpc_client *c, ClientState s) {
        /* NEW -> CONNECTED -> CLOSED, or NEW -> CLOSED (closed before it
         * connected; a connect() after that leaves it closed). */
        assert(s == CLIENT_CLOSED ? c->state != CLIENT_CLOSED && c->close_error < 0
                                  : c->state == CLIENT_NEW && s == CLIENT_CONNECTED);
        log_debug("rpc client %s: %s -> %s", strempty(c->address), client_state_to_string(c->state),
                  client_state_to_string(s));
        c->state = s;
}

static inline void client_set_bg_locked(geerpc_client *c, ClientBg s) {
        /* NONE -> RUNNING -> QUITTING (-> DETACHED) or QUITTING_FREE. */
        assert(s == BG_RUNNING    ? c->bg_state == BG_NONE
               : s == BG_DETACHED ? c->bg_state == BG_QUITTING
                                  : c->bg_state == BG_RUNNING && IN_SET(s, BG_QUITTING, BG_QUITTING_FREE));
        log_debug("rpc client %s: event thread %s -> %s", strempty(c->address), client_bg_to_string(c->bg_state),
                  client_bg_to_string(s));
        c->bg_state = s;
}

/* The reader role changes hands only between NONE and a holder: a holder
 * never passes it straight on, it frees it and wakes the next. */
static inline void client_set_reader_locked(geerpc_client *c, ClientReader from, ClientReader to) {
        assert(c->reader == from);
        assert((from == READER_NONE) != (to == READER_NONE));
        /* Taken only while calls wait on a live connection; the event
         * thread only once it runs. */
        assert(to == READER_NONE || (c->state == CLIENT_CONNECTED && c->pending.n > 0));
        assert(to != READER_EVENT_THREAD || c->bg_state != BG_NONE);
        c->reader = to;
}

/* NONE -> WRITING (a thread takes the role), WRITING -> STALLED (the socket
 * is full: to the event thread) -> WRITING (POLLOUT), WRITING -> NONE (all
 * written, or the write failed). */
static inline void client_set_flusher_locked(geerpc_client *c, ClientFlusher from, ClientFlusher to) {
        assert(c->flusher == from);
        assert(from == FLUSHER_WRITING ? to != FLUSHER_WRITING : to == FLUSHER_WRITING);
        c->flusher = to;
}

/* client-io.c */
/* async: the request may wait for the event thread's handlers to finish
 * (client_send_request() says why). -EINVAL when the codec cannot encode
 * args: *ret_why (optional) says why. */
int client_send_request(geerpc_client *c, const char *service_method, uint64_t seq, json_t *args, bool async,
                        char **ret_why);
int client_wait_reply(geerpc_client *c, ClientCall *call, usec_t deadline);
void client_fail_locked(geerpc_client *c, int error);
void client_complete_locked(geerpc_client *c, ClientCall *call, int result, json_t *reply, char *error);
int client_ensure_bg_locked(geerpc_client *c);
void client_wake_bg(geerpc_client *c);
/* The last unref, off the loop thread: waits until the loop lets go. */
void client_stop_bg(geerpc_client *c);
/* The loop thread's look at a client (client-loop.c calls it). */
void client_bg_sync(geerpc_client *c);
void client_free_resources(geerpc_client *c);
