/* SPDX-License-Identifier: MIT */

/* The Go side of geerpc-bench: tests/go/gob-peer.go, built with `go build`
 * into the build directory when Go is installed. A server or registry peer
 * prints its address on its first line; a bench peer (the client) runs one
 * workload per line of its standard input and answers one line each. */

#include <signal.h>
#include <stdarg.h>
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
                                   : "the Go peer was not built (meson compile -C build gob-peer)");
        told = true;
        return NULL;
}

int bench_go_start(GoPeer *ret, const char *mode, const char *arg) {
        const char *bin = bench_go_peer();

        *ret = (GoPeer) {};
        if (!bin)
                return -ENOENT;
        const char *argv[] = { bin, mode, arg, NULL };
        pid_t pid = bench_spawn(argv, NULL, STDOUT_FILENO, &ret->in, &ret->out);
        if (pid < 0)
                return pid;
        ret->pid = pid;
        if (streq(mode, "bench"))
                return 0;
        /* "serving on tcp@..." or "registry on http://..." */
        int r = bench_read_after(ret->out, " on ", ret->address, sizeof ret->address);
        if (r < 0) {
                fprintf(stderr, "Go peer %s did not start\n", mode);
                bench_go_stop(ret);
        }
        return r;
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
