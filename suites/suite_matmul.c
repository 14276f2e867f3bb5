/*
 * suite_matmul.c - the `matmul` suite: the engine's f32 GEMM side by side
 * with OpenBLAS cblas_sgemm (one thread), same inputs, same run.
 *
 *   matmul/<impl>/sgemm/n=<n>      C = A B, all n x n row-major; n = 64, 256,
 *                                  512, 1024, 2048
 *   matmul/<impl>/linear/in=2560/out=<2560|6912>/tokens=<1|32|128>
 *                                  Y = X W^T as a BitNet 2B projection does:
 *                                  X [tokens, in], W [out, in] row-major (W
 *                                  read transposed, no copy)
 *   impl: engine (bnk_gemm_best(): the packed AVX-512 / AVX2 GEMM of
 *   kernels/gemm.h) | openblas (cblas_sgemm, openblas_set_num_threads(1)).
 *   Each shape's openblas case runs just before its engine case.
 *
 *   :gflops = 2 M N K / median / 1e9 (DESIGN.md), on both;
 *   :pct_peak = gflops / the best peak/fma/<isa>:gflops of the run x 100,
 *   when the peak suite ran first; engine only: :vs_openblas = engine
 *   gflops / openblas gflops of the same shape.
 *
 * Verification, once per case before timing (both implementations): with
 * the tolerance of gemm.h, |C - AB|_ij <= 2 (K + 2) eps_f32 (|A||B|)_ij,
 *   - 64 sampled elements against their dot product in double, and
 *   - Freivalds' check with 3 random vectors x: |Cx - A(Bx)|_i <=
 *     2 (K + 2) eps_f32 (|A| (|B| |x|))_i, all in double,
 * which costs O(MN + NK + MK) instead of a reference GEMM at n = 2048.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "suites/suite.h"

typedef struct mm_arg {
    bool openblas;
    bool linear; /* Y = X W^T; else square C = A B */
    int64_t m, n, k;
} mm_arg;

typedef struct mm_state {
    const mm_arg *arg;
    const bnb_case_env *env;
    const bnk_gemm_impl *impl;
    float *a, *b, *c; /* a: M x K row-major; b: K x N row-major, or W: N x K (linear) */
} mm_state;

static void mm_teardown(void *state)
{
    mm_state *s = state;
    if (!s)
        return;
    free(s->a);
    free(s->b);
    free(s->c);
    free(s);
}

static float *falloc(int64_t n)
{
    void *p = NULL;
    return posix_memalign(&p, 64, (size_t)n * sizeof(float)) == 0 ? p : NULL;
}

static uint64_t rng_next(uint64_t *z)
{
    uint64_t r = (*z += 0x9e3779b97f4a7c15ull);
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
    return r ^ (r >> 31);
}

static double rng_unit(uint64_t *z) /* [-1, 1) */
{
    return -1.0 + 2.0 * (double)(rng_next(z) >> 11) * 0x1.0p-53;
}

static int mm_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    const mm_arg *a = arg;
    mm_state *s = calloc(1, sizeof *s);
    if (!s || !(s->a = falloc(a->m * a->k)) || !(s->b = falloc(a->k * a->n)) ||
        !(s->c = falloc(a->m * a->n))) {
        snprintf(err, cap, "cannot allocate the operands (M %lld, N %lld, K %lld)", (long long)a->m,
                 (long long)a->n, (long long)a->k);
        mm_teardown(s);
        return -1;
    }
    s->arg = a;
    s->env = env;
    s->impl = bnk_gemm_best();
    uint64_t z = 0x6d6d + (uint64_t)(a->m * 31 + a->n * 7 + a->k);
    for (int64_t i = 0; i < a->m * a->k; i++)
        s->a[i] = (float)rng_unit(&z);
    for (int64_t i = 0; i < a->k * a->n; i++)
        s->b[i] = (float)rng_unit(&z);
    memset(s->c, 0, (size_t)(a->m * a->n) * sizeof(float));
    if (a->openblas)
        openblas_set_num_threads(1);
    *state = s;
    return 0;
}

