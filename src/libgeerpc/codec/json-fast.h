/* SPDX-License-Identifier: MIT */
#pragma once

/* Fast paths for the plain JSON that nearly every call carries.
 *
 * jansson's general parser costs several thousand instructions even for a
 * 20-byte value -- more than everything else a small call does. These
 * functions read the common shapes directly and build the same jansson
 * values; anything outside their narrow grammar (escapes, non-ASCII bytes,
 * reals, nesting deeper than one level, odd spacing of numbers) makes them
 * decline, and the caller falls back to jansson, which decides what is
 * valid. Declining is never an error. */

#include <jansson.h>

#include "basic/macro.h"

/* A header {"ServiceMethod":"...","Seq":N,"Error":"..."} (any order, any
 * subset, null values). Returns 1 and malloc'd strings on success, 0 to
 * decline, -ENOMEM. Outputs are written only on success. */
int json_fast_parse_header(const char *p, size_t n, char **ret_service_method, uint64_t *ret_seq,
                           char **ret_error);

/* A scalar (integer, plain string, true, false, null), or an object or
 * array whose members are scalars. Returns a new reference, or NULL to
 * decline. */
json_t *json_fast_parse_value(const char *p, size_t n);
