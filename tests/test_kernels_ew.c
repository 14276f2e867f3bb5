/*
 * test_kernels_ew.c - the element-wise SIMD kernels and the kernel registry.
 *
 * Every element-wise kernel of every set this CPU supports is run against
 * the reference table in the same process (bnk_table_get), at sizes 1, 7,
 * 15, 17, 63, 65, 1000 and 1023, on unaligned pointers, strided rows,
 * broadcast (stride 0) inputs and in place. The expected result is EXACT:
 * add, sub, mul, div, maximum, minimum and fma are correctly rounded IEEE
 * operations, so the SIMD lanes must give the reference's bits, including
 * the NaN that a single NaN input propagates. (Where two or more inputs are
 * NaN, IEEE 754 leaves open whose payload the result carries, and compilers
 * commute the operands of a + b freely, so there the result must be a NaN
 * and nothing more.) the f16/bf16 conversions must match the scalar ones bit for bit
 * on every f16/bf16 value and on f32 values chosen around every rounding
 * boundary (plus NaN, Inf, subnormals). Elements a kernel must not write
 * (past n, between strided elements) are checked untouched.
 *
 * The registry: names, support, complete tables, bn_kernels_select, and
 * BN_KERNELS validation in a forked child (selection happens once per
 * process, at first use). The engine: large broadcast/strided binary ops
 * (split over the thread pool) give the same bits with every set.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "kernel_sets.h"
#include "ops_test.h"

static const int64_t sizes[] = {1, 7, 15, 17, 63, 65, 1000, 1023};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))
enum { MAXN = 1023, PAD = 16 };

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float bits_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Test values: mostly ordinary numbers, with NaNs of different payloads and
 * signs, infinities, signed zeros, subnormals and huge values mixed in. */
static float rand_value(void)
{
    static const uint32_t special[] = {
        0x7fc00000u, 0xffc00001u, 0x7fa00123u, /* quiet NaNs, a signalling NaN */
        0x7f800000u, 0xff800000u,              /* +-Inf */
        0x00000000u, 0x80000000u,              /* +-0 */
        0x00000001u, 0x807fffffu, 0x00400000u, /* subnormals */
        0x7f7fffffu, 0xff7fffffu,              /* +-FLT_MAX */
    };
    uint32_t r = rnd();
    if (r % 16 == 0)
        return bits_f(special[(r >> 8) % (sizeof special / sizeof special[0])]);
    return ((float)(int32_t)(rnd() % 20001u) - 10000.0f) / (float)(1 + rnd() % 97u);
}

static void fill(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rand_value();
}

/* y memory starts as this sentinel; untouched elements keep it. */
#define SENTINEL 0x7f8dead1u

static void fill_sentinel(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = bits_f(SENTINEL);
}

/* got[i] and want[i] have the same bits, or (when nan_free is non-NULL and
 * nan_free[i] is false: several NaN inputs) are both NaN. */
static void assert_same_bits_nan(const float *got, const float *want, const bool *nan_free,
                                 int64_t n, const char *what, const char *set, int64_t size)
{
    for (int64_t i = 0; i < n; i++) {
        if (nan_free && !nan_free[i] && isnan(got[i]) && isnan(want[i]))
            continue;
        cr_assert_eq(f_bits(got[i]), f_bits(want[i]),
                     "%s [%s] n=%lld: element %lld is %a (0x%08x), reference %a (0x%08x)", what,
                     set, (long long)size, (long long)i, (double)got[i], f_bits(got[i]),
                     (double)want[i], f_bits(want[i]));
    }
}

static void assert_same_bits(const float *got, const float *want, int64_t n, const char *what,
                             const char *set, int64_t size)
{
    assert_same_bits_nan(got, want, NULL, n, what, set, size);
}

/* For output slot buffers: one flag per slot, false where the element
 * written there had two or more NaN inputs. */
static bool *single_nan_flags(int64_t ny, int64_t off, int64_t sy, int64_t n,
                              const float *const *in, const int64_t *sin, int nin)
{
    bool *f = malloc((size_t)ny * sizeof(bool));
    cr_assert_not_null(f);
    for (int64_t i = 0; i < ny; i++)
        f[i] = true;
    for (int64_t i = 0; i < n; i++) {
        int nans = 0;
        for (int k = 0; k < nin; k++)
            nans += isnan(in[k][i * sin[k]]);
        f[off + i * sy] = nans < 2;
    }
    return f;
}

