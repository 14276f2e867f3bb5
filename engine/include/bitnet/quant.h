/*
 * quant.h - BitNet b1.58 quantization, the kernel layout of ternary weights,
 * the W1.58A8 matrix product and BitLinear.
 *
 * Numbers (the BitNet b1.58 recipe):
 *   weights      absmean: s_w = mean(|W|) over the tensor (or over each output
 *                row), W_q = clamp(round(W / s_w), -1, 1), W ~ W_q * s_w.
 *   activations  absmax per token row: s_x = max|x| / 127, x_q = clamp(
 *                round(x * 127 / max|x|), -127, 127), x ~ x_q * s_x. The
 *                quantization multiplier of the paper is 127 / max|x| = 1 / s_x.
 *   product      y[j, i] = s_w(i) * s_x(j) * sum_k W_q[i, k] x_q[j, k]; the
 *                integer sum is exact (int32).
 * Rounding is to nearest, ties to even (W / s_w = +-0.5 gives 0). Degenerate
 * inputs are defined, never NaN: an all-zero weight group has s_w = 0 and
 * W_q = 0; an all-zero activation row has s_x = 0 and x_q = 0; a scale that
 * underflows f32 is treated the same way. Non-finite inputs are refused
 * (BN_ERR_ARG naming the index).
 *
 * Storage formats and bytes per weight (bn_ternary_bytes_per_weight):
 *   i8     1      plain int8 {-1, 0, 1}
 *   t2     0.25   2-bit codes, 4 a byte (dtype.h: interchange layout)
 *   t1.6   0.2    5 trits a byte (dtype.h: storage layout)
 *   t2k    64 * ceil(K / 256) / K  (0.25 when 256 divides K): the kernel
 *          layout below.
 *
 * The t2k kernel layout. An M x K ternary matrix takes M *
 * bn_t2k_row_bytes(K) bytes, row_bytes = 64 * ceil(K / 256): each row is
 * ceil(K / 256) blocks of 64 bytes. In block b of a row, byte j (0 <= j < 64)
 * holds the codes (w + 1, in {0, 1, 2}) of four weights:
 *     bits 0-1: k = 256 b + j          bits 4-5: k = 256 b + 128 + j
 *     bits 2-3: k = 256 b + 64 + j     bits 6-7: k = 256 b + 192 + j
 * so AND-ing a 64-byte block (one zmm) with 0x03, 0x0C, 0x30, 0xC0 gives four
 * 64-byte vectors of unsigned codes scaled by 1, 4, 16, 64, each aligned byte
 * for byte with 64 consecutive activations: the u8 operand of vpdpbusd, whose
 * s8 operand is the activations. With codes, dot(w, x) = dot(code, x) -
 * sum(x), so kernels take the activation row sums. Weights k >= K (padding to
 * the block) have code 1 (w = 0); kernels read activations only below K and
 * treat the padding as x = 0. Code 3 never occurs. K <= BN_T2K_MAX_K keeps
 * every int32 partial sum in range.
 *
 * Rows are stored in panels of BN_T2K_PANEL = 4 consecutive rows, their
 * blocks interleaved: panel p (rows 4p .. 4p + P - 1, P = 4 except in a last
 * panel of M mod 4 rows) starts at byte 4 p row_bytes, and block b of its
 * row r (0 <= r < P) is the 64 bytes at (b P + r) * 64 from there
 * (bn_t2k_block_offset). The kernels work on 4 rows at a time, so a panel is
 * one sequential stream of weights (reading 4 separate rows was about 10%
 * slower at decode, where the weights stream from L3). A row range [i0, i1)
 * with i0 a multiple of 4, and i1 a multiple of 4 or M, is itself a t2k
 * matrix of i1 - i0 rows at byte i0 * row_bytes: the unit of splitting work.
 *
 * The kernels behind the product, one set per ISA (ref, AVX2 vpmaddubsw,
 * AVX-512 VNNI vpdpbusd, AMX-INT8 tiles where the CPU and OS allow), are
 * described in kernels/ternary.h; all give the same exact int32 results.
 *
 * Thread-safety: everything here is reentrant; bn_ternary_matmul and
 * bn_bitlinear_forward use the thread pool (threads.h) unless told not to.
 */
