/*
 * test_ternary.c - BitNet b1.58 quantization, the t2k layout, the W1.58A8
 * kernels and BitLinear (bitnet/quant.h, kernels/ternary.h).
 *
 * Kernels: every set the CPU has must give int32 results identical to a
 * naive product over plain int8 weights (and the reference set likewise), at
 * K in {1, 31, 32, 255, 256, 3200, 8640, 16384}, with row counts that leave
 * tails in every tile shape (M, n not multiples of 4 or 6), padded leading
 * dimensions, and the extreme int8 activation -128. Sets the CPU lacks are
 * skipped. The public entry points use the set BN_KERNELS picks, so running
 * this file with BN_KERNELS=ref, avx2 and unset covers each. The t2k panel
 * layout (4 rows' blocks interleaved) is pinned byte for byte against an
 * independent reading of quant.h, and every set is run on panel-aligned row
 * ranges the way the thread pool calls it.
 *
 * BitLinear tolerance: against a double-precision product of the dequantized
 * weights and the dequantized activations (both exact in double), each
 * output may differ by 4 eps_f32 (|sum| s_w s_x + |bias|) (one f32 rounding
 * of the int32 sum, one of s_w s_x, one of the product, one of the bias
 * add); against the f32 GEMM on the same dequantized operands by the f32
 * GEMM's own bound 2 (K + 2) eps_f32 (|W| |X|).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "gemm.h"
#include "kernels/ternary.h"

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

static void fill_ternary(int8_t *w, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        w[i] = (int8_t)((int)(rnd() % 3) - 1);
}

static void fill_i8(int8_t *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (int8_t)(int)(rnd() % 256 - 128);
}

/* naive y[j, i] = sum_k w[i, k] x[j, k] in int64 */
static int64_t naive_dot(const int8_t *w, const int8_t *x, int64_t K)
{
    int64_t s = 0;
    for (int64_t k = 0; k < K; k++)
        s += (int64_t)w[k] * x[k];
    return s;
}

/* Runs impl on an M x K random matrix and n rows; compares with naive. */
static void check_gemm(const bnk_ternary_impl *impl, int64_t M, int64_t n, int64_t K, int extreme)
{
    int64_t ldx = K + 3, ldy = M + 2;
    int8_t *w = malloc((size_t)(M * K));
    int8_t *x = malloc((size_t)(n * ldx));
    uint8_t *p = malloc(bn_t2k_row_bytes(K) * (size_t)M);
    int32_t *y = malloc((size_t)(n * ldy) * sizeof *y);
    int32_t *xs = malloc((size_t)n * sizeof *xs);
    cr_assert(w && x && p && y && xs);
    fill_ternary(w, M * K);
    fill_i8(x, n * ldx);
    if (extreme) { /* largest magnitudes: every weight +1 or -1, x = -128 */
        for (int64_t i = 0; i < M * K; i++)
            w[i] = (i / K) % 2 ? 1 : -1;
        memset(x, 0x80, (size_t)(n * ldx));
    }
    cr_assert_eq(bn_t2k_pack_i8(w, M, K, p), BN_OK);
    for (int64_t j = 0; j < n; j++)
        xs[j] = bnk_t2k_rowsum(K, x + j * ldx);
    for (int64_t i = 0; i < n * ldy; i++)
        y[i] = 0x7EADBEEF;
    impl->gemm(M, n, K, p, x, ldx, xs, y, ldy);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < M; i++) {
            int64_t want = naive_dot(w + i * K, x + j * ldx, K);
            cr_assert_eq(y[j * ldy + i], want, "%s M=%lld n=%lld K=%lld y[%lld,%lld]=%d want %lld",
                         impl->name, (long long)M, (long long)n, (long long)K, (long long)j,
                         (long long)i, y[j * ldy + i], (long long)want);
        }
        for (int64_t i = M; i < ldy; i++)
            cr_assert_eq(y[j * ldy + i], 0x7EADBEEF, "%s wrote past M", impl->name);
    }
    free(w);
    free(x);
    free(p);
    free(y);
    free(xs);
}