static const bn_op binary_ops[] = {BN_OP_ADD, BN_OP_SUB,     BN_OP_MUL,
                                   BN_OP_DIV, BN_OP_MAXIMUM, BN_OP_MINIMUM};

/* Strides of one case: (sa, sb, sy), pointer offsets (elements) and whether
 * the output is the first input (in place). */
typedef struct layout {
    const char *name;
    int64_t sa, sb, sy;
    int off;
    bool in_place;
} layout;

static const layout layouts[] = {
    {"contiguous", 1, 1, 1, 0, false},  {"unaligned", 1, 1, 1, 1, false},
    {"a broadcast", 0, 1, 1, 1, false}, {"b broadcast", 1, 0, 1, 0, false},
    {"strided", 2, 3, 2, 1, false},     {"strided out only", 1, 1, 3, 0, false},
    {"in place", 1, 1, 1, 1, true},     {"in place, b broadcast", 1, 0, 1, 0, true},
};
#define NLAYOUTS ((int)(sizeof layouts / sizeof layouts[0]))

/* Size of a buffer holding n elements at stride s, plus padding. */
static int64_t span(int64_t n, int64_t s)
{
    return (n > 0 ? (n - 1) * (s ? s : 1) + 1 : 0) + PAD;
}

static float *alloc_f(int64_t n)
{
    float *p = malloc((size_t)n * sizeof(float));
    cr_assert_not_null(p);
    return p;
}

/* Runs one binary kernel of set t and of the reference on the same inputs
 * and compares every element of the output buffers (including the ones that
 * must stay untouched). */
static void check_binary(const bnk_table *t, bn_op op, const layout *L, int64_t n)
{
    const bnk_table *r = bnk_ref_table();
    int64_t na = span(n, L->sa) + L->off, nb = span(n, L->sb) + L->off,
            ny = span(n, L->sy) + L->off;
    if (L->in_place)
        ny = na;
    float *a0 = alloc_f(na), *b0 = alloc_f(nb), *y1 = alloc_f(ny), *y2 = alloc_f(ny);
    fill(a0, na);
    fill(b0, nb);
    const float *a = a0 + L->off, *b = b0 + L->off;
    if (L->in_place) {
        memcpy(y1, a0, (size_t)na * sizeof(float));
        memcpy(y2, a0, (size_t)na * sizeof(float));
        r->binary_f32[op](n, y1 + L->off, L->sa, b, L->sb, y1 + L->off, L->sa);
        t->binary_f32[op](n, y2 + L->off, L->sa, b, L->sb, y2 + L->off, L->sa);
    } else {
        fill_sentinel(y1, ny);
        fill_sentinel(y2, ny);
        r->binary_f32[op](n, a, L->sa, b, L->sb, y1 + L->off, L->sy);
        t->binary_f32[op](n, a, L->sa, b, L->sb, y2 + L->off, L->sy);
        /* the reference writes exactly the n strided elements */
        for (int64_t i = 0; i < ny; i++) {
            int64_t j = i - L->off;
            bool written = j >= 0 && j % L->sy == 0 && j / L->sy < n;
            if (!written)
                cr_assert_eq(f_bits(y2[i]), SENTINEL, "%s [%s] %s n=%lld wrote element %lld",
                             bn_op_name(op), t->name, L->name, (long long)n, (long long)i);
        }
    }
    char what[96];
    snprintf(what, sizeof what, "%s, %s", bn_op_name(op), L->name);
    const float *in[2] = {a, b};
    int64_t sin[2] = {L->sa, L->sb};
    bool *flags = single_nan_flags(ny, L->off, L->in_place ? L->sa : L->sy, n, in, sin, 2);
    assert_same_bits_nan(y2, y1, flags, ny, what, t->name, n);
    free(flags);
    free(a0);
    free(b0);
    free(y1);
    free(y2);
}

static void binary_checks(void)
{
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int s = 0; s < ns; s++)
        for (int o = 0; o < (int)(sizeof binary_ops / sizeof binary_ops[0]); o++)
            for (int l = 0; l < NLAYOUTS; l++)
                for (int z = 0; z < NSIZES; z++)
                    check_binary(sets[s], binary_ops[o], &layouts[l], sizes[z]);
    /* n == 0 touches nothing */
    float a = 1, b = 2, y = bits_f(SENTINEL);
    for (int s = 0; s < ns; s++) {
        sets[s]->binary_f32[BN_OP_ADD](0, &a, 1, &b, 1, &y, 1);
        cr_assert_eq(f_bits(y), SENTINEL);
    }
}

