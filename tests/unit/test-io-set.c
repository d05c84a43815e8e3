/* SPDX-License-Identifier: MIT */

/* IoSet: many descriptors behind one sd-event source, drained in batches. */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/epoll.h>

#include "basic/io-set.h"

typedef struct Pipe {
        IoSetEntry entry;
        int fds[2];
        unsigned calls;
        uint32_t revents;
        struct Pipe **victim; /* removes and frees *victim when it runs */
} Pipe;

static void on_io(IoSetEntry *e, uint32_t revents, void *userdata) {
        Pipe *p = userdata;
        char b[16];
        p->calls++;
        p->revents = revents;
        if (revents & EPOLLIN)
                (void) !read(p->fds[0], b, sizeof b);
        if (p->victim && *p->victim) {
                io_set_remove(&(*p->victim)->entry);
                free(*p->victim); /* its later event in this batch must not be touched */
                *p->victim = NULL;
        }
}

static Pipe *pipe_new(IoSet *s, uint32_t events) {
        Pipe *p = calloc(1, sizeof *p);
        cr_assert_eq(pipe2(p->fds, O_CLOEXEC | O_NONBLOCK), 0);
        cr_assert_eq(io_set_add(s, &p->entry, p->fds[0], events, on_io, p), 0);
        return p;
}

static void pipe_free(Pipe *p) {
        io_set_remove(&p->entry);
        close(p->fds[0]);
        if (p->fds[1] >= 0)
                close(p->fds[1]);
        free(p);
}

static void set_new(sd_event **ret_event, IoSet **ret_set) {
        cr_assert_eq(sd_event_new(ret_event), 0);
        cr_assert_eq(io_set_new(ret_set, *ret_event, 0, "test"), 0);
}

static void set_free(sd_event *e, IoSet *s) {
        io_set_free(s);
        sd_event_unref(e);
}

static void run_until_idle(sd_event *e, unsigned *ret_iterations) {
        unsigned n = 0;
        while (sd_event_run(e, 0) > 0)
                n++;
        if (ret_iterations)
                *ret_iterations = n;
}

Test(io_set, every_ready_descriptor_once_in_batches) {
        enum { N = 3 * IO_SET_BATCH / 2 + 7 };
        sd_event *e;
        IoSet *s;
        set_new(&e, &s);
        Pipe *p[N];
        for (int i = 0; i < N; i++)
                p[i] = pipe_new(s, EPOLLIN);
        for (int i = 0; i < N; i++)
                cr_assert_eq(write(p[i]->fds[1], "x", 1), 1);
        unsigned iterations;
        run_until_idle(e, &iterations);
        for (int i = 0; i < N; i++)
                cr_assert_eq(p[i]->calls, 1, "descriptor %d ran %u times", i, p[i]->calls);
        /* One source per batch, and the loop got back in between. */
        cr_assert_geq(iterations, 2);
        cr_assert_leq(iterations, 4);
        for (int i = 0; i < N; i++)
                pipe_free(p[i]);
        set_free(e, s);
}

Test(io_set, removal_inside_a_batch_is_immediate) {
        sd_event *e;
        IoSet *s;
        set_new(&e, &s);
        Pipe *a = pipe_new(s, EPOLLIN), *b = pipe_new(s, EPOLLIN);
        /* Whichever runs first frees the other, whose event is in the
         * same batch. */
        a->victim = &b;
        b->victim = &a;
        cr_assert_eq(write(a->fds[1], "x", 1), 1);
        cr_assert_eq(write(b->fds[1], "x", 1), 1);
        run_until_idle(e, NULL);
        cr_assert((a == NULL) != (b == NULL), "exactly one was freed");
        Pipe *left = a ?: b;
        cr_assert_eq(left->calls, 1);
        pipe_free(left);
        set_free(e, s);
}

Test(io_set, disabled_reports_nothing_events_zero_reports_hangup) {
        sd_event *e;
        IoSet *s;
        set_new(&e, &s);
        Pipe *p = pipe_new(s, EPOLLIN);
        cr_assert_eq(io_set_set_enabled(&p->entry, false), 0);
        cr_assert_eq(write(p->fds[1], "x", 1), 1);
        close(p->fds[1]);
        p->fds[1] = -EBADF;
        run_until_idle(e, NULL);
        cr_assert_eq(p->calls, 0);
        /* Enabled for nothing but errors: the hang-up still comes. */
        cr_assert_eq(io_set_set_events(&p->entry, 0), 0);
        cr_assert_eq(io_set_set_enabled(&p->entry, true), 0);
        cr_assert_eq(sd_event_run(e, 0), 1);
        cr_assert_eq(p->calls, 1);
        cr_assert(p->revents & EPOLLHUP);
        cr_assert(!(p->revents & EPOLLIN));
        pipe_free(p);
        set_free(e, s);
}

/* A set grows past IO_SET_DIRECT_MAX (one source for all) and shrinks back
 * (a source each): every entry keeps working across both switches, its
 * events and its disabled state with it. */
Test(io_set, switches_between_direct_and_nested) {
        enum { N = 3 * IO_SET_DIRECT_MAX };
        sd_event *e;
        IoSet *s;
        set_new(&e, &s);
        Pipe *p[N];
        for (int i = 0; i < N; i++) {
                p[i] = pipe_new(s, EPOLLIN);
                if (i == 1)
                        cr_assert_eq(io_set_set_enabled(&p[1]->entry, false), 0);
        }
        for (int round = 0; round < 2; round++) {
                for (int i = 0; i < N; i++)
                        if (p[i])
                                cr_assert_eq(write(p[i]->fds[1], "x", 1), 1);
                run_until_idle(e, NULL);
                for (int i = 0; i < N; i++)
                        if (p[i])
                                cr_assert_eq(p[i]->calls, i == 1 ? 0 : (unsigned) round + 1, "round %d, pipe %d", round, i);
                /* Down to a few: direct again. */
                for (int i = 4; i < N && round == 0; i++) {
                        pipe_free(p[i]);
                        p[i] = NULL;
                }
        }
        cr_assert_eq(io_set_set_enabled(&p[1]->entry, true), 0);
        run_until_idle(e, NULL);
        cr_assert_eq(p[1]->calls, 1, "the disabled one kept its data for when it is enabled");
        for (int i = 0; i < 4; i++)
                pipe_free(p[i]);
        set_free(e, s);
}
