/* SPDX-License-Identifier: MIT */
#pragma once

/* Writing the Prometheus text exposition format (version 0.0.4): metric
 * families, samples with escaped label values, histograms. Shared by the
 * RPC server's /metrics and geeregistry's. */

#include "basic/buffer.h"
#include "basic/histogram.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
int prom_family(Buffer *out, const char *name, const char *type, const char *help);
/* One sample line. The arguments after value are label name, label value
 * pairs, ending with NULL; values are escaped (\\, \", \n). */
int prom_sample(Buffer *out, const char *name, uint64_t value, ...) _sentinel_;
/* A family with one sample without labels. */
int prom_metric(Buffer *out, const char *name, const char *type, const char *help, uint64_t value);
/* A histogram's name_bucket lines (cumulative, le="..." added to the
 * labels, "+Inf" last), name_sum in seconds and name_count; labels as for
 * prom_sample(). */
int prom_histogram(Buffer *out, const char *name, const HistogramSnapshot *h, ...) _sentinel_;
/* geerpc_build_info{version="..."} 1, with its HELP and TYPE lines. */
int prom_build_info(Buffer *out);
