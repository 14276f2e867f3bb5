/*
 * reduce_avx2.c - AVX2 + FMA row reductions and normalisations (sum, sumsq,
 * sumsqdev, min, max, softmax, log_softmax, rmsnorm, layernorm). The bodies
 * are kernels/x86/reduce_body.h over vec_avx2.h (8 f32 / 4 f64 lanes);
 * contracts and error bounds in kernels/x86/x86_red.h.
 */
#include "kernels/x86/avx2/vec_avx2.h"
#include "kernels/x86/reduce_body.h"

double bnk_avx2_sum_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_sum_f32(n, x, sx);
}

double bnk_avx2_sumsq_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_sumsq_f32(n, x, sx);
}

double bnk_avx2_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean)
{
    return rb_sumsqdev_f32(n, x, sx, mean);
}

double bnk_avx2_min_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_min_f32(n, x, sx);
}

double bnk_avx2_max_f32(int64_t n, const float *x, int64_t sx)
{
    return rb_max_f32(n, x, sx);
}

void bnk_avx2_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    rb_softmax_f32(n, x, sx, y, sy);
}

void bnk_avx2_log_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    rb_log_softmax_f32(n, x, sx, y, sy);
}

void bnk_avx2_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                          float eps, float *y, int64_t sy)
{
    rb_rmsnorm_f32(n, x, sx, w, sw, eps, y, sy);
}

void bnk_avx2_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx, const float *w,
                               float eps, float *y, int64_t ldy)
{
    rb_rmsnorm_rows_f32(rows, n, x, ldx, w, eps, y, ldy);
}

void bnk_avx2_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                            const float *b, int64_t sb, float eps, float *y, int64_t sy)
{
    rb_layernorm_f32(n, x, sx, w, sw, b, sb, eps, y, sy);
}
