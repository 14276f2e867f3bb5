/*
 * test_gemm.c - the f32 GEMM kernels (kernels/gemm.h) against the reference.
 *
 * Every ISA the CPU has is compared with bnk_sgemm_ref (double accumulation)
 * at odd sizes built from {1, 7, 15, 17, 63, 65, 1000, 1023}, with row-major,
 * column-major (transposed), padded, general (non-unit), negative (reversed)
 * strides for A, B and C and zero (broadcast) strides for A and B, with alpha/beta variants, beta
 * == 0 over a NaN-filled C, and alpha
 * == 0 over NaN operands. Large products (up to 2048) are checked by random
 * projection (Freivalds): C x against A (B x) in double. ISAs the CPU lacks are
 * skipped with the reason.
 *
 * Tolerance (the contract of gemm.h): per element
 *   |C - C_ref| <= 2 (K + 2) eps_f32 (|alpha| (|A||B|)_ij + |beta C0_ij|),
 * and for the projection, per row i,
 *   |(C x)_i - (A (B x))_i| <= 2 (K + 2) eps_f32 |alpha| (|A| (|B| |x|))_i + 1e-30.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "gemm.h"
#include "kernels/kernels.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* A rows x cols matrix view over its own buffer, in one of these layouts. */
typedef enum layout {
    ROW,
    COL,
    ROW_PAD,
    COL_PAD,
    GENERAL,
    REVERSED,  /* row-major with the row order reversed: rs < 0 */
    BROADCAST, /* every column the same: cs == 0 */
    LAYOUT_COUNT
} layout;

typedef struct mat {
    float *buf;   /* allocation (freed by mat_free) */
    float *p;     /* element (0,0) */
    int64_t r, c; /* shape */
    int64_t rs, cs;
    size_t n; /* floats in buf */
} mat;

static mat mat_new(int64_t r, int64_t c, layout l)
{
    mat m = {.r = r, .c = c};
    switch (l) {
    case ROW:
        m.rs = c, m.cs = 1;
        break;
    case COL:
        m.rs = 1, m.cs = r;
        break;
    case ROW_PAD:
        m.rs = c + 3, m.cs = 1;
        break;
    case COL_PAD:
        m.rs = 1, m.cs = r + 5;
        break;
    case GENERAL:
        m.rs = 2, m.cs = 2 * r + 1;
        break;
    case REVERSED:
        m.rs = -c, m.cs = 1;
        break;
    case BROADCAST:
        m.rs = 1, m.cs = 0;
        break;
    default:
        cr_assert_fail("bad layout %d", (int)l);
    }
    /* Offsets of the first and last elements (strides may be negative). */
    int64_t lo = 0, hi = 0;
    int64_t ext_r = (r - 1) * m.rs, ext_c = (c - 1) * m.cs;
    lo += ext_r < 0 ? ext_r : 0;
    hi += ext_r > 0 ? ext_r : 0;
    lo += ext_c < 0 ? ext_c : 0;
    hi += ext_c > 0 ? ext_c : 0;
    m.n = (size_t)(hi - lo + 1) + 7;
    m.buf = malloc(m.n * sizeof(float));
    cr_assert_not_null(m.buf);
    /* Gaps (padding) hold a sentinel so writes outside the view are caught. */
    for (size_t i = 0; i < m.n; i++)
        m.buf[i] = 12345.0f;
    m.p = m.buf + 3 - lo; /* unaligned on purpose */
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++)
            m.p[i * m.rs + j * m.cs] = frand();
    return m;
}

static void mat_free(mat *m)
{
    free(m->buf);
    m->buf = m->p = NULL;
}

static mat mat_clone(const mat *m)
{
    mat d = *m;
    d.buf = malloc(m->n * sizeof(float));
    cr_assert_not_null(d.buf);
    memcpy(d.buf, m->buf, m->n * sizeof(float));
    d.p = d.buf + (m->p - m->buf);
    return d;
}

static float *at(const mat *m, int64_t i, int64_t j)
{
    return m->p + i * m->rs + j * m->cs;
}

static const bnk_gemm_impl *impl_or_skip(const char *name)
{
    const bnk_gemm_impl *im = bnk_gemm_find(name);
    cr_assert_not_null(im, "no gemm implementation called %s", name);
    if (!im->available())
        cr_skip("%s: this CPU lacks the instructions (the kernel probe says so%s)", name,
                getenv("BN_CPU_HIDE") ? "; BN_CPU_HIDE is set" : "");
    return im;
}

