/*
 * reduce_body.h - the row reductions and normalisations of
 * kernels/x86/x86_red.h (sum, sumsq, sumsqdev, min, max, softmax,
 * log_softmax, rmsnorm, layernorm), written once and compiled by
 * avx2/reduce_avx2.c and avx512/reduce_avx512.c after their vec_*.h.
 *
 * Sums keep the reference's accuracy contract by staying in double: each
 * f32 lane is widened (exactly) and accumulated in f64 lanes, four
 * independent vector accumulators per leaf of at most RED_LEAF elements;
 * leaves are combined pairwise like the reference's halves. So the error is
 * at most (RED_LEAF / lanes + log2 n + 8) double roundings of sum|term|,
 * about 2^-46 sum|term| for any n a tensor can have - far below an f32 ulp
 * of any sum that is not itself the result of cancellation. Strided rows are
 * gathered into a leaf-sized local buffer, so the order of operations (and
 * the result) does not depend on the stride.
 *
 * The normalisations take their statistics that way. layernorm computes
 * each output in double lanes with the reference's own operation order;
 * rmsnorm (cheaper, the hot one) carries x / rms as an f32 pair exact to
 * 2^-47 and rounds once at the end, so both are within 0.5 ulp + 2^-46
 * relative of the exact value, like the reference.
 * softmax evaluates e^{x - max} with the f32 exp of vmath.h, its argument
 * x - max made exact as a (hi, lo) pair, sums in double and scales in
 * double; log_softmax is (x - max) - log(sum) in double.
 *
 * The bodies are static inline rb_<kernel> functions; each ISA file defines
 * its exported kernels (bnk_<isa>_<kernel>) as one-line calls of them, so a
 * search for a kernel's name finds its definition there.
 */
#ifndef BITNET_KERNELS_X86_REDUCE_BODY_H
#define BITNET_KERNELS_X86_REDUCE_BODY_H

#include <math.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/vmath.h"
#include "kernels/x86/x86_red.h"

enum { RED_LEAF = 1024 };

/* Leaf sums over contiguous x[0..n), n <= RED_LEAF, for one kind of term. */
#define RED_LEAF_FN(name, TERM, sterm)                                                             \
    static double name(const float *x, int64_t n, double mean)                                     \
    {                                                                                              \
        vd a0 = vd_zero(), a1 = vd_zero(), a2 = vd_zero(), a3 = vd_zero();                         \
        vd mu = vd_set1(mean);                                                                     \
        (void)mu;                                                                                  \
        int64_t i = 0;                                                                             \
        vd a4 = vd_zero(), a5 = vd_zero(), a6 = vd_zero(), a7 = vd_zero();                         \
        for (; i + 4 * VW <= n; i += 4 * VW) {                                                     \
            a0 = TERM(a0, vd_loadw(x + i));                                                        \
            a1 = TERM(a1, vd_loadw(x + i + VW / 2));                                               \
            a2 = TERM(a2, vd_loadw(x + i + VW));                                                   \
            a3 = TERM(a3, vd_loadw(x + i + 3 * VW / 2));                                           \
            a4 = TERM(a4, vd_loadw(x + i + 2 * VW));                                               \
            a5 = TERM(a5, vd_loadw(x + i + 5 * VW / 2));                                           \
            a6 = TERM(a6, vd_loadw(x + i + 3 * VW));                                               \
            a7 = TERM(a7, vd_loadw(x + i + 7 * VW / 2));                                           \
        }                                                                                          \
        a0 = vd_add(a0, a4);                                                                       \
        a1 = vd_add(a1, a5);                                                                       \
        a2 = vd_add(a2, a6);                                                                       \
        a3 = vd_add(a3, a7);                                                                       \
        for (; i + 2 * VW <= n; i += 2 * VW) {                                                     \
            a0 = TERM(a0, vd_loadw(x + i));                                                        \
            a1 = TERM(a1, vd_loadw(x + i + VW / 2));                                               \
            a2 = TERM(a2, vd_loadw(x + i + VW));                                                   \
            a3 = TERM(a3, vd_loadw(x + i + 3 * VW / 2));                                           \
        }                                                                                          \
        if (i + VW <= n) {                                                                         \
            vf u = v_load(x + i);                                                                  \
            a0 = TERM(a0, vd_lo(u));                                                               \
            a1 = TERM(a1, vd_hi(u));                                                               \
            i += VW;                                                                               \
        }                                                                                          \
        double s = vd_hsum(vd_add(vd_add(a0, a1), vd_add(a2, a3)));                                \
        for (; i < n; i++) {                                                                       \
            double v = x[i];                                                                       \
            s += sterm;                                                                            \
        }                                                                                          \
        return s;                                                                                  \
    }

