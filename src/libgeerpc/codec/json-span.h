/* SPDX-License-Identifier: MIT */
#pragma once

/* Finding the end of a run of ordinary bytes inside a JSON string, 32 or 16
 * bytes at a time (AVX2 or SSE2 on x86-64, chosen once; a byte loop
 * elsewhere). Large string values
 * are nearly all such runs, and looking at them one byte at a time made
 * scanning, reading and writing a 1 MiB string cost several times the
 * transfer of its bytes (docs/ARCHITECTURE.md, "Performance"). */

#include "basic/macro.h"

/* Length of the longest prefix of p[0..n) that a JSON string carries as it
 * is: printable ASCII (0x20..0x7f) other than '"' and '\\'. A writer copies
 * such a run unchanged; a reader needs neither unescaping nor UTF-8
 * validation for it. A scanner stops at every byte that is not: a quote,
 * an escape, or a byte whose validity the parser decides. */
size_t json_span_plain(const char *p, size_t n);

/* The same, copying the run to dst as it goes (one pass over the bytes
 * instead of two). dst must have room for n bytes: bytes after the run
 * may be overwritten too. */
size_t json_copy_plain(char *dst, const char *p, size_t n);

static inline bool json_byte_is_plain(unsigned char c) {
        return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}
