/* SPDX-License-Identifier: MIT */

/* Registration against a fake registry (libmicrohttpd on a thread) that
 * records requests and can be told to fail: the heartbeat schedule, period
 * derivation, backoff and recovery, deregistration, the token. The real
 * geeregistry is exercised by tests/integration/test-heartbeat.c. */

#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/address.h"
#include "geerpc/registration.h"
#include "geerpc/server.h"
#include "cluster/registration-internal.h"
#include "testlib.h"

/* ---- the fake registry ---------------------------------------------------- */

static struct {
        pthread_mutex_t lock;
        int posts, deletes;
        int fail_next; /* answer 503 to this many requests */
        char last_server[300];
        char last_auth[300];
        char last_services[300], last_weight[32], last_labels[300]; /* "-": absent */
        const char *timeout_header; /* X-Geerpc-Timeout value, or NULL */
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct MHD_Daemon *fake_daemon;
static char fake_url[128];

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **state) {
        static int marker;
        if (!*state) {
                *state = &marker;
                return MHD_YES;
        }
        const char *server = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Geerpc-Server");
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        pthread_mutex_lock(&fake.lock);
        if (streq(method, "POST"))
                fake.posts++;
        else if (streq(method, "DELETE"))
                fake.deletes++;
        snprintf(fake.last_server, sizeof fake.last_server, "%s", server ?: "");
        snprintf(fake.last_auth, sizeof fake.last_auth, "%s", auth ?: "");
        const char *meta[] = { "X-Geerpc-Services", "X-Geerpc-Weight", "X-Geerpc-Labels" };
        char *dest[] = { fake.last_services, fake.last_weight, fake.last_labels };
        size_t sizes[] = { sizeof fake.last_services, sizeof fake.last_weight, sizeof fake.last_labels };
        for (size_t i = 0; i < 3 && streq(method, "POST"); i++) {
                const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, meta[i]);
                snprintf(dest[i], sizes[i], "%s", v ?: "-");
        }
        bool fail = fake.fail_next > 0;
        if (fail)
                fake.fail_next--;
        const char *timeout = fake.timeout_header;
        pthread_mutex_unlock(&fake.lock);

        const char *body = fail ? "registry overloaded\nsecond line" : "";
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_PERSISTENT);
        if (timeout && !fail)
                MHD_add_response_header(resp, "X-Geerpc-Timeout", timeout);
        enum MHD_Result r = MHD_queue_response(conn, fail ? 503 : 200, resp);
        MHD_destroy_response(resp);
        return r;
}

static void fake_start(void) {
        pthread_mutex_lock(&fake.lock);
        fake.posts = fake.deletes = fake.fail_next = 0;
        fake.timeout_header = NULL;
        pthread_mutex_unlock(&fake.lock);
        fake_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_handler, NULL, MHD_OPTION_END);
        cr_assert_not_null(fake_daemon);
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(fake_daemon, MHD_DAEMON_INFO_BIND_PORT);
        snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%u/_geerpc_/registry", i->port);
}

static void fake_stop(void) {
        MHD_stop_daemon(fake_daemon);
}

static int fake_get(int *field) {
        pthread_mutex_lock(&fake.lock);
        int v = *field;
        pthread_mutex_unlock(&fake.lock);
        return v;
}

/* Runs the loop until cond() or the timeout. */
static bool run_until(sd_event *e, bool (*cond)(void *), void *userdata, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        while (!cond(userdata)) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                cr_assert_geq(sd_event_run(e, 20 * USEC_PER_MSEC), 0);
        }
        return true;
}

static geerpc_registration *start_reg(sd_event **ret_e, usec_t period) {
        sd_event *e;
        geerpc_registration *r;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(geerpc_registration_new(&r, fake_url, "tcp@127.0.0.1:7001"), 0);
        if (period)
                cr_assert_eq(geerpc_registration_set_period(r, period), 0);
        cr_assert_eq(geerpc_registration_attach_event(r, e, 0), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);
        *ret_e = e;
        return r;
}

