/*
 * suite_peak.c - the `peak` suite: the ceilings the reports measure every
 * other figure against (roofline), measured on this machine in this run.
 *
 *   peak/fma/scalar   f32 multiply + add on scalar SSE registers (baseline
 *                     x86-64 has no FMA instruction, so this is the ceiling
 *                     of code compiled without ISA flags, like the reference
 *                     kernels); 12 independent chains. :gflops
 *   peak/fma/avx2     f32 FMA on 12 ymm accumulators (kernels/x86/avx2). :gflops
 *   peak/fma/avx512   f32 FMA on 16 zmm accumulators (kernels/x86/avx512). :gflops
 *                     Skipped, with the reason, on a CPU without the ISA.
 *                     GFLOPS = flops per iteration / median seconds / 1e9,
 *                     one FMA = 2 flops per lane.
 *   peak/triad        a[i] = b[i] + s * c[i] over f64 arrays of at least 4x
 *                     the last-level cache each, one thread (the measuring
 *                     thread, pinned, memory bound to its NUMA node).
 *                     :gbps = 24 bytes per element (STREAM's convention: two
 *                     8-byte loads and one 8-byte store; write-allocate
 *                     traffic is not counted) x n / median / 1e9.
 *   peak/timer/clock_gettime, peak/timer/rdtsc
 *                     cost of one clock read. :overhead_ns (= median time per
 *                     call), :resolution_ns (clock) or :tsc_hz (TSC).
 *
 * Verification (once, before timing): the FMA probes are checked against
 * the closed form of their recurrence in double precision; the triad output
 * element by element against the same expression; clock reads for
 * monotonicity.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/timer.h"
#include "kernels/kernels.h"
#include "suites/suite.h"
#include "x86/peak_probe.h"

#define PEAK_BLOCKS_PER_ITER 1000 /* probe blocks per timed iteration */
#define PEAK_VERIFY_BLOCKS   100
#define PEAK_X0              0.5f
#define PEAK_M               0.999f
#define PEAK_A               0.001f
#define SCALAR_ACC           12

typedef float (*fma_probe)(int64_t blocks, float x0, float m, float a);

/* Scalar probe: 12 independent mul+add chains. The empty asm keeps each
 * accumulator in its own scalar register, so the compiler cannot pack them
 * into a vector and turn the scalar ceiling into an SSE one. */
static float peak_fma_scalar(int64_t blocks, float x0, float m, float a)
{
    float c[SCALAR_ACC];
    for (int k = 0; k < SCALAR_ACC; k++)
        c[k] = x0 + (float)k * BNK_PEAK_STEP;
    float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5];
    float c6 = c[6], c7 = c[7], c8 = c[8], c9 = c[9], c10 = c[10], c11 = c[11];
    for (int64_t i = 0; i < blocks; i++) {
        c0 = c0 * m + a;
        c1 = c1 * m + a;
        c2 = c2 * m + a;
        c3 = c3 * m + a;
        c4 = c4 * m + a;
        c5 = c5 * m + a;
        c6 = c6 * m + a;
        c7 = c7 * m + a;
        c8 = c8 * m + a;
        c9 = c9 * m + a;
        c10 = c10 * m + a;
        c11 = c11 * m + a;
#if defined(__x86_64__)
        __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5));
        __asm__ volatile("" : "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
#endif
    }
    return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
}

typedef struct fma_arg {
    const char *isa; /* CPUID feature(s) needed, "" for none */
    fma_probe probe;
    int acc, lanes;
} fma_arg;

static const fma_arg fma_scalar = {"", peak_fma_scalar, SCALAR_ACC, 1};
static const fma_arg fma_avx2 = {"avx2", bnk_peak_fma_f32_avx2, BNK_PEAK_AVX2_ACC,
                                 BNK_PEAK_AVX2_LANES};
static const fma_arg fma_avx512 = {"avx512f", bnk_peak_fma_f32_avx512, BNK_PEAK_AVX512_ACC,
                                   BNK_PEAK_AVX512_LANES};

typedef struct fma_state {
    const fma_arg *arg;
    volatile float sink;
} fma_state;

static bool fma_available(const void *arg, char *why, size_t cap)
{
    const fma_arg *fa = arg;
    const bnk_cpu *cpu = bnk_cpu_get(); /* the library's one CPU probe */
    if (strcmp(fa->isa, "avx2") == 0 && !cpu->avx2) {
        snprintf(why, cap, "CPU lacks avx2+fma+f16c (CPUID)%s%s",
                 cpu->hidden[0] ? "; BN_CPU_HIDE=" : "", cpu->hidden);
        return false;
    }
    if (strcmp(fa->isa, "avx512f") == 0 && !cpu->avx512) {
        snprintf(why, cap, "CPU lacks avx512f/bw/vl/dq (CPUID)%s%s",
                 cpu->hidden[0] ? "; BN_CPU_HIDE=" : "", cpu->hidden);
        return false;
    }
    return true;
}

