/*
 * test_linalg.c - QR, Cholesky, SVD, LU, solve, inverse, det and least
 * squares (bitnet/linalg.h) on f32 and f64.
 *
 * Inputs: random (normal), ill-conditioned (condition number 1e6, built as
 * U diag(s) V^T from random orthogonal factors made by LAPACK, so the
 * construction does not depend on the code under test), rank deficient,
 * zero, identity, 1x1, tall and wide; transposed and sliced views; batches;
 * for the SVD's bidiagonal QR, hand-made bidiagonals (exact 2 x 2 values,
 * zero d and e entries, graded), checked against LAPACK's dbdsqr.
 *
 * Tolerance: tol(n) = base * (1 + n / 16) with base = 1e-5 (f32) or 1e-12
 * (f64), applied to relative reconstruction errors ||A - QR||_F / ||A||_F
 * (and the same for L L^T, U S V^T, P^T L U), to orthogonality
 * ||Q^T Q - I||_F / sqrt(k), to singular values against LAPACK's dgesdd
 * (|s - s_ref| <= tol * s_max) and to solve residuals. All references are
 * computed in double from the tensors' stored values.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"

static double tol(bn_dtype dt, int64_t n)
{
    return (dt == BN_F64 ? 1e-12 : 1e-5) * (1.0 + (double)n / 16.0);
}

/* ---- double-precision helpers (row-major) ------------------------------- */

/* All elements of t row-major as double (malloc'd). */
static double *td(const bn_tensor *t)
{
    int64_t n = bn_tensor_numel(t);
    double *d = malloc(sizeof(double) * (size_t)(n ? n : 1));
    cr_assert_not_null(d);
    for (int64_t i = 0; i < n; i++)
        d[i] = bn_tensor_get_flat(t, i);
    return d;
}

static bn_tensor *mk(bn_dtype dt, int nd, const int64_t *shape, const double *v)
{
    bn_tensor *t = NULL;
    cr_assert_eq(bn_tensor_empty(dt, nd, shape, &t), BN_OK, "%s", bn_last_error());
    int64_t n = bn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        bn_tensor_set_flat(t, i, v[i]);
    return t;
}

static bn_tensor *mk2(bn_dtype dt, int64_t r, int64_t c, const double *v)
{
    int64_t s[2] = {r, c};
    return mk(dt, 2, s, v);
}

static double *randn(int64_t n, uint64_t seed)
{
    bn_tensor *t = NULL;
    int64_t s[1] = {n};
    cr_assert_eq(bn_tensor_rand(BN_F64, 1, s, seed, BN_RAND_NORMAL, 0, 1, &t), BN_OK);
    double *d = td(t);
    bn_tensor_free(t);
    return d;
}

/* C (r x c) = A (r x k) B (k x c); ta/tb: use the transpose of A / B. */
static double *mul(const double *A, bool ta, const double *B, bool tb, int64_t r, int64_t k,
                   int64_t c)
{
    double *C = calloc((size_t)(r * c > 0 ? r * c : 1), sizeof(double));
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            long double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (long double)(ta ? A[p * r + i] : A[i * k + p]) *
                     (tb ? B[j * k + p] : B[p * c + j]);
            C[i * c + j] = (double)s;
        }
    return C;
}

static double fro(const double *a, int64_t n)
{
    long double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (long double)a[i] * a[i];
    return (double)sqrtl(s);
}

/* ||A - B||_F / ||A||_F (absolute when A is zero) */
static double rel_diff(const double *a, const double *b, int64_t n)
{
    long double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (long double)(a[i] - b[i]) * (a[i] - b[i]);
    double na = fro(a, n);
    return (double)sqrtl(s) / (na > 0 ? na : 1);
}

/* ||Q^T Q - I||_F / sqrt(c) for Q (r x c) */
static double orth_err(const double *q, int64_t r, int64_t c)
{
    double *g = mul(q, true, q, false, c, r, c);
    long double s = 0;
    for (int64_t i = 0; i < c; i++)
        for (int64_t j = 0; j < c; j++) {
            double e = g[i * c + j] - (i == j);
            s += (long double)e * e;
        }
    free(g);
    return c ? (double)sqrtl(s) / sqrt((double)c) : 0;
}

/* Random n x n orthogonal matrix (row-major) from LAPACK's QR of a normal one. */
static double *rand_orth(int64_t n, uint64_t seed)
{
    double *a = randn(n * n, seed), *tau = malloc(sizeof(double) * (size_t)n);
    cr_assert_eq(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)n, (int)n, a, (int)n, tau), 0);
    cr_assert_eq(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)n, (int)n, (int)n, a, (int)n, tau), 0);
    free(tau);
    return a;
}

/* m x n matrix U diag(s) V^T with s log-spaced from 1 down to 1/cond over the
 * first `rank` values (zero after them). */
static double *make_cond(int64_t m, int64_t n, double cond, int64_t rank, uint64_t seed)
{
    double *u = rand_orth(m, seed), *v = rand_orth(n, seed + 1);
    int64_t k = m < n ? m : n;
    double *a = calloc((size_t)(m * n), sizeof(double));
    for (int64_t p = 0; p < k && p < rank; p++) {
        double s = rank > 1 ? pow(cond, -(double)p / (double)(rank - 1)) : 1;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                a[i * n + j] += u[i * m + p] * s * v[j * n + p];
    }
    free(u);
    free(v);
    return a;
}

/* Singular values of the m x n row-major a by LAPACK (dgesdd), descending. */
static double *lapack_sv(const double *a, int64_t m, int64_t n)
{
    int64_t k = m < n ? m : n;
    double *c = malloc(sizeof(double) * (size_t)(m * n)), *s = malloc(sizeof(double) * (size_t)k);
    memcpy(c, a, sizeof(double) * (size_t)(m * n));
    cr_assert_eq(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (int)m, (int)n, c, (int)n, s, NULL, (int)m,
                                NULL, (int)n),
                 0);
    free(c);
    return s;
}

/* ---- QR ----------------------------------------------------------------- */

static void check_qr(bn_dtype dt, const double *a0, int64_t m, int64_t n, bn_qr_mode mode,
                     const char *what)
{
    bn_tensor *A = mk2(dt, m, n, a0), *Q = NULL, *R = NULL;
    cr_assert_eq(bn_qr(A, mode, &Q, &R), BN_OK, "%s: %s", what, bn_last_error());
    int64_t k = m < n ? m : n, qc = mode == BN_QR_COMPLETE ? m : k;
    cr_assert_eq(Q->shape[0], m);
    cr_assert_eq(Q->shape[1], qc);
    cr_assert_eq(R->shape[0], qc);
    cr_assert_eq(R->shape[1], n);
    double *a = td(A), *q = td(Q), *r = td(R);
    for (int64_t i = 0; i < qc; i++)
        for (int64_t j = 0; j < n; j++) {
            if (j < i)
                cr_assert_eq(r[i * n + j], 0.0, "%s: R[%lld,%lld] below the diagonal", what,
                             (long long)i, (long long)j);
            if (i == j)
                cr_assert_geq(r[i * n + j], 0.0, "%s: R[%lld,%lld] = %g < 0", what, (long long)i,
                              (long long)i, r[i * n + j]);
        }
    double *qr = mul(q, false, r, false, m, qc, n);
    double t = tol(dt, m > n ? m : n);
    double e1 = rel_diff(a, qr, m * n), e2 = orth_err(q, m, qc);
    cr_assert_leq(e1, t, "%s %s %lldx%lld: ||A-QR||/||A|| = %g > %g", what, bn_dtype_name(dt),
                  (long long)m, (long long)n, e1, t);
    cr_assert_leq(e2, t, "%s %s %lldx%lld: ||Q^TQ-I|| = %g > %g", what, bn_dtype_name(dt),
                  (long long)m, (long long)n, e2, t);
    free(a);
    free(q);
    free(r);
    free(qr);
    bn_tensor_free(A);
    bn_tensor_free(Q);
    bn_tensor_free(R);
}

