/* SPDX-License-Identifier: MIT */
#include "cluster/select.h"

/* Server sets: building the immutable snapshot (sorted, deduplicated,
 * with what picking needs), filtering by service, and the public
 * geerpc_server_list accessors. Picking is select.c's. */

static int cmp_entry(const void *a, const void *b) {
        const ServerEntry *x = a, *y = b;
        int c = strcmp(x->addr, y->addr);
        /* Stable for equal addresses (the first wins): by position. */
        return c != 0 ? c : x < y ? -1 : x > y;
}

void server_entry_done(ServerEntry *e) {
        free((char *) e->addr);
        e->addr = NULL;
        server_meta_done(&e->meta);
}

void server_entries_free(ServerEntry *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                server_entry_done(&v[i]);
        free(v);
}

static void set_free(ServerSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->addrs[i]);
                server_meta_done(&s->entries[i].meta);
        }
        free(s->addrs);
        free(s->entries);
        free(s->active);
        free(s->cumulative);
        free(s->wrr_current);
        free(atomic_load(&s->ring));
        pthread_mutex_destroy(&s->wrr_lock);
        free(s);
}

/* The servers that may be chosen, and the running weight sums. */
static int prepare_picking(ServerSet *s) {
        s->active = calloc(MAX(s->n, (size_t) 1), sizeof(uint32_t));
        if (!s->active)
                return -ENOMEM;
        unsigned first = 0;
        s->uniform = true;
        for (size_t i = 0; i < s->n; i++) {
                unsigned w = s->entries[i].meta.weight;
                if (w == 0)
                        continue;
                if (s->n_active == 0)
                        first = w;
                else if (w != first)
                        s->uniform = false;
                s->active[s->n_active++] = (uint32_t) i;
        }
        if (s->uniform)
                return 0;
        s->cumulative = calloc(s->n_active, sizeof(uint64_t));
        if (!s->cumulative)
                return -ENOMEM;
        uint64_t sum = 0;
        for (size_t k = 0; k < s->n_active; k++)
                s->cumulative[k] = sum += s->entries[s->active[k]].meta.weight;
        return 0;
}

static ServerSet *set_alloc(size_t n) {
        ServerSet *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        atomic_init(&s->n_ref, 1);
        atomic_init(&s->ring, NULL);
        /* As the original: round-robin from a random start. */
        atomic_init(&s->rr, select_random_u64());
        pthread_mutex_init(&s->wrr_lock, NULL);
        s->addrs = calloc(MAX(n, (size_t) 1), sizeof(char *));
        s->entries = calloc(MAX(n, (size_t) 1), sizeof(ServerEntry));
        if (!s->addrs || !s->entries) {
                set_free(s);
                return NULL;
        }
        return s;
}

/* Appends a copy of e (its address not yet known to be unique). */
static int set_append(ServerSet *s, const ServerEntry *e) {
        char *addr = strdup(e->addr);
        if (!addr)
                return -ENOMEM;
        ServerEntry *c = &s->entries[s->n];
        if (server_meta_copy(&e->meta, &c->meta) < 0) {
                free(addr);
                return -ENOMEM;
        }
        c->addr = s->addrs[s->n] = addr;
        c->heartbeat = e->heartbeat;
        c->server_weight = e->server_weight;
        s->n++;
        return 0;
}