static int fma_setup(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap)
{
    fma_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    s->arg = arg;
    *state = s;
    return 0;
}

static int fma_verify(void *state, char *err, size_t cap)
{
    fma_state *s = state;
    const fma_arg *fa = s->arg;
    double m = PEAK_M, a = PEAK_A, x0 = PEAK_X0;
    double mn = pow(m, PEAK_VERIFY_BLOCKS);
    double want = 0;
    for (int k = 0; k < fa->acc; k++) {
        double start = (double)(float)(x0 + (float)k * BNK_PEAK_STEP);
        want += (double)fa->lanes * (mn * start + a * (1.0 - mn) / (1.0 - m));
    }
    double got = fa->probe(PEAK_VERIFY_BLOCKS, PEAK_X0, PEAK_M, PEAK_A);
    if (!(fabs(got - want) <= 1e-4 * fabs(want))) {
        snprintf(err, cap, "probe sum %.9g, closed form %.9g (relative error %.3g > 1e-4)", got,
                 want, fabs(got - want) / fabs(want));
        return -1;
    }
    return 0;
}

static void fma_run(void *state, int64_t iters)
{
    fma_state *s = state;
    s->sink = s->arg->probe(iters * PEAK_BLOCKS_PER_ITER, PEAK_X0, PEAK_M, PEAK_A);
}

static int fma_metrics(void *state, bnb_case_result *r)
{
    fma_state *s = state;
    double flops = 2.0 * PEAK_BLOCKS_PER_ITER * s->arg->acc * s->arg->lanes;
    bnb_metric *m =
        bnb_case_add_metric(r, "gflops", "GFLOP/s", flops / r->stats.median / 1e9, true);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_RATE;
    return bnb_case_add_metric(r, "flops_per_iter", "flop", flops, true) ? 0 : -1;
}

static void free_state(void *state)
{
    free(state);
}

/* ---- triad ---------------------------------------------------------------------- */

#define TRIAD_MIN_BYTES (64ull << 20) /* per array, when the LLC size is unknown */
#define TRIAD_SCALAR    3.0

typedef struct triad_state {
    double *a, *b, *c;
    size_t n;
} triad_state;

static void triad_free(void *state)
{
    triad_state *t = state;
    if (!t)
        return;
    free(t->a);
    free(t->b);
    free(t->c);
    free(t);
}

static int triad_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                       size_t cap)
{
    size_t bytes = env->topo->llc_bytes ? 4 * (size_t)env->topo->llc_bytes : TRIAD_MIN_BYTES;
    if (bytes < TRIAD_MIN_BYTES)
        bytes = TRIAD_MIN_BYTES;
    triad_state *t = calloc(1, sizeof *t);
    if (!t)
        goto oom;
    t->n = bytes / sizeof(double);
    if (posix_memalign((void **)&t->a, 64, t->n * sizeof(double)) != 0)
        t->a = NULL;
    if (posix_memalign((void **)&t->b, 64, t->n * sizeof(double)) != 0)
        t->b = NULL;
    if (posix_memalign((void **)&t->c, 64, t->n * sizeof(double)) != 0)
        t->c = NULL;
    if (!t->a || !t->b || !t->c)
        goto oom;
    /* first touch here, on the pinned thread: pages land on its NUMA node */
    for (size_t i = 0; i < t->n; i++) {
        t->a[i] = 0.0;
        t->b[i] = 1.0 + (double)(i % 7);
        t->c[i] = 2.0 - 0.25 * (double)(i % 5);
    }
    *state = t;
    return 0;
oom:
    snprintf(err, cap, "cannot allocate 3 arrays of %zu MiB", bytes >> 20);
    triad_free(t);
    return -1;
}

static void triad_kernel(double *restrict a, const double *restrict b, const double *restrict c,
                         size_t n, double s)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

static int triad_verify(void *state, char *err, size_t cap)
{
    triad_state *t = state;
    triad_kernel(t->a, t->b, t->c, t->n, TRIAD_SCALAR);
    for (size_t i = 0; i < t->n; i++) {
        double want = t->b[i] + TRIAD_SCALAR * t->c[i];
        if (t->a[i] != want) {
            snprintf(err, cap, "a[%zu] = %.17g, want %.17g", i, t->a[i], want);
            return -1;
        }
    }
    return 0;
}

static void triad_run(void *state, int64_t iters)
{
    triad_state *t = state;
    for (int64_t k = 0; k < iters; k++)
        triad_kernel(t->a, t->b, t->c, t->n, TRIAD_SCALAR);
}

static int triad_metrics(void *state, bnb_case_result *r)
{
    triad_state *t = state;
    double bytes = 24.0 * (double)t->n;
    bnb_metric *m = bnb_case_add_metric(r, "gbps", "GB/s", bytes / r->stats.median / 1e9, true);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_RATE;
    if (!bnb_case_add_metric(r, "array_bytes", "B", (double)t->n * sizeof(double), true))
        return -1;
    return bnb_case_add_metric(r, "bytes_per_element", "B", 24.0, true) ? 0 : -1;
}

