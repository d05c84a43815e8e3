/* SPDX-License-Identifier: MIT */

#include "basic/address.h"
#include "cluster/discovery-internal.h"
#include "basic/duration.h"
#include "cluster/etcd.h"
#include "basic/log.h"
#include "basic/url.h"

/* The discovery interface: the cached list shared by every back end, its
 * refresh (one at a time, without holding the lock during the fetch) and
 * stale-on-error. */

int discovery_new(const DiscoveryVTable *vt, void *backend, const char *description, ServerSet *servers,
                  geerpc_discovery **ret) {
        geerpc_discovery *d = calloc(1, sizeof *d);
        if (d)
                d->description = strdup(description);
        if (!d || !d->description) {
                if (d)
                        free(d);
                vt->free_backend(backend);
                return -ENOMEM;
        }
        atomic_init(&d->n_ref, 1);
        atomic_init(&d->rr, select_random_u64()); /* as the original: a random start */
        d->vtable = vt;
        d->backend = backend;
        d->servers = server_set_ref(servers);
        d->ttl = GEERPC_DISCOVERY_TTL_DEFAULT_USEC;
        d->max_stale = GEERPC_DISCOVERY_MAX_STALE_DEFAULT_USEC;
        d->refresh_timeout = GEERPC_DISCOVERY_REFRESH_TIMEOUT_DEFAULT_USEC;
        if (servers)
                d->last_success = d->last_attempt = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_init(&d->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&d->refreshed, &attr);
        pthread_condattr_destroy(&attr);
        *ret = d;
        return 0;
}

_public_ int geerpc_discovery_new_from_url(geerpc_discovery **ret, const char *url) {
        if (!ret || !url)
                return -EINVAL;
        /* The one place that maps a URL scheme to a back end. */
        int s = url_scheme(url);
        if (s < 0)
                return s;
        if (s == URL_SCHEME_ETCD)
                return discovery_new_etcd(ret, url);
        return geerpc_discovery_new_registry(ret, url);
}

_public_ geerpc_discovery *geerpc_discovery_ref(geerpc_discovery *d) {
        if (d)
                atomic_fetch_add(&d->n_ref, 1);
        return d;
}

_public_ geerpc_discovery *geerpc_discovery_unref(geerpc_discovery *d) {
        if (!d || atomic_fetch_sub(&d->n_ref, 1) != 1)
                return NULL;
        /* The back end first: etcd's watch thread updates the list until it
         * is joined there. */
        d->vtable->free_backend(d->backend);
        server_set_unref(d->servers);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->refreshed);
        free(d->description);
        free(d);
        return NULL;
}

static int set_knob(geerpc_discovery *d, usec_t *knob, uint64_t usec) {
        if (!d)
                return -EINVAL;
        if (!d->vtable->fetch)
                return -EOPNOTSUPP;
        pthread_mutex_lock(&d->lock);
        *knob = usec;
        pthread_mutex_unlock(&d->lock);
        return 0;
}

_public_ int geerpc_discovery_set_ttl(geerpc_discovery *d, uint64_t usec) {
        return set_knob(d, d ? &d->ttl : NULL, usec);
}

_public_ int geerpc_discovery_set_max_stale(geerpc_discovery *d, uint64_t usec) {
        return set_knob(d, d ? &d->max_stale : NULL, usec);
}

_public_ int geerpc_discovery_set_refresh_timeout(geerpc_discovery *d, uint64_t usec) {
        if (usec == 0)
                return -EINVAL;
        return set_knob(d, d ? &d->refresh_timeout : NULL, usec);
}

/* ---- the cache -------------------------------------------------------------- */

static bool refresh_due(geerpc_discovery *d, usec_t now) {
        if (!d->vtable->fetch)
                return false;
        return !d->servers || now >= usec_add(d->last_attempt, d->ttl);
}

/* 0 when the cached list may be served now. It may while the last fetch
 * succeeded (it is within its TTL, or being refreshed), and after a failed
 * one until max_stale has passed since the last success. */
static int cache_usable(geerpc_discovery *d, usec_t now) {
        if (!d->servers)
                return d->last_error < 0 ? d->last_error : -EAGAIN;
        if (d->last_error == 0 || !d->vtable->fetch)
                return 0;
        if (now <= usec_add(d->last_success, d->max_stale))
                return 0;
        if (!d->stale_logged) {
                char age[GO_DURATION_MAX];
                log_error("rpc discovery: registry %s still unreachable, the cached list is %s old, past the "
                          "maximum staleness: no longer serving it",
                          d->description, duration_format_short(age, now - d->last_success));
                d->stale_logged = true;
        }
        return -ESTALE;
}

