/*
 * test_dtype.c - dtype traits, f32 <-> f16/bf16 conversion, bulk to/from-f32
 * conversion of every dtype, and t2 / t1.6 packing.
 *
 * Float conversions are checked three ways: hand-picked bit patterns with
 * known answers (specials, subnormal edges, ties), an exhaustive pass over
 * every 16-bit pattern, and random f32 inputs against an independent
 * double-precision rounding reference (nearbyint in the default
 * round-to-nearest-even mode). Ternary packing is checked against the
 * layout formulas of dtype.h written out independently here.
 */
#include <criterion/criterion.h>
#include <assert.h>
#include <stdio.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/dtype.h"

/* ---- helpers ------------------------------------------------------------ */

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool f16_is_nan(uint16_t h)
{
    return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0;
}

static bool bf16_is_nan(uint16_t b)
{
    return (b & 0x7f80u) == 0x7f80u && (b & 0x007fu) != 0;
}

/* Value of an f16 pattern from the IEEE 754 definition, in double. */
static double f16_ref_value(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0x1f)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, -24);
    else
        v = ldexp((double)(1024 + m), e - 25);
    return s ? -v : v;
}

/*
 * Reference rounding of a finite double to a binary format with `p` bits of
 * precision (including the implicit bit), minimum normal exponent emin and
 * largest finite value maxfin: round to nearest even at the format's
 * quantum, overflow to +-Inf.
 */
static double ref_round(double x, int p, int emin, double maxfin)
{
    if (x == 0.0)
        return x;
    int e;
    frexp(fabs(x), &e); /* |x| = f * 2^e, f in [0.5, 1) -> unbiased exponent e-1 */
    int ue = e - 1;
    if (ue < emin)
        ue = emin;
    int quantum_exp = ue - (p - 1);
    double q = ldexp(fabs(x), -quantum_exp); /* exact: scaling by a power of 2 */
    double r = ldexp(nearbyint(q), quantum_exp);
    if (r > maxfin)
        r = INFINITY;
    return x < 0 ? -r : r;
}

/* ---- traits ------------------------------------------------------------- */

Test(dtype, traits_table)
{
    static const struct {
        bn_dtype dt;
        const char *name;
        int bits;
        int64_t block;
        size_t block_bytes, size;
        bool is_float, is_int, is_packed;
    } want[] = {
        {BN_F32, "f32", 32, 1, 4, 4, true, false, false},
        {BN_F16, "f16", 16, 1, 2, 2, true, false, false},
        {BN_BF16, "bf16", 16, 1, 2, 2, true, false, false},
        {BN_I8, "i8", 8, 1, 1, 1, false, true, false},
        {BN_I32, "i32", 32, 1, 4, 4, false, true, false},
        {BN_T2, "t2", 2, 4, 1, 0, false, false, true},
        {BN_T1_6, "t1.6", 0, 5, 1, 0, false, false, true},
        {BN_F64, "f64", 64, 1, 8, 8, true, false, false},
    };
    cr_assert_eq(sizeof want / sizeof want[0], (size_t)BN_DTYPE_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bn_dtype_traits *t = bn_dtype_info(want[i].dt);
        cr_assert_str_eq(t->name, want[i].name);
        cr_assert_str_eq(bn_dtype_name(want[i].dt), want[i].name);
        cr_assert_eq(t->bits, want[i].bits, "%s", want[i].name);
        cr_assert_eq(t->block, want[i].block, "%s", want[i].name);
        cr_assert_eq(t->block_bytes, want[i].block_bytes, "%s", want[i].name);
        cr_assert_eq(bn_dtype_size(want[i].dt), want[i].size, "%s", want[i].name);
        cr_assert_eq(t->is_float, want[i].is_float, "%s", want[i].name);
        cr_assert_eq(t->is_int, want[i].is_int, "%s", want[i].name);
        cr_assert_eq(t->is_packed, want[i].is_packed, "%s", want[i].name);
        cr_assert_not_null(t->to_f32);
        cr_assert_not_null(t->from_f32);
        bn_dtype back;
        cr_assert_eq(bn_dtype_from_name(want[i].name, &back), BN_OK);
        cr_assert_eq(back, want[i].dt);
    }
}

Test(dtype, valid)
{
    cr_assert(bn_dtype_valid(BN_F32));
    cr_assert(bn_dtype_valid(BN_T1_6));
    cr_assert_not(bn_dtype_valid(-1));
    cr_assert_not(bn_dtype_valid(BN_DTYPE_COUNT));
    cr_assert_not(bn_dtype_valid(1000));
}

