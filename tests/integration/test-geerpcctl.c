/* SPDX-License-Identifier: MIT */

/* geerpcctl end to end: each command, each exit status, against a real
 * geeregistry with geerpc-example servers (or a --server list). */

#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

#include "geerpc/server.h"

#include "cluster.h"
#include "testlib.h"

#define RUN_TIMEOUT (30 * USEC_PER_SEC)

typedef struct Run {
        int status;
        char *out, *err;
} Run;

/* Runs geerpcctl with args (NULL-terminated) and envp. */
static Run ctl_env(const char *const *envp, const char *const *args) {
        const char *argv[32] = { tl_binary("geerpcctl") };
        size_t n = 1;
        for (size_t i = 0; args[i]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        Run r = {};
        r.status = tl_run(argv, envp, RUN_TIMEOUT, &r.out, &r.err);
        return r;
}

#define ctl(...) ctl_env(NULL, (const char *const[]) { __VA_ARGS__, NULL })

static void run_done(Run *r) {
        free(r->out);
        free(r->err);
}

static void expect(Run r, int status, const char *out, const char *err_part) {
        cr_assert_eq(r.status, status, "exit %d, expected %d; stderr: %s", r.status, status, r.err);
        if (out)
                cr_assert_str_eq(r.out, out);
        if (err_part)
                cr_assert(strstr(r.err, err_part), "stderr lacks '%s': %s", err_part, r.err);
        run_done(&r);
}

static char *regopt(TlCluster *c) {
        char *s;
        cr_assert_gt(asprintf(&s, "--registry=%s", c->url), 0);
        return s;
}

static char *sorted_lines(TlCluster *c) {
        const char *v[TL_CLUSTER_MAX];
        for (size_t i = 0; i < c->n; i++)
                v[i] = c->addrs[i];
        for (size_t i = 0; i < c->n; i++)
                for (size_t j = i + 1; j < c->n; j++)
                        if (strcmp(v[j], v[i]) < 0) {
                                const char *t = v[i];
                                v[i] = v[j];
                                v[j] = t;
                        }
        char *s = strdup("");
        for (size_t i = 0; i < c->n; i++) {
                char *t;
                cr_assert_gt(asprintf(&t, "%s%s\n", s, v[i]), 0);
                free(s);
                s = t;
        }
        return s;
}

Test(geerpcctl, help_documents_everything) {
        Run r = ctl("--help");
        cr_assert_eq(r.status, 0);
        const char *words[] = { "--registry", "--server", "--mode", "random", "roundrobin", "hash:KEY", "--timeout",
                                "--json", "--output", "table", "plain", "--log-level", "GEERPC_REGISTRY",
                                "GEERPC_TOKEN", "servers", "call", "--count", "broadcast", "deregister",
                                "--token-file", "@-", "describe [SERVICE]", "list [SERVICE]", "http@HOST:PORT",
                                "Exit status", "  0 ", "  1 ", "  2 ", "  3 " };
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                cr_assert(strstr(r.out, words[i]), "--help does not mention '%s'", words[i]);
        run_done(&r);
        Run v = ctl("--version");
        cr_assert_eq(v.status, 0);
        cr_assert(strstr(v.out, "geerpcctl "));
        run_done(&v);
}

Test(geerpcctl, usage_errors_exit_2) {
        const char *s = "--server=tcp@127.0.0.1:1";
        expect(ctl(s), 2, "", "missing command");
        expect(ctl(s, "frobnicate"), 2, "", "unknown command");
        expect(ctl(s, "call", "Foo.Sum"), 2, "", "usage: call");
        expect(ctl(s, "call", "FooSum", "{}"), 2, "", "invalid method");
        expect(ctl(s, "servers", "extra"), 2, "", "unexpected argument");
        expect(ctl(s, "describe", "Foo", "Bar"), 2, "", "usage: describe [SERVICE]");
        expect(ctl(s, "list", "Foo.Sum"), 2, "", "invalid service");
        expect(ctl(s, "--mode=fastest", "servers"), 2, "", "invalid --mode");
        expect(ctl(s, "--mode=hash:", "servers"), 2, "", "invalid --mode");
        expect(ctl(s, "--timeout=soon", "servers"), 2, "", "invalid duration");
        expect(ctl("--server=127.0.0.1:1", "servers"), 2, "", "invalid server address");
        expect(ctl("--server=tcp@127.0.0.1:1", "--registry=http://127.0.0.1:1/", "servers"), 2, "", "exclude");
        expect(ctl("--registry=ftp://x/", "servers"), 2, "", "invalid --registry");
        expect(ctl("--registry=etcd://no-port/", "servers"), 2, "", "invalid --registry");
        expect(ctl("--bogus", "servers"), 2, "", "Try");
        /* No registry anywhere. */
        expect(ctl_env((const char *[]) { "-GEERPC_REGISTRY", NULL }, (const char *[]) { "servers", NULL }), 2, "",
               "GEERPC_REGISTRY");
}

Test(geerpcctl, malformed_json_arguments_exit_2) {
        const char *s = "--server=tcp@127.0.0.1:1";
        expect(ctl(s, "call", "Foo.Sum", "{\"Num1\":"), 2, "", "invalid JSON arguments");
        expect(ctl(s, "call", "Foo.Sum", "{Num1:1}"), 2, "", "invalid JSON arguments");
        expect(ctl(s, "broadcast", "Foo.Sum", ""), 2, "", "invalid JSON arguments");
        expect(ctl(s, "call", "Foo.Sum", "[1,2]]"), 2, "", "invalid JSON arguments");
}

Test(geerpcctl, servers_from_registry_and_env) {
        TlCluster *c = tl_cluster_new(3);
        char *reg = regopt(c), *want = sorted_lines(c);
        expect(ctl(reg, "servers"), 0, want, NULL);

        char env[256];
        snprintf(env, sizeof env, "GEERPC_REGISTRY=%s", c->url);
        expect(ctl_env((const char *[]) { env, NULL }, (const char *[]) { "servers", NULL }), 0, want, NULL);

        Run r = ctl(reg, "--json", "servers");
        cr_assert_eq(r.status, 0);
        json_t *j = json_loads(r.out, 0, NULL);
        cr_assert(json_is_array(json_object_get(j, "servers")), "%s", r.out);
        cr_assert_eq(json_array_size(json_object_get(j, "servers")), 3);
        json_decref(j);
        run_done(&r);
        free(reg);
        free(want);
        tl_cluster_free(c);
}

Test(geerpcctl, call_each_mode_and_remote_error) {
        TlCluster *c = tl_cluster_new(3);
        char *reg = regopt(c);
        expect(ctl(reg, "call", "Foo.Sum", "{\"Num1\":3,\"Num2\":4}"), 0, "7\n", NULL);
        expect(ctl(reg, "--mode=roundrobin", "call", "Foo.Sum", "{\"Num1\":-3,\"Num2\":4}"), 0, "1\n", NULL);
        /* A negative number may start ARGS_JSON. */
        expect(ctl(reg, "call", "Foo.Sum", "-1"), 1, "", "Foo: arguments must be an object");

        /* hash:KEY: one key, one server, every time. */
        char *first = NULL;
        for (int i = 0; i < 5; i++) {
                Run r = ctl(reg, "--json", "--mode=hash:user-7", "call", "Foo.Sum", "{\"Num1\":1,\"Num2\":1}");
                cr_assert_eq(r.status, 0, "%s", r.err);
                json_t *j = json_loads(r.out, 0, NULL);
                cr_assert_not_null(j, "not JSON: %s", r.out);
                cr_assert_eq(json_integer_value(json_object_get(j, "reply")), 2);
                const char *s = json_string_value(json_object_get(j, "server"));
                cr_assert_not_null(s);
                if (!first)
                        first = strdup(s);
                cr_assert_str_eq(s, first);
                json_decref(j);
                run_done(&r);
        }
        free(first);

        expect(ctl(reg, "call", "Foo.Nope", "{}"), 1, "", "rpc server: can't find method Nope");
        expect(ctl(reg, "call", "Foo.Nope", "{}"), 1, "", "rpc server: can't find method Nope");
        /* No server offers Bar: no call is made. */
        expect(ctl(reg, "call", "Bar.Sum", "{}"), 3, "", "rpc discovery: no available servers");
        expect(ctl(reg, "call", "Foo.Sum", "{\"Num1\":\"x\"}"), 1, "", "must be integers");
        free(reg);
        tl_cluster_free(c);
}

Test(geerpcctl, broadcast_reply_and_failures) {
        TlCluster *c = tl_cluster_new(3);
        char *reg = regopt(c);
        expect(ctl(reg, "broadcast", "Foo.Sum", "{\"Num1\":20,\"Num2\":22}"), 0, "42\n", NULL);

        Run r = ctl(reg, "--json", "broadcast", "Foo.Sum", "{\"Num1\":1,\"Num2\":2}");
        cr_assert_eq(r.status, 0);
        json_t *j = json_loads(r.out, 0, NULL);
        cr_assert_eq(json_integer_value(json_object_get(j, "reply")), 3);
        cr_assert_eq(json_array_size(json_object_get(j, "servers")), 3);
        json_decref(j);
        run_done(&r);

        /* Past the deadline: exit 3, each server named; nothing hangs. */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        r = ctl(reg, "--timeout=1s", "broadcast", "Foo.Sleep", "{\"Num1\":8,\"Num2\":0}");
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 6 * USEC_PER_SEC);
        cr_assert_eq(r.status, 3, "%s", r.err);
        cr_assert_str_eq(r.out, "");
        for (size_t i = 0; i < c->n; i++)
                cr_assert(strstr(r.err, c->addrs[i]), "stderr does not name %s: %s", c->addrs[i], r.err);
        cr_assert(strstr(r.err, "deadline exceeded"));
        run_done(&r);

        r = ctl(reg, "--json", "--timeout=1s", "broadcast", "Foo.Sleep", "{\"Num1\":3,\"Num2\":0}");
        cr_assert_eq(r.status, 3);
        j = json_loads(r.out, 0, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "deadline exceeded");
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(j, "servers"), i, e) cr_assert(json_is_false(json_object_get(e, "ok")));
        json_decref(j);
        run_done(&r);

        expect(ctl(reg, "broadcast", "Foo.Nope", "{}"), 1, "", "rpc server: can't find method Nope");
        free(reg);
        tl_cluster_free(c);
}

