/*
 * tensor.c - tensor headers, reference-counted buffers, creation, element
 * access and the strided iterator.
 *
 * Buffers hold data from the default pool (pool.h) or wrap user memory with
 * an optional release callback. The buffer header itself comes from malloc:
 * it is bookkeeping, not data, so views and the pool's statistics never see
 * it (through alloc__malloc, so tests can fail it and count it). The reference count is atomic; the
 * last bn_tensor_free of any view releases the data.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "tensor_internal.h"

struct bn_buffer {
    _Atomic int64_t refs;
    void *data;
    size_t nbytes;
    bn_pool *pool;      /* owner of data, or NULL for wrapped memory */
    bn_free_fn free_fn; /* wrapped memory: called on release when non-NULL */
    void *ctx;
};

static void buffer_release(bn_buffer *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->pool)
        bn_pool_free(b->pool, b->data);
    else if (b->free_fn)
        b->free_fn(b->data, b->ctx);
    alloc__free(b);
}

bn_status tensor__check_shape(const char *op, int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > BN_MAX_DIMS)
        return bn_error(BN_ERR_ARG, "%s: ndim %d out of range [0, %d]", op, ndim, BN_MAX_DIMS);
    if (ndim > 0 && shape == NULL)
        return bn_error(BN_ERR_ARG, "%s: shape is NULL with ndim %d", op, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return bn_error(BN_ERR_ARG, "%s: dim %d has negative size %lld", op, i,
                            (long long)shape[i]);
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) {
            char s[160];
            return bn_error(BN_ERR_OVERFLOW, "%s: element count of shape %s overflows", op,
                            bn_shape_str(ndim, shape, s, sizeof s));
        }
        n *= shape[i];
    }
    *numel = n;
    return BN_OK;
}

int64_t bn_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        if (shape[i] != 0 && s > INT64_MAX / shape[i])
            return -1;
        s *= shape[i];
    }
    return s;
}

char *bn_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

static bn_tensor *header_new(bn_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                             int64_t offset, bn_buffer *buf)
{
    bn_tensor *t = alloc__calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < BN_MAX_DIMS; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        t->strides[i] = i < ndim ? strides[i] : 0;
    }
    t->offset = offset;
    t->buf = buf;
    t->device = BN_DEVICE_CPU;
    return t;
}

bn_status tensor__new_view(const char *op, const bn_tensor *src, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset, bn_tensor **out)
{
    BN_ASSERT(src != NULL && out != NULL && ndim >= 0 && ndim <= BN_MAX_DIMS);
    *out = NULL;
    int64_t numel;
    bn_status st = tensor__check_shape(op, ndim, shape, &numel);
    if (st != BN_OK)
        return st;
    *out = header_new(src->dtype, ndim, shape, strides, offset, src->buf);
    if (!*out)
        return bn_error(BN_ERR_OOM, "view: cannot allocate a tensor header");
    atomic_fetch_add_explicit(&src->buf->refs, 1, memory_order_relaxed);
    (*out)->device = src->device;
    return BN_OK;
}

