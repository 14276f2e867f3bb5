/*
 * test_ops_binary.c - element-wise binary ops: NumPy broadcasting against
 * hand-computed results, strided/transposed/broadcast views, scalar and
 * in-place out forms (including outs that overlap an input through another
 * view), every op against a long double reference over seeded random inputs,
 * exact wrapping integer ops, accounting, and bad input.
 *
 * Tolerances (|got - exact|): f32 add, sub, mul, div, rem 0.5 ulp (IEEE,
 * correctly rounded); pow 1 ulp; maximum, minimum exact; f16/bf16 1 ulp of
 * the dtype for every op; integer ops exact (two's complement wrap).
 */
#include "ops_test.h"

static void assert_values(const bn_tensor *y, int nd, const int64_t *shape, const double *want)
{
    cr_assert_eq(y->ndim, nd, "ndim %d, want %d", y->ndim, nd);
    int64_t n = 1;
    for (int d = 0; d < nd; d++) {
        cr_assert_eq(y->shape[d], shape[d], "dim %d: %lld, want %lld", d, (long long)y->shape[d],
                     (long long)shape[d]);
        n *= shape[d];
    }
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), want[i], "[%lld] = %g, want %g", (long long)i,
                     bn_tensor_get_flat(y, i), want[i]);
}

Test(binary, broadcasting_hand_computed)
{
    bn_tensor *a, *b, *y;
    /* [2,3] + [3] */
    const double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {10, 20, 30};
    int64_t s23[2] = {2, 3}, s3 = 3;
    a = tt_make(BN_F32, 2, s23, av);
    b = tt_make(BN_F32, 1, &s3, bv);
    cr_assert_eq(bn_add(a, b, &y), BN_OK, "%s", bn_last_error());
    const double w1[] = {11, 22, 33, 14, 25, 36};
    assert_values(y, 2, s23, w1);
    bn_tensor_free(y);
    cr_assert_eq(bn_sub(b, a, &y), BN_OK); /* [3] - [2,3] */
    const double w1b[] = {9, 18, 27, 6, 15, 24};
    assert_values(y, 2, s23, w1b);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);

    /* [2,1] * [1,3] */
    const double cv[] = {1, 2}, dv[] = {3, 4, 5};
    int64_t s21[2] = {2, 1}, s13[2] = {1, 3};
    a = tt_make(BN_F32, 2, s21, cv);
    b = tt_make(BN_F32, 2, s13, dv);
    cr_assert_eq(bn_mul(a, b, &y), BN_OK);
    const double w2[] = {3, 4, 5, 6, 8, 10};
    assert_values(y, 2, s23, w2);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);

    /* [0] + [1] -> [0] */
    int64_t s0 = 0, s1 = 1;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 1, &s0, &a), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 1, &s1, &b), BN_OK);
    cr_assert_eq(bn_add(a, b, &y), BN_OK);
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(y->shape[0], 0);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);

    /* scalar (ndim 0) with [2,2], and scalar with scalar */
    const double ev[] = {1, -2, 3, -4};
    int64_t s22[2] = {2, 2};
    a = tt_make(BN_F32, 2, s22, ev);
    cr_assert_eq(bn_tensor_full(BN_F32, 0, NULL, 0.5, &b), BN_OK);
    cr_assert_eq(bn_div(a, b, &y), BN_OK);
    const double w3[] = {2, -4, 6, -8};
    assert_values(y, 2, s22, w3);
    bn_tensor_free(y);
    cr_assert_eq(bn_binary(BN_OP_MAXIMUM, b, b, &y), BN_OK);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(bn_tensor_get(y, NULL), 0.5);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);

    /* [3,1,2] - [4,1] -> [3,4,2] */
    int64_t s312[3] = {3, 1, 2}, s41[2] = {4, 1}, s342[3] = {3, 4, 2};
    const double fv[] = {0, 1, 10, 11, 20, 21}, gv[] = {0, 100, 200, 300};
    a = tt_make(BN_F32, 3, s312, fv);
    b = tt_make(BN_F32, 2, s41, gv);
    cr_assert_eq(bn_sub(a, b, &y), BN_OK);
    double w4[24];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 2; k++)
                w4[(i * 4 + j) * 2 + k] = fv[i * 2 + k] - gv[j];
    assert_values(y, 3, s342, w4);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(binary, transposed_sliced_and_expanded_views)
{
    int64_t s45[2] = {4, 5}, s54[2] = {5, 4}, s4 = 4;
    bn_tensor *a = tt_rand(BN_F32, 2, s45, 1, -3, 3), *b = tt_rand(BN_F32, 2, s54, 2, -3, 3);
    bn_tensor *r = tt_rand(BN_F32, 1, &s4, 3, -3, 3), *at, *re, *bs, *y;
    cr_assert_eq(bn_transpose(a, 0, 1, &at), BN_OK);   /* [5,4], strides [1,5] */
    cr_assert_eq(bn_expand(r, 2, s54, &re), BN_OK);    /* [5,4], strides [0,1] */
    cr_assert_eq(bn_slice(b, 1, 0, 4, 2, &bs), BN_OK); /* [5,2], strides [4,2] */
    cr_assert_eq(bn_mul(at, b, &y), BN_OK);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 4; j++) {
            int64_t ij[2] = {i, j}, ji[2] = {j, i};
            cr_assert_eq(bn_tensor_get(y, ij),
                         (double)((float)bn_tensor_get(a, ji) * (float)bn_tensor_get(b, ij)));
        }
    bn_tensor_free(y);
    cr_assert_eq(bn_add(at, re, &y), BN_OK);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 4; j++) {
            int64_t ij[2] = {i, j}, ji[2] = {j, i};
            cr_assert_eq(bn_tensor_get(y, ij),
                         (double)((float)bn_tensor_get(a, ji) + (float)bn_tensor_get_flat(r, j)));
        }
    bn_tensor_free(y);
    /* [5,2] slice with step 2 against the first two columns of the transpose */
    bn_tensor *at2;
    cr_assert_eq(bn_narrow(at, 1, 1, 2, &at2), BN_OK);
    cr_assert_eq(bn_binary(BN_OP_MINIMUM, bs, at2, &y), BN_OK);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 2; j++) {
            int64_t ij[2] = {i, j}, bj[2] = {i, 2 * j}, aj[2] = {j + 1, i};
            cr_assert_eq(bn_tensor_get(y, ij), fmin(bn_tensor_get(b, bj), bn_tensor_get(a, aj)));
        }
    bn_tensor_free(y);
    bn_tensor_free(at2);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(r);
    bn_tensor_free(at);
    bn_tensor_free(re);
    bn_tensor_free(bs);
}

