/*
 * suite_ternary.c - the `ternary` suite: the W1.58A8 product of BitNet b1.58
 * layers, side by side with f32 GEMM on the same (dequantized) weights, one
 * thread, in one run.
 *
 * Shapes (M output features x K input features) from BitNet b1.58 2B4T
 * (2560x2560, 6912x2560, 2560x6912), BitNet-3B (3200x8640) and the common
 * 4096x4096 and 4096x14336, each at n = 1 (decode), 32 and 128 (prefill)
 * activation rows. Cases (params n, shape = MxK):
 *
 *   t2k/<set>     bnk_t2k_gemm_<set> (kernels/ternary.h) on the t2k packed
 *                 weights, int8 activations, int32 results: ref (n = 1 only:
 *                 it is a scalar loop), avx2, avx512 (VNNI), amx (AMX-INT8
 *                 tiles for n >= 16). Sets the CPU lacks are skipped with the
 *                 reason (amx: CPUID or the kernel's tile permission).
 *   t2k/active    the set the engine uses (BN_KERNELS or the best), at the
 *                 target shapes 2560x2560 and 4096x4096: the figure the
 *                 targets read.
 *   f32/engine    bnk_active()->sgemm (kernels/gemm.h) on the dequantized f32
 *                 weights: Y[n, M] = X[n, K] W^T.
 *   f32/openblas  cblas_sgemm on the same operands.
 *   bitlinear     bn_bitlinear_forward (serial): activation quantization,
 *                 ternary product and rescale of f32 rows; the activation
 *                 quantization alone is timed again after the samples
 *                 (:act_quant_us, median of 31 timed calls).
 *
 * Metrics: :us (median microseconds), :gops = 2 M K n / median / 1e9 (one
 * multiply-add = 2 ops, DESIGN.md), and on t2k cases the weight bytes of the
 * shape in each format (:bytes_t2k, :bytes_t2, :bytes_t16, :bytes_i8,
 * :bytes_f32) and t2k's bytes per weight. peak/vpdpbusd measures the int8
 * multiply-add ceiling of this core (:gops), which bounds every t2k figure.
 *
 * --quick keeps the t2k/active target cases, the vpdpbusd peak and the
 * n = 1 cases of 2560x2560 (a few seconds); the rest are stored as skipped.
 * The suite is not in the default run (the full suite takes minutes).
 *
 * Verification (once per case, before timing): 64 sampled outputs (always
 * including the corners) are recomputed from the unpacked int8 weights in
 * int64 (t2k, exact) or in double (f32: within 2 (K + 2) eps_f32 sum |w x|;
 * bitlinear: within that plus 4 eps of the rescale).
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/quant.h"
#include "collectors/timer.h"
#include "gemm.h"
#include "kernels/kernels.h"
#include "kernels/ternary.h"
#include "suites/suite.h"

typedef enum tkind { K_T2K, K_F32, K_BLAS, K_BITLINEAR, K_PEAK } tkind;

typedef struct tcase {
    tkind kind;
    const char *set; /* t2k: "ref", "avx2", "avx512", "active" */
    int64_t M, K, n;
} tcase;

typedef struct tstate {
    const tcase *c;
    const bnk_ternary_impl *impl;
    const bnk_gemm_impl *gemm;
    int8_t *wq;  /* M x K ternary */
    uint8_t *wp; /* t2k */
    int8_t *xq;  /* n x K */
    int32_t *xsum, *y32;
    float *wf, *xf, *yf; /* dequantized weights, f32 activations, output */
    bn_bitlinear *bl;
    float wscale;
    volatile float sink;
    uint64_t rng;
} tstate;

static uint32_t rnd(tstate *s)
{
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s->rng >> 33);
}

static bool t_available(const void *arg, char *why, size_t cap)
{
    const tcase *c = arg;
    if (c->kind == K_PEAK) {
        if (!bnk_ternary_impls[BNK_TERNARY_AVX512].available()) {
            snprintf(why, cap, "CPU lacks avx512 vnni (CPUID)");
            return false;
        }
        return true;
    }
    if (c->kind != K_T2K || strcmp(c->set, "active") == 0)
        return true;
    const bnk_ternary_impl *impl = bnk_ternary_find(c->set);
    if (impl && impl == &bnk_ternary_impls[BNK_TERNARY_AMX] && !impl->available()) {
        snprintf(why, cap, "kernel set amx not available: %s", bnk_ternary_amx_status());
        return false;
    }
    if (!impl || !impl->available()) {
        snprintf(why, cap, "kernel set %s not available on this CPU (CPUID)", c->set);
        return false;
    }
    return true;
}

