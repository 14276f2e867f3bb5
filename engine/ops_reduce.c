/*
 * ops_reduce.c - reductions over an axis list (sum .. norm2), with keepdims.
 *
 * The input's dims split into kept (outer) and reduced (inner) ones. The
 * outer index space is walked in row-major order, which is the order of the
 * contiguous result; for each result element the inner space is handed to a
 * row kernel. When the reduced dims merge into one strided row of f32 the
 * kernel reads the tensor in place; otherwise (several rows, or f16/bf16)
 * the values are gathered row-major into an f32 scratch row first, so the
 * pairwise summation order is the same either way.
 *
 * Many result elements of enough total work are computed over the thread
 * pool, each exactly as serially (a single long reduction stays on the
 * caller).
 *
 * Integer inputs (sum, min, max, argmin, argmax) are reduced exactly in
 * 64-bit integers here, not through the float kernels. Integer sums return
 * i32 and wrap as two's complement, like add.
 */
#include <math.h>
#include <stdlib.h>

#include "ops_internal.h"

static bool int_ok(bn_op op)
{
    return op == BN_OP_SUM || op == BN_OP_MIN || op == BN_OP_MAX || op == BN_OP_ARGMIN ||
           op == BN_OP_ARGMAX;
}

typedef struct reduce_plan {
    bn_op op;
    int ddof;
    int nouter, ninner;
    int64_t oshape[BN_MAX_DIMS], ostrides[BN_MAX_DIMS];
    int64_t ishape[BN_MAX_DIMS], istrides[BN_MAX_DIMS];
    int64_t r; /* elements per reduction */
} reduce_plan;

static bn_status plan_axes(bn_op op, const bn_tensor *a, int naxes, const int *axes, bool keepdims,
                           reduce_plan *p, int *ndim_out, int64_t *shape_out)
{
    bool red[BN_MAX_DIMS] = {false};
    if (naxes < 0 || naxes > a->ndim || (naxes > 0 && axes == NULL))
        return bn_error(BN_ERR_ARG, "%s: %d axes given for a %d-d tensor", bn_op_name(op), naxes,
                        a->ndim);
    for (int i = 0; i < naxes; i++) {
        int ax;
        bn_status st = ops__axis(op, a->ndim, axes[i], &ax);
        if (st)
            return st;
        if (red[ax])
            return bn_error(BN_ERR_ARG, "%s: axis %d is repeated in the axis list", bn_op_name(op),
                            axes[i]);
        red[ax] = true;
    }
    if (naxes == 0) {
        for (int d = 0; d < a->ndim; d++)
            red[d] = true;
    }
    p->op = op;
    p->nouter = p->ninner = 0;
    p->r = 1;
    *ndim_out = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (red[d]) {
            p->ishape[p->ninner] = a->shape[d];
            p->istrides[p->ninner++] = a->strides[d];
            p->r *= a->shape[d];
            if (keepdims)
                shape_out[(*ndim_out)++] = 1;
        } else {
            p->oshape[p->nouter] = a->shape[d];
            p->ostrides[p->nouter++] = a->strides[d];
            shape_out[(*ndim_out)++] = a->shape[d];
        }
    }
    return BN_OK;
}

/* Float reduction of the r values of one result element (row x, stride sx). */
static double reduce_row(const reduce_plan *p, int64_t n, const float *x, int64_t sx)
{
    const bnk_table *k = bnk_active();
    switch (p->op) {
    case BN_OP_SUM:
        return k->sum_f32(n, x, sx);
    case BN_OP_MEAN:
        return n ? k->sum_f32(n, x, sx) / (double)n : NAN;
    case BN_OP_MIN:
        return k->min_f32(n, x, sx);
    case BN_OP_MAX:
        return k->max_f32(n, x, sx);
    case BN_OP_ARGMIN:
        return (double)k->argmin_f32(n, x, sx);
    case BN_OP_ARGMAX:
        return (double)k->argmax_f32(n, x, sx);
    case BN_OP_VAR:
    case BN_OP_STD: {
        if (n - p->ddof <= 0)
            return NAN;
        double mean = k->sum_f32(n, x, sx) / (double)n;
        double var = k->sumsqdev_f32(n, x, sx, mean) / (double)(n - p->ddof);
        return p->op == BN_OP_VAR ? var : sqrt(var);
    }
    case BN_OP_PROD:
        return k->prod_f32(n, x, sx);
    case BN_OP_NORM2:
        return sqrt(k->sumsq_f32(n, x, sx));
    default:
        BN_ASSERT(!"reduce_row: not a reduction");
        return 0;
    }
}

