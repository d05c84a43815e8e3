/* SPDX-License-Identifier: MIT */

/* Discovery: parsing a registry's list, the static back end, and the cache
 * of the registry back end (TTL, one refresh in flight, stale-on-error,
 * maximum staleness) against a small libmicrohttpd registry on a thread.
 * The real geeregistry is exercised by tests/integration/test-xclient.c. */

#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "cluster/discovery-internal.h"
#include "testlib.h"

/* ---- parsing ---------------------------------------------------------------- */

static ServerSet *parse(const char *headers, const char *body, int expect) {
        Buffer h = {}, b = {};
        ServerSet *s = NULL;
        char *error = NULL;
        if (headers)
                cr_assert_eq(buffer_append(&h, headers, strlen(headers)), 0);
        if (body)
                cr_assert_eq(buffer_append(&b, body, strlen(body)), 0);
        int r = registry_parse_response(&h, &b, now_usec(CLOCK_MONOTONIC), &s, &error);
        cr_assert_eq(r, expect, "parse returned %d (%s)", r, strempty(error));
        if (r < 0)
                cr_assert_not_null(error);
        free(error);
        buffer_done(&h);
        buffer_done(&b);
        return s;
}

static void assert_set(ServerSet *s, size_t n, ...) {
        va_list ap;
        cr_assert_not_null(s);
        cr_assert_eq(s->n, n, "%zu servers, expected %zu", s->n, n);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(s->addrs[i], va_arg(ap, const char *));
        va_end(ap);
        server_set_unref(s);
}

Test(discovery_parse, json_body_wins) {
        const char *hdr = "HTTP/1.1 200 OK\r\nX-Geerpc-Servers: tcp@127.0.0.1:9\r\n\r\n";
        const char *body = "{\"servers\":[{\"addr\":\"tcp@127.0.0.1:2\",\"age_ms\":5},"
                           "{\"addr\":\"tcp@127.0.0.1:1\",\"age_ms\":0}],\"timeout_s\":300}";
        assert_set(parse(hdr, body, 0), 2, "tcp@127.0.0.1:1", "tcp@127.0.0.1:2");
        /* Plain strings are accepted too. */
        assert_set(parse(hdr, "{\"servers\":[\"unix@/run/x.sock\",\"tcp@[::1]:7\"]}", 0), 2, "tcp@[::1]:7",
                   "unix@/run/x.sock");
        /* An empty JSON list is an empty list, whatever the headers say. */
        assert_set(parse(hdr, "{\"servers\":[],\"timeout_s\":300}", 0), 0);
}

Test(discovery_parse, header_fallbacks) {
        assert_set(parse("X-Geerpc-Servers: tcp@127.0.0.1:2, tcp@127.0.0.1:1 ,\r\n", NULL, 0), 2, "tcp@127.0.0.1:1",
                   "tcp@127.0.0.1:2");
        assert_set(parse("x-rpc-servers: tcp@127.0.0.1:3\r\n", "", 0), 1, "tcp@127.0.0.1:3");
        /* X-Geerpc-Servers before X-rpc-Servers. */
        assert_set(parse("X-rpc-Servers: tcp@127.0.0.1:3\r\nX-Geerpc-Servers: tcp@127.0.0.1:4\r\n", NULL, 0), 1,
                   "tcp@127.0.0.1:4");
        /* The Go registry sends the header even when nobody is alive. */
        assert_set(parse("X-Geerpc-Servers: \r\n", NULL, 0), 0);
        /* A body that is not the registry's JSON: use the header. */
        assert_set(parse("X-Geerpc-Servers: tcp@127.0.0.1:5\r\n", "{\"servers\":", 0), 1, "tcp@127.0.0.1:5");
        assert_set(parse("X-Geerpc-Servers: tcp@127.0.0.1:5\r\n", "{\"other\":1}", 0), 1, "tcp@127.0.0.1:5");
        assert_set(parse("X-Geerpc-Servers: tcp@127.0.0.1:5\r\n", "ok", 0), 1, "tcp@127.0.0.1:5");
}

