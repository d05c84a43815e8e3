/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "basic/address.h"
#include "basic/buffer.h"
#include "geerpc/client.h"
#include "testlib.h"

void tl_server_attach_private(geerpc_server *s) {
        sd_event *e;
        TL_ASSERT(sd_event_new(&e) >= 0, "cannot make an event loop");
        TL_ASSERT(geerpc_server_attach_event(s, e, 0) >= 0, "cannot attach the server to its loop");
        sd_event_unref(e);
}


int tl_free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof sa;
        TL_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof sa) >= 0 &&
                          getsockname(fd, (struct sockaddr *) &sa, &l) >= 0,
                  "cannot bind a loopback port: %m");
        close(fd);
        return ntohs(sa.sin_port);
}

int tl_call_json(geerpc_client *c, const char *method, const char *args_json, json_t **ret_reply, char **ret_error) {
        json_t *args = json_loads(args_json, JSON_DECODE_ANY, NULL);
        TL_ASSERT(args, "invalid JSON: %s", args_json);
        int r = geerpc_client_call(c, method, args, 10 * USEC_PER_SEC, ret_reply, ret_error);
        json_decref(args);
        return r;
}

void tl_sleep(usec_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC), .tv_nsec = (long) (usec % USEC_PER_SEC * 1000) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

const char *tl_binary(const char *name) {
        const char *var = streq(name, "geerpc-example") ? "GEERPC_EXAMPLE"
                          : streq(name, "geeregistry")  ? "GEEREGISTRY"
                          : streq(name, "geerpcctl")    ? "GEERPCCTL"
                                                        : name;
        const char *p = getenv(var);
        TL_ASSERT(p && *p, "$%s is not set (run the tests through meson test)", var);
        return p;
}

/* ---- processes ------------------------------------------------------------ */

struct TlProc {
        pid_t pid;
        int out_fd;
        pthread_t reader;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Buffer output;
        size_t scan_from; /* tl_wait_line() consumes lines in order */
        bool eof;
        bool reaped;
        int status;
};