static void t_teardown(void *state)
{
    tstate *s = state;
    if (!s)
        return;
    free(s->wq);
    free(s->wp);
    free(s->xq);
    free(s->xsum);
    free(s->y32);
    free(s->wf);
    free(s->xf);
    free(s->yf);
    bn_bitlinear_free(s->bl);
    free(s);
}

static void *amalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    return p;
}

static int t_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    const tcase *c = arg;
    tstate *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->c = c;
    s->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(c->M * 31 + c->K * 7 + c->n);
    *state = s;
    if (c->kind == K_PEAK)
        return 0;
    const int64_t M = c->M, K = c->K, n = c->n;
    s->wq = malloc((size_t)(M * K));
    s->xq = amalloc((size_t)(n * K));
    s->xsum = malloc((size_t)n * sizeof *s->xsum);
    if (!s->wq || !s->xq || !s->xsum)
        goto oom;
    for (int64_t i = 0; i < M * K; i++)
        s->wq[i] = (int8_t)((int)(rnd(s) % 3) - 1);
    for (int64_t i = 0; i < n * K; i++)
        s->xq[i] = (int8_t)((int)(rnd(s) % 255) - 127);
    for (int64_t j = 0; j < n; j++)
        s->xsum[j] = bnk_t2k_rowsum(K, s->xq + j * K);
    s->wscale = 0.02f;
    if (c->kind == K_T2K) {
        s->impl = strcmp(c->set, "active") == 0 ? bnk_ternary_active() : bnk_ternary_find(c->set);
        s->wp = amalloc(bn_t2k_row_bytes(K) * (size_t)M);
        s->y32 = malloc((size_t)(n * M) * sizeof *s->y32);
        if (!s->wp || !s->y32)
            goto oom;
        if (bn_t2k_pack_i8(s->wq, M, K, s->wp) != BN_OK) {
            snprintf(err, cap, "t2k pack: %s", bn_last_error());
            return -1;
        }
        return 0;
    }
    s->xf = amalloc((size_t)(n * K) * sizeof(float));
    s->yf = amalloc((size_t)(n * M) * sizeof(float));
    if (!s->xf || !s->yf)
        goto oom;
    for (int64_t i = 0; i < n * K; i++)
        s->xf[i] = (float)s->xq[i] * (1.0f / 64.0f);
    if (c->kind == K_BITLINEAR) {
        float *w = malloc((size_t)(M * K) * sizeof(float));
        if (!w)
            goto oom;
        for (int64_t i = 0; i < M * K; i++) /* quantizes back to wq exactly */
            w[i] = (float)s->wq[i] * s->wscale;
        bn_bitlinear_opts o = {.group = BN_QUANT_PER_TENSOR, .serial = true};
        bn_status st = bn_bitlinear_create(w, M, K, NULL, &o, &s->bl);
        free(w);
        if (st != BN_OK) {
            snprintf(err, cap, "bitlinear: %s", bn_last_error());
            return -1;
        }
        return 0;
    }
    s->wf = amalloc((size_t)(M * K) * sizeof(float));
    if (!s->wf)
        goto oom;
    for (int64_t i = 0; i < M * K; i++)
        s->wf[i] = (float)s->wq[i] * s->wscale;
    s->gemm = bnk_active()->sgemm; /* the selected kernel set's GEMM (BN_KERNELS) */
    if (c->kind == K_BLAS)
        openblas_set_num_threads(1); /* one thread, like every case here */
    return 0;
oom:
    snprintf(err, cap, "out of memory for a %lldx%lld layer at n=%lld", (long long)c->M,
             (long long)c->K, (long long)c->n);
    return -1;
}

static void t_run(void *state, int64_t iters)
{
    tstate *s = state;
    const tcase *c = s->c;
    const int64_t M = c->M, K = c->K, n = c->n;
    for (int64_t it = 0; it < iters; it++) {
        switch (c->kind) {
        case K_T2K:
            s->impl->gemm(M, n, K, s->wp, s->xq, K, s->xsum, s->y32, M);
            break;
        case K_F32:
            s->gemm->sgemm(n, M, K, 1.0f, s->xf, K, 1, s->wf, 1, K, 0.0f, s->yf, M, 1, NULL);
            break;
        case K_BLAS:
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)M, (int)K, 1.0f,
                        s->xf, (int)K, s->wf, (int)K, 0.0f, s->yf, (int)M);
            break;
        case K_BITLINEAR:
            bn_bitlinear_forward(s->bl, s->xf, n, s->yf);
            break;
        case K_PEAK:
            s->sink = (float)bnk_vnni_peak_probe_avx512(1000);
            break;
        }
    }
}

