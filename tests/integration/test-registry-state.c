/* SPDX-License-Identifier: MIT */

/* geeregistry's state file (restarts keep live servers with their ages,
 * never dead ones; corrupt files are set aside; writes are coalesced and
 * survive SIGKILL) and its write token (file and systemd credential). */

#include <sys/stat.h>

#include "registry-util.h"

static char *state_arg(const char *dir, char **ret_path) {
        char *path, *arg;
        cr_assert_geq(asprintf(&path, "%s/servers.json", dir), 0);
        cr_assert_geq(asprintf(&arg, "--state-file=%s", path), 0);
        *ret_path = path;
        return arg;
}

/* Polls a file until it contains (or, with absent, lacks) needle. */
static bool wait_file(const char *path, const char *needle, bool absent, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                char *s = reg_read_file(path);
                bool found = s && strstr(s, needle);
                bool exists = s != NULL;
                free(s);
                if (exists && found != absent)
                        return true;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                tl_sleep(50 * USEC_PER_MSEC);
        }
}

static json_t *get_json(const Reg *r) {
        TlHttp h;
        cr_assert_eq(reg_request("GET", r->url, "Accept: application/json", &h), 200);
        json_t *v = json_loads(h.body, 0, NULL);
        cr_assert_not_null(v, "%s", h.body);
        tl_http_done(&h);
        return v;
}

Test(registry_state, restart_keeps_servers_and_their_age) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path);
        Reg r = reg_start((const char *[]) { arg, "--timeout=1h", NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);

        char *s = reg_read_file(path);
        cr_assert_not_null(s, "no state file after the stop");
        cr_assert_not_null(strstr(s, "\"addr\":\"tcp@127.0.0.1:7001\""), "%s", s);
        cr_assert_not_null(strstr(s, "\"addr\":\"tcp@127.0.0.1:7002\""), "%s", s);
        free(s);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0644);

        tl_sleep(1100 * USEC_PER_MSEC);
        r = reg_start((const char *[]) { arg, "--timeout=1h", NULL });
        char *line = reg_output_line(&r, "loaded 2 server(s)");
        cr_assert_not_null(line);
        free(line);
        json_t *v = get_json(&r);
        json_t *servers = json_object_get(v, "servers");
        cr_assert_eq(json_array_size(servers), 2);
        for (size_t i = 0; i < 2; i++) {
                json_t *e = json_array_get(servers, i);
                cr_assert_str_eq(json_string_value(json_object_get(e, "addr")),
                                 i == 0 ? "tcp@127.0.0.1:7001" : "tcp@127.0.0.1:7002");
                /* The heartbeat time came back, not "now". */
                json_int_t age = json_integer_value(json_object_get(e, "age_ms"));
                cr_assert(age >= 1000 && age < 3600000, "age_ms %lld", (long long) age);
        }
        json_decref(v);
        reg_stop(&r);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