Test(discovery_parse, no_list_is_an_error) {
        cr_assert_null(parse("Content-Type: text/plain\r\n", "hello", -EBADMSG));
        cr_assert_null(parse(NULL, NULL, -EBADMSG));
        cr_assert_null(parse(NULL, "{\"servers\":{}}", -EBADMSG));
}

Test(discovery_parse, invalid_entries_are_skipped) {
        assert_set(parse("X-Geerpc-Servers: tcp@127.0.0.1:1,garbage,udp@x:1,tcp@h:0,tcp@127.0.0.1:99999\r\n", NULL, 0), 1,
                   "tcp@127.0.0.1:1");
        assert_set(parse(NULL, "{\"servers\":[1,null,{\"addr\":7},{\"x\":\"tcp@a:1\"},{\"addr\":\"tcp@a:1\"},\"no\"]}", 0), 1,
                   "tcp@a:1");
}

Test(discovery_parse, metadata_in_the_json_listing) {
        const char *body = "{\"servers\":["
                           "{\"addr\":\"tcp@h:1\",\"age_ms\":1500,\"services\":[\"Foo\",\"Echo\"],\"weight\":3,"
                           "\"labels\":{\"zone\":\"a\",\"rack\":\"7\"}},"
                           "{\"addr\":\"tcp@h:2\",\"age_ms\":0,\"weight\":0,\"server_weight\":2},"
                           "{\"addr\":\"tcp@h:3\"},"
                           "{\"addr\":\"tcp@h:4\",\"weight\":1001},"
                           "{\"addr\":\"tcp@h:5\",\"services\":[\"a.b\"]},"
                           "{\"addr\":\"tcp@h:6\",\"labels\":{\"zone\":7}}]}";
        ServerSet *s = parse(NULL, body, 0);
        cr_assert_eq(s->n, 3, "entries with invalid metadata are skipped");
        const geerpc_server_list *l = s;
        cr_assert_str_eq(geerpc_server_list_get_address(l, 0), "tcp@h:1");
        cr_assert_eq(geerpc_server_list_get_weight(l, 0), 3);
        cr_assert_eq(geerpc_server_list_get_server_weight(l, 0), -ENODATA);
        const char *const *sv = geerpc_server_list_get_services(l, 0);
        cr_assert_str_eq(sv[0], "Echo");
        cr_assert_str_eq(sv[1], "Foo");
        cr_assert_null(sv[2]);
        const char *const *lb = geerpc_server_list_get_labels(l, 0);
        cr_assert_str_eq(lb[0], "rack=7");
        cr_assert_str_eq(lb[1], "zone=a");
        uint64_t age = geerpc_server_list_get_age(l, 0);
        cr_assert(age >= 1500 * USEC_PER_MSEC && age < 60 * USEC_PER_SEC, "age %" PRIu64, age);
        cr_assert_eq(geerpc_server_list_get_weight(l, 1), 0);
        cr_assert_eq(geerpc_server_list_get_server_weight(l, 1), 2);
        cr_assert_null(geerpc_server_list_get_services(l, 2), "unknown services");
        cr_assert_null(geerpc_server_list_get_labels(l, 2));
        cr_assert_eq(geerpc_server_list_get_age(l, 2), UINT64_MAX);
        cr_assert_eq(geerpc_server_list_get_weight(l, 2), 1);
        cr_assert_null(geerpc_server_list_get_address(l, 3));
        cr_assert_eq(geerpc_server_list_get_weight(l, 3), -EINVAL);
        cr_assert_eq(s->n_active, 2, "weight 0 is never chosen");
        server_set_unref(s);
}

