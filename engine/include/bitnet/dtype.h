/*
 * dtype.h - element types and their traits.
 *
 * Dtypes are data: one enum, one designated-initializer traits table
 * (engine/dtype.c), guarded by static_assert on BN_DTYPE_COUNT, so adding a
 * dtype without its traits fails to compile.
 *
 * Packed ternary types hold values in {-1, 0, +1}:
 *   t2   : 2 bits per value, 4 values per byte. Value v is stored as the code
 *          (v + 1) in {0, 1, 2}; code 3 is invalid. Element i lives in byte
 *          i / 4 at bits 2*(i % 4) .. 2*(i % 4)+1 (little-endian within a byte).
 *          This is the storage/interchange layout; SIMD kernels may repack
 *          into their own layouts (documented in their headers).
 *   t1.6 : base 3, 5 values per byte: byte = sum_{j=0..4} (v_j + 1) * 3^j,
 *          so a byte is in [0, 242]; larger bytes are invalid. A final partial
 *          block pads with v = 0 (code 1). 1.6 bits per value.
 * bn_t2_pack / bn_t16_pack pad a final partial block with v = 0 (code 1) for
 * both types, so kernels reading whole blocks add nothing for the padding.
 * to_f32 of a packed type reads an invalid code (t2 code 3, t1.6 byte > 242)
 * as NaN; from_f32 changes only the fields of elements [first, first+n) and
 * keeps the rest of each byte (a t1.6 byte > 242 is first taken as all-zero
 * trits), so a fresh packed buffer should be filled with the zero pattern
 * (0x55 for t2, 121 for t1.6) before partial writes.
 * Packed tensors are always contiguous streams of blocks; views that would
 * split a block are refused with BN_ERR_DTYPE (convert to i8 first).
 *
 * f64 is a storage and linear-algebra type: tensors of it can be created,
 * viewed, copied and cast (through double, exactly), and linalg.h computes in
 * it; the element-wise ops, reductions and matmul refuse it with BN_ERR_DTYPE
 * (cast to f32 first). Its to_f32/from_f32 round to nearest.
 */
#ifndef BITNET_DTYPE_H
#define BITNET_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum suffix, name) */
#define BN_DTYPE_LIST(X)                                                                           \
    X(F32, "f32")                                                                                  \
    X(F16, "f16")                                                                                  \
    X(BF16, "bf16")                                                                                \
    X(I8, "i8")                                                                                    \
    X(I32, "i32")                                                                                  \
    X(T2, "t2")                                                                                    \
    X(T1_6, "t1.6")                                                                                \
    X(F64, "f64")

typedef enum bn_dtype {
#define BN_DTYPE_ENUM_(sfx, name) BN_##sfx,
    BN_DTYPE_LIST(BN_DTYPE_ENUM_)
#undef BN_DTYPE_ENUM_
        BN_DTYPE_COUNT
} bn_dtype;

/* Converts n elements starting at element index `first` of a (possibly packed)
 * array to / from f32. For packed types, `first` may be any element index.
 * from_f32 to i8/i32/t2/t1.6 rounds half to even, clamps to the range
 * ({-1,0,1} for ternary) and maps NaN to 0. */
typedef void (*bn_to_f32_fn)(const void *src, int64_t first, float *dst, int64_t n);
typedef void (*bn_from_f32_fn)(const float *src, void *dst, int64_t first, int64_t n);

typedef struct bn_dtype_traits {
    const char *name;        /* "f32", "t1.6" */
    int bits;                /* storage bits per element for unpacked types; 2 for t2, 0 for t1.6 */
    int64_t block;           /* elements per storage block: 1, 4 (t2) or 5 (t1.6) */
    size_t block_bytes;      /* bytes per block: element size for unpacked types, 1 for packed */
    bool is_float;           /* f32, f16, bf16, f64 */
    bool is_int;             /* i8, i32 */
    bool is_packed;          /* t2, t1.6 */
    bn_to_f32_fn to_f32;     /* never NULL */
    bn_from_f32_fn from_f32; /* never NULL; packed/int types round to nearest and clamp */
} bn_dtype_traits;

/* Traits of a dtype; BN_ASSERTs that dt is a valid enum value. */
const bn_dtype_traits *bn_dtype_info(bn_dtype dt);
const char *bn_dtype_name(bn_dtype dt);
/* Parses "f32", "t1.6", ... ; BN_ERR_DTYPE with a message listing valid names. */
bn_status bn_dtype_from_name(const char *name, bn_dtype *out);
/* true when dt is a valid enum value */
bool bn_dtype_valid(int dt);
/* Element size in bytes for unpacked types, 0 for packed ones. */
size_t bn_dtype_size(bn_dtype dt);
/* Bytes needed to store n elements (packed: whole blocks). BN_ERR_OVERFLOW
 * when that does not fit in size_t, BN_ERR_ARG when n < 0. */
bn_status bn_dtype_nbytes(bn_dtype dt, int64_t n, size_t *out);

/* Scalar conversions: round-to-nearest-even; NaN stays NaN (quiet), +-Inf and
 * subnormals exact where representable, overflow to +-Inf. */
uint16_t bn_f32_to_f16(float x);
float bn_f16_to_f32(uint16_t h);
uint16_t bn_f32_to_bf16(float x);
float bn_bf16_to_f32(uint16_t b);

/* Ternary packing between plain int8 arrays holding {-1,0,1} and the packed
 * layouts above. pack returns BN_ERR_ARG (naming the index and value) when a
 * source value is outside {-1,0,1}; unpack returns BN_ERR_ARG on an invalid
 * code. dst must hold bn_dtype_nbytes(...) bytes (pack) or n bytes (unpack). */
bn_status bn_t2_pack(const int8_t *src, int64_t n, uint8_t *dst);
bn_status bn_t2_unpack(const uint8_t *src, int64_t n, int8_t *dst);
bn_status bn_t16_pack(const int8_t *src, int64_t n, uint8_t *dst);
bn_status bn_t16_unpack(const uint8_t *src, int64_t n, int8_t *dst);

#ifdef __cplusplus
}
#endif
#endif
