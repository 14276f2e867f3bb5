/*
 * test_ops_reduce.c - reductions (sum .. norm2) over axis lists with
 * keepdims, negative and empty axes, ddof, ties and NaN; softmax and
 * log_softmax (stability at large inputs); rmsnorm and layernorm with and
 * without weight/bias. Every float result is checked against a long double
 * reference computed here from the input values.
 *
 * Tolerances (f32 results; |got - exact| <=):
 *   sum, mean, var, std, norm2, prod: 1 ulp + 1e-12 * sum|x| (double
 *     accumulation, one rounding to f32);
 *   min, max, argmin, argmax, integer reductions: exact;
 *   rmsnorm, layernorm: 1 ulp + 1e-12; softmax: 2 ulp + 1e-12 (the SIMD
 *     sets' f32 exp, kernels/x86/x86_red.h; the reference is within 1 ulp);
 *   log_softmax: 1 ulp + 1e-12 * (|x - max| + 1) + 2^-22 (the SIMD sets'
 *     log of a sum of f32 exponentials);
 *   f16/bf16 results: 1 ulp of the dtype.
 */
#include <stdlib.h>

#include "ops_test.h"

/* Reference of op over x reduced along mask red[], one value per result
 * element (row-major over the kept dims). */
static void ref_reduce(const bn_tensor *x, const bool *red, bn_op op, int ddof, long double *out,
                       long double *abs_sum, int64_t nout)
{
    int64_t n = bn_tensor_numel(x);
    int64_t *cnt = calloc((size_t)nout, sizeof *cnt);
    long double *s = calloc((size_t)nout, sizeof *s), *best = calloc((size_t)nout, sizeof *best);
    cr_assert(cnt && s && best);
    for (int64_t k = 0; k < nout; k++) {
        out[k] = op == BN_OP_PROD ? 1.0L : 0.0L;
        abs_sum[k] = 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, k = 0, mul = 1, along = 0;
            for (int d = x->ndim - 1; d >= 0; d--) {
                int64_t id = rem % x->shape[d];
                rem /= x->shape[d];
                if (!red[d]) {
                    k += id * mul;
                    mul *= x->shape[d];
                } else {
                    along = id; /* position along the (single) reduced axis */
                }
            }
            long double v = bn_tensor_get_flat(x, i);
            if (pass == 0) {
                s[k] += v;
                abs_sum[k] += fabsl(v);
                if (op == BN_OP_PROD)
                    out[k] *= v;
                if (op == BN_OP_NORM2)
                    out[k] += v * v;
                bool first = cnt[k] == 0;
                if (op == BN_OP_MIN && (first || v < out[k]))
                    out[k] = v;
                if (op == BN_OP_MAX && (first || v > out[k]))
                    out[k] = v;
                if (op == BN_OP_ARGMIN && (first || v < best[k])) {
                    best[k] = v;
                    out[k] = (long double)along;
                }
                if (op == BN_OP_ARGMAX && (first || v > best[k])) {
                    best[k] = v;
                    out[k] = (long double)along;
                }
                cnt[k]++;
            } else if (op == BN_OP_VAR || op == BN_OP_STD) {
                long double m = s[k] / (long double)cnt[k];
                out[k] += (v - m) * (v - m);
            }
        }
    }
    for (int64_t k = 0; k < nout; k++) {
        if (op == BN_OP_SUM)
            out[k] = s[k];
        if (op == BN_OP_MEAN)
            out[k] = s[k] / (long double)cnt[k];
        if (op == BN_OP_VAR || op == BN_OP_STD) {
            out[k] /= (long double)(cnt[k] - ddof);
            abs_sum[k] = out[k];
            if (op == BN_OP_STD)
                out[k] = sqrtl(out[k]);
        }
        if (op == BN_OP_NORM2)
            out[k] = sqrtl(out[k]);
    }
    free(cnt);
    free(s);
    free(best);
}