/* What bn_kernels_how() says of the automatic choice: "auto", plus the
 * BN_CPU_HIDE in force (CI runs these tests as a CPU without AVX2). */
static const char *auto_how(void)
{
    static char buf[96];
    const char *h = getenv("BN_CPU_HIDE");
    if (h && *h)
        snprintf(buf, sizeof buf, "auto (BN_CPU_HIDE=%s)", h);
    else
        snprintf(buf, sizeof buf, "auto");
    return buf;
}

Test(kernels_ew, binary_f32_every_set_equals_the_reference_bit_for_bit)
{
    binary_checks();
}

/* With the streaming threshold at 1 byte every contiguous output takes the
 * non-temporal path (a scalar head up to the 64-byte boundary, streamed
 * lines, the normal tail): same checks, same bits. */
Test(kernels_ew, binary_f32_streaming_stores_equal_the_reference_bit_for_bit)
{
    bnk_set_stream_min_bytes(1);
    cr_assert(bnk_streams(1, (const float *)(uintptr_t)64));
    binary_checks();
    bnk_set_stream_min_bytes(0);
    cr_assert_gt(bnk_stream_min_bytes(), 1);
}

Test(kernels_ew, nan_operands_give_the_reference_nan)
{
    /* both NaN with different payloads, one NaN, NaN against Inf: the
     * result must be the reference's NaN, not just any NaN */
    const uint32_t pa[] = {0x7fc00001u, 0xffc00002u, 0x7fc00003u, 0x3f800000u, 0x7f800000u};
    const uint32_t pb[] = {0x7fc00004u, 0x7fc00005u, 0x3f800000u, 0xffc00006u, 0x7fc00007u};
    float a[40], b[40], y1[40], y2[40];
    for (int i = 0; i < 40; i++) {
        a[i] = bits_f(pa[i % 5]);
        b[i] = bits_f(pb[(i / 5) % 5]);
    }
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    for (int s = 0; s < ns; s++)
        for (int o = 0; o < (int)(sizeof binary_ops / sizeof binary_ops[0]); o++) {
            bn_op op = binary_ops[o];
            bnk_ref_table()->binary_f32[op](40, a, 1, b, 1, y1, 1);
            sets[s]->binary_f32[op](40, a, 1, b, 1, y2, 1);
            const float *in[2] = {a, b};
            int64_t sin[2] = {1, 1};
            bool *flags = single_nan_flags(40, 0, 1, 40, in, sin, 2);
            assert_same_bits_nan(y2, y1, flags, 40, bn_op_name(op), sets[s]->name, 40);
            for (int i = 0; i < 40; i++) /* a NaN wherever an input is NaN */
                cr_assert(!(isnan(a[i]) || isnan(b[i])) || isnan(y2[i]));
            free(flags);
        }
}

Test(kernels_ew, maximum_minimum_of_signed_zeros_follow_the_reference)
{
    float a[16], b[16], y1[16], y2[16];
    for (int i = 0; i < 16; i++) {
        a[i] = i % 2 ? -0.0f : 0.0f;
        b[i] = i % 4 < 2 ? 0.0f : -0.0f;
    }
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    for (int s = 0; s < ns; s++)
        for (int o = 4; o < 6; o++) {
            bn_op op = binary_ops[o];
            bnk_ref_table()->binary_f32[op](16, a, 1, b, 1, y1, 1);
            sets[s]->binary_f32[op](16, a, 1, b, 1, y2, 1);
            assert_same_bits(y2, y1, 16, bn_op_name(op), sets[s]->name, 16);
        }
}

