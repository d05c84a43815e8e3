/* SPDX-License-Identifier: MIT */

/* geerpcctl call: one call to one server (picked by --mode), or, with
 * --count N, N calls one after another and a summary of how they went (a
 * quick load check). */

#include <stdio.h>

#include "basic/duration.h"
#include "geerpcctl.h"
#include "shared/cli.h"

#define COUNT_MAX 1000000UL
/* Distinct error texts counted in a --count summary; the rest is "other". */
#define COUNT_ERRORS_MAX 8

static int call_once(Ctl *c, geerpc_xclient *x) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL, *server = NULL;
        int r = geerpc_xclient_call_full(x, c->key, c->method, c->call_args, ctl_remaining(c), &reply, &error,
                                         &server);
        if (r < 0) {
                const char *text = ctl_error_text(r, error);
                _cleanup_json_ json_t *extra = json_pack("{s:s}", "method", c->method);
                if (!server)
                        return output_failure_error(&c->out, ctl_exit_status(r), extra, text, "call %s: %s",
                                                    c->method, text);
                json_object_set_new(extra, "server", json_string(server));
                return output_failure_error(&c->out, ctl_exit_status(r), extra, text, "call %s on %s: %s", c->method,
                                            server, text);
        }
        if (c->out.mode == OUTPUT_JSON) {
                _cleanup_json_ json_t *root = json_pack("{s:s,s:O}", "server", server, "reply", reply);
                output_json(&c->out, root);
        } else
                output_json(&c->out, reply);
        json_decref(reply);
        return EXIT_OK;
}

typedef struct CountStats {
        unsigned long calls, ok, failed;
        usec_t *latency; /* of every call, ok or not */
        usec_t elapsed;
        struct {
                char *text;
                unsigned long n;
        } errors[COUNT_ERRORS_MAX + 1]; /* the last one: "other" */
        int status; /* of the last failure */
} CountStats;

static void stats_add_error(CountStats *s, const char *text) {
        size_t i;
        for (i = 0; i < COUNT_ERRORS_MAX && s->errors[i].text; i++)
                if (streq(s->errors[i].text, text))
                        break;
        if (i < COUNT_ERRORS_MAX && !s->errors[i].text)
                s->errors[i].text = strdup(text);
        if (i < COUNT_ERRORS_MAX && !s->errors[i].text)
                i = COUNT_ERRORS_MAX; /* out of memory: "other" */
        s->errors[i].n++;
}

static void stats_done(CountStats *s) {
        free(s->latency);
        for (size_t i = 0; i < COUNT_ERRORS_MAX; i++)
                free(s->errors[i].text);
}

static int cmp_usec(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;
        return x < y ? -1 : x > y;
}

static usec_t percentile(const CountStats *s, unsigned p) {
        return s->calls ? s->latency[(s->calls - 1) * p / 100] : 0;
}

static json_t *stats_json(const CountStats *s) {
        json_t *errors = json_array();
        for (size_t i = 0; i <= COUNT_ERRORS_MAX; i++)
                if (s->errors[i].n > 0)
                        json_array_append_new(errors, json_pack("{s:o,s:I}", "error",
                                                                json_text(s->errors[i].text ?: "other errors"),
                                                                "count", (json_int_t) s->errors[i].n));
        return json_pack("{s:I,s:I,s:I,s:I,s:f,s:{s:I,s:I,s:I,s:I,s:I},s:o}", "calls", (json_int_t) s->calls, "ok",
                         (json_int_t) s->ok, "failed", (json_int_t) s->failed, "elapsed_ms",
                         (json_int_t) (s->elapsed / USEC_PER_MSEC), "calls_per_s",
                         s->elapsed ? (double) s->calls * USEC_PER_SEC / (double) s->elapsed : 0.0, "latency_us",
                         "min", (json_int_t) percentile(s, 0), "p50", (json_int_t) percentile(s, 50), "p90",
                         (json_int_t) percentile(s, 90), "p99", (json_int_t) percentile(s, 99), "max",
                         (json_int_t) percentile(s, 100), "errors", errors);
}