static bool is_state(void *u) {
        void **a = u;
        return geerpc_registration_get_state(a[0]) == (geerpc_registration_state) (intptr_t) a[1];
}

static bool posts_at_least(void *u) {
        return fake_get(&fake.posts) >= (int) (intptr_t) u;
}

/* ---- pure functions ---------------------------------------------------------- */

Test(registration, derive_period) {
        cr_assert_eq(registration_derive_period(USEC_INFINITY), GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC);
        cr_assert_eq(registration_derive_period(0), GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC);
        cr_assert_eq(registration_derive_period(5 * USEC_PER_MINUTE), 4 * USEC_PER_MINUTE);
        cr_assert_eq(registration_derive_period(3 * USEC_PER_MINUTE), 2 * USEC_PER_MINUTE);
        cr_assert_eq(registration_derive_period(60 * USEC_PER_SEC), 20 * USEC_PER_SEC);
        cr_assert_eq(registration_derive_period(2 * USEC_PER_SEC), 2 * USEC_PER_SEC / 3);
        cr_assert_eq(registration_derive_period(USEC_PER_SEC / 10), GEERPC_HEARTBEAT_PERIOD_MIN_USEC);
}

Test(registration, backoff_doubles_with_jitter_and_caps_at_the_period) {
        usec_t period = 60 * USEC_PER_SEC;
        cr_assert_eq(registration_backoff(period, 1, 0.5), USEC_PER_SEC);
        cr_assert_eq(registration_backoff(period, 2, 0.5), 2 * USEC_PER_SEC);
        cr_assert_eq(registration_backoff(period, 4, 0.5), 8 * USEC_PER_SEC);
        cr_assert_eq(registration_backoff(period, 3, 0.0), 4 * USEC_PER_SEC * 8 / 10);
        cr_assert_lt(registration_backoff(period, 3, 0.999), 4 * USEC_PER_SEC * 12 / 10);
        cr_assert_eq(registration_backoff(period, 10, 0.5), period);
        cr_assert_eq(registration_backoff(period, 1000, 0.99), period);
}

Test(registration, api_checks) {
        geerpc_registration *r;
        cr_assert_eq(geerpc_registration_new(&r, "ftp://x/y", "tcp@127.0.0.1:1"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_registration_new(&r, "no-scheme", "tcp@127.0.0.1:1"), -EINVAL);
        /* Schemes are case-insensitive (RFC 3986), as for discovery. */
        cr_assert_eq(geerpc_registration_new(&r, "HTTP://127.0.0.1:1/x", "tcp@127.0.0.1:1"), 0);
        geerpc_registration_unref(r);
        cr_assert_eq(geerpc_registration_new(&r, "ETCD://127.0.0.1:2379/p", "tcp@127.0.0.1:1"), 0);
        geerpc_registration_unref(r);
        cr_assert_eq(geerpc_registration_new(&r, NULL, "tcp@127.0.0.1:1"), -EINVAL);
        cr_assert_eq(geerpc_registration_new(&r, "http://127.0.0.1:1/x", "tcp@127.0.0.1:1"), 0);
        cr_assert_eq(geerpc_registration_set_period(r, 100), -EINVAL);
        cr_assert_eq(geerpc_registration_set_token(r, "has space"), -EINVAL);
        cr_assert_eq(geerpc_registration_set_token(r, "new\nline"), -EINVAL);
        cr_assert_eq(geerpc_registration_set_token(r, ""), -EINVAL);
        cr_assert_eq(geerpc_registration_load_token_file(r, "/nonexistent/token"), -ENOENT);
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_IDLE);
        cr_assert_str_eq(geerpc_registration_state_to_string(GEERPC_REGISTRATION_RETRYING), "retrying");
        cr_assert_eq(geerpc_registration_set_weight(r, GEERPC_WEIGHT_MAX + 1), -EINVAL);
        cr_assert_eq(geerpc_registration_set_label(r, "9zone", "a"), -EINVAL);
        cr_assert_eq(geerpc_registration_set_label(r, "zone", "a b"), -EINVAL);
        cr_assert_eq(geerpc_registration_set_label(r, "zone", "a,b"), -EINVAL);
        cr_assert_eq(geerpc_registration_set_label(r, NULL, "a"), -EINVAL);
        for (unsigned i = 0; i < GEERPC_LABELS_MAX; i++) {
                char k[16];
                snprintf(k, sizeof k, "k%u", i);
                cr_assert_eq(geerpc_registration_set_label(r, k, "v"), 0);
        }
        cr_assert_eq(geerpc_registration_set_label(r, "one-more", "v"), -E2BIG);
        cr_assert_eq(geerpc_registration_set_label(r, "k0", "replaced"), 0, "replacing is not adding");
        cr_assert_eq(geerpc_registration_set_label(r, "k0", NULL), 0);
        cr_assert_eq(geerpc_registration_set_label(r, "one-more", "v"), 0);
        unsetenv("CREDENTIALS_DIRECTORY");
        cr_assert_eq(geerpc_registration_load_credential(r), 0);
        /* Stopping a registration that never started finishes at once. */
        cr_assert_eq(geerpc_registration_stop(r, 0, NULL, NULL), 0);
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_STOPPED);
        cr_assert_eq(geerpc_registration_stop(r, 0, NULL, NULL), -EALREADY);
        geerpc_registration_unref(r);
}