/*
 * Runs impl on C = alpha A B + beta C (C initialised by mat_new, or NaN when
 * nan_c) and the reference on a copy; checks every element against the
 * tolerance and every padding float of C unchanged.
 */
static void check_case(const bnk_gemm_impl *im, int64_t M, int64_t N, int64_t K, layout la,
                       layout lb, layout lc, float alpha, float beta, int nan_c)
{
    mat A = mat_new(M, K, la), B = mat_new(K, N, lb), C = mat_new(M, N, lc);
    if (nan_c)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                *at(&C, i, j) = NAN;
    mat C0 = mat_clone(&C), R = mat_clone(&C);
    bn_status st =
        im->sgemm(M, N, K, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, beta, C.p, C.rs, C.cs, NULL);
    cr_assert_eq(st, BN_OK, "%s %ldx%ldx%ld: status %d", im->name, (long)M, (long)N, (long)K, st);
    bnk_sgemm_ref(M, N, K, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, beta, R.p, R.rs, R.cs, NULL);
    const double eps = FLT_EPSILON;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double mag = 0.0;
            for (int64_t p = 0; p < K; p++)
                mag += fabs((double)*at(&A, i, p) * (double)*at(&B, p, j));
            double c0 = beta == 0.0f ? 0.0 : fabs((double)beta * (double)*at(&C0, i, j));
            double tol = 2.0 * (double)(K + 2) * eps * (fabs((double)alpha) * mag + c0);
            double got = *at(&C, i, j), want = *at(&R, i, j);
            cr_assert(isfinite(got) && fabs(got - want) <= tol,
                      "%s M=%ld N=%ld K=%ld layouts %d/%d/%d alpha=%g beta=%g: C(%ld,%ld) = %.9g, "
                      "reference %.9g, tolerance %.3g",
                      im->name, (long)M, (long)N, (long)K, la, lb, lc, alpha, beta, (long)i,
                      (long)j, got, want, tol);
        }
    }
    /* Nothing outside the C view was written (padding keeps its sentinel). */
    char *inside = calloc(C.n, 1);
    cr_assert_not_null(inside);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            inside[(C.p - C.buf) + i * C.rs + j * C.cs] = 1;
    for (size_t q = 0; q < C.n; q++)
        if (!inside[q])
            cr_assert_eq(C.buf[q], 12345.0f, "%s: wrote outside C at offset %zu", im->name, q);
    free(inside);
    mat_free(&A);
    mat_free(&B);
    mat_free(&C);
    mat_free(&C0);
    mat_free(&R);
}

/* ---- odd sizes, layouts, alpha/beta ------------------------------------- */

static const int64_t small_sizes[] = {1, 7, 17, 65};
static const layout layouts[] = {ROW, COL, ROW_PAD, COL_PAD, GENERAL, REVERSED};
static const float alphas[] = {1.0f, 0.5f, -2.0f};
static const float betas[] = {0.0f, -1.5f, 1.0f};

static void odd_sizes(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    int v = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++, v++) {
                int64_t M = small_sizes[a], N = small_sizes[b], K = small_sizes[c];
                check_case(im, M, N, K, layouts[v % 5], layouts[(v / 5) % 5], layouts[(v + 2) % 5],
                           alphas[v % 3], betas[(v / 3) % 3], 0);
            }
}

/* Sizes around and past the cache blocks (MC = 192, KC = 384) and micro-tiles. */
static void large_odd_sizes(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    static const int64_t s[][3] = {{1023, 65, 15},  {63, 1000, 17}, {15, 17, 1023}, {1000, 1, 1023},
                                   {1, 1023, 1000}, {65, 63, 1000}, {200, 97, 400}};
    for (int i = 0; i < 7; i++) {
        check_case(im, s[i][0], s[i][1], s[i][2], ROW, ROW, ROW, 1.0f, 0.0f, 0);
        check_case(im, s[i][0], s[i][1], s[i][2], COL, ROW_PAD, COL_PAD, -0.5f, 2.0f, 0);
    }
}

