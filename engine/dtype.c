/*
 * dtype.c - the dtype traits table, f32 <-> f16/bf16 conversion, bulk
 * to/from-f32 conversion for every dtype, and ternary packing.
 *
 * Dtypes are data: one designated-initializer table indexed by bn_dtype,
 * guarded by a static_assert on BN_DTYPE_COUNT, so a new dtype cannot be
 * added without its traits. Everything here is portable C: the half-precision
 * conversions are written from the IEEE 754 bit layouts (no _Float16, no F16C
 * intrinsics), so this file is the reference that SIMD kernels are tested
 * against.
 *
 * Packed layouts (see dtype.h): t2 keeps value v as the 2-bit code v+1, four
 * to a byte, element i at bits 2*(i%4) of byte i/4; t1.6 keeps five trits per
 * byte as sum_j (v_j+1)*3^j. Packing pads a final partial block with v = 0
 * (code 1) for both types, so a kernel reading whole blocks adds nothing for
 * the padding.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "bitnet/dtype.h"

static_assert(sizeof(float) == 4, "f32 must be IEEE 754 binary32");
static_assert(BN_DTYPE_COUNT == 8, "new dtype: add its traits, conversions and tests");

/* ---- bit access --------------------------------------------------------- */

static inline uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ---- f16 ---------------------------------------------------------------- */

/*
 * binary32: 1 sign, 8 exponent (bias 127), 23 mantissa.
 * binary16: 1 sign, 5 exponent (bias 15), 10 mantissa; subnormals are
 * m * 2^-24. Rounding is to nearest, ties to even; the carry out of the
 * mantissa rolls into the exponent, which also turns the largest values into
 * infinity (65520 and up round to +Inf).
 */
uint16_t bn_f32_to_f16(float x)
{
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t ax = u & 0x7fffffffu;

    if (ax > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7c00u | 0x0200u | ((ax >> 13) & 0x03ffu));
    if (ax >= 0x47800000u) /* >= 65536 (and Inf): beyond every rounding -> Inf */
        return (uint16_t)(sign | 0x7c00u);

    int32_t e = (int32_t)(ax >> 23) - 127; /* unbiased exponent */
    uint32_t mant = ax & 0x007fffffu;
    if (e >= -14) { /* normal f16 */
        uint32_t h = ((uint32_t)(e + 15) << 10) | (mant >> 13);
        uint32_t rest = mant & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
            h++; /* may carry into the exponent, up to 0x7c00 = Inf */
        return (uint16_t)(sign | h);
    }
    if ((ax >> 23) == 0) /* f32 subnormal or zero: far below half of 2^-24 */
        return sign;
    /* f16 subnormal: value = full * 2^(e-23) = (full >> s) * 2^-24, s = -(e+1) */
    uint32_t full = mant | 0x00800000u;
    int32_t s = -(e + 1);
    if (s > 24) /* value < 2^-25, below half the smallest subnormal */
        return sign;
    uint32_t m = full >> s;
    uint32_t rest = full & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1);
    if (rest > half || (rest == half && (m & 1u)))
        m++; /* 0x400 becomes the smallest normal, which is exact */
    return (uint16_t)(sign | m);
}

float bn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x03ffu;

    if (e == 0x1f) { /* Inf or NaN; a signalling NaN comes out quiet */
        uint32_t m = mant << 13;
        if (mant)
            m |= 0x00400000u;
        return f32_from_bits(sign | 0x7f800000u | m);
    }
    if (e == 0) {
        if (mant == 0)
            return f32_from_bits(sign);
        /* subnormal mant * 2^-24: normalise so the leading 1 is bit 10 */
        int32_t exp = -14;
        while (!(mant & 0x0400u)) {
            mant <<= 1;
            exp--;
        }
        mant &= 0x03ffu;
        return f32_from_bits(sign | ((uint32_t)(exp + 127) << 23) | (mant << 13));
    }
    return f32_from_bits(sign | ((e - 15 + 127) << 23) | (mant << 13));
}

/* ---- bf16: the top half of an f32 --------------------------------------- */

uint16_t bn_f32_to_bf16(float x)
{
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep the top payload, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    /* round to nearest even; a carry rolls into the exponent (max -> Inf) */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float bn_bf16_to_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        u |= 0x00400000u;
    return f32_from_bits(u);
}

