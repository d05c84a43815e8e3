/* SPDX-License-Identifier: MIT */
/* The fast JSON reader against jansson: whatever the fast path accepts,
 * jansson must read the same way (the fast path may only decline). */

#include "codec/json-fast.h"
#include "codec/json-util.h"
#include "fuzz.h"

static void check_value(const char *p, size_t n) {
        json_t *fast = json_fast_parse_value(p, n);
        if (!fast)
                return;
        json_t *slow = json_parse_value(p, n, JSON_ALLOW_NUL, NULL);
        FUZZ_ASSERT(slow);
        FUZZ_ASSERT(json_equal(fast, slow));
        json_decref(fast);
        json_decref(slow);
}

/* What codec-json.c's general path makes of a header, Go's way: exact
 * key first, then case-folded; null leaves a field alone. */
static bool slow_field(json_t *h, const char *key, const char **ret) {
        json_t *v = json_object_get_fold(h, key);
        if (v && !json_is_string(v) && !json_is_null(v))
                return false;
        *ret = json_is_string(v) ? json_string_value(v) : "";
        return true;
}

static void check_header(const char *p, size_t n) {
        char *sm = NULL, *err = NULL;
        uint64_t seq = 0;
        int r = json_fast_parse_header(p, n, &sm, &seq, &err);
        FUZZ_ASSERT(r == 0 || r == 1);
        if (r == 0)
                return;

        json_t *h = json_parse_value(p, n, 0, NULL);
        json_t *jseq = json_object_get_fold(h, "Seq");
        if (!h) {
                /* jansson reads integers into int64: a larger Seq (valid for
                 * Go's uint64) is the only thing it may refuse. */
                FUZZ_ASSERT(seq > (uint64_t) INT64_MAX);
        } else {
                const char *slow_sm, *slow_err;
                FUZZ_ASSERT(json_is_object(h));
                FUZZ_ASSERT(slow_field(h, "ServiceMethod", &slow_sm) && streq(sm, slow_sm));
                FUZZ_ASSERT(slow_field(h, "Error", &slow_err) && streq(err, slow_err));
                FUZZ_ASSERT(!jseq || json_is_null(jseq) || json_is_integer(jseq));
                FUZZ_ASSERT(seq == (json_is_integer(jseq) ? (uint64_t) json_integer_value(jseq) : 0));
        }
        json_decref(h);
        free(sm);
        free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_value((const char *) data, size);
        check_header((const char *) data, size);
        return 0;
}