static const int64_t Ks[] = {1, 31, 32, 255, 256, 3200, 8640, 16384};

Test(ternary_kernels, bit_exact_every_set)
{
    for (int s = 0; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available()) {
            cr_log_info("%s: not available on this CPU, skipped", impl->name);
            continue;
        }
        for (size_t t = 0; t < sizeof Ks / sizeof Ks[0]; t++) {
            int64_t K = Ks[t];
            int64_t M = K <= 256 ? 13 : (K <= 3200 ? 9 : 5);
            int64_t n = K <= 256 ? 14 : (K <= 3200 ? 7 : 3);
            check_gemm(impl, M, 1, K, 0);
            check_gemm(impl, M, n, K, 0);
            for (int64_t m = 1; m <= 4; m++)
                check_gemm(impl, m, 2, K, 0);
        }
        check_gemm(impl, 6, 7, 16384, 1);
        check_gemm(impl, 5, 1, 16384, 1);
        check_gemm(impl, 0, 3, 64, 0);
        check_gemm(impl, 3, 0, 64, 0);
    }
}

Test(ternary_kernels, act_quant_sets_agree)
{
    float x[1000];
    for (int s = 0; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available())
            continue;
        for (int64_t K = 1; K <= 1000; K += 37) {
            for (int64_t k = 0; k < K; k++)
                x[k] = ((float)rnd() / 2147483648.0f - 0.5f) * 8.0f;
            x[K / 2] = -4.25f; /* a value that lands on a tie at mul = 2 */
            float m = bnk_absmax_ref(K, x);
            cr_assert_float_eq(impl->absmax(K, x), m, 0.0f, "%s absmax K=%lld", impl->name,
                               (long long)K);
            int8_t q0[1000], q1[1000];
            float mul = 127.0f / m;
            int32_t s0 = bnk_act_quant_ref(K, x, mul, q0);
            int32_t s1 = impl->quant(K, x, mul, q1);
            cr_assert_eq(s0, s1, "%s sum K=%lld", impl->name, (long long)K);
            cr_assert_arr_eq(q0, q1, (size_t)K, "%s quant K=%lld", impl->name, (long long)K);
            int32_t s2 = impl->quant(K, x, 2.0f, q1);
            cr_assert_eq(q1[K / 2], -8, "ties to even: -4.25*2=-8.5 -> -8, got %d", q1[K / 2]);
            cr_assert_eq(s2, bnk_t2k_rowsum(K, q1));
        }
        x[5] = NAN;
        cr_assert(isnan(impl->absmax(9, x)), "%s absmax must report NaN", impl->name);
        cr_assert(isnan(impl->absmax(40, x)), "%s absmax must report NaN", impl->name);
    }
}

/* ---- quantization ----------------------------------------------------------- */

Test(quant, weights_absmean_values)
{
    float w[6] = {0.5f, -1.0f, 0.0f, 2.0f, -0.2f, 0.3f}; /* mean |w| = 4/6 */
    int8_t q[6];
    float s;
    cr_assert_eq(bn_quant_weights_absmean(w, 2, 3, BN_QUANT_PER_TENSOR, q, &s), BN_OK);
    cr_assert_float_eq(s, 4.0f / 6.0f, 1e-7f);
    int8_t want[6] = {1, -1, 0, 1, 0, 0}; /* 0.75, -1.5, 0, 3, -0.3, 0.45 */
    cr_assert_arr_eq(q, want, 6);
    float rs[2];
    cr_assert_eq(bn_quant_weights_absmean(w, 2, 3, BN_QUANT_PER_ROW, q, rs), BN_OK);
    cr_assert_float_eq(rs[0], 0.5f, 1e-7f);
    cr_assert_float_eq(rs[1], 2.5f / 3.0f, 1e-7f);
    int8_t want_r[6] = {1, -1, 0, 1, 0, 0}; /* 1, -2, 0 ; 2.4, -0.24, 0.36 */
    cr_assert_arr_eq(q, want_r, 6);
    float d[6];
    bn_dequant_weights(q, 2, 3, BN_QUANT_PER_ROW, rs, d);
    cr_assert_float_eq(d[1], -0.5f, 0.0f);
    cr_assert_float_eq(d[3], rs[1], 0.0f);
    /* exact tie: w / s = 0.5 rounds to 0 (even) */
    float t[2] = {1.0f, 3.0f}; /* s = 2: 0.5 -> 0, 1.5 -> 2 -> clamp 1 */
    cr_assert_eq(bn_quant_weights_absmean(t, 1, 2, BN_QUANT_PER_TENSOR, q, &s), BN_OK);
    cr_assert_eq(q[0], 0);
    cr_assert_eq(q[1], 1);
}

