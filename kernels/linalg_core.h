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
#define LA_JB       32 /* Jacobi column block: 2 x 32 columns of G and V stay in L2 */

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
static void F(axpy_sub)(int64_t n, T alpha, const T *restrict x, T *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] -= alpha * x[i];
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

/* x.x, y.y and x.y in one pass, accumulated in double. */
static void F(dot3)(int64_t n, const T *x, const T *y, double *xx, double *yy, double *xy)
{
    la_v8d a = {0}, b = {0}, c = {0};
    double sa = 0, sb = 0, sc = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        la_v8d u, v;
        F(ld8)(x + i, &u);
        F(ld8)(y + i, &v);
        a += u * u;
        b += v * v;
        c += u * v;
    }
    for (; i < n; i++) {
        double u = x[i], v = y[i];
        sa += u * u;
        sb += v * v;
        sc += u * v;
    }
    *xx = sa + la_hsum(&a);
    *yy = sb + la_hsum(&b);
    *xy = sc + la_hsum(&c);
}

/* [x y] = [x y] [c s; -s c]: x' = c x - s y, y' = s x + c y */
static void F(rot)(int64_t n, T *restrict x, T *restrict y, T c, T s)
{
    for (int64_t i = 0; i < n; i++) {
        T u = x[i], v = y[i];
        x[i] = c * u - s * v;
        y[i] = s * u + c * v;
    }
}

/* ---- Cholesky ----------------------------------------------------------- */

/* Unblocked lower Cholesky of the n x n column-major block l (ldl = n),
 * column by column with axpy updates (left-looking). Returns -1 on success,
 * else the index of the failing pivot (its value in *bad). */
