/* SPDX-License-Identifier: MIT */
#include "basic/backoff.h"
#include "basic/log.h"
#include "basic/sort-util.h"
#include "cluster/xclient-internal.h"

/* Ejection: a server whose dial failed (refused, unreachable, timed out:
 * the request never left) is passed over by picks for a backoff of
 * GEERPC_XCLIENT_EJECT_BACKOFF_INITIAL_USEC doubling up to
 * GEERPC_XCLIENT_EJECT_BACKOFF_MAX_USEC, jittered; when it ends one call
 * probes it; a successful dial puts it back in rotation, a failed probe
 * doubles the backoff. Without this, a dead server keeps getting its share
 * of calls until the registry drops it, minutes later. All under the
 * xclient's lock, which is never held during a dial or a call. */

static int ejected_compare(const void *addr, const void *element) {
        return strcmp(addr, ((const XClientEjected *) element)->addr);
}

/* Binary search (lock held): the index of addr, or where it would go. */
static size_t find_locked(geerpc_xclient *x, const char *addr, bool *ret_found) {
        return sorted_search(addr, x->ejected, x->n_ejected, sizeof(XClientEjected), ejected_compare, ret_found);
}

static void remove_locked(geerpc_xclient *x, size_t i) {
        free(x->ejected[i].addr);
        memmove(x->ejected + i, x->ejected + i + 1, (x->n_ejected - i - 1) * sizeof(XClientEjected));
        x->n_ejected--;
        atomic_store(&x->any_ejected, x->n_ejected > 0);
}

bool xclient_is_ejected(geerpc_xclient *x, const char *addr, usec_t now) {
        bool found, ejected = false;
        /* Every call asks: no lock while nothing is ejected. */
        if (!atomic_load_explicit(&x->any_ejected, memory_order_relaxed))
                return false;
        pthread_mutex_lock(&x->lock);
        if (x->n_ejected > 0) {
                size_t i = find_locked(x, addr, &found);
                ejected = found && (now < x->ejected[i].until || x->ejected[i].probing);
        }
        pthread_mutex_unlock(&x->lock);
        return ejected;
}

bool xclient_claim(geerpc_xclient *x, const char *addr, usec_t now) {
        bool found, ok = true;
        if (!atomic_load_explicit(&x->any_ejected, memory_order_relaxed))
                return true;
        pthread_mutex_lock(&x->lock);
        if (x->n_ejected > 0) {
                size_t i = find_locked(x, addr, &found);
                if (found) {
                        XClientEjected *e = &x->ejected[i];
                        ok = now >= e->until && !e->probing;
                        if (ok) {
                                e->probing = true;
                                log_debug("rpc xclient: probing %s after %u failed dial(s)", addr, e->failures);
                        }
                }
        }
        pthread_mutex_unlock(&x->lock);
        return ok;
}

/* Lock held. Room for one more: past the limit the entry whose backoff
 * ends first goes (it would be probed first anyway). */
static int make_room_locked(geerpc_xclient *x) {
        if (x->n_ejected >= GEERPC_XCLIENT_EJECTED_MAX) {
                size_t oldest = 0;
                for (size_t i = 1; i < x->n_ejected; i++)
                        if (x->ejected[i].until < x->ejected[oldest].until)
                                oldest = i;
                remove_locked(x, oldest);
        }
        XClientEjected *v = reallocarray(x->ejected, x->n_ejected + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        x->ejected = v;
        return 0;
}

void xclient_eject(geerpc_xclient *x, const char *addr, usec_t now) {
        bool found;
        char *copy = NULL;
        pthread_mutex_lock(&x->lock);
        size_t i = find_locked(x, addr, &found);
        if (!found) {
                copy = strdup(addr);
                if (!copy || make_room_locked(x) < 0) {
                        pthread_mutex_unlock(&x->lock);
                        free(copy);
                        return;
                }
                i = find_locked(x, addr, &found); /* make_room may have moved it */
                memmove(x->ejected + i + 1, x->ejected + i, (x->n_ejected - i) * sizeof(XClientEjected));
                x->ejected[i] = (XClientEjected) { .addr = copy };
                x->n_ejected++;
                atomic_store(&x->any_ejected, true);
        }
        XClientEjected *e = &x->ejected[i];
        /* Calls that dialled at the same time fail together: one backoff
         * step for them all. */
        if (!found || e->probing || now >= e->until) {
                e->failures++;
                e->until = usec_add(now, backoff_delay(GEERPC_XCLIENT_EJECT_BACKOFF_INITIAL_USEC,
                                                       GEERPC_XCLIENT_EJECT_BACKOFF_MAX_USEC, e->failures,
                                                       backoff_jitter()));
                e->probing = false;
                log_debug("rpc xclient: ejected %s for %.1fs after %u failed dial(s)", addr,
                          (double) (e->until - now) / USEC_PER_SEC, e->failures);
        }
        pthread_mutex_unlock(&x->lock);
}

void xclient_unejected(geerpc_xclient *x, const char *addr) {
        bool found;
        if (!atomic_load_explicit(&x->any_ejected, memory_order_relaxed))
                return;
        pthread_mutex_lock(&x->lock);
        if (x->n_ejected > 0) {
                size_t i = find_locked(x, addr, &found);
                if (found) {
                        log_debug("rpc xclient: %s is reachable again", addr);
                        remove_locked(x, i);
                }
        }
        pthread_mutex_unlock(&x->lock);
}

int xclient_pick_ejected(geerpc_xclient *x, ServerSet *s, select_skip_t skip, void *userdata) {
        int best = -ENXIO;
        usec_t best_until = USEC_INFINITY;
        for (size_t k = 0; k < s->n_active; k++) {
                uint32_t i = s->active[k];
                bool found;
                if (skip && skip(s->addrs[i], userdata))
                        continue;
                pthread_mutex_lock(&x->lock);
                size_t j = find_locked(x, s->addrs[i], &found);
                usec_t until = found ? x->ejected[j].until : 0;
                pthread_mutex_unlock(&x->lock);
                if (best < 0 || until < best_until) {
                        best = (int) i;
                        best_until = until;
                }
        }
        return best;
}

void xclient_ejected_free(geerpc_xclient *x) {
        for (size_t i = 0; i < x->n_ejected; i++)
                free(x->ejected[i].addr);
        x->ejected = mfree(x->ejected);
        x->n_ejected = 0;
        atomic_store(&x->any_ejected, false);
}
