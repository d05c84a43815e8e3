/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>

#include "cluster.h"

#define CLUSTER_ASSERT(cond, ...)                                      \
        do {                                                           \
                if (!(cond)) {                                         \
                        fprintf(stderr, "cluster: " __VA_ARGS__);      \
                        fprintf(stderr, "\n");                         \
                        abort();                                       \
                }                                                      \
        } while (0)

static char **copy_args(const char *const *args) {
        size_t n = 0;
        while (args && args[n])
                n++;
        char **v = calloc(n + 1, sizeof(char *));
        CLUSTER_ASSERT(v, "oom");
        for (size_t i = 0; i < n; i++)
                CLUSTER_ASSERT((v[i] = strdup(args[i])), "oom");
        return v;
}

static void free_args(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static TlProc *spawn_registry(const char *listen, char *const *extra, char **ret_url) {
        char l[96];
        snprintf(l, sizeof l, "--listen=%s", listen);
        const char *argv[24] = { tl_binary("geeregistry"), l };
        size_t n = 2;
        for (size_t i = 0; extra && extra[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = extra[i];
        TlProc *p = tl_spawn(argv, NULL);
        char *line = tl_wait_line(p, "listening on http://", 10 * USEC_PER_SEC);
        CLUSTER_ASSERT(line, "geeregistry did not start");
        char *u = strstr(line, "http://");
        u[strcspn(u, " \t")] = 0;
        if (ret_url) {
                if (strstr(u, "/_geerpc_/registry"))
                        *ret_url = strdup(u);
                else
                        CLUSTER_ASSERT(asprintf(ret_url, "%s/_geerpc_/registry", u) > 0, "oom");
        }
        free(line);
        return p;
}

TlCluster *tl_cluster_new_registry(const char *const *registry_args) {
        TlCluster *c = calloc(1, sizeof *c);
        CLUSTER_ASSERT(c, "oom");
        c->registry_args = copy_args(registry_args);
        c->registry = spawn_registry("127.0.0.1:0", c->registry_args, &c->url);
        const char *h = c->url + strlen("http://");
        c->hostport = strndup(h, strcspn(h, "/"));
        return c;
}

TlCluster *tl_cluster_new(size_t n) {
        CLUSTER_ASSERT(n <= TL_CLUSTER_MAX, "too many servers");
        TlCluster *c = tl_cluster_new_registry(NULL);
        for (size_t i = 0; i < n; i++)
                tl_cluster_add_server(c);
        for (size_t i = 0; i < n; i++)
                CLUSTER_ASSERT(tl_cluster_wait_listed(c, c->addrs[i], true, 15 * USEC_PER_SEC), "%s never listed",
                               c->addrs[i]);
        return c;
}

static TlProc *start_server(TlCluster *c, char *const *args, char **ret_addr) {
        char r[256];
        snprintf(r, sizeof r, "--registry=%s", c->url);
        const char *argv[24] = { r, "--heartbeat=1s" };
        size_t n = 2;
        for (size_t i = 0; args && args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        return tl_start_example(argv, NULL, ret_addr);
}

size_t tl_cluster_add_server_with(TlCluster *c, const char *const *args) {
        CLUSTER_ASSERT(c->n < TL_CLUSTER_MAX, "too many servers");
        size_t i = c->n++;
        c->server_args[i] = copy_args(args);
        c->servers[i] = start_server(c, c->server_args[i], &c->addrs[i]);
        return i;
}

size_t tl_cluster_add_server(TlCluster *c) {
        return tl_cluster_add_server_with(c, NULL);
}

void tl_cluster_kill_server(TlCluster *c, size_t i) {
        tl_kill(c->servers[i], SIGKILL);
        CLUSTER_ASSERT(tl_wait_exit(c->servers[i], 10 * USEC_PER_SEC) != -ETIMEDOUT, "server %zu did not die", i);
        tl_proc_free(c->servers[i]);
        c->servers[i] = NULL;
}

void tl_cluster_restart_server(TlCluster *c, size_t i) {
        CLUSTER_ASSERT(!c->servers[i], "server %zu is running", i);
        /* The same address: --listen (last wins) and the same arguments. */
        size_t n = 0;
        while (c->server_args[i] && c->server_args[i][n])
                n++;
        char **args = calloc(n + 2, sizeof(char *));
        CLUSTER_ASSERT(args, "oom");
        for (size_t k = 0; k < n; k++)
                args[k] = c->server_args[i][k];
        char listen[300];
        snprintf(listen, sizeof listen, "--listen=%s", c->addrs[i]);
        args[n] = listen;
        char *addr = NULL;
        c->servers[i] = start_server(c, args, &addr);
        CLUSTER_ASSERT(streq(addr, c->addrs[i]), "restarted on %s, not %s", addr, c->addrs[i]);
        free(addr);
        free(args);
}

void tl_cluster_stop_registry(TlCluster *c) {
        tl_kill(c->registry, SIGKILL);
        tl_proc_free(c->registry);
        c->registry = NULL;
}

void tl_cluster_start_registry(TlCluster *c) {
        CLUSTER_ASSERT(!c->registry, "the registry is running");
        c->registry = spawn_registry(c->hostport, c->registry_args, NULL);
}

static bool is_listed(TlCluster *c, const char *addr) {
        TlHttp h;
        if (tl_http("GET", c->url, NULL, &h) < 0 || h.status != 200) {
                tl_http_done(&h);
                return false;
        }
        char *l = tl_http_header(&h, "X-Geerpc-Servers");
        tl_http_done(&h);
        bool found = false;
        char *save = NULL;
        for (char *t = l ? strtok_r(l, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
                found = found || streq(t, addr);
        free(l);
        return found;
}

bool tl_cluster_wait_listed(TlCluster *c, const char *addr, bool want, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                if (is_listed(c, addr) == want)
                        return true;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                tl_sleep(50 * USEC_PER_MSEC);
        }
}

long tl_cluster_registry_gets(TlCluster *c) {
        char url[160];
        snprintf(url, sizeof url, "http://%s/metrics", c->hostport);
        TlHttp h;
        if (tl_http("GET", url, NULL, &h) < 0 || h.status != 200) {
                tl_http_done(&h);
                return -1;
        }
        long total = -1;
        const char *prefix = "geeregistry_http_requests_total{";
        for (char *save = NULL, *line = strtok_r(h.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, prefix, strlen(prefix)) != 0 || !strstr(line, "method=\"GET\""))
                        continue;
                const char *v = strrchr(line, ' ');
                total = (total < 0 ? 0 : total) + (v ? atol(v + 1) : 0);
        }
        tl_http_done(&h);
        return total < 0 ? 0 : total;
}

void tl_cluster_free(TlCluster *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                tl_proc_free(c->servers[i]);
                free(c->addrs[i]);
                free_args(c->server_args[i]);
        }
        tl_proc_free(c->registry);
        free_args(c->registry_args);
        free(c->url);
        free(c->hostport);
        free(c);
}
