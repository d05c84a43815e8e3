/* SPDX-License-Identifier: MIT */
#include "basic/log.h"
#include "basic/sort-util.h"
#include "cluster/xclient-internal.h"
#include "rpc/service-name.h"

/* The load-balancing client: the object, its address -> connection map,
 * and calls with failover. Broadcast is in xclient-broadcast.c. */

_public_ int geerpc_xclient_new(geerpc_xclient **ret, geerpc_discovery *d, geerpc_select_mode mode) {
        if (!ret || !d)
                return -EINVAL;
        if (mode != GEERPC_SELECT_RANDOM && mode != GEERPC_SELECT_ROUND_ROBIN && mode != GEERPC_SELECT_HASH)
                return -EINVAL;
        geerpc_xclient *x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        atomic_init(&x->n_ref, 1);
        atomic_init(&x->any_ejected, false);
        x->discovery = geerpc_discovery_ref(d);
        x->mode = mode;
        x->connect_timeout = GEERPC_CONNECT_TIMEOUT_DEFAULT_USEC;
        pthread_mutex_init(&x->lock, NULL);
        *ret = x;
        return 0;
}

_public_ geerpc_xclient *geerpc_xclient_ref(geerpc_xclient *x) {
        if (x)
                atomic_fetch_add(&x->n_ref, 1);
        return x;
}

_public_ int geerpc_xclient_close(geerpc_xclient *x) {
        if (!x)
                return -EINVAL;
        pthread_mutex_lock(&x->lock);
        x->closed = true;
        XClientEntry *entries = TAKE_PTR(x->entries);
        size_t n = x->n_entries;
        x->n_entries = x->n_allocated = 0;
        pthread_mutex_unlock(&x->lock);

        for (size_t i = 0; i < n; i++) {
                (void) geerpc_client_close(entries[i].client);
                geerpc_client_unref(entries[i].client);
                free(entries[i].addr);
        }
        free(entries);
        return 0;
}

_public_ geerpc_xclient *geerpc_xclient_unref(geerpc_xclient *x) {
        if (!x || atomic_fetch_sub(&x->n_ref, 1) != 1)
                return NULL;
        (void) geerpc_xclient_close(x);
        xclient_codecs_free(x);
        xclient_ejected_free(x);
        geerpc_discovery_unref(x->discovery);
        pthread_mutex_destroy(&x->lock);
        free(x);
        return NULL;
}

_public_ int geerpc_xclient_set_failover(geerpc_xclient *x, unsigned n) {
        if (!x || n > GEERPC_XCLIENT_FAILOVER_MAX)
                return -EINVAL;
        pthread_mutex_lock(&x->lock);
        x->failover = n;
        pthread_mutex_unlock(&x->lock);
        return 0;
}

_public_ int geerpc_xclient_set_connect_timeout(geerpc_xclient *x, uint64_t usec) {
        if (!x)
                return -EINVAL;
        pthread_mutex_lock(&x->lock);
        x->connect_timeout = usec == 0 ? USEC_INFINITY : usec;
        pthread_mutex_unlock(&x->lock);
        return 0;
}

_public_ int geerpc_xclient_set_handle_timeout(geerpc_xclient *x, uint64_t usec) {
        if (!x || usec > (uint64_t) INT64_MAX / NSEC_PER_USEC)
                return -EINVAL;
        pthread_mutex_lock(&x->lock);
        x->handle_timeout = usec;
        pthread_mutex_unlock(&x->lock);
        return 0;
}

/* ---- the connection map ----------------------------------------------------- */

static int entry_compare(const void *addr, const void *entry) {
        return strcmp(addr, ((const XClientEntry *) entry)->addr);
}

/* Binary search (lock held): the entry's index, or where it would go. */
static size_t find_locked(geerpc_xclient *x, const char *addr, bool *ret_found) {
        return sorted_search(addr, x->entries, x->n_entries, sizeof(XClientEntry), entry_compare, ret_found);
}

geerpc_client *xclient_lookup(geerpc_xclient *x, const char *addr) {
        bool found;
        pthread_mutex_lock(&x->lock);
        size_t i = find_locked(x, addr, &found);
        geerpc_client *c = found ? geerpc_client_ref(x->entries[i].client) : NULL;
        pthread_mutex_unlock(&x->lock);
        if (!c)
                return NULL;
        /* Outside the lock: is_available() may look at the socket. */
        if (geerpc_client_is_available(c))
                return c;
        log_debug("rpc xclient: connection to %s is broken, dropping it", addr);
        xclient_drop(x, addr, c);
        geerpc_client_unref(c);
        return NULL;
}

