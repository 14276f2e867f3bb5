/*
 * test_ops_copy.c - bn_cast and bn_copy: every dtype pair round-trips the
 * values it can hold, float to integer/ternary rounds half to even and
 * clamps (NaN to 0), strided sources and destinations, a destination that
 * overlaps the source through another view, accounting, and bad input.
 */
#include "ops_test.h"

Test(cast, float_to_int_and_ternary_round_and_clamp)
{
    const double v[] = {-300, -128.5, -2.5, -1.5, -0.5, 0.4, 0.5, 1.5, 2.6, 127.5, 1e10, NAN};
    int64_t n = 12;
    bn_tensor *x = tt_make(BN_F32, 1, &n, v), *y;
    const double w8[] = {-128, -128, -2, -2, -0.0, 0, 0, 2, 3, 127, 127, 0};
    cr_assert_eq(bn_cast(x, BN_I8, &y), BN_OK);
    cr_assert_eq(y->dtype, BN_I8);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), w8[i], "i8[%d] = %g", i, bn_tensor_get_flat(y, i));
    bn_tensor_free(y);
    const double w32[] = {-300, -128, -2, -2, 0, 0, 0, 2, 3, 128, 2147483647.0, 0};
    cr_assert_eq(bn_cast(x, BN_I32, &y), BN_OK);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), w32[i], "i32[%d] = %g", i, bn_tensor_get_flat(y, i));
    bn_tensor_free(y);
    const double wt[] = {-1, -1, -1, -1, 0, 0, 0, 1, 1, 1, 1, 0};
    const bn_dtype tern[] = {BN_T2, BN_T1_6};
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(bn_cast(x, tern[t], &y), BN_OK, "%s", bn_last_error());
        cr_assert_eq(y->dtype, tern[t]);
        for (int i = 0; i < 12; i++)
            cr_assert_eq(bn_tensor_get_flat(y, i), wt[i], "%s[%d]", bn_dtype_name(tern[t]), i);
        /* and back to f32 and i8 */
        bn_tensor *z;
        cr_assert_eq(bn_cast(y, BN_F32, &z), BN_OK);
        for (int i = 0; i < 12; i++)
            cr_assert_eq(bn_tensor_get_flat(z, i), wt[i]);
        bn_tensor_free(z);
        cr_assert_eq(bn_cast(y, BN_I8, &z), BN_OK);
        for (int i = 0; i < 12; i++)
            cr_assert_eq(bn_tensor_get_flat(z, i), wt[i]);
        bn_tensor_free(z);
        bn_tensor_free(y);
    }
    bn_tensor_free(x);
}

Test(cast, floats_round_to_nearest_even_and_ints_are_exact)
{
    int64_t n = 257;
    bn_tensor *x = tt_rand(BN_F32, 1, &n, 9, -70000, 70000), *y, *z;
    cr_assert_eq(bn_cast(x, BN_F16, &y), BN_OK);
    cr_assert_eq(bn_cast(x, BN_BF16, &z), BN_OK);
    for (int64_t i = 0; i < n; i++) {
        float f = (float)bn_tensor_get_flat(x, i);
        cr_assert_eq(bn_tensor_get_flat(y, i), (double)bn_f16_to_f32(bn_f32_to_f16(f)));
        cr_assert_eq(bn_tensor_get_flat(z, i), (double)bn_bf16_to_f32(bn_f32_to_bf16(f)));
    }
    bn_tensor *back;
    cr_assert_eq(bn_cast(y, BN_F32, &back), BN_OK, "f16 widens exactly");
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(bn_tensor_get_flat(back, i), bn_tensor_get_flat(y, i));
    bn_tensor_free(back);
    cr_assert_eq(bn_cast(y, BN_BF16, &back), BN_OK, "f16 -> bf16 through f32");
    for (int64_t i = 0; i < n; i++) {
        float f = (float)bn_tensor_get_flat(y, i);
        cr_assert_eq(bn_tensor_get_flat(back, i), (double)bn_bf16_to_f32(bn_f32_to_bf16(f)));
    }
    bn_tensor_free(back);
    bn_tensor_free(x);
    bn_tensor_free(y);
    bn_tensor_free(z);

    const double iv[] = {-2147483648.0, 2147483647.0, -7, 16777217, 0};
    int64_t m = 5;
    bn_tensor *xi = tt_make(BN_I32, 1, &m, iv), *c8, *cf, *ci;
    cr_assert_eq(bn_cast(xi, BN_I8, &c8), BN_OK);
    const double w8[] = {-128, 127, -7, 127, 0};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(bn_tensor_get_flat(c8, i), w8[i]);
    cr_assert_eq(bn_cast(xi, BN_F32, &cf), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(cf, 3), 16777216.0, "nearest f32");
    cr_assert_eq(bn_cast(xi, BN_I32, &ci), BN_OK);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(bn_tensor_get_flat(ci, i), iv[i], "i32 copies exactly");
    bn_tensor_free(xi);
    bn_tensor_free(c8);
    bn_tensor_free(cf);
    bn_tensor_free(ci);
}

