/* SPDX-License-Identifier: MIT */

/* The Prometheus text writer and the latency histogram (basic/). */

#include <criterion/criterion.h>

#include "basic/prometheus.h"
#include "config.h"

static char *take(Buffer *b) {
        cr_assert_eq(buffer_append(b, "", 1), 0);
        char *s = strdup(buffer_data(b));
        buffer_done(b);
        return s;
}

Test(prometheus, seconds_format_trims_zeros) {
        char buf[32];
        cr_assert_str_eq(seconds_format(buf, 0), "0");
        cr_assert_str_eq(seconds_format(buf, 10 * NSEC_PER_USEC), "0.00001");
        cr_assert_str_eq(seconds_format(buf, 2500 * NSEC_PER_USEC * 1000), "2.5");
        cr_assert_str_eq(seconds_format(buf, 30 * NSEC_PER_SEC), "30");
        cr_assert_str_eq(seconds_format(buf, 1), "0.000000001");
        cr_assert_str_eq(seconds_format(buf, UINT64_MAX), "18446744073.709551615");
}

Test(prometheus, samples_escape_label_values) {
        Buffer b = {};
        cr_assert_eq(prom_family(&b, "x_total", "counter", "Things."), 0);
        cr_assert_eq(prom_sample(&b, "x_total", 3, NULL), 0);
        cr_assert_eq(prom_sample(&b, "x_total", 4, "a", "q\"b\\c\nd", "e", "", NULL), 0);
        cr_assert_eq(prom_metric(&b, "y", "gauge", "Y.", 18446744073709551615ULL), 0);
        char *s = take(&b);
        cr_assert_str_eq(s, "# HELP x_total Things.\n# TYPE x_total counter\n"
                            "x_total 3\n"
                            "x_total{a=\"q\\\"b\\\\c\\nd\",e=\"\"} 4\n"
                            "# HELP y Y.\n# TYPE y gauge\ny 18446744073709551615\n");
        free(s);
}

Test(prometheus, histogram_is_cumulative_with_inf_sum_and_count) {
        Histogram h = {};
        histogram_observe(&h, 0);                      /* first bucket */
        histogram_observe(&h, 10 * NSEC_PER_USEC);     /* on the bound: still the first */
        histogram_observe(&h, 10 * NSEC_PER_USEC + 1); /* the second */
        histogram_observe(&h, 31 * NSEC_PER_SEC);      /* above them all */
        HistogramSnapshot snap;
        histogram_snapshot(&h, &snap);
        cr_assert_eq(snap.cumulative[0], 2);
        cr_assert_eq(snap.cumulative[1], 3);
        cr_assert_eq(snap.cumulative[HISTOGRAM_BUCKETS - 1], 3);
        cr_assert_eq(snap.count, 4);
        cr_assert_eq(snap.sum_nsec, 20 * NSEC_PER_USEC + 1 + 31 * NSEC_PER_SEC);

        Buffer b = {};
        cr_assert_eq(prom_histogram(&b, "d_seconds", &snap, "m", "x", NULL), 0);
        char *s = take(&b);
        const char *expected[] = {
                "d_seconds_bucket{m=\"x\",le=\"0.00001\"} 2\n",
                "d_seconds_bucket{m=\"x\",le=\"0.000025\"} 3\n",
                "d_seconds_bucket{m=\"x\",le=\"30\"} 3\n",
                "d_seconds_bucket{m=\"x\",le=\"+Inf\"} 4\n",
                "d_seconds_sum{m=\"x\"} 31.000020001\n",
                "d_seconds_count{m=\"x\"} 4\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                cr_assert_not_null(strstr(s, expected[i]), "missing %s in:\n%s", expected[i], s);
        free(s);

        /* Without labels, le is the only one. */
        cr_assert_eq(prom_histogram(&b, "e", &snap, NULL), 0);
        s = take(&b);
        cr_assert(strncmp(s, "e_bucket{le=\"0.00001\"} 2\n", 25) == 0, "%s", s);
        cr_assert_not_null(strstr(s, "\ne_sum 31.000020001\ne_count 4\n"));
        free(s);
}

Test(prometheus, build_info) {
        Buffer b = {};
        cr_assert_eq(prom_build_info(&b), 0);
        char *s = take(&b);
        cr_assert_str_eq(s, "# HELP geerpc_build_info The geerpc version this program was built from.\n"
                            "# TYPE geerpc_build_info gauge\n"
                            "geerpc_build_info{version=\"" GEERPC_VERSION "\"} 1\n");
        free(s);
}