void xclient_drop(geerpc_xclient *x, const char *addr, geerpc_client *c) {
        bool found;
        geerpc_client *old = NULL;
        char *old_addr = NULL;
        pthread_mutex_lock(&x->lock);
        size_t i = find_locked(x, addr, &found);
        if (found && x->entries[i].client == c) {
                old = x->entries[i].client;
                old_addr = x->entries[i].addr;
                memmove(x->entries + i, x->entries + i + 1, (x->n_entries - i - 1) * sizeof(XClientEntry));
                x->n_entries--;
        }
        pthread_mutex_unlock(&x->lock);
        if (old)
                (void) geerpc_client_close(old);
        geerpc_client_unref(old);
        free(old_addr);
}

static int grow_locked(geerpc_xclient *x) {
        if (x->n_entries < x->n_allocated)
                return 0;
        size_t k = MAX(x->n_allocated * 2, (size_t) 8);
        XClientEntry *e = reallocarray(x->entries, k, sizeof(XClientEntry));
        if (!e)
                return -ENOMEM;
        x->entries = e;
        x->n_allocated = k;
        return 0;
}

/* Makes c the connection to addr (the xclient takes a reference). If
 * another thread dialled the same server meanwhile, the later one wins:
 * either connection works, and the other closes when its users are done. */
static int insert(geerpc_xclient *x, const char *addr, geerpc_client *c) {
        bool found;
        geerpc_client *old = NULL;
        int r = 0;
        _cleanup_free_ char *copy = strdup(addr);
        if (!copy)
                return -ENOMEM;
        pthread_mutex_lock(&x->lock);
        size_t i = find_locked(x, addr, &found);
        if (x->closed)
                r = -ESHUTDOWN;
        else if (found) {
                old = x->entries[i].client;
                x->entries[i].client = geerpc_client_ref(c);
        } else if ((r = grow_locked(x)) >= 0) {
                memmove(x->entries + i + 1, x->entries + i, (x->n_entries - i) * sizeof(XClientEntry));
                x->entries[i] = (XClientEntry) { .addr = TAKE_PTR(copy), .client = geerpc_client_ref(c) };
                x->n_entries++;
        }
        pthread_mutex_unlock(&x->lock);
        geerpc_client_unref(old);
        return r;
}

static int dial(geerpc_xclient *x, const char *addr, usec_t deadline, geerpc_client **ret) {
        pthread_mutex_lock(&x->lock);
        usec_t timeout = x->connect_timeout;
        bool closed = x->closed;
        pthread_mutex_unlock(&x->lock);
        if (closed)
                return -ESHUTDOWN;
        if (deadline != USEC_INFINITY) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                timeout = MIN(timeout, deadline - now);
        }
        return xclient_dial(x, addr, timeout, ret);
}

int xclient_get_client(geerpc_xclient *x, const char *addr, usec_t deadline, geerpc_client **ret) {
        geerpc_client *c = xclient_lookup(x, addr);
        if (c) {
                *ret = c;
                return 0;
        }
        int r = dial(x, addr, deadline, &c);
        if (r < 0)
                return r;
        r = insert(x, addr, c);
        if (r < 0) {
                geerpc_client_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

bool xclient_is_connection_error(int r) {
        switch (r) {
        case -ECONNRESET:
        case -ECONNREFUSED:
        case -ECONNABORTED:
        case -EPIPE:
        case -ENOTCONN:
        case -ESHUTDOWN:
        case -EBADMSG: /* an undecodable reply stream: the connection is torn down */
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -ENETDOWN:
        case -EHOSTDOWN:
        case -EADDRNOTAVAIL:
        case -ENOENT: /* unix socket gone */
        case -EACCES:
        case -EIO:
                return true;
        default:
                return false;
        }
}

bool xclient_call_broke_connection(geerpc_client *c, int r) {
        if (!xclient_is_connection_error(r))
                return false;
        return r != -EBADMSG || !geerpc_client_is_available(c);
}

/* ---- calls ------------------------------------------------------------------ */

typedef enum Attempt {
        ATTEMPT_DONE,        /* an outcome to return */
        ATTEMPT_DIAL_FAILED, /* nothing was sent: another server is safe */
        ATTEMPT_BROKEN,      /* the connection broke after the request went */
} Attempt;

/* One attempt on one server. */
static int call_one(geerpc_xclient *x, const char *addr, const char *service_method, json_t *args, usec_t deadline,
                    json_t **ret_reply, char **ret_error, Attempt *ret_attempt) {
        geerpc_client *c;
        *ret_attempt = ATTEMPT_DONE;
        int r = xclient_get_client(x, addr, deadline, &c);
        if (r < 0) {
                /* A connect timeout is a dead server, unless it was the
                 * call's own deadline. */
                bool time_left = deadline == USEC_INFINITY || now_usec(CLOCK_MONOTONIC) < deadline;
                if (r != -ESHUTDOWN && (xclient_is_connection_error(r) || (r == -ETIMEDOUT && time_left)))
                        *ret_attempt = ATTEMPT_DIAL_FAILED;
                return r;
        }
        xclient_unejected(x, addr);
        usec_t timeout = 0;
        if (deadline != USEC_INFINITY) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        geerpc_client_unref(c);
                        return -ETIMEDOUT;
                }
                timeout = deadline - now;
        }
        r = geerpc_client_call(c, service_method, args, timeout, ret_reply, ret_error);
        if (xclient_call_broke_connection(c, r)) {
                xclient_drop(x, addr, c);
                pthread_mutex_lock(&x->lock);
                if (!x->closed)
                        *ret_attempt = ATTEMPT_BROKEN;
                pthread_mutex_unlock(&x->lock);
        }
        geerpc_client_unref(c);
        return r;
}