/* Runs op on x over axes and checks shape and values against ref_reduce. */
static void check_reduce(bn_op op, const bn_tensor *x, int naxes, const int *axes, bool keepdims,
                         int ddof, double ulps)
{
    bool red[BN_MAX_DIMS] = {false};
    for (int i = 0; i < naxes; i++)
        red[axes[i] < 0 ? axes[i] + x->ndim : axes[i]] = true;
    if (naxes == 0)
        for (int d = 0; d < x->ndim; d++)
            red[d] = true;
    int64_t nout = 1;
    int want_nd = 0;
    int64_t want_shape[BN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        if (!red[d]) {
            nout *= x->shape[d];
            want_shape[want_nd++] = x->shape[d];
        } else if (keepdims) {
            want_shape[want_nd++] = 1;
        }
    }
    bn_tensor *y;
    bn_status st = (op == BN_OP_VAR || op == BN_OP_STD)
                       ? bn_reduce_var(op, x, naxes, axes, keepdims, ddof, &y)
                       : bn_reduce(op, x, naxes, axes, keepdims, &y);
    cr_assert_eq(st, BN_OK, "%s: %s", bn_op_name(op), bn_last_error());
    cr_assert_eq(y->ndim, want_nd, "%s keepdims %d", bn_op_name(op), keepdims);
    for (int d = 0; d < want_nd; d++)
        cr_assert_eq(y->shape[d], want_shape[d]);
    bool is_arg = op == BN_OP_ARGMIN || op == BN_OP_ARGMAX;
    cr_assert_eq(y->dtype, is_arg ? BN_I32 : x->dtype);
    long double *ref = malloc((size_t)nout * sizeof *ref), *as = malloc((size_t)nout * sizeof *as);
    ref_reduce(x, red, op, ddof, ref, as, nout);
    for (int64_t k = 0; k < nout; k++) {
        double got = bn_tensor_get_flat(y, k);
        if (is_arg || op == BN_OP_MIN || op == BN_OP_MAX)
            cr_assert_eq(got, (double)ref[k], "%s[%lld] = %g, want %Lg", bn_op_name(op),
                         (long long)k, got, ref[k]);
        else
            cr_assert(tt_close(x->dtype, got, ref[k], ulps, 1e-12 * (double)as[k]),
                      "%s %s[%lld] = %.9g, want %.12Lg", bn_dtype_name(x->dtype), bn_op_name(op),
                      (long long)k, got, ref[k]);
    }
    free(ref);
    free(as);
    bn_tensor_free(y);
}

static const bn_op float_ops[] = {BN_OP_SUM, BN_OP_MEAN, BN_OP_MIN,  BN_OP_MAX,
                                  BN_OP_VAR, BN_OP_STD,  BN_OP_PROD, BN_OP_NORM2};

Test(reduce, every_float_op_over_axis_lists_and_keepdims)
{
    int64_t shape[3] = {3, 4, 5};
    bn_tensor *x;
    cr_assert_eq(bn_tensor_rand(BN_F32, 3, shape, 11, BN_RAND_NORMAL, 0.5, 1.0, &x), BN_OK);
    const int lists[][3] = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {1, 2}, {0, 1, 2}, {-3, -2}};
    const int lens[] = {1, 1, 1, 1, 2, 2, 2, 3, 2};
    for (int o = 0; o < 8; o++) {
        for (int kd = 0; kd < 2; kd++) {
            check_reduce(float_ops[o], x, 0, NULL, kd, 0, 1);
            for (int l = 0; l < 9; l++)
                check_reduce(float_ops[o], x, lens[l], lists[l], kd, 0, 1);
        }
    }
    for (int l = 0; l < 4; l++) {
        check_reduce(BN_OP_ARGMIN, x, 1, lists[l], false, 0, 0);
        check_reduce(BN_OP_ARGMAX, x, 1, lists[l], true, 0, 0);
    }
    bn_tensor_free(x);
}

