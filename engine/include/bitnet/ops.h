/*
 * ops.h - the op list and the reference ops on tensors.
 *
 * Ops are data: BN_OP_LIST generates the enum, the name table and the kind
 * table (bn_op_kind_of); every
 * table indexed by bn_op is guarded by a static_assert on BN_OP_COUNT.
 *
 * Conventions for every op here:
 *  - Inputs may be any views (strided, transposed, broadcast with stride 0).
 *  - `*_out` forms write into an existing tensor `out` whose shape must equal
 *    the result shape (BN_ERR_SHAPE otherwise) and whose dtype must be the
 *    result dtype; `out` may be one of the inputs (in place). Forms without
 *    `_out` allocate a new contiguous result from the default pool.
 *  - Float ops compute in f32 (f16/bf16 inputs are widened, results rounded
 *    back); integer dtypes are accepted where the op is exact on integers
 *    (add, sub, mul, maximum, minimum, neg, abs, sum, min, max, argmin,
 *    argmax, clamp, relu); other combinations give BN_ERR_DTYPE naming the op
 *    and dtype. Packed ternary inputs give BN_ERR_DTYPE.
 *  - Binary ops need equal dtypes (BN_ERR_DTYPE otherwise) and broadcastable
 *    shapes (BN_ERR_SHAPE with both shapes in the message).
 *  - Errors set *out = NULL and leave `out` tensors of *_out forms unspecified
 *    only on BN_ERR_OOM; shape/dtype errors are detected before any write.
 *  - In place and overlap: `out` may be an input, element for element. When
 *    `out` overlaps an input through a different view (its transpose, a
 *    broadcast row of it, two wraps of the same memory), that input is
 *    copied to a temporary first, so the result is always as if the memory
 *    were separate. `out` itself must not be a broadcast view (stride 0 on a
 *    dim of size > 1): BN_ERR_ARG.
 *  - Integers: add, sub, mul, neg and abs wrap as two's complement (i32
 *    modulo 2^32, i8 modulo 2^8; neg/abs of the minimum give the minimum).
 *    No saturation, no undefined behaviour.
 *  - NaN: maximum/minimum and min/max propagate NaN; argmin/argmax return
 *    the first NaN's index; relu and clamp pass NaN through.
 *  - Accuracy of the reference kernels (kernels/ref/ref.h), f32 results:
 *    add, sub, mul, div, rem, sqrt are IEEE (correctly rounded); pow and the
 *    transcendental unary ops are evaluated in double and rounded once
 *    (<= 1 ulp); sums, means, var/std, norm2, softmax and the norms
 *    accumulate in double (pairwise for sums) and round once (<= 1 ulp plus
 *    a 1e-12 relative term); matmul accumulates each dot product in double
 *    (<= 1 ulp + K * 2^-53 * sum|a_ik b_kj|).
 *  - With a SIMD kernel set (bitnet/kernels.h) the element-wise f32 ops
 *    add, sub, mul, div, maximum, minimum and the f16/bf16 conversions give
 *    the reference's bits exactly; matmul runs the packed f32 GEMM, which
 *    accumulates in f32 in a blocked order:
 *    |C_ij - exact| <= 2 (K + 2) * 2^-23 * sum_k |a_ik b_kj| (f32 results;
 *    f16/bf16 results add 1 ulp of the dtype). The SIMD transcendentals
 *    are f32 polynomial kernels (kernels/x86/x86_red.h), within exp, log
 *    1 ulp; tanh, sigmoid, silu, gelu_tanh 2 ulp; gelu 2.5 ulp (NaN, Inf,
 *    signed zero, overflow and underflow as the reference); neg, abs, relu,
 *    relu2 exact. Sums, means, var/std and the norms keep the reference's
 *    double accumulation (<= 2^-45 sum|x| before the final rounding);
 *    softmax is within 2 ulp, log_softmax 1 ulp + 2^-22. Other ops run the
 *    reference kernels. f16/bf16 results: <= 1 ulp of the dtype.
 *  - Accounting (opstats.h): every call records one op. Allocating forms
 *    count their output's bytes as allocated; `_out` forms allocate nothing
 *    and count as shared when `out` shares a buffer with an input (in
 *    place). Temporaries the ops make for themselves are not counted.
 */
#ifndef BITNET_OPS_H
#define BITNET_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "bitnet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum suffix, name, kind) ; kind: V view, B binary, U unary, R reduction,
 * N normalisation, M matmul, C copy/convert, T ternary/quantization */
