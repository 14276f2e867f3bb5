/*
 * unary_avx512.c - AVX-512 element-wise unary f32 row kernels (exp, log,
 * tanh, sigmoid, silu, gelu, gelu_tanh, neg, abs, relu, relu2). The bodies
 * are kernels/x86/unary_body.h over vec_avx512.h (16 lanes); contracts and
 * error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx512/vec_avx512.h"
#include "kernels/x86/unary_body.h"

UNARY_ROW(bnk_avx512_neg_f32, vu_neg)
UNARY_ROW(bnk_avx512_abs_f32, v_abs)
UNARY_ROW(bnk_avx512_relu_f32, vu_relu)
UNARY_ROW(bnk_avx512_relu2_f32, vu_relu2)
UNARY_ROW(bnk_avx512_exp_f32, vm_exp)
UNARY_ROW(bnk_avx512_log_f32, vm_log)
UNARY_ROW(bnk_avx512_tanh_f32, vm_tanh)
UNARY_ROW(bnk_avx512_sigmoid_f32, vu_sigmoid)
UNARY_ROW(bnk_avx512_silu_f32, vu_silu)
UNARY_ROW(bnk_avx512_gelu_f32, vm_gelu)
UNARY_ROW(bnk_avx512_gelu_tanh_f32, vm_gelu_tanh)
