/*
 * ternary_avx2.c - W1.58A8 kernels on AVX2 (contract in kernels/ternary.h;
 * layout in bitnet/quant.h).
 *
 * vpmaddubsw multiplies 32 unsigned codes ((block >> 2f) & 3, in {0, 1, 2})
 * by 32 int8 activations and adds adjacent pairs into int16: |pair| <= 2 * 2
 * * 128 = 512, so no saturation for any int8 input. The eight products of one
 * 64-byte block (two 32-byte halves x four fields) are summed in int16
 * (<= 4096) and widened once per block with vpmaddwd against ones. Four
 * weight rows (one t2k panel: their blocks interleaved, block b of row r at
 * (b R + r) * 64) share each activation load; activation rows are taken one
 * at a time with the panel kept in L1.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/ternary.h"

#define INLINE static inline __attribute__((always_inline))

/* Block of the R-row panel at w (row r's 64 bytes at w + 64 r). */
INLINE void rows_block(int R, __m256i acc[4], const uint8_t *w, const int8_t *xb)
{
    const __m256i m0 = _mm256_set1_epi8(0x03), ones = _mm256_set1_epi16(1);
    __m256i s[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m256i wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = _mm256_loadu_si256((const __m256i *)(w + 64 * r + 32 * h));
#pragma GCC unroll 4
        for (int f = 0; f < 4; f++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xb + 64 * f + 32 * h));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i c = _mm256_and_si256(_mm256_srli_epi16(wv[r], 2 * f), m0);
                s[r] = _mm256_add_epi16(s[r], _mm256_maddubs_epi16(c, xv));
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(s[r], ones));
}

INLINE int32_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

INLINE void rows(int R, int64_t K, const uint8_t *w, const int8_t *x, int32_t xsum, int32_t *y)
{
    __m256i acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        acc[r] = _mm256_setzero_si256();
    int64_t nfull = K / BN_T2K_BLOCK;
    for (int64_t b = 0; b < nfull; b++)
        rows_block(R, acc, w + 64 * R * b, x + BN_T2K_BLOCK * b);
    int64_t rest = K - nfull * BN_T2K_BLOCK;
    if (rest > 0) {
        int8_t tail[BN_T2K_BLOCK] __attribute__((aligned(32)));
        memset(tail, 0, sizeof tail);
        memcpy(tail, x + nfull * BN_T2K_BLOCK, (size_t)rest);
        rows_block(R, acc, w + 64 * R * nfull, tail);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        y[r] = hsum(acc[r]) - xsum;
}

void bnk_t2k_gemm_avx2(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                       int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy)
{
    size_t rb = bn_t2k_row_bytes(K);
    for (int64_t i = 0; i < M; i += 4) {
        const uint8_t *wp = w + i * rb;
        int64_t R = M - i < 4 ? M - i : 4;
        for (int64_t j = 0; j < n; j++) {
            const int8_t *xp = x + j * ldx;
            int32_t *yp = y + j * ldy + i;
            switch (R) {
            case 4:
                rows(4, K, wp, xp, xsum[j], yp);
                break;
            case 3:
                rows(3, K, wp, xp, xsum[j], yp);
                break;
            case 2:
                rows(2, K, wp, xp, xsum[j], yp);
                break;
            default:
                rows(1, K, wp, xp, xsum[j], yp);
                break;
            }
        }
    }
}

/* ---- activations -------------------------------------------------------- */

float bnk_absmax_avx2(int64_t K, const float *x)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        m = _mm256_max_ps(m, _mm256_and_ps(v, absmask));
    }
    if (_mm256_movemask_ps(nan))
        return __builtin_nanf("");
    float buf[8];
    _mm256_storeu_ps(buf, m);
    float r = 0.0f;
    for (int i = 0; i < 8; i++)
        r = buf[i] > r ? buf[i] : r;
    for (; k < K; k++) {
        float a = fabsf(x[k]);
        if (isnan(a))
            return a;
        r = a > r ? a : r;
    }
    return r;
}

int32_t bnk_act_quant_avx2(int64_t K, const float *x, float mul, int8_t *q)
{
    const __m256 vm = _mm256_set1_ps(mul);
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i sum = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i v[4];
        for (int i = 0; i < 4; i++) {
            __m256i t = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * i), vm));
            v[i] = _mm256_max_epi32(_mm256_min_epi32(t, hi), lo);
            sum = _mm256_add_epi32(sum, v[i]);
        }
        __m256i ab = _mm256_packs_epi32(v[0], v[1]);
        __m256i cd = _mm256_packs_epi32(v[2], v[3]);
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), perm);
        _mm256_storeu_si256((__m256i *)(q + k), b);
    }
    int32_t s = hsum(sum);
    for (; k < K; k++) {
        float v = rintf(x[k] * mul);
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        q[k] = (int8_t)v;
        s += q[k];
    }
    return s;
}
