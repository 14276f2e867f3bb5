/*
 * linalg_core.h - the numerical core behind engine/linalg.c (contract in
 * kernels/linalg.h), written once and instantiated per ISA file and per
 * element type: the includer defines T (float or double), SFX (_f32 / _f64),
 * EPS (unit roundoff of T) and LA_F64 (1 for double), then includes this
 * file; after both types it writes the table with BNK_LA_TABLE.
 *
 * Every routine works on a column-major matrix (element (i, j) at
 * a[i + j * lda]) that the caller owns, LAPACK style: columns are contiguous
 * for the vector loops, and the bulk updates are GEMM calls with plain
 * strides. Nothing here allocates; workspaces are passed in.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bitnet/status.h"
#include "linalg.h"

#define CAT2_(a, b) a##b
#define CAT_(a, b)  CAT2_(a, b)
#define F(name)     CAT_(name, SFX)
#define GEMM        F(gemm)
#define NB          BNK_LA_NB
#define LA_BRD_NX   128 /* gebrd: columns left when the unblocked code takes over */

/* ---- vector helpers ------------------------------------------------------ */

/* Reductions use GCC vector extensions: 8 lanes of double, whatever the
 * ISA; the compiler lowers them to zmm, ymm pairs or xmm quads. (A plain
 * running sum is a serial chain the compiler may not reorder, and it does not
 * vectorize 8 scalar partial sums on its own either.) */
#ifndef LA_V8D_DEFINED
#define LA_V8D_DEFINED
typedef double la_v8d __attribute__((vector_size(64)));
/* (vectors go by pointer: passing a 64-byte vector by value changes the ABI
 * between the ISA builds) */
static inline double la_hsum(const la_v8d *v)
{
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += (*v)[l];
    return s;
}
#endif
typedef T F(la_v8t) __attribute__((vector_size(8 * sizeof(T))));

/* 8 elements from p (any alignment) widened to double */
static inline void F(ld8)(const T *p, la_v8d *out)
{
    F(la_v8t) x;
    memcpy(&x, p, sizeof x);
    *out = __builtin_convertvector(x, la_v8d);
}

/* ---- GEMM --------------------------------------------------------------- */

#if LA_F64
/*
 * C = alpha A B + beta C, C column-major (rsc == 1). A is packed in blocks of
 * MC x KC (column-major, contiguous) into ctx->dpack; the inner loop updates
 * two columns of C with four columns of the packed block per pass, so each
 * loaded C element takes 8 multiply-adds.
 */
static void F(gemm)(const bnk_la_ctx *ctx, int64_t M, int64_t N, int64_t K, T alpha, const T *A,
                    int64_t rsa, int64_t csa, const T *B, int64_t rsb, int64_t csb, T beta, T *C,
                    int64_t rsc, int64_t csc)
{
    if (M <= 0 || N <= 0)
        return;
    BN_ASSERT(rsc == 1);
    if (beta != 1)
        for (int64_t j = 0; j < N; j++)
            for (int64_t i = 0; i < M; i++)
                C[i + j * csc] = beta == 0 ? 0 : beta * C[i + j * csc];
    if (K <= 0 || alpha == 0)
        return;
    T *ap = ctx->dpack;
    for (int64_t ic = 0; ic < M; ic += BNK_LA_DMC) {
        int64_t mc = M - ic < BNK_LA_DMC ? M - ic : BNK_LA_DMC;
        for (int64_t pc = 0; pc < K; pc += BNK_LA_DKC) {
            int64_t kc = K - pc < BNK_LA_DKC ? K - pc : BNK_LA_DKC;
            const T *ab = A + ic * rsa + pc * csa;
            if (rsa == 1) {
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t i = 0; i < mc; i++)
                        ap[i + p * mc] = ab[i + p * csa];
            } else {
                for (int64_t i = 0; i < mc; i++)
                    for (int64_t p = 0; p < kc; p++)
                        ap[i + p * mc] = ab[i * rsa + p * csa];
            }
            int64_t j = 0;
            for (; j + 2 <= N; j += 2) {
                T *restrict c0 = C + ic + j * csc, *restrict c1 = c0 + csc;
                const T *b0 = B + pc * rsb + j * csb, *b1 = b0 + csb;
                int64_t p = 0;
                for (; p + 4 <= kc; p += 4) {
                    const T *restrict a0 = ap + p * mc, *restrict a1 = a0 + mc;
                    const T *restrict a2 = a1 + mc, *restrict a3 = a2 + mc;
                    T x0 = alpha * b0[p * rsb], x1 = alpha * b0[(p + 1) * rsb];
                    T x2 = alpha * b0[(p + 2) * rsb], x3 = alpha * b0[(p + 3) * rsb];
                    T y0 = alpha * b1[p * rsb], y1 = alpha * b1[(p + 1) * rsb];
                    T y2 = alpha * b1[(p + 2) * rsb], y3 = alpha * b1[(p + 3) * rsb];
                    for (int64_t i = 0; i < mc; i++) {
                        T u0 = a0[i], u1 = a1[i], u2 = a2[i], u3 = a3[i];
                        c0[i] += u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3;
                        c1[i] += u0 * y0 + u1 * y1 + u2 * y2 + u3 * y3;
                    }
                }
                for (; p < kc; p++) {
                    const T *restrict a0 = ap + p * mc;
                    T x0 = alpha * b0[p * rsb], y0 = alpha * b1[p * rsb];
                    for (int64_t i = 0; i < mc; i++) {
                        c0[i] += a0[i] * x0;
                        c1[i] += a0[i] * y0;
                    }
                }
            }
            for (; j < N; j++) {
                T *restrict c0 = C + ic + j * csc;
                const T *b0 = B + pc * rsb + j * csb;
                for (int64_t p = 0; p < kc; p++) {
                    const T *restrict a0 = ap + p * mc;
                    T x0 = alpha * b0[p * rsb];
                    for (int64_t i = 0; i < mc; i++)
                        c0[i] += a0[i] * x0;
                }
            }
        }
    }
}
#else
/* f32: the engine's packed sgemm with the caller's workspace (cannot fail). */
static void F(gemm)(const bnk_la_ctx *ctx, int64_t M, int64_t N, int64_t K, T alpha, const T *A,
                    int64_t rsa, int64_t csa, const T *B, int64_t rsb, int64_t csb, T beta, T *C,
                    int64_t rsc, int64_t csc)
{
    if (M <= 0 || N <= 0)
        return;
    bn_status st =
        ctx->sgemm(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, ctx->sws);
    BN_ASSERT(st == BN_OK);
}
#endif

/* ---- small helpers ------------------------------------------------------ */

/* 2-norm of x[0..n) without overflow or harmful underflow. */
static double F(nrm2)(int64_t n, const T *x)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs((double)x[i]);
        if (v > scale)
            scale = v;
    }
    if (scale == 0 || !isfinite(scale))
        return scale;
    la_v8d acc = {0};
    double s = 0, inv = 1.0 / scale;
    if (!isfinite(inv)) { /* scale is subnormal: divide instead */
        for (int64_t i = 0; i < n; i++) {
            double v = (double)x[i] / scale;
            s += v * v;
        }
        return scale * sqrt(s);
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        la_v8d v;
        F(ld8)(x + i, &v);
        v *= inv;
        acc += v * v;
    }
    for (; i < n; i++) {
        double v = (double)x[i] * inv;
        s += v * v;
    }
    return scale * sqrt(s + la_hsum(&acc));
}