/* ---- against the fake ---------------------------------------------------------- */

TestSuite(registration_fake, .init = fake_start, .fini = fake_stop);

Test(registration_fake, heartbeats_on_schedule) {
        sd_event *e;
        geerpc_registration *r = start_reg(&e, 500 * USEC_PER_MSEC);
        cr_assert(run_until(e, posts_at_least, (void *) 4, 10 * USEC_PER_SEC), "only %d heartbeats", fake.posts);
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_REGISTERED);
        cr_assert_str_eq(fake.last_server, "tcp@127.0.0.1:7001");
        cr_assert_str_eq(fake.last_auth, "");
        cr_assert_gt(geerpc_registration_get_last_success(r), 0);
        cr_assert_gt(geerpc_registration_get_next_attempt(r), 0);
        geerpc_registration_unref(r);
        sd_event_unref(e);
}

Test(registration_fake, period_derived_from_the_registry_timeout) {
        fake.timeout_header = "3";
        sd_event *e;
        geerpc_registration *r = start_reg(&e, 0);
        void *want[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_REGISTERED };
        cr_assert(run_until(e, is_state, want, 10 * USEC_PER_SEC));
        cr_assert_eq(geerpc_registration_get_period(r), USEC_PER_SEC);
        geerpc_registration_unref(r);
        sd_event_unref(e);
}

/* A registry's timeout is a peer's number: nan, inf, a negative or huge
 * one must leave the default period, not become one. */
Test(registration_fake, unusable_registry_timeouts_are_ignored) {
        const char *bad[] = { "nan", "inf", "-inf", "-5", "1e300", "99999999999999999999", "0x10", "5m", "",
                              "1.2.3" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fake.timeout_header = bad[i];
                sd_event *e;
                geerpc_registration *r = start_reg(&e, 0);
                void *want[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_REGISTERED };
                cr_assert(run_until(e, is_state, want, 10 * USEC_PER_SEC));
                cr_assert_eq(geerpc_registration_get_period(r), GEERPC_HEARTBEAT_PERIOD_DEFAULT_USEC,
                             "X-Geerpc-Timeout: %s gave a period of %llu us", bad[i],
                             (unsigned long long) geerpc_registration_get_period(r));
                geerpc_registration_unref(r);
                sd_event_unref(e);
        }
}

