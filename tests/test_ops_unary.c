/*
 * test_ops_unary.c - element-wise unary ops and clamp: every op against a
 * long double libm reference over seeded random inputs at several
 * magnitudes and over special values, f16/bf16 paths, integer ops exactly,
 * strided/broadcast/in-place/overlapping views, accounting, and bad input.
 *
 * Tolerances (|got - exact| <= k ulp of the result's dtype):
 *   f32: neg, abs, relu 0; sqrt, relu2 0.5 (correctly rounded);
 *        exp, log, rsqrt, sin, cos 1; tanh, sigmoid, silu, gelu_tanh 2;
 *        gelu 2.5 (the SIMD sets' bounds, kernels/x86/x86_red.h; the
 *        reference is within 1 ulp of every one).
 *   f16, bf16: 1 ulp for every op (computed in f32, rounded once more).
 */
#include "ops_test.h"

typedef long double (*ref_fn)(long double);

static long double r_neg(long double x)
{
    return -x;
}
static long double r_abs(long double x)
{
    return fabsl(x);
}
static long double r_exp(long double x)
{
    return expl(x);
}
static long double r_log(long double x)
{
    return logl(x);
}
static long double r_sqrt(long double x)
{
    return sqrtl(x);
}
static long double r_rsqrt(long double x)
{
    return 1.0L / sqrtl(x);
}
static long double r_sin(long double x)
{
    return sinl(x);
}
static long double r_cos(long double x)
{
    return cosl(x);
}
static long double r_tanh(long double x)
{
    return tanhl(x);
}
static long double r_sigmoid(long double x)
{
    if (x >= 0)
        return 1.0L / (1.0L + expl(-x));
    long double e = expl(x);
    return e / (1.0L + e);
}
static long double r_relu(long double x)
{
    return x < 0 ? 0.0L : x;
}
static long double r_relu2(long double x)
{
    return x < 0 ? 0.0L : x * x;
}
static long double r_gelu(long double x)
{
    return 0.5L * x * erfcl(-x / sqrtl(2.0L));
}
static long double r_gelu_tanh(long double x)
{
    /* 0.5 x (1 + tanh u) = x sigmoid(2u) */
    long double u =
        sqrtl(2.0L / 3.14159265358979323846264338327950288L) * (x + 0.044715L * x * x * x);
    return x * r_sigmoid(2.0L * u);
}
static long double r_silu(long double x)
{
    return x * r_sigmoid(x);
}

typedef struct unary_case {
    bn_op op;
    ref_fn ref;
    double ulps;   /* f32 tolerance */
    bool positive; /* domain [0, r) instead of [-r, r) */
} unary_case;

