/* SPDX-License-Identifier: MIT */
#include <search.h>

#include "basic/buffer.h"
#include "basic/sort-util.h"
#include "basic/strv.h"
#include "table.h"

typedef struct Override {
        const char *addr; /* points into the same allocation */
        unsigned weight;
} Override;

struct Table {
        void *root; /* tsearch tree of TableEntry *, by address */
        LIST_HEAD(TableEntry, by_heartbeat); /* the oldest first, the newest its LIST_TAIL */
        size_t n;
        size_t max;
        usec_t timeout;
        uint64_t generation;

        void *overrides; /* tsearch tree of Override *, by address */
        size_t n_overrides;
};

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const TableEntry *) a)->addr, ((const TableEntry *) b)->addr);
}

static int override_compare(const void *a, const void *b) {
        return strcmp(((const Override *) a)->addr, ((const Override *) b)->addr);
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
        LIST_FOREACH_SAFE(by_heartbeat, e, n, t->by_heartbeat) {
                server_meta_done(&e->meta);
                free(e);
        }
        tdestroy(t->overrides, free);
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

static int entry_add(Table *t, const char *addr, const ServerMeta *meta, usec_t last) {
        if (t->n >= t->max)
                return -ENOSPC;

        size_t l = strlen(addr);
        TableEntry *e = malloc(sizeof *e + l + 1);
        if (!e)
                return -ENOMEM;
        char *copy = (char *) (e + 1);
        memcpy(copy, addr, l + 1);
        *e = (TableEntry) { .last = last, .addr = copy, .override = table_get_override(t, addr) };
        if (e->override < 0)
                e->override = -1;
        if (server_meta_copy(meta, &e->meta) < 0) {
                free(e);
                return -ENOMEM;
        }

        void **node = tsearch(e, &t->root, entry_compare);
        if (!node) {
                server_meta_done(&e->meta);
                free(e);
                return -ENOMEM;
        }
        list_link(t, e);
        t->n++;
        set_changed(t);
        return 1;
}

int table_heartbeat(Table *t, const char *addr, const ServerMeta *meta, usec_t now) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (!e) {
                int k = entry_add(t, addr, meta, now);
                return k < 0 ? k : TABLE_ADDED;
        }
        int k = TABLE_REFRESHED;
        if (!server_meta_equal(&e->meta, meta)) {
                ServerMeta copy;
                if (server_meta_copy(meta, &copy) < 0)
                        return -ENOMEM;
                server_meta_done(&e->meta);
                e->meta = copy;
                set_changed(t);
                k = TABLE_UPDATED;
        }
        /* now is never older than a stored time: the entry goes last. */
        e->last = MAX(e->last, now);
        if (e != LIST_TAIL(by_heartbeat, t->by_heartbeat)) {
                LIST_REMOVE(by_heartbeat, t->by_heartbeat, e);
                list_link(t, e);
        }
        return k;
}

int table_restore(Table *t, const char *addr, const ServerMeta *meta, usec_t last) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (!e)
                return entry_add(t, addr, meta, last);
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
        server_meta_done(&e->meta);
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
        const char *service;
        size_t max, start;
        bool truncated;
} Join;

static int join_one(const TableEntry *e, void *userdata) {
        Join *j = userdata;
        if (table_entry_weight(e) == 0 || !server_meta_offers(&e->meta, j->service))
                return 0;
        size_t l = strlen(e->addr), used = buffer_len(j->out) - j->start, sep = used > 0;
        if (j->max > 0 && used + sep + l > j->max) {
                j->truncated = true;
                return -ENOBUFS; /* stop the walk: the rest is later in order */
        }
        if (sep && buffer_append(j->out, ",", 1) < 0)
                return -ENOMEM;
        return buffer_append(j->out, e->addr, l);
}

int table_join(const Table *t, const char *service, size_t max, Buffer *out, bool *ret_truncated) {
        Join j = { .out = out, .service = service, .max = max, .start = buffer_len(out) };
        int r = table_foreach_sorted(t, join_one, &j);
        if (r == -ENOMEM)
                return r;
        if (ret_truncated)
                *ret_truncated = j.truncated;
        return 0;
}

