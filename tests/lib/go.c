/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/options.h>
#include <stdio.h>
#include <unistd.h>

#include "testlib.h"

/* The Go programs of tests/go/ (standard library only): the toolchain
 * found on $PATH, builds into a private folder with a private cache, no
 * modules and no network. */

static bool find_go(char *path, size_t size) {
        const char *dirs = getenv("PATH");
        if (!dirs)
                dirs = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = dirs; *p;) {
                size_t l = strcspn(p, ":");
                snprintf(path, size, "%.*s/go", (int) l, p);
                if (l > 0 && access(path, X_OK) == 0)
                        return true;
                p += l + (p[l] == ':');
        }
        return false;
}

bool tl_have_go(void) {
        char path[4096];
        return find_go(path, sizeof path);
}

char *tl_go_build(const char *name) {
        char go[4096], dir[] = "/tmp/geerpc-go-XXXXXX";
        TL_ASSERT(find_go(go, sizeof go), "the Go toolchain is not installed");
        TL_ASSERT(mkdtemp(dir), "mkdtemp failed: %m");
        const char *src = getenv("GEERPC_GO_SOURCE_DIR");
        TL_ASSERT(src, "$GEERPC_GO_SOURCE_DIR is not set (run the tests through meson test)");

        char source[4096], binary[256], cache[128], gopath[128], home[128];
        snprintf(source, sizeof source, "%s/%s.go", src, name);
        snprintf(binary, sizeof binary, "%s/%s", dir, name);
        snprintf(cache, sizeof cache, "GOCACHE=%s/cache", dir);
        snprintf(gopath, sizeof gopath, "GOPATH=%s/gopath", dir);
        snprintf(home, sizeof home, "HOME=%s", dir);
        const char *argv[] = { go, "build", "-o", binary, source, NULL };
        const char *env[] = { cache, gopath, home, "GO111MODULE=off", "GOFLAGS=", "GOPROXY=off", "CGO_ENABLED=0", NULL };
        char *out = NULL, *err = NULL;
        int status = tl_run(argv, env, 240 * USEC_PER_SEC, &out, &err);
        TL_ASSERT(status == 0, "go build %s failed (%d): %s%s", source, status, out, err);
        free(out);
        free(err);
        /* The cache is large and no longer needed. */
        snprintf(cache, sizeof cache, "%s/cache", dir);
        const char *rm[] = { "/bin/rm", "-rf", cache, NULL };
        (void) tl_run(rm, NULL, 60 * USEC_PER_SEC, NULL, NULL);
        return strdup(binary);
}

int tl_go_test_main(int argc, char *argv[], const char *name, const char *env) {
        if (!tl_have_go()) {
                fprintf(stderr, "SKIP: the Go toolchain (go) is not installed; apt-get install golang-go\n");
                return 77;
        }
        char *binary = tl_go_build(name);
        setenv(env, binary, 1);
        struct criterion_test_set *tests = criterion_initialize();
        int result = 0;
        if (criterion_handle_args(argc, argv, true))
                result = !criterion_run_all_tests(tests);
        criterion_finalize(tests);
        tl_go_free(binary);
        return result;
}

void tl_go_free(char *binary) {
        if (!binary)
                return;
        char *slash = strrchr(binary, '/');
        if (slash)
                *slash = 0;
        const char *rm[] = { "/bin/rm", "-rf", binary, NULL };
        (void) tl_run(rm, NULL, 60 * USEC_PER_SEC, NULL, NULL);
        free(binary);
}
