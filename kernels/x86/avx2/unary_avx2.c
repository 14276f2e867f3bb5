/*
 * unary_avx2.c - AVX2 + FMA element-wise unary f32 row kernels (exp, log,
 * tanh, sigmoid, silu, gelu, gelu_tanh, neg, abs, relu, relu2). The bodies
 * are kernels/x86/unary_body.h over vec_avx2.h (8 lanes); contracts and
 * error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx2/vec_avx2.h"
#include "kernels/x86/unary_body.h"