/* Every combination of layouts (C never BROADCAST: its elements must be
 * distinct), at a size with edge tiles in both directions; and at a size
 * where C^T B^T A^T takes the packed paths (M and N > 512). */
static void every_layout(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    for (int la = 0; la < LAYOUT_COUNT; la++)
        for (int lb = 0; lb < LAYOUT_COUNT; lb++)
            for (int lc = 0; lc < BROADCAST; lc++)
                check_case(im, 37, 29, 45, (layout)la, (layout)lb, (layout)lc, 1.25f, 0.75f, 0);
    for (int la = 0; la < LAYOUT_COUNT; la++)
        check_case(im, 530, 521, 19, (layout)la, (layout)((la + 1) % LAYOUT_COUNT),
                   (layout)(la % BROADCAST), 1.0f, 0.5f, 0);
}

static void alpha_beta(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            check_case(im, 65, 63, 17, ROW, ROW, ROW, alphas[a], betas[b], 0);
            check_case(im, 33, 25, 400, COL, ROW, COL, alphas[a], betas[b], 0);
        }
    /* alpha == 0 and K == 0: C = beta C. */
    check_case(im, 17, 15, 7, ROW, ROW, ROW, 0.0f, -1.5f, 0);
    check_case(im, 17, 15, 0, ROW, ROW, ROW, 2.0f, 0.5f, 0);
}

/* beta == 0 must not read C: NaN in C does not reach the result (full and
 * edge tiles, GEMV path, row- and column-major C). */
static void beta_zero_nan(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    check_case(im, 64, 48, 33, ROW, ROW, COL, 1.0f, 0.0f, 1);
    check_case(im, 67, 53, 33, ROW, COL, ROW, 1.0f, 0.0f, 1);
    check_case(im, 67, 1, 33, ROW, COL, ROW, 1.0f, 0.0f, 1);
    check_case(im, 1, 67, 33, COL, ROW, ROW_PAD, 1.0f, 0.0f, 1);
    check_case(im, 17, 15, 0, ROW, ROW, ROW, 1.0f, 0.0f, 1);
}

/* alpha == 0: A and B are not read (NaN there does not reach C). */
static void alpha_zero_skips_operands(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    float A[6], B[6], C[4] = {1, 2, 3, 4};
    for (int i = 0; i < 6; i++)
        A[i] = B[i] = NAN;
    cr_assert_eq(im->sgemm(2, 2, 3, 0.0f, A, 3, 1, B, 2, 1, 2.0f, C, 2, 1, NULL), BN_OK);
    cr_assert(C[0] == 2 && C[1] == 4 && C[2] == 6 && C[3] == 8);
    cr_assert_eq(im->sgemm(2, 2, 3, 0.0f, A, 3, 1, B, 2, 1, 0.0f, C, 2, 1, NULL), BN_OK);
    cr_assert(C[0] == 0 && C[1] == 0 && C[2] == 0 && C[3] == 0);
    /* Empty M or N: nothing is touched, even with NULL pointers. */
    cr_assert_eq(im->sgemm(0, 5, 3, 1.0f, NULL, 3, 1, NULL, 5, 1, 0.0f, NULL, 5, 1, NULL), BN_OK);
    cr_assert_eq(im->sgemm(5, 0, 3, 1.0f, NULL, 3, 1, NULL, 5, 1, 0.0f, NULL, 5, 1, NULL), BN_OK);
}

/* ---- random projection (Freivalds) at large sizes ----------------------- */

