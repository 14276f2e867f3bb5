/*
 * test_views.c - zero-copy views, reshape legality, broadcasting and
 * bn_contiguous.
 *
 * Base tensors are f32 aranges, so an element's value is its index in the
 * buffer and every read of a view says exactly which buffer element it
 * reached. Expected values come from index arithmetic written out per test,
 * or (for the random chains) from a reference model that materialises each
 * step by copying an explicit array of buffer indices; reshape legality is
 * checked against an oracle that asks whether the reference array is an
 * affine function of its index (only then can a strided view express it).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"

/* ---- helpers ------------------------------------------------------------ */

static bn_tensor *arange(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    bn_tensor *a, *r;
    cr_assert_eq(bn_tensor_arange(BN_F32, 0, (double)n, 1, &a), BN_OK);
    cr_assert_eq(bn_reshape(a, ndim, shape, &r), BN_OK, "%s", bn_last_error());
    bn_tensor_free(a);
    return r;
}

/* Next row-major multi-index of shape; false after the last. */
static bool next_index(int ndim, const int64_t *shape, int64_t *idx)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (++idx[d] < shape[d])
            return true;
        idx[d] = 0;
    }
    return false;
}

static int64_t numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

typedef double (*expect_fn)(const int64_t *idx);

/* Every element of v (by multi-index, by flat index, and through a
 * contiguous copy) equals expect(idx). */
static void check_all(const bn_tensor *v, expect_fn expect)
{
    int64_t idx[BN_MAX_DIMS] = {0};
    int64_t n = bn_tensor_numel(v), k = 0;
    bn_tensor *c;
    cr_assert_eq(bn_contiguous(v, &c), BN_OK);
    cr_assert(bn_tensor_is_contiguous(c));
    if (n > 0) {
        do {
            double want = expect(idx);
            cr_assert_eq(bn_tensor_get(v, idx), want, "element %ld: %g != %g", (long)k,
                         bn_tensor_get(v, idx), want);
            cr_assert_eq(bn_tensor_get_flat(v, k), want);
            cr_assert_eq(bn_tensor_get_flat(c, k), want);
            k++;
        } while (next_index(v->ndim, v->shape, idx));
    }
    cr_assert_eq(k, n);
    bn_tensor_free(c);
}

static void check_shape(const bn_tensor *t, int ndim, const int64_t *shape)
{
    char a[200], b[200];
    cr_assert_eq(t->ndim, ndim, "ndim %d != %d", t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "shape %s != %s",
                     bn_shape_str(t->ndim, t->shape, a, sizeof a),
                     bn_shape_str(ndim, shape, b, sizeof b));
}

static void check_error(bn_status got, bn_status want, const char *const *needles)
{
    cr_assert_eq(got, want, "status %s, want %s (%s)", bn_status_name(got), bn_status_name(want),
                 bn_last_error());
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(bn_last_error(), needles[i]), "message \"%s\" lacks \"%s\"",
                           bn_last_error(), needles[i]);
}
#define CHECK_ERROR(call, want, ...)                                                               \
    check_error((call), (want), (const char *const[]){__VA_ARGS__, NULL})

/* ---- view chains with hand-written index arithmetic --------------------- */

/* x = arange(24).reshape(2,3,4); v = x.transpose(0,2)[:, 0:3:2, :]  -> [4,2,2]
 * v[i,j,k] = x[k, 2j, i] */
static double chain1(const int64_t *ix)
{
    return (double)(ix[2] * 12 + 2 * ix[1] * 4 + ix[0]);
}

Test(chains, slice_of_transpose_of_reshape)
{
    bn_tensor *a, *x, *t, *v;
    cr_assert_eq(bn_tensor_arange(BN_F32, 0, 24, 1, &a), BN_OK);
    cr_assert_eq(bn_reshape(a, 3, (int64_t[]){2, 3, 4}, &x), BN_OK);
    cr_assert_eq(bn_transpose(x, 0, 2, &t), BN_OK);
    cr_assert_eq(bn_slice(t, 1, 0, 3, 2, &v), BN_OK);
    check_shape(v, 3, (int64_t[]){4, 2, 2});
    check_all(v, chain1);
    cr_assert(bn_tensor_shares_buffer(v, a));
    cr_assert_eq(bn_tensor_buffer_refcount(a), 4);
    bn_tensor_free(a);
    bn_tensor_free(x);
    bn_tensor_free(t);
    cr_assert_eq(bn_tensor_buffer_refcount(v), 1, "the view keeps the buffer alive");
    check_all(v, chain1);
    bn_tensor_free(v);
}

/* x = arange(60).reshape(3,4,5); v = x.permute(2,0,1).narrow(2,1,2)
 * .unsqueeze(0).expand(2,5,3,2)  ->  v[a,i,j,k] = x[j, k+1, i] */
static double chain2(const int64_t *ix)
{
    return (double)(ix[2] * 20 + (ix[3] + 1) * 5 + ix[1]);
}

Test(chains, permute_narrow_unsqueeze_expand)
{
    bn_tensor *x = arange(3, (int64_t[]){3, 4, 5}), *p, *n, *u, *e;
    cr_assert_eq(bn_permute(x, (int[]){2, 0, 1}, &p), BN_OK);
    check_shape(p, 3, (int64_t[]){5, 3, 4});
    cr_assert_eq(bn_narrow(p, 2, 1, 2, &n), BN_OK);
    cr_assert_eq(bn_unsqueeze(n, 0, &u), BN_OK);
    cr_assert_eq(bn_expand(u, 4, (int64_t[]){2, 5, 3, 2}, &e), BN_OK);
    check_shape(e, 4, (int64_t[]){2, 5, 3, 2});
    cr_assert_eq(e->strides[0], 0, "expanded dim has stride 0");
    check_all(e, chain2);
    bn_tensor *tensors[] = {x, p, n, u, e};
    for (int i = 0; i < 5; i++)
        bn_tensor_free(tensors[i]);
}

/* x = arange(10); v = x[-8:-1:3][:, None].expand(3,4)  ->  v[i,j] = 2 + 3i */
static double chain3(const int64_t *ix)
{
    return (double)(2 + 3 * ix[0]);
}

Test(chains, negative_bounds_and_broadcast)
{
    bn_tensor *x = arange(1, (int64_t[]){10}), *s, *u, *e;
    cr_assert_eq(bn_slice(x, 0, -8, -1, 3, &s), BN_OK);
    check_shape(s, 1, (int64_t[]){3});
    cr_assert_eq(bn_unsqueeze(s, -1, &u), BN_OK);
    check_shape(u, 2, (int64_t[]){3, 1});
    cr_assert_eq(bn_broadcast_to(u, 2, (int64_t[]){3, 4}, &e), BN_OK);
    check_all(e, chain3);
    bn_tensor_free(x);
    bn_tensor_free(s);
    bn_tensor_free(u);
    bn_tensor_free(e);
}

/* x = arange(24).reshape(4,6); v = x.T.reshape(6,2,2)  ->  v[i,j,k] = x[2j+k, i] */
static double chain4(const int64_t *ix)
{
    return (double)((2 * ix[1] + ix[2]) * 6 + ix[0]);
}