Test(linalg, qr_random_shapes)
{
    static const int64_t shapes[][2] = {{1, 1},    {5, 5},     {64, 64},  {100, 37},
                                        {37, 100}, {130, 130}, {200, 70}, {3, 9}};
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t m = shapes[s][0], n = shapes[s][1];
            double *a = randn(m * n, 10 + s);
            check_qr(dts[d], a, m, n, BN_QR_REDUCED, "random reduced");
            check_qr(dts[d], a, m, n, BN_QR_COMPLETE, "random complete");
            free(a);
        }
}

Test(linalg, qr_hard_inputs)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    int64_t n = 96;
    for (int d = 0; d < 2; d++) {
        double *ill = make_cond(n, n, 1e6, n, 3);
        check_qr(dts[d], ill, n, n, BN_QR_REDUCED, "cond 1e6");
        double *def = make_cond(80, 60, 10, 20, 4); /* rank 20 */
        check_qr(dts[d], def, 80, 60, BN_QR_COMPLETE, "rank deficient");
        double *z = calloc(40 * 30, sizeof(double));
        check_qr(dts[d], z, 40, 30, BN_QR_COMPLETE, "zero");
        double *id = calloc((size_t)(n * n), sizeof(double));
        for (int64_t i = 0; i < n; i++)
            id[i * n + i] = 1;
        check_qr(dts[d], id, n, n, BN_QR_REDUCED, "identity");
        double neg[1] = {-3};
        check_qr(dts[d], neg, 1, 1, BN_QR_REDUCED, "1x1 negative");
        free(ill);
        free(def);
        free(z);
        free(id);
    }
}

Test(linalg, qr_r_only_and_identity_exact)
{
    double v[4] = {0, 2, -3, 0}; /* [[0,2],[-3,0]] = Q R with R = [[3,0],[0,2]] */
    bn_tensor *A = mk2(BN_F64, 2, 2, v), *R = NULL;
    cr_assert_eq(bn_qr(A, BN_QR_REDUCED, NULL, &R), BN_OK);
    double *r = td(R);
    cr_assert_float_eq(r[0], 3.0, 1e-15);
    cr_assert_float_eq(r[1], 0.0, 1e-15);
    cr_assert_float_eq(r[3], 2.0, 1e-15);
    free(r);
    bn_tensor_free(A);
    bn_tensor_free(R);
}

/* ---- Cholesky ----------------------------------------------------------- */

/* B B^T + shift I for a random n x n B */
static double *make_spd(int64_t n, double shift, uint64_t seed)
{
    double *b = randn(n * n, seed);
    double *a = mul(b, false, b, true, n, n, n);
    for (int64_t i = 0; i < n; i++)
        a[i * n + i] += shift;
    free(b);
    return a;
}

static void check_chol(bn_dtype dt, const double *a0, int64_t n, const char *what)
{
    bn_tensor *A = mk2(dt, n, n, a0), *L = NULL;
    cr_assert_eq(bn_cholesky(A, &L), BN_OK, "%s: %s", what, bn_last_error());
    double *a = td(A), *l = td(L);
    for (int64_t i = 0; i < n; i++) {
        cr_assert_gt(l[i * n + i], 0.0, "%s: L[%lld,%lld] not positive", what, (long long)i,
                     (long long)i);
        for (int64_t j = i + 1; j < n; j++)
            cr_assert_eq(l[i * n + j], 0.0, "%s: L above the diagonal", what);
    }
    double *llt = mul(l, false, l, true, n, n, n);
    double e = rel_diff(a, llt, n * n), t = tol(dt, n);
    cr_assert_leq(e, t, "%s %s n=%lld: ||A-LL^T||/||A|| = %g > %g", what, bn_dtype_name(dt),
                  (long long)n, e, t);
    free(a);
    free(l);
    free(llt);
    bn_tensor_free(A);
    bn_tensor_free(L);
}

Test(linalg, cholesky_inputs)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    static const int64_t ns[] = {1, 7, 64, 65, 150};
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            double *a = make_spd(ns[i], (double)ns[i], 20 + i);
            check_chol(dts[d], a, ns[i], "random SPD");
            free(a);
        }
        int64_t n = 80;
        double *id = calloc((size_t)(n * n), sizeof(double));
        for (int64_t i = 0; i < n; i++)
            id[i * n + i] = 1;
        check_chol(dts[d], id, n, "identity");
        free(id);
    }
    /* f64 with condition number 1e6: Q diag Q^T */
    int64_t n = 100;
    double *q = rand_orth(n, 7), *a = calloc((size_t)(n * n), sizeof(double));
    for (int64_t p = 0; p < n; p++) {
        double s = pow(1e6, -(double)p / (double)(n - 1));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                a[i * n + j] += q[i * n + p] * s * q[j * n + p];
    }
    for (int64_t i = 0; i < n; i++) /* exact symmetry */
        for (int64_t j = 0; j < i; j++)
            a[j * n + i] = a[i * n + j];
    check_chol(BN_F64, a, n, "cond 1e6");
    free(q);
    free(a);
}

Test(linalg, cholesky_reads_lower_triangle_only)
{
    double v[9] = {4, 99, 99, 2, 5, 99, -2, 1, 6}; /* upper part is garbage */
    double s[9] = {4, 2, -2, 2, 5, 1, -2, 1, 6};
    bn_tensor *A = mk2(BN_F64, 3, 3, v), *As = mk2(BN_F64, 3, 3, s), *L1 = NULL, *L2 = NULL;
    cr_assert_eq(bn_cholesky(A, &L1), BN_OK);
    cr_assert_eq(bn_cholesky(As, &L2), BN_OK);
    double *l1 = td(L1), *l2 = td(L2);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(l1[i], l2[i]);
    cr_assert_float_eq(l1[0], 2.0, 1e-15); /* L = [[2,0,0],[1,2,0],[-1,1,2]] */
    cr_assert_float_eq(l1[3], 1.0, 1e-15);
    cr_assert_float_eq(l1[4], 2.0, 1e-15);
    cr_assert_float_eq(l1[6], -1.0, 1e-15);
    cr_assert_float_eq(l1[7], 1.0, 1e-15);
    cr_assert_float_eq(l1[8], 2.0, 1e-15);
    free(l1);
    free(l2);
    bn_tensor_free(A);
    bn_tensor_free(As);
    bn_tensor_free(L1);
    bn_tensor_free(L2);
}

Test(linalg, cholesky_not_spd_names_pivot)
{
    /* leading minors 1, then 1*1 - 2*2 = -3: pivot 1 fails with value -3 */
    double v[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1};
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        bn_tensor *A = mk2(dts[d], 3, 3, v), *L = (bn_tensor *)1;
        cr_assert_eq(bn_cholesky(A, &L), BN_ERR_NOT_SPD);
        cr_assert_null(L);
        const char *msg = bn_last_error();
        cr_assert_not_null(strstr(msg, "not positive definite"), "%s", msg);
        cr_assert_not_null(strstr(msg, "pivot 1 is -3"), "%s", msg);
        bn_tensor_free(A);
    }
    /* zero matrix fails at pivot 0; a batch names its entry */
    double z[8] = {4, 0, 0, 4, 0, 0, 0, 0};
    int64_t s[3] = {2, 2, 2};
    bn_tensor *B = mk(BN_F64, 3, s, z), *L = NULL;
    cr_assert_eq(bn_cholesky(B, &L), BN_ERR_NOT_SPD);
    cr_assert_not_null(strstr(bn_last_error(), "batch entry 1: pivot 0 is 0"), "%s",
                       bn_last_error());
    bn_tensor_free(B);
    /* a failure inside a later block of the blocked algorithm */
    int64_t n = 150;
    double *a = make_spd(n, 1, 5);
    a[140 * n + 140] = -1e6;
    bn_tensor *C = mk2(BN_F64, n, n, a);
    cr_assert_eq(bn_cholesky(C, &L), BN_ERR_NOT_SPD);
    cr_assert_not_null(strstr(bn_last_error(), "pivot 140 is"), "%s", bn_last_error());
    bn_tensor_free(C);
    free(a);
}

/* ---- SVD ---------------------------------------------------------------- */

