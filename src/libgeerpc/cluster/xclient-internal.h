/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the load-balancing client, shared by xclient.c (the object,
 * the connection map, calls with failover) and xclient-broadcast.c. */

#include <pthread.h>
#include <stdatomic.h>

#include "cluster/discovery-internal.h"
#include "geerpc/xclient.h"
#include "basic/macro.h"

typedef struct XClientEntry {
        char *addr;
        geerpc_client *client;
} XClientEntry;

/* The codec a server was found to speak (xclient-codec.c). */
typedef struct XClientCodec {
        char *addr;
        const char *codec; /* GEERPC_CODEC_JSON or GEERPC_CODEC_GOB */
} XClientCodec;

struct geerpc_xclient {
        atomic_uint n_ref;
        geerpc_discovery *discovery;
        geerpc_select_mode mode;

        /* lock guards everything below. It is held only to look up, insert
         * or remove entries: never during a dial or a call. */
        pthread_mutex_t lock;
        unsigned failover;
        usec_t connect_timeout; /* USEC_INFINITY: only the call's deadline */
        usec_t handle_timeout;
        XClientEntry *entries; /* sorted by addr */
        size_t n_entries, n_allocated;
        bool closed;
        const char *codec;     /* NULL: learned per server (xclient-codec.c) */
        XClientCodec *codecs;  /* oldest first, at most GEERPC_XCLIENT_CODECS_MAX */
        size_t n_codecs;
};

/* A connection to addr (a new reference): the cached one if it is still
 * usable, else a new dial bounded by the connect timeout and deadline.
 * -ESHUTDOWN once the xclient is closed. */
int xclient_get_client(geerpc_xclient *x, const char *addr, usec_t deadline, geerpc_client **ret);
/* The cached connection to addr if there is one and it is usable, else
 * NULL (a broken one is dropped). */
geerpc_client *xclient_lookup(geerpc_xclient *x, const char *addr);
/* Forgets c as the connection to addr (if it still is) and closes it. */
void xclient_drop(geerpc_xclient *x, const char *addr, geerpc_client *c);
/* A failure that says the connection (or the dial) is broken, as opposed
 * to a remote error, a deadline, or a local misuse. */
bool xclient_is_connection_error(int r);
/* Whether a call on c that failed with r broke the connection: -EBADMSG
 * is also what one undecodable reply gives, on a connection that lives on. */
bool xclient_call_broke_connection(geerpc_client *c, int r);

/* xclient-codec.c: a new connection to addr, in the codec set, or the one
 * addr is known to speak, or found out (JSON if the server answers in it,
 * else gob). Bounded by timeout (USEC_INFINITY: none). */
int xclient_dial(geerpc_xclient *x, const char *addr, usec_t timeout, geerpc_client **ret);
/* The codec addr was found to speak, or NULL; and remembering one (the
 * oldest of GEERPC_XCLIENT_CODECS_MAX is forgotten). */
const char *xclient_codec_known(geerpc_xclient *x, const char *addr);
void xclient_codec_remember(geerpc_xclient *x, const char *addr, const char *codec);
void xclient_codecs_free(geerpc_xclient *x);
