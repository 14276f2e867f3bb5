/*
 * x86.h - the x86 SIMD row kernels that registry.c puts into the avx2 and
 * avx512 kernel-set contexts. Bodies live in kernels/x86/avx2/ and kernels/x86/avx512/,
 * the only objects compiled with ISA flags; nothing may call them unless
 * bnk_isa_supported() said yes for their set (registry.c guarantees it).
 *
 * Row contracts are those of kernels/kernels.h. Accuracy against the
 * reference:
 *  - add, sub, mul, div, maximum, minimum, fma: bit-identical (they are the
 *    same correctly rounded IEEE operations; a single NaN input comes out
 *    quieted with its payload, as in the reference). Where two or more
 *    inputs are NaN the result is a NaN whose payload may be either input's:
 *    IEEE 754 leaves that open, x86 returns the first source operand's, and
 *    compilers commute the operands of a + b freely, so not even the
 *    reference's own choice is fixed across builds.
 *  - f16/bf16 conversions: bit-identical with bn_f16_to_f32 & co., NaN
 *    payloads, infinities and subnormals included. (AVX-512 BF16's
 *    vcvtneps2bf16 is not used: it flushes subnormal inputs to zero, where
 *    bn_f32_to_bf16 rounds them; the integer rounding used instead is exact.)
 * Fast paths: every operand with stride 1, or an input with stride 0 (a
 * broadcast scalar); other strides run a scalar loop of the same operation.
 * Unaligned pointers are fine; tails use masked (AVX-512) or scalar (AVX2)
 * code. A contiguous output of at least bnk_stream_min_bytes() (the LLC
 * size) is written with non-temporal stores from its first 64-byte
 * boundary on, and fenced (sfence) before the kernel returns.
 */
#ifndef BITNET_KERNELS_X86_H
#define BITNET_KERNELS_X86_H

#include "kernels/kernels.h"

/* Each kernel is declared by its full name, so a search for the name finds
 * its declaration here and its definition in kernels/x86/<isa>/. */
#define BNK_X86_DECL_BINARY(fn)                                                                    \
    void fn(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,           \
            int64_t sy);
#define BNK_X86_DECL_FMA(fn)                                                                       \
    void fn(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, const float *c,     \
            int64_t sc, float *y, int64_t sy);
#define BNK_X86_DECL_TO_F32(fn)   void fn(int64_t n, const uint16_t *x, int64_t sx, float *y);
#define BNK_X86_DECL_FROM_F32(fn) void fn(int64_t n, const float *x, uint16_t *y, int64_t sy);
BNK_X86_DECL_BINARY(bnk_avx2_add_f32)
BNK_X86_DECL_BINARY(bnk_avx2_sub_f32)
BNK_X86_DECL_BINARY(bnk_avx2_mul_f32)
BNK_X86_DECL_BINARY(bnk_avx2_div_f32)
BNK_X86_DECL_BINARY(bnk_avx2_maximum_f32)
BNK_X86_DECL_BINARY(bnk_avx2_minimum_f32)
BNK_X86_DECL_FMA(bnk_avx2_fma_f32)
BNK_X86_DECL_TO_F32(bnk_avx2_f16_to_f32)
BNK_X86_DECL_FROM_F32(bnk_avx2_f32_to_f16)
BNK_X86_DECL_TO_F32(bnk_avx2_bf16_to_f32)
BNK_X86_DECL_FROM_F32(bnk_avx2_f32_to_bf16)

BNK_X86_DECL_BINARY(bnk_avx512_add_f32)
BNK_X86_DECL_BINARY(bnk_avx512_sub_f32)
BNK_X86_DECL_BINARY(bnk_avx512_mul_f32)
BNK_X86_DECL_BINARY(bnk_avx512_div_f32)
BNK_X86_DECL_BINARY(bnk_avx512_maximum_f32)
BNK_X86_DECL_BINARY(bnk_avx512_minimum_f32)
BNK_X86_DECL_FMA(bnk_avx512_fma_f32)
BNK_X86_DECL_TO_F32(bnk_avx512_f16_to_f32)
BNK_X86_DECL_FROM_F32(bnk_avx512_f32_to_f16)
BNK_X86_DECL_TO_F32(bnk_avx512_bf16_to_f32)
BNK_X86_DECL_FROM_F32(bnk_avx512_f32_to_bf16)

#undef BNK_X86_DECL_BINARY
#undef BNK_X86_DECL_FMA
#undef BNK_X86_DECL_TO_F32
#undef BNK_X86_DECL_FROM_F32

#endif
