/*
 * linalg.h (kernels) - the numerical core of engine/linalg.c: LAPACK-style
 * routines on column-major working copies, one table per ISA.
 *
 * The routines are written once, as portable C, in kernels/linalg_core.h and
 * compiled three times: kernels/ref/linalg_ref.c (no ISA flags, the portable
 * twin), kernels/x86/avx2/linalg_avx2.c and kernels/x86/avx512/linalg_avx512.c
 * (the same source with the ISA's flags and -O3, so the column loops - axpy,
 * dot, matrix-vector products, the bidiagonal QR's rotation kernel, the f64
 * GEMM's inner loop - become AVX2/AVX-512 vector code). Each kernel-set
 * context (kernels/kernels.h) points at its table; the engine runs the
 * active set's (bnk_active()->linalg), so BN_KERNELS=ref runs bnk_linalg_ref.
 *
 * Layout: element (i, j) of a matrix at a[i + j * lda] (column-major).
 * Bulk updates go through GEMM: f32 through ctx->sgemm (the engine's packed
 * sgemm with a workspace sized for the largest call, so it cannot fail); f64
 * through the core's own cache-blocked dgemm (C column-major), which packs A
 * blocks into ctx->dpack.
 *
 * Accuracy: Householder QR, Cholesky, partial-pivoting LU and the
 * bidiagonalization are backward stable (errors O(n eps ||A||)); the
 * bidiagonal QR (bdsqr) finds the bidiagonal's singular values to high
 * relative accuracy (its splitting test is relative to the neighbouring d).
 * Every routine is reentrant (no state outside its arguments).
 */
#ifndef BITNET_KERNELS_LINALG_H
#define BITNET_KERNELS_LINALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

/* Block size of the blocked factorizations (columns per panel). */
#define BNK_LA_NB 64
/* f64 GEMM blocking: A blocks of MC x KC are packed column-major. */
#define BNK_LA_DMC   256
#define BNK_LA_DKC   128
#define BNK_LA_DPACK (BNK_LA_DMC * BNK_LA_DKC) /* doubles in ctx->dpack */

typedef struct bnk_la_ctx {
    bnk_sgemm_fn sgemm; /* f32 GEMM */
    void *sws;          /* its workspace, large enough for every call made */
    double *dpack;      /* BNK_LA_DPACK doubles for the f64 GEMM */
} bnk_la_ctx;

/* Elements of workspace geqrf / ormqr / orgqr need for m rows and up to
 * wcols trailing columns: V (m x NB), G (NB x NB), W1, W2 (NB x wcols). */
static inline size_t bnk_la_qr_work(int64_t m, int64_t wcols)
{
    return (size_t)(m * BNK_LA_NB + BNK_LA_NB * BNK_LA_NB +
                    2 * BNK_LA_NB * (wcols > 0 ? wcols : 1));
}

/* Elements of workspace gebrd needs for an m x n matrix (m >= n): the panel
 * matrices X (m x NB) and Y (n x NB) and vectors. */
static inline size_t bnk_la_gebrd_work(int64_t m, int64_t n)
{
    return (size_t)(m * BNK_LA_NB + n * BNK_LA_NB + m + n + BNK_LA_NB);
}

/* Elements of workspace orgqr needs for m rows and qc columns when it
 * builds the T factors itself (tfac NULL). */
static inline size_t bnk_la_orgqr_tau_work(int64_t m, int64_t qc)
{
    return bnk_la_qr_work(m, qc) + BNK_LA_NB * BNK_LA_NB;
}

/* bdsqr logs up to BNK_LA_ROTB * n rotations (one sweep has fewer than n)
 * before it applies them to U and V row block by row block: each flush reads
 * and writes U and V once, so the batch divides that traffic (measured at
 * n = 1024, f64: 4.0 s for the rotations with a flush after every sweep or
 * two, 1.2 s at 4 n, 0.45 s at 64 n, 0.36 s at 256 n). */