Test(chains, transpose_then_transpose_back_and_squeeze)
{
    bn_tensor *x = arange(2, (int64_t[]){4, 6}), *t, *r, *tt, *u, *sq;
    cr_assert_eq(bn_transpose(x, -1, -2, &t), BN_OK);
    cr_assert_eq(bn_reshape(t, 3, (int64_t[]){6, 2, 2}, &r), BN_OK, "%s", bn_last_error());
    check_all(r, chain4);
    cr_assert_eq(bn_transpose(t, 0, 1, &tt), BN_OK);
    cr_assert(bn_tensor_is_contiguous(tt));
    cr_assert_eq(bn_unsqueeze(tt, 1, &u), BN_OK);
    check_shape(u, 3, (int64_t[]){4, 1, 6});
    cr_assert_eq(bn_squeeze(u, -2, &sq), BN_OK);
    check_shape(sq, 2, (int64_t[]){4, 6});
    for (int64_t i = 0; i < 24; i++)
        cr_assert_eq(bn_tensor_get_flat(sq, i), (double)i);
    bn_tensor *all[] = {x, t, r, tt, u, sq};
    for (int i = 0; i < 6; i++)
        bn_tensor_free(all[i]);
}

Test(chains, scalars_and_size_one_dims)
{
    bn_tensor *s, *u, *e, *sq, *r, *back;
    cr_assert_eq(bn_tensor_full(BN_F32, 0, NULL, 2.5, &s), BN_OK);
    cr_assert_eq(bn_unsqueeze(s, 0, &u), BN_OK);
    check_shape(u, 1, (int64_t[]){1});
    cr_assert_eq(bn_expand(s, 2, (int64_t[]){2, 3}, &e), BN_OK);
    cr_assert_eq(e->strides[0], 0);
    cr_assert_eq(e->strides[1], 0);
    for (int64_t i = 0; i < 6; i++)
        cr_assert_eq(bn_tensor_get_flat(e, i), 2.5);
    cr_assert_eq(bn_reshape(s, 3, (int64_t[]){1, 1, 1}, &r), BN_OK);
    cr_assert_eq(bn_squeeze_all(r, &sq), BN_OK);
    cr_assert_eq(sq->ndim, 0);
    cr_assert_eq(bn_tensor_get(sq, NULL), 2.5);
    cr_assert_eq(bn_reshape(r, 0, NULL, &back), BN_OK);
    cr_assert_eq(back->ndim, 0);
    bn_tensor *all[] = {s, u, e, sq, r, back};
    for (int i = 0; i < 6; i++)
        bn_tensor_free(all[i]);

    bn_tensor *x = arange(5, (int64_t[]){1, 3, 1, 2, 1}), *q;
    cr_assert_eq(bn_squeeze_all(x, &q), BN_OK);
    check_shape(q, 2, (int64_t[]){3, 2});
    for (int64_t i = 0; i < 6; i++)
        cr_assert_eq(bn_tensor_get_flat(q, i), (double)i);
    bn_tensor_free(q);
    cr_assert_eq(bn_unsqueeze(x, 5, &q), BN_OK, "unsqueeze at ndim appends");
    check_shape(q, 6, (int64_t[]){1, 3, 1, 2, 1, 1});
    bn_tensor_free(q);
    bn_tensor_free(x);
}

Test(chains, slice_python_semantics)
{
    static const struct {
        int64_t start, stop, step;
        int64_t n;
        int64_t first;
    } cases[] = {
        {0, 10, 1, 10, 0},
        {2, 8, 3, 2, 2},
        {-3, 100, 1, 3, 7},
        {-100, 3, 2, 2, 0},
        {5, 2, 1, 0, 0},
        {10, 20, 1, 0, 0},
        {0, -1, 4, 3, 0},
        {9, 10, 5, 1, 9},
        {0, 10, 100, 1, 0},
        {-1, -100, 1, 0, 0},
        {INT64_MIN, INT64_MAX, 3, 4, 0},
    };
    bn_tensor *x = arange(1, (int64_t[]){10});
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bn_tensor *s;
        cr_assert_eq(bn_slice(x, 0, cases[c].start, cases[c].stop, cases[c].step, &s), BN_OK);
        cr_assert_eq(s->shape[0], cases[c].n, "case %zu: len %ld", c, (long)s->shape[0]);
        for (int64_t i = 0; i < cases[c].n; i++)
            cr_assert_eq(bn_tensor_get_flat(s, i), (double)(cases[c].first + i * cases[c].step),
                         "case %zu element %ld", c, (long)i);
        bn_tensor_free(s);
    }
    bn_tensor_free(x);
}

Test(chains, narrow_negative_start_and_empty)
{
    bn_tensor *x = arange(2, (int64_t[]){3, 5}), *n, *e;
    cr_assert_eq(bn_narrow(x, 1, -2, 2, &n), BN_OK);
    check_shape(n, 2, (int64_t[]){3, 2});
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 2; j++)
            cr_assert_eq(bn_tensor_get(n, (int64_t[]){i, j}), (double)(i * 5 + 3 + j));
    cr_assert_eq(bn_narrow(x, 0, 3, 0, &e), BN_OK, "empty narrow at the end");
    check_shape(e, 2, (int64_t[]){0, 5});
    bn_tensor_free(n);
    bn_tensor_free(e);
    bn_tensor_free(x);
}

/* ---- reshape legality ---------------------------------------------------- */

static double chain_sliced(const int64_t *ix) /* x[:, 0:6:2] of arange(24).reshape(4,6) -> [12] */
{
    return (double)(2 * ix[0]);
}

static double chain_sliced3(const int64_t *ix) /* the same viewed as [2,2,3] */
{
    return (double)(2 * (ix[0] * 6 + ix[1] * 3 + ix[2]));
}

static double chain_expanded(const int64_t *ix) /* [3,1] expanded to [3,4] -> [3,2,2] */
{
    return (double)ix[0];
}

Test(reshape, non_contiguous_views_that_are_legal)
{
    bn_tensor *x = arange(2, (int64_t[]){4, 6}), *s, *r, *r2;
    /* x[:, ::2]: strides [6,2] form one run of 12 with stride 2 */
    cr_assert_eq(bn_slice(x, 1, 0, 6, 2, &s), BN_OK);
    cr_assert_not(bn_tensor_is_contiguous(s));
    cr_assert_eq(bn_reshape(s, 1, (int64_t[]){12}, &r), BN_OK, "%s", bn_last_error());
    cr_assert_eq(r->strides[0], 2);
    check_all(r, chain_sliced);
    cr_assert_eq(bn_reshape(s, 3, (int64_t[]){2, 2, 3}, &r2), BN_OK);
    check_all(r2, chain_sliced3);
    bn_tensor_free(r);
    bn_tensor_free(r2);
    bn_tensor_free(s);

    /* x[:, 0:4] has strides [6,1]: splitting or keeping dims is fine */
    bn_tensor *n;
    cr_assert_eq(bn_narrow(x, 1, 0, 4, &n), BN_OK);
    cr_assert_eq(bn_reshape(n, 3, (int64_t[]){2, 2, 4}, &r), BN_OK);
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 2; b++)
            for (int64_t c = 0; c < 4; c++)
                cr_assert_eq(bn_tensor_get(r, (int64_t[]){a, b, c}), (double)((2 * a + b) * 6 + c));
    bn_tensor_free(r);
    cr_assert_eq(bn_reshape(n, 4, (int64_t[]){4, 1, 2, 2}, &r), BN_OK);
    for (int64_t a = 0; a < 4; a++)
        for (int64_t c = 0; c < 4; c++)
            cr_assert_eq(bn_tensor_get(r, (int64_t[]){a, 0, c / 2, c % 2}), (double)(a * 6 + c));
    bn_tensor_free(r);
    bn_tensor_free(n);

    /* expanded [3,1] -> [3,4] (strides [1,0]); splitting the broadcast dim is a view */
    bn_tensor *c3 = arange(2, (int64_t[]){3, 1}), *e;
    cr_assert_eq(bn_expand(c3, 2, (int64_t[]){3, 4}, &e), BN_OK);
    cr_assert_eq(bn_reshape(e, 3, (int64_t[]){3, 2, 2}, &r), BN_OK);
    cr_assert_eq(r->strides[1], 0);
    cr_assert_eq(r->strides[2], 0);
    check_all(r, chain_expanded);
    bn_tensor_free(r);
    cr_assert_eq(bn_reshape(e, 3, (int64_t[]){3, -1, 1}, &r), BN_OK);
    check_shape(r, 3, (int64_t[]){3, 4, 1});
    bn_tensor_free(r);
    bn_tensor_free(e);
    bn_tensor_free(c3);
    bn_tensor_free(x);
}

