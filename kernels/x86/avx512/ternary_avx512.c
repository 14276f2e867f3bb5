/*
 * ternary_avx512.c - W1.58A8 kernels on AVX-512 VNNI (contract in
 * kernels/ternary.h; layout in bitnet/quant.h).
 *
 * vpdpbusd multiplies 64 unsigned bytes by 64 signed bytes and adds each
 * group of four products into an int32 lane: the t2k codes (w + 1 in
 * {0, 1, 2}) are the unsigned operand, the int8 activations the signed one,
 * and the code offset is removed at the end with the activation row sum.
 *
 * Decode (n == 1) is bound by how fast a block is turned into vpdpbusd
 * operands, so it avoids shifts: block & 0x03, & 0x0C, & 0x30, & 0xC0 are the
 * four fields' codes times 1, 4, 16, 64, each fed to its own accumulator and
 * the accumulators combined with exact arithmetic shifts (every lane of the
 * 4^f accumulator is a multiple of 4^f). Four weight rows (one t2k panel)
 * share each activation load (16 accumulators).
 *
 * Why it is shaped so (Zen 4; same-process A/B loops timed against a
 * vpdpbusd-only loop of the same length, which is peak/vpdpbusd): the block
 * loop's instruction mix (per row one load, four ANDs, four vpdpbusd) runs at
 * 100% of that rate, so everything else is overhead on top of the ceiling:
 *   - weights: one sequential stream per panel (the t2k panel layout). Four
 *     separate row streams from L3 cost ~10% at 4096x4096 (software prefetch
 *     on them recovered a third of it); the single stream costs ~2%;
 *   - activation loads: ~4% (four per block, shared by the panel's 4 rows);
 *   - the panel epilogue: 3 shifts + 3 adds per row, then the reduce4
 *     shuffle chain. At the end of the panel it cost ~13% of a K = 2560
 *     panel (10 blocks); gemv_panels issues panel p's reduce4 after the
 *     first block of panel p + 1, which saves ~4 of those points. The rest
 *     is vector work sharing the pipes with the ANDs: 4096x4096 runs at
 *     ~87% of peak/vpdpbusd, 2560x2560 at ~83%.
 * Tried and dropped (no gain or slower): 256-bit (ymm) VNNI, two blocks per
 * iteration, activations as memory operands, a shared (w >> 4) to halve the
 * accumulators (the extra shift costs more than the epilogue it saves),
 * vpermb or GF2P8AFFINEQB field extraction (both compete with vpdpbusd for
 * its pipes), reductions through memory or scalar code, the next panel's
 * first block interleaved with this panel's row sums (spills), 2 MiB pages.
 *
 * Prefill (n > 1) reuses each unpacked weight vector ((block >> 2f) & 3, a
 * shift and an AND) across up to 6 activation rows: a 4 x 6 tile of
 * accumulators, 24 vpdpbusd per 4 weight loads and 6 activation loads.
 * Weight panels (4 rows) stay in L1 while activation rows stream from L2.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/ternary.h"

#define INLINE static inline __attribute__((always_inline))

/* acc += vpdpbusd(u8, s8). Inline asm because GCC 12 copies the accumulator
 * around the intrinsic (a register move per instruction in the hot loops). */
#define DPBUSD(acc, u8, s8) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8))

/* ---- decode: n == 1 ----------------------------------------------------- */

/* One weight row r of the 4-row panel against the block's four activation
 * vectors: four ANDs, four vpdpbusd into that row's accumulators. */
