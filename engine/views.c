/*
 * views.c - zero-copy views (reshape, transpose, permute, slice, narrow,
 * squeeze, unsqueeze, expand, view) and bn_contiguous.
 *
 * A view is only new geometry (shape, strides in elements, offset) over the
 * input's buffer: each function computes that geometry, checks it, and asks
 * tensor__new_view for a header holding one more buffer reference. Nothing
 * here allocates or touches data, except bn_contiguous on a non-contiguous
 * input, which copies into a new pool buffer. Every success is one event in
 * the op accounting (opstats.h); failures are not counted.
 *
 * reshape is a view whenever the strides allow it, not only for contiguous
 * inputs: the input's dims (size-1 dims ignored) fall into runs that are
 * contiguous with each other, and each run must be covered exactly by
 * consecutive output dims, which then get strides contiguous relative to the
 * run's innermost stride. That is the rule NumPy and PyTorch use.
 *
 * Packed ternary tensors are contiguous streams of blocks, so only reshape,
 * contiguous and view (which keep that) are allowed on them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "tensor_internal.h"

/* Shapes printed in messages: up to 8 dims of 20 digits each fit. */
#define SHAPE_STR 200

/* ---- shared checks ------------------------------------------------------ */

/* dim in [-ndim, ndim) -> [0, ndim); BN_ERR_ARG naming the dim and ndim. */
static bn_status norm_dim(bn_op op, int ndim, int dim, int *out)
{
    if (dim < -ndim || dim >= ndim) {
        if (ndim == 0)
            return bn_error(BN_ERR_ARG, "%s: dim %d out of range for a 0-dim tensor (no dims)",
                            bn_op_name(op), dim);
        return bn_error(BN_ERR_ARG,
                        "%s: dim %d out of range for a tensor with %d dims (valid %d..%d)",
                        bn_op_name(op), dim, ndim, -ndim, ndim - 1);
    }
    *out = dim < 0 ? dim + ndim : dim;
    return BN_OK;
}

static bn_status refuse_packed(bn_op op, const bn_tensor *t)
{
    const bn_dtype_traits *tr = bn_dtype_info(t->dtype);
    if (!tr->is_packed)
        return BN_OK;
    return bn_error(BN_ERR_DTYPE,
                    "%s: packed dtype %s allows only reshape, contiguous and view (a strided "
                    "view would split its blocks); convert to i8 first",
                    bn_op_name(op), tr->name);
}

/* Makes the view and counts it as a zero-copy op. */
static bn_status make_view(bn_op op, const bn_tensor *t, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset, bn_tensor **out)
{
    bn_status st = tensor__new_view(bn_op_name(op), t, ndim, shape, strides, offset, out);
    if (st != BN_OK)
        return st;
    bn_op_record(op, true, 0, 0);
    return BN_OK;
}

/* Contiguous for the purpose of sharing: an empty tensor always is, whatever
 * strides its other dims carry. */
static bool is_contig(const bn_tensor *t)
{
    return bn_tensor_numel(t) == 0 || bn_tensor_is_contiguous(t);
}

static void copy_geometry(const bn_tensor *t, int64_t *shape, int64_t *strides)
{
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = t->shape[i];
        strides[i] = t->strides[i];
    }
}

/* ---- reshape ------------------------------------------------------------ */

/*
 * Strides for viewing t as the shape ns (same element count > 1), or false
 * when the layout does not allow it. Walks from the innermost dim: `run_n`
 * elements of t's current contiguous run with base stride `run_s`, of which
 * `acc` are already covered by output dims.
 */
static bool reshape_strides(const bn_tensor *t, int nd, const int64_t *ns, int64_t *nstr)
{
    /* runs of t: innermost first */
    int64_t run_n[BN_MAX_DIMS], run_s[BN_MAX_DIMS];
    int nruns = 0;
    int64_t prev_stride = 0, prev_size = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 1)
            continue;
        if (nruns > 0 && t->strides[d] == prev_stride * prev_size) {
            run_n[nruns - 1] *= t->shape[d];
        } else {
            run_n[nruns] = t->shape[d];
            run_s[nruns] = t->strides[d];
            nruns++;
        }
        prev_stride = t->strides[d];
        prev_size = t->shape[d];
    }
    int r = 0;
    int64_t acc = 1;
    for (int j = nd - 1; j >= 0; j--) {
        if (ns[j] != 1 && acc == run_n[r]) { /* this run is covered: open the next */
            r++;
            acc = 1;
        }
        BN_ASSERT(r < nruns); /* equal element counts guarantee a run is left */
        nstr[j] = acc * run_s[r];
        if (ns[j] == 1)
            continue;
        acc *= ns[j];
        if (acc > run_n[r] || run_n[r] % acc != 0)
            return false; /* this output dim would straddle two runs */
    }
    return true;
}

