/*
 * test_matmul.c - the reference matmul: 2-D at odd sizes, batched with
 * broadcast batch dims, transposed operands through views, f16/bf16, the
 * out form (including out aliasing an operand), empty dims, and bad input.
 *
 * Tolerance: every result element against a long double dot product.
 * With the reference kernel set (BN_KERNELS=ref), which accumulates in double
 * and rounds once: |got - exact| <= 1 ulp(exact) + 1e-13 * sum_k |a_ik b_kj|.
 * With a SIMD set, the packed f32 GEMM (ops.h):
 * |got - exact| <= 1 ulp(exact) + 2 (K + 2) * 2^-23 * sum_k |a_ik b_kj|.
 * f16/bf16 results: 1 ulp of the dtype plus the same term. Both bounds are
 * small next to a real error (a dropped or doubled term of the dot product
 * is of the order of sum|a b| / K).
 */
#include <float.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/gemm.h"
#include "ops_test.h"

/* The accumulation term of the tolerance for a length-K dot product. */
static double gemm_tol(int64_t K, double sum_abs)
{
    if (strcmp(bn_kernels_selected(), "ref") == 0)
        return 1e-13 * sum_abs;
    return 2.0 * (double)(K + 2) * FLT_EPSILON * sum_abs;
}

/* element [i,j] of the matrix of batch index bi (row-major over batch dims) */
static double at2(const bn_tensor *t, const int64_t *bidx, int nb, int64_t i, int64_t j)
{
    int64_t idx[BN_MAX_DIMS];
    int lead = nb - (t->ndim - 2);
    for (int d = 0; d < t->ndim - 2; d++)
        idx[d] = t->shape[d] == 1 ? 0 : bidx[d + lead];
    idx[t->ndim - 2] = i;
    idx[t->ndim - 1] = j;
    return bn_tensor_get(t, idx);
}

static void check_matmul(const bn_tensor *a, const bn_tensor *b, const bn_tensor *y)
{
    int nb = y->ndim - 2;
    int64_t M = y->shape[nb], N = y->shape[nb + 1], K = a->shape[a->ndim - 1];
    int64_t nbatch = 1;
    for (int d = 0; d < nb; d++)
        nbatch *= y->shape[d];
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t bidx[BN_MAX_DIMS], rem = bi;
        for (int d = nb - 1; d >= 0; d--) {
            bidx[d] = rem % y->shape[d];
            rem /= y->shape[d];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                long double s = 0, as = 0;
                for (int64_t k = 0; k < K; k++) {
                    long double p = (long double)at2(a, bidx, nb, i, k) * at2(b, bidx, nb, k, j);
                    s += p;
                    as += fabsl(p);
                }
                int64_t yi[BN_MAX_DIMS];
                for (int d = 0; d < nb; d++)
                    yi[d] = bidx[d];
                yi[nb] = i;
                yi[nb + 1] = j;
                double got = bn_tensor_get(y, yi);
                cr_assert(tt_close(y->dtype, got, s, 1, gemm_tol(K, (double)as)),
                          "%s batch %lld [%lld,%lld] = %.9g, want %.12Lg (M%lld N%lld K%lld)",
                          bn_dtype_name(y->dtype), (long long)bi, (long long)i, (long long)j, got,
                          s, (long long)M, (long long)N, (long long)K);
            }
    }
}

static bn_tensor *mm(const bn_tensor *a, const bn_tensor *b)
{
    bn_tensor *y = NULL;
    cr_assert_eq(bn_matmul(a, b, &y), BN_OK, "%s", bn_last_error());
    return y;
}

Test(matmul, two_d_odd_sizes)
{
    const int64_t sizes[][3] = {{1, 1, 1},   {1, 7, 1},   {7, 1, 7},   {7, 17, 1},  {17, 7, 65},
                                {65, 17, 7}, {1, 65, 17}, {65, 1, 65}, {17, 65, 17}};
    for (int c = 0; c < 9; c++) {
        int64_t M = sizes[c][0], K = sizes[c][1], N = sizes[c][2];
        int64_t sa[2] = {M, K}, sb[2] = {K, N};
        bn_tensor *a = tt_rand(BN_F32, 2, sa, 10 + (uint64_t)c, -1, 1);
        bn_tensor *b = tt_rand(BN_F32, 2, sb, 50 + (uint64_t)c, -1, 1);
        bn_tensor *y = mm(a, b);
        cr_assert_eq(y->ndim, 2);
        cr_assert_eq(y->shape[0], M);
        cr_assert_eq(y->shape[1], N);
        check_matmul(a, b, y);
        bn_tensor_free(a);
        bn_tensor_free(b);
        bn_tensor_free(y);
    }
}

