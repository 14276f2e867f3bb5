/*
 * ternary_amx_check.c - a plain-C check of the W1.58A8 kernel sets for
 * machines that have AMX but not the project's test dependencies (the
 * Criterion suite tests/test_ternary.c covers every set the build machine
 * has; this covers the amx set where it exists). Every available set is
 * compared with a naive int64 product at K in {1, 31, 32, 255, 256, 3200,
 * 8640, 16384} and row counts with tails, then each set is timed on one
 * thread at 4096x4096 for n = 1, 32, 128 (best of 7). Exit status 1 on any
 * mismatch. Built and run by ci/ternary-amx-check.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet/quant.h"
#include "kernels/ternary.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int check(const bnk_ternary_impl *impl, int64_t M, int64_t n, int64_t K)
{
    int64_t ldx = K + 5, ldy = M + 3;
    int8_t *w = malloc((size_t)(M * K)), *x = malloc((size_t)(n * ldx));
    uint8_t *p = malloc(bn_t2k_row_bytes(K) * (size_t)M);
    int32_t *y = malloc((size_t)(n * ldy) * 4), *xs = malloc((size_t)n * 4);
    int bad = 0;
    for (int64_t i = 0; i < M * K; i++)
        w[i] = (int8_t)((int)(rnd() % 3) - 1);
    for (int64_t i = 0; i < n * ldx; i++)
        x[i] = (int8_t)(int)(rnd() % 256 - 128);
    if (bn_t2k_pack_i8(w, M, K, p) != BN_OK)
        return 1;
    for (int64_t j = 0; j < n; j++)
        xs[j] = bnk_t2k_rowsum(K, x + j * ldx);
    impl->gemm(M, n, K, p, x, ldx, xs, y, ldy);
    for (int64_t j = 0; j < n && !bad; j++)
        for (int64_t i = 0; i < M; i++) {
            int64_t s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (int64_t)w[i * K + k] * x[j * ldx + k];
            if (y[j * ldy + i] != s) {
                printf("MISMATCH %s M=%lld n=%lld K=%lld y[%lld,%lld]=%d want %lld\n", impl->name,
                       (long long)M, (long long)n, (long long)K, (long long)j, (long long)i,
                       y[j * ldy + i], (long long)s);
                bad = 1;
                break;
            }
        }
    free(w);
    free(x);
    free(p);
    free(y);
    free(xs);
    return bad;
}

static void timeit(const bnk_ternary_impl *impl, int64_t M, int64_t K, int64_t n)
{
    int8_t *w = malloc((size_t)(M * K)), *x = malloc((size_t)(n * K));
    uint8_t *p = malloc(bn_t2k_row_bytes(K) * (size_t)M);
    int32_t *y = malloc((size_t)(n * M) * 4), *xs = malloc((size_t)n * 4);
    for (int64_t i = 0; i < M * K; i++)
        w[i] = (int8_t)((int)(rnd() % 3) - 1);
    for (int64_t i = 0; i < n * K; i++)
        x[i] = (int8_t)(int)(rnd() % 255 - 127);
    bn_t2k_pack_i8(w, M, K, p);
    for (int64_t j = 0; j < n; j++)
        xs[j] = bnk_t2k_rowsum(K, x + j * K);
    double best = 1e30;
    int reps = n == 1 ? 200 : 5;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++)
            impl->gemm(M, n, K, p, x, K, xs, y, M);
        double t = (now() - t0) / reps;
        best = t < best ? t : best;
    }
    printf("  %-7s %5lldx%-5lld n=%-4lld %10.1f us %8.1f GOPS\n", impl->name, (long long)M,
           (long long)K, (long long)n, best * 1e6, 2.0 * (double)(M * K * n) / best / 1e9);
    free(w);
    free(x);
    free(p);
    free(y);
    free(xs);
}

int main(void)
{
    static const int64_t Ks[] = {1, 31, 32, 255, 256, 3200, 8640, 16384};
    int bad = 0;
    printf("amx: %s\n", bnk_ternary_amx_status());
    for (int s = 0; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available()) {
            printf("%s: not available\n", impl->name);
            continue;
        }
        int before = bad;
        for (size_t t = 0; t < sizeof Ks / sizeof Ks[0]; t++) {
            int64_t K = Ks[t];
            int64_t M = K <= 256 ? 45 : 37;
            bad += check(impl, M, 1, K);
            bad += check(impl, M, 16, K);
            bad += check(impl, M, K <= 3200 ? 50 : 17, K);
            bad += check(impl, 33, 33, K);
            bad += check(impl, 1, 31, K);
        }
        printf("%s: %s\n", impl->name, bad == before ? "bit-exact" : "MISMATCHES");
    }
    printf("timing, one thread:\n");
    for (int s = 1; s < BNK_TERNARY_ISA_COUNT; s++) {
        const bnk_ternary_impl *impl = &bnk_ternary_impls[s];
        if (!impl->available())
            continue;
        timeit(impl, 4096, 4096, 1);
        timeit(impl, 4096, 4096, 32);
        timeit(impl, 4096, 4096, 128);
    }
    return bad ? 1 : 0;
}