/* ---- services ------------------------------------------------------------- */

int table_count_services(const Table *t, TableServiceCount **ret, size_t *ret_n) {
        size_t n = 0, unknown = 0;
        LIST_FOREACH(by_heartbeat, e, t->by_heartbeat) {
                n += strv_length(e->meta.services);
                unknown += !e->meta.services;
        }
        *ret = NULL;
        *ret_n = 0;
        if (n == 0)
                return 0;
        _cleanup_free_ const char **names = malloc(n * sizeof(char *));
        if (!names)
                return -ENOMEM;
        size_t k = 0;
        LIST_FOREACH(by_heartbeat, e, t->by_heartbeat)
                for (char **p = e->meta.services; p && *p; p++)
                        names[k++] = *p;
        qsort(names, n, sizeof(char *), strptr_compare);
        TableServiceCount *v = calloc(n, sizeof *v);
        if (!v)
                return -ENOMEM;
        k = 0;
        for (size_t i = 0; i < n; i++) {
                if (k == 0 || !streq(v[k - 1].name, names[i]))
                        v[k++] = (TableServiceCount) { .name = names[i], .servers = unknown };
                v[k - 1].servers++;
        }
        *ret = v;
        *ret_n = k;
        return 0;
}

/* ---- overrides ------------------------------------------------------------ */

static Override *override_find(const Table *t, const char *addr) {
        Override key = { .addr = addr };
        void *const *node = tfind(&key, &t->overrides, override_compare);
        return node ? *node : NULL;
}

/* The entry of addr (if registered) sees the override at once. */
static void override_apply(Table *t, const char *addr, int weight) {
        TableEntry *e = (TableEntry *) table_find(t, addr);
        if (e)
                e->override = weight;
        set_changed(t);
}

int table_set_override(Table *t, const char *addr, unsigned weight) {
        Override *o = override_find(t, addr);
        if (o) {
                if (o->weight == weight)
                        return 0;
                o->weight = weight;
                override_apply(t, addr, (int) weight);
                return 1;
        }
        if (t->n_overrides >= t->max)
                return -ENOSPC;
        size_t l = strlen(addr);
        o = malloc(sizeof *o + l + 1);
        if (!o)
                return -ENOMEM;
        char *copy = (char *) (o + 1);
        memcpy(copy, addr, l + 1);
        *o = (Override) { .addr = copy, .weight = weight };
        if (!tsearch(o, &t->overrides, override_compare)) {
                free(o);
                return -ENOMEM;
        }
        t->n_overrides++;
        override_apply(t, addr, (int) weight);
        return 1;
}

bool table_clear_override(Table *t, const char *addr) {
        Override *o = override_find(t, addr);
        if (!o)
                return false;
        (void) tdelete(o, &t->overrides, override_compare);
        free(o);
        t->n_overrides--;
        override_apply(t, addr, -1);
        return true;
}

int table_get_override(const Table *t, const char *addr) {
        const Override *o = t->n_overrides > 0 ? override_find(t, addr) : NULL;
        return o ? (int) o->weight : -ENOENT;
}

size_t table_n_overrides(const Table *t) {
        return t->n_overrides;
}

typedef struct OverrideWalk {
        table_override_visit_t cb;
        void *userdata;
        int r;
} OverrideWalk;

static void override_walk_one(const void *nodep, VISIT which, void *closure) {
        OverrideWalk *w = closure;
        if (w->r < 0 || (which != postorder && which != leaf))
                return;
        const Override *o = *(Override *const *) nodep;
        w->r = w->cb(o->addr, o->weight, w->userdata);
}

int table_foreach_override(const Table *t, table_override_visit_t cb, void *userdata) {
        OverrideWalk w = { .cb = cb, .userdata = userdata };
        twalk_r(t->overrides, override_walk_one, &w);
        return w.r < 0 ? w.r : 0;
}
