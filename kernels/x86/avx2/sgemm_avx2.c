/*
 * sgemm_avx2.c - AVX2+FMA micro-kernel of the packed f32 GEMM (16 x 6) and
 * the GEMV kernels of its N == 1 path. Contracts in kernels/gemm.h.
 *
 * The tile is 16 rows (two ymm of packed A per k step) by 6 columns (6
 * broadcasts of packed B): 12 ymm accumulators, 2 for A, 2 for broadcasts -
 * all 16 ymm registers, the classic Haswell shape. Per k step: 12 FMAs
 * against 2 loads and 6 broadcasts. k is unrolled by 4 with packed A
 * prefetched ahead; the C tile is prefetched before the loop. The unpacked-B
 * variant (ukr_bt) reads 6 rows of B^T in place (see gemm.h).
 */
#include <immintrin.h>

#include "gemm.h"

#define MR BNK_SGEMM_AVX2_MR
#define NR BNK_SGEMM_AVX2_NR

#define FOR_COLS(X) X(0) X(1) X(2) X(3) X(4) X(5)

#define ACC_DECL(j) __m256 c0_##j = _mm256_setzero_ps(), c1_##j = _mm256_setzero_ps();

#define FMA_COL(j)                                                                                 \
    {                                                                                              \
        __m256 bj = _mm256_broadcast_ss(bb + (j));                                                 \
        c0_##j = _mm256_fmadd_ps(a0, bj, c0_##j);                                                  \
        c1_##j = _mm256_fmadd_ps(a1, bj, c1_##j);                                                  \
    }

#define KSTEP(u)                                                                                   \
    {                                                                                              \
        const float *bb = b + (u)*NR;                                                              \
        __m256 a0 = _mm256_load_ps(a + (u)*MR);                                                    \
        __m256 a1 = _mm256_load_ps(a + (u)*MR + 8);                                                \
        FOR_COLS(FMA_COL)                                                                          \
    }

#define STORE_B0(j)                                                                                \
    {                                                                                              \
        float *cj = c + (j)*ldc;                                                                   \
        _mm256_storeu_ps(cj, _mm256_mul_ps(va, c0_##j));                                           \
        _mm256_storeu_ps(cj + 8, _mm256_mul_ps(va, c1_##j));                                       \
    }

#define STORE_BETA(j)                                                                              \
    {                                                                                              \
        float *cj = c + (j)*ldc;                                                                   \
        _mm256_storeu_ps(cj, _mm256_fmadd_ps(vb, _mm256_loadu_ps(cj), _mm256_mul_ps(va, c0_##j))); \
        _mm256_storeu_ps(cj + 8,                                                                   \
                         _mm256_fmadd_ps(vb, _mm256_loadu_ps(cj + 8), _mm256_mul_ps(va, c1_##j))); \
    }

#define PREFETCH_C(j)                                                                              \
    _mm_prefetch((const char *)(c + (j)*ldc), _MM_HINT_T0);                                        \
    _mm_prefetch((const char *)(c + (j)*ldc + 15), _MM_HINT_T0);

void bnk_sgemm_ukr_avx2(int64_t k, const float *restrict a, const float *restrict b,
                        float *restrict c, int64_t ldc, float alpha, float beta)
{
    FOR_COLS(ACC_DECL)
    FOR_COLS(PREFETCH_C)
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 9 * MR), _MM_HINT_T0);
        KSTEP(0)
        KSTEP(1)
        _mm_prefetch((const char *)(a + 10 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 11 * MR), _MM_HINT_T0);
        KSTEP(2)
        KSTEP(3)
        a += 4 * MR;
        b += 4 * NR;
    }
    for (; p < k; p++) {
        KSTEP(0)
        a += MR;
        b += NR;
    }
    __m256 va = _mm256_set1_ps(alpha);
    if (beta == 0.0f) {
        FOR_COLS(STORE_B0)
    } else {
        __m256 vb = _mm256_set1_ps(beta);
        FOR_COLS(STORE_BETA)
    }
}

/* The same tile with B read in place: element (p, j) of the k x 6 micro-
 * panel at b[j * ldb + p] (6 rows of B^T, contiguous in k). */
#define FMA_COL_T(j)                                                                               \
    {                                                                                              \
        __m256 bj = _mm256_broadcast_ss(b##j + u);                                                 \
        c0_##j = _mm256_fmadd_ps(a0, bj, c0_##j);                                                  \
        c1_##j = _mm256_fmadd_ps(a1, bj, c1_##j);                                                  \
    }
#define BROW_DECL(j)   const float *b##j = b + (j)*ldb;
#define BROW_STEP(j)   b##j += 4;
#define BROW_STEP_1(j) b##j += 1;
#define BROW_PF(j)     _mm_prefetch((const char *)(b##j + 128), _MM_HINT_T0);

void bnk_sgemm_ukr_bt_avx2(int64_t k, const float *restrict a, const float *restrict b, int64_t ldb,
                           float *restrict c, int64_t ldc, float alpha, float beta)
{
    FOR_COLS(ACC_DECL)
    FOR_COLS(BROW_DECL)
    FOR_COLS(PREFETCH_C)
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
        FOR_COLS(BROW_PF)
        for (int u = 0; u < 4; u++) {
            __m256 a0 = _mm256_load_ps(a + u * MR);
            __m256 a1 = _mm256_load_ps(a + u * MR + 8);
            FOR_COLS(FMA_COL_T)
        }
        a += 4 * MR;
        FOR_COLS(BROW_STEP)
    }
    for (; p < k; p++) {
        const int u = 0;
        __m256 a0 = _mm256_load_ps(a);
        __m256 a1 = _mm256_load_ps(a + 8);
        FOR_COLS(FMA_COL_T)
        a += MR;
        FOR_COLS(BROW_STEP_1)
    }
    __m256 va = _mm256_set1_ps(alpha);
    if (beta == 0.0f) {
        FOR_COLS(STORE_B0)
    } else {
        __m256 vb = _mm256_set1_ps(beta);
        FOR_COLS(STORE_BETA)
    }
}

static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* y[i] += sum_p A[i*lda + p] x[p]: four rows at a time, two accumulators per
 * row; the k tail is scalar. */
void bnk_sgemv_dot_avx2(int64_t m, int64_t k, const float *A, int64_t lda, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        const float *r0 = A + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
        __m256 t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
        int64_t p = 0;
        for (; p + 16 <= k; p += 16) {
            __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + p), x0, s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + p), x0, s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + p), x0, s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + p), x0, s3);
            t0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + p + 8), x1, t0);
            t1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + p + 8), x1, t1);
            t2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + p + 8), x1, t2);
            t3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + p + 8), x1, t3);
        }
        float f0 = hsum256(_mm256_add_ps(s0, t0)), f1 = hsum256(_mm256_add_ps(s1, t1));
        float f2 = hsum256(_mm256_add_ps(s2, t2)), f3 = hsum256(_mm256_add_ps(s3, t3));
        for (; p < k; p++) {
            f0 += r0[p] * x[p];
            f1 += r1[p] * x[p];
            f2 += r2[p] * x[p];
            f3 += r3[p] * x[p];
        }
        y[i] += f0;
        y[i + 1] += f1;
        y[i + 2] += f2;
        y[i + 3] += f3;
    }
    for (; i < m; i++) {
        const float *r0 = A + i * lda;
        __m256 s0 = _mm256_setzero_ps();
        int64_t p = 0;
        for (; p + 8 <= k; p += 8)
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + p), _mm256_loadu_ps(x + p), s0);
        float f0 = hsum256(s0);
        for (; p < k; p++)
            f0 += r0[p] * x[p];
        y[i] += f0;
    }
}

