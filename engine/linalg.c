/*
 * linalg.c - QR, Cholesky, SVD, LU, solve, inverse, det and least squares
 * on f32/f64 tensors (contract in bitnet/linalg.h).
 *
 * Shape of the work: each public function checks its operands, sizes one set
 * of column-major working buffers for the largest matrix, then walks the batch
 * dims: load one matrix through its strides (any view), run the numerical
 * core on it (kernels/linalg.h: blocked, GEMM-based, the active kernel set's
 * table, bnk_active()->linalg), and store the results row-major into new
 * contiguous tensors. The per-matrix steps that are not LAPACK-style kernels
 * (QR sign fix, det, least squares, the SVD's composition of its kernels)
 * are in linalg_typed.h, instantiated for float and double below. Buffers
 * are void * so one code path serves both types; LA_T(is64, f, ...) picks
 * the typed function.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/linalg.h"
#include "kernels/kernels.h"
#include "tensor_internal.h"

typedef struct la_env {
    const bnk_linalg *k;
    bnk_la_ctx ctx;
} la_env;

/* The SVD of a tall mm x nn matrix factors A = QR first and bidiagonalizes
 * R when that saves flops (mm >= 1.6 nn, LAPACK's crossover). */
static bool la_svd_qr_first(int64_t mm, int64_t nn)
{
    return mm * 10 >= nn * 16;
}

/* Elements of the workspace la_svd_one carves (e, tauq, taup, tau, the T
 * factors, two nn x nn matrices, and the largest routine workspace). */
static size_t la_svd_elems(int64_t mm, int64_t nn, int64_t ucols)
{
    int64_t nblk = (nn + BNK_LA_NB - 1) / BNK_LA_NB;
    size_t w = bnk_la_gebrd_work(mm, nn), t;
    if ((t = bnk_la_orgqr_tau_work(mm, ucols > nn ? ucols : nn)) > w)
        w = t;
    if ((t = bnk_la_bdsqr_work(nn)) > w)
        w = t;
    return (size_t)(4 * nn + nblk * BNK_LA_NB * BNK_LA_NB + 2 * nn * nn) + w;
}

#define T   float
#define SFX _f32
#include "linalg_typed.h"
#undef T
#undef SFX
#define T   double
#define SFX _f64
#include "linalg_typed.h"
#undef T
#undef SFX

