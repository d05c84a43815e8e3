/* SPDX-License-Identifier: MIT */

/* The Go side of geerpc-bench: tests/go/geerpc-bench-peer.go, built with
 * `go build` into the build directory when Go is installed. A server or
 * registry peer prints its address on its first line; a client peer runs
 * one workload per line of its standard input and answers one line each. */

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "bench.h"

const char *bench_go_peer(void) {
        static bool told;
        const char *p = getenv("GEERPC_BENCH_GO_PEER") ?: GEERPC_BENCH_GO_PEER_PATH;
        if (!isempty(p) && access(p, X_OK) == 0)
                return p;
        if (!told)
                fprintf(stderr, "Go figures skipped: %s\n",
                        isempty(p) ? "Go was not found when the build was configured (Debian: golang-go)"
                                   : "the Go peer was not built (meson compile -C build geerpc-bench-peer)");
        told = true;
        return NULL;
}

int bench_go_start(GoPeer *ret, const char *mode, const char *arg) {
        const char *bin = bench_go_peer();
        int in[2], out[2];

        *ret = (GoPeer) {};
        if (!bin)
                return -ENOENT;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execl(bin, "geerpc-bench-peer", mode, arg, (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        ret->pid = pid;
        ret->in = fdopen(in[1], "w");
        ret->out = fdopen(out[0], "r");
        if (!ret->in || !ret->out) {
                bench_go_stop(ret);
                return -ENOMEM;
        }
        setvbuf(ret->in, NULL, _IOLBF, 0);
        if (streq(mode, "client"))
                return 0;

        char line[256];
        if (!fgets(line, sizeof line, ret->out)) {
                bench_go_stop(ret);
                return -EIO;
        }
        line[strcspn(line, "\n")] = 0;
        const char *a = strstr(line, " on ");
        if (!a) {
                fprintf(stderr, "Go peer %s: %s\n", mode, line);
                bench_go_stop(ret);
                return -EIO;
        }
        snprintf(ret->address, sizeof ret->address, "%s", a + 4);
        return 0;
}

int bench_go_run(GoPeer *p, GoResult *ret, const char *fmt, ...) {
        char line[256];
        va_list ap;

        if (!p || p->pid <= 0)
                return -ENOENT;
        va_start(ap, fmt);
        vfprintf(p->in, fmt, ap);
        va_end(ap);
        fputc('\n', p->in);
        fflush(p->in);
        if (!fgets(line, sizeof line, p->out))
                return -EIO;
        if (sscanf(line, "ok calls=%lf secs=%lf p50_us=%lf", &ret->calls, &ret->secs, &ret->p50_us) != 3) {
                fprintf(stderr, "Go peer: %s", line);
                atomic_fetch_add(&bench_mismatches, 1);
                return -EBADMSG;
        }
        return 0;
}

void bench_go_stop(GoPeer *p) {
        if (p->in)
                fclose(p->in);
        if (p->pid > 0) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, NULL, 0);
        }
        if (p->out)
                fclose(p->out);
        *p = (GoPeer) {};
}