Test(quant, weights_edge_cases)
{
    enum { N = 64 };
    float w[N];
    int8_t q[N];
    float s[4];
    memset(w, 0, sizeof w);
    cr_assert_eq(bn_quant_weights_absmean(w, 4, 16, BN_QUANT_PER_ROW, q, s), BN_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(s[i], 0.0f);
    for (int i = 0; i < N; i++)
        cr_assert_eq(q[i], 0);
    const float mags[] = {1e-8f, 1e8f, 1e-38f, 3e38f};
    for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
        for (int i = 0; i < N; i++)
            w[i] = (float)(i % 3 - 1) * mags[m] * (1.0f - (float)i / 128.0f);
        cr_assert_eq(bn_quant_weights_absmean(w, 1, N, BN_QUANT_PER_TENSOR, q, s), BN_OK);
        cr_assert(isfinite(s[0]) && s[0] > 0.0f, "scale %g for magnitude %g", (double)s[0],
                  (double)mags[m]);
        for (int i = 0; i < N; i++) {
            cr_assert(q[i] >= -1 && q[i] <= 1);
            cr_assert_eq(q[i], (i % 3 - 1), "w[%d] quantized to %d", i, q[i]);
        }
    }
    memset(w, 0, sizeof w);
    w[17] = -3.0f; /* single non-zero: scale 3/64, q = -1 there, 0 elsewhere */
    cr_assert_eq(bn_quant_weights_absmean(w, 1, N, BN_QUANT_PER_TENSOR, q, s), BN_OK);
    cr_assert_float_eq(s[0], 3.0f / 64.0f, 1e-9f);
    for (int i = 0; i < N; i++)
        cr_assert_eq(q[i], i == 17 ? -1 : 0);
    w[3] = NAN;
    cr_assert_eq(bn_quant_weights_absmean(w, 1, N, BN_QUANT_PER_TENSOR, q, s), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "[0, 3]") != NULL, "%s", bn_last_error());
    cr_assert_eq(bn_quant_weights_absmean(w, -1, N, BN_QUANT_PER_TENSOR, q, s), BN_ERR_ARG);
}

