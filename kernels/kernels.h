/*
 * kernels.h - the kernel table: the inner loops the engine's ops call.
 *
 * The engine (engine/ops_*.c) does the shape work - broadcasting, walking
 * strided views row by row, widening f16/bf16 into f32 scratch rows - and
 * hands each innermost row to a function from this table. A row is `n`
 * elements with a stride per operand (in elements; 0 for a broadcast input).
 * Today the only table is the portable reference (kernels/ref/); the SIMD
 * issue adds ISA tables and run-time selection behind bnk_active() without
 * changing the engine.
 *
 * Contract for every row kernel:
 *  - n >= 0; n == 0 touches no memory.
 *  - Input strides may be 0 (broadcast) or any positive value; output strides
 *    are >= 1 (the engine never writes through a broadcast view).
 *  - Outputs may alias an input element for element (same pointer, same
 *    stride: in-place ops); any other overlap is excluded by the engine.
 *  - No alignment is assumed.
 *  - Accuracy: the reference is the truth; other tables state their error
 *    against it in their own headers.
 *
 * Tables indexed by bn_op have BN_OP_COUNT entries; an entry is NULL when the
 * op has no kernel of that kind.
 */
#ifndef BITNET_KERNELS_H
#define BITNET_KERNELS_H

#include <stdint.h>

#include "bitnet/ops.h"

/* y[i*sy] = a[i*sa] op b[i*sb] */
typedef void (*bnk_binary_f32_fn)(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                                  float *y, int64_t sy);
typedef void (*bnk_binary_i32_fn)(int64_t n, const int32_t *a, int64_t sa, const int32_t *b,
                                  int64_t sb, int32_t *y, int64_t sy);
typedef void (*bnk_binary_i8_fn)(int64_t n, const int8_t *a, int64_t sa, const int8_t *b,
                                 int64_t sb, int8_t *y, int64_t sy);
/* y[i*sy] = f(x[i*sx]) */
typedef void (*bnk_unary_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
typedef void (*bnk_unary_i32_fn)(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy);
typedef void (*bnk_unary_i8_fn)(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy);
/* y = min(max(x, lo), hi), lo <= hi (NaN x stays NaN) */
typedef void (*bnk_clamp_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy,
                                 float lo, float hi);
typedef void (*bnk_clamp_i32_fn)(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy,
                                 int32_t lo, int32_t hi);
typedef void (*bnk_clamp_i8_fn)(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy,
                                int8_t lo, int8_t hi);

/* Reductions of one strided row to a double (sums: pairwise, in double). */
typedef double (*bnk_reduce_f32_fn)(int64_t n, const float *x, int64_t sx);
/* sum over the row of (x - mean)^2, pairwise in double */
typedef double (*bnk_sumsqdev_f32_fn)(int64_t n, const float *x, int64_t sx, double mean);
/* index of the first min / max (NaN counts as the extreme: first NaN wins); n >= 1 */
typedef int64_t (*bnk_argreduce_f32_fn)(int64_t n, const float *x, int64_t sx);

/* softmax / log_softmax of one row (y may alias x element for element) */
typedef void (*bnk_softmax_f32_fn)(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
/* y = x / sqrt(mean(x^2) + eps) * w ; w may be NULL (then 1) */
typedef void (*bnk_rmsnorm_f32_fn)(int64_t n, const float *x, int64_t sx, const float *w,
                                   int64_t sw, float eps, float *y, int64_t sy);
/* y = (x - mean) / sqrt(var + eps) * w + b ; w, b may be NULL (1, 0) */
typedef void (*bnk_layernorm_f32_fn)(int64_t n, const float *x, int64_t sx, const float *w,
                                     int64_t sw, const float *b, int64_t sb, float eps, float *y,
                                     int64_t sy);
/*
 * C[M,N] = A[M,K] * B[K,N] for one matrix, every operand with a row and a
 * column stride (so transposed views need no copy). C must not overlap A or
 * B. K == 0 writes zeros.
 */
typedef void (*bnk_gemm_f32_fn)(int64_t M, int64_t N, int64_t K, const float *a, int64_t sam,
                                int64_t sak, const float *b, int64_t sbk, int64_t sbn, float *c,
                                int64_t scm, int64_t scn);

typedef struct bnk_table {
    const char *name;                          /* "ref" */
    bnk_binary_f32_fn binary_f32[BN_OP_COUNT]; /* ADD .. MINIMUM */
    bnk_binary_i32_fn binary_i32[BN_OP_COUNT]; /* ADD, SUB, MUL, MAXIMUM, MINIMUM */
    bnk_binary_i8_fn binary_i8[BN_OP_COUNT];
    bnk_unary_f32_fn unary_f32[BN_OP_COUNT]; /* NEG .. SILU */
    bnk_unary_i32_fn unary_i32[BN_OP_COUNT]; /* NEG, ABS, RELU */
    bnk_unary_i8_fn unary_i8[BN_OP_COUNT];
    bnk_clamp_f32_fn clamp_f32;
    bnk_clamp_i32_fn clamp_i32;
    bnk_clamp_i8_fn clamp_i8;
    bnk_reduce_f32_fn sum_f32;   /* pairwise, double */
    bnk_reduce_f32_fn sumsq_f32; /* sum of x^2, pairwise, double */
    bnk_sumsqdev_f32_fn sumsqdev_f32;
    bnk_reduce_f32_fn prod_f32; /* product in double */
    bnk_reduce_f32_fn min_f32;  /* NaN propagates; n >= 1 */
    bnk_reduce_f32_fn max_f32;
    bnk_argreduce_f32_fn argmin_f32;
    bnk_argreduce_f32_fn argmax_f32;
    bnk_softmax_f32_fn softmax_f32;
    bnk_softmax_f32_fn log_softmax_f32;
    bnk_rmsnorm_f32_fn rmsnorm_f32;
    bnk_layernorm_f32_fn layernorm_f32;
    bnk_gemm_f32_fn gemm_f32;
} bnk_table;

/* The portable reference table (kernels/ref/). */
extern const bnk_table bnk_ref_table;

/* The table the engine uses. Today always the reference; the SIMD issue
 * chooses here at init. Never NULL; thread-safe. */
const bnk_table *bnk_active(void);

#endif
