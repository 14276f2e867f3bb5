/*
 * threads.c - persistent worker threads and a dynamic parallel-for.
 *
 * One region runs at a time (region_lock). A region publishes its work
 * (fn, ctx, n, chunk) and bumps a generation number; workers wake (after a
 * short spin, then on a condition variable), claim chunks from an atomic
 * counter until none remain, and report done. The caller works as tid 0 and
 * waits for the done count. Workers never exit while the pool lives; resizing
 * stops them all (stop flag + generation bump) and starts new ones.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet/bitnet.h"

typedef struct region {
    bn_range_fn fn;
    void *ctx;
    int64_t n, chunk;
    bool each; /* bn_threads_on_each: one call per worker, not chunks */
} region;

static struct {
    pthread_mutex_t region_lock; /* one region at a time; also guards resizing */
    pthread_mutex_t lock;        /* guards gen/stop for the condition variables */
    pthread_cond_t wake, done_cv;
    int nthreads; /* including the caller */
    pthread_t tid[BN_MAX_THREADS];
    _Atomic uint64_t gen;
    _Atomic bool stop;
    region r;
    _Atomic int64_t next; /* next chunk start */
    _Atomic int done;     /* workers finished with the current generation */
    uint64_t start_gen;   /* generation current when the workers were created */
    bool started;
} P = {
    .region_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done_cv = PTHREAD_COND_INITIALIZER,
};

static _Thread_local bool in_worker;

static void run_chunks(int tid)
{
    const region *r = &P.r;
    if (r->each) {
        r->fn(r->ctx, 0, 1, tid);
        return;
    }
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&P.next, r->chunk, memory_order_relaxed);
        if (b >= r->n)
            break;
        int64_t e = b + r->chunk < r->n ? b + r->chunk : r->n;
        r->fn(r->ctx, b, e, tid);
    }
}

static void *worker_main(void *arg)
{
    int tid = (int)(intptr_t)arg;
    /* not atomic_load(&P.gen): a region may already have been published
     * before this thread got to run, and it must not be skipped */
    uint64_t seen = P.start_gen;
    in_worker = true;
    for (;;) {
        uint64_t g;
        /* spin briefly: back-to-back regions (one per kernel call) are common */
        for (int spin = 0; spin < 20000; spin++) {
            if ((g = atomic_load_explicit(&P.gen, memory_order_acquire)) != seen)
                goto got;
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        }
        pthread_mutex_lock(&P.lock);
        while ((g = atomic_load_explicit(&P.gen, memory_order_acquire)) == seen)
            pthread_cond_wait(&P.wake, &P.lock);
        pthread_mutex_unlock(&P.lock);
    got:
        seen = g;
        if (atomic_load(&P.stop))
            return NULL;
        run_chunks(tid);
        pthread_mutex_lock(&P.lock);
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
        pthread_cond_signal(&P.done_cv);
        pthread_mutex_unlock(&P.lock);
    }
}

static void stop_workers(void)
{
    if (!P.started)
        return;
    pthread_mutex_lock(&P.lock);
    atomic_store(&P.stop, true);
    atomic_fetch_add(&P.gen, 1);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    for (int i = 1; i < P.nthreads; i++)
        pthread_join(P.tid[i], NULL);
    atomic_store(&P.stop, false);
    P.started = false;
    P.nthreads = 1;
}

/* Starts n-1 workers; on failure keeps the ones that started. region_lock held. */
static bn_status start_workers(int n)
{
    P.nthreads = 1;
    P.started = true;
    P.start_gen = atomic_load(&P.gen);
    for (int i = 1; i < n; i++) {
        int rc = pthread_create(&P.tid[i], NULL, worker_main, (void *)(intptr_t)i);
        if (rc != 0)
            return bn_error(rc == EAGAIN ? BN_ERR_OOM : BN_ERR_STATE,
                            "threads: could not start worker %d of %d: %s", i, n, strerror(rc));
        P.nthreads = i + 1;
    }
    return BN_OK;
}

/* BN_THREADS into *n (0 when unset or empty): digits only, 1 ..
 * BN_MAX_THREADS; anything else (a sign, spaces, "0", a suffix, a number too
 * large) is BN_ERR_ARG with the message, naming the value, in msg. */
static bn_status parse_env(int *n, char *msg, size_t cap)
{
    *n = 0;
    const char *s = getenv("BN_THREADS");
    if (!s || !*s)
        return BN_OK;
    long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++)
        if (v <= BN_MAX_THREADS) /* stops growing once out of range: no overflow */
            v = v * 10 + (*p - '0');
    if (*p || v < 1 || v > BN_MAX_THREADS) {
        snprintf(msg, cap,
                 "BN_THREADS=\"%.32s\": not a thread count (need an integer from 1 to %d)", s,
                 BN_MAX_THREADS);
        return BN_ERR_ARG;
    }
    *n = (int)v;
    return BN_OK;
}