Test(geerpcctl, unreachable_and_empty_exit_3) {
        TlCluster *c = tl_cluster_new(0);
        char *reg = regopt(c);
        /* Reachable registry, nobody registered. */
        expect(ctl(reg, "servers"), 3, "", "no available servers");
        expect(ctl(reg, "call", "Foo.Sum", "{}"), 3, "", "no available servers");
        expect(ctl(reg, "broadcast", "Foo.Sum", "{}"), 3, "", "no available servers");
        /* Unreachable registry. */
        tl_cluster_stop_registry(c);
        expect(ctl(reg, "servers"), 3, "", "cannot get the servers from the registry");
        expect(ctl(reg, "call", "Foo.Sum", "{}"), 3, "", "cannot get the servers from the registry");
        /* Unreachable server. */
        expect(ctl("--server=tcp@127.0.0.1:1", "call", "Foo.Sum", "{}"), 3, "", "Connection refused");
        expect(ctl("--server=tcp@127.0.0.1:1", "broadcast", "Foo.Sum", "{}"), 3, "", "tcp@127.0.0.1:1");
        free(reg);
        tl_cluster_free(c);
}

Test(geerpcctl, static_server_list) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        char s[300];
        snprintf(s, sizeof s, "--server=%s, %s", addr, addr);
        char *line;
        cr_assert_gt(asprintf(&line, "%s\n", addr), 0);
        expect(ctl(s, "servers"), 0, line, NULL);
        expect(ctl(s, "call", "Foo.Sum", "{\"Num1\":5,\"Num2\":6}"), 0, "11\n", NULL);
        expect(ctl(s, "broadcast", "Foo.Sum", "{\"Num1\":5,\"Num2\":6}"), 0, "11\n", NULL);
        expect(ctl(s, "--timeout=500ms", "call", "Foo.Sleep", "{\"Num1\":2}"), 3, "", "deadline exceeded");
        /* Below a microsecond is still a deadline, not "no limit". */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        expect(ctl(s, "--timeout=1ns", "call", "Foo.Sleep", "{\"Num1\":2}"), 3, "", NULL);
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 1500 * USEC_PER_MSEC, "--timeout=1ns waited for the call");
        free(line);
        free(addr);
        tl_proc_free(p);
}