#define T_X(a, v)   vd_add(a, v)
#define T_SQ(a, v)  vd_fma(v, v, a)
#define T_DEV(a, v) vd_fma(vd_sub(v, mu), vd_sub(v, mu), a)
RED_LEAF_FN(leaf_x, T_X, v)
RED_LEAF_FN(leaf_sq, T_SQ, v *v)
RED_LEAF_FN(leaf_dev, T_DEV, (v - mean) * (v - mean))
#undef T_X
#undef T_SQ
#undef T_DEV
#undef RED_LEAF_FN

typedef double (*red_leaf_fn)(const float *x, int64_t n, double mean);

/* A strided leaf, gathered first (out of line, so that the 4 KiB buffer is
 * not part of every level of red_sum's recursion). */
__attribute__((noinline)) static double red_leaf_strided(red_leaf_fn leaf, const float *x,
                                                         int64_t n, int64_t sx, double mean)
{
    float buf[RED_LEAF];
    for (int64_t i = 0; i < n; i++)
        buf[i] = x[i * sx];
    return leaf(buf, n, mean);
}

/* Pairwise over leaves. */
static double red_sum(red_leaf_fn leaf, const float *x, int64_t n, int64_t sx, double mean)
{
    if (n <= RED_LEAF)
        return sx == 1 ? leaf(x, n, mean) : red_leaf_strided(leaf, x, n, sx, mean);
    int64_t h = (n / RED_LEAF + 1) / 2 * RED_LEAF; /* whole leaves on the left */
    return red_sum(leaf, x, h, sx, mean) + red_sum(leaf, x + h * sx, n - h, sx, mean);
}

static inline double rb_sum_f32(int64_t n, const float *x, int64_t sx)
{
    return red_sum(leaf_x, x, n, sx, 0);
}

static inline double rb_sumsq_f32(int64_t n, const float *x, int64_t sx)
{
    return red_sum(leaf_sq, x, n, sx, 0);
}

static inline double rb_sumsqdev_f32(int64_t n, const float *x, int64_t sx, double mean)
{
    return red_sum(leaf_dev, x, n, sx, mean);
}

/* max (ismax) or min of a contiguous row, n >= 1; NaN: the reference's
 * answer (the first NaN), found by its scalar scan. */
static double red_minmax(int64_t n, const float *x, bool ismax)
{
    vf m0 = v_set1(x[0]), m1 = m0;
    vm nan = v_mnone();
    int64_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf u = v_load(x + i), w = v_load(x + i + VW);
        nan = v_mor(nan, v_mor(v_isnan(u), v_isnan(w)));
        m0 = ismax ? v_max(m0, u) : v_min(m0, u);
        m1 = ismax ? v_max(m1, w) : v_min(m1, w);
    }
    for (; i < n; i += VW) {
        int64_t m = n - i < VW ? n - i : VW;
        vf u = v_blend(v_tail(m), v_set1(x[0]), v_loadn(x + i, m));
        nan = v_mor(nan, v_isnan(u));
        m0 = ismax ? v_max(m0, u) : v_min(m0, u);
    }
    if (v_any(nan))
        return ismax ? bnk_ref_max_f32(n, x, 1) : bnk_ref_min_f32(n, x, 1);
    return ismax ? v_hmax(v_max(m0, m1)) : v_hmin(v_min(m0, m1));
}

static inline double rb_max_f32(int64_t n, const float *x, int64_t sx)
{
    return sx == 1 ? red_minmax(n, x, true) : bnk_ref_max_f32(n, x, sx);
}

static inline double rb_min_f32(int64_t n, const float *x, int64_t sx)
{
    return sx == 1 ? red_minmax(n, x, false) : bnk_ref_min_f32(n, x, sx);
}

