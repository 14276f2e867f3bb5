/*
 * reduce_avx2.c - AVX2 + FMA row reductions and normalisations (sum, sumsq,
 * sumsqdev, min, max, softmax, log_softmax, rmsnorm, layernorm). The bodies
 * are kernels/x86/reduce_body.h over vec_avx2.h (8 f32 / 4 f64 lanes);
 * contracts and error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx2/vec_avx2.h"
#include "kernels/x86/reduce_body.h"