Test(matmul, hand_computed)
{
    const double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {7, 8, 9, 10, 11, 12};
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
    bn_tensor *a = tt_make(BN_F32, 2, s23, av), *b = tt_make(BN_F32, 2, s32, bv);
    bn_tensor *y = mm(a, b);
    const double w[] = {58, 64, 139, 154};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), w[i]);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(matmul, transposed_operands_through_views)
{
    int64_t M = 17, K = 7, N = 65;
    int64_t ska[2] = {K, M}, snb[2] = {N, K}, sa[2] = {M, K}, sb[2] = {K, N};
    bn_tensor *a0 = tt_rand(BN_F32, 2, ska, 1, -2, 2), *b0 = tt_rand(BN_F32, 2, snb, 2, -2, 2);
    bn_tensor *a1 = tt_rand(BN_F32, 2, sa, 3, -2, 2), *b1 = tt_rand(BN_F32, 2, sb, 4, -2, 2);
    bn_tensor *at, *bt, *y;
    cr_assert_eq(bn_transpose(a0, 0, 1, &at), BN_OK);
    cr_assert_eq(bn_transpose(b0, -1, -2, &bt), BN_OK);
    cr_assert(!bn_tensor_is_contiguous(at) && !bn_tensor_is_contiguous(bt));
    bn_op_stats s0, s1;
    bn_op_stats_get(&s0);
    y = mm(at, b1); /* A^T B */
    bn_op_stats_get(&s1);
    cr_assert_eq(s1.bytes_copied - s0.bytes_copied, 0, "no copy of a transposed operand");
    check_matmul(at, b1, y);
    bn_tensor_free(y);
    y = mm(a1, bt); /* A B^T */
    check_matmul(a1, bt, y);
    bn_tensor_free(y);
    y = mm(at, bt); /* A^T B^T */
    check_matmul(at, bt, y);
    bn_tensor_free(y);
    bn_tensor_free(a0);
    bn_tensor_free(b0);
    bn_tensor_free(a1);
    bn_tensor_free(b1);
    bn_tensor_free(at);
    bn_tensor_free(bt);
}

Test(matmul, batched_with_broadcast_batch_dims)
{
    int64_t sa[4] = {2, 3, 5, 7}, sb[3] = {3, 7, 4}, sa1[3] = {1, 5, 7}, sb4[3] = {4, 7, 6};
    int64_t sb2[2] = {7, 4}, sa4[4] = {4, 1, 5, 7}, sb31[3] = {3, 7, 2};
    bn_tensor *a = tt_rand(BN_F32, 4, sa, 1, -1, 1), *b = tt_rand(BN_F32, 3, sb, 2, -1, 1);
    bn_tensor *y = mm(a, b); /* [2,3,5,7] x [3,7,4] -> [2,3,5,4] */
    const int64_t w[4] = {2, 3, 5, 4};
    cr_assert_eq(y->ndim, 4);
    for (int d = 0; d < 4; d++)
        cr_assert_eq(y->shape[d], w[d]);
    check_matmul(a, b, y);
    bn_tensor_free(y);

    bn_tensor *b2 = tt_rand(BN_F32, 2, sb2, 3, -1, 1);
    y = mm(a, b2); /* a 2-D b broadcast over every batch */
    check_matmul(a, b2, y);
    bn_tensor_free(y);

    bn_tensor *a1 = tt_rand(BN_F32, 3, sa1, 4, -1, 1), *b4 = tt_rand(BN_F32, 3, sb4, 5, -1, 1);
    y = mm(a1, b4); /* [1,5,7] x [4,7,6] -> [4,5,6] */
    cr_assert_eq(y->shape[0], 4);
    check_matmul(a1, b4, y);
    bn_tensor_free(y);

    bn_tensor *a4 = tt_rand(BN_F32, 4, sa4, 6, -1, 1), *b31 = tt_rand(BN_F32, 3, sb31, 7, -1, 1);
    y = mm(a4, b31); /* [4,1,5,7] x [3,7,2] -> [4,3,5,2] */
    cr_assert_eq(y->shape[0], 4);
    cr_assert_eq(y->shape[1], 3);
    check_matmul(a4, b31, y);
    bn_tensor_free(y);

    /* a batch of transposed matrices: permute a [2,3,7,5] into [2,3,5,7] */
    int64_t sp[4] = {2, 3, 7, 5};
    bn_tensor *ap = tt_rand(BN_F32, 4, sp, 8, -1, 1), *apt;
    cr_assert_eq(bn_transpose(ap, 2, 3, &apt), BN_OK);
    y = mm(apt, b);
    check_matmul(apt, b, y);
    bn_tensor_free(y);
    bn_tensor_free(ap);
    bn_tensor_free(apt);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(b2);
    bn_tensor_free(a1);
    bn_tensor_free(b4);
    bn_tensor_free(a4);
    bn_tensor_free(b31);
}

