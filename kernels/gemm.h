/*
 * gemm.h - f32 GEMM kernels: the contract of the packed, cache-blocked GEMM
 * (BLIS-style loops around register-blocked micro-kernels), one entry point
 * per ISA, and the micro-kernel contracts the framework in gemm.c relies on.
 *
 * Operation. Every bnk_sgemm_<isa> computes
 *
 *     C = alpha * A * B + beta * C,   A: M x K, B: K x N, C: M x N,
 *
 * on raw pointers with general strides: element (i, k) of A is
 * A[i * rsa + k * csa], and likewise for B (rsb, csb) and C (rsc, csc).
 * Row-major is (rs = ld, cs = 1), column-major (rs = 1, cs = ld); a transposed
 * operand is the same pointer with its two strides swapped, so transposed and
 * strided views need no copy. Strides may be negative or zero for A and B
 * (a zero stride broadcasts); C's strides must make distinct elements of the
 * M x N block distinct addresses.
 *   - beta == 0: C is written, never read (NaN or Inf in C do not propagate).
 *   - alpha == 0 or K == 0: A and B are not read; C = beta * C (0 if beta == 0).
 *   - M == 0 or N == 0: nothing is touched.
 *   - Aliasing: C must not overlap A or B. A and B may overlap each other.
 *
 * Tolerance against bnk_sgemm_ref (the truth, accumulating in double): each
 * element satisfies
 *     |C - C_ref| <= 2 * (K + 2) * eps_f32 * (|alpha| * (|A| |B|)_ij + |beta * C_ij|)
 * (eps_f32 = 2^-23): the ISA kernels accumulate in f32 in a blocked order
 * (KC-long partial sums added to C between k blocks), so each result carries
 * the rounding of a length-K f32 dot product plus the final scaling.
 *
 * Work splitting (for a thread pool). The call is a pure function of its C
 * block: C[i0:i1, j0:j1] depends only on A[i0:i1, :] and B[:, j0:j1]. A caller
 * splits work by calling the same function on disjoint sub-blocks of C, i.e.
 * with C + i0*rsc + j0*csc, A + i0*rsa, B + j0*csb and M = i1-i0, N = j1-j0.
 * bnk_sgemm_split() picks block boundaries aligned to the micro-tile so the
 * pieces add no edge tiles. Concurrent calls on disjoint C blocks
 * are safe (no shared mutable state; see workspace below).
 *
 * Workspace (packing buffers). workspace may be:
 *   - non-NULL: at least bnk_sgemm_workspace_size(impl, M, N, K) bytes,
 *     64-byte aligned, used by one call at a time; nothing is allocated.
 *   - NULL: a thread-local buffer is used, grown on demand (64-byte aligned)
 *     and kept for the next call on the same thread; it is freed when the
 *     thread exits, or now by bnk_sgemm_release_thread_workspace(). Growing it
 *     can fail: the call then returns BN_ERR_OOM with C untouched.
 * The reference kernel uses no workspace.
 *
 * Blocking (gemm.c, tuned on Zen 4: L1d 32 KiB, L2 1 MiB per core, L3 shared).
 * AVX-512: KC = 384 (a KC x NR micro-panel of B, 12 KiB, stays in L1),
 * MC = 192 (an MC x KC block of packed A, 288 KiB, stays in L2), NC = 1024
 * (a KC x NC panel of packed B, 1.5 MiB, in L2/L3; a small NC also keeps the
 * MC x NC block of C cache-resident across the KC loop). AVX2: the same with
 * NC = 1020. The loop nest is
 * jc (NC) -> pc (KC, pack B) -> ic (MC, pack A) -> jr (NR) -> ir (MR) -> kernel.
 * When C is row-major (csc == 1 and rsc != 1) the framework computes
 * C^T = B^T A^T instead, so that the micro-kernel's vectors run along C's
 * unit stride. M == 1 or N == 1 goes to a GEMV path (no packing). When (after
 * that swap) B has unit row stride and M <= 512, B is read in place
 * by ukr_bt instead of packed (row-major C = A B^T-style products with few
 * rows, e.g. activations x weights).
 *
 * The reference returns BN_OK always; ISA entries return BN_OK or BN_ERR_OOM.
 * NULL A/B/C with a non-empty operation is a programmer error (BN_ASSERT).
 */
