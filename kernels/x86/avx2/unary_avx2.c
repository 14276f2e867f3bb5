/*
 * unary_avx2.c - AVX2 + FMA element-wise unary f32 row kernels (exp, log,
 * tanh, sigmoid, silu, gelu, gelu_tanh, neg, abs, relu, relu2). The bodies
 * are kernels/x86/unary_body.h over vec_avx2.h (8 lanes); contracts and
 * error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx2/vec_avx2.h"
#include "kernels/x86/unary_body.h"

UNARY_ROW(bnk_avx2_neg_f32, vu_neg)
UNARY_ROW(bnk_avx2_abs_f32, v_abs)
UNARY_ROW(bnk_avx2_relu_f32, vu_relu)
UNARY_ROW(bnk_avx2_relu2_f32, vu_relu2)
UNARY_ROW(bnk_avx2_exp_f32, vm_exp)
UNARY_ROW(bnk_avx2_log_f32, vm_log)
UNARY_ROW(bnk_avx2_tanh_f32, vm_tanh)
UNARY_ROW(bnk_avx2_sigmoid_f32, vu_sigmoid)
UNARY_ROW(bnk_avx2_silu_f32, vu_silu)
UNARY_ROW(bnk_avx2_gelu_f32, vm_gelu)
UNARY_ROW(bnk_avx2_gelu_tanh_f32, vm_gelu_tanh)