Test(reshape, non_contiguous_views_that_must_copy)
{
    bn_tensor *x = arange(2, (int64_t[]){4, 6}), *t, *n, *r;
    cr_assert_eq(bn_transpose(x, 0, 1, &t), BN_OK);
    bn_op_stats before, after;
    bn_op_stats_get(&before);
    CHECK_ERROR(bn_reshape(t, 1, (int64_t[]){24}, &r), BN_ERR_NOT_CONTIGUOUS, "reshape", "[6,4]",
                "[1,6]", "[24]", "bn_contiguous");
    cr_assert_null(r);
    bn_op_stats_get(&after);
    cr_assert_eq(after.ops, before.ops, "a failed view is not counted");
    CHECK_ERROR(bn_reshape(t, 2, (int64_t[]){4, 6}, &r), BN_ERR_NOT_CONTIGUOUS, "[4,6]");
    cr_assert_eq(bn_narrow(x, 1, 0, 4, &n), BN_OK);
    CHECK_ERROR(bn_reshape(n, 1, (int64_t[]){16}, &r), BN_ERR_NOT_CONTIGUOUS, "[4,4]", "[6,1]");
    CHECK_ERROR(bn_reshape(n, 2, (int64_t[]){8, 2}, &r), BN_ERR_NOT_CONTIGUOUS, "[8,2]");
    CHECK_ERROR(bn_reshape(n, 2, (int64_t[]){2, 8}, &r), BN_ERR_NOT_CONTIGUOUS, "[2,8]");
    bn_tensor *c3 = arange(2, (int64_t[]){3, 1}), *e;
    cr_assert_eq(bn_expand(c3, 2, (int64_t[]){3, 4}, &e), BN_OK);
    CHECK_ERROR(bn_reshape(e, 1, (int64_t[]){12}, &r), BN_ERR_NOT_CONTIGUOUS, "[1,0]");

    /* the advertised fix works: contiguous, then reshape */
    bn_tensor *c, *ok;
    cr_assert_eq(bn_contiguous(t, &c), BN_OK);
    cr_assert_eq(bn_reshape(c, 1, (int64_t[]){24}, &ok), BN_OK);
    for (int64_t i = 0; i < 24; i++)
        cr_assert_eq(bn_tensor_get_flat(ok, i), (double)((i % 4) * 6 + i / 4));
    bn_tensor *all[] = {x, t, n, c3, e, c, ok};
    for (int i = 0; i < 7; i++)
        bn_tensor_free(all[i]);
}

Test(reshape, inference_and_count_errors)
{
    bn_tensor *x = arange(2, (int64_t[]){2, 6}), *r;
    cr_assert_eq(bn_reshape(x, 3, (int64_t[]){3, -1, 2}, &r), BN_OK);
    check_shape(r, 3, (int64_t[]){3, 2, 2});
    bn_tensor_free(r);
    CHECK_ERROR(bn_reshape(x, 2, (int64_t[]){-1, -1}, &r), BN_ERR_ARG, "more than one -1");
    cr_assert_null(r);
    CHECK_ERROR(bn_reshape(x, 2, (int64_t[]){5, -1}, &r), BN_ERR_SHAPE, "[2,6]", "12", "[5,-1]");
    CHECK_ERROR(bn_reshape(x, 2, (int64_t[]){5, 2}, &r), BN_ERR_SHAPE, "[2,6]", "[5,2]", "10");
    CHECK_ERROR(bn_reshape(x, 2, (int64_t[]){-2, -6}, &r), BN_ERR_ARG, "dim 0", "-2");
    CHECK_ERROR(bn_reshape(x, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 12}, &r), BN_ERR_ARG,
                "ndim 9");
    CHECK_ERROR(bn_reshape(x, 2, (int64_t[]){INT64_MAX, 4}, &r), BN_ERR_OVERFLOW, "overflows");
    bn_tensor_free(x);

    bn_tensor *z;
    cr_assert_eq(bn_tensor_empty(BN_F32, 2, (int64_t[]){0, 3}, &z), BN_OK);
    cr_assert_eq(bn_reshape(z, 3, (int64_t[]){3, 0, 7}, &r), BN_OK);
    check_shape(r, 3, (int64_t[]){3, 0, 7});
    bn_tensor_free(r);
    CHECK_ERROR(bn_reshape(z, 2, (int64_t[]){0, -1}, &r), BN_ERR_SHAPE, "cannot be inferred");
    bn_tensor_free(z);
}

/* ---- random chains against a materialising reference --------------------- */

typedef struct ref {
    int nd;
    int64_t shape[BN_MAX_DIMS];
    int64_t *data; /* buffer index of each element, row-major */
} ref;

static int64_t ref_numel(const ref *r)
{
    return numel_of(r->nd, r->shape);
}

static int64_t ref_at(const ref *r, const int64_t *idx)
{
    int64_t f = 0;
    for (int d = 0; d < r->nd; d++)
        f = f * r->shape[d] + idx[d];
    return r->data[f];
}

/* Replaces r by the array of the given shape whose element idx is
 * r[map(idx)]; map fills the old index. */
typedef void (*map_fn)(const int64_t *nidx, int64_t *oidx, const void *ctx);
static void ref_gather(ref *r, int nd, const int64_t *shape, map_fn map, const void *ctx)
{
    int64_t n = numel_of(nd, shape);
    int64_t *nd_data = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int64_t idx[BN_MAX_DIMS] = {0}, oidx[BN_MAX_DIMS];
    for (int64_t k = 0; k < n; k++) {
        map(idx, oidx, ctx);
        nd_data[k] = ref_at(r, oidx);
        next_index(nd, shape, idx);
    }
    free(r->data);
    r->data = nd_data;
    r->nd = nd;
    memcpy(r->shape, shape, sizeof(int64_t) * (size_t)nd);
}

typedef struct {
    int nd_old;
    int perm[BN_MAX_DIMS]; /* permute: new dim i is old dim perm[i] */
    int dim;               /* slice/narrow/unsqueeze */
    int64_t start, step;   /* slice/narrow: old = start + new * step */
    int64_t old_shape[BN_MAX_DIMS];
} map_ctx;

static void map_permute(const int64_t *n, int64_t *o, const void *c)
{
    const map_ctx *m = c;
    for (int i = 0; i < m->nd_old; i++)
        o[m->perm[i]] = n[i];
}

static void map_range(const int64_t *n, int64_t *o, const void *c)
{
    const map_ctx *m = c;
    for (int i = 0; i < m->nd_old; i++)
        o[i] = i == m->dim ? m->start + n[i] * m->step : n[i];
}

static void map_unsqueeze(const int64_t *n, int64_t *o, const void *c)
{
    const map_ctx *m = c;
    for (int i = 0, j = 0; i <= m->nd_old; i++)
        if (i != m->dim)
            o[j++] = n[i];
}

static void map_squeeze_all(const int64_t *n, int64_t *o, const void *c)
{
    const map_ctx *m = c;
    for (int i = 0, j = 0; i < m->nd_old; i++)
        o[i] = m->old_shape[i] == 1 ? 0 : n[j++];
}

static void map_expand(const int64_t *n, int64_t *o, const void *c)
{
    const map_ctx *m = c; /* dim holds the number of leading new dims */
    for (int i = 0; i < m->nd_old; i++)
        o[i] = m->old_shape[i] == 1 ? 0 : n[i + m->dim];
}