bn_status bn_tensor_empty(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (!bn_dtype_valid((int)dt))
        return bn_error(BN_ERR_DTYPE, "empty: unknown dtype %d", (int)dt);
    int64_t numel;
    bn_status st = tensor__check_shape("empty", ndim, shape, &numel);
    if (st)
        return st;
    size_t nbytes;
    st = bn_dtype_nbytes(dt, numel, &nbytes);
    if (st)
        return st;
    int64_t strides[BN_MAX_DIMS];
    bn_contiguous_strides(ndim, shape, strides);

    bn_buffer *b = alloc__malloc(sizeof *b);
    if (!b)
        return bn_error(BN_ERR_OOM, "empty: cannot allocate a buffer header");
    b->pool = bn_pool_default();
    if (!b->pool) {
        st = BN_ERR_OOM;
        goto free_header;
    }
    b->data = bn_pool_alloc(b->pool, nbytes ? nbytes : 1, 0);
    if (!b->data) {
        char s[160];
        st = bn_error(BN_ERR_OOM, "empty: cannot allocate %zu bytes for %s tensor %s", nbytes,
                      bn_dtype_name(dt), bn_shape_str(ndim, shape, s, sizeof s));
        goto free_header;
    }
    /* Packed types: every code starts as the value 0 (t2 0b01 x4, t1.6
     * 1+3+9+27+81), so a final partial block never holds an invalid code. */
    if (dt == BN_T2)
        memset(b->data, 0x55, nbytes);
    else if (dt == BN_T1_6)
        memset(b->data, 121, nbytes);
    b->nbytes = nbytes;
    b->free_fn = NULL;
    b->ctx = NULL;
    atomic_init(&b->refs, 1);
    *out = header_new(dt, ndim, shape, strides, 0, b);
    if (!*out) {
        st = bn_error(BN_ERR_OOM, "empty: cannot allocate a tensor header");
        goto free_data;
    }
    return BN_OK;

free_data:
    bn_pool_free(b->pool, b->data);
free_header:
    alloc__free(b);
    return st;
}

static bn_status fill(bn_tensor *t, double v)
{
    int64_t n = bn_tensor_numel(t);
    void *base = tensor__base(t);
    if (t->dtype == BN_F32) {
        float f = (float)v, *p = base;
        for (int64_t i = 0; i < n; i++)
            p[i] = f;
        return BN_OK;
    }
    for (int64_t i = 0; i < n; i++)
        tensor__store(t->dtype, base, i, v);
    return BN_OK;
}

bn_status bn_tensor_full(bn_dtype dt, int ndim, const int64_t *shape, double value, bn_tensor **out)
{
    bn_status st = bn_tensor_empty(dt, ndim, shape, out);
    if (st)
        return st;
    return fill(*out, value);
}

bn_status bn_tensor_zeros(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out)
{
    return bn_tensor_full(dt, ndim, shape, 0.0, out);
}

bn_status bn_tensor_ones(bn_dtype dt, int ndim, const int64_t *shape, bn_tensor **out)
{
    return bn_tensor_full(dt, ndim, shape, 1.0, out);
}

bn_status bn_tensor_arange(bn_dtype dt, double start, double stop, double step, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(stop))
        return bn_error(BN_ERR_ARG, "arange: start %g, stop %g, step %g must be finite, step != 0",
                        start, stop, step);
    double cnt = ceil((stop - start) / step);
    if (cnt < 0)
        cnt = 0;
    if (cnt > 9.0e15)
        return bn_error(BN_ERR_OVERFLOW, "arange: %g elements is too many", cnt);
    int64_t n = (int64_t)cnt;
    bn_status st = bn_tensor_empty(dt, 1, &n, out);
    if (st)
        return st;
    void *base = tensor__base(*out);
    for (int64_t i = 0; i < n; i++)
        tensor__store(dt, base, i, start + (double)i * step);
    return BN_OK;
}

bn_status bn_tensor_rand(bn_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                         bn_rand_dist dist, double a, double b, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (dist == BN_RAND_UNIFORM && !(a <= b))
        return bn_error(BN_ERR_ARG, "rand: uniform bounds need a <= b, got [%g, %g)", a, b);
    if (dist == BN_RAND_NORMAL && !(b >= 0))
        return bn_error(BN_ERR_ARG, "rand: normal standard deviation must be >= 0, got %g", b);
    if (dist == BN_RAND_TERNARY && !(a >= 0 && a <= 1))
        return bn_error(BN_ERR_ARG, "rand: ternary P(0) must be in [0, 1], got %g", a);
    if (dist != BN_RAND_UNIFORM && dist != BN_RAND_NORMAL && dist != BN_RAND_TERNARY)
        return bn_error(BN_ERR_ARG, "rand: unknown distribution %d", (int)dist);
    bn_status st = bn_tensor_empty(dt, ndim, shape, out);
    if (st)
        return st;
    bn_rng r;
    bn_rng_seed(&r, seed);
    int64_t n = bn_tensor_numel(*out);
    void *base = tensor__base(*out);
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (dist == BN_RAND_UNIFORM) {
            v = a + (b - a) * bn_rng_unit(&r);
        } else if (dist == BN_RAND_NORMAL) {
            /* Box-Muller, one value per pair of uniforms (keeps i -> value simple) */
            double u1 = 1.0 - bn_rng_unit(&r), u2 = bn_rng_unit(&r);
            v = a + b * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        } else {
            uint64_t bits = bn_rng_next(&r);
            v = (double)(bits >> 11) * 0x1.0p-53 < a ? 0.0 : ((bits & 1) ? 1.0 : -1.0);
        }
        tensor__store(dt, base, i, v);
    }
    return BN_OK;
}

