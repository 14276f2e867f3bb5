/*
 * vec_avx512.h - the vector vocabulary of the shared unary/reduction bodies
 * (kernels/x86/vmath.h, unary_body.h, reduce_body.h) in AVX-512 F/DQ terms:
 * 16 f32 lanes, masks as __mmask16, double halves of 8 lanes. Same names and
 * meanings as vec_avx2.h. Include only from files in kernels/x86/avx512/.
 */
#ifndef BITNET_KERNELS_X86_VEC_AVX512_H
#define BITNET_KERNELS_X86_VEC_AVX512_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#define VW 16
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;
typedef __m512d vd;

static inline vf v_set1(float a)
{
    return _mm512_set1_ps(a);
}
static inline vf v_zero(void)
{
    return _mm512_setzero_ps();
}
static inline vf v_load(const float *p)
{
    return _mm512_loadu_ps(p);
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
    _mm512_storeu_ps(p, v);
}
/* non-temporal store; p aligned to the vector size */
static inline void v_stream(float *p, vf v)
{
    _mm512_stream_ps(p, v);
}
static inline vm v_tail(int64_t n)
{
    return (vm)((1u << n) - 1u);
}
static inline vf v_loadn(const float *p, int64_t n)
{
    return _mm512_maskz_loadu_ps(v_tail(n), p);
}
static inline void v_storen(float *p, vf v, int64_t n)
{
    _mm512_mask_storeu_ps(p, v_tail(n), v);
}
static inline vf v_add(vf a, vf b)
{
    return _mm512_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm512_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm512_mul_ps(a, b);
}
static inline vf v_div(vf a, vf b)
{
    return _mm512_div_ps(a, b);
}
/* 1/a to about 14 bits */
static inline vf v_rcp(vf a)
{
    return _mm512_rcp14_ps(a);
}
static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm512_fmadd_ps(a, b, c);
}
static inline vf v_fnma(vf a, vf b, vf c)
{
    return _mm512_fnmadd_ps(a, b, c);
}
static inline vf v_fms(vf a, vf b, vf c)
{
    return _mm512_fmsub_ps(a, b, c);
}
static inline vf v_max(vf a, vf b)
{
    return _mm512_max_ps(a, b);
}
static inline vf v_min(vf a, vf b)
{
    return _mm512_min_ps(a, b);
}
static inline vf v_abs(vf a)
{
    return _mm512_abs_ps(a);
}
static inline vf v_signbit(vf a)
{
    return _mm512_and_ps(_mm512_set1_ps(-0.0f), a);
}
static inline vf v_or(vf a, vf b)
{
    return _mm512_or_ps(a, b);
}
static inline vf v_xor(vf a, vf b)
{
    return _mm512_xor_ps(a, b);
}
static inline vf v_round(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vm v_lt(vf a, vf b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
static inline vm v_le(vf a, vf b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ);
}
static inline vm v_eq(vf a, vf b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
}
static inline vm v_isnan(vf a)
{
    return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
}
static inline vm v_mand(vm a, vm b)
{
    return (vm)(a & b);
}
static inline vm v_mor(vm a, vm b)
{
    return (vm)(a | b);
}
static inline vm v_mnone(void)
{
    return 0;
}
static inline bool v_any(vm m)
{
    return m != 0;
}
static inline vf v_blend(vm m, vf a, vf b)
{
    return _mm512_mask_blend_ps(m, a, b);
}
static inline vf v_pow2i(vf k)
{
    __m512i i = _mm512_cvtps_epi32(k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23));
}
static inline void v_halves(vf k, vf *k1, vf *k2)
{
    *k1 = _mm512_roundscale_ps(_mm512_mul_ps(k, _mm512_set1_ps(0.5f)),
                               _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    *k2 = _mm512_sub_ps(k, *k1);
}
static inline vf v_getexp(vf x)
{
    return _mm512_getexp_ps(x);
}
static inline vf v_getmant(vf x)
{
    return _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
}
static inline float v_hmax(vf a)
{
    return _mm512_reduce_max_ps(a);
}
static inline float v_hmin(vf a)
{
    return _mm512_reduce_min_ps(a);
}

static inline vd vd_set1(double a)
{
    return _mm512_set1_pd(a);
}
static inline vd vd_zero(void)
{
    return _mm512_setzero_pd();
}
/* VW / 2 floats at p (any alignment) widened to double: one load-convert */
static inline vd vd_loadw(const float *p)
{
    return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
static inline vd vd_lo(vf a)
{
    return _mm512_cvtps_pd(_mm512_castps512_ps256(a));
}
static inline vd vd_hi(vf a)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}
static inline vf v_from_d(vd lo, vd hi)
{
    __m256 l = _mm512_cvtpd_ps(lo), h = _mm512_cvtpd_ps(hi);
    return _mm512_insertf32x8(_mm512_castps256_ps512(l), h, 1);
}
static inline vd vd_add(vd a, vd b)
{
    return _mm512_add_pd(a, b);
}
static inline vd vd_sub(vd a, vd b)
{
    return _mm512_sub_pd(a, b);
}
static inline vd vd_mul(vd a, vd b)
{
    return _mm512_mul_pd(a, b);
}
static inline vd vd_fma(vd a, vd b, vd c)
{
    return _mm512_fmadd_pd(a, b, c);
}
static inline double vd_hsum(vd a)
{
    return _mm512_reduce_add_pd(a);
}

#endif