Test(registry_state, dead_servers_do_not_come_back) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path);
        long long now_ms = (long long) (now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
        char content[1024];
        snprintf(content, sizeof content,
                 "{\"version\":1,\"servers\":["
                 "{\"addr\":\"tcp@127.0.0.1:7001\",\"heartbeat_ms\":%lld},"  /* 10 min ago: dead */
                 "{\"addr\":\"tcp@127.0.0.1:7002\",\"heartbeat_ms\":%lld},"  /* 2 s ago: alive */
                 "{\"addr\":\"tcp@127.0.0.1:7002\",\"heartbeat_ms\":%lld},"  /* an older duplicate */
                 "{\"addr\":\"tcp@127.0.0.1:7003\",\"heartbeat_ms\":%lld},"  /* in the future: now */
                 "{\"addr\":\"not an address\",\"heartbeat_ms\":%lld},"
                 "{\"addr\":\"tcp@127.0.0.1:7004\"}]}\n",
                 now_ms - 600000, now_ms - 2000, now_ms - 200000, now_ms + 3600000, now_ms);
        reg_write_file(path, content);

        Reg r = reg_start((const char *[]) { arg, "--timeout=5m", NULL });
        char *line = reg_output_line(&r, "loaded 2 server(s)");
        cr_assert_not_null(line);
        cr_assert_not_null(strstr(line, "(1 expired meanwhile)"), "%s", line);
        free(line);
        line = reg_output_line(&r, "skipped 2 malformed entries");
        cr_assert_not_null(line);
        free(line);

        json_t *v = get_json(&r);
        json_t *servers = json_object_get(v, "servers");
        cr_assert_eq(json_array_size(servers), 2);
        json_t *a = json_array_get(servers, 0), *b = json_array_get(servers, 1);
        cr_assert_str_eq(json_string_value(json_object_get(a, "addr")), "tcp@127.0.0.1:7002");
        json_int_t age = json_integer_value(json_object_get(a, "age_ms"));
        cr_assert(age >= 2000 && age < 60000, "age_ms %lld (the later duplicate wins)", (long long) age);
        cr_assert_str_eq(json_string_value(json_object_get(b, "addr")), "tcp@127.0.0.1:7003");
        cr_assert_lt(json_integer_value(json_object_get(b, "age_ms")), 60000);
        json_decref(v);

        /* The file is rewritten without the dead and the malformed. */
        cr_assert(wait_file(path, "7001", true, 10 * USEC_PER_SEC));
        char *s = reg_read_file(path);
        cr_assert_null(strstr(s, "not an address"), "%s", s);
        cr_assert_not_null(strstr(s, "7003"), "%s", s);
        free(s);
        reg_stop(&r);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

/* A state file written under other flags: a unix socket outside today's
 * --unix-directory is left out as a heartbeat from it would be refused. */
Test(registry_state, saved_servers_pass_todays_unix_directory) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path);
        long long now_ms = (long long) (now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
        char content[1024], inside[256], unix_dir[128];
        snprintf(unix_dir, sizeof unix_dir, "--unix-directory=%s/run", dir);
        snprintf(inside, sizeof inside, "unix@%s/run/ok.sock", dir);
        snprintf(content, sizeof content,
                 "{\"version\":2,\"servers\":["
                 "{\"addr\":\"%s\",\"heartbeat_ms\":%lld},"
                 "{\"addr\":\"unix@/tmp/elsewhere.sock\",\"heartbeat_ms\":%lld},"
                 "{\"addr\":\"tcp@127.0.0.1:7002\",\"heartbeat_ms\":%lld}]}\n",
                 inside, now_ms, now_ms, now_ms);
        reg_write_file(path, content);

        Reg r = reg_start((const char *[]) { arg, unix_dir, NULL });
        char *line = reg_output_line(&r, "left out unix@/tmp/elsewhere.sock: unix socket outside the folder");
        cr_assert_not_null(line);
        free(line);
        line = reg_output_line(&r, "loaded 2 server(s)");
        cr_assert_not_null(line);
        free(line);
        json_t *v = get_json(&r);
        json_t *servers = json_object_get(v, "servers");
        cr_assert_eq(json_array_size(servers), 2);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(servers, 0), "addr")), "tcp@127.0.0.1:7002");
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(servers, 1), "addr")), inside);
        json_decref(v);
        /* And the file is rewritten without it. */
        cr_assert(wait_file(path, "elsewhere", true, 10 * USEC_PER_SEC));
        reg_stop(&r);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

