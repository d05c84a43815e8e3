/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>

#include "basic/io-set.h"

/* Two ways to watch the entries, chosen by how many there are:
 *
 *   direct  each entry is an sd-event io source of its own: one epoll_wait()
 *           per wake-up, as cheap as it gets for a few descriptors;
 *   nested  the entries are in an epoll set of the IoSet's own, whose
 *           descriptor is one sd-event source: a wake-up costs a second
 *           epoll_wait(), but serves up to IO_SET_BATCH ready entries.
 *
 * Past IO_SET_DIRECT_MAX entries the set goes nested, below half of that
 * direct again (the gap keeps a connection that comes and goes from
 * switching every time). */

struct IoSet {
        sd_event *event;
        int64_t priority;
        char *description;
        bool nested;
        int epoll_fd; /* nested only */
        sd_event_source *source;
        LIST_HEAD(IoSetEntry, entries);
        unsigned n_entries;
        /* The batch being dispatched: removal clears an entry's later
         * events in it, so that nothing touches a freed owner. */
        struct epoll_event batch[IO_SET_BATCH];
        int batch_n, batch_pos;
};

static int on_batch(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
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

static int on_direct(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        IoSetEntry *e = userdata;
        e->handler(e, revents, e->userdata);
        return 0;
}

int io_set_new(IoSet **ret, sd_event *event, int64_t priority, const char *description) {
        IoSet *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->priority = priority;
        s->epoll_fd = -EBADF;
        if (description && !(s->description = strdup(description))) {
                io_set_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

IoSet *io_set_free(IoSet *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->source);
        safe_close(s->epoll_fd);
        sd_event_unref(s->event);
        free(s->description);
        free(s);
        return NULL;
}

/* Puts the entry, as it is (events, enabled), where the set's mode says. */
static int watch(IoSetEntry *e) {
        IoSet *s = e->set;
        if (!s->nested) {
                int r = sd_event_add_io(s->event, &e->source, e->fd, e->events, on_direct, e);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_priority(e->source, s->priority);
                if (s->description)
                        (void) sd_event_source_set_description(e->source, s->description);
                return e->enabled ? 0 : sd_event_source_set_enabled(e->source, SD_EVENT_OFF);
        }
        if (!e->enabled)
                return 0;
        struct epoll_event ev = { .events = e->events, .data.ptr = e };
        return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, e->fd, &ev) < 0 ? negative_errno() : 0;
}

static void unwatch(IoSetEntry *e) {
        IoSet *s = e->set;
        if (!s->nested)
                e->source = sd_event_source_disable_unref(e->source);
        else if (e->enabled)
                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, e->fd, NULL);
        /* It will not be dispatched from a batch in progress either. */
        for (int i = s->batch_pos + 1; i < s->batch_n; i++)
                if (s->batch[i].data.ptr == e)
                        s->batch[i].data.ptr = NULL;
}

static int nested_start(IoSet *s) {
        int r;
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epoll_fd < 0)
                return negative_errno();
        r = sd_event_add_io(s->event, &s->source, s->epoll_fd, EPOLLIN, on_batch, s);
        if (r < 0) {
                s->epoll_fd = safe_close(s->epoll_fd);
                return r;
        }
        (void) sd_event_source_set_priority(s->source, s->priority);
        if (s->description)
                (void) sd_event_source_set_description(s->source, s->description);
        return 0;
}

static void nested_stop(IoSet *s) {
        s->source = sd_event_source_disable_unref(s->source);
        s->epoll_fd = safe_close(s->epoll_fd);
        /* A batch in progress is over: its events were for the old set. */
        s->batch_n = 0;
}

/* Moves every entry to the other mode in two steps: every entry gets its
 * new watch, then the old ones go; a failure leaves the set as it was. */
static int switch_mode(IoSet *s, bool nested) {
        int r = 0;

        if (nested) {
                r = nested_start(s);
                if (r < 0)
                        return r;
                LIST_FOREACH(entries, e, s->entries) {
                        struct epoll_event ev = { .events = e->events, .data.ptr = e };
                        if (e->enabled && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, e->fd, &ev) < 0) {
                                r = negative_errno();
                                nested_stop(s); /* closing the set drops what was added */
                                return r;
                        }
                }
                LIST_FOREACH(entries, e, s->entries)
                        e->source = sd_event_source_disable_unref(e->source);
                s->nested = true;
                return 0;
        }

        s->nested = false;
        LIST_FOREACH(entries, e, s->entries) {
                r = watch(e);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                LIST_FOREACH(entries, e, s->entries)
                        e->source = sd_event_source_disable_unref(e->source);
                s->nested = true;
                return r;
        }
        nested_stop(s);
        return 0;
}

int io_set_add(IoSet *s, IoSetEntry *e, int fd, uint32_t events, io_set_handler_t handler, void *userdata) {
        int r;

        /* Past the direct limit: better one source for all (failing that,
         * direct still works). */
        if (!s->nested && s->n_entries + 1 > IO_SET_DIRECT_MAX)
                (void) switch_mode(s, true);
        *e = (IoSetEntry) {
                .set = s, .fd = fd, .events = events, .enabled = true, .handler = handler, .userdata = userdata
        };
        r = watch(e);
        if (r < 0) {
                *e = (IoSetEntry) { .fd = -EBADF };
                return r;
        }
        LIST_APPEND(entries, s->entries, e);
        s->n_entries++;
        return 0;
}

int io_set_set_events(IoSetEntry *e, uint32_t events) {
        IoSet *s = e->set;
        if (events == e->events)
                return 0;
        if (!s->nested) {
                int r = sd_event_source_set_io_events(e->source, events);
                if (r < 0)
                        return r;
        } else if (e->enabled) {
                struct epoll_event ev = { .events = events, .data.ptr = e };
                if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, e->fd, &ev) < 0)
                        return negative_errno();
        }
        e->events = events;
        return 0;
}

int io_set_set_enabled(IoSetEntry *e, bool enabled) {
        IoSet *s = e->set;
        int r;
        if (enabled == e->enabled)
                return 0;
        if (!s->nested)
                r = sd_event_source_set_enabled(e->source, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
        else if (enabled) {
                struct epoll_event ev = { .events = e->events, .data.ptr = e };
                r = epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, e->fd, &ev) < 0 ? negative_errno() : 0;
        } else
                r = epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, e->fd, NULL) < 0 ? negative_errno() : 0;
        if (r < 0)
                return r;
        e->enabled = enabled;
        return 0;
}

void io_set_remove(IoSetEntry *e) {
        IoSet *s = e->set;
        if (!s)
                return;
        unwatch(e);
        LIST_REMOVE(entries, s->entries, e);
        s->n_entries--;
        *e = (IoSetEntry) { .fd = -EBADF };
        if (s->nested && s->n_entries < IO_SET_DIRECT_MAX / 2)
                (void) switch_mode(s, false);
}
