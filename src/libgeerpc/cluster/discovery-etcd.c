/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "basic/backoff.h"
#include "cluster/discovery-internal.h"
#include "cluster/etcd-override.h"
#include "cluster/etcd-response.h"
#include "codec/json-scanner.h"
#include "codec/json-util.h"
#include "basic/log.h"
#include "basic/sort-util.h"

/* Discovery from etcd: a range over PREFIX/ gives the list and its
 * revision; a watch from revision + 1 keeps it current, so a server whose
 * key goes (deregistered, or its lease expired) drops out at once instead
 * of after the cache TTL. The operator's overrides (etcd-override.h) are
 * keys in the same range: they are kept apart from the servers and
 * applied to them whenever a list is made, so that a drain, a weight or
 * an undrain takes effect with the watch's next message.
 *
 * The watch runs on a thread of its own with an sd-event loop (the
 * discovery API is blocking and thread-based; a watch is a long-lived
 * streaming request). It is started on the first fetch. While the watch is
 * established, a fetch answers from the watched set without any request;
 * otherwise it ranges itself, and discovery.c's stale-on-error applies. A
 * broken watch is re-established with backoff from the last revision seen,
 * or after a fresh range when etcd has compacted that revision away. */

#define WATCH_BACKOFF_INITIAL_USEC (500 * USEC_PER_MSEC)
#define WATCH_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
#define WATCH_MESSAGE_MAX (4U * 1024U * 1024U)

/* Entries sorted by address, unique; addresses owned. */
typedef struct EntryArray {
        ServerEntry *v;
        size_t n;
} EntryArray;

typedef struct EtcdDiscovery {
        geerpc_discovery *d; /* the owner; the thread is joined before it goes */
        EtcdTarget fetch_target; /* fetch() runs one at a time (discovery.c) */
        EtcdTarget watch_target; /* the thread's */

        pthread_t thread;
        bool started;
        int wake_fd;

        /* The thread's own. */
        sd_event *event;
        HttpClient *http;
        EtcdCall *range_call;
        HttpRequest *watch;
        sd_event_source *retry;
        Buffer stream;
        JsonScanner scanner;
        unsigned failures;
        bool need_range;
        char watch_url[512];
        char watch_abort[160]; /* why we ended the stream ourselves */
        char *watch_body;

        /* Shared, under lock. */
        pthread_mutex_t lock;
        bool quit;
        bool healthy; /* a watch is established: servers and overrides are current */
        EntryArray servers;
        EntryArray overrides; /* the operator's (etcd-override.h): weight in meta.weight */
        int64_t revision; /* of the last change applied */
} EtcdDiscovery;

/* ---- the watched set ------------------------------------------------------- */

static void set_clear(EntryArray *a) {
        server_entries_free(a->v, a->n);
        *a = (EntryArray) {};
}

/* Takes a range's entries. */
static void set_take(EntryArray *a, ServerEntry **v, size_t *n) {
        set_clear(a);
        *a = (EntryArray) { .v = TAKE_PTR(*v), .n = *n };
        *n = 0;
}

static int addr_compare(const void *addr, const void *element) {
        return strcmp(addr, ((const ServerEntry *) element)->addr);
}

/* Adds or replaces the entry of x's address; takes x. Whether anything
 * changed. */
static bool set_put(EntryArray *a, ServerEntry *x) {
        bool found;
        size_t i = sorted_search(x->addr, a->v, a->n, sizeof(ServerEntry), addr_compare, &found);
        if (found) {
                bool same = server_meta_equal(&a->v[i].meta, &x->meta);
                server_meta_done(&a->v[i].meta);
                a->v[i].meta = x->meta;
                free((char *) x->addr);
                *x = (ServerEntry) {};
                return !same;
        }
        ServerEntry *v = a->n < GEERPC_DISCOVERY_MAX_SERVERS ? reallocarray(a->v, a->n + 1, sizeof *v) : NULL;
        if (!v) {
                server_entry_done(x);
                return false;
        }
        a->v = v;
        memmove(v + i + 1, v + i, (a->n - i) * sizeof *v);
        v[i] = *x;
        *x = (ServerEntry) {};
        a->n++;
        return true;
}

static bool set_delete(EntryArray *a, const char *addr) {
        bool found;
        size_t i = sorted_search(addr, a->v, a->n, sizeof(ServerEntry), addr_compare, &found);
        if (!found)
                return false;
        server_entry_done(&a->v[i]);
        memmove(a->v + i, a->v + i + 1, (a->n - i - 1) * sizeof(ServerEntry));
        a->n--;
        return true;
}