/* y[i] += sum_p A[i + p*lda] x[p]: 64 rows of y held in 8 ymm while the k
 * columns stream past; the row tail is scalar. */
void bnk_sgemv_axpy_avx2(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                         float *y)
{
    int64_t i = 0;
    for (; i + 64 <= m; i += 64) {
        __m256 y0 = _mm256_loadu_ps(y + i), y1 = _mm256_loadu_ps(y + i + 8);
        __m256 y2 = _mm256_loadu_ps(y + i + 16), y3 = _mm256_loadu_ps(y + i + 24);
        __m256 y4 = _mm256_loadu_ps(y + i + 32), y5 = _mm256_loadu_ps(y + i + 40);
        __m256 y6 = _mm256_loadu_ps(y + i + 48), y7 = _mm256_loadu_ps(y + i + 56);
        const float *col = A + i;
        for (int64_t p = 0; p < k; p++, col += lda) {
            __m256 xp = _mm256_broadcast_ss(x + p);
            y0 = _mm256_fmadd_ps(_mm256_loadu_ps(col), xp, y0);
            y1 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 8), xp, y1);
            y2 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 16), xp, y2);
            y3 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 24), xp, y3);
            y4 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 32), xp, y4);
            y5 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 40), xp, y5);
            y6 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 48), xp, y6);
            y7 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 56), xp, y7);
        }
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
        _mm256_storeu_ps(y + i + 16, y2);
        _mm256_storeu_ps(y + i + 24, y3);
        _mm256_storeu_ps(y + i + 32, y4);
        _mm256_storeu_ps(y + i + 40, y5);
        _mm256_storeu_ps(y + i + 48, y6);
        _mm256_storeu_ps(y + i + 56, y7);
    }
    for (; i + 8 <= m; i += 8) {
        __m256 y0 = _mm256_loadu_ps(y + i);
        const float *col = A + i;
        for (int64_t p = 0; p < k; p++, col += lda)
            y0 = _mm256_fmadd_ps(_mm256_loadu_ps(col), _mm256_broadcast_ss(x + p), y0);
        _mm256_storeu_ps(y + i, y0);
    }
    for (; i < m; i++) {
        float s = 0.0f;
        for (int64_t p = 0; p < k; p++)
            s += A[i + p * lda] * x[p];
        y[i] += s;
    }
}