#ifndef BITNET_QUANT_H
#define BITNET_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BN_T2K_BLOCK 256       /* weights per 64-byte block */
#define BN_T2K_MAX_K (1 << 22) /* largest K the int32 kernels accept */
#define BN_T2K_PANEL 4         /* rows per interleaved panel */

typedef enum bn_quant_group {
    BN_QUANT_PER_TENSOR = 0, /* one scale for the whole matrix */
    BN_QUANT_PER_ROW = 1,    /* one scale per output row */
} bn_quant_group;

/* Ternary storage formats (bn_ternary_bytes_per_weight). */
typedef enum bn_ternary_format {
    BN_TFMT_I8 = 0,
    BN_TFMT_T2,
    BN_TFMT_T16,
    BN_TFMT_T2K,
    BN_TFMT_COUNT
} bn_ternary_format;

/* Bytes a weight takes in format f in a row of K weights (K >= 1): the exact
 * size of the packed row divided by K. "i8", "t2", "t1.6", "t2k". */
double bn_ternary_bytes_per_weight(bn_ternary_format f, int64_t K);
const char *bn_ternary_format_name(bn_ternary_format f);

/*
 * Absmean quantization of a row-major M x K f32 matrix w into wq (M*K int8 in
 * {-1,0,1}) and scales (1 scale per tensor, or M per row). The mean of |w| is
 * accumulated in double. BN_ERR_ARG for M or K < 0, or a non-finite weight
 * (naming its row and column).
 */
bn_status bn_quant_weights_absmean(const float *w, int64_t M, int64_t K, bn_quant_group g,
                                   int8_t *wq, float *scales);
/* w[i, k] = wq[i, k] * scale(i) (scales as above). */
void bn_dequant_weights(const int8_t *wq, int64_t M, int64_t K, bn_quant_group g,
                        const float *scales, float *w);

/*
 * Absmax quantization of n rows of K floats (row j at x + j * ldx) into int8
 * rows (row j at xq + j * ldq) in [-127, 127], with scales[j] = max|x_j| / 127
 * and, when sums is not NULL, sums[j] = sum_k xq[j, k] (what the ternary
 * kernels need). Uses the active kernel set. BN_ERR_ARG for n, K < 0, ldx or
 * ldq < K when n > 1 (a single row ignores them), or a non-finite input
 * (naming row and column).
 */
bn_status bn_quant_act_absmax(const float *x, int64_t n, int64_t K, int64_t ldx, int8_t *xq,
                              int64_t ldq, float *scales, int32_t *sums);

/* ---- the t2k kernel layout -------------------------------------------- */

/* Bytes of one packed row: 64 * ceil(K / 256) (0 for K == 0). */
size_t bn_t2k_row_bytes(int64_t K);
/* Byte offset of block b of row i in an M-row t2k matrix of K columns (the
 * panel layout above): 4 p row_bytes + (b P + r) 64 with p = i / 4,
 * r = i % 4, P = min(4, M - 4 p). Row i's blocks follow at steps of 64 P
 * bytes. Requires 0 <= i < M and 0 <= b < ceil(K / 256) (BN_ASSERT). */
size_t bn_t2k_block_offset(int64_t M, int64_t K, int64_t i, int64_t b);

/* Packs a row-major M x K int8 {-1,0,1} matrix into dst (M * row_bytes).
 * BN_ERR_ARG naming row, column and value for anything outside {-1,0,1}, or
 * for K > BN_T2K_MAX_K or negative sizes. */
