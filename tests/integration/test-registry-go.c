/* SPDX-License-Identifier: MIT */

/* geeregistry against Go GeeRPC at the HTTP level: tests/go/geerpc-interop.go
 * sends the Go server's heartbeat and runs the Go client's discovery,
 * unchanged, built once with the Go toolchain (exit 77 when it is not
 * installed). */


#include "registry-util.h"

/* Built once by main(), for every test (each runs in its own process). */
#define GO_BINARY_ENV "GEERPC_TEST_GO_INTEROP"

/* Runs the Go program; returns its stdout (malloc'd). */
static char *run_go(const char *registry, const char *server_header, const char *list_header,
                    const char *const *addrs) {
        const char *argv[32] = { getenv(GO_BINARY_ENV), registry, server_header, list_header };
        size_t n = 4;
        cr_assert_not_null(argv[0]);
        for (size_t i = 0; addrs && addrs[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = addrs[i];
        argv[n] = NULL;
        char *out, *err;
        int status = tl_run(argv, NULL, 60 * USEC_PER_SEC, &out, &err);
        cr_assert_eq(status, 0, "the Go program failed (%d): %s%s", status, out, err);
        free(err);
        return out;
}

Test(registry_go, go_heartbeat_and_discovery) {
        Reg r = reg_start((const char *[]) { "--timeout=90s", NULL });
        /* One server registered from C as well: both sides see each other's. */
        cr_assert_eq(reg_post(&r, "tcp@127.0.0.1:7003"), 200);

        char *out = run_go(r.url, "X-Geerpc-Server", "X-Geerpc-Servers",
                           (const char *[]) { "tcp@127.0.0.1:7002", "tcp@127.0.0.1:7001", NULL });
        cr_assert_str_eq(out, "heartbeat tcp@127.0.0.1:7002 200 90\n"
                              "heartbeat tcp@127.0.0.1:7001 200 90\n"
                              "servers tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003\n");
        free(out);
        reg_assert_list(&r, "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003");
        char *line = tl_wait_line(r.proc, "registered tcp@127.0.0.1:7001", 5 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        reg_assert_running(&r);
        reg_stop(&r);
}

Test(registry_go, older_variant_rpc_path_and_header) {
        Reg r = reg_start(NULL);
        char old[192];
        snprintf(old, sizeof old, "%s%s", r.base, REG_PATH_OLD);
        char *out = run_go(old, "X-rpc-Servers", "X-rpc-Servers", (const char *[]) { "tcp@127.0.0.1:8001", NULL });
        cr_assert_str_eq(out, "heartbeat tcp@127.0.0.1:8001 200 300\nservers tcp@127.0.0.1:8001\n");
        free(out);
        reg_assert_list(&r, "tcp@127.0.0.1:8001");
        reg_stop(&r);
}

Test(registry_go, empty_registry_gives_an_empty_list) {
        Reg r = reg_start(NULL);
        char *out = run_go(r.url, "X-Geerpc-Server", "X-Geerpc-Servers", NULL);
        cr_assert_str_eq(out, "servers \n");
        free(out);
        reg_stop(&r);
}

int main(int argc, char *argv[]) {
        return tl_go_test_main(argc, argv, "geerpc-interop", GO_BINARY_ENV);
}
