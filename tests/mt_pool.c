/*
 * mt_pool.c - the pool's thread caches under concurrency, as a plain program
 * so that it runs under ThreadSanitizer (`make SANITIZER=thread test`).
 *
 * What is checked:
 * - cross-thread frees: a producer allocates small and large blocks and a
 *   consumer frees them (through a bounded queue), then the reverse at once;
 *   every block holds its contents until freed, and afterwards the pool's
 *   counts balance exactly, the leak report is empty and a trim returns every
 *   mapping;
 * - stats exactness: worker threads allocate known sizes and park with some
 *   blocks live; bn_pool_stats_get, read by another thread while the workers
 *   are alive (their counters still in their caches), gives the exact
 *   allocations, frees, live blocks and live bytes; it reads them again while
 *   the workers run, and once more after they have exited.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bitnet/bitnet.h"
#include "mt.h"

#define QCAP   64
#define NITEMS 4000

/* ---- producer/consumer ---------------------------------------------------- */

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    void *item[QCAP];
    size_t size[QCAP];
    int head, n;
} queue;

typedef struct pc_arg {
    bn_pool *pool;
    queue *to_consumer;
} pc_arg;

static void q_push(queue *q, void *p, size_t size)
{
    pthread_mutex_lock(&q->lock);
    while (q->n == QCAP)
        pthread_cond_wait(&q->cv, &q->lock);
    q->item[(q->head + q->n) % QCAP] = p;
    q->size[(q->head + q->n) % QCAP] = size;
    q->n++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->lock);
}

static void *q_pop(queue *q, size_t *size)
{
    pthread_mutex_lock(&q->lock);
    while (q->n == 0)
        pthread_cond_wait(&q->cv, &q->lock);
    void *p = q->item[q->head];
    *size = q->size[q->head];
    q->head = (q->head + 1) % QCAP;
    q->n--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->lock);
    return p;
}

/* The i-th size of the producer: small classes and, every 50th, a large block. */
static size_t item_size(int i)
{
    static const size_t small[] = {1, 64, 100, 1000, 4096, 70000, 300000};
    return i % 50 == 49 ? ((size_t)1 << 20) + (size_t)i : small[i % 7];
}

static void *producer(void *arg)
{
    pc_arg *a = arg;
    for (int i = 0; i < NITEMS; i++) {
        size_t n = item_size(i);
        unsigned char *p = bn_pool_alloc(a->pool, n, i % 3 == 0 ? 256 : 0);
        CHECK(p != NULL);
        if (!p)
            continue;
        p[0] = (unsigned char)i;
        p[n - 1] = (unsigned char)(i * 7);
        q_push(a->to_consumer, p, n);
    }
    q_push(a->to_consumer, NULL, 0);
    return NULL;
}

static void *consumer(void *arg)
{
    pc_arg *a = arg;
    for (int i = 0;; i++) {
        size_t n;
        unsigned char *p = q_pop(a->to_consumer, &n);
        if (!p)
            break;
        CHECK(n == item_size(i));
        CHECK(p[n - 1] == (unsigned char)(i * 7) && (n == 1 || p[0] == (unsigned char)i));
        CHECK(bn_pool_block_size(a->pool, p) >= n);
        bn_pool_free(a->pool, p);
    }
    return NULL;
}

static void check_producer_consumer(void)
{
    bn_pool *pool = NULL;
    CHECK(bn_pool_create(NULL, &pool) == BN_OK);
    if (!pool)
        return;
    queue q = {.head = 0, .n = 0};
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.cv, NULL);
    pc_arg a = {pool, &q};
    for (int round = 0; round < 2; round++) {
        pthread_t tp, tc;
        CHECK(pthread_create(&tp, NULL, producer, &a) == 0);
        CHECK(pthread_create(&tc, NULL, consumer, &a) == 0);
        pthread_join(tp, NULL);
        pthread_join(tc, NULL);
    }
    bn_pool_stats s;
    bn_pool_stats_get(pool, &s);
    CHECK(s.allocs == 2 * NITEMS);
    CHECK(s.frees == 2 * NITEMS);
    CHECK(s.hits + s.misses == s.allocs);
    CHECK(s.failures == 0);
    CHECK(s.live_blocks == 0);
    CHECK(s.live_bytes == 0);
    CHECK(s.peak_bytes >= ((uint64_t)1 << 20) + 49);
    CHECK(bn_pool_leak_report(pool, NULL) == 0);
    bn_pool_trim(pool);
    bn_pool_stats_get(pool, &s);
    CHECK(s.mapped_bytes == 0);
    bn_pool_destroy(pool);
    pthread_cond_destroy(&q.cv);
    pthread_mutex_destroy(&q.lock);
}