Test(matmul, f16_and_bf16)
{
    int64_t sa[3] = {2, 7, 17}, sb[2] = {17, 5};
    const bn_dtype dts[] = {BN_F16, BN_BF16};
    for (int d = 0; d < 2; d++) {
        bn_tensor *a = tt_rand(dts[d], 3, sa, 1, -1, 1), *b = tt_rand(dts[d], 2, sb, 2, -1, 1);
        bn_tensor *y = mm(a, b);
        cr_assert_eq(y->dtype, dts[d]);
        check_matmul(a, b, y);
        bn_tensor_free(a);
        bn_tensor_free(b);
        bn_tensor_free(y);
    }
}

Test(matmul, out_form_aliasing_and_empty_dims)
{
    int64_t s[2] = {7, 7};
    bn_tensor *a = tt_rand(BN_F32, 2, s, 1, -1, 1), *b = tt_rand(BN_F32, 2, s, 2, -1, 1);
    bn_tensor *y = mm(a, b), *o;
    cr_assert_eq(bn_tensor_zeros(BN_F32, 2, s, &o), BN_OK);
    cr_assert_eq(bn_matmul_out(a, b, o), BN_OK);
    for (int i = 0; i < 49; i++)
        cr_assert_eq(bn_tensor_get_flat(o, i), bn_tensor_get_flat(y, i));
    /* a = a @ b: out is an operand, computed as if separate */
    cr_assert_eq(bn_matmul_out(a, b, a), BN_OK);
    for (int i = 0; i < 49; i++)
        cr_assert_eq(bn_tensor_get_flat(a, i), bn_tensor_get_flat(y, i));
    bn_tensor_free(y);
    bn_tensor_free(o);

    /* K = 0 gives zeros; M = 0 gives an empty result */
    int64_t s30[2] = {3, 0}, s04[2] = {0, 4}, s05[2] = {0, 5}, s52[2] = {5, 2};
    bn_tensor *e1, *e2, *e3;
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, s30, &e1), BN_OK);
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, s04, &e2), BN_OK);
    y = mm(e1, e2);
    cr_assert_eq(y->shape[0], 3);
    cr_assert_eq(y->shape[1], 4);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(bn_tensor_get_flat(y, i), 0.0);
    bn_tensor_free(y);
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, s05, &e3), BN_OK);
    bn_tensor *b52 = tt_rand(BN_F32, 2, s52, 3, -1, 1);
    y = mm(e3, b52);
    cr_assert_eq(bn_tensor_numel(y), 0);
    bn_tensor_free(y);
    bn_tensor_free(e1);
    bn_tensor_free(e2);
    bn_tensor_free(e3);
    bn_tensor_free(b52);
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(matmul, bad_input)
{
    int64_t s23[2] = {2, 3}, s45[2] = {4, 5}, s3 = 3, s234[3] = {2, 3, 4}, s345[3] = {3, 4, 5};
    int64_t s22[2] = {2, 2}, s8 = 8;
    bn_tensor *a, *b, *v, *a3, *b3, *h, *i8, *o, *t2, *y = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s23, &a), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s45, &b), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 1, &s3, &v), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 3, s234, &a3), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 3, s345, &b3), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F16, 2, s23, &h), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_I8, 2, s23, &i8), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s22, &o), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_T2, 2, (int64_t[]){2, 4}, &t2), BN_OK);
    (void)s8;
    tt_assert_err(bn_matmul(a, b, &y), BN_ERR_SHAPE,
                  "matmul: inner dims differ: [2,3] has K=3, [4,5] has K=4");
    cr_assert_null(y);
    tt_assert_err(bn_matmul(a, v, &y), BN_ERR_SHAPE,
                  "matmul: operands need at least 2 dims, got [2,3] and [3]");
    tt_assert_err(bn_matmul(a3, b3, &y), BN_ERR_SHAPE,
                  "matmul: batch dims of [2,3,4] and [3,4,5] do not broadcast");
    tt_assert_err(bn_matmul(h, a, &y), BN_ERR_DTYPE, "matmul: dtypes differ: f16 and f32");
    tt_assert_err(bn_matmul(i8, i8, &y), BN_ERR_DTYPE, "matmul: not defined for integer dtype i8");
    tt_assert_err(bn_matmul(t2, t2, &y), BN_ERR_DTYPE, "matmul: packed dtype t2");
    bn_tensor *sq;
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, (int64_t[]){3, 3}, &sq), BN_OK);
    tt_assert_err(bn_matmul_out(a, sq, o), BN_ERR_SHAPE,
                  "matmul: out has shape [2,2] but the result shape is [2,3]");
    bn_tensor_free(sq);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(v);
    bn_tensor_free(a3);
    bn_tensor_free(b3);
    bn_tensor_free(h);
    bn_tensor_free(i8);
    bn_tensor_free(o);
    bn_tensor_free(t2);
}