bn_status bn_t2k_pack_i8(const int8_t *w, int64_t M, int64_t K, uint8_t *dst);
/* The inverse; BN_ERR_ARG on a code-3 field (corrupt data). */
bn_status bn_t2k_unpack_i8(const uint8_t *src, int64_t M, int64_t K, int8_t *w);
/* From / to the dtype.h storage layouts of the same M x K matrix stored as one
 * stream of M * K elements (element (i, k) is number i * K + k). t2 needs
 * ceil(M*K/4) bytes, t1.6 ceil(M*K/5). Invalid codes give BN_ERR_ARG. */
bn_status bn_t2k_from_t2(const uint8_t *t2, int64_t M, int64_t K, uint8_t *dst);
bn_status bn_t2k_to_t2(const uint8_t *src, int64_t M, int64_t K, uint8_t *t2);
bn_status bn_t2k_from_t16(const uint8_t *t16, int64_t M, int64_t K, uint8_t *dst);
bn_status bn_t2k_to_t16(const uint8_t *src, int64_t M, int64_t K, uint8_t *t16);

/*
 * y[j * ldy + i] = sum_k w[i, k] * x[j * ldx + k]  (int32, exact)
 * for i < M, j < n: the W1.58A8 product of n activation rows with the M x K
 * t2k matrix w. xsum[j] must be sum_k x[j, k] (NULL: computed here). Uses
 * the active kernel set; splits the rows of w over the thread pool unless
 * serial. BN_ERR_ARG for negative sizes, K > BN_T2K_MAX_K, ldx < K or
 * ldy < M; BN_ERR_OOM when xsum is NULL and its buffer cannot be allocated.
 */
bn_status bn_ternary_matmul(const uint8_t *w, int64_t M, int64_t K, const int8_t *x, int64_t n,
                            int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy, bool serial);

/* ---- BitLinear ---------------------------------------------------------- */

typedef struct bn_bitlinear_opts {
    bn_quant_group group;     /* weight scale per tensor (default) or per row */
    bool rmsnorm;             /* normalise each input row first */
    const float *norm_weight; /* K gains of the RMSNorm, or NULL (all 1); copied */
    float eps;                /* RMSNorm epsilon (e.g. 1e-5) */
    bool serial;              /* run on the calling thread only (no pool) */
} bn_bitlinear_opts;

/* Opaque: the packed weights, their scales, bias and norm gains. */
typedef struct bn_bitlinear bn_bitlinear;

/*
 * Builds a layer y = x W^T + b from f32 weights w (row-major M x K, M =
 * out_features, K = in_features): quantizes them (absmean) and packs them into
 * t2k. bias (M floats) may be NULL; opts may be NULL (defaults: per tensor, no
 * norm, pool). Copies everything it keeps. BN_ERR_ARG for sizes out of range
 * or non-finite weights; BN_ERR_OOM. *out is NULL on error.
 */
bn_status bn_bitlinear_create(const float *w, int64_t M, int64_t K, const float *bias,
                              const bn_bitlinear_opts *opts, bn_bitlinear **out);
void bn_bitlinear_free(bn_bitlinear *bl);

/*
 * y[n, M] = rescale(ternary(quant(rmsnorm?(x[n, K])))) + bias: each input row
 * (row j at x + j * K) is optionally RMS-normalised, quantized absmax to int8,
 * multiplied exactly with the ternary weights, and scaled by s_w * s_x. y is
 * row-major n x M and must not overlap x. Scratch is allocated per call
 * (BN_ERR_OOM). BN_ERR_ARG for n < 0 or a non-finite input.
 */
bn_status bn_bitlinear_forward(const bn_bitlinear *bl, const float *x, int64_t n, float *y);

/* Accessors (for tests and benchmarks). */
int64_t bn_bitlinear_in(const bn_bitlinear *bl);
int64_t bn_bitlinear_out(const bn_bitlinear *bl);
const uint8_t *bn_bitlinear_weights(const bn_bitlinear *bl); /* t2k, M rows */
const float *bn_bitlinear_scales(const bn_bitlinear *bl);    /* 1 or M */
bn_quant_group bn_bitlinear_group(const bn_bitlinear *bl);

#ifdef __cplusplus
}
#endif
#endif