/* y[0..n) -= alpha * x[0..n) */
static inline void F(axpy_sub)(int64_t n, T alpha, const T *restrict x, T *restrict y)
{
    /* explicit 8-wide steps: the loops here are short (the columns of a
     * 64-wide block), and GCC's vectorized form spends more on its
     * alignment prologue and trip-count setup than on the work */
    int64_t i = 0;
    F(la_v8t) va = {alpha, alpha, alpha, alpha, alpha, alpha, alpha, alpha};
    for (; i + 8 <= n; i += 8) {
        F(la_v8t) u, v;
        memcpy(&u, x + i, sizeof u);
        memcpy(&v, y + i, sizeof v);
        v -= va * u;
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] -= alpha * x[i];
}

/* y -= a x + b z: two columns per pass over y (half the loads and stores) */
static inline void F(axpy2_sub)(int64_t n, T a, const T *restrict x, T b, const T *restrict z,
                                T *restrict y)
{
    int64_t i = 0;
    F(la_v8t) va = {a, a, a, a, a, a, a, a}, vb = {b, b, b, b, b, b, b, b};
    for (; i + 8 <= n; i += 8) {
        F(la_v8t) u, w, v;
        memcpy(&u, x + i, sizeof u);
        memcpy(&w, z + i, sizeof w);
        memcpy(&v, y + i, sizeof v);
        v -= va * u + vb * w;
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] -= a * x[i] + b * z[i];
}

/* Dot product accumulated in double. */
static T F(dot)(int64_t n, const T *x, const T *y)
{
    la_v8d acc = {0};
    double s = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        la_v8d u, v;
        F(ld8)(x + i, &u);
        F(ld8)(y + i, &v);
        acc += u * v;
    }
    for (; i < n; i++)
        s += (double)x[i] * (double)y[i];
    return (T)(s + la_hsum(&acc));
}

/* ---- Cholesky ----------------------------------------------------------- */

/* Unblocked lower Cholesky of the n x n column-major block l (ldl = n),
 * column by column with axpy updates (left-looking). Returns -1 on success,
 * else the index of the failing pivot (its value in *bad). */
static int64_t F(potf2l)(int64_t n, T *l, double *bad)
{
    for (int64_t j = 0; j < n; j++) {
        T *cj = l + j * n;
        /* the updates start at row j rounded down to a multiple of 8, so
         * they run in whole 8-wide steps: rows above j of column j are the
         * unused upper triangle (finite: the caller zeroes it) */
        int64_t j8 = j & ~(int64_t)7, k = 0;
        for (; k + 2 <= j; k += 2) {
            const T *lk = l + k * n, *lk1 = lk + n;
            F(axpy2_sub)(n - j8, lk[j], lk + j8, lk1[j], lk1 + j8, cj + j8);
        }
        if (k < j)
            F(axpy_sub)(n - j8, l[j + k * n], l + j8 + k * n, cj + j8);
        double d = (double)cj[j];
        if (!(d > 0) || !isfinite(d)) {
            *bad = d;
            return j;
        }
        T r = (T)sqrt(d), inv = (T)1 / r;
        cj[j] = r;
        for (int64_t i = j + 1; i < n; i++)
            cj[i] *= inv;
    }
    return -1;
}

/*
 * Blocked upper Cholesky A = U^T U (upper triangle read; LAPACK potrf 'U').
 * A row-major matrix read as column-major is its transpose, so this is the
 * lower Cholesky of a row-major matrix with no transposition at all: the
 * engine uses it that way. Per block: the trailing update of the diagonal
 * block and of the block row are GEMMs; the diagonal block is factored as
 * L = U11^T in a small column-major scratch (axpy loops); the block row is
 * then L^-1 A12, with L^-1 formed by forward substitution (jb^3/3 flops) so
 * the n x jb x jb product is a GEMM too. work: NB * (2 NB + n) elements.
 * Returns -1 on success, else the index of the failing pivot (value in *bad).
 */
static int64_t F(potrfu)(const bnk_la_ctx *ctx, int64_t n, T *a, int64_t lda, double *bad, T *work)
{
    T *l = work, *li = l + NB * NB, *w = li + NB * NB;
    for (int64_t j = 0; j < n; j += NB) {
        int64_t jb = n - j < NB ? n - j : NB;
        T *a11 = a + j + j * lda;
        /* A11 -= U01^T U01, U01 = A[0:j, j:j+jb] */
        GEMM(ctx, jb, jb, j, -1, a + j * lda, lda, 1, a + j * lda, 1, lda, 1, a11, 1, lda);
        /* l = A11^T restricted to the lower triangle (= A11's upper one),
         * zeros above it (potf2l updates some of them) */
        for (int64_t c = 0; c < jb; c++)
            for (int64_t r = 0; r < jb; r++)
                l[r + c * jb] = r >= c ? a11[c + r * lda] : 0;
        int64_t bad_at = F(potf2l)(jb, l, bad);
        if (bad_at >= 0)
            return j + bad_at;
        for (int64_t c = 0; c < jb; c++) /* U11 = l^T */
            for (int64_t r = c; r < jb; r++)
                a11[c + r * lda] = l[r + c * jb];
        int64_t n2 = n - j - jb;
        if (n2 <= 0)
            continue;
        T *a12 = a + j + (j + jb) * lda;
        /* A12 -= U01^T U02 */
        GEMM(ctx, jb, n2, j, -1, a + j * lda, lda, 1, a + (j + jb) * lda, 1, lda, 1, a12, 1, lda);
        /* li = l^-1 (lower), column c by forward substitution on e_c, with
         * the diagonal's reciprocals taken once (a division per element is
         * a serial chain of the divider's latency) */
        T dinv[NB];
        for (int64_t k = 0; k < jb; k++)
            dinv[k] = (T)1 / l[k + k * jb];
        for (int64_t c = 0; c < jb; c++) {
            T *x = li + c * jb;
            for (int64_t r = 0; r < jb; r++)
                x[r] = r == c ? 1 : 0;
            int64_t k = c;
            for (; k + 2 <= jb; k += 2) { /* two unknowns, then one pass below them */
                x[k] *= dinv[k];
                x[k + 1] = (x[k + 1] - x[k] * l[k + 1 + k * jb]) * dinv[k + 1];
                F(axpy2_sub)
                (jb - k - 2, x[k], l + k + 2 + k * jb, x[k + 1], l + k + 2 + (k + 1) * jb,
                 x + k + 2);
            }
            if (k < jb)
                x[k] *= dinv[k];
        }
        /* A12 = li A12 (through w: GEMM's C must not alias B) */
        GEMM(ctx, jb, n2, jb, 1, li, 1, jb, a12, 1, lda, 0, w, 1, jb);
        for (int64_t c = 0; c < n2; c++)
            for (int64_t r = 0; r < jb; r++)
                a12[r + c * lda] = w[r + c * jb];
    }
    return -1;
}

/* ---- LU with partial pivoting ------------------------------------------- */

static void F(swap_rows)(int64_t ncols, T *a, int64_t lda, int64_t r1, int64_t r2)
{
    for (int64_t j = 0; j < ncols; j++) {
        T t = a[r1 + j * lda];
        a[r1 + j * lda] = a[r2 + j * lda];
        a[r2 + j * lda] = t;
    }
}

/* Row swaps r <-> piv[r] for r in [k1, k2), in order, on ncols columns. */
static void F(laswp)(int64_t ncols, T *a, int64_t lda, int64_t k1, int64_t k2, const int32_t *piv)
{
    for (int64_t j = 0; j < ncols; j++) {
        T *col = a + j * lda;
        for (int64_t r = k1; r < k2; r++) {
            T t = col[r];
            col[r] = col[piv[r]];
            col[piv[r]] = t;
        }
    }
}