Test(copy, strided_source_and_destination)
{
    int64_t s[2] = {4, 6};
    bn_tensor *a = tt_rand(BN_F32, 2, s, 3, -4, 4), *at, *y, *dst, *dt;
    cr_assert_eq(bn_transpose(a, 0, 1, &at), BN_OK);
    cr_assert_eq(bn_cast(at, BN_F32, &y), BN_OK);
    cr_assert(bn_tensor_is_contiguous(y));
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 4; j++) {
            int64_t ij[2] = {i, j}, ji[2] = {j, i};
            cr_assert_eq(bn_tensor_get(y, ij), bn_tensor_get(a, ji));
        }
    /* copy a [4,6] f32 into the transpose of a [6,4] bf16 tensor */
    int64_t s64[2] = {6, 4};
    cr_assert_eq(bn_tensor_zeros(BN_BF16, 2, s64, &dst), BN_OK);
    cr_assert_eq(bn_transpose(dst, 0, 1, &dt), BN_OK);
    cr_assert_eq(bn_copy(a, dt), BN_OK, "%s", bn_last_error());
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 6; j++) {
            int64_t ij[2] = {i, j}, ji[2] = {j, i};
            float f = (float)bn_tensor_get(a, ij);
            cr_assert_eq(bn_tensor_get(dst, ji), (double)bn_bf16_to_f32(bn_f32_to_bf16(f)));
        }
    bn_tensor_free(a);
    bn_tensor_free(at);
    bn_tensor_free(y);
    bn_tensor_free(dst);
    bn_tensor_free(dt);
}

Test(copy, overlapping_destination_and_broadcast_source)
{
    float mem[9];
    for (int i = 0; i < 9; i++)
        mem[i] = (float)i;
    int64_t s[2] = {3, 3}, tstr[2] = {1, 3};
    bn_tensor *x = tt_wrap_f32(mem, 9, 2, s, NULL), *xt = tt_wrap_f32(mem, 9, 2, s, tstr);
    cr_assert_eq(bn_copy(x, xt), BN_OK); /* transposes the memory in place */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(mem[j * 3 + i], (float)(i * 3 + j));
    bn_tensor_free(x);
    bn_tensor_free(xt);

    int64_t n3 = 3, s23[2] = {2, 3};
    const double rv[] = {1, 2, 3};
    bn_tensor *r = tt_make(BN_F32, 1, &n3, rv), *re, *d;
    cr_assert_eq(bn_expand(r, 2, s23, &re), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_I32, 2, s23, &d), BN_OK);
    cr_assert_eq(bn_copy(re, d), BN_OK);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(bn_tensor_get_flat(d, i), rv[i % 3]);
    bn_tensor_free(r);
    bn_tensor_free(re);
    bn_tensor_free(d);
}

Test(copy, accounting_counts_bytes_copied)
{
    int64_t s[2] = {5, 8};
    bn_tensor *a = tt_rand(BN_F32, 2, s, 1, 0, 1), *y, *d;
    cr_assert_eq(bn_tensor_zeros(BN_F16, 2, s, &d), BN_OK);
    bn_op_stats s0, s1;
    bn_op_stats_get(&s0);
    cr_assert_eq(bn_cast(a, BN_F16, &y), BN_OK);
    cr_assert_eq(bn_copy(a, d), BN_OK);
    bn_op_stats_get(&s1);
    cr_assert_eq(s1.per_op[BN_OP_CAST] - s0.per_op[BN_OP_CAST], 1);
    cr_assert_eq(s1.per_op[BN_OP_COPY] - s0.per_op[BN_OP_COPY], 1);
    cr_assert_eq(s1.bytes_alloc - s0.bytes_alloc, 40 * 2);
    cr_assert_eq(s1.bytes_copied - s0.bytes_copied, 2 * 40 * 2);
    bn_tensor_free(a);
    bn_tensor_free(y);
    bn_tensor_free(d);
}

Test(copy, bad_input)
{
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s3 = 3;
    bn_tensor *a, *b, *r, *re, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s23, &a), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s32, &b), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 1, &s3, &r), BN_OK);
    cr_assert_eq(bn_expand(r, 2, s23, &re), BN_OK);
    tt_assert_err(bn_copy(a, b), BN_ERR_SHAPE, "copy: src has shape [2,3] but dst has shape [3,2]");
    tt_assert_err(bn_copy(a, re), BN_ERR_ARG, "copy: dst is a broadcast view");
    tt_assert_err(bn_cast(a, (bn_dtype)99, &y), BN_ERR_DTYPE, "cast: unknown target dtype 99");
    cr_assert_null(y);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(r);
    bn_tensor_free(re);
}