static void check_svd(bn_dtype dt, const double *a0, int64_t m, int64_t n, bool full,
                      const char *what)
{
    bn_tensor *A = mk2(dt, m, n, a0), *U = NULL, *S = NULL, *Vt = NULL;
    cr_assert_eq(bn_svd(A, full, &U, &S, &Vt), BN_OK, "%s: %s", what, bn_last_error());
    int64_t k = m < n ? m : n, uc = full ? m : k, vr = full ? n : k;
    cr_assert_eq(S->ndim, 1);
    cr_assert_eq(S->shape[0], k);
    cr_assert_eq(U->shape[0], m);
    cr_assert_eq(U->shape[1], uc);
    cr_assert_eq(Vt->shape[0], vr);
    cr_assert_eq(Vt->shape[1], n);
    double *a = td(A), *u = td(U), *s = td(S), *vt = td(Vt);
    double t = tol(dt, m > n ? m : n);
    /* values: sorted, non-negative, equal to LAPACK's on the stored input */
    double *ref = lapack_sv(a, m, n);
    for (int64_t i = 0; i < k; i++) {
        cr_assert_geq(s[i], 0.0);
        if (i)
            cr_assert_leq(s[i], s[i - 1], "%s: not sorted at %lld", what, (long long)i);
        cr_assert_leq(fabs(s[i] - ref[i]), t * (ref[0] > 0 ? ref[0] : 1),
                      "%s %s: s[%lld] = %.17g, LAPACK %.17g", what, bn_dtype_name(dt), (long long)i,
                      s[i], ref[i]);
    }
    /* U S Vt (only the first k columns / rows carry singular values) */
    double *us = calloc((size_t)(m * n > 0 ? m * n : 1), sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            long double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (long double)u[i * uc + p] * s[p] * vt[p * n + j];
            us[i * n + j] = (double)acc;
        }
    double e1 = rel_diff(a, us, m * n), e2 = orth_err(u, m, uc);
    double *v = malloc(sizeof(double) * (size_t)(n * vr)); /* V = Vt^T, n x vr */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < vr; j++)
            v[i * vr + j] = vt[j * n + i];
    double e3 = orth_err(v, n, vr);
    cr_assert_leq(e1, t, "%s %s %lldx%lld: ||A-USV^T||/||A|| = %g > %g", what, bn_dtype_name(dt),
                  (long long)m, (long long)n, e1, t);
    cr_assert_leq(e2, t, "%s %s %lldx%lld: U orthogonality %g > %g", what, bn_dtype_name(dt),
                  (long long)m, (long long)n, e2, t);
    cr_assert_leq(e3, t, "%s %s %lldx%lld: V orthogonality %g > %g", what, bn_dtype_name(dt),
                  (long long)m, (long long)n, e3, t);
    /* values only: the same numbers */
    bn_tensor *S2 = NULL;
    cr_assert_eq(bn_svd(A, false, NULL, &S2, NULL), BN_OK);
    double *s2 = td(S2);
    for (int64_t i = 0; i < k; i++)
        cr_assert_eq(s2[i], s[i], "%s: values-only s[%lld] differs", what, (long long)i);
    free(s2);
    bn_tensor_free(S2);
    free(a);
    free(u);
    free(s);
    free(vt);
    free(v);
    free(ref);
    free(us);
    bn_tensor_free(A);
    bn_tensor_free(U);
    bn_tensor_free(S);
    bn_tensor_free(Vt);
}

Test(linalg, svd_random_shapes)
{
    static const int64_t shapes[][2] = {{1, 1},   {1, 5},   {6, 1},   {8, 8},
                                        {64, 64}, {90, 40}, {40, 90}, {128, 128}};
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t m = shapes[s][0], n = shapes[s][1];
            double *a = randn(m * n, 100 + s);
            check_svd(dts[d], a, m, n, false, "random thin");
            if (m * n <= 90 * 40)
                check_svd(dts[d], a, m, n, true, "random full");
            free(a);
        }
}

Test(linalg, svd_hard_inputs)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        double *ill = make_cond(80, 80, 1e6, 80, 30);
        check_svd(dts[d], ill, 80, 80, false, "cond 1e6");
        double *def = make_cond(50, 40, 10, 12, 31); /* rank 12 */
        check_svd(dts[d], def, 50, 40, true, "rank deficient");
        double *z = calloc(30 * 20, sizeof(double));
        check_svd(dts[d], z, 30, 20, true, "zero");
        check_svd(dts[d], z, 20, 30, false, "zero wide");
        double id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
        check_svd(dts[d], id, 4, 4, true, "identity");
        double one[1] = {-2.5};
        check_svd(dts[d], one, 1, 1, true, "1x1");
        free(ill);
        free(def);
        free(z);
    }
}

Test(linalg, svd_rank_one_and_extreme_scales)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        /* all ones: the reduction leaves a chain of ever smaller entries
         * down to subnormals (once a NaN from an overflowing 1 / (alpha -
         * beta) in the reflector); unblocked and blocked sizes */
        int64_t ns[2] = {120, 200};
        for (int k = 0; k < 2; k++) {
            int64_t n = ns[k];
            double *ones = malloc(sizeof(double) * (size_t)(n * n));
            for (int64_t i = 0; i < n * n; i++)
                ones[i] = 1;
            check_svd(dts[d], ones, n, n, false, "all ones");
            free(ones);
        }
        /* tiny and huge matrices: scaled into range and back */
        double sc[2] = {dts[d] == BN_F64 ? 1e-300 : 1e-35, dts[d] == BN_F64 ? 1e300 : 1e35};
        double *a = randn(50 * 40, 70);
        for (int k = 0; k < 2; k++) {
            double *b = malloc(sizeof(double) * 50 * 40);
            for (int64_t i = 0; i < 50 * 40; i++)
                b[i] = a[i] * sc[k];
            check_svd(dts[d], b, 50, 40, true, k ? "huge" : "tiny");
            free(b);
        }
        free(a);
    }
}

Test(linalg, svd_ill_conditioned_small_values_f64)
{
    /* the smallest singular value of a cond-1e6 matrix, relative to itself
     * (its error is O(eps ||A||) from the bidiagonalization: ~1e-10 here) */
    int64_t n = 60;
    double *a = make_cond(n, n, 1e6, n, 40);
    bn_tensor *A = mk2(BN_F64, n, n, a), *S = NULL;
    cr_assert_eq(bn_svd(A, false, NULL, &S, NULL), BN_OK);
    double *s = td(S), *ref = lapack_sv(a, n, n);
    cr_assert_leq(fabs(s[n - 1] - ref[n - 1]) / ref[n - 1], 1e-8, "s_min %.17g vs %.17g", s[n - 1],
                  ref[n - 1]);
    cr_assert_leq(fabs(s[n - 1] - 1e-6) / 1e-6, 1e-8);
    free(s);
    free(ref);
    free(a);
    bn_tensor_free(A);
    bn_tensor_free(S);
}

/* ---- LU, solve, inverse, det -------------------------------------------- */

Test(linalg, lu_reconstructs_with_pivots)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    static const int64_t shapes[][2] = {{1, 1}, {9, 9}, {130, 130}, {70, 40}, {40, 70}};
    for (int d = 0; d < 2; d++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            int64_t m = shapes[si][0], n = shapes[si][1], k = m < n ? m : n;
            double *a0 = randn(m * n, 200 + si);
            bn_tensor *A = mk2(dts[d], m, n, a0), *LU = NULL, *P = NULL;
            cr_assert_eq(bn_lu(A, &LU, &P), BN_OK, "%s", bn_last_error());
            cr_assert_eq(P->dtype, BN_I32);
            cr_assert_eq(P->shape[0], k);
            double *a = td(A), *lu = td(LU), *p = td(P);
            double *l = calloc((size_t)(m * k), sizeof(double));
            double *u = calloc((size_t)(k * n), sizeof(double));
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < k; j++)
                    l[i * k + j] = i == j ? 1 : i > j ? lu[i * n + j] : 0;
            for (int64_t i = 0; i < k; i++)
                for (int64_t j = i; j < n; j++)
                    u[i * n + j] = lu[i * n + j];
            for (int64_t i = 0; i < m; i++) /* partial pivoting: |L| <= 1 */
                for (int64_t j = 0; j < k; j++)
                    cr_assert_leq(fabs(l[i * k + j]), 1.0);
            /* P A: apply the swaps in order */
            double *pa = malloc(sizeof(double) * (size_t)(m * n));
            memcpy(pa, a, sizeof(double) * (size_t)(m * n));
            for (int64_t j = 0; j < k; j++) {
                int64_t r = (int64_t)p[j];
                cr_assert(r >= j && r < m, "piv[%lld] = %lld", (long long)j, (long long)r);
                for (int64_t c = 0; c < n; c++) {
                    double t = pa[j * n + c];
                    pa[j * n + c] = pa[r * n + c];
                    pa[r * n + c] = t;
                }
            }
            double *plu = mul(l, false, u, false, m, k, n);
            double e = rel_diff(pa, plu, m * n);
            cr_assert_leq(e, tol(dts[d], m > n ? m : n), "%lldx%lld: ||PA-LU||/||A|| = %g",
                          (long long)m, (long long)n, e);
            free(a0);
            free(a);
            free(lu);
            free(p);
            free(l);
            free(u);
            free(pa);
            free(plu);
            bn_tensor_free(A);
            bn_tensor_free(LU);
            bn_tensor_free(P);
        }
}