#define GEMV_ROW(r)                                                                                \
    do {                                                                                           \
        __m512i wv = _mm512_loadu_si512(wb + 64 * (r));                                            \
        DPBUSD(a##r##0, _mm512_and_si512(wv, m0), x0);                                             \
        DPBUSD(a##r##1, _mm512_and_si512(wv, m1), x1);                                             \
        DPBUSD(a##r##2, _mm512_and_si512(wv, m2), x2);                                             \
        DPBUSD(a##r##3, _mm512_and_si512(wv, m3), x3);                                             \
    } while (0)

/* Row r's four field accumulators combined exactly (fields scaled 1/4/16/64). */
#define GEMV_ROWSUM(r)                                                                             \
    _mm512_add_epi32(                                                                              \
        _mm512_add_epi32(a##r##0, _mm512_srai_epi32(a##r##1, 2)),                                  \
        _mm512_add_epi32(_mm512_srai_epi32(a##r##2, 4), _mm512_srai_epi32(a##r##3, 6)))

/* The four horizontal sums of t0..t3 in one xmm (lane r = sum of t_r): a
 * transposing add tree, cheaper than four separate reductions. */
INLINE __m128i reduce4(__m512i t0, __m512i t1, __m512i t2, __m512i t3)
{
    __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(t0, t1), _mm512_unpackhi_epi32(t0, t1));
    __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(t2, t3), _mm512_unpackhi_epi32(t2, t3));
    __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    __m256i d = _mm256_add_epi32(_mm512_castsi512_si256(c), _mm512_extracti64x4_epi64(c, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
}

/* R (1..4) rows of w against one activation row. Written with named
 * accumulators and a single loop (the partial last block reads a zero-padded
 * copy of the activations) so that the 16 accumulators stay in registers. */
INLINE void gemv_rows(int R, int64_t K, const uint8_t *w, const int8_t *x, int32_t xsum, int32_t *y)
{
    const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0C);
    const __m512i m2 = _mm512_set1_epi8(0x30), m3 = _mm512_set1_epi8((char)0xC0);
    __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
    __m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    __m512i a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    __m512i a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    int64_t nfull = K / BN_T2K_BLOCK, nb = (K + BN_T2K_BLOCK - 1) / BN_T2K_BLOCK;
    int8_t tail[BN_T2K_BLOCK] __attribute__((aligned(64)));
    if (nb > nfull) {
        memset(tail, 0, sizeof tail);
        memcpy(tail, x + nfull * BN_T2K_BLOCK, (size_t)(K - nfull * BN_T2K_BLOCK));
    }
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = b < nfull ? x + BN_T2K_BLOCK * b : tail;
        const uint8_t *wb = w + 64 * R * b;
        __m512i x0 = _mm512_loadu_si512(xb), x1 = _mm512_loadu_si512(xb + 64);
        __m512i x2 = _mm512_loadu_si512(xb + 128), x3 = _mm512_loadu_si512(xb + 192);
        GEMV_ROW(0);
        if (R > 1)
            GEMV_ROW(1);
        if (R > 2)
            GEMV_ROW(2);
        if (R > 3)
            GEMV_ROW(3);
    }
    const __m512i z = _mm512_setzero_si512();
    __m128i r4 = reduce4(GEMV_ROWSUM(0), R > 1 ? GEMV_ROWSUM(1) : z, R > 2 ? GEMV_ROWSUM(2) : z,
                         R > 3 ? GEMV_ROWSUM(3) : z);
    r4 = _mm_sub_epi32(r4, _mm_set1_epi32(xsum));
    if (R == 4)
        _mm_storeu_si128((__m128i *)y, r4);
    else
        _mm_mask_storeu_epi32(y, (__mmask8)((1u << R) - 1), r4);
}

/* One block of the 4-row panel at w against the activations at xb. */
#define GEMV_BLOCK4(xb, wb)                                                                        \
    do {                                                                                           \
        __m512i x0 = _mm512_loadu_si512(xb), x1 = _mm512_loadu_si512((xb) + 64);                   \
        __m512i x2 = _mm512_loadu_si512((xb) + 128), x3 = _mm512_loadu_si512((xb) + 192);          \
        GEMV_ROW(0);                                                                               \
        GEMV_ROW(1);                                                                               \
        GEMV_ROW(2);                                                                               \
        GEMV_ROW(3);                                                                               \
    } while (0)

/* np full 4-row panels from w (panel p at w + 4 p rb) against one activation
 * row, results to y[0 .. 4 np). Same sums as gemv_rows(4, ...) per panel,
 * but software-pipelined: a panel's four row vectors (GEMV_ROWSUM) are
 * carried into the next panel and reduced to y after its first block, so the
 * long shuffle chain of reduce4 no longer sits between two panels' loops
 * (about 5% at K = 2560, where a panel is only 10 blocks). */
static void gemv_panels(int64_t np, int64_t K, const uint8_t *w, size_t rb, const int8_t *x,
                        int32_t xsum, int32_t *y)
{
    const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0C);
    const __m512i m2 = _mm512_set1_epi8(0x30), m3 = _mm512_set1_epi8((char)0xC0);
    const __m128i vsum = _mm_set1_epi32(xsum);
    int64_t nfull = K / BN_T2K_BLOCK, nb = (K + BN_T2K_BLOCK - 1) / BN_T2K_BLOCK;
    int8_t tail[BN_T2K_BLOCK] __attribute__((aligned(64)));
    if (nb > nfull) {
        memset(tail, 0, sizeof tail);
        memcpy(tail, x + nfull * BN_T2K_BLOCK, (size_t)(K - nfull * BN_T2K_BLOCK));
    }
    __m512i t0 = _mm512_setzero_si512(), t1 = t0, t2 = t0, t3 = t0; /* previous panel's rows */
    for (int64_t p = 0; p < np; p++) {
        const uint8_t *wp = w + (size_t)(4 * p) * rb;
        __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
        __m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        __m512i a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        __m512i a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        {
            const uint8_t *wb = wp;
            GEMV_BLOCK4(nfull > 0 ? x : tail, wb);
        }
        if (p > 0)
            _mm_storeu_si128((__m128i *)(y + 4 * (p - 1)),
                             _mm_sub_epi32(reduce4(t0, t1, t2, t3), vsum));
        for (int64_t b = 1; b < nb; b++) {
            const uint8_t *wb = wp + 256 * b;
            GEMV_BLOCK4(b < nfull ? x + BN_T2K_BLOCK * b : tail, wb);
        }
        t0 = GEMV_ROWSUM(0);
        t1 = GEMV_ROWSUM(1);
        t2 = GEMV_ROWSUM(2);
        t3 = GEMV_ROWSUM(3);
    }
    if (np > 0)
        _mm_storeu_si128((__m128i *)(y + 4 * (np - 1)),
                         _mm_sub_epi32(reduce4(t0, t1, t2, t3), vsum));
}

/* ---- prefill: n > 1 ----------------------------------------------------- */

#define TILE_R 4
#define TILE_C 6

INLINE void tile_block(int R, int C, __m512i acc[TILE_R][TILE_C], const uint8_t *w,
                       const int8_t *xb[TILE_C])
{
    const __m512i m0 = _mm512_set1_epi8(0x03);
#pragma GCC unroll 4
    for (int f = 0; f < 4; f++) {
        __m512i wv[TILE_R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(w + 64 * r), 2 * f), m0);
#pragma GCC unroll 6
        for (int c = 0; c < C; c++) {
            __m512i xv = _mm512_loadu_si512(xb[c] + 64 * f);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], wv[r], xv);
        }
    }
}

INLINE void tile(int R, int C, int64_t K, const uint8_t *w, const int8_t *x, int64_t ldx,
                 const int32_t *xsum, int32_t *y, int64_t ldy)
{
    __m512i acc[TILE_R][TILE_C];
#pragma GCC unroll 4
    for (int r = 0; r < TILE_R; r++)
#pragma GCC unroll 6
        for (int c = 0; c < TILE_C; c++)
            acc[r][c] = _mm512_setzero_si512();
    const int8_t *xb[TILE_C];
    int64_t nfull = K / BN_T2K_BLOCK;
    for (int64_t b = 0; b < nfull; b++) {
#pragma GCC unroll 6
        for (int c = 0; c < C; c++)
            xb[c] = x + c * ldx + BN_T2K_BLOCK * b;
        tile_block(R, C, acc, w + 64 * R * b, xb);
    }
    int64_t rest = K - nfull * BN_T2K_BLOCK;
    if (rest > 0) {
        int8_t tail[TILE_C][BN_T2K_BLOCK] __attribute__((aligned(64)));
        for (int c = 0; c < C; c++) {
            memset(tail[c], 0, BN_T2K_BLOCK);
            memcpy(tail[c], x + c * ldx + nfull * BN_T2K_BLOCK, (size_t)rest);
            xb[c] = tail[c];
        }
        tile_block(R, C, acc, w + 64 * R * nfull, xb);
    }
#pragma GCC unroll 6
    for (int c = 0; c < C; c++)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            y[c * ldy + r] = _mm512_reduce_add_epi32(acc[r][c]) - xsum[c];
}

#define TILE_CASE(R, C)                                                                            \
    case (R)*8 + (C):                                                                              \
        tile(R, C, K, wp, xp, ldx, xsum + j, yp, ldy);                                             \
        break;
#define TILE_ROW(R)                                                                                \
    TILE_CASE(R, 1) TILE_CASE(R, 2) TILE_CASE(R, 3) TILE_CASE(R, 4) TILE_CASE(R, 5) TILE_CASE(R, 6)

void bnk_t2k_gemm_avx512(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                         int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy)
{
    size_t rb = bn_t2k_row_bytes(K);
    if (M <= 0 || n <= 0)
        return;
    if (n == 1) {
        int64_t i = M / 4 * 4;
        gemv_panels(M / 4, K, w, rb, x, xsum[0], y);
        switch (M - i) {
        case 3:
            gemv_rows(3, K, w + i * rb, x, xsum[0], y + i);
            break;
        case 2:
            gemv_rows(2, K, w + i * rb, x, xsum[0], y + i);
            break;
        case 1:
            gemv_rows(1, K, w + i * rb, x, xsum[0], y + i);
            break;
        default:
            break;
        }
        return;
    }
    for (int64_t i = 0; i < M; i += TILE_R) {
        int R = M - i < TILE_R ? (int)(M - i) : TILE_R;
        const uint8_t *wp = w + i * rb;
        for (int64_t j = 0; j < n; j += TILE_C) {
            int C = n - j < TILE_C ? (int)(n - j) : TILE_C;
            const int8_t *xp = x + j * ldx;
            int32_t *yp = y + j * ldy + i;
            switch (R * 8 + C) {
                TILE_ROW(1)
                TILE_ROW(2)
                TILE_ROW(3)
                TILE_ROW(4)
            default:
                break;
            }
        }
    }
}

/* ---- activations -------------------------------------------------------- */

float bnk_absmax_avx512(int64_t K, const float *x)
{
    __m512 m = _mm512_setzero_ps();
    __mmask16 nan = 0;
    int64_t k = 0;
    for (; k < K; k += 16) {
        __mmask16 mk = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(mk, x + k);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        m = _mm512_max_ps(m, _mm512_abs_ps(v));
    }
    return nan ? __builtin_nanf("") : _mm512_reduce_max_ps(m);
}

int32_t bnk_act_quant_avx512(int64_t K, const float *x, float mul, int8_t *q)
{
    const __m512 vm = _mm512_set1_ps(mul);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    __m512i sum = _mm512_setzero_si512();
    int64_t k = 0;
    for (; k < K; k += 16) {
        __mmask16 mk = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), vm);
        __m512i iv = _mm512_cvtps_epi32(v); /* MXCSR default: nearest, ties to even */
        iv = _mm512_max_epi32(_mm512_min_epi32(iv, hi), lo);
        sum = _mm512_add_epi32(sum, iv);
        _mm_mask_storeu_epi8(q + k, mk, _mm512_cvtepi32_epi8(iv));
    }
    return _mm512_reduce_add_epi32(sum);
}

/* ---- the int8 multiply-add ceiling ---------------------------------------- */

int32_t bnk_vnni_peak_probe_avx512(int64_t blocks)
{
    __m512i u = _mm512_set1_epi8(1), v = _mm512_set1_epi8(2);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
    __m512i a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
    for (int64_t i = 0; i < blocks; i++) {
        DPBUSD(a0, u, v);
        DPBUSD(a1, u, v);
        DPBUSD(a2, u, v);
        DPBUSD(a3, u, v);
        DPBUSD(a4, u, v);
        DPBUSD(a5, u, v);
        DPBUSD(a6, u, v);
        DPBUSD(a7, u, v);
        DPBUSD(a8, u, v);
        DPBUSD(a9, u, v);
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), a2),
                                 _mm512_add_epi32(_mm512_add_epi32(a3, a4), a5));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a6, a7), _mm512_add_epi32(a8, a9)));
    return _mm512_reduce_add_epi32(s);
}
