/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/backoff.h"
#include "basic/duration.h"
#include "basic/address.h"
#include "basic/log.h"
#include "basic/url.h"
#include "cluster/registration-internal.h"
#include "rpc/server-internal.h"

/* The registration's journal fields, and any more (a MESSAGE_ID). */
#define LOG_REG_FIELDS(r, ...) \
        LOG_FIELDS({ "GEERPC_ADDR", (r)->address }, { "GEERPC_REGISTRY", (r)->url }, ##__VA_ARGS__)

usec_t registration_derive_period(usec_t registry_timeout) {
        usec_t p;
        if (registry_timeout == USEC_INFINITY || registry_timeout == 0)
                p = GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC;
        else if (registry_timeout >= 3 * USEC_PER_MINUTE)
                /* As the Go original: one minute of slack. */
                p = registry_timeout - USEC_PER_MINUTE;
        else
                /* A short timeout: three beats per window survive a lost one. */
                p = registry_timeout / 3;
        return MAX(p, (usec_t) GEERPC_HEARTBEAT_PERIOD_MIN_USEC);
}

usec_t registration_backoff(usec_t period, unsigned failures, double jitter01) {
        /* 1 s, 2 s, 4 s, ... capped at the period. */
        return backoff_delay(GEERPC_HEARTBEAT_BACKOFF_INITIAL_USEC, period, failures, jitter01);
}

static const char *const state_names[] = {
        [GEERPC_REGISTRATION_IDLE] = "idle",
        [GEERPC_REGISTRATION_STARTING] = "starting",
        [GEERPC_REGISTRATION_REGISTERED] = "registered",
        [GEERPC_REGISTRATION_RETRYING] = "retrying",
        [GEERPC_REGISTRATION_STOPPING] = "stopping",
        [GEERPC_REGISTRATION_STOPPED] = "stopped",
};

_public_ const char *geerpc_registration_state_to_string(geerpc_registration_state s) {
        return (unsigned) s < ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

/* IDLE -> STARTING -> REGISTERED or RETRYING, and between those two at
 * every heartbeat; from any of them (or IDLE: a stop before the start)
 * -> STOPPING -> STOPPED. */
static bool state_change_allowed(geerpc_registration_state from, geerpc_registration_state to) {
        switch (to) {
        case GEERPC_REGISTRATION_STARTING:
                return from == GEERPC_REGISTRATION_IDLE;
        case GEERPC_REGISTRATION_REGISTERED:
        case GEERPC_REGISTRATION_RETRYING:
                return from == GEERPC_REGISTRATION_STARTING || from == GEERPC_REGISTRATION_REGISTERED ||
                       from == GEERPC_REGISTRATION_RETRYING;
        case GEERPC_REGISTRATION_STOPPING:
                return from != GEERPC_REGISTRATION_STOPPING && from != GEERPC_REGISTRATION_STOPPED;
        case GEERPC_REGISTRATION_STOPPED:
                return from == GEERPC_REGISTRATION_STOPPING;
        default:
                return false;
        }
}

static void set_state(geerpc_registration *r, geerpc_registration_state s) {
        assert(state_change_allowed(r->state, s));
        /* Every change follows the end of a heartbeat (or comes before the
         * first): none is in flight across one. */
        assert(!r->beat_in_flight);
        if (r->state != s)
                log_debug("registration of %s at %s: %s -> %s", r->address, r->url,
                          geerpc_registration_state_to_string(r->state), geerpc_registration_state_to_string(s));
        r->state = s;
}

static int backend_for_url(const char *url, const RegistrationBackend **ret) {
        int s = url_scheme(url);
        if (s < 0)
                return s;
        *ret = s == URL_SCHEME_ETCD ? &registration_backend_etcd : &registration_backend_registry;
        return 0;
}

_public_ int geerpc_registration_new(geerpc_registration **ret, const char *registry_url, const char *address) {
        int r;

        if (!ret || isempty(registry_url) || isempty(address))
                return -EINVAL;
        const RegistrationBackend *b;
        r = backend_for_url(registry_url, &b);
        if (r < 0)
                return r;

        /* Announced in its one spelling (basic/address.h). */
        _cleanup_free_ char *canonical = NULL;
        r = address_canonicalize(address, 0, &canonical, NULL);
        if (r < 0)
                return r;

        geerpc_registration *reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        reg->n_ref = 1;
        reg->weight = GEERPC_WEIGHT_DEFAULT;
        reg->backend = b;
        reg->url = strdup(registry_url);
        reg->address = TAKE_PTR(canonical);
        if (!reg->url) {
                geerpc_registration_unref(reg);
                return -ENOMEM;
        }
        r = b->init(reg);
        if (r < 0) {
                reg->backend = NULL;
                geerpc_registration_unref(reg);
                return r;
        }
        reg->period = GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC;
        *ret = reg;
        return 0;
}

_public_ geerpc_registration *geerpc_registration_ref(geerpc_registration *r) {
        if (r)
                r->n_ref++;
        return r;
}

_public_ geerpc_registration *geerpc_registration_unref(geerpc_registration *r) {
        if (!r || --r->n_ref > 0)
                return NULL;
        if (r->backend) {
                r->backend->cancel(r);
                r->backend->done(r);
        }
        sd_event_source_disable_unref(r->timer);
        http_client_free(r->http);
        sd_event_unref(r->event);
        free(r->url);
        free(r->address);
        if (r->token)
                explicit_bzero(r->token, strlen(r->token));
        free(r->token);
        free(r->last_error);
        geerpc_server_unref(r->server);
        strv_free(r->labels);
        free(r);
        return NULL;
}

_public_ int geerpc_registration_set_period(geerpc_registration *r, uint64_t usec) {
        if (!r || (usec > 0 && usec < GEERPC_HEARTBEAT_PERIOD_MIN_USEC))
                return -EINVAL;
        r->period_fixed = usec;
        if (usec > 0)
                r->period = usec;
        return 0;
}

bool registration_token_is_valid(const char *token) {
        if (isempty(token) || strlen(token) > GEERPC_REGISTRY_TOKEN_MAX)
                return false;
        /* It goes into an HTTP header: no control characters, no spaces. */
        for (const char *p = token; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

_public_ int geerpc_registration_set_token(geerpc_registration *r, const char *token) {
        if (!r || !registration_token_is_valid(token))
                return -EINVAL;
        char *t = strdup(token);
        if (!t)
                return -ENOMEM;
        free(r->token);
        r->token = t;
        return 0;
}

/* Reads a token file into buf and strips surrounding whitespace (files
 * usually end with a newline); *ret_token points into buf. */
static int read_token_file(const char *path, char buf[static GEERPC_REGISTRY_TOKEN_MAX + 2], char **ret_token) {
        FILE *f = fopen(path, "re");
        if (!f)
                return negative_errno();
        size_t n = fread(buf, 1, GEERPC_REGISTRY_TOKEN_MAX + 1, f);
        bool err = ferror(f);
        fclose(f);
        if (err)
                return -EIO;
        if (n > GEERPC_REGISTRY_TOKEN_MAX)
                return -EFBIG;
        buf[n] = 0;
        char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
                s[--l] = 0;
        *ret_token = s;
        return 0;
}

int registration_token_read_file(const char *path, char **ret) {
        char buf[GEERPC_REGISTRY_TOKEN_MAX + 2], *token;
        int k = read_token_file(path, buf, &token);
        if (k >= 0 && !registration_token_is_valid(token))
                k = -EINVAL;
        if (k >= 0 && !(*ret = strdup(token)))
                k = -ENOMEM;
        explicit_bzero(buf, sizeof buf);
        return k;
}

_public_ int geerpc_registration_load_token_file(geerpc_registration *r, const char *path) {
        if (!r || !path)
                return -EINVAL;
        char buf[GEERPC_REGISTRY_TOKEN_MAX + 2], *token;
        int k = read_token_file(path, buf, &token);
        if (k >= 0)
                k = geerpc_registration_set_token(r, token);
        explicit_bzero(buf, sizeof buf);
        return k;
}

_public_ int geerpc_registration_load_credential(geerpc_registration *r) {
        if (!r)
                return -EINVAL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        if (isempty(dir))
                return 0;
        char path[4096];
        snprintf(path, sizeof path, "%s/registry-token", dir);
        char buf[GEERPC_REGISTRY_TOKEN_MAX + 2], *token;
        int k = read_token_file(path, buf, &token);
        if (k == -ENOENT)
                return 0;
        /* A blank credential is the units' SetCredential= fallback for "the
         * admin made no token file" (systemd 252 fails a unit whose
         * LoadCredential= source is missing unless there is one). */
        if (k >= 0 && !isempty(token)) {
                k = geerpc_registration_set_token(r, token);
                if (k >= 0)
                        k = 1;
        }
        explicit_bzero(buf, sizeof buf);
        return k;
}

static void schedule(geerpc_registration *r, usec_t delay);

/* What is announced changed: a heartbeat now, or right after the one in
 * flight. */
static void meta_changed(geerpc_registration *r) {
        /* Before start the first heartbeat carries it; while retrying the
         * next retry does. */
        if (r->beat_in_flight)
                r->meta_changed = true;
        else if (r->state == GEERPC_REGISTRATION_REGISTERED)
                schedule(r, 0);
}

_public_ int geerpc_registration_set_server(geerpc_registration *r, geerpc_server *s) {
        if (!r)
                return -EINVAL;
        geerpc_server_unref(r->server);
        r->server = geerpc_server_ref(s);
        meta_changed(r);
        return 0;
}

_public_ int geerpc_registration_set_weight(geerpc_registration *r, unsigned weight) {
        if (!r || weight > GEERPC_WEIGHT_MAX)
                return -EINVAL;
        if (r->weight != weight) {
                r->weight = weight;
                meta_changed(r);
        }
        return 0;
}

_public_ int geerpc_registration_set_label(geerpc_registration *r, const char *key, const char *value) {
        if (!r || !server_label_key_is_valid(key) || (value && !server_label_value_is_valid(value)))
                return -EINVAL;
        size_t kl = strlen(key), n = strv_length(r->labels);
        _cleanup_free_ char *item = NULL;
        if (value && asprintf(&item, "%s=%s", key, value) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (strncmp(r->labels[i], key, kl) != 0 || r->labels[i][kl] != '=')
                        continue;
                if (item && streq(r->labels[i], item))
                        return 0;
                free(r->labels[i]);
                if (item)
                        r->labels[i] = TAKE_PTR(item);
                else
                        memmove(r->labels + i, r->labels + i + 1, (n - i) * sizeof(char *));
                meta_changed(r);
                return 0;
        }
        if (!item)
                return 0;
        if (n >= GEERPC_LABELS_MAX)
                return -E2BIG;
        /* Kept in the order the registry lists them: parsed back. */
        _cleanup_free_ char *joined = NULL;
        _cleanup_strv_free_ char **v = NULL;
        const char *why;
        int k = strv_push(&r->labels, item);
        if (k < 0)
                return k;
        joined = strv_join(r->labels, ",");
        if (!joined)
                return -ENOMEM;
        k = server_meta_parse_labels(joined, &v, &why);
        if (k < 0)
                return k;
        strv_free(r->labels);
        r->labels = TAKE_PTR(v);
        meta_changed(r);
        return 0;
}

int registration_meta(geerpc_registration *r, ServerMeta *ret) {
        ServerMeta m = { .weight = r->weight };
        if (r->server) {
                int k = server_get_service_names(r->server, &m.services);
                if (k < 0)
                        return k;
                if (strv_length(m.services) > GEERPC_SERVICES_MAX) {
                        if (!r->services_warned)
                                log_warning("registration: %s offers %zu services, more than a registry carries "
                                            "(%u): announcing it as offering every service",
                                            r->address, strv_length(m.services), GEERPC_SERVICES_MAX);
                        r->services_warned = true;
                        m.services = strv_free(m.services);
                }
        }
        if (strv_copy(r->labels, &m.labels) < 0) {
                server_meta_done(&m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

_public_ int geerpc_registration_set_handler(geerpc_registration *r, geerpc_registration_handler handler,
                                             void *userdata) {
        if (!r)
                return -EINVAL;
        r->handler = handler;
        r->userdata = userdata;
        return 0;
}

_public_ int geerpc_registration_attach_event(geerpc_registration *r, sd_event *event, int64_t priority) {
        int k;
        if (!r)
                return -EINVAL;
        if (r->event)
                return -EBUSY;
        if (event)
                r->event = sd_event_ref(event);
        else {
                k = sd_event_default(&r->event);
                if (k < 0)
                        return k;
        }
        r->priority = priority;
        k = http_client_new(&r->http, r->event);
        if (k < 0) {
                r->event = sd_event_unref(r->event);
                return k;
        }
        return 0;
}

static void notify(geerpc_registration *r) {
        if (r->handler)
                r->handler(r, r->userdata);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void schedule(geerpc_registration *r, usec_t delay) {
        r->next_attempt = usec_add(now_usec(CLOCK_MONOTONIC), delay);
        int k;
        if (!r->timer) {
                k = sd_event_add_time(r->event, &r->timer, CLOCK_MONOTONIC, r->next_attempt, TIMER_ACCURACY_PRECISE,
                                      on_timer, r);
                if (k >= 0) {
                        (void) sd_event_source_set_priority(r->timer, r->priority);
                        (void) sd_event_source_set_description(r->timer, "geerpc-heartbeat");
                }
        } else {
                k = sd_event_source_set_time(r->timer, r->next_attempt);
                if (k >= 0)
                        k = sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        }
        if (k < 0)
                log_error_errno(k, "registration: cannot arm the heartbeat timer: %m");
}

static usec_t beat_timeout(geerpc_registration *r) {
        /* A registry that accepts but never answers must not stall the
         * heartbeat: give up within the period (but allow at least 1 s). */
        return MAX(MIN(r->period, HTTP_TIMEOUT_DEFAULT_USEC), USEC_PER_SEC);
}

static void beat(geerpc_registration *r) {
        /* One heartbeat at a time, and only while the registration runs. */
        assert(!r->beat_in_flight);
        assert(IN_SET(r->state, GEERPC_REGISTRATION_STARTING, GEERPC_REGISTRATION_REGISTERED,
                      GEERPC_REGISTRATION_RETRYING));
        r->next_attempt = 0;
        int k = r->backend->beat(r, beat_timeout(r));
        if (k < 0) {
                char why[128];
                snprintf(why, sizeof why, "cannot send heartbeat: %s", strerror(-k));
                registration_beat_done(r, k, why, 0);
                return;
        }
        r->beat_in_flight = true;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        geerpc_registration *r = userdata;
        if (IN_SET(r->state, GEERPC_REGISTRATION_REGISTERED, GEERPC_REGISTRATION_RETRYING,
                   GEERPC_REGISTRATION_STARTING))
                beat(r);
        return 0;
}

void registration_beat_done(geerpc_registration *r, int result, const char *error, usec_t period_hint) {
        char d[GO_DURATION_MAX];

        r->beat_in_flight = false;
        if (IN_SET(r->state, GEERPC_REGISTRATION_STOPPING, GEERPC_REGISTRATION_STOPPED))
                return;
        bool again = r->meta_changed;
        r->meta_changed = false;

        if (result >= 0) {
                bool first = r->last_success == 0, recovered = r->failures > 0;
                r->period = r->period_fixed ?: period_hint ?: GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC;
                r->failures = 0;
                r->last_error = mfree(r->last_error);
                r->last_success = now_usec(CLOCK_MONOTONIC);
                set_state(r, GEERPC_REGISTRATION_REGISTERED);
                if (first || recovered)
                        log_struct(LOG_INFO, 0, LOG_REG_FIELDS(r), "%s %s at %s, heartbeat every %s",
                                   first ? "registered" : "registry reachable again, registered", r->address, r->url,
                                   duration_format_short(d, r->period));
                else
                        log_debug("heartbeat for %s sent to %s", r->address, r->url);
                schedule(r, again ? 0 : r->period);
        } else {
                r->failures++;
                free(r->last_error);
                r->last_error = strdup(error ?: strerror(-result));
                set_state(r, GEERPC_REGISTRATION_RETRYING);
                usec_t delay = registration_backoff(r->period, r->failures, backoff_jitter());
                /* Once per outage at warning level, with the catalog's
                 * MESSAGE_ID (journalctl -x explains it); the retries at
                 * debug. */
                bool outage_start = r->failures == 1;
                log_struct(outage_start ? LOG_WARNING : LOG_DEBUG, 0,
                           LOG_REG_FIELDS(r, { "MESSAGE_ID", outage_start ? LOG_MESSAGE_ID_HEARTBEAT_FAILED : NULL }),
                           "heartbeat for %s to %s failed: %s; retrying in %s", r->address, r->url,
                           strempty(r->last_error), duration_format_short(d, delay));
                schedule(r, delay);
        }
        notify(r);
}

_public_ int geerpc_registration_start(geerpc_registration *r) {
        int k;
        if (!r)
                return -EINVAL;
        if (r->state != GEERPC_REGISTRATION_IDLE)
                return -EALREADY;
        if (!r->event) {
                k = geerpc_registration_attach_event(r, NULL, 0);
                if (k < 0)
                        return k;
        }
        set_state(r, GEERPC_REGISTRATION_STARTING);
        beat(r);
        return 0;
}

static void finish_stop(geerpc_registration *r) {
        set_state(r, GEERPC_REGISTRATION_STOPPED);
        geerpc_registration_handler done = r->stop_done;
        void *ud = r->stop_userdata;
        r->stop_done = NULL;
        geerpc_registration_ref(r);
        notify(r);
        if (done)
                done(r, ud);
        geerpc_registration_unref(r);
}

void registration_leave_done(geerpc_registration *r, int result, const char *error) {
        if (result >= 0)
                log_struct(LOG_INFO, 0, LOG_REG_FIELDS(r), "deregistered %s from %s", r->address, r->url);
        else
                log_struct(LOG_WARNING, 0, LOG_REG_FIELDS(r),
                           "could not deregister %s from %s: %s; the registry will expire it", r->address, r->url,
                           strempty(error));
        finish_stop(r);
}

_public_ int geerpc_registration_stop(geerpc_registration *r, uint64_t timeout_usec, geerpc_registration_handler done,
                                      void *userdata) {
        if (!r)
                return -EINVAL;
        if (IN_SET(r->state, GEERPC_REGISTRATION_STOPPING, GEERPC_REGISTRATION_STOPPED))
                return -EALREADY;

        r->stop_done = done;
        r->stop_userdata = userdata;
        if (r->timer)
                (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
        r->next_attempt = 0;
        if (r->beat_in_flight) {
                r->backend->cancel(r);
                r->beat_in_flight = false;
        }
        bool started = r->state != GEERPC_REGISTRATION_IDLE;
        set_state(r, GEERPC_REGISTRATION_STOPPING);
        if (!started) {
                finish_stop(r);
                return 0;
        }
        /* Deregister even if no heartbeat succeeded yet: one may have
         * reached the registry without its answer reaching us. */
        int k = r->backend->leave(r, timeout_usec ?: GEERPC_DEREGISTER_TIMEOUT_DEFAULT_USEC);
        if (k < 0) {
                char why[128];
                snprintf(why, sizeof why, "%s", strerror(-k));
                registration_leave_done(r, k, why);
        }
        return 0;
}

_public_ geerpc_registration_state geerpc_registration_get_state(geerpc_registration *r) {
        return r ? r->state : GEERPC_REGISTRATION_IDLE;
}

_public_ const char *geerpc_registration_get_last_error(geerpc_registration *r) {
        return r ? r->last_error : NULL;
}

_public_ uint64_t geerpc_registration_get_last_success(geerpc_registration *r) {
        return r ? r->last_success : 0;
}

_public_ uint64_t geerpc_registration_get_next_attempt(geerpc_registration *r) {
        return r ? r->next_attempt : 0;
}

_public_ uint64_t geerpc_registration_get_period(geerpc_registration *r) {
        return r ? r->period : 0;
}

_public_ const char *geerpc_registration_get_url(geerpc_registration *r) {
        return r ? r->url : NULL;
}

_public_ const char *geerpc_registration_get_address(geerpc_registration *r) {
        return r ? r->address : NULL;
}