Test(linalg, solve_and_inverse_residuals)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    static const int64_t ns[] = {1, 5, 64, 129};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            int64_t n = ns[i], k = 3;
            double *a0 = randn(n * n, 300 + i), *b0 = randn(n * k, 400 + i);
            bn_tensor *A = mk2(dts[d], n, n, a0), *B = mk2(dts[d], n, k, b0), *X = NULL;
            cr_assert_eq(bn_solve(A, B, &X), BN_OK, "%s", bn_last_error());
            double *a = td(A), *b = td(B), *x = td(X);
            /* backward error ||AX - B|| / (||A|| ||X||) */
            double *ax = mul(a, false, x, false, n, n, k);
            double e = rel_diff(b, ax, n * k) * fro(b, n * k) / (fro(a, n * n) * fro(x, n * k));
            cr_assert_leq(e, tol(dts[d], n), "solve n=%lld: backward error %g", (long long)n, e);
            /* vector right-hand side gives the first column */
            int64_t vs[1] = {n};
            double *bv = malloc(sizeof(double) * (size_t)n);
            for (int64_t r = 0; r < n; r++)
                bv[r] = b[r * k];
            bn_tensor *Bv = mk(dts[d], 1, vs, bv), *Xv = NULL;
            cr_assert_eq(bn_solve(A, Bv, &Xv), BN_OK);
            cr_assert_eq(Xv->ndim, 1);
            for (int64_t r = 0; r < n; r++)
                cr_assert_eq(bn_tensor_get_flat(Xv, r), x[r * k]);
            /* inverse: A A^-1 = I */
            bn_tensor *Ai = NULL;
            cr_assert_eq(bn_inverse(A, &Ai), BN_OK);
            double *ai = td(Ai), *prod = mul(a, false, ai, false, n, n, n);
            for (int64_t r = 0; r < n; r++)
                prod[r * n + r] -= 1;
            double ei = fro(prod, n * n) / (fro(a, n * n) * fro(ai, n * n));
            cr_assert_leq(ei, tol(dts[d], n), "inverse n=%lld: %g", (long long)n, ei);
            free(a0);
            free(b0);
            free(a);
            free(b);
            free(x);
            free(ax);
            free(bv);
            free(ai);
            free(prod);
            bn_tensor_free(A);
            bn_tensor_free(B);
            bn_tensor_free(X);
            bn_tensor_free(Bv);
            bn_tensor_free(Xv);
            bn_tensor_free(Ai);
        }
}

Test(linalg, singular_matrix_errors)
{
    double v[9] = {1, 2, 3, 2, 4, 6, 1, 0, 1}; /* row 2 = 2 * row 1 */
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        bn_tensor *A = mk2(dts[d], 3, 3, v), *X = (bn_tensor *)1, *B = NULL;
        cr_assert_eq(bn_inverse(A, &X), BN_ERR_SINGULAR);
        cr_assert_null(X);
        cr_assert_not_null(strstr(bn_last_error(), "inverse: matrix is singular"), "%s",
                           bn_last_error());
        cr_assert_not_null(strstr(bn_last_error(), "is 0"), "%s", bn_last_error());
        double ones[3] = {1, 1, 1};
        int64_t s1[1] = {3};
        B = mk(dts[d], 1, s1, ones);
        cr_assert_eq(bn_solve(A, B, &X), BN_ERR_SINGULAR);
        cr_assert_not_null(strstr(bn_last_error(), "solve: matrix is singular"), "%s",
                           bn_last_error());
        bn_tensor *D = NULL;
        cr_assert_eq(bn_det(A, &D), BN_OK);
        cr_assert_eq(bn_tensor_get_flat(D, 0), 0.0);
        bn_tensor_free(D);
        bn_tensor_free(A);
        bn_tensor_free(B);
    }
    double z[4] = {0, 0, 0, 0};
    bn_tensor *Z = mk2(BN_F64, 2, 2, z), *X = NULL;
    cr_assert_eq(bn_inverse(Z, &X), BN_ERR_SINGULAR);
    cr_assert_not_null(strstr(bn_last_error(), "pivot 0"), "%s", bn_last_error());
    bn_tensor_free(Z);
}

Test(linalg, det_sign_and_values)
{
    double perm[4] = {0, 1, 1, 0};                /* one swap: -1 */
    double p3[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};   /* cyclic permutation: +1 */
    double tri[9] = {2, 7, 1, 0, -3, 5, 0, 0, 4}; /* -24 */
    double m2[4] = {1, 2, 3, 4};                  /* -2, pivoting swaps rows */
    bn_dtype dts[2] = {BN_F32, BN_F64};
    struct {
        const double *v;
        int64_t n;
        double want;
    } cases[] = {{perm, 2, -1}, {p3, 3, 1}, {tri, 3, -24}, {m2, 2, -2}};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            bn_tensor *A = mk2(dts[d], cases[i].n, cases[i].n, cases[i].v), *D = NULL;
            cr_assert_eq(bn_det(A, &D), BN_OK);
            cr_assert_eq(D->ndim, 0);
            double got = bn_tensor_get_flat(D, 0);
            cr_assert_leq(fabs(got - cases[i].want), 1e-5 * fabs(cases[i].want),
                          "case %zu: det %g, want %g", i, got, cases[i].want);
            bn_tensor_free(A);
            bn_tensor_free(D);
        }
    /* random: det = product of the singular values in magnitude; sign from LAPACK's LU */
    int64_t n = 40;
    double *a = randn(n * n, 77), *lu = malloc(sizeof(double) * (size_t)(n * n));
    memcpy(lu, a, sizeof(double) * (size_t)(n * n));
    lapack_int ipiv[40];
    cr_assert_eq(LAPACKE_dgetrf(LAPACK_ROW_MAJOR, (int)n, (int)n, lu, (int)n, ipiv), 0);
    double want = 1;
    for (int64_t i = 0; i < n; i++)
        want *= lu[i * n + i] * (ipiv[i] != i + 1 ? -1 : 1);
    bn_tensor *A = mk2(BN_F64, n, n, a), *D = NULL;
    cr_assert_eq(bn_det(A, &D), BN_OK);
    cr_assert_leq(fabs(bn_tensor_get_flat(D, 0) - want), 1e-10 * fabs(want), "det %.17g vs %.17g",
                  bn_tensor_get_flat(D, 0), want);
    free(a);
    free(lu);
    bn_tensor_free(A);
    bn_tensor_free(D);
}

/* ---- least squares ------------------------------------------------------ */

