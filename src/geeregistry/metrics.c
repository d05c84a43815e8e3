/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "basic/prometheus.h"
#include "metrics.h"

static const unsigned statuses[] = { METRICS_STATUSES };
static const char *const method_names[_METRICS_METHOD_MAX] = {
        [METRICS_GET] = "GET",
        [METRICS_POST] = "POST",
        [METRICS_DELETE] = "DELETE",
        [METRICS_PATCH] = "PATCH",
        [METRICS_OTHER_METHOD] = "other",
};

_Static_assert(ELEMENTSOF(statuses) + 1 == METRICS_N_STATUSES, "METRICS_N_STATUSES is out of date");

static MetricsMethod metrics_method_from_string(const char *method) {
        for (size_t i = 0; i < METRICS_OTHER_METHOD; i++)
                if (streq(method, method_names[i]))
                        return (MetricsMethod) i;
        return METRICS_OTHER_METHOD;
}

static size_t status_index(unsigned status) {
        for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
                if (statuses[i] == status)
                        return i;
        return ELEMENTSOF(statuses);
}

void metrics_count_request(Metrics *m, const char *method, unsigned status) {
        m->requests[metrics_method_from_string(method)][status_index(status)]++;
}

void metrics_time_request(Metrics *m, const char *method, uint64_t nsec) {
        histogram_observe(&m->request_duration[metrics_method_from_string(method)], nsec);
}

static int metric(Buffer *out, const char *name, const char *type, const char *help, uint64_t value) {
        char full[128];
        snprintf(full, sizeof full, "geeregistry_%s", name);
        return prom_metric(out, full, type, help, value);
}

static int render_durations(const Metrics *m, Buffer *out) {
        const char *name = "geeregistry_http_request_duration_seconds";
        int r = prom_family(out, name, "histogram", "Time from a request's complete headers to its queued response.");
        for (size_t i = 0; r >= 0 && i < _METRICS_METHOD_MAX; i++) {
                HistogramSnapshot h;
                histogram_snapshot(&m->request_duration[i], &h);
                r = prom_histogram(out, name, &h, "method", method_names[i], NULL);
        }
        return r;
}

static int render_requests(const Metrics *m, Buffer *out) {
        const char *name = "geeregistry_http_requests_total";
        int r = prom_family(out, name, "counter", "HTTP requests answered, by method and status.");
        for (size_t i = 0; r >= 0 && i < _METRICS_METHOD_MAX; i++)
                for (size_t j = 0; r >= 0 && j < METRICS_N_STATUSES; j++) {
                        if (m->requests[i][j] == 0)
                                continue;
                        char code[16];
                        if (j < ELEMENTSOF(statuses))
                                snprintf(code, sizeof code, "%u", statuses[j]);
                        else
                                strcpy(code, "other");
                        r = prom_sample(out, name, m->requests[i][j], "method", method_names[i], "code", code, NULL);
                }
        return r;
}

/* Most servers first, then by name. */
static int cmp_service(const void *a, const void *b) {
        const MetricsService *x = a, *y = b;
        if (x->servers != y->servers)
                return x->servers > y->servers ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* The per-service series of geeregistry_servers, bounded. */
static int render_services(const MetricsGauges *g, Buffer *out) {
        if (g->n_services > 1)
                qsort(g->services, g->n_services, sizeof *g->services, cmp_service);
        int r = 0;
        for (size_t i = 0; r >= 0 && i < MIN(g->n_services, (size_t) METRICS_SERVICES_MAX); i++)
                r = prom_sample(out, "geeregistry_servers", g->services[i].servers, "service", g->services[i].name,
                                NULL);
        return r;
}

int metrics_render(const Metrics *m, const MetricsGauges *g, Buffer *out) {
        const struct {
                const char *name, *type, *help;
                uint64_t value;
        } rows[] = {
                { "servers", "gauge",
                  "Registered servers that have not expired; with service=, those a ?service= GET lists (the 64 "
                  "services listing the most).",
                  g->servers },
                { "services", "gauge", "Service names announced by registered servers.", g->n_services },
                { "overrides", "gauge", "Weights set by the operator (drain, weight).", g->overrides },
                { "max_servers", "gauge", "Most servers the registry accepts (--max-servers).", g->max_servers },
                { "timeout_seconds", "gauge", "Heartbeat timeout in seconds (0: servers never expire).",
                  g->timeout / USEC_PER_SEC },
                { "http_connections", "gauge", "Open HTTP connections.", g->connections },
                { "registrations_total", "counter", "Servers registered (first heartbeat of an address).",
                  m->registrations },
                { "heartbeats_total", "counter", "Accepted heartbeats (POST), registrations included.", m->heartbeats },
                { "deregistrations_total", "counter", "Servers removed by DELETE.", m->deregistrations },
                { "expirations_total", "counter", "Servers removed for lack of heartbeats.", m->expirations },
                { "rejections_total", "counter", "Writes (POST, PATCH, DELETE) refused (4xx, 5xx).", m->rejections },
                { "state_writes_total", "counter", "State file writes.", m->state_writes },
                { "state_write_errors_total", "counter", "State file writes that failed.", m->state_write_errors },
        };
        int r = prom_build_info(out);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(rows); i++) {
                r = metric(out, rows[i].name, rows[i].type, rows[i].help, rows[i].value);
                if (r >= 0 && i == 0)
                        r = render_services(g, out);
        }
        if (r >= 0)
                r = render_requests(m, out);
        if (r >= 0)
                r = render_durations(m, out);
        return r;
}
