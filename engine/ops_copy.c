/*
 * ops_copy.c - bn_cast and bn_copy: dtype conversion between any two dtypes,
 * packed ternary included.
 *
 * Conversions: float to float rounds to nearest even (f16/bf16 through f32);
 * to an integer or ternary type rounds to nearest (ties to even) and clamps
 * to the type's range, NaN becoming 0; integers convert exactly where the
 * target can hold them. Both count the bytes they write as bytes copied.
 */
#include "ops_internal.h"

bn_status bn_cast(const bn_tensor *a, bn_dtype dt, bn_tensor **out)
{
    BN_ASSERT(a != NULL && out != NULL);
    *out = NULL;
    if (!bn_dtype_valid((int)dt))
        return bn_error(BN_ERR_DTYPE, "cast: unknown target dtype %d", (int)dt);
    bn_tensor *y;
    bn_status st = ops__new_out(BN_OP_CAST, dt, a->ndim, a->shape, &y);
    if (st)
        return st;
    ops__copy_raw(a, y);
    size_t bytes = bn_tensor_buffer_bytes(y);
    bn_op_record(BN_OP_CAST, false, bytes, bytes);
    *out = y;
    return BN_OK;
}

bn_status bn_copy(const bn_tensor *src, bn_tensor *dst)
{
    BN_ASSERT(src != NULL && dst != NULL);
    bool same = src->ndim == dst->ndim;
    for (int d = 0; same && d < src->ndim; d++)
        same = src->shape[d] == dst->shape[d];
    if (!same) {
        ops_shape_str s1, s2;
        return bn_error(BN_ERR_SHAPE, "copy: src has shape %s but dst has shape %s",
                        ops__shape(&s1, src->ndim, src->shape),
                        ops__shape(&s2, dst->ndim, dst->shape));
    }
    for (int d = 0; d < dst->ndim; d++) {
        if (dst->shape[d] > 1 && dst->strides[d] == 0)
            return bn_error(BN_ERR_ARG, "copy: dst is a broadcast view (stride 0 on dim %d)", d);
    }
    bn_tensor *tmp = NULL;
    if (ops__overlaps(src, dst) && src != dst) {
        bn_status st = ops__contig_copy(src, src->dtype, &tmp);
        if (st)
            return st;
        src = tmp;
    }
    ops__copy_raw(src, dst);
    bn_tensor_free(tmp);
    size_t bytes;
    if (bn_dtype_nbytes(dst->dtype, bn_tensor_numel(dst), &bytes) != BN_OK)
        bytes = 0;
    bn_op_record(BN_OP_COPY, false, 0, bytes);
    return BN_OK;
}
