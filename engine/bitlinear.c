/*
 * bitlinear.c - the W1.58A8 product over the thread pool and the BitLinear
 * layer built on it (contracts in bitnet/quant.h).
 *
 * The product splits the rows of the weight matrix (output features) across
 * workers in units of 16 rows, so every worker runs whole 4-row kernel panels
 * and reads a disjoint slice of the weights; activations are shared
 * read-only. BitLinear allocates its scratch per call (quantized rows, their
 * scales and sums, the int32 products), so one layer object can serve
 * several threads at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/quant.h"
#include "bitnet/threads.h"
#include "alloc_internal.h"
#include "kernels/kernels.h"
#include "kernels/ternary.h"

#define ROW_UNIT 16 /* rows of W per parallel work item */
_Static_assert(ROW_UNIT % BN_T2K_PANEL == 0, "work items must be whole t2k panels (quant.h)");

typedef struct mm_job {
    bnk_t2k_gemm_fn gemm;
    const uint8_t *w;
    size_t rb;
    int64_t M, K, n, ldx, ldy;
    const int8_t *x;
    const int32_t *xsum;
    int32_t *y;
} mm_job;

static void mm_range(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    const mm_job *j = ctx;
    int64_t i0 = begin * ROW_UNIT, i1 = end * ROW_UNIT < j->M ? end * ROW_UNIT : j->M;
    if (i1 > i0)
        j->gemm(i1 - i0, j->n, j->K, j->w + (size_t)i0 * j->rb, j->x, j->ldx, j->xsum, j->y + i0,
                j->ldy);
}

bn_status bn_ternary_matmul(const uint8_t *w, int64_t M, int64_t K, const int8_t *x, int64_t n,
                            int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy, bool serial)
{
    if (M < 0 || K < 0 || n < 0)
        return bn_error(BN_ERR_ARG, "ternary_matmul: negative size M=%lld K=%lld n=%lld",
                        (long long)M, (long long)K, (long long)n);
    if (K > BN_T2K_MAX_K)
        return bn_error(BN_ERR_ARG, "ternary_matmul: K=%lld exceeds the t2k limit %d", (long long)K,
                        BN_T2K_MAX_K);
    if (n > 1 && ldx < K)
        return bn_error(BN_ERR_ARG, "ternary_matmul: ldx=%lld below K=%lld", (long long)ldx,
                        (long long)K);
    if (n > 1 && ldy < M)
        return bn_error(BN_ERR_ARG, "ternary_matmul: ldy=%lld below M=%lld", (long long)ldy,
                        (long long)M);
    if (M == 0 || n == 0)
        return BN_OK;
    if (K == 0) {
        for (int64_t j = 0; j < n; j++)
            memset(y + j * ldy, 0, (size_t)M * sizeof *y);
        return BN_OK;
    }
    int32_t *own = NULL;
    if (!xsum) {
        own = alloc__malloc((size_t)n * sizeof *own);
        if (!own)
            return bn_error(BN_ERR_OOM, "ternary_matmul: cannot allocate %lld row sums",
                            (long long)n);
        for (int64_t j = 0; j < n; j++)
            own[j] = bnk_t2k_rowsum(K, x + j * ldx);
        xsum = own;
    }
    mm_job job = {.gemm = bnk_active()->ternary->gemm,
                  .w = w,
                  .rb = bn_t2k_row_bytes(K),
                  .M = M,
                  .K = K,
                  .n = n,
                  .ldx = ldx,
                  .ldy = ldy,
                  .x = x,
                  .xsum = xsum,
                  .y = y};
    int64_t units = (M + ROW_UNIT - 1) / ROW_UNIT;
    bn_status st = BN_OK;
    if (serial) {
        mm_range(&job, 0, units, 0);
    } else {
        /* at least ~1M multiply-adds per chunk, so small layers stay serial */
        int64_t per_unit = ROW_UNIT * K * n;
        int64_t grain = per_unit >= (1 << 20) ? 1 : (1 << 20) / per_unit;
        st = bn_parallel_for(units, grain, mm_range, &job);
    }
    alloc__free(own);
    return st;
}