/* Unblocked LU of the m x n panel; piv[c] relative to the panel. Returns the
 * first zero pivot index or -1. */
static int64_t F(getf2)(int64_t m, int64_t n, T *a, int64_t lda, int32_t *piv)
{
    int64_t first_zero = -1;
    int64_t k = m < n ? m : n;
    for (int64_t c = 0; c < k; c++) {
        T *col = a + c * lda;
        int64_t p = c;
        T best = (T)fabs((double)col[c]);
        for (int64_t i = c + 1; i < m; i++) {
            T v = col[i] < 0 ? -col[i] : col[i];
            if (v > best) {
                best = v;
                p = i;
            }
        }
        piv[c] = (int32_t)p;
        if (p != c)
            F(swap_rows)(n, a, lda, c, p);
        T d = col[c];
        if (d == 0) {
            if (first_zero < 0)
                first_zero = c;
            continue;
        }
        T inv = (T)1 / d;
        for (int64_t i = c + 1; i < m; i++)
            col[i] *= inv;
        for (int64_t j = c + 1; j < n; j++)
            F(axpy_sub)(m - c - 1, a[c + j * lda], col + c + 1, a + c + 1 + j * lda);
    }
    return first_zero;
}

/* Right-looking blocked LU (getrf). piv[j] absolute 0-based. Returns the first
 * zero pivot or -1. */
static int64_t F(getrf)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda,
                        int32_t *piv)
{
    int64_t k = m < n ? m : n, first_zero = -1;
    for (int64_t j = 0; j < k; j += NB) {
        int64_t jb = k - j < NB ? k - j : NB;
        int64_t z = F(getf2)(m - j, jb, a + j + j * lda, lda, piv + j);
        if (z >= 0 && first_zero < 0)
            first_zero = j + z;
        for (int64_t c = j; c < j + jb; c++)
            piv[c] += (int32_t)j;
        /* the panel's swaps on the other columns, column by column (each
         * column is contiguous; all jb swaps touch it while it is in cache) */
        F(laswp)(j, a, lda, j, j + jb, piv);
        F(laswp)(n - j - jb, a + (j + jb) * lda, lda, j, j + jb, piv);
        int64_t n2 = n - j - jb;
        if (n2 <= 0)
            continue;
        T *a12 = a + j + (j + jb) * lda;
        /* U12 = L11^-1 A12 (unit lower) */
        for (int64_t col = 0; col < n2; col++) {
            T *x = a12 + col * lda;
            for (int64_t c = 0; c < jb; c++)
                F(axpy_sub)(jb - c - 1, x[c], a + j + c + 1 + (j + c) * lda, x + c + 1);
        }
        int64_t m2 = m - j - jb;
        if (m2 > 0) /* A22 -= A21 U12 */
            GEMM(ctx, m2, n2, jb, -1, a + j + jb + j * lda, 1, lda, a12, 1, lda, 1,
                 a + j + jb + (j + jb) * lda, 1, lda);
    }
    return first_zero;
}

/* Solves (LU) X = P B in place on B (n x k, ldb), LU from getrf. */
static void F(getrs)(int64_t n, const T *lu, int64_t lda, const int32_t *piv, int64_t k, T *b,
                     int64_t ldb)
{
    F(laswp)(k, b, ldb, 0, n, piv);
    for (int64_t col = 0; col < k; col++) {
        T *x = b + col * ldb;
        for (int64_t c = 0; c < n; c++) /* L unit lower */
            F(axpy_sub)(n - c - 1, x[c], lu + c + 1 + c * lda, x + c + 1);
        for (int64_t c = n - 1; c >= 0; c--) { /* U */
            x[c] /= lu[c + c * lda];
            F(axpy_sub)(c, x[c], lu + c * lda, x);
        }
    }
}

/* ---- Householder QR ----------------------------------------------------- */

/*
 * Householder vector of x[0..n): H = I - tau v v^T with v[0] = 1 maps x to
 * beta e_1. Overwrites x[0] with beta and x[1..n) with v[1..n). tau = 0 (H = I)
 * when x[1..n) is zero. When |beta| is below safmin = (smallest normal) / eps
 * (so 1 / (alpha - beta) could overflow), x is scaled up by 1 / safmin until
 * it is not, and beta scaled back at the end (LAPACK larfg's guard).
 */
static T F(larfg)(int64_t n, T *x)
{
    if (n <= 1)
        return 0;
    double xnorm = F(nrm2)(n - 1, x + 1);
    if (xnorm == 0)
        return 0;
    double alpha = (double)x[0];
    double beta = -copysign(hypot(alpha, xnorm), alpha);
    const double safmin = (LA_F64 ? DBL_MIN : FLT_MIN) / EPS;
    int knt = 0;
    if (fabs(beta) < safmin) {
        const T rsafmn = (T)(1 / safmin);
        do {
            knt++;
            for (int64_t i = 1; i < n; i++)
                x[i] *= rsafmn;
            alpha *= (double)rsafmn;
            beta *= (double)rsafmn;
        } while (fabs(beta) < safmin && knt < 20);
        xnorm = F(nrm2)(n - 1, x + 1);
        beta = -copysign(hypot(alpha, xnorm), alpha);
    }
    double tau = (beta - alpha) / beta;
    T scale = (T)(1.0 / (alpha - beta));
    for (int64_t i = 1; i < n; i++)
        x[i] *= scale;
    for (int k = 0; k < knt; k++)
        beta *= safmin;
    x[0] = (T)beta;
    return (T)tau;
}

/* Unblocked QR of the m x n panel a (lda); tau[0..min(m,n)). */
static void F(geqr2)(int64_t m, int64_t n, T *a, int64_t lda, T *tau)
{
    int64_t k = m < n ? m : n;
    for (int64_t c = 0; c < k; c++) {
        T *v = a + c + c * lda;
        tau[c] = F(larfg)(m - c, v);
        if (tau[c] == 0)
            continue;
        T beta = v[0];
        v[0] = 1;
        for (int64_t j = c + 1; j < n; j++) {
            T *x = a + c + j * lda;
            T w = tau[c] * F(dot)(m - c, v, x);
            F(axpy_sub)(m - c, w, v, x);
        }
        v[0] = beta;
    }
}

/* Explicit V (rows x jb, ldv = rows) from the reflectors stored below the
 * diagonal of the panel a (lda): unit diagonal, zeros above. */
static void F(build_v)(int64_t rows, int64_t jb, const T *a, int64_t lda, T *v)
{
    for (int64_t c = 0; c < jb; c++) {
        T *vc = v + c * rows;
        for (int64_t i = 0; i < c && i < rows; i++)
            vc[i] = 0;
        if (c < rows)
            vc[c] = 1;
        for (int64_t i = c + 1; i < rows; i++)
            vc[i] = a[i + c * lda];
    }
}

/* T factor (jb x jb, ldt = jb, upper, zeros below) of the block reflector
 * H_0 ... H_{jb-1} = I - V T V^T (larft, forward, columnwise). g is jb x jb
 * scratch. Uses G = V^T V from GEMM. */
static void F(larft)(const bnk_la_ctx *ctx, int64_t rows, int64_t jb, const T *v, const T *tau,
                     T *t, T *g)
{
    GEMM(ctx, jb, jb, rows, 1, v, rows, 1, v, 1, rows, 0, g, 1, jb);
    for (int64_t i = 0; i < jb * jb; i++)
        t[i] = 0;
    for (int64_t i = 0; i < jb; i++) {
        t[i + i * jb] = tau[i];
        /* T[0:i, i] = -tau_i T[0:i, 0:i] G[0:i, i] */
        for (int64_t r = 0; r < i; r++) {
            double s = 0;
            for (int64_t c = r; c < i; c++)
                s += (double)t[r + c * jb] * (double)g[c + i * jb];
            t[r + i * jb] = (T)(-(double)tau[i] * s);
        }
    }
}

