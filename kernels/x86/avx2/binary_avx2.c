/*
 * binary_avx2.c - AVX2 element-wise binary f32 row kernels (add, sub, mul,
 * div, maximum, minimum) and the fused multiply-add row (x86.h).
 *
 * The shape of binary_avx512.c with 8-lane vectors: four vectors per
 * iteration, then single vectors, then a scalar tail of at most 7 elements
 * (the same operation in scalar SSE/FMA instructions, so the tail equals the
 * vector lanes bit for bit). Contiguous rows and broadcast inputs (stride 0)
 * take the vector path; other strides run the scalar loop.
 *
 * maximum/minimum: NaN in either input gives a + b, else a > b ? a : b (what
 * vmaxps(a, b) computes), exactly as the reference.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/x86/x86.h"

static inline __m256 max256(__m256 a, __m256 b)
{
    __m256 nan = _mm256_cmp_ps(a, b, _CMP_UNORD_Q);
    return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b), nan);
}

static inline __m256 min256(__m256 a, __m256 b)
{
    __m256 nan = _mm256_cmp_ps(a, b, _CMP_UNORD_Q);
    return _mm256_blendv_ps(_mm256_min_ps(a, b), _mm256_add_ps(a, b), nan);
}

static inline float maxs(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : (a > b ? a : b);
}

static inline float mins(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : (a < b ? a : b);
}

/* 8 lanes of x at i: the splat when x is a broadcast input (bc constant
 * after inlining, so each specialised loop has no branch inside). */
#define LD(x, bc, v, i) ((bc) ? (v) : _mm256_loadu_ps((x) + (i)))

/* One body per op, instantiated (always inline) for each combination of
 * broadcast inputs: ba / bb are compile-time constants at every call. The
 * scalar tail (at most 7 elements) is the same operation in scalar code.
 * fn is the kernel's full name, so each instantiation below is the line a
 * search for the kernel finds. */
#define BINARY(fn, vop, sop)                                                                       \
    static inline __attribute__((always_inline))                                                   \
    int64_t fn##_rows(int64_t n, const float *a, const float *b, float *y, const int ba,           \
                      const int bb, const bool nt)                                                 \
    {                                                                                              \
        __m256 va = ba ? _mm256_set1_ps(a[0]) : _mm256_setzero_ps();                               \
        __m256 vb = bb ? _mm256_set1_ps(b[0]) : _mm256_setzero_ps();                               \
        int64_t i = 0;                                                                             \
        if (nt) {                                                                                  \
            for (int64_t h = bnk_head64(y); i < h && i < n; i++)                                   \
                y[i] = sop(a[ba ? 0 : i], b[bb ? 0 : i]);                                          \
            for (; i + 16 <= n; i += 16) {                                                         \
                _mm256_stream_ps(y + i, vop(LD(a, ba, va, i), LD(b, bb, vb, i)));                  \
                _mm256_stream_ps(y + i + 8, vop(LD(a, ba, va, i + 8), LD(b, bb, vb, i + 8)));      \
            }                                                                                      \
            _mm_sfence();                                                                          \
        }                                                                                          \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m256 r0 = vop(LD(a, ba, va, i), LD(b, bb, vb, i));                                   \
            __m256 r1 = vop(LD(a, ba, va, i + 8), LD(b, bb, vb, i + 8));                           \
            __m256 r2 = vop(LD(a, ba, va, i + 16), LD(b, bb, vb, i + 16));                         \
            __m256 r3 = vop(LD(a, ba, va, i + 24), LD(b, bb, vb, i + 24));                         \
            _mm256_storeu_ps(y + i, r0);                                                           \
            _mm256_storeu_ps(y + i + 8, r1);                                                       \
            _mm256_storeu_ps(y + i + 16, r2);                                                      \
            _mm256_storeu_ps(y + i + 24, r3);                                                      \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, vop(LD(a, ba, va, i), LD(b, bb, vb, i)));                      \
        return i;                                                                                  \
    }                                                                                              \
    void fn(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,           \
            int64_t sy)                                                                            \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        if (sy == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1)) {                             \
            const bool nt = bnk_streams(n, y);                                                     \
            if (sa && sb)                                                                          \
                i = fn##_rows(n, a, b, y, 0, 0, nt);                                               \
            else if (sa)                                                                           \
                i = fn##_rows(n, a, b, y, 0, 1, nt);                                               \
            else if (sb)                                                                           \
                i = fn##_rows(n, a, b, y, 1, 0, nt);                                               \
            else                                                                                   \
                i = fn##_rows(n, a, b, y, 1, 1, nt);                                               \
        }                                                                                          \
        for (; i < n; i++) {                                                                       \
            float x0 = a[i * sa], x1 = b[i * sb];                                                  \
            y[i * sy] = sop(x0, x1);                                                               \
        }                                                                                          \
    }

