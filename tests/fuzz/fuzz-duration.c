/* SPDX-License-Identifier: MIT */
/* Durations as flags and configuration files spell them, and Go's
 * time.Duration formatting of whatever they parse to. */

#include "basic/duration.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256)
                return 0;
        char *s = fuzz_string(data, size);
        usec_t u = 12345;
        int r = duration_parse(s, &u);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL || r == -ERANGE);
                FUZZ_ASSERT(u == 12345); /* untouched on failure */
        } else {
                FUZZ_ASSERT(u != USEC_INFINITY);
                char buf[GO_DURATION_MAX];
                (void) duration_format_short(buf, u);
                FUZZ_ASSERT(strlen(buf) < GO_DURATION_MAX);
                if (u <= (usec_t) INT64_MAX / NSEC_PER_USEC) {
                        (void) go_duration_format(buf, (int64_t) (u * NSEC_PER_USEC));
                        FUZZ_ASSERT(strlen(buf) < GO_DURATION_MAX);
                }
        }
        free(s);
        return 0;
}