Test(reduce, strided_views_are_read_through_their_strides)
{
    /* [5,4,3] row-major memory seen as its full transpose [3,4,5] */
    float mem[60];
    for (int i = 0; i < 60; i++)
        mem[i] = sinf((float)i * 1.7f) * 3.0f;
    int64_t shape[3] = {3, 4, 5}, str[3] = {1, 3, 12};
    bn_tensor *x = tt_wrap_f32(mem, 60, 3, shape, str);
    const int a0[1] = {0}, a2[1] = {2}, a01[2] = {0, 1};
    for (int o = 0; o < 8; o++) {
        check_reduce(float_ops[o], x, 1, a0, false, 0, 1);
        check_reduce(float_ops[o], x, 1, a2, true, 0, 1);
        check_reduce(float_ops[o], x, 2, a01, false, 0, 1);
    }
    check_reduce(BN_OP_ARGMAX, x, 1, a2, false, 0, 0);
    /* a broadcast view (stride 0): every reduced value is the same element */
    int64_t bshape[2] = {4, 6}, bstr[2] = {1, 0};
    bn_tensor *b = tt_wrap_f32(mem, 4, 2, bshape, bstr);
    const int a1[1] = {1};
    check_reduce(BN_OP_SUM, b, 1, a1, false, 0, 1);
    check_reduce(BN_OP_VAR, b, 1, a1, false, 0, 1);
    bn_tensor_free(x);
    bn_tensor_free(b);
}

Test(reduce, var_std_ddof)
{
    int64_t shape[2] = {4, 9};
    bn_tensor *x = tt_rand(BN_F32, 2, shape, 5, -3, 3), *y;
    const int a1[1] = {1}, a0[1] = {0};
    for (int ddof = 0; ddof <= 2; ddof++) {
        check_reduce(BN_OP_VAR, x, 1, a1, false, ddof, 1);
        check_reduce(BN_OP_STD, x, 1, a0, true, ddof, 1);
    }
    /* hand-computed: [1,2,3,4] var = 1.25 (ddof 0), 5/3 (ddof 1) */
    const double v[] = {1, 2, 3, 4};
    int64_t n = 4;
    bn_tensor *h = tt_make(BN_F32, 1, &n, v);
    cr_assert_eq(bn_reduce_var(BN_OP_VAR, h, 0, NULL, false, 0, &y), BN_OK);
    cr_assert_eq(bn_tensor_get(y, NULL), 1.25);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce_var(BN_OP_VAR, h, 0, NULL, false, 1, &y), BN_OK);
    cr_assert_float_eq(bn_tensor_get(y, NULL), 5.0 / 3.0, 1e-7);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_VAR, h, 0, NULL, false, &y), BN_OK, "via bn_reduce: ddof 0");
    cr_assert_eq(bn_tensor_get(y, NULL), 1.25);
    bn_tensor_free(y);
    /* ddof >= n leaves no degrees of freedom: NaN */
    cr_assert_eq(bn_reduce_var(BN_OP_STD, h, 0, NULL, false, 4, &y), BN_OK);
    cr_assert(isnan(bn_tensor_get(y, NULL)));
    bn_tensor_free(y);
    tt_assert_err(bn_reduce_var(BN_OP_VAR, h, 0, NULL, false, -1, &y), BN_ERR_ARG,
                  "var: ddof must be >= 0, got -1");
    tt_assert_err(bn_reduce_var(BN_OP_SUM, h, 0, NULL, false, 0, &y), BN_ERR_ARG, "not var or std");
    bn_tensor_free(h);
    bn_tensor_free(x);
}

Test(reduce, hand_computed_values_ties_and_nan)
{
    const double v[] = {1, 3, 3, 0, 2, 2, -1, -1};
    int64_t shape[2] = {2, 4};
    bn_tensor *x = tt_make(BN_F32, 2, shape, v), *y;
    const int a1[1] = {1}, a0[1] = {0}, am1[1] = {-1};
    cr_assert_eq(bn_reduce(BN_OP_ARGMAX, x, 1, a1, false, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I32);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 1, "first index on ties");
    cr_assert_eq(bn_tensor_get_flat(y, 1), 0);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_ARGMIN, x, 1, am1, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 3);
    cr_assert_eq(bn_tensor_get_flat(y, 1), 2, "first index on ties");
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_ARGMAX, x, 1, a0, true, &y), BN_OK);
    cr_assert_eq(y->ndim, 2);
    cr_assert_eq(y->shape[0], 1);
    const double wa[] = {1, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), wa[i]);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_SUM, x, 1, a0, false, &y), BN_OK);
    const double ws[] = {3, 5, 2, -1};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), ws[i]);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_PROD, x, 1, a1, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 0);
    cr_assert_eq(bn_tensor_get_flat(y, 1), 4, "sign kept: 2*2*(-1)*(-1)");
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_NORM2, x, 0, NULL, false, &y), BN_OK);
    cr_assert_float_eq(bn_tensor_get(y, NULL), sqrt(29.0), 1e-6);
    bn_tensor_free(y);
    bn_tensor_free(x);

    const double vn[] = {1, NAN, 5, -2};
    int64_t n = 4;
    bn_tensor *xn = tt_make(BN_F32, 1, &n, vn);
    cr_assert_eq(bn_reduce(BN_OP_MAX, xn, 0, NULL, false, &y), BN_OK);
    cr_assert(isnan(bn_tensor_get(y, NULL)), "max propagates NaN");
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_MIN, xn, 0, NULL, false, &y), BN_OK);
    cr_assert(isnan(bn_tensor_get(y, NULL)), "min propagates NaN");
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_ARGMAX, xn, 1, a0, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get(y, NULL), 1, "argmax: the first NaN wins");
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_ARGMIN, xn, 1, a0, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get(y, NULL), 1, "argmin: the first NaN wins");
    bn_tensor_free(y);
    bn_tensor_free(xn);
}