/*
 * Applies the block reflector H = I - V T V^T (V rows x jb, T jb x jb) from
 * the left to C (rows x ncols, ldc): trans ? H^T C : H C. w1, w2: jb x ncols.
 */
static void F(larfb)(const bnk_la_ctx *ctx, bool trans, int64_t rows, int64_t jb, int64_t ncols,
                     const T *v, const T *t, T *c, int64_t ldc, T *w1, T *w2)
{
    if (ncols <= 0 || jb <= 0)
        return;
    /* W1 = V^T C */
    GEMM(ctx, jb, ncols, rows, 1, v, rows, 1, c, 1, ldc, 0, w1, 1, jb);
    /* W2 = op(T) W1 */
    if (trans)
        GEMM(ctx, jb, ncols, jb, 1, t, jb, 1, w1, 1, jb, 0, w2, 1, jb);
    else
        GEMM(ctx, jb, ncols, jb, 1, t, 1, jb, w1, 1, jb, 0, w2, 1, jb);
    /* C -= V W2 */
    GEMM(ctx, rows, ncols, jb, -1, v, 1, rows, w2, 1, jb, 1, c, 1, ldc);
}

/* Workspace (elements of T) that geqrf / orgqr / ormqr need for an m x n
 * matrix: V (m x NB), G (NB x NB), W1, W2 (NB x wcols). */

/*
 * Blocked Householder QR (geqrf) of a (m x n). tau[0..k), tfac: the T factor
 * of each block, block b at tfac + b * NB * NB (ldt = jb of that block).
 * work: bnk_la_qr_work(m, n).
 */
static void F(geqrf)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda, T *tau,
                     T *tfac, T *work)
{
    int64_t k = m < n ? m : n;
    T *v = work, *g = v + m * NB, *w1 = g + NB * NB, *w2 = w1 + NB * (n > 0 ? n : 1);
    for (int64_t j = 0; j < k; j += NB) {
        int64_t jb = k - j < NB ? k - j : NB;
        int64_t rows = m - j;
        F(geqr2)(rows, jb, a + j + j * lda, lda, tau + j);
        T *tb = tfac + (j / NB) * NB * NB;
        F(build_v)(rows, jb, a + j + j * lda, lda, v);
        F(larft)(ctx, rows, jb, v, tau + j, tb, g);
        int64_t n2 = n - j - jb;
        if (n2 > 0)
            F(larfb)(ctx, true, rows, jb, n2, v, tb, a + j + (j + jb) * lda, lda, w1, w2);
    }
}

/*
 * Applies Q = H_0 H_1 ... H_{k-1} (trans: Q^T) from geqrf of the m x k'
 * factored matrix a to C (m x ncols, ldc). work: bnk_la_qr_work(m, ncols).
 */
static void F(ormqr)(const bnk_la_ctx *ctx, bool trans, int64_t m, int64_t k, const T *a,
                     int64_t lda, const T *tfac, int64_t ncols, T *c, int64_t ldc, T *work)
{
    T *v = work, *w1 = v + m * NB + NB * NB, *w2 = w1 + NB * (ncols > 0 ? ncols : 1);
    int64_t nblk = (k + NB - 1) / NB;
    for (int64_t bi = 0; bi < nblk; bi++) {
        int64_t b = trans ? bi : nblk - 1 - bi;
        int64_t j = b * NB, jb = k - j < NB ? k - j : NB;
        F(build_v)(m - j, jb, a + j + j * lda, lda, v);
        F(larfb)(ctx, trans, m - j, jb, ncols, v, tfac + b * NB * NB, c + j, ldc, w1, w2);
    }
}

/*
 * Forms the first qc (>= k) columns of Q = H_0 ... H_{k-1} (m x qc, ldq) from
 * k reflectors stored below the diagonal of a (lda), backward over the
 * blocks so each block touches only rows and columns >= its start. The T
 * factors are geqrf's tfac, or, when tfac is NULL, built per block from tau
 * (for reflectors as geqr2 and gebrd leave them: gebrd's Q and P). work:
 * bnk_la_qr_work(m, qc), plus NB * NB when tfac is NULL.
 */
static void F(orgqr)(const bnk_la_ctx *ctx, int64_t m, int64_t k, int64_t qc, const T *a,
                     int64_t lda, const T *tfac, const T *tau, T *q, int64_t ldq, T *work)
{
    for (int64_t j = 0; j < qc; j++)
        for (int64_t i = 0; i < m; i++)
            q[i + j * ldq] = i == j ? 1 : 0;
    int64_t wc = qc > 0 ? qc : 1;
    T *v = work, *g = v + m * NB, *w1 = g + NB * NB, *w2 = w1 + NB * wc, *t = w2 + NB * wc;
    for (int64_t b = (k + NB - 1) / NB - 1; b >= 0; b--) {
        int64_t j = b * NB, jb = k - j < NB ? k - j : NB;
        F(build_v)(m - j, jb, a + j + j * lda, lda, v);
        if (!tfac)
            F(larft)(ctx, m - j, jb, v, tau + j, t, g);
        F(larfb)
        (ctx, false, m - j, jb, qc - j, v, tfac ? tfac + b * NB * NB : t, q + j + j * ldq, ldq, w1,
         w2);
    }
}

/* ---- Golub-Kahan SVD: bidiagonalization --------------------------------- */

/* Vectors of T as wide as one zmm (8 doubles / 16 floats), loaded and stored
 * with memcpy (any alignment); the matrix-vector products and the rotation
 * kernel below are written on them. */
typedef T F(la_vt) __attribute__((vector_size(64)));
#define LA_VL ((int64_t)(64 / sizeof(T)))

static inline void F(vld)(const T *p, F(la_vt) * v)
{
    memcpy(v, p, sizeof *v);
}

static inline void F(vst)(T *p, const F(la_vt) * v)
{
    memcpy(p, v, sizeof *v);
}

static inline T F(vsum)(const F(la_vt) * v)
{
    T s = 0;
    for (int l = 0; l < LA_VL; l++)
        s += (*v)[l];
    return s;
}

/* y[j * incy] = (acc ? y[j * incy] : 0) + alpha * (A^T x)[j] for A (m x n,
 * lda), j < n: four columns per pass share the loads of x. */
static void F(gemv_t)(int64_t m, int64_t n, T alpha, const T *a, int64_t lda, const T *x, bool acc,
                      T *y, int64_t incy)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const T *a0 = a + j * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        F(la_vt) s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        int64_t i = 0;
        for (; i + LA_VL <= m; i += LA_VL) {
            F(la_vt) xv, u;
            F(vld)(x + i, &xv);
            F(vld)(a0 + i, &u);
            s0 += u * xv;
            F(vld)(a1 + i, &u);
            s1 += u * xv;
            F(vld)(a2 + i, &u);
            s2 += u * xv;
            F(vld)(a3 + i, &u);
            s3 += u * xv;
        }
        T t0 = F(vsum)(&s0), t1 = F(vsum)(&s1), t2 = F(vsum)(&s2), t3 = F(vsum)(&s3);
        for (; i < m; i++) {
            t0 += a0[i] * x[i];
            t1 += a1[i] * x[i];
            t2 += a2[i] * x[i];
            t3 += a3[i] * x[i];
        }
        T *yj = y + j * incy;
        yj[0] = (acc ? yj[0] : 0) + alpha * t0;
        yj[incy] = (acc ? yj[incy] : 0) + alpha * t1;
        yj[2 * incy] = (acc ? yj[2 * incy] : 0) + alpha * t2;
        yj[3 * incy] = (acc ? yj[3 * incy] : 0) + alpha * t3;
    }
    for (; j < n; j++) {
        const T *a0 = a + j * lda;
        F(la_vt) s0 = {0};
        int64_t i = 0;
        for (; i + LA_VL <= m; i += LA_VL) {
            F(la_vt) xv, u;
            F(vld)(x + i, &xv);
            F(vld)(a0 + i, &u);
            s0 += u * xv;
        }
        T t0 = F(vsum)(&s0);
        for (; i < m; i++)
            t0 += a0[i] * x[i];
        y[j * incy] = (acc ? y[j * incy] : 0) + alpha * t0;
    }
}