/* a + b = *hi + *lo exactly (TwoSum) */
static inline void red_two_sum(vf a, vf b, vf *hi, vf *lo)
{
    vf s = v_add(a, b), bb = v_sub(s, a);
    *hi = s;
    *lo = v_add(v_sub(a, v_sub(s, bb)), v_sub(b, bb));
}

/* e^{x - m} for the first `m` lanes of u (others 0) */
static inline vf red_shifted_exp(vf u, vf negm, int64_t lanes)
{
    vf hi, lo;
    red_two_sum(u, negm, &hi, &lo);
    vf e = vm_exp2(hi, lo);
    return lanes < VW ? v_blend(v_tail(lanes), v_zero(), e) : e;
}

/* the first `lanes` elements of a strided row as a vector (others 0) */
static inline vf red_gather(const float *x, int64_t sx, int64_t lanes)
{
    float buf[VW];
    for (int64_t j = 0; j < lanes; j++)
        buf[j] = x[j * sx];
    return v_loadn(buf, lanes);
}

static inline void red_scatter(float *y, int64_t sy, vf v, int64_t lanes)
{
    float buf[VW];
    v_storen(buf, v, lanes);
    for (int64_t j = 0; j < lanes; j++)
        y[j * sy] = buf[j];
}

static inline vf red_load(const float *x, int64_t sx, int64_t lanes)
{
    if (sx == 1)
        return lanes == VW ? v_load(x) : v_loadn(x, lanes);
    return red_gather(x, sx, lanes);
}

static inline void red_store(float *y, int64_t sy, vf v, int64_t lanes)
{
    if (sy == 1) {
        if (lanes == VW)
            v_store(y, v);
        else
            v_storen(y, v, lanes);
        return;
    }
    red_scatter(y, sy, v, lanes);
}

static void red_softmax(int64_t n, const float *x, int64_t sx, float *y, int64_t sy, bool logf)
{
    if (n == 0)
        return;
    float m = (float)rb_max_f32(n, x, sx);
    vf negm = v_set1(-m);
    bool keep = !logf && sy == 1; /* pass 2 leaves e in y for pass 3 */
    vd s0 = vd_zero(), s1 = vd_zero();
    for (int64_t i = 0; i < n; i += VW) {
        int64_t l = n - i < VW ? n - i : VW;
        vf e = red_shifted_exp(red_load(x + i * sx, sx, l), negm, l);
        if (keep)
            red_store(y + i, 1, e, l);
        s0 = vd_add(s0, vd_lo(e));
        s1 = vd_add(s1, vd_hi(e));
    }
    double s = vd_hsum(vd_add(s0, s1));
    if (!logf) {
        vd inv = vd_set1(1.0 / s);
        for (int64_t i = 0; i < n; i += VW) {
            int64_t l = n - i < VW ? n - i : VW;
            vf e = keep ? red_load(y + i, 1, l)
                        : red_shifted_exp(red_load(x + i * sx, sx, l), negm, l);
            red_store(y + i * sy, sy, v_from_d(vd_mul(vd_lo(e), inv), vd_mul(vd_hi(e), inv)), l);
        }
        return;
    }
    vd dm = vd_set1((double)m), ls = vd_set1(log(s));
    for (int64_t i = 0; i < n; i += VW) {
        int64_t l = n - i < VW ? n - i : VW;
        vf u = red_load(x + i * sx, sx, l);
        vd lo = vd_sub(vd_sub(vd_lo(u), dm), ls), hi = vd_sub(vd_sub(vd_hi(u), dm), ls);
        red_store(y + i * sy, sy, v_from_d(lo, hi), l);
    }
}

static inline void rb_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    red_softmax(n, x, sx, y, sy, false);
}

static inline void rb_log_softmax_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    red_softmax(n, x, sx, y, sy, true);
}

/* Elements [b, e) of an rmsnorm row, any strides: whole and partial vectors
 * gathered and scattered (red_load / red_store). */
