/*
 * mt_kernels_ew.c - concurrency checks of the SIMD element-wise and matmul
 * paths, for ThreadSanitizer (a plain program: Criterion cannot run under
 * TSan, see mt_engine.c).
 *
 * What is checked: binary ops large enough to be split over the thread pool
 * and matmuls large enough to be split into GEMM blocks, issued from several
 * threads at once, give exactly the result of the same op computed with one
 * pool thread; the kernel set is switched (bn_kernels_select) while other
 * threads run ops, and the reads of the registry race with nothing. The last
 * line is "mt_kernels_ew: N passed, N failed".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"

static int passed, failed;
static _Atomic int errors;

#define NTHREADS 3

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond,           \
                    bn_last_error());                                                              \
            atomic_fetch_add(&errors, 1);                                                          \
        }                                                                                          \
    } while (0)

static void run(const char *name, void (*fn)(void))
{
    atomic_store(&errors, 0);
    fn();
    int e = atomic_load(&errors);
    printf("%s %s\n", e ? "FAIL" : "ok  ", name);
    if (e)
        failed++;
    else
        passed++;
}

static bn_tensor *A, *B, *W, *Ysum, *Ymm, *Bat, *Ybat; /* inputs, single-thread results */

static bool same(const bn_tensor *x, const bn_tensor *y)
{
    return bn_tensor_numel(x) == bn_tensor_numel(y) &&
           memcmp(bn_tensor_data(x), bn_tensor_data(y),
                  (size_t)bn_tensor_numel(x) * sizeof(float)) == 0;
}

static void *op_thread(void *arg)
{
    for (int r = 0; r < 3; r++) {
        bn_tensor *y = NULL, *m = NULL;
        CHECK(bn_add(A, B, &y) == BN_OK);
        CHECK(y && same(y, Ysum));
        CHECK(bn_matmul(A, W, &m) == BN_OK);
        CHECK(m && same(m, Ymm));
        bn_tensor_free(m);
        m = NULL;
        CHECK(bn_matmul(Bat, W, &m) == BN_OK); /* a batch cut into pieces */
        CHECK(m && same(m, Ybat));
        bn_tensor_free(y);
        bn_tensor_free(m);
    }
    return arg;
}

static void check_concurrent_split_ops(void)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, op_thread, NULL) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
}

static _Atomic int stop;

static void *switcher(void *arg)
{
    static const char *const sets[] = {"ref", "avx2", "avx512", NULL};
    for (int k = 0; !atomic_load(&stop); k++) {
        (void)bn_kernels_select(sets[k % 4]); /* unsupported sets are refused */
        CHECK(bn_kernels_selected() != NULL);
    }
    return arg;
}

static void *add_thread(void *arg)
{
    for (int r = 0; r < 4; r++) {
        bn_tensor *y = NULL;
        CHECK(bn_add(A, B, &y) == BN_OK);
        CHECK(y && same(y, Ysum)); /* add is bit-exact in every set */
        bn_tensor_free(y);
    }
    return arg;
}

static void check_select_while_running(void)
{
    pthread_t sw, th[NTHREADS];
    atomic_store(&stop, 0);
    CHECK(pthread_create(&sw, NULL, switcher, NULL) == 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, add_thread, NULL) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(sw, NULL);
    CHECK(bn_kernels_select(NULL) == BN_OK);
}

int main(void)
{
    int n = bn_threads_env();
    if (n < 0) {
        fprintf(stderr, "mt_kernels_ew: %s\n", bn_last_error());
        return 2;
    }
    int64_t sa[2] = {300, 517}, sb[1] = {517}, sw[2] = {517, 160}, sbat[3] = {64, 4, 517};
    if (bn_tensor_rand(BN_F32, 2, sa, 1, BN_RAND_UNIFORM, -1, 1, &A) ||
        bn_tensor_rand(BN_F32, 1, sb, 2, BN_RAND_UNIFORM, -1, 1, &B) ||
        bn_tensor_rand(BN_F32, 2, sw, 3, BN_RAND_UNIFORM, -1, 1, &W) ||
        bn_tensor_rand(BN_F32, 3, sbat, 4, BN_RAND_UNIFORM, -1, 1, &Bat)) {
        fprintf(stderr, "mt_kernels_ew: %s\n", bn_last_error());
        return 2;
    }
    /* references with one pool thread (the split must not change a bit:
     * element-wise pieces are independent, GEMM blocks cover disjoint C) */
    int threads = bn_threads_count();
    if (bn_threads_set(1) || bn_add(A, B, &Ysum) || bn_matmul(A, W, &Ymm) ||
        bn_matmul(Bat, W, &Ybat) || bn_threads_set(threads < 2 ? 2 : threads)) {
        fprintf(stderr, "mt_kernels_ew: %s\n", bn_last_error());
        return 2;
    }
    printf("mt_kernels_ew: %d pool threads, %d caller threads, kernels %s\n", bn_threads_count(),
           NTHREADS, bn_kernels_selected());
    run("split element-wise ops and matmuls from several threads", check_concurrent_split_ops);
    run("kernel set switched while ops run", check_select_while_running);
    bn_tensor_free(A);
    bn_tensor_free(B);
    bn_tensor_free(W);
    bn_tensor_free(Ysum);
    bn_tensor_free(Ymm);
    bn_tensor_free(Bat);
    bn_tensor_free(Ybat);
    printf("mt_kernels_ew: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