/* Set once bn_threads_init has handed a BN_THREADS error to its caller, so
 * the pool does not also print it. */
static _Atomic bool env_reported;

int bn_threads_env(void)
{
    char msg[128];
    int n;
    if (parse_env(&n, msg, sizeof msg) != BN_OK) {
        bn_error(BN_ERR_ARG, "%s", msg);
        return -1;
    }
    return n;
}

bn_status bn_threads_init(void)
{
    char msg[128];
    int n;
    bn_status st = parse_env(&n, msg, sizeof msg);
    if (st == BN_OK)
        return BN_OK;
    atomic_store(&env_reported, true);
    return bn_error(st, "%s", msg);
}

/* The pool's size when it starts: BN_THREADS, else the CPUs this process may
 * run on. With report, a bad BN_THREADS nobody asked bn_threads_init about is
 * written to stderr once, like a bad BN_KERNELS. */
static int size_from_env(bool report)
{
    char msg[128];
    int n;
    bool bad = parse_env(&n, msg, sizeof msg) != BN_OK;
    if (n > 0)
        return n;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n > BN_MAX_THREADS ? BN_MAX_THREADS : n;
    if (report && bad && !atomic_exchange(&env_reported, true))
        fprintf(stderr, "bitnet: %s; using %d threads\n", msg, n);
    return n;
}

static int default_threads(void)
{
    return size_from_env(true);
}

int bn_threads_planned(void)
{
    pthread_mutex_lock(&P.region_lock);
    int n = P.started ? P.nthreads : size_from_env(false);
    pthread_mutex_unlock(&P.region_lock);
    return n;
}

/* region_lock held */
static bn_status ensure_started(void)
{
    if (P.started)
        return BN_OK;
    return start_workers(default_threads());
}

int bn_threads_count(void)
{
    pthread_mutex_lock(&P.region_lock);
    ensure_started();
    int n = P.nthreads;
    pthread_mutex_unlock(&P.region_lock);
    return n;
}

bn_status bn_threads_set(int n)
{
    if (n < 1 || n > BN_MAX_THREADS)
        return bn_error(BN_ERR_ARG, "threads: count %d out of range [1, %d]", n, BN_MAX_THREADS);
    pthread_mutex_lock(&P.region_lock);
    stop_workers();
    bn_status st = start_workers(n);
    pthread_mutex_unlock(&P.region_lock);
    return st;
}

/* Publishes r, works as tid 0, waits for the others. region_lock held. */
static void run_region(const region *r)
{
    P.r = *r;
    atomic_store_explicit(&P.next, 0, memory_order_relaxed);
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    int helpers = P.nthreads - 1;
    pthread_mutex_lock(&P.lock);
    atomic_fetch_add_explicit(&P.gen, 1, memory_order_release);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    bool was = in_worker;
    in_worker = true;
    run_chunks(0);
    in_worker = was;
    for (int spin = 0; spin < 20000; spin++) {
        if (atomic_load_explicit(&P.done, memory_order_acquire) == helpers)
            return;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&P.lock);
    while (atomic_load_explicit(&P.done, memory_order_acquire) != helpers)
        pthread_cond_wait(&P.done_cv, &P.lock);
    pthread_mutex_unlock(&P.lock);
}

bn_status bn_parallel_for(int64_t n, int64_t grain, bn_range_fn fn, void *ctx)
{
    BN_ASSERT(fn != NULL);
    if (n <= 0)
        return BN_OK;
    if (grain < 1)
        grain = 1;
    if (n <= grain || in_worker) {
        fn(ctx, 0, n, 0);
        return BN_OK;
    }
    pthread_mutex_lock(&P.region_lock);
    bn_status st = ensure_started();
    if (P.nthreads == 1) {
        pthread_mutex_unlock(&P.region_lock);
        fn(ctx, 0, n, 0);
        return st;
    }
    /* a few chunks per thread so uneven work balances, never below grain */
    int64_t chunk = n / ((int64_t)P.nthreads * 4);
    if (chunk < grain)
        chunk = grain;
    region r = {.fn = fn, .ctx = ctx, .n = n, .chunk = chunk, .each = false};
    run_region(&r);
    pthread_mutex_unlock(&P.region_lock);
    return st;
}

bn_status bn_threads_on_each(bn_range_fn fn, void *ctx)
{
    BN_ASSERT(fn != NULL);
    pthread_mutex_lock(&P.region_lock);
    bn_status st = ensure_started();
    region r = {.fn = fn, .ctx = ctx, .n = 1, .chunk = 1, .each = true};
    run_region(&r);
    pthread_mutex_unlock(&P.region_lock);
    return st;
}
