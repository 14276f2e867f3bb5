/*
 * ref.h - the portable reference kernels (the truth every other kernel set is
 * tested against). Row contracts are those of kernels/kernels.h.
 *
 * Numerics, per kind:
 *  - f32 add/sub/mul/div/rem/maximum/minimum are the IEEE f32 operations
 *    (fmodf for rem; maximum/minimum return NaN when either input is NaN).
 *  - pow and every transcendental unary (exp, log, sqrt, rsqrt, sin, cos,
 *    tanh, sigmoid, gelu, gelu_tanh, silu) are evaluated in double with libm
 *    and rounded once to f32, so they are within 1 ulp of the exact result
 *    (correctly rounded except in double-rounding corner cases).
 *  - Integer add/sub/mul wrap as two's complement (computed in unsigned
 *    arithmetic, so never undefined behaviour): i32 modulo 2^32, i8 modulo
 *    2^8. neg/abs of the most negative value wrap to itself.
 *  - Sums are pairwise (blocks of 16 summed in double, halves added), so the
 *    error is O(log n) double roundings; products and the dot products of
 *    gemm accumulate in double left to right.
 */
#ifndef BITNET_KERNELS_REF_H
#define BITNET_KERNELS_REF_H

#include "kernels/kernels.h"

/* element-wise binary, f32 */
void bnk_ref_add_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_sub_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_mul_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_div_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_rem_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_pow_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                     int64_t sy);
void bnk_ref_maximum_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                         float *y, int64_t sy);
void bnk_ref_minimum_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                         float *y, int64_t sy);

/* element-wise binary, integers (wrapping) */
void bnk_ref_add_i32(int64_t n, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                     int32_t *y, int64_t sy);
void bnk_ref_sub_i32(int64_t n, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                     int32_t *y, int64_t sy);
void bnk_ref_mul_i32(int64_t n, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                     int32_t *y, int64_t sy);
void bnk_ref_maximum_i32(int64_t n, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                         int32_t *y, int64_t sy);
void bnk_ref_minimum_i32(int64_t n, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                         int32_t *y, int64_t sy);
void bnk_ref_add_i8(int64_t n, const int8_t *a, int64_t sa, const int8_t *b, int64_t sb, int8_t *y,
                    int64_t sy);
void bnk_ref_sub_i8(int64_t n, const int8_t *a, int64_t sa, const int8_t *b, int64_t sb, int8_t *y,
                    int64_t sy);
void bnk_ref_mul_i8(int64_t n, const int8_t *a, int64_t sa, const int8_t *b, int64_t sb, int8_t *y,
                    int64_t sy);
void bnk_ref_maximum_i8(int64_t n, const int8_t *a, int64_t sa, const int8_t *b, int64_t sb,
                        int8_t *y, int64_t sy);
void bnk_ref_minimum_i8(int64_t n, const int8_t *a, int64_t sa, const int8_t *b, int64_t sb,
                        int8_t *y, int64_t sy);

/* element-wise unary, f32 */
void bnk_ref_neg_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_abs_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_exp_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_log_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_sqrt_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_rsqrt_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_sin_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_cos_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_tanh_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_sigmoid_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_relu_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_relu2_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_gelu_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_gelu_tanh_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_silu_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_clamp_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy, float lo,
                       float hi);

/* element-wise unary, integers */
void bnk_ref_neg_i32(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy);
void bnk_ref_abs_i32(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy);
void bnk_ref_relu_i32(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy);
void bnk_ref_clamp_i32(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy, int32_t lo,
                       int32_t hi);
void bnk_ref_neg_i8(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy);
void bnk_ref_abs_i8(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy);
void bnk_ref_relu_i8(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy);
void bnk_ref_clamp_i8(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy, int8_t lo,
                      int8_t hi);

/* reductions of one row */
double bnk_ref_sum_f32(int64_t n, const float *x, int64_t sx);
double bnk_ref_sumsq_f32(int64_t n, const float *x, int64_t sx);
double bnk_ref_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean);
double bnk_ref_prod_f32(int64_t n, const float *x, int64_t sx);
double bnk_ref_min_f32(int64_t n, const float *x, int64_t sx);
double bnk_ref_max_f32(int64_t n, const float *x, int64_t sx);
int64_t bnk_ref_argmin_f32(int64_t n, const float *x, int64_t sx);
int64_t bnk_ref_argmax_f32(int64_t n, const float *x, int64_t sx);

/* normalisation of one row */
void bnk_ref_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_log_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void bnk_ref_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                         float eps, float *y, int64_t sy);
void bnk_ref_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx, const float *w,
                              float eps, float *y, int64_t ldy);
void bnk_ref_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                           const float *b, int64_t sb, float eps, float *y, int64_t sy);

/* fused multiply-add row (fmaf: rounded once) and f16/bf16 conversion rows
 * (bn_f16_to_f32 & co. of dtype.h, element by element) */
void bnk_ref_fma_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                     const float *c, int64_t sc, float *y, int64_t sy);
void bnk_ref_f16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y);
void bnk_ref_f32_to_f16(int64_t n, const float *x, uint16_t *y, int64_t sy);
void bnk_ref_bf16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y);
void bnk_ref_f32_to_bf16(int64_t n, const float *x, uint16_t *y, int64_t sy);

/* one matrix product */
void bnk_ref_gemm_f32(int64_t M, int64_t N, int64_t K, const float *a, int64_t sam, int64_t sak,
                      const float *b, int64_t sbk, int64_t sbn, float *c, int64_t scm, int64_t scn);

#endif
