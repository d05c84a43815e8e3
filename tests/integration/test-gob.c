/* SPDX-License-Identifier: MIT */

/* The gob codec against Go. tests/go/gob-peer.go speaks Go GeeRPC's
 * protocol (written from encoding/gob's documentation): as a client of
 * geerpc-example; as a server that geerpcctl and the xclient call; two of
 * them and two geerpc-example in one geeregistry, called with default
 * settings; and the round-trip table through our codec (gob-echo). Then
 * malformed gob streams against the server: each closes its own
 * connection, with one log line, and nothing else. Exits 77 without Go. */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cluster.h"
#include "cluster/xclient-internal.h"
#include "codec/codec.h"
#include "geerpc/client.h"
#include "geerpc/xclient.h"
#include "testlib.h"

/* Built once by main(), for every test (each runs in its own process). */
#define GO_BINARY_ENV "GEERPC_TEST_GOB_PEER"

static const char *peer(void) {
        const char *p = getenv(GO_BINARY_ENV);
        cr_assert_not_null(p);
        return p;
}

/* A Go GeeRPC server (heartbeating to registry unless NULL). */
static TlProc *go_server(const char *registry, char **ret_addr) {
        const char *argv[] = { peer(), "server", registry, NULL };
        TlProc *p = tl_spawn(argv, NULL);
        char *line = tl_wait_line(p, "serving on ", 30 * USEC_PER_SEC);
        cr_assert_not_null(line, "the Go server did not start");
        *ret_addr = strdup(strstr(line, "serving on ") + strlen("serving on "));
        free(line);
        return p;
}

