/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foo.h"

/* Reads Args{Num1, Num2} as Go's encoding/json would: missing fields are
 * 0, anything but an integer is an error. */
static int get_args(json_t *args, long long *ret_a, long long *ret_b, char **ret_error) {
        json_t *a = NULL, *b = NULL;

        if (json_is_object(args)) {
                a = json_object_get(args, "Num1");
                b = json_object_get(args, "Num2");
        } else if (!json_is_null(args)) {
                *ret_error = strdup("Foo: arguments must be an object {\"Num1\":int,\"Num2\":int}");
                return -EINVAL;
        }
        if ((a && !json_is_integer(a) && !json_is_null(a)) || (b && !json_is_integer(b) && !json_is_null(b))) {
                *ret_error = strdup("Foo: Num1 and Num2 must be integers");
                return -EINVAL;
        }
        *ret_a = json_is_integer(a) ? json_integer_value(a) : 0;
        *ret_b = json_is_integer(b) ? json_integer_value(b) : 0;
        return 0;
}

/* Go's int addition wraps; so does ours, without undefined behaviour. */
static long long wrapping_add(long long a, long long b) {
        return (long long) ((unsigned long long) a + (unsigned long long) b);
}

static int foo_sum(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        long long a, b;
        int r = get_args(args, &a, &b, ret_error);
        if (r < 0)
                return r;
        *ret_reply = json_integer(wrapping_add(a, b));
        return *ret_reply ? 0 : -ENOMEM;
}

static int foo_sleep(json_t *args, void *userdata, json_t **ret_reply, char **ret_error) {
        long long a, b;
        int r = get_args(args, &a, &b, ret_error);
        if (r < 0)
                return r;
        if (a > FOO_SLEEP_MAX_SECONDS) {
                if (asprintf(ret_error, "Foo.Sleep: Num1 must be at most %d seconds", FOO_SLEEP_MAX_SECONDS) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        if (a > 0) {
                struct timespec ts = { .tv_sec = (time_t) a };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        *ret_reply = json_integer(wrapping_add(a, b));
        return *ret_reply ? 0 : -ENOMEM;
}

int foo_register(geerpc_server *s) {
        static const geerpc_method methods[] = {
                { .name = "Sum", .handler = foo_sum, .description = "returns Num1 + Num2" },
                { .name = "Sleep",
                  .handler = foo_sleep,
                  .flags = GEERPC_METHOD_BLOCKING,
                  .description = "sleeps Num1 seconds, then returns Num1 + Num2" },
        };
        return geerpc_server_add_service(s, "Foo", methods, sizeof methods / sizeof methods[0], NULL);
}