#define SADD(x, y) ((x) + (y))
#define SSUB(x, y) ((x) - (y))
#define SMUL(x, y) ((x) * (y))
#define SDIV(x, y) ((x) / (y))

BINARY(bnk_avx2_add_f32, _mm256_add_ps, SADD)
BINARY(bnk_avx2_sub_f32, _mm256_sub_ps, SSUB)
BINARY(bnk_avx2_mul_f32, _mm256_mul_ps, SMUL)
BINARY(bnk_avx2_div_f32, _mm256_div_ps, SDIV)
BINARY(bnk_avx2_maximum_f32, max256, maxs)
BINARY(bnk_avx2_minimum_f32, min256, mins)

static inline __attribute__((always_inline)) int64_t fma_rows(int64_t n, const float *a,
                                                              const float *b, const float *c,
                                                              float *y, const int ba, const int bb,
                                                              const int bc, const bool nt)
{
    __m256 va = ba ? _mm256_set1_ps(a[0]) : _mm256_setzero_ps();
    __m256 vb = bb ? _mm256_set1_ps(b[0]) : _mm256_setzero_ps();
    __m256 vc = bc ? _mm256_set1_ps(c[0]) : _mm256_setzero_ps();
    int64_t i = 0;
    if (nt) {
        for (int64_t h = bnk_head64(y); i < h && i < n; i++)
            y[i] = fmaf(a[ba ? 0 : i], b[bb ? 0 : i], c[bc ? 0 : i]);
        for (; i + 16 <= n; i += 16) {
            _mm256_stream_ps(y + i,
                             _mm256_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i)));
            _mm256_stream_ps(y + i + 8, _mm256_fmadd_ps(LD(a, ba, va, i + 8), LD(b, bb, vb, i + 8),
                                                        LD(c, bc, vc, i + 8)));
        }
        _mm_sfence();
    }
    for (; i + 16 <= n; i += 16) {
        __m256 r0 = _mm256_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i));
        __m256 r1 =
            _mm256_fmadd_ps(LD(a, ba, va, i + 8), LD(b, bb, vb, i + 8), LD(c, bc, vc, i + 8));
        _mm256_storeu_ps(y + i, r0);
        _mm256_storeu_ps(y + i + 8, r1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i)));
    return i;
}

void bnk_avx2_fma_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                      const float *c, int64_t sc, float *y, int64_t sy)
{
    int64_t i = 0;
    if (sy == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) && (sc == 0 || sc == 1)) {
        bool nt = bnk_streams(n, y);
        if (sa && sb && sc)
            i = fma_rows(n, a, b, c, y, 0, 0, 0, nt);
        else if (!sa && sb && sc)
            i = fma_rows(n, a, b, c, y, 1, 0, 0, nt);
        else if (sa && !sb && sc)
            i = fma_rows(n, a, b, c, y, 0, 1, 0, nt);
        else if (sa && sb && !sc)
            i = fma_rows(n, a, b, c, y, 0, 0, 1, nt);
        else if (sa && !sb && !sc)
            i = fma_rows(n, a, b, c, y, 0, 1, 1, nt);
        else if (!sa && sb && !sc)
            i = fma_rows(n, a, b, c, y, 1, 0, 1, nt);
        else if (!sa && !sb && sc)
            i = fma_rows(n, a, b, c, y, 1, 1, 0, nt);
        else
            i = fma_rows(n, a, b, c, y, 1, 1, 1, nt);
    }
    for (; i < n; i++)
        y[i * sy] = fmaf(a[i * sa], b[i * sb], c[i * sc]);
}