/* y[0..m) += alpha * A x for A (m x n, lda), x[j * incx]; y must not overlap
 * A's columns or x. */
static void F(gemv_n)(int64_t m, int64_t n, T alpha, const T *a, int64_t lda, const T *x,
                      int64_t incx, T *restrict y)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const T *restrict a0 = a + j * lda, *restrict a1 = a0 + lda;
        const T *restrict a2 = a1 + lda, *restrict a3 = a2 + lda;
        T x0 = alpha * x[j * incx], x1 = alpha * x[(j + 1) * incx];
        T x2 = alpha * x[(j + 2) * incx], x3 = alpha * x[(j + 3) * incx];
        for (int64_t i = 0; i < m; i++)
            y[i] += a0[i] * x0 + a1[i] * x1 + a2[i] * x2 + a3[i] * x3;
    }
    for (; j < n; j++) {
        const T *restrict a0 = a + j * lda;
        T x0 = alpha * x[j * incx];
        for (int64_t i = 0; i < m; i++)
            y[i] += a0[i] * x0;
    }
}

/*
 * Unblocked reduction of a (m x n, lda, m >= n) to upper bidiagonal form
 * B = Q^T A P (gebd2): d[n] the diagonal, e[n-1] the superdiagonal.
 * Q = H_0 ... H_{n-1}, H_i = I - tauq_i v_i v_i^T, v_i below the diagonal of
 * column i (geqrf layout); P = G_0 ... G_{n-2}, G_i = I - taup_i u_i u_i^T,
 * u_i right of the superdiagonal in row i (head 1 implied at (i, i+1)).
 * The diagonal and superdiagonal of a hold d and e. w: n + m elements.
 */
static void F(gebd2)(int64_t m, int64_t n, T *a, int64_t lda, T *d, T *e, T *tauq, T *taup, T *w)
{
    T *row = w, *y = w + n;
    for (int64_t i = 0; i < n; i++) {
        T *ci = a + i + i * lda;
        int64_t nr = n - i - 1;
        tauq[i] = F(larfg)(m - i, ci);
        d[i] = ci[0];
        if (nr > 0 && tauq[i] != 0) { /* A(i:m, i+1:n) = H_i A(i:m, i+1:n) */
            ci[0] = 1;
            F(gemv_t)(m - i, nr, 1, ci + lda, lda, ci, false, y, 1);
            for (int64_t j = 0; j < nr; j++)
                F(axpy_sub)(m - i, tauq[i] * y[j], ci, ci + (j + 1) * lda);
            ci[0] = d[i];
        }
        if (nr <= 0) {
            taup[i] = 0;
            continue;
        }
        for (int64_t j = 0; j < nr; j++)
            row[j] = ci[(j + 1) * lda];
        taup[i] = F(larfg)(nr, row);
        e[i] = row[0];
        row[0] = 1;
        int64_t mb = m - i - 1;
        if (taup[i] != 0 && mb > 0) { /* A(i+1:m, i+1:n) = A(i+1:m, i+1:n) G_i */
            T *s = ci + 1 + lda;
            for (int64_t r = 0; r < mb; r++)
                y[r] = 0;
            F(gemv_n)(mb, nr, 1, s, lda, row, 1, y);
            for (int64_t j = 0; j < nr; j++)
                F(axpy_sub)(mb, taup[i] * row[j], y, s + j * lda);
        }
        row[0] = e[i];
        for (int64_t j = 0; j < nr; j++)
            ci[(j + 1) * lda] = row[j];
    }
}

/*
 * One panel of the blocked bidiagonalization (labrd): reduces the first nb
 * rows and columns of a (mr x nc, lda, mr >= nc > nb) and returns X (mr x nb,
 * ldx) and Y (nc x nb, ldy) such that the trailing block's update is
 * A22 -= V Y2^T + X2 U^T (V: the panel's column reflectors, U^T its row
 * reflectors). Leaves 1 at (i, i) and (i, i+1) of the panel (the reflector
 * heads the trailing GEMMs read); the caller puts d and e back. Only the
 * panel's columns and rows are written; the trailing block is read.
 * tmp: nc + nb elements.
 */
static void F(labrd)(int64_t mr, int64_t nc, int64_t nb, T *a, int64_t lda, T *d, T *e, T *tauq,
                     T *taup, T *x, int64_t ldx, T *y, int64_t ldy, T *tmp)
{
    T *row = tmp, *xr = tmp + nc;
    for (int64_t i = 0; i < nb; i++) {
        T *ci = a + i + i * lda;
        int64_t ml = mr - i, nr = nc - i - 1, mb = mr - i - 1;
        /* column i: A(i:mr, i) -= A(i:mr, 0:i) Y(i, 0:i)^T + X(i:mr, 0:i) A(0:i, i) */
        F(gemv_n)(ml, i, -1, a + i, lda, y + i, ldy, ci);
        F(gemv_n)(ml, i, -1, x + i, ldx, a + i * lda, 1, ci);
        tauq[i] = F(larfg)(ml, ci);
        d[i] = ci[0];
        ci[0] = 1;
        /* Y(i+1:nc, i) = tauq (A^T v - Y A_p^T v - A_r^T X^T v) */
        T *yi = y + i * ldy;
        F(gemv_t)(ml, nr, 1, ci + lda, lda, ci, false, yi + i + 1, 1);
        F(gemv_t)(ml, i, 1, a + i, lda, ci, false, yi, 1);
        F(gemv_n)(nr, i, -1, y + i + 1, ldy, yi, 1, yi + i + 1);
        F(gemv_t)(ml, i, 1, x + i, ldx, ci, false, yi, 1);
        F(gemv_t)(i, nr, -1, a + (i + 1) * lda, lda, yi, true, yi + i + 1, 1);
        for (int64_t j = 0; j < nr; j++)
            yi[i + 1 + j] *= tauq[i];
        /* row i: A(i, i+1:nc) -= Y(i+1:nc, 0:i+1) A(i, 0:i+1)^T + A(0:i, i+1:nc)^T X(i, 0:i)^T */
        for (int64_t j = 0; j < nr; j++)
            row[j] = ci[(j + 1) * lda];
        F(gemv_n)(nr, i + 1, -1, y + i + 1, ldy, a + i, lda, row);
        for (int64_t k = 0; k < i; k++)
            xr[k] = x[i + k * ldx];
        F(gemv_t)(i, nr, -1, a + (i + 1) * lda, lda, xr, true, row, 1);
        taup[i] = F(larfg)(nr, row);
        e[i] = row[0];
        row[0] = 1;
        for (int64_t j = 0; j < nr; j++)
            ci[(j + 1) * lda] = row[j];
        /* X(i+1:mr, i) = taup (A u - A_c Y^T u - X A_r u) */
        T *xi = x + i * ldx;
        for (int64_t r = i + 1; r < mr; r++)
            xi[r] = 0;
        F(gemv_n)(mb, nr, 1, ci + 1 + lda, lda, row, 1, xi + i + 1);
        F(gemv_t)(nr, i + 1, 1, y + i + 1, ldy, row, false, xi, 1);
        F(gemv_n)(mb, i + 1, -1, a + i + 1, lda, xi, 1, xi + i + 1);
        for (int64_t r = 0; r < i; r++)
            xi[r] = 0;
        F(gemv_n)(i, nr, 1, a + (i + 1) * lda, lda, row, 1, xi);
        F(gemv_n)(mb, i, -1, x + i + 1, ldx, xi, 1, xi + i + 1);
        for (int64_t r = i + 1; r < mr; r++)
            xi[r] *= taup[i];
    }
}

