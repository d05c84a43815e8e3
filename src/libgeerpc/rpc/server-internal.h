/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the RPC server, shared by server.c (object, services,
 * listeners, stop), server-conn.c (one connection's state machine) and
 * server-call.c (dispatching requests, the worker pool hand-over). */

#include <pthread.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

#include "basic/buffer.h"
#include "basic/list.h"
#include "codec/codec.h"
#include "geerpc/server.h"
#include "codec/json-scanner.h"
#include "codec/message.h"
#include "rpc/worker-pool.h"

/* Named limits of a connection. */
#define CONN_READ_CHUNK (64U * 1024U)         /* bytes read per wake-up */
#define CONN_OUTPUT_HIGH_WATER (1024U * 1024U) /* stop decoding above this */
#define CONN_OPTION_TIMEOUT_USEC (10 * USEC_PER_SEC) /* to send the Option */
#define SERVER_ACCEPT_BATCH 64                 /* accepts per wake-up */
#define SERVER_FREE_WAIT_USEC (5 * USEC_PER_SEC) /* for blocking handlers */

typedef struct Conn Conn;
typedef struct ServerCall ServerCall;

typedef struct Method {
        char *name;
        geerpc_method_handler handler;
        unsigned flags;
} Method;

typedef struct Service {
        char *name;
        Method *methods;
        size_t n_methods;
        void *userdata;
} Service;

typedef struct Listener {
        geerpc_server *server;
        int fd;
        sd_event_source *source;
        LIST_FIELDS(struct Listener, listeners);
} Listener;

typedef enum ConnState {
        CONN_OPTION,  /* waiting for the Option */
        CONN_RUNNING, /* requests flow */
        CONN_DRAINING, /* no more reads: answer what is in flight, then close */
} ConnState;

struct Conn {
        geerpc_server *server;
        int fd;
        sd_event_source *io;
        sd_event_source *option_timer;
        ConnState state;
        uint32_t events; /* what io currently waits for; 0 = disabled */
        bool eof;        /* the peer closed its side: no more reads */
        bool input_done; /* after EOF, every buffered request was taken */
        Buffer in, out;
        JsonScanner option_scanner;
        Codec *codec;
        usec_t handle_timeout;  /* from the Option; 0 = none */
        unsigned n_unanswered;  /* calls received, reply not yet queued */
        LIST_HEAD(ServerCall, calls); /* blocking calls handed to workers */
        LIST_FIELDS(Conn, conns);
};

struct ServerCall {
        WorkerTask task; /* first: the pool hands us back as this */
        atomic_uint n_ref;
        geerpc_server *server;
        Conn *conn; /* NULL once the connection is gone */
        /* Copied from the method table: a worker abandoned at the server's
         * end must not look into the table, which is freed then. */
        geerpc_method_handler handler;
        void *userdata;
        char *service_method;
        uint64_t seq;
        json_t *args;
        /* Written by the worker, read by the loop after the hand-back. */
        int result;
        json_t *reply;
        char *error;
        /* Loop-thread only. */
        sd_event_source *timer;
        bool answered;
        LIST_FIELDS(ServerCall, calls); /* in conn->calls */
        LIST_FIELDS(ServerCall, done);  /* in the server's done queue */
};

typedef enum ServerState {
        SERVER_IDLE,
        SERVER_STOPPING,
        SERVER_STOPPED,
} ServerState;

struct geerpc_server {
        unsigned n_ref;
        sd_event *event;
        int64_t priority;

        Service *services;
        size_t n_services;

        LIST_HEAD(Listener, listeners);
        bool listeners_paused;
        sd_event_source *accept_retry; /* after EMFILE */
        LIST_HEAD(Conn, conns);
        /* Written on the loop thread; atomic because the observability
         * getters may read them from any thread. */
        atomic_uint n_conns;
        atomic_uint n_unanswered;

        WorkerPool *pool;

        /* Limits. */
        unsigned max_connections;
        unsigned max_pending;
        size_t max_message_size;
        unsigned n_workers;

        /* Worker -> loop hand-back, and cross-thread stop requests. */
        pthread_mutex_t lock;
        LIST_HEAD(ServerCall, done); /* finished on a worker, not yet answered */
        int wake_fd;
        sd_event_source *wake_source;
        bool stop_requested;
        usec_t stop_grace;
        geerpc_server_stopped_handler stop_done;
        void *stop_userdata;

        ServerState state;
        sd_event_source *grace_timer;
        bool exit_loop_on_stop; /* set by geerpc_server_run() */
};

/* server-conn.c */
int conn_new(geerpc_server *s, int fd, Conn **ret);
void conn_close(Conn *c);
/* Decodes and dispatches what is buffered, flushes, updates the epoll mask,
 * and closes the connection when it is finished. */
void conn_process(Conn *c);
void conn_start_draining(Conn *c);
int conn_queue_reply(Conn *c, const char *service_method, uint64_t seq, const char *error, json_t *body);
const char *conn_peer(Conn *c, char *buf, size_t size);

/* server-call.c */
void server_dispatch(Conn *c, Message *m);
void server_call_detach(ServerCall *call); /* the connection closes */
int server_on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* server.c */
/* The names of the services s offers, sorted (a NULL-terminated strv):
 * what its registration announces. Loop thread, like add_service(). */
int server_get_service_names(geerpc_server *s, char ***ret);
void server_conn_closed(geerpc_server *s);
void server_check_stopped(geerpc_server *s);
int server_ensure_pool(geerpc_server *s);
void server_begin_stop(geerpc_server *s, usec_t grace);
