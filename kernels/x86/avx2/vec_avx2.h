/*
 * vec_avx2.h - the vector vocabulary of the shared unary/reduction bodies
 * (kernels/x86/vmath.h, unary_body.h, reduce_body.h) in AVX2 + FMA terms:
 * 8 f32 lanes, masks as all-ones lanes, double halves of 4 lanes.
 *
 * The bodies are written once against these names and compiled twice, here
 * and with vec_avx512.h, so the two sets share their numerics exactly; only
 * the lane count and the instructions differ. Include only from files in
 * kernels/x86/avx2/ (compiled with -mavx2 -mfma).
 */
#ifndef BITNET_KERNELS_X86_VEC_AVX2_H
#define BITNET_KERNELS_X86_VEC_AVX2_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#define VW 8        /* f32 lanes */
typedef __m256 vf;  /* f32 lanes */
typedef __m256i vi; /* i32 lanes */
typedef __m256 vm;  /* lane mask */
typedef __m256d vd; /* f64 lanes: half a vf */

static inline vf v_set1(float a)
{
    return _mm256_set1_ps(a);
}
static inline vf v_zero(void)
{
    return _mm256_setzero_ps();
}
static inline vf v_load(const float *p)
{
    return _mm256_loadu_ps(p);
}
/* v, kept in a register: GCC folds a loaded vector into every instruction
 * that uses it as a memory operand, one load each, and a loop that uses a
 * value three times then runs on the load ports, not the FMA pipes. */
static inline vf v_reg(vf v)
{
    __asm__("" : "+v"(v));
    return v;
}
static inline void v_store(float *p, vf v)
{
    _mm256_storeu_ps(p, v);
}
/* non-temporal store; p aligned to the vector size */
static inline void v_stream(float *p, vf v)
{
    _mm256_stream_ps(p, v);
}
/* lanes [0, n) on, 0 < n < VW */
static inline __m256i v_tailmask_(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* the first n lanes from p, the others 0 (no memory past p[n-1] is read) */
static inline vf v_loadn(const float *p, int64_t n)
{
    return _mm256_maskload_ps(p, v_tailmask_(n));
}
static inline void v_storen(float *p, vf v, int64_t n)
{
    _mm256_maskstore_ps(p, v_tailmask_(n), v);
}
static inline vm v_tail(int64_t n)
{
    return _mm256_castsi256_ps(v_tailmask_(n));
}
static inline vf v_add(vf a, vf b)
{
    return _mm256_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm256_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm256_mul_ps(a, b);
}
static inline vf v_div(vf a, vf b)
{
    return _mm256_div_ps(a, b);
}
/* 1/a to about 12 bits */
static inline vf v_rcp(vf a)
{
    return _mm256_rcp_ps(a);
}
/* a * b + c, one rounding */
static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm256_fmadd_ps(a, b, c);
}
/* c - a * b, one rounding */
static inline vf v_fnma(vf a, vf b, vf c)
{
    return _mm256_fnmadd_ps(a, b, c);
}
/* a * b - c, one rounding */
static inline vf v_fms(vf a, vf b, vf c)
{
    return _mm256_fmsub_ps(a, b, c);
}
/* vmaxps / vminps: b when either is NaN */
static inline vf v_max(vf a, vf b)
{
    return _mm256_max_ps(a, b);
}
static inline vf v_min(vf a, vf b)
{
    return _mm256_min_ps(a, b);
}
static inline vf v_abs(vf a)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a);
}
static inline vf v_signbit(vf a)
{
    return _mm256_and_ps(_mm256_set1_ps(-0.0f), a);
}
static inline vf v_or(vf a, vf b)
{
    return _mm256_or_ps(a, b);
}
static inline vf v_xor(vf a, vf b)
{
    return _mm256_xor_ps(a, b);
}
static inline vf v_round(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vm v_lt(vf a, vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
static inline vm v_le(vf a, vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_LE_OQ);
}
static inline vm v_eq(vf a, vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
}
static inline vm v_isnan(vf a)
{
    return _mm256_cmp_ps(a, a, _CMP_UNORD_Q);
}
static inline vm v_mand(vm a, vm b)
{
    return _mm256_and_ps(a, b);
}
static inline vm v_mor(vm a, vm b)
{
    return _mm256_or_ps(a, b);
}
static inline vm v_mnone(void)
{
    return _mm256_setzero_ps();
}
static inline bool v_any(vm m)
{
    return _mm256_movemask_ps(m) != 0;
}
/* m ? b : a, per lane */
static inline vf v_blend(vm m, vf a, vf b)
{
    return _mm256_blendv_ps(a, b, m);
}
/* 2^k for integer-valued k in [-126, 127] given as f32 lanes */
static inline vf v_pow2i(vf k)
{
    __m256i i = _mm256_cvtps_epi32(k);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}
/* integer-valued k split k = k1 + k2, k1 = floor(k / 2) */
static inline void v_halves(vf k, vf *k1, vf *k2)
{
    *k1 = _mm256_floor_ps(_mm256_mul_ps(k, _mm256_set1_ps(0.5f)));
    *k2 = _mm256_sub_ps(k, *k1);
}
/* exponent and mantissa: x = m * 2^e, m in [1, 2), x normal and positive */
static inline vf v_getexp(vf x)
{
    __m256i e =
        _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(x), 23), _mm256_set1_epi32(127));
    return _mm256_cvtepi32_ps(e);
}
static inline vf v_getmant(vf x)
{
    __m256i m =
        _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x007fffff)),
                        _mm256_set1_epi32(0x3f800000));
    return _mm256_castsi256_ps(m);
}
static inline float v_hmax(vf a)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
static inline float v_hmin(vf a)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* ---- f64 halves ---- */
static inline vd vd_set1(double a)
{
    return _mm256_set1_pd(a);
}
static inline vd vd_zero(void)
{
    return _mm256_setzero_pd();
}
/* VW / 2 floats at p (any alignment) widened to double: one load-convert */
static inline vd vd_loadw(const float *p)
{
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
static inline vd vd_lo(vf a)
{
    return _mm256_cvtps_pd(_mm256_castps256_ps128(a));
}
static inline vd vd_hi(vf a)
{
    return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
}
/* the two halves rounded back to f32 lanes */
static inline vf v_from_d(vd lo, vd hi)
{
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}
static inline vd vd_add(vd a, vd b)
{
    return _mm256_add_pd(a, b);
}
static inline vd vd_sub(vd a, vd b)
{
    return _mm256_sub_pd(a, b);
}
static inline vd vd_mul(vd a, vd b)
{
    return _mm256_mul_pd(a, b);
}
static inline vd vd_fma(vd a, vd b, vd c)
{
    return _mm256_fmadd_pd(a, b, c);
}
static inline double vd_hsum(vd a)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#endif
