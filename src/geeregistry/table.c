/* SPDX-License-Identifier: MIT */
#include <search.h>

#include "basic/buffer.h"
#include "table.h"

struct Table {
        void *root; /* tsearch tree of TableEntry *, by address */
        LIST_HEAD(TableEntry, by_heartbeat); /* the oldest first, the newest its LIST_TAIL */
        size_t n;
        size_t max;
        usec_t timeout;
        uint64_t generation;

        /* table_joined()'s cache. */
        Buffer joined;
        bool joined_valid;
        bool joined_truncated;
        size_t joined_max;
};

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const TableEntry *) a)->addr, ((const TableEntry *) b)->addr);
}

static void free_nothing(void *p) {
}

int table_new(Table **ret, size_t max_servers, usec_t timeout) {
        Table *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->max = max_servers;
        t->timeout = timeout;
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        /* The list owns the entries; the tree only points at them. */
        tdestroy(t->root, free_nothing);
        LIST_FOREACH_SAFE(by_heartbeat, e, n, t->by_heartbeat)
                free(e);
        buffer_done(&t->joined);
        free(t);
        return NULL;
}

size_t table_size(const Table *t) {
        return t->n;
}

size_t table_max(const Table *t) {
        return t->max;
}

usec_t table_timeout(const Table *t) {
        return t->timeout;
}

uint64_t table_generation(const Table *t) {
        return t->generation;
}

static void set_changed(Table *t) {
        t->generation++;
        t->joined_valid = false;
}

/* Links e in heartbeat order, searching from the newest end: heartbeats
 * (and a state file written oldest first) land there at once. */
static void list_link(Table *t, TableEntry *e) {
        TableEntry *after = LIST_TAIL(by_heartbeat, t->by_heartbeat);
        while (after && after->last > e->last)
                after = LIST_PREV(by_heartbeat, t->by_heartbeat, after);
        LIST_INSERT_AFTER(by_heartbeat, t->by_heartbeat, after, e);
}

const TableEntry *table_find(const Table *t, const char *addr) {
        TableEntry key = { .addr = addr };
        void *const *node = tfind(&key, &t->root, entry_compare);
        return node ? *node : NULL;
}

static int entry_add(Table *t, const char *addr, usec_t last) {
        if (t->n >= t->max)
                return -ENOSPC;

        size_t l = strlen(addr);
        TableEntry *e = malloc(sizeof *e + l + 1);
        if (!e)
                return -ENOMEM;
        char *copy = (char *) (e + 1);
        memcpy(copy, addr, l + 1);
        *e = (TableEntry) { .last = last, .addr = copy };

        void **node = tsearch(e, &t->root, entry_compare);
        if (!node) {
                free(e);
                return -ENOMEM;
        }
        list_link(t, e);
        t->n++;
        set_changed(t);
        return 1;
}

int table_heartbeat(Table *t, const char *addr, usec_t now) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (!e)
                return entry_add(t, addr, now);
        /* now is never older than a stored time: the entry goes last. */
        e->last = MAX(e->last, now);
        if (e != LIST_TAIL(by_heartbeat, t->by_heartbeat)) {
                LIST_REMOVE(by_heartbeat, t->by_heartbeat, e);
                list_link(t, e);
        }
        return 0;
}

int table_restore(Table *t, const char *addr, usec_t last) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (!e)
                return entry_add(t, addr, last);
        if (last > e->last) {
                LIST_REMOVE(by_heartbeat, t->by_heartbeat, e);
                e->last = last;
                list_link(t, e);
        }
        return 0;
}

static void entry_remove(Table *t, TableEntry *e) {
        (void) tdelete(e, &t->root, entry_compare);
        LIST_REMOVE(by_heartbeat, t->by_heartbeat, e);
        free(e);
        t->n--;
        set_changed(t);
}

bool table_remove(Table *t, const char *addr) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (!e)
                return false;
        entry_remove(t, e);
        return true;
}

bool table_entry_dead(const Table *t, const TableEntry *e, usec_t now) {
        return t->timeout > 0 && now >= usec_add(e->last, t->timeout);
}

size_t table_expire(Table *t, usec_t now, table_expired_t cb, void *userdata) {
        size_t n = 0;
        while (t->by_heartbeat && table_entry_dead(t, t->by_heartbeat, now)) {
                if (cb)
                        cb(t->by_heartbeat, now, userdata);
                entry_remove(t, t->by_heartbeat);
                n++;
        }
        return n;
}

usec_t table_next_expiry(const Table *t) {
        if (!t->by_heartbeat || t->timeout == 0)
                return USEC_INFINITY;
        return usec_add(t->by_heartbeat->last, t->timeout);
}

const TableEntry *table_oldest(const Table *t) {
        return t->by_heartbeat;
}

typedef struct Walk {
        table_visit_t cb;
        void *userdata;
        int r;
} Walk;

static void walk_one(const void *nodep, VISIT which, void *closure) {
        Walk *w = closure;
        if (w->r < 0 || (which != postorder && which != leaf))
                return;
        w->r = w->cb(*(TableEntry *const *) nodep, w->userdata);
}

int table_foreach_sorted(const Table *t, table_visit_t cb, void *userdata) {
        Walk w = { .cb = cb, .userdata = userdata };
        twalk_r(t->root, walk_one, &w);
        return w.r < 0 ? w.r : 0;
}

typedef struct Join {
        Buffer *out;
        size_t max;
        bool truncated;
} Join;

static int join_one(const TableEntry *e, void *userdata) {
        Join *j = userdata;
        size_t l = strlen(e->addr), sep = buffer_len(j->out) > 0;
        if (j->max > 0 && buffer_len(j->out) + sep + l > j->max) {
                j->truncated = true;
                return -ENOBUFS; /* stop the walk: the rest is later in order */
        }
        if (sep && buffer_append(j->out, ",", 1) < 0)
                return -ENOMEM;
        return buffer_append(j->out, e->addr, l);
}

int table_joined(Table *t, size_t max, const char **ret, bool *ret_truncated) {
        if (!t->joined_valid || t->joined_max != max) {
                buffer_clear(&t->joined);
                Join j = { .out = &t->joined, .max = max };
                int r = table_foreach_sorted(t, join_one, &j);
                if (r == -ENOMEM)
                        return r;
                r = buffer_append(&t->joined, "", 1);
                if (r < 0)
                        return r;
                t->joined_truncated = j.truncated;
                t->joined_max = max;
                t->joined_valid = true;
        }
        *ret = buffer_data(&t->joined);
        if (ret_truncated)
                *ret_truncated = t->joined_truncated;
        return 0;
}
