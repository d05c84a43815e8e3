/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/address.h"
#include "basic/fileio.h"
#include "codec/json-util.h"
#include "basic/log.h"
#include "persist.h"

struct Persist {
        sd_event *event;
        char *path;
        char *dir;        /* the folder of path, to fsync after a rename */
        const char *base; /* the file name, inside path */
        Table *table;
        Metrics *metrics;
        sd_event_source *timer;
        usec_t last_write; /* CLOCK_MONOTONIC */
        bool dirty;
        bool failing; /* the last write failed: log the next failure quietly */
};

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata);

int persist_default_path(const char *state_directory, char **ret) {
        /* systemd passes one directory per StateDirectory= entry,
         * colon-separated: use the first. */
        size_t l = strcspn(state_directory, ":");
        if (l == 0)
                return -EINVAL;
        char *s;
        if (asprintf(&s, "%.*s/%s", (int) l, state_directory, PERSIST_FILE_NAME) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int persist_new(Persist **ret, sd_event *event, const char *path, Table *table, Metrics *metrics) {
        Persist *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (Persist) { .event = sd_event_ref(event), .table = table, .metrics = metrics };
        p->path = strdup(path);
        const char *slash = p->path ? strrchr(p->path, '/') : NULL;
        p->dir = !p->path ? NULL : slash ? strndup(p->path, MAX((size_t) (slash - p->path), (size_t) 1)) : strdup(".");
        p->base = slash ? slash + 1 : p->path;
        int r = p->dir ? sd_event_add_time(event, &p->timer, CLOCK_MONOTONIC, USEC_INFINITY, 0, on_timer, p) : -ENOMEM;
        if (r < 0) {
                persist_free(p);
                return r;
        }
        (void) sd_event_source_set_description(p->timer, "state-file");
        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
        *ret = p;
        return 0;
}

Persist *persist_free(Persist *p) {
        if (!p)
                return NULL;
        if (p->table)
                (void) persist_flush(p);
        sd_event_source_disable_unref(p->timer);
        sd_event_unref(p->event);
        free(p->path);
        free(p->dir);
        free(p);
        return NULL;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct OverrideWriter {
        Buffer *out;
        bool first;
} OverrideWriter;

static int serialize_override(const char *addr, unsigned weight, void *userdata) {
        OverrideWriter *w = userdata;
        int r = buffer_append(w->out, w->first ? "{\"addr\":" : ",{\"addr\":", w->first ? 8 : 9);
        w->first = false;
        if (r >= 0)
                r = json_append_string(w->out, addr);
        if (r >= 0)
                r = buffer_append(w->out, ",\"weight\":", 10);
        if (r >= 0)
                r = json_append_u64(w->out, weight);
        if (r >= 0)
                r = buffer_append(w->out, "}", 1);
        return r;
}

static int serialize(const Table *t, Buffer *out) {
        usec_t mono = now_usec(CLOCK_MONOTONIC), real = now_usec(CLOCK_REALTIME);
        char num[64];
        _Static_assert(PERSIST_VERSION == 2, "the version written below");
        int r = buffer_append(out, "{\"version\":2,\"servers\":[", 24);
        for (const TableEntry *e = table_oldest(t); r >= 0 && e; e = e->by_heartbeat_next) {
                usec_t age = mono > e->last ? mono - e->last : 0;
                usec_t at = real > age ? real - age : 0;
                r = buffer_append(out, e == table_oldest(t) ? "{\"addr\":" : ",{\"addr\":", e == table_oldest(t) ? 8 : 9);
                if (r >= 0)
                        r = json_append_string(out, e->addr);
                if (r >= 0) {
                        int n = snprintf(num, sizeof num, ",\"heartbeat_ms\":%" PRIu64, at / USEC_PER_MSEC);
                        r = buffer_append(out, num, (size_t) n);
                }
                if (r >= 0)
                        r = server_meta_append_json(out, &e->meta);
                if (r >= 0)
                        r = buffer_append(out, "}", 1);
        }
        OverrideWriter w = { .out = out, .first = true };
        if (r >= 0)
                r = buffer_append(out, "],\"overrides\":[", 15);
        if (r >= 0)
                r = table_foreach_override(t, serialize_override, &w);
        if (r >= 0)
                r = buffer_append(out, "]}\n", 3);
        return r;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The rename is only durable once the folder that holds the name is. */
static int fsync_directory(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* Temporary file next to the target, then rename: readers (and a crash)
 * see either the old file or the new one, never half of one. */
static int write_atomic(Persist *p, const Buffer *data) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s" PERSIST_TEMPORARY_SUFFIX "XXXXXX", p->path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = write_all(fd, buffer_data(data), buffer_len(data));
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r >= 0 && fdatasync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, p->path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return fsync_directory(p->dir);
}

int persist_flush(Persist *p) {
        if (!p->dirty)
                return 0;
        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);

        Buffer b = {};
        int r = serialize(p->table, &b);
        if (r >= 0)
                r = write_atomic(p, &b);
        buffer_done(&b);
        p->last_write = now_usec(CLOCK_MONOTONIC);
        if (r < 0) {
                p->metrics->state_write_errors++;
                /* Keep it pending and try again later; say so once. */
                log_full_errno(p->failing ? LOG_DEBUG : LOG_WARNING, r, "cannot write state file %s: %m", p->path);
                p->failing = true;
                (void) sd_event_source_set_time(p->timer, p->last_write + PERSIST_INTERVAL_USEC);
                (void) sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
                return r;
        }
        if (p->failing)
                log_notice("state file %s written again", p->path);
        p->failing = false;
        p->dirty = false;
        p->metrics->state_writes++;
        log_debug("wrote %zu server(s) to %s", table_size(p->table), p->path);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        (void) persist_flush(userdata);
        return 0;
}

void persist_schedule(Persist *p) {
        p->dirty = true;
        int enabled = SD_EVENT_OFF;
        (void) sd_event_source_get_enabled(p->timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return; /* already due: it will write the latest table */
        /* Coalesce: at most one write per interval. */
        usec_t when = p->last_write == 0 ? 1 : p->last_write + PERSIST_INTERVAL_USEC;
        (void) sd_event_source_set_time(p->timer, when);
        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

/* ---- loading -------------------------------------------------------------- */

typedef struct Saved {
        char *addr; /* canonical */
        uint64_t heartbeat_ms;
        ServerMeta meta;
} Saved;

static void saved_free(Saved *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].addr);
                server_meta_done(&v[i].meta);
        }
        free(v);
}

static int saved_compare(const void *a, const void *b) {
        const Saved *x = a, *y = b;
        return x->heartbeat_ms < y->heartbeat_ms ? -1 : x->heartbeat_ms > y->heartbeat_ms;
}

/* Never fatal: the file goes aside and the registry starts empty. */
static void set_aside(Persist *p, const char *why) {
        _cleanup_free_ char *aside = NULL;
        if (asprintf(&aside, "%s.corrupt", p->path) < 0 || rename(p->path, aside) < 0) {
                log_warning("state file %s is corrupt (%s); cannot move it aside: %m; starting empty", p->path, why);
                return;
        }
        log_warning("state file %s is corrupt (%s); moved it to %s, starting empty", p->path, why, aside);
}

static int read_file(Persist *p, char **ret, size_t *ret_len) {
        /* Whatever is at the path: a FIFO must not block the start (nor a
         * device), a symbolic link is not followed; only a regular file is
         * read. */
        _cleanup_close_ int fd = open(p->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ELOOP ? -EBADMSG : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (st.st_size > (off_t) PERSIST_FILE_SIZE_MAX)
                return -EFBIG;
        return read_full_fd(fd, PERSIST_FILE_SIZE_MAX, ret, ret_len);
}

/* One saved server, its address in the canonical spelling: an older file
 * may hold other spellings of one server, which merge (the later
 * heartbeat wins). False when it is malformed. */
static bool collect_one(json_t *o, long version, Saved *ret) {
        json_t *a = json_object_get(o, "addr"), *h = json_object_get(o, "heartbeat_ms");
        const char *why;
        ServerMeta meta = SERVER_META_DEFAULT;
        _cleanup_free_ char *addr = NULL;
        if (!json_is_string(a) || !json_is_integer(h) || json_integer_value(h) < 0 ||
            address_canonicalize(json_string_value(a), 0, &addr, NULL) < 0 ||
            (version >= 2 && server_meta_from_json(o, &meta, &why) < 0))
                return false;
        *ret = (Saved) { TAKE_PTR(addr), (uint64_t) json_integer_value(h), meta };
        return true;
}

/* Checks the shape and collects the entries; returns a reason when the
 * file as a whole is unusable. */
static const char *collect(json_t *root, Saved **ret, size_t *ret_n, size_t *ret_bad) {
        if (!json_is_object(root))
                return "not a JSON object";
        json_t *v = json_object_get(root, "version");
        long version = json_is_integer(v) ? (long) json_integer_value(v) : 0;
        if (version < 1 || version > PERSIST_VERSION)
                return "missing or unknown \"version\"";
        json_t *servers = json_object_get(root, "servers");
        if (!json_is_array(servers))
                return "missing \"servers\" array";

        size_t n = json_array_size(servers), k = 0, bad = 0;
        Saved *saved = calloc(MAX(n, (size_t) 1), sizeof *saved);
        if (!saved)
                return "out of memory";
        for (size_t i = 0; i < n; i++) {
                if (collect_one(json_array_get(servers, i), version, &saved[k]))
                        k++;
                else
                        bad++;
        }
        *ret = saved;
        *ret_n = k;
        *ret_bad = bad;
        return NULL;
}

/* The operator's overrides (version 2); malformed ones are counted. */
static int restore_overrides(Persist *p, json_t *root, size_t *bad) {
        json_t *o, *list = json_object_get(root, "overrides");
        size_t i;
        json_array_foreach(list, i, o) {
                json_t *a = json_object_get(o, "addr"), *w = json_object_get(o, "weight");
                _cleanup_free_ char *addr = NULL;
                if (!json_is_string(a) || !json_is_integer(w) || json_integer_value(w) < 0 ||
                    json_integer_value(w) > (json_int_t) GEERPC_WEIGHT_MAX ||
                    address_canonicalize(json_string_value(a), 0, &addr, NULL) < 0) {
                        (*bad)++;
                        continue;
                }
                int r = table_set_override(p->table, addr, (unsigned) json_integer_value(w));
                if (r == -ENOSPC)
                        break;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int restore(Persist *p, Saved *saved, size_t n, persist_admit_t admit, void *userdata, size_t *ret_dead,
                   size_t *ret_refused) {
        usec_t mono = now_usec(CLOCK_MONOTONIC), real = now_usec(CLOCK_REALTIME), timeout = table_timeout(p->table);
        size_t loaded = 0, dead = 0, refused = 0;

        qsort(saved, n, sizeof *saved, saved_compare);
        for (size_t i = 0; i < n; i++) {
                usec_t at = saved[i].heartbeat_ms > USEC_INFINITY / USEC_PER_MSEC ? USEC_INFINITY
                                                                                  : saved[i].heartbeat_ms * USEC_PER_MSEC;
                /* A heartbeat "in the future" (the clock was set back) counts as now. */
                usec_t age = real > at ? real - at : 0;
                if (timeout > 0 && age >= timeout) {
                        dead++;
                        continue;
                }
                const char *why = NULL;
                if (admit && !admit(saved[i].addr, &why, userdata)) {
                        log_warning("state file %s: left out %s: %s", p->path, saved[i].addr, strempty(why));
                        refused++;
                        continue;
                }
                int r = table_restore(p->table, saved[i].addr, &saved[i].meta, mono > age ? mono - age : 0);
                if (r == -ENOSPC) {
                        log_warning("state file %s has more servers than --max-servers=%zu; left out the rest", p->path,
                                    table_max(p->table));
                        break;
                }
                if (r < 0)
                        return r;
                loaded += r;
        }
        *ret_dead = dead;
        *ret_refused = refused;
        return (int) MIN(loaded, (size_t) INT32_MAX);
}

/* A write cut short (the daemon killed between mkostemp() and rename())
 * leaves PATH.tmpXXXXXX behind, and nothing else makes such names. */
static void remove_stale_temporaries(Persist *p) {
        _cleanup_free_ char *prefix = NULL;
        if (asprintf(&prefix, "%s" PERSIST_TEMPORARY_SUFFIX, p->base) < 0)
                return;
        DIR *d = opendir(p->dir);
        if (!d)
                return;
        size_t pl = strlen(prefix), removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *rest = de->d_name + pl;
                struct stat st;
                if (strncmp(de->d_name, prefix, pl) != 0 || strlen(rest) != 6 ||
                    strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != 6 ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                        log_warning("cannot remove stale temporary file %s/%s: %m", p->dir, de->d_name);
                else
                        removed++;
        }
        closedir(d);
        if (removed > 0)
                log_info("removed %zu temporary state file(s) left by an interrupted write in %s", removed, p->dir);
}

int persist_load(Persist *p, persist_admit_t admit, void *userdata) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        remove_stale_temporaries(p);
        int r = read_file(p, &buf, &len);
        if (r == -ENOENT) {
                log_debug("no state file at %s yet", p->path);
                return 0;
        }
        if (r == -EFBIG || r == -EBADMSG) {
                set_aside(p, r == -EFBIG ? "too large" : "not a regular file");
                return 0;
        }
        if (r < 0) {
                log_warning_errno(r, "cannot read state file %s: %m; starting empty", p->path);
                return r == -ENOMEM ? r : 0;
        }

        json_error_t err;
        _cleanup_json_ json_t *root = json_loadb(buf, len, 0, &err);
        if (!root) {
                char why[256];
                snprintf(why, sizeof why, "line %d: %s", err.line, err.text);
                set_aside(p, why);
                return 0;
        }
        Saved *saved = NULL;
        size_t n = 0, bad = 0, dead = 0, refused = 0;
        const char *why = collect(root, &saved, &n, &bad);
        if (why) {
                set_aside(p, why);
                return 0;
        }
        /* Overrides first: servers restored after them show them at once. */
        r = restore_overrides(p, root, &bad);
        int k = r >= 0 ? restore(p, saved, n, admit, userdata, &dead, &refused) : r;
        saved_free(saved, n);
        if (k < 0)
                return k;
        r = k;
        if (bad > 0)
                log_warning("state file %s: skipped %zu malformed entr%s", p->path, bad, bad == 1 ? "y" : "ies");
        log_info("loaded %d server(s) and %zu override(s) from %s (%zu expired meanwhile)", r,
                 table_n_overrides(p->table), p->path, dead);
        /* Rewritten in the current version too. */
        json_t *v = json_object_get(root, "version");
        if (dead > 0 || bad > 0 || refused > 0 || json_integer_value(v) != PERSIST_VERSION)
                persist_schedule(p);
        return r;
}
