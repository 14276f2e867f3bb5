/*
 * ternary_ref.c - the portable reference W1.58A8 kernels (contract in
 * kernels/ternary.h): one code decoded at a time, int32 sums, so they are
 * obviously right; every ISA set is tested bit for bit against them.
 */
#include <math.h>

#include "kernels/ternary.h"

/* Code (w + 1) of weight k of a t2k row whose block 0 is at row and whose
 * blocks are step bytes apart (64 times the rows of its panel). */
static inline int t2k_code(const uint8_t *row, size_t step, int64_t k)
{
    int64_t b = k / BN_T2K_BLOCK, r = k % BN_T2K_BLOCK;
    return (row[(size_t)b * step + (r % 64)] >> (2 * (r / 64))) & 3;
}

void bnk_t2k_gemm_ref(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                      int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy)
{
    for (int64_t j = 0; j < n; j++) {
        const int8_t *xr = x + j * ldx;
        for (int64_t i = 0; i < M; i++) {
            size_t off = bn_t2k_block_offset(M, K, i, 0);
            size_t step = K > BN_T2K_BLOCK ? bn_t2k_block_offset(M, K, i, 1) - off : 0;
            const uint8_t *row = w + off;
            int32_t acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += t2k_code(row, step, k) * xr[k];
            y[j * ldy + i] = acc - xsum[j];
        }
    }
}

int32_t bnk_t2k_rowsum(int64_t K, const int8_t *x)
{
    int32_t s = 0;
    for (int64_t k = 0; k < K; k++)
        s += x[k];
    return s;
}

float bnk_absmax_ref(int64_t K, const float *x)
{
    float m = 0.0f;
    for (int64_t k = 0; k < K; k++) {
        float a = fabsf(x[k]);
        if (isnan(a))
            return a;
        if (a > m)
            m = a;
    }
    return m;
}

int32_t bnk_act_quant_ref(int64_t K, const float *x, float mul, int8_t *q)
{
    int32_t s = 0;
    for (int64_t k = 0; k < K; k++) {
        float v = rintf(x[k] * mul);
        if (v > 127.0f)
            v = 127.0f;
        if (v < -127.0f)
            v = -127.0f;
        q[k] = (int8_t)v;
        s += q[k];
    }
    return s;
}