static int64_t F(potf2l)(int64_t n, T *l, double *bad)
{
    for (int64_t j = 0; j < n; j++) {
        T *cj = l + j * n;
        for (int64_t k = 0; k < j; k++)
            F(axpy_sub)(n - j, l[j + k * n], l + j + k * n, cj + j);
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
        /* l = A11^T restricted to the lower triangle (= A11's upper one) */
        for (int64_t c = 0; c < jb; c++)
            for (int64_t r = c; r < jb; r++)
                l[r + c * jb] = a11[c + r * lda];
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
        /* li = l^-1 (lower), column c by forward substitution on e_c */
        for (int64_t c = 0; c < jb; c++) {
            T *x = li + c * jb;
            for (int64_t r = 0; r < jb; r++)
                x[r] = r == c ? 1 : 0;
            for (int64_t k = c; k < jb; k++) {
                x[k] /= l[k + k * jb];
                F(axpy_sub)(jb - k - 1, x[k], l + k + 1 + k * jb, x + k + 1);
            }
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
 * when x[1..n) is zero.
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
    double tau = (beta - alpha) / beta;
    T scale = (T)(1.0 / (alpha - beta));
    for (int64_t i = 1; i < n; i++)
        x[i] *= scale;
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
 * Forms the first qc columns of Q (m x qc, ldq) from geqrf of the m x k
 * factored a (orgqr), backward over the blocks so each block touches only
 * rows and columns >= its start. work: bnk_la_qr_work(m, qc).
 */
static void F(orgqr)(const bnk_la_ctx *ctx, int64_t m, int64_t k, int64_t qc, const T *a,
                     int64_t lda, const T *tfac, T *q, int64_t ldq, T *work)
{
    for (int64_t j = 0; j < qc; j++)
        for (int64_t i = 0; i < m; i++)
            q[i + j * ldq] = i == j ? 1 : 0;
    T *v = work, *w1 = v + m * NB + NB * NB, *w2 = w1 + NB * (qc > 0 ? qc : 1);
    int64_t nblk = (k + NB - 1) / NB;
    for (int64_t b = nblk - 1; b >= 0; b--) {
        int64_t j = b * NB, jb = k - j < NB ? k - j : NB;
        F(build_v)(m - j, jb, a + j + j * lda, lda, v);
        F(larfb)
        (ctx, false, m - j, jb, qc - j, v, tfac + b * NB * NB, q + j + j * ldq, ldq, w1, w2);
    }
}

/* ---- one-sided Jacobi SVD ----------------------------------------------- */

/*
 * Hestenes one-sided Jacobi on the m x n matrix g (m >= n, ldg = m): rotates
 * column pairs until every pair is orthogonal to tol = sqrt(m) * EPS relative
 * to their norms; accumulates the rotations in v (n x n, ldv = n) when v is
 * non-NULL (v starts as the identity here). On return column j of g is
 * sigma_j u_j. Returns the number of sweeps used (<= max_sweeps).
 */
static int F(jacobi)(int64_t m, int64_t n, T *g, T *v, int max_sweeps)
{
    if (v)
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < n; i++)
                v[i + j * n] = i == j ? 1 : 0;
    double tol = sqrt((double)m) * EPS;
    int sweep;
    /* Pairs are visited block pair by block pair (LA_JB columns a block), so
     * the columns one block pair touches stay in cache; every pair p < q is
     * still visited once per sweep. */
    for (sweep = 0; sweep < max_sweeps; sweep++) {
        int64_t rotated = 0;
        for (int64_t bp = 0; bp < n; bp += LA_JB) {
            for (int64_t bq = bp; bq < n; bq += LA_JB) {
                int64_t pe = bp + LA_JB < n ? bp + LA_JB : n;
                int64_t qe = bq + LA_JB < n ? bq + LA_JB : n;
                for (int64_t p = bp; p < pe; p++) {
                    for (int64_t q = bq > p ? bq : p + 1; q < qe; q++) {
                        T *gp = g + p * m, *gq = g + q * m;
                        double alpha, beta, gamma;
                        F(dot3)(m, gp, gq, &alpha, &beta, &gamma);
                        if (alpha == 0 || beta == 0 ||
                            fabs(gamma) <= tol * sqrt(alpha) * sqrt(beta))
                            continue;
                        rotated++;
                        double zeta = (beta - alpha) / (2 * gamma);
                        double t = copysign(1.0, zeta) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                        double cs = 1 / sqrt(1 + t * t), sn = cs * t;
                        F(rot)(m, gp, gq, (T)cs, (T)sn);
                        if (v)
                            F(rot)(n, v + p * n, v + q * n, (T)cs, (T)sn);
                    }
                }
            }
        }
        if (rotated == 0)
            break;
    }
    return sweep;
}

/*
 * Fills the columns of u (m x want, ldu = m) listed in fill[0..nfill) so that
 * all `want` columns are orthonormal; ok[j] marks the columns already
 * orthonormal (and is set for each column filled). Each new column starts as
 * the unit vector e_i farthest from the span of the columns so far (its
 * squared distance is 1 - sum_j u_ij^2, at least (m - k) / m > 0), and is
 * orthogonalised twice by modified Gram-Schmidt, then normalised.
 */
static void F(complete_basis)(int64_t m, T *u, const int64_t *fill, int64_t nfill, bool *ok,
                              int64_t want, T *tmp)
{
    for (int64_t f = 0; f < nfill; f++) {
        int64_t col = fill[f];
        for (int64_t i = 0; i < m; i++)
            tmp[i] = 0;
        for (int64_t j = 0; j < want; j++) {
            if (!ok[j] || j == col)
                continue;
            const T *uj = u + j * m;
            for (int64_t i = 0; i < m; i++)
                tmp[i] += uj[i] * uj[i];
        }
        int64_t best = 0;
        for (int64_t i = 1; i < m; i++)
            if (tmp[i] < tmp[best])
                best = i;
        for (int64_t i = 0; i < m; i++)
            tmp[i] = i == best ? 1 : 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int64_t j = 0; j < want; j++) {
                if (!ok[j] || j == col)
                    continue;
                T w = F(dot)(m, u + j * m, tmp);
                F(axpy_sub)(m, w, u + j * m, tmp);
            }
        }
        double nr = F(nrm2)(m, tmp);
        BN_ASSERT(nr > 0);
        for (int64_t i = 0; i < m; i++)
            u[i + col * m] = (T)(tmp[i] / nr);
        ok[col] = true;
    }
}

#undef F
#undef GEMM
#undef NB
#undef LA_JB
#undef CAT_
#undef CAT2_

#ifndef BNK_LA_TABLE
#define BNK_LA_ENTRIES_(S)                                                                         \
    .potrfu##S = potrfu##S, .getrf##S = getrf##S, .getrs##S = getrs##S, .geqrf##S = geqrf##S,      \
    .ormqr##S = ormqr##S, .orgqr##S = orgqr##S, .jacobi##S = jacobi##S,                            \
    .complete_basis##S = complete_basis##S, .gemm##S = gemm##S
/* Defines `const bnk_linalg sym` from the static routines of both types. */
#define BNK_LA_TABLE(sym, isa_name)                                                                \
    const bnk_linalg sym = {.name = isa_name, BNK_LA_ENTRIES_(_f32), BNK_LA_ENTRIES_(_f64)}
#endif