/* One call's picks: the servers it tried, and the xclient's ejected ones. */
typedef struct Picks {
        geerpc_xclient *x;
        char *tried[GEERPC_XCLIENT_FAILOVER_MAX + 1];
        size_t n_tried;
} Picks;

static bool tried(const char *addr, void *userdata) {
        Picks *p = userdata;
        for (size_t i = 0; i < p->n_tried; i++)
                if (streq(p->tried[i], addr))
                        return true;
        return false;
}

static bool tried_or_ejected(const char *addr, void *userdata) {
        Picks *p = userdata;
        return tried(addr, p) || xclient_is_ejected(p->x, addr, now_usec(CLOCK_MONOTONIC));
}

/* The next server to try, or -ENXIO when every one was tried. */
static int pick_next(Picks *p, ServerSet *s, const char *key) {
        for (;;) {
                int i = select_pick(s, p->x->mode, key, tried_or_ejected, p);
                if (i == -ENXIO)
                        /* Every server not tried is ejected: the one whose
                         * backoff ends first. */
                        return xclient_pick_ejected(p->x, s, tried, p);
                if (i < 0 || xclient_claim(p->x, s->addrs[i], now_usec(CLOCK_MONOTONIC)))
                        return i;
                /* Another call is probing it: pass it over this time. */
                char *copy = strdup(s->addrs[i]);
                if (!copy)
                        return -ENOMEM;
                p->tried[p->n_tried++] = copy;
                if (p->n_tried == ELEMENTSOF(p->tried))
                        return -ENXIO;
        }
}

_public_ int geerpc_xclient_call_full(geerpc_xclient *x, const char *key, const char *service_method, json_t *args,
                                      uint64_t timeout_usec, json_t **ret_reply, char **ret_error, char **ret_server) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        char buf[GEERPC_SERVICE_NAME_MAX + 1];
        Picks p = { .x = x };
        int r = -ENXIO;

        if (!x || isempty(service_method) || (x->mode == GEERPC_SELECT_HASH && !key))
                return -EINVAL;
        usec_t deadline = timeout_usec == 0 ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), timeout_usec);
        pthread_mutex_lock(&x->lock);
        unsigned failover = x->failover;
        pthread_mutex_unlock(&x->lock);

        /* No service in the name ("FooSum"): any server, which answers that
         * it is ill-formed. */
        int k = discovery_acquire(x->discovery, service_of_method(service_method, buf), deadline, &s);
        if (k < 0)
                return k;
        for (unsigned broken = 0; p.n_tried < ELEMENTSOF(p.tried);) {
                k = pick_next(&p, s, key);
                if (k < 0) {
                        /* Every server tried: the last failure stands. */
                        if (!(k == -ENXIO && p.n_tried > 0))
                                r = k;
                        break;
                }
                char *addr = strdup(s->addrs[k]);
                if (!addr) {
                        r = -ENOMEM;
                        break;
                }
                Attempt a;
                r = call_one(x, addr, service_method, args, deadline, ret_reply, ret_error, &a);
                if (a == ATTEMPT_DIAL_FAILED)
                        xclient_eject(x, addr, now_usec(CLOCK_MONOTONIC));
                bool again = a == ATTEMPT_DIAL_FAILED || (a == ATTEMPT_BROKEN && broken++ < failover);
                if (!again || p.n_tried + 1 == ELEMENTSOF(p.tried)) {
                        if (ret_server)
                                *ret_server = TAKE_PTR(addr);
                        free(addr);
                        break;
                }
                log_debug_errno(r, "rpc xclient: %s on %s failed (%m), trying another server", service_method, addr);
                p.tried[p.n_tried++] = addr;
        }
        for (size_t i = 0; i < p.n_tried; i++)
                free(p.tried[i]);
        return r;
}

_public_ int geerpc_xclient_call(geerpc_xclient *x, const char *service_method, json_t *args, uint64_t timeout_usec,
                                 json_t **ret_reply, char **ret_error) {
        return geerpc_xclient_call_full(x, NULL, service_method, args, timeout_usec, ret_reply, ret_error, NULL);
}
