/*
 * reduce_avx512.c - AVX-512 row reductions and normalisations (sum, sumsq,
 * sumsqdev, min, max, softmax, log_softmax, rmsnorm, layernorm). The bodies
 * are kernels/x86/reduce_body.h over vec_avx512.h (16 f32 / 8 f64 lanes);
 * contracts and error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx512/vec_avx512.h"
#include "kernels/x86/reduce_body.h"