/* ---- as scripts and people use it ------------------------------------------ */

/* stdout must be exactly one JSON object; returns it. */
static json_t *one_json(const Run *r) {
        json_error_t e;
        json_t *j = json_loads(r->out, 0, &e);
        cr_assert_not_null(j, "stdout is not one JSON value (%s): '%s'", e.text, r->out);
        cr_assert(json_is_object(j), "stdout is not a JSON object: %s", r->out);
        return j;
}

static void expect_json_error(Run r, int status, const char *error_part) {
        cr_assert_eq(r.status, status, "exit %d, expected %d; stderr: %s", r.status, status, r.err);
        json_t *j = one_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "code")), status, "%s", r.out);
        const char *e = json_string_value(json_object_get(j, "error"));
        cr_assert(e && strstr(e, error_part), "error lacks '%s': %s", error_part, r.out);
        json_decref(j);
        run_done(&r);
}

Test(geerpcctl, usage_errors_once_with_the_short_name) {
        Run r = ctl("--bogus", "servers");
        cr_assert_eq(r.status, 2);
        cr_assert_str_eq(r.err, "geerpcctl: unknown option '--bogus'\nTry 'geerpcctl --help'.\n");
        run_done(&r);
        r = ctl("--server=tcp@127.0.0.1:1", "--timeout");
        cr_assert_eq(r.status, 2);
        cr_assert_str_eq(r.err, "geerpcctl: option '--timeout' needs a value\nTry 'geerpcctl --help'.\n");
        run_done(&r);
        r = ctl("-x");
        cr_assert_eq(r.status, 2);
        cr_assert_str_eq(r.err, "geerpcctl: unknown option '-x'\nTry 'geerpcctl --help'.\n");
        run_done(&r);
        r = ctl("--json=yes", "servers");
        cr_assert_eq(r.status, 2);
        cr_assert_str_eq(r.err, "geerpcctl: option '--json' takes no value\nTry 'geerpcctl --help'.\n");
        run_done(&r);
        /* Options of the command, and global ones after it. */
        expect(ctl("--server=tcp@127.0.0.1:1", "servers", "--count=2"), 2, "", "unknown option '--count'");
        expect(ctl("--server=tcp@127.0.0.1:1", "--output=yaml", "servers"), 2, "", "invalid --output");
        expect(ctl("--server=tcp@127.0.0.1:1", "deregister", "tcp@127.0.0.1:9"), 2, "", "needs a registry");
        expect(ctl("--server=tcp@127.0.0.1:1", "call", "--count=0", "Foo.Sum", "{}"), 2, "", "--count");
}

Test(geerpcctl, json_for_every_outcome) {
        TlCluster *c = tl_cluster_new(1);
        char *reg = regopt(c);
        /* Usage errors, whether --json comes before or after the mistake. */
        expect_json_error(ctl("--json", "--bogus", "servers"), 2, "unknown option '--bogus'");
        expect_json_error(ctl("--bogus", "--output=json", "servers"), 2, "unknown option '--bogus'");
        expect_json_error(ctl(reg, "--json", "call", "Foo.Sum", "{"), 2, "invalid JSON arguments");
        /* A remote error: the bare text, and where it came from. */
        Run r = ctl(reg, "call", "--json", "Foo.Nope", "{}");
        json_t *j = one_json(&r);
        cr_assert_eq(r.status, 1);
        cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "rpc server: can't find method Nope");
        cr_assert_str_eq(json_string_value(json_object_get(j, "server")), c->addrs[0]);
        cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "Foo.Nope");
        json_decref(j);
        run_done(&r);
        expect_json_error(ctl(reg, "--json", "broadcast", "Foo.Nope", "{}"), 1, "can't find method Nope");
        expect_json_error(ctl("--json", "--server=tcp@127.0.0.1:1", "call", "Foo.Sum", "{}"), 3,
                          "Connection refused");
        /* Successes. */
        r = ctl(reg, "--output", "json", "call", "Foo.Sum", "{\"Num1\":1,\"Num2\":1}");
        j = one_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "reply")), 2);
        json_decref(j);
        run_done(&r);
        r = ctl("--json", "--version");
        j = one_json(&r);
        cr_assert(json_is_string(json_object_get(j, "version")));
        json_decref(j);
        run_done(&r);
        /* An unreachable registry; then an empty one. */
        tl_cluster_stop_registry(c);
        expect_json_error(ctl(reg, "--json", "servers"), 3, "cannot get the servers from the registry");
        expect_json_error(ctl(reg, "--json", "call", "Foo.Sum", "{}"), 3, "cannot get the servers from the registry");
        free(reg);
        tl_cluster_free(c);

        c = tl_cluster_new(0);
        reg = regopt(c);
        r = ctl(reg, "--json", "servers");
        cr_assert_eq(r.status, 3);
        j = one_json(&r);
        cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "rpc discovery: no available servers");
        cr_assert_eq(json_array_size(json_object_get(j, "servers")), 0);
        cr_assert(json_is_array(json_object_get(j, "servers")));
        json_decref(j);
        run_done(&r);
        free(reg);
        tl_cluster_free(c);
}

