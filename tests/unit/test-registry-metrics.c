/* SPDX-License-Identifier: MIT */

/* geeregistry's counters in the Prometheus text format. */

#include <criterion/criterion.h>

#include "metrics.h"

static char *render(const Metrics *m, const MetricsGauges *g) {
        Buffer b = {};
        cr_assert_eq(metrics_render(m, g, &b), 0);
        cr_assert_eq(buffer_append(&b, "", 1), 0);
        char *s = strdup(buffer_data(&b));
        buffer_done(&b);
        return s;
}

Test(metrics, counts_requests_by_method_and_status) {
        Metrics m = {};
        metrics_count_request(&m, "GET", 200);
        metrics_count_request(&m, "GET", 200);
        metrics_count_request(&m, "POST", 503);
        metrics_count_request(&m, "DELETE", 404);
        metrics_count_request(&m, "PUT", 405);
        metrics_count_request(&m, "GET", 418);
        MetricsGauges g = { .servers = 3, .max_servers = 10, .connections = 2, .timeout = 300 * USEC_PER_SEC };
        m.registrations = 4;
        m.expirations = 1;

        char *s = render(&m, &g);
        const char *expected[] = {
                "# HELP geeregistry_servers Registered servers that have not expired.\n"
                "# TYPE geeregistry_servers gauge\ngeeregistry_servers 3\n",
                "geeregistry_max_servers 10\n",
                "geeregistry_timeout_seconds 300\n",
                "geeregistry_http_connections 2\n",
                "# TYPE geeregistry_registrations_total counter\ngeeregistry_registrations_total 4\n",
                "geeregistry_expirations_total 1\n",
                "geeregistry_deregistrations_total 0\n",
                "# TYPE geeregistry_http_requests_total counter\n",
                "geeregistry_http_requests_total{method=\"GET\",code=\"200\"} 2\n",
                "geeregistry_http_requests_total{method=\"GET\",code=\"other\"} 1\n",
                "geeregistry_http_requests_total{method=\"POST\",code=\"503\"} 1\n",
                "geeregistry_http_requests_total{method=\"DELETE\",code=\"404\"} 1\n",
                "geeregistry_http_requests_total{method=\"other\",code=\"405\"} 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                cr_assert_not_null(strstr(s, expected[i]), "missing:\n%s\nin:\n%s", expected[i], s);
        cr_assert_null(strstr(s, "code=\"400\""), "zero samples are left out");
        cr_assert_eq(s[strlen(s) - 1], '\n');
        free(s);
}

Test(metrics, build_info_and_request_durations) {
        Metrics m = {};
        metrics_time_request(&m, "POST", 3 * NSEC_PER_USEC);       /* <= 10 µs */
        metrics_time_request(&m, "POST", 2 * 1000 * NSEC_PER_USEC); /* 2 ms: <= 2.5 ms */
        metrics_time_request(&m, "PATCH", 40 * NSEC_PER_SEC);       /* above every bound */
        MetricsGauges g = {};

        char *s = render(&m, &g);
        const char *expected[] = {
                "# TYPE geerpc_build_info gauge\ngeerpc_build_info{version=\"",
                "# TYPE geeregistry_http_request_duration_seconds histogram\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"POST\",le=\"0.00001\"} 1\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"POST\",le=\"0.001\"} 1\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"POST\",le=\"0.0025\"} 2\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"POST\",le=\"+Inf\"} 2\n",
                "geeregistry_http_request_duration_seconds_sum{method=\"POST\"} 0.002003\n",
                "geeregistry_http_request_duration_seconds_count{method=\"POST\"} 2\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"other\",le=\"30\"} 0\n",
                "geeregistry_http_request_duration_seconds_bucket{method=\"other\",le=\"+Inf\"} 1\n",
                "geeregistry_http_request_duration_seconds_sum{method=\"other\"} 40\n",
                "geeregistry_http_request_duration_seconds_count{method=\"GET\"} 0\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                cr_assert_not_null(strstr(s, expected[i]), "missing:\n%s\nin:\n%s", expected[i], s);
        free(s);
}