Test(dtype, from_name_errors)
{
    static const char *bad[] = {"f128", "", "F32", "t1_6", "f32 ", "int8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bn_dtype dt = BN_I32;
        cr_assert_eq(bn_dtype_from_name(bad[i], &dt), BN_ERR_DTYPE, "\"%s\"", bad[i]);
        cr_assert_eq(dt, BN_I32, "output untouched on error");
        char quoted[32];
        snprintf(quoted, sizeof quoted, "\"%s\"", bad[i]);
        cr_assert_not_null(strstr(bn_last_error(), quoted), "message: %s", bn_last_error());
        cr_assert_not_null(strstr(bn_last_error(), "f32, f16, bf16, i8, i32, t2, t1.6, f64"),
                           "message lists valid names: %s", bn_last_error());
    }
    bn_dtype dt;
    cr_assert_eq(bn_dtype_from_name(NULL, &dt), BN_ERR_DTYPE);
    cr_assert_not_null(strstr(bn_last_error(), "NULL"));
}

Test(dtype, nbytes)
{
    static const struct {
        bn_dtype dt;
        int64_t n;
        size_t bytes;
    } cases[] = {
        {BN_F32, 0, 0},
        {BN_F32, 3, 12},
        {BN_F16, 7, 14},
        {BN_BF16, 1, 2},
        {BN_I8, 9, 9},
        {BN_I32, 5, 20},
        {BN_T2, 0, 0},
        {BN_T2, 1, 1},
        {BN_T2, 4, 1},
        {BN_T2, 5, 2},
        {BN_T2, 1001, 251},
        {BN_T1_6, 1, 1},
        {BN_T1_6, 5, 1},
        {BN_T1_6, 6, 2},
        {BN_T1_6, 1000, 200},
        {BN_T1_6, 1001, 201},
        {BN_I8, INT64_MAX, (size_t)INT64_MAX},
        {BN_T2, INT64_MAX, (size_t)(INT64_MAX / 4 + 1)},
        {BN_T1_6, INT64_MAX, (size_t)(INT64_MAX / 5 + 1)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = 1234;
        cr_assert_eq(bn_dtype_nbytes(cases[i].dt, cases[i].n, &got), BN_OK, "case %zu", i);
        cr_assert_eq(got, cases[i].bytes, "case %zu: %zu != %zu", i, got, cases[i].bytes);
    }
}

Test(dtype, nbytes_errors)
{
    size_t got = 7;
    cr_assert_eq(bn_dtype_nbytes(BN_F32, -1, &got), BN_ERR_ARG);
    cr_assert_eq(got, 0u);
    cr_assert_not_null(strstr(bn_last_error(), "-1"), "%s", bn_last_error());
    if (SIZE_MAX <= UINT64_MAX) {
        /* f32: 2^62 elements need 2^64 bytes, one past SIZE_MAX on 64-bit */
        int64_t n = (int64_t)(SIZE_MAX / 4) + 1;
        cr_assert_eq(bn_dtype_nbytes(BN_F32, n, &got), BN_ERR_OVERFLOW);
        cr_assert_not_null(strstr(bn_last_error(), "f32"), "%s", bn_last_error());
        cr_assert_eq(bn_dtype_nbytes(BN_F32, n - 1, &got), BN_OK);
        cr_assert_eq(got, SIZE_MAX - 3);
        cr_assert_eq(bn_dtype_nbytes(BN_I32, INT64_MAX, &got), BN_ERR_OVERFLOW);
        /* 2-byte types: INT64_MAX elements need 2^64 - 2 bytes, which still fits */
        cr_assert_eq(bn_dtype_nbytes(BN_F16, INT64_MAX, &got), BN_OK);
        cr_assert_eq(got, SIZE_MAX - 1);
    }
}

/* ---- f16 ---------------------------------------------------------------- */

Test(f16, known_values)
{
    static const struct {
        uint32_t f; /* f32 bits */
        uint16_t h;
    } cases[] = {
        {0x00000000u, 0x0000}, /* +0 */
        {0x80000000u, 0x8000}, /* -0 */
        {0x3f800000u, 0x3c00}, /* 1 */
        {0xc0000000u, 0xc000}, /* -2 */
        {0x3eaaaaabu, 0x3555}, /* 1/3 rounds down */
        {0x477fe000u, 0x7bff}, /* 65504, max finite */
        {0xc77fe000u, 0xfbff}, /* -65504 */
        {0x477fefffu, 0x7bff}, /* just below 65520: stays finite */
        {0x477ff000u, 0x7c00}, /* 65520: tie between 65504 (odd) and 65536 -> Inf */
        {0x47800000u, 0x7c00}, /* 65536 */
        {0x49742400u, 0x7c00}, /* 1e6 overflows */
        {0xc9742400u, 0xfc00}, /* -1e6 */
        {0x7f7fffffu, 0x7c00}, /* FLT_MAX */
        {0x7f800000u, 0x7c00}, /* +Inf */
        {0xff800000u, 0xfc00}, /* -Inf */
        {0x38800000u, 0x0400}, /* 2^-14, smallest normal */
        {0x387fc000u, 0x03ff}, /* 1023 * 2^-24, largest subnormal */
        {0x387fe000u, 0x0400}, /* 1023.5 * 2^-24: tie, odd 0x3ff rounds up to normal */
        {0x33800000u, 0x0001}, /* 2^-24, smallest subnormal */
        {0xb3800000u, 0x8001}, /* -2^-24 */
        {0x33000000u, 0x0000}, /* 2^-25: tie between 0 and 2^-24 -> 0 (even) */
        {0xb3000000u, 0x8000}, /* -2^-25 -> -0 */
        {0x33000001u, 0x0001}, /* just above 2^-25 -> 2^-24 */
        {0x33c00000u, 0x0002}, /* 1.5 * 2^-24: tie between 1 (odd) and 2 -> 2 */
        {0x34200000u, 0x0002}, /* 2.5 * 2^-24: tie between 2 (even) and 3 -> 2 */
        {0x32ffffffu, 0x0000}, /* below 2^-25 */
        {0x00000001u, 0x0000}, /* f32 subnormal */
        {0x80400000u, 0x8000}, /* negative f32 subnormal */
        {0x3f801000u, 0x3c00}, /* 1 + 2^-11: tie between 1 (even) and 1+2^-10 -> 1 */
        {0x3f803000u, 0x3c02}, /* 1 + 3*2^-11: tie between 0x3c01 (odd), 0x3c02 -> 0x3c02 */
        {0x3f801001u, 0x3c01}, /* just above the tie -> up */
        {0x3f802fffu, 0x3c01}, /* just below the tie -> down */
        {0xbf803000u, 0xbc02}, /* negative tie */
        {0x3ffff000u, 0x4000}, /* 2 - 2^-11: tie between 0x3fff (odd) and 2.0 -> 2.0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = bn_f32_to_f16(float_of(cases[i].f));
        cr_assert_eq(got, cases[i].h, "f32 0x%08x -> 0x%04x, want 0x%04x", cases[i].f, got,
                     cases[i].h);
    }
}

Test(f16, nan)
{
    static const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u,
                                    0xff800001u, 0x7fffffffu, 0x7fa00000u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = bn_f32_to_f16(float_of(nans[i]));
        cr_assert(f16_is_nan(h), "0x%08x -> 0x%04x", nans[i], h);
        cr_assert(h & 0x0200u, "quiet bit set: 0x%04x", h);
        cr_assert_eq(h >> 15, nans[i] >> 31, "sign kept");
        float back = bn_f16_to_f32(h);
        cr_assert(isnan(back));
        cr_assert(bits_of(back) & 0x00400000u, "f32 quiet bit");
    }
    /* f16 signalling NaN -> quiet f32 NaN, payload kept */
    uint32_t b = bits_of(bn_f16_to_f32(0x7c01));
    cr_assert_eq(b, 0x7fc02000u, "0x%08x", b);
    b = bits_of(bn_f16_to_f32(0xfe00));
    cr_assert_eq(b, 0xffc00000u, "0x%08x", b);
}

Test(f16, to_f32_known)
{
    cr_assert_eq(bits_of(bn_f16_to_f32(0x0001)), 0x33800000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x03ff)), 0x387fc000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x0400)), 0x38800000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x7bff)), 0x477fe000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x7c00)), 0x7f800000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0xfc00)), 0xff800000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x8000)), 0x80000000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x0000)), 0x00000000u);
    cr_assert_eq(bits_of(bn_f16_to_f32(0x3c00)), 0x3f800000u);
}