Test(discovery_parse, at_most_max_servers) {
        /* One more than the limit: the rest is dropped, not an error. */
        size_t n = GEERPC_DISCOVERY_MAX_SERVERS + 1;
        Buffer b = {};
        cr_assert_eq(buffer_append(&b, "{\"servers\":[", 12), 0);
        for (size_t i = 0; i < n; i++) {
                char e[64];
                int l = snprintf(e, sizeof e, "%s\"tcp@10.%zu.%zu.1:7001\"", i ? "," : "", i / 256, i % 256);
                cr_assert_eq(buffer_append(&b, e, (size_t) l), 0);
        }
        cr_assert_eq(buffer_append(&b, "]}", 3), 0);
        ServerSet *s = parse(NULL, buffer_data(&b), 0);
        cr_assert_eq(s->n, GEERPC_DISCOVERY_MAX_SERVERS);
        server_set_unref(s);
        buffer_done(&b);
}

/* ---- static lists ---------------------------------------------------------- */

Test(discovery_static, get_modes_update_and_get_all) {
        const char *v[] = { "tcp@127.0.0.1:3", "tcp@127.0.0.1:1", "tcp@127.0.0.1:2" };
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_static(&d, v, 3), 0);
        cr_assert_eq(geerpc_discovery_refresh(d), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, USEC_PER_SEC), -EOPNOTSUPP);
        cr_assert_eq(geerpc_discovery_set_max_stale(d, USEC_PER_SEC), -EOPNOTSUPP);

        /* Round-robin: sorted order, in turn. */
        char *first, *s;
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_ROUND_ROBIN, NULL, &first), 0);
        int start = first[strlen(first) - 1] - '1';
        for (int i = 1; i < 7; i++) {
                cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_ROUND_ROBIN, NULL, &s), 0);
                cr_assert_eq(s[strlen(s) - 1] - '1', (start + i) % 3, "call %d went to %s", i, s);
                free(s);
        }
        free(first);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_HASH, NULL, &s), -EINVAL);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_HASH, "k", &s), 0);
        free(s);

        char **all;
        size_t n;
        cr_assert_eq(geerpc_discovery_get_all(d, &all, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_str_eq(all[0], "tcp@127.0.0.1:1");
        cr_assert_str_eq(all[2], "tcp@127.0.0.1:3");
        cr_assert_null(all[3]);
        free(all); /* one block */

        const char *w[] = { "unix@/run/a.sock" };
        cr_assert_eq(geerpc_discovery_update(d, w, 1), 0);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), 0);
        cr_assert_str_eq(s, "unix@/run/a.sock");
        free(s);

        /* Empty: "no available servers". */
        cr_assert_eq(geerpc_discovery_update(d, NULL, 0), 0);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), -ENXIO);
        cr_assert_eq(geerpc_discovery_get_all(d, &all, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_null(all[0]);
        free(all);
        geerpc_discovery_unref(d);
}

Test(discovery_static, bad_input) {
        geerpc_discovery *d = NULL;
        const char *bad[] = { "tcp@127.0.0.1:1", "127.0.0.1:2" };
        cr_assert_eq(geerpc_discovery_new_static(&d, bad, 2), -EINVAL);
        cr_assert_null(d);
        cr_assert_eq(geerpc_discovery_new_static(&d, NULL, 1), -EINVAL);
        cr_assert_eq(geerpc_discovery_new_static(&d, NULL, 0), 0);
        cr_assert_eq(geerpc_discovery_update(d, bad, 2), -EINVAL);
        cr_assert_eq(geerpc_discovery_update(d, bad, GEERPC_DISCOVERY_MAX_SERVERS + 1), -E2BIG);
        geerpc_discovery_unref(d);
        cr_assert_null(geerpc_discovery_unref(NULL));
}

Test(discovery, new_from_url_dispatches_on_scheme) {
        geerpc_discovery *d = NULL;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "http://127.0.0.1:9/_geerpc_/registry"), 0);
        geerpc_discovery_unref(d);
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "HTTPS://registry.example/_geerpc_/registry"), 0);
        geerpc_discovery_unref(d);
        d = NULL;
        /* etcd: nothing is fetched before the list is needed. */
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "etcd://127.0.0.1:2379,127.0.0.1:2380/geerpc"), 0);
        geerpc_discovery_unref(d);
        d = NULL;
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "etcd://"), -EINVAL);
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "etcd://host-without-port/x"), -EINVAL);
        /* One rule with registration (basic/url.h): a scheme we do not
         * speak is -EPROTONOSUPPORT, no scheme at all -EINVAL. */
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "ftp://x/"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "tcp@127.0.0.1:1"), -EINVAL);
        cr_assert_eq(geerpc_discovery_new_registry(&d, "file:///etc/passwd"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_discovery_new_registry(&d, "etcd://127.0.0.1:2379"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_discovery_new_registry(&d, "127.0.0.1:9999/_geerpc_/registry"), -EINVAL);
        cr_assert_null(d);
        /* Schemes are case-insensitive (RFC 3986), etcd's too. */
        cr_assert_eq(geerpc_discovery_new_from_url(&d, "Etcd://127.0.0.1:2379"), 0);
        geerpc_discovery_unref(d);
        d = NULL;
        cr_assert_eq(geerpc_discovery_new_registry(&d, "Http://127.0.0.1:9/_geerpc_/registry"), 0);
        geerpc_discovery_unref(d);
}

/* ---- the registry back end against a fake registry ------------------------ */

typedef enum FakeMode {
        FAKE_JSON,
        FAKE_HEADER_ONLY,
        FAKE_FAIL_500,
        FAKE_RAW_JSON, /* servers is the whole JSON body */
} FakeMode;

static struct {
        struct MHD_Daemon *daemon;
        char url[128];
        pthread_mutex_t lock;
        FakeMode mode;
        char *servers; /* comma-joined */
        unsigned delay_ms;
        atomic_uint gets;
        char last_service[80]; /* ?service= of the last GET; "-": none */
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fake_set(FakeMode mode, const char *servers, unsigned delay_ms) {
        pthread_mutex_lock(&fake.lock);
        fake.mode = mode;
        free(fake.servers);
        fake.servers = strdup(servers);
        fake.delay_ms = delay_ms;
        pthread_mutex_unlock(&fake.lock);
}

static char *json_of(const char *servers) {
        json_t *list = json_array();
        char *copy = strdup(servers), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(list, json_pack("{s:s,s:i}", "addr", t, "age_ms", 1));
        free(copy);
        json_t *root = json_pack("{s:o,s:i}", "servers", list, "timeout_s", 300);
        char *s = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        return s;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **state) {
        if (!*state) {
                *state = (void *) 1;
                return MHD_YES;
        }
        atomic_fetch_add(&fake.gets, 1);
        const char *service = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "service");
        pthread_mutex_lock(&fake.lock);
        FakeMode mode = fake.mode;
        _cleanup_free_ char *servers = strdup(fake.servers);
        unsigned delay = fake.delay_ms;
        snprintf(fake.last_service, sizeof fake.last_service, "%s", service ?: "-");
        pthread_mutex_unlock(&fake.lock);
        if (delay)
                tl_sleep(delay * USEC_PER_MSEC);

        const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
        bool json = accept && strstr(accept, "application/json");
        char *body = mode == FAKE_JSON && json       ? json_of(servers)
                     : mode == FAKE_RAW_JSON && json ? strdup(servers)
                                                     : strdup("");
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (mode != FAKE_FAIL_500 && mode != FAKE_RAW_JSON)
                MHD_add_response_header(resp, "X-Geerpc-Servers", servers);
        enum MHD_Result r = MHD_queue_response(conn, mode == FAKE_FAIL_500 ? 500 : 200, resp);
        MHD_destroy_response(resp);
        return r;
}

static void fake_start(void) {
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1,tcp@127.0.0.1:2", 0);
        atomic_store(&fake.gets, 0);
        /* A pool for headers as large as a Go registry's. */
        fake.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
                                       0, NULL, NULL, fake_handler, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (size_t) (1024 * 1024), MHD_OPTION_END);
        cr_assert_not_null(fake.daemon);
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(fake.daemon, MHD_DAEMON_INFO_BIND_PORT);
        snprintf(fake.url, sizeof fake.url, "http://127.0.0.1:%u/_geerpc_/registry", i->port);
}