Test(quant, activations_absmax)
{
    enum { K = 100 };
    float x[3 * K];
    int8_t q[3 * K];
    float s[3];
    int32_t sum[3];
    for (int k = 0; k < K; k++) {
        x[k] = (float)(k - 50) / 10.0f;        /* max 5 */
        x[K + k] = 0.0f;                       /* all zero */
        x[2 * K + k] = k == 40 ? 1e-8f : 0.0f; /* single tiny non-zero */
    }
    cr_assert_eq(bn_quant_act_absmax(x, 3, K, K, q, K, s, sum), BN_OK);
    cr_assert_float_eq(s[0], 5.0f / 127.0f, 1e-9f);
    cr_assert_eq(q[0], -127);
    cr_assert_eq(q[50], 0);
    int32_t want = 0;
    for (int k = 0; k < K; k++) {
        double v = rint((double)(float)(x[k] * (127.0f / 5.0f)));
        cr_assert_eq(q[k], (int8_t)v, "q[%d]=%d want %g", k, q[k], v);
        want += q[k];
    }
    cr_assert_eq(sum[0], want);
    cr_assert_eq(s[1], 0.0f);
    cr_assert_eq(sum[1], 0);
    for (int k = 0; k < K; k++)
        cr_assert_eq(q[K + k], 0);
    cr_assert(isfinite(s[2]) && s[2] > 0.0f);
    cr_assert_eq(q[2 * K + 40], 127);
    cr_assert_eq(sum[2], 127);
    /* huge and denormal-scale rows */
    const float mags[] = {1e8f, 3e38f, 1e-38f, 1e-44f};
    for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
        for (int k = 0; k < K; k++)
            x[k] = (k % 2 ? -1.0f : 1.0f) * mags[m] * ((float)(k + 1) / K);
        cr_assert_eq(bn_quant_act_absmax(x, 1, K, K, q, K, s, sum), BN_OK);
        cr_assert(isfinite(s[0]), "scale %g for magnitude %g", (double)s[0], (double)mags[m]);
        cr_assert_eq(q[K - 1], -127, "magnitude %g: q[K-1]=%d", (double)mags[m], q[K - 1]);
        for (int k = 0; k < K; k++)
            cr_assert(q[k] >= -127 && q[k] <= 127);
    }
    x[7] = INFINITY;
    cr_assert_eq(bn_quant_act_absmax(x, 1, K, K, q, K, s, sum), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "[0, 7]") != NULL, "%s", bn_last_error());
    x[7] = NAN;
    cr_assert_eq(bn_quant_act_absmax(x, 1, K, K, q, K, s, sum), BN_ERR_ARG);
    cr_assert_eq(bn_quant_act_absmax(x, 2, K, K - 1, q, K, s, sum), BN_ERR_ARG);
}

/* ---- formats ------------------------------------------------------------------ */

Test(formats, round_trips)
{
    const int64_t shapes[][2] = {{1, 1}, {3, 31}, {5, 256}, {2, 257}, {7, 1000}, {1, 3200}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t M = shapes[t][0], K = shapes[t][1], n = M * K;
        int8_t *w = malloc((size_t)n), *back = malloc((size_t)n);
        uint8_t *p = malloc(bn_t2k_row_bytes(K) * (size_t)M);
        uint8_t *p2 = malloc(bn_t2k_row_bytes(K) * (size_t)M);
        uint8_t *t2 = malloc((size_t)(n + 3) / 4), *t16 = malloc((size_t)(n + 4) / 5);
        fill_ternary(w, n);
        cr_assert_eq(bn_t2k_pack_i8(w, M, K, p), BN_OK);
        cr_assert_eq(bn_t2k_unpack_i8(p, M, K, back), BN_OK);
        cr_assert_arr_eq(w, back, (size_t)n);
        /* padding is code 1 (w = 0), in every row */
        size_t rb = bn_t2k_row_bytes(K);
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = K; k < (int64_t)rb * 4; k++) {
                int64_t b = k / 256, r = k % 256;
                size_t at = bn_t2k_block_offset(M, K, i, b) + (size_t)(r % 64);
                cr_assert_eq((p[at] >> (2 * (r / 64))) & 3, 1, "M=%lld K=%lld row %lld k=%lld",
                             (long long)M, (long long)K, (long long)i, (long long)k);
            }
        /* t2 <-> t2k */
        cr_assert_eq(bn_t2k_to_t2(p, M, K, t2), BN_OK);
        cr_assert_eq(bn_t2_unpack(t2, n, back), BN_OK);
        cr_assert_arr_eq(w, back, (size_t)n);
        cr_assert_eq(bn_t2k_from_t2(t2, M, K, p2), BN_OK);
        cr_assert_arr_eq(p, p2, rb * (size_t)M);
        /* t1.6 <-> t2k */
        cr_assert_eq(bn_t2k_to_t16(p, M, K, t16), BN_OK);
        cr_assert_eq(bn_t16_unpack(t16, n, back), BN_OK);
        cr_assert_arr_eq(w, back, (size_t)n);
        memset(p2, 0, rb * (size_t)M);
        cr_assert_eq(bn_t2k_from_t16(t16, M, K, p2), BN_OK);
        cr_assert_arr_eq(p, p2, rb * (size_t)M);
        free(w);
        free(back);
        free(p);
        free(p2);
        free(t2);
        free(t16);
    }
}