static void check_lstsq(bn_dtype dt, int64_t m, int64_t n, int64_t k, uint64_t seed)
{
    double *a0 = randn(m * n, seed), *b0 = randn(m * k, seed + 1);
    bn_tensor *A = mk2(dt, m, n, a0), *B = mk2(dt, m, k, b0), *X = NULL;
    cr_assert_eq(bn_lstsq(A, B, &X), BN_OK, "%s", bn_last_error());
    cr_assert_eq(X->shape[0], n);
    cr_assert_eq(X->shape[1], k);
    double *a = td(A), *b = td(B), *x = td(X);
    /* LAPACK dgels on the same stored values (minimum norm when m < n) */
    int64_t ldb = k, rows = m > n ? m : n;
    double *la = malloc(sizeof(double) * (size_t)(m * n)), *lb = calloc((size_t)(rows * k), 8);
    memcpy(la, a, sizeof(double) * (size_t)(m * n));
    memcpy(lb, b, sizeof(double) * (size_t)(m * k));
    cr_assert_eq(
        LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', (int)m, (int)n, (int)k, la, (int)n, lb, (int)ldb), 0);
    double e = rel_diff(lb, x, n * k);
    double t = dt == BN_F64 ? tol(dt, rows) : 1e-3; /* f32: cond(A) ~ 10 amplifies */
    cr_assert_leq(e, t, "%s %lldx%lld: ||x - x_lapack||/||x|| = %g > %g", bn_dtype_name(dt),
                  (long long)m, (long long)n, e, t);
    free(a0);
    free(b0);
    free(a);
    free(b);
    free(x);
    free(la);
    free(lb);
    bn_tensor_free(A);
    bn_tensor_free(B);
    bn_tensor_free(X);
}

Test(linalg, lstsq_tall_wide_square)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        check_lstsq(dts[d], 100, 30, 2, 500);
        check_lstsq(dts[d], 30, 100, 3, 510);
        check_lstsq(dts[d], 20, 20, 1, 520);
        check_lstsq(dts[d], 150, 80, 1, 530);
    }
}

Test(linalg, lstsq_rank_deficient_error)
{
    double v[6] = {1, 2, 2, 4, 3, 6}; /* 3x2, column 2 = 2 * column 1 */
    double b[3] = {1, 2, 3};
    int64_t s[1] = {3};
    bn_tensor *A = mk2(BN_F64, 3, 2, v), *B = mk(BN_F64, 1, s, b), *X = (bn_tensor *)1;
    cr_assert_eq(bn_lstsq(A, B, &X), BN_ERR_SINGULAR);
    cr_assert_null(X);
    cr_assert_not_null(strstr(bn_last_error(), "rank deficient"), "%s", bn_last_error());
    cr_assert_not_null(strstr(bn_last_error(), "R[1,1]"), "%s", bn_last_error());
    bn_tensor_free(A);
    bn_tensor_free(B);
}

/* ---- views and batches --------------------------------------------------- */

/* The same function of a view and of its contiguous copy gives identical
 * bits: the working copy reads through the strides. */
static void same_tensor(const bn_tensor *x, const bn_tensor *y)
{
    cr_assert_eq(x->ndim, y->ndim);
    int64_t n = bn_tensor_numel(x);
    cr_assert_eq(n, bn_tensor_numel(y));
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(bn_tensor_get_flat(x, i), bn_tensor_get_flat(y, i), "element %lld",
                     (long long)i);
}

Test(linalg, transposed_and_sliced_views)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        int64_t s[2] = {90, 140};
        double *v = randn(90 * 140, 600);
        bn_tensor *big = mk(dts[d], 2, s, v), *T = NULL, *S = NULL, *Tc = NULL, *Sc = NULL;
        cr_assert_eq(bn_transpose(big, 0, 1, &T), BN_OK); /* 140 x 90 view */
        bn_tensor *S1 = NULL;
        cr_assert_eq(bn_slice(big, 1, 3, 140, 2, &S1), BN_OK); /* 90 x 69, column step 2 */
        cr_assert_eq(bn_slice(S1, 0, 5, 74, 1, &S), BN_OK);    /* 69 x 69 */
        cr_assert_eq(bn_contiguous(T, &Tc), BN_OK);
        cr_assert_eq(bn_contiguous(S, &Sc), BN_OK);
        cr_assert_not(bn_tensor_is_contiguous(T));
        cr_assert_not(bn_tensor_is_contiguous(S));
        bn_tensor *q1, *r1, *q2, *r2;
        cr_assert_eq(bn_qr(T, BN_QR_REDUCED, &q1, &r1), BN_OK);
        cr_assert_eq(bn_qr(Tc, BN_QR_REDUCED, &q2, &r2), BN_OK);
        same_tensor(q1, q2);
        same_tensor(r1, r2);
        bn_tensor *u1, *s1, *v1, *u2, *s2, *v2;
        cr_assert_eq(bn_svd(T, false, &u1, &s1, &v1), BN_OK);
        cr_assert_eq(bn_svd(Tc, false, &u2, &s2, &v2), BN_OK);
        same_tensor(u1, u2);
        same_tensor(s1, s2);
        same_tensor(v1, v2);
        bn_tensor *d1, *d2, *i1, *i2;
        cr_assert_eq(bn_det(S, &d1), BN_OK);
        cr_assert_eq(bn_det(Sc, &d2), BN_OK);
        same_tensor(d1, d2);
        cr_assert_eq(bn_inverse(S, &i1), BN_OK);
        cr_assert_eq(bn_inverse(Sc, &i2), BN_OK);
        same_tensor(i1, i2);
        bn_tensor *all[] = {big, T,  S,  S1, Tc, Sc, q1, r1, q2, r2,
                            u1,  s1, v1, u2, s2, v2, d1, d2, i1, i2};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            bn_tensor_free(all[i]);
        free(v);
    }
}

Test(linalg, batched_matches_single)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        int64_t n = 20, shape[4] = {2, 3, n, n};
        double *v = malloc(sizeof(double) * 6 * (size_t)(n * n));
        for (int b = 0; b < 6; b++) {
            double *spd = make_spd(n, (double)n, 700 + b);
            memcpy(v + b * n * n, spd, sizeof(double) * (size_t)(n * n));
            free(spd);
        }
        bn_tensor *A = mk(dts[d], 4, shape, v);
        bn_tensor *L = NULL, *Q = NULL, *R = NULL, *S = NULL, *D = NULL, *X = NULL;
        cr_assert_eq(bn_cholesky(A, &L), BN_OK);
        cr_assert_eq(bn_qr(A, BN_QR_REDUCED, &Q, &R), BN_OK);
        cr_assert_eq(bn_svd(A, false, NULL, &S, NULL), BN_OK);
        cr_assert_eq(bn_det(A, &D), BN_OK);
        cr_assert_eq(bn_inverse(A, &X), BN_OK);
        cr_assert_eq(S->ndim, 3);
        cr_assert_eq(D->ndim, 2);
        cr_assert_eq(D->shape[0], 2);
        cr_assert_eq(D->shape[1], 3);
        for (int64_t b = 0; b < 6; b++) {
            bn_tensor *Ab = mk2(dts[d], n, n, v + b * n * n);
            bn_tensor *l, *q, *r, *s, *det, *x;
            cr_assert_eq(bn_cholesky(Ab, &l), BN_OK);
            cr_assert_eq(bn_qr(Ab, BN_QR_REDUCED, &q, &r), BN_OK);
            cr_assert_eq(bn_svd(Ab, false, NULL, &s, NULL), BN_OK);
            cr_assert_eq(bn_det(Ab, &det), BN_OK);
            cr_assert_eq(bn_inverse(Ab, &x), BN_OK);
            for (int64_t i = 0; i < n * n; i++) {
                cr_assert_eq(bn_tensor_get_flat(L, b * n * n + i), bn_tensor_get_flat(l, i));
                cr_assert_eq(bn_tensor_get_flat(Q, b * n * n + i), bn_tensor_get_flat(q, i));
                cr_assert_eq(bn_tensor_get_flat(R, b * n * n + i), bn_tensor_get_flat(r, i));
                cr_assert_eq(bn_tensor_get_flat(X, b * n * n + i), bn_tensor_get_flat(x, i));
            }
            for (int64_t i = 0; i < n; i++)
                cr_assert_eq(bn_tensor_get_flat(S, b * n + i), bn_tensor_get_flat(s, i));
            cr_assert_eq(bn_tensor_get_flat(D, b), bn_tensor_get_flat(det, 0));
            bn_tensor *all[] = {Ab, l, q, r, s, det, x};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                bn_tensor_free(all[i]);
        }
        bn_tensor *all[] = {A, L, Q, R, S, D, X};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            bn_tensor_free(all[i]);
        free(v);
    }
}

/* ---- bad input ----------------------------------------------------------- */