static void fake_stop(void) {
        if (fake.daemon)
                MHD_stop_daemon(fake.daemon);
        fake.daemon = NULL;
        fake.servers = mfree(fake.servers);
}

static const char *fake_last_service(void) {
        static char s[80];
        pthread_mutex_lock(&fake.lock);
        memcpy(s, fake.last_service, sizeof s);
        pthread_mutex_unlock(&fake.lock);
        return s;
}

TestSuite(discovery_registry, .init = fake_start, .fini = fake_stop);

static geerpc_discovery *registry(usec_t ttl) {
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_registry(&d, fake.url), 0);
        cr_assert_eq(geerpc_discovery_set_ttl(d, ttl), 0);
        cr_assert_eq(geerpc_discovery_set_refresh_timeout(d, 0), -EINVAL);
        cr_assert_eq(geerpc_discovery_set_refresh_timeout(d, 2 * USEC_PER_SEC), 0);
        return d;
}

static size_t count(geerpc_discovery *d, int expect) {
        char **all = NULL;
        size_t n = 0;
        cr_assert_eq(geerpc_discovery_get_all(d, &all, &n), expect);
        free(all);
        return n;
}

Test(discovery_registry, no_request_until_needed_then_cached_for_ttl) {
        geerpc_discovery *d = registry(500 * USEC_PER_MSEC);
        cr_assert_eq(atomic_load(&fake.gets), 0);
        cr_assert_eq(count(d, 0), 2);
        cr_assert_eq(atomic_load(&fake.gets), 1);
        char *s;
        for (int i = 0; i < 20; i++) {
                cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), 0);
                free(s);
        }
        cr_assert_eq(atomic_load(&fake.gets), 1, "a call within the TTL asked the registry");
        tl_sleep(700 * USEC_PER_MSEC);
        fake_set(FAKE_JSON, "tcp@127.0.0.1:3", 0);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), 0);
        cr_assert_str_eq(s, "tcp@127.0.0.1:3");
        free(s);
        cr_assert_eq(atomic_load(&fake.gets), 2);
        /* refresh() asks at once, whatever the age. */
        cr_assert_eq(geerpc_discovery_refresh(d), 0);
        cr_assert_eq(atomic_load(&fake.gets), 3);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, header_only_registry) {
        fake_set(FAKE_HEADER_ONLY, "tcp@127.0.0.1:4,tcp@127.0.0.1:5", 0);
        geerpc_discovery *d = registry(USEC_PER_SEC);
        cr_assert_eq(count(d, 0), 2);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, empty_list_is_no_available_servers) {
        fake_set(FAKE_JSON, "", 0);
        geerpc_discovery *d = registry(USEC_PER_SEC);
        char *s = NULL;
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), -ENXIO);
        cr_assert_null(s);
        cr_assert_eq(count(d, 0), 0);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, stale_on_error_then_recovery) {
        geerpc_discovery *d = registry(200 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_discovery_set_max_stale(d, 60 * USEC_PER_SEC), 0);
        cr_assert_eq(count(d, 0), 2);

        /* The registry fails: the cached list is served, once per TTL it is
         * asked again. */
        fake_set(FAKE_FAIL_500, "", 0);
        tl_sleep(300 * USEC_PER_MSEC);
        cr_assert_eq(count(d, 0), 2);
        cr_assert_eq(atomic_load(&fake.gets), 2);
        cr_assert_eq(count(d, 0), 2);
        cr_assert_eq(atomic_load(&fake.gets), 2, "retried within the TTL");
        cr_assert_eq(geerpc_discovery_refresh(d), -EPROTO);
        cr_assert_eq(count(d, 0), 2);

        /* It answers again, with a new server. */
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1,tcp@127.0.0.1:2,tcp@127.0.0.1:3", 0);
        tl_sleep(300 * USEC_PER_MSEC);
        cr_assert_eq(count(d, 0), 3);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, past_max_staleness_calls_fail) {
        geerpc_discovery *d = registry(100 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_discovery_set_max_stale(d, 500 * USEC_PER_MSEC), 0);
        cr_assert_eq(count(d, 0), 2);
        fake_set(FAKE_FAIL_500, "", 0);
        tl_sleep(200 * USEC_PER_MSEC);
        cr_assert_eq(count(d, 0), 2); /* stale, within the bound */
        tl_sleep(600 * USEC_PER_MSEC);
        char *s = NULL;
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), -ESTALE);
        cr_assert_null(s);
        count(d, -ESTALE);
        fake_set(FAKE_JSON, "tcp@127.0.0.1:9", 0);
        tl_sleep(200 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), 0);
        cr_assert_str_eq(s, "tcp@127.0.0.1:9");
        free(s);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, max_stale_zero_serves_nothing_stale) {
        geerpc_discovery *d = registry(100 * USEC_PER_MSEC);
        cr_assert_eq(geerpc_discovery_set_max_stale(d, 0), 0);
        cr_assert_eq(count(d, 0), 2);
        fake_set(FAKE_FAIL_500, "", 0);
        tl_sleep(200 * USEC_PER_MSEC);
        count(d, -ESTALE);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, unreachable_without_cache) {
        fake_stop();
        geerpc_discovery *d = registry(USEC_PER_SEC);
        char *s = NULL;
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), -ECONNREFUSED);
        /* No list yet: every caller tries again, without waiting a TTL. */
        cr_assert_eq(geerpc_discovery_get(d, GEERPC_SELECT_RANDOM, NULL, &s), -ECONNREFUSED);
        cr_assert_null(s);
        geerpc_discovery_unref(d);
}