/* Can a strided view express r? True when r's data is offset + sum idx*stride. */
static bool ref_is_affine(const ref *r)
{
    int64_t n = ref_numel(r);
    if (n == 0)
        return true;
    int64_t st[BN_MAX_DIMS], idx[BN_MAX_DIMS] = {0};
    int64_t base = r->data[0];
    for (int d = 0; d < r->nd; d++) {
        st[d] = 0;
        if (r->shape[d] > 1) {
            idx[d] = 1;
            st[d] = ref_at(r, idx) - base;
            idx[d] = 0;
        }
    }
    do {
        int64_t e = base;
        for (int d = 0; d < r->nd; d++)
            e += idx[d] * st[d];
        if (ref_at(r, idx) != e)
            return false;
    } while (next_index(r->nd, r->shape, idx));
    return true;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random shape of ndim 1..4 with element count n. */
static int random_factor_shape(uint64_t *s, int64_t n, int64_t *shape)
{
    int nd = 1 + (int)(rng(s) % 4);
    for (int i = 0; i < nd; i++)
        shape[i] = 1;
    int64_t m = n;
    for (int64_t p = 2; m > 1; p++) {
        while (m % p == 0) {
            shape[rng(s) % (uint64_t)nd] *= p;
            m /= p;
        }
    }
    if (n == 0)
        shape[rng(s) % (uint64_t)nd] = 0;
    return nd;
}

static void check_against_ref(const bn_tensor *v, const ref *r, int chain, int step)
{
    cr_assert_eq(v->ndim, r->nd, "chain %d step %d", chain, step);
    for (int d = 0; d < r->nd; d++)
        cr_assert_eq(v->shape[d], r->shape[d], "chain %d step %d dim %d", chain, step, d);
    int64_t n = ref_numel(r), idx[BN_MAX_DIMS] = {0};
    for (int64_t k = 0; k < n; k++) {
        cr_assert_eq(bn_tensor_get(v, idx), (double)ref_at(r, idx), "chain %d step %d elem %ld",
                     chain, step, (long)k);
        next_index(r->nd, r->shape, idx);
    }
}

Test(chains, random_against_reference)
{
    uint64_t s = 0x1234567;
    static const int64_t sizes[] = {24, 36, 60, 64, 90, 120, 7};
    int reshape_views = 0, reshape_refused = 0;
    for (int chain = 0; chain < 400; chain++) {
        int64_t shape[BN_MAX_DIMS];
        int64_t n = sizes[rng(&s) % (sizeof sizes / sizeof sizes[0])];
        int nd = random_factor_shape(&s, n, shape);
        bn_tensor *cur = arange(nd, shape);
        bn_tensor *chainv[16];
        int nv = 0;
        ref r = {.nd = nd, .data = malloc((size_t)n * sizeof(int64_t))};
        memcpy(r.shape, shape, sizeof(int64_t) * (size_t)nd);
        for (int64_t i = 0; i < n; i++)
            r.data[i] = i;
        bn_tensor *base = cur;

        for (int step = 0; step < 10; step++) {
            bn_tensor *next = NULL;
            map_ctx m = {.nd_old = r.nd};
            memcpy(m.old_shape, r.shape, sizeof r.shape);
            int64_t ns[BN_MAX_DIMS];
            int op = (int)(rng(&s) % 8);
            if (r.nd == 0)
                op = 5; /* unsqueeze */
            switch (op) {
            case 0: { /* reshape */
                int nnd = random_factor_shape(&s, ref_numel(&r), ns);
                ref trial = r;
                trial.nd = nnd;
                memcpy(trial.shape, ns, sizeof ns);
                bool legal = ref_is_affine(&trial);
                if (ref_numel(&r) > 0 && rng(&s) % 3 == 0)
                    ns[rng(&s) % (uint64_t)nnd] = -1;
                bn_status st = bn_reshape(cur, nnd, ns, &next);
                if (!legal) {
                    cr_assert_eq(st, BN_ERR_NOT_CONTIGUOUS, "chain %d step %d: %s", chain, step,
                                 bn_last_error());
                    reshape_refused++;
                    continue;
                }
                cr_assert_eq(st, BN_OK, "chain %d step %d: %s", chain, step, bn_last_error());
                reshape_views += !bn_tensor_is_contiguous(cur);
                r.nd = nnd;
                memcpy(r.shape, trial.shape, sizeof ns);
                break;
            }
            case 1: { /* transpose */
                int d0 = (int)(rng(&s) % (uint64_t)r.nd), d1 = (int)(rng(&s) % (uint64_t)r.nd);
                cr_assert_eq(bn_transpose(cur, d0 - (int)(rng(&s) % 2) * r.nd, d1, &next), BN_OK);
                for (int i = 0; i < r.nd; i++)
                    m.perm[i] = i;
                m.perm[d0] = d1;
                m.perm[d1] = d0;
                for (int i = 0; i < r.nd; i++)
                    ns[i] = r.shape[m.perm[i]];
                ref_gather(&r, r.nd, ns, map_permute, &m);
                break;
            }
            case 2: { /* permute */
                int perm[BN_MAX_DIMS];
                for (int i = 0; i < r.nd; i++)
                    perm[i] = i;
                for (int i = r.nd - 1; i > 0; i--) {
                    int j = (int)(rng(&s) % (uint64_t)(i + 1)), tmp = perm[i];
                    perm[i] = perm[j];
                    perm[j] = tmp;
                }
                cr_assert_eq(bn_permute(cur, perm, &next), BN_OK);
                for (int i = 0; i < r.nd; i++) {
                    m.perm[i] = perm[i];
                    ns[i] = r.shape[perm[i]];
                }
                ref_gather(&r, r.nd, ns, map_permute, &m);
                break;
            }
            case 3: { /* slice */
                int d = (int)(rng(&s) % (uint64_t)r.nd);
                int64_t len = r.shape[d];
                int64_t a = (int64_t)(rng(&s) % (uint64_t)(len + 3)) - 1;
                int64_t b = (int64_t)(rng(&s) % (uint64_t)(len + 3)) - 1;
                int64_t stp = 1 + (int64_t)(rng(&s) % 3);
                cr_assert_eq(bn_slice(cur, d, a, b, stp, &next), BN_OK);
                /* python: normalise then count */
                int64_t a0 = a < 0 ? (a + len < 0 ? 0 : a + len) : (a > len ? len : a);
                int64_t b0 = b < 0 ? (b + len < 0 ? 0 : b + len) : (b > len ? len : b);
                int64_t cnt = 0;
                for (int64_t i = a0; i < b0; i += stp)
                    cnt++;
                memcpy(ns, r.shape, sizeof ns);
                ns[d] = cnt;
                m.dim = d;
                m.start = a0;
                m.step = stp;
                ref_gather(&r, r.nd, ns, map_range, &m);
                break;
            }
            case 4: { /* narrow */
                int d = (int)(rng(&s) % (uint64_t)r.nd);
                int64_t len = r.shape[d];
                int64_t a = (int64_t)(rng(&s) % (uint64_t)(len + 1));
                int64_t l = (int64_t)(rng(&s) % (uint64_t)(len - a + 1));
                cr_assert_eq(bn_narrow(cur, d, a, l, &next), BN_OK);
                memcpy(ns, r.shape, sizeof ns);
                ns[d] = l;
                m.dim = d;
                m.start = a;
                m.step = 1;
                ref_gather(&r, r.nd, ns, map_range, &m);
                break;
            }
            case 5: { /* unsqueeze */
                if (r.nd >= 6)
                    continue;
                int d = (int)(rng(&s) % (uint64_t)(r.nd + 1));
                cr_assert_eq(bn_unsqueeze(cur, d, &next), BN_OK);
                for (int i = 0, j = 0; i <= r.nd; i++)
                    ns[i] = i == d ? 1 : r.shape[j++];
                m.dim = d;
                ref_gather(&r, r.nd + 1, ns, map_unsqueeze, &m);
                break;
            }
            case 6: { /* squeeze_all */
                cr_assert_eq(bn_squeeze_all(cur, &next), BN_OK);
                int k = 0;
                for (int i = 0; i < r.nd; i++)
                    if (r.shape[i] != 1)
                        ns[k++] = r.shape[i];
                ref_gather(&r, k, ns, map_squeeze_all, &m);
                break;
            }
            case 7: { /* expand size-1 dims to 3, maybe one leading dim of 2 */
                if (r.nd >= 7)
                    continue;
                int lead = (int)(rng(&s) % 2);
                for (int i = 0; i < lead; i++)
                    ns[i] = 2;
                for (int i = 0; i < r.nd; i++)
                    ns[lead + i] = r.shape[i] == 1 ? 3 : r.shape[i];
                if (numel_of(r.nd + lead, ns) > 2000)
                    continue;
                cr_assert_eq(bn_expand(cur, r.nd + lead, ns, &next), BN_OK);
                m.dim = lead;
                ref_gather(&r, r.nd + lead, ns, map_expand, &m);
                break;
            }
            }
            cr_assert_not_null(next);
            cr_assert(bn_tensor_shares_buffer(next, base));
            chainv[nv++] = next;
            cur = next;
            check_against_ref(cur, &r, chain, step);
        }
        cr_assert_eq(bn_tensor_buffer_refcount(base), 1 + nv);
        /* the end of the chain copied out matches the reference in order */
        bn_tensor *c;
        bn_op_stats before, after;
        bn_op_stats_get(&before);
        cr_assert_eq(bn_contiguous(cur, &c), BN_OK);
        bn_op_stats_get(&after);
        int64_t cn = ref_numel(&r);
        if (cn == 0 || bn_tensor_is_contiguous(cur)) {
            cr_assert(bn_tensor_shares_buffer(c, cur));
            cr_assert_eq(after.bytes_copied, before.bytes_copied);
        } else {
            cr_assert_not(bn_tensor_shares_buffer(c, cur));
            cr_assert_eq(after.bytes_copied - before.bytes_copied, (uint64_t)cn * 4);
        }
        for (int64_t i = 0; i < cn; i++)
            cr_assert_eq(bn_tensor_get_flat(c, i), (double)r.data[i]);
        bn_tensor_free(c);
        for (int i = 0; i < nv; i++)
            bn_tensor_free(chainv[i]);
        cr_assert_eq(bn_tensor_buffer_refcount(base), 1);
        bn_tensor_free(base);
        free(r.data);
    }
    /* the random walk exercised both outcomes of reshape on strided inputs */
    cr_assert_gt(reshape_views, 10);
    cr_assert_gt(reshape_refused, 10);
}

/* ---- broadcasting -------------------------------------------------------- */

Test(broadcast, shapes_against_hand_computed)
{
    static const struct {
        int na;
        int64_t a[4];
        int nb;
        int64_t b[4];
        int nr;
        int64_t r[4];
    } cases[] = {
        {2, {2, 3}, 1, {3}, 2, {2, 3}},
        {2, {2, 1}, 2, {1, 3}, 2, {2, 3}},
        {3, {5, 1, 4}, 2, {3, 1}, 3, {5, 3, 4}},
        {1, {0}, 1, {1}, 1, {0}},
        {1, {1}, 1, {0}, 1, {0}},
        {2, {0, 3}, 2, {1, 3}, 2, {0, 3}},
        {2, {2, 0}, 2, {2, 1}, 2, {2, 0}},
        {3, {1, 0, 1}, 2, {1, 4}, 3, {1, 0, 4}},
        {0, {0}, 0, {0}, 0, {0}},
        {0, {0}, 2, {2, 3}, 2, {2, 3}},
        {2, {4, 1}, 0, {0}, 2, {4, 1}},
        {0, {0}, 1, {0}, 1, {0}},
        {4, {1, 2, 1, 3}, 2, {7, 1}, 4, {1, 2, 7, 3}},
        {1, {1}, 1, {1}, 1, {1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t out[BN_MAX_DIMS];
        int nout = -1;
        cr_assert_eq(bn_broadcast_shapes("add", cases[c].na, cases[c].a, cases[c].nb, cases[c].b,
                                         &nout, out),
                     BN_OK, "case %zu: %s", c, bn_last_error());
        cr_assert_eq(nout, cases[c].nr, "case %zu", c);
        for (int i = 0; i < nout; i++)
            cr_assert_eq(out[i], cases[c].r[i], "case %zu dim %d", c, i);
        /* symmetric */
        cr_assert_eq(bn_broadcast_shapes("add", cases[c].nb, cases[c].b, cases[c].na, cases[c].a,
                                         &nout, out),
                     BN_OK);
        for (int i = 0; i < nout; i++)
            cr_assert_eq(out[i], cases[c].r[i], "case %zu (swapped) dim %d", c, i);
    }
}

Test(broadcast, mismatch_messages)
{
    int64_t out[BN_MAX_DIMS] = {42};
    int nout = 99;
    cr_assert_eq(bn_broadcast_shapes("add", 2, (int64_t[]){2, 3}, 1, (int64_t[]){4}, &nout, out),
                 BN_ERR_SHAPE);
    cr_assert_str_eq(bn_last_error(), "add: cannot broadcast [2,3] with [4]");
    cr_assert_eq(nout, 99, "outputs untouched on error");
    cr_assert_eq(out[0], 42);
    cr_assert_eq(bn_broadcast_shapes("mul", 1, (int64_t[]){0}, 1, (int64_t[]){2}, &nout, out),
                 BN_ERR_SHAPE);
    cr_assert_str_eq(bn_last_error(), "mul: cannot broadcast [0] with [2]");
    cr_assert_eq(
        bn_broadcast_shapes("matmul", 3, (int64_t[]){5, 1, 4}, 3, (int64_t[]){2, 3, 4}, &nout, out),
        BN_ERR_SHAPE);
    cr_assert_str_eq(bn_last_error(), "matmul: cannot broadcast [5,1,4] with [2,3,4]");
    cr_assert_eq(bn_broadcast_shapes(NULL, 1, (int64_t[]){3}, 1, (int64_t[]){2}, &nout, out),
                 BN_ERR_SHAPE);
    cr_assert_str_eq(bn_last_error(), "broadcast: cannot broadcast [3] with [2]");
    CHECK_ERROR(bn_broadcast_shapes("add", 9, out, 1, out, &nout, out), BN_ERR_ARG, "add", "9");
    CHECK_ERROR(bn_broadcast_shapes("add", 1, (int64_t[]){-2}, 1, (int64_t[]){1}, &nout, out),
                BN_ERR_ARG, "[-2]");
}

Test(broadcast, strides)
{
    bn_tensor *x = arange(2, (int64_t[]){3, 1}), *y = arange(1, (int64_t[]){4});
    int64_t shape[BN_MAX_DIMS], st[BN_MAX_DIMS];
    int n;
    cr_assert_eq(bn_broadcast_shapes("add", 2, x->shape, 1, y->shape, &n, shape), BN_OK);
    cr_assert_eq(n, 2);
    bn_broadcast_strides(x, n, shape, st);
    cr_assert_eq(st[0], 1);
    cr_assert_eq(st[1], 0);
    bn_broadcast_strides(y, n, shape, st);
    cr_assert_eq(st[0], 0);
    cr_assert_eq(st[1], 1);
    /* three leading dims on a transposed operand */
    bn_tensor *z = arange(2, (int64_t[]){2, 5}), *zt;
    cr_assert_eq(bn_transpose(z, 0, 1, &zt), BN_OK);
    bn_broadcast_strides(zt, 4, (int64_t[]){7, 1, 5, 2}, st);
    cr_assert_eq(st[0], 0);
    cr_assert_eq(st[1], 0);
    cr_assert_eq(st[2], 1);
    cr_assert_eq(st[3], 5);
    /* reading x + y through the strides gives the broadcast sum */
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++) {
            bn_broadcast_strides(x, n, shape, st);
            double a = bn_tensor_get_flat(x, i * st[0] + j * st[1]);
            bn_broadcast_strides(y, n, shape, st);
            double b = bn_tensor_get_flat(y, i * st[0] + j * st[1]);
            cr_assert_eq(a + b, (double)(i + j));
        }
    bn_tensor_free(x);
    bn_tensor_free(y);
    bn_tensor_free(z);
    bn_tensor_free(zt);
}

Test(broadcast, expand_zero_size)
{
    bn_tensor *x = arange(2, (int64_t[]){1, 3}), *e;
    cr_assert_eq(bn_expand(x, 2, (int64_t[]){0, 3}, &e), BN_OK);
    check_shape(e, 2, (int64_t[]){0, 3});
    cr_assert_eq(bn_tensor_numel(e), 0);
    bn_tensor_free(e);
    cr_assert_eq(bn_expand(x, 3, (int64_t[]){2, 4, 3}, &e), BN_OK);
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 4; b++)
            for (int64_t c = 0; c < 3; c++)
                cr_assert_eq(bn_tensor_get(e, (int64_t[]){a, b, c}), (double)c);
    bn_tensor_free(e);
    bn_tensor_free(x);
}

/* ---- contiguous ----------------------------------------------------------- */

Test(contiguous, copies_only_when_needed)
{
    bn_pool_stats p0, p1;
    bn_op_stats o0, o1;
    bn_tensor *x = arange(2, (int64_t[]){3, 4}), *c, *t, *tc;

    bn_pool_stats_get(bn_pool_default(), &p0);
    bn_op_stats_get(&o0);
    cr_assert_eq(bn_contiguous(x, &c), BN_OK);
    bn_pool_stats_get(bn_pool_default(), &p1);
    bn_op_stats_get(&o1);
    cr_assert(bn_tensor_shares_buffer(c, x));
    cr_assert_eq(p1.allocs, p0.allocs);
    cr_assert_eq(o1.ops_shared, o0.ops_shared + 1);
    cr_assert_eq(o1.bytes_copied, o0.bytes_copied);
    cr_assert_eq(o1.per_op[BN_OP_CONTIGUOUS], o0.per_op[BN_OP_CONTIGUOUS] + 1);

    cr_assert_eq(bn_transpose(x, 0, 1, &t), BN_OK);
    bn_pool_stats_get(bn_pool_default(), &p0);
    bn_op_stats_get(&o0);
    cr_assert_eq(bn_contiguous(t, &tc), BN_OK);
    bn_pool_stats_get(bn_pool_default(), &p1);
    bn_op_stats_get(&o1);
    cr_assert_not(bn_tensor_shares_buffer(tc, x));
    cr_assert(bn_tensor_is_contiguous(tc));
    cr_assert_eq(p1.allocs, p0.allocs + 1);
    cr_assert_eq(o1.ops_shared, o0.ops_shared);
    cr_assert_eq(o1.ops, o0.ops + 1);
    cr_assert_eq(o1.bytes_copied - o0.bytes_copied, 48u);
    cr_assert_eq(o1.bytes_alloc - o0.bytes_alloc, 48u);
    for (int64_t i = 0; i < 12; i++)
        cr_assert_eq(bn_tensor_get_flat(tc, i), (double)((i % 3) * 4 + i / 3));
    bn_tensor *all[] = {x, c, t, tc};
    for (int i = 0; i < 4; i++)
        bn_tensor_free(all[i]);
}

Test(contiguous, offset_view_and_other_dtypes)
{
    /* a contiguous narrow with an offset is shared, not copied */
    bn_tensor *x = arange(2, (int64_t[]){4, 3}), *n, *c;
    cr_assert_eq(bn_narrow(x, 0, 1, 2, &n), BN_OK);
    cr_assert_eq(bn_contiguous(n, &c), BN_OK);
    cr_assert(bn_tensor_shares_buffer(c, x));
    cr_assert_eq(c->offset, 3);
    cr_assert_eq(bn_tensor_get_flat(c, 0), 3.0);
    bn_tensor_free(c);
    bn_tensor_free(n);
    bn_tensor_free(x);

    static const bn_dtype dts[] = {BN_F16, BN_BF16, BN_I8, BN_I32};
    for (size_t k = 0; k < 4; k++) {
        bn_tensor *a, *r, *t, *s, *tc;
        cr_assert_eq(bn_tensor_arange(dts[k], 0, 24, 1, &a), BN_OK);
        cr_assert_eq(bn_reshape(a, 3, (int64_t[]){2, 3, 4}, &r), BN_OK);
        cr_assert_eq(bn_permute(r, (int[]){2, 0, 1}, &t), BN_OK);
        cr_assert_eq(bn_slice(t, 0, 1, 4, 2, &s), BN_OK); /* [2,2,3] */
        bn_op_stats o0, o1;
        bn_op_stats_get(&o0);
        cr_assert_eq(bn_contiguous(s, &tc), BN_OK);
        bn_op_stats_get(&o1);
        cr_assert_eq(o1.bytes_copied - o0.bytes_copied, 12 * bn_dtype_size(dts[k]), "%s",
                     bn_dtype_name(dts[k]));
        int64_t i = 0;
        for (int64_t p = 0; p < 2; p++)
            for (int64_t q = 0; q < 2; q++)
                for (int64_t w = 0; w < 3; w++, i++)
                    cr_assert_eq(bn_tensor_get_flat(tc, i), (double)(q * 12 + w * 4 + 1 + 2 * p),
                                 "%s element %ld", bn_dtype_name(dts[k]), (long)i);
        bn_tensor *all[] = {a, r, t, s, tc};
        for (int j = 0; j < 5; j++)
            bn_tensor_free(all[j]);
    }
}

/* ---- acceptance 5: a view chain allocates no data and copies nothing ------ */

Test(zero_copy, view_chain_allocates_and_copies_nothing)
{
    bn_tensor *x = arange(3, (int64_t[]){4, 6, 8});
    bn_pool_stats p0, p1;
    bn_op_stats o0, o1;
    bn_pool_stats_get(bn_pool_default(), &p0);
    bn_op_stats_get(&o0);

    enum { NV = 12 };
    bn_tensor *v[NV];
    const int n = NV;
    cr_assert_eq(bn_reshape(x, 4, (int64_t[]){4, 6, 2, 4}, &v[0]), BN_OK);
    cr_assert_eq(bn_transpose(v[0], 1, 3, &v[1]), BN_OK);              /* [4,4,2,6] */
    cr_assert_eq(bn_slice(v[1], 3, 1, 6, 2, &v[2]), BN_OK);            /* [4,4,2,3] */
    cr_assert_eq(bn_permute(v[2], (int[]){2, 0, 1, 3}, &v[3]), BN_OK); /* [2,4,4,3] */
    cr_assert_eq(bn_narrow(v[3], 1, 1, 2, &v[4]), BN_OK);              /* [2,2,4,3] */
    cr_assert_eq(bn_unsqueeze(v[4], 2, &v[5]), BN_OK);                 /* [2,2,1,4,3] */
    cr_assert_eq(bn_expand(v[5], 5, (int64_t[]){2, 2, 5, 4, 3}, &v[6]), BN_OK);
    cr_assert_eq(bn_squeeze(v[5], 2, &v[7]), BN_OK); /* [2,2,4,3] */
    cr_assert_eq(bn_view(v[7], &v[8]), BN_OK);
    cr_assert_eq(bn_broadcast_to(v[8], 5, (int64_t[]){3, 2, 2, 4, 3}, &v[9]), BN_OK);
    cr_assert_eq(bn_reshape(v[0], 2, (int64_t[]){24, 8}, &v[10]), BN_OK);
    cr_assert_eq(bn_contiguous(v[0], &v[11]), BN_OK); /* already contiguous: shared */

    bn_pool_stats_get(bn_pool_default(), &p1);
    bn_op_stats_get(&o1);
    cr_assert_eq(p1.allocs, p0.allocs, "no data buffer allocated");
    cr_assert_eq(o1.bytes_alloc, o0.bytes_alloc);
    cr_assert_eq(o1.bytes_copied, o0.bytes_copied);
    cr_assert_eq(o1.ops, o0.ops + (uint64_t)n);
    cr_assert_eq(o1.ops_shared, o0.ops_shared + (uint64_t)n);
    cr_assert_eq(bn_tensor_buffer_refcount(x), 1 + n);
    for (int i = 0; i < n; i++)
        cr_assert(bn_tensor_shares_buffer(v[i], x));

    /* and the end of the chain reads the right elements */
    for (int64_t a = 0; a < 2; a++)
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < 4; j++)
                for (int64_t k = 0; k < 3; k++) {
                    /* v9[b,a,i,j,k] = v4[a,i,j,k] = v3[a,i+1,j,k] = v2[i+1,j,a,k]
                     * = v1[i+1,j,a,2k+1] = v0[i+1,2k+1,a,j] = x[i+1, 2k+1, 4a+j] */
                    double want = (double)((i + 1) * 48 + (2 * k + 1) * 8 + 4 * a + j);
                    for (int64_t b = 0; b < 3; b++)
                        cr_assert_eq(bn_tensor_get(v[9], (int64_t[]){b, a, i, j, k}), want);
                }
    for (int i = 0; i < n; i++)
        bn_tensor_free(v[i]);
    cr_assert_eq(bn_tensor_buffer_refcount(x), 1);
    bn_tensor_free(x);
}