Test(reduce, empty_axes_and_scalars)
{
    int64_t shape[2] = {0, 3};
    bn_tensor *x, *y;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 2, shape, &x), BN_OK);
    const int a0[1] = {0}, a1[1] = {1};
    const struct {
        bn_op op;
        double want; /* NaN: expect NaN */
    } cs[] = {{BN_OP_SUM, 0},   {BN_OP_PROD, 1},  {BN_OP_MEAN, NAN},
              {BN_OP_VAR, NAN}, {BN_OP_STD, NAN}, {BN_OP_NORM2, 0}};
    for (int c = 0; c < 6; c++) {
        cr_assert_eq(bn_reduce(cs[c].op, x, 1, a0, false, &y), BN_OK, "%s", bn_last_error());
        cr_assert_eq(y->ndim, 1);
        cr_assert_eq(y->shape[0], 3);
        for (int i = 0; i < 3; i++) {
            double g = bn_tensor_get_flat(y, i);
            if (isnan(cs[c].want))
                cr_assert(isnan(g), "%s of empty is NaN", bn_op_name(cs[c].op));
            else
                cr_assert_eq(g, cs[c].want, "%s of empty", bn_op_name(cs[c].op));
        }
        bn_tensor_free(y);
    }
    tt_assert_err(bn_reduce(BN_OP_MAX, x, 1, a0, false, &y), BN_ERR_SHAPE,
                  "max: cannot reduce an empty axis of shape [0,3]");
    tt_assert_err(bn_reduce(BN_OP_ARGMIN, x, 1, a0, false, &y), BN_ERR_SHAPE, "argmin");
    tt_assert_err(bn_reduce(BN_OP_MIN, x, 0, NULL, false, &y), BN_ERR_SHAPE, "min");
    /* reducing the non-empty axis gives an empty result, not an error */
    cr_assert_eq(bn_reduce(BN_OP_MAX, x, 1, a1, false, &y), BN_OK);
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(y->shape[0], 0);
    bn_tensor_free(y);
    bn_tensor_free(x);

    bn_tensor *s;
    cr_assert_eq(bn_tensor_full(BN_F32, 0, NULL, -2.5, &s), BN_OK);
    cr_assert_eq(bn_reduce(BN_OP_SUM, s, 0, NULL, false, &y), BN_OK);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(bn_tensor_get(y, NULL), -2.5);
    bn_tensor_free(y);
    tt_assert_err(bn_reduce(BN_OP_SUM, s, 1, a0, false, &y), BN_ERR_ARG, "sum");
    bn_tensor_free(s);
}

Test(reduce, long_rows_use_pairwise_double_sums)
{
    int64_t n = 200003;
    bn_tensor *x = tt_rand(BN_F32, 1, &n, 21, 0, 1);
    check_reduce(BN_OP_SUM, x, 0, NULL, false, 0, 1);
    check_reduce(BN_OP_MEAN, x, 0, NULL, false, 0, 1);
    check_reduce(BN_OP_VAR, x, 0, NULL, false, 1, 1);
    check_reduce(BN_OP_NORM2, x, 0, NULL, false, 0, 1);
    bn_tensor_free(x);
}