Test(linalg, bad_input_errors)
{
    int64_t s2[2] = {3, 3}, s23[2] = {2, 3}, s1[1] = {3};
    bn_tensor *I8 = NULL, *V = NULL, *R = NULL, *F = NULL, *G = NULL, *out = (bn_tensor *)1;
    cr_assert_eq(bn_tensor_zeros(BN_I8, 2, s2, &I8), BN_OK);
    cr_assert_eq(bn_tensor_zeros(BN_F32, 1, s1, &V), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s23, &R), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F32, 2, s2, &F), BN_OK);
    cr_assert_eq(bn_tensor_ones(BN_F64, 2, s2, &G), BN_OK);
    cr_assert_eq(bn_cholesky(I8, &out), BN_ERR_DTYPE);
    cr_assert_null(out);
    cr_assert_not_null(strstr(bn_last_error(), "dtype i8"), "%s", bn_last_error());
    cr_assert_eq(bn_svd(V, false, NULL, &out, NULL), BN_ERR_SHAPE);
    cr_assert_not_null(strstr(bn_last_error(), "[3]"), "%s", bn_last_error());
    cr_assert_eq(bn_cholesky(R, &out), BN_ERR_SHAPE);
    cr_assert_not_null(strstr(bn_last_error(), "square"), "%s", bn_last_error());
    cr_assert_eq(bn_inverse(R, &out), BN_ERR_SHAPE);
    cr_assert_eq(bn_det(R, &out), BN_ERR_SHAPE);
    cr_assert_eq(bn_solve(F, G, &out), BN_ERR_DTYPE);
    cr_assert_eq(bn_solve(F, R, &out), BN_ERR_SHAPE);
    cr_assert_not_null(strstr(bn_last_error(), "[2,3]"), "%s", bn_last_error());
    bn_tensor *q = NULL, *r = NULL;
    cr_assert_eq(bn_qr(F, (bn_qr_mode)7, &q, &r), BN_ERR_ARG);
    cr_assert_null(q);
    /* NaN input to SVD is a numeric error, not a hang */
    bn_tensor_set_flat(G, 4, NAN);
    bn_tensor *s = NULL;
    cr_assert_eq(bn_svd(G, false, NULL, &s, NULL), BN_ERR_NUMERIC);
    cr_assert_null(s);
    bn_tensor *all[] = {I8, V, R, F, G};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        bn_tensor_free(all[i]);
}

Test(linalg, empty_matrices)
{
    int64_t s[2] = {0, 0}, s3[3] = {0, 4, 4};
    bn_tensor *E = NULL, *B = NULL, *L = NULL, *D = NULL, *S = NULL;
    cr_assert_eq(bn_tensor_empty(BN_F64, 2, s, &E), BN_OK);
    cr_assert_eq(bn_cholesky(E, &L), BN_OK);
    cr_assert_eq(bn_tensor_numel(L), 0);
    cr_assert_eq(bn_det(E, &D), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(D, 0), 1.0); /* empty product */
    cr_assert_eq(bn_tensor_empty(BN_F32, 3, s3, &B), BN_OK);
    cr_assert_eq(bn_svd(B, false, NULL, &S, NULL), BN_OK);
    cr_assert_eq(S->shape[0], 0);
    cr_assert_eq(S->shape[1], 4);
    bn_tensor *all[] = {E, B, L, D, S};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        bn_tensor_free(all[i]);
}

/* ---- f64 as a tensor dtype ----------------------------------------------- */

Test(linalg, f64_dtype_storage_and_cast)
{
    int64_t s[1] = {3};
    double v[3] = {0.1, -1e300, 3.0};
    bn_tensor *t = mk(BN_F64, 1, s, v), *f = NULL, *back = NULL, *y = NULL;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(bn_tensor_get_flat(t, i), v[i]); /* exact */
    cr_assert_eq(bn_cast(t, BN_F32, &f), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(f, 0), (double)0.1f);
    cr_assert(isinf(bn_tensor_get_flat(f, 1)));
    cr_assert_eq(bn_cast(f, BN_F64, &back), BN_OK);
    cr_assert_eq(bn_tensor_get_flat(back, 0), (double)0.1f);
    cr_assert_eq(bn_add(t, t, &y), BN_ERR_DTYPE);
    cr_assert_not_null(strstr(bn_last_error(), "f64"), "%s", bn_last_error());
    bn_tensor_free(t);
    bn_tensor_free(f);
    bn_tensor_free(back);
}

/* ---- out of memory -------------------------------------------------------- */

/* Every allocation of each function, made to fail in turn: the call returns
 * BN_ERR_OOM with its outputs NULL, or succeeds (once k passes the number of
 * allocations it makes), and no block is left behind either way. */
Test(linalg, allocation_failures_leak_nothing)
{
    bn_pool *p = bn_pool_default();
    int64_t s[2] = {70, 50}, sq[2] = {40, 40}, sb[2] = {40, 2};
    double *v = randn(70 * 50, 900), *spd = make_spd(40, 40, 901), *bv = randn(80, 902);
    bn_tensor *A = mk(BN_F64, 2, s, v), *S = mk(BN_F32, 2, sq, spd), *B = mk(BN_F32, 2, sb, bv);
    size_t live0 = bn_pool_leak_report(p, NULL);
    for (int op = 0; op < 7; op++) {
        bool succeeded = false;
        for (int64_t k = 0; k < 64 && !succeeded; k++) {
            bn_tensor *o1 = NULL, *o2 = NULL, *o3 = NULL;
            bn_pool_fail_after(p, k, 0);
            bn_status st;
            switch (op) {
            case 0:
                st = bn_qr(A, BN_QR_COMPLETE, &o1, &o2);
                break;
            case 1:
                st = bn_svd(A, true, &o1, &o2, &o3);
                break;
            case 2:
                st = bn_cholesky(S, &o1);
                break;
            case 3:
                st = bn_lu(A, &o1, &o2);
                break;
            case 4:
                st = bn_solve(S, B, &o1);
                break;
            case 5:
                st = bn_det(S, &o1);
                break;
            default:
                st = bn_lstsq(S, B, &o1);
                break;
            }
            bn_pool_fail_after(p, -1, 0);
            if (st == BN_OK) {
                succeeded = true;
                cr_assert_not_null(o1);
            } else {
                cr_assert_eq(st, BN_ERR_OOM, "op %d, k %lld: %s", op, (long long)k,
                             bn_last_error());
                cr_assert(o1 == NULL && o2 == NULL && o3 == NULL, "op %d: outputs left on error",
                          op);
            }
            bn_tensor_free(o1);
            bn_tensor_free(o2);
            bn_tensor_free(o3);
            cr_assert_eq(bn_pool_leak_report(p, NULL), live0, "op %d, k %lld: blocks leaked", op,
                         (long long)k);
        }
        cr_assert(succeeded, "op %d never succeeded", op);
    }
    bn_tensor_free(A);
    bn_tensor_free(S);
    bn_tensor_free(B);
    free(v);
    free(spd);
    free(bv);
}

/* ---- every ISA build of the core against the portable one ----------------- */

#include "kernels/linalg.h"

static bool table_runs(const bnk_linalg *t)
{
    if (t == &bnk_linalg_avx512)
        return bnk_gemm_impls[BNK_GEMM_AVX512].available();
    if (t == &bnk_linalg_avx2)
        return bnk_gemm_impls[BNK_GEMM_AVX2].available();
    return true;
}

/* Singular values of the n x n column-major a0 by one table's gebrd and
 * bdsqr (values only), in sv[n]. */
static void table_sv(const bnk_linalg *t, const bnk_la_ctx *ctx, int64_t n, const double *a0,
                     double *sv)
{
    size_t nn = (size_t)(n * n);
    double *g = malloc(nn * 8), *e = malloc((size_t)n * 8), *tq = malloc((size_t)n * 8);
    double *tp = malloc((size_t)n * 8), *work = malloc(bnk_la_gebrd_work(n, n) * 8);
    memcpy(g, a0, nn * 8);
    t->gebrd_f64(ctx, n, n, g, n, sv, e, tq, tp, work);
    cr_assert_eq(t->bdsqr_f64(n, sv, e, NULL, 0, 0, NULL, 0, NULL, NULL), 0);
    free(g);
    free(e);
    free(tq);
    free(tp);
    free(work);
}