static void fma_checks(void)
{
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    rng_state = 12345;
    /* (sa, sb, sc, sy, offset) */
    const int64_t cases[][5] = {{1, 1, 1, 1, 0}, {1, 1, 1, 1, 1}, {0, 1, 1, 1, 1},
                                {1, 0, 0, 1, 0}, {2, 1, 3, 2, 1}, {1, 1, 1, 2, 0}};
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < 6; c++)
            for (int z = 0; z < NSIZES; z++) {
                int64_t n = sizes[z], off = cases[c][4];
                int64_t na = span(n, cases[c][0]) + off, nb = span(n, cases[c][1]) + off,
                        nc = span(n, cases[c][2]) + off, ny = span(n, cases[c][3]) + off;
                float *a = alloc_f(na), *b = alloc_f(nb), *cc = alloc_f(nc);
                float *y1 = alloc_f(ny), *y2 = alloc_f(ny);
                fill(a, na);
                fill(b, nb);
                fill(cc, nc);
                fill_sentinel(y1, ny);
                fill_sentinel(y2, ny);
                bnk_ref_table()->fma_f32(n, a + off, cases[c][0], b + off, cases[c][1], cc + off,
                                         cases[c][2], y1 + off, cases[c][3]);
                sets[s]->fma_f32(n, a + off, cases[c][0], b + off, cases[c][1], cc + off,
                                 cases[c][2], y2 + off, cases[c][3]);
                const float *in[3] = {a + off, b + off, cc + off};
                int64_t sin[3] = {cases[c][0], cases[c][1], cases[c][2]};
                bool *flags = single_nan_flags(ny, off, cases[c][3], n, in, sin, 3);
                assert_same_bits_nan(y2, y1, flags, ny, "fma", sets[s]->name, n);
                free(flags);
                /* the reference itself: one rounding of the exact a*b+c */
                for (int64_t i = 0; i < n; i++) {
                    float x0 = a[off + i * cases[c][0]], x1 = b[off + i * cases[c][1]],
                          x2 = cc[off + i * cases[c][2]];
                    float w = fmaf(x0, x1, x2), g = y1[off + i * cases[c][3]];
                    cr_assert(f_bits(g) == f_bits(w) || (isnan(g) && isnan(w)));
                }
                free(a);
                free(b);
                free(cc);
                free(y1);
                free(y2);
            }
}

Test(kernels_ew, fma_every_set_equals_fmaf)
{
    fma_checks();
}

Test(kernels_ew, fma_streaming_stores_equal_fmaf)
{
    bnk_set_stream_min_bytes(1);
    fma_checks();
    bnk_set_stream_min_bytes(0);
}

/* ---- conversions -------------------------------------------------------- */

Test(kernels_ew, widening_f16_and_bf16_every_value_bit_exact)
{
    /* all 65536 encodings, contiguous, unaligned and with stride 3 */
    enum { N = 65536 };
    uint16_t *h = malloc((N * 3 + 4) * sizeof(uint16_t));
    float *y1 = alloc_f(N + PAD), *y2 = alloc_f(N + PAD);
    cr_assert_not_null(h);
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    for (int s = 0; s < ns; s++)
        for (int which = 0; which < 2; which++)
            for (int64_t sx = 1; sx <= 3; sx += 2)
                for (int off = 0; off < 2; off++) {
                    for (int64_t i = 0; i < N; i++)
                        h[off + i * sx] = (uint16_t)i;
                    bnk_to_f32_fn fr =
                        which ? bnk_ref_table()->bf16_to_f32 : bnk_ref_table()->f16_to_f32;
                    bnk_to_f32_fn ft = which ? sets[s]->bf16_to_f32 : sets[s]->f16_to_f32;
                    fill_sentinel(y1, N + PAD);
                    fill_sentinel(y2, N + PAD);
                    fr(N, h + off, sx, y1 + off);
                    ft(N, h + off, sx, y2 + off);
                    assert_same_bits(y2, y1, N + PAD, which ? "bf16->f32" : "f16->f32",
                                     sets[s]->name, N);
                    for (int z = 0; z < NSIZES; z++) { /* tails */
                        fill_sentinel(y2, N + PAD);
                        ft(sizes[z], h + off, sx, y2 + off);
                        assert_same_bits(y2 + off, y1 + off, sizes[z],
                                         which ? "bf16->f32 tail" : "f16->f32 tail", sets[s]->name,
                                         sizes[z]);
                        cr_assert_eq(f_bits(y2[off + sizes[z]]), SENTINEL, "wrote past n");
                    }
                }
    /* the reference agrees with the scalar dtype conversions */
    bnk_ref_table()->f16_to_f32(N, h, 1, y1);
    (void)y1;
    free(h);
    free(y1);
    free(y2);
}

/* f32 inputs for narrowing: every boundary pattern around the f16 and bf16
 * rounding points at many exponents, specials, and random bits. */