static size_t count(const char *haystack, const char *needle) {
        size_t n = 0;
        for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Runs geerpcctl; returns its exit status and stdout (malloc'd). */
static int ctl(char **ret_out, char **ret_err, const char *const *args) {
        const char *argv[16] = { tl_binary("geerpcctl") };
        size_t n = 1;
        for (size_t i = 0; args[i]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return tl_run(argv, NULL, 30 * USEC_PER_SEC, ret_out, ret_err);
}

static int sum(geerpc_xclient *x, long long a, long long b, char **ret_server) {
        json_t *args = json_pack("{s:I,s:I}", "Num1", (json_int_t) a, "Num2", (json_int_t) b), *reply = NULL;
        char *error = NULL;
        int r = geerpc_xclient_call_full(x, NULL, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, &error, ret_server);
        cr_assert_eq(r, 0, "Foo.Sum %lld+%lld: %s %s", a, b, strerror(-r), strempty(error));
        cr_assert_eq(json_integer_value(reply), a + b);
        json_decref(reply);
        json_decref(args);
        free(error);
        return r;
}

/* Counts which kind of server gave an answer that names it. */
static void tally(const char *answer, char *const go_addr[2], size_t *by_go, size_t *by_ours) {
        if (strstr(answer, go_addr[0]) || strstr(answer, go_addr[1]))
                (*by_go)++;
        else
                (*by_ours)++;
}

static geerpc_xclient *xclient_for(geerpc_discovery *d) {
        geerpc_xclient *x;
        cr_assert_eq(geerpc_xclient_new(&x, d, GEERPC_SELECT_RANDOM), 0);
        geerpc_discovery_unref(d);
        return x;
}

/* geerpc-example stops cleanly on SIGTERM; its address goes with it. */
static void stop_example(TlProc *ex, char *addr) {
        tl_kill(ex, SIGTERM);
        cr_assert_eq(tl_wait_exit(ex, 20 * USEC_PER_SEC), 0);
        tl_proc_free(ex);
        free(addr);
}

Test(gob, go_client_calls_geerpc_example, .timeout = 240) {
        char *addr;
        TlProc *ex = tl_start_example(NULL, NULL, &addr);
        const char *argv[] = { peer(), "client", addr, NULL };
        char *out = NULL;
        int status = tl_run(argv, NULL, 120 * USEC_PER_SEC, &out, NULL);
        cr_assert_eq(status, 0, "%s", out);
        cr_assert(strstr(out, "concurrent 1000 ok\n") && strstr(out, "client ok\n"), "%s", out);
        char *log = tl_output(ex);
        cr_assert_eq(count(log, "read header error"), 0, "%s", log);
        free(log);
        free(out);
        stop_example(ex, addr);
}

Test(gob, geerpcctl_and_xclient_call_a_go_server, .timeout = 240) {
        char *addr, *out, *err;
        TlProc *srv = go_server(NULL, &addr);
        char server[256];
        snprintf(server, sizeof server, "--server=%s", addr);

        cr_assert_eq(ctl(&out, NULL, (const char *[]) { server, "--codec=gob", "call", "Foo.Sum", "{\"Num1\":3,\"Num2\":4}", NULL }), 0);
        cr_assert_str_eq(out, "7\n");
        free(out);
        cr_assert_eq(ctl(&out, NULL, (const char *[]) { server, "broadcast", "Foo.Sum", "{\"Num2\":5}", NULL }), 0);
        cr_assert_str_eq(out, "5\n");
        free(out);
        /* A reply that is not UTF-8, written out as JSON: U+FFFD. */
        cr_assert_eq(ctl(&out, NULL, (const char *[]) { server, "--codec=gob", "call", "Foo.Text", "{}", NULL }), 0);
        cr_assert_str_eq(out, "\"ok \\ufffd\\u0000\"\n");
        free(out);
        /* JSON only: the Go server closes the connection at the Option. */
        cr_assert_eq(ctl(&out, &err, (const char *[]) { server, "--codec=json", "call", "Foo.Sum", "{}", NULL }), 3);
        free(out);
        free(err);
        /* Arguments gob cannot carry: a clear error, nothing sent. */
        cr_assert_eq(ctl(&out, &err, (const char *[]) { server, "-c", "gob", "call", "Foo.Sum", "{\"num1\":3}", NULL }), 2);
        cr_assert(strstr(err, "gob: key \"num1\" is not an exported Go identifier"), "%s", err);
        free(out);
        free(err);
        cr_assert_eq(ctl(&out, &err, (const char *[]) { server, "--codec=xml", "call", "Foo.Sum", "{}", NULL }), 2);
        cr_assert(strstr(err, "invalid --codec"), "%s", err);
        free(out);
        free(err);
        /* The Go server refused the broadcast's JSON probe and --codec=json. */
        static const char refused[] = "rpc server: invalid codec type application/json";
        for (int i = 0; i < 2; i++) {
                char *line = tl_wait_line(srv, refused, 10 * USEC_PER_SEC);
                cr_assert_not_null(line);
                free(line);
        }

        /* The xclient finds out once, then remembers: one refused JSON
         * Option for many calls, a new connection and a broadcast. */
        geerpc_discovery *d;
        const char *list[] = { addr };
        cr_assert_eq(geerpc_discovery_new_static(&d, list, 1), 0);
        geerpc_xclient *x = xclient_for(d);
        for (int i = 0; i < 20; i++) {
                sum(x, i, 1, NULL);
                if (i == 10) {
                        /* A dropped connection is dialled again in gob. */
                        geerpc_client *c = xclient_lookup(x, addr);
                        cr_assert_not_null(c);
                        geerpc_client_close(c);
                        geerpc_client_unref(c);
                }
        }
        json_t *args = json_pack("{s:i}", "Num1", 9), *reply = NULL;
        cr_assert_eq(geerpc_xclient_broadcast(x, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 9);
        json_decref(reply);
        geerpc_xclient_unref(x);
        char *line = tl_wait_line(srv, refused, 10 * USEC_PER_SEC);
        cr_assert_not_null(line);
        free(line);
        cr_assert_null(tl_wait_line(srv, refused, USEC_PER_SEC));

        /* A client of our own, in gob: the Go server's handle timeout. */
        geerpc_client *c;
        cr_assert_eq(geerpc_client_new(&c), 0);
        cr_assert_eq(geerpc_client_set_codec(c, GEERPC_CODEC_GOB), 0);
        cr_assert_eq(geerpc_client_set_handle_timeout(c, USEC_PER_SEC / 2), 0);
        cr_assert_eq(geerpc_client_connect(c, addr), 0);
        char *error = NULL;
        cr_assert_eq(geerpc_client_call(c, "Foo.Sleep", args, 10 * USEC_PER_SEC, &reply, &error), -EREMOTEIO);
        cr_assert_str_eq(error, "rpc server: request handle timeout: expect within 500ms");
        free(error);
        json_decref(args);
        args = json_pack("{s:i,s:i}", "Num1", 0, "Num2", 8);
        cr_assert_eq(geerpc_client_call(c, "Foo.Sleep", args, 10 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 8);
        json_decref(reply);
        json_decref(args);
        geerpc_client_unref(c);

        tl_proc_free(srv);
        free(addr);
}

Test(gob, mixed_fleet_with_default_settings, .timeout = 400) {
        TlCluster *c = tl_cluster_new(2);
        char *go_addr[2];
        TlProc *go_srv[2];
        for (int i = 0; i < 2; i++) {
                go_srv[i] = go_server(c->url, &go_addr[i]);
                cr_assert(tl_cluster_wait_listed(c, go_addr[i], true, 15 * USEC_PER_SEC), "%s never listed", go_addr[i]);
        }
        char registry[256];
        snprintf(registry, sizeof registry, "--registry=%s", c->url);

        /* geerpcctl, no flag but the registry: 200 calls, 20 broadcasts. */
        size_t by_go = 0, by_ours = 0;
        for (int i = 0; i < 200; i++) {
                char args[64], want[32], *out;
                snprintf(args, sizeof args, "{\"Num1\":%d,\"Num2\":1}", i);
                int status = ctl(&out, NULL, (const char *[]) { registry, "--json", "call", "Foo.Sum", args, NULL });
                cr_assert_eq(status, 0, "call %d: %s", i, out);
                snprintf(want, sizeof want, ",\"reply\":%d}", i + 1);
                cr_assert(strstr(out, want), "call %d: %s", i, out);
                tally(out, go_addr, &by_go, &by_ours);
                free(out);
        }
        cr_assert(by_go > 0 && by_ours > 0, "go %zu, geerpc %zu", by_go, by_ours);
        for (int i = 0; i < 20; i++) {
                char *out;
                int status = ctl(&out, NULL, (const char *[]) { registry, "--json", "broadcast", "Foo.Sum", "{\"Num1\":2,\"Num2\":3}", NULL });
                cr_assert_eq(status, 0, "broadcast %d: %s", i, out);
                cr_assert_eq(count(out, "\"ok\":true"), 4, "broadcast %d: %s", i, out);
                free(out);
        }

        /* The xclient with default settings: the same. */
        geerpc_discovery *d;
        cr_assert_eq(geerpc_discovery_new_registry(&d, c->url), 0);
        geerpc_xclient *x = xclient_for(d);
        by_go = by_ours = 0;
        for (int i = 0; i < 200; i++) {
                char *server;
                sum(x, i, -7, &server);
                tally(server, go_addr, &by_go, &by_ours);
                free(server);
        }
        cr_assert(by_go > 0 && by_ours > 0, "go %zu, geerpc %zu", by_go, by_ours);
        for (int i = 0; i < 20; i++) {
                json_t *args = json_pack("{s:i,s:i}", "Num1", i, "Num2", 1), *reply = NULL;
                geerpc_broadcast_result *res = NULL;
                int r = geerpc_xclient_broadcast(x, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL, &res);
                cr_assert_eq(r, 0, "broadcast %d: %s", i, strerror(-r));
                cr_assert_eq(geerpc_broadcast_result_get_count(res), 4);
                cr_assert_eq(geerpc_broadcast_result_get_n_failed(res), 0);
                for (size_t k = 0; k < 4; k++)
                        cr_assert_eq(json_integer_value(geerpc_broadcast_result_get_reply(res, k)), i + 1);
                geerpc_broadcast_result_free(res);
                json_decref(reply);
                json_decref(args);
        }
        geerpc_xclient_unref(x);

        for (int i = 0; i < 2; i++) {
                tl_proc_free(go_srv[i]);
                free(go_addr[i]);
        }
        tl_cluster_free(c);
}

Test(gob, round_trip_table, .timeout = 240) {
        const char *argv[] = { peer(), "roundtrip", getenv("GEERPC_GOB_ECHO"), NULL };
        char *out = NULL;
        int status = tl_run(argv, NULL, 120 * USEC_PER_SEC, &out, NULL);
        cr_assert_eq(status, 0, "%s", out);
        cr_assert(strstr(out, "roundtrip ok\n"), "%s", out);
        free(out);
}

Test(gob, xclient_remembers_the_last_1024_servers) {
        geerpc_discovery *d;
        const char *list[] = { "tcp@127.0.0.1:1" };
        cr_assert_eq(geerpc_discovery_new_static(&d, list, 1), 0);
        geerpc_xclient *x = xclient_for(d);
        char addr[64];
        for (unsigned i = 0; i <= GEERPC_XCLIENT_CODECS_MAX; i++) {
                snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", 10000 + i);
                xclient_codec_remember(x, addr, i % 2 ? GEERPC_CODEC_GOB : GEERPC_CODEC_JSON);
        }
        xclient_codec_remember(x, addr, GEERPC_CODEC_JSON); /* known: kept as it was */
        cr_assert_null(xclient_codec_known(x, "tcp@127.0.0.1:10000"));
        cr_assert_str_eq(xclient_codec_known(x, "tcp@127.0.0.1:10001"), GEERPC_CODEC_GOB);
        cr_assert_str_eq(xclient_codec_known(x, addr), GEERPC_CODEC_JSON);
        cr_assert_eq(x->n_codecs, GEERPC_XCLIENT_CODECS_MAX);
        cr_assert_eq(geerpc_xclient_set_codec(x, "application/xml"), -EPROTONOSUPPORT);
        cr_assert_eq(geerpc_xclient_set_codec(x, GEERPC_CODEC_GOB), 0);
        cr_assert_eq(geerpc_xclient_set_codec(x, NULL), 0);
        geerpc_xclient_unref(x);
}

/* ---- malformed streams ---------------------------------------------------------- */

static const char option_gob[] = "{\"MagicNumber\":3927900,\"CodecType\":\"application/gob\"}\n";

/* Go GeeRPC's header type, and a header {ServiceMethod "Foo.Sum", Seq 1}. */
static const char header_def[] =
        "\x38\xff\x81\x03\x01\x01\x06\x48\x65\x61\x64\x65\x72\x01\xff\x82\x00\x01\x03\x01\x0d\x53\x65\x72"
        "\x76\x69\x63\x65\x4d\x65\x74\x68\x6f\x64\x01\x0c\x00\x01\x03\x53\x65\x71\x01\x06\x00\x01\x05\x45"
        "\x72\x72\x6f\x72\x01\x0c\x00\x00\x00";
static const char header_value[] = "\x0e\xff\x82\x01\x07\x46\x6f\x6f\x2e\x53\x75\x6d\x01\x01\x00";

static int send_raw(const char *addr, const char *a, size_t na, const char *b, size_t nb) {
        int fd = tl_connect(addr);
        cr_assert_geq(fd, 0);
        cr_assert(tl_write_all(fd, option_gob, strlen(option_gob)));
        cr_assert(tl_write_all(fd, a, na));
        if (nb > 0)
                cr_assert(tl_write_all(fd, b, nb));
        return fd;
}

static void assert_sum_works(geerpc_client *c) {
        json_t *args = json_pack("{s:i,s:i}", "Num1", 40, "Num2", 2), *reply = NULL;
        cr_assert_eq(geerpc_client_call(c, "Foo.Sum", args, 10 * USEC_PER_SEC, &reply, NULL), 0);
        cr_assert_eq(json_integer_value(reply), 42);
        json_decref(reply);
        json_decref(args);
}

/* A gob client of ours on addr, checked with one call. */
static geerpc_client *gob_client(const char *addr) {
        geerpc_client *c;
        cr_assert_eq(geerpc_client_new(&c), 0);
        cr_assert_eq(geerpc_client_set_codec(c, GEERPC_CODEC_GOB), 0);
        cr_assert_eq(geerpc_client_connect(c, addr), 0);
        assert_sum_works(c);
        return c;
}

/* The client still works, then it and the example stop (cleanly). */
static void finish_with(geerpc_client *good, TlProc *ex, char *addr) {
        assert_sum_works(good);
        geerpc_client_unref(good);
        stop_example(ex, addr);
}

Test(gob, malformed_streams_close_only_their_connection, .timeout = 120) {
        char *addr;
        TlProc *ex = tl_start_example(NULL, NULL, &addr);
        geerpc_client *good = gob_client(addr);

        char twice[2 * sizeof header_def];
        memcpy(twice, header_def, sizeof header_def - 1);
        memcpy(twice + sizeof header_def - 1, header_def, sizeof header_def - 1);
        const struct {
                const char *bytes;
                size_t n;
                bool with_header_def;
                const char *why;
        } bad[] = {
                { "\xf0\x01\x02", 3, false, "gob: message length with an impossible byte count" },
                { "\xfc\x01\x00\x00\x01", 5, false, "gob: message of 16777217 bytes, more than the limit of 16777216" },
                { "\x03\xff\x90\x00", 4, false, "gob: unknown type id 72" },
                { twice, 2 * (sizeof header_def - 1), false, "gob: type 65 defined twice" },
                { "\x03\xff\x82\x05\x00", 5, true, "gob: field number out of range for struct type 65" },
                { "\x05\xff\x82\x01\x09\x41", 6, true, "gob: value runs past the end of its message" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int fd = bad[i].with_header_def ? send_raw(addr, header_def, sizeof header_def - 1, bad[i].bytes, bad[i].n)
                                                : send_raw(addr, bad[i].bytes, bad[i].n, NULL, 0);
                cr_assert(tl_wait_eof(fd, 10 * USEC_PER_SEC), "stream %zu: not closed", i);
                close(fd);
                char *line = tl_wait_line(ex, bad[i].why, 10 * USEC_PER_SEC);
                cr_assert_not_null(line, "stream %zu: no log line saying %s", i, bad[i].why);
                cr_assert(strstr(line, "rpc server: read header error from tcp@127.0.0.1:"), "%s", line);
                free(line);
                assert_sum_works(good);
        }
        /* Cut short, then the client's end: closed without a word. */
        int fd = send_raw(addr, header_def, 20, NULL, 0);
        cr_assert_eq(shutdown(fd, SHUT_WR), 0);
        cr_assert(tl_wait_eof(fd, 10 * USEC_PER_SEC));
        close(fd);

        /* A body without a JSON form fails that call; the stream goes on. */
        fd = send_raw(addr, header_def, sizeof header_def - 1, header_value, sizeof header_value - 1);
        cr_assert(tl_write_all(fd, "\x0b\x06\x00\xf8\xff\xff\xff\xff\xff\xff\xff\xff", 12));
        cr_assert(tl_write_all(fd, header_value, sizeof header_value - 1));
        cr_assert(tl_write_all(fd, "\x03\x04\x00\x0e", 4));
        cr_assert_eq(shutdown(fd, SHUT_WR), 0);
        size_t len;
        char *replies = tl_read_until_eof(fd, 10 * USEC_PER_SEC, &len);
        close(fd);
        Codec *codec;
        cr_assert_eq(codec_new(&codec_gob, GEERPC_MAX_MESSAGE_SIZE_DEFAULT, &codec), 0);
        Buffer in = {};
        cr_assert_eq(buffer_append(&in, replies, len), 0);
        Message m;
        cr_assert_eq(codec_decode(codec, &in, &m), 1, "%s", codec->decode_why);
        cr_assert_str_eq(m.error, "rpc server: read body err: gob: uint 18446744073709551615 is beyond the range of a JSON integer");
        message_done(&m);
        cr_assert_eq(codec_decode(codec, &in, &m), 1, "%s", codec->decode_why);
        cr_assert(strstr(m.error, "Foo: arguments must be an object"), "%s", m.error);
        message_done(&m);
        buffer_done(&in);
        codec_free(codec);
        free(replies);

        /* One line per closed connection, and the server lives on. */
        char *log = tl_output(ex);
        cr_assert_eq(count(log, "read header error"), ELEMENTSOF(bad), "%s", log);
        free(log);
        finish_with(good, ex, addr);
}

/* A gob header whose body never comes is a message begun (the codec says
 * so: its header is decoded and held), so the message timeout cuts it
 * off, long before the idle timeout; a good client is served meanwhile. */
Test(gob, header_without_body_is_cut_off_by_the_message_timeout, .timeout = 60) {
        char *addr;
        TlProc *ex = tl_start_example((const char *[]) { "--message-timeout=1s", "--idle-timeout=60s", NULL }, NULL, &addr);
        geerpc_client *good = gob_client(addr);

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        int fd = send_raw(addr, header_def, sizeof header_def - 1, header_value, sizeof header_value - 1);
        assert_sum_works(good);
        cr_assert(tl_wait_eof(fd, 10 * USEC_PER_SEC), "a header without its body was kept past 10s");
        usec_t took = now_usec(CLOCK_MONOTONIC) - t0;
        close(fd);
        cr_assert_geq(took, USEC_PER_SEC, "closed after %llu ms, before the message timeout",
                      (unsigned long long) (took / USEC_PER_MSEC));
        char *line = tl_wait_line(ex, "did not complete a message within the message timeout", 10 * USEC_PER_SEC);
        cr_assert_not_null(line, "no log line for the cut-off connection");
        free(line);
        finish_with(good, ex, addr);
}

int main(int argc, char *argv[]) {
        return tl_go_test_main(argc, argv, "gob-peer", GO_BINARY_ENV);
}