Test(registration, registry_timeout_header) {
        static const struct {
                const char *header;
                usec_t want;
        } cases[] = {
                { "X-Geerpc-Timeout: 300\r\n", 300 * USEC_PER_SEC },
                { "x-geerpc-timeout:\t0\r\n", 0 },
                { "X-Geerpc-Timeout: 1.5\r\n", 1500 * USEC_PER_MSEC },
                { "X-Geerpc-Timeout: 0.0000001\r\n", 1 }, /* never 0, "never expires" */
                { "X-Geerpc-Timeout: nan\r\n", USEC_INFINITY },
                { "X-Geerpc-Timeout: -1\r\n", USEC_INFINITY },
                { "X-Geerpc-Timeout: 1e9\r\n", USEC_INFINITY },
                { "X-Geerpc-Timeout: 1000000000001\r\n", USEC_INFINITY },
                { "Other: 5\r\n", USEC_INFINITY },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Buffer b = {};
                cr_assert_eq(buffer_append(&b, cases[i].header, strlen(cases[i].header)), 0);
                cr_assert_eq(registration_registry_timeout(&b), cases[i].want, "%s", cases[i].header);
                buffer_done(&b);
        }
}

/* Stops the server once the fake registry has seen enough heartbeats, or
 * after a deadline: geerpc_server_run() returns either way. */
static void *stop_after_heartbeats(void *userdata) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 15 * USEC_PER_SEC;
        while (fake_get(&fake.posts) < 3 && now_usec(CLOCK_MONOTONIC) < deadline)
                tl_sleep(20 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_server_stop(userdata, 0, NULL, NULL), 0);
        return NULL;
}

/* The shape of a small program: a server and its registration, neither
 * attached to a loop explicitly, and geerpc_server_run(). Both must land on
 * the thread's default loop, or the heartbeats never go out. */
Test(registration_fake, implicit_attach_heartbeats_under_geerpc_server_run) {
        _cleanup_(geerpc_server_unrefp) geerpc_server *s = NULL;
        _cleanup_(geerpc_registration_unrefp) geerpc_registration *r = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_free_ char *addr = NULL;
        pthread_t stopper;

        cr_assert_eq(geerpc_server_new(&s), 0);
        cr_assert_eq(geerpc_server_listen(s, "tcp@127.0.0.1:0", &addr), 0);
        cr_assert_eq(geerpc_registration_new(&r, fake_url, addr), 0);
        cr_assert_eq(geerpc_registration_set_period(r, 500 * USEC_PER_MSEC), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);

        cr_assert_eq(sd_event_default(&e), 0);
        cr_assert_eq(geerpc_server_get_event(s), e, "the server is not on the thread's default loop");

        cr_assert_eq(pthread_create(&stopper, NULL, stop_after_heartbeats, s), 0);
        cr_assert_eq(geerpc_server_run(s), 0);
        pthread_join(stopper, NULL);

        cr_assert_geq(fake_get(&fake.posts), 3, "only %d heartbeats while the server ran", fake_get(&fake.posts));
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_REGISTERED);
        pthread_mutex_lock(&fake.lock);
        cr_assert_str_eq(fake.last_server, addr);
        pthread_mutex_unlock(&fake.lock);
}

static int changes;
static void count_changes(geerpc_registration *r, void *u) {
        changes++;
}

