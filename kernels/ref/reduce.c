/*
 * reduce.c - reference row reductions and the row normalisations built on
 * them (softmax, log_softmax, rmsnorm, layernorm).
 *
 * Sums are pairwise: rows of up to 16 elements are summed left to right in
 * double, longer rows are split in halves whose sums are added, so rounding
 * error grows with log2(n), not n, and the result is independent of how the
 * engine chunks the row. Normalisations compute their statistics that way and
 * each output element in double, rounded once to f32.
 */
#include <math.h>

#include "kernels/ref/ref.h"

enum { PAIRWISE_BLOCK = 16 };
enum sum_term { TERM_X, TERM_SQ, TERM_DEV };

static double pairwise(int64_t n, const float *x, int64_t sx, enum sum_term t, double mean)
{
    if (n <= PAIRWISE_BLOCK) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * sx];
            if (t == TERM_SQ)
                v *= v;
            else if (t == TERM_DEV)
                v = (v - mean) * (v - mean);
            s += v;
        }
        return s;
    }
    int64_t h = n / 2;
    return pairwise(h, x, sx, t, mean) + pairwise(n - h, x + h * sx, sx, t, mean);
}

double bnk_ref_sum_f32(int64_t n, const float *x, int64_t sx)
{
    return pairwise(n, x, sx, TERM_X, 0);
}

double bnk_ref_sumsq_f32(int64_t n, const float *x, int64_t sx)
{
    return pairwise(n, x, sx, TERM_SQ, 0);
}

double bnk_ref_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean)
{
    return pairwise(n, x, sx, TERM_DEV, mean);
}

double bnk_ref_prod_f32(int64_t n, const float *x, int64_t sx)
{
    double p = 1;
    for (int64_t i = 0; i < n; i++)
        p *= x[i * sx];
    return p;
}

double bnk_ref_min_f32(int64_t n, const float *x, int64_t sx)
{
    float m = x[0];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * sx];
        if (isnan(v))
            return v;
        if (v < m)
            m = v;
    }
    return m;
}

double bnk_ref_max_f32(int64_t n, const float *x, int64_t sx)
{
    float m = x[0];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * sx];
        if (isnan(v))
            return v;
        if (v > m)
            m = v;
    }
    return m;
}

int64_t bnk_ref_argmin_f32(int64_t n, const float *x, int64_t sx)
{
    int64_t k = 0;
    float m = x[0];
    for (int64_t i = 0; i < n && !isnan(m); i++) {
        float v = x[i * sx];
        if (v < m || isnan(v)) {
            m = v;
            k = i;
        }
    }
    return k;
}

int64_t bnk_ref_argmax_f32(int64_t n, const float *x, int64_t sx)
{
    int64_t k = 0;
    float m = x[0];
    for (int64_t i = 0; i < n && !isnan(m); i++) {
        float v = x[i * sx];
        if (v > m || isnan(v)) {
            m = v;
            k = i;
        }
    }
    return k;
}

/* exp-sum of the row shifted by its max; *mx gets the max (NaN if any NaN). */
static double shifted_expsum(int64_t n, const float *x, int64_t sx, double *mx)
{
    double m = n ? bnk_ref_max_f32(n, x, sx) : 0;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += exp((double)x[i * sx] - m); /* each term in (0, 1]: plain order is exact enough */
    *mx = m;
    return s;
}

void bnk_ref_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    double m, s = shifted_expsum(n, x, sx, &m);
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = (float)(exp((double)x[i * sx] - m) / s);
}

void bnk_ref_log_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    double m, s = shifted_expsum(n, x, sx, &m);
    double ls = log(s);
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = (float)(((double)x[i * sx] - m) - ls);
}

void bnk_ref_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                         float eps, float *y, int64_t sy)
{
    if (n == 0)
        return;
    double r = 1.0 / sqrt(bnk_ref_sumsq_f32(n, x, sx) / (double)n + (double)eps);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[i * sx] * r;
        if (w)
            v *= w[i * sw];
        y[i * sy] = (float)v;
    }
}

void bnk_ref_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx, const float *w,
                              float eps, float *y, int64_t ldy)
{
    for (int64_t r = 0; r < rows; r++)
        bnk_ref_rmsnorm_f32(n, x + r * ldx, 1, w, 1, eps, y + r * ldy, 1);
}

void bnk_ref_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                           const float *b, int64_t sb, float eps, float *y, int64_t sy)
{
    if (n == 0)
        return;
    double mean = bnk_ref_sum_f32(n, x, sx) / (double)n;
    double var = bnk_ref_sumsqdev_f32(n, x, sx, mean) / (double)n;
    double r = 1.0 / sqrt(var + (double)eps);
    for (int64_t i = 0; i < n; i++) {
        double v = ((double)x[i * sx] - mean) * r;
        if (w)
            v *= w[i * sw];
        if (b)
            v += b[i * sb];
        y[i * sy] = (float)v;
    }
}
