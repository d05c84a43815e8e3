/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "testlib.h"
#include "rpc/worker-pool.h"

typedef struct Job {
        WorkerTask task;
        usec_t sleep;
        atomic_int *ran, *completed, *abandoned;
} Job;

static void job_run(WorkerTask *t) {
        Job *j = (Job *) t;
        tl_sleep(j->sleep);
        atomic_fetch_add(j->ran, 1);
}
static void job_complete(WorkerTask *t) {
        Job *j = (Job *) t;
        atomic_fetch_add(j->completed, 1);
}
static void job_abandon(WorkerTask *t) {
        Job *j = (Job *) t;
        atomic_fetch_add(j->abandoned, 1);
}

static Job *make_jobs(size_t n, usec_t sleep, atomic_int *ran, atomic_int *completed, atomic_int *abandoned) {
        Job *jobs = calloc(n, sizeof *jobs);
        for (size_t i = 0; i < n; i++)
                jobs[i] = (Job) { { .run = job_run, .complete = job_complete, .abandon = job_abandon }, sleep, ran, completed, abandoned };
        return jobs;
}

Test(worker_pool, runs_everything_and_completes) {
        atomic_int ran = 0, completed = 0, abandoned = 0;
        WorkerPool *p;
        cr_assert_eq(worker_pool_new(&p, 4, 0), 0);
        Job *jobs = make_jobs(100, 100, &ran, &completed, &abandoned);
        for (size_t i = 0; i < 100; i++)
                cr_assert_eq(worker_pool_submit(p, &jobs[i].task), 0);
        for (int i = 0; i < 1000 && atomic_load(&completed) < 100; i++)
                tl_sleep(10 * USEC_PER_MSEC);
        cr_assert_eq(atomic_load(&completed), 100);
        cr_assert_eq(atomic_load(&ran), 100);
        worker_pool_free(p, USEC_PER_SEC);
        cr_assert_eq(atomic_load(&abandoned), 0);
        free(jobs);
}

Test(worker_pool, queue_limit) {
        atomic_int ran = 0, completed = 0, abandoned = 0;
        WorkerPool *p;
        cr_assert_eq(worker_pool_new(&p, 1, 2), 0);
        Job *jobs = make_jobs(4, 300 * USEC_PER_MSEC, &ran, &completed, &abandoned);
        cr_assert_eq(worker_pool_submit(p, &jobs[0].task), 0);
        tl_sleep(50 * USEC_PER_MSEC); /* the worker takes job 0 */
        cr_assert_eq(worker_pool_submit(p, &jobs[1].task), 0);
        cr_assert_eq(worker_pool_submit(p, &jobs[2].task), 0);
        cr_assert_eq(worker_pool_submit(p, &jobs[3].task), -EAGAIN);
        /* Free right away: the two queued jobs are abandoned without running;
         * the running one finishes within the wait and completes. */
        worker_pool_free(p, 5 * USEC_PER_SEC);
        cr_assert_eq(atomic_load(&ran), 1);
        cr_assert_eq(atomic_load(&completed), 1);
        cr_assert_eq(atomic_load(&abandoned), 2);
        free(jobs);
}

Test(worker_pool, stuck_handler_is_abandoned_after_the_wait) {
        atomic_int ran = 0, completed = 0, abandoned = 0;
        WorkerPool *p;
        cr_assert_eq(worker_pool_new(&p, 2, 0), 0);
        Job *jobs = make_jobs(1, 800 * USEC_PER_MSEC, &ran, &completed, &abandoned);
        cr_assert_eq(worker_pool_submit(p, &jobs[0].task), 0);
        tl_sleep(50 * USEC_PER_MSEC);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        worker_pool_free(p, 100 * USEC_PER_MSEC);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 700 * USEC_PER_MSEC, "free waited for the stuck handler");
        /* When the handler returns it is abandoned, never completed. */
        for (int i = 0; i < 300 && atomic_load(&abandoned) == 0; i++)
                tl_sleep(10 * USEC_PER_MSEC);
        cr_assert_eq(atomic_load(&abandoned), 1);
        cr_assert_eq(atomic_load(&completed), 0);
        tl_sleep(50 * USEC_PER_MSEC); /* let the detached thread exit */
        free(jobs);
}

Test(worker_pool, limits) {
        WorkerPool *p;
        cr_assert_eq(worker_pool_new(&p, 0, 0), -EINVAL);
        cr_assert_eq(worker_pool_new(&p, WORKER_POOL_THREADS_MAX + 1, 0), -EINVAL);
}