/* ---- rounding helpers for integer and ternary targets ------------------- */

/* Round half to even of a finite x with |x| < 2^31 (exact in float arithmetic:
 * x - floor(x) is exact for any float). Independent of the FP environment. */
static float round_half_even(float x)
{
    float r = floorf(x);
    float d = x - r;
    if (d > 0.5f || (d == 0.5f && fmodf(r, 2.0f) != 0.0f))
        r += 1.0f;
    return r;
}

static int8_t f32_to_i8(float x)
{
    if (isnan(x))
        return 0;
    if (x >= 127.0f)
        return 127;
    if (x <= -128.0f)
        return -128;
    return (int8_t)round_half_even(x);
}

static int32_t f32_to_i32(float x)
{
    if (isnan(x))
        return 0;
    if (x >= 2147483648.0f) /* INT32_MAX is not a float; 2^31 is the first above */
        return INT32_MAX;
    if (x <= -2147483648.0f)
        return INT32_MIN;
    return (int32_t)round_half_even(x);
}

/* {-1,0,1}: round half to even, then clamp; NaN -> 0. */
static int f32_to_trit(float x)
{
    if (x > 0.5f)
        return 1;
    if (x < -0.5f)
        return -1;
    return 0; /* also NaN, +-0.5 (ties go to the even 0) */
}

/* ---- bulk conversions --------------------------------------------------- */

static void f32_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    if (n > 0)
        memmove(dst, (const float *)src + first, (size_t)n * sizeof(float));
}

static void f32_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    if (n > 0)
        memmove((float *)dst + first, src, (size_t)n * sizeof(float));
}

static void f16_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const uint16_t *s = (const uint16_t *)src + first;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bn_f16_to_f32(s[i]);
}

static void f16_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    uint16_t *d = (uint16_t *)dst + first;
    for (int64_t i = 0; i < n; i++)
        d[i] = bn_f32_to_f16(src[i]);
}

static void bf16_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const uint16_t *s = (const uint16_t *)src + first;
    for (int64_t i = 0; i < n; i++)
        dst[i] = bn_bf16_to_f32(s[i]);
}

static void bf16_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    uint16_t *d = (uint16_t *)dst + first;
    for (int64_t i = 0; i < n; i++)
        d[i] = bn_f32_to_bf16(src[i]);
}

static void i8_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const int8_t *s = (const int8_t *)src + first;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

static void i8_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    int8_t *d = (int8_t *)dst + first;
    for (int64_t i = 0; i < n; i++)
        d[i] = f32_to_i8(src[i]);
}

static void i32_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const int32_t *s = (const int32_t *)src + first;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

static void i32_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    int32_t *d = (int32_t *)dst + first;
    for (int64_t i = 0; i < n; i++)
        d[i] = f32_to_i32(src[i]);
}

static void f64_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const double *s = (const double *)src + first;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)s[i];
}

static void f64_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    double *d = (double *)dst + first;
    for (int64_t i = 0; i < n; i++)
        d[i] = src[i];
}

/* t2: an invalid code (3) reads as NaN so corruption cannot pass for data. */
static void t2_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = first + i;
        unsigned code = (s[k >> 2] >> (2 * (k & 3))) & 3u;
        dst[i] = code == 3u ? NAN : (float)((int)code - 1);
    }
}

/* Writes only the 2-bit fields of elements [first, first+n); other fields of
 * the bytes touched are preserved. */
static void t2_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = first + i;
        unsigned sh = 2u * (unsigned)(k & 3);
        unsigned code = (unsigned)(f32_to_trit(src[i]) + 1);
        d[k >> 2] = (uint8_t)((d[k >> 2] & ~(3u << sh)) | (code << sh));
    }
}

static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
#define T16_ZERO_BYTE 121 /* all five trits v = 0: 1+3+9+27+81 */

/* t1.6: every element of an invalid byte (> 242) reads as NaN. */
static void t16_to_f32(const void *src, int64_t first, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = first + i;
        unsigned byte = s[k / 5];
        dst[i] = byte > 242u ? NAN : (float)((int)((byte / pow3[k % 5]) % 3u) - 1);
    }
}

/* Writes only the trits of elements [first, first+n); the other trits of a
 * touched byte are preserved (a byte holding an invalid code > 242 is first
 * taken as all zeros). */
