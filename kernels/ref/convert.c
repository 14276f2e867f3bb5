/*
 * convert.c - reference row kernels for f16/bf16 <-> f32 and the fused
 * multiply-add row. The conversions are the scalar ones of engine/dtype.c
 * (bn_f16_to_f32 & co.), applied along a row, so every SIMD conversion is
 * tested bit for bit against the same code the dtype layer uses.
 */
#include <math.h>

#include "bitnet/dtype.h"
#include "kernels/ref/ref.h"

void bnk_ref_fma_f32(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                     const float *c, int64_t sc, float *y, int64_t sy)
{
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = fmaf(a[i * sa], b[i * sb], c[i * sc]);
}

void bnk_ref_f16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = bn_f16_to_f32(x[i * sx]);
}

void bnk_ref_f32_to_f16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = bn_f32_to_f16(x[i]);
}

void bnk_ref_bf16_to_f32(int64_t n, const uint16_t *x, int64_t sx, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = bn_bf16_to_f32(x[i * sx]);
}

void bnk_ref_f32_to_bf16(int64_t n, const float *x, uint16_t *y, int64_t sy)
{
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = bn_f32_to_bf16(x[i]);
}
