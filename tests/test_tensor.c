/*
 * test_tensor.c - tensor creation, buffers and reference counts, element
 * access, wrapping user memory, the strided iterator, status codes, and the
 * error paths of each (shapes, dtypes, overflow, NULL misuse via BN_ASSERT).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "bitnet/bitnet.h"

Test(status, names_and_messages_come_from_one_list)
{
    cr_assert_str_eq(bn_status_name(BN_OK), "BN_OK");
    cr_assert_str_eq(bn_status_name(BN_ERR_SHAPE), "BN_ERR_SHAPE");
    cr_assert_str_eq(bn_status_str(BN_ERR_OOM), "out of memory");
    cr_assert_str_eq(bn_status_name((bn_status)-999), "BN_UNKNOWN_STATUS");
    cr_assert_eq(bn_error(BN_ERR_ARG, "x=%d", 42), BN_ERR_ARG);
    cr_assert_str_eq(bn_last_error(), "x=42");
    bn_clear_error();
    cr_assert_str_eq(bn_last_error(), "");
}

Test(tensor, zeros_ones_full_have_the_values_and_strides)
{
    int64_t shape[3] = {2, 3, 4};
    bn_tensor *z, *o, *f;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 3, shape, &z), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_BF16, 3, shape, &o), BN_OK);
    cr_assert_eq(bn_tensor_full(BN_I32, 3, shape, -7.0, &f), BN_OK);
    cr_assert_eq(bn_tensor_numel(z), 24);
    cr_assert_eq(z->strides[0], 12);
    cr_assert_eq(z->strides[1], 4);
    cr_assert_eq(z->strides[2], 1);
    cr_assert(bn_tensor_is_contiguous(z));
    for (int64_t i = 0; i < 24; i++) {
        cr_assert_eq(bn_tensor_get_flat(z, i), 0.0);
        cr_assert_eq(bn_tensor_get_flat(o, i), 1.0);
        cr_assert_eq(bn_tensor_get_flat(f, i), -7.0);
    }
    cr_assert_eq((uintptr_t)bn_tensor_data(z) % 64, 0, "buffers are 64-byte aligned");
    bn_tensor_free(z);
    bn_tensor_free(o);
    bn_tensor_free(f);
}

Test(tensor, scalar_and_zero_size)
{
    bn_tensor *s, *e;
    cr_assert_eq(bn_tensor_full(BN_F32, 0, NULL, 3.5, &s), BN_OK);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(bn_tensor_numel(s), 1);
    cr_assert_eq(bn_tensor_get(s, NULL), 3.5);
    int64_t shape[2] = {0, 5};
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, shape, &e), BN_OK);
    cr_assert_eq(bn_tensor_numel(e), 0);
    bn_iter it;
    const int64_t *st[1] = {e->strides};
    bn_iter_init(&it, e->ndim, e->shape, 1, st, NULL);
    cr_assert_not(bn_iter_next(&it), "a zero-size tensor has no rows");
    bn_tensor_free(s);
    bn_tensor_free(e);
}

Test(tensor, int_and_ternary_stores_round_and_clamp)
{
    int64_t n = 5;
    bn_tensor *i8, *t2;
    cr_assert_eq(bn_tensor_zeros(BN_I8, 1, &n, &i8), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_T2, 1, &n, &t2), BN_OK);
    const double in[5] = {300.0, -300.0, 2.5, -0.4, NAN};
    const double want_i8[5] = {127, -128, 2, 0, 0}; /* nearest-even for 2.5 */
    const double want_t2[5] = {1, -1, 1, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        bn_tensor_set_flat(i8, i, in[i]);
        bn_tensor_set_flat(t2, i, in[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq(bn_tensor_get_flat(i8, i), want_i8[i], "i8[%lld]", (long long)i);
        cr_assert_eq(bn_tensor_get_flat(t2, i), want_t2[i], "t2[%lld]", (long long)i);
    }
    cr_assert_eq(bn_tensor_buffer_bytes(t2), 2, "5 t2 values take 2 bytes");
    bn_tensor_free(i8);
    bn_tensor_free(t2);
}

Test(tensor, arange_counts_and_values)
{
    bn_tensor *a;
    cr_assert_eq(bn_tensor_arange(BN_F32, 0, 1, 0.25, &a), BN_OK);
    cr_assert_eq(bn_tensor_numel(a), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(bn_tensor_get_flat(a, i), 0.25 * i);
    bn_tensor_free(a);
    cr_assert_eq(bn_tensor_arange(BN_I32, 10, 0, -3, &a), BN_OK);
    cr_assert_eq(bn_tensor_numel(a), 4); /* 10 7 4 1 */
    cr_assert_eq(bn_tensor_get_flat(a, 3), 1.0);
    bn_tensor_free(a);
    cr_assert_eq(bn_tensor_arange(BN_F32, 0, 1, 0, &a), BN_ERR_ARG);
    cr_assert_null(a);
    cr_assert(strstr(bn_last_error(), "step") != NULL);
}

Test(tensor, rand_is_reproducible_and_distributed)
{
    int64_t shape[2] = {64, 64};
    bn_tensor *a, *b, *c, *t;
    cr_assert_eq(bn_tensor_rand(BN_F32, 2, shape, 42, BN_RAND_UNIFORM, -1, 1, &a), BN_OK);
    cr_assert_eq(bn_tensor_rand(BN_F32, 2, shape, 42, BN_RAND_UNIFORM, -1, 1, &b), BN_OK);
    cr_assert_eq(bn_tensor_rand(BN_F32, 2, shape, 43, BN_RAND_UNIFORM, -1, 1, &c), BN_OK);
    cr_assert_eq(memcmp(bn_tensor_data(a), bn_tensor_data(b), 64 * 64 * 4), 0);
    cr_assert_neq(memcmp(bn_tensor_data(a), bn_tensor_data(c), 64 * 64 * 4), 0);
    double sum = 0;
    for (int64_t i = 0; i < 4096; i++) {
        double v = bn_tensor_get_flat(a, i);
        cr_assert(v >= -1 && v < 1);
        sum += v;
    }
    cr_assert(fabs(sum / 4096) < 0.05, "uniform mean %g", sum / 4096);
    /* a fixed value pins the generator across machines and versions */
    cr_assert_float_eq(bn_tensor_get_flat(a, 0), bn_tensor_get_flat(b, 0), 0);
    cr_assert_eq(bn_tensor_rand(BN_I8, 2, shape, 7, BN_RAND_TERNARY, 0.5, 0, &t), BN_OK);
    int zeros = 0;
    for (int64_t i = 0; i < 4096; i++) {
        double v = bn_tensor_get_flat(t, i);
        cr_assert(v == -1 || v == 0 || v == 1);
        zeros += v == 0;
    }
    cr_assert(zeros > 1800 && zeros < 2300, "P(0)=0.5 gave %d zeros of 4096", zeros);
    bn_tensor *n;
    cr_assert_eq(bn_tensor_rand(BN_F32, 2, shape, 1, BN_RAND_NORMAL, 2.0, 0.5, &n), BN_OK);
    double m = 0, v2 = 0;
    for (int64_t i = 0; i < 4096; i++)
        m += bn_tensor_get_flat(n, i);
    m /= 4096;
    for (int64_t i = 0; i < 4096; i++)
        v2 += pow(bn_tensor_get_flat(n, i) - m, 2);
    cr_assert(fabs(m - 2.0) < 0.05 && fabs(sqrt(v2 / 4095) - 0.5) < 0.05, "normal %g %g", m,
              sqrt(v2 / 4095));
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(c);
    bn_tensor_free(t);
    bn_tensor_free(n);
}

Test(tensor, from_data_copies)
{
    float src[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    bn_tensor *t;
    cr_assert_eq(bn_tensor_from_data(BN_F32, 2, shape, src, &t), BN_OK);
    src[0] = 100;
    cr_assert_eq(bn_tensor_get_flat(t, 0), 1.0, "from_data copies");
    int64_t idx[2] = {1, 2};
    cr_assert_eq(bn_tensor_get(t, idx), 6.0);
    bn_tensor_free(t);
}

static int released;
static void count_release(void *data, void *ctx)
{
    (void)data;
    *(int *)ctx += 1;
}

Test(tensor, wrap_shares_user_memory_and_releases_once)
{
    float user[12];
    for (int i = 0; i < 12; i++)
        user[i] = (float)i;
    int64_t shape[2] = {3, 2};
    int64_t strides[2] = {4, 2}; /* every other element of the first 3 rows of 4 */
    bn_tensor *t;
    released = 0;
    cr_assert_eq(
        bn_tensor_wrap(BN_F32, 2, shape, strides, user, sizeof user, count_release, &released, &t),
        BN_OK);
    cr_assert_eq(bn_tensor_data(t), (void *)user, "no copy");
    cr_assert_not(bn_tensor_is_contiguous(t));
    float out[6];
    cr_assert_eq(bn_tensor_to_f32(t, out, 6), BN_OK);
    const float want[6] = {0, 2, 4, 6, 8, 10};
    cr_assert_arr_eq(out, want, sizeof want);
    int64_t idx[2] = {2, 1};
    bn_tensor_set(t, idx, -1);
    cr_assert_eq(user[10], -1.0f, "writes go to user memory");
    bn_tensor_free(t);
    cr_assert_eq(released, 1);

    /* a geometry that reaches past nbytes is refused */
    cr_assert_eq(bn_tensor_wrap(BN_F32, 2, shape, strides, user, 40, NULL, NULL, &t), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "44 bytes") != NULL, "%s", bn_last_error());
}

Test(tensor, bad_shapes_dtypes_and_overflow_are_errors)
{
    bn_tensor *t = (bn_tensor *)1;
    int64_t neg[2] = {2, -3};
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, neg, &t), BN_ERR_ARG);
    cr_assert_null(t);
    cr_assert(strstr(bn_last_error(), "-3") != NULL, "%s", bn_last_error());
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert_eq(bn_tensor_empty(BN_F32, 9, nine, &t), BN_ERR_ARG);
    cr_assert_eq(bn_tensor_empty((bn_dtype)99, 1, nine, &t), BN_ERR_DTYPE);
    int64_t huge[2] = {INT64_MAX / 2, 3};
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, huge, &t), BN_ERR_OVERFLOW);
    int64_t big[1] = {INT64_MAX}; /* fits int64 elements, not size_t bytes */
    cr_assert_eq(bn_tensor_empty(BN_F32, 1, big, &t), BN_ERR_OVERFLOW);
    int64_t large[2] = {1 << 30, 1 << 30}; /* 4 EiB: the pool must refuse, not crash */
    bn_status st = bn_tensor_empty(BN_F32, 2, large, &t);
    cr_assert(st == BN_ERR_OOM || st == BN_ERR_OVERFLOW, "got %s", bn_status_name(st));
    cr_assert_null(t);
    cr_assert_eq(bn_tensor_rand(BN_F32, 1, big, 1, BN_RAND_UNIFORM, 1, 0, &t), BN_ERR_ARG);
}

