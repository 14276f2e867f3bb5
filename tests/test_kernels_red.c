/*
 * test_kernels_red.c - the SIMD unary, reduction and normalisation row
 * kernels (kernels/x86/x86_red.h) of every kernel set this CPU supports,
 * against the reference kernels and a long double libm reference.
 *
 * Tolerances (the contracts of x86_red.h):
 *   unary, ulp of the exact result (ulp below 2^-126 taken as 2^-149):
 *     exp 1, log 1, tanh 2, sigmoid 2, silu 2, gelu 2.5, gelu_tanh 2;
 *     neg, abs, relu, relu2 bit-identical to the reference.
 *   sum, sumsq, sumsqdev: |got - ref| <= 2^-44 * sum|term| (both are within
 *     2^-45 sum|term| of the exact sum).
 *   min, max: equal to the reference (NaN rows: NaN).
 *   softmax: 2 ulp of the reference's value + 2^-40 max|y|;
 *   log_softmax: 1 ulp + 2^-22 absolute (log of a sum of f32 exponentials);
 *   rmsnorm, layernorm: 1 ulp of the reference's value + 2^-40 max|y|
 *     (the reference is itself within 0.5 ulp + 2^-46 of the exact value).
 * The special-value behaviour (NaN, infinities, signed zero, overflow and
 * underflow thresholds) must match the reference exactly.
 *
 * The dense sweep walks every STEP-th f32 bit pattern in [-100, 100]
 * (STEP = 1999 here; BN_TEST_ULP_STEP=61 makes it the sweep behind the
 * bounds stated in x86_red.h) and prints the largest error it found.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "kernels/kernels.h"
#include "kernel_sets.h"

typedef long double ld;

/* ---- helpers --------------------------------------------------------- */

static const bnk_isa simd_sets[] = {BNK_ISA_AVX2, BNK_ISA_AVX512};
#define NSETS ((int)(sizeof simd_sets / sizeof simd_sets[0]))

/* The table of simd_sets[k], or NULL when this CPU lacks it. */
static const bnk_table *set_table(int k)
{
    return bnk_isa_supported(simd_sets[k]) ? bnk_table_get(simd_sets[k]) : NULL;
}