/* LU, Cholesky and the bidiagonal SVD of each table agree with the
 * reference table's to a tolerance (the builds differ only in vector order
 * and FMA contraction). */
Test(linalg, isa_tables_match_reference)
{
    const bnk_linalg *tabs[] = {&bnk_linalg_avx2, &bnk_linalg_avx512};
    int runnable = 0;
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++)
        runnable += table_runs(tabs[t]);
    if (runnable == 0)
        cr_skip_test("this CPU runs neither the avx2 nor the avx512 linear-algebra table: nothing "
                     "to compare with the reference");
    int64_t n = 150;
    double *a0 = randn(n * n, 1000), *spd = make_spd(n, (double)n, 1001);
    double *dpack = aligned_alloc(64, BNK_LA_DPACK * sizeof(double));
    bnk_la_ctx ctx = {.sgemm = bnk_gemm_impls[BNK_GEMM_REF].sgemm, .sws = NULL, .dpack = dpack};
    size_t nn = (size_t)(n * n);
    double *ref_lu = malloc(nn * 8), *ref_ch = malloc(nn * 8);
    double *lu = malloc(nn * 8), *ch = malloc(nn * 8);
    double *ref_s = malloc((size_t)n * 8), *s = malloc((size_t)n * 8);
    double *work = malloc((size_t)(BNK_LA_NB * (2 * BNK_LA_NB + n)) * 8);
    int32_t ref_piv[150], piv[150];
    memcpy(ref_lu, a0, nn * 8);
    memcpy(ref_ch, spd, nn * 8);
    double bad;
    cr_assert_eq(bnk_linalg_ref.getrf_f64(&ctx, n, n, ref_lu, n, ref_piv), -1);
    cr_assert_eq(bnk_linalg_ref.potrfu_f64(&ctx, n, ref_ch, n, &bad, work), -1);
    table_sv(&bnk_linalg_ref, &ctx, n, a0, ref_s);
    /* the reference's values are LAPACK's (a0 read column-major is A^T:
     * the same singular values) */
    double *lap = lapack_sv(a0, n, n);
    for (int64_t j = 0; j < n; j++)
        cr_assert_leq(fabs(ref_s[j] - lap[j]), 1e-12 * lap[0], "ref: sigma[%lld] %.17g vs %.17g",
                      (long long)j, ref_s[j], lap[j]);
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++) {
        if (!table_runs(tabs[t]))
            continue;
        ctx.sgemm = bnk_gemm_best()->sgemm;
        memcpy(lu, a0, nn * 8);
        memcpy(ch, spd, nn * 8);
        cr_assert_eq(tabs[t]->getrf_f64(&ctx, n, n, lu, n, piv), -1);
        cr_assert_eq(tabs[t]->potrfu_f64(&ctx, n, ch, n, &bad, work), -1);
        table_sv(tabs[t], &ctx, n, a0, s);
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(piv[i], ref_piv[i], "%s: piv[%lld]", tabs[t]->name, (long long)i);
        double e1 = rel_diff(ref_lu, lu, n * n), e2 = 0;
        for (int64_t j = 0; j < n; j++) /* upper triangle: the factor */
            for (int64_t i = 0; i <= j; i++)
                e2 = fmax(e2, fabs(ch[i + j * n] - ref_ch[i + j * n]) / ref_ch[j + j * n]);
        cr_assert_leq(e1, 1e-12, "%s: LU differs by %g", tabs[t]->name, e1);
        cr_assert_leq(e2, 1e-12, "%s: Cholesky differs by %g", tabs[t]->name, e2);
        for (int64_t j = 0; j < n; j++)
            cr_assert_leq(fabs(s[j] - ref_s[j]), 1e-12 * ref_s[0], "%s: sigma[%lld] %.17g vs %.17g",
                          tabs[t]->name, (long long)j, s[j], ref_s[j]);
    }
    free(a0);
    free(spd);
    free(dpack);
    free(ref_lu);
    free(ref_ch);
    free(lu);
    free(ch);
    free(ref_s);
    free(s);
    free(lap);
    free(work);
}

/* ---- bidiagonal QR (bdsqr) on hand-made bidiagonals ---------------------- */

/*
 * Runs table t's bdsqr (f64 or f32) on the upper bidiagonal d[n], e[n-1]
 * (rounded to the type) without and with vectors; checks that both give the
 * same values, that B = U diag(s) V^T and U, V are orthogonal to tol(dt, n),
 * and that each value is LAPACK's (dbdsqr in double on the rounded input)
 * within rtol * s_ref[i] + atol * s_ref[0]. Returns the values in s[n].
 */
static void check_bd(const bnk_linalg *t, bn_dtype dt, int64_t n, const double *d0,
                     const double *e0, double rtol, double atol, const char *what, double *s)
{
    bool is64 = dt == BN_F64;
    size_t nn = (size_t)(n * n);
    double *d = malloc((size_t)n * 8), *e = calloc((size_t)n + 1, 8), *ref = malloc((size_t)n * 8);
    double *u = calloc(nn, 8), *v = calloc(nn, 8), *s2 = malloc((size_t)n * 8);
    for (int64_t i = 0; i < n; i++) {
        d[i] = is64 ? d0[i] : (double)(float)d0[i];
        if (i + 1 < n)
            e[i] = is64 ? e0[i] : (double)(float)e0[i];
    }
    double *b = calloc(nn, 8); /* B row-major, from the rounded input */
    for (int64_t i = 0; i < n; i++) {
        b[i * n + i] = d[i];
        if (i + 1 < n)
            b[i * n + i + 1] = e[i];
    }
    memcpy(ref, d, (size_t)n * 8);
    double *er = calloc((size_t)n + 1, 8);
    memcpy(er, e, (size_t)n * 8);
    cr_assert_eq(
        LAPACKE_dbdsqr(LAPACK_COL_MAJOR, 'U', (int)n, 0, 0, 0, ref, er, NULL, 1, NULL, 1, NULL, 1),
        0);
    size_t rw = bnk_la_bdsqr_work(n), iw = bnk_la_bdsqr_iwork(n);
    int64_t *iwk = malloc(iw * sizeof(int64_t));
    if (is64) {
        double *dv = malloc((size_t)n * 8), *ev = calloc((size_t)n + 1, 8), *w = malloc(rw * 8);
        memcpy(s2, d, (size_t)n * 8);
        memcpy(ev, e, (size_t)n * 8);
        cr_assert_eq(t->bdsqr_f64(n, s2, ev, NULL, 0, 0, NULL, 0, NULL, NULL), 0, "%s", what);
        memcpy(dv, d, (size_t)n * 8);
        memcpy(ev, e, (size_t)n * 8);
        for (int64_t i = 0; i < n; i++)
            u[i + i * n] = v[i + i * n] = 1;
        cr_assert_eq(t->bdsqr_f64(n, dv, ev, u, n, n, v, n, w, iwk), 0, "%s", what);
        memcpy(s, dv, (size_t)n * 8);
        free(dv);
        free(ev);
        free(w);
    } else {
        float *dv = malloc((size_t)n * 4), *ev = calloc((size_t)n + 1, 4), *w = malloc(rw * 4);
        float *uf = calloc(nn, 4), *vf = calloc(nn, 4);
        for (int64_t i = 0; i < n; i++) {
            dv[i] = (float)d[i];
            ev[i] = (float)e[i];
        }
        cr_assert_eq(t->bdsqr_f32(n, dv, ev, NULL, 0, 0, NULL, 0, NULL, NULL), 0, "%s", what);
        for (int64_t i = 0; i < n; i++) {
            s2[i] = dv[i];
            dv[i] = (float)d[i];
            ev[i] = (float)e[i];
            uf[i + i * n] = vf[i + i * n] = 1;
        }
        cr_assert_eq(t->bdsqr_f32(n, dv, ev, uf, n, n, vf, n, w, iwk), 0, "%s", what);
        for (int64_t i = 0; i < n; i++)
            s[i] = dv[i];
        for (size_t i = 0; i < nn; i++) {
            u[i] = uf[i];
            v[i] = vf[i];
        }
        free(dv);
        free(ev);
        free(w);
        free(uf);
        free(vf);
    }
    double tl = tol(dt, n);
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq(s2[i], s[i], "%s: values-only s[%lld] differs", what, (long long)i);
        cr_assert_geq(s[i], 0.0, "%s", what);
        if (i)
            cr_assert_leq(s[i], s[i - 1], "%s: not sorted at %lld", what, (long long)i);
        cr_assert_leq(fabs(s[i] - ref[i]), rtol * ref[i] + atol * ref[0],
                      "%s %s: s[%lld] = %.17g, LAPACK %.17g", what, bn_dtype_name(dt), (long long)i,
                      s[i], ref[i]);
    }
    /* u, v column-major: the row-major reading is U^T, V^T */
    double *usv = calloc(nn, 8);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            long double acc = 0;
            for (int64_t p = 0; p < n; p++)
                acc += (long double)u[i + p * n] * s[p] * v[j + p * n];
            usv[i * n + j] = (double)acc;
        }
    double e1 = rel_diff(b, usv, n * n), e2 = orth_err(u, n, n), e3 = orth_err(v, n, n);
    cr_assert_leq(e1, tl, "%s %s: ||B - U S V^T|| / ||B|| = %g", what, bn_dtype_name(dt), e1);
    cr_assert_leq(e2, tl, "%s %s: U orthogonality %g", what, bn_dtype_name(dt), e2);
    cr_assert_leq(e3, tl, "%s %s: V orthogonality %g", what, bn_dtype_name(dt), e3);
    free(d);
    free(e);
    free(ref);
    free(er);
    free(u);
    free(v);
    free(s2);
    free(b);
    free(usv);
    free(iwk);
}