/*
 * Blocked reduction to upper bidiagonal form (gebrd; m >= n): the same
 * result and layout as gebd2. Panels of NB columns by labrd while more than
 * LA_BRD_NX columns remain, each followed by two GEMMs on the trailing block
 * (half of the flops); the rest unblocked. work: bnk_la_gebrd_work(m, n).
 */
static void F(gebrd)(const bnk_la_ctx *ctx, int64_t m, int64_t n, T *a, int64_t lda, T *d, T *e,
                     T *tauq, T *taup, T *work)
{
    BN_ASSERT(m >= n);
    T *x = work, *y = x + m * NB, *tmp = y + n * NB;
    int64_t i = 0;
    for (; n - i > LA_BRD_NX; i += NB) {
        int64_t mr = m - i, nc = n - i;
        T *ai = a + i + i * lda;
        F(labrd)(mr, nc, NB, ai, lda, d + i, e + i, tauq + i, taup + i, x, mr, y, nc, tmp);
        T *c = ai + NB + NB * lda;
        /* A22 -= V Y2^T, then -= X2 U^T */
        GEMM(ctx, mr - NB, nc - NB, NB, -1, ai + NB, 1, lda, y + NB, nc, 1, 1, c, 1, lda);
        GEMM(ctx, mr - NB, nc - NB, NB, -1, x + NB, 1, mr, ai + NB * lda, 1, lda, 1, c, 1, lda);
        for (int64_t k = 0; k < NB; k++) {
            ai[k + k * lda] = d[i + k];
            ai[k + (k + 1) * lda] = e[i + k];
        }
    }
    F(gebd2)(m - i, n - i, a + i + i * lda, lda, d + i, e + i, tauq + i, taup + i, tmp);
}

/* ---- Golub-Kahan SVD: bidiagonal QR ------------------------------------- */

/* Rotation (c, s, r) with c f + s g = r, -s f + c g = 0, c >= 0. */
static inline void F(lartg)(T f, T g, T *c, T *s, T *r)
{
    if (g == 0) {
        *c = 1;
        *s = 0;
        *r = f;
        return;
    }
    if (f == 0) {
        *c = 0;
        *s = g < 0 ? -1 : 1;
        *r = g < 0 ? -g : g;
        return;
    }
    double fd = f, gd = g, af = fabs(fd), ag = fabs(gd), rr;
    if (af > 1e-150 && af < 1e150 && ag > 1e-150 && ag < 1e150)
        rr = sqrt(fd * fd + gd * gd);
    else
        rr = hypot(fd, gd);
    rr = copysign(rr, fd);
    *c = (T)(fd / rr);
    *s = (T)(gd / rr);
    *r = (T)rr;
}

/* The smaller singular value of [f g; 0 h]: s_max from
 * 2 s_max = sqrt((|f| + |h|)^2 + g^2) + sqrt((|f| - |h|)^2 + g^2) (sums of
 * non-negative terms, so accurate), s_min = |f h| / s_max. */
static T F(las2min)(T f, T g, T h)
{
    double fa = fabs((double)f), ga = fabs((double)g), ha = fabs((double)h);
    double mx = fa > ha ? fa : ha, sc = mx > ga ? mx : ga;
    if (fa == 0 || ha == 0)
        return 0;
    fa /= sc;
    ga /= sc;
    ha /= sc;
    double smax =
        0.5 * (sqrt((fa + ha) * (fa + ha) + ga * ga) + sqrt((fa - ha) * (fa - ha) + ga * ga));
    return (T)(fa * (ha / smax) * sc);
}

/* Rows per block of the rotation kernel: LA_NV vectors (32 doubles or 64
 * floats: four independent chains through each sweep; the block of a
 * 1024-column matrix, 256 KiB, stays in L2). */
#define LA_NV 4
#define LA_RB (LA_NV * LA_VL)

/*
 * Applies a log of rotation sweeps to the packed row block p (column j of
 * the block, LA_RB rows, at p + (j - lo) * LA_RB). Record r of rec (3 entries
 * each) is a sweep over the column pairs (k, k+1), k = rec[0] .. rec[0] +
 * rec[1] - 1, in increasing order when rec[2] is 1 and decreasing when 0; its
 * rotations (in the order applied) are the next rec[1] entries of c and s:
 * x_k' = c x_k + s x_{k+1}, x_{k+1}' = c x_{k+1} - s x_k. The column a sweep
 * carries from one pair to the next stays in registers.
 */
static void F(rot_block)(T *p, int64_t lo, const T *c, const T *s, const int64_t *rec, int64_t nrec)
{
    int64_t off = 0;
    for (int64_t r = 0; r < nrec; r++) {
        const int64_t *rr = rec + 3 * r;
        int64_t len = rr[1];
        const T *cr = c + off, *sr = s + off;
        T *q = p + (rr[0] - lo) * LA_RB;
        off += len;
        F(la_vt) x[LA_NV], y[LA_NV];
        if (rr[2]) {
            for (int v = 0; v < LA_NV; v++)
                F(vld)(q + v * LA_VL, &x[v]);
            for (int64_t j = 0; j < len; j++) {
                T cc = cr[j], ss = sr[j];
                T *qk = q + j * LA_RB, *qn = qk + LA_RB;
                for (int v = 0; v < LA_NV; v++) {
                    F(vld)(qn + v * LA_VL, &y[v]);
                    F(la_vt) nk = cc * x[v] + ss * y[v];
                    F(vst)(qk + v * LA_VL, &nk);
                    x[v] = cc * y[v] - ss * x[v];
                }
            }
            for (int v = 0; v < LA_NV; v++)
                F(vst)(q + len * LA_RB + v * LA_VL, &x[v]);
        } else {
            for (int v = 0; v < LA_NV; v++)
                F(vld)(q + len * LA_RB + v * LA_VL, &x[v]);
            for (int64_t j = 0; j < len; j++) {
                T cc = cr[j], ss = sr[j];
                T *qk = q + (len - 1 - j) * LA_RB, *qn = qk + LA_RB;
                for (int v = 0; v < LA_NV; v++) {
                    F(vld)(qk + v * LA_VL, &y[v]);
                    F(la_vt) nn = cc * x[v] - ss * y[v];
                    F(vst)(qn + v * LA_VL, &nn);
                    x[v] = cc * y[v] + ss * x[v];
                }
            }
            for (int v = 0; v < LA_NV; v++)
                F(vst)(q + v * LA_VL, &x[v]);
        }
    }
}

/* Applies the logged sweeps (see rot_block) to columns lo..hi of a (nrows x
 * *, lda), LA_RB rows at a time: each row block is packed into p (LA_RB *
 * (hi - lo + 1) elements, contiguous, so no leading dimension maps the
 * columns onto one cache set), takes every rotation of the log while it sits
 * in L1/L2, and is written back. */