Test(registry_state, sweep_updates_the_file_without_get) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path);
        Reg r = reg_start((const char *[]) { arg, "--timeout=1s", NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert(wait_file(path, "tcp@127.0.0.1:7001", false, 10 * USEC_PER_SEC));
        /* No request at all from here on. */
        cr_assert(wait_file(path, "tcp@127.0.0.1:7001", true, 10 * USEC_PER_SEC),
                  "the dead server stayed in the state file");
        reg_stop(&r);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

Test(registry_state, writes_are_coalesced_and_survive_sigkill) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path);
        Reg r = reg_start((const char *[]) { arg, NULL });

        usec_t started = now_usec(CLOCK_MONOTONIC);
        for (int i = 0; i < 100; i++) {
                char addr[64];
                snprintf(addr, sizeof addr, "tcp@127.0.0.1:%d", 7000 + i % 10);
                cr_assert_eq(reg_post(&r, addr), 200);
        }
        usec_t took = now_usec(CLOCK_MONOTONIC) - started;
        int64_t writes = reg_metric(&r, "geeregistry_state_writes_total");
        /* One at once, then at most one per second. */
        int64_t bound = 2 + (int64_t) (took / USEC_PER_SEC);
        cr_assert(writes >= 1 && writes <= bound, "%lld writes for 100 heartbeats in %.2f s", (long long) writes,
                  (double) took / USEC_PER_SEC);

        cr_assert(wait_file(path, "tcp@127.0.0.1:7009", false, 10 * USEC_PER_SEC), "the last changes were not written");
        tl_kill(r.proc, SIGKILL);
        (void) tl_wait_exit(r.proc, 10 * USEC_PER_SEC);
        tl_proc_free(r.proc);

        r = reg_start((const char *[]) { arg, NULL });
        reg_assert_list(&r, "tcp@127.0.0.1:7000,tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003,"
                            "tcp@127.0.0.1:7004,tcp@127.0.0.1:7005,tcp@127.0.0.1:7006,tcp@127.0.0.1:7007,"
                            "tcp@127.0.0.1:7008,tcp@127.0.0.1:7009");
        reg_stop(&r);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

Test(registry_state, corrupt_state_file_is_set_aside) {
        static const char *const corrupt[] = {
                "{not json",
                "",
                "[1,2,3]\n",
                "{\"version\":3,\"servers\":[]}\n",
                "{\"version\":1,\"servers\":{}}\n",
                "\x01\x02garbage",
        };
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path), aside[512];
        snprintf(aside, sizeof aside, "%s.corrupt", path);

        for (size_t i = 0; i < ELEMENTSOF(corrupt); i++) {
                reg_write_file(path, corrupt[i]);
                Reg r = reg_start((const char *[]) { arg, NULL });
                char *line = reg_output_line(&r, "is corrupt");
                cr_assert_not_null(line, "case %zu: no log line", i);
                cr_assert_not_null(strstr(line, aside), "%s", line);
                free(line);
                char *s = reg_read_file(aside);
                cr_assert_not_null(s, "case %zu: not moved aside", i);
                cr_assert_str_eq(s, corrupt[i]);
                free(s);

                cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
                reg_assert_list(&r, "tcp@127.0.0.1:7001");
                cr_assert(wait_file(path, "tcp@127.0.0.1:7001", false, 10 * USEC_PER_SEC));
                reg_stop(&r);
                unlink(aside);
        }
        free(arg);
        free(path);
        reg_rmdir(dir);
}

/* Whatever is at the path, the start goes on: a FIFO is never opened for
 * a blocking read, a symbolic link never followed; both are set aside. */
Test(registry_state, fifo_or_symlink_at_the_state_path_is_set_aside) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path), aside[300], target[300];
        snprintf(aside, sizeof aside, "%s.corrupt", path);
        cr_assert_eq(mkfifo(path, 0600), 0);
        Reg r = reg_start((const char *[]) { arg, NULL }); /* fails here if the FIFO blocks */
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);
        struct stat st;
        cr_assert_eq(lstat(aside, &st), 0);
        cr_assert(S_ISFIFO(st.st_mode), "the FIFO was not set aside");
        cr_assert(wait_file(path, "tcp@127.0.0.1:7001", false, 0), "no state file in the FIFO's place");

        snprintf(target, sizeof target, "%s/elsewhere.json", dir);
        reg_write_file(target, "{\"version\":1,\"servers\":[{\"addr\":\"tcp@127.0.0.1:7009\",\"heartbeat_ms\":1}]}");
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(symlink(target, path), 0);
        r = reg_start((const char *[]) { arg, "--timeout=0", NULL });
        reg_assert_list(&r, "");
        reg_stop(&r);
        cr_assert_eq(lstat(aside, &st), 0);
        cr_assert(S_ISLNK(st.st_mode), "the symbolic link was not set aside");
        char *s = reg_read_file(target);
        cr_assert_not_null(strstr(s, "7009"), "the link's target was written: %s", s);
        free(s);
        free(arg);
        free(path);
        reg_rmdir(dir);
}

/* kill -9 between the temporary file and the rename leaves the temporary
 * file; the next start removes such files, and only those. */
