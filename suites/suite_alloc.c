/*
 * suite_alloc.c - the `alloc` suite: allocation latency of the engine's pool
 * side by side with glibc malloc, mimalloc and jemalloc, and the pool's hit
 * rate over a trace shaped like a BitNet forward pass.
 *
 *   alloc/<impl>/size=<bytes>   impl: pool | malloc | mimalloc | jemalloc;
 *                               sizes 64 B, 256 B, 1 KiB, 4 KiB, 64 KiB,
 *                               1 MiB, 16 MiB. The timed region is `iters`
 *                               alloc+free pairs of that size (the block is
 *                               not touched: this is the allocator's cost).
 *       :p50_ns, :p99_ns   latency of one alloc+free pair: the timed region
 *                          runs in batches of ALLOC_BATCH pairs, each batch
 *                          timed with the TSC (the clock where no invariant
 *                          TSC exists), so a timer read costs well under 1 ns
 *                          per pair; p50/p99 over the last ALLOC_RING batches
 *                          of the case (DESIGN.md "Allocation latency").
 *       :mean_ns           the runner's median sample, per pair.
 *       :batches, :batch_pairs
 *   alloc/<impl>/threads=prodcons   two threads: the measuring one allocates
 *                      256-byte blocks and passes each through a ring of
 *                      XT_RING slots to a second thread, which frees it
 *                      (every free is a cross-thread free). p50/p99 are the
 *                      producer's batches, per pair: in the steady state
 *                      (ring full) they are bound by the consumer's frees.
 *   alloc/<impl>/threads=mixed2     two threads at once, each replacing one of
 *                      8 live blocks per pair with sizes cycling over 64 B ..
 *                      64 KiB and 1 MiB every 16th; p50/p99 are the measuring
 *                      thread's batches, per pair.
 *       The second thread runs on the second selected PU (--cpus), else on
 *       any online PU but the measuring one.
 *   mimalloc and jemalloc are loaded at run time (dlopen of their Debian
 *   sonames, RTLD_LOCAL; functions taken with dlsym on the library's own
 *   handle, so jemalloc's `malloc` is jemalloc's, not glibc's; RTLD_NODELETE, as
 *   both register thread-exit destructors that must outlive dlclose). Absent ones
 *   are skipped with dlopen's reason. jemalloc's initial-exec TLS does not
 *   fit glibc's default static-TLS surplus for dlopen: bnbench re-executes
 *   itself once with GLIBC_TUNABLES=glibc.rtld.optional_static_tls raised
 *   (bnb_alloc_prepare_exec) so that it loads.
 *
 *   alloc/pool-trace   the activations and temporaries of one generation
 *                      with BitNet b1.58 2B (hidden 2560, FFN 6912, 30
 *                      layers, 20 heads of 128, 5 KV heads, vocabulary
 *                      128256): a prefill of TRACE_PROMPT tokens then
 *                      TRACE_DECODE decode steps, each a forward pass that
 *                      allocates and frees what a layer-by-layer
 *                      implementation does, in that order, with a KV cache
 *                      per layer that lives for the generation.
 *       :hit_rate  pool hits / pool allocations over that trace run once on
 *                  a fresh pool (cold: the first touches of every size class
 *                  count as misses); :failures, :allocs, :misses from the
 *                  same pass. :hit_rate_warm over the timed replays.
 *       The timed region replays the trace (allocations only, no math).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet/pool.h"
#include "collectors/timer.h"
#include "suites/suite.h"

#define ALLOC_BATCH 32    /* alloc+free pairs per timed batch */
#define ALLOC_RING  16384 /* batches kept for p50/p99 */
#define STATIC_TLS  "glibc.rtld.optional_static_tls=16384"

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);

typedef enum impl_kind { IMPL_POOL, IMPL_MALLOC, IMPL_DL } impl_kind;

typedef struct alloc_impl {
    const char *name;
    impl_kind kind;
    const char *lib; /* soname for IMPL_DL */
    const char *malloc_sym, *free_sym;
} alloc_impl;

static const alloc_impl impl_pool = {"pool", IMPL_POOL, NULL, NULL, NULL};
static const alloc_impl impl_malloc = {"malloc", IMPL_MALLOC, NULL, NULL, NULL};
static const alloc_impl impl_mimalloc = {"mimalloc", IMPL_DL, "libmimalloc.so.2", "mi_malloc",
                                         "mi_free"};
