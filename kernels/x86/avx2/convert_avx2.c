/*
 * convert_avx2.c - f16/bf16 <-> f32 row conversions with AVX2 + F16C
 * (contracts in kernels/kernels.h and x86.h).
 *
 * f16 uses the F16C instructions (vcvtph2ps, vcvtps2ph with round-to-nearest-
 * even), whose results equal bn_f16_to_f32 / bn_f32_to_f16 bit for bit:
 * signalling NaNs come out quiet with their payload, f16 subnormals widen
 * exactly, f32 values below half the smallest f16 subnormal round to zero.
 * bf16 is the top half of an f32, so both directions are integer code: widen
 * is a 16-bit shift (NaN quieted), narrow adds 0x7fff plus the lowest kept
 * bit (round to nearest even) except for NaN, which keeps its top payload and
 * gets the quiet bit, as bn_f32_to_bf16 does. Rows with a non-unit stride on
 * the strided side, and the tails, use the scalar conversions of dtype.h.
 */
#include <immintrin.h>

#include "bitnet/dtype.h"
#include "kernels/x86/x86.h"

void bnk_avx2_f16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    int64_t i = 0;
    if (sx == 1) {
        for (; i + 16 <= n; i += 16) {
            __m256 r0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
            __m256 r1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
            _mm256_storeu_ps(y + i, r0);
            _mm256_storeu_ps(y + i + 8, r1);
        }
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    }
    for (; i < n; i++)
        y[i] = bn_f16_to_f32(x[i * sx]);
}

void bnk_avx2_f32_to_f16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    int64_t i = 0;
    if (sy == 1) {
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(y + i),
                             _mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++)
        y[i * sy] = bn_f32_to_f16(x[i]);
}

/* 8 bf16 (zero-extended to 32 bits) -> 8 f32, NaN quieted. */
static inline __m256 bf16_widen8(__m256i h)
{
    __m256i u = _mm256_slli_epi32(h, 16);
    __m256i ax = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7f800000));
    u = _mm256_or_si256(u, _mm256_and_si256(nan, _mm256_set1_epi32(0x00400000)));
    return _mm256_castsi256_ps(u);
}

void bnk_avx2_bf16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    int64_t i = 0;
    if (sx == 1) {
        for (; i + 8 <= n; i += 8) {
            __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
            _mm256_storeu_ps(y + i, bf16_widen8(h));
        }
    }
    for (; i < n; i++)
        y[i] = bn_bf16_to_f32(x[i * sx]);
}

/* 8 f32 -> 8 bf16 in the low 16 bits of each 32-bit lane. */
static inline __m256i bf16_round8(__m256 v)
{
    __m256i u = _mm256_castps_si256(v);
    __m256i ax = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    r = _mm256_srli_epi32(r, 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
    return _mm256_blendv_epi8(r, q, nan);
}

void bnk_avx2_f32_to_bf16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    int64_t i = 0;
    if (sy == 1) {
        for (; i + 16 <= n; i += 16) {
            __m256i r0 = bf16_round8(_mm256_loadu_ps(x + i));
            __m256i r1 = bf16_round8(_mm256_loadu_ps(x + i + 8));
            /* packus interleaves 128-bit lanes: r0lo r1lo r0hi r1hi -> reorder */
            __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r0, r1), 0xd8);
            _mm256_storeu_si256((__m256i *)(y + i), p);
        }
    }
    for (; i < n; i++)
        y[i * sy] = bn_f32_to_bf16(x[i]);
}