/* Every f16 pattern: f16 -> f32 equals the IEEE definition, and f32 -> f16
 * gives the pattern back bit-exactly (NaNs stay NaN with their sign). */
Test(f16, exhaustive_round_trip)
{
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        float f = bn_f16_to_f32((uint16_t)h);
        uint16_t back = bn_f32_to_f16(f);
        if (f16_is_nan((uint16_t)h)) {
            cr_assert(isnan(f), "0x%04x", h);
            cr_assert(f16_is_nan(back), "0x%04x -> 0x%04x", h, back);
            cr_assert_eq(back >> 15, h >> 15);
            continue;
        }
        double want = f16_ref_value((uint16_t)h);
        cr_assert((double)f == want && !signbit(f) == !signbit(want), "0x%04x: %a vs %a", h,
                  (double)f, want);
        cr_assert_eq(back, h, "0x%04x -> %a -> 0x%04x", h, (double)f, back);
    }
}

/* Random f32 values of every magnitude near and inside the f16 range against
 * the double-precision reference rounding. */
Test(f16, random_against_reference)
{
    uint64_t s = 42;
    for (int i = 0; i < 300000; i++) {
        uint32_t u = (uint32_t)rng_next(&s);
        /* keep the exponent within [-30, 17] so most samples exercise f16 rounding */
        uint32_t e = 97u + (uint32_t)(rng_next(&s) % 48u);
        u = (u & 0x807fffffu) | (e << 23);
        float x = float_of(u);
        double want = ref_round((double)x, 11, -14, 65504.0);
        float got = bn_f16_to_f32(bn_f32_to_f16(x));
        cr_assert((double)got == want && !signbit(got) == !signbit(want),
                  "x=%a (0x%08x): got %a want %a", (double)x, u, (double)got, want);
    }
}