/* Calls fn_f64 or fn_f32 with the same (void *) arguments. */
#define LA_T(is64, fn, ...) ((is64) ? fn##_f64(__VA_ARGS__) : fn##_f32(__VA_ARGS__))
/* Calls the kernel table's entry of the right type. */
#define LA_K(e, is64, fn, ...)                                                                     \
    ((is64) ? (e)->k->fn##_f64(__VA_ARGS__) : (e)->k->fn##_f32(__VA_ARGS__))

/* ---- environment: kernel table and GEMM workspaces ---------------------- */

/* Workspaces come from the default pool, whose cache of large blocks makes
 * repeated calls on the same sizes skip mmap and the page faults after it. */
static void *la_alloc(size_t bytes)
{
    return bn_pool_alloc(bn_pool_default(), bytes ? bytes : 1, 64);
}

static void la_free(void *p)
{
    bn_pool_free(bn_pool_default(), p);
}

static void la_env_free(la_env *e)
{
    la_free(e->ctx.sws);
    la_free(e->ctx.dpack);
    e->ctx.sws = NULL;
    e->ctx.dpack = NULL;
}

/* dim: the largest M, N or K of any GEMM the call will make. The linalg
 * core and its f32 GEMM are the active kernel set's (BN_KERNELS,
 * bn_kernels_select), read once so one call runs one set throughout. */
static bn_status la_env_init(la_env *e, const char *op, int64_t dim)
{
    memset(e, 0, sizeof *e);
    const bnk_table *kt = bnk_active();
    const bnk_gemm_impl *g = kt->sgemm;
    e->k = kt->linalg;
    if (dim < BNK_LA_NB)
        dim = BNK_LA_NB;
    e->ctx.sgemm = g->sgemm;
    size_t ws = bnk_sgemm_workspace_size(g, dim, dim, dim);
    if (ws)
        e->ctx.sws = la_alloc(ws);
    e->ctx.dpack = la_alloc(BNK_LA_DPACK * sizeof(double));
    if ((ws && !e->ctx.sws) || !e->ctx.dpack) {
        la_env_free(e);
        return bn_error(BN_ERR_OOM, "%s: cannot allocate the GEMM workspace (%zu bytes)", op, ws);
    }
    return BN_OK;
}

/* ---- operand checks and tensor plumbing --------------------------------- */

static bn_status la_check(const char *op, const char *what, const bn_tensor *t, bool square)
{
    BN_ASSERT(t != NULL);
    char s[160];
    if (t->dtype != BN_F32 && t->dtype != BN_F64)
        return bn_error(BN_ERR_DTYPE,
                        "%s: %s has dtype %s; linalg supports f32 and f64 (cast first)", op, what,
                        bn_dtype_name(t->dtype));
    if (t->ndim < 2)
        return bn_error(BN_ERR_SHAPE, "%s: %s must have at least 2 dims [..., m, n], got %s", op,
                        what, bn_shape_str(t->ndim, t->shape, s, sizeof s));
    if (square && t->shape[t->ndim - 1] != t->shape[t->ndim - 2])
        return bn_error(BN_ERR_SHAPE, "%s: %s must be square [..., n, n], got %s", op, what,
                        bn_shape_str(t->ndim, t->shape, s, sizeof s));
    return BN_OK;
}

#define LA_TILE 32

static int64_t la_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t la_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Number of matrices: the product of the first `lead` dims. */
static int64_t la_count(const bn_tensor *t, int lead)
{
    int64_t nb = 1;
    for (int d = 0; d < lead; d++)
        nb *= t->shape[d];
    return nb;
}

/* Element offset of batch entry b (row-major over the first `lead` dims). */
static int64_t la_boff(const bn_tensor *t, int lead, int64_t b)
{
    int64_t off = t->offset;
    for (int d = lead - 1; d >= 0; d--) {
        off += (b % t->shape[d]) * t->strides[d];
        b /= t->shape[d];
    }
    return off;
}

/* " in batch entry 3" when the operand has batch dims, else "". */
static const char *la_where(char *buf, size_t cap, int lead, int64_t b)
{
    if (lead == 0)
        return "";
    snprintf(buf, cap, " in batch entry %lld", (long long)b);
    return buf;
}

/* dst[doff + i * di + j * dj] = src[soff + i * si + j * sj] for i in [i0, i1),
 * j in [j0, j1), elements of f64 (is64) or f32; j innermost when j_inner. */
static void la_copy_tile(bool is64, const void *src, int64_t soff, int64_t si, int64_t sj,
                         void *dst, int64_t doff, int64_t di, int64_t dj, int64_t i0, int64_t i1,
                         int64_t j0, int64_t j1, bool j_inner)
{
    if (j_inner && sj == 1 && dj == 1) { /* rows contiguous on both sides */
        size_t es = is64 ? sizeof(double) : sizeof(float);
        for (int64_t i = i0; i < i1; i++)
            memcpy((char *)dst + es * (size_t)(doff + i * di + j0),
                   (const char *)src + es * (size_t)(soff + i * si + j0), es * (size_t)(j1 - j0));
        return;
    }
    if (is64) {
        const double *s = (const double *)src + soff;
        double *d = (double *)dst + doff;
        if (j_inner)
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++)
                    d[i * di + j * dj] = s[i * si + j * sj];
        else
            for (int64_t j = j0; j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    d[i * di + j * dj] = s[i * si + j * sj];
    } else {
        const float *s = (const float *)src + soff;
        float *d = (float *)dst + doff;
        if (j_inner)
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++)
                    d[i * di + j * dj] = s[i * si + j * sj];
        else
            for (int64_t j = j0; j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    d[i * di + j * dj] = s[i * si + j * sj];
    }
}

/*
 * Loads batch entry b of t (an r x c matrix in its last two dims; for a
 * vector operand, vec: [..., r] read as r x 1) column-major into dst (ld),
 * transposed (dst = t^T, c x r) when trans.
 */
static void la_load(const bn_tensor *t, int lead, int64_t b, bool vec, bool trans, void *dst,
                    int64_t ld)
{
    int64_t r = t->shape[lead], c = vec ? 1 : t->shape[lead + 1];
    int64_t rs = t->strides[lead], cs = vec ? 0 : t->strides[lead + 1];
    int64_t off = la_boff(t, lead, b);
    const void *base = tensor__base(t);
    bool is64 = t->dtype == BN_F64;
    /* LA_TILE x LA_TILE tiles: one of the two sides is strided (a row-major
     * tensor into a column-major copy), and a tile of it stays in L1; rows
     * contiguous on both sides are copied whole (one memcpy a row) */
    int64_t jt = trans && cs == 1 ? la_max(c, 1) : LA_TILE;
    for (int64_t j0 = 0; j0 < c; j0 += jt)
        for (int64_t i0 = 0; i0 < r; i0 += LA_TILE) {
            int64_t j1 = la_min(c, j0 + jt), i1 = la_min(r, i0 + LA_TILE);
            if (trans) /* dst (j, i) at j + i * ld: j innermost */
                la_copy_tile(is64, base, off, rs, cs, dst, 0, ld, 1, i0, i1, j0, j1, true);
            else /* dst (i, j) at i + j * ld: i innermost */
                la_copy_tile(is64, base, off, rs, cs, dst, 0, 1, ld, i0, i1, j0, j1, false);
        }
}

/* Stores the r x c column-major src (ld; src^T when trans) into batch entry
 * b of the contiguous out [..., r, c] (or [..., r] when c is a vector).
 * tri 'L' / 'U' stores zeros above / below the diagonal instead of src. */
static void la_store_tri(bn_tensor *out, int64_t b, int64_t r, int64_t c, const void *src,
                         int64_t ld, bool trans, char tri)
{
    int64_t off = out->offset + b * r * c;
    void *base = tensor__base(out);
    bool is64 = out->dtype == BN_F64;
    int64_t jt = trans ? la_max(c, 1) : LA_TILE; /* trans: whole rows, as in la_load */
    for (int64_t i0 = 0; i0 < r; i0 += LA_TILE)
        for (int64_t j0 = 0; j0 < c; j0 += jt) {
            int64_t i1 = la_min(r, i0 + LA_TILE), j1 = la_min(c, j0 + jt);
            /* out (i, j) at off + i * c + j, src (i, j) at i + j * ld (trans: j + i * ld) */
            la_copy_tile(is64, src, 0, trans ? ld : 1, trans ? 1 : ld, base, off, c, 1, i0, i1, j0,
                         j1, true);
            if (tri) { /* zero each row's part of the tile outside the triangle */
                size_t es = is64 ? sizeof(double) : sizeof(float);
                for (int64_t i = i0; i < i1; i++) {
                    int64_t z0 = tri == 'L' ? la_max(j0, i + 1) : j0;
                    int64_t z1 = tri == 'L' ? j1 : la_min(j1, i);
                    if (z0 < z1)
                        memset((char *)base + es * (size_t)(off + i * c + z0), 0,
                               es * (size_t)(z1 - z0));
                }
            }
        }
}

/* New contiguous tensor: the first `lead` dims of like, then ntail dims. */
static bn_status la_new(const bn_tensor *like, int lead, int ntail, int64_t d0, int64_t d1,
                        bn_tensor **out)
{
    int64_t shape[BN_MAX_DIMS];
    for (int d = 0; d < lead; d++)
        shape[d] = like->shape[d];
    if (ntail > 0)
        shape[lead] = d0;
    if (ntail > 1)
        shape[lead + 1] = d1;
    return bn_tensor_empty(like->dtype, lead + ntail, shape, out);
}

static void la_store(bn_tensor *out, int64_t b, int64_t r, int64_t c, const void *src, int64_t ld,
                     bool trans)
{
    la_store_tri(out, b, r, c, src, ld, trans, 0);
}

static double la_eps(bn_dtype dt)
{
    return dt == BN_F64 ? DBL_EPSILON / 2 : FLT_EPSILON / 2;
}

/* Element `elems` of a buffer of es-byte elements, as void * (which converts
 * to float * or double * at the typed call). */
static void *la_at(void *base, size_t es, int64_t elems)
{
    return (char *)base + es * (size_t)elems;
}

/* ---- QR ----------------------------------------------------------------- */

bn_status bn_qr(const bn_tensor *a, bn_qr_mode mode, bn_tensor **q, bn_tensor **r)
{
    if (q)
        *q = NULL;
    if (r)
        *r = NULL;
    bn_status st = la_check("qr", "A", a, false);
    if (st)
        return st;
    if (mode != BN_QR_REDUCED && mode != BN_QR_COMPLETE)
        return bn_error(BN_ERR_ARG, "qr: mode %d is not BN_QR_REDUCED or BN_QR_COMPLETE",
                        (int)mode);
    int lead = a->ndim - 2;
    int64_t m = a->shape[lead], n = a->shape[lead + 1], k = la_min(m, n);
    int64_t qc = mode == BN_QR_COMPLETE ? m : k, rr = qc, nb = la_count(a, lead);
    bool is64 = a->dtype == BN_F64;
    size_t es = bn_dtype_size(a->dtype);
    la_env e;
    st = la_env_init(&e, "qr", la_max(m, n));
    if (st)
        return st;
    bn_tensor *tq = NULL, *tr = NULL;
    int64_t nblk = (k + BNK_LA_NB - 1) / BNK_LA_NB;
    void *w = la_alloc(es * (size_t)(m * n + m * qc + k + nblk * BNK_LA_NB * BNK_LA_NB) + 64);
    void *work = la_alloc(es * bnk_la_qr_work(m, la_max(n, qc)));
    if (!w || !work) {
        st = bn_error(BN_ERR_OOM, "qr: cannot allocate the workspace for a %lldx%lld matrix",
                      (long long)m, (long long)n);
        goto cleanup;
    }
    if ((q && (st = la_new(a, lead, 2, m, qc, &tq))) ||
        (r && (st = la_new(a, lead, 2, rr, n, &tr))))
        goto cleanup;
    void *wa = w, *wq = la_at(wa, es, m * n), *tau = la_at(wq, es, m * qc);
    void *tfac = la_at(tau, es, k);
    for (int64_t b = 0; b < nb; b++) {
        la_load(a, lead, b, false, false, wa, m);
        LA_T(is64, la_qr_one, &e, m, n, wa, tau, tfac, work, q ? wq : (void *)NULL, qc);
        if (q)
            la_store(tq, b, m, qc, wq, m, false);
        if (r)
            la_store_tri(tr, b, rr, n, wa, m, false, 'U');
    }
cleanup:
    if (st) {
        bn_tensor_free(tq);
        bn_tensor_free(tr);
        tq = tr = NULL;
    }
    if (q)
        *q = tq;
    if (r)
        *r = tr;
    la_free(w);
    la_free(work);
    la_env_free(&e);
    return st;
}

/* ---- Cholesky ----------------------------------------------------------- */

bn_status bn_cholesky(const bn_tensor *a, bn_tensor **l)
{
    BN_ASSERT(l != NULL);
    *l = NULL;
    bn_status st = la_check("cholesky", "A", a, true);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t n = a->shape[lead], nb = la_count(a, lead);
    bool is64 = a->dtype == BN_F64;
    la_env e;
    st = la_env_init(&e, "cholesky", n);
    if (st)
        return st;
    bn_tensor *out = NULL;
    void *w = la_alloc(bn_dtype_size(a->dtype) * (size_t)(n * n) + 64);
    void *work = la_alloc(bn_dtype_size(a->dtype) * (size_t)(BNK_LA_NB * (2 * BNK_LA_NB + n)));
    if (!w || !work) {
        st = bn_error(BN_ERR_OOM, "cholesky: cannot allocate a %lldx%lld workspace", (long long)n,
                      (long long)n);
        goto cleanup;
    }
    if ((st = la_new(a, lead, 2, n, n, &out)))
        goto cleanup;
    for (int64_t b = 0; b < nb; b++) {
        /* w = A row-major, i.e. A^T column-major, whose upper triangle is
         * A's lower one: A^T = U^T U gives L = U^T, stored back row-major
         * with the same transposed read (no transposition either way) */
        la_load(a, lead, b, false, true, w, n);
        double bad = 0;
        int64_t j = LA_K(&e, is64, potrfu, &e.ctx, n, w, n, &bad, work);
        if (j >= 0) {
            char wb[48];
            st = bn_error(BN_ERR_NOT_SPD,
                          "cholesky: matrix is not positive definite%s: pivot %lld is %g (the "
                          "leading minor of order %lld is not positive)",
                          la_where(wb, sizeof wb, lead, b), (long long)j, bad, (long long)(j + 1));
            goto cleanup;
        }
        la_store_tri(out, b, n, n, w, n, true, 'L');
    }
cleanup:
    if (st) {
        bn_tensor_free(out);
        out = NULL;
    }
    *l = out;
    la_free(w);
    la_free(work);
    la_env_free(&e);
    return st;
}

/* ---- LU, solve, inverse, det -------------------------------------------- */

bn_status bn_lu(const bn_tensor *a, bn_tensor **lu, bn_tensor **piv)
{
    BN_ASSERT(lu != NULL && piv != NULL);
    *lu = *piv = NULL;
    bn_status st = la_check("lu", "A", a, false);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t m = a->shape[lead], n = a->shape[lead + 1], k = la_min(m, n), nb = la_count(a, lead);
    bool is64 = a->dtype == BN_F64;
    la_env e;
    st = la_env_init(&e, "lu", la_max(m, n));
    if (st)
        return st;
    bn_tensor *tlu = NULL, *tp = NULL;
    void *w = la_alloc(bn_dtype_size(a->dtype) * (size_t)(m * n) + 64);
    int32_t *p = la_alloc(sizeof(int32_t) * (size_t)(k + 1));
    if (!w || !p) {
        st = bn_error(BN_ERR_OOM, "lu: cannot allocate the workspace for a %lldx%lld matrix",
                      (long long)m, (long long)n);
        goto cleanup;
    }
    if ((st = la_new(a, lead, 2, m, n, &tlu)))
        goto cleanup;
    int64_t ps[BN_MAX_DIMS];
    for (int d = 0; d < lead; d++)
        ps[d] = a->shape[d];
    ps[lead] = k;
    if ((st = bn_tensor_empty(BN_I32, lead + 1, ps, &tp)))
        goto cleanup;
    for (int64_t b = 0; b < nb; b++) {
        la_load(a, lead, b, false, false, w, m);
        LA_K(&e, is64, getrf, &e.ctx, m, n, w, m, p);
        la_store(tlu, b, m, n, w, m, false);
        memcpy((int32_t *)bn_tensor_data(tp) + b * k, p, sizeof(int32_t) * (size_t)k);
    }
cleanup:
    if (st) {
        bn_tensor_free(tlu);
        bn_tensor_free(tp);
        tlu = tp = NULL;
    }
    *lu = tlu;
    *piv = tp;
    la_free(w);
    la_free(p);
    la_env_free(&e);
    return st;
}

/*
 * Shared body of solve (b non-NULL) and inverse (b NULL: B = I). vec: b is a
 * vector [..., n].
 */
static bn_status la_solve(const char *op, const bn_tensor *a, const bn_tensor *b, bn_tensor **x)
{
    BN_ASSERT(x != NULL);
    *x = NULL;
    bn_status st = la_check(op, "A", a, true);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t n = a->shape[lead], nb = la_count(a, lead), k = n;
    bool vec = false;
    if (b) {
        char s1[160], s2[160];
        if (b->dtype != a->dtype)
            return bn_error(BN_ERR_DTYPE, "%s: A is %s but B is %s (cast one first)", op,
                            bn_dtype_name(a->dtype), bn_dtype_name(b->dtype));
        vec = b->ndim == a->ndim - 1;
        bool ok = vec || b->ndim == a->ndim;
        for (int d = 0; ok && d < lead; d++)
            ok = b->shape[d] == a->shape[d];
        ok = ok && b->shape[lead] == n;
        if (!ok)
            return bn_error(BN_ERR_SHAPE,
                            "%s: B %s does not match A %s (want [..., n, k] or [..., n] with A's "
                            "batch dims and n = %lld)",
                            op, bn_shape_str(b->ndim, b->shape, s1, sizeof s1),
                            bn_shape_str(a->ndim, a->shape, s2, sizeof s2), (long long)n);
        k = vec ? 1 : b->shape[lead + 1];
    }
    bool is64 = a->dtype == BN_F64;
    size_t es = bn_dtype_size(a->dtype);
    la_env e;
    st = la_env_init(&e, op, la_max(n, k));
    if (st)
        return st;
    bn_tensor *out = NULL;
    void *w = la_alloc(es * (size_t)(n * n + n * k) + 64);
    int32_t *p = la_alloc(sizeof(int32_t) * (size_t)(n + 1));
    if (!w || !p) {
        st = bn_error(BN_ERR_OOM, "%s: cannot allocate the workspace for n = %lld, k = %lld", op,
                      (long long)n, (long long)k);
        goto cleanup;
    }
    if ((st = la_new(a, lead, vec ? 1 : 2, n, k, &out)))
        goto cleanup;
    void *wb = la_at(w, es, n * n);
    for (int64_t bi = 0; bi < nb; bi++) {
        la_load(a, lead, bi, false, false, w, n);
        if (b) {
            la_load(b, lead, bi, vec, false, wb, n);
        } else {
            for (int64_t j = 0; j < n; j++)
                for (int64_t i = 0; i < n; i++) {
                    if (is64)
                        ((double *)wb)[i + j * n] = i == j;
                    else
                        ((float *)wb)[i + j * n] = i == j;
                }
        }
        int64_t z = LA_K(&e, is64, getrf, &e.ctx, n, n, w, n, p);
        if (z >= 0) {
            char where[48];
            st = bn_error(BN_ERR_SINGULAR,
                          "%s: matrix is singular%s: pivot %lld (U[%lld,%lld]) is 0 after partial "
                          "pivoting",
                          op, la_where(where, sizeof where, lead, bi), (long long)z, (long long)z,
                          (long long)z);
            goto cleanup;
        }
        LA_K(&e, is64, getrs, n, w, n, p, k, wb, n);
        la_store(out, bi, n, vec ? 1 : k, wb, n, false);
    }
cleanup:
    if (st) {
        bn_tensor_free(out);
        out = NULL;
    }
    *x = out;
    la_free(w);
    la_free(p);
    la_env_free(&e);
    return st;
}

bn_status bn_solve(const bn_tensor *a, const bn_tensor *b, bn_tensor **x)
{
    BN_ASSERT(b != NULL);
    return la_solve("solve", a, b, x);
}

bn_status bn_inverse(const bn_tensor *a, bn_tensor **out)
{
    return la_solve("inverse", a, NULL, out);
}

bn_status bn_det(const bn_tensor *a, bn_tensor **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    bn_status st = la_check("det", "A", a, true);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t n = a->shape[lead], nb = la_count(a, lead);
    bool is64 = a->dtype == BN_F64;
    la_env e;
    st = la_env_init(&e, "det", n);
    if (st)
        return st;
    bn_tensor *t = NULL;
    void *w = la_alloc(bn_dtype_size(a->dtype) * (size_t)(n * n) + 64);
    int32_t *p = la_alloc(sizeof(int32_t) * (size_t)(n + 1));
    if (!w || !p) {
        st = bn_error(BN_ERR_OOM, "det: cannot allocate a %lldx%lld workspace", (long long)n,
                      (long long)n);
        goto cleanup;
    }
    if ((st = la_new(a, lead, 0, 0, 0, &t)))
        goto cleanup;
    for (int64_t b = 0; b < nb; b++) {
        la_load(a, lead, b, false, false, w, n);
        LA_K(&e, is64, getrf, &e.ctx, n, n, w, n, p);
        tensor__store(t->dtype, tensor__base(t), t->offset + b, LA_T(is64, la_det_one, n, w, p));
    }
cleanup:
    if (st) {
        bn_tensor_free(t);
        t = NULL;
    }
    *out = t;
    la_free(w);
    la_free(p);
    la_env_free(&e);
    return st;
}

/* ---- least squares ------------------------------------------------------ */

bn_status bn_lstsq(const bn_tensor *a, const bn_tensor *b, bn_tensor **x)
{
    BN_ASSERT(x != NULL && b != NULL);
    *x = NULL;
    bn_status st = la_check("lstsq", "A", a, false);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t m = a->shape[lead], n = a->shape[lead + 1], nb = la_count(a, lead);
    char s1[160], s2[160];
    if (b->dtype != a->dtype)
        return bn_error(BN_ERR_DTYPE, "lstsq: A is %s but B is %s (cast one first)",
                        bn_dtype_name(a->dtype), bn_dtype_name(b->dtype));
    bool vec = b->ndim == a->ndim - 1;
    bool ok = vec || b->ndim == a->ndim;
    for (int d = 0; ok && d < lead; d++)
        ok = b->shape[d] == a->shape[d];
    ok = ok && b->shape[lead] == m;
    if (!ok)
        return bn_error(BN_ERR_SHAPE,
                        "lstsq: B %s does not match A %s (want [..., m, k] or [..., m] with A's "
                        "batch dims and m = %lld)",
                        bn_shape_str(b->ndim, b->shape, s1, sizeof s1),
                        bn_shape_str(a->ndim, a->shape, s2, sizeof s2), (long long)m);
    int64_t k = vec ? 1 : b->shape[lead + 1], mx = la_max(m, n), mn = la_min(m, n);
    bool is64 = a->dtype == BN_F64;
    size_t es = bn_dtype_size(a->dtype);
    la_env e;
    st = la_env_init(&e, "lstsq", la_max(mx, k));
    if (st)
        return st;
    bn_tensor *out = NULL;
    int64_t nblk = (mn + BNK_LA_NB - 1) / BNK_LA_NB;
    void *w =
        la_alloc(es * (size_t)(m * n + m * k + n * k + mn + nblk * BNK_LA_NB * BNK_LA_NB) + 64);
    void *work = la_alloc(es * bnk_la_qr_work(mx, la_max(mx, k)));
    if (!w || !work) {
        st = bn_error(BN_ERR_OOM, "lstsq: cannot allocate the workspace for a %lldx%lld matrix",
                      (long long)m, (long long)n);
        goto cleanup;
    }
    if ((st = la_new(a, lead, vec ? 1 : 2, n, k, &out)))
        goto cleanup;
    void *wb = la_at(w, es, m * n), *wx = la_at(wb, es, m * k);
    void *tau = la_at(wx, es, n * k), *tfac = la_at(tau, es, mn);
    for (int64_t bi = 0; bi < nb; bi++) {
        la_load(a, lead, bi, false, m < n, w, m >= n ? m : n);
        la_load(b, lead, bi, vec, false, wb, m);
        double val = 0, tol = 0;
        int64_t bad = LA_T(is64, la_lstsq_one, &e, m, n, w, wb, k, wx, tau, tfac, work,
                           la_eps(a->dtype), &val, &tol);
        if (bad >= 0) {
            char where[48];
            st = bn_error(BN_ERR_SINGULAR,
                          "lstsq: A is rank deficient%s: |R[%lld,%lld]| = %g <= %g (max(m,n) * "
                          "eps * max|R[i,i]|); use bn_svd for rank-deficient problems",
                          la_where(where, sizeof where, lead, bi), (long long)bad, (long long)bad,
                          fabs(val), tol);
            goto cleanup;
        }
        la_store(out, bi, n, vec ? 1 : k, wx, n, false);
    }
cleanup:
    if (st) {
        bn_tensor_free(out);
        out = NULL;
    }
    *x = out;
    la_free(w);
    la_free(work);
    la_env_free(&e);
    return st;
}

/* ---- SVD ---------------------------------------------------------------- */

bn_status bn_svd(const bn_tensor *a, bool full, bn_tensor **u, bn_tensor **s, bn_tensor **vt)
{
    BN_ASSERT(s != NULL);
    BN_ASSERT((u == NULL) == (vt == NULL));
    *s = NULL;
    if (u)
        *u = *vt = NULL;
    bn_status st = la_check("svd", "A", a, false);
    if (st)
        return st;
    int lead = a->ndim - 2;
    int64_t m = a->shape[lead], n = a->shape[lead + 1], nb = la_count(a, lead);
    bool tr = m < n, vecs = u != NULL;
    int64_t mm = la_max(m, n), nn = la_min(m, n), ucols = full ? mm : nn;
    bool is64 = a->dtype == BN_F64;
    size_t es = bn_dtype_size(a->dtype);
    la_env e;
    st = la_env_init(&e, "svd", mm);
    if (st)
        return st;
    bn_tensor *tu = NULL, *ts = NULL, *tv = NULL;
    size_t welems =
        (size_t)(mm * nn + nn + (vecs ? mm * ucols + nn * nn : 0)) + la_svd_elems(mm, nn, ucols);
    void *w = la_alloc(es * welems);
    int64_t *iws = vecs ? la_alloc(sizeof(int64_t) * bnk_la_bdsqr_iwork(nn)) : NULL;
    if (!w || (vecs && !iws)) {
        st = bn_error(BN_ERR_OOM, "svd: cannot allocate the workspace for a %lldx%lld matrix",
                      (long long)m, (long long)n);
        goto cleanup;
    }
    void *g = w, *sig = la_at(g, es, mm * nn), *ug = la_at(sig, es, nn);
    void *vg = la_at(ug, es, vecs ? mm * ucols : 0), *ws = la_at(vg, es, vecs ? nn * nn : 0);
    if ((st = la_new(a, lead, 1, nn, 0, &ts)))
        goto cleanup;
    if (vecs) {
        /* A = U S Vt; for tr the core factors A^T = Ug S Vg^T, so U = Vg, Vt = Ug^T */
        if ((st = la_new(a, lead, 2, m, tr ? m : ucols, &tu)) ||
            (st = la_new(a, lead, 2, tr ? ucols : n, n, &tv)))
            goto cleanup;
    }
    for (int64_t b = 0; b < nb; b++) {
        la_load(a, lead, b, false, tr, g, mm);
        for (int64_t i = 0; i < mm * nn; i++) {
            double el = is64 ? ((double *)g)[i] : ((float *)g)[i];
            if (!isfinite(el)) {
                char where[48];
                st = bn_error(BN_ERR_NUMERIC, "svd: A has a non-finite element (%g)%s", el,
                              la_where(where, sizeof where, lead, b));
                goto cleanup;
            }
        }
        int64_t left = LA_T(is64, la_svd_one, &e, mm, nn, g, sig, vecs ? ug : (void *)NULL, ucols,
                            vg, ws, iws);
        if (left) {
            char where[48];
            st = bn_error(BN_ERR_NUMERIC,
                          "svd: the bidiagonal QR iteration did not converge in 6 n^2 = %lld "
                          "steps (%lld superdiagonal entries left)%s",
                          (long long)(6 * nn * nn), (long long)left,
                          la_where(where, sizeof where, lead, b));
            goto cleanup;
        }
        la_store(ts, b, nn, 1, sig, nn, false);
        if (vecs) {
            if (!tr) {
                la_store(tu, b, m, ucols, ug, mm, false);
                la_store(tv, b, n, n, vg, nn, true);
            } else {
                la_store(tu, b, m, m, vg, nn, false);
                la_store(tv, b, ucols, n, ug, mm, true);
            }
        }
    }
cleanup:
    if (st) {
        bn_tensor_free(tu);
        bn_tensor_free(ts);
        bn_tensor_free(tv);
        tu = ts = tv = NULL;
    }
    *s = ts;
    if (u) {
        *u = tu;
        *vt = tv;
    }
    la_free(w);
    la_free(iws);
    la_env_free(&e);
    return st;
}
