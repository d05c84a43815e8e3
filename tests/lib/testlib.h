/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers for the test suites: start the real binaries and watch their
 * logs, stop them by PID, read sd_notify messages, make HTTP requests, and
 * talk raw bytes to a server. Every loop here is bounded in time. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/macro.h"
#include "geerpc/server.h"

/* A test helper failing is a test failure: say why and abort the test. */
#define TL_ASSERT(cond, ...)                                           \
        do {                                                           \
                if (!(cond)) {                                         \
                        fprintf(stderr, "testlib: " __VA_ARGS__);      \
                        fprintf(stderr, "\n");                         \
                        abort();                                       \
                }                                                      \
        } while (0)

/* ---- in-process servers ---------------------------------------------------- */

/* Attaches s to a loop of its own, which the server then holds alone. A
 * server left to attach implicitly takes the calling thread's default
 * loop: servers that each run on a thread of their own must not share it. */
void tl_server_attach_private(geerpc_server *s);

/* ---- processes ------------------------------------------------------------ */

typedef struct TlProc TlProc;

/* Path of a built binary, from the environment meson sets for the tests:
 * "geerpc-example" -> $GEERPC_EXAMPLE, "geeregistry" -> $GEEREGISTRY,
 * "geerpcctl" -> $GEERPCCTL. Aborts the test when unset. */
const char *tl_binary(const char *name);

/* Starts argv (NULL-terminated) with stdout and stderr captured. envp:
 * extra "KEY=VALUE" strings (NULL-terminated, may be NULL); "-KEY" removes
 * KEY. The child dies with the test (PR_SET_PDEATHSIG). */
TlProc *tl_spawn(const char *const *argv, const char *const *envp);
pid_t tl_pid(TlProc *p);
/* Waits until a captured line contains needle; returns that line
 * (malloc'd) or NULL on timeout or exit. Lines already seen count. */
char *tl_wait_line(TlProc *p, const char *needle, usec_t timeout);
/* Everything captured so far (stdout and stderr interleaved), malloc'd. */
char *tl_output(TlProc *p);
/* Sends sig. */
void tl_kill(TlProc *p, int sig);
/* Waits for exit; returns the wait status, or -ETIMEDOUT. */
int tl_wait_exit(TlProc *p, usec_t timeout);
/* Kills (SIGKILL) if still running, reaps, frees. */
void tl_proc_free(TlProc *p);

/* Starts geerpc-example with the extra arguments and waits for its
 * "serving on ADDR" line; *ret_addr receives ADDR (malloc'd). */
TlProc *tl_start_example(const char *const *extra_args, const char *const *envp, char **ret_addr);

/* Runs a command to completion (bounded by timeout); returns the exit
 * status (or -ETIMEDOUT) and, if wanted, its stdout and stderr. */
int tl_run(const char *const *argv, const char *const *envp, usec_t timeout, char **ret_stdout, char **ret_stderr);

/* Runs `promtool check metrics` (Prometheus' own linter of the text
 * format) on text; returns its exit status (0: valid), or -ENOENT when
 * promtool is neither at $PROMTOOL nor on PATH. */
int tl_promtool_check(const char *text);

/* ---- RPC ------------------------------------------------------------------ */

typedef struct geerpc_client geerpc_client;
typedef struct json_t json_t;
/* geerpc_client_call() with the arguments as JSON text (aborts on bad
 * JSON) and a 10 s deadline. */
int tl_call_json(geerpc_client *c, const char *method, const char *args_json, json_t **ret_reply, char **ret_error);

/* ---- Go (go.c) ------------------------------------------------------------ */

/* Whether the Go toolchain is on $PATH. */
bool tl_have_go(void);
/* Builds tests/go/NAME.go (standard library only; private cache, no
 * modules, no network) into a new temporary folder and returns the
 * binary's path (malloc'd). Aborts when the build fails. */
char *tl_go_build(const char *name);
/* Removes the binary's folder and frees the path. */
void tl_go_free(char *binary);
/* main() of a criterion test binary that runs tests/go/NAME.go: exits 77
 * (skipped) without the Go toolchain; builds it once, puts its path in
 * $env for the tests, runs them, removes it. */
int tl_go_test_main(int argc, char *argv[], const char *name, const char *env);

/* ---- sd_notify ------------------------------------------------------------ */

typedef struct TlNotify TlNotify;

/* An AF_UNIX datagram socket to point $NOTIFY_SOCKET at. */
TlNotify *tl_notify_new(void);
const char *tl_notify_path(TlNotify *n);
/* "NOTIFY_SOCKET=<path>", for tl_spawn's envp. */
const char *tl_notify_env(TlNotify *n);
/* Waits for a datagram with a line starting with prefix (e.g. "READY=1",
 * "STATUS="); returns that line (malloc'd) or NULL on timeout. Datagrams
 * already received count, each line once. */
char *tl_notify_wait(TlNotify *n, const char *prefix, usec_t timeout);
void tl_notify_free(TlNotify *n);

/* ---- HTTP (libcurl) ------------------------------------------------------- */

typedef struct TlHttp {
        long status;   /* 0 when no response came */
        char *headers; /* raw response headers */
        char *body;
} TlHttp;

/* method: "GET", "POST", ...; headers: NULL-terminated "Name: value"
 * strings (may be NULL). Returns 0 or -EIO when no response came. */
int tl_http(const char *method, const char *url, const char *const *headers, TlHttp *ret);
/* The value of a response header (case-insensitive name), malloc'd, or NULL. */
char *tl_http_header(const TlHttp *h, const char *name);
void tl_http_done(TlHttp *h);

/* ---- raw sockets ---------------------------------------------------------- */

/* Connects to a PROTOCOL@ADDRESS (blocking socket), or -errno. */
int tl_connect(const char *address);
/* Writes all of buf; false on error. */
bool tl_write_all(int fd, const void *buf, size_t n);
/* Reads until EOF or timeout; returns the bytes read (malloc'd, NUL-ended). */
char *tl_read_until_eof(int fd, usec_t timeout, size_t *ret_len);
/* Waits for the peer to close: true if EOF came before the timeout. */
bool tl_wait_eof(int fd, usec_t timeout);

/* A loopback TCP port that was free a moment ago, for programs that need
 * a number up front (systemd-socket-activate). */
int tl_free_port(void);

/* ---- a good client ---------------------------------------------------------- */

/* Calls Foo.Sum on addr every interval from a thread of its own, until
 * stopped: what a server under attack must go on serving. */
typedef struct TlCaller TlCaller;
TlCaller *tl_caller_start(const char *addr, usec_t interval);
/* Stops it and frees it; reports the calls that succeeded (right sum),
 * those that failed (a failed dial counts as one) and the slowest. */
void tl_caller_stop(TlCaller *k, unsigned *ret_ok, unsigned *ret_failed, usec_t *ret_slowest);

/* Sleeps for usec. */
void tl_sleep(usec_t usec);
