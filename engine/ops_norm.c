/*
 * ops_norm.c - normalisations along one axis: softmax, log_softmax (any
 * axis) and rmsnorm, layernorm (last axis, optional weight and bias).
 *
 * Each is a row kernel applied to every lane of the tensor along the axis:
 * the lanes are enumerated with bn_iter over the shape with that axis
 * collapsed, and each lane is passed to the kernel with the axis stride, so
 * no input is copied. f16/bf16 lanes are widened into an f32 scratch row,
 * normalised there and rounded back. Many lanes run over the thread pool.
 */
#include <math.h>
#include <stdlib.h>

#include "ops_internal.h"

typedef struct lane_op {
    bn_op op;
    float eps;
    const float *w, *b; /* f32 weight / bias rows or NULL */
    int64_t sw, sb;
} lane_op;

static void run_lane(const lane_op *l, int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    const bnk_table *k = bnk_active();
    switch (l->op) {
    case BN_OP_SOFTMAX:
        k->softmax_f32(n, x, sx, y, sy);
        break;
    case BN_OP_LOG_SOFTMAX:
        k->log_softmax_f32(n, x, sx, y, sy);
        break;
    case BN_OP_RMSNORM:
        k->rmsnorm_f32(n, x, sx, l->w, l->sw, l->eps, y, sy);
        break;
    case BN_OP_LAYERNORM:
        k->layernorm_f32(n, x, sx, l->w, l->sw, l->b, l->sb, l->eps, y, sy);
        break;
    default:
        BN_ASSERT(!"run_lane: not a normalisation");
    }
}

/* Lanes of one run: a fresh iterator over the shape with the axis collapsed,
 * whose rows hold it.inner lanes each. */
typedef struct lane_job {
    const lane_op *l;
    bn_iter it;
    int64_t n, sx, sy;
    const bn_tensor *x;
    bn_tensor *y;
    float *scratch; /* n floats per thread (f16/bf16), else NULL */
} lane_job;

/* bn_parallel_for body (also the serial path): lanes [begin, end) */
static void run_lane_range(void *ctx, int64_t begin, int64_t end, int tid)
{
    const lane_job *j = ctx;
    const void *xb = tensor__base(j->x);
    void *yb = tensor__base(j->y);
    float *scratch = j->scratch ? j->scratch + (size_t)tid * (size_t)j->n : NULL;
    int64_t pos[2], r = begin / j->it.inner, c = begin % j->it.inner;
    ops__iter_row(&j->it, r, pos);
    /* rmsnorm of contiguous f32 rows: the lanes of one iterator row at a
     * time through the rows kernel (which may stream a large output) */
    bool rows = j->l->op == BN_OP_RMSNORM && j->x->dtype == BN_F32 && j->sx == 1 && j->sy == 1 &&
                (j->l->w == NULL || j->l->sw == 1);
    for (int64_t lane = begin; lane < end; lane++, c++) {
        if (c == j->it.inner) { /* next row of lanes */
            c = 0;
            ops__iter_row(&j->it, ++r, pos);
        }
        int64_t py = pos[0] + c * j->it.istride[0], px = pos[1] + c * j->it.istride[1];
        if (rows) {
            int64_t cnt = end - lane < j->it.inner - c ? end - lane : j->it.inner - c;
            bnk_active()->rmsnorm_rows_f32(cnt, j->n, (const float *)xb + px, j->it.istride[1],
                                           j->l->w, j->l->eps, (float *)yb + py, j->it.istride[0]);
            lane += cnt - 1;
            c += cnt - 1;
        } else if (j->x->dtype == BN_F32) {
            run_lane(j->l, j->n, (const float *)xb + px, j->sx, (float *)yb + py, j->sy);
        } else {
            ops__load_f32(j->x->dtype, xb, px, j->sx, j->n, scratch);
            run_lane(j->l, j->n, scratch, 1, scratch, 1);
            ops__store_f32(j->y->dtype, yb, py, j->sy, j->n, scratch);
        }
    }
}

/* Applies l to every lane of x along axis ax, writing y (same shape). Many
 * lanes of enough total work run over the thread pool, a lane per task unit
 * (each lane computed exactly as serially). */