bn_status bn_tensor_from_data(bn_dtype dt, int ndim, const int64_t *shape, const void *data,
                              bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (data == NULL)
        return bn_error(BN_ERR_ARG, "from_data: data is NULL");
    bn_status st = bn_tensor_empty(dt, ndim, shape, out);
    if (st)
        return st;
    memcpy(tensor__base(*out), data, (*out)->buf->nbytes);
    return BN_OK;
}

bn_status bn_tensor_wrap(bn_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                         void *data, size_t nbytes, bn_free_fn free_fn, void *ctx, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (!bn_dtype_valid((int)dt))
        return bn_error(BN_ERR_DTYPE, "wrap: unknown dtype %d", (int)dt);
    if (data == NULL)
        return bn_error(BN_ERR_ARG, "wrap: data is NULL");
    int64_t numel;
    bn_status st = tensor__check_shape("wrap", ndim, shape, &numel);
    if (st)
        return st;
    int64_t cs[BN_MAX_DIMS];
    bn_contiguous_strides(ndim, shape, cs);
    const bn_dtype_traits *tr = bn_dtype_info(dt);
    if (strides && tr->is_packed)
        return bn_error(BN_ERR_DTYPE, "wrap: packed dtype %s must be contiguous (strides NULL)",
                        tr->name);
    /* highest element index reached, checked against nbytes */
    size_t need = 0;
    if (numel > 0) {
        int64_t last = 0;
        for (int i = 0; i < ndim; i++) {
            int64_t s = strides ? strides[i] : cs[i];
            if (s < 0)
                return bn_error(BN_ERR_ARG, "wrap: negative stride %lld on dim %d", (long long)s,
                                i);
            if (shape[i] > 1 && s > (INT64_MAX - last) / (shape[i] - 1))
                return bn_error(BN_ERR_OVERFLOW, "wrap: strides overflow");
            last += (shape[i] - 1) * s;
        }
        st = bn_dtype_nbytes(dt, last + 1, &need);
        if (st)
            return st;
    }
    if (need > nbytes)
        return bn_error(BN_ERR_ARG, "wrap: shape and strides reach %zu bytes but only %zu given",
                        need, nbytes);
    bn_buffer *b = alloc__malloc(sizeof *b);
    if (!b)
        return bn_error(BN_ERR_OOM, "wrap: cannot allocate a buffer header");
    b->data = data;
    b->nbytes = nbytes;
    b->pool = NULL;
    b->free_fn = free_fn;
    b->ctx = ctx;
    atomic_init(&b->refs, 1);
    *out = header_new(dt, ndim, shape, strides ? strides : cs, 0, b);
    if (!*out) {
        alloc__free(b);
        return bn_error(BN_ERR_OOM, "wrap: cannot allocate a tensor header");
    }
    return BN_OK;
}

void bn_tensor_free(bn_tensor *t)
{
    if (!t)
        return;
    buffer_release(t->buf);
    alloc__free(t);
}

