/* SPDX-License-Identifier: MIT */

/* geerpcctl end to end: each command, each exit status, against a real
 * geeregistry with geerpc-example servers (or a --server list). */

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>

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
                                "--json", "--log-level", "GEERPC_REGISTRY", "servers", "call", "broadcast",
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
        free(line);
        free(addr);
        tl_proc_free(p);
}