Test(discovery_registry, registry_stopped_serves_cache) {
        geerpc_discovery *d = registry(100 * USEC_PER_MSEC);
        cr_assert_eq(count(d, 0), 2);
        fake_stop();
        tl_sleep(200 * USEC_PER_MSEC);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(count(d, 0), 2);
        geerpc_discovery_unref(d);
}

typedef struct Getter {
        geerpc_discovery *d;
        int r;
        usec_t took;
} Getter;

static void *getter(void *userdata) {
        Getter *g = userdata;
        char *s = NULL;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        g->r = geerpc_discovery_get(g->d, GEERPC_SELECT_ROUND_ROBIN, NULL, &s);
        g->took = now_usec(CLOCK_MONOTONIC) - t0;
        free(s);
        return NULL;
}

static void run_getters(Getter *g, size_t n, geerpc_discovery *d) {
        pthread_t t[16];
        for (size_t i = 0; i < n; i++) {
                g[i] = (Getter) { .d = d, .r = 1 };
                pthread_create(&t[i], NULL, getter, &g[i]);
                if (i == 0)
                        tl_sleep(100 * USEC_PER_MSEC); /* the first one starts the refresh */
        }
        for (size_t i = 0; i < n; i++)
                pthread_join(t[i], NULL);
}

/* A slow registry: one refresh runs, the others use the cache meanwhile
 * and are not held up by it. */