static void log_outcome(geerpc_discovery *d, int r, const char *error, usec_t now) {
        char age[GO_DURATION_MAX];
        if (r >= 0) {
                if (d->outage_logged)
                        log_notice("rpc discovery: registry %s reachable again, %zu servers", d->description,
                                   d->servers->n);
                d->outage_logged = d->stale_logged = false;
                return;
        }
        if (d->outage_logged)
                return;
        d->outage_logged = true;
        if (d->servers && now <= usec_add(d->last_success, d->max_stale))
                log_warning("rpc discovery: registry %s unreachable (%s), serving the cached list of %zu servers "
                            "from %s ago",
                            d->description, error ?: strerror(-r), d->servers->n,
                            duration_format_short(age, now - d->last_success));
        else
                log_warning("rpc discovery: registry %s unreachable (%s), no usable cached list", d->description,
                            error ?: strerror(-r));
}

/* Called with the lock held; drops it during the fetch. timeout: what this
 * caller may spend; clipped: whether it is less than the refresh timeout. */
static int refresh_locked(geerpc_discovery *d, usec_t timeout, bool clipped) {
        _cleanup_(server_set_unrefp) ServerSet *fresh = NULL;
        _cleanup_free_ char *error = NULL;

        d->refreshing = true;
        pthread_mutex_unlock(&d->lock);
        int r = d->vtable->fetch(d, timeout, &fresh, &error);
        pthread_mutex_lock(&d->lock);
        d->refreshing = false;
        d->generation++;
        pthread_cond_broadcast(&d->refreshed);

        /* A fetch cut short by this caller's own deadline says nothing about
         * the registry: leave the state alone so that the next caller
         * tries again. */
        if (r == -ETIMEDOUT && clipped)
                return r;

        usec_t now = now_usec(CLOCK_MONOTONIC);
        d->last_attempt = now;
        d->last_error = r < 0 ? r : 0;
        if (r >= 0) {
                if (!server_set_equal(d->servers, fresh))
                        log_debug("rpc discovery: %s lists %zu servers", d->description, fresh->n);
                server_set_unref(d->servers);
                d->servers = TAKE_PTR(fresh);
                d->last_success = now;
        }
        log_outcome(d, r, error, now);
        return r;
}

/* Waits (lock held) until the refresh in flight ends or the deadline. */
static int wait_refresh_locked(geerpc_discovery *d, usec_t deadline) {
        uint64_t gen = d->generation;
        while (d->generation == gen) {
                if (deadline == USEC_INFINITY)
                        pthread_cond_wait(&d->refreshed, &d->lock);
                else {
                        if (now_usec(CLOCK_MONOTONIC) >= deadline)
                                return -ETIMEDOUT;
                        struct timespec ts = {
                                .tv_sec = (time_t) (deadline / USEC_PER_SEC),
                                .tv_nsec = (long) (deadline % USEC_PER_SEC * NSEC_PER_USEC),
                        };
                        pthread_cond_timedwait(&d->refreshed, &d->lock, &ts);
                }
        }
        return 0;
}

/* Brings the cache up to date if it is due (lock held). */
static int maybe_refresh_locked(geerpc_discovery *d, usec_t deadline) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (!refresh_due(d, now))
                return 0;
        if (d->refreshing) {
                /* Somebody is fetching: use the cache if it is good enough,
                 * otherwise wait for their result. */
                if (cache_usable(d, now) == 0)
                        return 0;
                return wait_refresh_locked(d, deadline);
        }
        if (deadline != USEC_INFINITY && now >= deadline)
                return cache_usable(d, now) == 0 ? 0 : -ETIMEDOUT;
        usec_t timeout = d->refresh_timeout;
        bool clipped = false;
        if (deadline != USEC_INFINITY && deadline - now < timeout) {
                timeout = deadline - now;
                clipped = true;
        }
        int r = refresh_locked(d, timeout, clipped);
        if (r == -ETIMEDOUT && clipped && cache_usable(d, now_usec(CLOCK_MONOTONIC)) != 0)
                return r;
        return 0;
}

