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

static TlProc *spawn_registry(const char *listen, char **ret_url) {
        char l[96];
        snprintf(l, sizeof l, "--listen=%s", listen);
        const char *argv[] = { tl_binary("geeregistry"), l, NULL };
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

TlCluster *tl_cluster_new(size_t n) {
        CLUSTER_ASSERT(n <= TL_CLUSTER_MAX, "too many servers");
        TlCluster *c = calloc(1, sizeof *c);
        c->registry = spawn_registry("127.0.0.1:0", &c->url);
        const char *h = c->url + strlen("http://");
        c->hostport = strndup(h, strcspn(h, "/"));
        for (size_t i = 0; i < n; i++)
                tl_cluster_add_server(c);
        for (size_t i = 0; i < n; i++)
                CLUSTER_ASSERT(tl_cluster_wait_listed(c, c->addrs[i], true, 15 * USEC_PER_SEC), "%s never listed",
                               c->addrs[i]);
        return c;
}

size_t tl_cluster_add_server(TlCluster *c) {
        CLUSTER_ASSERT(c->n < TL_CLUSTER_MAX, "too many servers");
        char r[256];
        snprintf(r, sizeof r, "--registry=%s", c->url);
        size_t i = c->n++;
        c->servers[i] = tl_start_example((const char *[]) { r, "--heartbeat=1s", NULL }, NULL, &c->addrs[i]);
        return i;
}

void tl_cluster_stop_registry(TlCluster *c) {
        tl_kill(c->registry, SIGKILL);
        tl_proc_free(c->registry);
        c->registry = NULL;
}

void tl_cluster_start_registry(TlCluster *c) {
        CLUSTER_ASSERT(!c->registry, "the registry is running");
        c->registry = spawn_registry(c->hostport, NULL);
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
        }
        tl_proc_free(c->registry);
        free(c->url);
        free(c->hostport);
        free(c);
}
