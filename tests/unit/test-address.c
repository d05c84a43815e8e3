/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>

#include "basic/address.h"

Test(address, parse_valid) {
        Address a;
        cr_assert_eq(address_parse("tcp@127.0.0.1:7001", 0, &a, NULL), 0);
        cr_assert_eq(a.protocol, ADDRESS_TCP);
        cr_assert_str_eq(a.host, "127.0.0.1");
        cr_assert_eq(a.port, 7001);

        cr_assert_eq(address_parse("tcp@[::1]:7001", 0, &a, NULL), 0);
        cr_assert_str_eq(a.host, "::1");
        cr_assert_eq(a.port, 7001);

        cr_assert_eq(address_parse("tcp4@localhost:1", 0, &a, NULL), 0);
        cr_assert_eq(a.protocol, ADDRESS_TCP4);
        cr_assert_str_eq(a.host, "localhost");

        cr_assert_eq(address_parse("tcp6@[fe80::1]:65535", 0, &a, NULL), 0);
        cr_assert_eq(a.port, 65535);

        cr_assert_eq(address_parse("unix@/run/geerpc/foo.sock", 0, &a, NULL), 0);
        cr_assert_eq(a.protocol, ADDRESS_UNIX);
        cr_assert_str_eq(a.path, "/run/geerpc/foo.sock");

        cr_assert_eq(address_parse("tcp@127.0.0.1:0", ADDRESS_ALLOW_PORT_ZERO, &a, NULL), 0);
        cr_assert_eq(a.port, 0);

        /* Go's XDial form for RPC over HTTP: a TCP host and port. */
        cr_assert_eq(address_parse("http@127.0.0.1:7001", 0, &a, NULL), 0);
        cr_assert_eq(a.protocol, ADDRESS_HTTP);
        cr_assert_str_eq(a.host, "127.0.0.1");
        cr_assert_eq(a.port, 7001);
        cr_assert_eq(address_parse("http@[::1]:80", 0, &a, NULL), 0);
        cr_assert_str_eq(a.host, "::1");
        const char *why = NULL;
        cr_assert_eq(address_parse("http@/run/x.sock", 0, &a, &why), -EINVAL);
        cr_assert_str_eq(why, "missing port");
}

Test(address, parse_invalid_with_reasons) {
        static const struct {
                const char *s;
                const char *reason;
        } cases[] = {
                { "", "empty address" },
                { "127.0.0.1:7001", "address is not PROTOCOL@ADDRESS" },
                { "udp@127.0.0.1:7001", "unknown protocol (expected tcp, tcp4, tcp6, unix or http)" },
                { "tcp@127.0.0.1", "missing port" },
                { "tcp@127.0.0.1:", "missing port" },
                { "tcp@:7001", "missing host" },
                { "tcp@127.0.0.1:0", "port out of range (1-65535)" },
                { "tcp@127.0.0.1:65536", "port out of range (1-65535)" },
                { "tcp@127.0.0.1:000080", "port out of range (1-65535)" },
                { "tcp@127.0.0.1:7a", "port is not a number" },
                { "tcp@::1:7001", "IPv6 address must be in brackets" },
                { "tcp@[::1:7001", "missing ']' after IPv6 address" },
                { "tcp@[zz::1]:7001", "invalid IPv6 address" },
                { "tcp4@[::1]:7001", "tcp4 address with an IPv6 host" },
                { "tcp6@127.0.0.1:7001", "tcp6 address with an IPv4 host" },
                { "tcp@bad_host!:1", "invalid host" },
                { "tcp@-bad:1", "invalid host" },
                { "tcp@a..b:1", "invalid host" },
                { "unix@relative/path", "unix address is not an absolute path" },
                { "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002", "address contains a comma" },
                { "tcp@127.0.0.1: 7001", "address contains whitespace" },
                { "tcp@127.0.0.1:7001\n", "address contains a control character" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Address a = { .port = 42 };
                const char *why = NULL;
                cr_assert_eq(address_parse(cases[i].s, 0, &a, &why), -EINVAL, "'%s' should be invalid", cases[i].s);
                cr_assert_str_eq(why, cases[i].reason, "'%s'", cases[i].s);
                cr_assert_eq(a.port, 42, "output written on failure");
        }

        char long_addr[300];
        memset(long_addr, 'a', sizeof long_addr);
        memcpy(long_addr, "tcp@", 4);
        long_addr[sizeof long_addr - 1] = 0;
        const char *why;
        Address a;
        cr_assert_eq(address_parse(long_addr, 0, &a, &why), -EINVAL);
        cr_assert_str_eq(why, "address longer than 255 bytes");
        cr_assert_eq(address_parse(NULL, 0, &a, &why), -EINVAL);
}

Test(address, listen_dial_and_format) {
        int l, c;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 16, &l), 0);
        char *bound;
        cr_assert_eq(address_from_socket(l, &bound), 0);
        cr_assert(strncmp(bound, "tcp@127.0.0.1:", 14) == 0, "bound to %s", bound);
        cr_assert_eq(address_dial(bound, 5 * USEC_PER_SEC, &c), 0);
        close(c);
        /* http@ dials the same TCP port (the handshake is the client's). */
        char http[64];
        snprintf(http, sizeof http, "http@%s", bound + 4);
        cr_assert_eq(address_dial(http, 5 * USEC_PER_SEC, &c), 0);
        close(c);
        close(l);
        free(bound);

        cr_assert_eq(address_listen("tcp@[::1]:0", 16, &l), 0);
        cr_assert_eq(address_from_socket(l, &bound), 0);
        cr_assert(strncmp(bound, "tcp@[::1]:", 10) == 0, "bound to %s", bound);
        close(l);
        free(bound);

        char path[] = "/tmp/geerpc-test-XXXXXX";
        cr_assert(mkdtemp(path));
        char addr[128];
        snprintf(addr, sizeof addr, "unix@%s/s.sock", path);
        cr_assert_eq(address_listen(addr, 16, &l), 0);
        cr_assert_eq(address_from_socket(l, &bound), 0);
        cr_assert_str_eq(bound, addr);
        cr_assert_eq(address_dial(addr, 5 * USEC_PER_SEC, &c), 0);
        close(c);
        close(l);
        free(bound);
        snprintf(addr, sizeof addr, "%s/s.sock", path);
        unlink(addr);
        rmdir(path);
}

Test(address, dial_refused) {
        int l, c;
        char *bound;
        cr_assert_eq(address_listen("tcp@127.0.0.1:0", 1, &l), 0);
        cr_assert_eq(address_from_socket(l, &bound), 0);
        close(l);
        cr_assert_eq(address_dial(bound, 5 * USEC_PER_SEC, &c), -ECONNREFUSED);
        free(bound);
        cr_assert_eq(address_dial("nonsense", 5 * USEC_PER_SEC, &c), -EINVAL);
}
