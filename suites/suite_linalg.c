/*
 * suite_linalg.c - the `linalg` suite: libbitnet's decompositions against
 * LAPACK (Debian's LAPACKE over OpenBLAS) on the same matrices, same run.
 * Not in the default run (`bnbench run --suite linalg`); --quick keeps
 * n <= 256.
 *
 * Cases: <op>/<dtype>/<impl> with param n in {64, 128, 256, 512, 1024},
 *   op     qr        A = QR, reduced Q and R (ours: bn_qr; LAPACK geqrf+orgqr)
 *          cholesky  A = L L^T of an SPD matrix (bn_cholesky; potrf)
 *          lu        P A = L U (bn_lu; getrf)
 *          svd       A = U S V^T, thin U and V (bn_svd; gesdd, and gesvd)
 *   dtype  f32 | f64
 *   impl   ours | lapack (svd: lapack = gesdd, lapack_gesvd = gesvd)
 * The timed region is one call on an n x n row-major matrix, including what
 * each side needs to start from the same input: ours reads the tensor (its
 * working copy is part of the call); LAPACK gets a fresh column-major copy
 * (memcpy inside the timed region, as LAPACK overwrites its input; O(n^2)
 * against the O(n^3) call). OpenBLAS runs on one thread (set in setup), and
 * so does ours (the engine's pool set to 1 thread for the case, restored in
 * teardown: idle pool workers spinning on the sibling hardware thread would
 * otherwise take the core's FMA throughput), on the runner's pinned CPU.
 *
 * Inputs: normal(0,1) entries (seed 42 + n); for cholesky B B^T + n I.
 * Metrics:
 *   backward_error  ||A - factors||_F / ||A||_F of this case's own output,
 *                   computed once in verify with OpenBLAS dgemm in double
 *                   (qr: A - QR; cholesky: A - L L^T; lu: P A - L U;
 *                   svd: A - U diag(S) V^T). verify fails the case above
 *                   1e-3 (f32) / 1e-10 (f64).
 *   ratio           (ours cases) median time of ours / median time of the
 *                   LAPACK case of the same op, dtype and n in this run
 *                   (the LAPACK cases run first); svd also ratio_gesvd.
 *                   Unavailable, with the reason, when that LAPACK case was
 *                   not run in this process (e.g. filtered out by --case).
 *   lapack_backward_error  (ours cases) the LAPACK case's backward error,
 *                   next to ours for the report.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "suites/suite.h"

enum { OP_QR, OP_CHOL, OP_LU, OP_SVD, OP_COUNT };
enum { IMPL_OURS, IMPL_LAPACK, IMPL_GESVD, IMPL_COUNT };
enum { NSIZES = 5 };
static const int sizes[NSIZES] = {64, 128, 256, 512, 1024};
static const char *const op_names[OP_COUNT] = {"qr", "cholesky", "lu", "svd"};

typedef struct la_arg {
    int op, impl, si; /* si: index into sizes */
    bool f64;
} la_arg;

/* Medians and backward errors of the LAPACK cases measured in this process,
 * for the ours cases' ratio metrics. The runner measures cases one at a time
 * on its worker thread, in table order. */
static struct {
    bool have;
    double median, berr;
} ref_seen[OP_COUNT][2][NSIZES][IMPL_COUNT];

typedef struct la_state {
    const la_arg *arg;
    int64_t n;
    bn_tensor *a; /* n x n input (row-major tensor) */
    double *ad;   /* the same values, row-major double */
    void *cm;     /* column-major copy for LAPACK (float or double) */
    void *work;   /* LAPACK's in/out matrix */
    void *tau, *s, *u, *vt;
    lapack_int *ipiv;
    double berr;
    int threads_before; /* ours: the engine's pool size before the case, > 0 */
} la_state;

static void la_teardown(void *state)
{
    la_state *st = state;
    if (!st)
        return;
    if (st->threads_before > 0)
        bn_threads_set(st->threads_before);
    bn_tensor_free(st->a);
    free(st->ad);
    free(st->cm);
    free(st->work);
    free(st->tau);
    free(st->s);
    free(st->u);
    free(st->vt);
    free(st->ipiv);
    free(st);
}

