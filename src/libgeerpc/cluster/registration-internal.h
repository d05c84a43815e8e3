/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of server-side registration: the generic part (registration.c:
 * timers, period, backoff, state, stop) and the back ends behind a small
 * vtable (registration-registry.c: geeregistry over HTTP; an etcd back end
 * fits the same seam). */

#include <systemd/sd-event.h>

#include "cluster/server-meta.h"
#include "geerpc/registration.h"
#include "http/http-client.h"
#include "basic/macro.h"

typedef struct RegistrationBackend {
        const char *name;
        /* Checks the URL and sets up back-end state; -EINVAL if malformed. */
        int (*init)(geerpc_registration *r);
        void (*done)(geerpc_registration *r);
        /* Starts one heartbeat (register or refresh) bounded by timeout; the
         * back end calls registration_beat_done() when it finishes. */
        int (*beat)(geerpc_registration *r, usec_t timeout);
        /* Starts deregistration bounded by timeout; calls
         * registration_leave_done() when it finishes. */
        int (*leave)(geerpc_registration *r, usec_t timeout);
        /* Drops whatever is in flight without callbacks. */
        void (*cancel)(geerpc_registration *r);
} RegistrationBackend;

extern const RegistrationBackend registration_backend_registry;
extern const RegistrationBackend registration_backend_etcd;

struct geerpc_registration {
        unsigned n_ref;
        char *url;
        char *address;
        char *token;
        geerpc_server *server; /* its services are announced */
        unsigned weight;
        char **labels;         /* "key=value", sorted by key */
        bool meta_changed;     /* announce at once, after the beat in flight */
        bool services_warned;
        const RegistrationBackend *backend;
        void *backend_data;

        sd_event *event;
        int64_t priority;
        HttpClient *http;
        sd_event_source *timer;

        geerpc_registration_state state;
        usec_t period_fixed; /* 0: derive */
        usec_t period;
        unsigned failures;
        char *last_error;
        usec_t last_success;
        usec_t next_attempt;
        bool beat_in_flight;

        geerpc_registration_handler handler;
        void *userdata;
        geerpc_registration_handler stop_done;
        void *stop_userdata;
};

/* What the next heartbeat announces: the server's services (NULL when
 * there is no server, or too many services), weight, labels. */
int registration_meta(geerpc_registration *r, ServerMeta *ret);

/* Called by back ends. period_hint: the heartbeat period the back end
 * derives from what the registry said (0: no idea, use the default); an
 * explicit period set by the user wins over it. */
void registration_beat_done(geerpc_registration *r, int result, const char *error, usec_t period_hint);
void registration_leave_done(geerpc_registration *r, int result, const char *error);

/* The period for a registry whose entries expire after registry_timeout
 * (USEC_INFINITY: unknown; 0: never). Also exposed for the unit tests. */
usec_t registration_derive_period(usec_t registry_timeout);
/* The registry's "X-Geerpc-Timeout: 300" (seconds, a fraction allowed;
 * 0: entries never expire) among a response's headers; USEC_INFINITY when
 * it is missing or not such a number (nan, inf, negative, huge: a peer's
 * number is checked before it is used). */
usec_t registration_registry_timeout(const Buffer *headers);
usec_t registration_backoff(usec_t period, unsigned failures, double jitter01);

/* A registry token: 1 to GEERPC_REGISTRY_TOKEN_MAX bytes, nothing that
 * could break the Authorization header (no control characters, no
 * spaces). */
bool registration_token_is_valid(const char *token);
/* Reads a token file (surrounding whitespace stripped) and checks it:
 * -EINVAL for a blank or invalid token, -EFBIG past the limit. *ret is
 * malloc'd (erase it with explicit_bzero() before freeing). */
int registration_token_read_file(const char *path, char **ret);