static void *proc_reader(void *userdata) {
        TlProc *p = userdata;
        char buf[4096];
        for (;;) {
                ssize_t n = read(p->out_fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                pthread_mutex_lock(&p->lock);
                if (n <= 0) {
                        p->eof = true;
                        pthread_cond_broadcast(&p->cond);
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
                (void) buffer_append(&p->output, buf, (size_t) n);
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
                /* Show the child's output in the test log as well. */
                (void) !write(STDERR_FILENO, buf, (size_t) n);
        }
}

static char **build_env(const char *const *envp) {
        extern char **environ;
        size_t n = 0, m = 0;
        while (environ[n])
                n++;
        while (envp && envp[m])
                m++;
        char **env = calloc(n + m + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool drop = false;
                for (size_t j = 0; j < m; j++) {
                        const char *e = envp[j][0] == '-' ? envp[j] + 1 : envp[j];
                        size_t l = strcspn(e, "=");
                        if (strncmp(environ[i], e, l) == 0 && environ[i][l] == '=')
                                drop = true;
                }
                if (!drop)
                        env[k++] = environ[i];
        }
        for (size_t j = 0; j < m; j++)
                if (envp[j][0] != '-')
                        env[k++] = (char *) envp[j];
        env[k] = NULL;
        return env;
}

static pid_t spawn_child(const char *const *argv, const char *const *envp, int out_fd, int err_fd) {
        char **env = build_env(envp);
        pid_t parent = getpid();
        pid_t pid = fork();
        TL_ASSERT(pid >= 0, "fork failed: %m");
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                dup2(devnull, STDIN_FILENO);
                dup2(out_fd, STDOUT_FILENO);
                dup2(err_fd, STDERR_FILENO);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                execve(argv[0], (char *const *) argv, env);
                fprintf(stderr, "testlib: cannot execute %s: %m\n", argv[0]);
                _exit(127);
        }
        free(env);
        return pid;
}

TlProc *tl_spawn(const char *const *argv, const char *const *envp) {
        int pipefd[2];
        TL_ASSERT(pipe2(pipefd, O_CLOEXEC) >= 0, "pipe failed: %m");

        TlProc *p = calloc(1, sizeof *p);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->pid = spawn_child(argv, envp, pipefd[1], pipefd[1]);
        close(pipefd[1]);
        p->out_fd = pipefd[0];
        pthread_create(&p->reader, NULL, proc_reader, p);
        return p;
}

pid_t tl_pid(TlProc *p) {
        return p->pid;
}

static void deadline_ts(struct timespec *ts, usec_t timeout) {
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_sec += (time_t) (timeout / USEC_PER_SEC);
        ts->tv_nsec += (long) (timeout % USEC_PER_SEC * 1000);
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

char *tl_wait_line(TlProc *p, const char *needle, usec_t timeout) {
        struct timespec ts;
        deadline_ts(&ts, timeout);
        char *found = NULL;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                /* Look at whole lines from scan_from on. */
                const char *base = buffer_data(&p->output);
                size_t len = buffer_len(&p->output);
                size_t i = p->scan_from;
                while (i < len) {
                        const char *nl = memchr(base + i, '\n', len - i);
                        if (!nl)
                                break;
                        size_t l = (size_t) (nl - (base + i));
                        char *line = strndup(base + i, l);
                        i += l + 1;
                        if (strstr(line, needle)) {
                                found = line;
                                p->scan_from = i;
                                break;
                        }
                        free(line);
                }
                if (found || p->eof)
                        break;
                if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
                        break;
        }
        pthread_mutex_unlock(&p->lock);
        return found;
}

char *tl_output(TlProc *p) {
        pthread_mutex_lock(&p->lock);
        char *s = strndup(buffer_data(&p->output), buffer_len(&p->output));
        pthread_mutex_unlock(&p->lock);
        return s;
}

void tl_kill(TlProc *p, int sig) {
        if (!p->reaped)
                (void) kill(p->pid, sig);
}

int tl_wait_exit(TlProc *p, usec_t timeout) {
        if (p->reaped)
                return p->status;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                int status;
                pid_t r = waitpid(p->pid, &status, WNOHANG);
                if (r == p->pid) {
                        p->reaped = true;
                        p->status = status;
                        return status;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                tl_sleep(5 * USEC_PER_MSEC);
        }
}

void tl_proc_free(TlProc *p) {
        if (!p)
                return;
        if (!p->reaped) {
                (void) kill(p->pid, SIGKILL);
                (void) tl_wait_exit(p, 10 * USEC_PER_SEC);
        }
        pthread_join(p->reader, NULL);
        close(p->out_fd);
        buffer_done(&p->output);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
}

TlProc *tl_start_example(const char *const *extra_args, const char *const *envp, char **ret_addr) {
        const char *argv[32] = { tl_binary("geerpc-example") };
        size_t n = 1;
        for (size_t i = 0; extra_args && extra_args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = extra_args[i];
        argv[n] = NULL;

        TlProc *p = tl_spawn(argv, envp);
        char *line = tl_wait_line(p, "serving on ", 10 * USEC_PER_SEC);
        TL_ASSERT(line, "geerpc-example did not start serving");
        if (ret_addr)
                *ret_addr = strdup(strstr(line, "serving on ") + strlen("serving on "));
        free(line);
        return p;
}

int tl_run(const char *const *argv, const char *const *envp, usec_t timeout, char **ret_stdout, char **ret_stderr) {
        char tmpl_out[] = "/tmp/geerpc-test-out-XXXXXX", tmpl_err[] = "/tmp/geerpc-test-err-XXXXXX";
        int out = mkostemp(tmpl_out, O_CLOEXEC), err = mkostemp(tmpl_err, O_CLOEXEC);
        TL_ASSERT(out >= 0 && err >= 0, "mkostemp failed: %m");
        unlink(tmpl_out);
        unlink(tmpl_err);

        TlProc p = { .pid = spawn_child(argv, envp, out, err) };
        int status = tl_wait_exit(&p, timeout);
        if (status == -ETIMEDOUT) {
                kill(p.pid, SIGKILL);
                waitpid(p.pid, NULL, 0);
        }

        char **rets[2] = { ret_stdout, ret_stderr };
        int fds[2] = { out, err };
        for (int i = 0; i < 2; i++) {
                if (!rets[i])
                        continue;
                off_t size = lseek(fds[i], 0, SEEK_END);
                char *s = calloc(1, (size_t) size + 1);
                if (size > 0)
                        (void) !pread(fds[i], s, (size_t) size, 0);
                *rets[i] = s;
                if (size > 0)
                        fprintf(stderr, "[%s %s] %s", argv[0], i == 0 ? "stdout" : "stderr", s);
        }
        close(out);
        close(err);
        if (status == -ETIMEDOUT)
                return status;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* promtool is found when the test runs, not when the build was configured
 * (.ci/dev may fetch it after): $PROMTOOL (meson sets it to where .ci/dev
 * puts it, .cache/tools/promtool), else the first one on PATH. */
static char *promtool_find(void) {
        const char *env = getenv("PROMTOOL");
        if (!isempty(env) && access(env, X_OK) == 0)
                return strdup(env);
        const char *path = getenv("PATH");
        if (isempty(path))
                return NULL;
        char *dirs = strdup(path), *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *candidate;
                if (asprintf(&candidate, "%s/promtool", d) < 0)
                        break;
                if (access(candidate, X_OK) == 0) {
                        free(dirs);
                        return candidate;
                }
                free(candidate);
        }
        free(dirs);
        return NULL;
}

int tl_promtool_check(const char *text) {
        _cleanup_free_ char *promtool = promtool_find();
        if (!promtool)
                return -ENOENT;
        char path[] = "/tmp/geerpc-test-metrics-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        TL_ASSERT(fd >= 0, "mkostemp failed: %m");
        FILE *f = fdopen(fd, "w");
        TL_ASSERT(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s: %m", path);
        const char *argv[] = { "/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, path, NULL };
        char *out = NULL, *err = NULL;
        int status = tl_run(argv, NULL, 60 * USEC_PER_SEC, &out, &err);
        unlink(path);
        free(out);
        free(err);
        return status;
}

/* ---- sd_notify ------------------------------------------------------------ */

struct TlNotify {
        int fd;
        char dir[64];
        char path[128];
        char env[160];
        Buffer lines; /* received lines, each ended with \n */
        size_t consumed_upto;
};

TlNotify *tl_notify_new(void) {
        TlNotify *n = calloc(1, sizeof *n);
        strcpy(n->dir, "/tmp/geerpc-notify-XXXXXX");
        TL_ASSERT(mkdtemp(n->dir), "mkdtemp failed: %m");
        snprintf(n->path, sizeof n->path, "%s/notify", n->dir);
        snprintf(n->env, sizeof n->env, "NOTIFY_SOCKET=%s", n->path);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, n->path);
        TL_ASSERT(bind(n->fd, (struct sockaddr *) &sa, sizeof sa) >= 0, "bind notify socket: %m");
        return n;
}

const char *tl_notify_path(TlNotify *n) {
        return n->path;
}

const char *tl_notify_env(TlNotify *n) {
        return n->env;
}

static void notify_drain(TlNotify *n) {
        char buf[4096];
        for (;;) {
                ssize_t k = recv(n->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                if (k <= 0)
                        return;
                buf[k] = 0;
                fprintf(stderr, "[notify] %s\n", buf);
                (void) buffer_append(&n->lines, buf, (size_t) k);
                (void) buffer_append(&n->lines, "\n", 1);
        }
}

char *tl_notify_wait(TlNotify *n, const char *prefix, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                notify_drain(n);
                const char *base = buffer_data(&n->lines);
                size_t len = buffer_len(&n->lines), i = n->consumed_upto;
                while (i < len) {
                        const char *nl = memchr(base + i, '\n', len - i);
                        size_t l = (size_t) (nl - (base + i));
                        if (l >= strlen(prefix) && strncmp(base + i, prefix, strlen(prefix)) == 0) {
                                char *line = strndup(base + i, l);
                                n->consumed_upto = i + l + 1;
                                return line;
                        }
                        i += l + 1;
                }
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return NULL;
                struct pollfd p = { .fd = n->fd, .events = POLLIN };
                (void) poll(&p, 1, (int) MIN((deadline - now) / 1000 + 1, (usec_t) 100));
        }
}

void tl_notify_free(TlNotify *n) {
        if (!n)
                return;
        close(n->fd);
        unlink(n->path);
        rmdir(n->dir);
        buffer_done(&n->lines);
        free(n);
}

/* ---- HTTP ----------------------------------------------------------------- */

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
        (void) buffer_append(userdata, ptr, size * nmemb);
        return size * nmemb;
}

int tl_http(const char *method, const char *url, const char *const *headers, TlHttp *ret) {
        Buffer hdr = {}, body = {};
        struct curl_slist *list = NULL;
        CURL *e = curl_easy_init();
        TL_ASSERT(e, "curl_easy_init failed");

        for (size_t i = 0; headers && headers[i]; i++)
                list = curl_slist_append(list, headers[i]);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (streq(method, "HEAD"))
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &hdr);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        if (streq(method, "POST") || streq(method, "PUT"))
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);

        CURLcode cr = curl_easy_perform(e);
        *ret = (TlHttp) {};
        if (cr == CURLE_OK)
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &ret->status);
        (void) buffer_append(&hdr, "", 1);
        (void) buffer_append(&body, "", 1);
        ret->headers = strdup(buffer_data(&hdr));
        ret->body = strdup(buffer_data(&body));
        buffer_done(&hdr);
        buffer_done(&body);
        curl_slist_free_all(list);
        curl_easy_cleanup(e);
        return cr == CURLE_OK ? 0 : -EIO;
}