typedef struct binary_case {
    bn_op op;
    double ulps; /* f32 */
    double lo, hi;
} binary_case;

static const binary_case cases[] = {
    {BN_OP_ADD, 0.5, -100, 100},   {BN_OP_SUB, 0.5, -100, 100},   {BN_OP_MUL, 0.5, -100, 100},
    {BN_OP_DIV, 0.5, -100, 100},   {BN_OP_REM, 0.5, -100, 100},   {BN_OP_POW, 1, -4, 4},
    {BN_OP_MAXIMUM, 0, -100, 100}, {BN_OP_MINIMUM, 0, -100, 100},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static long double ref_binary(bn_op op, long double a, long double b)
{
    switch (op) {
    case BN_OP_ADD:
        return a + b;
    case BN_OP_SUB:
        return a - b;
    case BN_OP_MUL:
        return a * b;
    case BN_OP_DIV:
        return a / b;
    case BN_OP_REM:
        return fmodl(a, b);
    case BN_OP_POW:
        return powl(a, b);
    case BN_OP_MAXIMUM:
        return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case BN_OP_MINIMUM:
        return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    default:
        cr_assert_fail("not a binary op");
        return 0;
    }
}

static void check_against_ref(const binary_case *c, const bn_tensor *a, const bn_tensor *b,
                              const bn_tensor *y, double ulps)
{
    int64_t n = bn_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double av = bn_tensor_get_flat(a, i), bv = bn_tensor_get_flat(b, i);
        double got = bn_tensor_get_flat(y, i);
        long double ref = ref_binary(c->op, av, bv);
        cr_assert(tt_close(y->dtype, got, ref, ulps, 0), "%s %s(%.9g, %.9g) = %.9g, want %.12Lg",
                  bn_dtype_name(y->dtype), bn_op_name(c->op), av, bv, got, ref);
    }
}