static void freivalds(const bnk_gemm_impl *im, int64_t M, int64_t N, int64_t K, int trans_a,
                      int trans_b, float alpha)
{
    mat A = mat_new(M, K, trans_a ? COL : ROW), B = mat_new(K, N, trans_b ? COL : ROW);
    mat C = mat_new(M, N, ROW);
    cr_assert_eq(
        im->sgemm(M, N, K, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0f, C.p, C.rs, C.cs, NULL),
        BN_OK);
    double *x = malloc(sizeof(double) * (size_t)N), *bx = malloc(sizeof(double) * (size_t)K);
    double *abx = malloc(sizeof(double) * (size_t)K);
    cr_assert(x && bx && abx);
    for (int64_t j = 0; j < N; j++)
        x[j] = frand();
    for (int64_t p = 0; p < K; p++) {
        double s = 0, sa = 0;
        for (int64_t j = 0; j < N; j++) {
            s += (double)*at(&B, p, j) * x[j];
            sa += fabs((double)*at(&B, p, j) * x[j]);
        }
        bx[p] = s;
        abx[p] = sa;
    }
    for (int64_t i = 0; i < M; i++) {
        double cx = 0, want = 0, mag = 0;
        for (int64_t j = 0; j < N; j++)
            cx += (double)*at(&C, i, j) * x[j];
        for (int64_t p = 0; p < K; p++) {
            want += (double)*at(&A, i, p) * bx[p];
            mag += fabs((double)*at(&A, i, p)) * abx[p];
        }
        want *= alpha;
        double tol = 2.0 * (double)(K + 2) * FLT_EPSILON * fabs((double)alpha) * mag + 1e-30;
        cr_assert(fabs(cx - want) <= tol,
                  "%s %ldx%ldx%ld: (Cx)_%ld = %.12g, A(Bx) = %.12g, tolerance %.3g", im->name,
                  (long)M, (long)N, (long)K, (long)i, cx, want, tol);
    }
    free(x);
    free(bx);
    free(abx);
    mat_free(&A);
    mat_free(&B);
    mat_free(&C);
}

static void projection(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    freivalds(im, 2048, 2048, 2048, 0, 0, 1.0f);
    freivalds(im, 777, 1100, 900, 1, 1, -0.75f);
}

/* ---- workspace, threads, dispatch --------------------------------------- */

/* A caller-provided workspace of exactly the queried size gives the same
 * bits as the thread-local one. */
static void explicit_workspace(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    int64_t M = 300, N = 250, K = 500;
    size_t ws = bnk_sgemm_workspace_size(im, M, N, K);
    cr_assert_gt(ws, 0);
    void *w = aligned_alloc(64, (ws + 63) / 64 * 64);
    cr_assert_not_null(w);
    mat A = mat_new(M, K, ROW), B = mat_new(K, N, COL), C = mat_new(M, N, ROW);
    mat D = mat_clone(&C);
    cr_assert_eq(
        im->sgemm(M, N, K, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.5f, C.p, C.rs, C.cs, w),
        BN_OK);
    cr_assert_eq(
        im->sgemm(M, N, K, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.5f, D.p, D.rs, D.cs, NULL),
        BN_OK);
    cr_assert_eq(memcmp(C.buf, D.buf, C.n * sizeof(float)), 0);
    bnk_sgemm_release_thread_workspace();
    bnk_sgemm_release_thread_workspace(); /* twice is fine */
    free(w);
    mat_free(&A);
    mat_free(&B);
    mat_free(&C);
    mat_free(&D);
}

/* Out of memory while growing the thread-local workspace: BN_ERR_OOM with a
 * message naming the size, C untouched; the next call works. A caller-given
 * workspace and the GEMV path (no workspace) are not affected. */
static void out_of_memory(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    mat A = mat_new(70, 50, ROW), B = mat_new(50, 60, ROW), C = mat_new(70, 60, ROW);
    mat C0 = mat_clone(&C);
    bnk_sgemm_release_thread_workspace();
    bnk_sgemm__fail_allocs(1);
    cr_assert_eq(
        im->sgemm(70, 60, 50, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0f, C.p, C.rs, C.cs, NULL),
        BN_ERR_OOM);
    cr_assert(strstr(bn_last_error(), "workspace") != NULL, "message: %s", bn_last_error());
    cr_assert_eq(memcmp(C.buf, C0.buf, C.n * sizeof(float)), 0, "C changed on failure");
    bnk_sgemm__fail_allocs(1);
    cr_assert_eq(
        im->sgemm(70, 1, 50, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0f, C.p, C.rs, C.cs, NULL),
        BN_OK); /* GEMV needs no workspace */
    size_t wsz = bnk_sgemm_workspace_size(im, 70, 60, 50);
    void *w = aligned_alloc(64, (wsz + 63) / 64 * 64);
    cr_assert_not_null(w);
    cr_assert_eq(
        im->sgemm(70, 60, 50, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0f, C.p, C.rs, C.cs, w),
        BN_OK);
    free(w);
    bnk_sgemm__fail_allocs(0);
    check_case(im, 70, 60, 50, ROW, ROW, ROW, 1.0f, 0.0f, 0);
    bnk_sgemm_release_thread_workspace();
    mat_free(&A);
    mat_free(&B);
    mat_free(&C);
    mat_free(&C0);
}