static const unary_case cases[] = {
    {BN_OP_NEG, r_neg, 0, false},     {BN_OP_ABS, r_abs, 0, false},
    {BN_OP_EXP, r_exp, 1, false},     {BN_OP_LOG, r_log, 1, true},
    {BN_OP_SQRT, r_sqrt, 0.5, true},  {BN_OP_RSQRT, r_rsqrt, 1, true},
    {BN_OP_SIN, r_sin, 1, false},     {BN_OP_COS, r_cos, 1, false},
    {BN_OP_TANH, r_tanh, 2, false},   {BN_OP_SIGMOID, r_sigmoid, 2, false},
    {BN_OP_RELU, r_relu, 0, false},   {BN_OP_RELU2, r_relu2, 0.5, false},
    {BN_OP_GELU, r_gelu, 2.5, false}, {BN_OP_GELU_TANH, r_gelu_tanh, 2, false},
    {BN_OP_SILU, r_silu, 2, false},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static void check_values(const unary_case *c, bn_dtype dt, const bn_tensor *x, const bn_tensor *y,
                         double ulps)
{
    int64_t n = bn_tensor_numel(x);
    cr_assert_eq(y->dtype, dt);
    cr_assert_eq(bn_tensor_numel(y), n);
    for (int64_t i = 0; i < n; i++) {
        double xv = bn_tensor_get_flat(x, i), yv = bn_tensor_get_flat(y, i);
        long double ref = c->ref((long double)xv);
        cr_assert(tt_close(dt, yv, ref, ulps, 0), "%s %s(%.9g) = %.9g, want %.12Lg (tol %g ulp)",
                  bn_dtype_name(dt), bn_op_name(c->op), xv, yv, ref, ulps);
    }
}

static void check_random(const unary_case *c, bn_dtype dt, double r, uint64_t seed, double ulps)
{
    int64_t n = 997;
    bn_tensor *x = tt_rand(dt, 1, &n, seed, c->positive ? 0 : -r, r), *y;
    cr_assert_eq(bn_unary(c->op, x, &y), BN_OK, "%s", bn_last_error());
    check_values(c, dt, x, y, ulps);
    bn_tensor_free(x);
    bn_tensor_free(y);
}

Test(unary, every_op_f32_random_at_several_magnitudes)
{
    const double mags[] = {1e-3, 1, 10, 100};
    for (int k = 0; k < NCASES; k++)
        for (int m = 0; m < 4; m++)
            check_random(&cases[k], BN_F32, mags[m], 1000 + (uint64_t)(k * 4 + m), cases[k].ulps);
}

Test(unary, every_op_f32_special_values)
{
    const double sv[] = {0.0,     -0.0,  1.0,    -1.0,    INFINITY, -INFINITY, NAN,
                         FLT_MIN, 1e-40, -1e-40, FLT_MAX, -FLT_MAX, 88.72,     -87.33,
                         -103.97, 1e-30, 1e4,    -1e4,    30.0,     -30.0,     1e20};
    int64_t n = (int64_t)(sizeof sv / sizeof sv[0]);
    bn_tensor *x = tt_make(BN_F32, 1, &n, sv);
    for (int k = 0; k < NCASES; k++) {
        bn_tensor *y;
        cr_assert_eq(bn_unary(cases[k].op, x, &y), BN_OK, "%s", bn_last_error());
        check_values(&cases[k], BN_F32, x, y, cases[k].ulps);
        bn_tensor_free(y);
    }
    bn_tensor_free(x);
}

Test(unary, sigmoid_is_stable_for_large_magnitudes)
{
    const double v[] = {-1000, -100, -89, 89, 100, 1000};
    int64_t n = 6;
    bn_tensor *x = tt_make(BN_F32, 1, &n, v), *y;
    cr_assert_eq(bn_unary(BN_OP_SIGMOID, x, &y), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(y, 0), 0.0);
    cr_assert(bn_tensor_get_flat(y, 1) > 0 && bn_tensor_get_flat(y, 1) < 1e-43);
    cr_assert_eq(bn_tensor_get_flat(y, 4), 1.0);
    cr_assert_eq(bn_tensor_get_flat(y, 5), 1.0);
    for (int i = 0; i < 6; i++)
        cr_assert(!isnan(bn_tensor_get_flat(y, i)));
    bn_tensor_free(x);
    bn_tensor_free(y);
}

Test(unary, every_op_f16_and_bf16_within_one_ulp)
{
    const bn_dtype dts[] = {BN_F16, BN_BF16};
    const double mags[] = {1, 10};
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < NCASES; k++)
            for (int m = 0; m < 2; m++)
                check_random(&cases[k], dts[d], mags[m], 5000 + (uint64_t)(d * 100 + k * 2 + m),
                             1.0);
}

