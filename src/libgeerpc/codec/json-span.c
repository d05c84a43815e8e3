/* SPDX-License-Identifier: MIT */
#include "codec/json-span.h"

/* Both functions are one loop: a span that copies what it passes when given
 * a destination (a constant NULL when it does not, which the compiler then
 * drops). */

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE size_t span_bytes(const char *p, size_t i, size_t n, char *dst) {
        for (; i < n; i++) {
                if (!json_byte_is_plain((unsigned char) p[i]))
                        return i;
                if (dst)
                        dst[i] = p[i];
        }
        return n;
}

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>

/* x86-64 always has SSE2: 16 bytes at a time, two blocks per turn so that
 * the loop's own cost is small next to the loads. Where the CPU has AVX2
 * (nearly every one since 2013), 32 at a time: the choice is made once. */

/* Bits set for the bytes of v that end a run. Signed compares: bytes >=
 * 0x80 are negative, so "< 0x20" catches them too. */
static ALWAYS_INLINE unsigned special16(__m128i v) {
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        return (unsigned) _mm_movemask_epi8(m);
}

static ALWAYS_INLINE size_t span_sse2(const char *p, size_t n, char *dst) {
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
                __m128i a = _mm_loadu_si128((const __m128i *) (p + i));
                __m128i b = _mm_loadu_si128((const __m128i *) (p + i + 16));
                unsigned m = special16(a) | (special16(b) << 16);
                if (dst) {
                        /* Whole blocks: the caller has room for n bytes. */
                        _mm_storeu_si128((__m128i *) (dst + i), a);
                        _mm_storeu_si128((__m128i *) (dst + i + 16), b);
                }
                if (m)
                        return i + (size_t) __builtin_ctz(m);
        }
        return span_bytes(p, i, n, dst);
}

#define AVX2 __attribute__((target("avx2")))

static AVX2 ALWAYS_INLINE uint64_t special32(__m256i v) {
        __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))),
                                    _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v));
        return (uint32_t) _mm256_movemask_epi8(m);
}

static AVX2 ALWAYS_INLINE size_t span_avx2(const char *p, size_t n, char *dst) {
        size_t i = 0;
        for (; i + 64 <= n; i += 64) {
                __m256i a = _mm256_loadu_si256((const __m256i *) (p + i));
                __m256i b = _mm256_loadu_si256((const __m256i *) (p + i + 32));
                uint64_t m = special32(a) | (special32(b) << 32);
                if (dst) {
                        _mm256_storeu_si256((__m256i *) (dst + i), a);
                        _mm256_storeu_si256((__m256i *) (dst + i + 32), b);
                }
                if (m)
                        return i + (size_t) __builtin_ctzll(m);
        }
        return i + span_sse2(p + i, n - i, dst ? dst + i : NULL);
}

static AVX2 size_t span_plain_avx2(const char *p, size_t n) {
        return span_avx2(p, n, NULL);
}

static AVX2 size_t copy_plain_avx2(char *dst, const char *p, size_t n) {
        return span_avx2(p, n, dst);
}

static bool have_avx2(void) {
        /* 0 unknown, 1 no, 2 yes; racing first callers store the same. */
        static int known;
        int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
        if (k == 0) {
                __builtin_cpu_init();
                k = __builtin_cpu_supports("avx2") ? 2 : 1;
                __atomic_store_n(&known, k, __ATOMIC_RELAXED);
        }
        return k == 2;
}

/* Short runs (headers, keys) are not worth the wide loop. */
size_t json_span_plain(const char *p, size_t n) {
        return n >= 64 && have_avx2() ? span_plain_avx2(p, n) : span_sse2(p, n, NULL);
}

size_t json_copy_plain(char *dst, const char *p, size_t n) {
        return n >= 64 && have_avx2() ? copy_plain_avx2(dst, p, n) : span_sse2(p, n, dst);
}

#else

size_t json_span_plain(const char *p, size_t n) {
        return span_bytes(p, 0, n, NULL);
}

size_t json_copy_plain(char *dst, const char *p, size_t n) {
        return span_bytes(p, 0, n, dst);
}

#endif