static inline void rms_scale_any(int64_t b, int64_t e, const float *x, int64_t sx, const float *w,
                                 int64_t sw, float *y, int64_t sy, vf rh, vf rl)
{
    for (int64_t i = b; i < e; i += VW) {
        int64_t l = e - i < VW ? e - i : VW;
        vf u = red_load(x + i * sx, sx, l);
        vf ph = v_mul(u, rh);
        vf pl = v_fma(u, rl, v_fms(u, rh, ph));
        vf out;
        if (w) {
            vf wv = red_load(w + i * sw, sw, l);
            out = v_fma(ph, wv, v_mul(pl, wv));
        } else {
            out = v_add(ph, pl);
        }
        red_store(y + i * sy, sy, out, l);
    }
}

/* One rmsnorm row; nt: stream the contiguous output from its first 64-byte
 * boundary on (the caller fences). */
static inline void rms_row(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                           float eps, float *y, int64_t sy, bool nt)
{
    if (n == 0)
        return;
    double r = 1.0 / sqrt(rb_sumsq_f32(n, x, sx) / (double)n + (double)eps);
    /* r = rh + rl to 2^-48; x r = ph + pl to 2^-47 (ph = fl(x rh), its
     * rounding error exact by FMA); |x r| <= sqrt(n), so nothing overflows
     * before the last multiply, which rounds once. */
    float rhs = (float)r;
    vf rh = v_set1(rhs), rl = v_set1((float)(r - (double)rhs));
    int64_t i0 = 0;
    if (sx == 1 && sy == 1 && w && sw == 1) { /* the common case, branch-free */
        if (nt) {
            i0 = bnk_head64(y) < n ? bnk_head64(y) : n;
            rms_scale_any(0, i0, x, 1, w, 1, y, 1, rh, rl);
        }
        for (; i0 + VW <= n; i0 += VW) {
            vf u = v_reg(v_load(x + i0)), wv = v_reg(v_load(w + i0));
            vf ph = v_mul(u, rh);
            vf pl = v_fma(u, rl, v_fms(u, rh, ph));
            vf out = v_fma(ph, wv, v_mul(pl, wv));
            if (nt)
                v_stream(y + i0, out);
            else
                v_store(y + i0, out);
        }
    }
    rms_scale_any(i0, n, x, sx, w, sw, y, sy, rh, rl);
}

static inline void rb_rmsnorm_f32(int64_t n, const float *x, int64_t sx, const float *w, int64_t sw,
                                  float eps, float *y, int64_t sy)
{
    rms_row(n, x, sx, w, sw, eps, y, sy, false);
}

static inline void rb_rmsnorm_rows_f32(int64_t rows, int64_t n, const float *x, int64_t ldx,
                                       const float *w, float eps, float *y, int64_t ldy)
{
    bool nt = rows > 0 && bnk_streams(rows * n, y);
    for (int64_t r = 0; r < rows; r++)
        rms_row(n, x + r * ldx, 1, w, 1, eps, y + r * ldy, 1, nt);
    if (nt)
        _mm_sfence();
}

static inline void rb_layernorm_f32(int64_t n, const float *x, int64_t sx, const float *w,
                                    int64_t sw, const float *b, int64_t sb, float eps, float *y,
                                    int64_t sy)
{
    if (n == 0)
        return;
    double mean = rb_sum_f32(n, x, sx) / (double)n;
    double var = rb_sumsqdev_f32(n, x, sx, mean) / (double)n;
    vd r = vd_set1(1.0 / sqrt(var + (double)eps)), mu = vd_set1(mean);
    for (int64_t i = 0; i < n; i += VW) {
        int64_t l = n - i < VW ? n - i : VW;
        vf u = red_load(x + i * sx, sx, l);
        vd lo = vd_mul(vd_sub(vd_lo(u), mu), r), hi = vd_mul(vd_sub(vd_hi(u), mu), r);
        if (w) {
            vf wv = red_load(w + i * sw, sw, l);
            lo = vd_mul(lo, vd_lo(wv));
            hi = vd_mul(hi, vd_hi(wv));
        }
        if (b) {
            vf bv = red_load(b + i * sb, sb, l);
            lo = vd_add(lo, vd_lo(bv));
            hi = vd_add(hi, vd_hi(bv));
        }
        red_store(y + i * sy, sy, v_from_d(lo, hi), l);
    }
}

#endif
