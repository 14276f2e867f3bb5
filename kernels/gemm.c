/*
 * gemm.c - the GEMM framework: BLIS-style cache blocking and packing around
 * the per-ISA micro-kernels, the GEMV path for M == 1 or N == 1, the packing
 * workspace, and the table of implementations (contract in kernels/gemm.h;
 * each kernel-set context of kernels/kernels.h points at its entry).
 *
 * This file is compiled without ISA flags, so it is portable C only: it calls
 * the micro-kernels, packers and GEMV kernels of kernels/x86/<isa>/ through a
 * small descriptor (packing is ISA code because the transposing cases need
 * register transposes to keep up with the kernels) and never executes an instruction the CPU may
 * lack unless that ISA was chosen (and bnk_gemm_impls[].available() said yes).
 *
 * Loop nest (Goto / BLIS):
 *   jc over N by NC     B panel   KC x NC  packed once per (jc, pc), L2/L3
 *    pc over K by KC    A block   MC x KC  packed once per (jc, pc, ic), in L2
 *     ic over M by MC
 *      jr over NC by NR   B micro-panel KC x NR stays in L1 across ir
 *       ir over MC by MR  micro-kernel: MR x NR tile of C in registers
 * C is oriented so the micro-kernel's vectors run along its unit stride: a
 * row-major C is computed as C^T = B^T A^T (swap the operands, swap strides).
 * With few rows (M <= direct_m) and B^T row-major, B is not packed: the
 * ukr_bt kernel reads its NR rows of B^T in place, which saves a full pass
 * over B when each B element feeds only a few tiles (activations x weights).
 * The blocking constants were tuned by measurement on the Zen 4 VM this
 * project targets, against OpenBLAS in the same process (see gemm.h).
 */
#include "gemm.h"

#include "alloc_internal.h"
#include "kernels/kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What the framework needs from one ISA. */
typedef void (*ukr_fn)(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                       float alpha, float beta);
typedef void (*ukr_bt_fn)(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                          int64_t ldc, float alpha, float beta);
typedef void (*gemv_fn)(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                        float *y);
typedef void (*pack_fn)(int64_t rows_or_k, int64_t k_or_cols, const float *X, int64_t rs,
                        int64_t cs, float *dst);

typedef struct gemm_desc {
    int mr, nr;
    int64_t mc, kc, nc; /* cache blocks; mc a multiple of mr, nc of nr */
    int64_t direct_m;   /* read B in place (ukr_bt) when M <= direct_m */
    ukr_fn ukr;
    ukr_bt_fn ukr_bt; /* B unpacked (B^T row-major), or NULL */
    gemv_fn dot, axpy;
    pack_fn pack_a, pack_b; /* (mc, kc, A, ...) and (kc, nc, B, ...) */
} gemm_desc;

/* Blocking for Zen 4 (L1d 32 KiB, L2 1 MiB per core): see gemm.h. */
static const gemm_desc desc_avx512 = {
    .mr = BNK_SGEMM_AVX512_MR,
    .nr = BNK_SGEMM_AVX512_NR,
    .mc = 192,
    .kc = 384,
    .nc = 1024,
    .direct_m = 512,
    .ukr = bnk_sgemm_ukr_avx512,
    .ukr_bt = bnk_sgemm_ukr_bt_avx512,
    .dot = bnk_sgemv_dot_avx512,
    .axpy = bnk_sgemv_axpy_avx512,
    .pack_a = bnk_sgemm_pack_a_avx512,
    .pack_b = bnk_sgemm_pack_b_avx512,
};

static const gemm_desc desc_avx2 = {
    .mr = BNK_SGEMM_AVX2_MR,
    .nr = BNK_SGEMM_AVX2_NR,
    .mc = 192,
    .kc = 384,
    .nc = 1020,
    .direct_m = 512,
    .ukr = bnk_sgemm_ukr_avx2,
    .ukr_bt = bnk_sgemm_ukr_bt_avx2,
    .dot = bnk_sgemv_dot_avx2,
    .axpy = bnk_sgemv_axpy_avx2,
    .pack_a = bnk_sgemm_pack_a_avx2,
    .pack_b = bnk_sgemm_pack_b_avx2,
};

#define ALIGN_BYTES 64

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

static size_t align_up(size_t x)
{
    return (x + ALIGN_BYTES - 1) & ~(size_t)(ALIGN_BYTES - 1);
}