int server_set_new_entries(const ServerEntry *entries, size_t n, ServerSet **ret) {
        if (!ret || (n > 0 && !entries))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!entries[i].addr)
                        return -EINVAL;
        _cleanup_free_ ServerEntry *sorted = n > 0 ? malloc(n * sizeof *sorted) : NULL;
        if (n > 0 && !sorted)
                return -ENOMEM;
        if (n > 0) {
                memcpy(sorted, entries, n * sizeof *sorted);
                qsort(sorted, n, sizeof *sorted, cmp_entry);
        }
        ServerSet *s = set_alloc(n);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                /* A list with one server twice would give it twice the
                 * traffic. */
                if (s->n > 0 && streq(s->addrs[s->n - 1], sorted[i].addr))
                        continue;
                if (set_append(s, &sorted[i]) < 0) {
                        set_free(s);
                        return -ENOMEM;
                }
        }
        if (prepare_picking(s) < 0) {
                set_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int server_set_new(const char *const *addrs, size_t n, ServerSet **ret) {
        if (!ret || (n > 0 && !addrs))
                return -EINVAL;
        _cleanup_free_ ServerEntry *e = calloc(MAX(n, (size_t) 1), sizeof *e);
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                e[i] = (ServerEntry) { .addr = addrs[i], .meta = SERVER_META_DEFAULT, .server_weight = -1 };
        return server_set_new_entries(e, n, ret);
}

ServerSet *server_set_ref(ServerSet *s) {
        if (s)
                atomic_fetch_add(&s->n_ref, 1);
        return s;
}

ServerSet *server_set_unref(ServerSet *s) {
        if (s && atomic_fetch_sub(&s->n_ref, 1) == 1)
                set_free(s);
        return NULL;
}

bool server_set_equal(const ServerSet *a, const ServerSet *b) {
        if (!a || !b)
                return a == b;
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->addrs[i], b->addrs[i]) || !server_meta_equal(&a->entries[i].meta, &b->entries[i].meta) ||
                    a->entries[i].server_weight != b->entries[i].server_weight)
                        return false;
        return true;
}

int server_set_filter(ServerSet *s, const char *service, ServerSet **ret) {
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++)
                k += server_meta_offers(&s->entries[i].meta, service);
        if (k == s->n) {
                *ret = server_set_ref(s);
                return 0;
        }
        _cleanup_free_ ServerEntry *e = calloc(MAX(k, (size_t) 1), sizeof *e);
        if (!e)
                return -ENOMEM;
        k = 0;
        for (size_t i = 0; i < s->n; i++)
                if (server_meta_offers(&s->entries[i].meta, service))
                        e[k++] = s->entries[i];
        return server_set_new_entries(e, k, ret);
}

/* ---- the public view ------------------------------------------------------- */

_public_ geerpc_server_list *geerpc_server_list_ref(geerpc_server_list *l) {
        return server_set_ref(l);
}

_public_ geerpc_server_list *geerpc_server_list_unref(geerpc_server_list *l) {
        return server_set_unref(l);
}

_public_ size_t geerpc_server_list_get_count(const geerpc_server_list *l) {
        return l ? l->n : 0;
}

_public_ const char *geerpc_server_list_get_address(const geerpc_server_list *l, size_t i) {
        return l && i < l->n ? l->addrs[i] : NULL;
}

_public_ int geerpc_server_list_get_weight(const geerpc_server_list *l, size_t i) {
        return l && i < l->n ? (int) l->entries[i].meta.weight : -EINVAL;
}

_public_ int geerpc_server_list_get_server_weight(const geerpc_server_list *l, size_t i) {
        if (!l || i >= l->n)
                return -EINVAL;
        return l->entries[i].server_weight >= 0 ? l->entries[i].server_weight : -ENODATA;
}

_public_ const char *const *geerpc_server_list_get_services(const geerpc_server_list *l, size_t i) {
        return l && i < l->n ? (const char *const *) l->entries[i].meta.services : NULL;
}

_public_ const char *const *geerpc_server_list_get_labels(const geerpc_server_list *l, size_t i) {
        return l && i < l->n ? (const char *const *) l->entries[i].meta.labels : NULL;
}

_public_ uint64_t geerpc_server_list_get_age(const geerpc_server_list *l, size_t i) {
        if (!l || i >= l->n || l->entries[i].heartbeat == 0)
                return UINT64_MAX;
        usec_t now = now_usec(CLOCK_MONOTONIC), h = l->entries[i].heartbeat;
        return now > h ? now - h : 0;
}