#define BN_OP_LIST(X)                                                                              \
    X(RESHAPE, "reshape", V)                                                                       \
    X(TRANSPOSE, "transpose", V)                                                                   \
    X(PERMUTE, "permute", V)                                                                       \
    X(SLICE, "slice", V)                                                                           \
    X(NARROW, "narrow", V)                                                                         \
    X(SQUEEZE, "squeeze", V)                                                                       \
    X(UNSQUEEZE, "unsqueeze", V)                                                                   \
    X(EXPAND, "expand", V)                                                                         \
    X(VIEW, "view", V)                                                                             \
    X(CONTIGUOUS, "contiguous", C)                                                                 \
    X(CAST, "cast", C)                                                                             \
    X(COPY, "copy", C)                                                                             \
    X(ADD, "add", B)                                                                               \
    X(SUB, "sub", B)                                                                               \
    X(MUL, "mul", B)                                                                               \
    X(DIV, "div", B)                                                                               \
    X(REM, "rem", B)                                                                               \
    X(POW, "pow", B)                                                                               \
    X(MAXIMUM, "maximum", B)                                                                       \
    X(MINIMUM, "minimum", B)                                                                       \
    X(NEG, "neg", U)                                                                               \
    X(ABS, "abs", U)                                                                               \
    X(EXP, "exp", U)                                                                               \
    X(LOG, "log", U)                                                                               \
    X(SQRT, "sqrt", U)                                                                             \
    X(RSQRT, "rsqrt", U)                                                                           \
    X(SIN, "sin", U)                                                                               \
    X(COS, "cos", U)                                                                               \
    X(TANH, "tanh", U)                                                                             \
    X(SIGMOID, "sigmoid", U)                                                                       \
    X(RELU, "relu", U)                                                                             \
    X(RELU2, "relu2", U)                                                                           \
    X(GELU, "gelu", U)                                                                             \
    X(GELU_TANH, "gelu_tanh", U)                                                                   \
    X(SILU, "silu", U)                                                                             \
    X(CLAMP, "clamp", U)                                                                           \
    X(SUM, "sum", R)                                                                               \
    X(MEAN, "mean", R)                                                                             \
    X(MIN, "min", R)                                                                               \
    X(MAX, "max", R)                                                                               \
    X(ARGMIN, "argmin", R)                                                                         \
    X(ARGMAX, "argmax", R)                                                                         \
    X(VAR, "var", R)                                                                               \
    X(STD, "std", R)                                                                               \
    X(PROD, "prod", R)                                                                             \
    X(NORM2, "norm2", R)                                                                           \
    X(SOFTMAX, "softmax", N)                                                                       \
    X(LOG_SOFTMAX, "log_softmax", N)                                                               \
    X(RMSNORM, "rmsnorm", N)                                                                       \
    X(LAYERNORM, "layernorm", N)                                                                   \
    X(MATMUL, "matmul", M)

typedef enum bn_op {
#define BN_OP_ENUM_(sfx, name, kind) BN_OP_##sfx,
    BN_OP_LIST(BN_OP_ENUM_)
#undef BN_OP_ENUM_
        BN_OP_COUNT
} bn_op;

/* The kind column of BN_OP_LIST (the engine dispatches on it, never on
 * ranges of the enum). */
typedef enum bn_op_kind {
    BN_OP_KIND_VIEW,    /* V */
    BN_OP_KIND_COPY,    /* C: copy, contiguous, cast */
    BN_OP_KIND_BINARY,  /* B: element-wise binary */
    BN_OP_KIND_UNARY,   /* U: element-wise unary (clamp included) */
    BN_OP_KIND_REDUCE,  /* R */
    BN_OP_KIND_NORM,    /* N: softmax and the normalisations */
    BN_OP_KIND_MATMUL,  /* M */
    BN_OP_KIND_TERNARY, /* T: ternary / quantization */
} bn_op_kind;

/* "add" for BN_OP_ADD; BN_ASSERTs op is valid. */
const char *bn_op_name(bn_op op);
/* The kind of op (BN_OP_KIND_BINARY for BN_OP_ADD); BN_ASSERTs op is valid. */
bn_op_kind bn_op_kind_of(bn_op op);
/* Parses an op name; BN_ERR_ARG when unknown. */
bn_status bn_op_from_name(const char *name, bn_op *out);

/* ---- element-wise binary (ADD .. MINIMUM) ------------------------------- */
/* rem is C fmod semantics (sign of the dividend); pow follows C pow (special
 * cases as powf; evaluated in double). Integer dtypes: add, sub, mul,
 * maximum, minimum. */
bn_status bn_binary(bn_op op, const bn_tensor *a, const bn_tensor *b, bn_tensor **out);
bn_status bn_binary_out(bn_op op, const bn_tensor *a, const bn_tensor *b, bn_tensor *out);
/* a op s, with s converted to a's dtype first (f16/bf16 rounded; i8/i32
 * rounded half to even and clamped to the type's range) */
bn_status bn_binary_scalar(bn_op op, const bn_tensor *a, double s, bn_tensor **out);
bn_status bn_binary_scalar_out(bn_op op, const bn_tensor *a, double s, bn_tensor *out);

static inline bn_status bn_add(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    return bn_binary(BN_OP_ADD, a, b, out);
}
static inline bn_status bn_sub(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    return bn_binary(BN_OP_SUB, a, b, out);
}
static inline bn_status bn_mul(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    return bn_binary(BN_OP_MUL, a, b, out);
}
static inline bn_status bn_div(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    return bn_binary(BN_OP_DIV, a, b, out);
}

