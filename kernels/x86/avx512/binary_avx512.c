/*
 * binary_avx512.c - AVX-512 element-wise binary f32 row kernels (add, sub,
 * mul, div, maximum, minimum) and the fused multiply-add row (x86.h).
 *
 * One macro body per op: 16 lanes per vector, four vectors per iteration
 * (enough independent work to keep both load ports busy), a masked tail, so
 * there is no scalar epilogue. Contiguous rows (every stride 1) and broadcast
 * inputs (stride 0: the value is splat once) take the vector path; any other
 * stride runs the same operation per element, with scalar SSE instructions
 * whose results equal the vector lanes bit for bit.
 *
 * maximum/minimum follow the reference exactly: NaN in either input gives
 * a + b (a NaN; whose payload when both are NaN is open, see x86.h); else
 * a > b ? a : b, which is what vmaxps(a, b) computes (it returns b for
 * equal inputs, so max(+0, -0) = -0 as in the reference).
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/x86/x86.h"

static inline __m512 max512(__m512 a, __m512 b)
{
    __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
    return _mm512_mask_add_ps(_mm512_max_ps(a, b), nan, a, b);
}

static inline __m512 min512(__m512 a, __m512 b)
{
    __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
    return _mm512_mask_add_ps(_mm512_min_ps(a, b), nan, a, b);
}

static inline float maxs(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : (a > b ? a : b);
}

static inline float mins(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : (a < b ? a : b);
}

/* 16 lanes of x at i: the splat when x is a broadcast input (bc constant
 * after inlining, so each specialised loop has no branch inside). */
#define LD(x, bc, v, i)     ((bc) ? (v) : _mm512_loadu_ps((x) + (i)))
#define LDM(x, bc, v, i, m) ((bc) ? (v) : _mm512_maskz_loadu_ps((m), (x) + (i)))

/* One body per op, instantiated (always inline) for each combination of
 * broadcast inputs: ba / bb are compile-time constants at every call. fn
 * is the kernel's full name, so each instantiation below is the line a
 * search for the kernel finds. */
#define BINARY(fn, vop, sop)                                                                       \
    static inline __attribute__((always_inline)) void fn##_rows(                                   \
        int64_t n, const float *a, const float *b, float *y, const int ba, const int bb,           \
        const bool nt)                                                                             \
    {                                                                                              \
        __m512 va = ba ? _mm512_set1_ps(a[0]) : _mm512_setzero_ps();                               \
        __m512 vb = bb ? _mm512_set1_ps(b[0]) : _mm512_setzero_ps();                               \
        int64_t i = 0;                                                                             \
        if (nt) {                                                                                  \
            for (int64_t h = bnk_head64(y); i < h && i < n; i++)                                   \
                y[i] = sop(a[ba ? 0 : i], b[bb ? 0 : i]);                                          \
            for (; i + 16 <= n; i += 16)                                                           \
                _mm512_stream_ps(y + i, vop(LD(a, ba, va, i), LD(b, bb, vb, i)));                  \
            _mm_sfence();                                                                          \
        }                                                                                          \
        for (; i + 64 <= n; i += 64) {                                                             \
            __m512 r0 = vop(LD(a, ba, va, i), LD(b, bb, vb, i));                                   \
            __m512 r1 = vop(LD(a, ba, va, i + 16), LD(b, bb, vb, i + 16));                         \
            __m512 r2 = vop(LD(a, ba, va, i + 32), LD(b, bb, vb, i + 32));                         \
            __m512 r3 = vop(LD(a, ba, va, i + 48), LD(b, bb, vb, i + 48));                         \
            _mm512_storeu_ps(y + i, r0);                                                           \
            _mm512_storeu_ps(y + i + 16, r1);                                                      \
            _mm512_storeu_ps(y + i + 32, r2);                                                      \
            _mm512_storeu_ps(y + i + 48, r3);                                                      \
        }                                                                                          \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, vop(LD(a, ba, va, i), LD(b, bb, vb, i)));                      \
        if (i < n) {                                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);                                       \
            _mm512_mask_storeu_ps(y + i, m, vop(LDM(a, ba, va, i, m), LDM(b, bb, vb, i, m)));      \
        }                                                                                          \
    }                                                                                              \
    void fn(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,           \
            int64_t sy)                                                                            \
    {                                                                                              \
        const bool nt = sy == 1 && bnk_streams(n, y);                                              \
        if (sy != 1 || (sa != 0 && sa != 1) || (sb != 0 && sb != 1)) {                             \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x0 = a[i * sa], x1 = b[i * sb];                                              \
                y[i * sy] = sop(x0, x1);                                                           \
            }                                                                                      \
        } else if (sa && sb) {                                                                     \
            fn##_rows(n, a, b, y, 0, 0, nt);                                                       \
        } else if (sa) {                                                                           \
            fn##_rows(n, a, b, y, 0, 1, nt);                                                       \
        } else if (sb) {                                                                           \
            fn##_rows(n, a, b, y, 1, 0, nt);                                                       \
        } else {                                                                                   \
            fn##_rows(n, a, b, y, 1, 1, nt);                                                       \
        }                                                                                          \
    }

