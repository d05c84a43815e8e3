/* SPDX-License-Identifier: MIT */
/* The JSON scanner over a stream that arrives in pieces, as reads from a
 * socket do. The first byte chooses the piece size, the second a flood of
 * whitespace (up to 64 KiB, which no fuzzer would type) and the third
 * where in the stream it goes. The values found must be the same whatever
 * the piece size, and what waits in the buffer never exceeds the bound,
 * however much whitespace came. */

#include "basic/buffer.h"
#include "codec/json-scanner.h"
#include "fuzz.h"

#define FUZZ_VALUE_MAX 4096U
#define FUZZ_VALUES_MAX 512U

typedef struct Found {
        size_t start[FUZZ_VALUES_MAX], end[FUZZ_VALUES_MAX]; /* in the whole stream */
        size_t n;
        int error;
} Found;

static void scan(const char *stream, size_t len, size_t piece, Found *f) {
        JsonScanner s;
        Buffer in = {};
        size_t fed = 0; /* bytes of the stream appended */

        json_scanner_init(&s, FUZZ_VALUE_MAX);
        *f = (Found) {};
        while (f->n < FUZZ_VALUES_MAX) {
                size_t size;
                int r = json_scanner_scan(&s, &in, &size);
                if (r < 0) {
                        FUZZ_ASSERT(r == -EBADMSG || r == -EMSGSIZE);
                        f->error = r;
                        break;
                }
                if (r == 1) {
                        FUZZ_ASSERT(size > 0 && size <= buffer_len(&in) && size <= FUZZ_VALUE_MAX);
                        FUZZ_ASSERT(strchr("{[\"-0123456789tfn", buffer_data(&in)[0]));
                        f->start[f->n] = fed - buffer_len(&in);
                        f->end[f->n] = f->start[f->n] + size;
                        f->n++;
                        json_scanner_consume(&s, &in, size);
                        continue;
                }
                /* Waiting for more: what is kept is within the bound,
                 * whitespace included. */
                FUZZ_ASSERT(buffer_len(&in) < FUZZ_VALUE_MAX);
                if (fed == len)
                        break;
                size_t k = MIN(piece, len - fed);
                FUZZ_ASSERT(buffer_append(&in, stream + fed, k) >= 0);
                fed += k;
        }
        buffer_done(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 3)
                return 0;
        size_t piece = 1 + data[0] % 97, flood = (size_t) data[1] * 256U;
        const char *payload = (const char *) data + 3;
        size_t n = size - 3, at = n > 0 ? data[2] % (n + 1) : 0;

        /* payload[0..at) + flood spaces + payload[at..n) */
        char *stream = malloc(n + flood + 1);
        FUZZ_ASSERT(stream);
        memcpy(stream, payload, at);
        memset(stream + at, data[2] & 1 ? ' ' : '\n', flood);
        memcpy(stream + at + flood, payload + at, n - at);

        static Found whole, pieces; /* large: not on the stack */
        scan(stream, n + flood, n + flood, &whole);
        scan(stream, n + flood, piece, &pieces);
        FUZZ_ASSERT(whole.error == pieces.error && whole.n == pieces.n);
        for (size_t i = 0; i < whole.n; i++)
                FUZZ_ASSERT(whole.start[i] == pieces.start[i] && whole.end[i] == pieces.end[i]);
        free(stream);
        return 0;
}
