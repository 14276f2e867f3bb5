/*
 * convert_avx512.c - f16/bf16 <-> f32 row conversions with AVX-512
 * (contracts in kernels/kernels.h and x86.h).
 *
 * 16 lanes per vector with masked tails. f16 uses vcvtph2ps / vcvtps2ph
 * (round to nearest even), bit-exact with bn_f16_to_f32 / bn_f32_to_f16. bf16
 * is integer code, as in convert_avx2.c: AVX-512 BF16's vcvtneps2bf16 would
 * be one instruction, but it treats subnormal inputs as zero while
 * bn_f32_to_bf16 rounds them, so it is not bit-exact with the reference.
 * Non-unit strides on the strided side use the scalar conversions of dtype.h.
 */
#include <immintrin.h>

#include "bitnet/dtype.h"
#include "kernels/x86/x86.h"

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline __mmask16 tail_mask(int64_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

void bnk_avx512_f16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    if (sx != 1) {
        for (int64_t i = 0; i < n; i++)
            y[i] = bn_f16_to_f32(x[i * sx]);
        return;
    }
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 r0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512 r1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16)));
        _mm512_storeu_ps(y + i, r0);
        _mm512_storeu_ps(y + i + 16, r1);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}

void bnk_avx512_f32_to_f16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    if (sy != 1) {
        for (int64_t i = 0; i < n; i++)
            y[i * sy] = bn_f32_to_f16(x[i]);
        return;
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), RNE));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), RNE));
    }
}

/* 16 bf16 (zero-extended to 32 bits) -> 16 f32, NaN quieted. */
static inline __m512 bf16_widen16(__m512i h)
{
    __m512i u = _mm512_slli_epi32(h, 16);
    __m512i ax = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(ax, _mm512_set1_epi32(0x7f800000));
    u = _mm512_mask_or_epi32(u, nan, u, _mm512_set1_epi32(0x00400000));
    return _mm512_castsi512_ps(u);
}

void bnk_avx512_bf16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    if (sx != 1) {
        for (int64_t i = 0; i < n; i++)
            y[i] = bn_bf16_to_f32(x[i * sx]);
        return;
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_ps(y + i, bf16_widen16(h));
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, bf16_widen16(h));
    }
}

/* 16 f32 -> 16 bf16 */
static inline __m256i bf16_round16(__m512 v)
{
    __m512i u = _mm512_castps_si512(v);
    __m512i ax = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(ax, _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    r = _mm512_srli_epi32(r, 16);
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x0040));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(r, nan, q));
}

void bnk_avx512_f32_to_bf16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    if (sy != 1) {
        for (int64_t i = 0; i < n; i++)
            y[i * sy] = bn_f32_to_bf16(x[i]);
        return;
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), bf16_round16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, bf16_round16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
