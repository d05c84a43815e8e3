/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <signal.h>

#include "basic/log.h"
#include "rpc/worker-pool.h"

struct WorkerPool {
        pthread_mutex_t lock;
        pthread_cond_t work;    /* a task was queued, or quit was set */
        pthread_cond_t idle;    /* a worker finished (for free) */
        LIST_HEAD(WorkerTask, queue);
        size_t queued, queue_max;
        unsigned n_threads, n_started, n_busy, n_exited;
        bool quit;
        bool abandoned; /* the owner is gone: complete() must not be called */
        unsigned n_refs; /* the owner plus each detached thread */
        pthread_t *threads;
};

static void pool_unref_locked(WorkerPool *p, bool *ret_free) {
        *ret_free = --p->n_refs == 0;
}

static void pool_destroy(WorkerPool *p) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->idle);
        free(p->threads);
        free(p);
}

static void *worker_main(void *userdata) {
        WorkerPool *p = userdata;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (LIST_IS_EMPTY(p->queue) && !p->quit)
                        pthread_cond_wait(&p->work, &p->lock);
                if (p->quit)
                        break;
                WorkerTask *t = LIST_POP(queue, p->queue);
                p->queued--;
                p->n_busy++;
                pthread_mutex_unlock(&p->lock);

                t->run(t);

                pthread_mutex_lock(&p->lock);
                /* Hand the result back under the lock, so that free() cannot
                 * slip in between the check and the hand-over. */
                if (p->abandoned)
                        t->abandon(t);
                else
                        t->complete(t);
                p->n_busy--;
        }
        p->n_exited++;
        pthread_cond_broadcast(&p->idle);
        bool last = false;
        if (p->abandoned)
                pool_unref_locked(p, &last);
        pthread_mutex_unlock(&p->lock);
        if (last)
                pool_destroy(p);
        return NULL;
}

int worker_pool_new(WorkerPool **ret, unsigned n_threads, size_t queue_max) {
        if (n_threads == 0 || n_threads > WORKER_POOL_THREADS_MAX)
                return -EINVAL;

        WorkerPool *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->threads = calloc(n_threads, sizeof(pthread_t));
        if (!p->threads) {
                free(p);
                return -ENOMEM;
        }
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->idle, NULL);
        p->n_threads = n_threads;
        p->queue_max = queue_max ?: WORKER_POOL_QUEUE_MAX_DEFAULT;
        p->n_refs = 1;
        *ret = p;
        return 0;
}

static int ensure_thread(WorkerPool *p) {
        /* Threads are started lazily: a server that never sees a blocking
         * call never pays for them. One more whenever all are busy. */
        if (p->n_started >= p->n_threads || p->n_busy + p->queued < p->n_started)
                return 0;

        pthread_attr_t attr;
        pthread_attr_init(&attr);
        /* Handlers are ordinary code; 256 KiB of stack is plenty and keeps
         * a full pool small. */
        pthread_attr_setstacksize(&attr, 256 * 1024);
        sigset_t all, old;
        sigfillset(&all);
        /* Workers take no signals: they belong to the loop thread. */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&p->threads[p->n_started], &attr, worker_main, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return p->n_started > 0 ? 0 : -r;
        p->n_started++;
        return 0;
}

int worker_pool_submit(WorkerPool *p, WorkerTask *t) {
        int r;

        pthread_mutex_lock(&p->lock);
        if (p->quit) {
                r = -ESHUTDOWN;
                goto out;
        }
        if (p->queued >= p->queue_max) {
                r = -EAGAIN;
                goto out;
        }
        LIST_APPEND(queue, p->queue, t);
        p->queued++;
        r = ensure_thread(p);
        if (r < 0) {
                /* Take it back out: nobody could run it. */
                p->queued--;
                LIST_REMOVE(queue, p->queue, t);
                goto out;
        }
        pthread_cond_signal(&p->work);
out:
        pthread_mutex_unlock(&p->lock);
        return r;
}

void worker_pool_free(WorkerPool *p, usec_t wait_usec) {
        if (!p)
                return;

        pthread_mutex_lock(&p->lock);
        p->quit = true;
        LIST_HEAD(WorkerTask, queued) = TAKE_PTR(p->queue);
        p->queued = 0;
        pthread_cond_broadcast(&p->work);

        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), wait_usec);
        while (p->n_exited < p->n_started) {
                usec_t n = now_usec(CLOCK_MONOTONIC);
                if (n >= deadline)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                usec_t left = MIN(deadline - n, 3600 * USEC_PER_SEC);
                ts.tv_sec += (time_t) (left / USEC_PER_SEC);
                ts.tv_nsec += (long) (left % USEC_PER_SEC * 1000);
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&p->idle, &p->lock, &ts);
        }

        bool detach = p->n_exited < p->n_started;
        if (detach) {
                p->abandoned = true;
                /* Each thread still running keeps the pool alive. */
                p->n_refs += p->n_started - p->n_exited;
                log_warning("%u blocking handler(s) still running after the grace period; abandoning them",
                            p->n_started - p->n_exited);
        }
        pthread_mutex_unlock(&p->lock);

        for (WorkerTask *t; (t = LIST_POP(queue, queued));)
                t->abandon(t);

        for (unsigned i = 0; i < p->n_started; i++) {
                if (detach)
                        pthread_detach(p->threads[i]);
                else
                        pthread_join(p->threads[i], NULL);
        }

        pthread_mutex_lock(&p->lock);
        bool last;
        pool_unref_locked(p, &last);
        pthread_mutex_unlock(&p->lock);
        if (last)
                pool_destroy(p);
}