#ifndef BITNET_KERNELS_GEMM_H
#define BITNET_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Signature shared by every ISA entry point (see the operation above). */
typedef bn_status (*bnk_sgemm_fn)(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                  int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                                  int64_t csb, float beta, float *C, int64_t rsc, int64_t csc,
                                  void *workspace);

/* Portable reference: plain loops, each C element a double-precision sum over
 * k in increasing order, then C = alpha * sum + beta * C rounded once to f32.
 * Uses no workspace (the argument is ignored). Always BN_OK. */
bn_status bnk_sgemm_ref(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                        int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C,
                        int64_t rsc, int64_t csc, void *workspace);

/* Packed GEMM with the AVX2+FMA micro-kernel (16 x 6). The CPU must run the
 * avx2 kernel set: AVX2, FMA, F16C (bnk_gemm_impls[].available). */
bn_status bnk_sgemm_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                         int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta,
                         float *C, int64_t rsc, int64_t csc, void *workspace);

/* Packed GEMM with the AVX-512 micro-kernel (32 x 8). The CPU must have
 * AVX-512 F/BW/VL/DQ (bnk_gemm_impls[].available). */
bn_status bnk_sgemm_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t rsa, int64_t csa, const float *B, int64_t rsb, int64_t csb,
                           float beta, float *C, int64_t rsc, int64_t csc, void *workspace);

/* ---- implementations --------------------------------------------------
 * The engine does not pick from this table itself: each kernel-set context
 * (kernels/kernels.h, bnk_active()->sgemm) points at its set's entry. The
 * table serves tests and suites that run one implementation directly. */

typedef enum bnk_gemm_isa {
    BNK_GEMM_REF = 0,
    BNK_GEMM_AVX2,
    BNK_GEMM_AVX512,
    BNK_GEMM_ISA_COUNT
} bnk_gemm_isa;

/* One GEMM implementation. mr/nr are the micro-tile (1 x 1 for the reference).
 * available() says whether this CPU (and its OS, for the wider registers) can
 * run it - the kernel set of the same name is supported (bnk_isa_supported);
 * it is cheap and thread-safe. */
typedef struct bnk_gemm_impl {
    const char *name; /* "ref", "avx2", "avx512" (the BN_KERNELS spelling) */
    bnk_gemm_isa isa;
    int mr, nr;
    bnk_sgemm_fn sgemm;
    int (*available)(void);
} bnk_gemm_impl;

/* Indexed by bnk_gemm_isa. */
extern const bnk_gemm_impl bnk_gemm_impls[BNK_GEMM_ISA_COUNT];

/* The implementation called name ("ref", "avx2", "avx512"), or NULL when the
 * name is unknown (available or not: check ->available()). */
const bnk_gemm_impl *bnk_gemm_find(const char *name);

/* The fastest implementation this CPU can run (never NULL: ref at worst),
 * whatever BN_KERNELS says; the engine's own GEMM is bnk_active()->sgemm. */
const bnk_gemm_impl *bnk_gemm_best(void);

/* Bytes of workspace a call of impl with these sizes needs (packing buffers
 * plus alignment slack); 0 for the reference and for empty problems. */
size_t bnk_sgemm_workspace_size(const bnk_gemm_impl *impl, int64_t M, int64_t N, int64_t K);

/* Frees this thread's cached packing buffer (the workspace == NULL case).
 * Safe to call at any time on any thread; the next call re-allocates. */
void bnk_sgemm_release_thread_workspace(void);

/* Fault injection for tests: the next n growths of this thread's workspace
 * fail as if out of memory (n <= 0 turns it off). */
void bnk_sgemm__fail_allocs(int n);

/* Splits [0, n) into `parts` contiguous ranges whose boundaries are multiples
 * of `granule` (except the last end, n), as even as that allows: range p is
 * [*lo, *hi); empty when there is too little work. Any granule >= 1 gives
 * correct results; a multiple of both impl->mr and impl->nr (32 for avx512,
 * 48 for avx2) adds no edge tiles whichever way the framework orients C
 * (a row-major C swaps the roles of M and N internally). */
void bnk_sgemm_split(int64_t n, int64_t granule, int parts, int p, int64_t *lo, int64_t *hi);

