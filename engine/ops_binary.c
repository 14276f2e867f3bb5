/*
 * ops_binary.c - element-wise binary ops (add .. minimum) with NumPy
 * broadcasting, scalar forms and in-place `out` forms.
 *
 * Shape work happens here: broadcast the shapes, see each input through the
 * result shape (stride 0 on broadcast dims), and walk the three operands
 * with bn_iter, which merges dims so rows are as long as the layouts allow.
 * Each row goes to the active kernel table (kernels/kernels.h): f32 and the
 * integer types directly with their strides, f16/bf16 through f32 scratch
 * chunks (widened, computed, rounded back by the table's conversion
 * kernels). Results of at least 2 * OPS_PAR_GRAIN elements are cut into
 * row pieces spread over the thread pool; smaller ones stay on the caller.
 *
 * In place: `out` may be an input. When out overlaps an input other than
 * element for element (a transposed or broadcast view of the same memory),
 * that input is first copied to a temporary, so the result is always what
 * it would be with separate memory.
 */
#include <stdlib.h>

#include "ops_internal.h"

static bool is_binary(bn_op op)
{
    return bn_op_kind_of(op) == BN_OP_KIND_BINARY;
}

static bool int_ok(bn_op op)
{
    return op == BN_OP_ADD || op == BN_OP_SUB || op == BN_OP_MUL || op == BN_OP_MAXIMUM ||
           op == BN_OP_MINIMUM;
}

static bn_status check_op(bn_op op)
{
    if ((int)op < 0 || op >= BN_OP_COUNT || !is_binary(op))
        return bn_error(BN_ERR_ARG, "binary: op %d (%s) is not an element-wise binary op", (int)op,
                        (int)op >= 0 && op < BN_OP_COUNT ? bn_op_name(op) : "unknown");
    return BN_OK;
}

/* Validates op and operands and computes the result shape. */
static bn_status binary_prepare(bn_op op, const bn_tensor *a, const bn_tensor *b, int *nd,
                                int64_t *shape)
{
    BN_ASSERT(a != NULL && b != NULL);
    bn_status st = check_op(op);
    if (st)
        return st;
    if (a->dtype != b->dtype)
        return bn_error(BN_ERR_DTYPE, "%s: dtypes differ: %s and %s (cast one first)",
                        bn_op_name(op), bn_dtype_name(a->dtype), bn_dtype_name(b->dtype));
    st = ops__check_dtype(op, a->dtype, int_ok(op));
    if (st)
        return st;
    return bn_broadcast_shapes(bn_op_name(op), a->ndim, a->shape, b->ndim, b->shape, nd, shape);
}

typedef struct binary_job {
    bn_op op;
    const bnk_table *k;
    bn_dtype dt;
    void *yb;
    const void *ab, *bb;
} binary_job;

static void binary_piece(void *ctx, const bn_iter *it, const int64_t *pos, int64_t n)
{
    const binary_job *j = ctx;
    const bnk_table *k = j->k;
    bn_op op = j->op;
    int64_t sy = it->istride[0], s0 = it->istride[1], s1 = it->istride[2];
    switch (j->dt) {
    case BN_F32:
        k->binary_f32[op](n, (const float *)j->ab + pos[1], s0, (const float *)j->bb + pos[2], s1,
                          (float *)j->yb + pos[0], sy);
        break;
    case BN_I32:
        k->binary_i32[op](n, (const int32_t *)j->ab + pos[1], s0, (const int32_t *)j->bb + pos[2],
                          s1, (int32_t *)j->yb + pos[0], sy);
        break;
    case BN_I8:
        k->binary_i8[op](n, (const int8_t *)j->ab + pos[1], s0, (const int8_t *)j->bb + pos[2], s1,
                         (int8_t *)j->yb + pos[0], sy);
        break;
    default: { /* f16, bf16 */
        float x0[OPS_CHUNK], x1[OPS_CHUNK], y[OPS_CHUNK];
        for (int64_t i = 0; i < n; i += OPS_CHUNK) {
            int64_t m = n - i < OPS_CHUNK ? n - i : OPS_CHUNK;
            ops__load_f32(j->dt, j->ab, pos[1] + i * s0, s0, m, x0);
            ops__load_f32(j->dt, j->bb, pos[2] + i * s1, s1, m, x1);
            k->binary_f32[op](m, x0, 1, x1, 1, y, 1);
            ops__store_f32(j->dt, j->yb, pos[0] + i * sy, sy, m, y);
        }
        break;
    }
    }
}