Test(geerpcctl, servers_with_their_age_in_each_output) {
        TlCluster *c = tl_cluster_new(2);
        char *reg = regopt(c), *want = sorted_lines(c);
        Run r = ctl(reg, "--json", "servers");
        cr_assert_eq(r.status, 0);
        json_t *j = one_json(&r), *e;
        size_t i;
        cr_assert_str_eq(json_string_value(json_object_get(j, "source")), "registry");
        cr_assert_str_eq(json_string_value(json_object_get(j, "registry")), c->url);
        cr_assert_eq(json_array_size(json_object_get(j, "servers")), 2);
        json_array_foreach(json_object_get(j, "servers"), i, e) {
                cr_assert(strstr(want, json_string_value(json_object_get(e, "addr"))));
                json_int_t age = json_integer_value(json_object_get(e, "age_ms"));
                cr_assert(json_is_integer(json_object_get(e, "age_ms")), "no age_ms: %s", r.out);
                /* heartbeats every second */
                cr_assert(age >= 0 && age < 30000, "age_ms %lld", (long long) age);
        }
        json_decref(j);
        run_done(&r);

        /* plain (the default in a pipe): the addresses alone. */
        expect(ctl(reg, "servers"), 0, want, NULL);
        expect(ctl(reg, "--output=plain", "servers"), 0, want, NULL);
        /* table: a header, then each server with its services, weight,
         * labels (none: -) and age, last. */
        r = ctl(reg, "-o", "table", "servers");
        cr_assert_eq(r.status, 0);
        cr_assert(strncmp(r.out, "SERVER", 6) == 0 && strstr(r.out, "SERVICES  WEIGHT  LABELS  AGE\n"), "%s", r.out);
        for (size_t k = 0; k < c->n; k++) {
                const char *line = strstr(r.out, c->addrs[k]);
                cr_assert(line, "no %s in %s", c->addrs[k], r.out);
                _cleanup_free_ char *l = strndup(line, strcspn(line, "\n"));
                cr_assert(strstr(l, " Echo,Foo ") && strstr(l, " 1 ") && strstr(l, " - "), "%s", l);
                const char *age = strrchr(l, ' ') + 1;
                cr_assert(*age >= '0' && *age <= '9', "no age at the end of: %s", l);
        }
        run_done(&r);
        free(reg);
        free(want);
        tl_cluster_free(c);
}

Test(geerpcctl, servers_of_a_given_list_say_so) {
        Run r = ctl("--server=tcp@127.0.0.1:1,tcp@127.0.0.1:2", "servers");
        cr_assert_eq(r.status, 0);
        cr_assert_str_eq(r.out, "tcp@127.0.0.1:1\ntcp@127.0.0.1:2\n");
        cr_assert(strstr(r.err, "given with --server, as given (not checked)"), "%s", r.err);
        run_done(&r);
        r = ctl("--server=tcp@127.0.0.1:1", "--json", "servers");
        json_t *j = one_json(&r);
        cr_assert_str_eq(json_string_value(json_object_get(j, "source")), "given");
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "servers"), 0), "addr")),
                         "tcp@127.0.0.1:1");
        json_decref(j);
        run_done(&r);
}

/* Runs a shell command line (geerpcctl is $GEERPCCTL in it). */
static Run sh(const char *line) {
        const char *argv[] = { "/bin/sh", "-c", line, NULL };
        Run r = {};
        r.status = tl_run(argv, NULL, RUN_TIMEOUT, &r.out, &r.err);
        return r;
}

Test(geerpcctl, args_json_from_stdin_or_a_file) {
        char *addr, *line;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        cr_assert_gt(asprintf(&line, "printf '{\"Num1\":2,\"Num2\":5}' | \"$GEERPCCTL\" --server=%s call Foo.Sum -", addr),
                     0);
        expect(sh(line), 0, "7\n", NULL);
        free(line);
        cr_assert_gt(asprintf(&line, "echo '[1' | \"$GEERPCCTL\" --server=%s broadcast Foo.Sum @-", addr), 0);
        expect(sh(line), 2, "", "invalid JSON arguments from standard input");
        free(line);
        cr_assert_gt(asprintf(&line, "echo '{\"Num1\":20,\"Num2\":1}' | \"$GEERPCCTL\" --server=%s broadcast Foo.Sum @-",
                              addr),
                     0);
        expect(sh(line), 0, "21\n", NULL);
        free(line);
        char path[] = "/tmp/geerpcctl-args-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_eq(write(fd, "{\"Num1\":-4,\"Num2\":1}", 20), 20);
        close(fd);
        char at[64], s[300];
        snprintf(at, sizeof at, "@%s", path);
        snprintf(s, sizeof s, "--server=%s", addr);
        expect(ctl(s, "call", "Foo.Sum", at), 0, "-3\n", NULL);
        unlink(path);
        expect(ctl(s, "call", "Foo.Sum", at), 2, "", "cannot read ARGS_JSON from");
        free(addr);
        tl_proc_free(p);
}