/* The set clients pick from: the servers under their overrides. */
static int watched_set_locked(EtcdDiscovery *e, ServerSet **ret) {
        return etcd_overrides_apply(e->servers.v, e->servers.n, e->overrides.v, e->overrides.n, ret);
}

/* Hands the watched set to the discovery's caches. */
static void publish(EtcdDiscovery *e) {
        ServerSet *s = NULL;
        pthread_mutex_lock(&e->lock);
        int r = watched_set_locked(e, &s);
        pthread_mutex_unlock(&e->lock);
        if (r < 0) {
                log_warning_errno(r, "rpc discovery: cannot update the list from etcd: %m");
                return;
        }
        discovery_publish(e->d, s);
        server_set_unref(s);
}

/* ---- range ------------------------------------------------------------------- */

static json_t *range_request(const EtcdTarget *t) {
        _cleanup_free_ char *start = etcd_range_start(t), *end = etcd_range_end(t);
        _cleanup_free_ char *s64 = start ? base64_encode(start, strlen(start)) : NULL;
        _cleanup_free_ char *e64 = end ? base64_encode(end, strlen(end)) : NULL;
        if (!s64 || !e64)
                return NULL;
        return json_pack("{s:s,s:s}", "key", s64, "range_end", e64);
}

/* ---- the watch thread ---------------------------------------------------------- */

static void schedule_retry(EtcdDiscovery *e);
static void start_watch(EtcdDiscovery *e);

static void on_range(EtcdCall *call, int result, const char *error, long status, json_t *response,
                     void *userdata) {
        EtcdDiscovery *e = userdata;
        _cleanup_(etcd_range_done) EtcdRange range = {};
        e->range_call = NULL;

        if (result < 0 || status != 200 || etcd_parse_range(&e->watch_target, response, &range) < 0) {
                log_debug("rpc discovery: etcd range failed: %s",
                          result < 0 ? strempty(error) : strempty(etcd_error_message(response)));
                schedule_retry(e);
                return;
        }
        pthread_mutex_lock(&e->lock);
        set_take(&e->servers, &range.servers, &range.n_servers);
        set_take(&e->overrides, &range.overrides, &range.n_overrides);
        e->revision = range.revision;
        pthread_mutex_unlock(&e->lock);
        e->need_range = false;
        publish(e);
        start_watch(e);
}

static void start_range(EtcdDiscovery *e) {
        json_t *body = range_request(&e->watch_target);
        int r = body ? etcd_call(e->http, &e->watch_target, "/v3/kv/range", body, 5 * USEC_PER_SEC, on_range, e,
                                 &e->range_call)
                     : -ENOMEM;
        json_decref(body);
        if (r < 0)
                schedule_retry(e);
}

/* One message of the watch stream. Returns < 0 to end the stream. */
static int handle_watch_message(EtcdDiscovery *e, json_t *msg) {
        _cleanup_(etcd_watch_message_done) EtcdWatchMessage m = {};
        int r = etcd_parse_watch_message(&e->watch_target, msg, &m);
        if (r == -EBADMSG) {
                snprintf(e->watch_abort, sizeof e->watch_abort, "etcd said: %s",
                         etcd_error_message(msg) ?: "an unexpected message");
                return -EIO;
        }
        if (r < 0)
                return r;
        if (m.compact_revision > 0) {
                snprintf(e->watch_abort, sizeof e->watch_abort,
                         "etcd compacted revision %lld away; listing afresh", (long long) m.compact_revision);
                e->need_range = true;
                return -ESTALE;
        }
        if (m.canceled) {
                snprintf(e->watch_abort, sizeof e->watch_abort, "etcd cancelled the watch");
                return -ECANCELED;
        }
        if (m.created) {
                pthread_mutex_lock(&e->lock);
                e->healthy = true;
                pthread_mutex_unlock(&e->lock);
                if (e->failures > 0)
                        log_info("rpc discovery: watching %s again", e->watch_url);
                e->failures = 0;
        }

        bool changed = false;
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < m.n_events; i++) {
                EtcdWatchEvent *ev = &m.events[i];
                if (ev->mod_revision > e->revision)
                        e->revision = ev->mod_revision;
                EntryArray *a = ev->override ? &e->overrides : &e->servers;
                if (ev->entry.addr)
                        changed = (ev->deleted ? set_delete(a, ev->entry.addr) : set_put(a, &ev->entry)) || changed;
        }
        pthread_mutex_unlock(&e->lock);
        if (changed)
                publish(e);
        return 0;
}

