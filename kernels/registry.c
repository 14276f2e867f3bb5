/*
 * registry.c - the kernel tables and the choice of the active one.
 *
 * Only the portable reference table exists yet; bnk_active() returns it. The
 * SIMD issue adds ISA tables here and picks one at init from CPUID (and
 * BN_KERNELS), keeping the reference as the fallback for every NULL entry.
 */
#include <assert.h>

#include "kernels/ref/ref.h"

static_assert(BN_OP_COUNT == 51, "a new op needs its entries in the kernel tables");

const bnk_table bnk_ref_table = {
    .name = "ref",
    .binary_f32 =
        {
            [BN_OP_ADD] = bnk_ref_add_f32,
            [BN_OP_SUB] = bnk_ref_sub_f32,
            [BN_OP_MUL] = bnk_ref_mul_f32,
            [BN_OP_DIV] = bnk_ref_div_f32,
            [BN_OP_REM] = bnk_ref_rem_f32,
            [BN_OP_POW] = bnk_ref_pow_f32,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_f32,
            [BN_OP_MINIMUM] = bnk_ref_minimum_f32,
        },
    .binary_i32 =
        {
            [BN_OP_ADD] = bnk_ref_add_i32,
            [BN_OP_SUB] = bnk_ref_sub_i32,
            [BN_OP_MUL] = bnk_ref_mul_i32,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_i32,
            [BN_OP_MINIMUM] = bnk_ref_minimum_i32,
        },
    .binary_i8 =
        {
            [BN_OP_ADD] = bnk_ref_add_i8,
            [BN_OP_SUB] = bnk_ref_sub_i8,
            [BN_OP_MUL] = bnk_ref_mul_i8,
            [BN_OP_MAXIMUM] = bnk_ref_maximum_i8,
            [BN_OP_MINIMUM] = bnk_ref_minimum_i8,
        },
    .unary_f32 =
        {
            [BN_OP_NEG] = bnk_ref_neg_f32,
            [BN_OP_ABS] = bnk_ref_abs_f32,
            [BN_OP_EXP] = bnk_ref_exp_f32,
            [BN_OP_LOG] = bnk_ref_log_f32,
            [BN_OP_SQRT] = bnk_ref_sqrt_f32,
            [BN_OP_RSQRT] = bnk_ref_rsqrt_f32,
            [BN_OP_SIN] = bnk_ref_sin_f32,
            [BN_OP_COS] = bnk_ref_cos_f32,
            [BN_OP_TANH] = bnk_ref_tanh_f32,
            [BN_OP_SIGMOID] = bnk_ref_sigmoid_f32,
            [BN_OP_RELU] = bnk_ref_relu_f32,
            [BN_OP_RELU2] = bnk_ref_relu2_f32,
            [BN_OP_GELU] = bnk_ref_gelu_f32,
            [BN_OP_GELU_TANH] = bnk_ref_gelu_tanh_f32,
            [BN_OP_SILU] = bnk_ref_silu_f32,
        },
    .unary_i32 =
        {
            [BN_OP_NEG] = bnk_ref_neg_i32,
            [BN_OP_ABS] = bnk_ref_abs_i32,
            [BN_OP_RELU] = bnk_ref_relu_i32,
        },
    .unary_i8 =
        {
            [BN_OP_NEG] = bnk_ref_neg_i8,
            [BN_OP_ABS] = bnk_ref_abs_i8,
            [BN_OP_RELU] = bnk_ref_relu_i8,
        },
    .clamp_f32 = bnk_ref_clamp_f32,
    .clamp_i32 = bnk_ref_clamp_i32,
    .clamp_i8 = bnk_ref_clamp_i8,
    .sum_f32 = bnk_ref_sum_f32,
    .sumsq_f32 = bnk_ref_sumsq_f32,
    .sumsqdev_f32 = bnk_ref_sumsqdev_f32,
    .prod_f32 = bnk_ref_prod_f32,
    .min_f32 = bnk_ref_min_f32,
    .max_f32 = bnk_ref_max_f32,
    .argmin_f32 = bnk_ref_argmin_f32,
    .argmax_f32 = bnk_ref_argmax_f32,
    .softmax_f32 = bnk_ref_softmax_f32,
    .log_softmax_f32 = bnk_ref_log_softmax_f32,
    .rmsnorm_f32 = bnk_ref_rmsnorm_f32,
    .layernorm_f32 = bnk_ref_layernorm_f32,
    .gemm_f32 = bnk_ref_gemm_f32,
};

const bnk_table *bnk_active(void)
{
    return &bnk_ref_table;
}
