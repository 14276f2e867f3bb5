/*
 * ops_unary.c - element-wise unary ops (neg .. silu) and clamp.
 *
 * Same shape as ops_binary.c with one input: walk input and output with
 * bn_iter, hand rows to the kernel table (over the thread pool when large),
 * widen f16/bf16 through f32 scratch. Integer dtypes take neg, abs, relu and clamp (exact); neg/abs
 * of the most negative value wrap to itself (two's complement).
 */
#include <math.h>

#include "ops_internal.h"

static bool int_ok(bn_op op)
{
    return op == BN_OP_NEG || op == BN_OP_ABS || op == BN_OP_RELU || op == BN_OP_CLAMP;
}

/* clamp bounds per dtype kind */
typedef struct clamp_args {
    float flo, fhi;
    int32_t ilo, ihi;
} clamp_args;

typedef struct unary_job {
    bn_op op;
    const bnk_table *k;
    bn_dtype dt;
    void *yb;
    const void *xb;
    const clamp_args *c;
} unary_job;

static void unary_piece(void *ctx, const bn_iter *it, const int64_t *pos, int64_t n)
{
    const unary_job *j = ctx;
    const bnk_table *k = j->k;
    const clamp_args *c = j->c;
    bn_op op = j->op;
    int64_t sy = it->istride[0], sx = it->istride[1];
    switch (j->dt) {
    case BN_F32: {
        const float *x = (const float *)j->xb + pos[1];
        float *y = (float *)j->yb + pos[0];
        if (op == BN_OP_CLAMP)
            k->clamp_f32(n, x, sx, y, sy, c->flo, c->fhi);
        else
            k->unary_f32[op](n, x, sx, y, sy);
        break;
    }
    case BN_I32: {
        const int32_t *x = (const int32_t *)j->xb + pos[1];
        int32_t *y = (int32_t *)j->yb + pos[0];
        if (op == BN_OP_CLAMP)
            k->clamp_i32(n, x, sx, y, sy, c->ilo, c->ihi);
        else
            k->unary_i32[op](n, x, sx, y, sy);
        break;
    }
    case BN_I8: {
        const int8_t *x = (const int8_t *)j->xb + pos[1];
        int8_t *y = (int8_t *)j->yb + pos[0];
        if (op == BN_OP_CLAMP)
            k->clamp_i8(n, x, sx, y, sy, (int8_t)c->ilo, (int8_t)c->ihi);
        else
            k->unary_i8[op](n, x, sx, y, sy);
        break;
    }
    default: { /* f16, bf16 */
        float x[OPS_CHUNK];
        for (int64_t i = 0; i < n; i += OPS_CHUNK) {
            int64_t m = n - i < OPS_CHUNK ? n - i : OPS_CHUNK;
            ops__load_f32(j->dt, j->xb, pos[1] + i * sx, sx, m, x);
            if (op == BN_OP_CLAMP)
                k->clamp_f32(m, x, 1, x, 1, c->flo, c->fhi);
            else
                k->unary_f32[op](m, x, 1, x, 1);
            ops__store_f32(j->dt, j->yb, pos[0] + i * sy, sy, m, x);
        }
        break;
    }
    }
}

/* Input and output walked together, row pieces to the active table, large
 * results split over the thread pool (ops__for_pieces). */
static void run_rows(bn_op op, const bn_tensor *a, bn_tensor *out, const clamp_args *c)
{
    const int64_t *strides[2] = {out->strides, a->strides};
    int64_t offs[2] = {out->offset, a->offset};
    bn_iter it;
    bn_iter_init(&it, out->ndim, out->shape, 2, strides, offs);
    unary_job job = {.op = op,
                     .k = bnk_active(),
                     .dt = out->dtype,
                     .yb = tensor__base(out),
                     .xb = tensor__base(a),
                     .c = c};
    ops__for_pieces(&it, unary_piece, &job);
}