static double ulp_of(ld r)
{
    r = fabsl(r);
    int e = r > 0 ? ilogbl(r) : -126;
    if (e < -126)
        e = -126;
    return ldexp(1.0, e - 23);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* deterministic uniform floats in [lo, hi) */
static uint64_t rng_state;
static float rnd(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(rng_state >> 11) * 0x1.0p-53;
    return (float)(lo + (hi - lo) * u);
}

static const int64_t sizes[] = {1, 7, 15, 17, 63, 65, 1000, 1023};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* ---- unary ------------------------------------------------------------ */

static ld r_sig(ld x)
{
    if (x >= 0)
        return 1.0L / (1.0L + expl(-x));
    ld e = expl(x);
    return e / (1.0L + e);
}
static ld r_exp(ld x)
{
    return expl(x);
}
static ld r_log(ld x)
{
    return logl(x);
}
static ld r_tanh(ld x)
{
    return tanhl(x);
}
static ld r_silu(ld x)
{
    return x * r_sig(x);
}
static ld r_gelu(ld x)
{
    return 0.5L * x * erfcl(-x / sqrtl(2.0L));
}
static ld r_gelu_tanh(ld x)
{
    ld u = sqrtl(2.0L / 3.14159265358979323846264338327950288L) * (x + 0.044715L * x * x * x);
    return x * r_sig(2.0L * u);
}

typedef struct unary_case {
    bn_op op;
    ld (*ref)(ld);
    double ulps;
} unary_case;

static const unary_case ucases[] = {
    {BN_OP_EXP, r_exp, 1.0},
    {BN_OP_LOG, r_log, 1.0},
    {BN_OP_TANH, r_tanh, 2.0},
    {BN_OP_SIGMOID, r_sig, 2.0},
    {BN_OP_SILU, r_silu, 2.0},
    {BN_OP_GELU, r_gelu, 2.5},
    {BN_OP_GELU_TANH, r_gelu_tanh, 2.0},
};
#define NUCASES ((int)(sizeof ucases / sizeof ucases[0]))

/* got vs the exact value: NaN/Inf exactly as the reference rounds them */
static bool unary_ok(float got, ld exact, float ref_kernel, double ulps, double *err)
{
    float rf = (float)exact;
    *err = 0;
    if (isnan(ref_kernel) || isinf(ref_kernel) || isnan(rf) || isinf(rf))
        return bits_of(got) == bits_of(ref_kernel) || (isnan(got) && isnan(ref_kernel));
    if (got == 0 && ref_kernel == 0 && signbit(got) != signbit(ref_kernel))
        return false;
    *err = (double)(fabsl((ld)got - exact) / ulp_of(exact));
    return *err <= ulps;
}

enum { SWEEP_CHUNK = 4096 };

Test(kernels_red, unary_dense_sweep_within_stated_ulps)
{
    require_simd_sets(__func__);
    const char *env = getenv("BN_TEST_ULP_STEP");
    uint32_t step = env && atoi(env) > 0 ? (uint32_t)atoi(env) : 1999;
    static float xs[SWEEP_CHUNK], yr[SWEEP_CHUNK], ys[NSETS][SWEEP_CHUNK];
    const bnk_table *ref = bnk_ref_table();
    for (int c = 0; c < NUCASES; c++) {
        double worst[NSETS] = {0};
        float worst_x[NSETS] = {0};
        for (int sgn = 0; sgn < 2; sgn++) {
            for (uint32_t u = 0; u <= 0x42C80000u;) { /* 100.0f */
                int n = 0;
                for (; n < SWEEP_CHUNK && u <= 0x42C80000u; n++, u += step)
                    xs[n] = from_bits(u | (sgn ? 0x80000000u : 0));
                ref->unary_f32[ucases[c].op](n, xs, 1, yr, 1);
                for (int k = 0; k < NSETS; k++)
                    if (set_table(k))
                        set_table(k)->unary_f32[ucases[c].op](n, xs, 1, ys[k], 1);
                for (int i = 0; i < n; i++) {
                    ld exact = ucases[c].ref((ld)xs[i]);
                    for (int k = 0; k < NSETS; k++) {
                        if (!set_table(k))
                            continue;
                        double e;
                        cr_assert(unary_ok(ys[k][i], exact, yr[i], ucases[c].ulps, &e),
                                  "%s %s(%.9g) = %.9g, exact %.12Lg, ref %.9g (%.3g ulp > %g)",
                                  bnk_isa_name(simd_sets[k]), bn_op_name(ucases[c].op), xs[i],
                                  ys[k][i], exact, yr[i], e, ucases[c].ulps);
                        if (e > worst[k]) {
                            worst[k] = e;
                            worst_x[k] = xs[i];
                        }
                    }
                }
            }
        }
        for (int k = 0; k < NSETS; k++)
            if (set_table(k) && env)
                fprintf(stderr, "%s %-9s max %.3f ulp at %.9g (step %u)\n",
                        bnk_isa_name(simd_sets[k]), bn_op_name(ucases[c].op), worst[k], worst_x[k],
                        step);
    }
}

Test(kernels_red, unary_special_values_match_reference)
{
    require_simd_sets(__func__);
    const float sv[] = {
        0.0f,        -0.0f,   INFINITY, -INFINITY, NAN,     -NAN,         FLT_MIN,     -FLT_MIN,
        1e-40f,      -1e-40f, 1e-45f,   -1e-45f,   FLT_MAX, -FLT_MAX,     88.7228317f, 88.7228394f,
        88.73f,      89.0f,   100.0f,   1e4f,      1e20f,   -87.3365479f, -87.34f,     -103.972076f,
        -103.98f,    -104.0f, -110.0f,  -150.0f,   -170.0f, -200.0f,      -1e4f,       -1e20f,
        9.01f,       -9.01f,  9.5f,     -14.2f,    -14.5f,  -14.6f,       -18.0f,      -19.0f,
        -9.5f,       -10.3f,  -10.4f,   0.55f,     -0.55f,  0.75f,        -0.75f,      0.7500001f,
        -0.7500001f, 1.0f};
    int n = (int)(sizeof sv / sizeof sv[0]);
    float yr[64], y[64];
    const bnk_table *ref = bnk_ref_table();
    for (int c = 0; c < NUCASES; c++) {
        ref->unary_f32[ucases[c].op](n, sv, 1, yr, 1);
        for (int k = 0; k < NSETS; k++) {
            if (!set_table(k))
                continue;
            set_table(k)->unary_f32[ucases[c].op](n, sv, 1, y, 1);
            for (int i = 0; i < n; i++) {
                double e;
                cr_assert(unary_ok(y[i], ucases[c].ref((ld)sv[i]), yr[i], ucases[c].ulps, &e),
                          "%s %s(%.9g) = %.9g, ref %.9g", bnk_isa_name(simd_sets[k]),
                          bn_op_name(ucases[c].op), sv[i], y[i], yr[i]);
            }
        }
    }
}

/* Every unary entry at every size, unaligned, strided and in place; the
 * memory around the output must be untouched. */
Test(kernels_red, unary_rows_sizes_strides_in_place)
{
    require_simd_sets(__func__);
    const bn_op ops[] = {BN_OP_NEG,  BN_OP_ABS,  BN_OP_RELU,     BN_OP_RELU2,
                         BN_OP_EXP,  BN_OP_LOG,  BN_OP_TANH,     BN_OP_SIGMOID,
                         BN_OP_SILU, BN_OP_GELU, BN_OP_GELU_TANH};
    const bnk_table *ref = bnk_ref_table();
    enum { GUARD = 40, CAP = 1023 * 3 + 2 * GUARD };
    static float xb[CAP], yb[CAP], rb[CAP], ib[CAP];
    const int64_t strides[][2] = {{1, 1}, {3, 2}, {1, 3}, {2, 1}};
    rng_state = 42;
    for (int o = 0; o < (int)(sizeof ops / sizeof ops[0]); o++) {
        bn_op op = ops[o];
        bool exact = op == BN_OP_NEG || op == BN_OP_ABS || op == BN_OP_RELU || op == BN_OP_RELU2;
        double ulps = 0;
        for (int c = 0; c < NUCASES; c++)
            if (ucases[c].op == op)
                ulps = ucases[c].ulps;
        for (int k = 0; k < NSETS; k++) {
            const bnk_table *t = set_table(k);
            if (!t)
                continue;
            for (int s = 0; s < NSIZES; s++) {
                for (int st = 0; st < 4; st++) {
                    int64_t n = sizes[s], sx = strides[st][0], sy = strides[st][1];
                    for (int i = 0; i < CAP; i++) {
                        xb[i] = op == BN_OP_LOG ? rnd(0, 20) : rnd(-12, 12);
                        yb[i] = rb[i] = -7.0f;
                    }
                    const float *x = xb + GUARD + 1; /* unaligned */
                    float *y = yb + GUARD + 1, *r = rb + GUARD + 1;
                    t->unary_f32[op](n, x, sx, y, sy);
                    ref->unary_f32[op](n, x, sx, r, sy);
                    for (int i = 0; i < CAP; i++) {
                        bool inside =
                            i >= GUARD + 1 && (i - GUARD - 1) % sy == 0 && (i - GUARD - 1) / sy < n;
                        if (!inside) {
                            cr_assert_eq(bits_of(yb[i]), bits_of(-7.0f),
                                         "%s %s n=%lld sy=%lld wrote outside the row at %d",
                                         bnk_isa_name(simd_sets[k]), bn_op_name(op), (long long)n,
                                         (long long)sy, i);
                            continue;
                        }
                        float got = yb[i], want = rb[i];
                        bool ok = exact ? bits_of(got) == bits_of(want)
                                        : fabs((double)got - want) <= (ulps + 1) * ulp_of(want);
                        cr_assert(ok, "%s %s n=%lld sx=%lld sy=%lld: %.9g, ref %.9g",
                                  bnk_isa_name(simd_sets[k]), bn_op_name(op), (long long)n,
                                  (long long)sx, (long long)sy, got, want);
                    }
                    /* in place: same values as out of place */
                    memcpy(ib, xb, sizeof ib);
                    float *z = ib + GUARD + 1;
                    t->unary_f32[op](n, z, sx, z, sx);
                    if (sx == sy) {
                        for (int64_t i = 0; i < n; i++)
                            cr_assert_eq(bits_of(z[i * sx]), bits_of(y[i * sy]),
                                         "%s %s in place differs at %lld",
                                         bnk_isa_name(simd_sets[k]), bn_op_name(op), (long long)i);
                    }
                }
            }
            /* n == 0 touches nothing */
            t->unary_f32[op](0, NULL, 1, NULL, 1);
        }
    }
}

/* The streaming path (threshold lowered to 1 byte: every contiguous output
 * streams) gives the normal path's bits at every alignment of the output,
 * out of place and in place, and writes nothing outside the row. */
Test(kernels_red, unary_streaming_stores_give_the_same_bits)
{
    require_simd_sets(__func__);
    const bn_op ops[] = {BN_OP_NEG,  BN_OP_ABS,  BN_OP_RELU,     BN_OP_RELU2,
                         BN_OP_EXP,  BN_OP_LOG,  BN_OP_TANH,     BN_OP_SIGMOID,
                         BN_OP_SILU, BN_OP_GELU, BN_OP_GELU_TANH};
    enum { GUARD = 32, CAP = 1100 + 2 * GUARD };
    static float xb[CAP] __attribute__((aligned(64))), y1[CAP] __attribute__((aligned(64))),
        y2[CAP] __attribute__((aligned(64))), z[CAP] __attribute__((aligned(64)));
    const int64_t ns[] = {1, 7, 15, 17, 63, 65, 1000, 1023};
    rng_state = 7;
    for (int i = 0; i < CAP; i++)
        xb[i] = rnd(-12, 12);
    for (int o = 0; o < (int)(sizeof ops / sizeof ops[0]); o++)
        for (int k = 0; k < NSETS; k++) {
            const bnk_table *t = set_table(k);
            if (!t)
                continue;
            for (int s = 0; s < (int)(sizeof ns / sizeof ns[0]); s++)
                for (int off = 0; off < 16; off++) {
                    int64_t n = ns[s];
                    float *x = xb + GUARD + off;
                    for (int i = 0; i < CAP; i++)
                        y1[i] = y2[i] = -7.0f;
                    bnk_set_stream_min_bytes(0);
                    t->unary_f32[ops[o]](n, x, 1, y1 + GUARD + off, 1);
                    bnk_set_stream_min_bytes(1);
                    t->unary_f32[ops[o]](n, x, 1, y2 + GUARD + off, 1);
                    memcpy(z, xb, sizeof z);
                    t->unary_f32[ops[o]](n, z + GUARD + off, 1, z + GUARD + off, 1);
                    bnk_set_stream_min_bytes(0);
                    for (int i = 0; i < CAP; i++) {
                        cr_assert_eq(bits_of(y2[i]), bits_of(y1[i]),
                                     "%s %s n=%lld off=%d: streamed %.9g, normal %.9g at %d",
                                     bnk_isa_name(simd_sets[k]), bn_op_name(ops[o]), (long long)n,
                                     off, y2[i], y1[i], i);
                        bool inside = i >= GUARD + off && i < GUARD + off + n;
                        cr_assert_eq(bits_of(z[i]), bits_of(inside ? y1[i] : xb[i]),
                                     "%s %s n=%lld off=%d in place at %d",
                                     bnk_isa_name(simd_sets[k]), bn_op_name(ops[o]), (long long)n,
                                     off, i);
                    }
                }
        }
}

/* rmsnorm_rows_f32 of every set (the reference's too) gives, row for row,
 * the bits of the set's rmsnorm_f32, with gaps between rows (ldx, ldy > n)
 * left alone, with and without a weight, with the output streamed
 * (threshold 1 byte) or not, at every alignment of y modulo 64 bytes. */
Test(kernels_red, rmsnorm_rows_equal_rmsnorm_row_by_row)
{
    enum { CAP = 17 * (1023 + 5) + 64 };
    static float x[CAP], w[1023], y1[CAP] __attribute__((aligned(64))),
        y2[CAP] __attribute__((aligned(64)));
    const int64_t rowsv[] = {1, 3, 17}, nv[] = {1, 7, 17, 1000, 1023};
    rng_state = 99;
    for (int i = 0; i < CAP; i++)
        x[i] = rnd(-3, 3);
    for (int i = 0; i < 1023; i++)
        w[i] = rnd(0.5f, 1.5f);
    const bnk_table *tabs[NSETS + 1] = {bnk_ref_table()};
    for (int k = 0; k < NSETS; k++)
        tabs[k + 1] = set_table(k);
    for (int k = 0; k <= NSETS; k++) {
        const bnk_table *t = tabs[k];
        if (!t)
            continue;
        for (int ri = 0; ri < 3; ri++)
            for (int ni = 0; ni < 5; ni++)
                for (int v = 0; v < 8; v++) {
                    int64_t rows = rowsv[ri], n = nv[ni], ldx = n + (v & 1) * 3,
                            ldy = n + (v & 2 ? 5 : 0), off = (v * 5) % 16;
                    const float *wv = v & 4 ? NULL : w;
                    for (int i = 0; i < CAP; i++)
                        y1[i] = y2[i] = -7.0f;
                    for (int64_t r = 0; r < rows; r++)
                        t->rmsnorm_f32(n, x + r * ldx, 1, wv, 1, 1e-5f, y1 + off + r * ldy, 1);
                    bnk_set_stream_min_bytes(v < 4 ? 1 : 0);
                    t->rmsnorm_rows_f32(rows, n, x, ldx, wv, 1e-5f, y2 + off, ldy);
                    bnk_set_stream_min_bytes(0);
                    for (int i = 0; i < CAP; i++)
                        cr_assert_eq(bits_of(y2[i]), bits_of(y1[i]),
                                     "%s rows=%lld n=%lld ldx=%lld ldy=%lld off=%lld w=%d: %.9g vs "
                                     "%.9g at %d",
                                     t->name, (long long)rows, (long long)n, (long long)ldx,
                                     (long long)ldy, (long long)off, wv != NULL, y2[i], y1[i], i);
                }
    }
}

/* ---- reductions ------------------------------------------------------- */

static double abs_sum(int64_t n, const float *x, int64_t sx, int kind, double mean)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i * sx];
        s += kind == 0 ? fabs(v) : kind == 1 ? v * v : (v - mean) * (v - mean);
    }
    return s;
}

