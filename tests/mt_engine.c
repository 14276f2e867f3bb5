/*
 * mt_engine.c - concurrency checks that must run under ThreadSanitizer.
 *
 * Criterion cannot start under -fsanitize=thread (Criterion issue #274: its
 * inheritable arena fails to map), so these checks are a plain program: each
 * check runs, failures are counted, and the last line is the plain
 * "N passed, N failed" that CI reads. `make SANITIZER=thread test` runs the
 * tests/mt_*.c programs; the other builds run them too, beside Criterion.
 *
 * What is checked: several threads create, view, read and free tensors that
 * share one buffer, allocate and cross-free pool blocks, run ops (whose
 * kernels use the thread pool) at the same time, and issue parallel-for
 * regions concurrently; the pool's statistics balance afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "mt.h"

#define NTHREADS 4

static void run_threads(void *(*fn)(void *), void *arg)
{
    pthread_t th[NTHREADS];
    for (intptr_t i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, fn, arg ? arg : (void *)i) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
}

/* ---- shared tensor: views and reads from many threads, each frees its own */

static bn_tensor *shared;

static void *view_and_read(void *arg)
{
    (void)arg;
    for (int r = 0; r < 200; r++) {
        bn_tensor *t = NULL, *s = NULL, *re = NULL;
        int64_t shape[2] = {16, 64};
        CHECK(bn_reshape(shared, 2, shape, &re) == BN_OK);
        CHECK(re && bn_transpose(re, 0, 1, &t) == BN_OK);
        CHECK(t && bn_slice(t, 0, 3, 60, 7, &s) == BN_OK);
        if (s) {
            /* s[i][j] = shared[(j) * 64 + 3 + 7 i] = that index as written */
            for (int64_t i = 0; i < s->shape[0]; i++)
                for (int64_t j = 0; j < s->shape[1]; j++) {
                    int64_t idx[2] = {i, j};
                    CHECK(bn_tensor_get(s, idx) == (double)(j * 64 + 3 + 7 * i));
                }
        }
        bn_tensor_free(s);
        bn_tensor_free(t);
        bn_tensor_free(re);
    }
    return NULL;
}

static void check_shared_views(void)
{
    CHECK(bn_tensor_arange(BN_F32, 0, 1024, 1, &shared) == BN_OK);
    run_threads(view_and_read, NULL);
    CHECK(bn_tensor_buffer_refcount(shared) == 1);
    bn_tensor_free(shared);
}

/* ---- every thread creates, computes, frees its own tensors ------------- */

static void *create_compute_free(void *arg)
{
    uint64_t seed = (uint64_t)(intptr_t)arg;
    for (int r = 0; r < 20; r++) {
        int64_t sa[2] = {33, 70}, sb[2] = {70, 17}, sr[1] = {17};
        bn_tensor *a = NULL, *b = NULL, *c = NULL, *bias = NULL, *y = NULL, *sm = NULL;
        CHECK(bn_tensor_rand(BN_F32, 2, sa, seed * 100 + r, BN_RAND_UNIFORM, -1, 1, &a) == 0);
        CHECK(bn_tensor_rand(BN_F32, 2, sb, seed * 100 + r + 1, BN_RAND_UNIFORM, -1, 1, &b) == 0);
        CHECK(bn_tensor_full(BN_F32, 1, sr, 0.5, &bias) == BN_OK);
        CHECK(a && b && bn_matmul(a, b, &c) == BN_OK);
        CHECK(c && bn_add(c, bias, &y) == BN_OK); /* broadcast [33,17] + [17] */
        CHECK(y && bn_softmax(y, -1, &sm) == BN_OK);
        if (sm) {
            for (int64_t i = 0; i < 33; i++) {
                double row = 0;
                for (int64_t j = 0; j < 17; j++)
                    row += bn_tensor_get_flat(sm, i * 17 + j);
                CHECK(row > 0.9999 && row < 1.0001);
            }
        }
        bn_tensor_free(a);
        bn_tensor_free(b);
        bn_tensor_free(c);
        bn_tensor_free(bias);
        bn_tensor_free(y);
        bn_tensor_free(sm);
    }
    return NULL;
}