char *tl_http_header(const TlHttp *h, const char *name) {
        size_t l = strlen(name);
        for (const char *p = h->headers; p && *p;) {
                const char *eol = strstr(p, "\r\n");
                size_t ll = eol ? (size_t) (eol - p) : strlen(p);
                if (ll > l && strncasecmp(p, name, l) == 0 && p[l] == ':') {
                        const char *v = p + l + 1;
                        while (*v == ' ')
                                v++;
                        return strndup(v, ll - (size_t) (v - p));
                }
                if (!eol)
                        break;
                p = eol + 2;
        }
        return NULL;
}

void tl_http_done(TlHttp *h) {
        free(h->headers);
        free(h->body);
        *h = (TlHttp) {};
}

/* ---- raw sockets ---------------------------------------------------------- */

int tl_connect(const char *address) {
        int fd;
        int r = address_dial(address, 5 * USEC_PER_SEC, &fd);
        if (r < 0)
                return r;
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        return fd;
}

bool tl_write_all(int fd, const void *buf, size_t n) {
        const char *p = buf;
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                p += k;
                n -= (size_t) k;
        }
        return true;
}

char *tl_read_until_eof(int fd, usec_t timeout, size_t *ret_len) {
        Buffer b = {};
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        break;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int) ((deadline - now) / 1000 + 1)) <= 0)
                        continue;
                char buf[4096];
                ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k <= 0)
                        break;
                (void) buffer_append(&b, buf, (size_t) k);
        }
        size_t len = buffer_len(&b);
        if (ret_len)
                *ret_len = len;
        /* Binary safe: the bytes may hold NULs (gob). */
        char *s = malloc(len + 1);
        TL_ASSERT(s, "out of memory");
        memcpy(s, buffer_data(&b), len);
        s[len] = 0;
        buffer_done(&b);
        return s;
}

