/* SPDX-License-Identifier: MIT */
/* The Option, the first thing a peer sends on an RPC connection. What
 * option_parse() accepts must survive option_append() unchanged. */

#include "codec/option.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Option o, again;
        char *why = NULL;

        if (size > OPTION_SIZE_MAX)
                return 0; /* the server's scanner refuses these before parsing */
        int r = option_parse((const char *) data, size, &o, &why);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG || r == -EPROTO || r == -EPROTONOSUPPORT);
                free(why);
                return 0;
        }
        FUZZ_ASSERT(o.connect_timeout_ns >= 0 && o.handle_timeout_ns >= 0);

        Buffer b = {};
        FUZZ_ASSERT(option_append(&b, &o) >= 0);
        FUZZ_ASSERT(option_parse(buffer_data(&b), buffer_len(&b), &again, NULL) >= 0);
        FUZZ_ASSERT(memcmp(&o, &again, sizeof o) == 0);
        buffer_done(&b);
        return 0;
}
