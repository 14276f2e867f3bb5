/*
 * ops_unary.c - element-wise unary ops (neg .. silu) and clamp.
 *
 * Same shape as ops_binary.c with one input: walk input and output with
 * bn_iter, hand rows to the kernel table, widen f16/bf16 through f32
 * scratch. Large tensors are cut into row pieces run over the thread pool
 * (OPS_PAR_MIN in ops_internal.h); the values do not depend on the cut. Integer dtypes take neg,
 * abs, relu and clamp (exact); neg/abs of the most negative value wrap to itself (two's
 * complement).
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

/* One piece of work: elements [j0, j1) of the row starting at positions
 * pos (output, input) with strides sy, sx. */
typedef struct unary_job {
    bn_op op;
    bn_dtype dt;
    const bnk_table *k;
    const clamp_args *c;
    void *yb;
    const void *xb;
    bn_iter it; /* fresh: rows are found with ops__iter_row */
    int64_t pieces_per_row, piece;
} unary_job;

static void run_piece(const unary_job *u, const int64_t *pos, int64_t j0, int64_t j1)
{
    const bnk_table *k = u->k;
    const clamp_args *c = u->c;
    bn_op op = u->op;
    int64_t n = j1 - j0, sy = u->it.istride[0], sx = u->it.istride[1];
    int64_t py = pos[0] + j0 * sy, px = pos[1] + j0 * sx;
    switch (u->dt) {
    case BN_F32: {
        const float *x = (const float *)u->xb + px;
        float *y = (float *)u->yb + py;
        if (op == BN_OP_CLAMP)
            k->clamp_f32(n, x, sx, y, sy, c->flo, c->fhi);
        else
            k->unary_f32[op](n, x, sx, y, sy);
        break;
    }
    case BN_I32: {
        const int32_t *x = (const int32_t *)u->xb + px;
        int32_t *y = (int32_t *)u->yb + py;
        if (op == BN_OP_CLAMP)
            k->clamp_i32(n, x, sx, y, sy, c->ilo, c->ihi);
        else
            k->unary_i32[op](n, x, sx, y, sy);
        break;
    }
    case BN_I8: {
        const int8_t *x = (const int8_t *)u->xb + px;
        int8_t *y = (int8_t *)u->yb + py;
        if (op == BN_OP_CLAMP)
            k->clamp_i8(n, x, sx, y, sy, (int8_t)c->ilo, (int8_t)c->ihi);
        else
            k->unary_i8[op](n, x, sx, y, sy);
        break;
    }
    default: { /* f16, bf16 */
        float x[OPS_CHUNK];
        for (int64_t j = 0; j < n; j += OPS_CHUNK) {
            int64_t m = n - j < OPS_CHUNK ? n - j : OPS_CHUNK;
            ops__load_f32(u->dt, u->xb, px + j * sx, sx, m, x);
            if (op == BN_OP_CLAMP)
                k->clamp_f32(m, x, 1, x, 1, c->flo, c->fhi);
            else
                k->unary_f32[op](m, x, 1, x, 1);
            ops__store_f32(u->dt, u->yb, py + j * sy, sy, m, x);
        }
        break;
    }
    }
}

/* bn_parallel_for body: pieces [begin, end) */
static void run_pieces(void *ctx, int64_t begin, int64_t end, int tid)
{
    const unary_job *u = ctx;
    int64_t pos[2];
    for (int64_t p = begin; p < end; p++) {
        int64_t row = p / u->pieces_per_row, j0 = p % u->pieces_per_row * u->piece;
        int64_t j1 = j0 + u->piece < u->it.inner ? j0 + u->piece : u->it.inner;
        ops__iter_row(&u->it, row, pos);
        run_piece(u, pos, j0, j1);
    }
}

static void run_rows(bn_op op, const bn_tensor *a, bn_tensor *out, const clamp_args *c)
{
    unary_job u = {.op = op,
                   .dt = out->dtype,
                   .k = bnk_active(),
                   .c = c,
                   .yb = tensor__base(out),
                   .xb = tensor__base(a)};
    const int64_t *strides[2] = {out->strides, a->strides};
    int64_t offs[2] = {out->offset, a->offset};
    bn_iter_init(&u.it, out->ndim, out->shape, 2, strides, offs);
    int64_t rows = u.it.rows_left, inner = u.it.inner;
    if (rows * inner >= OPS_PAR_MIN) {
        /* rows cut into pieces of about OPS_PAR_PIECE elements */
        u.pieces_per_row = (inner + OPS_PAR_PIECE - 1) / OPS_PAR_PIECE;
        u.piece = (inner + u.pieces_per_row - 1) / u.pieces_per_row;
        int64_t grain = (OPS_PAR_PIECE + u.piece - 1) / u.piece;
        /* a pool that cannot start runs everything on the caller: the
         * result is complete either way */
        (void)bn_parallel_for(rows * u.pieces_per_row, grain, run_pieces, &u);
        return;
    }
    bn_iter it = u.it;
    while (bn_iter_next(&it))
        run_piece(&u, it.pos, 0, it.inner);
}

static bn_status check_op(bn_op op)
{
    if ((int)op < 0 || op >= BN_OP_COUNT || op < BN_OP_NEG || op > BN_OP_SILU)
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