Test(reduce, f16_and_bf16_within_one_ulp)
{
    int64_t shape[2] = {6, 33};
    const bn_dtype dts[] = {BN_F16, BN_BF16};
    const int a1[1] = {1}, a0[1] = {0};
    for (int d = 0; d < 2; d++) {
        bn_tensor *x = tt_rand(dts[d], 2, shape, 31 + (uint64_t)d, -2, 2);
        for (int o = 0; o < 8; o++) {
            if (float_ops[o] == BN_OP_PROD)
                continue; /* products of 33 values leave the f16 range */
            check_reduce(float_ops[o], x, 1, a1, false, 0, 1);
            check_reduce(float_ops[o], x, 1, a0, true, 0, 1);
        }
        check_reduce(BN_OP_ARGMAX, x, 1, a1, false, 0, 0);
        bn_tensor_free(x);
    }
    int64_t small[1] = {6};
    bn_tensor *p = tt_rand(BN_F16, 1, small, 3, 0.5, 2);
    check_reduce(BN_OP_PROD, p, 0, NULL, false, 0, 1);
    bn_tensor_free(p);
}

Test(reduce, integer_reductions_are_exact)
{
    const double v[] = {2e9, 2e9, -2e9, 5, -128, 127};
    int64_t shape[2] = {2, 3};
    bn_tensor *x = tt_make(BN_I32, 2, shape, v), *y;
    const int a1[1] = {1};
    cr_assert_eq(bn_reduce(BN_OP_SUM, x, 1, a1, false, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I32);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 2e9, "intermediate 4e9 does not wrap");
    cr_assert_eq(bn_tensor_get_flat(y, 1), 4);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_MAX, x, 0, NULL, false, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I32);
    cr_assert_eq(bn_tensor_get(y, NULL), 2e9);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_ARGMIN, x, 1, a1, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 2);
    cr_assert_eq(bn_tensor_get_flat(y, 1), 1);
    bn_tensor_free(y);
    bn_tensor_free(x);

    const double w[] = {2147483647.0, 1};
    int64_t n = 2;
    bn_tensor *xw = tt_make(BN_I32, 1, &n, w);
    cr_assert_eq(bn_reduce(BN_OP_SUM, xw, 0, NULL, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get(y, NULL), -2147483648.0, "i32 sum wraps like add");
    bn_tensor_free(y);
    bn_tensor_free(xw);

    const double v8[] = {127, 127, 127, -128, 3, 3};
    int64_t n8 = 6;
    bn_tensor *x8 = tt_make(BN_I8, 1, &n8, v8);
    cr_assert_eq(bn_reduce(BN_OP_SUM, x8, 0, NULL, false, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I32, "i8 sums are i32");
    cr_assert_eq(bn_tensor_get(y, NULL), 259);
    bn_tensor_free(y);
    cr_assert_eq(bn_reduce(BN_OP_MIN, x8, 0, NULL, true, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I8);
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(bn_tensor_get_flat(y, 0), -128);
    bn_tensor_free(y);
    const int a0[1] = {0};
    cr_assert_eq(bn_reduce(BN_OP_ARGMAX, x8, 1, a0, false, &y), BN_OK);
    cr_assert_eq(bn_tensor_get(y, NULL), 0, "first of the tied maxima");
    bn_tensor_free(y);
    tt_assert_err(bn_reduce(BN_OP_MEAN, x8, 0, NULL, false, &y), BN_ERR_DTYPE,
                  "mean: not defined for integer dtype i8");
    tt_assert_err(bn_reduce_var(BN_OP_STD, x8, 0, NULL, false, 0, &y), BN_ERR_DTYPE, "std");
    bn_tensor_free(x8);
}

Test(reduce, bad_axes_ops_and_dtypes)
{
    int64_t shape[3] = {2, 3, 4}, n = 8;
    bn_tensor *x, *t, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 3, shape, &x), BN_OK);
    const int bad[1] = {3}, neg[1] = {-4}, rep[2] = {1, -2}, two[2] = {0, 1};
    tt_assert_err(bn_reduce(BN_OP_SUM, x, 1, bad, false, &y), BN_ERR_ARG,
                  "sum: axis 3 out of range for a 3-d tensor (valid -3..2)");
    cr_assert_null(y);
    tt_assert_err(bn_reduce(BN_OP_MAX, x, 1, neg, false, &y), BN_ERR_ARG, "axis -4 out of range");
    tt_assert_err(bn_reduce(BN_OP_SUM, x, 2, rep, false, &y), BN_ERR_ARG,
                  "sum: axis -2 is repeated");
    tt_assert_err(bn_reduce(BN_OP_ARGMAX, x, 2, two, false, &y), BN_ERR_ARG,
                  "argmax: needs exactly one axis, got 2");
    tt_assert_err(bn_reduce(BN_OP_ARGMIN, x, 0, NULL, false, &y), BN_ERR_ARG,
                  "argmin: needs exactly one axis, got 0");
    tt_assert_err(bn_reduce(BN_OP_SUM, x, 4, two, false, &y), BN_ERR_ARG, "4 axes");
    tt_assert_err(bn_reduce(BN_OP_ADD, x, 0, NULL, false, &y), BN_ERR_ARG, "not a reduction");
    cr_assert_eq(bn_tensor_zeros(BN_T1_6, 1, &n, &t), BN_OK);
    tt_assert_err(bn_reduce(BN_OP_SUM, t, 0, NULL, false, &y), BN_ERR_DTYPE,
                  "sum: packed dtype t1.6");
    bn_tensor_free(t);
    bn_tensor_free(x);
}