static bn_status check_op(bn_op op)
{
    if ((int)op < 0 || op >= BN_OP_COUNT || bn_op_kind_of(op) != BN_OP_KIND_UNARY ||
        op == BN_OP_CLAMP)
        return bn_error(BN_ERR_ARG, "unary: op %d (%s) is not an element-wise unary op%s", (int)op,
                        (int)op >= 0 && op < BN_OP_COUNT ? bn_op_name(op) : "unknown",
                        op == BN_OP_CLAMP ? " (use bn_clamp)" : "");
    return BN_OK;
}

/* Runs op on a into out (allocated when *alloc is requested). */
static bn_status unary_common(bn_op op, const bn_tensor *a, const clamp_args *c, bn_tensor **alloc,
                              bn_tensor *out)
{
    BN_ASSERT(a != NULL);
    const bn_tensor *in = a;
    bn_tensor *tmp = NULL, *y = out;
    bn_status st = ops__check_dtype(op, a->dtype, int_ok(op));
    if (st)
        return st;
    if (alloc) {
        st = ops__new_out(op, a->dtype, a->ndim, a->shape, &y);
        if (st)
            return st;
    } else {
        st = ops__check_out(op, out, a->dtype, a->ndim, a->shape);
        if (st)
            return st;
        st = ops__detach(a, a->strides, out, &tmp);
        if (st)
            return st;
        if (tmp)
            a = tmp;
    }
    run_rows(op, a, y, c);
    ops__record(op, alloc ? y : NULL, y, in, NULL);
    bn_tensor_free(tmp);
    if (alloc)
        *alloc = y;
    return BN_OK;
}

bn_status bn_unary(bn_op op, const bn_tensor *a, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    bn_status st = check_op(op);
    if (st)
        return st;
    return unary_common(op, a, NULL, out, NULL);
}

bn_status bn_unary_out(bn_op op, const bn_tensor *a, bn_tensor *out)
{
    BN_ASSERT(out != NULL);
    bn_status st = check_op(op);
    if (st)
        return st;
    return unary_common(op, a, NULL, NULL, out);
}

/* Validates [lo, hi] and converts it for a's dtype. */
static bn_status clamp_bounds(const bn_tensor *a, double lo, double hi, clamp_args *c)
{
    BN_ASSERT(a != NULL);
    if (isnan(lo) || isnan(hi) || lo > hi)
        return bn_error(BN_ERR_ARG, "clamp: need lo <= hi (and neither NaN), got lo %g, hi %g", lo,
                        hi);
    c->flo = (float)lo;
    c->fhi = (float)hi;
    c->ilo = c->ihi = 0;
    if (a->dtype == BN_I32 || a->dtype == BN_I8) {
        double tmin = a->dtype == BN_I8 ? -128.0 : -2147483648.0;
        double tmax = a->dtype == BN_I8 ? 127.0 : 2147483647.0;
        double l = ceil(lo), h = floor(hi);
        if (l > h)
            return bn_error(BN_ERR_ARG, "clamp: no %s value lies in [%g, %g]",
                            bn_dtype_name(a->dtype), lo, hi);
        l = l < tmin ? tmin : l > tmax ? tmax : l;
        h = h < tmin ? tmin : h > tmax ? tmax : h;
        c->ilo = (int32_t)l;
        c->ihi = (int32_t)h;
    }
    return BN_OK;
}

bn_status bn_clamp(const bn_tensor *a, double lo, double hi, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    clamp_args c;
    bn_status st = clamp_bounds(a, lo, hi, &c);
    if (st)
        return st;
    return unary_common(BN_OP_CLAMP, a, &c, out, NULL);
}

bn_status bn_clamp_out(const bn_tensor *a, double lo, double hi, bn_tensor *out)
{
    BN_ASSERT(out != NULL);
    clamp_args c;
    bn_status st = clamp_bounds(a, lo, hi, &c);
    if (st)
        return st;
    return unary_common(BN_OP_CLAMP, a, &c, NULL, out);
}
