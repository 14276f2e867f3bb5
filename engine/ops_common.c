/*
 * ops_common.c - helpers shared by the reference ops (ops_internal.h): the
 * checks that give every op the same error messages, f16/bf16 widening of
 * strided rows, overlap detection for in-place forms, and the unrecorded
 * conversion copy behind bn_cast, bn_copy and the ops' own temporaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"

const char *ops__shape(ops_shape_str *b, int ndim, const int64_t *shape)
{
    return bn_shape_str(ndim, shape, b->s, sizeof b->s);
}

bn_status ops__check_dtype(bn_op op, bn_dtype dt, bool int_ok)
{
    const bn_dtype_traits *tr = bn_dtype_info(dt);
    if (tr->is_packed)
        return bn_error(BN_ERR_DTYPE,
                        "%s: packed dtype %s is not supported; convert with bn_cast to f32 or i8 "
                        "first",
                        bn_op_name(op), tr->name);
    if (dt == BN_F64)
        return bn_error(BN_ERR_DTYPE,
                        "%s: dtype f64 is supported by copy, cast and linalg only; cast to f32 "
                        "first",
                        bn_op_name(op));
    if (tr->is_int && !int_ok)
        return bn_error(BN_ERR_DTYPE, "%s: not defined for integer dtype %s (f32, f16, bf16 only)",
                        bn_op_name(op), tr->name);
    return BN_OK;
}

bn_status ops__check_out(bn_op op, const bn_tensor *out, bn_dtype dt, int ndim,
                         const int64_t *shape)
{
    BN_ASSERT(out != NULL);
    if (out->dtype != dt)
        return bn_error(BN_ERR_DTYPE, "%s: out has dtype %s but the result is %s", bn_op_name(op),
                        bn_dtype_name(out->dtype), bn_dtype_name(dt));
    bool same = out->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = out->shape[d] == shape[d];
    if (!same) {
        ops_shape_str s1, s2;
        return bn_error(BN_ERR_SHAPE, "%s: out has shape %s but the result shape is %s",
                        bn_op_name(op), ops__shape(&s1, out->ndim, out->shape),
                        ops__shape(&s2, ndim, shape));
    }
    for (int d = 0; d < ndim; d++) {
        if (out->shape[d] > 1 && out->strides[d] == 0)
            return bn_error(BN_ERR_ARG, "%s: out is a broadcast view (stride 0 on dim %d)",
                            bn_op_name(op), d);
    }
    return BN_OK;
}

bn_status ops__new_out(bn_op op, bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out)
{
    bn_status st = bn_tensor_empty(dt, ndim, shape, out);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", bn_last_error());
        return bn_error(st, "%s: %s", bn_op_name(op), msg);
    }
    return BN_OK;
}

void ops__record(bn_op op, const bn_tensor *alloc_out, const bn_tensor *out, const bn_tensor *a,
                 const bn_tensor *b)
{
    size_t bytes = alloc_out ? bn_tensor_buffer_bytes(alloc_out) : 0;
    bool shared =
        !alloc_out && out &&
        ((a && bn_tensor_shares_buffer(out, a)) || (b && bn_tensor_shares_buffer(out, b)));
    bn_op_record(op, shared, bytes, 0);
}

typedef struct pieces_job {
    const bn_iter *it;
    ops_piece_fn fn;
    void *ctx;
} pieces_job;

/* Elements [begin, end) of the walk, in row pieces. */
static void pieces_range(void *vctx, int64_t begin, int64_t end, int tid)
{
    const pieces_job *job = vctx;
    const bn_iter *it = job->it;
    int64_t inner = it->inner, row = begin / inner, col = begin % inner;
    int64_t idx[BN_MAX_DIMS];
    int outer = it->ndim - 1; /* dims above the row */
    for (int d = outer - 1; d >= 0; d--) {
        idx[d] = row % it->shape[d];
        row /= it->shape[d];
    }
    while (begin < end) {
        int64_t pos[BN_ITER_MAX_OPS];
        for (int k = 0; k < it->nops; k++) {
            pos[k] = it->base[k] + col * it->istride[k];
            for (int d = 0; d < outer; d++)
                pos[k] += idx[d] * it->strides[k][d];
        }
        int64_t m = inner - col < end - begin ? inner - col : end - begin;
        job->fn(job->ctx, it, pos, m);
        begin += m;
        col = 0;
        for (int d = outer - 1; d >= 0; d--) { /* next row: odometer */
            if (++idx[d] < it->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

void ops__for_pieces_grain(const bn_iter *it, int64_t grain, ops_piece_fn fn, void *ctx)
{
    int64_t numel = it->rows_left * it->inner;
    if (numel <= 0)
        return;
    pieces_job job = {.it = it, .fn = fn, .ctx = ctx};
    if (numel < 2 * grain) {
        pieces_range(&job, 0, numel, 0);
        return;
    }
    /* the work is done on the caller even when the pool cannot start, so a
     * start failure does not change the result */
    (void)bn_parallel_for(numel, grain, pieces_range, &job);
}

void ops__for_pieces(const bn_iter *it, ops_piece_fn fn, void *ctx)
{
    ops__for_pieces_grain(it, OPS_PAR_GRAIN, fn, ctx);
}

void ops__load_f32(bn_dtype dt, const void *base, int64_t pos, int64_t s, int64_t n, float *dst)
{
    switch (dt) {
    case BN_F32: {
        const float *p = (const float *)base + pos;
        for (int64_t i = 0; i < n; i++)
            dst[i] = p[i * s];
        break;
    }
    case BN_F16:
        bnk_active()->f16_to_f32(n, (const uint16_t *)base + pos, s, dst);
        break;
    case BN_BF16:
        bnk_active()->bf16_to_f32(n, (const uint16_t *)base + pos, s, dst);
        break;
    default:
        BN_ASSERT(!"ops__load_f32: not a float dtype");
    }
}

void ops__store_f32(bn_dtype dt, void *base, int64_t pos, int64_t s, int64_t n, const float *src)
{
    switch (dt) {
    case BN_F32: {
        float *p = (float *)base + pos;
        for (int64_t i = 0; i < n; i++)
            p[i * s] = src[i];
        break;
    }
    case BN_F16:
        bnk_active()->f32_to_f16(n, src, (uint16_t *)base + pos, s);
        break;
    case BN_BF16:
        bnk_active()->f32_to_bf16(n, src, (uint16_t *)base + pos, s);
        break;
    default:
        BN_ASSERT(!"ops__store_f32: not a float dtype");
    }
}

/* [*lo, *hi) bytes reached by t; false when t is empty. */
static bool byte_extent(const bn_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    if (bn_tensor_numel(t) == 0)
        return false;
    int64_t last = t->offset;
    for (int d = 0; d < t->ndim; d++)
        last += (t->shape[d] - 1) * t->strides[d];
    const bn_dtype_traits *tr = bn_dtype_info(t->dtype);
    uintptr_t base = (uintptr_t)tensor__base(t);
    if (tr->block == 1) { /* every unpacked dtype: no division on the op path */
        *lo = base + (uintptr_t)t->offset * tr->block_bytes;
        *hi = base + (uintptr_t)(last + 1) * tr->block_bytes;
    } else {
        *lo = base + (uintptr_t)(t->offset / tr->block) * tr->block_bytes;
        *hi = base + (uintptr_t)(last / tr->block + 1) * tr->block_bytes;
    }
    return true;
}

bool ops__overlaps(const bn_tensor *a, const bn_tensor *b)
{
    uintptr_t alo, ahi, blo, bhi;
    if (!byte_extent(a, &alo, &ahi) || !byte_extent(b, &blo, &bhi))
        return false;
    return alo < bhi && blo < ahi;
}

bn_status ops__detach(const bn_tensor *x, const int64_t *xs, const bn_tensor *out, bn_tensor **tmp)
{
    *tmp = NULL;
    if (!ops__overlaps(x, out))
        return BN_OK;
    bool same =
        x->dtype == out->dtype && tensor__base(x) == tensor__base(out) && x->offset == out->offset;
    for (int d = 0; same && d < out->ndim; d++)
        same = out->shape[d] <= 1 || xs[d] == out->strides[d];
    if (same)
        return BN_OK;
    return ops__contig_copy(x, x->dtype, tmp);
}

/* Copy between unpacked dtypes along the common row-major walk. */
static void copy_unpacked(const bn_tensor *src, bn_tensor *dst)
{
    const int64_t *strides[2] = {dst->strides, src->strides};
    int64_t offs[2] = {dst->offset, src->offset};
    bn_iter it;
    bn_iter_init(&it, dst->ndim, dst->shape, 2, strides, offs);
    const void *sb = tensor__base(src);
    void *db = tensor__base(dst);
    size_t es = bn_dtype_size(src->dtype);
    bool same = src->dtype == dst->dtype;
    /* f16/bf16/f32 convert through f32 chunks; f64 and ints go through double (exact) */
    bool floats = bn_dtype_info(src->dtype)->is_float && bn_dtype_info(dst->dtype)->is_float &&
                  src->dtype != BN_F64 && dst->dtype != BN_F64;
    while (bn_iter_next(&it)) {
        int64_t n = it.inner, ds = it.istride[0], ss = it.istride[1];
        if (same && ds == 1 && ss == 1) {
            memcpy((char *)db + (size_t)it.pos[0] * es, (const char *)sb + (size_t)it.pos[1] * es,
                   (size_t)n * es);
        } else if (same) {
            for (int64_t j = 0; j < n; j++)
                memcpy((char *)db + (size_t)(it.pos[0] + j * ds) * es,
                       (const char *)sb + (size_t)(it.pos[1] + j * ss) * es, es);
        } else if (floats) {
            float buf[OPS_CHUNK];
            for (int64_t j = 0; j < n; j += OPS_CHUNK) {
                int64_t m = n - j < OPS_CHUNK ? n - j : OPS_CHUNK;
                ops__load_f32(src->dtype, sb, it.pos[1] + j * ss, ss, m, buf);
                ops__store_f32(dst->dtype, db, it.pos[0] + j * ds, ds, m, buf);
            }
        } else {
            /* int <-> anything: through double, exact for every i32 value */
            for (int64_t j = 0; j < n; j++)
                tensor__store(dst->dtype, db, it.pos[0] + j * ds,
                              tensor__load(src->dtype, sb, it.pos[1] + j * ss));
        }
    }
}

/* Copy where one side is packed (packed tensors are contiguous streams):
 * row-major chunks through f32. */
static void copy_packed(const bn_tensor *src, bn_tensor *dst)
{
    const bn_dtype_traits *ts = bn_dtype_info(src->dtype), *td = bn_dtype_info(dst->dtype);
    int64_t n = bn_tensor_numel(dst);
    const void *sb = tensor__base(src);
    void *db = tensor__base(dst);
    float buf[OPS_CHUNK];
    for (int64_t k = 0; k < n; k += OPS_CHUNK) {
        int64_t m = n - k < OPS_CHUNK ? n - k : OPS_CHUNK;
        if (ts->is_packed) {
            ts->to_f32(sb, src->offset + k, buf, m);
        } else {
            for (int64_t j = 0; j < m; j++)
                buf[j] = (float)tensor__load(src->dtype, sb, tensor__flat_index(src, k + j));
        }
        if (td->is_packed) {
            td->from_f32(buf, db, dst->offset + k, m);
        } else {
            for (int64_t j = 0; j < m; j++)
                tensor__store(dst->dtype, db, tensor__flat_index(dst, k + j), buf[j]);
        }
    }
}

void ops__copy_raw(const bn_tensor *src, bn_tensor *dst)
{
    if (bn_tensor_numel(dst) == 0)
        return;
    if (bn_dtype_info(src->dtype)->is_packed || bn_dtype_info(dst->dtype)->is_packed)
        copy_packed(src, dst);
    else
        copy_unpacked(src, dst);
}

bn_status ops__contig_copy(const bn_tensor *src, bn_dtype dt, bn_tensor **out)
{
    bn_status st = bn_tensor_empty(dt, src->ndim, src->shape, out);
    if (st)
        return st;
    ops__copy_raw(src, *out);
    return BN_OK;
}

bn_status ops__axis(bn_op op, int ndim, int axis, int *out)
{
    if (axis < -ndim || axis >= ndim)
        return bn_error(BN_ERR_ARG, "%s: axis %d out of range for a %d-d tensor (valid %d..%d)",
                        bn_op_name(op), axis, ndim, -ndim, ndim - 1);
    *out = axis < 0 ? axis + ndim : axis;
    return BN_OK;
}