/* One product into s->c. */
static bn_status mm_call(mm_state *s)
{
    const mm_arg *a = s->arg;
    int M = (int)a->m, N = (int)a->n, K = (int)a->k;
    if (a->openblas) {
        if (a->linear)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, s->a, K, s->b, K,
                        0.0f, s->c, N);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, s->a, K, s->b, N,
                        0.0f, s->c, N);
        return BN_OK;
    }
    if (a->linear) /* B(k, j) = W[j * K + k] */
        return s->impl->sgemm(a->m, a->n, a->k, 1.0f, s->a, a->k, 1, s->b, 1, a->k, 0.0f, s->c,
                              a->n, 1, NULL);
    return s->impl->sgemm(a->m, a->n, a->k, 1.0f, s->a, a->k, 1, s->b, a->n, 1, 0.0f, s->c, a->n, 1,
                          NULL);
}

/* B(k, j) of either layout. */
static inline double bel(const mm_state *s, int64_t k, int64_t j)
{
    return s->arg->linear ? s->b[j * s->arg->k + k] : s->b[k * s->arg->n + j];
}

#define EPS32 (1.0 / 8388608.0) /* 2^-23 */

static int mm_verify(void *state, char *err, size_t cap)
{
    mm_state *s = state;
    const mm_arg *a = s->arg;
    const int64_t M = a->m, N = a->n, K = a->k;
    const double f = 2.0 * (double)(K + 2) * EPS32;
    const char *who = a->openblas ? "openblas" : s->impl->name;
    int rc = -1;
    double *x = NULL, *bx = NULL;
    if (mm_call(s) != BN_OK) {
        snprintf(err, cap, "%s sgemm: %s", who, bn_last_error());
        return -1;
    }
    uint64_t z = 0x7665726966ull;
    for (int t = 0; t < 64; t++) { /* sampled elements */
        int64_t i = (int64_t)(rng_next(&z) % (uint64_t)M),
                j = (int64_t)(rng_next(&z) % (uint64_t)N);
        double dot = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
            double p = (double)s->a[i * K + k] * bel(s, k, j);
            dot += p;
            mag += fabs(p);
        }
        double got = s->c[i * N + j];
        if (!(fabs(got - dot) <= f * mag + 1e-30)) {
            snprintf(err, cap,
                     "%s: C[%lld][%lld] = %.9g, dot product in double %.9g (tolerance %.3g)", who,
                     (long long)i, (long long)j, got, dot, f * mag);
            return -1;
        }
    }
    x = malloc((size_t)N * 2 * sizeof *x);
    bx = malloc((size_t)K * 2 * sizeof *bx);
    if (!x || !bx) {
        snprintf(err, cap, "out of memory for the check vectors");
        goto out;
    }
    for (int v = 0; v < 3; v++) { /* Freivalds: x[0..N) values, x[N..2N) magnitudes */
        for (int64_t j = 0; j < N; j++) {
            x[j] = rng_unit(&z);
            x[N + j] = fabs(x[j]);
        }
        for (int64_t k = 0; k < K; k++) {
            double sv = 0, sm = 0;
            for (int64_t j = 0; j < N; j++) {
                double b = bel(s, k, j);
                sv += b * x[j];
                sm += fabs(b) * x[N + j];
            }
            bx[k] = sv;
            bx[K + k] = sm;
        }
        for (int64_t i = 0; i < M; i++) {
            double sv = 0, sm = 0, cx = 0;
            for (int64_t k = 0; k < K; k++) {
                sv += (double)s->a[i * K + k] * bx[k];
                sm += fabs((double)s->a[i * K + k]) * bx[K + k];
            }
            for (int64_t j = 0; j < N; j++)
                cx += (double)s->c[i * N + j] * x[j];
            if (!(fabs(cx - sv) <= f * sm + 1e-9 * sm)) {
                snprintf(err, cap, "%s: row %lld of C x = %.9g, A (B x) = %.9g (tolerance %.3g)",
                         who, (long long)i, cx, sv, f * sm);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(x);
    free(bx);
    return rc;
}

static void mm_run(void *state, int64_t iters)
{
    mm_state *s = state;
    for (int64_t i = 0; i < iters; i++)
        mm_call(s);
}

static int mm_metrics(void *state, bnb_case_result *r)
{
    mm_state *s = state;
    const mm_arg *a = s->arg;
    double flops = 2.0 * (double)a->m * (double)a->n * (double)a->k;
    double gf = flops / r->stats.median / 1e9;
    bnb_metric *m = bnb_case_add_metric(r, "gflops", "GFLOP/s", gf, true);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_RATE;
    if (!bnb_case_add_metric(r, "flops", "flop", flops, true))
        return -1;
    double peak = 0;
    const char *isas[] = {"peak/fma/avx512", "peak/fma/avx2", "peak/fma/scalar"};
    for (int i = 0; i < 3; i++) {
        const bnb_metric *p = bnb_env_metric(s->env, isas[i], "gflops");
        if (p && p->value > peak)
            peak = p->value;
    }
    if (peak > 0) {
        if (!(m = bnb_case_add_metric(r, "pct_peak", "%", 100.0 * gf / peak, true)))
            return -1;
        m->timing = BNB_TIMING_RATE;
    }
    if (!a->openblas) {
        char peer[BNB_NAME_MAX + 200], full[BNB_NAME_MAX + 160];
        bnb_case_fullname(r, full, sizeof full); /* matmul/engine/... -> matmul/openblas/... */
        snprintf(peer, sizeof peer, "matmul/openblas/%s", full + strlen("matmul/engine/"));
        const bnb_metric *o = bnb_env_metric(s->env, peer, "gflops");
        if (o && o->value > 0) {
            if (!(m = bnb_case_add_metric(r, "vs_openblas", "x", gf / o->value, true)))
                return -1;
            m->timing = BNB_TIMING_RATE;
        } else if (!bnb_case_add_unavailable(r, "vs_openblas", "x",
                                             "the openblas case of this shape was not measured "
                                             "in this run")) {
            return -1;
        }
    }
    return 0;
}

#define SQ_ARGS(n)                                                                                 \
    static const mm_arg sq_o_##n = {true, false, n, n, n};                                         \
    static const mm_arg sq_e_##n = {false, false, n, n, n};
#define LIN_ARGS(out, t)                                                                           \
    static const mm_arg li_o_##out##_##t = {true, true, t, out, 2560};                             \
    static const mm_arg li_e_##out##_##t = {false, true, t, out, 2560};

SQ_ARGS(64)
SQ_ARGS(256)
SQ_ARGS(512)
SQ_ARGS(1024)
SQ_ARGS(2048)
LIN_ARGS(2560, 1)
LIN_ARGS(2560, 32)
LIN_ARGS(2560, 128)
LIN_ARGS(6912, 1)
LIN_ARGS(6912, 32)
LIN_ARGS(6912, 128)

#define MM_CB                                                                                      \
    .code_version = "1", .setup = mm_setup, .verify = mm_verify, .run = mm_run,                    \
    .metrics = mm_metrics, .teardown = mm_teardown

#define SQ(n)                                                                                      \
    {.name = "openblas/sgemm", .nparams = 1, .params = {{"n", #n}}, .arg = &sq_o_##n, MM_CB},      \
    {                                                                                              \
        .name = "engine/sgemm", .nparams = 1, .params = {{"n", #n}}, .arg = &sq_e_##n, MM_CB       \
    }
#define LIN(out, t)                                                                                \
    {.name = "openblas/linear",                                                                    \
     .nparams = 3,                                                                                 \
     .params = {{"in", "2560"}, {"out", #out}, {"tokens", #t}},                                    \
     .arg = &li_o_##out##_##t,                                                                     \
     MM_CB},                                                                                       \
    {                                                                                              \
        .name = "engine/linear", .nparams = 3,                                                     \
        .params = {{"in", "2560"}, {"out", #out}, {"tokens", #t}}, .arg = &li_e_##out##_##t, MM_CB \
    }

static const bnb_case_def mm_cases[] = {
    SQ(64),        SQ(256),        SQ(512),      SQ(1024),      SQ(2048),       LIN(2560, 1),
    LIN(2560, 32), LIN(2560, 128), LIN(6912, 1), LIN(6912, 32), LIN(6912, 128),
};

const bnb_suite bnb_suite_matmul = {
    .name = "matmul",
    .description = "f32 GEMM: the engine (bnk_gemm_best) vs OpenBLAS cblas_sgemm, one thread, "
                   "square n = 64..2048 and BitNet 2B projection shapes",
    .in_default = true,
    .cases = mm_cases,
    .ncases = (int)(sizeof mm_cases / sizeof mm_cases[0]),
    .peers = "engine,openblas",
    .peer_metrics = "gflops",
};
