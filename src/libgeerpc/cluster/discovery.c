/* SPDX-License-Identifier: MIT */

#include "basic/address.h"
#include "cluster/discovery-internal.h"
#include "basic/duration.h"
#include "cluster/etcd.h"
#include "basic/log.h"
#include "basic/url.h"
#include "rpc/service-name.h"

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
        d->vtable = vt;
        d->backend = backend;
        d->base = server_set_ref(servers);
        d->ttl = GEERPC_DISCOVERY_TTL_DEFAULT_USEC;
        d->max_stale = GEERPC_DISCOVERY_MAX_STALE_DEFAULT_USEC;
        d->refresh_timeout = GEERPC_DISCOVERY_REFRESH_TIMEOUT_DEFAULT_USEC;
        pthread_mutex_init(&d->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&d->refreshed, &attr);
        pthread_condattr_destroy(&attr);
        *ret = d;
        return 0;
}

static DiscoveryCache *cache_free(DiscoveryCache *c) {
        if (!c)
                return NULL;
        server_set_unref(c->servers);
        free(c->service);
        free(c);
        return NULL;
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
        for (size_t i = 0; i < d->n_caches; i++)
                cache_free(d->caches[i]);
        free(d->caches);
        server_set_unref(d->base);
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

/* ---- the caches, one per service ------------------------------------------- */

static const char *cache_name(const DiscoveryCache *c) {
        return c->service ?: "every service";
}

static DiscoveryCache *cache_find_locked(geerpc_discovery *d, const char *service) {
        for (size_t i = 0; i < d->n_caches; i++)
                if (streq_ptr(d->caches[i]->service, service))
                        return d->caches[i];
        return NULL;
}

/* Room for one more cache: drops the least recently used idle one when
 * full (a cache in use stays; then the array grows past the limit). */
static int cache_make_room_locked(geerpc_discovery *d) {
        if (d->n_caches >= DISCOVERY_CACHES_MAX) {
                size_t victim = SIZE_MAX;
                for (size_t i = 0; i < d->n_caches; i++) {
                        DiscoveryCache *c = d->caches[i];
                        if (c->users == 0 && !c->refreshing &&
                            (victim == SIZE_MAX || c->last_used < d->caches[victim]->last_used))
                                victim = i;
                }
                if (victim != SIZE_MAX) {
                        cache_free(d->caches[victim]);
                        d->caches[victim] = d->caches[--d->n_caches];
                }
        }
        DiscoveryCache **v = reallocarray(d->caches, d->n_caches + 1, sizeof(DiscoveryCache *));
        if (!v)
                return -ENOMEM;
        d->caches = v;
        return 0;
}

/* The cache of service, made on first use. A back end without fetch
 * filters its fixed list; one that fetches starts empty. */
static int cache_get_locked(geerpc_discovery *d, const char *service, DiscoveryCache **ret) {
        DiscoveryCache *c = cache_find_locked(d, service);
        if (c) {
                *ret = c;
                return 0;
        }
        if (cache_make_room_locked(d) < 0)
                return -ENOMEM;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if ((service && !(c->service = strdup(service))) ||
            (!d->vtable->fetch && d->base && server_set_filter(d->base, service, &c->servers) < 0)) {
                cache_free(c);
                return -ENOMEM;
        }
        d->caches[d->n_caches++] = c;
        *ret = c;
        return 0;
}

static bool refresh_due(geerpc_discovery *d, DiscoveryCache *c, usec_t now) {
        if (!d->vtable->fetch)
                return false;
        return !c->servers || now >= usec_add(c->last_attempt, d->ttl);
}

/* 0 when the cached list may be served now. It may while the last fetch
 * succeeded (it is within its TTL, or being refreshed), and after a failed
 * one until max_stale has passed since the last success. */
static int cache_usable(geerpc_discovery *d, DiscoveryCache *c, usec_t now) {
        if (!c->servers)
                return c->last_error < 0 ? c->last_error : -EAGAIN;
        if (c->last_error == 0 || !d->vtable->fetch)
                return 0;
        if (now <= usec_add(c->last_success, d->max_stale))
                return 0;
        if (!c->stale_logged) {
                char age[GO_DURATION_MAX];
                log_error("rpc discovery: registry %s still unreachable, the cached list of %s is %s old, past the "
                          "maximum staleness: no longer serving it",
                          d->description, cache_name(c), duration_format_short(age, now - c->last_success));
                c->stale_logged = true;
        }
        return -ESTALE;
}

static void log_outcome(geerpc_discovery *d, DiscoveryCache *c, int r, const char *error, usec_t now) {
        char age[GO_DURATION_MAX];
        if (r >= 0) {
                if (c->outage_logged)
                        log_notice("rpc discovery: registry %s reachable again, %zu servers for %s", d->description,
                                   c->servers->n, cache_name(c));
                c->outage_logged = c->stale_logged = false;
                return;
        }
        if (c->outage_logged)
                return;
        c->outage_logged = true;
        if (c->servers && now <= usec_add(c->last_success, d->max_stale))
                log_warning("rpc discovery: registry %s unreachable (%s), serving the cached list of %zu servers "
                            "for %s from %s ago",
                            d->description, error ?: strerror(-r), c->servers->n, cache_name(c),
                            duration_format_short(age, now - c->last_success));
        else
                log_warning("rpc discovery: registry %s unreachable (%s), no usable cached list for %s",
                            d->description, error ?: strerror(-r), cache_name(c));
}

/* Keeps the old set when nothing changed: its hash ring and round-robin
 * state stay warm. */
static void cache_install_locked(DiscoveryCache *c, ServerSet *fresh, usec_t now) {
        if (!server_set_equal(c->servers, fresh)) {
                server_set_unref(c->servers);
                c->servers = server_set_ref(fresh);
        }
        c->last_success = c->last_attempt = now;
        c->last_error = 0;
}

/* Called with the lock held; drops it during the fetch. timeout: what this
 * caller may spend; clipped: whether it is less than the refresh timeout. */
static int refresh_locked(geerpc_discovery *d, DiscoveryCache *c, usec_t timeout, bool clipped) {
        _cleanup_(server_set_unrefp) ServerSet *fetched = NULL, *fresh = NULL;
        _cleanup_free_ char *error = NULL;

        c->refreshing = true;
        pthread_mutex_unlock(&d->lock);
        int r = d->vtable->fetch(d, c->service, timeout, &fetched, &error);
        /* A registry that ignores ?service= (the Go original's) lists
         * everyone: what it says of each server still decides. */
        if (r >= 0)
                r = server_set_filter(fetched, c->service, &fresh);
        pthread_mutex_lock(&d->lock);
        c->refreshing = false;
        c->generation++;
        pthread_cond_broadcast(&d->refreshed);

        /* A fetch cut short by this caller's own deadline says nothing about
         * the registry: leave the state alone so that the next caller
         * tries again. */
        if (r == -ETIMEDOUT && clipped)
                return r;

        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (r >= 0) {
                if (!server_set_equal(c->servers, fresh))
                        log_debug("rpc discovery: %s lists %zu servers for %s", d->description, fresh->n,
                                  cache_name(c));
                cache_install_locked(c, fresh, now);
        } else {
                c->last_attempt = now;
                c->last_error = r;
        }
        log_outcome(d, c, r, error, now);
        return r;
}

/* Waits (lock held) until the refresh in flight ends or the deadline. */
static int wait_refresh_locked(geerpc_discovery *d, DiscoveryCache *c, usec_t deadline) {
        uint64_t gen = c->generation;
        while (c->generation == gen) {
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
static int maybe_refresh_locked(geerpc_discovery *d, DiscoveryCache *c, usec_t deadline) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (!refresh_due(d, c, now))
                return 0;
        if (c->refreshing) {
                /* Somebody is fetching: use the cache if it is good enough,
                 * otherwise wait for their result. */
                if (cache_usable(d, c, now) == 0)
                        return 0;
                return wait_refresh_locked(d, c, deadline);
        }
        if (deadline != USEC_INFINITY && now >= deadline)
                return cache_usable(d, c, now) == 0 ? 0 : -ETIMEDOUT;
        usec_t timeout = d->refresh_timeout;
        bool clipped = false;
        if (deadline != USEC_INFINITY && deadline - now < timeout) {
                timeout = deadline - now;
                clipped = true;
        }
        int r = refresh_locked(d, c, timeout, clipped);
        if (r == -ETIMEDOUT && clipped && cache_usable(d, c, now_usec(CLOCK_MONOTONIC)) != 0)
                return r;
        return 0;
}

int discovery_acquire(geerpc_discovery *d, const char *service, usec_t deadline, ServerSet **ret) {
        DiscoveryCache *c;
        pthread_mutex_lock(&d->lock);
        int r = cache_get_locked(d, service, &c);
        if (r < 0) {
                pthread_mutex_unlock(&d->lock);
                return r;
        }
        c->users++;
        /* -EAGAIN: no list yet and the refresh we waited for said nothing
         * (another caller's deadline cut it short): try once more. */
        for (unsigned attempt = 0;; attempt++) {
                r = maybe_refresh_locked(d, c, deadline);
                if (r >= 0)
                        r = cache_usable(d, c, now_usec(CLOCK_MONOTONIC));
                if (r != -EAGAIN)
                        break;
                if (attempt == 2) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        c->users--;
        c->last_used = now_usec(CLOCK_MONOTONIC);
        if (r >= 0)
                *ret = server_set_ref(c->servers);
        pthread_mutex_unlock(&d->lock);
        return r;
}

int discovery_pick(geerpc_discovery *d, const char *service, geerpc_select_mode mode, const char *key,
                   usec_t deadline, select_skip_t skip, void *userdata, char **ret_server) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (mode == GEERPC_SELECT_HASH && !key)
                return -EINVAL;
        int r = discovery_acquire(d, service, deadline, &s);
        if (r < 0)
                return r;
        r = select_pick(s, mode, key, skip, userdata);
        if (r < 0)
                return r;
        char *copy = strdup(s->addrs[r]);
        if (!copy)
                return -ENOMEM;
        *ret_server = copy;
        return 0;
}

void discovery_publish(geerpc_discovery *d, ServerSet *all) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_lock(&d->lock);
        server_set_unref(d->base);
        d->base = server_set_ref(all);
        for (size_t i = 0; i < d->n_caches; i++) {
                DiscoveryCache *c = d->caches[i];
                _cleanup_(server_set_unrefp) ServerSet *mine = NULL;
                if (server_set_filter(all, c->service, &mine) < 0) {
                        /* Out of memory: this one fetches again instead. */
                        c->last_attempt = 0;
                        continue;
                }
                cache_install_locked(c, mine, now);
                c->generation++;
        }
        pthread_cond_broadcast(&d->refreshed);
        pthread_mutex_unlock(&d->lock);
}

/* ---- the public operations ---------------------------------------------- */

_public_ int geerpc_discovery_refresh(geerpc_discovery *d) {
        DiscoveryCache *c;
        if (!d)
                return -EINVAL;
        if (!d->vtable->fetch)
                return 0;
        pthread_mutex_lock(&d->lock);
        int r = cache_get_locked(d, NULL, &c);
        if (r >= 0) {
                /* Every other service's list is due too. */
                for (size_t i = 0; i < d->n_caches; i++)
                        if (d->caches[i] != c)
                                d->caches[i]->last_attempt = 0;
                c->users++;
                if (c->refreshing) {
                        (void) wait_refresh_locked(d, c, USEC_INFINITY);
                        r = c->last_error;
                } else
                        r = refresh_locked(d, c, d->refresh_timeout, false);
                c->users--;
        }
        pthread_mutex_unlock(&d->lock);
        return r < 0 ? r : 0;
}

int discovery_server_set_new(const char *const *servers, size_t n, ServerSet **ret) {
        if (n > 0 && !servers)
                return -EINVAL;
        if (n > GEERPC_DISCOVERY_MAX_SERVERS)
                return -E2BIG;
        /* In their canonical spelling, so that two spellings of one server
         * are one entry (and one connection). */
        char **v = calloc(n ?: 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = address_canonicalize(servers[i], 0, &v[i], NULL);
        if (r >= 0)
                r = server_set_new((const char *const *) v, n, ret);
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return r;
}

_public_ int geerpc_discovery_update(geerpc_discovery *d, const char *const *servers, size_t n) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (!d)
                return -EINVAL;
        int r = discovery_server_set_new(servers, n, &s);
        if (r < 0)
                return r;
        discovery_publish(d, s);
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
        return discovery_pick(d, NULL, mode, key, default_deadline(d), NULL, NULL, ret_server);
}

_public_ int geerpc_discovery_get_list(geerpc_discovery *d, const char *service, geerpc_server_list **ret) {
        if (!d || !ret || (service && !service_name_is_valid(service)))
                return -EINVAL;
        return discovery_acquire(d, service, default_deadline(d), ret);
}

_public_ int geerpc_discovery_get_all(geerpc_discovery *d, char ***ret_servers, size_t *ret_n) {
        _cleanup_(server_set_unrefp) ServerSet *s = NULL;
        if (!d || !ret_servers)
                return -EINVAL;
        int r = discovery_acquire(d, NULL, default_deadline(d), &s);
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