/* ---- micro-kernel contracts (internal to gemm.c and the ISA files) ------
 *
 * bnk_sgemm_ukr_<isa>(k, a, b, c, ldc, alpha, beta) computes one full
 * MR x NR tile:  C = alpha * Ap * Bp + beta * C, with
 *   - Ap: a packed micro-panel of A, k columns of MR floats each: element
 *     (i, p) at a[p * MR + i]. 64-byte aligned.
 *   - Bp: a packed micro-panel of B, k rows of NR floats each: element (p, j)
 *     at b[p * NR + j]. 4-byte aligned is enough (read by broadcasts).
 *   - C: column-major tile, element (i, j) at c[i + j * ldc]; any alignment.
 *   - beta == 0: C is not read. k may be 0 (then C = beta * C).
 * Edge tiles never reach the kernel with garbage: the packers zero-pad Ap to
 * MR rows and Bp to NR columns, and the framework runs partial or non-unit-
 * stride tiles on an aligned MR x NR scratch tile (beta = 0, alpha = 1) and
 * merges it into C with alpha and beta itself.
 *
 * AVX-512: MR = 32 (two zmm), NR = 8: 16 zmm accumulators, 2 zmm of A and
 *          a broadcast of B per k step; k unrolled by 4, A prefetched ahead.
 *          (32 x 12 runs at the same speed in L1 but wastes a third of a
 *          tile at every power-of-two edge; 32 x 8 tiles 2^n sizes exactly.)
 * AVX2:    MR = 16 (two ymm), NR = 6: 12 ymm accumulators (the Haswell shape).
 *
 * bnk_sgemm_ukr_bt_<isa>(k, a, b, ldb, c, ldc, alpha, beta) is the same
 * tile with B unpacked: element (p, j) at b[j * ldb + p] (B^T row-major).
 * The framework uses it when B has unit row stride and M <= 512 (typically
 * C = X W^T with few rows in X), where packing B would cost as much as the
 * product; partial NR panels still go through the packed kernel.
 *
 * bnk_sgemm_pack_a_<isa>(mc, kc, A, rsa, csa, dst) packs the mc x kc block
 * of A (general strides) into ceil(mc / MR) micro-panels of MR x kc, panel q
 * at dst + q * MR * kc, rows past mc zero; bnk_sgemm_pack_b_<isa>(kc, nc, B,
 * rsb, csb, dst) likewise packs kc x nc of B into NR-column micro-panels.
 * dst is 64-byte aligned.
 *
 * bnk_sgemv_{dot,axpy}_<isa>(m, k, A, lda, x, y) accumulate y[i] += sum_p
 * A(i, p) x[p] for i < m, with A(i, p) = A[i * lda + p] (dot: rows contiguous)
 * or A[i + p * lda] (axpy: columns contiguous); x and y contiguous, any
 * alignment, m and k any size >= 0. They are the N == 1 / M == 1 path.
 */
#define BNK_SGEMM_AVX512_MR 32
#define BNK_SGEMM_AVX512_NR 8
#define BNK_SGEMM_AVX2_MR   16
#define BNK_SGEMM_AVX2_NR   6

void bnk_sgemm_ukr_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                          float alpha, float beta);
void bnk_sgemm_ukr_bt_avx512(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                             int64_t ldc, float alpha, float beta);
void bnk_sgemm_ukr_bt_avx2(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                           int64_t ldc, float alpha, float beta);
void bnk_sgemm_ukr_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                        float alpha, float beta);
void bnk_sgemm_pack_a_avx512(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa,
                             float *dst);
void bnk_sgemm_pack_b_avx512(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb,
                             float *dst);
void bnk_sgemv_dot_avx512(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                          float *y);
void bnk_sgemv_axpy_avx512(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                           float *y);
void bnk_sgemm_pack_a_avx2(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa,
                           float *dst);
void bnk_sgemm_pack_b_avx2(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb,
                           float *dst);
void bnk_sgemv_dot_avx2(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                        float *y);
void bnk_sgemv_axpy_avx2(int64_t m, int64_t k, const float *A, int64_t lda, const float *x,
                         float *y);

#ifdef __cplusplus
}
#endif
#endif
