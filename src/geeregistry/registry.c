/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "basic/address.h"
#include "basic/duration.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "persist.h"
#include "registry.h"

struct Registry {
        sd_event *event;
        Table *table;
        Metrics metrics;
        Persist *persist;
        char *token;
        char *unix_directory;

        sd_event_source *sweep;
        usec_t sweep_armed; /* USEC_INFINITY when off */

        sd_event_source *status_timer;
        size_t status_sent; /* the count in the last STATUS=; SIZE_MAX: none yet */
};

usec_t registry_now(Registry *r) {
        uint64_t now;
        if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0)
                return now_usec(CLOCK_MONOTONIC);
        return now;
}

Table *registry_table(Registry *r) {
        return r->table;
}

Metrics *registry_metrics(Registry *r) {
        return &r->metrics;
}

const char *registry_token(Registry *r) {
        return r->token;
}

usec_t registry_timeout(Registry *r) {
        return table_timeout(r->table);
}

uint64_t registry_timeout_seconds(Registry *r) {
        usec_t t = table_timeout(r->table);
        if (t == 0)
                return 0;
        return MAX(t / USEC_PER_SEC, (usec_t) 1);
}

int registry_status(Registry *r, char **ret) {
        size_t n = table_size(r->table);
        char *s;
        if (asprintf(&s, "%zu server%s alive", n, n == 1 ? "" : "s") < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- STATUS= -------------------------------------------------------------- */

static int on_status_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Registry *r = userdata;
        size_t n = table_size(r->table);
        if (n == r->status_sent)
                return 0;
        _cleanup_free_ char *status = NULL;
        if (registry_status(r, &status) >= 0) {
                (void) sd_notifyf(false, "STATUS=%s", status);
                r->status_sent = n;
        }
        return 0;
}

static void status_schedule(Registry *r) {
        int enabled = SD_EVENT_OFF;
        (void) sd_event_source_get_enabled(r->status_timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time(r->status_timer, usec_add(registry_now(r), REGISTRY_STATUS_INTERVAL_USEC));
        (void) sd_event_source_set_enabled(r->status_timer, SD_EVENT_ONESHOT);
}

/* ---- expiry --------------------------------------------------------------- */

static void on_expired(const TableEntry *e, usec_t now, void *userdata) {
        Registry *r = userdata;
        char age[GO_DURATION_MAX];
        r->metrics.expirations++;
        log_struct(LOG_INFO, 0, LOG_FIELDS({ "GEERPC_SERVER", e->addr }, { "MESSAGE_ID", LOG_MESSAGE_ID_EXPIRED }),
                   "expired %s: no heartbeat for %s", e->addr, duration_format_short(age, now - e->last));
}

/* The timer may be early (the oldest server has since sent a heartbeat),
 * never late: heartbeats only push the next expiry back, so it is moved
 * only when the table was empty or the timer fired. */
static void sweep_update(Registry *r) {
        usec_t next = table_next_expiry(r->table);
        if (next == USEC_INFINITY) {
                if (r->sweep_armed != USEC_INFINITY)
                        (void) sd_event_source_set_enabled(r->sweep, SD_EVENT_OFF);
                r->sweep_armed = USEC_INFINITY;
                return;
        }
        if (r->sweep_armed <= next)
                return;
        r->sweep_armed = next;
        (void) sd_event_source_set_time(r->sweep, next);
        (void) sd_event_source_set_enabled(r->sweep, SD_EVENT_ONESHOT);
}

static void changed(Registry *r) {
        if (r->persist)
                persist_schedule(r->persist);
        status_schedule(r);
        sweep_update(r);
}

void registry_expire(Registry *r) {
        if (table_expire(r->table, registry_now(r), on_expired, r) > 0)
                changed(r);
}

static int on_sweep(sd_event_source *es, uint64_t usec, void *userdata) {
        Registry *r = userdata;
        r->sweep_armed = USEC_INFINITY;
        registry_expire(r);
        sweep_update(r);
        return 0;
}

/* ---- events --------------------------------------------------------------- */

/* "services Echo,Foo, weight 3, labels zone=a" for the journal. */
static void describe_meta(const ServerMeta *m, char *buf, size_t size) {
        _cleanup_free_ char *services = m->services ? strv_join(m->services, ",") : NULL,
                            *labels = m->labels ? strv_join(m->labels, ",") : NULL;
        snprintf(buf, size, "services %s, weight %u%s%s", m->services ? strempty(services) : "unknown", m->weight,
                 labels ? ", labels " : "", strempty(labels));
}

/* The one spelling of a server's address, if it may register at all. */
static int canonical_address(Registry *r, const char *addr, char **ret, const char **ret_reason) {
        Address a;
        if (address_parse(addr, 0, &a, ret_reason) < 0)
                return -EINVAL;
        if (r->unix_directory && !address_unix_under(&a, r->unix_directory)) {
                /* Otherwise anyone who may register could point every
                 * client at any local socket. */
                *ret_reason = "unix socket outside the folder servers register in (--unix-directory)";
                return -EINVAL;
        }
        return address_format(&a, ret);
}

/* The state file's servers pass today's rules, not those they were
 * registered under. */
static bool may_register(const char *addr, const char **ret_reason, void *userdata) {
        _cleanup_free_ char *canonical = NULL;
        return canonical_address(userdata, addr, &canonical, ret_reason) >= 0;
}

int registry_heartbeat(Registry *r, const char *given, const ServerMeta *meta, const char **ret_reason) {
        _cleanup_free_ char *addr = NULL;
        int k = canonical_address(r, given, &addr, ret_reason);
        if (k < 0)
                return k;

        usec_t now = registry_now(r);
        const TableEntry *e = table_find(r->table, addr);
        if (e && table_entry_dead(r->table, e, now))
                /* Dead but not swept yet: it comes back as a new server. */
                registry_expire(r);

        k = table_heartbeat(r->table, addr, meta, now);
        if (k == -ENOSPC && table_next_expiry(r->table) <= now) {
                registry_expire(r);
                k = table_heartbeat(r->table, addr, meta, now);
        }
        if (k < 0)
                return k;

        char what[512];
        r->metrics.heartbeats++;
        if (k == TABLE_ADDED) {
                r->metrics.registrations++;
                describe_meta(meta, what, sizeof what);
                log_struct(LOG_INFO, 0,
                           LOG_FIELDS({ "GEERPC_SERVER", addr }, { "MESSAGE_ID", LOG_MESSAGE_ID_REGISTERED }),
                           "registered %s (%s)", addr, what);
                changed(r);
        } else if (k == TABLE_UPDATED) {
                describe_meta(meta, what, sizeof what);
                log_struct(LOG_INFO, 0, LOG_FIELDS({ "GEERPC_SERVER", addr }), "%s now says: %s", addr, what);
                changed(r);
        } else {
                log_debug("heartbeat from %s", addr);
                /* The new time must reach the state file too, or a restart
                 * would judge the server by its older heartbeat. */
                if (r->persist)
                        persist_schedule(r->persist);
        }
        return k;
}

int registry_override(Registry *r, const char *given, int weight, int *ret_own_weight, const char **ret_reason) {
        _cleanup_free_ char *addr = NULL;
        int k = canonical_address(r, given, &addr, ret_reason);
        if (k < 0)
                return k;
        if (weight < 0)
                k = table_clear_override(r->table, addr) ? 1 : -ENOENT;
        else
                k = table_set_override(r->table, addr, (unsigned) weight);
        const TableEntry *e = table_find(r->table, addr);
        if (k >= 0 && ret_own_weight)
                *ret_own_weight = e ? (int) e->meta.weight : -1;
        if (k <= 0)
                return k;
        char own[64] = "";
        if (e)
                snprintf(own, sizeof own, " (it says %u)", e->meta.weight);
        char what[96];
        if (weight < 0)
                snprintf(what, sizeof what, "cleared the override of");
        else if (weight == 0)
                snprintf(what, sizeof what, "drained");
        else
                snprintf(what, sizeof what, "set weight %d for", weight);
        log_struct(LOG_NOTICE, 0, LOG_FIELDS({ "GEERPC_SERVER", addr }, { "MESSAGE_ID", LOG_MESSAGE_ID_OVERRIDE }),
                   "operator %s %s%s", what, addr, e ? own : " (not registered)");
        changed(r);
        return k;
}

int registry_deregister(Registry *r, const char *given, const char **ret_reason) {
        _cleanup_free_ char *addr = NULL;
        int k = canonical_address(r, given, &addr, ret_reason);
        if (k < 0)
                return k;
        registry_expire(r);
        if (!table_remove(r->table, addr))
                return -ENOENT;
        r->metrics.deregistrations++;
        log_struct(LOG_INFO, 0, LOG_FIELDS({ "GEERPC_SERVER", addr }, { "MESSAGE_ID", LOG_MESSAGE_ID_DEREGISTERED }),
                   "deregistered %s", addr);
        changed(r);
        return 0;
}

/* ---- life ----------------------------------------------------------------- */

static int registry_setup(Registry *r, const RegistryConfig *c) {
        int k = table_new(&r->table, c->max_servers, c->timeout);
        if (k < 0)
                return k;
        if (c->token) {
                r->token = strdup(c->token);
                if (!r->token)
                        return -ENOMEM;
        }
        if (c->unix_directory) {
                r->unix_directory = strdup(c->unix_directory);
                if (!r->unix_directory)
                        return -ENOMEM;
        }
        k = sd_event_add_time(r->event, &r->sweep, CLOCK_MONOTONIC, USEC_INFINITY, REGISTRY_SWEEP_ACCURACY_USEC,
                              on_sweep, r);
        if (k >= 0)
                k = sd_event_add_time(r->event, &r->status_timer, CLOCK_MONOTONIC, USEC_INFINITY, 0, on_status_timer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(r->sweep, "sweep");
        (void) sd_event_source_set_description(r->status_timer, "status");
        (void) sd_event_source_set_enabled(r->sweep, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(r->status_timer, SD_EVENT_OFF);

        if (c->state_file) {
                k = persist_new(&r->persist, r->event, c->state_file, r->table, &r->metrics);
                if (k < 0)
                        return k;
                k = persist_load(r->persist, may_register, r);
                if (k < 0)
                        return k;
        }
        sweep_update(r);
        return 0;
}

int registry_new(Registry **ret, sd_event *event, const RegistryConfig *config) {
        Registry *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->sweep_armed = USEC_INFINITY;
        r->status_sent = SIZE_MAX;
        int k = registry_setup(r, config);
        if (k < 0) {
                registry_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

Registry *registry_free(Registry *r) {
        if (!r)
                return NULL;
        persist_free(r->persist); /* writes what is pending */
        sd_event_source_disable_unref(r->sweep);
        sd_event_source_disable_unref(r->status_timer);
        table_free(r->table);
        if (r->token)
                explicit_bzero(r->token, strlen(r->token));
        free(r->token);
        free(r->unix_directory);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}