Test(geerpcctl, count_is_a_quick_load_check) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        char s[300];
        snprintf(s, sizeof s, "--server=%s", addr);
        Run r = ctl(s, "call", "--count=50", "Foo.Sum", "{\"Num1\":1,\"Num2\":2}");
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, "calls: 50, ok: 50, failed: 0\n"), "%s", r.out);
        cr_assert(strstr(r.out, "calls/s\n") && strstr(r.out, "latency: min "), "%s", r.out);
        run_done(&r);

        r = ctl(s, "--json", "call", "-n", "20", "Foo.Sum", "{\"Num1\":1,\"Num2\":2}");
        json_t *j = one_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "calls")), 20);
        cr_assert_eq(json_integer_value(json_object_get(j, "ok")), 20);
        cr_assert_eq(json_integer_value(json_object_get(j, "failed")), 0);
        json_t *lat = json_object_get(j, "latency_us");
        cr_assert_gt(json_integer_value(json_object_get(lat, "p50")), 0);
        cr_assert_geq(json_integer_value(json_object_get(lat, "max")), json_integer_value(json_object_get(lat, "p99")));
        json_decref(j);
        run_done(&r);

        /* Failures are counted by kind, and the exit status says so. */
        r = ctl(s, "--json", "call", "--count=3", "Foo.Nope", "{}");
        cr_assert_eq(r.status, 1);
        j = one_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "failed")), 3);
        json_t *e = json_array_get(json_object_get(j, "errors"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(e, "error")), "rpc server: can't find method Nope");
        cr_assert_eq(json_integer_value(json_object_get(e, "count")), 3);
        json_decref(j);
        run_done(&r);

        /* --timeout bounds them all. */
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        r = ctl(s, "--timeout=1500ms", "call", "--count=10", "Foo.Sleep", "{\"Num1\":1,\"Num2\":0}");
        cr_assert_lt(now_usec(CLOCK_MONOTONIC) - t0, 8 * USEC_PER_SEC);
        cr_assert_eq(r.status, 3, "%s", r.err);
        cr_assert(strstr(r.err, "deadline exceeded after 2 of 10 calls"), "%s", r.err);
        run_done(&r);
        free(addr);
        tl_proc_free(p);
}

/* Progress and pretty JSON belong to terminals: run under script(1),
 * which gives the command a pseudo-terminal and copies what it shows. */
static Run on_terminal(const char *args) {
        char *line;
        cr_assert_gt(asprintf(&line, "script -qefc '\"$GEERPCCTL\" %s' /dev/null", args), 0);
        Run r = sh(line);
        free(line);
        return r;
}

Test(geerpcctl, progress_and_pretty_json_only_on_a_terminal) {
        char *addr, args[400];
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        snprintf(args, sizeof args, "--server=%s call --count=3 Foo.Sleep '\\''{\"Num1\":1,\"Num2\":0}'\\''", addr);
        Run r = on_terminal(args);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\r\033[Kcall Foo.Sleep 1/3, "), "no progress on the terminal: %s", r.out);
        cr_assert(strstr(r.out, "calls: 3, ok: 3"), "%s", r.out);
        run_done(&r);

        char s[300];
        snprintf(s, sizeof s, "--server=%s", addr);
        r = ctl(s, "call", "--count=3", "Foo.Sleep", "{\"Num1\":1,\"Num2\":0}");
        cr_assert_eq(r.status, 0);
        cr_assert(!strchr(r.err, '\r') && !strchr(r.err, '\033'), "progress in a pipe: %s", r.err);
        run_done(&r);
        r = ctl(s, "broadcast", "Foo.Sleep", "{\"Num1\":1,\"Num2\":0}");
        cr_assert_eq(r.status, 0);
        cr_assert(!strchr(r.err, '\r') && !strstr(r.err, "broadcast Foo.Sleep"), "progress in a pipe: %s", r.err);
        run_done(&r);
        snprintf(args, sizeof args, "--server=%s broadcast Foo.Sleep '\\''{\"Num1\":1,\"Num2\":0}'\\''", addr);
        r = on_terminal(args);
        cr_assert(strstr(r.out, "\033[Kbroadcast Foo.Sleep, "), "no progress on the terminal: %s", r.out);
        run_done(&r);

        /* JSON: indented on a terminal, one line in a pipe. */
        snprintf(args, sizeof args, "--server=%s --json call Foo.Sum '\\''{\"Num1\":1,\"Num2\":0}'\\''", addr);
        r = on_terminal(args);
        cr_assert(strstr(r.out, "{\r\n  \"server\": "), "not indented: %s", r.out);
        run_done(&r);
        char *want;
        cr_assert_gt(asprintf(&want, "{\"server\":\"%s\",\"reply\":1}\n", addr), 0);
        expect(ctl(s, "--json", "call", "Foo.Sum", "{\"Num1\":1,\"Num2\":0}"), 0, want, NULL);
        free(want);
        /* A table on a terminal by default. */
        snprintf(args, sizeof args, "--server=%s servers", addr);
        r = on_terminal(args);
        cr_assert(strstr(r.out, "SERVER"), "no table on the terminal: %s", r.out);
        run_done(&r);
        free(addr);
        tl_proc_free(p);
}

/* A server whose error text is hostile: terminal escapes, CR/LF, BEL,
 * bidirectional overrides, and 1 MiB of it. (Invalid UTF-8 is replaced on
 * the way by the JSON encoding.) */
#define EVIL_PREFIX "\033[2J\033[31mred\r\nfake line\a\xe2\x80\xae" "cba\x7f\\"
static int evil_fail(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        size_t n = strlen(EVIL_PREFIX) + 1024 * 1024;
        char *s = malloc(n + 1);
        strcpy(s, EVIL_PREFIX);
        memset(s + strlen(EVIL_PREFIX), 'A', n - strlen(EVIL_PREFIX));
        s[n] = 0;
        *ret_error = s;
        return -EIO;
}

static void *evil_thread(void *userdata) {
        (void) geerpc_server_run(userdata);
        return NULL;
}

Test(geerpcctl, peer_text_is_escaped_and_capped) {
        static const geerpc_method methods[] = { { .name = "Fail", .handler = evil_fail } };
        geerpc_server *srv;
        sd_event *event;
        char *addr, s[300];
        pthread_t t;
        /* A loop of its own: the server runs on another thread. */
        cr_assert_eq(sd_event_new(&event), 0);
        cr_assert_eq(geerpc_server_new(&srv), 0);
        cr_assert_eq(geerpc_server_attach_event(srv, event, 0), 0);
        cr_assert_eq(geerpc_server_add_service(srv, "Evil", methods, 1, NULL), 0);
        cr_assert_eq(geerpc_server_listen(srv, "tcp@127.0.0.1:0", &addr), 0);
        cr_assert_eq(pthread_create(&t, NULL, evil_thread, srv), 0);
        snprintf(s, sizeof s, "--server=%s", addr);

        Run r = ctl(s, "call", "Evil.Fail", "{}");
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, ": \\x1b[2J\\x1b[31mred\\r\\nfake line\\x07\\u202ecba\\x7f\\\\AAAA"), "%s", r.err);
        cr_assert(strstr(r.err, "AAA... ["), "%s", r.err);
        cr_assert(strstr(r.err, " bytes in all; --json prints the full text]\n"), "%s", r.err);
        for (const char *c = r.err; *c; c++)
                cr_assert((unsigned char) *c >= ' ' || *c == '\n', "raw control character 0x%02x on stderr", *c);
        cr_assert_lt(strlen(r.err), 2 * 1024);
        run_done(&r);

        r = ctl(s, "broadcast", "Evil.Fail", "{}");
        cr_assert_eq(r.status, 1);
        cr_assert(!strchr(r.err, '\033') && !strchr(r.err, '\r') && strlen(r.err) < 4 * 1024, "%s", r.err);
        run_done(&r);

        /* --json: all of it, as a JSON string (invalid UTF-8 replaced). */
        r = ctl(s, "--json", "call", "Evil.Fail", "{}");
        cr_assert_eq(r.status, 1);
        json_t *j = one_json(&r);
        const char *e = json_string_value(json_object_get(j, "error"));
        cr_assert_not_null(e);
        cr_assert_eq(strlen(e), strlen(EVIL_PREFIX) + 1024 * 1024, "%zu", strlen(e));
        cr_assert(strncmp(e, EVIL_PREFIX "AAAA", strlen(EVIL_PREFIX) + 4) == 0);
        json_decref(j);
        run_done(&r);

        cr_assert_eq(geerpc_server_stop(srv, 0, NULL, NULL), 0);
        pthread_join(t, NULL);
        geerpc_server_unref(srv);
        sd_event_unref(event);
        free(addr);
}

