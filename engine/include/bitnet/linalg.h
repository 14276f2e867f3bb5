/*
 * linalg.h - dense linear algebra on f32 and f64 tensors: QR, Cholesky, SVD,
 * LU with partial pivoting, solve, inverse, determinant, least squares.
 *
 * Shapes. Every function takes matrices as the last two dims of a tensor
 * [..., m, n] and works on each matrix of the leading (batch) dims in turn;
 * results carry the same batch dims. Inputs may be any view (transposed,
 * sliced, broadcast): they are read through their strides into a column-major
 * working copy, and are never written. Outputs are new contiguous tensors of
 * the input's dtype, which the caller frees.
 *
 * Dtypes. f32 and f64 only; anything else is BN_ERR_DTYPE (cast first).
 * f32 matrices are computed in f32 (with f64 accumulation where cheap: norms
 * and the dot products of the Householder steps), f64 in f64.
 *
 * Algorithms (linalg.c, kernels/linalg_core.h): blocked Householder QR with
 * compact WY block reflectors (LAPACK's geqrf/orgqr scheme); blocked
 * Cholesky (computed as the upper factor of the row-major matrix read as
 * column-major, so no transposition is needed); right-looking blocked LU with
 * partial pivoting; all with their bulk updates in GEMM (the engine's packed
 * sgemm for f32, a cache-blocked dgemm for f64). SVD, at every size: Golub-
 * Kahan, LAPACK gesvd's scheme - A = Q B P^T with B upper bidiagonal
 * (blocked Householder, half of the flops in GEMM; for m >= 1.6 n, and the
 * transpose of wide inputs, A = QR first and R is reduced), then B's SVD by
 * implicit-shift QR with Demmel-Kahan zero shifts and relative splitting, so
 * the bidiagonal's small singular values keep high relative accuracy; the
 * errors of the values are O(eps ||A||) from the reduction. With vectors, Q
 * and P are formed explicitly and the QR rotations are logged over many
 * sweeps and applied to them in cache-sized row blocks; U and V are
 * orthogonal by construction, also for zero singular values.
 *
 * Errors (all name the offending value; with batch dims, the batch entry):
 *   BN_ERR_DTYPE     not f32/f64, or operands of different dtypes
 *   BN_ERR_SHAPE     fewer than 2 dims, not square where required, or
 *                    operand shapes that do not match
 *   BN_ERR_NOT_SPD   bn_cholesky: "pivot j is v" (the leading minor of order
 *                    j+1 is not positive; v <= 0 or NaN)
 *   BN_ERR_SINGULAR  bn_solve / bn_inverse: "matrix is singular: U[j,j] is 0"
 *                    (exact zero pivot of the LU factorization);
 *                    bn_lstsq: rank deficient, |R[j,j]| below
 *                    max(m,n) * eps * max|R[i,i]|
 *   BN_ERR_NUMERIC   bn_svd: a non-finite element of A ("A has a non-finite
 *                    element"), or the bidiagonal QR did not converge in
 *                    6 n^2 steps (not seen in practice; LAPACK's limit)
 *   BN_ERR_OOM       workspace could not be allocated
 * On error every output pointer is set to NULL and nothing leaks.
 *
 * Thread-safety: functions are reentrant; they allocate their own workspace.
 */
#ifndef BITNET_LINALG_H
#define BITNET_LINALG_H

#include <stdbool.h>

#include "bitnet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bn_qr_mode {
    BN_QR_REDUCED = 0,  /* Q [..., m, k], R [..., k, n], k = min(m, n) */
    BN_QR_COMPLETE = 1, /* Q [..., m, m], R [..., m, n] */
} bn_qr_mode;

/*
 * A = Q R with Q's columns orthonormal and R upper triangular (upper
 * trapezoidal when m < n) with a non-negative diagonal. q or r may be NULL
 * when that factor is not wanted (computing R alone skips forming Q).
 */
bn_status bn_qr(const bn_tensor *a, bn_qr_mode mode, bn_tensor **q, bn_tensor **r);

/*
 * A = L L^T for a symmetric positive definite A [..., n, n]; L lower
 * triangular with a positive diagonal, zeros above it. Only the lower
 * triangle of A is read. BN_ERR_NOT_SPD (message: failing pivot index and
 * value) when a pivot is not positive.
 */
bn_status bn_cholesky(const bn_tensor *a, bn_tensor **l);

/*
 * A = U diag(S) Vt with S [..., k] (k = min(m, n)) sorted descending, all
 * >= 0. full == false: U [..., m, k], Vt [..., k, n]; full == true:
 * U [..., m, m], Vt [..., n, n], the extra columns/rows completing
 * orthonormal bases. u and vt may both be NULL (singular values only); they
 * must be both NULL or both non-NULL. Singular vectors of equal or zero
 * singular values are any orthonormal basis of their subspace.
 */
bn_status bn_svd(const bn_tensor *a, bool full, bn_tensor **u, bn_tensor **s, bn_tensor **vt);

/*
 * LU with partial pivoting, LAPACK getrf style: P A = L U for A [..., m, n].
 * lu [..., m, n] holds U on and above the diagonal and the multipliers of the
 * unit lower triangular L below it; piv [..., min(m, n)] (i32) holds the row
 * swaps in order: row j was swapped with row piv[j] >= j (0-based). A
 * singular matrix is factored without error (U then has a zero pivot).
 */
bn_status bn_lu(const bn_tensor *a, bn_tensor **lu, bn_tensor **piv);

/*
 * X with A X = B, A [..., n, n] and B [..., n, k] or [..., n] (a vector, X
 * then [..., n]); the batch dims of A and B must be equal.
 * BN_ERR_SINGULAR on an exact zero pivot.
 */
bn_status bn_solve(const bn_tensor *a, const bn_tensor *b, bn_tensor **x);

/* A^-1 for A [..., n, n]; BN_ERR_SINGULAR on an exact zero pivot. */
bn_status bn_inverse(const bn_tensor *a, bn_tensor **out);

/* det(A) for A [..., n, n] as a tensor of the batch shape ([] for one
 * matrix); 0 for a singular matrix (not an error). The sign accounts for the
 * row swaps. Overflow gives +-Inf. */
bn_status bn_det(const bn_tensor *a, bn_tensor **out);

/*
 * Least squares through QR: for A [..., m, n] of full rank and B [..., m, k]
 * or [..., m], X [..., n, k] (or [..., n]) minimises ||A X - B||_2; when
 * m < n it is the minimum-norm solution (QR of A^T). BN_ERR_SINGULAR when A
 * is rank deficient (see the error list above; use bn_svd for those).
 */
bn_status bn_lstsq(const bn_tensor *a, const bn_tensor *b, bn_tensor **x);

#ifdef __cplusplus
}
#endif
#endif