Test(matmul, out_of_memory_at_every_allocation_is_reported_and_leaks_nothing)
{
    /* f16 operands take the most allocations: result, two widened operands
     * and an f32 result temporary; fail each in turn */
    int64_t sa[2] = {5, 6}, sb[2] = {6, 3};
    bn_tensor *a = tt_rand(BN_F16, 2, sa, 1, -1, 1), *b = tt_rand(BN_F16, 2, sb, 2, -1, 1), *y;
    bn_pool *p = bn_pool_default();
    int oom = 0;
    for (int64_t k = 0; k < 8; k++) {
        bn_pool_fail_after(p, k, 0);
        bn_status st = bn_matmul(a, b, &y);
        bn_pool_fail_after(p, -1, 0);
        if (st == BN_OK) {
            check_matmul(a, b, y);
            bn_tensor_free(y);
            break;
        }
        cr_assert_eq(st, BN_ERR_OOM, "%s", bn_last_error());
        cr_assert_null(y);
        oom++;
    }
    cr_assert_eq(oom, 4, "four allocations, each failure reported");
    bn_tensor_free(a);
    bn_tensor_free(b);
}

/* C = A B of raw row-major f32 data checked element by element against a
 * double dot product with the GEMM tolerance (fast enough for large sizes,
 * where bn_tensor_get per element would not be). a and b may be any views:
 * their element (i, k) is read through their strides. */
static void check_large(const bn_tensor *a, const bn_tensor *b, const bn_tensor *y)
{
    int64_t M = y->shape[0], N = y->shape[1], K = a->shape[1];
    const float *pa = (const float *)bn_tensor_data(a), *pb = (const float *)bn_tensor_data(b);
    const float *py = (const float *)bn_tensor_data(y);
    cr_assert(bn_tensor_is_contiguous(y));
    int bad = 0;
    for (int64_t i = 0; i < M && bad < 5; i++)
        for (int64_t j = 0; j < N && bad < 5; j++) {
            double s = 0, as = 0;
            for (int64_t k = 0; k < K; k++) {
                double p = (double)pa[i * a->strides[0] + k * a->strides[1]] *
                           pb[k * b->strides[0] + j * b->strides[1]];
                s += p;
                as += fabs(p);
            }
            double got = py[i * N + j];
            if (!tt_close(BN_F32, got, s, 1, gemm_tol(K, as))) {
                bad++;
                cr_log_error("[%lld,%lld] = %.9g, want %.12g (M%lld N%lld K%lld)", (long long)i,
                             (long long)j, got, s, (long long)M, (long long)N, (long long)K);
            }
        }
    cr_assert_eq(bad, 0);
}