/* ---- softmax / log_softmax ----------------------------------------------- */

static void check_softmax(const bn_tensor *x, int axis, bool logf, double ulps)
{
    bn_tensor *y;
    bn_status st = logf ? bn_log_softmax(x, axis, &y) : bn_softmax(x, axis, &y);
    cr_assert_eq(st, BN_OK, "%s", bn_last_error());
    cr_assert_eq(y->dtype, x->dtype);
    int ax = axis < 0 ? axis + x->ndim : axis;
    int64_t n = bn_tensor_numel(x), len = x->shape[ax], inner = 1;
    for (int d = ax + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    for (int64_t i = 0; i < n; i++) {
        /* lane of i: same index except along ax */
        int64_t base = i - ((i / inner) % len) * inner;
        long double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < len; j++) {
            long double v = bn_tensor_get_flat(x, base + j * inner);
            m = v > m ? v : m;
        }
        for (int64_t j = 0; j < len; j++)
            s += expl(bn_tensor_get_flat(x, base + j * inner) - m);
        long double xv = bn_tensor_get_flat(x, i);
        long double ref = logf ? (xv - m) - logl(s) : expl(xv - m) / s;
        double abs_tol = logf ? 1e-12 * (double)(fabsl(xv - m) + 1) + 0x1.0p-22 : 1e-12;
        double got = bn_tensor_get_flat(y, i);
        cr_assert(tt_close(x->dtype, got, ref, ulps, abs_tol), "%s %s[%lld] = %.9g, want %.12Lg",
                  bn_dtype_name(x->dtype), logf ? "log_softmax" : "softmax", (long long)i, got,
                  ref);
    }
    bn_tensor_free(y);
}

Test(softmax, random_every_axis_f32_f16_bf16)
{
    int64_t shape[3] = {3, 5, 7};
    bn_tensor *x;
    cr_assert_eq(bn_tensor_rand(BN_F32, 3, shape, 41, BN_RAND_NORMAL, 0, 4, &x), BN_OK);
    for (int ax = -3; ax < 3; ax++) {
        check_softmax(x, ax, false, 2);
        check_softmax(x, ax, true, 1);
    }
    bn_tensor_free(x);
    const bn_dtype dts[] = {BN_F16, BN_BF16};
    for (int d = 0; d < 2; d++) {
        cr_assert_eq(bn_tensor_rand(dts[d], 3, shape, 42, BN_RAND_NORMAL, 0, 4, &x), BN_OK);
        check_softmax(x, -1, false, 1);
        check_softmax(x, 1, true, 1);
        bn_tensor_free(x);
    }
    /* transposed view */
    float mem[35];
    for (int i = 0; i < 35; i++)
        mem[i] = cosf((float)i) * 10.0f;
    int64_t tshape[2] = {5, 7}, tstr[2] = {1, 5};
    bn_tensor *xt = tt_wrap_f32(mem, 35, 2, tshape, tstr);
    check_softmax(xt, 1, false, 2);
    check_softmax(xt, 0, true, 1);
    bn_tensor_free(xt);
}