Test(registry_state, stale_temporary_files_are_removed_at_start) {
        char *dir = reg_tmpdir(), *path, *arg = state_arg(dir, &path), f[300];
        const char *stale[] = { "servers.json.tmpAb12Cd", "servers.json.tmpXyZ789" };
        const char *kept[] = { "servers.json.tmpfoo", "servers.json.tmpABCDEFG", "other.json.tmpAbcdef",
                               "servers.json.tmp-b12Cd", "servers.json.corrupt" };
        for (size_t i = 0; i < ELEMENTSOF(stale); i++) {
                snprintf(f, sizeof f, "%s/%s", dir, stale[i]);
                reg_write_file(f, "{\"version\":1,\"servers\":[");
        }
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                snprintf(f, sizeof f, "%s/%s", dir, kept[i]);
                reg_write_file(f, "keep");
        }
        snprintf(f, sizeof f, "%s/servers.json.tmpDir123", dir);
        cr_assert_eq(mkdir(f, 0700), 0);

        Reg r = reg_start((const char *[]) { arg, NULL });
        char *line = reg_output_line(&r, "removed 2 temporary state file(s)");
        cr_assert_not_null(line, "no word of the stale temporary files");
        free(line);
        reg_stop(&r);
        for (size_t i = 0; i < ELEMENTSOF(stale); i++) {
                snprintf(f, sizeof f, "%s/%s", dir, stale[i]);
                cr_assert_neq(access(f, F_OK), 0, "%s is still there", stale[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                snprintf(f, sizeof f, "%s/%s", dir, kept[i]);
                cr_assert_eq(access(f, F_OK), 0, "%s was removed", kept[i]);
        }
        snprintf(f, sizeof f, "%s/servers.json.tmpDir123", dir);
        cr_assert_eq(access(f, F_OK), 0, "a directory was removed");
        free(arg);
        free(path);
        reg_rmdir(dir);
}

Test(registry_state, state_directory_from_systemd) {
        char *dir = reg_tmpdir(), env[300], path[300];
        snprintf(env, sizeof env, "STATE_DIRECTORY=%s", dir);
        snprintf(path, sizeof path, "%s/servers.json", dir);
        Reg r = reg_start_env(NULL, (const char *[]) { env, NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        cr_assert(wait_file(path, "tcp@127.0.0.1:7001", false, 10 * USEC_PER_SEC));
        reg_stop(&r);

        /* --state-file= (empty) turns it off. */
        unlink(path);
        r = reg_start_env((const char *[]) { "--state-file=", NULL }, (const char *[]) { env, NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);
        cr_assert_neq(access(path, F_OK), 0);
        reg_rmdir(dir);
}

Test(registry_state, unwritable_state_file_is_not_fatal) {
        Reg r = reg_start((const char *[]) { "--state-file=/nonexistent/dir/servers.json", NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        char *line = tl_wait_line(r.proc, "cannot write state file /nonexistent/dir/servers.json", 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        reg_assert_list(&r, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002");
        cr_assert_geq(reg_metric(&r, "geeregistry_state_write_errors_total"), 1);
        reg_stop(&r);
}

/* ---- the token ------------------------------------------------------------ */

static long with_auth(const char *method, const Reg *r, const char *auth, const char *addr, TlHttp *ret) {
        char a[256], s[256];
        snprintf(a, sizeof a, "Authorization: %s", auth);
        snprintf(s, sizeof s, "X-Geerpc-Server: %s", addr);
        const char *headers[] = { s, auth ? a : NULL, NULL };
        TlHttp h;
        cr_assert_eq(tl_http(method, r->url, headers, &h), 0);
        long status = h.status;
        if (ret)
                *ret = h;
        else
                tl_http_done(&h);
        return status;
}

static void assert_token_enforced(const Reg *r, const char *token) {
        char good[256], lower[256], longer[256], shorter[256];
        snprintf(good, sizeof good, "Bearer %s", token);
        snprintf(lower, sizeof lower, "bearer   %s", token);
        snprintf(longer, sizeof longer, "Bearer %sx", token);
        snprintf(shorter, sizeof shorter, "Bearer %.*s", (int) strlen(token) - 1, token);

        TlHttp h;
        cr_assert_eq(with_auth("POST", r, NULL, "tcp@127.0.0.1:7001", &h), 401);
        cr_assert_str_eq(h.body, "missing or wrong bearer token\n");
        char *www = tl_http_header(&h, "WWW-Authenticate");
        cr_assert_str_eq(www, "Bearer realm=\"geeregistry\"");
        free(www);
        tl_http_done(&h);
        const char *wrong[] = { "Bearer nope", longer, shorter, "Basic czNjcmV0", "Bearer", "Bearer ", token };
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++)
                cr_assert_eq(with_auth("POST", r, wrong[i], "tcp@127.0.0.1:7001", NULL), 401, "'%s'", wrong[i]);
        reg_assert_list(r, "");

        cr_assert_eq(with_auth("POST", r, good, "tcp@127.0.0.1:7001", NULL), 200);
        cr_assert_eq(with_auth("POST", r, lower, "tcp@127.0.0.1:7002", NULL), 200);
        reg_assert_list(r, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002"); /* GET needs no token */
        cr_assert_eq(with_auth("DELETE", r, NULL, "tcp@127.0.0.1:7001", NULL), 401);
        cr_assert_eq(with_auth("DELETE", r, "Bearer nope", "tcp@127.0.0.1:7001", NULL), 401);
        cr_assert_eq(with_auth("DELETE", r, good, "tcp@127.0.0.1:7001", NULL), 200);
        reg_assert_list(r, "tcp@127.0.0.1:7002");

        /* Whitespace after the token (a tab too) is not part of it. Raw,
         * so that no HTTP library trims it on the way. */
        char req[512];
        int n = snprintf(req, sizeof req,
                         "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s \t \r\n"
                         "X-Geerpc-Server: tcp@127.0.0.1:7003\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                         REG_PATH, token);
        int fd = tl_connect(r->addr);
        cr_assert_geq(fd, 0);
        cr_assert(tl_write_all(fd, req, (size_t) n));
        char *answer = tl_read_until_eof(fd, 10 * USEC_PER_SEC, NULL);
        close(fd);
        cr_assert(strncmp(answer, "HTTP/1.1 200", 12) == 0, "a token with trailing blanks got: %.40s", answer);
        free(answer);
        reg_assert_list(r, "tcp@127.0.0.1:7002,tcp@127.0.0.1:7003");

        /* The token is checked before the address. */
        cr_assert_eq(with_auth("POST", r, NULL, "garbage", NULL), 401);
        cr_assert_eq(with_auth("POST", r, good, "garbage", NULL), 400);
        cr_assert_eq(reg_metric(r, "geeregistry_http_requests_total{method=\"POST\",code=\"401\"}"),
                     1 + (int64_t) ELEMENTSOF(wrong) + 1);
}

Test(registry_state, token_file) {
        char *dir = reg_tmpdir(), path[300], arg[320];
        snprintf(path, sizeof path, "%s/token", dir);
        snprintf(arg, sizeof arg, "--token-file=%s", path);
        reg_write_file(path, "  s3cret-token\n");
        Reg r = reg_start((const char *[]) { arg, NULL });
        assert_token_enforced(&r, "s3cret-token");
        reg_stop(&r);
        reg_rmdir(dir);
}

Test(registry_state, token_from_systemd_credential) {
        char *dir = reg_tmpdir(), path[300], env[320];
        snprintf(path, sizeof path, "%s/registry-token", dir);
        snprintf(env, sizeof env, "CREDENTIALS_DIRECTORY=%s", dir);
        reg_write_file(path, "cred-token-42");
        Reg r = reg_start_env(NULL, (const char *[]) { env, NULL });
        assert_token_enforced(&r, "cred-token-42");
        reg_stop(&r);

        /* A credentials directory without the token: writes stay open. */
        unlink(path);
        r = reg_start_env(NULL, (const char *[]) { env, NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7001"), 200);
        reg_stop(&r);

        /* A blank credential (the units' SetCredential= fallback when the
         * admin made no token file): writes stay open too. */
        reg_write_file(path, "\n");
        r = reg_start_env(NULL, (const char *[]) { env, NULL });
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7002"), 200);
        reg_stop(&r);
        reg_rmdir(dir);
}

Test(registry_state, bad_token_files_stop_the_start) {
        static const struct {
                const char *content, *message;
        } bad[] = {
                { "", "is empty" },
                { " \n\n", "is empty" },
                { "two words", "contains whitespace or control characters" },
        };
        char *dir = reg_tmpdir(), path[300], arg[320];
        snprintf(path, sizeof path, "%s/token", dir);
        snprintf(arg, sizeof arg, "--token-file=%s", path);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                reg_write_file(path, bad[i].content);
                const char *argv[] = { tl_binary("geeregistry"), arg, "--listen=127.0.0.1:0", NULL };
                char *err;
                cr_assert_eq(tl_run(argv, NULL, 10 * USEC_PER_SEC, NULL, &err), 1, "case %zu", i);
                cr_assert_not_null(strstr(err, bad[i].message), "%s", err);
                free(err);
        }
        reg_rmdir(dir);
}