Test(tensor, null_out_is_a_programmer_error, .signal = SIGABRT)
{
    int64_t n = 1;
    bn_tensor_empty(BN_F32, 1, &n, NULL);
}

Test(tensor, out_of_range_index_is_a_programmer_error, .signal = SIGABRT)
{
    int64_t n = 3, i = 3;
    bn_tensor *t;
    bn_tensor_zeros(BN_F32, 1, &n, &t);
    bn_tensor_get(t, &i);
}

Test(iter, walks_broadcast_and_transposed_operands_in_row_major_order)
{
    /* shape [2,3]: operand 0 contiguous, operand 1 broadcast row [3] (stride 0
     * on dim 0), operand 2 transposed [3,2] storage (strides 1, 2) */
    int64_t shape[2] = {2, 3};
    int64_t s0[2] = {3, 1}, s1[2] = {0, 1}, s2[2] = {1, 2};
    const int64_t *st[3] = {s0, s1, s2};
    int64_t off[3] = {0, 10, 20};
    bn_iter it;
    bn_iter_init(&it, 2, shape, 3, st, off);
    int64_t got[3][6], k = 0;
    while (bn_iter_next(&it))
        for (int64_t j = 0; j < it.inner; j++, k++)
            for (int o = 0; o < 3; o++)
                got[o][k] = it.pos[o] + j * it.istride[o];
    cr_assert_eq(k, 6);
    const int64_t w0[6] = {0, 1, 2, 3, 4, 5}, w1[6] = {10, 11, 12, 10, 11, 12},
                  w2[6] = {20, 22, 24, 21, 23, 25};
    cr_assert_arr_eq(got[0], w0, sizeof w0);
    cr_assert_arr_eq(got[1], w1, sizeof w1);
    cr_assert_arr_eq(got[2], w2, sizeof w2);
}

Test(iter, merges_contiguous_dims_into_one_row)
{
    int64_t shape[4] = {2, 1, 3, 4};
    int64_t s[4] = {12, 99, 4, 1};
    const int64_t *st[1] = {s};
    bn_iter it;
    bn_iter_init(&it, 4, shape, 1, st, NULL);
    cr_assert_eq(it.inner, 24, "a contiguous tensor is a single row");
    cr_assert(bn_iter_next(&it));
    cr_assert_not(bn_iter_next(&it));
}
