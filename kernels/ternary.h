/*
 * ternary.h - the W1.58A8 kernels: int8 activations times ternary weights in
 * the t2k layout (bitnet/quant.h), one set per ISA, and the choice of set.
 *
 * Product kernel (bnk_t2k_gemm_fn), single-threaded, for a block of rows:
 *
 *     y[j * ldy + i] = sum_{k < K} w(i, k) * x[j * ldx + k]     i < M, j < n
 *
 * w is an M-row t2k matrix (panels of 4 interleaved rows); x is int8 (any
 * value in [-128, 127]); xsum[j] must equal sum_k x[j * ldx + k]. The result
 * is exact (int32) and bit-identical across sets: every kernel computes
 * dot(code, x) - xsum with code = w + 1. 1 <= K <= BN_T2K_MAX_K; M, n >= 0
 * (0 touches nothing). x is read only below K in each row (tails are copied
 * into zero-padded scratch on the stack), so no padding is required of the
 * caller. No alignment is assumed, but w 64-byte aligned (so every 64-byte
 * block is one cache line) is markedly faster for the SIMD sets. y must not overlap w, x or xsum.
 * Callers split work over threads by calling on disjoint row ranges [i0, i1)
 * of w (w + i0 * row_bytes, y + i0, i1 - i0 rows) with i0 a multiple of
 * BN_T2K_PANEL and i1 a multiple of it or M (quant.h: such a range is a t2k
 * matrix of its own).
 *
 * Sets:
 *   ref     portable C, decodes one code at a time (the truth).
 *   avx2    vpmaddubsw on 32-byte halves of a block: codes (w >> 2f) & 3 as
 *           the unsigned operand (|pair| <= 2 * 2 * 128, no i16 saturation),
 *           i16 sums of one block (<= 8 * 512) widened with vpmaddwd.
 *           4 weight rows at a time share each activation load.
 *   avx512  AVX-512 VNNI vpdpbusd. n == 1 (decode): one 4-row panel at a
 *           time, the block ANDed with 0x03/0x0C/0x30/0xC0 into four
 *           accumulators scaled 1/4/16/64 (no shifts), combined with exact
 *           arithmetic shifts at the end and reduced while the next panel
 *           runs. n > 1 (prefill): 4 weight rows x up to 6
 *           activation rows of accumulators; each unpacked weight vector
 *           feeds 6 vpdpbusd.
 *   amx     AMX-INT8 TDPBUSD tiles for n >= 16 (kernels/x86/avx512/
 *           ternary_amx.c), avx512 below. Offered only when CPUID has
 *           AMX-TILE and AMX-INT8 and Linux grants the tile data state
 *           (arch_prctl(ARCH_REQ_XCOMP_PERM)); otherwise reported not
 *           available with the reason (e.g. on AMD Zen 4, which has no AMX).
 *
 * Activation kernels: absmax(K, x) = max |x[k]| (NaN not expected: callers
 * check finiteness); quant(K, x, mul, q) writes q[k] = clamp(rne(x[k] * mul),
 * -127, 127) and returns sum q[k]; rne = round to nearest even in f32, the
 * same in every set (so quantized rows are identical too).
 */
#ifndef BITNET_KERNELS_TERNARY_H
#define BITNET_KERNELS_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet/quant.h"

typedef void (*bnk_t2k_gemm_fn)(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                                int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy);
typedef float (*bnk_absmax_fn)(int64_t K, const float *x);
typedef int32_t (*bnk_act_quant_fn)(int64_t K, const float *x, float mul, int8_t *q);

typedef struct bnk_ternary_impl {
    const char *name; /* "ref", "avx2", "avx512", "amx" (the BN_KERNELS spelling) */
    int (*available)(void);
    bnk_t2k_gemm_fn gemm;
    bnk_absmax_fn absmax;
    bnk_act_quant_fn quant;
} bnk_ternary_impl;

typedef enum bnk_ternary_isa {
    BNK_TERNARY_REF = 0,
    BNK_TERNARY_AVX2,
    BNK_TERNARY_AVX512,
    BNK_TERNARY_AMX,
    BNK_TERNARY_ISA_COUNT
} bnk_ternary_isa;

extern const bnk_ternary_impl bnk_ternary_impls[BNK_TERNARY_ISA_COUNT];

/* The set called name, or NULL when unknown (check ->available()). */
const bnk_ternary_impl *bnk_ternary_find(const char *name);
/* The set in use: the active kernel-set context's (bnk_active()->ternary,
 * following BN_KERNELS and bn_kernels_select): ref -> ref, avx2 -> avx2,
 * avx512 -> amx, else avx512, else avx2, as this CPU allows. Thread-safe,
 * cheap. */
const bnk_ternary_impl *bnk_ternary_active(void);

/* sum of x[0..K) */
int32_t bnk_t2k_rowsum(int64_t K, const int8_t *x);

void bnk_t2k_gemm_ref(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                      int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy);
float bnk_absmax_ref(int64_t K, const float *x);
int32_t bnk_act_quant_ref(int64_t K, const float *x, float mul, int8_t *q);

void bnk_t2k_gemm_avx2(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                       int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy);
float bnk_absmax_avx2(int64_t K, const float *x);
int32_t bnk_act_quant_avx2(int64_t K, const float *x, float mul, int8_t *q);

void bnk_t2k_gemm_avx512(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                         int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy);
float bnk_absmax_avx512(int64_t K, const float *x);
int32_t bnk_act_quant_avx512(int64_t K, const float *x, float mul, int8_t *q);

/* AMX-INT8 set: tiles for n >= BNK_AMX_MIN_N, the avx512 kernel below that.
 * Activation kernels are avx512's. */
#define BNK_AMX_MIN_N 16
void bnk_t2k_gemm_amx(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                      int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy);
/* Why the amx set is or is not available here: "available", or the reason
 * ("CPU lacks AMX-TILE/AMX-INT8 (CPUID)", "kernel refused tile data
 * permission (arch_prctl: ...)"): the CPU probe's answer (kernels/kernels.h,
 * bnk_cpu_get), which asks for the permission once, on a CPU with AMX. */
const char *bnk_ternary_amx_status(void);

/* Peak probe: `blocks` x BNK_VNNI_PEAK_PER_BLOCK independent zmm vpdpbusd
 * (64 multiply-adds each) on 10 accumulators; returns their sum (8 * 64 *
 * 10 * blocks ... wrapped) so the work cannot be optimised away. */
#define BNK_VNNI_PEAK_PER_BLOCK 10
int32_t bnk_vnni_peak_probe_avx512(int64_t blocks);

#endif
