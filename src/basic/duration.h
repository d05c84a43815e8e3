/* SPDX-License-Identifier: MIT */
#pragma once

/* Durations as every geerpc program spells them on command lines and in configs
 * ("500ms", "2s", "5m", "1h", a plain number of seconds, "0"), and as Go's
 * time.Duration prints them in error texts ("1s", "1.5s", "2m0s"). */

#include "basic/macro.h"

/* Accepts one or more <number><unit> terms ("1m30s"; units ns, us, µs, ms,
 * s, m, h; a number may have a fraction) or a plain number of seconds.
 * The result is in whole microseconds, rounded to the nearest, except that
 * a duration above zero is never 0 ("1ns" is 1 us: 0 means "no limit" to
 * most callers). Returns -EINVAL for anything else, -ERANGE on overflow. */
int duration_parse(const char *s, usec_t *ret);

#define GO_DURATION_MAX 40
/* Formats nanoseconds exactly as Go's time.Duration.String() does. */
const char *go_duration_format(char buf[static GO_DURATION_MAX], int64_t nsec);
/* Short human form for status lines and logs: "12s", "4m", "1h5m". */
const char *duration_format_short(char buf[static GO_DURATION_MAX], usec_t usec);