#define SADD(x, y) ((x) + (y))
#define SSUB(x, y) ((x) - (y))
#define SMUL(x, y) ((x) * (y))
#define SDIV(x, y) ((x) / (y))

BINARY(bnk_avx512_add_f32, _mm512_add_ps, SADD)
BINARY(bnk_avx512_sub_f32, _mm512_sub_ps, SSUB)
BINARY(bnk_avx512_mul_f32, _mm512_mul_ps, SMUL)
BINARY(bnk_avx512_div_f32, _mm512_div_ps, SDIV)
BINARY(bnk_avx512_maximum_f32, max512, maxs)
BINARY(bnk_avx512_minimum_f32, min512, mins)

static inline __attribute__((always_inline)) void fma_rows(int64_t n, const float *a,
                                                           const float *b, const float *c, float *y,
                                                           const int ba, const int bb, const int bc,
                                                           const bool nt)
{
    __m512 va = ba ? _mm512_set1_ps(a[0]) : _mm512_setzero_ps();
    __m512 vb = bb ? _mm512_set1_ps(b[0]) : _mm512_setzero_ps();
    __m512 vc = bc ? _mm512_set1_ps(c[0]) : _mm512_setzero_ps();
    int64_t i = 0;
    if (nt) {
        for (int64_t h = bnk_head64(y); i < h && i < n; i++)
            y[i] = fmaf(a[ba ? 0 : i], b[bb ? 0 : i], c[bc ? 0 : i]);
        for (; i + 16 <= n; i += 16)
            _mm512_stream_ps(y + i,
                             _mm512_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i)));
        _mm_sfence();
    }
    for (; i + 32 <= n; i += 32) {
        __m512 r0 = _mm512_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i));
        __m512 r1 =
            _mm512_fmadd_ps(LD(a, ba, va, i + 16), LD(b, bb, vb, i + 16), LD(c, bc, vc, i + 16));
        _mm512_storeu_ps(y + i, r0);
        _mm512_storeu_ps(y + i + 16, r1);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(LD(a, ba, va, i), LD(b, bb, vb, i), LD(c, bc, vc, i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_fmadd_ps(LDM(a, ba, va, i, m), LDM(b, bb, vb, i, m), LDM(c, bc, vc, i, m)));
    }
}

void bnk_avx512_fma_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                        const float *c, int64_t sc, float *y, int64_t sy)
{
    if (sy != 1 || (sa != 0 && sa != 1) || (sb != 0 && sb != 1) || (sc != 0 && sc != 1)) {
        for (int64_t i = 0; i < n; i++)
            y[i * sy] = fmaf(a[i * sa], b[i * sb], c[i * sc]);
        return;
    }
    bool nt = bnk_streams(n, y);
    /* each combination of broadcast inputs gets its own branch-free loop */
    if (sa && sb && sc)
        fma_rows(n, a, b, c, y, 0, 0, 0, nt);
    else if (!sa && sb && sc)
        fma_rows(n, a, b, c, y, 1, 0, 0, nt);
    else if (sa && !sb && sc)
        fma_rows(n, a, b, c, y, 0, 1, 0, nt);
    else if (sa && sb && !sc)
        fma_rows(n, a, b, c, y, 0, 0, 1, nt);
    else if (sa && !sb && !sc)
        fma_rows(n, a, b, c, y, 0, 1, 1, nt);
    else if (!sa && sb && !sc)
        fma_rows(n, a, b, c, y, 1, 0, 1, nt);
    else if (!sa && !sb && sc)
        fma_rows(n, a, b, c, y, 1, 1, 0, nt);
    else
        fma_rows(n, a, b, c, y, 1, 1, 1, nt);
}
