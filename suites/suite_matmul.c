/*
 * suite_matmul.c - the `matmul` suite: the engine's f32 GEMM side by side
 * with OpenBLAS cblas_sgemm (one thread), same inputs, same run.
 *
 *   matmul/<impl>/sgemm/n=<n>      C = A B, all n x n row-major; n = 64, 256,
 *                                  512, 1024, 2048, 4096
 *   matmul/<impl>/linear/in=2560/out=<2560|6912>/tokens=<1|32|128>
 *                                  Y = X W^T as a BitNet 2B projection does:
 *                                  X [tokens, in], W [out, in] row-major (W
 *                                  read transposed, no copy)
 *   impl: engine (bnk_active()->sgemm: the selected set's packed GEMM of
 *   kernels/gemm.h, called directly) | bn_matmul (the engine's op,
 *   bn_matmul_out on tensors wrapping the same buffers, the thread pool set
 *   to 1 thread for the case: what a user of libbitnet gets, dispatch
 *   included) | openblas (cblas_sgemm, openblas_set_num_threads(1)).
 *   Each shape's openblas case runs first. n = 2048 and 4096 are left out
 *   by --quick; n = 4096 (about 1.4 s a call) runs only with --suite matmul.
 *
 *   :gflops = 2 M N K / median / 1e9 (DESIGN.md), on both;
 *   :pct_peak = gflops / the best peak/fma/<isa>:gflops of the run x 100,
 *   when the peak suite ran first; engine and bn_matmul: :vs_openblas =
 *   their gflops / openblas gflops of the same shape.
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

#include "bitnet/ops.h"
#include "bitnet/tensor.h"
#include "bitnet/threads.h"
#include "bitnet/views.h"
#include "gemm.h"
#include "kernels/kernels.h"
#include "suites/suite.h"

typedef enum mm_impl { MM_ENGINE, MM_OPENBLAS, MM_BN } mm_impl;

typedef struct mm_arg {
    mm_impl impl;
    bool linear; /* Y = X W^T; else square C = A B */
    int64_t m, n, k;
} mm_arg;

typedef struct mm_state {
    const mm_arg *arg;
    const bnb_case_env *env;
    const bnk_gemm_impl *impl;
    float *a, *b, *c; /* a: M x K row-major; b: K x N row-major, or W: N x K (linear) */
    bn_tensor *ta, *tb, *tc, *tbt; /* bn_matmul: views over a, b, c; tbt = W^T (linear) */
    int threads_before;            /* bn_matmul: pool size to restore */
} mm_state;

static void mm_teardown(void *state)
{
    mm_state *s = state;
    if (!s)
        return;
    bn_tensor_free(s->ta);
    bn_tensor_free(s->tb);
    bn_tensor_free(s->tc);
    bn_tensor_free(s->tbt);
    if (s->threads_before > 0)
        bn_threads_set(s->threads_before);
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
    s->impl = bnk_active()->sgemm; /* the selected kernel set's GEMM (BN_KERNELS) */
    uint64_t z = 0x6d6d + (uint64_t)(a->m * 31 + a->n * 7 + a->k);
    for (int64_t i = 0; i < a->m * a->k; i++)
        s->a[i] = (float)rng_unit(&z);
    for (int64_t i = 0; i < a->k * a->n; i++)
        s->b[i] = (float)rng_unit(&z);
    memset(s->c, 0, (size_t)(a->m * a->n) * sizeof(float));
    if (a->impl == MM_OPENBLAS)
        openblas_set_num_threads(1);
    if (a->impl == MM_BN) {
        const int64_t sa[2] = {a->m, a->k}, sc[2] = {a->m, a->n};
        const int64_t sb[2] = {a->linear ? a->n : a->k, a->linear ? a->k : a->n};
        size_t fa = sizeof(float);
        if (bn_tensor_wrap(BN_F32, 2, sa, NULL, s->a, (size_t)(a->m * a->k) * fa, NULL, NULL,
                           &s->ta) != BN_OK ||
            bn_tensor_wrap(BN_F32, 2, sb, NULL, s->b, (size_t)(a->k * a->n) * fa, NULL, NULL,
                           &s->tb) != BN_OK ||
            bn_tensor_wrap(BN_F32, 2, sc, NULL, s->c, (size_t)(a->m * a->n) * fa, NULL, NULL,
                           &s->tc) != BN_OK ||
            (a->linear && bn_transpose(s->tb, 0, 1, &s->tbt) != BN_OK)) {
            snprintf(err, cap, "wrapping the operands: %s", bn_last_error());
            mm_teardown(s);
            return -1;
        }
        s->threads_before = bn_threads_count();
        if (bn_threads_set(1) != BN_OK) {
            snprintf(err, cap, "bn_threads_set(1): %s", bn_last_error());
            mm_teardown(s);
            return -1;
        }
    }
    *state = s;
    return 0;
}