static const alloc_impl impl_jemalloc = {"jemalloc", IMPL_DL, "libjemalloc.so.2", "malloc", "free"};

void bnb_alloc_prepare_exec(char **argv)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (getenv("BNB_NO_REEXEC") || (t && strstr(t, "glibc.rtld.optional_static_tls")))
        return;
    char buf[1024];
    int w = t && *t ? snprintf(buf, sizeof buf, "%s:%s", t, STATIC_TLS)
                    : snprintf(buf, sizeof buf, "%s", STATIC_TLS);
    if (w < 0 || (size_t)w >= sizeof buf || setenv("GLIBC_TUNABLES", buf, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on; jemalloc is then skipped with dlopen's reason */
    if (t)
        setenv("GLIBC_TUNABLES", t, 1);
    else
        unsetenv("GLIBC_TUNABLES");
}

/* dlopen + dlsym of a peer allocator; 0, or -1 with the reason. */
static int load_impl(const alloc_impl *im, void **h, malloc_fn *m, free_fn *f, char *why,
                     size_t cap)
{
    *h = dlopen(im->lib, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!*h) {
        const char *e = dlerror();
        snprintf(why, cap, "%s not loadable: %s", im->lib, e ? e : "unknown dlopen error");
        return -1;
    }
    void *ms = dlsym(*h, im->malloc_sym), *fs = dlsym(*h, im->free_sym);
    if (!ms || !fs) {
        snprintf(why, cap, "%s has no %s/%s", im->lib, im->malloc_sym, im->free_sym);
        dlclose(*h);
        *h = NULL;
        return -1;
    }
    *m = (malloc_fn)ms;
    *f = (free_fn)fs;
    return 0;
}

/* What the timed region does: alloc+free pairs on one thread, pairs whose
 * frees happen on a second thread, or pairs on two threads at once. */
typedef enum alloc_mode { MODE_PAIR, MODE_PRODCONS, MODE_MIXED2 } alloc_mode;

typedef struct alloc_arg {
    const alloc_impl *impl;
    size_t size; /* the pair's size; the producer's size; alloc_verify's size */
    alloc_mode mode;
} alloc_arg;

#define XT_RING  1024 /* blocks in flight from producer to consumer */
#define XT_SPINS 256  /* empty polls before a waiting thread yields */

/* The second thread of the two-thread cases and what it shares with the first. */
typedef struct xt_helper {
    pthread_t th;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    uint64_t gen;  /* run() calls started (lock) */
    bool quit;     /* (lock) */
    int64_t pairs; /* mixed: pairs the helper does in this call (lock) */
    _Atomic uint64_t done_gen;
    _Atomic int stop;            /* prodcons: the producer has pushed its last block */
    _Atomic uint64_t head, tail; /* prodcons ring: producer advances head, consumer tail */
    void *_Atomic slot[XT_RING];
} xt_helper;

typedef struct alloc_state {
    const alloc_arg *arg;
    void *lib;
    malloc_fn m;
    free_fn f;
    bn_pool *pool;
    bool use_tsc;
    double ns_per_tick;
    float *ring; /* ns per pair of each recorded batch */
    int64_t nbatch;
    xt_helper *xt; /* two-thread modes only */
} alloc_state;

static bool alloc_available(const void *arg, char *why, size_t cap)
{
    const alloc_arg *a = arg;
    if (a->impl->kind != IMPL_DL)
        return true;
    void *h;
    malloc_fn m;
    free_fn f;
    if (load_impl(a->impl, &h, &m, &f, why, cap) != 0)
        return false;
    dlclose(h);
    return true;
}

static void xt_stop(alloc_state *s);

static void alloc_teardown(void *state)
{
    alloc_state *s = state;
    if (!s)
        return;
    xt_stop(s);
    bn_pool_destroy(s->pool);
    if (s->lib)
        dlclose(s->lib);
    free(s->ring);
    free(s);
}

static int xt_start(alloc_state *s, const bnb_cpulist *cpus, char *err, size_t cap);

static int alloc_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                       size_t cap)
{
    const alloc_arg *a = arg;
    alloc_state *s = calloc(1, sizeof *s);
    if (!s || !(s->ring = calloc(ALLOC_RING, sizeof *s->ring))) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    s->arg = a;
    s->use_tsc = env->timer->tsc_invariant && env->timer->tsc_hz > 0;
    s->ns_per_tick = s->use_tsc ? 1e9 / env->timer->tsc_hz : 1.0;
    switch (a->impl->kind) {
    case IMPL_POOL:
        if (bn_pool_create(NULL, &s->pool) != BN_OK) {
            snprintf(err, cap, "bn_pool_create: %s", bn_last_error());
            goto fail;
        }
        break;
    case IMPL_MALLOC:
        s->m = malloc;
        s->f = free;
        break;
    case IMPL_DL:
        if (load_impl(a->impl, &s->lib, &s->m, &s->f, err, cap) != 0)
            goto fail;
        break;
    }
    if (a->mode != MODE_PAIR && xt_start(s, env->cpus, err, cap) != 0)
        goto fail;
    *state = s;
    return 0;
fail:
    alloc_teardown(s);
    return -1;
}