int64_t bn_tensor_numel(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

bool bn_tensor_is_contiguous(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    if (bn_tensor_numel(t) == 0)
        return true; /* no element to place: any strides are contiguous */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s)
            return false;
        s *= t->shape[i];
    }
    return true;
}

void *tensor__base(const bn_tensor *t)
{
    return t->buf->data;
}

void *bn_tensor_data(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    const bn_dtype_traits *tr = bn_dtype_info(t->dtype);
    char *base = t->buf->data;
    if (tr->is_packed)
        return base + (size_t)(t->offset / tr->block) * tr->block_bytes;
    return base + (size_t)t->offset * tr->block_bytes;
}

bool bn_tensor_shares_buffer(const bn_tensor *a, const bn_tensor *b)
{
    BN_ASSERT(a != NULL && b != NULL);
    return a->buf == b->buf;
}

const void *bn_tensor_buffer_id(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    return t->buf;
}

size_t bn_tensor_buffer_bytes(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    return t->buf->nbytes;
}

int64_t bn_tensor_buffer_refcount(const bn_tensor *t)
{
    BN_ASSERT(t != NULL);
    return atomic_load(&t->buf->refs);
}

static double clamp_round(double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    v = nearbyint(v);
    return v < lo ? lo : v > hi ? hi : v;
}

double tensor__load(bn_dtype dt, const void *base, int64_t i)
{
    switch (dt) {
    case BN_F32:
        return ((const float *)base)[i];
    case BN_F16:
        return bn_f16_to_f32(((const uint16_t *)base)[i]);
    case BN_BF16:
        return bn_bf16_to_f32(((const uint16_t *)base)[i]);
    case BN_I8:
        return ((const int8_t *)base)[i];
    case BN_I32:
        return ((const int32_t *)base)[i];
    case BN_F64:
        return ((const double *)base)[i];
    default: {
        float f;
        bn_dtype_info(dt)->to_f32(base, i, &f, 1);
        return f;
    }
    }
}

void tensor__store(bn_dtype dt, void *base, int64_t i, double v)
{
    switch (dt) {
    case BN_F32:
        ((float *)base)[i] = (float)v;
        break;
    case BN_F16:
        ((uint16_t *)base)[i] = bn_f32_to_f16((float)v);
        break;
    case BN_BF16:
        ((uint16_t *)base)[i] = bn_f32_to_bf16((float)v);
        break;
    case BN_I8:
        ((int8_t *)base)[i] = (int8_t)clamp_round(v, -128, 127);
        break;
    case BN_I32:
        ((int32_t *)base)[i] = (int32_t)clamp_round(v, -2147483648.0, 2147483647.0);
        break;
    case BN_F64:
        ((double *)base)[i] = v;
        break;
    default: {
        float f = (float)clamp_round(v, -1, 1);
        bn_dtype_info(dt)->from_f32(&f, base, i, 1);
        break;
    }
    }
}

static int64_t index_of(const bn_tensor *t, const int64_t *idx)
{
    int64_t e = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        BN_ASSERT(idx[d] >= 0 && idx[d] < t->shape[d]);
        e += idx[d] * t->strides[d];
    }
    return e;
}

int64_t tensor__flat_index(const bn_tensor *t, int64_t i)
{
    int64_t e = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        e += (i % n) * t->strides[d];
        i /= n;
    }
    return e;
}

double bn_tensor_get(const bn_tensor *t, const int64_t *idx)
{
    BN_ASSERT(t != NULL && (idx != NULL || t->ndim == 0));
    return tensor__load(t->dtype, t->buf->data, index_of(t, idx));
}

void bn_tensor_set(bn_tensor *t, const int64_t *idx, double value)
{
    BN_ASSERT(t != NULL && (idx != NULL || t->ndim == 0));
    tensor__store(t->dtype, t->buf->data, index_of(t, idx), value);
}

double bn_tensor_get_flat(const bn_tensor *t, int64_t i)
{
    BN_ASSERT(t != NULL && i >= 0 && i < bn_tensor_numel(t));
    return tensor__load(t->dtype, t->buf->data, tensor__flat_index(t, i));
}