static int la_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    const la_arg *la = arg;
    openblas_set_num_threads(1);
    la_state *st = calloc(1, sizeof *st);
    if (!st)
        goto oom;
    st->arg = la;
    if (la->impl == IMPL_OURS) { /* one thread, like OpenBLAS here */
        st->threads_before = bn_threads_count();
        if (bn_threads_set(1) != BN_OK) {
            snprintf(err, cap, "bn_threads_set(1): %s", bn_last_error());
            st->threads_before = 0;
            la_teardown(st);
            return -1;
        }
    }
    int64_t n = sizes[la->si];
    st->n = n;
    size_t nn = (size_t)(n * n), es = la->f64 ? sizeof(double) : sizeof(float);
    int64_t shape[2] = {n, n};
    bn_tensor *r = NULL;
    if (bn_tensor_rand(BN_F64, 2, shape, 42 + (uint64_t)n, BN_RAND_NORMAL, 0, 1, &r) != BN_OK) {
        snprintf(err, cap, "random input: %s", bn_last_error());
        la_teardown(st);
        return -1;
    }
    st->ad = malloc(nn * sizeof(double));
    if (!st->ad) {
        bn_tensor_free(r);
        goto oom;
    }
    memcpy(st->ad, bn_tensor_data(r), nn * sizeof(double));
    bn_tensor_free(r);
    if (la->op == OP_CHOL) { /* B B^T + n I */
        double *b = st->ad, *c = malloc(nn * sizeof(double));
        if (!c)
            goto oom;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1, b, (int)n,
                    b, (int)n, 0, c, (int)n);
        for (int64_t i = 0; i < n; i++)
            c[i * n + i] += (double)n;
        free(b);
        st->ad = c;
    }
    if (!la->f64) /* the values both sides see are the f32-rounded ones */
        for (size_t i = 0; i < nn; i++)
            st->ad[i] = (double)(float)st->ad[i];
    if (bn_tensor_empty(la->f64 ? BN_F64 : BN_F32, 2, shape, &st->a) != BN_OK)
        goto oom;
    st->cm = malloc(nn * es);
    st->work = malloc(nn * es);
    st->tau = malloc((size_t)n * es);
    st->s = malloc((size_t)n * es);
    st->u = malloc(nn * es);
    st->vt = malloc(nn * es);
    st->ipiv = malloc((size_t)n * sizeof(lapack_int));
    if (!st->cm || !st->work || !st->tau || !st->s || !st->u || !st->vt || !st->ipiv)
        goto oom;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double v = st->ad[i * n + j];
            if (la->f64) {
                ((double *)bn_tensor_data(st->a))[i * n + j] = v;
                ((double *)st->cm)[i + j * n] = v;
            } else {
                ((float *)bn_tensor_data(st->a))[i * n + j] = (float)v;
                ((float *)st->cm)[i + j * n] = (float)v;
            }
        }
    *state = st;
    return 0;
oom:
    snprintf(err, cap, "out of memory for n = %d", sizes[la->si]);
    la_teardown(st);
    return -1;
}

/* ---- one call of each side ---------------------------------------------- */

/* LAPACK on a fresh column-major copy; returns LAPACK's info. */
static int lapack_call(la_state *st)
{
    const la_arg *la = st->arg;
    int n = (int)st->n;
    size_t bytes = (size_t)(n * n) * (la->f64 ? sizeof(double) : sizeof(float));
    memcpy(st->work, st->cm, bytes);
    int lay = LAPACK_COL_MAJOR;
    if (la->f64) {
        double *w = st->work, *tau = st->tau;
        switch (la->op) {
        case OP_QR: {
            int info = LAPACKE_dgeqrf(lay, n, n, w, n, tau);
            /* keep R: orgqr overwrites it (u is free here) */
            memcpy(st->u, w, bytes);
            return info ? info : LAPACKE_dorgqr(lay, n, n, n, w, n, tau);
        }
        case OP_CHOL:
            return LAPACKE_dpotrf(lay, 'L', n, w, n);
        case OP_LU:
            return LAPACKE_dgetrf(lay, n, n, w, n, st->ipiv);
        default:
            if (la->impl == IMPL_GESVD)
                return LAPACKE_dgesvd(lay, 'S', 'S', n, n, w, n, st->s, st->u, n, st->vt, n, tau);
            return LAPACKE_dgesdd(lay, 'S', n, n, w, n, st->s, st->u, n, st->vt, n);
        }
    }
    float *w = st->work, *tau = st->tau;
    switch (la->op) {
    case OP_QR: {
        int info = LAPACKE_sgeqrf(lay, n, n, w, n, tau);
        memcpy(st->u, w, bytes);
        return info ? info : LAPACKE_sorgqr(lay, n, n, n, w, n, tau);
    }
    case OP_CHOL:
        return LAPACKE_spotrf(lay, 'L', n, w, n);
    case OP_LU:
        return LAPACKE_sgetrf(lay, n, n, w, n, st->ipiv);
    default:
        if (la->impl == IMPL_GESVD)
            return LAPACKE_sgesvd(lay, 'S', 'S', n, n, w, n, st->s, st->u, n, st->vt, n, tau);
        return LAPACKE_sgesdd(lay, 'S', n, n, w, n, st->s, st->u, n, st->vt, n);
    }
}