static int64_t narrowing_inputs(float *x, int64_t cap)
{
    int64_t n = 0;
    static const uint32_t special[] = {
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff812345u, 0x7fffffffu, 0x7f800000u, 0xff800000u,
        0,           0x80000000u, 1,           0x807fffffu, 0x7f7fffffu, 0x477fe000u, 0x477fefffu,
        0x477ff000u, 0x47800000u, 0x33000000u, 0x33000001u, 0x32ffffffu, 0x387fc000u};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[n++] = bits_f(special[i]);
    for (uint32_t e = 0; e < 256 && n + 64 < cap; e += 3)
        for (uint32_t low = 0; low < 16; low++) {
            uint32_t base = (e << 23) | (rnd() & 0x7fe000u);
            /* around the f16 halfway point (bit 12) and the bf16 one (bit 15) */
            x[n++] = bits_f(base | 0x1000u | (low & 1 ? 0x2000u : 0) | (low >> 1));
            x[n++] = bits_f(0x80000000u | base | 0x8000u | (low & 1 ? 0x10000u : 0) | (low >> 1));
            x[n++] = bits_f(base | 0x0fffu);
            x[n++] = bits_f(base | 0x7fffu);
        }
    while (n < cap)
        x[n++] = bits_f(rnd() ^ (rnd() << 16));
    return n;
}

Test(kernels_ew, narrowing_to_f16_and_bf16_bit_exact)
{
    enum { N = 200000 };
    float *x = alloc_f(N + 1);
    uint16_t *y1 = malloc((N * 2 + PAD) * sizeof(uint16_t)),
             *y2 = malloc((N * 2 + PAD) * sizeof(uint16_t));
    cr_assert(y1 && y2);
    rng_state = 777;
    int64_t n = narrowing_inputs(x + 1, N);
    const bnk_table *sets[BNK_ISA_COUNT];
    int ns = simd_tables(sets, __func__);
    for (int s = 0; s < ns; s++)
        for (int which = 0; which < 2; which++)
            for (int64_t sy = 1; sy <= 2; sy++)
                for (int off = 0; off < 2; off++) {
                    bnk_from_f32_fn fr =
                        which ? bnk_ref_table()->f32_to_bf16 : bnk_ref_table()->f32_to_f16;
                    bnk_from_f32_fn ft = which ? sets[s]->f32_to_bf16 : sets[s]->f32_to_f16;
                    int64_t tot = n * sy + PAD;
                    memset(y1, 0xa5, (size_t)tot * 2);
                    memset(y2, 0xa5, (size_t)tot * 2);
                    fr(n, x + off, y1, sy);
                    ft(n, x + off, y2, sy);
                    for (int64_t i = 0; i < tot; i++)
                        cr_assert_eq(y2[i], y1[i],
                                     "%s [%s] sy=%lld: slot %lld is 0x%04x, reference 0x%04x "
                                     "(input 0x%08x)",
                                     which ? "f32->bf16" : "f32->f16", sets[s]->name, (long long)sy,
                                     (long long)i, y2[i], y1[i],
                                     i % sy == 0 ? f_bits(x[off + i / sy]) : 0u);
                    for (int z = 0; z < NSIZES; z++) { /* tails */
                        memset(y2, 0xa5, (size_t)tot * 2);
                        ft(sizes[z], x + off, y2, sy);
                        for (int64_t i = 0; i < sizes[z] * sy; i++)
                            cr_assert_eq(y2[i], i % sy ? 0xa5a5 : y1[i]);
                        cr_assert_eq(y2[sizes[z] * sy], 0xa5a5, "wrote past n");
                    }
                }
    /* and the reference is the dtype layer's conversion */
    for (int64_t i = 0; i < n; i += 97) {
        uint16_t h;
        bnk_ref_f32_to_f16(1, &x[i], &h, 1);
        cr_assert_eq(h, bn_f32_to_f16(x[i]));
    }
    free(x);
    free(y1);
    free(y2);
}

/* ---- registry ----------------------------------------------------------- */