static inline void *do_alloc(alloc_state *s, size_t n)
{
    return s->pool ? bn_pool_alloc(s->pool, n, 0) : s->m(n);
}

static inline void do_free(alloc_state *s, void *p)
{
    if (s->pool)
        bn_pool_free(s->pool, p);
    else
        s->f(p);
}

static int alloc_verify(void *state, char *err, size_t cap)
{
    alloc_state *s = state;
    size_t n = s->arg->size;
    for (int k = 0; k < 4; k++) {
        unsigned char *p = do_alloc(s, n);
        if (!p) {
            snprintf(err, cap, "%s(%zu) returned NULL", s->arg->impl->name, n);
            return -1;
        }
        if ((uintptr_t)p % 16 != 0) {
            snprintf(err, cap, "%s(%zu) returned %p, not 16-byte aligned", s->arg->impl->name, n,
                     (void *)p);
            do_free(s, p);
            return -1;
        }
        if (s->pool && bn_pool_block_size(s->pool, p) < n) {
            snprintf(err, cap, "pool block of %zu bytes for a request of %zu",
                     bn_pool_block_size(s->pool, p), n);
            bn_pool_free(s->pool, p);
            return -1;
        }
        p[0] = 0xa5; /* the whole block must be usable: first and last byte */
        p[n - 1] = 0x5a;
        if (p[0] != 0xa5 || p[n - 1] != 0x5a) {
            snprintf(err, cap, "block of %zu bytes does not hold its contents", n);
            do_free(s, p);
            return -1;
        }
        do_free(s, p);
    }
    return 0;
}

static inline uint64_t ticks(const alloc_state *s)
{
    return s->use_tsc ? bnb_tsc() : (uint64_t)bnb_now_ns();
}

static void xt_run(alloc_state *s, int64_t iters);

static void alloc_run(void *state, int64_t iters)
{
    alloc_state *s = state;
    if (s->xt) {
        xt_run(s, iters);
        return;
    }
    size_t n = s->arg->size;
    const int64_t total = iters;
    while (iters > 0) {
        int64_t b = iters < ALLOC_BATCH ? iters : ALLOC_BATCH;
        uint64_t t0 = ticks(s);
        for (int64_t i = 0; i < b; i++) {
            void *p = do_alloc(s, n);
            /* the pair must happen: the compiler may not fold malloc+free */
            __asm__ volatile("" : : "r"(p) : "memory");
            do_free(s, p);
        }
        uint64_t t1 = ticks(s);
        /* partial batches only when a whole call is one (slow pairs, e.g. under
         * a sanitizer, where calibration asks for fewer than a batch) */
        if (b == ALLOC_BATCH || b == total)
            s->ring[s->nbatch++ % ALLOC_RING] = (float)((double)(t1 - t0) * s->ns_per_tick / b);
        iters -= b;
    }
}

/* ---- two-thread cases ------------------------------------------------------------- */

/* The sizes of the mixed case: small classes, a 64 KiB block and, every 16th, 1 MiB. */
static size_t mixed_size(int64_t i)
{
    static const size_t sz[8] = {64, 256, 1024, 200, 4096, 3000, 65536, 512};
    return i % 16 == 15 ? (size_t)1 << 20 : sz[i % 8];
}