/* Ours; the outputs in t[0..2] (caller frees). */
static bn_status ours_call(la_state *st, bn_tensor *t[3])
{
    t[0] = t[1] = t[2] = NULL;
    switch (st->arg->op) {
    case OP_QR:
        return bn_qr(st->a, BN_QR_REDUCED, &t[0], &t[1]);
    case OP_CHOL:
        return bn_cholesky(st->a, &t[0]);
    case OP_LU:
        return bn_lu(st->a, &t[0], &t[1]);
    default:
        return bn_svd(st->a, false, &t[0], &t[1], &t[2]);
    }
}

static void la_run(void *state, int64_t iters)
{
    la_state *st = state;
    for (int64_t i = 0; i < iters; i++) {
        if (st->arg->impl == IMPL_OURS) {
            bn_tensor *t[3];
            ours_call(st, t);
            for (int k = 0; k < 3; k++)
                bn_tensor_free(t[k]);
        } else {
            lapack_call(st);
        }
    }
}

/* ---- backward error ------------------------------------------------------ */

/* Element (i, j) of an n x n matrix stored row-major (rm) or column-major. */
static double el(const void *p, bool f64, bool rm, int64_t n, int64_t i, int64_t j)
{
    int64_t k = rm ? i * n + j : i + j * n;
    return f64 ? ((const double *)p)[k] : ((const float *)p)[k];
}

/*
 * Fills X, Y (n x n row-major double) with the two factors whose product
 * should equal A (or P A for lu, in pa), from ours (t) or LAPACK (state
 * buffers), then returns ||A' - X Y||_F / ||A||_F.
 */
static double backward_error(la_state *st, bn_tensor *t[3], char *err, size_t cap)
{
    const la_arg *la = st->arg;
    int64_t n = st->n;
    size_t nn = (size_t)(n * n);
    bool f64 = la->f64, ours = la->impl == IMPL_OURS;
    double *x = calloc(nn, sizeof(double)), *y = calloc(nn, sizeof(double));
    double *c = malloc(nn * sizeof(double)), res = -1;
    if (!x || !y || !c) {
        snprintf(err, cap, "out of memory");
        goto done;
    }
    memcpy(c, st->ad, nn * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            switch (la->op) {
            case OP_QR: /* X = Q, Y = R */
                x[i * n + j] = ours ? el(bn_tensor_data(t[0]), f64, true, n, i, j)
                                    : el(st->work, f64, false, n, i, j);
                y[i * n + j] = j < i  ? 0
                               : ours ? el(bn_tensor_data(t[1]), f64, true, n, i, j)
                                      : el(st->u, f64, false, n, i, j);
                break;
            case OP_CHOL: /* X = L, Y = L^T */
                x[i * n + j] = j > i  ? 0
                               : ours ? el(bn_tensor_data(t[0]), f64, true, n, i, j)
                                      : el(st->work, f64, false, n, i, j);
                y[j * n + i] = x[i * n + j];
                break;
            case OP_LU: { /* X = L (unit), Y = U */
                double v = ours ? el(bn_tensor_data(t[0]), f64, true, n, i, j)
                                : el(st->work, f64, false, n, i, j);
                x[i * n + j] = i == j ? 1 : i > j ? v : 0;
                y[i * n + j] = j >= i ? v : 0;
                break;
            }
            default: { /* X = U diag(S), Y = V^T */
                double s = ours ? bn_tensor_get_flat(t[1], j)
                                : (f64 ? ((double *)st->s)[j] : ((float *)st->s)[j]);
                x[i * n + j] = s * (ours ? el(bn_tensor_data(t[0]), f64, true, n, i, j)
                                         : el(st->u, f64, false, n, i, j));
                y[i * n + j] = ours ? el(bn_tensor_data(t[2]), f64, true, n, i, j)
                                    : el(st->vt, f64, false, n, i, j);
                break;
            }
            }
        }
    if (la->op == OP_LU) { /* c = P A: apply the row swaps in order */
        for (int64_t j = 0; j < n; j++) {
            int64_t p =
                ours ? ((const int32_t *)bn_tensor_data(t[1]))[j] : (int64_t)st->ipiv[j] - 1;
            if (p == j)
                continue;
            for (int64_t k = 0; k < n; k++) {
                double tmp = c[j * n + k];
                c[j * n + k] = c[p * n + k];
                c[p * n + k] = tmp;
            }
        }
    }
    double na = cblas_dnrm2((int)nn, c, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, -1, x, (int)n, y,
                (int)n, 1, c, (int)n);
    res = cblas_dnrm2((int)nn, c, 1) / (na > 0 ? na : 1);
done:
    free(x);
    free(y);
    free(c);
    return res;
}

