/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "go.h"
#include "testlib.h"

static char go_path[4096];

bool tl_go_found(void) {
        const char *path = getenv("PATH");
        if (!path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, ":");
                snprintf(go_path, sizeof go_path, "%.*s/go", (int) l, p);
                if (l > 0 && access(go_path, X_OK) == 0)
                        return true;
                p += l + (p[l] == ':');
        }
        return false;
}

char *tl_go_interop(const char *const *args) {
        TL_ASSERT(tl_go_found(), "the Go toolchain (go) is not installed");
        char tmp[] = "/tmp/geerpc-go-XXXXXX";
        TL_ASSERT(mkdtemp(tmp), "mkdtemp: %m");
        char cache[600], gopath[300], home[300], source[512];
        const char *shared = getenv("GEERPC_GO_CACHE_DIR");
        if (shared)
                snprintf(cache, sizeof cache, "GOCACHE=%s", shared);
        else
                snprintf(cache, sizeof cache, "GOCACHE=%s/cache", tmp);
        snprintf(gopath, sizeof gopath, "GOPATH=%s/gopath", tmp);
        snprintf(home, sizeof home, "HOME=%s", tmp);
        const char *dir = getenv("GEERPC_GO_SOURCE_DIR");
        TL_ASSERT(dir, "$GEERPC_GO_SOURCE_DIR is not set");
        snprintf(source, sizeof source, "%s/geerpc-interop.go", dir);

        const char *argv[40] = { go_path, "run", source };
        size_t n = 3;
        for (size_t i = 0; args && args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        /* Standard library only: no modules, no network. */
        const char *env[] = { cache, gopath, home, "GO111MODULE=off", "GOFLAGS=", "GOPROXY=off", "CGO_ENABLED=0", NULL };
        char *out, *err;
        int status = tl_run(argv, env, 240 * USEC_PER_SEC, &out, &err);
        TL_ASSERT(status == 0, "go run failed (%d): %s%s", status, out, err);
        free(err);
        const char *rm[] = { "/bin/rm", "-rf", tmp, NULL };
        (void) tl_run(rm, NULL, 10 * USEC_PER_SEC, NULL, NULL);
        return out;
}