static void F(rot_apply)(int64_t nrows, T *a, int64_t lda, int64_t lo, int64_t hi, const T *c,
                         const T *s, const int64_t *rec, int64_t nrec, T *p)
{
    int64_t w = hi - lo + 1;
    for (int64_t r0 = 0; r0 < nrows; r0 += LA_RB) {
        int64_t nr = nrows - r0 < LA_RB ? nrows - r0 : LA_RB;
        for (int64_t j = 0; j < w; j++) {
            T *dst = p + j * LA_RB;
            memcpy(dst, a + r0 + (lo + j) * lda, sizeof(T) * (size_t)nr);
            for (int64_t i = nr; i < LA_RB; i++)
                dst[i] = 0;
        }
        F(rot_block)(p, lo, c, s, rec, nrec);
        for (int64_t j = 0; j < w; j++)
            memcpy(a + r0 + (lo + j) * lda, p + j * LA_RB, sizeof(T) * (size_t)nr);
    }
}

/* The rotation log of one bdsqr call (see rot_block): cu/su for U, cv/sv for
 * V, nrot entries of each used of cap; columns lo..hi touched. */
typedef struct F(la_rlog) {
    T *cu, *su, *cv, *sv, *pack;
    int64_t *rec;
    int64_t nrec, nrot, cap, lo, hi;
} F(la_rlog);

static void F(rlog_flush)(F(la_rlog) * lg, T *u, int64_t ldu, int64_t nru, T *v, int64_t ldv,
                          int64_t nrv)
{
    if (lg->nrec == 0)
        return;
    F(rot_apply)(nru, u, ldu, lg->lo, lg->hi, lg->cu, lg->su, lg->rec, lg->nrec, lg->pack);
    F(rot_apply)(nrv, v, ldv, lg->lo, lg->hi, lg->cv, lg->sv, lg->rec, lg->nrec, lg->pack);
    lg->nrec = lg->nrot = 0;
    lg->lo = INT64_MAX;
    lg->hi = -1;
}

/* Opens a sweep of len rotations over pairs k0 .. k0 + len - 1 (fwd: in
 * increasing order); returns the offset of its first rotation in the log,
 * flushing the log first when it is full. */
static int64_t F(rlog_open)(F(la_rlog) * lg, int64_t k0, int64_t len, bool fwd, T *u, int64_t ldu,
                            int64_t nru, T *v, int64_t ldv, int64_t nrv)
{
    if (lg->nrot + len > lg->cap)
        F(rlog_flush)(lg, u, ldu, nru, v, ldv, nrv);
    int64_t *rr = lg->rec + 3 * lg->nrec++;
    rr[0] = k0;
    rr[1] = len;
    rr[2] = fwd;
    if (k0 < lg->lo)
        lg->lo = k0;
    if (k0 + len > lg->hi)
        lg->hi = k0 + len;
    int64_t off = lg->nrot;
    lg->nrot += len;
    return off;
}

/*
 * SVD of the upper bidiagonal B (d[n], e[n-1]) by implicit-shift QR
 * (Golub-Kahan steps with a shift from the trailing 2 x 2 block, and
 * Demmel-Kahan zero-shift steps when a shift would ruin the relative
 * accuracy of the small singular values), LAPACK bdsqr's scheme: split
 * where |e_i| is below the relative threshold, pick the chasing direction
 * from the larger end of each new block, stop after 6 n^2 inner steps.
 * On return d holds the singular values, >= 0 and descending, and e is
 * destroyed. When u is non-NULL, B = Ub S Vb^T is accumulated as
 * U <- U Ub (u: nru x n, ldu) and V <- V Vb (v: n x n, ldv): the rotations
 * are logged for many sweeps and applied in row blocks (rot_apply), so U
 * and V stream through the cache once per log, not once per sweep; the
 * sign fix negates V's columns and the sort swaps U's and V's columns.
 * rw: bnk_la_bdsqr_work(n) elements, iw: bnk_la_bdsqr_iwork(n). Returns 0,
 * or the number of e_i still not negligible when the step limit was hit
 * (d, u and v then hold the partial result).
 */