Test(discovery_registry, one_refresh_in_flight_others_use_cache) {
        geerpc_discovery *d = registry(200 * USEC_PER_MSEC);
        cr_assert_eq(count(d, 0), 2);
        tl_sleep(300 * USEC_PER_MSEC);
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1,tcp@127.0.0.1:2", 1500);
        unsigned before = atomic_load(&fake.gets);

        Getter g[8];
        run_getters(g, 8, d);
        cr_assert_eq(atomic_load(&fake.gets), before + 1, "more than one refresh ran");
        for (int i = 0; i < 8; i++)
                cr_assert_eq(g[i].r, 0);
        cr_assert_geq(g[0].took, 1000 * USEC_PER_MSEC);
        /* Generous: the others took no part in the 1.5 s request. */
        for (int i = 1; i < 8; i++)
                cr_assert_lt(g[i].took, 1000 * USEC_PER_MSEC, "getter %d waited %llu us", i, (unsigned long long) g[i].took);
        geerpc_discovery_unref(d);
}

/* With no list at all, callers wait for the one refresh in flight. */
Test(discovery_registry, no_cache_callers_share_one_refresh) {
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1", 800);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        Getter g[6];
        run_getters(g, 6, d);
        cr_assert_eq(atomic_load(&fake.gets), 1);
        for (int i = 0; i < 6; i++)
                cr_assert_eq(g[i].r, 0, "getter %d: %d", i, g[i].r);
        geerpc_discovery_unref(d);
}