static int on_watch_data(HttpRequest *r, const char *data, size_t size, void *userdata) {
        EtcdDiscovery *e = userdata;
        if (buffer_append(&e->stream, data, size) < 0)
                return -ENOMEM;
        for (;;) {
                size_t n;
                int k = json_scanner_scan(&e->scanner, &e->stream, &n);
                if (k < 0) {
                        snprintf(e->watch_abort, sizeof e->watch_abort, "etcd sent a malformed stream");
                        return k;
                }
                if (k == 0)
                        return 0;
                _cleanup_json_ json_t *msg = json_parse_value(buffer_data(&e->stream), n, 0, NULL);
                json_scanner_consume(&e->scanner, &e->stream, n);
                if (!msg) {
                        snprintf(e->watch_abort, sizeof e->watch_abort, "etcd sent a malformed message");
                        return -EBADMSG;
                }
                k = handle_watch_message(e, msg);
                if (k < 0)
                        return k;
        }
}

static void on_watch_done(HttpRequest *r, const HttpResponse *resp, void *userdata) {
        EtcdDiscovery *e = userdata;
        e->watch = NULL;
        pthread_mutex_lock(&e->lock);
        bool was_healthy = e->healthy;
        e->healthy = false;
        pthread_mutex_unlock(&e->lock);
        if (was_healthy || e->watch_abort[0])
                log_info("rpc discovery: etcd watch on %s ended: %s", e->watch_url,
                         e->watch_abort[0]      ? e->watch_abort
                         : resp->result < 0 ? strempty(resp->error)
                                            : "closed by etcd");
        e->watch_abort[0] = 0;
        /* Try the next endpoint next time. */
        e->watch_target.current = (e->watch_target.current + 1) % e->watch_target.n_endpoints;
        schedule_retry(e);
}

static void start_watch(EtcdDiscovery *e) {
        char rev[32];
        pthread_mutex_lock(&e->lock);
        snprintf(rev, sizeof rev, "%lld", (long long) (e->revision + 1));
        pthread_mutex_unlock(&e->lock);

        json_t *range = range_request(&e->watch_target);
        json_t *body = range ? json_pack("{s:{s:O,s:O,s:s}}", "create_request", "key", json_object_get(range, "key"),
                                         "range_end", json_object_get(range, "range_end"), "start_revision", rev)
                             : NULL;
        json_decref(range);
        free(e->watch_body);
        e->watch_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!e->watch_body) {
                schedule_retry(e);
                return;
        }
        snprintf(e->watch_url, sizeof e->watch_url, "%s/v3/watch", e->watch_target.endpoints[e->watch_target.current]);
        buffer_clear(&e->stream);
        json_scanner_init(&e->scanner, WATCH_MESSAGE_MAX);
        HttpRequestSpec spec = {
                .method = "POST",
                .url = e->watch_url,
                .headers = (const char *[]) { "Content-Type: application/json", NULL },
                .body = e->watch_body,
                .body_size = strlen(e->watch_body),
                .timeout = USEC_INFINITY, /* a watch streams for as long as it lives */
                .on_data = on_watch_data,
        };
        if (http_request_start(e->http, &spec, on_watch_done, e, &e->watch) < 0)
                schedule_retry(e);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        EtcdDiscovery *e = userdata;
        if (e->need_range)
                start_range(e);
        else
                start_watch(e);
        return 0;
}