typedef struct part_arg {
    const bnk_gemm_impl *im;
    const mat *A, *B, *C;
    int parts, p, over_n;
    bn_status st;
} part_arg;

static void *run_part(void *arg)
{
    part_arg *t = arg;
    int64_t lo, hi;
    const mat *A = t->A, *B = t->B, *C = t->C;
    if (t->over_n) {
        bnk_sgemm_split(C->c, t->im->nr, t->parts, t->p, &lo, &hi);
        t->st = t->im->sgemm(C->r, hi - lo, A->c, 1.0f, A->p, A->rs, A->cs, B->p + lo * B->cs,
                             B->rs, B->cs, 0.0f, C->p + lo * C->cs, C->rs, C->cs, NULL);
    } else {
        bnk_sgemm_split(C->r, t->im->mr, t->parts, t->p, &lo, &hi);
        t->st = t->im->sgemm(hi - lo, C->c, A->c, 1.0f, A->p + lo * A->rs, A->rs, A->cs, B->p,
                             B->rs, B->cs, 0.0f, C->p + lo * C->rs, C->rs, C->cs, NULL);
    }
    return NULL;
}

/* Three threads on disjoint blocks of C (split over M, then over N) give
 * exactly the single-call result; thread-local buffers are freed at exit
 * (LeakSanitizer checks that under ASan). */
static void threads_on_disjoint_blocks(const char *name)
{
    const bnk_gemm_impl *im = impl_or_skip(name);
    int64_t M = 203, N = 157, K = 411;
    mat A = mat_new(M, K, ROW), B = mat_new(K, N, ROW), C = mat_new(M, N, COL);
    mat R = mat_clone(&C);
    cr_assert_eq(
        im->sgemm(M, N, K, 1.0f, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0f, R.p, R.rs, R.cs, NULL),
        BN_OK);
    for (int over_n = 0; over_n < 2; over_n++) {
        pthread_t th[3];
        part_arg args[3];
        for (int p = 0; p < 3; p++) {
            args[p] = (part_arg){im, &A, &B, &C, 3, p, over_n, BN_ERR_STATE};
            cr_assert_eq(pthread_create(&th[p], NULL, run_part, &args[p]), 0);
        }
        for (int p = 0; p < 3; p++) {
            cr_assert_eq(pthread_join(th[p], NULL), 0);
            cr_assert_eq(args[p].st, BN_OK);
        }
        /* Same blocking of K, same micro-kernel: the same bits. */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                cr_assert_eq(*at(&C, i, j), *at(&R, i, j), "over_n=%d C(%ld,%ld)", over_n, (long)i,
                             (long)j);
    }
    mat_free(&A);
    mat_free(&B);
    mat_free(&C);
    mat_free(&R);
}

