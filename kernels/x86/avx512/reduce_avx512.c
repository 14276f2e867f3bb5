/*
 * reduce_avx512.c - AVX-512 row reductions and normalisations (sum, sumsq,
 * sumsqdev, min, max, softmax, log_softmax, rmsnorm, layernorm). The bodies
 * are kernels/x86/reduce_body.h over vec_avx512.h (16 f32 / 8 f64 lanes);
 * contracts and error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx512/vec_avx512.h"
#include "kernels/x86/reduce_body.h"

double bnk_avx512_sum_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_sum_f32(n, x, sx);
}

double bnk_avx512_sumsq_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_sumsq_f32(n, x, sx);
}

double bnk_avx512_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean)
{
    return rb_sumsqdev_f32(n, x, sx, mean);
}

double bnk_avx512_min_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_min_f32(n, x, sx);
}

double bnk_avx512_max_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_max_f32(n, x, sx);
}

void bnk_avx512_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    rb_softmax_f32(n, x, sx, y, sy);
}

void bnk_avx512_log_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    rb_log_softmax_f32(n, x, sx, y, sy);
}

void bnk_avx512_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                            float eps, float *y, int64_t sy)
{
    rb_rmsnorm_f32(n, x, sx, w, sw, eps, y, sy);
}

void bnk_avx512_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx,
                                 const float *w, float eps, float *y, int64_t ldy)
{
    rb_rmsnorm_rows_f32(rows, n, x, ldx, w, eps, y, ldy);
}

void bnk_avx512_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                              const float *b, int64_t sb, float eps, float *y, int64_t sy)
{
    rb_layernorm_f32(n, x, sx, w, sw, b, sb, eps, y, sy);
}