Test(kernels_red, sums_match_reference_within_bound)
{
    require_simd_sets(__func__);
    const int64_t ns[] = {0, 1, 7, 15, 17, 63, 65, 1000, 1023, 1024, 1025, 4097, 100003};
    enum { CAP = 100003 * 3 + 8 };
    float *buf = malloc(CAP * sizeof *buf);
    cr_assert_not_null(buf);
    const bnk_table *ref = bnk_ref_table();
    rng_state = 7;
    for (int i = 0; i < CAP; i++)
        buf[i] = rnd(-1, 1) * (i % 5 == 0 ? 1000.0f : 1.0f) + 3.0f;
    for (int k = 0; k < NSETS; k++) {
        const bnk_table *t = set_table(k);
        if (!t)
            continue;
        for (int s = 0; s < (int)(sizeof ns / sizeof ns[0]); s++) {
            for (int64_t sx = 1; sx <= 3; sx += 2) {
                int64_t n = ns[s];
                const float *x = buf + 1;
                double mean = n ? ref->sum_f32(n, x, sx) / (double)n : 0;
                double got[3] = {t->sum_f32(n, x, sx), t->sumsq_f32(n, x, sx),
                                 t->sumsqdev_f32(n, x, sx, mean)};
                double want[3] = {ref->sum_f32(n, x, sx), ref->sumsq_f32(n, x, sx),
                                  ref->sumsqdev_f32(n, x, sx, mean)};
                for (int kind = 0; kind < 3; kind++) {
                    double tol = 0x1.0p-44 * abs_sum(n, x, sx, kind, mean);
                    cr_assert(fabs(got[kind] - want[kind]) <= tol,
                              "%s sum kind %d n=%lld sx=%lld: %.17g, ref %.17g",
                              bnk_isa_name(simd_sets[k]), kind, (long long)n, (long long)sx,
                              got[kind], want[kind]);
                }
            }
        }
        /* cancellation: the double accumulation keeps what f32 would lose */
        float c[4] = {1e8f, 1.0f, -1e8f, 1.0f};
        cr_assert_eq(t->sum_f32(4, c, 1), 2.0);
        float inf[3] = {1.0f, INFINITY, 2.0f};
        cr_assert(isinf(t->sum_f32(3, inf, 1)) && t->sum_f32(3, inf, 1) > 0);
        float nan[3] = {1.0f, NAN, 2.0f};
        cr_assert(isnan(t->sum_f32(3, nan, 1)));
        cr_assert(isnan(t->sumsq_f32(3, nan, 1)));
    }
    free(buf);
}