/* The three operands walked together (rows merged as far as the layouts
 * allow), each row piece to the active table; large results are split over
 * the thread pool (ops__for_pieces). */
static void run_rows(bn_op op, const bn_tensor *a, const int64_t *sa, const bn_tensor *b,
                     const int64_t *sb, bn_tensor *out)
{
    const int64_t *strides[3] = {out->strides, sa, sb};
    int64_t offs[3] = {out->offset, a->offset, b->offset};
    bn_iter it;
    bn_iter_init(&it, out->ndim, out->shape, 3, strides, offs);
    binary_job job = {.op = op,
                      .k = bnk_active(),
                      .dt = out->dtype,
                      .yb = tensor__base(out),
                      .ab = tensor__base(a),
                      .bb = tensor__base(b)};
    ops__for_pieces(&it, binary_piece, &job);
}

/* out has the result shape and dtype; inputs may overlap it. */
static bn_status binary_run(bn_op op, const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    int64_t sa[BN_MAX_DIMS], sb[BN_MAX_DIMS];
    bn_tensor *ta = NULL, *tb = NULL;
    bn_broadcast_strides(a, out->ndim, out->shape, sa);
    bn_broadcast_strides(b, out->ndim, out->shape, sb);
    bn_status st = ops__detach(a, sa, out, &ta);
    if (st)
        goto cleanup;
    st = ops__detach(b, sb, out, &tb);
    if (st)
        goto cleanup;
    if (ta) {
        a = ta;
        bn_broadcast_strides(a, out->ndim, out->shape, sa);
    }
    if (tb) {
        b = tb;
        bn_broadcast_strides(b, out->ndim, out->shape, sb);
    }
    run_rows(op, a, sa, b, sb, out);
cleanup:
    bn_tensor_free(ta);
    bn_tensor_free(tb);
    return st;
}

bn_status bn_binary(bn_op op, const bn_tensor *a, const bn_tensor *b, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    int nd;
    int64_t shape[BN_MAX_DIMS];
    bn_status st = binary_prepare(op, a, b, &nd, shape);
    if (st)
        return st;
    bn_tensor *y;
    st = ops__new_out(op, a->dtype, nd, shape, &y);
    if (st)
        return st;
    st = binary_run(op, a, b, y);
    if (st) {
        bn_tensor_free(y);
        return st;
    }
    ops__record(op, y, y, a, b);
    *out = y;
    return BN_OK;
}

bn_status bn_binary_out(bn_op op, const bn_tensor *a, const bn_tensor *b, bn_tensor *out)
{
    int nd;
    int64_t shape[BN_MAX_DIMS];
    BN_ASSERT(out != NULL);
    bn_status st = binary_prepare(op, a, b, &nd, shape);
    if (st)
        return st;
    st = ops__check_out(op, out, a->dtype, nd, shape);
    if (st)
        return st;
    st = binary_run(op, a, b, out);
    if (st)
        return st;
    ops__record(op, NULL, out, a, b);
    return BN_OK;
}

/* s as a 0-d tensor of dtype dt over caller storage (no data allocation). */
typedef union scalar_store {
    float f;
    uint16_t h;
    int32_t i32;
    int8_t i8;
} scalar_store;

static bn_status scalar_tensor(bn_op op, const bn_tensor *a, double s, scalar_store *mem,
                               bn_tensor **out)
{
    BN_ASSERT(a != NULL);
    *out = NULL;
    bn_status st = check_op(op);
    if (st)
        return st;
    st = ops__check_dtype(op, a->dtype, true);
    if (st)
        return st;
    st = bn_tensor_wrap(a->dtype, 0, NULL, NULL, mem, sizeof *mem, NULL, NULL, out);
    if (st)
        return st;
    tensor__store(a->dtype, mem, 0, s);
    return BN_OK;
}

bn_status bn_binary_scalar(bn_op op, const bn_tensor *a, double s, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    scalar_store mem;
    bn_tensor *b;
    bn_status st = scalar_tensor(op, a, s, &mem, &b);
    if (st)
        return st;
    st = bn_binary(op, a, b, out);
    bn_tensor_free(b);
    return st;
}

bn_status bn_binary_scalar_out(bn_op op, const bn_tensor *a, double s, bn_tensor *out)
{
    scalar_store mem;
    bn_tensor *b;
    bn_status st = scalar_tensor(op, a, s, &mem, &b);
    if (st)
        return st;
    st = bn_binary_out(op, a, b, out);
    bn_tensor_free(b);
    return st;
}