/* Floats of each buffer for an M x N x K problem (either orientation). */
typedef struct ws_layout {
    size_t a_floats, b_floats, tile_floats;
} ws_layout;

static ws_layout ws_layout_of(const gemm_desc *d, int64_t M, int64_t N, int64_t K)
{
    int64_t mn = M > N ? M : N;
    int64_t kc = min64(K, d->kc);
    ws_layout l;
    l.a_floats = (size_t)(min64(round_up(mn, d->mr), d->mc) * kc);
    l.b_floats = (size_t)(min64(round_up(mn, d->nr), d->nc) * kc);
    l.tile_floats = (size_t)(d->mr * d->nr);
    return l;
}

static size_t ws_bytes(const gemm_desc *d, int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    ws_layout l = ws_layout_of(d, M, N, K);
    return align_up(l.a_floats * sizeof(float)) + align_up(l.b_floats * sizeof(float)) +
           align_up(l.tile_floats * sizeof(float)) + ALIGN_BYTES;
}

/* ---- thread-local workspace ------------------------------------------- */

static _Thread_local void *tls_ws;
static _Thread_local size_t tls_ws_size;
static _Thread_local int tls_fail_allocs; /* fault injection, see gemm.h */

void bnk_sgemm__fail_allocs(int n)
{
    tls_fail_allocs = n > 0 ? n : 0;
}
static pthread_key_t ws_key;
static int ws_key_ok;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

/* Runs at thread exit with the buffer registered by pthread_setspecific. */
static void ws_destroy(void *p)
{
    alloc__free(p);
}

static void ws_key_init(void)
{
    ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

void bnk_sgemm_release_thread_workspace(void)
{
    pthread_once(&ws_once, ws_key_init);
    alloc__free(tls_ws);
    tls_ws = NULL;
    tls_ws_size = 0;
    if (ws_key_ok)
        pthread_setspecific(ws_key, NULL);
}

/* This thread's buffer of at least bytes, or NULL on out-of-memory. */
static void *tls_workspace(size_t bytes)
{
    if (tls_ws_size >= bytes)
        return tls_ws;
    pthread_once(&ws_once, ws_key_init);
    bnk_sgemm_release_thread_workspace();
    if (tls_fail_allocs > 0) {
        tls_fail_allocs--;
        return NULL;
    }
    void *p = alloc__aligned(ALIGN_BYTES, align_up(bytes));
    if (p == NULL)
        return NULL;
    if (ws_key_ok && pthread_setspecific(ws_key, p) != 0) {
        alloc__free(p);
        return NULL;
    }
    tls_ws = p;
    tls_ws_size = align_up(bytes);
    return p;
}

/* ---- helpers ------------------------------------------------------------ */

/* C = beta * C (C = 0 when beta == 0, C not read). */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t rsc, int64_t csc)
{
    for (int64_t j = 0; j < N; j++)
        for (int64_t i = 0; i < M; i++) {
            float *c = C + i * rsc + j * csc;
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

/* C(m x n) = alpha * T + beta * C, T column-major with leading dimension ld. */
static void merge_tile(int64_t m, int64_t n, const float *T, int64_t ld, float alpha, float beta,
                       float *C, int64_t rsc, int64_t csc)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            float *c = C + i * rsc + j * csc;
            float t = alpha * T[i + j * ld];
            *c = beta == 0.0f ? t : t + beta * *c;
        }
}

/*
 * y = alpha * G x + beta * y for the m x k matrix G (element (i, p) at
 * G[i*rs + p*cs]). Rows are done in chunks whose partial sums live in a
 * stack buffer; x is gathered into a stack buffer when incx != 1.
 */
#define GEMV_MB 256
#define GEMV_KB 1024
static void gemv(const gemm_desc *d, int64_t m, int64_t k, float alpha, const float *G, int64_t rs,
                 int64_t cs, const float *x, int64_t incx, float beta, float *y, int64_t incy)
{
    float ybuf[GEMV_MB];
    float xbuf[GEMV_KB];
    for (int64_t i0 = 0; i0 < m; i0 += GEMV_MB) {
        int64_t mb = min64(GEMV_MB, m - i0);
        memset(ybuf, 0, sizeof(float) * (size_t)mb);
        for (int64_t p0 = 0; p0 < k; p0 += GEMV_KB) {
            int64_t kb = min64(GEMV_KB, k - p0);
            const float *xs = x + p0 * incx;
            if (incx != 1) {
                for (int64_t p = 0; p < kb; p++)
                    xbuf[p] = xs[p * incx];
                xs = xbuf;
            }
            const float *g = G + i0 * rs + p0 * cs;
            if (cs == 1) {
                d->dot(mb, kb, g, rs, xs, ybuf);
            } else if (rs == 1) {
                d->axpy(mb, kb, g, cs, xs, ybuf);
            } else {
                for (int64_t i = 0; i < mb; i++) {
                    float s = 0.0f;
                    for (int64_t p = 0; p < kb; p++)
                        s += g[i * rs + p * cs] * xs[p];
                    ybuf[i] += s;
                }
            }
        }
        merge_tile(mb, 1, ybuf, mb, alpha, beta, y + i0 * incy, incy, 0);
    }
}