Test(registration_fake, failure_backoff_and_recovery) {
        fake.fail_next = 2;
        sd_event *e;
        geerpc_registration *r;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(geerpc_registration_new(&r, fake_url, "tcp@[::1]:7002"), 0);
        cr_assert_eq(geerpc_registration_set_period(r, USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_registration_set_handler(r, count_changes, NULL), 0);
        cr_assert_eq(geerpc_registration_attach_event(r, e, 0), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);

        void *retrying[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_RETRYING };
        cr_assert(run_until(e, is_state, retrying, 10 * USEC_PER_SEC));
        cr_assert_str_eq(geerpc_registration_get_last_error(r), "registry answered 503: registry overloaded");
        cr_assert_gt(geerpc_registration_get_next_attempt(r), now_usec(CLOCK_MONOTONIC));

        /* The Go original would stop here for ever; we come back. */
        void *registered[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_REGISTERED };
        cr_assert(run_until(e, is_state, registered, 15 * USEC_PER_SEC));
        cr_assert_null(geerpc_registration_get_last_error(r));
        cr_assert_eq(fake_get(&fake.posts), 3);
        cr_assert_eq(changes, 3);
        geerpc_registration_unref(r);
        sd_event_unref(e);
}

static bool stopped;
static void on_stop(geerpc_registration *r, void *u) {
        stopped = true;
}
static bool is_stopped(void *u) {
        return stopped;
}

Test(registration_fake, stop_deregisters) {
        sd_event *e;
        geerpc_registration *r = start_reg(&e, USEC_PER_SEC);
        void *want[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_REGISTERED };
        cr_assert(run_until(e, is_state, want, 10 * USEC_PER_SEC));
        cr_assert_eq(geerpc_registration_stop(r, 0, on_stop, NULL), 0);
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_STOPPING);
        cr_assert(run_until(e, is_stopped, NULL, 5 * USEC_PER_SEC));
        cr_assert_eq(fake_get(&fake.deletes), 1);
        cr_assert_str_eq(fake.last_server, "tcp@127.0.0.1:7001");
        cr_assert_eq(geerpc_registration_get_state(r), GEERPC_REGISTRATION_STOPPED);
        /* No more heartbeats after the stop. */
        int posts = fake_get(&fake.posts);
        for (int i = 0; i < 60; i++)
                sd_event_run(e, 25 * USEC_PER_MSEC);
        cr_assert_eq(fake_get(&fake.posts), posts);
        geerpc_registration_unref(r);
        sd_event_unref(e);
}

Test(registration_fake, token_from_file_and_credential) {
        char dir[] = "/tmp/geerpc-cred-XXXXXX", path[128];
        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/registry-token", dir);
        FILE *f = fopen(path, "w");
        fputs("  s3cret-token\n", f);
        fclose(f);

        sd_event *e;
        geerpc_registration *r;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(geerpc_registration_new(&r, fake_url, "tcp@127.0.0.1:7001"), 0);
        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        cr_assert_eq(geerpc_registration_load_credential(r), 1);
        unsetenv("CREDENTIALS_DIRECTORY");
        cr_assert_eq(geerpc_registration_attach_event(r, e, 0), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);
        cr_assert(run_until(e, posts_at_least, (void *) 1, 5 * USEC_PER_SEC));
        cr_assert_str_eq(fake.last_auth, "Bearer s3cret-token");
        geerpc_registration_unref(r);
        sd_event_unref(e);
        unlink(path);
        rmdir(dir);
}

Test(registration, blank_credential_means_no_token) {
        /* What the units' "SetCredential=registry-token:\n" fallback passes
         * when the admin created no token file. */
        char dir[] = "/tmp/geerpc-cred-XXXXXX", path[128];
        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/registry-token", dir);
        FILE *f = fopen(path, "w");
        fputs(" \n", f);
        fclose(f);

        geerpc_registration *r;
        cr_assert_eq(geerpc_registration_new(&r, "http://127.0.0.1:1/x", "tcp@127.0.0.1:7001"), 0);
        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        cr_assert_eq(geerpc_registration_load_credential(r), 0);
        unsetenv("CREDENTIALS_DIRECTORY");
        /* An explicit --token-file must not be blank. */
        cr_assert_eq(geerpc_registration_load_token_file(r, path), -EINVAL);
        geerpc_registration_unref(r);
        unlink(path);
        rmdir(dir);
}

static int ticks;
static int on_tick(sd_event_source *s, uint64_t usec, void *u) {
        ticks++;
        sd_event_source_set_time_relative(s, 50 * USEC_PER_MSEC);
        return 0;
}

