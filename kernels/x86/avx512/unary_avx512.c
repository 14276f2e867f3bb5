/*
 * unary_avx512.c - AVX-512 element-wise unary f32 row kernels (exp, log,
 * tanh, sigmoid, silu, gelu, gelu_tanh, neg, abs, relu, relu2). The bodies
 * are kernels/x86/unary_body.h over vec_avx512.h (16 lanes); contracts and
 * error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx512/vec_avx512.h"
#include "kernels/x86/unary_body.h"