Test(kernels_red, min_max_equal_reference_nan_first)
{
    require_simd_sets(__func__);
    enum { CAP = 1023 * 2 + 8 };
    static float buf[CAP];
    const bnk_table *ref = bnk_ref_table();
    rng_state = 9;
    for (int k = 0; k < NSETS; k++) {
        const bnk_table *t = set_table(k);
        if (!t)
            continue;
        for (int s = 0; s < NSIZES; s++) {
            for (int64_t sx = 1; sx <= 2; sx++) {
                int64_t n = sizes[s];
                for (int i = 0; i < CAP; i++)
                    buf[i] = rnd(-50, 50);
                const float *x = buf + 1;
                /* extremes at the ends and in the tail */
                cr_assert_eq(t->max_f32(n, x, sx), ref->max_f32(n, x, sx), "%s max n=%lld",
                             bnk_isa_name(simd_sets[k]), (long long)n);
                cr_assert_eq(t->min_f32(n, x, sx), ref->min_f32(n, x, sx), "%s min n=%lld",
                             bnk_isa_name(simd_sets[k]), (long long)n);
                buf[1 + (n - 1) * sx] = 1000.0f;
                cr_assert_eq(t->max_f32(n, x, sx), 1000.0);
                buf[1 + (n - 1) * sx] = -1000.0f;
                cr_assert_eq(t->min_f32(n, x, sx), -1000.0);
                buf[1 + (n / 2) * sx] = NAN;
                cr_assert(isnan(t->max_f32(n, x, sx)) && isnan(t->min_f32(n, x, sx)),
                          "%s NaN at %lld of %lld ignored", bnk_isa_name(simd_sets[k]),
                          (long long)(n / 2), (long long)n);
            }
        }
        float infs[3] = {-INFINITY, -INFINITY, -INFINITY};
        cr_assert_eq(t->max_f32(3, infs, 1), -INFINITY);
    }
}