/* One product into s->c. */
static bn_status mm_call(mm_state *s)
{
    const mm_arg *a = s->arg;
    int M = (int)a->m, N = (int)a->n, K = (int)a->k;
    if (a->impl == MM_BN)
        return bn_matmul_out(s->ta, a->linear ? s->tbt : s->tb, s->tc);
    if (a->impl == MM_OPENBLAS) {
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
    const char *who = a->impl == MM_OPENBLAS ? "openblas"
                      : a->impl == MM_BN     ? "bn_matmul"
                                             : s->impl->name;
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
    if (a->impl == MM_BN && !bnb_case_add_metric(r, "threads", "count", 1, false))
        return -1;
    if (a->impl != MM_OPENBLAS) {
        char peer[BNB_NAME_MAX + 200], full[BNB_NAME_MAX + 160];
        bnb_case_fullname(r, full, sizeof full); /* matmul/engine/... -> matmul/openblas/... */
        snprintf(peer, sizeof peer, "matmul/openblas/%s",
                 strchr(full + strlen("matmul/"), '/') + 1);
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
    static const mm_arg sq_o_##n = {MM_OPENBLAS, false, n, n, n};                                  \
    static const mm_arg sq_e_##n = {MM_ENGINE, false, n, n, n};                                    \
    static const mm_arg sq_b_##n = {MM_BN, false, n, n, n};
#define LIN_ARGS(out, t)                                                                           \
    static const mm_arg li_o_##out##_##t = {MM_OPENBLAS, true, t, out, 2560};                      \
    static const mm_arg li_e_##out##_##t = {MM_ENGINE, true, t, out, 2560};                        \
    static const mm_arg li_b_##out##_##t = {MM_BN, true, t, out, 2560};

SQ_ARGS(64)
SQ_ARGS(256)
SQ_ARGS(512)
SQ_ARGS(1024)
SQ_ARGS(2048)
SQ_ARGS(4096)
LIN_ARGS(2560, 1)
LIN_ARGS(2560, 32)
LIN_ARGS(2560, 128)
LIN_ARGS(6912, 1)
LIN_ARGS(6912, 32)
LIN_ARGS(6912, 128)

#define MM_CB                                                                                      \
    .code_version = "1", .setup = mm_setup, .verify = mm_verify, .run = mm_run,                    \
    .metrics = mm_metrics, .teardown = mm_teardown

/* What mm_metrics adds per implementation (o: OpenBLAS, e: engine, b: bn_matmul). */
#define MM_METRICS_o "gflops,flops,pct_peak"
#define MM_METRICS_e MM_METRICS_o ",vs_openblas"
#define MM_METRICS_b MM_METRICS_o ",threads,vs_openblas"

#define SQ1(impl, id, n, sq, so)                                                                   \
    {                                                                                              \
        .name = impl "/sgemm", .nparams = 1, .params = {{"n", #n}}, .arg = &sq_##id##_##n,         \
        .skip_quick = sq, .suite_only = so, .metric_names = MM_METRICS_##id, MM_CB                 \
    }
#define SQX(n, sq, so)                                                                             \
    SQ1("openblas", o, n, sq, so), SQ1("engine", e, n, sq, so), SQ1("bn_matmul", b, n, sq, so)
#define SQ(n, sq) SQX(n, sq, false)
#define LIN1(impl, id, out, t)                                                                     \
    {                                                                                              \
        .name = impl "/linear", .nparams = 3,                                                      \
        .params = {{"in", "2560"}, {"out", #out}, {"tokens", #t}}, .arg = &li_##id##_##out##_##t,  \
        .metric_names = MM_METRICS_##id, MM_CB                                                     \
    }
#define LIN(out, t)                                                                                \
    LIN1("openblas", o, out, t), LIN1("engine", e, out, t), LIN1("bn_matmul", b, out, t)

static const bnb_case_def mm_cases[] = {
    SQ(64, false),  SQ(256, false),        SQ(512, false), SQ(1024, false),
    SQ(2048, true), SQX(4096, true, true), LIN(2560, 1),   LIN(2560, 32),
    LIN(2560, 128), LIN(6912, 1),          LIN(6912, 32),  LIN(6912, 128),
};

const bnb_suite bnb_suite_matmul = {
    .name = "matmul",
    .description =
        "f32 GEMM: the engine (selected kernel set) vs OpenBLAS cblas_sgemm, one thread, "
        "square n = 64..4096 (4096: --suite only) and BitNet 2B projection shapes",
    .in_default = true,
    .uses_openblas = true,
    .cases = mm_cases,
    .ncases = (int)(sizeof mm_cases / sizeof mm_cases[0]),
    .peers = "engine,bn_matmul,openblas",
    .peer_metrics = "gflops",
};