/* ---- element-wise unary (NEG .. SILU; CLAMP below) ---------------------- */
/* gelu is the erf form, gelu_tanh the tanh approximation; relu2 is relu(x)^2 */
bn_status bn_unary(bn_op op, const bn_tensor *a, bn_tensor **out);
bn_status bn_unary_out(bn_op op, const bn_tensor *a, bn_tensor *out);
/* clamp to [lo, hi]; BN_ERR_ARG when lo > hi or either is NaN. Float
 * dtypes use the bounds rounded to f32; integer dtypes use ceil(lo) and
 * floor(hi) limited to the type's range (BN_ERR_ARG when no integer lies in
 * [lo, hi]). */
bn_status bn_clamp(const bn_tensor *a, double lo, double hi, bn_tensor **out);
bn_status bn_clamp_out(const bn_tensor *a, double lo, double hi, bn_tensor *out);

/* ---- reductions (SUM .. NORM2) ------------------------------------------ */
/*
 * Reduces over the listed axes (naxes == 0 means all axes; negative axes
 * count from the end; a repeated axis is BN_ERR_ARG). keepdims keeps reduced
 * dims as size 1. Float sums use pairwise summation accumulated in double.
 * argmin/argmax need exactly one axis (BN_ERR_ARG otherwise), return i32 and
 * the first index on ties. min/max/argmin/argmax over an empty axis are
 * BN_ERR_SHAPE; sum of empty is 0, prod of empty is 1, mean of empty is NaN.
 * var/std use ddof (bn_reduce_var); via bn_reduce they use ddof = 0.
 * var/std are NaN when n - ddof <= 0; ddof < 0 is BN_ERR_ARG. var is the
 * two-pass form (mean first, then squared deviations).
 * Result dtypes: argmin/argmax i32; sum of i8 or i32 is i32 (accumulated
 * exactly in 64 bits, then wrapped like add); everything else keeps a's
 * dtype. naxes beyond ndim, axes == NULL with naxes > 0 and out-of-range
 * axes are BN_ERR_ARG.
 */
bn_status bn_reduce(bn_op op, const bn_tensor *a, int naxes, const int *axes, bool keepdims,
                    bn_tensor **out);
bn_status bn_reduce_var(bn_op op /* VAR or STD */, const bn_tensor *a, int naxes, const int *axes,
                        bool keepdims, int ddof, bn_tensor **out);

/* ---- normalisation along one axis --------------------------------------- */
/* numerically stable (max subtracted, exponentials summed in double);
 * axis in [-ndim, ndim) (BN_ERR_ARG otherwise); float dtypes only. */
bn_status bn_softmax(const bn_tensor *a, int axis, bn_tensor **out);
bn_status bn_log_softmax(const bn_tensor *a, int axis, bn_tensor **out);
/* Over the last axis: y = x / sqrt(mean(x^2) + eps) * weight. weight: 1-D of
 * the last dim's size, or NULL for none. */
bn_status bn_rmsnorm(const bn_tensor *x, const bn_tensor *weight, float eps, bn_tensor **out);
/* Over the last axis: y = (x - mean) / sqrt(var + eps) * weight + bias; each
 * of weight, bias may be NULL.
 * Both norms: x has at least 1 dim (BN_ERR_SHAPE), weight/bias have x's
 * dtype (BN_ERR_DTYPE) and shape [last dim] (BN_ERR_SHAPE); eps is finite
 * and >= 0 (BN_ERR_ARG). */
bn_status bn_layernorm(const bn_tensor *x, const bn_tensor *weight, const bn_tensor *bias,
                       float eps, bn_tensor **out);

/* ---- matmul ------------------------------------------------------------- */
/*
 * a [..., M, K] x b [..., K, N] -> [..., M, N] with NumPy-broadcast batch
 * dims; 2-D each at least (1-D operands are BN_ERR_SHAPE). Either operand may
 * be a transposed view. f32 (f16/bf16 widened). BN_ERR_SHAPE when the inner
 * dims differ, naming both shapes. K == 0 gives zeros. An `out` overlapping
 * an operand is computed into a temporary first.
 */
bn_status bn_matmul(const bn_tensor *a, const bn_tensor *b, bn_tensor **out);
bn_status bn_matmul_out(const bn_tensor *a, const bn_tensor *b, bn_tensor *out);

/* ---- copy / convert ----------------------------------------------------- */
/* Converts to dtype dt (a new contiguous tensor; floats round-to-nearest-even,
 * ints and ternary round and clamp). */
bn_status bn_cast(const bn_tensor *a, bn_dtype dt, bn_tensor **out);
/* Copies src into dst (same shape, BN_ERR_SHAPE otherwise; dtype converted as
 * bn_cast does; NaN to an integer type gives 0). dst may overlap src (then
 * src is copied to a temporary first) but must not be a broadcast view
 * (BN_ERR_ARG). Counts the bytes written as copied. */
bn_status bn_copy(const bn_tensor *src, bn_tensor *dst);

#ifdef __cplusplus
}
#endif
#endif