/* ---- normalisations --------------------------------------------------- */

static double max_abs(int64_t n, const float *y, int64_t sy)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(y[i * sy]) && fabs(y[i * sy]) > m)
            m = fabs(y[i * sy]);
    return m;
}

static void assert_close_rows(const char *what, const char *set, int64_t n, const float *got,
                              const float *want, int64_t sy, double ulps, double abs_tol)
{
    for (int64_t i = 0; i < n; i++) {
        float g = got[i * sy], w = want[i * sy];
        if (isnan(w) || isinf(w)) {
            cr_assert(bits_of(g) == bits_of(w) || (isnan(g) && isnan(w)),
                      "%s %s n=%lld [%lld]: %.9g, ref %.9g", set, what, (long long)n, (long long)i,
                      g, w);
            continue;
        }
        cr_assert(fabs((double)g - w) <= ulps * ulp_of(w) + abs_tol,
                  "%s %s n=%lld sy=%lld [%lld]: %.9g, ref %.9g", set, what, (long long)n,
                  (long long)sy, (long long)i, g, w);
    }
}

Test(kernels_red, softmax_and_log_softmax_match_reference)
{
    require_simd_sets(__func__);
    enum { CAP = 1023 * 3 + 8 };
    static float xb[CAP], yb[CAP], rb[CAP];
    const bnk_table *ref = bnk_ref_table();
    const int64_t strides[][2] = {{1, 1}, {3, 2}, {2, 1}, {1, 3}};
    const float scales[] = {1.0f, 30.0f};
    rng_state = 11;
    for (int k = 0; k < NSETS; k++) {
        const bnk_table *t = set_table(k);
        if (!t)
            continue;
        const char *set = bnk_isa_name(simd_sets[k]);
        for (int s = 0; s < NSIZES; s++) {
            for (int st = 0; st < 4; st++) {
                for (int sc = 0; sc < 2; sc++) {
                    int64_t n = sizes[s], sx = strides[st][0], sy = strides[st][1];
                    for (int i = 0; i < CAP; i++)
                        xb[i] = rnd(-1, 1) * scales[sc] + 5.0f;
                    if (n > 3) /* masked positions */
                        xb[1 + 2 * sx] = -INFINITY;
                    const float *x = xb + 1;
                    t->softmax_f32(n, x, sx, yb + 1, sy);
                    ref->softmax_f32(n, x, sx, rb + 1, sy);
                    assert_close_rows("softmax", set, n, yb + 1, rb + 1, sy, 2,
                                      0x1.0p-40 * max_abs(n, rb + 1, sy));
                    if (n > 3)
                        cr_assert_eq(yb[1 + 2 * sy], 0.0f);
                    t->log_softmax_f32(n, x, sx, yb + 1, sy);
                    ref->log_softmax_f32(n, x, sx, rb + 1, sy);
                    assert_close_rows("log_softmax", set, n, yb + 1, rb + 1, sy, 1, 0x1.0p-22);
                }
            }
            /* in place */
            int64_t n = sizes[s];
            for (int i = 0; i < n; i++)
                xb[i] = rb[i] = rnd(-4, 4);
            ref->softmax_f32(n, rb, 1, rb, 1);
            t->softmax_f32(n, xb, 1, xb, 1);
            assert_close_rows("softmax in place", set, n, xb, rb, 1, 2, 0);
            for (int i = 0; i < n; i++)
                xb[i] = rb[i] = rnd(-4, 4);
            ref->log_softmax_f32(n, rb, 1, rb, 1);
            t->log_softmax_f32(n, xb, 1, xb, 1);
            assert_close_rows("log_softmax in place", set, n, xb, rb, 1, 1, 0x1.0p-22);
        }
        /* special rows: NaN, +inf and all -inf give NaN everywhere like the reference */
        float sp[3][5] = {{1, 2, NAN, 3, 4},
                          {1, INFINITY, 2, 3, 4},
                          {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
        for (int r = 0; r < 3; r++) {
            float y[5], w[5];
            t->softmax_f32(5, sp[r], 1, y, 1);
            ref->softmax_f32(5, sp[r], 1, w, 1);
            assert_close_rows("softmax special", set, 5, y, w, 1, 0, 0);
            t->log_softmax_f32(5, sp[r], 1, y, 1);
            ref->log_softmax_f32(5, sp[r], 1, w, 1);
            assert_close_rows("log_softmax special", set, 5, y, w, 1, 0, 0);
        }
        t->softmax_f32(0, NULL, 1, NULL, 1);
        t->log_softmax_f32(0, NULL, 1, NULL, 1);
    }
}

Test(kernels_red, rmsnorm_and_layernorm_match_reference)
{
    require_simd_sets(__func__);
    enum { CAP = 1023 * 3 + 8 };
    static float xb[CAP], wb[CAP], bb[CAP], yb[CAP], rb[CAP];
    const bnk_table *ref = bnk_ref_table();
    /* sx, sy, sw */
    const int64_t strides[][3] = {{1, 1, 1}, {3, 2, 2}, {1, 1, 3}, {2, 1, 1}};
    rng_state = 13;
    for (int k = 0; k < NSETS; k++) {
        const bnk_table *t = set_table(k);
        if (!t)
            continue;
        const char *set = bnk_isa_name(simd_sets[k]);
        for (int s = 0; s < NSIZES; s++) {
            for (int st = 0; st < 4; st++) {
                for (int v = 0; v < 3; v++) { /* no weight, weight, weight + bias */
                    int64_t n = sizes[s], sx = strides[st][0], sy = strides[st][1],
                            sw = strides[st][2];
                    for (int i = 0; i < CAP; i++) {
                        /* an offset mean, so layernorm's x - mean matters */
                        xb[i] = rnd(-2, 2) + 100.0f;
                        wb[i] = rnd(-2, 2);
                        bb[i] = rnd(-1, 1);
                    }
                    const float *x = xb + 1, *w = v ? wb + 1 : NULL, *b = v == 2 ? bb + 3 : NULL;
                    float eps = 1e-5f;
                    t->rmsnorm_f32(n, x, sx, w, sw, eps, yb + 1, sy);
                    ref->rmsnorm_f32(n, x, sx, w, sw, eps, rb + 1, sy);
                    assert_close_rows("rmsnorm", set, n, yb + 1, rb + 1, sy, 1,
                                      0x1.0p-40 * max_abs(n, rb + 1, sy));
                    t->layernorm_f32(n, x, sx, w, sw, b, sw, eps, yb + 1, sy);
                    ref->layernorm_f32(n, x, sx, w, sw, b, sw, eps, rb + 1, sy);
                    assert_close_rows("layernorm", set, n, yb + 1, rb + 1, sy, 1,
                                      0x1.0p-40 * max_abs(n, rb + 1, sy));
                }
            }
            /* in place */
            int64_t n = sizes[s];
            for (int i = 0; i < n; i++) {
                xb[i] = rb[i] = rnd(-3, 3);
                wb[i] = rnd(0, 2);
            }
            ref->rmsnorm_f32(n, rb, 1, wb, 1, 1e-6f, rb, 1);
            t->rmsnorm_f32(n, xb, 1, wb, 1, 1e-6f, xb, 1);
            assert_close_rows("rmsnorm in place", set, n, xb, rb, 1, 1, 0);
        }
        /* a zero row: rmsnorm gives 0 (r = 1/sqrt(eps)), layernorm gives b */
        float z[9] = {0}, y[9], b9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        t->rmsnorm_f32(9, z, 1, NULL, 0, 1e-5f, y, 1);
        for (int i = 0; i < 9; i++)
            cr_assert_eq(y[i], 0.0f);
        t->layernorm_f32(9, z, 1, NULL, 0, b9, 1, 1e-5f, y, 1);
        for (int i = 0; i < 9; i++)
            cr_assert_eq(y[i], b9[i]);
        float nan9[9] = {1, 2, 3, NAN, 5, 6, 7, 8, 9};
        t->rmsnorm_f32(9, nan9, 1, NULL, 0, 1e-5f, y, 1);
        for (int i = 0; i < 9; i++)
            cr_assert(isnan(y[i]));
        t->rmsnorm_f32(0, NULL, 1, NULL, 0, 1e-5f, NULL, 1);
        t->layernorm_f32(0, NULL, 1, NULL, 0, NULL, 0, 1e-5f, NULL, 1);
    }
}

/* The sets this file tests are the ones the registry reports. */
Test(kernels_red, tested_sets_are_the_supported_ones)
{
    int tested = 0;
    for (int k = 0; k < NSETS; k++) {
        cr_assert_eq(set_table(k) != NULL, bnk_isa_supported(simd_sets[k]));
        tested += set_table(k) != NULL;
    }
    const char *sup = bn_kernels_supported();
    cr_assert_eq(tested, (strstr(sup, "avx2") != NULL) + (strstr(sup, "avx512") != NULL), "%s",
                 sup);
}

/* ---- the ops' row parallelism ----------------------------------------- */

typedef enum par_kind {
    PAR_GELU,
    PAR_EXP_T,
    PAR_SOFTMAX_LAST,
    PAR_SOFTMAX_FIRST,
    PAR_LOGSOFTMAX,
    PAR_RMSNORM,
    PAR_LAYERNORM,
    PAR_SUM_LAST,
    PAR_SUM_FIRST,
    PAR_MAX_LAST,
    PAR_KINDS
} par_kind;

/* One op on x (weight w) as the engine runs it with the current pool. */
static bn_tensor *par_run(par_kind k, const bn_tensor *x, const bn_tensor *w)
{
    bn_tensor *y = NULL, *v = NULL;
    int last = 1, first = 0;
    bn_status st = BN_OK;
    switch (k) {
    case PAR_GELU:
        st = bn_unary(BN_OP_GELU, x, &y);
        break;
    case PAR_EXP_T: /* a transposed (strided) view */
        cr_assert_eq(bn_transpose(x, 0, 1, &v), BN_OK);
        st = bn_unary(BN_OP_EXP, v, &y);
        break;
    case PAR_SOFTMAX_LAST:
        st = bn_softmax(x, -1, &y);
        break;
    case PAR_SOFTMAX_FIRST:
        st = bn_softmax(x, 0, &y);
        break;
    case PAR_LOGSOFTMAX:
        st = bn_log_softmax(x, -1, &y);
        break;
    case PAR_RMSNORM:
        st = bn_rmsnorm(x, w, 1e-5f, &y);
        break;
    case PAR_LAYERNORM:
        st = bn_layernorm(x, w, w, 1e-5f, &y);
        break;
    case PAR_SUM_LAST:
        st = bn_reduce(BN_OP_SUM, x, 1, &last, false, &y);
        break;
    case PAR_SUM_FIRST:
        st = bn_reduce(BN_OP_SUM, x, 1, &first, false, &y);
        break;
    case PAR_MAX_LAST:
        st = bn_reduce(BN_OP_MAX, x, 1, &last, true, &y);
        break;
    default:
        break;
    }
    cr_assert_eq(st, BN_OK, "%s", bn_last_error());
    bn_tensor_free(v);
    return y;
}

/* Work above the parallel threshold gives bit-identical results with 1, 2
 * and 3 threads, for f32 and f16 (per-thread scratch rows), under the active
 * kernel set. */
Test(kernels_red, ops_parallel_equal_serial)
{
    const bn_dtype dts[] = {BN_F32, BN_F16};
    int64_t shape[2] = {67, 1001}, wn = 1001;
    for (int d = 0; d < 2; d++) {
        bn_tensor *x = NULL, *w = NULL;
        cr_assert_eq(bn_tensor_rand(dts[d], 2, shape, 5, BN_RAND_NORMAL, 0, 3, &x), BN_OK);
        cr_assert_eq(bn_tensor_rand(dts[d], 1, &wn, 6, BN_RAND_UNIFORM, -1, 1, &w), BN_OK);
        for (int k = 0; k < PAR_KINDS; k++) {
            cr_assert_eq(bn_threads_set(1), BN_OK);
            bn_tensor *y1 = par_run((par_kind)k, x, w);
            for (int t = 2; t <= 3; t++) {
                cr_assert_eq(bn_threads_set(t), BN_OK);
                bn_tensor *yt = par_run((par_kind)k, x, w);
                int64_t n = bn_tensor_numel(y1);
                cr_assert_eq(bn_tensor_numel(yt), n);
                for (int64_t i = 0; i < n; i++) {
                    double a = bn_tensor_get_flat(y1, i), b = bn_tensor_get_flat(yt, i);
                    cr_assert(a == b || (isnan(a) && isnan(b)),
                              "kind %d %s, %d threads: [%lld] %.9g vs %.9g serially", k,
                              bn_dtype_name(dts[d]), t, (long long)i, b, a);
                }
                bn_tensor_free(yt);
            }
            bn_tensor_free(y1);
        }
        bn_tensor_free(x);
        bn_tensor_free(w);
    }
    cr_assert_eq(bn_threads_set(2), BN_OK);
}