/* ---- packed dtypes -------------------------------------------------------- */

Test(packed, only_reshape_contiguous_and_view)
{
    static const bn_dtype dts[] = {BN_T2, BN_T1_6};
    for (int k = 0; k < 2; k++) {
        bn_tensor *x, *r, *c, *v, *bad;
        cr_assert_eq(bn_tensor_rand(dts[k], 1, (int64_t[]){20}, 5, BN_RAND_TERNARY, 0.3, 0, &x),
                     BN_OK);
        cr_assert_eq(bn_reshape(x, 2, (int64_t[]){4, 5}, &r), BN_OK);
        for (int64_t i = 0; i < 20; i++)
            cr_assert_eq(bn_tensor_get(r, (int64_t[]){i / 5, i % 5}), bn_tensor_get_flat(x, i));
        cr_assert_eq(bn_contiguous(r, &c), BN_OK);
        cr_assert(bn_tensor_shares_buffer(c, x));
        cr_assert_eq(bn_view(c, &v), BN_OK);
        const char *name = bn_dtype_name(dts[k]);
        CHECK_ERROR(bn_transpose(r, 0, 1, &bad), BN_ERR_DTYPE, "transpose", name);
        CHECK_ERROR(bn_slice(x, 0, 0, 10, 2, &bad), BN_ERR_DTYPE, "slice", name);
        CHECK_ERROR(bn_narrow(x, 0, 1, 3, &bad), BN_ERR_DTYPE, "narrow", name);
        CHECK_ERROR(bn_permute(r, (int[]){1, 0}, &bad), BN_ERR_DTYPE, "permute", name);
        CHECK_ERROR(bn_unsqueeze(x, 0, &bad), BN_ERR_DTYPE, "unsqueeze", name);
        CHECK_ERROR(bn_squeeze_all(x, &bad), BN_ERR_DTYPE, "squeeze", name);
        CHECK_ERROR(bn_expand(x, 2, (int64_t[]){2, 20}, &bad), BN_ERR_DTYPE, "expand", name);
        cr_assert_null(bad);
        bn_tensor *all[] = {x, r, c, v};
        for (int i = 0; i < 4; i++)
            bn_tensor_free(all[i]);
    }
}