Test(softmax, stable_for_large_inputs)
{
    const double v[] = {1000, 1001, 1002, -1000, 0, -1e30};
    int64_t shape[2] = {2, 3};
    bn_tensor *x = tt_make(BN_F32, 2, shape, v), *y, *ly;
    cr_assert_eq(bn_softmax(x, 1, &y), BN_OK);
    cr_assert_eq(bn_log_softmax(x, -1, &ly), BN_OK);
    /* exact: softmax(0,1,2) and (0,-1000,-1e30) after the shift */
    const double ws[] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 0, 1, 0};
    const double wl[] = {
        -2.4076059644443806, -1.4076059644443806, -0.4076059644443806, -1000, 0, -1e30};
    for (int i = 0; i < 6; i++) {
        cr_assert(tt_close(BN_F32, bn_tensor_get_flat(y, i), ws[i], 1, 0), "softmax[%d] = %.9g", i,
                  bn_tensor_get_flat(y, i));
        cr_assert(tt_close(BN_F32, bn_tensor_get_flat(ly, i), wl[i], 1, 0),
                  "log_softmax[%d] = %.9g", i, bn_tensor_get_flat(ly, i));
    }
    bn_tensor_free(y);
    bn_tensor_free(ly);
    bn_tensor_free(x);
}

Test(softmax, bad_input)
{
    int64_t shape[2] = {2, 3};
    bn_tensor *x, *xi, *y;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 2, shape, &x), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_I8, 2, shape, &xi), BN_OK);
    tt_assert_err(bn_softmax(x, 2, &y), BN_ERR_ARG, "softmax: axis 2 out of range");
    tt_assert_err(bn_log_softmax(x, -3, &y), BN_ERR_ARG, "log_softmax: axis -3 out of range");
    tt_assert_err(bn_softmax(xi, 0, &y), BN_ERR_DTYPE, "softmax: not defined for integer dtype i8");
    bn_tensor_free(x);
    bn_tensor_free(xi);
}

/* ---- rmsnorm / layernorm ------------------------------------------------- */

static void check_norm(bool layer, const bn_tensor *x, const bn_tensor *w, const bn_tensor *b,
                       float eps, double ulps)
{
    bn_tensor *y;
    bn_status st = layer ? bn_layernorm(x, w, b, eps, &y) : bn_rmsnorm(x, w, eps, &y);
    cr_assert_eq(st, BN_OK, "%s", bn_last_error());
    int64_t n = x->shape[x->ndim - 1], rows = bn_tensor_numel(x) / n;
    for (int64_t r = 0; r < rows; r++) {
        long double s = 0, sq = 0, dev = 0;
        for (int64_t j = 0; j < n; j++) {
            long double v = bn_tensor_get_flat(x, r * n + j);
            s += v;
            sq += v * v;
        }
        long double mean = s / n;
        for (int64_t j = 0; j < n; j++) {
            long double v = bn_tensor_get_flat(x, r * n + j) - mean;
            dev += v * v;
        }
        long double scale = layer ? 1.0L / sqrtl(dev / n + eps) : 1.0L / sqrtl(sq / n + eps);
        for (int64_t j = 0; j < n; j++) {
            long double v = bn_tensor_get_flat(x, r * n + j);
            long double ref = layer ? (v - mean) * scale : v * scale;
            if (w)
                ref *= bn_tensor_get_flat(w, j);
            if (b)
                ref += bn_tensor_get_flat(b, j);
            double got = bn_tensor_get_flat(y, r * n + j);
            cr_assert(tt_close(x->dtype, got, ref, ulps, 1e-12),
                      "%s %s[%lld,%lld] = %.9g, want %.12Lg", bn_dtype_name(x->dtype),
                      layer ? "layernorm" : "rmsnorm", (long long)r, (long long)j, got, ref);
        }
    }
    bn_tensor_free(y);
}