/* A registry slower than the refresh timeout counts as unreachable. */
Test(discovery_registry, refresh_timeout_bounds_the_request) {
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1", 3000);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        cr_assert_eq(geerpc_discovery_set_refresh_timeout(d, 300 * USEC_PER_MSEC), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        count(d, -ETIMEDOUT);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 2500 * USEC_PER_MSEC);
        geerpc_discovery_unref(d);
}

typedef struct Acquirer {
        geerpc_discovery *d;
        usec_t timeout;
        int r;
        usec_t took;
} Acquirer;

static void *acquirer(void *userdata) {
        Acquirer *a = userdata;
        ServerSet *s = NULL;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        a->r = discovery_acquire(a->d, NULL, t0 + a->timeout, &s);
        a->took = now_usec(CLOCK_MONOTONIC) - t0;
        server_set_unref(s);
        return NULL;
}

/* A caller with no list waits for the refresh in flight only until its own
 * deadline. */
Test(discovery_registry, waiting_for_a_refresh_keeps_the_callers_deadline) {
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1", 1200);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        pthread_t t1, t2;
        Acquirer slow = { d, 5 * USEC_PER_SEC, 1, 0 }, hasty = { d, 300 * USEC_PER_MSEC, 1, 0 };
        pthread_create(&t1, NULL, acquirer, &slow);
        tl_sleep(200 * USEC_PER_MSEC);
        pthread_create(&t2, NULL, acquirer, &hasty);
        pthread_join(t2, NULL);
        cr_assert_eq(hasty.r, -ETIMEDOUT);
        cr_assert_lt(hasty.took, 1000 * USEC_PER_MSEC);
        pthread_join(t1, NULL);
        cr_assert_eq(slow.r, 0);
        cr_assert_eq(atomic_load(&fake.gets), 1);
        geerpc_discovery_unref(d);
}

/* A fetch cut short by the caller's deadline is not an outage: the next
 * caller, with time to spare, fetches and succeeds. */
Test(discovery_registry, fetch_cut_short_by_the_deadline_changes_nothing) {
        fake_set(FAKE_JSON, "tcp@127.0.0.1:1", 800);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        Acquirer hasty = { d, 200 * USEC_PER_MSEC, 1, 0 };
        acquirer(&hasty);
        cr_assert_eq(hasty.r, -ETIMEDOUT);
        Acquirer patient = { d, 5 * USEC_PER_SEC, 1, 0 };
        acquirer(&patient);
        cr_assert_eq(patient.r, 0);
        cr_assert_eq(atomic_load(&fake.gets), 2);
        geerpc_discovery_unref(d);
}