/* ---- BitLinear ---------------------------------------------------------------- */

struct bn_bitlinear {
    int64_t M, K;
    uint8_t *w;    /* t2k, M rows */
    float *scales; /* 1 or M */
    float *bias;   /* M or NULL */
    float *norm_w; /* K or NULL */
    bn_quant_group group;
    bool rmsnorm, serial;
    float eps;
};

void bn_bitlinear_free(bn_bitlinear *bl)
{
    if (!bl)
        return;
    alloc__free(bl->w);
    alloc__free(bl->scales);
    alloc__free(bl->bias);
    alloc__free(bl->norm_w);
    alloc__free(bl);
}

bn_status bn_bitlinear_create(const float *w, int64_t M, int64_t K, const float *bias,
                              const bn_bitlinear_opts *opts, bn_bitlinear **out)
{
    BN_ASSERT(out != NULL);
    *out = NULL;
    if (M < 1 || K < 1 || K > BN_T2K_MAX_K)
        return bn_error(BN_ERR_ARG,
                        "bitlinear: sizes out of range (M=%lld, K=%lld; need M >= 1, "
                        "1 <= K <= %d)",
                        (long long)M, (long long)K, BN_T2K_MAX_K);
    bn_bitlinear_opts o = {.group = BN_QUANT_PER_TENSOR, .eps = 1e-5f};
    if (opts)
        o = *opts;
    if (o.group != BN_QUANT_PER_TENSOR && o.group != BN_QUANT_PER_ROW)
        return bn_error(BN_ERR_ARG, "bitlinear: unknown weight group %d", (int)o.group);
    if (o.rmsnorm && !(o.eps >= 0.0f && isfinite(o.eps)))
        return bn_error(BN_ERR_ARG, "bitlinear: RMSNorm eps %g must be finite and >= 0",
                        (double)o.eps);
    bn_status st = BN_OK;
    int8_t *wq = NULL;
    bn_bitlinear *bl = alloc__calloc(1, sizeof *bl);
    if (!bl)
        goto oom;
    bl->M = M;
    bl->K = K;
    bl->group = o.group;
    bl->rmsnorm = o.rmsnorm;
    bl->serial = o.serial;
    bl->eps = o.eps;
    size_t rb = bn_t2k_row_bytes(K);
    if ((size_t)M > SIZE_MAX / rb || (size_t)M > SIZE_MAX / (size_t)K) {
        st = bn_error(BN_ERR_OVERFLOW, "bitlinear: %lld x %lld weights overflow size_t",
                      (long long)M, (long long)K);
        goto fail;
    }
    /* 64-byte aligned: every block is one cache line (a zmm load that
     * straddles two lines costs the decode kernel about a quarter) */
    bl->w = alloc__aligned(64, (size_t)M * rb);
    bl->scales = alloc__malloc((o.group == BN_QUANT_PER_ROW ? (size_t)M : 1) * sizeof(float));
    wq = alloc__malloc((size_t)M * (size_t)K);
    if (!bl->w || !bl->scales || !wq)
        goto oom;
    if (bias) {
        bl->bias = alloc__malloc((size_t)M * sizeof(float));
        if (!bl->bias)
            goto oom;
        memcpy(bl->bias, bias, (size_t)M * sizeof(float));
    }
    if (o.rmsnorm && o.norm_weight) {
        bl->norm_w = alloc__malloc((size_t)K * sizeof(float));
        if (!bl->norm_w)
            goto oom;
        memcpy(bl->norm_w, o.norm_weight, (size_t)K * sizeof(float));
    }
    st = bn_quant_weights_absmean(w, M, K, o.group, wq, bl->scales);
    if (st == BN_OK)
        st = bn_t2k_pack_i8(wq, M, K, bl->w);
    if (st != BN_OK)
        goto fail;
    alloc__free(wq);
    *out = bl;
    return BN_OK;
oom:
    st = bn_error(BN_ERR_OOM, "bitlinear: cannot allocate a %lld x %lld layer", (long long)M,
                  (long long)K);
fail:
    alloc__free(wq);
    bn_bitlinear_free(bl);
    return st;
}