bn_status bn_reshape(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    char s1[SHAPE_STR], s2[SHAPE_STR], s3[SHAPE_STR];
    if (ndim < 0 || ndim > BN_MAX_DIMS)
        return bn_error(BN_ERR_ARG, "reshape: ndim %d out of range [0, %d]", ndim, BN_MAX_DIMS);
    if (ndim > 0 && shape == NULL)
        return bn_error(BN_ERR_ARG, "reshape: shape is NULL with ndim %d", ndim);

    /* resolve one -1 */
    int64_t ns[BN_MAX_DIMS];
    int infer = -1;
    int64_t known;
    for (int i = 0; i < ndim; i++) {
        ns[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0)
                return bn_error(BN_ERR_ARG,
                                "reshape: shape %s has more than one -1 (dims %d and %d)",
                                bn_shape_str(ndim, shape, s1, sizeof s1), infer, i);
            infer = i;
            continue;
        }
        if (shape[i] < 0)
            return bn_error(BN_ERR_ARG,
                            "reshape: dim %d of shape %s is %" PRId64
                            "; sizes must be >= 0 (or -1 to infer one)",
                            i, bn_shape_str(ndim, shape, s1, sizeof s1), shape[i]);
    }
    /* the product of the given dims (the -1 counted as 1) must fit */
    if (infer >= 0)
        ns[infer] = 1;
    bn_status st = tensor__check_shape("reshape", ndim, ns, &known);
    if (st != BN_OK) /* named with the caller's -1, not the 1 counted for it */
        return infer < 0 ? st
                         : bn_error(st, "reshape: element count of shape %s overflows",
                                    bn_shape_str(ndim, shape, s1, sizeof s1));
    int64_t numel = bn_tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return bn_error(BN_ERR_SHAPE,
                            "reshape: cannot reshape %s (%" PRId64
                            " elements) into %s: the -1 cannot be inferred",
                            bn_shape_str(t->ndim, t->shape, s1, sizeof s1), numel,
                            bn_shape_str(ndim, shape, s2, sizeof s2));
        ns[infer] = numel / known;
        known = numel;
    }
    if (known != numel)
        return bn_error(BN_ERR_SHAPE,
                        "reshape: cannot reshape %s (%" PRId64 " elements) into %s (%" PRId64
                        " elements)",
                        bn_shape_str(t->ndim, t->shape, s1, sizeof s1), numel,
                        bn_shape_str(ndim, ns, s2, sizeof s2), known);

    int64_t nstr[BN_MAX_DIMS];
    if (is_contig(t)) {
        bn_contiguous_strides(ndim, ns, nstr);
    } else if (!reshape_strides(t, ndim, ns, nstr)) {
        return bn_error(BN_ERR_NOT_CONTIGUOUS,
                        "reshape: cannot view %s with strides %s as %s without copying; call "
                        "bn_contiguous first and reshape its result",
                        bn_shape_str(t->ndim, t->shape, s1, sizeof s1),
                        bn_shape_str(t->ndim, t->strides, s3, sizeof s3),
                        bn_shape_str(ndim, ns, s2, sizeof s2));
    }
    return make_view(BN_OP_RESHAPE, t, ndim, ns, nstr, t->offset, out);
}

/* ---- dim reordering ----------------------------------------------------- */

bn_status bn_transpose(const bn_tensor *t, int dim0, int dim1, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int d0, d1;
    bn_status st = refuse_packed(BN_OP_TRANSPOSE, t);
    if (st == BN_OK)
        st = norm_dim(BN_OP_TRANSPOSE, t->ndim, dim0, &d0);
    if (st == BN_OK)
        st = norm_dim(BN_OP_TRANSPOSE, t->ndim, dim1, &d1);
    if (st != BN_OK)
        return st;
    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    copy_geometry(t, shape, strides);
    shape[d0] = t->shape[d1];
    strides[d0] = t->strides[d1];
    shape[d1] = t->shape[d0];
    strides[d1] = t->strides[d0];
    return make_view(BN_OP_TRANSPOSE, t, t->ndim, shape, strides, t->offset, out);
}