static int64_t F(bdsqr)(int64_t n, T *d, T *e, T *u, int64_t ldu, int64_t nru, T *v, int64_t ldv,
                        T *rw, int64_t *iw)
{
    if (n <= 0)
        return 0;
    const double eps = EPS;
    const double unfl = LA_F64 ? DBL_MIN : FLT_MIN;
    F(la_rlog) lg = {.nrec = 0, .nrot = 0, .lo = INT64_MAX, .hi = -1};
    if (u) {
        lg.cap = bnk_la_rot_cap(n);
        lg.cu = rw;
        lg.su = rw + lg.cap;
        lg.cv = rw + 2 * lg.cap;
        lg.sv = rw + 3 * lg.cap;
        lg.pack = rw + 4 * lg.cap;
        lg.rec = iw;
    }
    int64_t fails = 0;
    if (n > 1) {
        double tolmul = pow(eps, -0.125);
        tolmul = tolmul < 10 ? 10 : tolmul > 100 ? 100 : tolmul;
        const double tol = tolmul * eps;
        /* threshold for negligible e: tol times an estimate of s_min */
        double smin0 = fabs((double)d[0]);
        if (smin0 != 0) {
            double mu = smin0;
            for (int64_t i = 1; i < n; i++) {
                mu = fabs((double)d[i]) * (mu / (mu + fabs((double)e[i - 1])));
                if (mu < smin0)
                    smin0 = mu;
                if (smin0 == 0)
                    break;
            }
        }
        smin0 /= sqrt((double)n);
        double thresh = tol * smin0;
        if (thresh < 6.0 * (double)n * (double)n * unfl)
            thresh = 6.0 * (double)n * (double)n * unfl;
        int64_t maxit = 6 * n * n, iter = 0;
        int64_t m = n - 1, oldll = -1, oldm = -1;
        int idir = 0;
        while (m > 0) {
            if (iter > maxit) {
                for (int64_t i = 0; i < m; i++)
                    fails += e[i] != 0;
                break;
            }
            /* the block [ll, m] with e[ll..m-1] not negligible */
            double smax = fabs((double)d[m]);
            int64_t l = m - 1;
            for (; l >= 0; l--) {
                double abss = fabs((double)d[l]), abse = fabs((double)e[l]);
                if (abse <= thresh)
                    break;
                if (abss > smax)
                    smax = abss;
                if (abse > smax)
                    smax = abse;
            }
            if (l >= 0) {
                e[l] = 0;
                if (l == m - 1) { /* d[m] converged */
                    m--;
                    continue;
                }
            }
            int64_t ll = l + 1;
            if (ll > oldm || m < oldll) /* a new block: chase from its larger end */
                idir = fabs((double)d[ll]) >= fabs((double)d[m]) ? 1 : 2;
            /* relative convergence tests, with an estimate of the block's s_min */
            double mu, smin;
            bool split = false;
            if (idir == 1) {
                if (fabs((double)e[m - 1]) <= tol * fabs((double)d[m])) {
                    e[m - 1] = 0;
                    continue;
                }
                mu = smin = fabs((double)d[ll]);
                for (l = ll; l < m && !split; l++) {
                    if (fabs((double)e[l]) <= tol * mu) {
                        e[l] = 0;
                        split = true;
                        break;
                    }
                    mu = fabs((double)d[l + 1]) * (mu / (mu + fabs((double)e[l])));
                    if (mu < smin)
                        smin = mu;
                }
            } else {
                if (fabs((double)e[ll]) <= tol * fabs((double)d[ll])) {
                    e[ll] = 0;
                    continue;
                }
                mu = smin = fabs((double)d[m]);
                for (l = m - 1; l >= ll; l--) {
                    if (fabs((double)e[l]) <= tol * mu) {
                        e[l] = 0;
                        split = true;
                        break;
                    }
                    mu = fabs((double)d[l]) * (mu / (mu + fabs((double)e[l])));
                    if (mu < smin)
                        smin = mu;
                }
            }
            if (split)
                continue;
            oldll = ll;
            oldm = m;
            /* shift: zero when it would swamp the block's smallest value */
            double shift = 0;
            if ((double)n * tol * (smin / smax) > (eps > 0.01 * tol ? eps : 0.01 * tol)) {
                double sll;
                if (idir == 1) {
                    sll = fabs((double)d[ll]);
                    shift = F(las2min)(d[m - 1], e[m - 1], d[m]);
                } else {
                    sll = fabs((double)d[m]);
                    shift = F(las2min)(d[ll], e[ll], d[ll + 1]);
                }
                if (sll > 0 && (shift / sll) * (shift / sll) < eps)
                    shift = 0;
            }
            int64_t len = m - ll;
            iter += len;
            T *cu = NULL, *su = NULL, *cv = NULL, *sv = NULL;
            if (u) {
                int64_t off = F(rlog_open)(&lg, ll, len, idir == 1, u, ldu, nru, v, ldv, n);
                cu = lg.cu + off;
                su = lg.su + off;
                cv = lg.cv + off;
                sv = lg.sv + off;
            }
            T cs, sn, oldcs, oldsn, r, f, g, cl, sl;
            if (shift == 0 && idir == 1) {
                cs = oldcs = 1;
                oldsn = 0;
                for (int64_t i = ll; i < m; i++) {
                    F(lartg)(d[i] * cs, e[i], &cs, &sn, &r);
                    if (i > ll)
                        e[i - 1] = oldsn * r;
                    F(lartg)(oldcs * r, d[i + 1] * sn, &oldcs, &oldsn, &d[i]);
                    if (u) {
                        cv[i - ll] = cs;
                        sv[i - ll] = sn;
                        cu[i - ll] = oldcs;
                        su[i - ll] = oldsn;
                    }
                }
                T h = d[m] * cs;
                d[m] = h * oldcs;
                e[m - 1] = h * oldsn;
                if (fabs((double)e[m - 1]) <= thresh)
                    e[m - 1] = 0;
            } else if (shift == 0) {
                cs = oldcs = 1;
                oldsn = 0;
                for (int64_t i = m; i > ll; i--) {
                    F(lartg)(d[i] * cs, e[i - 1], &cs, &sn, &r);
                    if (i < m)
                        e[i] = oldsn * r;
                    F(lartg)(oldcs * r, d[i - 1] * sn, &oldcs, &oldsn, &d[i]);
                    if (u) {
                        cu[m - i] = cs;
                        su[m - i] = -sn;
                        cv[m - i] = oldcs;
                        sv[m - i] = -oldsn;
                    }
                }
                T h = d[ll] * cs;
                d[ll] = h * oldcs;
                e[ll] = h * oldsn;
                if (fabs((double)e[ll]) <= thresh)
                    e[ll] = 0;
            } else if (idir == 1) {
                f = (T)((fabs((double)d[ll]) - shift) *
                        (copysign(1.0, (double)d[ll]) + shift / (double)d[ll]));
                g = e[ll];
                for (int64_t i = ll; i < m; i++) {
                    F(lartg)(f, g, &cs, &sn, &r);
                    if (i > ll)
                        e[i - 1] = r;
                    f = cs * d[i] + sn * e[i];
                    e[i] = cs * e[i] - sn * d[i];
                    g = sn * d[i + 1];
                    d[i + 1] = cs * d[i + 1];
                    F(lartg)(f, g, &cl, &sl, &r);
                    d[i] = r;
                    f = cl * e[i] + sl * d[i + 1];
                    d[i + 1] = cl * d[i + 1] - sl * e[i];
                    if (i < m - 1) {
                        g = sl * e[i + 1];
                        e[i + 1] = cl * e[i + 1];
                    }
                    if (u) {
                        cv[i - ll] = cs;
                        sv[i - ll] = sn;
                        cu[i - ll] = cl;
                        su[i - ll] = sl;
                    }
                }
                e[m - 1] = f;
                if (fabs((double)e[m - 1]) <= thresh)
                    e[m - 1] = 0;
            } else {
                f = (T)((fabs((double)d[m]) - shift) *
                        (copysign(1.0, (double)d[m]) + shift / (double)d[m]));
                g = e[m - 1];
                for (int64_t i = m; i > ll; i--) {
                    F(lartg)(f, g, &cs, &sn, &r);
                    if (i < m)
                        e[i] = r;
                    f = cs * d[i] + sn * e[i - 1];
                    e[i - 1] = cs * e[i - 1] - sn * d[i];
                    g = sn * d[i - 1];
                    d[i - 1] = cs * d[i - 1];
                    F(lartg)(f, g, &cl, &sl, &r);
                    d[i] = r;
                    f = cl * e[i - 1] + sl * d[i - 1];
                    d[i - 1] = cl * d[i - 1] - sl * e[i - 1];
                    if (i > ll + 1) {
                        g = sl * e[i - 2];
                        e[i - 2] = cl * e[i - 2];
                    }
                    if (u) {
                        cu[m - i] = cs;
                        su[m - i] = -sn;
                        cv[m - i] = cl;
                        sv[m - i] = -sl;
                    }
                }
                e[ll] = f;
                if (fabs((double)e[ll]) <= thresh)
                    e[ll] = 0;
            }
        }
    }
    if (u)
        F(rlog_flush)(&lg, u, ldu, nru, v, ldv, n);
    /* signs, then descending order (selection sort: at most n - 1 swaps) */
    for (int64_t i = 0; i < n; i++) {
        if (!signbit(d[i])) /* (-0 too) */
            continue;
        d[i] = -d[i];
        if (u)
            for (int64_t r = 0; r < n; r++)
                v[r + i * ldv] = -v[r + i * ldv];
    }
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < n; j++)
            if (d[j] > d[best])
                best = j;
        if (best == i)
            continue;
        T t = d[i];
        d[i] = d[best];
        d[best] = t;
        if (!u)
            continue;
        for (int64_t r = 0; r < nru; r++) {
            t = u[r + i * ldu];
            u[r + i * ldu] = u[r + best * ldu];
            u[r + best * ldu] = t;
        }
        for (int64_t r = 0; r < n; r++) {
            t = v[r + i * ldv];
            v[r + i * ldv] = v[r + best * ldv];
            v[r + best * ldv] = t;
        }
    }
    return fails;
}

#undef LA_RB
#undef LA_NV
#undef LA_VL
#undef F
#undef GEMM
#undef NB
#undef LA_BRD_NX
#undef CAT_
#undef CAT2_

#ifndef BNK_LA_TABLE
#define BNK_LA_ENTRIES_(S)                                                                         \
    .potrfu##S = potrfu##S, .getrf##S = getrf##S, .getrs##S = getrs##S, .geqrf##S = geqrf##S,      \
    .ormqr##S = ormqr##S, .orgqr##S = orgqr##S, .gebrd##S = gebrd##S, .bdsqr##S = bdsqr##S,        \
    .gemm##S = gemm##S
/* Defines `const bnk_linalg sym` from the static routines of both types. */
#define BNK_LA_TABLE(sym, isa_name)                                                                \
    const bnk_linalg sym = {.name = isa_name, BNK_LA_ENTRIES_(_f32), BNK_LA_ENTRIES_(_f64)}
#endif
