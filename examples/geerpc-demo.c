/* SPDX-License-Identifier: MIT */

/* geerpc-demo: the Go original's main program (day 7), with real
 * processes: a geeregistry on an ephemeral port, two geerpc-example servers
 * that register with it by heartbeat, then through a load-balancing client
 * over registry discovery: five concurrent Foo.Sum calls, five concurrent
 * Foo.Sum broadcasts, each followed by a Foo.Sleep broadcast under a 2 s
 * deadline. It prints one line per result, stops every process it started
 * (by PID) and exits 0 when everything behaved as expected.
 *
 * Only the public API (geerpc/geerpc.h) is used. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <geerpc/geerpc.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define START_TIMEOUT_USEC (15 * USEC_PER_SEC) /* a process to come up, a server to be listed */
#define STOP_TIMEOUT_USEC (10 * USEC_PER_SEC)  /* SIGTERM, then SIGKILL */
#define CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define SLEEP_DEADLINE_USEC (2 * USEC_PER_SEC) /* as the original's context.WithTimeout */
#define N_SERVERS 2
#define N_CALLS 5

/* The variable's object is released when it goes out of scope, through the
 * cleanup helpers every geerpc header defines (geerpc/defs.h). */
#define _cleanup_(f) __attribute__((cleanup(f)))

static void freep(void *p) {
        free(*(void **) p);
}

/* ---- finding the programs --------------------------------------------------- */

/* $ENV (the tests set it), the build tree (baked in by meson), then the
 * installed copy. */
static const char *find_program(const char *env, const char *build_path, const char *name, char *buf, size_t size) {
        const char *e = getenv(env);
        if (e && *e)
                return e;
        if (*build_path && access(build_path, X_OK) == 0)
                return build_path;
        snprintf(buf, size, "%s/%s", GEERPC_BINDIR, name);
        return buf;
}

/* ---- child processes ---------------------------------------------------------- */

typedef struct Child {
        char name[32];
        pid_t pid;
        char log[PATH_MAX]; /* its stdout and stderr */
} Child;

static Child children[1 + N_SERVERS];
static volatile sig_atomic_t n_children;
static char log_dir[64];

static unsigned long long now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * USEC_PER_SEC + (unsigned long long) ts.tv_nsec / 1000;
}

static void sleep_usec(unsigned long long usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC), .tv_nsec = (long) (usec % USEC_PER_SEC * 1000) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int spawn(Child *c, const char *name, char *const argv[]) {
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->log, sizeof c->log, "%s/%s.log", log_dir, name);
        int fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                close(fd);
                return -errno;
        }
        if (pid == 0) {
                /* Dies with the demo, whatever happens to it. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);
                int null = open("/dev/null", O_RDONLY);
                dup2(null, STDIN_FILENO);
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execv(argv[0], argv);
                fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(fd);
        c->pid = pid;
        return 0;
}

/* Waits for a line of the child's log containing needle and copies the
 * rest of that line from needle on into buf. */
static int wait_log(Child *c, const char *needle, char *buf, size_t size) {
        unsigned long long deadline = now_usec() + START_TIMEOUT_USEC;
        while (now_usec() < deadline) {
                FILE *f = fopen(c->log, "re");
                char line[1024];
                bool found = false;
                while (f && !found && fgets(line, sizeof line, f)) {
                        char *p = strstr(line, needle);
                        if (p) {
                                char *v = p + strlen(needle);
                                v[strcspn(v, " \t\r\n")] = 0;
                                snprintf(buf, size, "%s", v);
                                found = true;
                        }
                }
                if (f)
                        fclose(f);
                if (found)
                        return 0;
                if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                        c->pid = 0;
                        fprintf(stderr, "geerpc-demo: %s exited during start-up; its log: %s\n", c->name, c->log);
                        return -ECHILD;
                }
                sleep_usec(20 * USEC_PER_MSEC);
        }
        fprintf(stderr, "geerpc-demo: %s did not log '%s' in time; its log: %s\n", c->name, needle, c->log);
        return -ETIMEDOUT;
}

/* SIGTERM, a bounded wait, then SIGKILL: every process by its PID. */
static void stop_child(Child *c) {
        if (c->pid <= 0)
                return;
        (void) kill(c->pid, SIGTERM);
        unsigned long long deadline = now_usec() + STOP_TIMEOUT_USEC;
        while (now_usec() < deadline) {
                if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                        c->pid = 0;
                        return;
                }
                sleep_usec(10 * USEC_PER_MSEC);
        }
        fprintf(stderr, "geerpc-demo: %s (pid %d) ignored SIGTERM, killing it\n", c->name, (int) c->pid);
        (void) kill(c->pid, SIGKILL);
        (void) waitpid(c->pid, NULL, 0);
        c->pid = 0;
}

static void stop_all(void) {
        /* Servers first, so that they deregister from a live registry. */
        for (int i = n_children - 1; i >= 0; i--)
                stop_child(&children[i]);
}

static void on_fatal_signal(int sig) {
        for (int i = 0; i < n_children; i++)
                if (children[i].pid > 0)
                        (void) kill(children[i].pid, SIGKILL);
        signal(sig, SIG_DFL);
        raise(sig);
}