static bn_status run_lanes(const lane_op *l, const bn_tensor *x, int ax, bn_tensor *y)
{
    int64_t n = x->shape[ax];
    if (bn_tensor_numel(x) == 0)
        return BN_OK;
    int64_t shape[BN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d == ax ? 1 : x->shape[d];
    const int64_t *strides[2] = {y->strides, x->strides};
    int64_t offs[2] = {y->offset, x->offset};
    lane_job j = {.l = l, .n = n, .sx = x->strides[ax], .sy = y->strides[ax], .x = x, .y = y};
    bn_iter_init(&j.it, x->ndim, shape, 2, strides, offs);
    int64_t lanes = j.it.rows_left * j.it.inner;
    bool par = lanes >= 2 && lanes * n >= 2 * OPS_PAR_GRAIN;
    int nthreads = par ? bn_threads_count() : 1;
    if (x->dtype != BN_F32) {
        j.scratch = alloc__malloc((size_t)n * (size_t)nthreads * sizeof *j.scratch);
        if (!j.scratch)
            return bn_error(BN_ERR_OOM, "%s: cannot allocate a %lld-element scratch row",
                            bn_op_name(l->op), (long long)n);
    }
    if (par) {
        int64_t grain = (OPS_PAR_GRAIN + n - 1) / n;
        /* a pool that cannot start runs everything on the caller */
        (void)bn_parallel_for(lanes, grain, run_lane_range, &j);
    } else {
        run_lane_range(&j, 0, lanes, 0);
    }
    alloc__free(j.scratch);
    return BN_OK;
}

static bn_status softmax_common(bn_op op, const bn_tensor *a, int axis, bn_tensor **out)
{
    BN_ASSERT(a != NULL && out != NULL);
    *out = NULL;
    int ax;
    bn_status st = ops__check_dtype(op, a->dtype, false);
    if (st)
        return st;
    st = ops__axis(op, a->ndim, axis, &ax);
    if (st)
        return st;
    bn_tensor *y;
    st = ops__new_out(op, a->dtype, a->ndim, a->shape, &y);
    if (st)
        return st;
    lane_op l = {.op = op};
    st = run_lanes(&l, a, ax, y);
    if (st) {
        bn_tensor_free(y);
        return st;
    }
    ops__record(op, y, y, a, NULL);
    *out = y;
    return BN_OK;
}

bn_status bn_softmax(const bn_tensor *a, int axis, bn_tensor **out)
{
    return softmax_common(BN_OP_SOFTMAX, a, axis, out);
}

bn_status bn_log_softmax(const bn_tensor *a, int axis, bn_tensor **out)
{
    return softmax_common(BN_OP_LOG_SOFTMAX, a, axis, out);
}

/* Checks a weight or bias vector p (may be NULL) against x and, for
 * non-f32 dtypes, widens it into *tmp; sets row and stride for the kernel. */
static bn_status norm_param(bn_op op, const char *what, const bn_tensor *x, const bn_tensor *p,
                            float **tmp, const float **row, int64_t *stride)
{
    *row = NULL;
    *stride = 0;
    if (!p)
        return BN_OK;
    int64_t n = x->shape[x->ndim - 1];
    if (p->dtype != x->dtype)
        return bn_error(BN_ERR_DTYPE, "%s: %s has dtype %s but x is %s", bn_op_name(op), what,
                        bn_dtype_name(p->dtype), bn_dtype_name(x->dtype));
    if (p->ndim != 1 || p->shape[0] != n) {
        ops_shape_str s1, s2;
        return bn_error(BN_ERR_SHAPE, "%s: %s has shape %s, expected [%lld] to match x %s",
                        bn_op_name(op), what, ops__shape(&s1, p->ndim, p->shape), (long long)n,
                        ops__shape(&s2, x->ndim, x->shape));
    }
    if (p->dtype == BN_F32) {
        *row = (const float *)tensor__base(p) + p->offset;
        *stride = p->strides[0];
        return BN_OK;
    }
    *tmp = alloc__malloc((size_t)(n ? n : 1) * sizeof **tmp);
    if (!*tmp)
        return bn_error(BN_ERR_OOM, "%s: cannot allocate %lld floats for %s", bn_op_name(op),
                        (long long)n, what);
    ops__load_f32(p->dtype, tensor__base(p), p->offset, p->strides[0], n, *tmp);
    *row = *tmp;
    *stride = 1;
    return BN_OK;
}

static bn_status norm_common(bn_op op, const bn_tensor *x, const bn_tensor *w, const bn_tensor *b,
                             float eps, bn_tensor **out)
{
    BN_ASSERT(x != NULL && out != NULL);
    *out = NULL;
    float *wt = NULL, *bt = NULL;
    bn_tensor *y = NULL;
    lane_op l = {.op = op, .eps = eps};
    bn_status st = ops__check_dtype(op, x->dtype, false);
    if (st)
        return st;
    if (x->ndim < 1)
        return bn_error(BN_ERR_SHAPE, "%s: x must have at least 1 dim, got a 0-d tensor",
                        bn_op_name(op));
    if (!(eps >= 0) || isinf(eps))
        return bn_error(BN_ERR_ARG, "%s: eps must be finite and >= 0, got %g", bn_op_name(op),
                        (double)eps);
    st = norm_param(op, "weight", x, w, &wt, &l.w, &l.sw);
    if (st)
        goto cleanup;
    st = norm_param(op, "bias", x, b, &bt, &l.b, &l.sb);
    if (st)
        goto cleanup;
    st = ops__new_out(op, x->dtype, x->ndim, x->shape, &y);
    if (st)
        goto cleanup;
    st = run_lanes(&l, x, x->ndim - 1, y);
    if (st)
        goto cleanup;
    ops__record(op, y, y, x, NULL);
    *out = y;
    y = NULL;
cleanup:
    bn_tensor_free(y);
    alloc__free(wt);
    alloc__free(bt);
    return st;
}

bn_status bn_rmsnorm(const bn_tensor *x, const bn_tensor *weight, float eps, bn_tensor **out)
{
    return norm_common(BN_OP_RMSNORM, x, weight, NULL, eps, out);
}

bn_status bn_layernorm(const bn_tensor *x, const bn_tensor *weight, const bn_tensor *bias,
                       float eps, bn_tensor **out)
{
    return norm_common(BN_OP_LAYERNORM, x, weight, bias, eps, out);
}