/* ---- bad input ------------------------------------------------------------ */

Test(bad_input, dims_out_of_range)
{
    bn_tensor *x = arange(3, (int64_t[]){2, 3, 4}), *o = (bn_tensor *)1;
    bn_op_stats o0, o1;
    bn_op_stats_get(&o0);
    CHECK_ERROR(bn_transpose(x, 0, 3, &o), BN_ERR_ARG, "transpose", "dim 3", "3 dims");
    cr_assert_null(o);
    CHECK_ERROR(bn_transpose(x, -4, 0, &o), BN_ERR_ARG, "dim -4", "-3..2");
    CHECK_ERROR(bn_slice(x, 7, 0, 1, 1, &o), BN_ERR_ARG, "slice", "dim 7");
    CHECK_ERROR(bn_narrow(x, -5, 0, 1, &o), BN_ERR_ARG, "narrow", "dim -5");
    CHECK_ERROR(bn_squeeze(x, 3, &o), BN_ERR_ARG, "squeeze", "dim 3");
    CHECK_ERROR(bn_unsqueeze(x, 4, &o), BN_ERR_ARG, "unsqueeze", "dim 4", "4 dims");
    CHECK_ERROR(bn_unsqueeze(x, -5, &o), BN_ERR_ARG, "dim -5");
    bn_tensor *s;
    cr_assert_eq(bn_tensor_full(BN_F32, 0, NULL, 1, &s), BN_OK);
    CHECK_ERROR(bn_transpose(s, 0, 0, &o), BN_ERR_ARG, "0-dim");
    bn_tensor_free(s);
    bn_op_stats_get(&o1);
    cr_assert_eq(o1.ops, o0.ops, "failed views are not counted");
    bn_tensor_free(x);
}