/* ---- the scenario ----------------------------------------------------------- */

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *error_text(int r, const char *remote) {
        switch (r) {
        case -EREMOTEIO:
                return remote ? remote : "remote error";
        case -ETIMEDOUT:
                return "deadline exceeded";
        case -ECANCELED:
                return "cancelled: another server failed first";
        case -ENXIO:
                return "rpc discovery: no available servers";
        default:
                return strerror(-r);
        }
}

typedef struct Job {
        geerpc_xclient *x;
        int i;
        bool ok; /* the outcome was as expected */
} Job;

/* One line per result, as the original's foo() logs them; returns whether
 * the outcome is one of those allowed. */
static bool report(const char *typ, const char *method, int num1, int num2, int r, json_t *reply, const char *error,
                   geerpc_broadcast_result *res, bool may_succeed, bool may_time_out) {
        char detail[1024] = "";
        size_t len = 0;
        for (size_t k = 0; r < 0 && k < geerpc_broadcast_result_get_count(res); k++) {
                int st = geerpc_broadcast_result_get_status(res, k);
                if (st != 0 && len < sizeof detail)
                        len += (size_t) snprintf(detail + len, sizeof detail - len, "%s%s: %s", len ? ", " : " (",
                                                 geerpc_broadcast_result_get_server(res, k),
                                                 error_text(st, geerpc_broadcast_result_get_error(res, k)));
        }
        if (len > 0 && len < sizeof detail - 1)
                strcat(detail, ")");

        pthread_mutex_lock(&print_lock);
        if (r == 0)
                printf("%s %s success: %d + %d = %lld\n", typ, method, num1, num2, (long long) json_integer_value(reply));
        else
                printf("%s %s error: %s%s\n", typ, method, error_text(r, error), detail);
        fflush(stdout);
        pthread_mutex_unlock(&print_lock);

        if (r == 0)
                return may_succeed && json_integer_value(reply) == num1 + num2;
        return r == -ETIMEDOUT && may_time_out;
}

static bool run_one(geerpc_xclient *x, bool broadcast, const char *method, int i, uint64_t timeout, bool may_succeed,
                    bool may_time_out) {
        json_auto_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", i * i);
        json_auto_t *reply = NULL;
        _cleanup_(freep) char *error = NULL;
        _cleanup_(geerpc_broadcast_result_freep) geerpc_broadcast_result *res = NULL;
        int r = broadcast ? geerpc_xclient_broadcast(x, method, args, timeout, &reply, &error, &res)
                          : geerpc_xclient_call(x, method, args, timeout, &reply, &error);
        return report(broadcast ? "broadcast" : "call", method, i, i * i, r, reply, error, res, may_succeed,
                      may_time_out);
}

static void *call_job(void *userdata) {
        Job *j = userdata;
        j->ok = run_one(j->x, false, "Foo.Sum", j->i, CALL_TIMEOUT_USEC, true, false);
        return NULL;
}

/* As the original's broadcast(): Foo.Sum, then Foo.Sleep for Num1 seconds
 * under a 2 s deadline: 0 and 1 finish in time, 3 and 4 cannot, 2 is a
 * race with the deadline. */
static void *broadcast_job(void *userdata) {
        Job *j = userdata;
        bool a = run_one(j->x, true, "Foo.Sum", j->i, CALL_TIMEOUT_USEC, true, false);
        bool b = run_one(j->x, true, "Foo.Sleep", j->i, SLEEP_DEADLINE_USEC, j->i <= 2, j->i >= 2);
        j->ok = a && b;
        return NULL;
}

static bool run_concurrently(geerpc_xclient *x, void *(*fn)(void *)) {
        pthread_t t[N_CALLS];
        Job jobs[N_CALLS];
        bool ok = true;
        for (int i = 0; i < N_CALLS; i++) {
                jobs[i] = (Job) { .x = x, .i = i };
                if (pthread_create(&t[i], NULL, fn, &jobs[i]) != 0) {
                        fn(&jobs[i]);
                        t[i] = 0;
                }
        }
        for (int i = 0; i < N_CALLS; i++) {
                if (t[i])
                        pthread_join(t[i], NULL);
                ok = ok && jobs[i].ok;
        }
        return ok;
}

/* Polls the registry until every server is listed. */
static int wait_listed(geerpc_discovery *d, char addrs[][128], size_t n) {
        unsigned long long deadline = now_usec() + START_TIMEOUT_USEC;
        int r = 0;
        while (now_usec() < deadline) {
                char **all = NULL;
                size_t found = 0;
                r = geerpc_discovery_refresh(d);
                if (r >= 0)
                        r = geerpc_discovery_get_all(d, &all, NULL);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        for (char **s = all; *s; s++)
                                found += strcmp(*s, addrs[i]) == 0;
                free(all);
                if (r >= 0 && found == n)
                        return 0;
                sleep_usec(100 * USEC_PER_MSEC);
        }
        fprintf(stderr, "geerpc-demo: the servers were not listed in time (%s)\n", r < 0 ? strerror(-r) : "missing");
        return -ETIMEDOUT;
}