int discovery_acquire(geerpc_discovery *d, usec_t deadline, ServerSet **ret) {
        int r;
        pthread_mutex_lock(&d->lock);
        /* -EAGAIN: no list yet and the refresh we waited for said nothing
         * (another caller's deadline cut it short): try once more. */
        for (unsigned attempt = 0;; attempt++) {
                r = maybe_refresh_locked(d, deadline);
                if (r >= 0)
                        r = cache_usable(d, now_usec(CLOCK_MONOTONIC));
                if (r != -EAGAIN)
                        break;
                if (attempt == 2) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        if (r >= 0)
                *ret = server_set_ref(d->servers);
        pthread_mutex_unlock(&d->lock);
        return r;
}

int discovery_pick(geerpc_discovery *d, geerpc_select_mode mode, const char *key, usec_t deadline,
                   const char *const *avoid, size_t n_avoid, char **ret_server) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (mode == GEERPC_SELECT_HASH && !key)
                return -EINVAL;
        int r = discovery_acquire(d, deadline, &s);
        if (r < 0)
                return r;
        r = select_pick(s, mode, key, &d->rr, avoid, n_avoid);
        if (r < 0)
                return r;
        char *copy = strdup(s->addrs[r]);
        if (!copy)
                return -ENOMEM;
        *ret_server = copy;
        return 0;
}

/* ---- the public operations ---------------------------------------------- */

_public_ int geerpc_discovery_refresh(geerpc_discovery *d) {
        if (!d)
                return -EINVAL;
        if (!d->vtable->fetch)
                return 0;
        pthread_mutex_lock(&d->lock);
        int r;
        if (d->refreshing) {
                (void) wait_refresh_locked(d, USEC_INFINITY);
                r = d->last_error;
        } else
                r = refresh_locked(d, d->refresh_timeout, false);
        pthread_mutex_unlock(&d->lock);
        return r < 0 ? r : 0;
}

int discovery_validate_list(const char *const *servers, size_t n) {
        if (n > 0 && !servers)
                return -EINVAL;
        if (n > GEERPC_DISCOVERY_MAX_SERVERS)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                Address a;
                if (address_parse(servers[i], 0, &a, NULL) < 0)
                        return -EINVAL;
        }
        return 0;
}

int discovery_server_set_new(const char *const *servers, size_t n, ServerSet **ret) {
        int r = discovery_validate_list(servers, n);
        if (r < 0)
                return r;
        return server_set_new(servers, n, ret);
}

_public_ int geerpc_discovery_update(geerpc_discovery *d, const char *const *servers, size_t n) {
        ServerSet *s;
        if (!d)
                return -EINVAL;
        int r = discovery_server_set_new(servers, n, &s);
        if (r < 0)
                return r;
        pthread_mutex_lock(&d->lock);
        server_set_unref(d->servers);
        d->servers = s;
        d->last_success = d->last_attempt = now_usec(CLOCK_MONOTONIC);
        d->last_error = 0;
        d->generation++;
        pthread_cond_broadcast(&d->refreshed);
        pthread_mutex_unlock(&d->lock);
        return 0;
}

static usec_t default_deadline(geerpc_discovery *d) {
        /* A caller without a deadline of its own waits for at most one
         * refresh. */
        pthread_mutex_lock(&d->lock);
        usec_t t = d->refresh_timeout;
        pthread_mutex_unlock(&d->lock);
        return usec_add(now_usec(CLOCK_MONOTONIC), t);
}

_public_ int geerpc_discovery_get(geerpc_discovery *d, geerpc_select_mode mode, const char *key, char **ret_server) {
        if (!d || !ret_server)
                return -EINVAL;
        return discovery_pick(d, mode, key, default_deadline(d), NULL, 0, ret_server);
}

_public_ int geerpc_discovery_get_all(geerpc_discovery *d, char ***ret_servers, size_t *ret_n) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (!d || !ret_servers)
                return -EINVAL;
        int r = discovery_acquire(d, default_deadline(d), &s);
        if (r < 0)
                return r;

        /* One block: the pointer array, then the strings. */
        size_t size = (s->n + 1) * sizeof(char *);
        for (size_t i = 0; i < s->n; i++)
                size += strlen(s->addrs[i]) + 1;
        char **v = malloc(size);
        if (!v)
                return -ENOMEM;
        char *p = (char *) (v + s->n + 1);
        for (size_t i = 0; i < s->n; i++) {
                size_t l = strlen(s->addrs[i]) + 1;
                memcpy(p, s->addrs[i], l);
                v[i] = p;
                p += l;
        }
        v[s->n] = NULL;
        *ret_servers = v;
        if (ret_n)
                *ret_n = s->n;
        return 0;
}
