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

/* A server whose dial failed: passed over until its backoff ends, then
 * tried by one call (the probe) while the others keep passing it over. */
typedef struct XClientEjected {
        char *addr;
        unsigned failures; /* dials that failed in a row */
        usec_t until;      /* CLOCK_MONOTONIC: the backoff ends */
        bool probing;      /* a call is trying it now */
} XClientEjected;

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
        XClientEjected *ejected; /* sorted by addr */
        size_t n_ejected;
        atomic_bool any_ejected; /* n_ejected > 0, read without the lock */
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
/* Ejection (xclient-eject.c). Whether addr is to be passed over now. */
bool xclient_is_ejected(geerpc_xclient *x, const char *addr, usec_t now);
/* A call picked addr: true when it may try it (not ejected, or its
 * backoff is over and no other call is probing it: this call is). */
bool xclient_claim(geerpc_xclient *x, const char *addr, usec_t now);
/* A dial to addr failed: eject it, or double its backoff when it was being
 * probed or its backoff was over. */
void xclient_eject(geerpc_xclient *x, const char *addr, usec_t now);
/* A dial to addr succeeded: it is back in rotation. */
void xclient_unejected(geerpc_xclient *x, const char *addr);
/* Of the servers of s not skipped by skip, the ejected one whose backoff
 * ends first (-ENXIO when there is none): the last resort when every
 * server is ejected. */
int xclient_pick_ejected(geerpc_xclient *x, ServerSet *s, select_skip_t skip, void *userdata);
void xclient_ejected_free(geerpc_xclient *x);

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