/* ---- deregister ------------------------------------------------------------ */

/* A POST with these headers; its status. */
static long post_with(const char *url, const char *const *headers) {
        TlHttp h;
        cr_assert_eq(tl_http("POST", url, headers, &h), 0);
        long status = h.status;
        tl_http_done(&h);
        return status;
}

static long post(const char *url, const char *addr, const char *token) {
        char h1[300], h2[300];
        snprintf(h1, sizeof h1, "X-Geerpc-Server: %s", addr);
        snprintf(h2, sizeof h2, "Authorization: Bearer %s", strempty(token));
        const char *headers[] = { h1, token ? h2 : NULL, NULL };
        return post_with(url, headers);
}

Test(geerpcctl, deregister_removes_a_server_now) {
        TlCluster *c = tl_cluster_new(0);
        char *reg = regopt(c);
        cr_assert_eq(post(c->url, "tcp@127.0.0.1:9", NULL), 200);
        expect(ctl(reg, "servers"), 0, "tcp@127.0.0.1:9\n", NULL);
        expect(ctl(reg, "deregister", "tcp@127.0.0.1:9"), 0, "deregistered tcp@127.0.0.1:9\n", NULL);
        expect(ctl(reg, "servers"), 3, "", "no available servers");
        expect(ctl(reg, "deregister", "tcp@127.0.0.1:9"), 1, "", "tcp@127.0.0.1:9 is not registered at");
        expect_json_error(ctl(reg, "--json", "deregister", "tcp@127.0.0.1:9"), 1, "is not registered");
        cr_assert_eq(post(c->url, "tcp@127.0.0.1:9", NULL), 200);
        Run r = ctl(reg, "--json", "deregister", "tcp@127.0.0.1:9");
        cr_assert_eq(r.status, 0);
        json_t *j = one_json(&r);
        cr_assert_str_eq(json_string_value(json_object_get(j, "deregistered")), "tcp@127.0.0.1:9");
        json_decref(j);
        run_done(&r);
        expect(ctl(reg, "deregister", "nonsense"), 2, "", "invalid --server address 'nonsense'");
        expect(ctl(reg, "deregister"), 2, "", "usage: deregister ADDR");
        tl_cluster_stop_registry(c);
        expect(ctl(reg, "deregister", "tcp@127.0.0.1:9"), 3, "", "cannot reach the registry");
        free(reg);
        tl_cluster_free(c);
}

/* A geeregistry whose write token is "s3cret", in the file that tf names
 * (--token-file=PATH). */
typedef struct TokenRegistry {
        TlProc *proc;
        char path[32];
        char tf[80];      /* --token-file=PATH */
        char url[200];
        char regarg[220]; /* --registry=URL */
} TokenRegistry;

static void token_registry_start(TokenRegistry *t) {
        snprintf(t->path, sizeof t->path, "/tmp/geerpcctl-token-XXXXXX");
        int fd = mkstemp(t->path);
        cr_assert_eq(write(fd, "s3cret\n", 7), 7);
        close(fd);
        snprintf(t->tf, sizeof t->tf, "--token-file=%s", t->path);
        const char *argv[] = { tl_binary("geeregistry"), "--listen=127.0.0.1:0", t->tf, "--state-file=", NULL };
        t->proc = tl_spawn(argv, NULL);
        char *line = tl_wait_line(t->proc, "listening on http://", 20 * USEC_PER_SEC);
        cr_assert_not_null(line);
        sscanf(strstr(line, "http://"), "%199s", t->url);
        snprintf(t->regarg, sizeof t->regarg, "--registry=%s", t->url);
        free(line);
}

static void token_registry_stop(TokenRegistry *t) {
        unlink(t->path);
        tl_proc_free(t->proc);
}