bn_status bn_bitlinear_forward(const bn_bitlinear *bl, const float *x, int64_t n, float *y)
{
    BN_ASSERT(bl != NULL);
    if (n < 0)
        return bn_error(BN_ERR_ARG, "bitlinear: negative row count %lld", (long long)n);
    if (n == 0)
        return BN_OK;
    const int64_t M = bl->M, K = bl->K;
    bn_status st = BN_OK;
    float *xn = NULL, *xs = NULL;
    int8_t *xq = NULL;
    int32_t *sums = NULL, *acc = NULL;
    if ((size_t)n > SIZE_MAX / sizeof(float) / (size_t)K ||
        (size_t)n > SIZE_MAX / sizeof(int32_t) / (size_t)M)
        return bn_error(BN_ERR_OVERFLOW, "bitlinear: %lld rows overflow size_t", (long long)n);
    xq = alloc__malloc((size_t)n * (size_t)K);
    xs = alloc__malloc((size_t)n * sizeof *xs);
    sums = alloc__malloc((size_t)n * sizeof *sums);
    acc = alloc__malloc((size_t)n * (size_t)M * sizeof *acc);
    if (bl->rmsnorm)
        xn = alloc__malloc((size_t)n * (size_t)K * sizeof *xn);
    if (!xq || !xs || !sums || !acc || (bl->rmsnorm && !xn)) {
        st = bn_error(BN_ERR_OOM, "bitlinear: cannot allocate scratch for %lld rows", (long long)n);
        goto cleanup;
    }
    const float *in = x;
    if (bl->rmsnorm) {
        const bnk_table *kt = bnk_active();
        kt->rmsnorm_rows_f32(n, K, x, K, bl->norm_w, bl->eps, xn, K);
        in = xn;
    }
    st = bn_quant_act_absmax(in, n, K, K, xq, K, xs, sums);
    if (st != BN_OK)
        goto cleanup;
    st = bn_ternary_matmul(bl->w, M, K, xq, n, K, sums, acc, M, bl->serial);
    if (st != BN_OK)
        goto cleanup;
    for (int64_t j = 0; j < n; j++) {
        float *yr = y + j * M;
        const int32_t *ar = acc + j * M;
        if (bl->group == BN_QUANT_PER_ROW) {
            for (int64_t i = 0; i < M; i++)
                yr[i] = (float)ar[i] * (bl->scales[i] * xs[j]);
        } else {
            float s = bl->scales[0] * xs[j];
            for (int64_t i = 0; i < M; i++)
                yr[i] = (float)ar[i] * s;
        }
        if (bl->bias)
            for (int64_t i = 0; i < M; i++)
                yr[i] += bl->bias[i];
    }
cleanup:
    alloc__free(xn);
    alloc__free(xq);
    alloc__free(xs);
    alloc__free(sums);
    alloc__free(acc);
    return st;
}

int64_t bn_bitlinear_in(const bn_bitlinear *bl)
{
    return bl->K;
}

int64_t bn_bitlinear_out(const bn_bitlinear *bl)
{
    return bl->M;
}

const uint8_t *bn_bitlinear_weights(const bn_bitlinear *bl)
{
    return bl->w;
}

const float *bn_bitlinear_scales(const bn_bitlinear *bl)
{
    return bl->scales;
}

bn_quant_group bn_bitlinear_group(const bn_bitlinear *bl)
{
    return bl->group;
}