bn_status bn_permute(const bn_tensor *t, const int *perm, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL && (perm != NULL || t->ndim == 0));
    *out = NULL;
    bn_status st = refuse_packed(BN_OP_PERMUTE, t);
    if (st != BN_OK)
        return st;
    char ps[BN_MAX_DIMS * 12 + 4];
    size_t len = 0;
    ps[len++] = '[';
    for (int i = 0; i < t->ndim; i++)
        len += (size_t)snprintf(ps + len, sizeof ps - len, i ? ",%d" : "%d", perm[i]);
    snprintf(ps + len, sizeof ps - len, "]");

    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    bool used[BN_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        int d;
        if (perm[i] < -t->ndim || perm[i] >= t->ndim)
            return bn_error(BN_ERR_ARG,
                            "permute: perm %s entry %d is %d, out of range for a tensor with %d "
                            "dims (valid %d..%d)",
                            ps, i, perm[i], t->ndim, -t->ndim, t->ndim - 1);
        d = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
        if (used[d])
            return bn_error(BN_ERR_ARG,
                            "permute: perm %s repeats dim %d; it must name each of 0..%d once", ps,
                            d, t->ndim - 1);
        used[d] = true;
        shape[i] = t->shape[d];
        strides[i] = t->strides[d];
    }
    return make_view(BN_OP_PERMUTE, t, t->ndim, shape, strides, t->offset, out);
}

/* ---- sub-ranges --------------------------------------------------------- */

bn_status bn_slice(const bn_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                   bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int d;
    bn_status st = refuse_packed(BN_OP_SLICE, t);
    if (st == BN_OK)
        st = norm_dim(BN_OP_SLICE, t->ndim, dim, &d);
    if (st != BN_OK)
        return st;
    if (step < 1)
        return bn_error(BN_ERR_ARG, "slice: step %" PRId64 " on dim %d must be >= 1", step, dim);
    int64_t n = t->shape[d];
    /* Python: negative bounds count from the end, then clamp to [0, n] */
    if (start < 0)
        start = start < -n ? 0 : start + n;
    else if (start > n)
        start = n;
    if (stop < 0)
        stop = stop < -n ? 0 : stop + n;
    else if (stop > n)
        stop = n;
    int64_t len = stop > start ? (stop - start - 1) / step + 1 : 0;

    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    copy_geometry(t, shape, strides);
    int64_t offset = t->offset;
    shape[d] = len;
    if (len > 0)
        offset += start * t->strides[d];
    if (len > 1) /* then step < n, so the product stays inside the buffer's range */
        strides[d] = t->strides[d] * step;
    return make_view(BN_OP_SLICE, t, t->ndim, shape, strides, offset, out);
}

bn_status bn_narrow(const bn_tensor *t, int dim, int64_t start, int64_t length, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int d;
    bn_status st = refuse_packed(BN_OP_NARROW, t);
    if (st == BN_OK)
        st = norm_dim(BN_OP_NARROW, t->ndim, dim, &d);
    if (st != BN_OK)
        return st;
    int64_t n = t->shape[d];
    if (start < -n || start > n)
        return bn_error(BN_ERR_ARG,
                        "narrow: start %" PRId64 " out of range for dim %d of size %" PRId64, start,
                        dim, n);
    if (start < 0)
        start += n;
    if (length < 0 || length > n - start)
        return bn_error(BN_ERR_ARG,
                        "narrow: start %" PRId64 " + length %" PRId64
                        " does not fit dim %d of size %" PRId64,
                        start, length, dim, n);
    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    copy_geometry(t, shape, strides);
    shape[d] = length;
    int64_t offset = t->offset + (length > 0 ? start * t->strides[d] : 0);
    return make_view(BN_OP_NARROW, t, t->ndim, shape, strides, offset, out);
}

/* ---- size-1 dims -------------------------------------------------------- */

