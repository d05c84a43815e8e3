/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry's counters, and GET /metrics in the Prometheus text
 * format (version 0.0.4). Everything runs on the loop thread: plain
 * integers (the histograms are the library's, atomic for other users). */

#include "basic/buffer.h"
#include "basic/histogram.h"
#include "basic/macro.h"

typedef enum MetricsMethod {
        METRICS_GET,
        METRICS_POST,
        METRICS_DELETE,
        METRICS_PATCH,
        METRICS_OTHER_METHOD,
        _METRICS_METHOD_MAX,
} MetricsMethod;

/* The statuses the registry answers with; anything else counts as "other". */
#define METRICS_STATUSES 200, 400, 401, 404, 405, 413, 431, 503
#define METRICS_N_STATUSES (8 + 1)

typedef struct Metrics {
        uint64_t registrations;   /* first heartbeat of an address */
        uint64_t heartbeats;      /* every accepted POST, first ones included */
        uint64_t deregistrations; /* DELETE of a registered address */
        uint64_t expirations;     /* removed for lack of heartbeats */
        uint64_t rejections;      /* POST/DELETE answered 4xx/5xx */
        uint64_t state_writes;
        uint64_t state_write_errors;
        uint64_t requests[_METRICS_METHOD_MAX][METRICS_N_STATUSES];
        /* From the request's complete headers to its queued response. */
        Histogram request_duration[_METRICS_METHOD_MAX];
} Metrics;

/* Named limit: geeregistry_servers{service="..."} series, one per service
 * name servers announce: the METRICS_SERVICES_MAX services listing the
 * most servers (ties by name), whatever names heartbeats make up.
 * geeregistry_services says how many names there are. */
#define METRICS_SERVICES_MAX 64U

typedef struct MetricsService {
        const char *name;
        uint64_t servers; /* listed for it: offering it, or services unknown */
} MetricsService;

/* Values that are read when rendering rather than counted. */
typedef struct MetricsGauges {
        uint64_t servers;
        uint64_t max_servers;
        uint64_t connections;
        usec_t timeout;
        uint64_t overrides;
        /* Every service name with its count (any order; rendering picks
         * the METRICS_SERVICES_MAX largest and sorts them). */
        MetricsService *services;
        size_t n_services;
} MetricsGauges;

void metrics_count_request(Metrics *m, const char *method, unsigned status);
void metrics_time_request(Metrics *m, const char *method, uint64_t nsec);
int metrics_render(const Metrics *m, const MetricsGauges *g, Buffer *out);