Test(registration, silent_registry_neither_blocks_the_loop_nor_stalls_retries) {
        /* Accepts connections (the kernel does, from the backlog) but never
         * answers. */
        int fd;
        char *addr, url[128];
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 16, &fd), 0);
        cr_assert_eq(address_from_socket(fd, &addr), 0);
        snprintf(url, sizeof url, "http://%s/_geerpc_/registry", addr + 4);

        sd_event *e;
        geerpc_registration *r;
        sd_event_source *tick;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 1, on_tick, NULL), 0);
        sd_event_source_set_enabled(tick, SD_EVENT_ON);
        cr_assert_eq(geerpc_registration_new(&r, url, "tcp@127.0.0.1:7001"), 0);
        cr_assert_eq(geerpc_registration_set_period(r, USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_registration_attach_event(r, e, 0), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);
        void *want[] = { r, (void *) (intptr_t) GEERPC_REGISTRATION_RETRYING };
        cr_assert(run_until(e, is_state, want, 10 * USEC_PER_SEC));
        cr_assert_gt(ticks, 10, "the loop was blocked");
        cr_assert(strstr(geerpc_registration_get_last_error(r), "imeout") ||
                          strstr(geerpc_registration_get_last_error(r), "timed out"),
                  "%s", geerpc_registration_get_last_error(r));
        geerpc_registration_unref(r);
        sd_event_source_unref(tick);
        sd_event_unref(e);
        close(fd);
        free(addr);
}

static bool posted_weight(void *u) {
        pthread_mutex_lock(&fake.lock);
        bool ok = streq(fake.last_weight, u);
        pthread_mutex_unlock(&fake.lock);
        return ok;
}

static int nothing(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        return 0;
}

/* The heartbeat says what the server offers: its services (from its own
 * table, so services added later too), weight and labels; a change is
 * sent at once, not at the next period. */
Test(registration_fake, heartbeat_announces_services_weight_labels) {
        sd_event *e;
        geerpc_server *s;
        geerpc_registration *r;
        static const geerpc_method m[] = { { .name = "Do", .handler = nothing } };
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(geerpc_server_new(&s), 0);
        cr_assert_eq(geerpc_server_add_service(s, "Foo", m, 1, NULL), 0);
        cr_assert_eq(geerpc_server_add_service(s, "Foo.Bar", m, 1, NULL), -EINVAL);
        cr_assert_eq(geerpc_server_add_service(s, "Has,Comma", m, 1, NULL), -EINVAL);
        cr_assert_eq(geerpc_registration_new(&r, fake_url, "tcp@127.0.0.1:7001"), 0);
        cr_assert_eq(geerpc_registration_set_period(r, 60 * USEC_PER_SEC), 0);
        cr_assert_eq(geerpc_registration_set_server(r, s), 0);
        cr_assert_eq(geerpc_registration_set_label(r, "zone", "a"), 0);
        cr_assert_eq(geerpc_registration_set_label(r, "rack", "7"), 0);
        cr_assert_eq(geerpc_registration_attach_event(r, e, 0), 0);
        cr_assert_eq(geerpc_registration_start(r), 0);
        cr_assert(run_until(e, posts_at_least, (void *) 1, 10 * USEC_PER_SEC));
        cr_assert_str_eq(fake.last_services, "Foo");
        cr_assert_str_eq(fake.last_weight, "-", "weight 1 goes without saying");
        cr_assert_str_eq(fake.last_labels, "rack=7,zone=a");

        /* A weight, and a service added after start: at once. */
        cr_assert_eq(geerpc_server_add_service(s, "Echo", m, 1, NULL), 0);
        cr_assert_eq(geerpc_registration_set_weight(r, 0), 0);
        cr_assert(run_until(e, posted_weight, "0", 5 * USEC_PER_SEC), "the new weight was not sent at once");
        cr_assert_str_eq(fake.last_services, "Echo,Foo");
        cr_assert_eq(fake_get(&fake.posts), 2);

        /* Without a server: services unknown (no header). */
        cr_assert_eq(geerpc_registration_set_server(r, NULL), 0);
        cr_assert_eq(geerpc_registration_set_weight(r, 5), 0);
        cr_assert(run_until(e, posted_weight, "5", 5 * USEC_PER_SEC));
        cr_assert_str_eq(fake.last_services, "-");
        geerpc_registration_unref(r);
        geerpc_server_unref(s);
        sd_event_unref(e);
}