Test(bad_input, perm)
{
    bn_tensor *x = arange(3, (int64_t[]){2, 3, 4}), *o;
    CHECK_ERROR(bn_permute(x, (int[]){0, 0, 2}, &o), BN_ERR_ARG, "permute", "[0,0,2]",
                "repeats dim 0");
    CHECK_ERROR(bn_permute(x, (int[]){0, 5, 1}, &o), BN_ERR_ARG, "[0,5,1]", "is 5", "3 dims");
    CHECK_ERROR(bn_permute(x, (int[]){2, -1, 0}, &o), BN_ERR_ARG, "repeats dim 2");
    cr_assert_null(o);
    cr_assert_eq(bn_permute(x, (int[]){-1, 0, -2}, &o), BN_OK, "negative entries count from end");
    check_shape(o, 3, (int64_t[]){4, 2, 3});
    bn_tensor_free(o);
    bn_tensor_free(x);
}

Test(bad_input, slice_narrow_squeeze_expand)
{
    bn_tensor *x = arange(2, (int64_t[]){3, 5}), *o;
    CHECK_ERROR(bn_slice(x, 1, 0, 5, 0, &o), BN_ERR_ARG, "slice", "step 0");
    CHECK_ERROR(bn_slice(x, 1, 5, 0, -1, &o), BN_ERR_ARG, "step -1");
    CHECK_ERROR(bn_narrow(x, 1, 3, 4, &o), BN_ERR_ARG, "narrow", "start 3", "length 4", "size 5");
    CHECK_ERROR(bn_narrow(x, 1, 6, 0, &o), BN_ERR_ARG, "start 6", "size 5");
    CHECK_ERROR(bn_narrow(x, 0, -4, 1, &o), BN_ERR_ARG, "start -4", "size 3");
    CHECK_ERROR(bn_narrow(x, 0, 0, -1, &o), BN_ERR_ARG, "length -1");
    CHECK_ERROR(bn_squeeze(x, 1, &o), BN_ERR_SHAPE, "squeeze", "dim 1", "[3,5]", "size 5");
    CHECK_ERROR(bn_expand(x, 2, (int64_t[]){3, 4}, &o), BN_ERR_SHAPE, "expand", "[3,5]", "[3,4]",
                "size 5");
    CHECK_ERROR(bn_expand(x, 1, (int64_t[]){5}, &o), BN_ERR_SHAPE, "[3,5]", "[5]", "fewer dims");
    CHECK_ERROR(bn_expand(x, 2, (int64_t[]){-1, 5}, &o), BN_ERR_ARG, "[-1,5]");
    CHECK_ERROR(bn_broadcast_to(x, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 3, 5}, &o), BN_ERR_ARG,
                "ndim 9");
    cr_assert_null(o);

    bn_tensor *m = arange(8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2});
    CHECK_ERROR(bn_unsqueeze(m, 0, &o), BN_ERR_ARG, "unsqueeze", "8 dims");
    bn_tensor_free(m);
    bn_tensor_free(x);
}