#define BNK_LA_ROTB 64
static inline int64_t bnk_la_rot_cap(int64_t n)
{
    return BNK_LA_ROTB * (n > 0 ? n : 1);
}

/* Workspace of bdsqr for an n x n bidiagonal with vectors: elements of T (4
 * rotation arrays and a packed row block of up to 64 rows) and int64_t (3
 * per logged sweep). Without vectors it needs none. */
static inline size_t bnk_la_bdsqr_work(int64_t n)
{
    return (size_t)(4 * bnk_la_rot_cap(n) + 64 * (n + 1));
}
static inline size_t bnk_la_bdsqr_iwork(int64_t n)
{
    return (size_t)(3 * bnk_la_rot_cap(n));
}

/* The routines for one element type (see linalg_core.h for each contract):
 *   potrfu  blocked upper Cholesky (A = U^T U; the lower one of a row-major
 *           matrix); -1 or the failing pivot (value in *bad); work:
 *           NB * (2 NB + n) elements
 *   getrf   blocked LU, piv 0-based absolute; -1 or the first zero pivot
 *   getrs   solve with getrf's factors, in place on B (n x k)
 *   geqrf   blocked Householder QR; tau[k], T factors NB x NB per block
 *   ormqr   C = Q C or Q^T C with geqrf's factors
 *   orgqr   the first qc columns of Q, with geqrf's T factors or (tfac
 *           NULL) T built per block from tau: also forms gebrd's Q and P
 *   gebrd   blocked reduction to upper bidiagonal form (m >= n): d, e,
 *           tauq, taup; Q's reflectors as geqrf's, P's in the rows
 *   bdsqr   SVD of an upper bidiagonal by implicit-shift QR, optionally
 *           accumulating U <- U Ub, V <- V Vb; 0 or the count of e_i that
 *           did not converge
 *   gemm    C = alpha A B + beta C (C column-major: rsc == 1) */
#define BNK_LA_FNS(T, S)                                                                           \
    int64_t (*potrfu##S)(const bnk_la_ctx *ctx, int64_t n, T *a, int64_t lda, double *bad,         \
                         T *work);                                                                 \
    int64_t (*getrf##S)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda,            \
                        int32_t *piv);                                                             \
    void (*getrs##S)(int64_t n, const T *lu, int64_t lda, const int32_t *piv, int64_t k, T *b,     \
                     int64_t ldb);                                                                 \
    void (*geqrf##S)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda, T *tau,       \
                     T *tfac, T *work);                                                            \
    void (*ormqr##S)(const bnk_la_ctx *ctx, bool trans, int64_t m, int64_t k, const T *a,          \
                     int64_t lda, const T *tfac, int64_t ncols, T *c, int64_t ldc, T *work);       \
    void (*orgqr##S)(const bnk_la_ctx *ctx, int64_t m, int64_t k, int64_t qc, const T *a,          \
                     int64_t lda, const T *tfac, const T *tau, T *q, int64_t ldq, T *work);        \
    void (*gebrd##S)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda, T *d, T *e,   \
                     T *tauq, T *taup, T *work);                                                   \
    int64_t (*bdsqr##S)(int64_t n, T * d, T * e, T * u, int64_t ldu, int64_t nru, T * v,           \
                        int64_t ldv, T * rw, int64_t * iw);                                        \
    void (*gemm##S)(const bnk_la_ctx *ctx, int64_t M, int64_t N, int64_t K, T alpha, const T *A,   \
                    int64_t rsa, int64_t csa, const T *B, int64_t rsb, int64_t csb, T beta, T *C,  \
                    int64_t rsc, int64_t csc);

typedef struct bnk_linalg {
    const char *name; /* "ref", "avx2", "avx512" */
    BNK_LA_FNS(float, _f32)
    BNK_LA_FNS(double, _f64)
} bnk_linalg;

extern const bnk_linalg bnk_linalg_ref;
extern const bnk_linalg bnk_linalg_avx2;
extern const bnk_linalg bnk_linalg_avx512;

#endif