/* The panel layout of quant.h, written out independently: weight (i, k) of
 * an M x K matrix is in byte 4 p rb + ((k / 256) P + i % 4) 64 + k % 64,
 * bits 2 ((k % 256) / 64), with p = i / 4 and P = min(4, M - 4 p). */
Test(formats, t2k_panel_layout)
{
    const int64_t shapes[][2] = {{1, 300}, {3, 513}, {4, 256}, {6, 700}, {9, 1000}, {8, 5}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t M = shapes[t][0], K = shapes[t][1];
        size_t rb = bn_t2k_row_bytes(K);
        int8_t *w = malloc((size_t)(M * K));
        uint8_t *p = malloc(rb * (size_t)M);
        cr_assert(w && p);
        fill_ternary(w, M * K);
        cr_assert_eq(bn_t2k_pack_i8(w, M, K, p), BN_OK);
        for (int64_t i = 0; i < M; i++) {
            int64_t p0 = i / 4 * 4, P = M - p0 < 4 ? M - p0 : 4;
            for (int64_t k = 0; k < K; k++) {
                size_t at = (size_t)p0 * rb + (size_t)(((k / 256) * P + i % 4) * 64 + k % 64);
                cr_assert_eq(bn_t2k_block_offset(M, K, i, k / 256) + (size_t)(k % 64), at);
                int code = (p[at] >> (2 * ((k % 256) / 64))) & 3;
                cr_assert_eq(code, w[i * K + k] + 1, "M=%lld K=%lld w[%lld, %lld]", (long long)M,
                             (long long)K, (long long)i, (long long)k);
            }
        }
        free(w);
        free(p);
    }
}

/* Decode (n = 1) over several panels at every K: the VNNI kernel carries a
 * panel's row sums into the next panel before storing them, so the last,
 * middle and first panels and the row tail must all come out right. */
Test(ternary_kernels, decode_many_panels)
{
    for (int s = 0; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available())
            continue;
        for (size_t t = 0; t < sizeof Ks / sizeof Ks[0]; t++) {
            check_gemm(impl, 12, 1, Ks[t], 0);
            check_gemm(impl, 11, 1, Ks[t], 0);
        }
        check_gemm(impl, 8, 1, 16384, 1);
    }
}

/* A row range starting at a multiple of 4 rows and ending at one (or at M)
 * is a t2k matrix of its own: every set gives those rows' products from
 * w + i0 * row_bytes, as the thread pool calls them. */
Test(ternary_kernels, panel_row_ranges)
{
    const int64_t M = 11, K = 600, n = 3;
    size_t rb = bn_t2k_row_bytes(K);
    int8_t *w = malloc((size_t)(M * K)), *x = malloc((size_t)(n * K));
    uint8_t *p = malloc(rb * (size_t)M);
    int32_t xs[3], y[3 * 11];
    cr_assert(w && x && p);
    fill_ternary(w, M * K);
    fill_i8(x, n * K);
    cr_assert_eq(bn_t2k_pack_i8(w, M, K, p), BN_OK);
    for (int64_t j = 0; j < n; j++)
        xs[j] = bnk_t2k_rowsum(K, x + j * K);
    const int64_t ranges[][2] = {{0, 4}, {4, 8}, {8, 11}, {4, 11}, {0, 8}};
    for (int s = 0; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available())
            continue;
        for (size_t t = 0; t < sizeof ranges / sizeof ranges[0]; t++)
            for (int64_t nn = 1; nn <= n; nn += n - 1) {
                int64_t i0 = ranges[t][0], i1 = ranges[t][1];
                impl->gemm(i1 - i0, nn, K, p + (size_t)i0 * rb, x, K, xs, y, M);
                for (int64_t j = 0; j < nn; j++)
                    for (int64_t i = i0; i < i1; i++)
                        cr_assert_eq(y[j * M + i - i0], naive_dot(w + i * K, x + j * K, K),
                                     "%s rows [%lld, %lld) n=%lld y[%lld, %lld]", impl->name,
                                     (long long)i0, (long long)i1, (long long)nn, (long long)j,
                                     (long long)i);
            }
    }
    free(w);
    free(x);
    free(p);
}

