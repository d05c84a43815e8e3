/* SPDX-License-Identifier: MIT */
/* geeregistry's request handling, whole: libmicrohttpd on sd-event, the
 * handlers (POST with services, weight and labels, GET ?service= plain
 * and JSON, PATCH overrides, DELETE), the table. The input is what one
 * client sends on one connection (any number of pipelined requests)
 * before it half-closes; the registry runs in this process on a unix
 * socket. Whatever is sent, the table and the overrides hold only valid
 * addresses in their canonical spelling and metadata within its limits,
 * and nothing is registered or overridden without the bearer token. */

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "basic/address.h"
#include "fuzz.h"
#include "handlers.h"
#include "http/http-server.h"
#include "registry.h"

#define FUZZ_TOKEN "fuzz-token"
#define FUZZ_LOOP_ITERATIONS 2000
#define FUZZ_INPUT_MAX (128U * 1024U)

static void check_canonical(const char *addr) {
        _cleanup_free_ char *c = NULL;
        FUZZ_ASSERT(address_canonicalize(addr, 0, &c, NULL) >= 0 && streq(c, addr));
}

static int check_entry(const TableEntry *e, void *userdata) {
        check_canonical(e->addr);
        FUZZ_ASSERT(e->meta.weight <= GEERPC_WEIGHT_MAX);
        FUZZ_ASSERT(e->override >= -1 && e->override <= (int) GEERPC_WEIGHT_MAX);
        FUZZ_ASSERT(strv_length(e->meta.services) <= GEERPC_SERVICES_MAX);
        FUZZ_ASSERT(strv_length(e->meta.labels) <= GEERPC_LABELS_MAX);
        return 0;
}

static int check_override(const char *addr, unsigned weight, void *userdata) {
        check_canonical(addr);
        FUZZ_ASSERT(weight <= GEERPC_WEIGHT_MAX);
        return 0;
}

/* The unix socket every run's server is handed (never closed by it). */
static int listening_socket(void) {
        static int fd = -1;
        if (fd >= 0)
                return fd;
        char dir[] = "/tmp/fuzz-registry-XXXXXX";
        FUZZ_ASSERT(mkdtemp(dir));
        char addr[128];
        snprintf(addr, sizeof addr, "unix@%s/http.sock", dir);
        FUZZ_ASSERT(address_listen(addr, 16, &fd) >= 0);
        return fd;
}

static int dial(int listener) {
        struct sockaddr_un sa;
        socklen_t l = sizeof sa;
        FUZZ_ASSERT(getsockname(listener, (struct sockaddr *) &sa, &l) >= 0);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        FUZZ_ASSERT(fd >= 0 && connect(fd, (struct sockaddr *) &sa, l) >= 0);
        return fd;
}

/* Sends the input, then runs the loop until the server has closed the
 * connection (or a bounded number of iterations), reading its answers. */
static void converse(sd_event *event, int fd, const uint8_t *data, size_t size) {
        size_t sent = 0, received = 0;
        bool eof = false;
        for (unsigned i = 0; i < FUZZ_LOOP_ITERATIONS && !eof; i++) {
                if (sent < size) {
                        ssize_t k = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
                        if (k > 0)
                                sent += (size_t) k;
                        else if (k < 0 && errno != EAGAIN)
                                sent = size;
                        if (sent == size)
                                (void) shutdown(fd, SHUT_WR);
                }
                FUZZ_ASSERT(sd_event_run(event, 1000) >= 0);
                char buf[65536];
                ssize_t k;
                while ((k = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
                        /* Whatever the request, the answer is HTTP. */
                        FUZZ_ASSERT(received > 0 || k < 5 || memcmp(buf, "HTTP/", 5) == 0);
                        received += (size_t) k;
                }
                eof = k == 0 || (k < 0 && errno != EAGAIN);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > FUZZ_INPUT_MAX)
                return 0;
        int listener = listening_socket();
        sd_event *event = NULL;
        Registry *registry = NULL;
        Handlers *handlers = NULL;
        HttpServer *server = NULL;

        FUZZ_ASSERT(sd_event_new(&event) >= 0);
        RegistryConfig config = { .timeout = 5 * USEC_PER_MINUTE, .max_servers = 64, .token = FUZZ_TOKEN };
        FUZZ_ASSERT(registry_new(&registry, event, &config) >= 0);
        FUZZ_ASSERT(handlers_new(&handlers, registry) >= 0);
        HttpLimits limits = HTTP_LIMITS_DEFAULT;
        limits.response_header_room = HANDLERS_RESPONSE_HEADER_ROOM;
        FUZZ_ASSERT(http_server_new(&server, event, &limits, handlers_dispatch, handlers_refused, handlers) >= 0);
        FUZZ_ASSERT(http_server_add_listener(server, listener, false) >= 0);

        int fd = dial(listener);
        converse(event, fd, data, size);
        close(fd);

        Table *t = registry_table(registry);
        FUZZ_ASSERT(table_foreach_sorted(t, check_entry, NULL) >= 0);
        FUZZ_ASSERT(table_foreach_override(t, check_override, NULL) >= 0);
        if (table_size(t) > 0 || table_n_overrides(t) > 0)
                FUZZ_ASSERT(memmem(data, size, FUZZ_TOKEN, strlen(FUZZ_TOKEN)));

        http_server_free(server);
        handlers_free(handlers);
        registry_free(registry);
        sd_event_unref(event);
        return 0;
}