void bn_tensor_set_flat(bn_tensor *t, int64_t i, double value)
{
    BN_ASSERT(t != NULL && i >= 0 && i < bn_tensor_numel(t));
    tensor__store(t->dtype, t->buf->data, tensor__flat_index(t, i), value);
}

bn_status bn_tensor_to_f32(const bn_tensor *t, float *dst, int64_t n)
{
    BN_ASSERT(t != NULL && (dst != NULL || n == 0));
    int64_t numel = bn_tensor_numel(t);
    if (n < numel)
        return bn_error(BN_ERR_ARG, "to_f32: destination holds %lld elements, tensor has %lld",
                        (long long)n, (long long)numel);
    const bn_dtype_traits *tr = bn_dtype_info(t->dtype);
    if (bn_tensor_is_contiguous(t)) {
        tr->to_f32(t->buf->data, t->offset, dst, numel);
        return BN_OK;
    }
    const int64_t *strides[1] = {t->strides};
    bn_iter it;
    bn_iter_init(&it, t->ndim, t->shape, 1, strides, &t->offset);
    int64_t k = 0;
    while (bn_iter_next(&it)) {
        for (int64_t j = 0; j < it.inner; j++)
            dst[k++] = (float)tensor__load(t->dtype, t->buf->data, it.pos[0] + j * it.istride[0]);
    }
    return BN_OK;
}

/* ---- iterator ------------------------------------------------------------ */

void bn_iter_init(bn_iter *it, int ndim, const int64_t *shape, int nops,
                  const int64_t *const *strides, const int64_t *offsets)
{
    BN_ASSERT(it != NULL && nops >= 1 && nops <= BN_ITER_MAX_OPS && ndim >= 0 &&
              ndim <= BN_MAX_DIMS);
    memset(it, 0, sizeof *it);
    it->nops = nops;
    /* Drop size-1 dims, then merge neighbours that are contiguous for every
     * operand, so the innermost row is as long as the layouts allow. */
    int n = 0;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
        if (shape[d] == 1)
            continue;
        it->shape[n] = shape[d];
        for (int k = 0; k < nops; k++)
            it->strides[k][n] = strides[k][d];
        n++;
    }
    int m = 0;
    for (int d = 0; d < n; d++) {
        if (m > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (it->strides[k][m - 1] != it->strides[k][d] * it->shape[d])
                    merge = false;
            if (merge) {
                it->shape[m - 1] *= it->shape[d];
                for (int k = 0; k < nops; k++)
                    it->strides[k][m - 1] = it->strides[k][d];
                continue;
            }
        }
        it->shape[m] = it->shape[d];
        for (int k = 0; k < nops; k++)
            it->strides[k][m] = it->strides[k][d];
        m++;
    }
    it->ndim = m;
    for (int k = 0; k < nops; k++) {
        it->base[k] = offsets ? offsets[k] : 0;
        it->pos[k] = it->base[k];
        it->istride[k] = m ? it->strides[k][m - 1] : 0;
    }
    it->inner = m ? it->shape[m - 1] : 1;
    it->rows_left = numel == 0 ? 0 : numel / it->inner;
    it->started = false;
}

bool bn_iter_next(bn_iter *it)
{
    if (it->rows_left <= 0)
        return false;
    if (!it->started) {
        it->started = true;
        it->rows_left--;
        return true;
    }
    for (int d = it->ndim - 2; d >= 0; d--) {
        if (++it->idx[d] < it->shape[d]) {
            for (int k = 0; k < it->nops; k++)
                it->pos[k] += it->strides[k][d];
            break;
        }
        it->idx[d] = 0;
        for (int k = 0; k < it->nops; k++)
            it->pos[k] -= it->strides[k][d] * (it->shape[d] - 1);
    }
    it->rows_left--;
    return true;
}
