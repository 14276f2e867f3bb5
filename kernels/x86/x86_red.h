/*
 * x86_red.h - the x86 SIMD unary, reduction and normalisation row kernels
 * (AVX2 + FMA and AVX-512 sets) that registry.c puts into the avx2 and
 * avx512 kernel-set contexts. The bodies are shared
 * (kernels/x86/vmath.h, unary_body.h, reduce_body.h) and compiled once per
 * ISA in kernels/x86/avx2/ and kernels/x86/avx512/; nothing may call them
 * unless bnk_isa_supported() said yes for their set.
 *
 * Row contracts are those of kernels/kernels.h (any strides, y may alias x
 * element for element, no alignment assumed, n == 0 touches nothing). Fast
 * paths are stride-1 rows; other strides gather and scatter VW elements at a
 * time through the same vector code, so results do not depend on strides.
 *
 * Accuracy. Unary f32, max error in ulp of the exact result (ulp below 2^-126
 * taken as 2^-149): the bound asserted by tests/test_kernels_red.c, and in
 * brackets the largest error its sweep found over every 61st f32 bit pattern
 * in [-100, 100] (BN_TEST_ULP_STEP=61; 36.7 million values per function):
 *     exp        1    (0.92)  overflow above 88.7228, 0 below -103.97,
 *                             subnormal results rounded once
 *     log        1    (0.91)
 *     tanh       2    (1.49)
 *     sigmoid    2    (1.43)
 *     silu       2    (1.55)
 *     gelu       2.5  (2.24)  erf form
 *     gelu_tanh  2    (1.71)
 *     neg, abs, relu, relu2: identical to the reference.
 * The reference (libm in double, rounded once) is within 0.5 ulp + tiny;
 * against it the difference is at most these bounds + 0.5 ulp.
 *   Special values behave as the reference (libm in double): NaN -> NaN,
 *   exp(+inf) = inf, exp(-inf) = 0, tanh(+-inf) = +-1, tanh(-0) = -0,
 *   sigmoid(+-inf) = 1 / 0, silu/gelu/gelu_tanh(+inf) = inf and (-inf) = NaN
 *   (the reference's -inf * 0), log(0) = -inf, log(x < 0) = NaN.
 * Reductions (double accumulation, see reduce_body.h):
 *     sum, sumsq, sumsqdev: |s - exact| <= (n_leaf/lanes + log2 n + 8) 2^-53
 *       sum|term| <= 2^-45 sum|term| (the reference: (16 + log2 n) 2^-53
 *       sum|term|); both are far inside 1 f32 ulp + 1e-12 sum|term|.
 *     min, max: exact (equal to the reference except that a zero result may
 *       carry the other sign when +0 and -0 both occur); NaN rows return the
 *       reference's first NaN.
 *     rmsnorm, layernorm: the reference's double formula per element with
 *       the statistics above: <= 1 ulp (0.5 ulp + the statistics' 2^-45).
 *     softmax: <= 2 ulp (f32 exp of an exact x - max, double sum and scale).
 *     log_softmax: <= 1 ulp + 2^-22 absolute (the log of a sum of f32
 *       exponentials, each within 1 ulp).
 */
#ifndef BITNET_KERNELS_X86_RED_H
#define BITNET_KERNELS_X86_RED_H

#include "kernels/kernels.h"

/* Each kernel is declared by its full name (see x86.h). */
#define BNK_X86_DECL_UNARY(fn)  void fn(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
#define BNK_X86_DECL_REDUCE(fn) double fn(int64_t n, const float *x, int64_t sx);

BNK_X86_DECL_UNARY(bnk_avx2_neg_f32)
BNK_X86_DECL_UNARY(bnk_avx2_abs_f32)
BNK_X86_DECL_UNARY(bnk_avx2_relu_f32)
BNK_X86_DECL_UNARY(bnk_avx2_relu2_f32)
BNK_X86_DECL_UNARY(bnk_avx2_exp_f32)
BNK_X86_DECL_UNARY(bnk_avx2_log_f32)
BNK_X86_DECL_UNARY(bnk_avx2_tanh_f32)
BNK_X86_DECL_UNARY(bnk_avx2_sigmoid_f32)
BNK_X86_DECL_UNARY(bnk_avx2_silu_f32)
BNK_X86_DECL_UNARY(bnk_avx2_gelu_f32)
BNK_X86_DECL_UNARY(bnk_avx2_gelu_tanh_f32)
BNK_X86_DECL_UNARY(bnk_avx2_softmax_f32)
BNK_X86_DECL_UNARY(bnk_avx2_log_softmax_f32)
BNK_X86_DECL_REDUCE(bnk_avx2_sum_f32)
BNK_X86_DECL_REDUCE(bnk_avx2_sumsq_f32)
BNK_X86_DECL_REDUCE(bnk_avx2_min_f32)
BNK_X86_DECL_REDUCE(bnk_avx2_max_f32)
double bnk_avx2_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean);
void bnk_avx2_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                          float eps, float *y, int64_t sy);
void bnk_avx2_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx, const float *w,
                               float eps, float *y, int64_t ldy);
void bnk_avx2_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                            const float *b, int64_t sb, float eps, float *y, int64_t sy);

BNK_X86_DECL_UNARY(bnk_avx512_neg_f32)
BNK_X86_DECL_UNARY(bnk_avx512_abs_f32)
BNK_X86_DECL_UNARY(bnk_avx512_relu_f32)
BNK_X86_DECL_UNARY(bnk_avx512_relu2_f32)
BNK_X86_DECL_UNARY(bnk_avx512_exp_f32)
BNK_X86_DECL_UNARY(bnk_avx512_log_f32)
BNK_X86_DECL_UNARY(bnk_avx512_tanh_f32)
BNK_X86_DECL_UNARY(bnk_avx512_sigmoid_f32)
BNK_X86_DECL_UNARY(bnk_avx512_silu_f32)
BNK_X86_DECL_UNARY(bnk_avx512_gelu_f32)
BNK_X86_DECL_UNARY(bnk_avx512_gelu_tanh_f32)
BNK_X86_DECL_UNARY(bnk_avx512_softmax_f32)
BNK_X86_DECL_UNARY(bnk_avx512_log_softmax_f32)
BNK_X86_DECL_REDUCE(bnk_avx512_sum_f32)
BNK_X86_DECL_REDUCE(bnk_avx512_sumsq_f32)
BNK_X86_DECL_REDUCE(bnk_avx512_min_f32)
BNK_X86_DECL_REDUCE(bnk_avx512_max_f32)
double bnk_avx512_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean);
void bnk_avx512_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                            float eps, float *y, int64_t sy);
void bnk_avx512_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx,
                                 const float *w, float eps, float *y, int64_t ldy);
void bnk_avx512_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                              const float *b, int64_t sb, float eps, float *y, int64_t sy);

#undef BNK_X86_DECL_UNARY
#undef BNK_X86_DECL_REDUCE

#endif