static void t16_from_f32(const float *src, void *dst, int64_t first, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = first + i;
        unsigned byte = d[k / 5];
        if (byte > 242u)
            byte = T16_ZERO_BYTE;
        unsigned p = pow3[k % 5];
        unsigned old = (byte / p) % 3u;
        unsigned code = (unsigned)(f32_to_trit(src[i]) + 1);
        d[k / 5] = (uint8_t)(byte - old * p + code * p);
    }
}

/* ---- the traits table --------------------------------------------------- */

static const bn_dtype_traits dtype_traits[BN_DTYPE_COUNT] = {
    [BN_F32] = {.name = "f32",
                .bits = 32,
                .block = 1,
                .block_bytes = 4,
                .is_float = true,
                .to_f32 = f32_to_f32,
                .from_f32 = f32_from_f32},
    [BN_F16] = {.name = "f16",
                .bits = 16,
                .block = 1,
                .block_bytes = 2,
                .is_float = true,
                .to_f32 = f16_to_f32,
                .from_f32 = f16_from_f32},
    [BN_BF16] = {.name = "bf16",
                 .bits = 16,
                 .block = 1,
                 .block_bytes = 2,
                 .is_float = true,
                 .to_f32 = bf16_to_f32,
                 .from_f32 = bf16_from_f32},
    [BN_I8] = {.name = "i8",
               .bits = 8,
               .block = 1,
               .block_bytes = 1,
               .is_int = true,
               .to_f32 = i8_to_f32,
               .from_f32 = i8_from_f32},
    [BN_I32] = {.name = "i32",
                .bits = 32,
                .block = 1,
                .block_bytes = 4,
                .is_int = true,
                .to_f32 = i32_to_f32,
                .from_f32 = i32_from_f32},
    [BN_T2] = {.name = "t2",
               .bits = 2,
               .block = 4,
               .block_bytes = 1,
               .is_packed = true,
               .to_f32 = t2_to_f32,
               .from_f32 = t2_from_f32},
    [BN_T1_6] = {.name = "t1.6",
                 .bits = 0,
                 .block = 5,
                 .block_bytes = 1,
                 .is_packed = true,
                 .to_f32 = t16_to_f32,
                 .from_f32 = t16_from_f32},
    [BN_F64] = {.name = "f64",
                .bits = 64,
                .block = 1,
                .block_bytes = 8,
                .is_float = true,
                .to_f32 = f64_to_f32,
                .from_f32 = f64_from_f32},
};

bool bn_dtype_valid(int dt)
{
    return dt >= 0 && dt < (int)BN_DTYPE_COUNT;
}

const bn_dtype_traits *bn_dtype_info(bn_dtype dt)
{
    BN_ASSERT(bn_dtype_valid((int)dt));
    return &dtype_traits[dt];
}

const char *bn_dtype_name(bn_dtype dt)
{
    return bn_dtype_info(dt)->name;
}

