/*
 * quant.c - BitNet b1.58 quantization (absmean weights, absmax activations)
 * and the t2k kernel layout's packing and conversions (contract in
 * bitnet/quant.h).
 *
 * Scales are computed in double and rounded once to f32; the per-element
 * work of activation quantization (max |x|, scale-round-clamp, row sum) runs
 * in the active kernel set because BitLinear pays for it on every token.
 * Conversions from and to the dtype.h streams go through a plain int8 copy of
 * the matrix: they are load-time operations, and reusing bn_t2_pack /
 * bn_t16_pack keeps one definition of each storage layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "bitnet/dtype.h"
#include "bitnet/quant.h"
#include "kernels/kernels.h"
#include "kernels/ternary.h"

static const char *const fmt_names[BN_TFMT_COUNT] = {
    [BN_TFMT_I8] = "i8", [BN_TFMT_T2] = "t2", [BN_TFMT_T16] = "t1.6", [BN_TFMT_T2K] = "t2k"};

const char *bn_ternary_format_name(bn_ternary_format f)
{
    BN_ASSERT(f >= 0 && f < BN_TFMT_COUNT);
    return fmt_names[f];
}

double bn_ternary_bytes_per_weight(bn_ternary_format f, int64_t K)
{
    BN_ASSERT(f >= 0 && f < BN_TFMT_COUNT && K >= 1);
    switch (f) {
    case BN_TFMT_I8:
        return 1.0;
    case BN_TFMT_T2:
        return (double)((K + 3) / 4) / (double)K;
    case BN_TFMT_T16:
        return (double)((K + 4) / 5) / (double)K;
    default:
        return (double)bn_t2k_row_bytes(K) / (double)K;
    }
}

/* ---- weights -------------------------------------------------------------- */

bn_status bn_quant_weights_absmean(const float *w, int64_t M, int64_t K, bn_quant_group g,
                                   int8_t *wq, float *scales)
{
    if (M < 0 || K < 0)
        return bn_error(BN_ERR_ARG, "quant_weights: negative size M=%lld K=%lld", (long long)M,
                        (long long)K);
    if (g != BN_QUANT_PER_TENSOR && g != BN_QUANT_PER_ROW)
        return bn_error(BN_ERR_ARG, "quant_weights: unknown group %d", (int)g);
    if (M == 0 || K == 0) {
        if (g == BN_QUANT_PER_TENSOR)
            scales[0] = 0.0f;
        else
            for (int64_t i = 0; i < M; i++)
                scales[i] = 0.0f;
        return BN_OK;
    }
    BN_ASSERT(w && wq && scales);
    double total = 0.0;
    for (int64_t i = 0; i < M; i++) {
        double s = 0.0;
        for (int64_t k = 0; k < K; k++) {
            float v = w[i * K + k];
            if (!isfinite(v))
                return bn_error(BN_ERR_ARG, "quant_weights: weight [%lld, %lld] is %g",
                                (long long)i, (long long)k, (double)v);
            s += fabs((double)v);
        }
        if (g == BN_QUANT_PER_ROW)
            scales[i] = (float)(s / (double)K);
        total += s;
    }
    if (g == BN_QUANT_PER_TENSOR)
        scales[0] = (float)(total / ((double)M * (double)K));
    for (int64_t i = 0; i < M; i++) {
        double s = scales[g == BN_QUANT_PER_ROW ? i : 0];
        for (int64_t k = 0; k < K; k++) {
            /* round to nearest, ties to even, then clamp to [-1, 1] */
            double q = s > 0.0 ? (double)w[i * K + k] / s : 0.0;
            wq[i * K + k] = (int8_t)(q > 0.5 ? 1 : (q < -0.5 ? -1 : 0));
        }
    }
    return BN_OK;
}

void bn_dequant_weights(const int8_t *wq, int64_t M, int64_t K, bn_quant_group g,
                        const float *scales, float *w)
{
    for (int64_t i = 0; i < M; i++) {
        float s = scales[g == BN_QUANT_PER_ROW ? i : 0];
        for (int64_t k = 0; k < K; k++)
            w[i * K + k] = (float)wq[i * K + k] * s;
    }
}