Test(formats, bad_input)
{
    int8_t w[8] = {0, 1, -1, 2, 0, 0, 0, 0};
    uint8_t p[64];
    cr_assert_eq(bn_t2k_pack_i8(w, 1, 8, p), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "[0, 3] is 2") != NULL, "%s", bn_last_error());
    cr_assert_eq(bn_t2k_pack_i8(w, 1, BN_T2K_MAX_K + 1, p), BN_ERR_ARG);
    cr_assert_eq(bn_t2k_pack_i8(w, -1, 8, p), BN_ERR_ARG);
    w[3] = 0;
    cr_assert_eq(bn_t2k_pack_i8(w, 1, 8, p), BN_OK);
    p[5] |= 3; /* code 3 at k = 5 */
    int8_t back[8];
    cr_assert_eq(bn_t2k_unpack_i8(p, 1, 8, back), BN_ERR_ARG);
    uint8_t t2[2] = {0xFF, 0x55}; /* code 3 */
    cr_assert_eq(bn_t2k_from_t2(t2, 2, 4, p), BN_ERR_ARG);
    uint8_t t16[2] = {250, 121};
    cr_assert_eq(bn_t2k_from_t16(t16, 2, 5, p), BN_ERR_ARG);
}

Test(formats, bytes_per_weight)
{
    cr_assert_float_eq(bn_ternary_bytes_per_weight(BN_TFMT_I8, 4096), 1.0, 0.0);
    cr_assert_float_eq(bn_ternary_bytes_per_weight(BN_TFMT_T2, 4096), 0.25, 0.0);
    cr_assert_float_eq(bn_ternary_bytes_per_weight(BN_TFMT_T16, 4095), 0.2, 0.0);
    cr_assert_float_eq(bn_ternary_bytes_per_weight(BN_TFMT_T2K, 4096), 0.25, 0.0);
    cr_assert_float_eq(bn_ternary_bytes_per_weight(BN_TFMT_T2K, 3200), 832.0 / 3200.0, 1e-15);
    cr_assert_str_eq(bn_ternary_format_name(BN_TFMT_T16), "t1.6");
    cr_assert_eq(bn_t2k_row_bytes(1), 64);
    cr_assert_eq(bn_t2k_row_bytes(256), 64);
    cr_assert_eq(bn_t2k_row_bytes(257), 128);
}

/* ---- the public product --------------------------------------------------------- */

Test(matmul, pool_equals_serial_and_naive)
{
    int64_t M = 301, K = 777, n = 5;
    int8_t *w = malloc((size_t)(M * K)), *x = malloc((size_t)(n * K));
    uint8_t *p = malloc(bn_t2k_row_bytes(K) * (size_t)M);
    int32_t *y0 = malloc((size_t)(n * M) * 4), *y1 = malloc((size_t)(n * M) * 4);
    fill_ternary(w, M * K);
    fill_i8(x, n * K);
    cr_assert_eq(bn_t2k_pack_i8(w, M, K, p), BN_OK);
    cr_assert_eq(bn_ternary_matmul(p, M, K, x, n, K, NULL, y0, M, true), BN_OK);
    cr_assert_eq(bn_ternary_matmul(p, M, K, x, n, K, NULL, y1, M, false), BN_OK);
    cr_assert_arr_eq(y0, y1, (size_t)(n * M) * 4);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < M; i++)
            cr_assert_eq(y0[j * M + i], naive_dot(w + i * K, x + j * K, K));
    cr_assert_eq(bn_ternary_matmul(p, M, K, x, 2, K - 1, NULL, y0, M, true), BN_ERR_ARG);
    cr_assert_eq(bn_ternary_matmul(p, M, BN_T2K_MAX_K + 1, x, 1, 0, NULL, y0, M, true), BN_ERR_ARG);
    cr_assert_eq(bn_ternary_matmul(p, M, K, x, 2, K, NULL, y0, M - 1, true), BN_ERR_ARG);
    cr_assert_eq(bn_ternary_matmul(p, -1, K, x, 2, K, NULL, y0, M, true), BN_ERR_ARG);
    /* K == 0: empty sums, exactly zero; n == 0 or M == 0: nothing written */
    memset(y0, 0x7F, (size_t)(n * M) * 4);
    cr_assert_eq(bn_ternary_matmul(p, M, 0, x, n, 0, NULL, y0, M, false), BN_OK);
    for (int64_t i = 0; i < n * M; i++)
        cr_assert_eq(y0[i], 0);
    memset(y1, 0x7F, (size_t)(n * M) * 4);
    cr_assert_eq(bn_ternary_matmul(p, 0, K, x, n, K, NULL, y1, M, false), BN_OK);
    cr_assert_eq(bn_ternary_matmul(p, M, K, x, 0, K, NULL, y1, M, false), BN_OK);
    cr_assert_eq(y1[0], 0x7F7F7F7F);
    free(w);
    free(x);
    free(p);
    free(y0);
    free(y1);
}

