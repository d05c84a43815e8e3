/* SPDX-License-Identifier: MIT */
#include "rpc/server-internal.h"

/* The numbers the server counts, for the API; /metrics and /debug/geerpc
 * read the same counters. Counting itself is method_count() (inline, on
 * the hot path). */

static const char *const code_names[_GEERPC_CALL_CODE_MAX] = {
        [GEERPC_CALL_OK] = "ok",
        [GEERPC_CALL_ERROR] = "error",
        [GEERPC_CALL_TIMEOUT] = "timeout",
        [GEERPC_CALL_BAD_REQUEST] = "bad_request",
        [GEERPC_CALL_UNKNOWN_SERVICE] = "unknown_service",
        [GEERPC_CALL_UNKNOWN_METHOD] = "unknown_method",
        [GEERPC_CALL_UNAVAILABLE] = "unavailable",
        [GEERPC_CALL_CANCELED] = "canceled",
};

_public_ const char *geerpc_call_code_to_string(geerpc_call_code code) {
        return (unsigned) code < _GEERPC_CALL_CODE_MAX ? code_names[code] : NULL;
}

const Method *server_method_at(geerpc_server *s, size_t index, const Service **ret_service) {
        for (size_t i = 0; i < s->n_services; i++) {
                if (index < s->services[i].n_methods) {
                        *ret_service = &s->services[i];
                        return &s->services[i].methods[index];
                }
                index -= s->services[i].n_methods;
        }
        return NULL;
}

static void fill_method_stats(const Service *svc, const Method *m, geerpc_method_stats *ret) {
        HistogramSnapshot h;
        histogram_snapshot(&m->stats.duration, &h);
        *ret = (geerpc_method_stats) {
                .service = svc->name,
                .method = m->name,
                .description = m->description,
                .flags = m->flags,
                .duration_count = h.count,
                .duration_sum_usec = h.sum_nsec / NSEC_PER_USEC,
        };
        for (size_t i = 0; i < _GEERPC_CALL_CODE_MAX; i++)
                ret->calls[i] = counter_get(&m->stats.calls[i]);
        for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
                ret->duration_le_usec[i] = histogram_bounds_nsec[i] / NSEC_PER_USEC;
                ret->duration_buckets[i] = h.cumulative[i];
        }
}

_public_ int geerpc_server_get_method_stats_by_index(geerpc_server *s, size_t index, geerpc_method_stats *ret) {
        const Service *svc;
        if (!s || !ret)
                return -EINVAL;
        const Method *m = server_method_at(s, index, &svc);
        if (!m)
                return -ENOENT;
        fill_method_stats(svc, m, ret);
        return 0;
}

_public_ int geerpc_server_get_method_stats(geerpc_server *s, const char *service, const char *method,
                                            geerpc_method_stats *ret) {
        if (!s || !service || !method || !ret)
                return -EINVAL;
        for (size_t i = 0; i < s->n_services; i++) {
                const Service *svc = &s->services[i];
                if (!streq(svc->name, service))
                        continue;
                for (size_t j = 0; j < svc->n_methods; j++)
                        if (streq(svc->methods[j].name, method)) {
                                fill_method_stats(svc, &svc->methods[j], ret);
                                return 0;
                        }
        }
        return -ENOENT;
}

uint64_t service_calls(const Service *svc, geerpc_call_code code) {
        uint64_t n = code == GEERPC_CALL_UNKNOWN_METHOD ? counter_get(&svc->unknown_method) : 0;
        for (size_t i = 0; i < svc->n_methods; i++)
                n += counter_get(&svc->methods[i].stats.calls[code]);
        return n;
}

_public_ int geerpc_server_get_stats(geerpc_server *s, geerpc_server_stats *ret) {
        if (!s || !ret)
                return -EINVAL;
        *ret = (geerpc_server_stats) {
                .connections = s->n_conns,
                .http_connections = s->http ? http_server_n_connections(s->http) : 0,
                .in_flight = s->n_unanswered,
                .bytes_received = counter_get(&s->stats.bytes_in),
                .bytes_sent = counter_get(&s->stats.bytes_out),
        };
        for (size_t code = 0; code < _GEERPC_CALL_CODE_MAX; code++) {
                ret->calls[code] = counter_get(&s->stats.unmatched[code]);
                for (size_t i = 0; i < s->n_services; i++)
                        ret->calls[code] += service_calls(&s->services[i], code);
        }
        return 0;
}
