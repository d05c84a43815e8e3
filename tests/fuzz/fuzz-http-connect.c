/* SPDX-License-Identifier: MIT */
/* The first bytes of a connection on the RPC port: the sniffing that tells
 * an Option, CONNECT and other HTTP apart, and both heads of the CONNECT
 * handshake (the server's request parser, the client's response parser). */

#include "basic/macro.h"
#include "fuzz.h"
#include "http/http-connect.h"

/* Small enough that the fuzzer reaches it, as the real limit's stand-in. */
#define SMALL_MAX 64

static void check_head(int r, const uint8_t *data, size_t size, size_t max) {
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r > 0);
        if (r > 0) {
                /* A head ends with its empty line, within the bytes and the limit. */
                FUZZ_ASSERT((size_t) r <= size && (size_t) r <= max);
                FUZZ_ASSERT(data[r - 1] == '\n');
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* A decision, once made, holds whatever follows. */
        HttpSniff s = http_sniff(data, size);
        for (size_t k = 0; k < MIN(size, (size_t) HTTP_SNIFF_BYTES); k++) {
                HttpSniff p = http_sniff(data, k);
                FUZZ_ASSERT(p == HTTP_SNIFF_MORE || p == s);
        }
        FUZZ_ASSERT(size < HTTP_SNIFF_BYTES || s != HTTP_SNIFF_MORE);

        const char *text = (const char *) data;
        size_t maxes[] = { HTTP_CONNECT_HEAD_MAX, SMALL_MAX };
        for (size_t i = 0; i < ELEMENTSOF(maxes); i++) {
                bool rpc = false;
                int r = http_connect_request_parse(text, size, maxes[i], &rpc);
                check_head(r, data, size, maxes[i]);
                if (r > 0) {
                        /* The head alone parses the same: nothing after it mattered. */
                        bool again = !rpc;
                        FUZZ_ASSERT(http_connect_request_parse(text, (size_t) r, maxes[i], &again) == r);
                        FUZZ_ASSERT(again == rpc);
                        FUZZ_ASSERT(s == HTTP_SNIFF_CONNECT);
                }

                unsigned status = 1000;
                r = http_connect_response_parse(text, size, maxes[i], &status);
                check_head(r, data, size, maxes[i]);
                if (r > 0)
                        FUZZ_ASSERT(status <= 999);
        }
        return 0;
}