bool tl_wait_eof(int fd, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return false;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int) ((deadline - now) / 1000 + 1)) <= 0)
                        continue;
                char buf[4096];
                ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                        return true;
        }
}

/* ---- a good client ---------------------------------------------------------- */

struct TlCaller {
        pthread_t thread;
        char *addr;
        usec_t interval;
        atomic_bool stop;
        unsigned ok, failed; /* the thread's until joined */
        usec_t slowest;
};

static void *caller_main(void *userdata) {
        TlCaller *k = userdata;
        geerpc_client *c;
        if (geerpc_client_dial(&c, k->addr) < 0) {
                k->failed++;
                return NULL;
        }
        for (int i = 0; !atomic_load(&k->stop); i++) {
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1), *reply = NULL;
                usec_t t0 = now_usec(CLOCK_MONOTONIC);
                int r = geerpc_client_call(c, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL);
                k->slowest = MAX(k->slowest, now_usec(CLOCK_MONOTONIC) - t0);
                if (r == 0 && json_integer_value(reply) == i + 1)
                        k->ok++;
                else
                        k->failed++;
                json_decref(args);
                if (reply)
                        json_decref(reply);
                tl_sleep(k->interval);
        }
        geerpc_client_unref(c);
        return NULL;
}

TlCaller *tl_caller_start(const char *addr, usec_t interval) {
        TlCaller *k = calloc(1, sizeof *k);
        TL_ASSERT(k && (k->addr = strdup(addr)), "out of memory");
        k->interval = interval;
        TL_ASSERT(pthread_create(&k->thread, NULL, caller_main, k) == 0, "pthread_create failed");
        return k;
}

void tl_caller_stop(TlCaller *k, unsigned *ret_ok, unsigned *ret_failed, usec_t *ret_slowest) {
        atomic_store(&k->stop, true);
        pthread_join(k->thread, NULL);
        *ret_ok = k->ok;
        *ret_failed = k->failed;
        *ret_slowest = k->slowest;
        free(k->addr);
        free(k);
}