bn_status bn_squeeze(const bn_tensor *t, int dim, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int d;
    bn_status st = refuse_packed(BN_OP_SQUEEZE, t);
    if (st == BN_OK)
        st = norm_dim(BN_OP_SQUEEZE, t->ndim, dim, &d);
    if (st != BN_OK)
        return st;
    if (t->shape[d] != 1) {
        char s[SHAPE_STR];
        return bn_error(BN_ERR_SHAPE, "squeeze: dim %d of %s has size %" PRId64 ", not 1", dim,
                        bn_shape_str(t->ndim, t->shape, s, sizeof s), t->shape[d]);
    }
    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == d)
            continue;
        shape[n] = t->shape[i];
        strides[n] = t->strides[i];
        n++;
    }
    return make_view(BN_OP_SQUEEZE, t, n, shape, strides, t->offset, out);
}

bn_status bn_squeeze_all(const bn_tensor *t, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    bn_status st = refuse_packed(BN_OP_SQUEEZE, t);
    if (st != BN_OK)
        return st;
    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 1)
            continue;
        shape[n] = t->shape[i];
        strides[n] = t->strides[i];
        n++;
    }
    return make_view(BN_OP_SQUEEZE, t, n, shape, strides, t->offset, out);
}

bn_status bn_unsqueeze(const bn_tensor *t, int dim, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int d;
    bn_status st = refuse_packed(BN_OP_UNSQUEEZE, t);
    if (st == BN_OK)
        st = norm_dim(BN_OP_UNSQUEEZE, t->ndim + 1, dim, &d);
    if (st != BN_OK)
        return st;
    if (t->ndim == BN_MAX_DIMS)
        return bn_error(BN_ERR_ARG, "unsqueeze: tensor already has %d dims, the maximum",
                        BN_MAX_DIMS);
    int64_t shape[BN_MAX_DIMS], strides[BN_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++) {
        if (i == d) {
            shape[i] = 1;
            /* any stride serves a size-1 dim; this one keeps contiguous inputs canonical */
            strides[i] = d < t->ndim ? t->shape[d] * t->strides[d] : 1;
            continue;
        }
        shape[i] = t->shape[j];
        strides[i] = t->strides[j];
        j++;
    }
    return make_view(BN_OP_UNSQUEEZE, t, t->ndim + 1, shape, strides, t->offset, out);
}

/* ---- broadcasting ------------------------------------------------------- */

static bn_status expand_as(bn_op op, const bn_tensor *t, int ndim, const int64_t *shape,
                           bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    char s1[SHAPE_STR], s2[SHAPE_STR];
    const char *name = bn_op_name(op);
    bn_status st = refuse_packed(op, t);
    if (st != BN_OK)
        return st;
    if (ndim < 0 || ndim > BN_MAX_DIMS)
        return bn_error(BN_ERR_ARG, "%s: ndim %d out of range [0, %d]", name, ndim, BN_MAX_DIMS);
    if (ndim > 0 && shape == NULL)
        return bn_error(BN_ERR_ARG, "%s: shape is NULL with ndim %d", name, ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return bn_error(BN_ERR_ARG, "%s: dim %d of target %s is negative", name, i,
                            bn_shape_str(ndim, shape, s1, sizeof s1));
    int64_t numel;
    st = tensor__check_shape(name, ndim, shape, &numel);
    if (st != BN_OK)
        return st;
    if (ndim < t->ndim)
        return bn_error(BN_ERR_SHAPE, "%s: cannot expand %s to %s: fewer dims than the tensor",
                        name, bn_shape_str(t->ndim, t->shape, s1, sizeof s1),
                        bn_shape_str(ndim, shape, s2, sizeof s2));
    int64_t strides[BN_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        if (j < 0) {
            strides[i] = 0;
        } else if (t->shape[j] == shape[i]) {
            strides[i] = t->strides[j];
        } else if (t->shape[j] == 1) {
            strides[i] = 0;
        } else {
            return bn_error(BN_ERR_SHAPE,
                            "%s: cannot expand %s to %s: dim %d has size %" PRId64
                            ", which is neither %" PRId64 " nor 1",
                            name, bn_shape_str(t->ndim, t->shape, s1, sizeof s1),
                            bn_shape_str(ndim, shape, s2, sizeof s2), j, t->shape[j], shape[i]);
        }
    }
    return make_view(op, t, ndim, shape, strides, t->offset, out);
}

bn_status bn_expand(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out)
{
    return expand_as(BN_OP_EXPAND, t, ndim, shape, out);
}

bn_status bn_broadcast_to(const bn_tensor *t, int ndim, const int64_t *shape, bn_tensor **out)
{
    return expand_as(BN_OP_EXPAND, t, ndim, shape, out);
}

bn_status bn_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb, const int64_t *sb,
                              int *nout, int64_t *out)
{
    BN_ASSERT(nout != NULL && out != NULL);
    if (op == NULL)
        op = "broadcast";
    if (na < 0 || na > BN_MAX_DIMS || nb < 0 || nb > BN_MAX_DIMS)
        return bn_error(BN_ERR_ARG, "%s: ndim %d and %d must both be in [0, %d]", op, na, nb,
                        BN_MAX_DIMS);
    BN_ASSERT((sa != NULL || na == 0) && (sb != NULL || nb == 0));
    char s1[SHAPE_STR], s2[SHAPE_STR];
    int n = na > nb ? na : nb;
    int64_t res[BN_MAX_DIMS];
    for (int i = 0; i < n; i++) { /* i counts from the right */
        int64_t a = i < na ? sa[na - 1 - i] : 1;
        int64_t b = i < nb ? sb[nb - 1 - i] : 1;
        if (a < 0 || b < 0)
            return bn_error(BN_ERR_ARG, "%s: negative size in %s or %s", op,
                            bn_shape_str(na, sa, s1, sizeof s1),
                            bn_shape_str(nb, sb, s2, sizeof s2));
        if (a == b || b == 1)
            res[n - 1 - i] = a;
        else if (a == 1)
            res[n - 1 - i] = b;
        else
            return bn_error(BN_ERR_SHAPE, "%s: cannot broadcast %s with %s", op,
                            bn_shape_str(na, sa, s1, sizeof s1),
                            bn_shape_str(nb, sb, s2, sizeof s2));
    }
    int64_t numel;
    bn_status st = tensor__check_shape(op, n, res, &numel);
    if (st != BN_OK)
        return st;
    *nout = n;
    memcpy(out, res, (size_t)n * sizeof *out);
    return BN_OK;
}

