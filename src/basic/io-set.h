/* SPDX-License-Identifier: MIT */
#pragma once

/* Many file descriptors behind one sd-event source: an epoll set of its own,
 * drained in batches.
 *
 * sd-event dispatches one source per loop iteration and calls epoll_wait()
 * before each, and a level-triggered epoll_wait() polls every ready socket
 * again: with N ready connections a wake-up cost O(N^2) socket polls, and a
 * server with 1,000 busy connections spent 85% of its time there
 * (docs/ARCHITECTURE.md, "Performance"). An IoSet asks epoll once for up to
 * IO_SET_BATCH ready descriptors and runs all of them; while more are ready
 * its one source stays ready, so the loop's other sources still get their
 * turn between batches.
 *
 * Entries are embedded in their owners (no allocation per descriptor).
 * Removing an entry, even from inside a handler of the same batch, is
 * immediate: its owner may be freed at once. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/list.h"
#include "basic/macro.h"

#define IO_SET_BATCH 256    /* ready descriptors handled per wake-up */
#define IO_SET_DIRECT_MAX 16 /* up to this many: an sd-event source each */

typedef struct IoSet IoSet;
typedef struct IoSetEntry IoSetEntry;

typedef void (*io_set_handler_t)(IoSetEntry *e, uint32_t revents, void *userdata);

struct IoSetEntry {
        IoSet *set; /* NULL when not in a set */
        int fd;
        uint32_t events;
        bool enabled; /* in the epoll set (with events 0: errors only) */
        io_set_handler_t handler;
        void *userdata;
        sd_event_source *source; /* its own, while the set is small */
        LIST_FIELDS(IoSetEntry, entries);
};

int io_set_new(IoSet **ret, sd_event *event, int64_t priority, const char *description);
/* Every entry must have been removed. */
IoSet *io_set_free(IoSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(IoSet *, io_set_free);

/* Adds fd, enabled, with the given events (level-triggered unless they
 * say EPOLLET). As with sd-event's io sources: events 0 still reports
 * errors and hang-ups; a disabled entry reports nothing (it is out of the
 * epoll set). */
int io_set_add(IoSet *s, IoSetEntry *e, int fd, uint32_t events, io_set_handler_t handler, void *userdata);
int io_set_set_events(IoSetEntry *e, uint32_t events);
int io_set_set_enabled(IoSetEntry *e, bool enabled);
/* Idempotent; a NULL set is a no-op. */
void io_set_remove(IoSetEntry *e);