Test(unary, integer_ops_are_exact_and_wrap_at_the_minimum)
{
    const double v32[] = {-2147483648.0, -5, 0, 7, 2147483647.0};
    const double v8[] = {-128, -5, 0, 7, 127};
    int64_t n = 5;
    bn_tensor *a = tt_make(BN_I32, 1, &n, v32), *b = tt_make(BN_I8, 1, &n, v8), *y;
    const double neg32[] = {-2147483648.0, 5, 0, -7, -2147483647.0};
    const double abs32[] = {-2147483648.0, 5, 0, 7, 2147483647.0};
    const double relu32[] = {0, 0, 0, 7, 2147483647.0};
    const double neg8[] = {-128, 5, 0, -7, -127}, abs8[] = {-128, 5, 0, 7, 127};
    const double relu8[] = {0, 0, 0, 7, 127};
    const struct {
        bn_op op;
        bn_tensor *x;
        const double *want;
    } cs[] = {{BN_OP_NEG, a, neg32}, {BN_OP_ABS, a, abs32}, {BN_OP_RELU, a, relu32},
              {BN_OP_NEG, b, neg8},  {BN_OP_ABS, b, abs8},  {BN_OP_RELU, b, relu8}};
    for (int c = 0; c < 6; c++) {
        cr_assert_eq(bn_unary(cs[c].op, cs[c].x, &y), BN_OK, "%s", bn_last_error());
        cr_assert_eq(y->dtype, cs[c].x->dtype);
        for (int i = 0; i < 5; i++)
            cr_assert_eq(bn_tensor_get_flat(y, i), cs[c].want[i], "%s %s[%d]", bn_op_name(cs[c].op),
                         bn_dtype_name(y->dtype), i);
        bn_tensor_free(y);
    }
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(unary, clamp_floats_ints_and_nan)
{
    const double v[] = {-3, -0.5, 0.25, 0.75, 9, NAN};
    int64_t n = 6;
    bn_tensor *x = tt_make(BN_F32, 1, &n, v), *y;
    cr_assert_eq(bn_clamp(x, -1, 0.5, &y), BN_OK);
    const double want[] = {-1, -0.5, 0.25, 0.5, 0.5};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), want[i]);
    cr_assert(isnan(bn_tensor_get_flat(y, 5)), "NaN passes through clamp");
    bn_tensor_free(y);
    bn_tensor_free(x);

    const double vi[] = {-100, -3, -2, 0, 3, 4, 100};
    n = 7;
    bn_tensor *xi = tt_make(BN_I32, 1, &n, vi);
    cr_assert_eq(bn_clamp(xi, -2.5, 3.7, &y), BN_OK); /* integer bounds [-2, 3] */
    const double wi[] = {-2, -2, -2, 0, 3, 3, 3};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), wi[i]);
    bn_tensor_free(y);
    bn_tensor_free(xi);

    bn_tensor *x8 = tt_make(BN_I8, 1, &n, vi);
    cr_assert_eq(bn_clamp(x8, -1000, 1000, &y), BN_OK); /* bounds beyond i8 range */
    for (int i = 0; i < 7; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), vi[i]);
    bn_tensor_free(y);
    cr_assert_eq(bn_clamp_out(x8, 0, 2, x8), BN_OK);
    const double w8[] = {0, 0, 0, 0, 2, 2, 2};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(bn_tensor_get_flat(x8, i), w8[i]);
    bn_tensor_free(x8);
}

Test(unary, strided_and_broadcast_inputs)
{
    float mem[12];
    for (int i = 0; i < 12; i++)
        mem[i] = (float)(i - 5) * 0.37f;
    /* a [3,4] transposed view of a row-major [4,3] */
    int64_t shape[2] = {3, 4}, tstr[2] = {1, 3}, bstr[2] = {0, 1};
    bn_tensor *xt = tt_wrap_f32(mem, 12, 2, shape, tstr), *y;
    cr_assert_eq(bn_unary(BN_OP_EXP, xt, &y), BN_OK);
    cr_assert(bn_tensor_is_contiguous(y));
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++) {
            int64_t idx[2] = {i, j};
            long double ref = expl((long double)mem[j * 3 + i]);
            cr_assert(tt_close(BN_F32, bn_tensor_get(y, idx), ref, 1, 0));
        }
    bn_tensor_free(y);
    bn_tensor_free(xt);
    /* a row broadcast to [3,4] (stride 0) */
    bn_tensor *xb = tt_wrap_f32(mem, 4, 2, shape, bstr);
    cr_assert_eq(bn_unary(BN_OP_NEG, xb, &y), BN_OK);
    for (int64_t i = 0; i < 12; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), -(double)mem[i % 4]);
    bn_tensor_free(y);
    bn_tensor_free(xb);
}

