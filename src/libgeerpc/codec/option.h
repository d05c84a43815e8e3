/* SPDX-License-Identifier: MIT */
#pragma once

/* The Option: the JSON object a client writes first on every connection
 * (docs/PROTOCOL.md). Durations are Go time.Duration values: nanoseconds. */

#include "basic/buffer.h"
#include "geerpc/defs.h"

#define GEERPC_MAGIC_NUMBER GEERPC_MAGIC_NUMBER_VALUE
/* Bound on the Option object; a peer that sends more is not a client. */
#define OPTION_SIZE_MAX 4096

typedef struct Option {
        int64_t magic_number;
        char codec_type[64];
        int64_t connect_timeout_ns;
        int64_t handle_timeout_ns;
} Option;

/* Parses one Option object. On failure returns -EBADMSG (not an Option),
 * -EPROTO (wrong magic number) or -EPROTONOSUPPORT (unknown codec) and
 * sets *ret_reason to a malloc'd text for the log. */
int option_parse(const char *p, size_t n, Option *ret, char **ret_reason);
int option_append(Buffer *out, const Option *o);
/* The same object padded with spaces before its '}' to exactly size bytes,
 * with no newline after it (CodecType.option_size says why). -EINVAL
 * when it does not fit. */
int option_append_padded(Buffer *out, const Option *o, size_t size);
