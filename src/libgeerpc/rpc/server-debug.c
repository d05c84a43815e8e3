/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "codec/json-util.h"
#include "config.h"
#include "rpc/server-internal.h"

/* /debug/geerpc: what the Go original's debug page shows (each service,
 * its methods, their call counts) plus kinds, descriptions, errors and
 * latencies; as HTML, or as JSON for programs. */

static uint64_t method_calls(const Method *m) {
        uint64_t n = 0;
        for (size_t i = 0; i < _GEERPC_CALL_CODE_MAX; i++)
                n += counter_get(&m->stats.calls[i]);
        return n;
}

static double seconds(uint64_t nsec) {
        return (double) nsec / (double) NSEC_PER_SEC;
}

static json_t *latency_json(const Method *m) {
        HistogramSnapshot h;
        histogram_snapshot(&m->stats.duration, &h);
        json_t *buckets = json_array();
        for (size_t i = 0; buckets && i < HISTOGRAM_BUCKETS; i++)
                if (json_array_append_new(buckets, json_pack("{s:f,s:I}", "le", seconds(histogram_bounds_nsec[i]), "count",
                                                             (json_int_t) h.cumulative[i])) < 0)
                        buckets = json_decref_null(buckets);
        if (!buckets)
                return NULL;
        return json_pack("{s:I,s:f,s:f,s:o}", "count", (json_int_t) h.count, "sum_seconds", seconds(h.sum_nsec),
                         "mean_seconds", h.count ? seconds(h.sum_nsec) / (double) h.count : 0.0, "buckets", buckets);
}

json_t *method_stats_json(const Method *m) {
        json_t *codes = json_object();
        for (size_t i = 0; codes && i < _GEERPC_CALL_CODE_MAX; i++) {
                if (i == GEERPC_CALL_UNKNOWN_SERVICE || i == GEERPC_CALL_UNKNOWN_METHOD)
                        continue; /* never a method's */
                if (json_object_set_new(codes, geerpc_call_code_to_string(i),
                                        json_integer((json_int_t) counter_get(&m->stats.calls[i]))) < 0)
                        codes = json_decref_null(codes);
        }
        json_t *latency = latency_json(m);
        if (!codes || !latency) {
                json_decref_null(codes);
                json_decref_null(latency);
                return NULL;
        }
        uint64_t calls = method_calls(m), ok = counter_get(&m->stats.calls[GEERPC_CALL_OK]);
        return json_pack("{s:I,s:I,s:o,s:o}", "calls", (json_int_t) calls, "errors", (json_int_t) (calls - ok), "codes",
                         codes, "latency", latency);
}

json_t *server_debug_json(geerpc_server *s) {
        geerpc_server_stats st;
        (void) geerpc_server_get_stats(s, &st);
        json_t *d = server_describe(s, NULL, true);
        json_t *calls = json_object();
        for (size_t i = 0; calls && i < _GEERPC_CALL_CODE_MAX; i++)
                if (json_object_set_new(calls, geerpc_call_code_to_string(i), json_integer((json_int_t) st.calls[i])) < 0)
                        calls = json_decref_null(calls);
        json_t *top = calls ? json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "version", GEERPC_VERSION, "connections",
                                        (json_int_t) st.connections, "http_connections", (json_int_t) st.http_connections,
                                        "in_flight", (json_int_t) st.in_flight, "bytes_received",
                                        (json_int_t) st.bytes_received, "bytes_sent", (json_int_t) st.bytes_sent, "calls",
                                        calls)
                            : NULL;
        if (!d || !top || json_object_update_new(d, top) < 0) {
                json_decref_null(d);
                return NULL;
        }
        return d;
}

/* ---- HTML ---------------------------------------------------------------- */

static int append_html(Buffer *out, const char *s) {
        for (const char *p = strempty(s); *p; p++) {
                const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : *p == '"' ? "&quot;" : NULL;
                int r = e ? buffer_append_string(out, e) : buffer_append(out, p, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_row(Buffer *out, const Method *m) {
        HistogramSnapshot h;
        histogram_snapshot(&m->stats.duration, &h);
        uint64_t calls = method_calls(m), errors = calls - counter_get(&m->stats.calls[GEERPC_CALL_OK]);
        int r = buffer_append_string(out, "<tr><td><code>");
        if (r >= 0)
                r = append_html(out, m->name);
        if (r >= 0)
                r = buffer_appendf(out, "</code></td><td>%s</td><td align=right>%" PRIu64 "</td><td align=right>%" PRIu64
                                        "</td><td align=right>%.1f</td><td>",
                                   method_kind(m), calls, errors,
                                   h.count ? (double) h.sum_nsec / (double) NSEC_PER_USEC / (double) h.count : 0.0);
        if (r >= 0)
                r = append_html(out, m->description);
        if (r >= 0)
                r = buffer_append_string(out, "</td></tr>\n");
        return r;
}

static int service_table(Buffer *out, const Service *svc) {
        int r = buffer_append_string(out, "<h2>Service ");
        if (r >= 0)
                r = append_html(out, svc->name);
        if (r >= 0)
                r = buffer_append_string(out, "</h2>\n<table border=1 cellpadding=4>\n"
                                              "<tr><th>Method</th><th>Kind</th><th>Calls</th><th>Errors</th>"
                                              "<th>Mean latency (&micro;s)</th><th>Description</th></tr>\n");
        for (size_t i = 0; r >= 0 && i < svc->n_methods; i++)
                r = method_row(out, &svc->methods[i]);
        if (r >= 0)
                r = buffer_append_string(out, "</table>\n");
        return r;
}

int server_debug_html(geerpc_server *s, Buffer *out) {
        geerpc_server_stats st;
        (void) geerpc_server_get_stats(s, &st);
        int r = buffer_appendf(out,
                               "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>GeeRPC services</title></head>\n"
                               "<body>\n<h1>GeeRPC services</h1>\n"
                               "<p>geerpc %s: %" PRIu64 " RPC connection(s), %" PRIu64 " call(s) in flight. "
                               "Also: <a href=\"?format=json\">JSON</a>, <a href=\"/metrics\">/metrics</a>.</p>\n",
                               GEERPC_VERSION, st.connections, st.in_flight);
        for (size_t i = 0; r >= 0 && i < s->n_services; i++)
                r = service_table(out, &s->services[i]);
        if (r >= 0)
                r = buffer_append_string(out, "</body></html>\n");
        return r;
}