/* ---- main --------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "Runs the GeeRPC demo: a geeregistry, two geerpc-example servers registered by\n"
               "heartbeat, five concurrent Foo.Sum calls, five concurrent Foo.Sum broadcasts\n"
               "and Foo.Sleep broadcasts under a 2s deadline, through the load-balancing\n"
               "client. Prints one line per result; exits 0 when every outcome was as\n"
               "expected, 1 otherwise. The processes' logs go to a temporary folder that is\n"
               "kept (and named) when something went wrong.\n"
               "\n"
               "Programs: $GEEREGISTRY and $GEERPC_EXAMPLE if set, else the build tree's,\n"
               "else %s/.\n"
               "\n"
               "  -h --help     show this help\n"
               "     --version  show the version\n",
               program_invocation_short_name, GEERPC_BINDIR);
}

static int parse_args(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("geerpc-demo %s\n", GEERPC_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try '%s --help'.\n", program_invocation_short_name);
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument: %s\nTry '%s --help'.\n", program_invocation_short_name,
                        argv[optind], program_invocation_short_name);
                return -EINVAL;
        }
        return 1;
}

static int start_processes(char *url, size_t url_size, char addrs[][128]) {
        char b1[PATH_MAX], b2[PATH_MAX], reg_arg[600], where[480];
        const char *registry = find_program("GEEREGISTRY", GEEREGISTRY_BUILD_PATH, "geeregistry", b1, sizeof b1);
        const char *example = find_program("GEERPC_EXAMPLE", GEERPC_EXAMPLE_BUILD_PATH, "geerpc-example", b2, sizeof b2);

        char *const reg_argv[] = { (char *) registry, (char *) "--listen=127.0.0.1:0", NULL };
        int r = spawn(&children[0], "geeregistry", reg_argv);
        if (r < 0)
                return r;
        n_children = 1;
        r = wait_log(&children[0], "listening on http://", where, sizeof where);
        if (r < 0)
                return r;
        snprintf(url, url_size, "http://%s%s", where, strstr(where, "/_geerpc_/registry") ? "" : "/_geerpc_/registry");
        fprintf(stderr, "geerpc-demo: registry at %s\n", url);

        snprintf(reg_arg, sizeof reg_arg, "--registry=%s", url);
        for (int i = 0; i < N_SERVERS; i++) {
                char name[32];
                snprintf(name, sizeof name, "geerpc-example-%d", i + 1);
                char *const argv[] = { (char *) example, reg_arg, (char *) "--heartbeat=1s", NULL };
                r = spawn(&children[1 + i], name, argv);
                if (r < 0)
                        return r;
                n_children = 2 + i;
                r = wait_log(&children[1 + i], "serving on ", addrs[i], 128);
                if (r < 0)
                        return r;
                fprintf(stderr, "geerpc-demo: server %d serving on %s\n", i + 1, addrs[i]);
        }
        return 0;
}

/* The original's calls and broadcasts, through the registry at url. */
static int run_calls(const char *url, char addrs[][128], bool *ret_ok) {
        _cleanup_(geerpc_discovery_unrefp) geerpc_discovery *d = NULL;
        /* Declared last, released first: the xclient holds the discovery. */
        _cleanup_(geerpc_xclient_unrefp) geerpc_xclient *x = NULL;

        int r = geerpc_discovery_new_registry(&d, url);
        if (r >= 0)
                r = wait_listed(d, addrs, N_SERVERS);
        if (r >= 0)
                r = geerpc_xclient_new(&x, d, GEERPC_SELECT_RANDOM);
        if (r < 0)
                return r;
        bool calls = run_concurrently(x, call_job);
        bool broadcasts = run_concurrently(x, broadcast_job);
        *ret_ok = calls && broadcasts;
        return 0;
}

static void remove_logs(void) {
        for (int i = 0; i < n_children; i++)
                (void) unlink(children[i].log);
        (void) rmdir(log_dir);
}

int main(int argc, char **argv) {
        char url[512], addrs[N_SERVERS][128];
        bool ok = false;

        int r = parse_args(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        snprintf(log_dir, sizeof log_dir, "/tmp/geerpc-demo-XXXXXX");
        if (!mkdtemp(log_dir)) {
                fprintf(stderr, "geerpc-demo: cannot create a folder for the logs: %s\n", strerror(errno));
                return 1;
        }
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        signal(SIGHUP, on_fatal_signal);

        r = start_processes(url, sizeof url, addrs);
        if (r >= 0)
                r = run_calls(url, addrs, &ok);
        if (r < 0)
                fprintf(stderr, "geerpc-demo: set-up failed: %s\n", strerror(-r));
        else if (!ok)
                fprintf(stderr, "geerpc-demo: some outcomes were not as expected\n");

        stop_all();
        if (ok)
                remove_logs();
        else
                fprintf(stderr, "geerpc-demo: the processes' logs are in %s\n", log_dir);
        return ok ? 0 : 1;
}