Test(binary, every_op_against_long_double_f32_f16_bf16)
{
    int64_t shape[2] = {13, 31};
    const bn_dtype dts[] = {BN_F32, BN_F16, BN_BF16};
    for (int d = 0; d < 3; d++) {
        for (int k = 0; k < NCASES; k++) {
            uint64_t seed = 100 + (uint64_t)(d * 16 + k);
            bn_tensor *a = tt_rand(dts[d], 2, shape, seed, cases[k].lo, cases[k].hi);
            bn_tensor *b = tt_rand(dts[d], 2, shape, seed + 1000, cases[k].lo, cases[k].hi), *y;
            cr_assert_eq(bn_binary(cases[k].op, a, b, &y), BN_OK, "%s", bn_last_error());
            cr_assert_eq(y->dtype, dts[d]);
            check_against_ref(&cases[k], a, b, y, d == 0 ? cases[k].ulps : 1.0);
            bn_tensor_free(y);
            bn_tensor_free(a);
            bn_tensor_free(b);
        }
    }
}

Test(binary, special_values)
{
    const double av[] = {0, -8, 5.5, 5.5, -5.5, NAN, 1, INFINITY, -0.0, 2, 1e30, -1};
    const double bv[] = {-1, 1.0 / 3, 0, INFINITY, 2, 1, NAN, INFINITY, 0, 1000, 1e30, 0.5};
    int64_t n = 12;
    bn_tensor *a = tt_make(BN_F32, 1, &n, av), *b = tt_make(BN_F32, 1, &n, bv), *y;
    for (int k = 0; k < NCASES; k++) {
        cr_assert_eq(bn_binary(cases[k].op, a, b, &y), BN_OK);
        check_against_ref(&cases[k], a, b, y, cases[k].ulps);
        bn_tensor_free(y);
    }
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(binary, integer_ops_exact_and_wrapping)
{
    const double a32[] = {2147483647.0, -2147483648.0, 65536, -7, 100000, 3};
    const double b32[] = {1, 1, 65536, 3, -100000, -3};
    int64_t n = 6;
    bn_tensor *a = tt_make(BN_I32, 1, &n, a32), *b = tt_make(BN_I32, 1, &n, b32), *y;
    const double add[] = {-2147483648.0, -2147483647.0, 131072, -4, 0, 0};
    const double sub[] = {2147483646.0, 2147483647.0, 0, -10, 200000, 6};
    const double mul[] = {2147483647.0, -2147483648.0, 0, -21, -1410065408.0, -9};
    const double mx[] = {2147483647.0, 1, 65536, 3, 100000, 3};
    const double mn[] = {1, -2147483648.0, 65536, -7, -100000, -3};
    const struct {
        bn_op op;
        const double *w;
    } c32[] = {{BN_OP_ADD, add},
               {BN_OP_SUB, sub},
               {BN_OP_MUL, mul},
               {BN_OP_MAXIMUM, mx},
               {BN_OP_MINIMUM, mn}};
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(bn_binary(c32[k].op, a, b, &y), BN_OK, "%s", bn_last_error());
        cr_assert_eq(y->dtype, BN_I32);
        assert_values(y, 1, &n, c32[k].w);
        bn_tensor_free(y);
    }
    bn_tensor_free(a);
    bn_tensor_free(b);

    const double a8[] = {127, -128, 16, -7, 100, 3}, b8[] = {1, 1, 16, 3, -100, -3};
    a = tt_make(BN_I8, 1, &n, a8);
    b = tt_make(BN_I8, 1, &n, b8);
    const double add8[] = {-128, -127, 32, -4, 0, 0}, sub8[] = {126, 127, 0, -10, -56, 6};
    const double mul8[] = {127, -128, 0, -21, -16, -9}; /* 100*-100 = -10000 = -16 mod 256 */
    const struct {
        bn_op op;
        const double *w;
    } c8[] = {{BN_OP_ADD, add8}, {BN_OP_SUB, sub8}, {BN_OP_MUL, mul8}};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(bn_binary(c8[k].op, a, b, &y), BN_OK);
        cr_assert_eq(y->dtype, BN_I8);
        assert_values(y, 1, &n, c8[k].w);
        bn_tensor_free(y);
    }
    bn_tensor_free(a);
    bn_tensor_free(b);

    /* random i32 with broadcasting, against int64 arithmetic mod 2^32 */
    int64_t s[2] = {7, 9}, s9 = 9;
    bn_tensor *ra = tt_rand(BN_I32, 2, s, 61, -2e9, 2e9),
              *rb = tt_rand(BN_I32, 1, &s9, 62, -2e9, 2e9);
    const bn_op ops[] = {BN_OP_ADD, BN_OP_SUB, BN_OP_MUL};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(bn_binary(ops[k], ra, rb, &y), BN_OK);
        for (int64_t i = 0; i < 63; i++) {
            int64_t x0 = (int64_t)bn_tensor_get_flat(ra, i),
                    x1 = (int64_t)bn_tensor_get_flat(rb, i % 9);
            uint32_t u = ops[k] == BN_OP_ADD   ? (uint32_t)x0 + (uint32_t)x1
                         : ops[k] == BN_OP_SUB ? (uint32_t)x0 - (uint32_t)x1
                                               : (uint32_t)x0 * (uint32_t)x1;
            int64_t want = u <= INT32_MAX ? (int64_t)u : (int64_t)u - 4294967296ll;
            cr_assert_eq(bn_tensor_get_flat(y, i), (double)want, "%s [%lld]", bn_op_name(ops[k]),
                         (long long)i);
        }
        bn_tensor_free(y);
    }
    bn_tensor_free(ra);
    bn_tensor_free(rb);
}

