/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the geeregistry tests: start the daemon on an ephemeral
 * loopback port and talk the registry protocol to it. */

#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "testlib.h"

#define REG_PATH "/_geerpc_/registry"
#define REG_PATH_OLD "/_rpc_/registry"

typedef struct Reg {
        TlProc *proc;
        char base[96];  /* http://127.0.0.1:PORT */
        char url[160];  /* base + REG_PATH */
        char addr[96];  /* tcp@127.0.0.1:PORT, for raw sockets */
} Reg;

/* Waits for "listening on http://HOST:PORT" and fills in the URLs. */
static inline void reg_wait_listening(Reg *r) {
        char *line = tl_wait_line(r->proc, "listening on http://", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "geeregistry did not start listening");
        const char *p = strstr(line, "http://") + strlen("http://");
        size_t l = strcspn(p, "/");
        snprintf(r->base, sizeof r->base, "http://%.*s", (int) l, p);
        snprintf(r->url, sizeof r->url, "%s%s", r->base, REG_PATH);
        snprintf(r->addr, sizeof r->addr, "tcp@%.*s", (int) l, p);
        free(line);
}

/* Starts geeregistry on 127.0.0.1:0 (unless args has --listen) with the
 * extra arguments (NULL-terminated, may be NULL). */
static inline Reg reg_start_env(const char *const *args, const char *const *envp) {
        const char *argv[40] = { tl_binary("geeregistry") };
        size_t n = 1;
        bool has_listen = false;
        for (size_t i = 0; args && args[i] && n < ELEMENTSOF(argv) - 3; i++) {
                has_listen = has_listen || strncmp(args[i], "--listen", 8) == 0;
                argv[n++] = args[i];
        }
        if (!has_listen)
                argv[n++] = "--listen=127.0.0.1:0";
        argv[n] = NULL;
        Reg r = { .proc = tl_spawn(argv, envp) };
        reg_wait_listening(&r);
        return r;
}

static inline Reg reg_start(const char *const *args) {
        return reg_start_env(args, NULL);
}

/* Stops it with SIGTERM and checks that it exits with status 0. */
static inline void reg_stop(Reg *r) {
        tl_kill(r->proc, SIGTERM);
        int status = tl_wait_exit(r->proc, 15 * USEC_PER_SEC);
        cr_assert_neq(status, -ETIMEDOUT, "geeregistry did not stop on SIGTERM");
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "geeregistry exited with status 0x%x", status);
        tl_proc_free(r->proc);
        r->proc = NULL;
}

static inline void reg_assert_running(Reg *r) {
        cr_assert_eq(tl_wait_exit(r->proc, 0), -ETIMEDOUT, "geeregistry died");
}

/* The output line that contains needle, from the start (also lines
 * logged before "listening on"), malloc'd, or NULL. */
static inline char *reg_output_line(Reg *r, const char *needle) {
        char *out = tl_output(r->proc), *line = NULL;
        const char *p = strstr(out, needle);
        if (p) {
                const char *start = p, *end = strchr(p, '\n');
                while (start > out && start[-1] != '\n')
                        start--;
                line = strndup(start, end ? (size_t) (end - start) : strlen(start));
        }
        free(out);
        return line;
}

/* A request with one optional header; returns the status. */
static inline long reg_request(const char *method, const char *url, const char *header, TlHttp *ret) {
        const char *headers[] = { header, NULL };
        TlHttp h;
        cr_assert_eq(tl_http(method, url, header ? headers : NULL, &h), 0, "%s %s: no response", method, url);
        long status = h.status;
        if (ret)
                *ret = h;
        else
                tl_http_done(&h);
        return status;
}

/* POST with the address in header name (e.g. "X-Geerpc-Server"). */
static inline long reg_post_as(const char *url, const char *name, const char *addr) {
        char header[512];
        snprintf(header, sizeof header, "%s: %s", name, addr);
        return reg_request("POST", url, header, NULL);
}

static inline long reg_post(const Reg *r, const char *addr) {
        return reg_post_as(r->url, "X-Geerpc-Server", addr);
}

static inline long reg_delete(const Reg *r, const char *addr) {
        char header[512];
        snprintf(header, sizeof header, "X-Geerpc-Server: %s", addr);
        return reg_request("DELETE", r->url, header, NULL);
}

/* GET: the X-Geerpc-Servers header ("" when absent), malloc'd. */
static inline char *reg_list_url(const char *url, const char *header_name) {
        TlHttp h;
        cr_assert_eq(reg_request("GET", url, NULL, &h), 200);
        char *v = tl_http_header(&h, header_name);
        tl_http_done(&h);
        return v ?: strdup("");
}

static inline char *reg_list(const Reg *r) {
        return reg_list_url(r->url, "X-Geerpc-Servers");
}

static inline void reg_assert_list(const Reg *r, const char *expected) {
        char *got = reg_list(r);
        cr_assert_str_eq(got, expected);
        free(got);
}

/* The value of one sample in GET /metrics (name with labels, exact), or
 * -1 when it is not there. */
static inline int64_t reg_metric(const Reg *r, const char *sample) {
        char url[192];
        TlHttp h;
        snprintf(url, sizeof url, "%s/metrics", r->base);
        cr_assert_eq(reg_request("GET", url, NULL, &h), 200);
        int64_t v = -1;
        size_t l = strlen(sample);
        for (const char *p = h.body; p && *p;) {
                if (strncmp(p, sample, l) == 0 && p[l] == ' ') {
                        v = strtoll(p + l + 1, NULL, 10);
                        break;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        tl_http_done(&h);
        return v;
}

/* Polls a metric until it has the expected value (bounded). */
static inline bool reg_wait_metric(const Reg *r, const char *sample, int64_t expected, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                if (reg_metric(r, sample) == expected)
                        return true;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return false;
                tl_sleep(50 * USEC_PER_MSEC);
        }
}

/* A private temporary directory, removed with reg_rmdir(). */
static inline char *reg_tmpdir(void) {
        char *d = strdup("/tmp/geeregistry-test-XXXXXX");
        cr_assert_not_null(mkdtemp(d));
        return d;
}

static inline void reg_rmdir(char *d) {
        const char *argv[] = { "/bin/rm", "-rf", d, NULL };
        (void) tl_run(argv, NULL, 10 * USEC_PER_SEC, NULL, NULL);
        free(d);
}

static inline char *reg_read_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *s = NULL;
        size_t n = 0;
        ssize_t k = getdelim(&s, &n, 0, f);
        fclose(f);
        if (k < 0) {
                free(s);
                return strdup("");
        }
        return s;
}

static inline void reg_write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f, "cannot write %s", path);
        fputs(content, f);
        fclose(f);
}