/* ---- bf16 --------------------------------------------------------------- */

Test(bf16, known_values)
{
    static const struct {
        uint32_t f;
        uint16_t b;
    } cases[] = {
        {0x00000000u, 0x0000}, {0x80000000u, 0x8000}, /* +-0 */
        {0x3f800000u, 0x3f80},                        /* 1 */
        {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80}, /* +-Inf */
        {0x7f7f0000u, 0x7f7f},                        /* max finite bf16 */
        {0x7f7f7fffu, 0x7f7f},                        /* just below the tie */
        {0x7f7f8000u, 0x7f80},                        /* tie between 0x7f7f (odd) and Inf -> Inf */
        {0x7f7fffffu, 0x7f80},                        /* FLT_MAX overflows */
        {0xff7fffffu, 0xff80}, {0x3f808000u, 0x3f80}, /* 1 + 2^-8: tie -> 1 (even) */
        {0x3f818000u, 0x3f82}, /* 1 + 3*2^-8: tie between 0x3f81 (odd), 0x3f82 */
        {0x3f808001u, 0x3f81}, /* above the tie */
        {0xbf818000u, 0xbf82}, /* negative tie */
        {0x00010000u, 0x0001}, /* smallest bf16 subnormal */
        {0x007f0000u, 0x007f}, /* largest bf16 subnormal */
        {0x00008000u, 0x0000}, /* tie between 0 and the smallest subnormal -> 0 */
        {0x00018000u, 0x0002}, /* tie between 1 (odd) and 2 -> 2 */
        {0x00028000u, 0x0002}, /* tie between 2 (even) and 3 -> 2 */
        {0x00008001u, 0x0001}, {0x00000001u, 0x0000}, /* smallest f32 subnormal */
        {0x807fffffu, 0x8080}, /* largest negative f32 subnormal rounds to -2^-126 */
        {0x007f8000u, 0x0080}, /* tie: 0x7f (odd) rounds up to the smallest normal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = bn_f32_to_bf16(float_of(cases[i].f));
        cr_assert_eq(got, cases[i].b, "f32 0x%08x -> 0x%04x, want 0x%04x", cases[i].f, got,
                     cases[i].b);
        if (!bf16_is_nan(cases[i].b))
            cr_assert_eq(bits_of(bn_bf16_to_f32(cases[i].b)), (uint32_t)cases[i].b << 16);
    }
}

Test(bf16, nan)
{
    static const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u,
                                    0xff800001u, 0x7fffffffu, 0x7f80ffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t b = bn_f32_to_bf16(float_of(nans[i]));
        cr_assert(bf16_is_nan(b), "0x%08x -> 0x%04x", nans[i], b);
        cr_assert(b & 0x0040u, "quiet bit: 0x%04x", b);
        cr_assert_eq(b >> 15, nans[i] >> 31);
    }
    uint32_t u = bits_of(bn_bf16_to_f32(0x7f81)); /* signalling -> quiet */
    cr_assert_eq(u, 0x7fc10000u, "0x%08x", u);
}

Test(bf16, exhaustive_round_trip)
{
    for (uint32_t b = 0; b <= 0xffffu; b++) {
        float f = bn_bf16_to_f32((uint16_t)b);
        uint16_t back = bn_f32_to_bf16(f);
        if (bf16_is_nan((uint16_t)b)) {
            cr_assert(isnan(f));
            cr_assert(bf16_is_nan(back));
            cr_assert_eq(back >> 15, b >> 15);
            continue;
        }
        cr_assert_eq(bits_of(f), b << 16, "0x%04x", b);
        cr_assert_eq(back, b, "0x%04x -> 0x%04x", b, back);
    }
}

Test(bf16, random_against_reference)
{
    uint64_t s = 7;
    double maxfin = ldexp(255.0, 127 - 7); /* (2 - 2^-7) * 2^127 */
    for (int i = 0; i < 300000; i++) {
        uint32_t u = (uint32_t)rng_next(&s);
        if ((u & 0x7f800000u) == 0x7f800000u)
            continue; /* Inf/NaN covered above */
        float x = float_of(u);
        double want = ref_round((double)x, 8, -126, maxfin);
        float got = bn_bf16_to_f32(bn_f32_to_bf16(x));
        cr_assert((double)got == want && !signbit(got) == !signbit(want),
                  "x=%a (0x%08x): got %a want %a", (double)x, u, (double)got, want);
    }
}

/* ---- bulk conversions --------------------------------------------------- */

Test(bulk, float_types_with_offset)
{
    float src[37];
    uint64_t s = 3;
    for (int i = 0; i < 37; i++)
        src[i] = (float)((double)(int64_t)rng_next(&s) / 9.2e18 * 1000.0);
    src[3] = NAN;
    src[4] = -INFINITY;
    src[5] = 1e-7f;

    float out[37];
    bn_dtype_info(BN_F32)->from_f32(src, out, 0, 37);
    cr_assert_eq(memcmp(src, out, sizeof src), 0);

    uint16_t h[50];
    for (int i = 0; i < 50; i++)
        h[i] = 0xbeef;
    bn_dtype_info(BN_F16)->from_f32(src, h, 6, 37);
    for (int i = 0; i < 50; i++) {
        if (i < 6 || i >= 43)
            cr_assert_eq(h[i], 0xbeef, "untouched element %d", i);
        else
            cr_assert_eq(h[i], bn_f32_to_f16(src[i - 6]), "element %d", i);
    }
    float back[30];
    bn_dtype_info(BN_F16)->to_f32(h, 10, back, 30);
    for (int i = 0; i < 30; i++) {
        float want = bn_f16_to_f32(h[10 + i]);
        cr_assert(bits_of(back[i]) == bits_of(want), "element %d", i);
    }

    uint16_t b[40];
    bn_dtype_info(BN_BF16)->from_f32(src, b, 3, 37);
    for (int i = 0; i < 37; i++)
        cr_assert_eq(b[3 + i], bn_f32_to_bf16(src[i]), "element %d", i);
    bn_dtype_info(BN_BF16)->to_f32(b, 3, back, 30);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(bits_of(back[i]), (uint32_t)b[3 + i] << 16, "element %d", i);

    float f[40] = {0};
    bn_dtype_info(BN_F32)->from_f32(src, f, 2, 37);
    bn_dtype_info(BN_F32)->to_f32(f, 2, back, 30);
    cr_assert_eq(memcmp(back, src, 30 * sizeof(float)), 0);
}

Test(bulk, i8_round_clamp)
{
    const float src[] = {-200.f, -128.5f, -127.5f, -0.5f, 0.5f, 1.5f,      2.5f,
                         -2.5f,  126.6f,  127.4f,  1e9f,  NAN,  -INFINITY, INFINITY,
                         -0.49f, 3.7f,    -3.7f,   0.0f,  -1.0f};
    const int8_t want[] = {-128, -128, -128, 0,   0, 2, 2,  -2, 127, 127,
                           127,  0,    -128, 127, 0, 4, -4, 0,  -1};
    enum { N = sizeof src / sizeof src[0] };
    static_assert(sizeof want == N, "");
    int8_t d[N + 2];
    memset(d, 0x5a, sizeof d);
    bn_dtype_info(BN_I8)->from_f32(src, d, 1, N);
    cr_assert_eq(d[0], 0x5a);
    cr_assert_eq(d[N + 1], 0x5a);
    for (int i = 0; i < N; i++)
        cr_assert_eq(d[1 + i], want[i], "src %g -> %d want %d", (double)src[i], d[1 + i], want[i]);
    float back[N];
    bn_dtype_info(BN_I8)->to_f32(d, 1, back, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(back[i], (float)want[i]);
}

Test(bulk, i32_round_clamp)
{
    const float src[] = {2147483648.0f, 3e9f,          -3e9f, -2147483648.0f, 2.5f,
                         -2.5f,         3.5f,          NAN,   INFINITY,       -INFINITY,
                         16777216.0f,   2147483520.0f, -0.5f, 1e-30f};
    const int32_t want[] = {INT32_MAX, INT32_MAX, INT32_MIN, INT32_MIN, 2,          -2, 4,
                            0,         INT32_MAX, INT32_MIN, 16777216,  2147483520, 0,  0};
    enum { N = sizeof src / sizeof src[0] };
    static_assert(sizeof want == N * sizeof(int32_t), "");
    int32_t d[N];
    bn_dtype_info(BN_I32)->from_f32(src, d, 0, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(d[i], want[i], "src %a -> %d want %d", (double)src[i], d[i], want[i]);
    float back[3];
    bn_dtype_info(BN_I32)->to_f32(d, 4, back, 3);
    cr_assert_eq(back[0], 2.0f);
    cr_assert_eq(back[1], -2.0f);
    cr_assert_eq(back[2], 4.0f);
}

static int trit_of(uint8_t byte_t16, int j)
{
    static const int p[5] = {1, 3, 9, 27, 81};
    return (byte_t16 / p[j]) % 3 - 1;
}

Test(bulk, ternary_round_clamp)
{
    const float src[] = {-3.f,     -0.6f, -0.5f, -0.4f,    0.f,       0.4f, 0.5f,
                         0.50001f, 7.f,   NAN,   INFINITY, -INFINITY, -0.0f};
    const int want[] = {-1, -1, 0, 0, 0, 0, 0, 1, 1, 0, 1, -1, 0};
    enum { N = sizeof src / sizeof src[0] };
    uint8_t t2[4] = {0}, t16[3] = {0};
    bn_dtype_info(BN_T2)->from_f32(src, t2, 0, N);
    bn_dtype_info(BN_T1_6)->from_f32(src, t16, 0, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(((t2[i / 4] >> (2 * (i % 4))) & 3) - 1, want[i], "t2 element %d", i);
        cr_assert_eq(trit_of(t16[i / 5], i % 5), want[i], "t1.6 element %d", i);
    }
    float back[N];
    bn_dtype_info(BN_T2)->to_f32(t2, 0, back, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(back[i], (float)want[i]);
    bn_dtype_info(BN_T1_6)->to_f32(t16, 0, back, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(back[i], (float)want[i]);
}

/* from_f32 / to_f32 starting mid-block: only the addressed elements change. */
Test(bulk, packed_mid_block)
{
    enum { N = 23 };
    int8_t base[N], vals[N];
    uint64_t s = 11;
    for (int i = 0; i < N; i++) {
        base[i] = (int8_t)((int)(rng_next(&s) % 3) - 1);
        vals[i] = (int8_t)((int)(rng_next(&s) % 3) - 1);
    }
    for (int first = 0; first < 11; first++) {
        for (int n = 0; first + n <= N; n += 3) {
            float src[N];
            for (int i = 0; i < n; i++)
                src[i] = (float)vals[i];
            int8_t want[N];
            memcpy(want, base, N);
            for (int i = 0; i < n; i++)
                want[first + i] = vals[i];

            uint8_t p2[8], p16[5];
            cr_assert_eq(bn_t2_pack(base, N, p2), BN_OK);
            cr_assert_eq(bn_t16_pack(base, N, p16), BN_OK);
            bn_dtype_info(BN_T2)->from_f32(src, p2, first, n);
            bn_dtype_info(BN_T1_6)->from_f32(src, p16, first, n);
            int8_t got[N];
            cr_assert_eq(bn_t2_unpack(p2, N, got), BN_OK);
            cr_assert_eq(memcmp(got, want, N), 0, "t2 first=%d n=%d", first, n);
            cr_assert_eq(bn_t16_unpack(p16, N, got), BN_OK);
            cr_assert_eq(memcmp(got, want, N), 0, "t1.6 first=%d n=%d", first, n);

            /* read back a window starting at `first` */
            float back[N];
            bn_dtype_info(BN_T2)->to_f32(p2, first, back, N - first);
            for (int i = 0; i < N - first; i++)
                cr_assert_eq(back[i], (float)want[first + i]);
            bn_dtype_info(BN_T1_6)->to_f32(p16, first, back, N - first);
            for (int i = 0; i < N - first; i++)
                cr_assert_eq(back[i], (float)want[first + i]);
        }
    }
}

Test(bulk, packed_invalid_codes_read_nan)
{
    uint8_t t2 = 0xe4; /* codes 0,1,2,3 */
    float out[4];
    bn_dtype_info(BN_T2)->to_f32(&t2, 0, out, 4);
    cr_assert_eq(out[0], -1.f);
    cr_assert_eq(out[1], 0.f);
    cr_assert_eq(out[2], 1.f);
    cr_assert(isnan(out[3]));
    uint8_t t16[2] = {243, 242};
    float o16[10];
    bn_dtype_info(BN_T1_6)->to_f32(t16, 0, o16, 10);
    for (int i = 0; i < 5; i++)
        cr_assert(isnan(o16[i]));
    for (int i = 5; i < 10; i++)
        cr_assert_eq(o16[i], 1.f);
    /* writing one trit into an invalid byte starts from all zeros */
    float one = -1.f;
    bn_dtype_info(BN_T1_6)->from_f32(&one, t16, 2, 1);
    cr_assert_eq(t16[0], 121 - 9);
}

/* ---- ternary packing ---------------------------------------------------- */

static void check_layout(const int8_t *v, int64_t n, const uint8_t *p2, const uint8_t *p16)
{
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq((p2[i / 4] >> (2 * (i % 4))) & 3, v[i] + 1, "t2 element %ld", (long)i);
        cr_assert_eq(trit_of(p16[i / 5], (int)(i % 5)), v[i], "t1.6 element %ld", (long)i);
    }
    /* padding of a final partial block is v = 0 (code 1) */
    for (int64_t i = n; i % 4; i++)
        cr_assert_eq((p2[i / 4] >> (2 * (i % 4))) & 3, 1, "t2 pad %ld", (long)i);
    for (int64_t i = n; i % 5; i++)
        cr_assert_eq(trit_of(p16[i / 5], (int)(i % 5)), 0, "t1.6 pad %ld", (long)i);
    for (int64_t b = 0; b < (n + 4) / 5; b++)
        cr_assert_leq(p16[b], 242);
}

Test(pack, random_round_trips)
{
    static const int64_t lens[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1000, 1001, 1003, 4099};
    uint64_t s = 99;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        int8_t *v = malloc((size_t)n + 1), *back = malloc((size_t)n + 1);
        size_t b2, b16;
        cr_assert_eq(bn_dtype_nbytes(BN_T2, n, &b2), BN_OK);
        cr_assert_eq(bn_dtype_nbytes(BN_T1_6, n, &b16), BN_OK);
        cr_assert_eq(b2, (size_t)((n + 3) / 4));
        cr_assert_eq(b16, (size_t)((n + 4) / 5));
        /* one guard byte after each packed array */
        uint8_t *p2 = malloc(b2 + 1), *p16 = malloc(b16 + 1);
        p2[b2] = 0xcd;
        p16[b16] = 0xcd;
        for (int64_t i = 0; i < n; i++)
            v[i] = (int8_t)((int)(rng_next(&s) % 3) - 1);
        cr_assert_eq(bn_t2_pack(v, n, p2), BN_OK);
        cr_assert_eq(bn_t16_pack(v, n, p16), BN_OK);
        cr_assert_eq(p2[b2], 0xcd, "t2 wrote past %zu bytes", b2);
        cr_assert_eq(p16[b16], 0xcd, "t1.6 wrote past %zu bytes", b16);
        check_layout(v, n, p2, p16);
        memset(back, 0x7f, (size_t)n + 1);
        cr_assert_eq(bn_t2_unpack(p2, n, back), BN_OK);
        cr_assert_eq(memcmp(v, back, (size_t)n), 0, "t2 n=%ld", (long)n);
        cr_assert_eq(back[n], 0x7f, "t2 unpack wrote past n");
        memset(back, 0x7f, (size_t)n + 1);
        cr_assert_eq(bn_t16_unpack(p16, n, back), BN_OK);
        cr_assert_eq(memcmp(v, back, (size_t)n), 0, "t1.6 n=%ld", (long)n);
        cr_assert_eq(back[n], 0x7f, "t1.6 unpack wrote past n");
        free(v);
        free(back);
        free(p2);
        free(p16);
    }
}

Test(pack, edge_inputs)
{
    static const struct {
        int8_t v;
        uint8_t t2_full, t16_full;
    } edges[] = {{-1, 0x00, 0}, {0, 0x55, 121}, {1, 0xaa, 242}};
    for (size_t e = 0; e < 3; e++) {
        for (int64_t n = 0; n <= 41; n++) {
            int8_t v[41], back[41];
            memset(v, edges[e].v, sizeof v);
            uint8_t p2[11], p16[9];
            cr_assert_eq(bn_t2_pack(v, n, p2), BN_OK);
            cr_assert_eq(bn_t16_pack(v, n, p16), BN_OK);
            for (int64_t b = 0; b < n / 4; b++)
                cr_assert_eq(p2[b], edges[e].t2_full, "v=%d n=%ld", edges[e].v, (long)n);
            for (int64_t b = 0; b < n / 5; b++)
                cr_assert_eq(p16[b], edges[e].t16_full, "v=%d n=%ld", edges[e].v, (long)n);
            check_layout(v, n, p2, p16);
            cr_assert_eq(bn_t2_unpack(p2, n, back), BN_OK);
            cr_assert_eq(memcmp(v, back, (size_t)n), 0);
            cr_assert_eq(bn_t16_unpack(p16, n, back), BN_OK);
            cr_assert_eq(memcmp(v, back, (size_t)n), 0);
        }
    }
}

Test(pack, known_encodings)
{
    uint8_t p[4];
    const int8_t a[] = {-1, 0, 1, 1};
    cr_assert_eq(bn_t2_pack(a, 4, p), BN_OK);
    cr_assert_eq(p[0], 0xa4); /* 0b10100100 */
    const int8_t b[] = {1, 1, 1, 1, 1};
    cr_assert_eq(bn_t16_pack(b, 5, p), BN_OK);
    cr_assert_eq(p[0], 242);
    const int8_t c[] = {-1, 0, 1, 0, -1};
    cr_assert_eq(bn_t16_pack(c, 5, p), BN_OK);
    cr_assert_eq(p[0], 0 + 1 * 3 + 2 * 9 + 1 * 27 + 0 * 81);
    const int8_t d[] = {1};
    cr_assert_eq(bn_t2_pack(d, 1, p), BN_OK);
    cr_assert_eq(p[0], 0x56); /* code 2, then three pad codes 1 */
    cr_assert_eq(bn_t16_pack(d, 1, p), BN_OK);
    cr_assert_eq(p[0], 2 + 3 + 9 + 27 + 81);
    const int8_t e[] = {0, -1, 1, 1, -1, 1, 0};
    cr_assert_eq(bn_t2_pack(e, 7, p), BN_OK);
    cr_assert_eq(p[0], 0x01 | 0x00 << 2 | 0x02 << 4 | 0x02 << 6);
    cr_assert_eq(p[1], 0x00 | 0x02 << 2 | 0x01 << 4 | 0x01 << 6);
    cr_assert_eq(bn_t16_pack(e, 7, p), BN_OK);
    cr_assert_eq(p[0], 1 + 0 * 3 + 2 * 9 + 2 * 27 + 0 * 81);
    cr_assert_eq(p[1], 2 + 1 * 3 + 1 * 9 + 1 * 27 + 1 * 81);
    int8_t out[7];
    cr_assert_eq(bn_t16_unpack(p, 7, out), BN_OK);
    cr_assert_eq(memcmp(out, e, 7), 0);
}

Test(pack, invalid_source_values)
{
    static const int8_t badv[] = {2, -2, 127, -128};
    for (size_t k = 0; k < 4; k++) {
        int8_t v[9] = {0, 1, -1, 0, 1, -1, 0, 1, 0};
        v[6] = badv[k];
        uint8_t p[3];
        char want[64];
        snprintf(want, sizeof want, "element 6 is %d", badv[k]);
        cr_assert_eq(bn_t2_pack(v, 9, p), BN_ERR_ARG);
        cr_assert_not_null(strstr(bn_last_error(), want), "%s", bn_last_error());
        cr_assert_not_null(strstr(bn_last_error(), "t2"), "%s", bn_last_error());
        cr_assert_eq(bn_t16_pack(v, 9, p), BN_ERR_ARG);
        cr_assert_not_null(strstr(bn_last_error(), want), "%s", bn_last_error());
        cr_assert_not_null(strstr(bn_last_error(), "t1.6"), "%s", bn_last_error());
        /* the bad value beyond n is not read */
        cr_assert_eq(bn_t2_pack(v, 6, p), BN_OK);
        cr_assert_eq(bn_t16_pack(v, 6, p), BN_OK);
    }
    uint8_t p[1];
    int8_t v[1] = {0};
    cr_assert_eq(bn_t2_pack(v, -1, p), BN_ERR_ARG);
    cr_assert_eq(bn_t16_pack(v, -3, p), BN_ERR_ARG);
    cr_assert_not_null(strstr(bn_last_error(), "-3"), "%s", bn_last_error());
}

Test(pack, invalid_codes)
{
    /* t2: code 3 at element 5 (byte 1, bits 2..3) */
    uint8_t p2[3] = {0x55, 0x55 | (3u << 2), 0x55};
    int8_t out[12];
    cr_assert_eq(bn_t2_unpack(p2, 12, out), BN_ERR_ARG);
    cr_assert_not_null(strstr(bn_last_error(), "element 5"), "%s", bn_last_error());
    cr_assert_not_null(strstr(bn_last_error(), "code 3"), "%s", bn_last_error());
    cr_assert_not_null(strstr(bn_last_error(), "0x5d"), "%s", bn_last_error());
    cr_assert_eq(bn_t2_unpack(p2, 5, out), BN_OK, "the bad code beyond n is not read");

    /* t1.6: byte 1 is 243 (one past the largest valid code), and 255 */
    static const uint8_t bad[] = {243, 255};
    for (int k = 0; k < 2; k++) {
        uint8_t p16[3] = {121, bad[k], 121};
        char want[32];
        snprintf(want, sizeof want, "is %u", bad[k]);
        cr_assert_eq(bn_t16_unpack(p16, 15, out), BN_ERR_ARG);
        cr_assert_not_null(strstr(bn_last_error(), "byte 1"), "%s", bn_last_error());
        cr_assert_not_null(strstr(bn_last_error(), want), "%s", bn_last_error());
        /* a partial final block is checked too */
        cr_assert_eq(bn_t16_unpack(p16, 6, out), BN_ERR_ARG);
        cr_assert_not_null(strstr(bn_last_error(), "elements 5..5"), "%s", bn_last_error());
        cr_assert_eq(bn_t16_unpack(p16, 5, out), BN_OK);
    }
    cr_assert_eq(bn_t2_unpack(p2, -2, out), BN_ERR_ARG);
    cr_assert_eq(bn_t16_unpack(p2, -2, out), BN_ERR_ARG);
}
