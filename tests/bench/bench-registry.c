/* SPDX-License-Identifier: MIT */

/* The registry part of geerpc-bench: a geeregistry process and the Go
 * peer's registry, each with 100 registered servers, loaded by wrk (2
 * threads, 32 keep-alive connections, as the Go comparison was measured)
 * with POST heartbeats and GETs, side by side in every round. */

#include <curl/curl.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "bench.h"

typedef struct Registry {
        pid_t pid;
        char url[160];
        FILE *log;
        pthread_t drain;
} Registry;

/* Reads the registry's log until it exits, so that it never blocks on a
 * full pipe. */
static void *drain_main(void *userdata) {
        Registry *r = userdata;
        char line[512];
        while (fgets(line, sizeof line, r->log))
                ;
        return NULL;
}

static const char *registry_binary(void) {
        return getenv("GEEREGISTRY") ?: GEEREGISTRY_BUILD_PATH;
}

/* Starts geeregistry on an ephemeral port; reads the URL from its log. */
static int registry_start(Registry *r) {
        const char *argv[] = { registry_binary(), "--listen=127.0.0.1:0", "--log-level=info", "--timeout=5m",
                               "--max-connections=1024", "--max-connections-per-ip=1024", NULL };
        pid_t pid = bench_spawn(argv, NULL, STDERR_FILENO, NULL, &r->log);
        if (pid < 0)
                return pid;
        r->pid = pid;
        int k = bench_read_after(r->log, "listening on ", r->url, sizeof r->url);
        pthread_create(&r->drain, NULL, drain_main, r);
        return k;
}

static void registry_stop(Registry *r) {
        if (r->pid > 0) {
                kill(r->pid, SIGTERM);
                waitpid(r->pid, NULL, 0);
        }
        if (r->log) {
                pthread_join(r->drain, NULL);
                fclose(r->log);
        }
}

static size_t discard(char *p, size_t size, size_t n, void *u) {
        return size * n;
}

static CURL *easy_for(const char *url, const char *method, struct curl_slist *headers) {
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        if (headers)
                curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        if (streq(method, "POST")) {
                curl_easy_setopt(e, CURLOPT_POST, 1L);
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        }
        return e;
}

/* Runs wrk against url for one second: requests/s, failures added to
 * *failed (non-2xx answers, socket errors). */
static double wrk_run(const char *url, bool post, const char *server_header, unsigned long *failed) {
        char cmd[1024];
        if (post)
                snprintf(cmd, sizeof cmd, "wrk -t2 -c32 -d1s -s '%s' -H 'X-Geerpc-Server: %s' '%s' 2>&1",
                         GEERPC_BENCH_WRK_POST, server_header, url);
        else
                snprintf(cmd, sizeof cmd, "wrk -t2 -c32 -d1s '%s' 2>&1", url);
        FILE *f = popen(cmd, "re");
        if (!f)
                return NAN;
        char line[512];
        double rate = NAN;
        unsigned long bad;
        while (fgets(line, sizeof line, f)) {
                if (sscanf(line, " Requests/sec: %lf", &rate) == 1)
                        continue;
                if (sscanf(line, " Non-2xx or 3xx responses: %lu", &bad) == 1 ||
                    strstr(line, "Socket errors:")) {
                        fprintf(stderr, "registry: wrk against %s: %s", url, line);
                        (*failed)++;
                }
        }
        if (pclose(f) != 0)
                (*failed)++;
        return rate;
}

static bool have_wrk(void) {
        static int found = -1;
        if (found < 0)
                found = system("wrk --version >/dev/null 2>&1") != 127 * 256;
        return found;
}

/* 100 registered servers for GET to list. */
static void register_100(const char *url) {
        for (int i = 0; i < 100; i++) {
                char hdr[96];
                snprintf(hdr, sizeof hdr, "X-Geerpc-Server: tcp@10.0.%d.%d:7001", i / 50, i % 50 + 1);
                struct curl_slist *h = curl_slist_append(NULL, hdr);
                CURL *e = easy_for(url, "POST", h);
                curl_easy_perform(e);
                curl_easy_cleanup(e);
                curl_slist_free_all(h);
        }
}

int bench_registry(unsigned long rounds, bool quick, RegistryRound *ret, unsigned long *ret_failed) {
        Registry r = {};
        GoPeer go = {};
        *ret_failed = 0;
        if (!have_wrk()) {
                fprintf(stderr, "registry figures skipped: wrk is not installed (Debian: wrk)\n");
                return 0;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int k = registry_start(&r);
        if (k < 0) {
                fprintf(stderr, "cannot start %s: %s\n", registry_binary(), strerror(-k));
                registry_stop(&r);
                return k;
        }
        (void) bench_go_start(&go, "registry", NULL);
        register_100(r.url);
        if (go.pid > 0)
                register_100(go.address);

        /* wrk runs for whole seconds: --quick measures fewer rounds. */
        rounds = quick ? MIN(rounds, 2UL) : rounds;
        for (unsigned long i = 0; i < rounds; i++) {
                RegistryRound *x = &ret[i];
                *x = (RegistryRound) { NAN, NAN, NAN, NAN };
                /* Each first in every other round. */
                for (int j = 0; j < 2; j++) {
                        bool ours = (i + (unsigned long) j) % 2 == 0;
                        if (ours)
                                x->post = wrk_run(r.url, true, "tcp@127.0.0.1:7001", ret_failed);
                        else if (go.pid > 0)
                                x->go_post = wrk_run(go.address, true, "tcp@127.0.0.1:7001", ret_failed);
                }
                for (int j = 0; j < 2; j++) {
                        bool ours = (i + (unsigned long) j) % 2 == 0;
                        if (ours)
                                x->get = wrk_run(r.url, false, NULL, ret_failed);
                        else if (go.pid > 0)
                                x->go_get = wrk_run(go.address, false, NULL, ret_failed);
                }
                fprintf(stderr, "round %lu: registry POST %.0f/s (Go %.0f/s) GET %.0f/s (Go %.0f/s)\n", i + 1, x->post,
                        x->go_post, x->get, x->go_get);
        }
        for (unsigned long i = rounds; i < BENCH_ROUNDS_MAX; i++)
                ret[i] = (RegistryRound) { NAN, NAN, NAN, NAN };
        bench_go_stop(&go);
        registry_stop(&r);
        return 0;
}