Test(binary, scalar_forms)
{
    const double v[] = {1, -2, 3.5};
    int64_t n = 3;
    bn_tensor *a = tt_make(BN_F32, 1, &n, v), *y;
    cr_assert_eq(bn_binary_scalar(BN_OP_MUL, a, 2, &y), BN_OK);
    const double w[] = {2, -4, 7};
    assert_values(y, 1, &n, w);
    bn_tensor_free(y);
    cr_assert_eq(bn_binary_scalar(BN_OP_POW, a, 2, &y), BN_OK);
    const double wp[] = {1, 4, 12.25};
    assert_values(y, 1, &n, wp);
    bn_tensor_free(y);
    cr_assert_eq(bn_binary_scalar_out(BN_OP_SUB, a, 1, a), BN_OK, "in place");
    const double ws[] = {0, -3, 2.5};
    assert_values(a, 1, &n, ws);
    bn_tensor_free(a);

    /* the scalar is converted to a's dtype first: 0.1 as f16, 2.6 as i32 (3) */
    bn_tensor *h, *i32;
    cr_assert_eq(bn_tensor_zeros(BN_F16, 1, &n, &h), BN_OK);
    cr_assert_eq(bn_binary_scalar(BN_OP_ADD, h, 0.1, &y), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(y, 0), (double)bn_f16_to_f32(bn_f32_to_f16(0.1f)));
    bn_tensor_free(y);
    bn_tensor_free(h);
    const double vi[] = {5, -5, 7};
    i32 = tt_make(BN_I32, 1, &n, vi);
    cr_assert_eq(bn_binary_scalar(BN_OP_ADD, i32, 2.6, &y), BN_OK);
    const double wi[] = {8, -2, 10};
    assert_values(y, 1, &n, wi);
    bn_tensor_free(y);
    tt_assert_err(bn_binary_scalar(BN_OP_DIV, i32, 2, &y), BN_ERR_DTYPE,
                  "div: not defined for integer dtype i32");
    tt_assert_err(bn_binary_scalar(BN_OP_NEG, i32, 2, &y), BN_ERR_ARG,
                  "not an element-wise binary op");
    bn_tensor_free(i32);
}