static int la_verify(void *state, char *err, size_t cap)
{
    la_state *st = state;
    const la_arg *la = st->arg;
    bn_tensor *t[3] = {NULL, NULL, NULL};
    if (la->impl == IMPL_OURS) {
        bn_status s = ours_call(st, t);
        if (s != BN_OK) {
            snprintf(err, cap, "%s: %s", op_names[la->op], bn_last_error());
            return -1;
        }
    } else {
        int info = lapack_call(st);
        if (info != 0) {
            snprintf(err, cap, "LAPACK %s returned info %d", op_names[la->op], info);
            return -1;
        }
    }
    st->berr = backward_error(st, t, err, cap);
    for (int k = 0; k < 3; k++)
        bn_tensor_free(t[k]);
    if (st->berr < 0)
        return -1;
    double lim = la->f64 ? 1e-10 : 1e-3;
    if (!(st->berr <= lim)) {
        snprintf(err, cap, "backward error %.3g > %.3g", st->berr, lim);
        return -1;
    }
    return 0;
}

static int la_metrics(void *state, bnb_case_result *r)
{
    la_state *st = state;
    const la_arg *la = st->arg;
    if (!bnb_case_add_metric(r, "backward_error", "", st->berr, false))
        return -1;
    if (la->impl != IMPL_OURS) {
        ref_seen[la->op][la->f64][la->si][la->impl].have = true;
        ref_seen[la->op][la->f64][la->si][la->impl].median = r->stats.median;
        ref_seen[la->op][la->f64][la->si][la->impl].berr = st->berr;
        return 0;
    }
    for (int impl = IMPL_LAPACK; impl < IMPL_COUNT; impl++) {
        if (impl == IMPL_GESVD && la->op != OP_SVD)
            continue;
        const char *name = impl == IMPL_LAPACK ? "ratio" : "ratio_gesvd";
        const char *bname = impl == IMPL_LAPACK ? "lapack_backward_error" : "gesvd_backward_error";
        if (!ref_seen[la->op][la->f64][la->si][impl].have) {
            if (!bnb_case_add_unavailable(r, name, "x",
                                          "the LAPACK case of this op, dtype and n was not run "
                                          "in this process"))
                return -1;
            continue;
        }
        bnb_metric *m = bnb_case_add_metric(
            r, name, "x", r->stats.median / ref_seen[la->op][la->f64][la->si][impl].median, false);
        if (!m)
            return -1;
        m->timing = BNB_TIMING_PROP;
        if (!bnb_case_add_metric(r, bname, "", ref_seen[la->op][la->f64][la->si][impl].berr, false))
            return -1;
    }
    return 0;
}

/* ---- the case table ------------------------------------------------------ */

/* One case: X(op enum, op name, f64, dtype name, impl enum, impl name) over
 * the five sizes; n > 256 is skipped under --quick. LAPACK before ours for
 * each op and dtype (ours reads LAPACK's median for its ratio). */
/* What la_metrics adds: ours also its time and backward-error ratios to
 * LAPACK (and, for SVD, to gesvd). */