/* Sampled output positions: the four corners, then pseudo-random ones. */
static void sample_pos(tstate *s, int t, int64_t *i, int64_t *j)
{
    const tcase *c = s->c;
    if (t < 4) {
        *i = t & 1 ? c->M - 1 : 0;
        *j = t & 2 ? c->n - 1 : 0;
    } else {
        *i = rnd(s) % c->M;
        *j = rnd(s) % c->n;
    }
}

static int t_verify(void *state, char *err, size_t cap)
{
    tstate *s = state;
    const tcase *c = s->c;
    if (c->kind == K_PEAK)
        return 0;
    t_run(s, 1);
    const int64_t M = c->M, K = c->K;
    const double eps = FLT_EPSILON / 2;
    for (int t = 0; t < 64; t++) {
        int64_t i, j;
        sample_pos(s, t, &i, &j);
        int64_t exact = 0;
        double mag = 0;
        for (int64_t k = 0; k < K; k++) {
            exact += (int64_t)s->wq[i * K + k] * s->xq[j * K + k];
            mag += fabs((double)s->wq[i * K + k] * s->xq[j * K + k]);
        }
        if (c->kind == K_T2K) {
            if (s->y32[j * M + i] != exact) {
                snprintf(err, cap, "y[%lld, %lld] = %d, exact %lld", (long long)j, (long long)i,
                         s->y32[j * M + i], (long long)exact);
                return -1;
            }
            continue;
        }
        /* f32 operands are wq * wscale and xq / 64 */
        double sc = (double)s->wscale / 64.0;
        double tol = 2.0 * (K + 2) * eps * mag * sc + 1e-30;
        if (c->kind == K_BITLINEAR) {
            /* the layer requantizes: s_w = mean |w|, x_q = rne(x 127 / max|x|) */
            const float *xr = s->xf + j * K;
            double m = 0;
            for (int64_t k = 0; k < K; k++)
                m = fmax(m, fabs((double)xr[k]));
            exact = 0;
            for (int64_t k = 0; k < K; k++)
                exact += (int64_t)s->wq[i * K + k] * (int64_t)rint((double)xr[k] * 127.0 / m);
            sc = (double)bn_bitlinear_scales(s->bl)[0] * (m / 127.0);
            tol = 4 * eps * fabs((double)exact) * sc + 1e-30;
        }
        double want = (double)exact * sc;
        double got = s->yf[j * M + i];
        if (!(fabs(got - want) <= tol)) {
            snprintf(err, cap, "y[%lld, %lld] = %.9g, want %.9g (tolerance %.3g)", (long long)j,
                     (long long)i, got, want, tol);
            return -1;
        }
    }
    return 0;
}

static int add_rate(bnb_case_result *r, double ops)
{
    bnb_metric *m = bnb_case_add_metric(r, "gops", "GOP/s", ops / r->stats.median / 1e9, true);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_RATE;
    m = bnb_case_add_metric(r, "us", "us", r->stats.median * 1e6, false);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_PROP;
    return 0;
}

static int t_metrics(void *state, bnb_case_result *r)
{
    tstate *s = state;
    const tcase *c = s->c;
    if (c->kind == K_PEAK)
        return add_rate(r, 2.0 * 64 * BNK_VNNI_PEAK_PER_BLOCK * 1000.0);
    const int64_t M = c->M, K = c->K, n = c->n;
    if (add_rate(r, 2.0 * (double)M * (double)K * (double)n) != 0)
        return -1;
    if (c->kind == K_T2K) {
        const struct {
            const char *name;
            double bytes;
        } b[] = {
            {"bytes_t2k", (double)bn_t2k_row_bytes(K) * (double)M},
            {"bytes_t2", ceil((double)M * (double)K / 4.0)},
            {"bytes_t16", ceil((double)M * (double)K / 5.0)},
            {"bytes_i8", (double)M * (double)K},
            {"bytes_f32", 4.0 * (double)M * (double)K},
        };
        for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
            if (!bnb_case_add_metric(r, b[i].name, "B", b[i].bytes, false))
                return -1;
        if (!bnb_case_add_metric(r, "t2k_bytes_per_weight", "B",
                                 bn_ternary_bytes_per_weight(BN_TFMT_T2K, K), false))
            return -1;
    }
    if (c->kind == K_BITLINEAR) {
        /* the activation quantization step of the layer, alone */
        float *sc = malloc((size_t)n * sizeof *sc);
        if (!sc)
            return -1;
        double t[31];
        for (int i = 0; i < 31; i++) {
            double t0 = bnb_now();
            bn_quant_act_absmax(s->xf, n, K, K, s->xq, K, sc, s->xsum);
            t[i] = bnb_now() - t0;
        }
        free(sc);
        for (int i = 1; i < 31; i++) /* insertion sort for the median */
            for (int k = i; k > 0 && t[k - 1] > t[k]; k--) {
                double x = t[k];
                t[k] = t[k - 1];
                t[k - 1] = x;
            }
        bnb_metric *m = bnb_case_add_metric(r, "act_quant_us", "us", t[15] * 1e6, false);
        if (!m)
            return -1;
        if (!bnb_case_add_metric(r, "act_quant_share", "ratio", t[15] / r->stats.median, false))
            return -1;
    }
    return 0;
}