/* One list per service, fetched with ?service= and cached apart; what the
 * registry says of each server decides even when it ignores the filter. */
Test(discovery_registry, one_list_per_service) {
        fake_set(FAKE_RAW_JSON,
                 "{\"servers\":[{\"addr\":\"tcp@127.0.0.1:1\",\"services\":[\"Foo\"]},"
                 "{\"addr\":\"tcp@127.0.0.1:2\",\"services\":[\"Echo\"],\"weight\":2},"
                 "{\"addr\":\"tcp@127.0.0.1:3\"}]}",
                 0);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        geerpc_server_list *l;
        cr_assert_eq(geerpc_discovery_get_list(d, "Echo", &l), 0);
        cr_assert_str_eq(fake_last_service(), "Echo");
        cr_assert_eq(geerpc_server_list_get_count(l), 2);
        cr_assert_str_eq(geerpc_server_list_get_address(l, 0), "tcp@127.0.0.1:2");
        cr_assert_eq(geerpc_server_list_get_weight(l, 0), 2);
        cr_assert_str_eq(geerpc_server_list_get_address(l, 1), "tcp@127.0.0.1:3");
        geerpc_server_list_unref(l);
        cr_assert_eq(atomic_load(&fake.gets), 1);
        cr_assert_eq(geerpc_discovery_get_list(d, "Echo", &l), 0);
        geerpc_server_list_unref(l);
        cr_assert_eq(atomic_load(&fake.gets), 1, "cached");

        cr_assert_eq(geerpc_discovery_get_list(d, "Foo", &l), 0);
        cr_assert_str_eq(fake_last_service(), "Foo");
        cr_assert_eq(geerpc_server_list_get_count(l), 2);
        geerpc_server_list_unref(l);
        cr_assert_eq(geerpc_discovery_get_list(d, NULL, &l), 0);
        cr_assert_str_eq(fake_last_service(), "-");
        cr_assert_eq(geerpc_server_list_get_count(l), 3);
        geerpc_server_list_unref(l);
        cr_assert_eq(atomic_load(&fake.gets), 3);
        cr_assert_eq(geerpc_discovery_get_list(d, "not.a.name", &l), -EINVAL);
        geerpc_discovery_unref(d);
}

/* A Go registry sends its whole list in one header: past libcurl's limit
 * the error says so (and geerpcctl too). */
Test(discovery_registry, header_past_libcurls_limit_is_a_clear_error) {
        Buffer b = {};
        for (unsigned i = 0; i < 6000; i++) {
                char a[40];
                int n = snprintf(a, sizeof a, "%stcp@10.0.%u.%u:7001", i ? "," : "", i / 256, i % 256);
                cr_assert_eq(buffer_append(&b, a, (size_t) n), 0);
        }
        cr_assert_eq(buffer_append(&b, "", 1), 0);
        fake_set(FAKE_HEADER_ONLY, buffer_data(&b), 0);
        buffer_done(&b);
        geerpc_discovery *d = registry(10 * USEC_PER_SEC);
        cr_assert_eq(geerpc_discovery_refresh(d), -EMSGSIZE);
        geerpc_discovery_unref(d);

        char reg[200], *out = NULL, *err = NULL;
        snprintf(reg, sizeof reg, "--registry=%s", fake.url);
        const char *argv[] = { tl_binary("geerpcctl"), reg, "servers", NULL };
        cr_assert_eq(tl_run(argv, NULL, 30 * USEC_PER_SEC, &out, &err), 3);
        cr_assert(strstr(err, "longer than libcurl accepts"), "%s", err);
        free(out);
        free(err);

        /* Under the limit, the header is read. */
        fake_set(FAKE_HEADER_ONLY, "tcp@127.0.0.1:1,tcp@127.0.0.1:2", 0);
        d = registry(10 * USEC_PER_SEC);
        cr_assert_eq(count(d, 0), 2);
        geerpc_discovery_unref(d);
}