/* n pairs of mixed sizes; each replaces one of 8 live blocks, so frees are
 * not always of the block just allocated. */
static void mixed_pairs(alloc_state *s, int64_t n, void **live)
{
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i & 7);
        do_free(s, live[k]); /* NULL: no-op for every implementation */
        live[k] = do_alloc(s, mixed_size(i));
    }
}

static void mixed_release(alloc_state *s, void **live)
{
    for (int k = 0; k < 8; k++) {
        do_free(s, live[k]);
        live[k] = NULL;
    }
}

static void spin_wait(unsigned *spins)
{
    if (++*spins % XT_SPINS == 0)
        sched_yield();
}

/* The consumer: frees what the producer pushes until told to stop and the ring is empty. */
static void xt_consume(alloc_state *s)
{
    xt_helper *x = s->xt;
    unsigned spins = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&x->tail, memory_order_relaxed);
        if (t != atomic_load_explicit(&x->head, memory_order_acquire)) {
            void *p = atomic_load_explicit(&x->slot[t % XT_RING], memory_order_relaxed);
            atomic_store_explicit(&x->tail, t + 1, memory_order_release);
            do_free(s, p);
            continue;
        }
        if (atomic_load_explicit(&x->stop, memory_order_acquire) &&
            t == atomic_load_explicit(&x->head, memory_order_acquire))
            return;
        spin_wait(&spins);
    }
}

static void *xt_main(void *arg)
{
    alloc_state *s = arg;
    xt_helper *x = s->xt;
    uint64_t seen = 0;
    void *live[8] = {NULL};
    for (;;) {
        pthread_mutex_lock(&x->lock);
        while (x->gen == seen && !x->quit)
            pthread_cond_wait(&x->cv, &x->lock);
        bool quit = x->quit;
        seen = x->gen;
        int64_t pairs = x->pairs;
        pthread_mutex_unlock(&x->lock);
        if (quit)
            break;
        if (s->arg->mode == MODE_PRODCONS)
            xt_consume(s);
        else
            mixed_pairs(s, pairs, live);
        atomic_store_explicit(&x->done_gen, seen, memory_order_release);
    }
    mixed_release(s, live);
    return NULL;
}

/*
 * Starts the second thread. The measuring thread is pinned to cpus->cpu[0];
 * the second runs on cpus->cpu[1] when two PUs were selected, else on any
 * PU the process may use but the first (on the first only when it is the
 * only one).
 */
static int xt_start(alloc_state *s, const bnb_cpulist *cpus, char *err, size_t cap)
{
    xt_helper *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, cap, "out of memory for the second thread's state");
        return -1;
    }
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cv, NULL);
    s->xt = x;
    int rc = pthread_create(&x->th, NULL, xt_main, s);
    if (rc != 0) {
        snprintf(err, cap, "pthread_create of the second thread failed: %s", strerror(rc));
        return -1;
    }
    x->started = true;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpus->n > 1) {
        CPU_SET(cpus->cpu[1], &set);
    } else if (sched_getaffinity(getpid(), sizeof set, &set) == 0) {
        /* the CPUs the process may use (the main thread's mask: only the
         * measuring thread is pinned), never widened, less the measuring
         * thread's own unless it is the only one */
        if (cpus->n == 1 && CPU_COUNT(&set) > 1)
            CPU_CLR(cpus->cpu[0], &set);
    } else {
        return 0; /* no mask to read: the thread keeps the creator's */
    }
    /* best effort: where the mask is refused the thread keeps the creator's */
    (void)pthread_setaffinity_np(x->th, sizeof set, &set);
    return 0;
}

static void xt_stop(alloc_state *s)
{
    xt_helper *x = s->xt;
    if (!x)
        return;
    if (x->started) {
        pthread_mutex_lock(&x->lock);
        x->quit = true;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->lock);
        pthread_join(x->th, NULL);
    }
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->lock);
    free(x);
    s->xt = NULL;
}