Test(matmul, large_products_split_over_threads_with_transposed_operands)
{
    /* big enough for the threaded path (>= 4 Mflop), odd sizes for edge
     * tiles, both orientations of the split (N >= M and M > N) */
    const int64_t sizes[][3] = {{97, 331, 203}, {301, 129, 67}, {1, 1500, 1600}};
    for (int c = 0; c < 3; c++) {
        int64_t M = sizes[c][0], K = sizes[c][1], N = sizes[c][2];
        int64_t sa[2] = {M, K}, sbt[2] = {N, K};
        bn_tensor *a = tt_rand(BN_F32, 2, sa, 70 + (uint64_t)c, -1, 1);
        bn_tensor *b0 = tt_rand(BN_F32, 2, sbt, 80 + (uint64_t)c, -1, 1), *b;
        cr_assert_eq(bn_transpose(b0, 0, 1, &b), BN_OK); /* B = B0^T, read in place */
        bn_tensor *y = mm(a, b);
        check_large(a, b, y);
        bn_tensor_free(y);
        bn_tensor_free(a);
        bn_tensor_free(b);
        bn_tensor_free(b0);
    }
}

Test(matmul, packing_buffer_out_of_memory_is_reported)
{
    if (strcmp(bn_kernels_selected(), "ref") == 0) {
        cr_skip_test("the reference kernel set uses no packing buffer");
    }
    int64_t s[2] = {40, 40};
    bn_tensor *a = tt_rand(BN_F32, 2, s, 1, -1, 1), *b = tt_rand(BN_F32, 2, s, 2, -1, 1), *y;
    bnk_sgemm_release_thread_workspace();
    bnk_sgemm__fail_allocs(1);
    bn_status st = bn_matmul(a, b, &y);
    bnk_sgemm__fail_allocs(0);
    tt_assert_err(st, BN_ERR_OOM, "matmul: out of memory for the GEMM packing buffers");
    cr_assert_null(y);
    y = mm(a, b); /* and the next call works */
    check_matmul(a, b, y);
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(b);
}

Test(matmul, batch_of_small_products_spread_over_threads)
{
    /* 300 products of 24x33x20: each below the split threshold, together
     * far above it, so the batch itself is cut into pieces; b is broadcast
     * (a 2-D operand) and a's matrices are transposed views */
    int64_t sat[3] = {300, 33, 24}, sb[2] = {33, 20};
    bn_tensor *a0 = tt_rand(BN_F32, 3, sat, 91, -1, 1), *b = tt_rand(BN_F32, 2, sb, 92, -1, 1), *a;
    cr_assert_eq(bn_transpose(a0, 1, 2, &a), BN_OK);
    bn_tensor *y = mm(a, b);
    cr_assert_eq(y->shape[0], 300);
    const float *pa = bn_tensor_data(a0), *pb = bn_tensor_data(b), *py = bn_tensor_data(y);
    for (int64_t m = 0; m < 300; m++)
        for (int64_t i = 0; i < 24; i++)
            for (int64_t j = 0; j < 20; j++) {
                double s = 0, as = 0;
                for (int64_t k = 0; k < 33; k++) {
                    double p = (double)pa[m * 33 * 24 + k * 24 + i] * pb[k * 20 + j];
                    s += p;
                    as += fabs(p);
                }
                double got = py[(m * 24 + i) * 20 + j];
                cr_assert(tt_close(BN_F32, got, s, 1, gemm_tol(33, as)),
                          "batch %lld [%lld,%lld] = %.9g, want %.12g", (long long)m, (long long)i,
                          (long long)j, got, s);
            }
    bn_tensor_free(y);
    bn_tensor_free(a);
    bn_tensor_free(a0);
    bn_tensor_free(b);
}