#define LA_METRICS_IMPL_LAPACK(op) "backward_error"
#define LA_METRICS_IMPL_GESVD(op)  "backward_error"
#define LA_METRICS_IMPL_OURS(op)   LA_OURS_##op
#define LA_OURS_OP_QR              "backward_error,ratio,lapack_backward_error"
#define LA_OURS_OP_CHOL            LA_OURS_OP_QR
#define LA_OURS_OP_LU              LA_OURS_OP_QR
#define LA_OURS_OP_SVD             LA_OURS_OP_QR ",ratio_gesvd,gesvd_backward_error"
#define LA_CASE1(op, on, f64, dn, impl, in, si, ns)                                                \
    {.name = on "/" dn "/" in,                                                                     \
     .nparams = 1,                                                                                 \
     .params = {{"n", ns}},                                                                        \
     .code_version = "1",                                                                          \
     .arg = &(const la_arg){op, impl, si, f64},                                                    \
     .skip_quick = si > 2,                                                                         \
     .setup = la_setup,                                                                            \
     .verify = la_verify,                                                                          \
     .run = la_run,                                                                                \
     .metrics = la_metrics,                                                                        \
     .metric_names = LA_METRICS_##impl(op),                                                        \
     .teardown = la_teardown},
#define LA_CASE5(op, on, f64, dn, impl, in)                                                        \
    LA_CASE1(op, on, f64, dn, impl, in, 0, "64")                                                   \
    LA_CASE1(op, on, f64, dn, impl, in, 1, "128")                                                  \
    LA_CASE1(op, on, f64, dn, impl, in, 2, "256")                                                  \
    LA_CASE1(op, on, f64, dn, impl, in, 3, "512")                                                  \
    LA_CASE1(op, on, f64, dn, impl, in, 4, "1024")

static const bnb_case_def linalg_cases[] = {
    LA_CASE5(OP_QR, "qr", false, "f32", IMPL_LAPACK, "lapack") LA_CASE5(
        OP_QR, "qr", false, "f32", IMPL_OURS,
        "ours") LA_CASE5(OP_QR, "qr", true, "f64", IMPL_LAPACK,
                         "lapack") LA_CASE5(OP_QR, "qr", true, "f64", IMPL_OURS, "ours")
        LA_CASE5(OP_CHOL, "cholesky", false, "f32", IMPL_LAPACK, "lapack") LA_CASE5(
            OP_CHOL, "cholesky", false, "f32", IMPL_OURS,
            "ours") LA_CASE5(OP_CHOL, "cholesky", true, "f64", IMPL_LAPACK, "lapack")
            LA_CASE5(OP_CHOL, "cholesky", true, "f64", IMPL_OURS,
                     "ours") LA_CASE5(OP_LU, "lu", false, "f32", IMPL_LAPACK, "lapack")
                LA_CASE5(OP_LU, "lu", false, "f32", IMPL_OURS,
                         "ours") LA_CASE5(OP_LU, "lu", true, "f64", IMPL_LAPACK, "lapack")
                    LA_CASE5(OP_LU, "lu", true, "f64", IMPL_OURS,
                             "ours") LA_CASE5(OP_SVD, "svd", false, "f32", IMPL_LAPACK, "lapack")
                        LA_CASE5(OP_SVD, "svd", false, "f32", IMPL_GESVD, "lapack_gesvd")
                            LA_CASE5(OP_SVD, "svd", false, "f32", IMPL_OURS, "ours")
                                LA_CASE5(OP_SVD, "svd", true, "f64", IMPL_LAPACK, "lapack")
                                    LA_CASE5(OP_SVD, "svd", true, "f64", IMPL_GESVD, "lapack_gesvd")
                                        LA_CASE5(OP_SVD, "svd", true, "f64", IMPL_OURS, "ours")};

const bnb_suite bnb_suite_linalg = {
    .name = "linalg",
    .description = "QR, Cholesky, LU and SVD (f32, f64; n = 64..1024) against LAPACK (LAPACKE "
                   "over OpenBLAS, one thread), with backward errors and time ratios",
    .in_default = false,
    .uses_openblas = true,
    .cases = linalg_cases,
    .ncases = (int)(sizeof linalg_cases / sizeof linalg_cases[0]),
};