bn_status bn_dtype_from_name(const char *name, bn_dtype *out)
{
    BN_ASSERT(out != NULL);
    if (name != NULL) {
        for (int i = 0; i < (int)BN_DTYPE_COUNT; i++) {
            if (strcmp(name, dtype_traits[i].name) == 0) {
                *out = (bn_dtype)i;
                return BN_OK;
            }
        }
    }
    char valid[128];
    size_t len = 0;
    valid[0] = '\0';
    for (int i = 0; i < (int)BN_DTYPE_COUNT && len < sizeof valid; i++) {
        int w =
            snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", dtype_traits[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (name == NULL)
        return bn_error(BN_ERR_DTYPE, "dtype: name is NULL; valid names: %s", valid);
    return bn_error(BN_ERR_DTYPE, "dtype: unknown dtype \"%s\"; valid names: %s", name, valid);
}

size_t bn_dtype_size(bn_dtype dt)
{
    const bn_dtype_traits *t = bn_dtype_info(dt);
    return t->is_packed ? 0 : t->block_bytes;
}

bn_status bn_dtype_nbytes(bn_dtype dt, int64_t n, size_t *out)
{
    BN_ASSERT(out != NULL);
    const bn_dtype_traits *t = bn_dtype_info(dt);
    *out = 0;
    if (n < 0)
        return bn_error(BN_ERR_ARG, "dtype %s: element count %" PRId64 " is negative", t->name, n);
    uint64_t blocks = (uint64_t)(n / t->block) + (n % t->block != 0);
    if (blocks > SIZE_MAX / t->block_bytes)
        return bn_error(BN_ERR_OVERFLOW,
                        "dtype %s: %" PRId64 " elements need more than SIZE_MAX bytes", t->name, n);
    *out = (size_t)blocks * t->block_bytes;
    return BN_OK;
}

/* ---- ternary packing ---------------------------------------------------- */

static bn_status check_trit(const char *op, const int8_t *src, int64_t i)
{
    if (src[i] < -1 || src[i] > 1)
        return bn_error(BN_ERR_ARG, "%s: element %" PRId64 " is %d; values must be -1, 0 or 1", op,
                        i, (int)src[i]);
    return BN_OK;
}

bn_status bn_t2_pack(const int8_t *src, int64_t n, uint8_t *dst)
{
    if (n < 0)
        return bn_error(BN_ERR_ARG, "t2 pack: element count %" PRId64 " is negative", n);
    BN_ASSERT(n == 0 || (src != NULL && dst != NULL));
    for (int64_t b = 0; b * 4 < n; b++) {
        unsigned byte = 0;
        for (int j = 0; j < 4; j++) {
            int64_t i = b * 4 + j;
            unsigned code = 1u; /* padding: v = 0 */
            if (i < n) {
                bn_status st = check_trit("t2 pack", src, i);
                if (st != BN_OK)
                    return st;
                code = (unsigned)(src[i] + 1);
            }
            byte |= code << (2 * j);
        }
        dst[b] = (uint8_t)byte;
    }
    return BN_OK;
}

bn_status bn_t2_unpack(const uint8_t *src, int64_t n, int8_t *dst)
{
    if (n < 0)
        return bn_error(BN_ERR_ARG, "t2 unpack: element count %" PRId64 " is negative", n);
    BN_ASSERT(n == 0 || (src != NULL && dst != NULL));
    for (int64_t i = 0; i < n; i++) {
        unsigned code = (src[i >> 2] >> (2 * (i & 3))) & 3u;
        if (code == 3u)
            return bn_error(BN_ERR_ARG,
                            "t2 unpack: element %" PRId64 " has invalid code 3 (byte %" PRId64
                            " is 0x%02x); codes must be 0, 1 or 2",
                            i, i >> 2, (unsigned)src[i >> 2]);
        dst[i] = (int8_t)((int)code - 1);
    }
    return BN_OK;
}

bn_status bn_t16_pack(const int8_t *src, int64_t n, uint8_t *dst)
{
    if (n < 0)
        return bn_error(BN_ERR_ARG, "t1.6 pack: element count %" PRId64 " is negative", n);
    BN_ASSERT(n == 0 || (src != NULL && dst != NULL));
    for (int64_t b = 0; b * 5 < n; b++) {
        unsigned byte = 0;
        for (int j = 0; j < 5; j++) {
            int64_t i = b * 5 + j;
            unsigned code = 1u; /* padding: v = 0 */
            if (i < n) {
                bn_status st = check_trit("t1.6 pack", src, i);
                if (st != BN_OK)
                    return st;
                code = (unsigned)(src[i] + 1);
            }
            byte += code * pow3[j];
        }
        dst[b] = (uint8_t)byte;
    }
    return BN_OK;
}

bn_status bn_t16_unpack(const uint8_t *src, int64_t n, int8_t *dst)
{
    if (n < 0)
        return bn_error(BN_ERR_ARG, "t1.6 unpack: element count %" PRId64 " is negative", n);
    BN_ASSERT(n == 0 || (src != NULL && dst != NULL));
    for (int64_t b = 0; b * 5 < n; b++) {
        unsigned byte = src[b];
        if (byte > 242u)
            return bn_error(BN_ERR_ARG,
                            "t1.6 unpack: byte %" PRId64 " (elements %" PRId64 "..%" PRId64
                            ") is %u; codes must be 0..242",
                            b, b * 5, b * 5 + 4 < n ? b * 5 + 4 : n - 1, byte);
        for (int j = 0; j < 5 && b * 5 + j < n; j++) {
            dst[b * 5 + j] = (int8_t)((int)(byte % 3u) - 1);
            byte /= 3u;
        }
    }
    return BN_OK;
}