/* ---- activations ------------------------------------------------------------ */

bn_status bn_quant_act_absmax(const float *x, int64_t n, int64_t K, int64_t ldx, int8_t *xq,
                              int64_t ldq, float *scales, int32_t *sums)
{
    if (n < 0 || K < 0)
        return bn_error(BN_ERR_ARG, "quant_act: negative size n=%lld K=%lld", (long long)n,
                        (long long)K);
    if (n > 1 && (ldx < K || ldq < K))
        return bn_error(BN_ERR_ARG, "quant_act: leading dimensions ldx=%lld ldq=%lld below K=%lld",
                        (long long)ldx, (long long)ldq, (long long)K);
    const bnk_ternary_impl *impl = bnk_active()->ternary;
    for (int64_t j = 0; j < n; j++) {
        const float *xr = x + j * ldx;
        int8_t *qr = xq + j * ldq;
        float m = K > 0 ? impl->absmax(K, xr) : 0.0f;
        if (!isfinite(m)) {
            for (int64_t k = 0; k < K; k++)
                if (!isfinite(xr[k]))
                    return bn_error(BN_ERR_ARG, "quant_act: input [%lld, %lld] is %g", (long long)j,
                                    (long long)k, (double)xr[k]);
        }
        int32_t sum = 0;
        double mul = m > 0.0f ? 127.0 / (double)m : 0.0;
        if (m == 0.0f) {
            memset(qr, 0, (size_t)K);
        } else if (mul <= 1e30) {
            sum = impl->quant(K, xr, (float)mul, qr);
        } else {
            /* max |x| so small that 127 / max overflows f32: scale in double */
            for (int64_t k = 0; k < K; k++) {
                double v = rint((double)xr[k] * mul);
                v = v > 127.0 ? 127.0 : (v < -127.0 ? -127.0 : v);
                qr[k] = (int8_t)v;
                sum += qr[k];
            }
        }
        scales[j] = (float)((double)m / 127.0);
        if (sums)
            sums[j] = sum;
    }
    return BN_OK;
}

/* ---- t2k ---------------------------------------------------------------------- */

size_t bn_t2k_row_bytes(int64_t K)
{
    return K <= 0 ? 0 : (size_t)((K + BN_T2K_BLOCK - 1) / BN_T2K_BLOCK) * 64;
}

size_t bn_t2k_block_offset(int64_t M, int64_t K, int64_t i, int64_t b)
{
    BN_ASSERT(i >= 0 && i < M && b >= 0 && b < (K + BN_T2K_BLOCK - 1) / BN_T2K_BLOCK);
    int64_t p0 = i - i % BN_T2K_PANEL;
    int64_t P = M - p0 < BN_T2K_PANEL ? M - p0 : BN_T2K_PANEL;
    return (size_t)p0 * bn_t2k_row_bytes(K) + (size_t)(b * P + (i - p0)) * 64;
}

/* Bytes between consecutive blocks of row i of an M-row t2k matrix. */
static size_t block_step(int64_t M, int64_t i)
{
    int64_t p0 = i - i % BN_T2K_PANEL;
    return (size_t)(M - p0 < BN_T2K_PANEL ? M - p0 : BN_T2K_PANEL) * 64;
}

static bn_status check_mk(const char *op, int64_t M, int64_t K)
{
    if (M < 0 || K < 0)
        return bn_error(BN_ERR_ARG, "%s: negative size M=%lld K=%lld", op, (long long)M,
                        (long long)K);
    if (K > BN_T2K_MAX_K)
        return bn_error(BN_ERR_ARG, "%s: K=%lld exceeds the t2k limit %d", op, (long long)K,
                        BN_T2K_MAX_K);
    return BN_OK;
}