Test(geerpcctl, deregister_with_a_token) {
        TokenRegistry t;
        token_registry_start(&t);
        char bad_path[] = "/tmp/geerpcctl-bad-XXXXXX";
        int fd = mkstemp(bad_path);
        cr_assert_eq(write(fd, "two words\n", 10), 10);
        close(fd);
        const char *url = t.url, *regarg = t.regarg, *tf = t.tf;

        cr_assert_eq(post(url, "tcp@127.0.0.1:9", "s3cret"), 200);
        expect(ctl(regarg, "deregister", "tcp@127.0.0.1:9"), 1, "", "HTTP 401");
        expect(ctl(regarg, "deregister", "tcp@127.0.0.1:9"), 1, "", "--token-file or $GEERPC_TOKEN");
        char bf[80];
        snprintf(bf, sizeof bf, "--token-file=%s", bad_path);
        expect(ctl(regarg, "deregister", bf, "tcp@127.0.0.1:9"), 2, "", "cannot use the token in");
        expect(ctl_env((const char *[]) { "GEERPC_TOKEN=s3cret", NULL },
                       (const char *[]) { regarg, "deregister", "tcp@127.0.0.1:9", NULL }),
               0, "deregistered tcp@127.0.0.1:9\n", NULL);
        cr_assert_eq(post(url, "tcp@127.0.0.1:9", "s3cret"), 200);
        expect(ctl(regarg, "deregister", tf, "tcp@127.0.0.1:9"), 0, "deregistered tcp@127.0.0.1:9\n", NULL);
        unlink(bad_path);
        token_registry_stop(&t);
}

/* ---- services, weights, drain ------------------------------------------------ */

Test(geerpcctl, servers_of_a_service_and_the_services) {
        TlCluster *c = tl_cluster_new(0);
        char *reg = regopt(c);
        const char *foo[] = { "X-Geerpc-Server: tcp@127.0.0.1:1", "X-Geerpc-Services: Foo", NULL };
        const char *echo[] = { "X-Geerpc-Server: tcp@127.0.0.1:2", "X-Geerpc-Services: Echo,Foo", "X-Geerpc-Weight: 3",
                               "X-Geerpc-Labels: zone=a,rack=7", NULL };
        cr_assert_eq(post_with(c->url, foo), 200);
        cr_assert_eq(post_with(c->url, echo), 200);
        cr_assert_eq(post(c->url, "tcp@127.0.0.1:3", NULL), 200); /* the Go way: no services */

        expect(ctl(reg, "servers"), 0, "tcp@127.0.0.1:1\ntcp@127.0.0.1:2\ntcp@127.0.0.1:3\n", NULL);
        expect(ctl(reg, "servers", "--service=Echo"), 0, "tcp@127.0.0.1:2\ntcp@127.0.0.1:3\n", NULL);
        expect(ctl(reg, "servers", "--service=Nope"), 0, "tcp@127.0.0.1:3\n", NULL);
        expect(ctl(reg, "servers", "--service=Foo.Sum"), 2, "", "invalid --service 'Foo.Sum'");

        Run r = ctl(reg, "-o", "table", "servers", "--service", "Echo");
        cr_assert_eq(r.status, 0);
        cr_assert(strstr(r.out, "tcp@127.0.0.1:2  Echo,Foo  3       rack=7,zone=a  "), "%s", r.out);
        cr_assert(strstr(r.out, "tcp@127.0.0.1:3  *         1       -              "), "%s", r.out);
        run_done(&r);

        r = ctl(reg, "--json", "servers", "--service=Echo");
        json_t *j = one_json(&r), *e = json_array_get(json_object_get(j, "servers"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(j, "service")), "Echo");
        cr_assert_str_eq(json_string_value(json_object_get(e, "addr")), "tcp@127.0.0.1:2");
        cr_assert_eq(json_integer_value(json_object_get(e, "weight")), 3);
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "services"), 0)), "Echo");
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "labels"), "zone")), "a");
        cr_assert(json_is_integer(json_object_get(e, "age_ms")));
        e = json_array_get(json_object_get(j, "servers"), 1);
        cr_assert_null(json_object_get(e, "services"), "unknown: no services");
        json_decref(j);
        run_done(&r);

        /* services: each with the servers a call may reach. */
        expect(ctl(reg, "services"), 0, "Echo\nFoo\n", "1 server says no services");
        r = ctl(reg, "-o", "table", "services");
        cr_assert_eq(r.status, 0);
        cr_assert_str_eq(r.out, "SERVICE  SERVERS\n"
                                "Echo     tcp@127.0.0.1:2,tcp@127.0.0.1:3\n"
                                "Foo      tcp@127.0.0.1:1,tcp@127.0.0.1:2,tcp@127.0.0.1:3\n");
        run_done(&r);
        r = ctl(reg, "--json", "services");
        j = one_json(&r);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "services"), 0), "name")),
                         "Echo");
        cr_assert_eq(json_array_size(json_object_get(j, "unknown")), 1);
        json_decref(j);
        run_done(&r);
        free(reg);
        tl_cluster_free(c);
}

/* What every geerpc-example serves, in registration order. */
#define EXAMPLE_METHODS "_geerpc.Describe\nFoo.Sum\nFoo.Sleep\nEcho.Echo\n"