/* The tables to run: the reference one and the one the engine picks. */
static const bnk_linalg *bd_tables[2];

static int bd_ntables(void)
{
    bd_tables[0] = &bnk_linalg_ref;
    int k = 1;
    if (table_runs(&bnk_linalg_avx512))
        bd_tables[k++] = &bnk_linalg_avx512;
    else if (table_runs(&bnk_linalg_avx2))
        bd_tables[k++] = &bnk_linalg_avx2;
    return k;
}

Test(linalg, bdsqr_small_exact_values)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    int nt = bd_ntables();
    for (int ti = 0; ti < nt; ti++)
        for (int di = 0; di < 2; di++) {
            bn_dtype dt = dts[di];
            double ep = dt == BN_F64 ? DBL_EPSILON : FLT_EPSILON, s[2];
            /* 1x1: |d| */
            double d1[1] = {-2.5};
            check_bd(bd_tables[ti], dt, 1, d1, NULL, 0, 0, "1x1", s);
            cr_assert_eq(s[0], 2.5);
            /* [1 1; 0 1]: the golden ratio and its inverse */
            double d2[2] = {1, 1}, e2[1] = {1};
            check_bd(bd_tables[ti], dt, 2, d2, e2, 4 * ep, 0, "[1 1; 0 1]", s);
            double phi = (1 + sqrt(5.0)) / 2;
            cr_assert_leq(fabs(s[0] - phi), 4 * ep * phi, "%.17g", s[0]);
            cr_assert_leq(fabs(s[1] - 1 / phi), 4 * ep / phi, "%.17g", s[1]);
            /* [3 4; 0 0]: 5 and an exact 0 (zero-shift step) */
            double d3[2] = {3, 0}, e3[1] = {4};
            check_bd(bd_tables[ti], dt, 2, d3, e3, 4 * ep, 4 * ep, "[3 4; 0 0]", s);
            cr_assert_leq(fabs(s[0] - 5), 4 * ep * 5, "%.17g", s[0]);
            cr_assert_eq(s[1], 0.0, "%.17g", s[1]);
            /* diagonal (all e zero), negative entries: |d| sorted */
            double d4[4] = {-1, 3, -0.5, 2}, e4[3] = {0, 0, 0};
            double s4[4];
            check_bd(bd_tables[ti], dt, 4, d4, e4, 0, 0, "diagonal", s4);
            cr_assert_eq(s4[0], 3.0);
            cr_assert_eq(s4[1], 2.0);
            cr_assert_eq(s4[2], 1.0);
            cr_assert_eq(s4[3], 0.5);
        }
}

Test(linalg, bdsqr_zero_d_zero_e_graded)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    int nt = bd_ntables();
    for (int ti = 0; ti < nt; ti++)
        for (int di = 0; di < 2; di++) {
            bn_dtype dt = dts[di];
            double ep = dt == BN_F64 ? DBL_EPSILON : FLT_EPSILON, s[40];
            double tl = tol(dt, 40);
            /* zero d inside, at the top and at the bottom: B is singular, the
             * smallest value is 0 up to rounding */
            double dz[7] = {1, 2, 0, 3, 4, 0.5, 2}, ez[6] = {1, 1, 1, 1, 1, 1};
            check_bd(bd_tables[ti], dt, 7, dz, ez, 0, tl, "zero d inside", s);
            cr_assert_leq(s[6], 16 * ep * s[0], "s_min %g", s[6]);
            double dt0[5] = {0, 1, 2, 3, 4}, et0[4] = {1, 0.5, 0.25, 2};
            check_bd(bd_tables[ti], dt, 5, dt0, et0, 0, tl, "zero d first", s);
            cr_assert_leq(s[4], 16 * ep * s[0], "s_min %g", s[4]);
            double db0[5] = {1, 2, 3, 4, 0}, eb0[4] = {1, 0.5, 0.25, 2};
            check_bd(bd_tables[ti], dt, 5, db0, eb0, 0, tl, "zero d last", s);
            cr_assert_leq(s[4], 16 * ep * s[0], "s_min %g", s[4]);
            /* zero e: independent blocks (a 1x1, a 3x3, a 2x2) */
            double de[6] = {4, 1, 2, 3, 0.5, 1}, ee[5] = {0, 1, 1, 0, 0.25};
            check_bd(bd_tables[ti], dt, 6, de, ee, 0, tl, "zero e", s);
            /* graded: d_i = 10^-i, e_i = 0.5 10^-i (f64: 40 values over 40
             * decades; each to high relative accuracy) */
            int64_t n = dt == BN_F64 ? 40 : 12;
            double dg[40], eg[40];
            for (int64_t i = 0; i < n; i++) {
                dg[i] = pow(10.0, -(double)i);
                eg[i] = 0.5 * pow(10.0, -(double)i);
            }
            check_bd(bd_tables[ti], dt, n, dg, eg, 64 * ep * (double)n, 0, "graded", s);
            /* and reversed (chased from the other end) */
            double dr[40], er[40];
            for (int64_t i = 0; i < n; i++) {
                dr[i] = dg[n - 1 - i];
                er[i] = i + 1 < n ? 0.5 * dg[n - 2 - i] : 0;
            }
            check_bd(bd_tables[ti], dt, n, dr, er, 64 * ep * (double)n, 0, "graded reversed", s);
        }
}

Test(linalg, svd_tall_and_rank_deficient_full_u)
{
    bn_dtype dts[2] = {BN_F32, BN_F64};
    for (int d = 0; d < 2; d++) {
        /* m >> n: the QR-first path, thin and full */
        double *a = randn(300 * 25, 60);
        check_svd(dts[d], a, 300, 25, false, "tall 300x25");
        check_svd(dts[d], a, 300, 25, true, "tall 300x25 full");
        check_svd(dts[d], a, 25, 300, true, "wide 25x300 full");
        /* m a little above n: bidiagonalized directly, full U from gebrd's Q */
        check_svd(dts[d], a, 60, 50, true, "60x50 full");
        free(a);
        /* large enough for gebrd's blocked panels (more than 128 columns) */
        double *big = randn(200 * 180, 63);
        check_svd(dts[d], big, 200, 180, false, "200x180 blocked");
        free(big);
        /* rank deficient, full U: exact zero singular values whose vectors
         * must still complete U and V to orthonormal bases (both paths) */
        double *r1 = make_cond(120, 30, 10, 5, 61);
        check_svd(dts[d], r1, 120, 30, true, "rank 5 of 120x30 full");
        double *r2 = make_cond(40, 30, 10, 7, 62);
        check_svd(dts[d], r2, 40, 30, true, "rank 7 of 40x30 full");
        check_svd(dts[d], r2, 30, 40, true, "rank 7 of 30x40 full");
        free(r1);
        free(r2);
    }
}
