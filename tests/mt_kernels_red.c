/*
 * mt_kernels_red.c - concurrency checks of the SIMD unary, reduction and
 * normalisation paths, for ThreadSanitizer (a plain program: Criterion
 * cannot run under TSan, see mt_engine.c).
 *
 * What is checked: softmax, rmsnorm, layernorm, gelu and reductions large
 * enough to be split over the thread pool (lanes, result elements, row
 * pieces; f16 ones with per-thread scratch rows), issued from several
 * threads at once, give exactly the result of the same op computed with one
 * pool thread. The last line is "mt_kernels_red: N passed, N failed".
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
#define NOPS     6

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond,           \
                    bn_last_error());                                                              \
            atomic_fetch_add(&errors, 1);                                                          \
        }                                                                                          \
    } while (0)

static bn_tensor *X, *Xh, *W, *Ref[NOPS]; /* inputs, single-thread results */

/* op k of the checked list on the shared inputs */
static bn_status op(int k, bn_tensor **y)
{
    int first = 0;
    switch (k) {
    case 0:
        return bn_softmax(X, -1, y);
    case 1:
        return bn_rmsnorm(X, W, 1e-5f, y);
    case 2:
        return bn_layernorm(X, W, W, 1e-5f, y);
    case 3:
        return bn_reduce(BN_OP_SUM, X, 1, &first, false, y);
    case 4:
        return bn_unary(BN_OP_GELU, X, y);
    default:
        return bn_softmax(Xh, 0, y); /* f16 lanes: per-thread scratch */
    }
}

static bool same(const bn_tensor *x, const bn_tensor *y)
{
    int64_t n = bn_tensor_numel(x);
    if (n != bn_tensor_numel(y))
        return false;
    for (int64_t i = 0; i < n; i++)
        if (bn_tensor_get_flat(x, i) != bn_tensor_get_flat(y, i))
            return false;
    return true;
}

static void *op_thread(void *arg)
{
    for (int r = 0; r < 2; r++) {
        for (int k = 0; k < NOPS; k++) {
            bn_tensor *y = NULL;
            CHECK(op(k, &y) == BN_OK);
            CHECK(y && same(y, Ref[k]));
            bn_tensor_free(y);
        }
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

int main(void)
{
    int n = bn_threads_env();
    if (n < 0) {
        fprintf(stderr, "mt_kernels_red: %s\n", bn_last_error());
        return 2;
    }
    int64_t sx[2] = {40, 1031}, sw[1] = {1031};
    if (bn_tensor_rand(BN_F32, 2, sx, 1, BN_RAND_NORMAL, 0, 2, &X) ||
        bn_tensor_rand(BN_F16, 2, sx, 2, BN_RAND_NORMAL, 0, 2, &Xh) ||
        bn_tensor_rand(BN_F32, 1, sw, 3, BN_RAND_UNIFORM, -1, 1, &W)) {
        fprintf(stderr, "mt_kernels_red: %s\n", bn_last_error());
        return 2;
    }
    /* references with one pool thread (the split must not change a bit:
     * lanes, result elements and row pieces are computed independently) */
    int threads = bn_threads_count();
    if (bn_threads_set(1)) {
        fprintf(stderr, "mt_kernels_red: %s\n", bn_last_error());
        return 2;
    }
    for (int k = 0; k < NOPS; k++) {
        if (op(k, &Ref[k])) {
            fprintf(stderr, "mt_kernels_red: %s\n", bn_last_error());
            return 2;
        }
    }
    if (bn_threads_set(threads < 2 ? 2 : threads)) {
        fprintf(stderr, "mt_kernels_red: %s\n", bn_last_error());
        return 2;
    }
    printf("mt_kernels_red: %d pool threads, %d caller threads, kernels %s\n", bn_threads_count(),
           NTHREADS, bn_kernels_selected());
    atomic_store(&errors, 0);
    check_concurrent_split_ops();
    int e = atomic_load(&errors);
    printf("%s %s\n", e ? "FAIL" : "ok  ", "split softmax, norms, reductions, gelu from threads");
    if (e)
        failed++;
    else
        passed++;
    bn_tensor_free(X);
    bn_tensor_free(Xh);
    bn_tensor_free(W);
    for (int k = 0; k < NOPS; k++)
        bn_tensor_free(Ref[k]);
    printf("mt_kernels_red: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