Test(geerpcctl, describe_and_list_a_server_and_a_registry) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        char s[300], *want;
        snprintf(s, sizeof s, "--server=%s", addr);
        expect(ctl(s, "list"), 0, EXAMPLE_METHODS, NULL);
        /* plain (in a pipe): tab-separated columns; table: aligned, a header. */
        cr_assert_gt(asprintf(&want,
                              "%s\tFoo.Sum\tinline\treturns Num1 + Num2\n"
                              "%s\tFoo.Sleep\tblocking\tsleeps Num1 seconds, then returns Num1 + Num2\n",
                              addr, addr),
                     0);
        expect(ctl(s, "describe", "Foo"), 0, want, NULL);
        free(want);
        Run r = ctl(s, "--output=table", "list", "Foo");
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert_str_eq(r.out, "METHOD\nFoo.Sum\nFoo.Sleep\n");
        run_done(&r);

        /* Through CONNECT, and as JSON: the server's own description. */
        snprintf(s, sizeof s, "--server=http@%s", addr + 4);
        r = ctl(s, "--json", "describe");
        cr_assert_eq(r.status, 0, "%s", r.err);
        json_t *j = json_loads(r.out, 0, NULL), *one = json_array_get(json_object_get(j, "servers"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(one, "server")), s + 9);
        json_t *svc = json_array_get(json_object_get(one, "services"), 1);
        cr_assert_str_eq(json_string_value(json_object_get(svc, "name")), "Foo");
        json_t *sleep = json_array_get(json_object_get(svc, "methods"), 1);
        cr_assert_str_eq(json_string_value(json_object_get(sleep, "kind")), "blocking");
        json_decref(j);
        run_done(&r);
        expect(ctl(s, "--json", "list", "Foo"), 0, "{\"methods\":[\"Foo.Sum\",\"Foo.Sleep\"]}\n", NULL);

        /* No such service: the server's answer, exit 1; unreachable: 3,
         * and what the others said is still printed. */
        expect(ctl(s, "describe", "Bar"), 1, "", "_geerpc.Describe: no service Bar");
        snprintf(s, sizeof s, "--server=%s,tcp@127.0.0.1:1", addr);
        expect(ctl(s, "list"), 3, EXAMPLE_METHODS, "describe tcp@127.0.0.1:1: Connection refused");
        r = ctl(s, "--json", "list");
        cr_assert_eq(r.status, 3);
        j = json_loads(r.out, 0, NULL);
        cr_assert_eq(json_integer_value(json_object_get(j, "code")), 3, "%s", r.out);
        cr_assert_eq(json_array_size(json_object_get(j, "methods")), 4, "%s", r.out);
        json_decref(j);
        run_done(&r);
        tl_proc_free(p);
        free(addr);

        /* Every server of a registry: each listed once by list. */
        TlCluster *c = tl_cluster_new(2);
        char *reg = regopt(c);
        expect(ctl(reg, "list"), 0, EXAMPLE_METHODS, NULL);
        r = ctl(reg, "describe");
        cr_assert_eq(r.status, 0, "%s", r.err);
        for (size_t i = 0; i < c->n; i++)
                cr_assert_not_null(strstr(r.out, c->addrs[i]), "%s missing in:\n%s", c->addrs[i], r.out);
        run_done(&r);
        free(reg);
        tl_cluster_free(c);
}

Test(geerpcctl, drain_weight_undrain) {
        TokenRegistry t;
        token_registry_start(&t);
        const char *url = t.url, *reg = t.regarg, *tf = t.tf;
        const char *a[] = { "X-Geerpc-Server: tcp@127.0.0.1:1", "X-Geerpc-Weight: 2", "Authorization: Bearer s3cret",
                            NULL };
        cr_assert_eq(post_with(url, a), 200);

        expect(ctl(reg, "drain", "tcp@127.0.0.1:1"), 1, "", "--token-file or $GEERPC_TOKEN");
        expect(ctl(reg, "drain", tf, "tcp@127.0.0.1:1"), 0, "tcp@127.0.0.1:1: weight 0 (its own: 2)\n", NULL);
        Run r = ctl(reg, "-o", "table", "servers");
        cr_assert(strstr(r.out, " 0 (drained; its own: 2) "), "%s", r.out);
        run_done(&r);
        /* Draining: left out of the header listing that Go clients read. */
        TlHttp h;
        cr_assert_eq(tl_http("GET", url, NULL, &h), 0);
        cr_assert_null(tl_http_header(&h, "X-Geerpc-Servers"));
        tl_http_done(&h);

        expect(ctl_env((const char *[]) { "GEERPC_TOKEN=s3cret", NULL },
                       (const char *[]) { reg, "weight", "tcp@127.0.0.1:1", "5", NULL }),
               0, "tcp@127.0.0.1:1: weight 5 (its own: 2)\n", NULL);
        r = ctl(reg, "--json", "weight", tf, "tcp@127.0.0.1:1", "7");
        json_t *j = one_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "weight")), 7);
        cr_assert_str_eq(json_string_value(json_object_get(j, "server")), "tcp@127.0.0.1:1");
        json_decref(j);
        run_done(&r);
        r = ctl(reg, "--json", "servers");
        j = one_json(&r);
        json_t *e = json_array_get(json_object_get(j, "servers"), 0);
        cr_assert_eq(json_integer_value(json_object_get(e, "weight")), 7);
        cr_assert_eq(json_integer_value(json_object_get(e, "server_weight")), 2);
        json_decref(j);
        run_done(&r);

        expect(ctl(reg, "undrain", tf, "tcp@127.0.0.1:1"), 0, "tcp@127.0.0.1:1: override cleared\n", NULL);
        expect(ctl(reg, "undrain", tf, "tcp@127.0.0.1:1"), 1, "", "has no operator's weight to clear");
        /* An address not registered yet: kept for when it registers. */
        expect(ctl(reg, "drain", tf, "tcp@127.0.0.1:9"), 0,
               "tcp@127.0.0.1:9: weight 0, kept for when it registers\n", NULL);

        expect(ctl(reg, "weight", tf, "tcp@127.0.0.1:1", "1001"), 2, "", "invalid");
        expect(ctl(reg, "weight", tf, "tcp@127.0.0.1:1"), 2, "", "usage: weight ADDR N");
        expect(ctl(reg, "drain"), 2, "", "usage: drain ADDR");
        expect(ctl(reg, "drain", "nonsense"), 2, "", "invalid --server address 'nonsense'");
        expect(ctl("--server=tcp@127.0.0.1:1", "drain", "tcp@127.0.0.1:1"), 2, "", "drain needs a registry");
        /* etcd keeps overrides too (test-etcd-registry.c): this one is not there. */
        expect(ctl("--registry=etcd://127.0.0.1:1", "drain", "tcp@127.0.0.1:1"), 3, "", "cannot reach etcd at");
        token_registry_stop(&t);
}