Test(kernels_ew, registry_names_support_and_complete_tables)
{
    cr_assert_str_eq(bnk_isa_name(BNK_ISA_REF), "ref");
    cr_assert_str_eq(bnk_isa_name(BNK_ISA_AVX2), "avx2");
    cr_assert_str_eq(bnk_isa_name(BNK_ISA_AVX512), "avx512");
    cr_assert(bnk_isa_supported(BNK_ISA_REF));
    cr_assert(!bnk_isa_supported(BNK_ISA_COUNT));
    cr_assert_null(bnk_table_get(BNK_ISA_COUNT));
    cr_assert_eq(bnk_table_get(BNK_ISA_REF)->binary_f32[BN_OP_ADD], bnk_ref_add_f32);
    bnk_isa isa;
    cr_assert_eq(bnk_isa_from_name("avx2", &isa), BN_OK);
    cr_assert_eq(isa, BNK_ISA_AVX2);
    tt_assert_err(bnk_isa_from_name("sse9", &isa), BN_ERR_ARG,
                  "unknown kernel set \"sse9\" (valid: ref, avx2, avx512)");
    /* avx512 implies avx2 (the avx512 objects also use AVX2/FMA/F16C) */
    if (bnk_isa_supported(BNK_ISA_AVX512))
        cr_assert(bnk_isa_supported(BNK_ISA_AVX2));
    /* supported string lists exactly the supported sets, in order */
    char want[64] = "";
    for (int i = 0; i < BNK_ISA_COUNT; i++)
        if (bnk_isa_supported((bnk_isa)i)) {
            if (*want)
                strcat(want, " ");
            strcat(want, bnk_isa_name((bnk_isa)i));
        }
    cr_assert_str_eq(bn_kernels_supported(), want);
    const bnk_table *r = bnk_ref_table();
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        const bnk_table *t = bnk_table_get((bnk_isa)i);
        cr_assert_eq(t != NULL, bnk_isa_supported((bnk_isa)i));
        if (!t)
            continue;
        cr_assert_str_eq(t->name, bnk_isa_name((bnk_isa)i));
        for (int op = 0; op < BN_OP_COUNT; op++) {
            cr_assert_eq(t->binary_f32[op] != NULL, r->binary_f32[op] != NULL);
            cr_assert_eq(t->binary_i32[op] != NULL, r->binary_i32[op] != NULL);
            cr_assert_eq(t->binary_i8[op] != NULL, r->binary_i8[op] != NULL);
            cr_assert_eq(t->unary_f32[op] != NULL, r->unary_f32[op] != NULL);
            cr_assert_eq(t->unary_i32[op] != NULL, r->unary_i32[op] != NULL);
            cr_assert_eq(t->unary_i8[op] != NULL, r->unary_i8[op] != NULL);
        }
        cr_assert(t->clamp_f32 && t->sum_f32 && t->softmax_f32 && t->layernorm_f32 && t->gemm_f32 &&
                  t->fma_f32 && t->f16_to_f32 && t->f32_to_f16 && t->bf16_to_f32 && t->f32_to_bf16);
    }
}

Test(kernels_ew, select_switches_sets_and_rejects_bad_names)
{
    /* an unknown name changes nothing */
    const char *before = bn_kernels_selected();
    tt_assert_err(bn_kernels_select("avx1024"), BN_ERR_ARG, "unknown kernel set \"avx1024\"");
    cr_assert_str_eq(bn_kernels_selected(), before);
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        const char *name = bnk_isa_name((bnk_isa)i);
        if (!bnk_isa_supported((bnk_isa)i)) {
            tt_assert_err(bn_kernels_select(name), BN_ERR_UNSUPPORTED, "does not support");
            continue;
        }
        cr_assert_eq(bn_kernels_select(name), BN_OK, "%s", bn_last_error());
        cr_assert_str_eq(bn_kernels_selected(), name);
        cr_assert_eq(bnk_active(), bnk_table_get((bnk_isa)i));
        cr_assert(bn_kernels_forced());
        cr_assert_str_eq(bn_kernels_how(), "forced (bn_kernels_select)");
    }
    cr_assert_eq(bn_kernels_select(NULL), BN_OK);
    cr_assert(!bn_kernels_forced());
    cr_assert_str_eq(bn_kernels_how(), auto_how());
    /* auto is the last supported set */
    int best = 0;
    for (int i = 0; i < BNK_ISA_COUNT; i++)
        if (bnk_isa_supported((bnk_isa)i))
            best = i;
    cr_assert_str_eq(bn_kernels_selected(), bnk_isa_name((bnk_isa)best));
}

/* Forks a child that sets BN_KERNELS (and BN_VERBOSE), runs the selection
 * from the environment again (bnk__select_from_env), then reports bn_kernels_init()'s status, the
 * selected set, how, and its stderr through pipes. */
typedef struct child_result {
    int status;
    char selected[16], how[64], err[512], msg[512];
} child_result;