/* ---- timers ----------------------------------------------------------------------- */

typedef struct timer_state {
    const bnb_timer_info *info;
    volatile uint64_t sink;
} timer_state;

static int timer_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                       size_t cap)
{
    timer_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    s->info = env->timer;
    *state = s;
    return 0;
}

static int clock_verify(void *state, char *err, size_t cap)
{
    int64_t prev = bnb_now_ns();
    for (int i = 0; i < 10000; i++) {
        int64_t t = bnb_now_ns();
        if (t < prev) {
            snprintf(err, cap, "CLOCK_MONOTONIC went back by %lld ns", (long long)(prev - t));
            return -1;
        }
        prev = t;
    }
    return 0;
}

static void clock_run(void *state, int64_t iters)
{
    timer_state *s = state;
    uint64_t acc = 0;
    for (int64_t i = 0; i < iters; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        acc += (uint64_t)ts.tv_nsec;
    }
    s->sink = acc;
}

static int overhead_metric(bnb_case_result *r)
{
    bnb_metric *m = bnb_case_add_metric(r, "overhead_ns", "ns", r->stats.median * 1e9, false);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_PROP;
    return 0;
}

static int clock_metrics(void *state, bnb_case_result *r)
{
    timer_state *s = state;
    if (overhead_metric(r) != 0)
        return -1;
    return bnb_case_add_metric(r, "resolution_ns", "ns", s->info->clock_res_ns, false) ? 0 : -1;
}

static bool tsc_available(const void *arg, char *why, size_t cap)
{
#if defined(__x86_64__) || defined(__i386__)
    return true;
#else
    snprintf(why, cap, "no x86 time-stamp counter on this architecture");
    return false;
#endif
}

static int tsc_verify(void *state, char *err, size_t cap)
{
    timer_state *s = state;
    if (!(s->info->tsc_hz > 0)) {
        snprintf(err, cap, "TSC could not be calibrated against CLOCK_MONOTONIC");
        return -1;
    }
    return 0;
}

static void tsc_run(void *state, int64_t iters)
{
    timer_state *s = state;
    uint64_t acc = 0;
    for (int64_t i = 0; i < iters; i++)
        acc += bnb_tsc();
    s->sink = acc;
}

static int tsc_metrics(void *state, bnb_case_result *r)
{
    timer_state *s = state;
    if (overhead_metric(r) != 0)
        return -1;
    if (!bnb_case_add_metric(r, "tsc_hz", "Hz", s->info->tsc_hz, true))
        return -1;
    return bnb_case_add_metric(r, "tsc_invariant", "bool", s->info->tsc_invariant ? 1.0 : 0.0, true)
               ? 0
               : -1;
}

static const bnb_case_def peak_cases[] = {
    {.name = "fma/scalar",
     .code_version = "1",
     .arg = &fma_scalar,
     .available = fma_available,
     .setup = fma_setup,
     .verify = fma_verify,
     .run = fma_run,
     .metrics = fma_metrics,
     .metric_names = "gflops,flops_per_iter",
     .teardown = free_state},
    {.name = "fma/avx2",
     .code_version = "1",
     .arg = &fma_avx2,
     .available = fma_available,
     .setup = fma_setup,
     .verify = fma_verify,
     .run = fma_run,
     .metrics = fma_metrics,
     .metric_names = "gflops,flops_per_iter",
     .teardown = free_state},
    {.name = "fma/avx512",
     .code_version = "1",
     .arg = &fma_avx512,
     .available = fma_available,
     .setup = fma_setup,
     .verify = fma_verify,
     .run = fma_run,
     .metrics = fma_metrics,
     .metric_names = "gflops,flops_per_iter",
     .teardown = free_state},
    {.name = "triad",
     .code_version = "1",
     .setup = triad_setup,
     .verify = triad_verify,
     .run = triad_run,
     .metrics = triad_metrics,
     .metric_names = "gbps,array_bytes,bytes_per_element",
     .teardown = triad_free},
    {.name = "timer/clock_gettime",
     .code_version = "1",
     .setup = timer_setup,
     .verify = clock_verify,
     .run = clock_run,
     .metrics = clock_metrics,
     .metric_names = "overhead_ns,resolution_ns",
     .teardown = free_state},
    {.name = "timer/rdtsc",
     .code_version = "1",
     .available = tsc_available,
     .setup = timer_setup,
     .verify = tsc_verify,
     .run = tsc_run,
     .metrics = tsc_metrics,
     .metric_names = "overhead_ns,tsc_hz,tsc_invariant",
     .teardown = free_state},
};

const bnb_suite bnb_suite_peak = {
    .name = "peak",
    .description = "FMA throughput per ISA, triad memory bandwidth, timer overhead",
    .in_default = true,
    .cases = peak_cases,
    .ncases = (int)(sizeof peak_cases / sizeof peak_cases[0]),
};
