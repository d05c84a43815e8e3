/* SPDX-License-Identifier: MIT */

/* RPC over HTTP against Go: tests/go/geerpc-http.go, built once with the
 * Go toolchain (exit 77 when it is not installed), dials our server with
 * the CONNECT handshake as Go GeeRPC's DialHTTP does, and serves CONNECT
 * as the original's HandleHTTP does for our client and geerpcctl. */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>

#include "geerpc/client.h"
#include "testlib.h"

#define GO_BINARY_ENV "GEERPC_TEST_GO_HTTP"

static const char *go_binary(void) {
        const char *b = getenv(GO_BINARY_ENV);
        cr_assert_not_null(b);
        return b;
}

Test(http_go, go_client_dials_our_server_with_connect) {
        char *addr;
        TlProc *p = tl_start_example(NULL, NULL, &addr);
        const char *argv[] = { go_binary(), "client", addr + strlen("tcp@"), "3", NULL };
        char *out = NULL, *err = NULL;
        int status = tl_run(argv, NULL, 60 * USEC_PER_SEC, &out, &err);
        cr_assert_eq(status, 0, "the Go client failed (%d): %s", status, err);
        cr_assert_str_eq(out, "Foo.Sum 1+10=11\nFoo.Sum 2+20=22\nFoo.Sum 3+30=33\n"
                              "Foo.Nope error: rpc server: can't find method Nope\n");
        free(out);
        free(err);
        tl_kill(p, SIGTERM);
        cr_assert_eq(tl_wait_exit(p, 20 * USEC_PER_SEC), 0);
        tl_proc_free(p);
        free(addr);
}

Test(http_go, our_client_and_geerpcctl_dial_a_go_server) {
        const char *argv[] = { go_binary(), "server", NULL };
        TlProc *go = tl_spawn(argv, NULL);
        char *line = tl_wait_line(go, "listening on tcp@", 30 * USEC_PER_SEC);
        cr_assert_not_null(line, "the Go server did not start");
        char http[96], tcp[96], url[128];
        const char *hostport = strstr(line, "tcp@") + 4;
        snprintf(http, sizeof http, "http@%.*s", (int) strcspn(hostport, "\r\n"), hostport);
        snprintf(tcp, sizeof tcp, "tcp@%.*s", (int) strcspn(hostport, "\r\n"), hostport);
        snprintf(url, sizeof url, "http://%.*s/_geeprc_", (int) strcspn(hostport, "\r\n"), hostport);
        free(line);

        geerpc_client *c;
        cr_assert_eq(geerpc_client_dial(&c, http), 0);
        json_t *reply = NULL;
        cr_assert_eq(tl_call_json(c, "Foo.Sum", "{\"Num1\":30,\"Num2\":12}", &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 42);
        json_decref(reply);
        geerpc_client_unref(c);

        char server[128], *out = NULL;
        snprintf(server, sizeof server, "--server=%s", http);
        const char *ctl[] = { tl_binary("geerpcctl"), server, "call", "Foo.Sum", "{\"Num1\":3,\"Num2\":4}", NULL };
        cr_assert_eq(tl_run(ctl, NULL, 30 * USEC_PER_SEC, &out, NULL), 0);
        cr_assert_str_eq(out, "7\n");
        free(out);

        /* Without the handshake the Go server sees a bad HTTP request. */
        cr_assert_eq(geerpc_client_dial(&c, tcp), 0);
        cr_assert_lt(tl_call_json(c, "Foo.Sum", "{}", NULL, NULL), 0);
        geerpc_client_unref(c);
        /* Its other methods on the path: the original's 405. */
        TlHttp h;
        cr_assert_eq(tl_http("GET", url, NULL, &h), 0);
        cr_assert_eq(h.status, 405);
        cr_assert_str_eq(h.body, "405 must CONNECT\n");
        tl_http_done(&h);

        tl_kill(go, SIGTERM);
        tl_wait_exit(go, 10 * USEC_PER_SEC);
        tl_proc_free(go);
}

int main(int argc, char *argv[]) {
        return tl_go_test_main(argc, argv, "geerpc-http", GO_BINARY_ENV);
}