/* Exact integer reduction of one result element starting at buffer index base. */
static int64_t reduce_int(const reduce_plan *p, const bn_tensor *a, int64_t base)
{
    const int64_t *strides[1] = {p->istrides};
    bn_iter it;
    bn_iter_init(&it, p->ninner, p->ishape, 1, strides, &base);
    const void *ab = tensor__base(a);
    uint64_t sum = 0;
    int64_t best = 0, besti = 0, i = 0;
    while (bn_iter_next(&it)) {
        for (int64_t j = 0; j < it.inner; j++, i++) {
            int64_t v = (int64_t)tensor__load(a->dtype, ab, it.pos[0] + j * it.istride[0]);
            sum += (uint64_t)v;
            bool better =
                i == 0 || ((p->op == BN_OP_MIN || p->op == BN_OP_ARGMIN) ? v < best : v > best);
            if (better) {
                best = v;
                besti = i;
            }
        }
    }
    if (p->op == BN_OP_SUM) {
        uint32_t u = (uint32_t)sum; /* wrap to i32 */
        return u <= INT32_MAX ? (int64_t)u : (int64_t)u - 4294967296ll;
    }
    return (p->op == BN_OP_ARGMIN || p->op == BN_OP_ARGMAX) ? besti : best;
}

/* One reduction call: result elements are independent, so ranges of them
 * can run on different threads (each with its own scratch row). */
typedef struct reduce_job {
    const reduce_plan *p;
    const bn_tensor *a;
    bn_tensor *y;
    bn_dtype ydt;
    bool is_int, is_arg, in_place;
    bn_iter inner, outer; /* fresh iterators over the reduced / kept dims */
    float *scratch;       /* rlen floats per thread, or NULL */
    int64_t rlen;
} reduce_job;

/* bn_parallel_for body (also the serial path): result elements [begin, end) */
static void reduce_range(void *ctx, int64_t begin, int64_t end, int tid)
{
    const reduce_job *job = ctx;
    const reduce_plan *p = job->p;
    const int64_t *istr[1] = {p->istrides};
    void *yb = tensor__base(job->y);
    const void *ab = tensor__base(job->a);
    float *scratch = job->scratch ? job->scratch + (size_t)tid * (size_t)job->rlen : NULL;
    if (begin >= end) /* also: no result elements, where outer.inner may be 0 */
        return;
    int64_t pos, row = begin / job->outer.inner, j = begin % job->outer.inner;
    ops__iter_row(&job->outer, row, &pos);
    for (int64_t k = begin; k < end; k++, j++) {
        if (j == job->outer.inner) { /* next row of results */
            j = 0;
            ops__iter_row(&job->outer, ++row, &pos);
        }
        int64_t base = pos + j * job->outer.istride[0];
        if (job->is_int) {
            int64_t v = reduce_int(p, job->a, base);
            if (job->ydt == BN_I32)
                ((int32_t *)yb)[k] = (int32_t)v;
            else
                ((int8_t *)yb)[k] = (int8_t)v;
            continue;
        }
        double v;
        if (job->in_place) {
            v = reduce_row(p, p->r, (const float *)ab + base, job->inner.istride[0]);
        } else {
            bn_iter g;
            bn_iter_init(&g, p->ninner, p->ishape, 1, istr, &base);
            int64_t m = 0;
            while (bn_iter_next(&g)) {
                ops__load_f32(job->a->dtype, ab, g.pos[0], g.istride[0], g.inner, scratch + m);
                m += g.inner;
            }
            v = reduce_row(p, p->r, scratch, 1);
        }
        if (job->is_arg)
            ((int32_t *)yb)[k] = (int32_t)v;
        else
            tensor__store(job->ydt, yb, k, v);
    }
}

