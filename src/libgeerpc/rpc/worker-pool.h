/* SPDX-License-Identifier: MIT */
#pragma once

/* A fixed pool of threads for blocking method handlers, so that a slow
 * handler never stalls the server's I/O loop or other calls.
 *
 * A task runs on a worker, then is handed back through complete() (still on
 * the worker thread; it must only queue the result for the loop). When the
 * pool is freed while a task still runs, the task is abandoned instead:
 * abandon() is called when it returns and must not touch its owner. */

#include "basic/list.h"
#include "basic/macro.h"

/* Named limits. */
#define WORKER_POOL_THREADS_DEFAULT 64
#define WORKER_POOL_THREADS_MAX 4096
#define WORKER_POOL_QUEUE_MAX_DEFAULT 65536

typedef struct WorkerTask WorkerTask;
struct WorkerTask {
        void (*run)(WorkerTask *t);
        void (*complete)(WorkerTask *t);
        void (*abandon)(WorkerTask *t);
        LIST_FIELDS(WorkerTask, queue);
};

typedef struct WorkerPool WorkerPool;

int worker_pool_new(WorkerPool **ret, unsigned n_threads, size_t queue_max);
/* -EAGAIN when the queue is full; -ESHUTDOWN once the pool is freed. */
int worker_pool_submit(WorkerPool *p, WorkerTask *t);
/* Stops the workers: queued tasks are abandoned, running ones get up to
 * wait_usec to finish; those still running after that are detached and
 * abandoned when they return. */
void worker_pool_free(WorkerPool *p, usec_t wait_usec);