/* ---- stats exactness -------------------------------------------------------- */

#define NWORKERS 2
#define ROUNDS   3000
#define KEEP     16

typedef struct stats_arg {
    bn_pool *pool;
    pthread_barrier_t *bar;
    int id;
} stats_arg;

/* Worker w's i-th size: distinct per worker so the sums check attribution. */
static size_t worker_size(int w, int i)
{
    return (size_t)(1 + (i * 37 + w * 11) % 5000) + (i % 97 == 0 ? (size_t)600000 : 0);
}

static void *stats_worker(void *arg)
{
    stats_arg *a = arg;
    void *keep[KEEP];
    for (int i = 0; i < ROUNDS; i++) {
        void *p = bn_pool_alloc(a->pool, worker_size(a->id, i), 0);
        CHECK(p != NULL);
        if (i >= ROUNDS - KEEP)
            keep[i - (ROUNDS - KEEP)] = p;
        else
            bn_pool_free(a->pool, p);
    }
    pthread_barrier_wait(a->bar); /* parked: KEEP blocks live, caches alive */
    pthread_barrier_wait(a->bar); /* the main thread has read the stats */
    for (int k = 0; k < KEEP; k++)
        bn_pool_free(a->pool, keep[k]);
    return NULL;
}

static void *stats_reader(void *arg)
{
    stats_arg *a = arg;
    for (int r = 0; r < 200; r++) {
        bn_pool_stats s;
        bn_pool_stats_get(a->pool, &s);
        CHECK(s.hits + s.misses == s.allocs);
        CHECK(s.allocs <= (uint64_t)NWORKERS * ROUNDS);
        CHECK(s.failures == 0);
    }
    return NULL;
}

static void check_stats_exact(void)
{
    bn_pool *pool = NULL;
    CHECK(bn_pool_create(NULL, &pool) == BN_OK);
    if (!pool)
        return;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, NWORKERS + 1);
    stats_arg args[NWORKERS];
    pthread_t th[NWORKERS], reader;
    for (int w = 0; w < NWORKERS; w++) {
        args[w] = (stats_arg){pool, &bar, w};
        CHECK(pthread_create(&th[w], NULL, stats_worker, &args[w]) == 0);
    }
    CHECK(pthread_create(&reader, NULL, stats_reader, &args[0]) == 0);
    pthread_join(reader, NULL);
    pthread_barrier_wait(&bar);

    uint64_t live = 0;
    for (int w = 0; w < NWORKERS; w++)
        for (int i = ROUNDS - KEEP; i < ROUNDS; i++)
            live += worker_size(w, i);
    bn_pool_stats s;
    bn_pool_stats_get(pool, &s);
    CHECK(s.allocs == (uint64_t)NWORKERS * ROUNDS);
    CHECK(s.frees == (uint64_t)NWORKERS * (ROUNDS - KEEP));
    CHECK(s.live_blocks == (uint64_t)NWORKERS * KEEP);
    CHECK(s.live_bytes == live);
    CHECK(s.peak_bytes >= live);
    CHECK(s.hits + s.misses == s.allocs);
    CHECK(bn_pool_leak_report(pool, NULL) == (size_t)NWORKERS * KEEP);

    pthread_barrier_wait(&bar);
    for (int w = 0; w < NWORKERS; w++)
        pthread_join(th[w], NULL);
    bn_pool_stats_get(pool, &s);
    CHECK(s.allocs == (uint64_t)NWORKERS * ROUNDS);
    CHECK(s.frees == (uint64_t)NWORKERS * ROUNDS);
    CHECK(s.live_blocks == 0);
    CHECK(s.live_bytes == 0);
    CHECK(s.peak_bytes >= live);
    pthread_barrier_destroy(&bar);
    bn_pool_destroy(pool);
}

int main(void)
{
    mt_run("pool producer/consumer cross-thread frees", check_producer_consumer);
    mt_run("pool stats exact under concurrency", check_stats_exact);
    return mt_finish("mt_pool");
}