/* Shapes whose element count overflows int64_t are BN_ERR_OVERFLOW naming
 * the op and the shape, from every function that makes a shape; before,
 * bn_expand returned BN_OK with a wrapped (0) element count. */
Test(bad_input, element_count_overflow)
{
    const int64_t big = (int64_t)1 << 32, half = INT64_MAX / 2 + 1; /* 2^32, 2^62 */
    bn_tensor *x = arange(2, (int64_t[]){1, 4}), *o = (bn_tensor *)1;
    CHECK_ERROR(bn_expand(x, 2, (int64_t[]){half, 4}, &o), BN_ERR_OVERFLOW, "expand",
                "[4611686018427387904,4]", "overflows");
    cr_assert_null(o);
    CHECK_ERROR(bn_expand(x, 3, (int64_t[]){big, big, 4}, &o), BN_ERR_OVERFLOW, "expand",
                "[4294967296,4294967296,4]");
    CHECK_ERROR(bn_broadcast_to(x, 3, (int64_t[]){big, big, 4}, &o), BN_ERR_OVERFLOW, "expand",
                "overflows");
    /* a count that fits still works, and is what numel reports */
    cr_assert_eq(bn_expand(x, 2, (int64_t[]){half / 4, 4}, &o), BN_OK, "%s", bn_last_error());
    cr_assert_eq(bn_tensor_numel(o), half);

    /* broadcasting two shapes into one too large */
    int nd;
    int64_t shape[BN_MAX_DIMS];
    CHECK_ERROR(
        bn_broadcast_shapes("add", 2, (int64_t[]){big, 1}, 2, (int64_t[]){1, big}, &nd, shape),
        BN_ERR_OVERFLOW, "add", "[4294967296,4294967296]", "overflows");
    bn_tensor *col = NULL, *row = NULL, *y = (bn_tensor *)1, *one = arange(2, (int64_t[]){1, 1});
    cr_assert_eq(bn_expand(one, 2, (int64_t[]){big, 1}, &col), BN_OK);
    cr_assert_eq(bn_expand(one, 2, (int64_t[]){1, big}, &row), BN_OK);
    CHECK_ERROR(bn_add(col, row, &y), BN_ERR_OVERFLOW, "add", "[4294967296,4294967296]");
    cr_assert_null(y);
    /* matmul's batch dims: [2^32, 1, 1, 1] x [1, 2^32, 1, 1] */
    bn_tensor *ba = NULL, *bb = NULL;
    cr_assert_eq(bn_expand(one, 4, (int64_t[]){big, 1, 1, 1}, &ba), BN_OK);
    cr_assert_eq(bn_expand(one, 4, (int64_t[]){1, big, 1, 1}, &bb), BN_OK);
    CHECK_ERROR(bn_matmul(ba, bb, &y), BN_ERR_OVERFLOW, "matmul", "overflows");
    cr_assert_null(y);
    /* batch and matrix fit, the result [2^31, 2^31, 4] does not */
    bn_tensor *ma = NULL, *mb = NULL;
    cr_assert_eq(bn_expand(one, 3, (int64_t[]){big / 2, big / 2, 1}, &ma), BN_OK);
    cr_assert_eq(bn_expand(one, 3, (int64_t[]){1, 1, 4}, &mb), BN_OK);
    CHECK_ERROR(bn_matmul(ma, mb, &y), BN_ERR_OVERFLOW, "matmul", "[2147483648,2147483648,4]");
    cr_assert_null(y);
    bn_tensor_free(ma);
    bn_tensor_free(mb);
    /* views of a view that is already huge: unsqueeze keeps the count, a
     * reshape to more elements than fit is refused */
    bn_tensor *u = NULL;
    cr_assert_eq(bn_unsqueeze(o, 0, &u), BN_OK);
    cr_assert_eq(bn_tensor_numel(u), half);
    CHECK_ERROR(bn_reshape(u, 3, (int64_t[]){-1, 3, 4}, &y), BN_ERR_SHAPE, "reshape");
    CHECK_ERROR(bn_reshape(u, 3, (int64_t[]){-1, half, 4}, &y), BN_ERR_OVERFLOW, "reshape",
                "[-1,4611686018427387904,4]");
    CHECK_ERROR(bn_tensor_empty(BN_I8, 2, (int64_t[]){half, 2}, &y), BN_ERR_OVERFLOW, "empty",
                "[4611686018427387904,2]");
    bn_tensor_free(u);
    bn_tensor_free(ba);
    bn_tensor_free(bb);
    bn_tensor_free(col);
    bn_tensor_free(row);
    bn_tensor_free(one);
    bn_tensor_free(o);
    bn_tensor_free(x);
}

/* ---- threads: views of one tensor made, read and freed concurrently ------- */

enum { VT_THREADS = 4, VT_ITERS = 500 };

static void *view_worker(void *arg)
{
    const bn_tensor *x = arg;
    long bad = 0;
    for (int it = 0; it < VT_ITERS; it++) {
        bn_tensor *t, *s, *u;
        if (bn_transpose(x, 0, 1, &t) || bn_slice(t, 0, it % 6, 6, 2, &s) || bn_unsqueeze(s, 0, &u))
            return (void *)-1L;
        /* u[0, i, j] = x[j, (it % 6) + 2i] = j * 6 + it % 6 + 2i */
        for (int64_t i = 0; i < u->shape[1]; i++)
            for (int64_t j = 0; j < 4; j++)
                bad += bn_tensor_get(u, (int64_t[]){0, i, j}) != (double)(j * 6 + it % 6 + 2 * i);
        bn_tensor_free(u);
        bn_tensor_free(s);
        bn_tensor_free(t);
    }
    return (void *)bad;
}

Test(threads, concurrent_views_of_one_tensor)
{
    bn_tensor *x = arange(2, (int64_t[]){4, 6});
    bn_op_stats o0, o1;
    bn_op_stats_get(&o0);
    pthread_t th[VT_THREADS];
    for (int i = 0; i < VT_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, view_worker, x), 0);
    for (int i = 0; i < VT_THREADS; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_eq((long)res, 0L, "thread %d: %ld bad reads or a failed view", i, (long)res);
    }
    bn_op_stats_get(&o1);
    cr_assert_eq(o1.ops_shared - o0.ops_shared, (uint64_t)VT_THREADS * VT_ITERS * 3);
    cr_assert_eq(bn_tensor_buffer_refcount(x), 1);
    bn_tensor_free(x);
}