static void check_concurrent_ops(void)
{
    bn_pool_stats before, after;
    bn_pool_stats_get(bn_pool_default(), &before);
    run_threads(create_compute_free, NULL);
    bn_pool_stats_get(bn_pool_default(), &after);
    CHECK(after.live_blocks == before.live_blocks);
    CHECK(after.live_bytes == before.live_bytes);
    CHECK(after.failures == before.failures);
}

/* ---- pool blocks handed between threads -------------------------------- */

#define SLOTS 64
static struct {
    pthread_mutex_t lock;
    unsigned char *blk[SLOTS];
    size_t size[SLOTS];
} hand = {.lock = PTHREAD_MUTEX_INITIALIZER};
static bn_pool *pool;

static void stamp(unsigned char *b, size_t n)
{
    b[0] = (unsigned char)n;
    b[n - 1] = (unsigned char)(n >> 3);
}

static int stamped(const unsigned char *b, size_t n)
{
    return b[0] == (unsigned char)n && b[n - 1] == (unsigned char)(n >> 3);
}

static void *swap_blocks(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)((intptr_t)arg + 1);
    for (int r = 0; r < 5000; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (x % 16 == 0) ? 300000 + x % 100000 : 1 + x % 4096;
        unsigned char *b = bn_pool_alloc(pool, n, (x >> 20) % 4 == 0 ? 256 : 0);
        CHECK(b != NULL);
        if (!b)
            continue;
        stamp(b, n);
        int s = (int)((x >> 32) % SLOTS);
        pthread_mutex_lock(&hand.lock);
        unsigned char *old = hand.blk[s];
        size_t on = hand.size[s];
        hand.blk[s] = b;
        hand.size[s] = n;
        pthread_mutex_unlock(&hand.lock);
        if (old) {
            CHECK(stamped(old, on));
            bn_pool_free(pool, old); /* usually allocated by another thread */
        }
    }
    return NULL;
}

static void check_pool_cross_free(void)
{
    CHECK(bn_pool_create(NULL, &pool) == BN_OK);
    run_threads(swap_blocks, NULL);
    for (int s = 0; s < SLOTS; s++)
        if (hand.blk[s])
            bn_pool_free(pool, hand.blk[s]);
    bn_pool_stats st;
    bn_pool_stats_get(pool, &st);
    CHECK(st.live_blocks == 0 && st.live_bytes == 0);
    CHECK(st.allocs == st.frees);
    CHECK(st.allocs == (uint64_t)NTHREADS * 5000);
    CHECK(bn_pool_leak_report(pool, NULL) == 0);
    bn_pool_destroy(pool);
}

/* ---- concurrent parallel-for regions ----------------------------------- */

static void add_range(void *ctx, int64_t b, int64_t e, int tid)
{
    (void)tid;
    _Atomic int64_t *sum = ctx;
    int64_t s = 0;
    for (int64_t i = b; i < e; i++)
        s += i;
    atomic_fetch_add(sum, s);
}

static void *regions(void *arg)
{
    (void)arg;
    for (int r = 0; r < 100; r++) {
        _Atomic int64_t sum = 0;
        CHECK(bn_parallel_for(10007, 64, add_range, &sum) == BN_OK);
        CHECK(atomic_load(&sum) == (int64_t)10007 * 10006 / 2);
    }
    return NULL;
}

static void check_parallel_regions(void)
{
    run_threads(regions, NULL);
}

int main(void)
{
    int n = bn_threads_env();
    if (n < 0) {
        fprintf(stderr, "mt_engine: %s\n", bn_last_error());
        return 2;
    }
    printf("mt_engine: %d pool threads, %d caller threads\n", bn_threads_count(), NTHREADS);
    mt_run("shared tensor viewed and read from many threads", check_shared_views);
    mt_run("threads create, compute and free tensors", check_concurrent_ops);
    mt_run("pool blocks cross-freed between threads", check_pool_cross_free);
    mt_run("concurrent parallel-for regions", check_parallel_regions);
    return mt_finish("mt_engine");
}