Test(binary, in_place_and_overlapping_out)
{
    int64_t s33[2] = {3, 3}, s3 = 3;
    bn_tensor *a = tt_rand(BN_F32, 2, s33, 71, -5, 5), *r = tt_rand(BN_F32, 1, &s3, 72, -5, 5);
    double o[9];
    for (int i = 0; i < 9; i++)
        o[i] = bn_tensor_get_flat(a, i);
    /* a += r (broadcast), out is a */
    cr_assert_eq(bn_binary_out(BN_OP_ADD, a, r, a), BN_OK);
    for (int i = 0; i < 9; i++) {
        o[i] = (float)(o[i] + bn_tensor_get_flat(r, i % 3));
        cr_assert_eq(bn_tensor_get_flat(a, i), o[i]);
    }
    /* a = a + a^T: the second input is the transpose of out */
    bn_tensor *at;
    cr_assert_eq(bn_transpose(a, 0, 1, &at), BN_OK);
    cr_assert_eq(bn_binary_out(BN_OP_ADD, a, at, a), BN_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(bn_tensor_get_flat(a, i * 3 + j),
                         (double)(float)(o[i * 3 + j] + o[j * 3 + i]), "[%d][%d]", i, j);
    for (int i = 0; i < 9; i++)
        o[i] = bn_tensor_get_flat(a, i);
    /* a = a - a[0] (row 0 broadcast over the rows being written) */
    bn_tensor *row0;
    cr_assert_eq(bn_narrow(a, 0, 0, 1, &row0), BN_OK);
    cr_assert_eq(bn_binary_out(BN_OP_SUB, a, row0, a), BN_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(bn_tensor_get_flat(a, i * 3 + j), (double)(float)(o[i * 3 + j] - o[j]),
                         "[%d][%d]", i, j);
    /* f16 in place with the second input as out */
    bn_tensor *h = tt_rand(BN_F16, 2, s33, 73, -2, 2), *g = tt_rand(BN_F16, 2, s33, 74, -2, 2);
    for (int i = 0; i < 9; i++)
        o[i] = bn_tensor_get_flat(h, i) * bn_tensor_get_flat(g, i);
    cr_assert_eq(bn_binary_out(BN_OP_MUL, h, g, g), BN_OK);
    for (int i = 0; i < 9; i++)
        cr_assert(tt_close(BN_F16, bn_tensor_get_flat(g, i), o[i], 0.5, 0));
    /* out into a transposed (non-contiguous) view */
    bn_tensor *y, *yt;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 2, s33, &y), BN_OK);
    cr_assert_eq(bn_transpose(y, 0, 1, &yt), BN_OK);
    cr_assert_eq(bn_binary_out(BN_OP_MAXIMUM, a, r, yt), BN_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(bn_tensor_get_flat(y, j * 3 + i),
                         fmax(bn_tensor_get_flat(a, i * 3 + j), bn_tensor_get_flat(r, j)));
    bn_tensor_free(y);
    bn_tensor_free(yt);
    bn_tensor_free(h);
    bn_tensor_free(g);
    bn_tensor_free(row0);
    bn_tensor_free(at);
    bn_tensor_free(a);
    bn_tensor_free(r);
}

Test(binary, accounting)
{
    int64_t s[2] = {4, 6};
    bn_tensor *a = tt_rand(BN_F32, 2, s, 1, 0, 1), *b = tt_rand(BN_F32, 2, s, 2, 0, 1), *y;
    bn_op_stats s0, s1;
    bn_op_stats_get(&s0);
    cr_assert_eq(bn_add(a, b, &y), BN_OK);
    cr_assert_eq(bn_binary_out(BN_OP_MUL, a, b, a), BN_OK);
    bn_tensor_free(y);
    cr_assert_eq(bn_binary_scalar(BN_OP_SUB, a, 1, &y), BN_OK);
    bn_op_stats_get(&s1);
    cr_assert_eq(s1.ops - s0.ops, 3);
    cr_assert_eq(s1.per_op[BN_OP_ADD] - s0.per_op[BN_OP_ADD], 1);
    cr_assert_eq(s1.per_op[BN_OP_MUL] - s0.per_op[BN_OP_MUL], 1);
    cr_assert_eq(s1.per_op[BN_OP_SUB] - s0.per_op[BN_OP_SUB], 1);
    cr_assert_eq(s1.bytes_alloc - s0.bytes_alloc, 2 * 24 * sizeof(float));
    cr_assert_eq(s1.ops_shared - s0.ops_shared, 1, "only the in-place mul shares a buffer");
    cr_assert_eq(s1.bytes_copied - s0.bytes_copied, 0);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(y);
}

Test(binary, bad_input_gives_status_and_message)
{
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s4 = 4, s3 = 3, s8 = 8;
    bn_tensor *a, *b4, *h, *i32, *t2, *o32, *oh, *bc, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s23, &a), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 1, &s4, &b4), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F16, 2, s23, &h), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_I32, 2, s23, &i32), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_T2, 1, &s8, &t2), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s32, &o32), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F16, 2, s23, &oh), BN_OK);
    tt_assert_err(bn_add(a, b4, &y), BN_ERR_SHAPE, "add: cannot broadcast [2,3] with [4]");
    cr_assert_null(y);
    tt_assert_err(bn_binary(BN_OP_POW, b4, a, &y), BN_ERR_SHAPE,
                  "pow: cannot broadcast [4] with [2,3]");
    tt_assert_err(bn_mul(a, h, &y), BN_ERR_DTYPE, "mul: dtypes differ: f32 and f16");
    tt_assert_err(bn_div(i32, i32, &y), BN_ERR_DTYPE, "div: not defined for integer dtype i32");
    tt_assert_err(bn_binary(BN_OP_REM, i32, i32, &y), BN_ERR_DTYPE, "rem");
    tt_assert_err(bn_binary(BN_OP_POW, i32, i32, &y), BN_ERR_DTYPE, "pow");
    tt_assert_err(bn_add(t2, t2, &y), BN_ERR_DTYPE, "add: packed dtype t2");
    tt_assert_err(bn_binary(BN_OP_SUM, a, a, &y), BN_ERR_ARG,
                  "op 36 (sum) is not an element-wise binary op");
    tt_assert_err(bn_binary(BN_OP_COUNT, a, a, &y), BN_ERR_ARG, "unknown");
    tt_assert_err(bn_binary_out(BN_OP_ADD, a, a, o32), BN_ERR_SHAPE,
                  "add: out has shape [3,2] but the result shape is [2,3]");
    tt_assert_err(bn_binary_out(BN_OP_ADD, a, a, oh), BN_ERR_DTYPE,
                  "add: out has dtype f16 but the result is f32");
    cr_assert_eq(bn_expand(b4, 2, (int64_t[]){3, 4}, &bc), BN_OK);
    bn_tensor *r3;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, (int64_t[]){3, 4}, &r3), BN_OK);
    tt_assert_err(bn_binary_out(BN_OP_ADD, r3, r3, bc), BN_ERR_ARG, "out is a broadcast view");
    tt_assert_err(bn_binary_scalar(BN_OP_ADD, t2, 1, &y), BN_ERR_DTYPE, "packed");
    (void)s3;
    bn_tensor_free(r3);
    bn_tensor_free(bc);
    bn_tensor_free(a);
    bn_tensor_free(b4);
    bn_tensor_free(h);
    bn_tensor_free(i32);
    bn_tensor_free(t2);
    bn_tensor_free(o32);
    bn_tensor_free(oh);
}

Test(binary, out_of_memory_is_reported_and_leaks_nothing)
{
    int64_t s33[2] = {3, 3};
    bn_tensor *a = tt_rand(BN_F32, 2, s33, 1, -1, 1), *at, *y = (bn_tensor *)1;
    cr_assert_eq(bn_transpose(a, 0, 1, &at), BN_OK);
    bn_pool *p = bn_pool_default();
    bn_pool_fail_after(p, 0, 0);
    bn_status st = bn_add(a, a, &y);
    bn_pool_fail_after(p, -1, 0);
    tt_assert_err(st, BN_ERR_OOM, "add: ");
    cr_assert_null(y);
    /* in place with an overlapping transposed input needs a temporary */
    bn_pool_fail_after(p, 0, 0);
    st = bn_binary_out(BN_OP_ADD, a, at, a);
    bn_pool_fail_after(p, -1, 0);
    cr_assert_eq(st, BN_ERR_OOM);
    bn_tensor_free(at);
    bn_tensor_free(a);
}
