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