void bn_broadcast_strides(const bn_tensor *t, int n, const int64_t *shape, int64_t *strides)
{
    BN_ASSERT(t != NULL && strides != NULL && n >= t->ndim && n <= BN_MAX_DIMS);
    (void)shape;
    int lead = n - t->ndim;
    for (int i = 0; i < n; i++) {
        int j = i - lead;
        strides[i] = (j < 0 || t->shape[j] == 1) ? 0 : t->strides[j];
    }
}

/* ---- contiguous and view ------------------------------------------------ */

bn_status bn_contiguous(const bn_tensor *t, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    int64_t cs[BN_MAX_DIMS];
    bn_contiguous_strides(t->ndim, t->shape, cs);
    if (is_contig(t))
        return make_view(BN_OP_CONTIGUOUS, t, t->ndim, t->shape, cs, t->offset, out);
    const bn_dtype_traits *tr = bn_dtype_info(t->dtype);
    if (tr->is_packed) /* cannot happen through views.h; a strided packed tensor is malformed */
        return bn_error(BN_ERR_DTYPE, "contiguous: packed dtype %s tensor is not contiguous",
                        tr->name);
    bn_tensor *c = NULL;
    bn_status st = bn_tensor_empty(t->dtype, t->ndim, t->shape, &c);
    if (st != BN_OK)
        return st;
    size_t esz = tr->block_bytes;
    const char *src = tensor__base(t);
    char *dst = tensor__base(c);
    const int64_t *strides[1] = {t->strides};
    bn_iter it;
    bn_iter_init(&it, t->ndim, t->shape, 1, strides, &t->offset);
    size_t k = 0;
    while (bn_iter_next(&it)) {
        if (it.istride[0] == 1) {
            memcpy(dst + k, src + (size_t)it.pos[0] * esz, (size_t)it.inner * esz);
            k += (size_t)it.inner * esz;
            continue;
        }
        for (int64_t j = 0; j < it.inner; j++, k += esz)
            memcpy(dst + k, src + (size_t)(it.pos[0] + j * it.istride[0]) * esz, esz);
    }
    bn_op_record(BN_OP_CONTIGUOUS, false, k, k);
    *out = c;
    return BN_OK;
}

bn_status bn_view(const bn_tensor *t, bn_tensor **out)
{
    BN_ASSERT(t != NULL && out != NULL);
    *out = NULL;
    return make_view(BN_OP_VIEW, t, t->ndim, t->shape, t->strides, t->offset, out);
}