Test(norm, rmsnorm_and_layernorm_against_long_double)
{
    int64_t shape[3] = {2, 3, 16}, wn = 16;
    const bn_dtype dts[] = {BN_F32, BN_F16, BN_BF16};
    for (int d = 0; d < 3; d++) {
        bn_tensor *x, *w = tt_rand(dts[d], 1, &wn, 52, 0.5, 1.5),
                      *b = tt_rand(dts[d], 1, &wn, 53, -1, 1);
        cr_assert_eq(bn_tensor_rand(dts[d], 3, shape, 51, BN_RAND_NORMAL, 1, 3, &x), BN_OK);
        check_norm(false, x, NULL, NULL, 1e-6f, 1);
        check_norm(false, x, w, NULL, 1e-5f, 1);
        check_norm(true, x, NULL, NULL, 1e-5f, 1);
        check_norm(true, x, w, NULL, 1e-5f, 1);
        check_norm(true, x, NULL, b, 1e-5f, 1);
        check_norm(true, x, w, b, 0, 1);
        bn_tensor_free(x);
        bn_tensor_free(w);
        bn_tensor_free(b);
    }
    /* transposed x and a strided weight */
    float mem[40], wmem[16];
    for (int i = 0; i < 40; i++)
        mem[i] = sinf((float)i * 0.9f) * 4.0f;
    for (int i = 0; i < 16; i++)
        wmem[i] = 1.0f + 0.1f * (float)i;
    int64_t xs[2] = {5, 8}, xstr[2] = {1, 5}, wshape = 8, wstr = 2;
    bn_tensor *xt = tt_wrap_f32(mem, 40, 2, xs, xstr);
    bn_tensor *ws = tt_wrap_f32(wmem, 16, 1, &wshape, &wstr);
    check_norm(false, xt, ws, NULL, 1e-6f, 1);
    check_norm(true, xt, ws, ws, 1e-6f, 1);
    bn_tensor_free(xt);
    bn_tensor_free(ws);
}

Test(norm, hand_computed)
{
    const double v[] = {1, 2, 3, 4};
    int64_t n = 4;
    bn_tensor *x = tt_make(BN_F32, 1, &n, v), *y;
    cr_assert_eq(bn_rmsnorm(x, NULL, 0, &y), BN_OK);
    /* rms = sqrt(30/4) */
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(bn_tensor_get_flat(y, i), v[i] / sqrt(7.5), 1e-7);
    bn_tensor_free(y);
    cr_assert_eq(bn_layernorm(x, NULL, NULL, 0, &y), BN_OK);
    /* mean 2.5, var 1.25 */
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(bn_tensor_get_flat(y, i), (v[i] - 2.5) / sqrt(1.25), 1e-7);
    bn_tensor_free(y);
    bn_tensor_free(x);
}

Test(norm, bad_input)
{
    int64_t shape[2] = {2, 8}, w7 = 7, w8 = 8;
    bn_tensor *x, *w, *wh, *s, *xi, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, shape, &x), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 1, &w7, &w), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F16, 1, &w8, &wh), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 0, NULL, &s), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_I32, 2, shape, &xi), BN_OK);
    tt_assert_err(bn_rmsnorm(x, w, 1e-5f, &y), BN_ERR_SHAPE,
                  "rmsnorm: weight has shape [7], expected [8] to match x [2,8]");
    cr_assert_null(y);
    tt_assert_err(bn_layernorm(x, NULL, w, 1e-5f, &y), BN_ERR_SHAPE,
                  "layernorm: bias has shape [7]");
    tt_assert_err(bn_layernorm(x, wh, NULL, 1e-5f, &y), BN_ERR_DTYPE,
                  "layernorm: weight has dtype f16 but x is f32");
    tt_assert_err(bn_rmsnorm(s, NULL, 1e-5f, &y), BN_ERR_SHAPE,
                  "rmsnorm: x must have at least 1 dim");
    tt_assert_err(bn_rmsnorm(x, NULL, -1.0f, &y), BN_ERR_ARG,
                  "rmsnorm: eps must be finite and >= 0, got -1");
    tt_assert_err(bn_layernorm(x, NULL, NULL, NAN, &y), BN_ERR_ARG, "layernorm: eps");
    tt_assert_err(bn_rmsnorm(xi, NULL, 1e-5f, &y), BN_ERR_DTYPE,
                  "rmsnorm: not defined for integer dtype i32");
    bn_tensor_free(x);
    bn_tensor_free(w);
    bn_tensor_free(wh);
    bn_tensor_free(s);
    bn_tensor_free(xi);
}