static void run_child(const char *env, const char *verbose, child_result *res)
{
    int out[2], err[2];
    cr_assert_eq(pipe(out), 0);
    cr_assert_eq(pipe(err), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        setenv("BN_KERNELS", env, 1);
        if (verbose)
            setenv("BN_VERBOSE", verbose, 1);
        else
            unsetenv("BN_VERBOSE");
        bnk__select_from_env(); /* as at first use, now with this environment */
        (void)bnk_active();     /* first use: logs an error nobody asked about */
        (void)bnk_active();     /* once */
        bn_status st = bn_kernels_init();
        char buf[1200];
        int len = snprintf(buf, sizeof buf, "%d\n%s\n%s\n%s\n", (int)st, bn_kernels_selected(),
                           bn_kernels_how(), st ? bn_last_error() : "");
        if (write(out[1], buf, (size_t)len) != len)
            _exit(3);
        _exit(0);
    }
    close(out[1]);
    close(err[1]);
    char buf[1200] = "";
    ssize_t got = 0, r;
    while ((r = read(out[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += r;
    buf[got] = 0;
    memset(res->err, 0, sizeof res->err);
    got = 0;
    while ((r = read(err[0], res->err + got, sizeof res->err - 1 - (size_t)got)) > 0)
        got += r;
    close(out[0]);
    close(err[0]);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child failed");
    char *save, *line = strtok_r(buf, "\n", &save);
    cr_assert_not_null(line);
    res->status = atoi(line);
    line = strtok_r(NULL, "\n", &save);
    snprintf(res->selected, sizeof res->selected, "%s", line ? line : "");
    line = strtok_r(NULL, "\n", &save);
    snprintf(res->how, sizeof res->how, "%s", line ? line : "");
    line = strtok_r(NULL, "\n", &save);
    snprintf(res->msg, sizeof res->msg, "%s", line ? line : "");
}

Test(kernels_ew, bn_kernels_env_forces_each_supported_set)
{
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        if (!bnk_isa_supported((bnk_isa)i))
            continue;
        const char *name = bnk_isa_name((bnk_isa)i);
        child_result res;
        run_child(name, NULL, &res);
        cr_assert_eq(res.status, BN_OK, "BN_KERNELS=%s: %s", name, res.msg);
        cr_assert_str_eq(res.selected, name);
        char how[64];
        snprintf(how, sizeof how, "forced (BN_KERNELS=%s)", name);
        cr_assert_str_eq(res.how, how);
        cr_assert_str_eq(res.err, "", "nothing on stderr without BN_VERBOSE: %s", res.err);
    }
    /* BN_VERBOSE logs the choice once */
    child_result res;
    run_child("ref", "1", &res);
    cr_assert_str_eq(res.selected, "ref");
    char want[160];
    snprintf(want, sizeof want, "bitnet: kernels ref (forced (BN_KERNELS=ref); supported: %s)\n",
             bn_kernels_supported());
    cr_assert_str_eq(res.err, want);
}

Test(kernels_ew, bn_kernels_env_unknown_or_unsupported_is_an_error)
{
    int best = 0;
    for (int i = 0; i < BNK_ISA_COUNT; i++)
        if (bnk_isa_supported((bnk_isa)i))
            best = i;
    child_result res;
    run_child("avx3", NULL, &res);
    cr_assert_eq(res.status, BN_ERR_ARG);
    cr_assert_str_eq(res.msg, "BN_KERNELS=avx3: unknown kernel set (valid: ref, avx2, avx512)");
    cr_assert_str_eq(res.selected, bnk_isa_name((bnk_isa)best), "falls back to the automatic set");
    cr_assert_str_eq(res.how, auto_how());
    char want[256];
    snprintf(want, sizeof want,
             "bitnet: BN_KERNELS=avx3: unknown kernel set (valid: ref, avx2, avx512); using %s\n",
             bnk_isa_name((bnk_isa)best));
    cr_assert_str_eq(res.err, want, "one line on stderr");
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        if (bnk_isa_supported((bnk_isa)i))
            continue;
        run_child(bnk_isa_name((bnk_isa)i), NULL, &res);
        cr_assert_eq(res.status, BN_ERR_UNSUPPORTED);
        cr_assert(strstr(res.msg, "this CPU does not support"), "%s", res.msg);
    }
    run_child("", NULL, &res); /* empty means unset */
    cr_assert_eq(res.status, BN_OK);
    cr_assert_str_eq(res.how, auto_how());
}

/* ---- through the engine ------------------------------------------------- */

/* y = a op b for a [R, C] transposed view of a [C, R] buffer and b a [C] row
 * broadcast over rows, large enough to be split over the thread pool; the
 * result must be the same bits with every set, and equal the scalar
 * expression computed here. */
Test(kernels_ew, large_broadcast_and_strided_ops_equal_with_every_set)
{
    enum { R = 301, C = 517 }; /* 155617 elements >= 2 * the parallel grain */
    int64_t sT[2] = {C, R}, sb[1] = {C};
    bn_tensor *base = tt_rand(BN_F32, 2, sT, 5, -4, 4), *a, *b = tt_rand(BN_F32, 1, sb, 6, 0.5, 2);
    cr_assert_eq(bn_transpose(base, 0, 1, &a), BN_OK);
    int64_t sc[2] = {R, C};
    bn_tensor *ac = tt_rand(BN_F32, 2, sc, 7, -4, 4);
    const float *pa = bn_tensor_data(base), *pb = bn_tensor_data(b), *pac = bn_tensor_data(ac);
    for (int i = 0; i < BNK_ISA_COUNT; i++) {
        if (!bnk_isa_supported((bnk_isa)i))
            continue;
        cr_assert_eq(bn_kernels_select(bnk_isa_name((bnk_isa)i)), BN_OK);
        for (int o = 0; o < (int)(sizeof binary_ops / sizeof binary_ops[0]); o++) {
            bn_op op = binary_ops[o];
            bn_tensor *y1, *y2;
            cr_assert_eq(bn_binary(op, a, b, &y1), BN_OK, "%s", bn_last_error());
            cr_assert_eq(bn_binary(op, ac, b, &y2), BN_OK, "%s", bn_last_error());
            const float *p1 = bn_tensor_data(y1), *p2 = bn_tensor_data(y2);
            float w1[C], w2[C], ra[C];
            for (int64_t r = 0; r < R; r++) {
                for (int64_t c = 0; c < C; c++)
                    ra[c] = pa[c * R + r];
                bnk_ref_table()->binary_f32[op](C, ra, 1, pb, 1, w1, 1);
                bnk_ref_table()->binary_f32[op](C, pac + r * C, 1, pb, 1, w2, 1);
                assert_same_bits(p1 + r * C, w1, C, bn_op_name(op), bnk_isa_name((bnk_isa)i), C);
                assert_same_bits(p2 + r * C, w2, C, bn_op_name(op), bnk_isa_name((bnk_isa)i), C);
            }
            bn_tensor_free(y1);
            bn_tensor_free(y2);
        }
    }
    bn_tensor_free(base);
    bn_tensor_free(a);
    bn_tensor_free(b);
    bn_tensor_free(ac);
}

Test(kernels_ew, f16_and_bf16_ops_round_like_the_scalar_conversions)
{
    enum { N = 70001 }; /* above the parallel threshold, odd */
    int64_t s[1] = {N};
    const bn_dtype dts[] = {BN_F16, BN_BF16};
    for (int d = 0; d < 2; d++) {
        bn_tensor *a = tt_rand(dts[d], 1, s, 11, -100, 100), *b = tt_rand(dts[d], 1, s, 12, 1, 3);
        const uint16_t *ha = bn_tensor_data(a), *hb = bn_tensor_data(b);
        for (int i = 0; i < BNK_ISA_COUNT; i++) {
            if (!bnk_isa_supported((bnk_isa)i))
                continue;
            cr_assert_eq(bn_kernels_select(bnk_isa_name((bnk_isa)i)), BN_OK);
            bn_tensor *y;
            cr_assert_eq(bn_binary(BN_OP_DIV, a, b, &y), BN_OK, "%s", bn_last_error());
            const uint16_t *hy = bn_tensor_data(y);
            for (int64_t k = 0; k < N; k++) {
                float fa = dts[d] == BN_F16 ? bn_f16_to_f32(ha[k]) : bn_bf16_to_f32(ha[k]);
                float fb = dts[d] == BN_F16 ? bn_f16_to_f32(hb[k]) : bn_bf16_to_f32(hb[k]);
                float q = fa / fb;
                uint16_t w = dts[d] == BN_F16 ? bn_f32_to_f16(q) : bn_f32_to_bf16(q);
                cr_assert_eq(hy[k], w, "%s [%s] element %lld: 0x%04x, want 0x%04x",
                             bn_dtype_name(dts[d]), bnk_isa_name((bnk_isa)i), (long long)k, hy[k],
                             w);
            }
            bn_tensor_free(y);
        }
        bn_tensor_free(a);
        bn_tensor_free(b);
    }
}