/* ---- the blocked driver ------------------------------------------------- */

static bn_status sgemm_packed(const gemm_desc *d, int64_t M, int64_t N, int64_t K, float alpha,
                              const float *A, int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                              int64_t csb, float beta, float *C, int64_t rsc, int64_t csc,
                              void *workspace)
{
    if (M <= 0 || N <= 0)
        return BN_OK;
    BN_ASSERT(C != NULL);
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, rsc, csc);
        return BN_OK;
    }
    BN_ASSERT(A != NULL && B != NULL);
    if (N == 1) {
        gemv(d, M, K, alpha, A, rsa, csa, B, rsb, beta, C, rsc);
        return BN_OK;
    }
    if (M == 1) {
        gemv(d, N, K, alpha, B, csb, rsb, A, csa, beta, C, csc);
        return BN_OK;
    }

    size_t need = ws_bytes(d, M, N, K);
    char *ws = workspace != NULL ? workspace : tls_workspace(need);
    if (ws == NULL)
        return bn_error(BN_ERR_OOM, "sgemm: cannot allocate %zu bytes of packing workspace", need);
    ws_layout l = ws_layout_of(d, M, N, K);
    ws = (char *)(((uintptr_t)ws + ALIGN_BYTES - 1) & ~(uintptr_t)(ALIGN_BYTES - 1));
    float *ap = (float *)ws;
    float *bp = (float *)(ws + align_up(l.a_floats * sizeof(float)));
    float *tile = (float *)((char *)bp + align_up(l.b_floats * sizeof(float)));

    /* Orient C so the micro-kernel's vectors run along its unit stride. */
    if (rsc != 1 && csc == 1) {
        int64_t t = M;
        M = N;
        N = t;
        const float *tp = A;
        A = B;
        B = tp;
        t = rsa;
        int64_t t2 = csa;
        rsa = csb;
        csa = rsb;
        rsb = t2;
        csb = t;
        t = rsc;
        rsc = csc;
        csc = t;
    }

    const int64_t mr = d->mr, nr = d->nr;
    /* Few rows: read B in place rather than pack it (see gemm.h). */
    const int direct_b = d->ukr_bt != NULL && rsb == 1 && M <= d->direct_m;
    for (int64_t jc = 0; jc < N; jc += d->nc) {
        int64_t ncb = min64(d->nc, N - jc);
        for (int64_t pc = 0; pc < K; pc += d->kc) {
            int64_t kcb = min64(d->kc, K - pc);
            float beta_p = pc == 0 ? beta : 1.0f;
            if (!direct_b)
                d->pack_b(kcb, ncb, B + pc * rsb + jc * csb, rsb, csb, bp);
            for (int64_t ic = 0; ic < M; ic += d->mc) {
                int64_t mcb = min64(d->mc, M - ic);
                d->pack_a(mcb, kcb, A + ic * rsa + pc * csa, rsa, csa, ap);
                for (int64_t jr = 0; jr < ncb; jr += nr) {
                    int64_t nrb = min64(nr, ncb - jr);
                    const float *b = bp + jr * kcb;
                    const float *bd = B + pc + (jc + jr) * csb;
                    int use_bt = direct_b && nrb == nr;
                    if (direct_b && !use_bt) {
                        d->pack_b(kcb, nrb, bd, rsb, csb, bp);
                        b = bp;
                    }
                    for (int64_t ir = 0; ir < mcb; ir += mr) {
                        int64_t mrb = min64(mr, mcb - ir);
                        const float *a = ap + ir * kcb;
                        float *c = C + (ic + ir) * rsc + (jc + jr) * csc;
                        if (use_bt) {
                            if (mrb == mr && rsc == 1) {
                                d->ukr_bt(kcb, a, bd, csb, c, csc, alpha, beta_p);
                            } else {
                                d->ukr_bt(kcb, a, bd, csb, tile, mr, 1.0f, 0.0f);
                                merge_tile(mrb, nrb, tile, mr, alpha, beta_p, c, rsc, csc);
                            }
                        } else if (mrb == mr && nrb == nr && rsc == 1) {
                            d->ukr(kcb, a, b, c, csc, alpha, beta_p);
                        } else {
                            d->ukr(kcb, a, b, tile, mr, 1.0f, 0.0f);
                            merge_tile(mrb, nrb, tile, mr, alpha, beta_p, c, rsc, csc);
                        }
                    }
                }
            }
        }
    }
    return BN_OK;
}

