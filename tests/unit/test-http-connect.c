/* SPDX-License-Identifier: MIT */

/* RPC over HTTP: telling the protocols apart by the first bytes, and the
 * CONNECT request and response heads. */

#include <criterion/criterion.h>
#include <stdio.h>

#include "basic/macro.h"
#include "http/http-connect.h"

static HttpSniff sniff(const char *s) {
        return http_sniff(s, strlen(s));
}

Test(http_connect, sniff_decides_on_the_first_bytes) {
        cr_assert_eq(sniff(""), HTTP_SNIFF_MORE);
        cr_assert_eq(sniff("{\"MagicNumber\":3927900}"), HTTP_SNIFF_RPC);
        cr_assert_eq(sniff(" \r\n{"), HTTP_SNIFF_RPC);
        cr_assert_eq(sniff("\x01\x02"), HTTP_SNIFF_RPC);
        cr_assert_eq(sniff("get / HTTP/1.1"), HTTP_SNIFF_RPC); /* methods are upper-case */
        cr_assert_eq(sniff("GET / HTTP/1.1\r\n"), HTTP_SNIFF_HTTP);
        cr_assert_eq(sniff("G"), HTTP_SNIFF_HTTP);
        cr_assert_eq(sniff("POST"), HTTP_SNIFF_HTTP);
        cr_assert_eq(sniff("COPY /x"), HTTP_SNIFF_HTTP);
        cr_assert_eq(sniff("C"), HTTP_SNIFF_MORE);
        cr_assert_eq(sniff("CONNECT"), HTTP_SNIFF_MORE);
        cr_assert_eq(sniff("CONNECT "), HTTP_SNIFF_CONNECT);
        cr_assert_eq(sniff("CONNECT /_geeprc_ HTTP/1.0\n\n"), HTTP_SNIFF_CONNECT);
        cr_assert_eq(sniff("CONNECTX"), HTTP_SNIFF_HTTP);
}

static int request(const char *s, bool *rpc) {
        return http_connect_request_parse(s, strlen(s), HTTP_CONNECT_HEAD_MAX, rpc);
}

Test(http_connect, request_heads) {
        bool rpc = false;
        /* Go's client: bare newlines, no headers. */
        cr_assert_eq(request(HTTP_CONNECT_REQUEST, &rpc), (int) strlen(HTTP_CONNECT_REQUEST));
        cr_assert(rpc);
        rpc = false;
        const char *with_headers = "CONNECT /_geerpc_ HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n{\"Magic";
        cr_assert_eq(request(with_headers, &rpc), (int) (strstr(with_headers, "{") - with_headers));
        cr_assert(rpc);
        cr_assert_eq(request("CONNECT /other HTTP/1.0\n\n", &rpc), 25);
        cr_assert_not(rpc);
        cr_assert_eq(request("CONNECT example.com:443 HTTP/1.1\r\n\r\n", &rpc), 36);
        cr_assert_not(rpc);

        /* Incomplete: more bytes may complete it. */
        cr_assert_eq(request("CONNECT /_geeprc_ HTTP/1.0\n", &rpc), 0);
        cr_assert_eq(request("CONNECT /_geeprc_ HTTP/1.0\r\nHost: x\r\n", &rpc), 0);
        cr_assert_eq(request("CONNECT /_geep", &rpc), 0);

        /* Malformed. */
        const char *bad[] = {
                "CONNECT /_geeprc_\n\n",          /* no version */
                "CONNECT  HTTP/1.0\n\n",          /* no target */
                "CONNECT /_geeprc_ HTTP/x.0\n\n", /* bad version */
                "CONNECT /_geeprc_ HTTP/1.0 x\n\n",
                "CONNECT /_geeprc_ HTTP/1.0\nno colon\n\n",
                "CONNECT /_geeprc_ HTTP/1.0\n: empty name\n\n",
                "CONNECT /_geeprc_ HTTP/1.0\n folded: x\n\n",
                "CONNECT /_ge\x01prc_ HTTP/1.0\n\n",
                "CONNECT /_geeprc_ HTTP/1.0\nA: b\rc\n\n",
                "GET / HTTP/1.0\n\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(request(bad[i], &rpc), -EBADMSG, "%s", bad[i]);
}

Test(http_connect, request_size_limit) {
        char big[600];
        memset(big, 'a', sizeof big);
        memcpy(big, "CONNECT /", 9);
        big[sizeof big - 1] = 0;
        bool rpc;
        /* No end of line within the limit. */
        cr_assert_eq(http_connect_request_parse(big, strlen(big), 512, &rpc), -EMSGSIZE);
        cr_assert_eq(http_connect_request_parse(big, 100, 512, &rpc), 0);
        /* A complete head past the limit. */
        char head[700];
        snprintf(head, sizeof head, "CONNECT /_geeprc_ HTTP/1.0\nX: %0600d\n\n", 0);
        cr_assert_eq(http_connect_request_parse(head, strlen(head), 512, &rpc), -EMSGSIZE);
        cr_assert_eq(http_connect_request_parse(head, strlen(head), 1024, &rpc), (int) strlen(head));
}

static int response(const char *s, unsigned *status) {
        return http_connect_response_parse(s, strlen(s), HTTP_CONNECT_HEAD_MAX, status);
}

Test(http_connect, response_heads) {
        unsigned status = 0;
        cr_assert_eq(response(HTTP_CONNECT_REPLY, &status), (int) strlen(HTTP_CONNECT_REPLY));
        cr_assert_eq(status, 200);
        cr_assert_eq(response("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n404 page", &status), 52);
        cr_assert_eq(status, 404);
        cr_assert_eq(response("HTTP/1.0 200\n\n", &status), 14);
        cr_assert_eq(status, 200);
        cr_assert_eq(response("HTTP/1.0 200 Connected", &status), 0);
        cr_assert_eq(response("HTTP/1.0 200 Connected to Gee RPC\n", &status), 0);
        cr_assert_eq(response("{\"ServiceMethod\":\"x\"}\n\n", &status), -EBADMSG);
        cr_assert_eq(response("HTTP/1.0 20 OK\n\n", &status), -EBADMSG);
        cr_assert_eq(response("HTTP/1.0 2000 OK\n\n", &status), -EBADMSG);
        cr_assert_eq(response("\n\n", &status), -EBADMSG);
}
