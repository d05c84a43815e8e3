/* SPDX-License-Identifier: MIT */

/* The state file's writing, as the file system sees it: the system calls
 * persist.c makes are recorded by wrappers defined here (the executable's
 * own definitions win over libc's for the code linked into it). Loading
 * and the daemon's behaviour around it are in
 * tests/integration/test-registry-state.c. */

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>

#include "basic/fileio.h"
#include "persist.h"
#include "testlib.h"

#define EVENTS_MAX 16

static char events[EVENTS_MAX][300];
static size_t n_events;

static void record(const char *what, const char *path) {
        if (n_events < EVENTS_MAX)
                snprintf(events[n_events++], sizeof events[0], "%s %s", what, path);
}

static void record_fd(const char *what, int fd) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        record(what, target);
}

int fsync(int fd) {
        static int (*real)(int);
        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
        record_fd("fsync", fd);
        return real(fd);
}

int fdatasync(int fd) {
        static int (*real)(int);
        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
        record_fd("fdatasync", fd);
        return real(fd);
}

int rename(const char *from, const char *to) {
        static int (*real)(const char *, const char *);
        if (!real)
                real = (int (*)(const char *, const char *)) dlsym(RTLD_NEXT, "rename");
        record("rename-to", to);
        return real(from, to);
}

/* The data reaches the disk, then the name, then the folder that holds the
 * name: only then does a crash (or power loss) keep the new file. What is
 * written so is version 2: metadata and overrides go the same safe way. */
Test(registry_persist, write_syncs_the_file_then_the_directory) {
        char dir[] = "/tmp/geerpc-persist-XXXXXX", path[128];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/servers.json", dir);
        sd_event *e = NULL;
        Table *t = NULL;
        Persist *p = NULL;
        Metrics m = {};
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(table_new(&t, 16, 0), 0);
        ServerMeta meta = SERVER_META_DEFAULT;
        const char *why;
        cr_assert_eq(server_meta_parse_services("Foo", &meta.services, &why), 0);
        meta.weight = 3;
        cr_assert_eq(table_heartbeat(t, "tcp@127.0.0.1:7001", &meta, now_usec(CLOCK_MONOTONIC)), TABLE_ADDED);
        server_meta_done(&meta);
        cr_assert_eq(table_set_override(t, "tcp@127.0.0.1:7002", 0), 1);
        cr_assert_eq(persist_new(&p, e, path, t, &m), 0);

        n_events = 0;
        persist_schedule(p);
        cr_assert_eq(persist_flush(p), 0);
        cr_assert_eq(n_events, 3, "%zu file system events", n_events);
        cr_assert(strncmp(events[0], "fdatasync ", 10) == 0 && strstr(events[0], "/servers.json.tmp"), "%s",
                  events[0]);
        char want[300];
        snprintf(want, sizeof want, "rename-to %s", path);
        cr_assert_str_eq(events[1], want);
        snprintf(want, sizeof want, "fsync %s", dir);
        cr_assert_str_eq(events[2], want, "after the rename: '%s'", events[2]);
        cr_assert_eq(m.state_writes, 1);

        _cleanup_free_ char *text = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        size_t len;
        cr_assert_eq(read_full_fd(fd, 1 << 20, &text, &len), 0);
        close(fd);
        static const char head[] = "{\"version\":2,\"servers\":[{\"addr\":\"tcp@127.0.0.1:7001\",\"heartbeat_ms\":";
        cr_assert(strncmp(text, head, sizeof head - 1) == 0, "%s", text);
        cr_assert(strstr(text, ",\"services\":[\"Foo\"],\"weight\":3}],"
                               "\"overrides\":[{\"addr\":\"tcp@127.0.0.1:7002\",\"weight\":0}]}\n"),
                  "%s", text);

        persist_free(p);
        table_free(t);
        sd_event_unref(e);
        unlink(path);
        rmdir(dir);
}