bn_status bnk_sgemm_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t rsa, int64_t csa, const float *B, int64_t rsb, int64_t csb,
                           float beta, float *C, int64_t rsc, int64_t csc, void *workspace)
{
    return sgemm_packed(&desc_avx512, M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc,
                        workspace);
}

bn_status bnk_sgemm_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                         int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta,
                         float *C, int64_t rsc, int64_t csc, void *workspace)
{
    return sgemm_packed(&desc_avx2, M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc,
                        workspace);
}

/* ---- dispatch ----------------------------------------------------------- */

static int avail_ref(void)
{
    return 1;
}

/* CPU support comes from the one probe (kernels/registry.c): the avx2
 * objects are compiled with AVX2, FMA and F16C, the avx512 ones with
 * AVX-512 F/BW/VL/DQ on top, and the kernel sets require exactly those. */
static int avail_avx2(void)
{
    return bnk_isa_supported(BNK_ISA_AVX2);
}

static int avail_avx512(void)
{
    return bnk_isa_supported(BNK_ISA_AVX512);
}

const bnk_gemm_impl bnk_gemm_impls[BNK_GEMM_ISA_COUNT] = {
    [BNK_GEMM_REF] = {.name = "ref",
                      .isa = BNK_GEMM_REF,
                      .mr = 1,
                      .nr = 1,
                      .sgemm = bnk_sgemm_ref,
                      .available = avail_ref},
    [BNK_GEMM_AVX2] = {.name = "avx2",
                       .isa = BNK_GEMM_AVX2,
                       .mr = BNK_SGEMM_AVX2_MR,
                       .nr = BNK_SGEMM_AVX2_NR,
                       .sgemm = bnk_sgemm_avx2,
                       .available = avail_avx2},
    [BNK_GEMM_AVX512] = {.name = "avx512",
                         .isa = BNK_GEMM_AVX512,
                         .mr = BNK_SGEMM_AVX512_MR,
                         .nr = BNK_SGEMM_AVX512_NR,
                         .sgemm = bnk_sgemm_avx512,
                         .available = avail_avx512},
};

const bnk_gemm_impl *bnk_gemm_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (int i = 0; i < BNK_GEMM_ISA_COUNT; i++)
        if (strcmp(bnk_gemm_impls[i].name, name) == 0)
            return &bnk_gemm_impls[i];
    return NULL;
}

const bnk_gemm_impl *bnk_gemm_best(void)
{
    for (int i = BNK_GEMM_ISA_COUNT - 1; i > 0; i--)
        if (bnk_gemm_impls[i].available())
            return &bnk_gemm_impls[i];
    return &bnk_gemm_impls[BNK_GEMM_REF];
}

size_t bnk_sgemm_workspace_size(const bnk_gemm_impl *impl, int64_t M, int64_t N, int64_t K)
{
    BN_ASSERT(impl != NULL);
    switch (impl->isa) {
    case BNK_GEMM_AVX512:
        return ws_bytes(&desc_avx512, M, N, K);
    case BNK_GEMM_AVX2:
        return ws_bytes(&desc_avx2, M, N, K);
    default:
        return 0;
    }
}

void bnk_sgemm_split(int64_t n, int64_t granule, int parts, int p, int64_t *lo, int64_t *hi)
{
    BN_ASSERT(granule > 0 && parts > 0 && p >= 0 && p < parts && lo != NULL && hi != NULL);
    int64_t blocks = n > 0 ? (n + granule - 1) / granule : 0;
    int64_t per = blocks / parts, rem = blocks % parts;
    int64_t b0 = p * per + min64(p, rem);
    int64_t b1 = b0 + per + (p < rem ? 1 : 0);
    *lo = min64(b0 * granule, n > 0 ? n : 0);
    *hi = min64(b1 * granule, n > 0 ? n : 0);
}