/* ---- BitLinear --------------------------------------------------------------------- */

static void check_bitlinear(int64_t M, int64_t K, int64_t n, bn_quant_group g, bool norm, bool bias)
{
    float *w = malloc((size_t)(M * K) * 4), *x = malloc((size_t)(n * K) * 4);
    float *y = malloc((size_t)(n * M) * 4), *b = malloc((size_t)M * 4);
    float *gain = malloc((size_t)K * 4);
    for (int64_t i = 0; i < M * K; i++)
        w[i] = ((float)rnd() / 2147483648.0f - 0.5f) * 0.1f;
    for (int64_t i = 0; i < n * K; i++)
        x[i] = ((float)rnd() / 2147483648.0f - 0.5f) * 6.0f;
    for (int64_t i = 0; i < M; i++)
        b[i] = (float)i / 100.0f - 0.5f;
    for (int64_t k = 0; k < K; k++)
        gain[k] = 0.5f + (float)k / (float)K;
    bn_bitlinear_opts o = {.group = g, .rmsnorm = norm, .norm_weight = gain, .eps = 1e-5f};
    bn_bitlinear *bl = NULL;
    cr_assert_eq(bn_bitlinear_create(w, M, K, bias ? b : NULL, &o, &bl), BN_OK, "%s",
                 bn_last_error());
    cr_assert_eq(bn_bitlinear_forward(bl, x, n, y), BN_OK, "%s", bn_last_error());

    /* the same steps by hand, in double, from the public pieces */
    int8_t *wq = malloc((size_t)(M * K)), *xq = malloc((size_t)(n * K));
    float *ws = malloc((size_t)M * 4), xs[64], *xn = malloc((size_t)(n * K) * 4);
    float *wd = malloc((size_t)(M * K) * 4), *xd = malloc((size_t)(n * K) * 4);
    float *yf = malloc((size_t)(n * M) * 4);
    cr_assert_eq(bn_quant_weights_absmean(w, M, K, g, wq, ws), BN_OK);
    cr_assert_eq(bn_t2k_unpack_i8(bn_bitlinear_weights(bl), M, K, wq), BN_OK);
    for (int64_t j = 0; j < n; j++) {
        const float *xr = x + j * K;
        if (norm) {
            double ss = 0;
            for (int64_t k = 0; k < K; k++)
                ss += (double)xr[k] * xr[k];
            double r = 1.0 / sqrt(ss / (double)K + 1e-5);
            for (int64_t k = 0; k < K; k++)
                xn[j * K + k] = (float)((double)xr[k] * r * gain[k]);
        } else {
            memcpy(xn + j * K, xr, (size_t)K * 4);
        }
    }
    cr_assert_eq(bn_quant_act_absmax(xn, n, K, K, xq, K, xs, NULL), BN_OK);
    bn_dequant_weights(wq, M, K, g, ws, wd);
    for (int64_t i = 0; i < n * K; i++)
        xd[i] = (float)xq[i] * xs[i / K];
    const bnk_gemm_impl *gi = bnk_gemm_best();
    cr_assert_eq(gi->sgemm(n, M, K, 1.0f, xd, K, 1, wd, 1, K, 0.0f, yf, M, 1, NULL), BN_OK);
    const double eps = FLT_EPSILON / 2;
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < M; i++) {
            double sw = ws[g == BN_QUANT_PER_ROW ? i : 0];
            double exact = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                exact += (double)wq[i * K + k] * xq[j * K + k];
                mag += fabs((double)wd[i * K + k] * xd[j * K + k]);
            }
            double bb = bias ? b[i] : 0.0;
            double ref = exact * sw * xs[j] + bb;
            double tol = 4 * eps * (fabs(exact) * sw * xs[j] + fabs(bb)) + 1e-30;
            double got = y[j * M + i];
            cr_assert(fabs(got - ref) <= tol, "y[%lld,%lld]=%.9g ref %.9g tol %.3g", (long long)j,
                      (long long)i, got, ref, tol);
            double tf = 2.0 * (K + 2) * eps * mag + 4 * eps * fabs(bb) + 1e-30;
            cr_assert(fabs(got - ((double)yf[j * M + i] + bb)) <= tf + tol,
                      "vs f32 gemm y[%lld,%lld]=%.9g gemm %.9g", (long long)j, (long long)i, got,
                      (double)yf[j * M + i] + bb);
        }
    }
    bn_bitlinear_free(bl);
    free(w);
    free(x);
    free(y);
    free(b);
    free(gain);
    free(wq);
    free(xq);
    free(ws);
    free(xn);
    free(wd);
    free(xd);
    free(yf);
}

