/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>

#include "basic/prometheus.h"
#include "config.h"

int prom_family(Buffer *out, const char *name, const char *type, const char *help) {
        return buffer_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int append_label_value(Buffer *out, const char *v) {
        for (const char *p = v; *p; p++) {
                const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
                int r = esc ? buffer_append_string(out, esc) : buffer_append(out, p, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* name{k="v",...[,le="..."]} for the pairs in ap (not consumed: a copy is). */
static int append_series(Buffer *out, const char *name, const char *suffix, va_list ap, const char *le) {
        va_list aq;
        bool first = true;
        int r = buffer_appendf(out, "%s%s", name, suffix);
        va_copy(aq, ap);
        for (const char *k; r >= 0 && (k = va_arg(aq, const char *));) {
                const char *v = va_arg(aq, const char *);
                r = buffer_appendf(out, "%s%s=\"", first ? "{" : ",", k);
                if (r >= 0)
                        r = append_label_value(out, strempty(v));
                if (r >= 0)
                        r = buffer_append_string(out, "\"");
                first = false;
        }
        va_end(aq);
        if (r >= 0 && le)
                r = buffer_appendf(out, "%sle=\"%s\"", first ? "{" : ",", le);
        if (r >= 0 && (!first || le))
                r = buffer_append_string(out, "}");
        return r;
}

int prom_sample(Buffer *out, const char *name, uint64_t value, ...) {
        va_list ap;
        va_start(ap, value);
        int r = append_series(out, name, "", ap, NULL);
        va_end(ap);
        if (r < 0)
                return r;
        return buffer_appendf(out, " %" PRIu64 "\n", value);
}

int prom_metric(Buffer *out, const char *name, const char *type, const char *help, uint64_t value) {
        int r = prom_family(out, name, type, help);
        return r < 0 ? r : prom_sample(out, name, value, NULL);
}

int prom_histogram(Buffer *out, const char *name, const HistogramSnapshot *h, ...) {
        char le[32];
        va_list ap;
        int r = 0;

        va_start(ap, h);
        for (size_t i = 0; r >= 0 && i <= HISTOGRAM_BUCKETS; i++) {
                const char *bound = i < HISTOGRAM_BUCKETS ? seconds_format(le, histogram_bounds_nsec[i]) : "+Inf";
                r = append_series(out, name, "_bucket", ap, bound);
                if (r >= 0)
                        r = buffer_appendf(out, " %" PRIu64 "\n", i < HISTOGRAM_BUCKETS ? h->cumulative[i] : h->count);
        }
        if (r >= 0)
                r = append_series(out, name, "_sum", ap, NULL);
        if (r >= 0)
                r = buffer_appendf(out, " %s\n", seconds_format(le, h->sum_nsec));
        if (r >= 0)
                r = append_series(out, name, "_count", ap, NULL);
        if (r >= 0)
                r = buffer_appendf(out, " %" PRIu64 "\n", h->count);
        va_end(ap);
        return r;
}

int prom_build_info(Buffer *out) {
        int r = prom_family(out, "geerpc_build_info", "gauge", "The geerpc version this program was built from.");
        if (r < 0)
                return r;
        return prom_sample(out, "geerpc_build_info", 1, "version", GEERPC_VERSION, NULL);
}