Test(unary, in_place_and_overlapping_out)
{
    int64_t n = 9;
    bn_tensor *a = tt_rand(BN_F32, 1, &n, 7, -2, 2);
    double orig[9];
    for (int i = 0; i < 9; i++)
        orig[i] = bn_tensor_get_flat(a, i);
    cr_assert_eq(bn_unary_out(BN_OP_NEG, a, a), BN_OK);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(bn_tensor_get_flat(a, i), -orig[i]);
    bn_tensor_free(a);

    bn_tensor *h = tt_rand(BN_F16, 1, &n, 8, 0.1, 4);
    for (int i = 0; i < 9; i++)
        orig[i] = bn_tensor_get_flat(h, i);
    cr_assert_eq(bn_unary_out(BN_OP_SQRT, h, h), BN_OK);
    for (int i = 0; i < 9; i++)
        cr_assert(tt_close(BN_F16, bn_tensor_get_flat(h, i), sqrtl(orig[i]), 0.5, 0));
    bn_tensor_free(h);

    /* out is the transpose of the input over the same memory: the op must
     * behave as if they were separate (input read before it is overwritten) */
    float mem[9];
    for (int i = 0; i < 9; i++)
        mem[i] = (float)(i + 1);
    int64_t shape[2] = {3, 3}, tstr[2] = {1, 3};
    bn_tensor *x = tt_wrap_f32(mem, 9, 2, shape, NULL);
    bn_tensor *xt = tt_wrap_f32(mem, 9, 2, shape, tstr);
    cr_assert_eq(bn_unary_out(BN_OP_NEG, x, xt), BN_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(mem[j * 3 + i], -(float)(i * 3 + j + 1), "out[%d][%d]", i, j);
    bn_tensor_free(x);
    bn_tensor_free(xt);
}

Test(unary, accounting_records_one_op_and_output_bytes)
{
    int64_t shape[2] = {5, 7};
    bn_tensor *x = tt_rand(BN_F32, 2, shape, 3, -1, 1), *y;
    bn_op_stats s0, s1;
    bn_op_stats_get(&s0);
    cr_assert_eq(bn_unary(BN_OP_TANH, x, &y), BN_OK);
    bn_op_stats_get(&s1);
    cr_assert_eq(s1.ops - s0.ops, 1);
    cr_assert_eq(s1.per_op[BN_OP_TANH] - s0.per_op[BN_OP_TANH], 1);
    cr_assert_eq(s1.bytes_alloc - s0.bytes_alloc, 35 * sizeof(float));
    cr_assert_eq(s1.bytes_copied - s0.bytes_copied, 0);
    cr_assert_eq(s1.ops_shared - s0.ops_shared, 0);
    cr_assert_eq(bn_unary_out(BN_OP_TANH, y, y), BN_OK);
    bn_op_stats_get(&s0);
    cr_assert_eq(s0.ops_shared - s1.ops_shared, 1, "an in-place op shares its input's buffer");
    cr_assert_eq(s0.bytes_alloc - s1.bytes_alloc, 0);
    bn_tensor_free(x);
    bn_tensor_free(y);
}

Test(unary, bad_input_gives_status_and_message)
{
    int64_t n = 8, n2[2] = {2, 2};
    bn_tensor *t2, *xi, *x, *o, *oh, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_zeros(BN_T2, 1, &n, &t2), BN_OK);
    tt_assert_err(bn_unary(BN_OP_EXP, t2, &y), BN_ERR_DTYPE, "exp: packed dtype t2");
    cr_assert_null(y);
    tt_assert_err(bn_clamp(t2, 0, 1, &y), BN_ERR_DTYPE, "clamp: packed dtype t2");
    cr_assert_eq(bn_tensor_zeros(BN_I32, 1, &n, &xi), BN_OK);
    tt_assert_err(bn_unary(BN_OP_EXP, xi, &y), BN_ERR_DTYPE,
                  "exp: not defined for integer dtype i32");
    tt_assert_err(bn_unary(BN_OP_GELU, xi, &y), BN_ERR_DTYPE, "gelu");
    cr_assert_eq(bn_tensor_zeros(BN_F32, 1, &n, &x), BN_OK);
    tt_assert_err(bn_unary(BN_OP_ADD, x, &y), BN_ERR_ARG, "not an element-wise unary op");
    tt_assert_err(bn_unary(BN_OP_CLAMP, x, &y), BN_ERR_ARG, "use bn_clamp");
    tt_assert_err(bn_unary(BN_OP_COUNT, x, &y), BN_ERR_ARG, "unknown");
    tt_assert_err(bn_clamp(x, 3, 1, &y), BN_ERR_ARG, "lo 3, hi 1");
    tt_assert_err(bn_clamp(x, NAN, 1, &y), BN_ERR_ARG, "clamp");
    tt_assert_err(bn_clamp(xi, 0.2, 0.8, &y), BN_ERR_ARG, "no i32 value lies in [0.2, 0.8]");
    cr_assert_eq(bn_tensor_zeros(BN_F32, 2, n2, &o), BN_OK);
    tt_assert_err(bn_unary_out(BN_OP_NEG, x, o), BN_ERR_SHAPE,
                  "neg: out has shape [2,2] but the result shape is [8]");
    cr_assert_eq(bn_tensor_zeros(BN_F16, 1, &n, &oh), BN_OK);
    tt_assert_err(bn_unary_out(BN_OP_NEG, x, oh), BN_ERR_DTYPE,
                  "neg: out has dtype f16 but the result is f32");
    tt_assert_err(bn_clamp_out(x, 0, 1, oh), BN_ERR_DTYPE, "clamp: out has dtype f16");
    bn_tensor_free(t2);
    bn_tensor_free(xi);
    bn_tensor_free(x);
    bn_tensor_free(o);
    bn_tensor_free(oh);
}