Test(bitlinear, matches_dequantized_f32)
{
    check_bitlinear(37, 300, 1, BN_QUANT_PER_TENSOR, false, false);
    check_bitlinear(64, 256, 5, BN_QUANT_PER_ROW, false, true);
    check_bitlinear(19, 1000, 7, BN_QUANT_PER_TENSOR, true, true);
    check_bitlinear(130, 513, 13, BN_QUANT_PER_ROW, true, false);
}

Test(bitlinear, bad_input)
{
    float w[8] = {1, 0, -1, 0.5f, 0, 0, 0, 0}, x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4];
    bn_bitlinear *bl = (bn_bitlinear *)&bl;
    cr_assert_eq(bn_bitlinear_create(w, 0, 4, NULL, NULL, &bl), BN_ERR_ARG);
    cr_assert_null(bl);
    w[2] = INFINITY;
    cr_assert_eq(bn_bitlinear_create(w, 2, 4, NULL, NULL, &bl), BN_ERR_ARG);
    cr_assert_null(bl);
    w[2] = -1;
    cr_assert_eq(bn_bitlinear_create(w, 2, 4, NULL, NULL, &bl), BN_OK);
    cr_assert_eq(bn_bitlinear_in(bl), 4);
    cr_assert_eq(bn_bitlinear_out(bl), 2);
    cr_assert_eq(bn_bitlinear_forward(bl, x, -1, y), BN_ERR_ARG);
    x[1] = NAN;
    cr_assert_eq(bn_bitlinear_forward(bl, x, 2, y), BN_ERR_ARG);
    cr_assert(strstr(bn_last_error(), "[0, 1]") != NULL, "%s", bn_last_error());
    x[1] = 0;
    memset(x, 0, sizeof x); /* all-zero input: output exactly zero */
    cr_assert_eq(bn_bitlinear_forward(bl, x, 2, y), BN_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(y[i], 0.0f);
    bn_bitlinear_free(bl);
    bn_bitlinear_free(NULL);
}

Test(ternary_kernels, amx_detection_is_consistent)
{
    const char *why = bnk_ternary_amx_status();
    int avail = bnk_ternary_impls[BNK_TERNARY_AMX].available();
    cr_assert_not_null(why);
    if (avail) {
        cr_assert_str_eq(why, "available");
    } else {
        cr_assert(strcmp(why, "available") != 0);
        cr_log_info("amx: %s", why);
        /* the engine never picks a set this CPU cannot run */
        cr_assert_neq(bnk_ternary_active(), &bnk_ternary_impls[BNK_TERNARY_AMX]);
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        cr_assert(!avail, "amx offered without AVX-512");
}