static bn_status reduce_impl(bn_op op, const bn_tensor *a, int naxes, const int *axes,
                             bool keepdims, int ddof, bn_tensor **out)
{
    BN_ASSERT(a != NULL && out != NULL);
    *out = NULL;
    bn_tensor *y = NULL;
    float *scratch = NULL;
    reduce_plan p;
    int nd = 0;
    int64_t shape[BN_MAX_DIMS];
    ops_shape_str ss;
    bn_status st = ops__check_dtype(op, a->dtype, int_ok(op));
    if (st)
        return st;
    bool is_arg = op == BN_OP_ARGMIN || op == BN_OP_ARGMAX;
    if (is_arg && naxes != 1)
        return bn_error(BN_ERR_ARG, "%s: needs exactly one axis, got %d", bn_op_name(op), naxes);
    st = plan_axes(op, a, naxes, axes, keepdims, &p, &nd, shape);
    if (st)
        return st;
    p.ddof = ddof;
    bool needs_one = op == BN_OP_MIN || op == BN_OP_MAX || is_arg;
    if (needs_one && p.r == 0)
        return bn_error(BN_ERR_SHAPE, "%s: cannot reduce an empty axis of shape %s", bn_op_name(op),
                        ops__shape(&ss, a->ndim, a->shape));
    if (is_arg && p.r > INT32_MAX)
        return bn_error(BN_ERR_OVERFLOW, "%s: axis of %lld elements exceeds the i32 index range",
                        bn_op_name(op), (long long)p.r);
    bool is_int = bn_dtype_info(a->dtype)->is_int;
    bn_dtype ydt = is_arg || (is_int && op == BN_OP_SUM) ? BN_I32 : a->dtype;
    st = ops__new_out(op, ydt, nd, shape, &y);
    if (st)
        return st;

    /* Can the reduced dims be read in place as one strided f32 row? */
    const int64_t *istr[1] = {p.istrides};
    reduce_job job = {.p = &p, .a = a, .y = y, .ydt = ydt, .is_int = is_int, .is_arg = is_arg};
    bn_iter_init(&job.inner, p.ninner, p.ishape, 1, istr, NULL);
    job.in_place = a->dtype == BN_F32 && job.inner.rows_left <= 1;
    const int64_t *ostr[1] = {p.ostrides};
    bn_iter_init(&job.outer, p.nouter, p.oshape, 1, ostr, &a->offset);
    int64_t nout = bn_tensor_numel(y);
    bool par = nout >= 2 && nout * p.r >= 2 * OPS_PAR_GRAIN;
    int nthreads = par ? bn_threads_count() : 1;
    if (!is_int && !job.in_place && nout > 0) {
        job.rlen = p.r ? p.r : 1;
        scratch = alloc__malloc((size_t)job.rlen * (size_t)nthreads * sizeof *scratch);
        if (!scratch) {
            st = bn_error(BN_ERR_OOM, "%s: cannot allocate a %lld-element scratch row",
                          bn_op_name(op), (long long)p.r);
            goto free_y;
        }
        job.scratch = scratch;
    }
    if (par) {
        int64_t grain = p.r >= OPS_PAR_GRAIN ? 1 : (OPS_PAR_GRAIN + p.r - 1) / (p.r ? p.r : 1);
        /* a pool that cannot start runs everything on the caller */
        (void)bn_parallel_for(nout, grain, reduce_range, &job);
    } else {
        reduce_range(&job, 0, nout, 0);
    }
    alloc__free(scratch);
    ops__record(op, y, y, a, NULL);
    *out = y;
    return BN_OK;

free_y:
    bn_tensor_free(y);
    return st;
}

bn_status bn_reduce(bn_op op, const bn_tensor *a, int naxes, const int *axes, bool keepdims,
                    bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if ((int)op < 0 || op >= BN_OP_COUNT || bn_op_kind_of(op) != BN_OP_KIND_REDUCE)
        return bn_error(BN_ERR_ARG, "reduce: op %d (%s) is not a reduction", (int)op,
                        (int)op >= 0 && op < BN_OP_COUNT ? bn_op_name(op) : "unknown");
    return reduce_impl(op, a, naxes, axes, keepdims, 0, out);
}

bn_status bn_reduce_var(bn_op op, const bn_tensor *a, int naxes, const int *axes, bool keepdims,
                        int ddof, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (op != BN_OP_VAR && op != BN_OP_STD)
        return bn_error(BN_ERR_ARG, "reduce_var: op %d (%s) is not var or std", (int)op,
                        (int)op >= 0 && op < BN_OP_COUNT ? bn_op_name(op) : "unknown");
    if (ddof < 0)
        return bn_error(BN_ERR_ARG, "%s: ddof must be >= 0, got %d", bn_op_name(op), ddof);
    return reduce_impl(op, a, naxes, axes, keepdims, ddof, out);
}