static void stats_print(const CountStats *s) {
        char a[GO_DURATION_MAX], b[GO_DURATION_MAX], c[GO_DURATION_MAX], d[GO_DURATION_MAX], e[GO_DURATION_MAX];
        printf("calls: %lu, ok: %lu, failed: %lu\n", s->calls, s->ok, s->failed);
        printf("elapsed: %s, %.0f calls/s\n", go_duration_format(a, (int64_t) (s->elapsed * NSEC_PER_USEC)),
               s->elapsed ? (double) s->calls * USEC_PER_SEC / (double) s->elapsed : 0.0);
        printf("latency: min %s, p50 %s, p90 %s, p99 %s, max %s\n",
               go_duration_format(a, (int64_t) (percentile(s, 0) * NSEC_PER_USEC)),
               go_duration_format(b, (int64_t) (percentile(s, 50) * NSEC_PER_USEC)),
               go_duration_format(c, (int64_t) (percentile(s, 90) * NSEC_PER_USEC)),
               go_duration_format(d, (int64_t) (percentile(s, 99) * NSEC_PER_USEC)),
               go_duration_format(e, (int64_t) (percentile(s, 100) * NSEC_PER_USEC)));
        fflush(stdout);
        for (size_t i = 0; i <= COUNT_ERRORS_MAX; i++)
                if (s->errors[i].n > 0)
                        output_note("%lu x %s", s->errors[i].n, s->errors[i].text ?: "other errors");
}

static void count_calls(Ctl *c, geerpc_xclient *x, CountStats *s) {
        _cleanup_free_ char *label = NULL;
        if (asprintf(&label, "call %s", c->method) < 0)
                label = NULL;
        Progress *p = progress_start(&c->out, strempty(label), c->count);
        usec_t start = now_usec(CLOCK_MONOTONIC);

        while (s->calls < c->count) {
                json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                usec_t t = now_usec(CLOCK_MONOTONIC);
                if (c->deadline != USEC_INFINITY && t >= c->deadline)
                        break;
                int r = geerpc_xclient_call_full(x, c->key, c->method, c->call_args, ctl_remaining(c), &reply,
                                                 &error, NULL);
                s->latency[s->calls++] = now_usec(CLOCK_MONOTONIC) - t;
                if (r == 0) {
                        s->ok++;
                        json_decref(reply);
                } else {
                        s->failed++;
                        s->status = ctl_exit_status(r);
                        stats_add_error(s, ctl_error_text(r, error));
                }
                progress_step(p);
        }
        s->elapsed = now_usec(CLOCK_MONOTONIC) - start;
        progress_stop(p);
        qsort(s->latency, s->calls, sizeof(usec_t), cmp_usec);
}

static int call_count(Ctl *c, geerpc_xclient *x) {
        CountStats s = { .latency = calloc(c->count, sizeof(usec_t)) };
        int status = EXIT_OK;
        if (!s.latency)
                return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));

        count_calls(c, x, &s);
        _cleanup_json_ json_t *summary = stats_json(&s);
        if (s.calls < c->count)
                status = output_failure(&c->out, EXIT_UNREACHABLE, summary,
                                        "deadline exceeded after %lu of %lu calls (--timeout bounds them all)", s.calls,
                                        c->count);
        else if (s.failed > 0)
                status = output_failure(&c->out, s.status, summary, "%lu of %lu calls failed", s.failed, s.calls);
        else if (c->out.mode == OUTPUT_JSON)
                output_json(&c->out, summary);
        if (c->out.mode != OUTPUT_JSON)
                stats_print(&s);
        stats_done(&s);
        return status;
}

static int call_run(Ctl *c) {
        geerpc_xclient *x;
        int r = ctl_xclient(c, &x);
        if (r != 0)
                return r;
        return c->count > 0 ? call_count(c, x) : call_once(c, x);
}

static int parse_count(Ctl *c, const char *value) {
        return cli_parse_unsigned("count", value, 1, COUNT_MAX, &c->count);
}

static const CtlOption call_options[] = {
        { "count", 'n', "N", "call N times in a row, then print the\n"
                              "calls, failures, rate and latency (a\n"
                              "quick load check)", parse_count },
        {},
};

const CtlCommand command_call = {
        .name = "call",
        .synopsis = "SERVICE.METHOD ARGS_JSON",
        .help = "call one server, print the reply as JSON",
        .options = call_options,
        .needs = CTL_NEEDS_SERVERS,
        .parse = ctl_parse_method_args,
        .run = call_run,
};
