/*
 * ops_matmul.c - reference matmul: a [..., M, K] x b [..., K, N] with
 * NumPy-broadcast batch dims.
 *
 * The batch dims are walked with bn_iter (broadcast operands get stride 0)
 * and each matrix goes to the table's gemm with the operands' own row and
 * column strides, so transposed views need no copy. f16/bf16 operands are
 * widened once into f32 temporaries and the f32 result is rounded back. An
 * `out` that overlaps an operand is computed into a temporary first.
 *
 * Accuracy of the reference: every dot product is accumulated in double and
 * rounded once, so each f32 result is within 1 ulp of the exact value plus
 * K * 2^-53 * sum|a_ik b_kj| (double accumulation error).
 */
#include "ops_internal.h"

static bn_status matmul_prepare(const bn_tensor *a, const bn_tensor *b, int *nd, int64_t *shape)
{
    BN_ASSERT(a != NULL && b != NULL);
    ops_shape_str s1, s2;
    if (a->dtype != b->dtype)
        return bn_error(BN_ERR_DTYPE, "matmul: dtypes differ: %s and %s (cast one first)",
                        bn_dtype_name(a->dtype), bn_dtype_name(b->dtype));
    bn_status st = ops__check_dtype(BN_OP_MATMUL, a->dtype, false);
    if (st)
        return st;
    if (a->ndim < 2 || b->ndim < 2)
        return bn_error(BN_ERR_SHAPE, "matmul: operands need at least 2 dims, got %s and %s",
                        ops__shape(&s1, a->ndim, a->shape), ops__shape(&s2, b->ndim, b->shape));
    int64_t k1 = a->shape[a->ndim - 1], k2 = b->shape[b->ndim - 2];
    if (k1 != k2)
        return bn_error(BN_ERR_SHAPE, "matmul: inner dims differ: %s has K=%lld, %s has K=%lld",
                        ops__shape(&s1, a->ndim, a->shape), (long long)k1,
                        ops__shape(&s2, b->ndim, b->shape), (long long)k2);
    int nb;
    st = bn_broadcast_shapes("matmul", a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nb, shape);
    if (st)
        return bn_error(st, "matmul: batch dims of %s and %s do not broadcast",
                        ops__shape(&s1, a->ndim, a->shape), ops__shape(&s2, b->ndim, b->shape));
    shape[nb] = a->shape[a->ndim - 2];
    shape[nb + 1] = b->shape[b->ndim - 1];
    *nd = nb + 2;
    return BN_OK;
}

/* f32 operands, f32 y of the result shape, no overlap. */
static void matmul_f32(const bn_tensor *a, const bn_tensor *b, bn_tensor *y)
{
    const bnk_table *k = bnk_active();
    int nb = y->ndim - 2;
    int64_t sa[BN_MAX_DIMS], sb[BN_MAX_DIMS];
    bn_tensor ah = *a, bh = *b; /* batch part only; headers are not retained */
    ah.ndim -= 2;
    bh.ndim -= 2;
    bn_broadcast_strides(&ah, nb, y->shape, sa);
    bn_broadcast_strides(&bh, nb, y->shape, sb);
    const int64_t *strides[3] = {y->strides, sa, sb};
    int64_t offs[3] = {y->offset, a->offset, b->offset};
    bn_iter it;
    bn_iter_init(&it, nb, y->shape, 3, strides, offs);
    int64_t M = y->shape[nb], N = y->shape[nb + 1], K = a->shape[a->ndim - 1];
    int64_t sam = a->strides[a->ndim - 2], sak = a->strides[a->ndim - 1];
    int64_t sbk = b->strides[b->ndim - 2], sbn = b->strides[b->ndim - 1];
    int64_t sym = y->strides[nb], syn = y->strides[nb + 1];
    const float *ab = tensor__base(a), *bb = tensor__base(b);
    float *yb = tensor__base(y);
    if (bn_tensor_numel(y) == 0)
        return;
    while (bn_iter_next(&it)) {
        for (int64_t j = 0; j < it.inner; j++)
            k->gemm_f32(M, N, K, ab + it.pos[1] + j * it.istride[1], sam, sak,
                        bb + it.pos[2] + j * it.istride[2], sbk, sbn,
                        yb + it.pos[0] + j * it.istride[0], sym, syn);
    }
}

/* Computes into out (result shape and dtype), through temporaries when
 * the dtype is not f32 or out overlaps an operand. */
static bn_status matmul_run(const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    bn_tensor *ta = NULL, *tb = NULL, *ty = NULL;
    bn_status st = BN_OK;
    if (a->dtype != BN_F32) {
        st = ops__contig_copy(a, BN_F32, &ta);
        if (st)
            goto cleanup;
        st = ops__contig_copy(b, BN_F32, &tb);
        if (st)
            goto cleanup;
        a = ta;
        b = tb;
    }
    if (out->dtype != BN_F32 || ops__overlaps(out, a) || ops__overlaps(out, b)) {
        st = bn_tensor_empty(BN_F32, out->ndim, out->shape, &ty);
        if (st)
            goto cleanup;
        matmul_f32(a, b, ty);
        ops__copy_raw(ty, out);
    } else {
        matmul_f32(a, b, out);
    }
cleanup:
    bn_tensor_free(ta);
    bn_tensor_free(tb);
    bn_tensor_free(ty);
    return st;
}

bn_status bn_matmul(const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    int nd;
    int64_t shape[BN_MAX_DIMS];
    bn_status st = matmul_prepare(a, b, &nd, shape);
    if (st)
        return st;
    bn_tensor *y;
    st = ops__new_out(BN_OP_MATMUL, a->dtype, nd, shape, &y);
    if (st)
        return st;
    st = matmul_run(a, b, y);
    if (st) {
        bn_tensor_free(y);
        return st;
    }
    ops__record(BN_OP_MATMUL, y, y, a, b);
    *out = y;
    return BN_OK;
}

bn_status bn_matmul_out(const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    BN_ASSERT(out != NULL);
    int nd;
    int64_t shape[BN_MAX_DIMS];
    bn_status st = matmul_prepare(a, b, &nd, shape);
    if (st)
        return st;
    st = ops__check_out(BN_OP_MATMUL, out, a->dtype, nd, shape);
    if (st)
        return st;
    st = matmul_run(a, b, out);
    if (st)
        return st;
    ops__record(BN_OP_MATMUL, NULL, out, a, b);
    return BN_OK;
}