#define ISA_TESTS(isa)                                                                             \
    Test(gemm_##isa, odd_sizes_match_reference)                                                    \
    {                                                                                              \
        odd_sizes(#isa);                                                                           \
    }                                                                                              \
    Test(gemm_##isa, large_odd_sizes_match_reference)                                              \
    {                                                                                              \
        large_odd_sizes(#isa);                                                                     \
    }                                                                                              \
    Test(gemm_##isa, every_layout_of_a_b_c)                                                        \
    {                                                                                              \
        every_layout(#isa);                                                                        \
    }                                                                                              \
    Test(gemm_##isa, alpha_beta_variants)                                                          \
    {                                                                                              \
        alpha_beta(#isa);                                                                          \
    }                                                                                              \
    Test(gemm_##isa, beta_zero_ignores_nan_in_c)                                                   \
    {                                                                                              \
        beta_zero_nan(#isa);                                                                       \
    }                                                                                              \
    Test(gemm_##isa, alpha_zero_and_empty_do_not_read_operands)                                    \
    {                                                                                              \
        alpha_zero_skips_operands(#isa);                                                           \
    }                                                                                              \
    Test(gemm_##isa, random_projection_up_to_2048)                                                 \
    {                                                                                              \
        projection(#isa);                                                                          \
    }                                                                                              \
    Test(gemm_##isa, explicit_workspace_equals_thread_local)                                       \
    {                                                                                              \
        explicit_workspace(#isa);                                                                  \
    }                                                                                              \
    Test(gemm_##isa, out_of_memory_is_an_error_return)                                             \
    {                                                                                              \
        out_of_memory(#isa);                                                                       \
    }                                                                                              \
    Test(gemm_##isa, threads_on_disjoint_blocks_equal_one_call)                                    \
    {                                                                                              \
        threads_on_disjoint_blocks(#isa);                                                          \
    }

ISA_TESTS(avx2)
ISA_TESTS(avx512)

/* The reference itself against hand-computed values (row-major and
 * transposed-by-strides views), so the truth is checked too. */
Test(gemm_ref, known_values)
{
    const float A[6] = {1, 2, 3, 4, 5, 6};    /* 2x3 row-major */
    const float B[6] = {7, 8, 9, 10, 11, 12}; /* 3x2 row-major */
    float C[4] = {1, 1, 1, 1};
    cr_assert_eq(bnk_sgemm_ref(2, 2, 3, 1.0f, A, 3, 1, B, 2, 1, 2.0f, C, 2, 1, NULL), BN_OK);
    cr_assert(C[0] == 60 && C[1] == 66 && C[2] == 141 && C[3] == 156);
    /* A^T B^T via swapped strides: A^T is 3x2, B^T is 2x3, product 3x3. */
    float D[9];
    for (int i = 0; i < 9; i++)
        D[i] = NAN;
    cr_assert_eq(bnk_sgemm_ref(3, 3, 2, 1.0f, A, 1, 3, B, 1, 2, 0.0f, D, 3, 1, NULL), BN_OK);
    /* D(i,j) = sum_p A(p,i) B(j,p) */
    const float want[9] = {39, 49, 59, 54, 68, 82, 69, 87, 105};
    for (int i = 0; i < 9; i++)
        cr_assert_eq(D[i], want[i], "D[%d] = %g", i, D[i]);
}

Test(gemm_dispatch, find_best_and_workspace)
{
    cr_assert_null(bnk_gemm_find("sse9"));
    cr_assert_null(bnk_gemm_find(NULL));
    for (int i = 0; i < BNK_GEMM_ISA_COUNT; i++) {
        const bnk_gemm_impl *im = &bnk_gemm_impls[i];
        cr_assert_eq(bnk_gemm_find(im->name), im);
        cr_assert_eq((int)im->isa, i);
    }
    cr_assert(bnk_gemm_find("ref")->available());
    const bnk_gemm_impl *best = bnk_gemm_best();
    cr_assert(best->available());
    const bnk_cpu *cpu = bnk_cpu_get(); /* the library's one probe (BN_CPU_HIDE applies) */
    if (cpu->avx512)
        cr_assert_str_eq(best->name, "avx512");
    else if (cpu->avx2)
        cr_assert_str_eq(best->name, "avx2");
    else
        cr_assert_str_eq(best->name, "ref");
    cr_assert_eq(bnk_sgemm_workspace_size(bnk_gemm_find("ref"), 100, 100, 100), 0);
    cr_assert_eq(bnk_sgemm_workspace_size(bnk_gemm_find("avx512"), 0, 100, 100), 0);
    cr_assert_gt(bnk_sgemm_workspace_size(bnk_gemm_find("avx512"), 100, 100, 100), 0);
    cr_assert_gt(bnk_sgemm_workspace_size(bnk_gemm_find("avx2"), 1, 1, 1), 0);
}

Test(gemm_dispatch, split_tiles_the_range_on_granule_boundaries)
{
    static const int64_t ns[] = {0, 1, 31, 32, 33, 100, 1023};
    for (int a = 0; a < 7; a++)
        for (int parts = 1; parts <= 5; parts++) {
            int64_t expect_lo = 0;
            for (int p = 0; p < parts; p++) {
                int64_t lo, hi;
                bnk_sgemm_split(ns[a], 32, parts, p, &lo, &hi);
                cr_assert_eq(lo, expect_lo, "n=%ld parts=%d p=%d", (long)ns[a], parts, p);
                cr_assert(hi >= lo && hi <= ns[a]);
                cr_assert(lo % 32 == 0 || lo == ns[a]);
                cr_assert(hi % 32 == 0 || hi == ns[a]);
                expect_lo = hi;
            }
            cr_assert_eq(expect_lo, ns[a]);
        }
}