/* What t_metrics adds per kind of case. */
#define TC_METRICS_K_PEAK "gops,us"
#define TC_METRICS_K_F32  "gops,us"
#define TC_METRICS_K_BLAS "gops,us"
#define TC_METRICS_K_T2K                                                                           \
    "gops,us,bytes_t2k,bytes_t2,bytes_t16,bytes_i8,bytes_f32,t2k_bytes_per_weight"
#define TC_METRICS_K_BITLINEAR "gops,us,act_quant_us,act_quant_share"

/* SQ: skip under --quick (true for all but the target figures and the small
 * decode shape, so `--suite ternary --quick` is a few seconds). */
#define TC(nm, kind, set, M, K, N, SQ)                                                             \
    {.name = nm,                                                                                   \
     .nparams = 2,                                                                                 \
     .params = {{"n", #N}, {"shape", #M "x" #K}},                                                  \
     .code_version = "1",                                                                          \
     .arg = &(const tcase){kind, set, M, K, N},                                                    \
     .available = t_available,                                                                     \
     .setup = t_setup,                                                                             \
     .verify = t_verify,                                                                           \
     .run = t_run,                                                                                 \
     .metrics = t_metrics,                                                                         \
     .metric_names = TC_METRICS_##kind,                                                            \
     .teardown = t_teardown,                                                                       \
     .skip_quick = SQ},

#define AT_N(M, K, N, SQ)                                                                          \
    TC("t2k/avx2", K_T2K, "avx2", M, K, N, SQ)                                                     \
    TC("t2k/avx512", K_T2K, "avx512", M, K, N, SQ)                                                 \
    TC("t2k/amx", K_T2K, "amx", M, K, N, SQ)                                                       \
    TC("f32/engine", K_F32, "", M, K, N, SQ)                                                       \
    TC("f32/openblas", K_BLAS, "", M, K, N, SQ)                                                    \
    TC("bitlinear", K_BITLINEAR, "", M, K, N, SQ)
#define SHAPE(M, K, SQ1)                                                                           \
    TC("t2k/ref", K_T2K, "ref", M, K, 1, true)                                                     \
    AT_N(M, K, 1, SQ1) AT_N(M, K, 32, true) AT_N(M, K, 128, true)
#define ACTIVE(M, K)                                                                               \
    TC("t2k/active", K_T2K, "active", M, K, 1, false)                                              \
    TC("t2k/active", K_T2K, "active", M, K, 32, false)                                             \
    TC("t2k/active", K_T2K, "active", M, K, 128, false)

static const bnb_case_def ternary_cases[] = {
    {.name = "peak/vpdpbusd",
     .code_version = "1",
     .arg = &(const tcase){K_PEAK, "", 0, 0, 0},
     .available = t_available,
     .setup = t_setup,
     .verify = t_verify,
     .run = t_run,
     .metrics = t_metrics,
     .metric_names = TC_METRICS_K_PEAK,
     .teardown = t_teardown},
    /* clang-format off */
    ACTIVE(2560, 2560) ACTIVE(4096, 4096)
    SHAPE(2560, 2560, false) SHAPE(6912, 2560, true) SHAPE(2560, 6912, true)
    SHAPE(3200, 8640, true) SHAPE(4096, 4096, true) SHAPE(4096, 14336, true)
    /* clang-format on */
};

const bnb_suite bnb_suite_ternary = {
    .name = "ternary",
    .description = "BitNet b1.58 W1.58A8 kernels per ISA vs f32 GEMM and OpenBLAS, BitLinear",
    .in_default = true,
    .uses_openblas = true,
    .default_short = true, /* the target shapes by default; --suite ternary for all */
    .cases = ternary_cases,
    .ncases = (int)(sizeof ternary_cases / sizeof ternary_cases[0]),
};