static void schedule_retry(EtcdDiscovery *e) {
        usec_t d = backoff_delay(WATCH_BACKOFF_INITIAL_USEC, WATCH_BACKOFF_MAX_USEC, ++e->failures, backoff_jitter());
        int r;
        if (!e->retry)
                r = sd_event_add_time_relative(e->event, &e->retry, CLOCK_MONOTONIC, d, TIMER_ACCURACY_PRECISE,
                                               on_retry, e);
        else {
                r = sd_event_source_set_time_relative(e->retry, d);
                if (r >= 0)
                        r = sd_event_source_set_enabled(e->retry, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_error_errno(r, "rpc discovery: cannot schedule the etcd watch retry: %m");
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        EtcdDiscovery *e = userdata;
        uint64_t n;
        (void) !read(fd, &n, sizeof n);
        pthread_mutex_lock(&e->lock);
        bool quit = e->quit;
        pthread_mutex_unlock(&e->lock);
        if (quit)
                (void) sd_event_exit(e->event, 0);
        return 0;
}

static void *watch_main(void *userdata) {
        EtcdDiscovery *e = userdata;
        int r = sd_event_new(&e->event);
        if (r >= 0)
                r = sd_event_add_io(e->event, NULL, e->wake_fd, EPOLLIN, on_wake, e);
        if (r >= 0)
                r = http_client_new(&e->http, e->event);
        if (r < 0) {
                log_error_errno(r, "rpc discovery: cannot start the etcd watch: %m");
                goto finish;
        }
        e->need_range = true;
        start_range(e);
        r = sd_event_loop(e->event);
        if (r < 0)
                log_error_errno(r, "rpc discovery: etcd watch loop failed: %m");
finish:
        etcd_call_cancel(e->range_call);
        http_request_cancel(e->watch);
        e->range_call = NULL;
        e->watch = NULL;
        e->retry = sd_event_source_disable_unref(e->retry);
        e->http = http_client_free(e->http);
        e->event = sd_event_unref(e->event);
        return NULL;
}

static void ensure_thread_locked(EtcdDiscovery *e) {
        if (e->started)
                return;
        e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->wake_fd < 0)
                return;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&e->thread, NULL, watch_main, e);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                log_warning_errno(-r, "rpc discovery: cannot start the etcd watch thread: %m");
                e->wake_fd = safe_close(e->wake_fd);
                return;
        }
        e->started = true;
}

/* ---- the back end ----------------------------------------------------------- */

/* Every server, filtered by discovery.c: the watched set, or a range. */
static int etcd_fetch(geerpc_discovery *d, const char *service, usec_t timeout, ServerSet **ret, char **ret_error) {
        EtcdDiscovery *e = d->backend;
        int r;

        pthread_mutex_lock(&e->lock);
        ensure_thread_locked(e);
        if (e->healthy) {
                /* The watch keeps this current: no request needed. */
                r = watched_set_locked(e, ret);
                pthread_mutex_unlock(&e->lock);
                return r;
        }
        pthread_mutex_unlock(&e->lock);

        _cleanup_json_ json_t *body = range_request(&e->fetch_target), *resp = NULL;
        if (!body)
                return -ENOMEM;
        long status = 0;
        r = etcd_call_sync(&e->fetch_target, "/v3/kv/range", body, timeout, &status, &resp, ret_error);
        if (r < 0)
                return r;
        if (status != 200) {
                if (ret_error && asprintf(ret_error, "etcd answered %ld: %s", status,
                                          strempty(etcd_error_message(resp))) < 0)
                        *ret_error = NULL;
                return -EPROTO;
        }
        _cleanup_(etcd_range_done) EtcdRange range = {};
        r = etcd_parse_range(&e->fetch_target, resp, &range);
        if (r < 0) {
                if (ret_error)
                        *ret_error = strdup("etcd answered a range without a usable list");
                return r;
        }
        return etcd_overrides_apply(range.servers, range.n_servers, range.overrides, range.n_overrides, ret);
}

static void etcd_free_backend(void *backend) {
        EtcdDiscovery *e = backend;
        if (!e)
                return;
        if (e->started) {
                pthread_mutex_lock(&e->lock);
                e->quit = true;
                pthread_mutex_unlock(&e->lock);
                uint64_t one = 1;
                (void) !write(e->wake_fd, &one, sizeof one);
                pthread_join(e->thread, NULL);
        }
        safe_close(e->wake_fd);
        set_clear(&e->servers);
        set_clear(&e->overrides);
        buffer_done(&e->stream);
        free(e->watch_body);
        etcd_target_done(&e->fetch_target);
        etcd_target_done(&e->watch_target);
        pthread_mutex_destroy(&e->lock);
        free(e);
}

static const DiscoveryVTable etcd_vtable = {
        .name = "etcd",
        .fetch = etcd_fetch,
        .free_backend = etcd_free_backend,
};

int discovery_new_etcd(geerpc_discovery **ret, const char *url) {
        const char *why = NULL;
        EtcdDiscovery *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->wake_fd = -EBADF;
        pthread_mutex_init(&e->lock, NULL);
        int r = etcd_url_parse(url, &e->fetch_target, &why);
        if (r >= 0)
                r = etcd_url_parse(url, &e->watch_target, &why);
        if (r < 0) {
                log_debug("rpc discovery: %s: %s", url, strempty(why));
                etcd_free_backend(e);
                return r;
        }
        geerpc_discovery *d;
        r = discovery_new(&etcd_vtable, e, url, NULL, &d);
        if (r < 0)
                return r; /* discovery_new freed the back end */
        e->d = d;
        *ret = d;
        return 0;
}
