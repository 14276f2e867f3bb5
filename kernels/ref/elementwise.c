/*
 * elementwise.c - reference row kernels for element-wise binary and unary
 * ops (f32 and the wrapping integer forms). One plain loop per op over a
 * strided row, so each is the obvious statement of the op's semantics; the
 * numerics are stated in ref.h.
 */
#include <math.h>

#include "kernels/ref/ref.h"

/* Two's complement narrowing without implementation-defined conversions. */
static inline int32_t wrap32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

static inline int8_t wrap8(uint32_t u)
{
    u &= 0xffu;
    return u <= 127u ? (int8_t)u : (int8_t)((int)u - 256);
}

/* fn: the kernel's full name, so each instantiation is the line a search
 * for the kernel finds. */
#define REF_BINARY(fn, type, expr)                                                                 \
    void fn(int64_t n, const type *a, int64_t sa, const type *b, int64_t sb, type *y, int64_t sy)  \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            type x0 = a[i * sa], x1 = b[i * sb];                                                   \
            y[i * sy] = (expr);                                                                    \
        }                                                                                          \
    }

REF_BINARY(bnk_ref_add_f32, float, x0 + x1)
REF_BINARY(bnk_ref_sub_f32, float, x0 - x1)
REF_BINARY(bnk_ref_mul_f32, float, x0 *x1)
REF_BINARY(bnk_ref_div_f32, float, x0 / x1)
REF_BINARY(bnk_ref_rem_f32, float, fmodf(x0, x1))
REF_BINARY(bnk_ref_pow_f32, float, (float)pow((double)x0, (double)x1))
REF_BINARY(bnk_ref_maximum_f32, float, isnan(x0) || isnan(x1) ? x0 + x1 : (x0 > x1 ? x0 : x1))
REF_BINARY(bnk_ref_minimum_f32, float, isnan(x0) || isnan(x1) ? x0 + x1 : (x0 < x1 ? x0 : x1))

REF_BINARY(bnk_ref_add_i32, int32_t, wrap32((uint32_t)x0 + (uint32_t)x1))
REF_BINARY(bnk_ref_sub_i32, int32_t, wrap32((uint32_t)x0 - (uint32_t)x1))
REF_BINARY(bnk_ref_mul_i32, int32_t, wrap32((uint32_t)x0 *(uint32_t)x1))
REF_BINARY(bnk_ref_maximum_i32, int32_t, x0 > x1 ? x0 : x1)
REF_BINARY(bnk_ref_minimum_i32, int32_t, x0 < x1 ? x0 : x1)

REF_BINARY(bnk_ref_add_i8, int8_t, wrap8((uint32_t)x0 + (uint32_t)x1))
REF_BINARY(bnk_ref_sub_i8, int8_t, wrap8((uint32_t)x0 - (uint32_t)x1))
REF_BINARY(bnk_ref_mul_i8, int8_t, wrap8((uint32_t)x0 *(uint32_t)x1))
REF_BINARY(bnk_ref_maximum_i8, int8_t, x0 > x1 ? x0 : x1)
REF_BINARY(bnk_ref_minimum_i8, int8_t, x0 < x1 ? x0 : x1)

#undef REF_BINARY

static inline double sigmoid_d(double x)
{
    /* never exp of a large positive argument: no overflow, no inf/inf */
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* 0.5 x (1 + erf(x / sqrt 2)) written with erfc, which does not cancel for
 * large negative x */
static inline double gelu_d(double x)
{
    return 0.5 * x * erfc(-x * M_SQRT1_2);
}

/* 0.5 x (1 + tanh(u)) == x sigmoid(2u): the same function without the
 * cancellation of 1 + tanh(u) for large negative u */
static inline double gelu_tanh_d(double x)
{
    const double k = 0.79788456080286535588; /* sqrt(2/pi) */
    return x * sigmoid_d(2.0 * k * (x + 0.044715 * x * x * x));
}

#define REF_UNARY(fn, type, expr)                                                                  \
    void fn(int64_t n, const type *x, int64_t sx, type *y, int64_t sy)                             \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            type v = x[i * sx];                                                                    \
            y[i * sy] = (expr);                                                                    \
        }                                                                                          \
    }

REF_UNARY(bnk_ref_neg_f32, float, -v)
REF_UNARY(bnk_ref_abs_f32, float, fabsf(v))
REF_UNARY(bnk_ref_exp_f32, float, (float)exp((double)v))
REF_UNARY(bnk_ref_log_f32, float, (float)log((double)v))
REF_UNARY(bnk_ref_sqrt_f32, float, sqrtf(v))
REF_UNARY(bnk_ref_rsqrt_f32, float, (float)(1.0 / sqrt((double)v)))
REF_UNARY(bnk_ref_sin_f32, float, (float)sin((double)v))
REF_UNARY(bnk_ref_cos_f32, float, (float)cos((double)v))
REF_UNARY(bnk_ref_tanh_f32, float, (float)tanh((double)v))
REF_UNARY(bnk_ref_sigmoid_f32, float, (float)sigmoid_d((double)v))
/* relu: NaN propagates (v < 0 is false for NaN) */
REF_UNARY(bnk_ref_relu_f32, float, v < 0 ? 0.0f : v)
REF_UNARY(bnk_ref_relu2_f32, float, v < 0 ? 0.0f : v * v)
REF_UNARY(bnk_ref_gelu_f32, float, (float)gelu_d((double)v))
REF_UNARY(bnk_ref_gelu_tanh_f32, float, (float)gelu_tanh_d((double)v))
REF_UNARY(bnk_ref_silu_f32, float, (float)((double)v *sigmoid_d((double)v)))

REF_UNARY(bnk_ref_neg_i32, int32_t, wrap32(0u - (uint32_t)v))
REF_UNARY(bnk_ref_abs_i32, int32_t, v < 0 ? wrap32(0u - (uint32_t)v) : v)
REF_UNARY(bnk_ref_relu_i32, int32_t, v < 0 ? 0 : v)
REF_UNARY(bnk_ref_neg_i8, int8_t, wrap8(0u - (uint32_t)v))
REF_UNARY(bnk_ref_abs_i8, int8_t, v < 0 ? wrap8(0u - (uint32_t)v) : v)
REF_UNARY(bnk_ref_relu_i8, int8_t, v < 0 ? 0 : v)

#undef REF_UNARY

void bnk_ref_clamp_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy, float lo,
                       float hi)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * sx];
        y[i * sy] = v < lo ? lo : v > hi ? hi : v;
    }
}

void bnk_ref_clamp_i32(int64_t n, const int32_t *x, int64_t sx, int32_t *y, int64_t sy, int32_t lo,
                       int32_t hi)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t v = x[i * sx];
        y[i * sy] = v < lo ? lo : v > hi ? hi : v;
    }
}

void bnk_ref_clamp_i8(int64_t n, const int8_t *x, int64_t sx, int8_t *y, int64_t sy, int8_t lo,
                      int8_t hi)
{
    for (int64_t i = 0; i < n; i++) {
        int8_t v = x[i * sx];
        y[i * sy] = v < lo ? lo : v > hi ? hi : v;
    }
}
