/* SPDX-License-Identifier: MIT */
#pragma once

/* The clients' event thread: one per process, shared by every client that
 * needs one (asynchronous calls, a socket too full to write), started on
 * first need and ended when the last of them is freed. A thread per client
 * cost a thread per connection: 1,000 connections with asynchronous calls
 * ran 1,000 threads (docs/ARCHITECTURE.md, "Performance").
 *
 * The thread runs an sd-event loop with the clients' sockets in one IoSet
 * and a queue of clients to look at: any thread asks for a look with
 * client_loop_wake(), the loop thread runs client_bg_sync() (client-io.c)
 * for each queued client. Everything per client (its socket's entry, its
 * calls' timers) is touched on the loop thread only. */

#include <systemd/sd-event.h>

#include "basic/io-set.h"

typedef struct geerpc_client geerpc_client;
typedef struct ClientLoop ClientLoop;

/* Attaches the client to the loop, starting the thread if none runs
 * (c->lock held). */
int client_loop_attach_locked(geerpc_client *c);
/* Queues the client for a look by the loop thread; any thread, any lock
 * of the client's held or not. */
void client_loop_wake(ClientLoop *l, geerpc_client *c);
/* Loop thread, c->lock held: the client is finished with the loop (its
 * entry removed, its calls' timers gone); it is no longer queued
 * afterwards. */
void client_loop_detach(ClientLoop *l, geerpc_client *c);
/* Whoever frees an attached client, after it was detached and freed (so
 * that nothing of it can touch l any more): the loop ends with its last
 * client. Until then l stays valid for every thread waking it for a
 * client not yet released; ending it from the thread that frees the last
 * client (rather than in client_loop_detach()) is what keeps a waker from
 * touching a loop that has freed itself. */
void client_loop_release(ClientLoop *l);

bool client_loop_on_thread(ClientLoop *l);
sd_event *client_loop_event(ClientLoop *l);
IoSet *client_loop_io(ClientLoop *l);