/* Records one batch of b pairs that took t1 - t0 ticks (as alloc_run). */
static void xt_record(alloc_state *s, int64_t b, int64_t total, uint64_t t0, uint64_t t1)
{
    if (b == ALLOC_BATCH || b == total)
        s->ring[s->nbatch++ % ALLOC_RING] = (float)((double)(t1 - t0) * s->ns_per_tick / b);
}

/*
 * prodcons: this thread allocates and pushes each block to the consumer,
 * which frees it; a batch's time is the producer's, which in the steady state
 * (ring full) is bound by the consumer's frees. The call returns once every
 * block is freed. mixed2: both threads run `iters` mixed pairs at once; the
 * batches timed are this thread's.
 */
static void xt_run(alloc_state *s, int64_t iters)
{
    xt_helper *x = s->xt;
    const int64_t total = iters;
    pthread_mutex_lock(&x->lock);
    uint64_t gen = ++x->gen;
    x->pairs = iters;
    atomic_store_explicit(&x->stop, 0, memory_order_relaxed);
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->lock);
    void *live[8] = {NULL};
    unsigned spins = 0;
    while (iters > 0) {
        int64_t b = iters < ALLOC_BATCH ? iters : ALLOC_BATCH;
        uint64_t t0 = ticks(s);
        if (s->arg->mode == MODE_PRODCONS) {
            for (int64_t j = 0; j < b; j++) {
                void *p = do_alloc(s, s->arg->size);
                uint64_t h = atomic_load_explicit(&x->head, memory_order_relaxed);
                while (h - atomic_load_explicit(&x->tail, memory_order_acquire) >= XT_RING)
                    spin_wait(&spins);
                atomic_store_explicit(&x->slot[h % XT_RING], p, memory_order_relaxed);
                atomic_store_explicit(&x->head, h + 1, memory_order_release);
            }
        } else {
            mixed_pairs(s, b, live);
        }
        uint64_t t1 = ticks(s);
        xt_record(s, b, total, t0, t1);
        iters -= b;
    }
    mixed_release(s, live);
    atomic_store_explicit(&x->stop, 1, memory_order_release);
    while (atomic_load_explicit(&x->done_gen, memory_order_acquire) != gen)
        spin_wait(&spins);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int alloc_metrics(void *state, bnb_case_result *r)
{
    alloc_state *s = state;
    int64_t n = s->nbatch < ALLOC_RING ? s->nbatch : ALLOC_RING;
    bnb_metric *m = bnb_case_add_metric(r, "mean_ns", "ns", r->stats.median * 1e9, false);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_PROP;
    if (n == 0) {
        const char *why = "no full batch was timed";
        return bnb_case_add_unavailable(r, "p50_ns", "ns", why) &&
                       bnb_case_add_unavailable(r, "p99_ns", "ns", why)
                   ? 0
                   : -1;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return -1;
    memcpy(v, s->ring, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    double p50 = v[(n - 1) / 2], p99 = v[(int64_t)((double)(n - 1) * 0.99 + 0.5)];
    free(v);
    int rc = bnb_case_add_metric(r, "p50_ns", "ns", p50, false) &&
                     bnb_case_add_metric(r, "p99_ns", "ns", p99, false) &&
                     bnb_case_add_metric(r, "batches", "count", (double)n, true) &&
                     bnb_case_add_metric(r, "batch_pairs", "count", ALLOC_BATCH, true) &&
                     (s->arg->mode != MODE_PAIR ||
                      bnb_case_add_metric(r, "size", "B", (double)s->arg->size, true))
                 ? 0
                 : -1;
    if (rc == 0 && s->pool) {
        bn_pool_stats st;
        bn_pool_stats_get(s->pool, &st);
        double hr = st.allocs ? (double)st.hits / (double)st.allocs : 0.0;
        rc = bnb_case_add_metric(r, "hit_rate", "ratio", hr, true) ? 0 : -1;
    }
    return rc;
}

/* ---- forward-pass trace ----------------------------------------------------------- */

#define BN2B_HIDDEN   2560
#define BN2B_FFN      6912
#define BN2B_LAYERS   30
#define BN2B_HEADS    20
#define BN2B_KV_HEADS 5
#define BN2B_HEAD_DIM 128
#define BN2B_VOCAB    128256
#define TRACE_PROMPT  128
#define TRACE_DECODE  32

typedef struct trace_state {
    bn_pool *pool;
    void *kv[2 * BN2B_LAYERS];
    uint64_t events;      /* allocations asked for in the last pass */
    bn_pool_stats cold;   /* stats of the first pass on a fresh pool */
    uint64_t cold_events; /* allocations asked for in that pass */
    uint64_t cold_live;   /* live blocks after it (must be 0) */
    uint64_t nulls;       /* allocations that returned NULL, every pass */
    int64_t passes;       /* generations replayed since the warm stats reset */
} trace_state;

static void *tr_alloc(trace_state *s, size_t n)
{
    s->events++;
    void *p = bn_pool_alloc(s->pool, n, 0);
    if (!p)
        s->nulls++;
    return p;
}

static void tr_free(trace_state *s, void *p)
{
    bn_pool_free(s->pool, p); /* NULL (a failed allocation) is a no-op */
}

/* BitLinear input: the activation quantised to int8 plus a per-token scale. */
static void quantize(trace_state *s, size_t tokens, size_t dim, void **q, void **scale)
{
    *q = tr_alloc(s, tokens * dim);
    *scale = tr_alloc(s, tokens * sizeof(float));
}

/* One forward pass of `t` new tokens with `ctx` tokens of context in total. */
static void forward(trace_state *s, size_t t, size_t ctx, size_t max_ctx)
{
    const size_t H = BN2B_HIDDEN, F = BN2B_FFN, KV = BN2B_KV_HEADS * BN2B_HEAD_DIM;
    const size_t f4 = sizeof(float);
    void *x = tr_alloc(s, t * H * f4); /* embeddings */
    for (int l = 0; l < BN2B_LAYERS; l++) {
        void **kc = &s->kv[2 * l], **vc = &s->kv[2 * l + 1];
        if (!*kc) { /* the layer's KV cache, for the whole generation */
            *kc = tr_alloc(s, max_ctx * KV * f4);
            *vc = tr_alloc(s, max_ctx * KV * f4);
        }
        /* attention */
        void *h = tr_alloc(s, t * H * f4), *hq, *hs; /* input rmsnorm */
        quantize(s, t, H, &hq, &hs);
        tr_free(s, h);
        void *q = tr_alloc(s, t * H * f4), *k = tr_alloc(s, t * KV * f4);
        void *v = tr_alloc(s, t * KV * f4);
        tr_free(s, hs);
        tr_free(s, hq);
        tr_free(s, k); /* rotated and appended to the cache */
        tr_free(s, v);
        void *sc = tr_alloc(s, BN2B_HEADS * t * ctx * f4); /* scores, softmax in place */
        void *att = tr_alloc(s, t * H * f4);
        tr_free(s, sc);
        tr_free(s, q);
        void *an = tr_alloc(s, t * H * f4), *aq, *as; /* attn_sub_norm */
        tr_free(s, att);
        quantize(s, t, H, &aq, &as);
        tr_free(s, an);
        void *o = tr_alloc(s, t * H * f4);
        tr_free(s, as);
        tr_free(s, aq);
        void *x2 = tr_alloc(s, t * H * f4); /* residual */
        tr_free(s, o);
        tr_free(s, x);
        x = x2;
        /* feed-forward (squared ReLU gate) */
        h = tr_alloc(s, t * H * f4);
        quantize(s, t, H, &hq, &hs);
        tr_free(s, h);
        void *g = tr_alloc(s, t * F * f4), *u = tr_alloc(s, t * F * f4);
        tr_free(s, hs);
        tr_free(s, hq);
        void *act = tr_alloc(s, t * F * f4); /* relu(g)^2 * u */
        tr_free(s, u);
        tr_free(s, g);
        void *fn = tr_alloc(s, t * F * f4), *fq, *fs; /* ffn_sub_norm */
        tr_free(s, act);
        quantize(s, t, F, &fq, &fs);
        tr_free(s, fn);
        void *d = tr_alloc(s, t * H * f4);
        tr_free(s, fs);
        tr_free(s, fq);
        x2 = tr_alloc(s, t * H * f4);
        tr_free(s, d);
        tr_free(s, x);
        x = x2;
    }
    void *h = tr_alloc(s, H * f4);               /* final norm, last token */
    void *logits = tr_alloc(s, BN2B_VOCAB * f4); /* lm head */
    void *probs = tr_alloc(s, BN2B_VOCAB * f4);  /* sampling */
    tr_free(s, h);
    tr_free(s, logits);
    tr_free(s, probs);
    tr_free(s, x);
}

static void generation(trace_state *s)
{
    size_t max_ctx = TRACE_PROMPT + TRACE_DECODE;
    s->events = 0;
    forward(s, TRACE_PROMPT, TRACE_PROMPT, max_ctx);
    for (size_t i = 1; i <= TRACE_DECODE; i++)
        forward(s, 1, TRACE_PROMPT + i, max_ctx);
    for (int i = 0; i < 2 * BN2B_LAYERS; i++) {
        tr_free(s, s->kv[i]);
        s->kv[i] = NULL;
    }
}

static void trace_teardown(void *state)
{
    trace_state *s = state;
    if (!s)
        return;
    bn_pool_destroy(s->pool);
    free(s);
}

static int trace_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                       size_t cap)
{
    trace_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    if (bn_pool_create(NULL, &s->pool) != BN_OK) {
        snprintf(err, cap, "bn_pool_create: %s", bn_last_error());
        free(s);
        return -1;
    }
    generation(s); /* the measured pass: a fresh pool */
    bn_pool_stats_get(s->pool, &s->cold);
    s->cold_events = s->events;
    s->cold_live = s->cold.live_blocks;
    bn_pool_stats_reset(s->pool);
    *state = s;
    return 0;
}

static int trace_verify(void *state, char *err, size_t cap)
{
    trace_state *s = state;
    if (s->cold.allocs + s->cold.failures != s->cold_events) {
        snprintf(err, cap, "pool counted %llu allocations + %llu failures for %llu requests",
                 (unsigned long long)s->cold.allocs, (unsigned long long)s->cold.failures,
                 (unsigned long long)s->cold_events);
        return -1;
    }
    if (s->cold_live != 0 || s->cold.hits + s->cold.misses != s->cold.allocs) {
        snprintf(err, cap,
                 "after the trace: %llu live blocks (want 0), hits %llu + misses %llu "
                 "!= allocations %llu",
                 (unsigned long long)s->cold_live, (unsigned long long)s->cold.hits,
                 (unsigned long long)s->cold.misses, (unsigned long long)s->cold.allocs);
        return -1;
    }
    return 0;
}

static void trace_run(void *state, int64_t iters)
{
    trace_state *s = state;
    for (int64_t i = 0; i < iters; i++)
        generation(s);
    s->passes += iters;
}

static int trace_metrics(void *state, bnb_case_result *r)
{
    trace_state *s = state;
    const bn_pool_stats *c = &s->cold;
    bn_pool_stats w;
    bn_pool_stats_get(s->pool, &w);
    double hit = c->allocs ? (double)c->hits / (double)c->allocs : 0.0;
    bnb_metric *m = bnb_case_add_metric(r, "ns_per_alloc", "ns",
                                        r->stats.median * 1e9 / (double)s->cold_events, false);
    if (!m)
        return -1;
    m->timing = BNB_TIMING_PROP;
    return bnb_case_add_metric(r, "hit_rate", "ratio", hit, true) &&
                   bnb_case_add_metric(r, "failures", "count", (double)c->failures, false) &&
                   bnb_case_add_metric(r, "allocs", "count", (double)c->allocs, true) &&
                   bnb_case_add_metric(r, "misses", "count", (double)c->misses, false) &&
                   bnb_case_add_metric(r, "peak_bytes", "B", (double)c->peak_bytes, false) &&
                   bnb_case_add_metric(r, "hit_rate_warm", "ratio",
                                       w.allocs ? (double)w.hits / (double)w.allocs : 0.0, true) &&
                   bnb_case_add_metric(r, "failures_warm", "count", (double)w.failures, false)
               ? 0
               : -1;
}

/* ---- case table ------------------------------------------------------------------- */

#define SIZES(X, impl)                                                                             \
    X(impl, 64, "64")                                                                              \
    X(impl, 256, "256")                                                                            \
    X(impl, 1024, "1024")                                                                          \
    X(impl, 4096, "4096")                                                                          \
    X(impl, 65536, "65536")                                                                        \
    X(impl, 1048576, "1048576")                                                                    \
    X(impl, 16777216, "16777216")

#define ARG(impl, n, s) static const alloc_arg arg_##impl##_##n = {&impl_##impl, n, MODE_PAIR};
SIZES(ARG, pool)
SIZES(ARG, malloc)
SIZES(ARG, mimalloc)
SIZES(ARG, jemalloc)

#define XT_ARGS(impl)                                                                              \
    static const alloc_arg arg_##impl##_prodcons = {&impl_##impl, 256, MODE_PRODCONS};             \
    static const alloc_arg arg_##impl##_mixed2 = {&impl_##impl, 256, MODE_MIXED2};
XT_ARGS(pool)
XT_ARGS(malloc)
XT_ARGS(mimalloc)
XT_ARGS(jemalloc)

/* What alloc_metrics adds: the pool also reports its hit rate. */
#define ALLOC_METRICS          "mean_ns,p50_ns,p99_ns,batches,batch_pairs,size"
#define ALLOC_METRICS_pool     ALLOC_METRICS ",hit_rate"
#define ALLOC_METRICS_malloc   ALLOC_METRICS
#define ALLOC_METRICS_mimalloc ALLOC_METRICS
#define ALLOC_METRICS_jemalloc ALLOC_METRICS
#define XT_METRICS             "mean_ns,p50_ns,p99_ns,batches,batch_pairs"
#define XT_METRICS_pool        XT_METRICS ",hit_rate"
#define XT_METRICS_malloc      XT_METRICS
#define XT_METRICS_mimalloc    XT_METRICS
#define XT_METRICS_jemalloc    XT_METRICS

#define CASE(impl, n, s)                                                                           \
    {.name = #impl,                                                                                \
     .nparams = 1,                                                                                 \
     .params = {{"size", s}},                                                                      \
     .code_version = "1",                                                                          \
     .arg = &arg_##impl##_##n,                                                                     \
     .available = alloc_available,                                                                 \
     .setup = alloc_setup,                                                                         \
     .verify = alloc_verify,                                                                       \
     .run = alloc_run,                                                                             \
     .metrics = alloc_metrics,                                                                     \
     .metric_names = ALLOC_METRICS_##impl,                                                         \
     .teardown = alloc_teardown},

#define XT_CASE(impl, pat)                                                                         \
    {.name = #impl,                                                                                \
     .nparams = 1,                                                                                 \
     .params = {{"threads", #pat}},                                                                \
     .code_version = "1",                                                                          \
     .arg = &arg_##impl##_##pat,                                                                   \
     .available = alloc_available,                                                                 \
     .setup = alloc_setup,                                                                         \
     .verify = alloc_verify,                                                                       \
     .run = alloc_run,                                                                             \
     .metrics = alloc_metrics,                                                                     \
     .metric_names = XT_METRICS_##impl,                                                            \
     .teardown = alloc_teardown},
#define XT_CASES(impl) XT_CASE(impl, prodcons) XT_CASE(impl, mixed2)

static const bnb_case_def alloc_cases[] = {
    SIZES(CASE, pool) SIZES(CASE, malloc) SIZES(CASE, mimalloc)
        SIZES(CASE, jemalloc){.name = "pool-trace",
                              .code_version = "1",
                              .setup = trace_setup,
                              .verify = trace_verify,
                              .run = trace_run,
                              .metrics = trace_metrics,
                              .metric_names = "ns_per_alloc,hit_rate,failures,allocs,misses,"
                                              "peak_bytes,hit_rate_warm,failures_warm",
                              .teardown = trace_teardown},
    XT_CASES(pool) XT_CASES(malloc) XT_CASES(mimalloc) XT_CASES(jemalloc)};

const bnb_suite bnb_suite_alloc = {
    .name = "alloc",
    .description = "pool alloc+free latency vs glibc malloc, mimalloc, jemalloc; pool hit rate "
                   "over a BitNet 2B forward-pass trace",
    .in_default = true,
    .cases = alloc_cases,
    .ncases = (int)(sizeof alloc_cases / sizeof alloc_cases[0]),
    .peers = "pool,malloc,mimalloc,jemalloc",
    .peer_metrics = "p50_ns,p99_ns",
};
