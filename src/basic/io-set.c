/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>

#include "basic/io-set.h"

struct IoSet {
        int epoll_fd;
        sd_event_source *source;
        /* The batch being dispatched: removal clears an entry's later
         * events in it, so that nothing touches a freed owner. */
        struct epoll_event batch[IO_SET_BATCH];
        int batch_n, batch_pos;
};

static int on_ready(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        IoSet *s = userdata;

        int n = epoll_wait(s->epoll_fd, s->batch, IO_SET_BATCH, 0);
        if (n <= 0)
                return 0; /* EINTR, or taken by an earlier batch */
        s->batch_n = n;
        for (s->batch_pos = 0; s->batch_pos < s->batch_n; s->batch_pos++) {
                IoSetEntry *e = s->batch[s->batch_pos].data.ptr;
                if (e)
                        e->handler(e, s->batch[s->batch_pos].events, e->userdata);
        }
        s->batch_n = s->batch_pos = 0;
        return 0;
}

int io_set_new(IoSet **ret, sd_event *event, int64_t priority, const char *description) {
        IoSet *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epoll_fd < 0) {
                r = negative_errno();
                free(s);
                return r;
        }
        r = sd_event_add_io(event, &s->source, s->epoll_fd, EPOLLIN, on_ready, s);
        if (r < 0) {
                io_set_free(s);
                return r;
        }
        (void) sd_event_source_set_priority(s->source, priority);
        if (description)
                (void) sd_event_source_set_description(s->source, description);
        *ret = s;
        return 0;
}

IoSet *io_set_free(IoSet *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->source);
        safe_close(s->epoll_fd);
        free(s);
        return NULL;
}

static int ctl(IoSetEntry *e, int op, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = e };
        return epoll_ctl(e->set->epoll_fd, op, e->fd, &ev) < 0 ? negative_errno() : 0;
}

int io_set_add(IoSet *s, IoSetEntry *e, int fd, uint32_t events, io_set_handler_t handler, void *userdata) {
        *e = (IoSetEntry) { .set = s, .fd = fd, .events = events, .handler = handler, .userdata = userdata };
        int r = ctl(e, EPOLL_CTL_ADD, events);
        if (r < 0) {
                *e = (IoSetEntry) { .fd = -EBADF };
                return r;
        }
        e->enabled = true;
        return 0;
}

int io_set_set_events(IoSetEntry *e, uint32_t events) {
        if (events == e->events)
                return 0;
        if (e->enabled) {
                int r = ctl(e, EPOLL_CTL_MOD, events);
                if (r < 0)
                        return r;
        }
        e->events = events;
        return 0;
}

int io_set_set_enabled(IoSetEntry *e, bool enabled) {
        if (enabled == e->enabled)
                return 0;
        int r = ctl(e, enabled ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, e->events);
        if (r < 0)
                return r;
        e->enabled = enabled;
        return 0;
}

void io_set_remove(IoSetEntry *e) {
        IoSet *s = e->set;
        if (!s)
                return;
        if (e->enabled)
                (void) ctl(e, EPOLL_CTL_DEL, 0);
        for (int i = s->batch_pos + 1; i < s->batch_n; i++)
                if (s->batch[i].data.ptr == e)
                        s->batch[i].data.ptr = NULL;
        *e = (IoSetEntry) { .fd = -EBADF };
}
