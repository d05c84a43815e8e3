/* SPDX-License-Identifier: MIT */

/* The registry part of geerpc-bench: a geeregistry process with 100
 * registered servers, loaded over concurrent keep-alive connections (one
 * libcurl handle per thread, so each thread reuses its connection). */

#include <curl/curl.h>
#include <fcntl.h>
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
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(p[1], STDERR_FILENO);
                execl(registry_binary(), "geeregistry", "--listen=127.0.0.1:0", "--log-level=info", "--timeout=5m",
                      "--max-connections=1024", "--max-connections-per-ip=1024", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        r->pid = pid;
        FILE *f = fdopen(p[0], "r");
        char line[512];
        int result = -EIO;
        while (fgets(line, sizeof line, f)) {
                char *u = strstr(line, "listening on http://");
                if (u) {
                        u += strlen("listening on ");
                        u[strcspn(u, " \n")] = 0;
                        snprintf(r->url, sizeof r->url, "%s", u);
                        result = 0;
                        break;
                }
        }
        r->log = f;
        pthread_create(&r->drain, NULL, drain_main, r);
        return result;
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

typedef struct Loader {
        const char *url;
        const char *method;
        int id;
        usec_t end;
        unsigned long ok, failed;
} Loader;

static void *loader_main(void *userdata) {
        Loader *l = userdata;
        char hdr[128];
        snprintf(hdr, sizeof hdr, "X-Geerpc-Server: tcp@127.0.0.%d:%d", 1 + l->id % 200, 7000 + l->id);
        struct curl_slist *headers = curl_slist_append(NULL, hdr);
        CURL *e = easy_for(l->url, l->method, streq(l->method, "POST") ? headers : NULL);
        while (now_usec(CLOCK_MONOTONIC) < l->end) {
                long status = 0;
                if (curl_easy_perform(e) == CURLE_OK && curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                    status == 200)
                        l->ok++;
                else
                        l->failed++;
        }
        curl_easy_cleanup(e);
        curl_slist_free_all(headers);
        return NULL;
}

static double load(const char *url, const char *method, int threads, usec_t duration, unsigned long *failed) {
        Loader l[64];
        pthread_t t[64];
        usec_t start = now_usec(CLOCK_MONOTONIC);
        for (int i = 0; i < threads; i++) {
                l[i] = (Loader) { url, method, i, start + duration, 0, 0 };
                pthread_create(&t[i], NULL, loader_main, &l[i]);
        }
        unsigned long ok = 0;
        for (int i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                ok += l[i].ok;
                *failed += l[i].failed;
        }
        return (double) ok / ((double) (now_usec(CLOCK_MONOTONIC) - start) / 1e6);
}

int bench_registry(unsigned long rounds, usec_t duration, int threads, double *ret_get, double *ret_post,
                   unsigned long *ret_failed) {
        Registry r = {};
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int k = registry_start(&r);
        if (k < 0) {
                fprintf(stderr, "cannot start %s: %s\n", registry_binary(), strerror(-k));
                registry_stop(&r);
                return k;
        }
        /* 100 registered servers for GET to list. */
        for (int i = 0; i < 100; i++) {
                char hdr[96];
                snprintf(hdr, sizeof hdr, "X-Geerpc-Server: tcp@10.0.%d.%d:7001", i / 50, i % 50 + 1);
                struct curl_slist *h = curl_slist_append(NULL, hdr);
                CURL *e = easy_for(r.url, "POST", h);
                curl_easy_perform(e);
                curl_easy_cleanup(e);
                curl_slist_free_all(h);
        }
        double get[64], post[64];
        *ret_failed = 0;
        for (unsigned long i = 0; i < rounds; i++) {
                get[i] = load(r.url, "GET", threads, duration, ret_failed);
                post[i] = load(r.url, "POST", threads, duration, ret_failed);
                fprintf(stderr, "round %lu: registry GET %.0f/s POST %.0f/s\n", i + 1, get[i], post[i]);
        }
        *ret_get = bench_median(get, rounds);
        *ret_post = bench_median(post, rounds);
        registry_stop(&r);
        return 0;
}
