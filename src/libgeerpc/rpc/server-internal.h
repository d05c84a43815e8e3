/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the RPC server, shared by server.c (object, services,
 * listeners, stop), server-conn.c (one connection's state machine),
 * server-call.c (dispatching requests, the worker pool hand-over),
 * server-http.c (HTTP on the RPC port: telling it apart, CONNECT, the
 * pages), server-stats.c (counters), server-describe.c (introspection),
 * server-metrics.c and server-debug.c (/metrics, /debug/geerpc). */

#include <pthread.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

#include "basic/buffer.h"
#include "basic/histogram.h"
#include "basic/io-set.h"
#include "basic/list.h"
#include "codec/codec.h"
#include "geerpc/server.h"
#include "codec/json-scanner.h"
#include "codec/message.h"
#include "http/http-server.h"
#include "rpc/peer-limit.h"
#include "rpc/timer-wheel.h"
#include "rpc/worker-pool.h"

/* Named limits of a connection. */
#define CONN_READ_CHUNK (64U * 1024U)         /* least room a read is given */
#define CONN_READ_BUDGET (1024U * 1024U)      /* most bytes read per wake-up */
#define CONN_OUTPUT_HIGH_WATER (1024U * 1024U) /* stop decoding above this */
/* A connection holds no buffer of its own while nothing of its is half
 * read or unsent (reads and replies go through the server's shared ones);
 * one larger than this that a large message left behind is kept while the
 * connection is busy and freed once it has been idle this long. */
#define CONN_BUFFER_KEEP (64U * 1024U)
#define CONN_BUFFER_IDLE_USEC (2 * USEC_PER_SEC)
#define CONN_BUFFER_TRIM_MIN (1024U * 1024U) /* freed at once: malloc_trim() */
/* While the server stops, a connection is read and answered until it has
 * been quiet (nothing received, nothing in flight) this long, or until the
 * grace period ends. */
#define CONN_DRAIN_QUIET_USEC (200 * USEC_PER_MSEC)
#define CONN_OPTION_TIMEOUT_USEC (10 * USEC_PER_SEC) /* to send the Option */
/* While a client that stopped sending has calls running, the server sends
 * it the codec's probe this often, to learn whether it is still there. */
#define CONN_PROBE_INTERVAL_USEC (1 * USEC_PER_SEC)
/* The connections' deadlines are kept to this (one timer wheel). */
#define SERVER_DEADLINE_TICK_USEC (250 * USEC_PER_MSEC)
#define SERVER_ACCEPT_BATCH 64                 /* accepts per wake-up */
#define SERVER_FREE_WAIT_USEC (5 * USEC_PER_SEC) /* for blocking handlers */

typedef struct Conn Conn;
typedef struct ServerCall ServerCall;

_Static_assert(_GEERPC_CALL_CODE_MAX <= GEERPC_CALL_CODE_SLOTS, "GEERPC_CALL_CODE_SLOTS too small");
_Static_assert(HISTOGRAM_BUCKETS == GEERPC_DURATION_BUCKETS, "the API's buckets are the histogram's");

/* Written on the loop thread, read by any (relaxed atomics: no lock). */
typedef struct MethodStats {
        Counter calls[_GEERPC_CALL_CODE_MAX];
        Histogram duration;
} MethodStats;

typedef struct Method {
        char *name;
        char *description;
        geerpc_method_handler handler;
        unsigned flags;
        MethodStats stats;
} Method;

typedef struct Service {
        char *name;
        Method *methods; /* never moves: calls in flight point into it */
        size_t n_methods;
        void *userdata;
        Counter unknown_method; /* calls of methods it does not have */
} Service;

typedef enum ConnKind {
        CONN_KIND_RPC,     /* the Option came first */
        CONN_KIND_CONNECT, /* CONNECT /_geeprc_, then the Option */
        CONN_KIND_HTTP,    /* handed to the HTTP server */
        _CONN_KIND_MAX,
} ConnKind;

typedef struct ServerStats {
        /* Calls that reached no service: ill-formed names, unknown services. */
        Counter unmatched[_GEERPC_CALL_CODE_MAX];
        Counter bytes_in, bytes_out;
        Counter accepted[_CONN_KIND_MAX];
} ServerStats;

typedef struct Listener {
        geerpc_server *server;
        int fd;
        sd_event_source *source;
        LIST_FIELDS(struct Listener, listeners);
} Listener;

typedef enum ConnState {
        CONN_SNIFF,   /* peeking at the first bytes: RPC, CONNECT or HTTP? */
        CONN_CONNECT, /* reading the CONNECT request head */
        CONN_OPTION,  /* waiting for the Option */
        CONN_RUNNING, /* requests flow */
} ConnState;

struct Conn {
        WheelEntry deadline; /* first: the wheel hands it back as this */
        geerpc_server *server;
        int fd;
        PeerCount *peer; /* counts against its IP address's connections */
        IoSetEntry io;   /* in the server's conns_io; enabled with events 0: errors only */
        ConnState state;
        bool draining;   /* the server stops: closes once quiet (or at the grace's end) */
        bool close_after_flush; /* a refused CONNECT: answer, then close */
        /* What the connection waits for since when (CLOCK_MONOTONIC;
         * USEC_INFINITY: it does not): the deadlines derive from these. */
        usec_t accepted;
        usec_t partial_since; /* a message has started to arrive */
        usec_t unread_since;  /* replies wait for the peer to read them */
        usec_t idle_since;    /* nothing in flight, nothing arriving */
        usec_t probed_at;     /* the peer stopped sending, calls run: last probe */
        bool eof;        /* the peer closed its side: no more reads */
        bool input_done; /* after EOF, every buffered request was taken */
        usec_t last_input; /* loop time of the last read that brought bytes */
        /* What is half read and what is unsent; empty (and freed) most of
         * the time: see CONN_BUFFER_KEEP. */
        Buffer in, out;
        LIST_FIELDS(Conn, roomy); /* in the server's list: keeps a large buffer */
        bool is_roomy;
        JsonScanner option_scanner;
        Codec *codec;
        usec_t handle_timeout;  /* from the Option; 0 = none */
        unsigned n_unanswered;  /* calls received, reply not yet queued */
        LIST_HEAD(ServerCall, calls); /* its blocking calls, wherever they are */
        LIST_HEAD(ServerCall, waiting); /* blocking calls past its share of the workers */
        unsigned n_blocking;    /* blocking calls handed to the pool, not finished */
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
        /* Loop thread only, for counting: the worker never touches it. */
        Method *method;
        void *userdata;
        char *service_method;
        uint64_t seq;
        json_t *args;
        /* Written by the worker, read by the loop after the hand-back. */
        int result;
        json_t *reply;
        char *error;
        /* Set by the loop, read by the handler: nobody waits for the
         * result any more (geerpc_call_is_cancelled()). */
        atomic_bool cancelled;
        /* Loop-thread only. */
        sd_event_source *timer;
        uint64_t start; /* when the request was read, CLOCK_MONOTONIC ns */
        bool answered;
        bool counted; /* its code is in the statistics */
        LIST_FIELDS(ServerCall, calls);   /* in conn->calls */
        LIST_FIELDS(ServerCall, waiting); /* in conn->waiting until it may be handed over */
        LIST_FIELDS(ServerCall, done);    /* in the server's done queue */
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
        IoSet *conns_io; /* every connection's socket, behind one source */
        /* Loop thread: reads land here unless a connection has a message
         * half read, replies are written here unless it has output queued;
         * what is left over moves to the connection (conn_stash()). */
        Buffer scratch_in, scratch_out;
        Conn *scratch_in_owner, *scratch_out_owner;
        LIST_HEAD(Conn, roomy); /* connections keeping a buffer > CONN_BUFFER_KEEP */
        sd_event_source *shrink_timer;
        /* Written on the loop thread; atomic because the observability
         * getters may read them from any thread. */
        atomic_uint n_conns;
        atomic_uint n_unanswered;

        ServerStats stats;
        bool http_enabled;
        HttpServer *http; /* from attach to free (other threads read it) */
        bool http_stopped;

        WorkerPool *pool;
        TimerWheel *deadlines; /* every connection's */
        void *peers;           /* PeerCount by client address (tsearch) */

        /* Limits. */
        unsigned max_connections;
        unsigned max_connections_per_ip;
        usec_t idle_timeout;
        usec_t message_timeout;
        unsigned max_pending;
        size_t max_message_size;
        unsigned n_workers;
        unsigned max_blocking_per_conn; /* 0: n_workers / GEERPC_SERVER_BLOCKING_SHARE */

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
        sd_event_source *drain_timer; /* closes quiet connections while stopping */
        bool exit_loop_on_stop; /* set by geerpc_server_run() */
};

/* server-conn.c */
/* Takes fd, and peer (the connection's count against its address). */
int conn_new(geerpc_server *s, int fd, PeerCount *peer, Conn **ret);
/* The deadline wheel's callback: the connection waited too long. */
void conn_on_deadline(WheelEntry *e, void *userdata);
void conn_close(Conn *c);
/* Forgets the connection but leaves its socket open; returns the socket. */
int conn_release_fd(Conn *c);
void conn_set_events(Conn *c, uint32_t events);
/* Decodes and dispatches what is buffered, flushes, updates the epoll mask,
 * and closes the connection when it is finished. */
void conn_process(Conn *c);
void conn_start_draining(Conn *c);
/* Stopping: closes the connection if it has been quiet long enough.
 * Returns true when it did. */
bool conn_drain_check(Conn *c);
int conn_queue_reply(Conn *c, const char *service_method, uint64_t seq, const char *error, json_t *body);
const char *conn_peer(Conn *c, char *buf, size_t size);

/* server-call.c */
void server_dispatch(Conn *c, Message *m);
/* The connection closes: its calls not started yet are dropped, running
 * ones are cancelled (their results will be discarded). */
void server_conn_cancel_calls(Conn *c);
void server_call_detach(ServerCall *call);
/* A finished call nobody will answer (the server is freed): drops it. */
void server_call_discard(ServerCall *call);
int server_on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* server-http.c */
/* CONN_SNIFF: peeks at what arrived. Returns 1 when the connection goes
 * on as RPC (state CONN_OPTION or CONN_CONNECT), 0 while undecided, < 0
 * when it is gone (handed to the HTTP server, or closed). */
int server_http_sniff(Conn *c, uint32_t revents);
/* CONN_CONNECT: parses the buffered request head. Returns 1 once the
 * connection is an RPC one (reply queued, state CONN_OPTION), 0 while the
 * head is incomplete, < 0 when it was refused (answer queued, the
 * connection closes after it is written). */
int server_http_connect(Conn *c);
int server_http_new(geerpc_server *s);
void server_http_stop(geerpc_server *s);
void server_http_free(geerpc_server *s);

/* server-stats.c */
/* Counts one call of m; nsec: how long it took, or NOT_RUN: its handler
 * did not run, so it is not in the histogram. */
#define NOT_RUN UINT64_MAX
static inline void method_count(Method *m, geerpc_call_code code, uint64_t nsec) {
        counter_inc(&m->stats.calls[code]);
        if (nsec != NOT_RUN)
                histogram_observe(&m->stats.duration, nsec);
}
/* The index-th method (every service in order); NULL past the end. */
const Method *server_method_at(geerpc_server *s, size_t index, const Service **ret_service);
uint64_t service_calls(const Service *svc, geerpc_call_code code);

/* server-describe.c */
int server_describe_register(geerpc_server *s);
/* {"services":[{"name","methods":[{"name","kind","description"}]}]};
 * with_stats adds each method's calls, errors and latencies. service:
 * only that one (NULL: all). NULL when it is unknown or on OOM. */
json_t *server_describe(geerpc_server *s, const char *service, bool with_stats);
const char *method_kind(const Method *m);

/* server-metrics.c, server-debug.c: the pages. */
int server_metrics_render(geerpc_server *s, Buffer *out);
int server_debug_html(geerpc_server *s, Buffer *out);
/* server_describe() with every number: the JSON of /debug/geerpc. */
json_t *server_debug_json(geerpc_server *s);
/* A method's calls by code, errors and latencies, as JSON members. */
json_t *method_stats_json(const Method *m);

/* server.c */
/* geerpc_server_add_service() without the check for the reserved name. */
int server_add_service(geerpc_server *s, const char *name, const geerpc_method *methods, size_t n_methods,
                       void *userdata);
/* The names of the services s offers, sorted (a NULL-terminated strv):
 * what its registration announces. Loop thread, like add_service(). */
int server_get_service_names(geerpc_server *s, char ***ret);
void server_conn_closed(geerpc_server *s);
void server_check_stopped(geerpc_server *s);
int server_ensure_pool(geerpc_server *s);
/* How many blocking calls of one connection may be on the workers at once. */
unsigned server_blocking_per_conn(geerpc_server *s);
void server_begin_stop(geerpc_server *s, usec_t grace);