bn_status bn_t2k_pack_i8(const int8_t *w, int64_t M, int64_t K, uint8_t *dst)
{
    bn_status st = check_mk("t2k_pack", M, K);
    if (st != BN_OK)
        return st;
    for (int64_t i = 0; i < M; i++) {
        const int8_t *row = w + i * K;
        for (int64_t k = 0; k < K; k++)
            if (row[k] < -1 || row[k] > 1)
                return bn_error(BN_ERR_ARG, "t2k_pack: weight [%lld, %lld] is %d, not in {-1,0,1}",
                                (long long)i, (long long)k, row[k]);
    }
    if (M > 0 && K > 0) /* code 1 (w = 0) everywhere: the padding */
        memset(dst, 0x55, (size_t)M * bn_t2k_row_bytes(K));
    for (int64_t i = 0; i < M && K > 0; i++) {
        const int8_t *row = w + i * K;
        uint8_t *out = dst + bn_t2k_block_offset(M, K, i, 0);
        size_t step = block_step(M, i);
        for (int64_t k = 0; k < K; k++) {
            int64_t b = k / BN_T2K_BLOCK, r = k % BN_T2K_BLOCK;
            int sh = 2 * (int)(r / 64);
            uint8_t *p = out + (size_t)b * step + r % 64;
            *p = (uint8_t)((*p & ~(3u << sh)) | ((unsigned)(row[k] + 1) << sh));
        }
    }
    return BN_OK;
}

bn_status bn_t2k_unpack_i8(const uint8_t *src, int64_t M, int64_t K, int8_t *w)
{
    bn_status st = check_mk("t2k_unpack", M, K);
    if (st != BN_OK)
        return st;
    for (int64_t i = 0; i < M && K > 0; i++) {
        const uint8_t *row = src + bn_t2k_block_offset(M, K, i, 0);
        size_t step = block_step(M, i);
        for (int64_t k = 0; k < K; k++) {
            int64_t b = k / BN_T2K_BLOCK, r = k % BN_T2K_BLOCK;
            int code = (row[(size_t)b * step + r % 64] >> (2 * (r / 64))) & 3;
            if (code == 3)
                return bn_error(BN_ERR_ARG, "t2k_unpack: invalid code 3 at [%lld, %lld]",
                                (long long)i, (long long)k);
            w[i * K + k] = (int8_t)(code - 1);
        }
    }
    return BN_OK;
}

/* Converts through a plain int8 copy of the M x K matrix. */

static bn_status via_i8(const char *op, int64_t M, int64_t K, bool to_t2k, const uint8_t *src,
                        uint8_t *dst, bn_status (*unpack)(const uint8_t *, int64_t, int8_t *),
                        bn_status (*pack)(const int8_t *, int64_t, uint8_t *))
{
    bn_status st = check_mk(op, M, K);
    if (st != BN_OK)
        return st;
    if (M > 0 && K > INT64_MAX / M)
        return bn_error(BN_ERR_OVERFLOW, "%s: M*K overflows (M=%lld K=%lld)", op, (long long)M,
                        (long long)K);
    int64_t n = M * K;
    if (n == 0)
        return BN_OK;
    int8_t *tmp = alloc__malloc((size_t)n);
    if (!tmp)
        return bn_error(BN_ERR_OOM, "%s: cannot allocate %lld bytes", op, (long long)n);
    if (to_t2k) {
        st = unpack(src, n, tmp);
        if (st == BN_OK)
            st = bn_t2k_pack_i8(tmp, M, K, dst);
    } else {
        st = bn_t2k_unpack_i8(src, M, K, tmp);
        if (st == BN_OK)
            st = pack(tmp, n, dst);
    }
    alloc__free(tmp);
    return st;
}

bn_status bn_t2k_from_t2(const uint8_t *t2, int64_t M, int64_t K, uint8_t *dst)
{
    return via_i8("t2k_from_t2", M, K, true, t2, dst, bn_t2_unpack, NULL);
}

bn_status bn_t2k_to_t2(const uint8_t *src, int64_t M, int64_t K, uint8_t *t2)
{
    return via_i8("t2k_to_t2", M, K, false, src, t2, NULL, bn_t2_pack);
}

bn_status bn_t2k_from_t16(const uint8_t *t16, int64_t M, int64_t K, uint8_t *dst)
{
    return via_i8("t2k_from_t16", M, K, true, t16, dst, bn_t16_unpack, NULL);
}

bn_status bn_t2k_to_t16(const uint8_t *src, int64_t M, int64_t K, uint8_t *t16)
{
    return via_i8("t2k_to_t16", M, K, false, src, t16, NULL, bn_t16_pack);
}