/* ---- packing ------------------------------------------------------------ */

/* In-register transpose of the 8 x 8 block r[0..7] into out[0..7]
 * (out[j] = column j): 32-bit and 64-bit interleaves within 128-bit lanes,
 * then a lane exchange. */
static inline __attribute__((always_inline)) void transpose8(const __m256 r[8], __m256 out[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 2; g++) {
        u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        out[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        out[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* Packs A (mc x kc) into MR-row micro-panels (layout in gemm.h): column-major
 * A is copied walking k outermost, row-major A goes through 8 x 8 register
 * transposes with the next panel's rows prefetched; the rest is scalar. */
void bnk_sgemm_pack_a_avx2(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa,
                           float *restrict dst)
{
    int64_t full = mc / MR * MR;
    int64_t i0 = 0;
    if (rsa == 1 && full > 0) {
        for (int64_t p = 0; p < kc; p++) {
            const float *s = A + p * csa;
            for (int64_t q = 0; q < full; q += MR) {
                float *d = dst + q * kc + p * MR;
                _mm256_store_ps(d, _mm256_loadu_ps(s + q));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(s + q + 8));
            }
        }
        i0 = full;
    }
    for (; i0 < mc; i0 += MR) {
        int64_t m = mc - i0 < MR ? mc - i0 : MR;
        const float *src = A + i0 * rsa;
        float *d = dst + i0 * kc;
        int64_t p = 0;
        if (m == MR && csa == 1) {
            int pf = i0 + 2 * MR <= mc;
            for (; p + 8 <= kc; p += 8) {
                for (int h = 0; h < 2; h++) {
                    __m256 r[8], o[8];
                    for (int i = 0; i < 8; i++) {
                        const float *row = src + (h * 8 + i) * rsa + p;
                        if (pf)
                            _mm_prefetch((const char *)(row + MR * rsa), _MM_HINT_T0);
                        r[i] = _mm256_loadu_ps(row);
                    }
                    transpose8(r, o);
                    for (int c = 0; c < 8; c++)
                        _mm256_store_ps(d + (p + c) * MR + h * 8, o[c]);
                }
            }
        }
        for (; p < kc; p++) {
            for (int64_t i = 0; i < m; i++)
                d[p * MR + i] = src[i * rsa + p * csa];
            for (int64_t i = m; i < MR; i++)
                d[p * MR + i] = 0.0f;
        }
    }
}

/* Packs B (kc x nc) into NR-column micro-panels (layout in gemm.h): row-major
 * B is a 4 + 2 float copy per k, column-major B (6 rows of B^T) goes through
 * 8 x 8 transposes with 2 zero rows; the rest is scalar. */
void bnk_sgemm_pack_b_avx2(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb,
                           float *restrict dst)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        int64_t n = nc - j0 < NR ? nc - j0 : NR;
        const float *src = B + j0 * csb;
        int64_t p = 0;
        if (n == NR && csb == 1) {
            for (; p < kc; p++) {
                const float *s = src + p * rsb;
                float *d = dst + p * NR;
                _mm_storeu_ps(d, _mm_loadu_ps(s));
                _mm_storel_pi((__m64 *)(d + 4),
                              _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(s + 4)));
            }
        } else if (n == NR && rsb == 1) {
            int pf = j0 + 2 * NR <= nc;
            for (; p + 8 <= kc; p += 8) {
                __m256 r[8], o[8];
                for (int j = 0; j < NR; j++) {
                    const float *row = src + j * csb + p;
                    if (pf)
                        _mm_prefetch((const char *)(row + NR * csb), _MM_HINT_T0);
                    r[j] = _mm256_loadu_ps(row);
                }
                for (int j = NR; j < 8; j++)
                    r[j] = _mm256_setzero_ps();
                transpose8(r, o);
                /* Full stores in increasing k (each one's 2 surplus floats
                 * are overwritten by the next); the last stores just 6. */
                for (int c = 0; c < 7; c++)
                    _mm256_storeu_ps(dst + (p + c) * NR, o[c]);
                float *d = dst + (p + 7) * NR;
                _mm_storeu_ps(d, _mm256_castps256_ps128(o[7]));
                _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(o[7], 1));
            }
        }
        for (; p < kc; p++) {
            for (int64_t j = 0; j < n; j++)
                dst[p * NR + j] = src[p * rsb + j * csb];
            for (int64_t j = n; j < NR; j++)
                dst[p * NR + j] = 0.0f;
        }
        dst += NR * kc;
    }
}
