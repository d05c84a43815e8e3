/* SPDX-License-Identifier: MIT */
#include "basic/prometheus.h"
#include "rpc/server-internal.h"

/* GET /metrics on the RPC port, in the Prometheus text format. Label
 * values come from registration only, never from what clients send:
 * calls to unknown services or methods are counted with empty labels, so
 * that a client cannot make the series grow. */

#define CALLS "geerpc_server_calls_total"
#define DURATION "geerpc_server_call_duration_seconds"

static bool code_is_methods(geerpc_call_code code) {
        return code != GEERPC_CALL_UNKNOWN_SERVICE && code != GEERPC_CALL_UNKNOWN_METHOD;
}

static int render_calls(geerpc_server *s, Buffer *out) {
        int r = prom_family(out, CALLS, "counter", "RPC calls answered, by service, method and outcome.");
        for (size_t i = 0; r >= 0 && i < s->n_services; i++) {
                const Service *svc = &s->services[i];
                for (size_t j = 0; r >= 0 && j < svc->n_methods; j++)
                        for (geerpc_call_code code = 0; r >= 0 && code < _GEERPC_CALL_CODE_MAX; code++)
                                if (code_is_methods(code))
                                        r = prom_sample(out, CALLS, counter_get(&svc->methods[j].stats.calls[code]),
                                                        "service", svc->name, "method", svc->methods[j].name, "code",
                                                        geerpc_call_code_to_string(code), NULL);
                if (r >= 0)
                        r = prom_sample(out, CALLS, counter_get(&svc->unknown_method), "service", svc->name, "method", "",
                                        "code", geerpc_call_code_to_string(GEERPC_CALL_UNKNOWN_METHOD), NULL);
        }
        const geerpc_call_code unmatched[] = { GEERPC_CALL_UNKNOWN_SERVICE, GEERPC_CALL_BAD_REQUEST };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(unmatched); i++)
                r = prom_sample(out, CALLS, counter_get(&s->stats.unmatched[unmatched[i]]), "service", "", "method", "",
                                "code", geerpc_call_code_to_string(unmatched[i]), NULL);
        return r;
}

static int render_durations(geerpc_server *s, Buffer *out) {
        int r = prom_family(out, DURATION, "histogram",
                            "Time from reading a request to queueing its reply, for calls that ran their handler.");
        for (size_t i = 0; r >= 0 && i < s->n_services; i++)
                for (size_t j = 0; r >= 0 && j < s->services[i].n_methods; j++) {
                        const Method *m = &s->services[i].methods[j];
                        HistogramSnapshot h;
                        histogram_snapshot(&m->stats.duration, &h);
                        r = prom_histogram(out, DURATION, &h, "service", s->services[i].name, "method", m->name, NULL);
                }
        return r;
}

static int render_connections(geerpc_server *s, Buffer *out) {
        static const char *const kinds[_CONN_KIND_MAX] = {
                [CONN_KIND_RPC] = "rpc",
                [CONN_KIND_CONNECT] = "connect",
                [CONN_KIND_HTTP] = "http",
        };
        const char *name = "geerpc_server_accepted_connections_total";
        int r = prom_family(out, name, "counter",
                            "Connections accepted, by what they turned out to be: rpc (an Option first), connect "
                            "(HTTP CONNECT, then RPC), http.");
        for (size_t i = 0; r >= 0 && i < _CONN_KIND_MAX; i++)
                r = prom_sample(out, name, counter_get(&s->stats.accepted[i]), "kind", kinds[i], NULL);
        return r;
}

int server_metrics_render(geerpc_server *s, Buffer *out) {
        geerpc_server_stats st;
        (void) geerpc_server_get_stats(s, &st);
        const struct {
                const char *name, *type, *help;
                uint64_t value;
        } rows[] = {
                { "geerpc_server_calls_in_flight", "gauge", "Calls received and not answered yet.", st.in_flight },
                { "geerpc_server_connections", "gauge", "Open RPC connections (those not told apart yet included).",
                  st.connections },
                { "geerpc_server_http_connections", "gauge", "Open HTTP connections on the RPC port.",
                  st.http_connections },
                { "geerpc_server_received_bytes_total", "counter", "Bytes read from RPC connections.", st.bytes_received },
                { "geerpc_server_sent_bytes_total", "counter", "Bytes written to RPC connections.", st.bytes_sent },
        };

        int r = prom_build_info(out);
        if (r >= 0)
                r = render_calls(s, out);
        if (r >= 0)
                r = render_durations(s, out);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(rows); i++)
                r = prom_metric(out, rows[i].name, rows[i].type, rows[i].help, rows[i].value);
        if (r >= 0)
                r = render_connections(s, out);
        return r;
}
