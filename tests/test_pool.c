/*
 * test_pool.c - the memory pool (engine/pool.c, contract bitnet/pool.h).
 *
 * Covers: every size class boundary and the large threshold exactly, a sweep
 * of powers of two and their neighbours up to 256 MiB at each alignment,
 * exact hit/miss/peak accounting on a scripted trace, fault injection
 * (each failing allocation returns BN_ERR_OOM and nothing leaks), the leak
 * report (tracked and untracked, and on destroy), trim, bad input, and
 * concurrent alloc/free with blocks handed between threads (run under TSan
 * by `make SANITIZER=thread test`).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bitnet/pool.h"

static bn_pool *make_pool(size_t threshold, size_t cache, bool track)
{
    bn_pool_config cfg = {
        .large_threshold = threshold, .large_cache_bytes = cache, .track_sites = track};
    bn_pool *p = NULL;
    cr_assert_eq(bn_pool_create(&cfg, &p), BN_OK, "%s", bn_last_error());
    cr_assert_not_null(p);
    return p;
}

static bn_pool_stats stats_of(bn_pool *p)
{
    bn_pool_stats s;
    bn_pool_stats_get(p, &s);
    return s;
}

static void assert_balanced(bn_pool *p)
{
    bn_pool_stats s = stats_of(p);
    cr_assert_eq(s.allocs, s.frees, "allocs %llu frees %llu", (unsigned long long)s.allocs,
                 (unsigned long long)s.frees);
    cr_assert_eq(s.live_blocks, 0);
    cr_assert_eq(s.live_bytes, 0);
    cr_assert_eq(bn_pool_leak_report(p, NULL), 0);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- sizes and alignment ---------------------------------------------- */

static void fill_check(unsigned char *b, size_t size, unsigned char tag)
{
    if (size <= 65536) {
        memset(b, tag, size);
        for (size_t i = 0; i < size; i += 61)
            cr_assert_eq(b[i], tag);
    } else {
        b[0] = tag;
        b[size / 2] = tag;
        b[size - 1] = tag;
    }
    cr_assert_eq(b[0], tag);
    cr_assert_eq(b[size - 1], tag);
}

static void sweep(bn_pool *p)
{
    static const size_t aligns[] = {0, 64, 128, 4096};
    uint64_t n = 0;
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        size_t align = aligns[a];
        size_t need = align ? align : BN_POOL_DEFAULT_ALIGN;
        unsigned char *prev = NULL;
        size_t prev_size = 0;
        unsigned char prev_tag = 0;
        for (int k = 0; k <= 28; k++) {
            for (int d = -1; d <= 1; d++) {
                size_t size = ((size_t)1 << k) + (size_t)(ptrdiff_t)d;
                void *v = NULL;
                bn_status st = bn_pool_try_alloc(p, size, align, &v);
                cr_assert_eq(st, BN_OK, "size %zu align %zu: %s", size, align, bn_last_error());
                cr_assert_not_null(v);
                cr_assert_eq((uintptr_t)v % need, 0, "size %zu align %zu: %p", size, align, v);
                size_t usable = size ? size : 1;
                cr_assert_geq(bn_pool_block_size(p, v), usable, "size %zu", size);
                unsigned char tag = (unsigned char)(n * 7 + 1);
                fill_check(v, usable, tag);
                n++;
                /* The previous block is still intact: blocks do not overlap. */
                if (prev) {
                    cr_assert_eq(prev[0], prev_tag);
                    cr_assert_eq(prev[prev_size - 1], prev_tag);
                    bn_pool_free(p, prev);
                }
                prev = v;
                prev_size = usable;
                prev_tag = tag;
            }
        }
        bn_pool_free(p, prev);
    }
    bn_pool_stats s = stats_of(p);
    cr_assert_eq(s.allocs, n);
    cr_assert_eq(s.frees, n);
    cr_assert_eq(s.failures, 0);
    cr_assert_geq(s.peak_bytes, ((uint64_t)1 << 28) + 1);
    assert_balanced(p);
}

Test(pool, sweep_powers_of_two_every_alignment)
{
    bn_pool *p = make_pool(0, 0, false);
    sweep(p);
    bn_pool_trim(p);
    cr_assert_eq(stats_of(p).mapped_bytes, 0);
    bn_pool_destroy(p);
}

Test(pool, sweep_default_pool_tracked_pool)
{
    bn_pool *d = bn_pool_default();
    cr_assert_not_null(d);
    cr_assert_eq(bn_pool_default(), d);
    sweep(d);
    bn_pool *p = make_pool(0, 0, true);
    sweep(p);
    bn_pool_destroy(p);
}

/*
 * Walks every class boundary: for each class, its smallest size s, the
 * block size bs (the class size) and bs + 1, which must land in the next
 * class or, past the threshold, in the large path. No size is unserved.
 */
static void walk_classes(size_t threshold)
{
    bn_pool *p = make_pool(threshold, 0, false);
    size_t eff = threshold ? threshold : 256 * 1024;
    int nclasses = stats_of(p).nclasses;
    size_t s = 1;
    int ci = 0;
    while (s <= eff) {
        void *a = bn_pool_alloc(p, s, 0);
        cr_assert_not_null(a, "size %zu", s);
        size_t bs = bn_pool_block_size(p, a);
        cr_assert_geq(bs, s);
        cr_assert_eq(bs % 64, 0);
        bn_pool_stats st = stats_of(p);
        cr_assert_lt(ci, nclasses - 1, "more classes than reported at size %zu", s);
        cr_assert_eq(st.classes[ci].size, bs, "class %d", ci);
        /* The last class may reach past a threshold that is not a class size. */
        size_t top = bs < eff ? bs : eff;
        void *b = bn_pool_alloc(p, top, 0);
        cr_assert_eq(bn_pool_block_size(p, b), bs, "size %zu", top);
        void *c = bn_pool_alloc(p, bs + 1, 0);
        cr_assert_gt(bn_pool_block_size(p, c), bs, "size %zu", bs + 1);
        memset(a, 1, s);
        memset(b, 2, top);
        memset(c, 3, bs + 1);
        cr_assert_eq(((unsigned char *)a)[s - 1], 1);
        cr_assert_eq(((unsigned char *)b)[top - 1], 2);
        bn_pool_free(p, a);
        bn_pool_free(p, b);
        bn_pool_free(p, c);
        /* s and bs went to class ci; bs + 1 to the next slot. */
        st = stats_of(p);
        cr_assert_eq(st.classes[ci].allocs, ci == 0 ? 2 : 3, "class %d size %zu", ci, bs);
        s = bs + 1;
        ci++;
    }
    bn_pool_stats st = stats_of(p);
    cr_assert_eq(ci, nclasses - 1, "walked %d classes, stats report %d", ci, nclasses - 1);
    cr_assert_gt(s, eff);
    cr_assert_eq(st.classes[nclasses - 1].size, SIZE_MAX);
    cr_assert_eq(st.classes[nclasses - 1].allocs, 1, "the last bs + 1 takes the large path");
    assert_balanced(p);
    bn_pool_destroy(p);
}

Test(pool, class_boundaries_default_threshold)
{
    walk_classes(0);
}

Test(pool, class_boundaries_custom_threshold)
{
    walk_classes(1000);
    walk_classes(64);
    walk_classes(512 * 1024);
}

Test(pool, threshold_is_exact)
{
    size_t pg = page_size();
    bn_pool *p = make_pool(1000, 0, false);
    bn_pool_stats s = stats_of(p);
    int large = s.nclasses - 1;
    /* 64..512 step 64, then 640, 768, 896, 1024: 12 classes and the large path. */
    cr_assert_eq(s.nclasses, 13);
    void *a = bn_pool_alloc(p, 1000, 0);
    cr_assert_eq(bn_pool_block_size(p, a), 1024);
    cr_assert_eq(stats_of(p).classes[large].allocs, 0);
    void *b = bn_pool_alloc(p, 1001, 0);
    cr_assert_eq(stats_of(p).classes[large].allocs, 1);
    cr_assert_geq(bn_pool_block_size(p, b), 1001);
    cr_assert_eq((bn_pool_block_size(p, b) + 4096) % pg, 0);
    bn_pool_free(p, a);
    bn_pool_free(p, b);
    bn_pool_destroy(p);

    p = make_pool(0, 0, false);
    a = bn_pool_alloc(p, 256 * 1024, 0);
    cr_assert_eq(bn_pool_block_size(p, a), 256 * 1024);
    b = bn_pool_alloc(p, 256 * 1024 + 1, 0);
    large = stats_of(p).nclasses - 1;
    cr_assert_eq(stats_of(p).classes[large].allocs, 1);
    cr_assert_eq(bn_pool_block_size(p, b), 256 * 1024 + 4096);
    bn_pool_free(p, a);
    bn_pool_free(p, b);
    bn_pool_destroy(p);
}

Test(pool, aligned_sizes_around_threshold)
{
    static const size_t aligns[] = {1, 2, 32, 128, 256, 1024, 2048, 4096};
    bn_pool *p = make_pool(0, 0, false);
    size_t t = 256 * 1024;
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t al = aligns[i];
        size_t sizes[] = {1,           al - 1 ? al - 1 : 1, al,    al + 1, t - al + 63,
                          t - al + 64, t - al + 65,         t - 1, t,      t + 1};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t sz = sizes[j];
            unsigned char *v = bn_pool_alloc(p, sz, al);
            cr_assert_not_null(v, "size %zu align %zu: %s", sz, al, bn_last_error());
            size_t need = al < 64 ? 64 : al;
            cr_assert_eq((uintptr_t)v % need, 0, "size %zu align %zu", sz, al);
            cr_assert_geq(bn_pool_block_size(p, v), sz);
            memset(v, 0x5a, sz);
            cr_assert_eq(v[sz - 1], 0x5a);
            bn_pool_free(p, v);
        }
    }
    assert_balanced(p);
    bn_pool_destroy(p);
}

Test(pool, small_block_sizes)
{
    bn_pool *p = make_pool(0, 0, false);
    static const size_t req[] = {0, 1, 63, 64, 65, 128, 129, 512, 513, 1024, 1025, 4096, 5000};
    static const size_t want[] = {64, 64, 64, 64, 128, 128, 192, 512, 640, 1024, 1280, 4096, 5120};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        void *v = bn_pool_alloc(p, req[i], 0);
        cr_assert_eq(bn_pool_block_size(p, v), want[i], "size %zu", req[i]);
        bn_pool_free(p, v);
    }
    /* Size 0 is served as 1 byte. */
    void *z = bn_pool_alloc(p, 0, 0);
    cr_assert_eq(stats_of(p).live_bytes, 1);
    bn_pool_free(p, z);
    assert_balanced(p);
    bn_pool_destroy(p);
}

/* ---- hit / miss accounting -------------------------------------------- */

Test(pool, repeated_loop_hits)
{
    bn_pool *p = make_pool(0, 0, false);
    static const size_t sizes[] = {4096, 100000, 1 << 20};
    for (size_t i = 0; i < 3; i++) {
        bn_pool_stats_reset(p);
        for (int k = 0; k < 1000; k++) {
            void *v = bn_pool_alloc(p, sizes[i], 0);
            cr_assert_not_null(v);
            bn_pool_free(p, v);
        }
        bn_pool_stats s = stats_of(p);
        cr_assert_eq(s.allocs, 1000);
        cr_assert_eq(s.misses, 1, "size %zu", sizes[i]);
        cr_assert_eq(s.hits, 999, "size %zu", sizes[i]);
        cr_assert_geq((double)s.hits / (double)(s.allocs - 1), 0.98);
    }
    bn_pool_destroy(p);
}

Test(pool, scripted_trace_exact_counts)
{
    bn_pool *p = make_pool(0, 0, false);
    size_t L = 300 * 1024;
    void *a1 = bn_pool_alloc(p, 64, 0); /* class 0: miss (new slab) */
    void *a2 = bn_pool_alloc(p, 64, 0); /* class 0: hit */
    bn_pool_free(p, a1);
    bn_pool_free(p, a2);
    void *a3 = bn_pool_alloc(p, 100, 0); /* class 1 (128): miss */
    bn_pool_free(p, a3);
    void *a4 = bn_pool_alloc(p, 64, 0); /* class 0: hit (thread cache) */
    void *l1 = bn_pool_alloc(p, L, 0);  /* large: miss */
    bn_pool_free(p, l1);
    void *l2 = bn_pool_alloc(p, L, 0); /* large: hit (large cache) */
    void *l3 = bn_pool_alloc(p, L, 0); /* large: miss */
    cr_assert_eq(l2, l1);
    cr_assert_neq(l3, l2);
    void *bad = bn_pool_alloc(p, SIZE_MAX, 0); /* failure */
    cr_assert_null(bad);
    bn_pool_free(p, l2);
    bn_pool_free(p, l3);
    bn_pool_free(p, a4);

    bn_pool_stats s = stats_of(p);
    int lg = s.nclasses - 1;
    cr_assert_eq(s.allocs, 7);
    cr_assert_eq(s.frees, 7);
    cr_assert_eq(s.hits, 3);
    cr_assert_eq(s.misses, 4);
    cr_assert_eq(s.failures, 1);
    cr_assert_eq(s.live_blocks, 0);
    cr_assert_eq(s.live_bytes, 0);
    cr_assert_eq(s.peak_bytes, 2 * L + 64);
    cr_assert_eq(s.classes[0].size, 64);
    cr_assert_eq(s.classes[0].allocs, 3);
    cr_assert_eq(s.classes[0].frees, 3);
    cr_assert_eq(s.classes[0].hits, 2);
    cr_assert_eq(s.classes[0].misses, 1);
    cr_assert_eq(s.classes[1].size, 128);
    cr_assert_eq(s.classes[1].allocs, 1);
    cr_assert_eq(s.classes[1].misses, 1);
    cr_assert_eq(s.classes[lg].allocs, 3);
    cr_assert_eq(s.classes[lg].frees, 3);
    cr_assert_eq(s.classes[lg].hits, 1);
    cr_assert_eq(s.classes[lg].misses, 2);
    for (int i = 2; i < lg; i++)
        cr_assert_eq(s.classes[i].allocs, 0, "class %d", i);
    for (int i = s.nclasses; i < BN_POOL_MAX_CLASSES; i++)
        cr_assert_eq(s.classes[i].size, 0);
    cr_assert_gt(s.mapped_bytes, 0);

    /* Reset zeroes counters, keeps live and peak bytes. */
    void *keep = bn_pool_alloc(p, 1000, 0);
    bn_pool_stats_reset(p);
    s = stats_of(p);
    cr_assert_eq(s.allocs, 0);
    cr_assert_eq(s.hits + s.misses + s.failures + s.frees, 0);
    cr_assert_eq(s.live_bytes, 1000);
    cr_assert_eq(s.live_blocks, 1);
    cr_assert_eq(s.peak_bytes, 2 * L + 64);
    void *x = bn_pool_alloc(p, 64, 0);
    bn_pool_free(p, x);
    bn_pool_free(p, keep);
    s = stats_of(p);
    cr_assert_eq(s.allocs, 1);
    cr_assert_eq(s.frees, 2);
    cr_assert_eq(s.hits, 1);
    cr_assert_eq(s.live_blocks, 0);

    bn_pool_trim(p);
    cr_assert_eq(stats_of(p).mapped_bytes, 0);
    /* After a trim the next allocation goes to the OS again. */
    bn_pool_stats_reset(p);
    x = bn_pool_alloc(p, 64, 0);
    cr_assert_eq(stats_of(p).misses, 1);
    bn_pool_free(p, x);
    bn_pool_destroy(p);
}

Test(pool, large_cache_is_bounded)
{
    size_t MiB = 1 << 20;
    bn_pool *p = make_pool(0, 4 * MiB, false);
    void *v[10];
    for (int i = 0; i < 10; i++)
        v[i] = bn_pool_alloc(p, MiB, 0);
    for (int i = 0; i < 10; i++)
        bn_pool_free(p, v[i]);
    bn_pool_stats s = stats_of(p);
    cr_assert_leq(s.mapped_bytes, 4 * MiB);
    cr_assert_gt(s.mapped_bytes, 2 * MiB);
    /* Three blocks of 1 MiB plus a header fit in 4 MiB: three hits, then a miss. */
    bn_pool_stats_reset(p);
    for (int i = 0; i < 4; i++)
        v[i] = bn_pool_alloc(p, MiB, 0);
    s = stats_of(p);
    cr_assert_eq(s.hits, 3);
    cr_assert_eq(s.misses, 1);
    /* A block is not reused for a request under half its size. */
    for (int i = 0; i < 4; i++)
        bn_pool_free(p, v[i]);
    bn_pool_stats_reset(p);
    void *small_large = bn_pool_alloc(p, 300 * 1024, 0);
    cr_assert_eq(stats_of(p).misses, 1);
    bn_pool_free(p, small_large);
    assert_balanced(p);
    bn_pool_destroy(p);
}

/* ---- fault injection -------------------------------------------------- */

static const size_t trace_sizes[] = {1, 64, 4000, 300000, 100, 2 << 20, 70000, 5, 262144, 129};
static const size_t trace_aligns[] = {0, 128, 0, 0, 4096, 0, 64, 256, 0, 0};
#define TRACE_N 10

Test(pool, fault_injection_each_position)
{
    bn_pool *p = make_pool(0, 0, true);
    for (int64_t n = 0; n < TRACE_N; n++) {
        void *v[TRACE_N];
        bn_pool_stats_reset(p);
        bn_pool_fail_after(p, n, 0);
        for (int i = 0; i < TRACE_N; i++) {
            bn_status st = bn_pool_try_alloc(p, trace_sizes[i], trace_aligns[i], &v[i]);
            if (i == n) {
                cr_assert_eq(st, BN_ERR_OOM, "n %lld: %s", (long long)n, bn_status_name(st));
                cr_assert_null(v[i]);
                char want[64];
                snprintf(want, sizeof want, "%zu bytes", trace_sizes[i]);
                cr_assert(strstr(bn_last_error(), "out of memory") != NULL, "%s", bn_last_error());
                cr_assert(strstr(bn_last_error(), want) != NULL, "%s", bn_last_error());
            } else {
                cr_assert_eq(st, BN_OK, "n %lld i %d: %s", (long long)n, i, bn_last_error());
                cr_assert_not_null(v[i]);
            }
        }
        /* The plain entry point fails the same way. */
        bn_pool_fail_after(p, 0, 0);
        cr_assert_null(bn_pool_alloc(p, 77, 0));
        for (int i = 0; i < TRACE_N; i++)
            bn_pool_free(p, v[i]);
        bn_pool_stats s = stats_of(p);
        cr_assert_eq(s.failures, 2);
        cr_assert_eq(s.allocs, TRACE_N - 1);
        assert_balanced(p);
    }
    bn_pool_destroy(p);
}

Test(pool, fault_injection_every)
{
    bn_pool *p = make_pool(0, 0, false);
    /* Two successes, then fail every third: S S F S S F ... */
    bn_pool_fail_after(p, 2, 3);
    void *v[15];
    for (int i = 0; i < 15; i++) {
        bn_status st = bn_pool_try_alloc(p, (size_t)(i + 1) * 1000, 0, &v[i]);
        bool fail = i % 3 == 2;
        cr_assert_eq(st, fail ? BN_ERR_OOM : BN_OK, "allocation %d", i);
        cr_assert_eq(v[i] == NULL, fail, "allocation %d", i);
    }
    cr_assert_eq(stats_of(p).failures, 5);
    /* every == 1: everything fails. */
    bn_pool_fail_after(p, 0, 1);
    for (int i = 0; i < 5; i++)
        cr_assert_null(bn_pool_alloc(p, 64, 0));
    /* n < 0 disables. */
    bn_pool_fail_after(p, -1, 1);
    void *w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = bn_pool_alloc(p, 64, 0);
        cr_assert_not_null(w[i]);
    }
    cr_assert_eq(stats_of(p).failures, 10);
    for (int i = 0; i < 15; i++)
        bn_pool_free(p, v[i]);
    for (int i = 0; i < 5; i++)
        bn_pool_free(p, w[i]);
    assert_balanced(p);
    bn_pool_destroy(p);
}

/* ---- leak report ------------------------------------------------------ */

static char *report_of(bn_pool *p, size_t *count)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *count = bn_pool_leak_report(p, f);
    fclose(f);
    return buf;
}

Test(pool, leak_report_tracked)
{
    bn_pool *p = make_pool(0, 0, true);
    void *freed = bn_pool_alloc(p, 77, 0);
    const int line_a = __LINE__ + 1;
    void *a = bn_pool_alloc(p, 1234, 0);
    const int line_b = __LINE__ + 1;
    void *b = bn_pool_alloc(p, 3 << 20, 4096);
    const int line_c = __LINE__ + 1;
    void *c = bn_pool_alloc(p, 300, 1024);
    bn_pool_free(p, freed);
    size_t n;
    char *rep = report_of(p, &n);
    cr_assert_eq(n, 3, "%s", rep);
    char want[512];
    snprintf(want, sizeof want, "bn_pool: live block: 1234 bytes at %p, allocated at %s:%d\n", a,
             __FILE__, line_a);
    cr_assert(strstr(rep, want) != NULL, "missing '%s' in:\n%s", want, rep);
    snprintf(want, sizeof want, "bn_pool: live block: %zu bytes at %p, allocated at %s:%d\n",
             (size_t)3 << 20, b, __FILE__, line_b);
    cr_assert(strstr(rep, want) != NULL, "missing '%s' in:\n%s", want, rep);
    snprintf(want, sizeof want, "bn_pool: live block: 300 bytes at %p, allocated at %s:%d\n", c,
             __FILE__, line_c);
    cr_assert(strstr(rep, want) != NULL, "missing '%s' in:\n%s", want, rep);
    cr_assert(strstr(rep, " 77 bytes") == NULL, "a freed block is listed:\n%s", rep);
    free(rep);
    cr_assert_eq(bn_pool_leak_report(p, NULL), 3);
    bn_pool_free(p, a);
    bn_pool_free(p, b);
    bn_pool_free(p, c);
    rep = report_of(p, &n);
    cr_assert_eq(n, 0);
    cr_assert_str_empty(rep);
    free(rep);
    bn_pool_destroy(p);
}

Test(pool, leak_report_untracked)
{
    bn_pool *p = make_pool(0, 0, false);
    void *a = bn_pool_alloc(p, 5, 0);
    void *b = bn_pool_alloc(p, 1 << 20, 0);
    size_t n;
    char *rep = report_of(p, &n);
    cr_assert_eq(n, 2);
    char want[256];
    snprintf(want, sizeof want, "bn_pool: live block: 5 bytes at %p (site not tracked)\n", a);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    snprintf(want, sizeof want, "bn_pool: live block: 1048576 bytes at %p (site not tracked)\n", b);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    free(rep);
    bn_pool_free(p, a);
    bn_pool_free(p, b);
    bn_pool_destroy(p);
}

Test(pool, destroy_reports_leaks_on_stderr)
{
    bn_pool *p = make_pool(0, 0, true);
    const int line_a = __LINE__ + 1;
    void *a = bn_pool_alloc(p, 4321, 0);
    void *kept = bn_pool_alloc(p, 10, 0);
    bn_pool_free(p, kept);
    char want[512];
    snprintf(want, sizeof want, "bn_pool: live block: 4321 bytes at %p, allocated at %s:%d\n", a,
             __FILE__, line_a);

    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    cr_assert_geq(saved, 0);
    dup2(fileno(tmp), 2);
    bn_pool_destroy(p); /* leaks `a` on purpose */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    char buf[4096] = {0};
    rewind(tmp);
    size_t len = fread(buf, 1, sizeof buf - 1, tmp);
    fclose(tmp);
    buf[len] = '\0';
    cr_assert(strstr(buf, "1 live block (4321 bytes)") != NULL, "%s", buf);
    cr_assert(strstr(buf, want) != NULL, "missing '%s' in:\n%s", want, buf);
}

/* ---- bad input -------------------------------------------------------- */

Test(pool, bad_alignment)
{
    bn_pool *p = make_pool(0, 0, false);
    static const size_t bad[] = {3, 96, 4097, 8192, (size_t)1 << 40};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *v = (void *)1;
        cr_assert_eq(bn_pool_try_alloc(p, 100, bad[i], &v), BN_ERR_ARG);
        cr_assert_null(v);
        char want[64];
        snprintf(want, sizeof want, "alignment %zu", bad[i]);
        cr_assert(strstr(bn_last_error(), want) != NULL, "%s", bn_last_error());
        cr_assert_null(bn_pool_alloc(p, 100, bad[i]));
    }
    cr_assert_eq(stats_of(p).failures, 10);
    cr_assert_eq(stats_of(p).allocs, 0);
    bn_pool_destroy(p);
}

Test(pool, overflowing_and_refused_sizes)
{
    bn_pool *p = make_pool(0, 0, false);
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 10, SIZE_MAX - 4096};
    for (size_t i = 0; i < 3; i++) {
        for (size_t al = 0; al <= 4096; al = al ? al * 64 : 64) {
            void *v = (void *)1;
            bn_status st = bn_pool_try_alloc(p, huge[i], al, &v);
            cr_assert_eq(st, BN_ERR_OVERFLOW, "size %zu: %s", huge[i], bn_status_name(st));
            cr_assert_null(v);
            char want[64];
            snprintf(want, sizeof want, "size %zu", huge[i]);
            cr_assert(strstr(bn_last_error(), want) != NULL, "%s", bn_last_error());
        }
    }
    /* Representable but more than the OS grants: a clean out-of-memory. */
    void *v = (void *)1;
    bn_status st = bn_pool_try_alloc(p, (size_t)1 << 62, 0, &v);
    cr_assert_eq(st, BN_ERR_OOM, "%s", bn_status_name(st));
    cr_assert_null(v);
    cr_assert(strstr(bn_last_error(), "out of memory") != NULL, "%s", bn_last_error());
    cr_assert(strstr(bn_last_error(), "4611686018427387904-byte block") != NULL, "%s",
              bn_last_error());
    bn_pool_stats s = stats_of(p);
    cr_assert_eq(s.failures, 10);
    cr_assert_eq(s.allocs, 0);
    assert_balanced(p);
    bn_pool_destroy(p);
}

Test(pool, null_and_config_errors)
{
    bn_pool *p = make_pool(0, 0, false);
    bn_pool_free(p, NULL);
    cr_assert_eq(stats_of(p).frees, 0);
    bn_pool_destroy(NULL);
    bn_pool_destroy(p);

    bn_pool_config cfg = {.large_threshold = 1 << 20};
    bn_pool *q = (bn_pool *)1;
    cr_assert_eq(bn_pool_create(&cfg, &q), BN_ERR_ARG);
    cr_assert_null(q);
    cr_assert(strstr(bn_last_error(), "large_threshold 1048576") != NULL, "%s", bn_last_error());
    cr_assert_eq(bn_pool_create(NULL, &q), BN_OK);
    cr_assert_eq(stats_of(q).nclasses, 45); /* 64 B .. 256 KiB and the large path */
    bn_pool_destroy(q);
}

Test(pool, double_free_asserts, .signal = SIGABRT)
{
    bn_pool *p = make_pool(0, 0, false);
    void *v = bn_pool_alloc(p, 100, 0);
    bn_pool_free(p, v);
    bn_pool_free(p, v);
}

Test(pool, large_double_free_asserts, .signal = SIGABRT)
{
    bn_pool *p = make_pool(0, 0, false);
    void *v = bn_pool_alloc(p, 1 << 20, 0);
    bn_pool_free(p, v);
    bn_pool_free(p, v);
}

Test(pool, free_into_wrong_pool_asserts, .signal = SIGABRT)
{
    bn_pool *p = make_pool(0, 0, false);
    bn_pool *q = make_pool(0, 0, false);
    void *v = bn_pool_alloc(p, 100, 0);
    bn_pool_free(q, v);
}

Test(pool, interior_pointer_asserts, .signal = SIGABRT)
{
    bn_pool *p = make_pool(0, 0, false);
    char *v = bn_pool_alloc(p, 1000, 0);
    bn_pool_free(p, v + 64);
}

/* ---- several pools, threads ------------------------------------------- */

Test(pool, many_pools_one_thread)
{
    enum { NP = 7 };
    bn_pool *ps[NP];
    void *held[NP][8];
    for (int i = 0; i < NP; i++)
        ps[i] = make_pool(0, 0, false);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < NP; i++) {
            for (int k = 0; k < 8; k++) {
                size_t sz = (size_t)(64 * i + 1 + k); /* all of class i */
                held[i][k] = bn_pool_alloc(ps[i], sz, 0);
                cr_assert_not_null(held[i][k]);
                memset(held[i][k], i, sz);
            }
        }
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < 8; k++) {
                cr_assert_eq(((unsigned char *)held[i][k])[64 * i + k], i);
                bn_pool_free(ps[i], held[i][k]);
            }
    }
    for (int i = 0; i < NP; i++) {
        bn_pool_stats s = stats_of(ps[i]);
        cr_assert_eq(s.allocs, 400, "pool %d", i);
        cr_assert_eq(s.misses, 1, "pool %d", i);
        assert_balanced(ps[i]);
    }
    /* Destroy some and make new ones (possibly at the same addresses). */
    for (int i = 0; i < NP; i += 2) {
        bn_pool_destroy(ps[i]);
        ps[i] = make_pool(0, 0, false);
    }
    for (int i = 0; i < NP; i++) {
        void *v = bn_pool_alloc(ps[i], 64, 0);
        bn_pool_free(ps[i], v);
        bn_pool_trim(ps[i]);
        cr_assert_eq(stats_of(ps[i]).mapped_bytes, 0, "pool %d", i);
        bn_pool_destroy(ps[i]);
    }
}

/* A bounded stack of blocks handed between threads. */
#define HAND_CAP 64
typedef struct handoff {
    pthread_mutex_t lock;
    void *blk[HAND_CAP];
    size_t size[HAND_CAP];
    int n;
} handoff;

typedef struct worker {
    bn_pool *p;
    handoff *h;
    int id;
    int iters;
    uint64_t allocs;
    int bad;
} worker;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Stamps a block with its size so any thread can check it. */
static void stamp(unsigned char *b, size_t size)
{
    size_t n = size < 64 ? size : 64;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(size + i);
    b[size - 1] = (unsigned char)(size * 3);
}

static bool stamp_ok(const unsigned char *b, size_t size)
{
    size_t n = size < 64 ? size : 64;
    for (size_t i = 0; i < n - (size <= 64 ? 1 : 0); i++)
        if (b[i] != (unsigned char)(size + i))
            return false;
    return b[size - 1] == (unsigned char)(size * 3);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    void *local[16] = {0};
    size_t local_size[16] = {0};
    for (int it = 0; it < w->iters; it++) {
        uint64_t r = rng_next(&rng);
        size_t size;
        size_t align = 0;
        if (r % 64 == 0)
            size = 262145 + (size_t)(r >> 8) % (1 << 20); /* large */
        else if (r % 8 == 0)
            size = 1 + (size_t)(r >> 8) % 200000;
        else
            size = 1 + (size_t)(r >> 8) % 2048;
        if ((r >> 40) % 16 == 0)
            align = (size_t)1 << (7 + (r >> 44) % 6);
        unsigned char *b = bn_pool_alloc(w->p, size, align);
        if (!b || (align && (uintptr_t)b % align != 0)) {
            w->bad++;
            continue;
        }
        w->allocs++;
        stamp(b, size);
        void *give = b;
        size_t give_size = size;
        if ((r >> 50) % 2) {
            /* Keep it locally for a while; free the one it displaces. */
            int slot = (int)((r >> 52) % 16);
            give = local[slot];
            give_size = local_size[slot];
            local[slot] = b;
            local_size[slot] = size;
            if (!give)
                continue;
            if (!stamp_ok(give, give_size))
                w->bad++;
            bn_pool_free(w->p, give);
            continue;
        }
        /* Hand it over and free one handed over by someone else. */
        void *take = NULL;
        size_t take_size = 0;
        pthread_mutex_lock(&w->h->lock);
        if (w->h->n == HAND_CAP || (w->h->n > 0 && (r >> 56) % 2)) {
            w->h->n--;
            take = w->h->blk[w->h->n];
            take_size = w->h->size[w->h->n];
        }
        w->h->blk[w->h->n] = give;
        w->h->size[w->h->n] = give_size;
        w->h->n++;
        pthread_mutex_unlock(&w->h->lock);
        if (take) {
            if (!stamp_ok(take, take_size))
                w->bad++;
            bn_pool_free(w->p, take);
        }
    }
    for (int i = 0; i < 16; i++) {
        if (local[i]) {
            if (!stamp_ok(local[i], local_size[i]))
                w->bad++;
            bn_pool_free(w->p, local[i]);
        }
    }
    return NULL;
}

static void run_workers(bn_pool *p, int nthreads, int iters)
{
    handoff h = {.n = 0};
    pthread_mutex_init(&h.lock, NULL);
    bn_pool_stats_reset(p);
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){.p = p, .h = &h, .id = i, .iters = iters};
        cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    uint64_t allocs = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].bad, 0, "thread %d saw %d bad blocks", i, w[i].bad);
        allocs += w[i].allocs;
    }
    cr_assert_eq(allocs, (uint64_t)nthreads * (uint64_t)iters);
    for (int i = 0; i < h.n; i++) {
        cr_assert(stamp_ok(h.blk[i], h.size[i]));
        bn_pool_free(p, h.blk[i]);
    }
    pthread_mutex_destroy(&h.lock);
    bn_pool_stats s = stats_of(p);
    cr_assert_eq(s.allocs, allocs);
    cr_assert_eq(s.frees, allocs);
    cr_assert_eq(s.hits + s.misses, allocs);
    cr_assert_eq(s.failures, 0);
    uint64_t per_class = 0;
    for (int i = 0; i < s.nclasses; i++) {
        cr_assert_eq(s.classes[i].allocs, s.classes[i].frees, "class %d", i);
        per_class += s.classes[i].allocs;
    }
    cr_assert_eq(per_class, allocs);
    assert_balanced(p);
}

Test(pool, threads_cross_free)
{
    bn_pool *p = make_pool(0, 0, true);
    run_workers(p, 4, 20000);
    /* The workers have exited, so their caches went back to the depot; the
     * trim returns this thread's cache and every now-empty slab. */
    bn_pool_trim(p);
    cr_assert_eq(stats_of(p).mapped_bytes, 0);
    run_workers(p, 3, 5000);
    bn_pool_destroy(p);
}

Test(pool, threads_default_pool)
{
    run_workers(bn_pool_default(), 3, 10000);
}

/* A thread keeps using the pool world after the pool its cache served is destroyed. */
typedef struct stale_arg {
    bn_pool *a;
    bn_pool *b;
    pthread_barrier_t *bar;
    int ok;
} stale_arg;

static void *stale_main(void *arg)
{
    stale_arg *s = arg;
    void *v[100];
    for (int i = 0; i < 100; i++)
        v[i] = bn_pool_alloc(s->a, 256, 0);
    for (int i = 0; i < 100; i++)
        bn_pool_free(s->a, v[i]); /* now in this thread's cache for a */
    pthread_barrier_wait(s->bar); /* main destroys a, creates b */
    pthread_barrier_wait(s->bar);
    int ok = 1;
    for (int i = 0; i < 100; i++) {
        v[i] = bn_pool_alloc(s->b, 256, 0);
        ok &= v[i] != NULL;
    }
    for (int i = 0; i < 100; i++)
        bn_pool_free(s->b, v[i]);
    s->ok = ok;
    return NULL; /* exit flushes the cache for b, and frees the dead one for a */
}

Test(pool, stale_cache_after_destroy)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    stale_arg s = {.a = make_pool(0, 0, false), .bar = &bar};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stale_main, &s), 0);
    pthread_barrier_wait(&bar);
    bn_pool_destroy(s.a);
    s.b = make_pool(0, 0, false);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    cr_assert_eq(s.ok, 1);
    bn_pool_stats st = stats_of(s.b);
    cr_assert_eq(st.allocs, 100);
    cr_assert_eq(st.misses, 1);
    assert_balanced(s.b);
    bn_pool_trim(s.b);
    cr_assert_eq(stats_of(s.b).mapped_bytes, 0);
    bn_pool_destroy(s.b);
}

/* ---- slab bookkeeping ------------------------------------------------- */

/* Many blocks per class, freed in a scrambled order: every free maps its
 * pointer back to the right block (pool.c asserts it) and sizes stay exact. */
Test(pool, many_blocks_every_class_scrambled_free)
{
    enum { N = 300 };
    bn_pool *p = make_pool(0, 0, false);
    static void *v[N];
    size_t s = 1;
    while (s <= 256 * 1024) {
        void *probe = bn_pool_alloc(p, s, 0);
        size_t bs = bn_pool_block_size(p, probe);
        bn_pool_free(p, probe);
        int n = bs <= 16384 ? N : 24;
        for (int i = 0; i < n; i++) {
            v[i] = bn_pool_alloc(p, bs - (size_t)(i % 7), 0);
            cr_assert_not_null(v[i]);
            cr_assert_eq(bn_pool_block_size(p, v[i]), bs);
            memset(v[i], i & 0xff, 8);
        }
        for (int i = 0; i < n; i++) {
            int j = (i * 7919) % n; /* a permutation: 7919 is prime, n is not a multiple */
            cr_assert_eq(((unsigned char *)v[j])[7], j & 0xff);
            cr_assert_eq(bn_pool_block_size(p, v[j]), bs);
            bn_pool_free(p, v[j]);
        }
        s = bs + 1;
    }
    assert_balanced(p);
    bn_pool_trim(p);
    cr_assert_eq(stats_of(p).mapped_bytes, 0);
    bn_pool_destroy(p);
}

Test(pool, trim_keeps_live_blocks)
{
    bn_pool *p = make_pool(0, 0, false);
    unsigned char *keep = bn_pool_alloc(p, 700, 0);
    memset(keep, 0xab, 700);
    void *v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = bn_pool_alloc(p, 700, 0);
    for (int i = 0; i < 1000; i++)
        bn_pool_free(p, v[i]);
    bn_pool_trim(p);
    cr_assert_gt(stats_of(p).mapped_bytes, 0);
    cr_assert_eq(keep[0], 0xab);
    cr_assert_eq(keep[699], 0xab);
    cr_assert_eq(bn_pool_leak_report(p, NULL), 1);
    bn_pool_free(p, keep);
    bn_pool_trim(p);
    cr_assert_eq(stats_of(p).mapped_bytes, 0);
    bn_pool_destroy(p);
}

/* The default pool tracks allocation sites exactly when built with BN_DEBUG. */
Test(pool, default_pool_site_tracking)
{
    bn_pool *d = bn_pool_default();
    const int line = __LINE__ + 1;
    void *a = bn_pool_alloc(d, 99, 0);
    size_t n;
    char *rep = report_of(d, &n);
    cr_assert_eq(n, 1, "%s", rep);
    char want[512];
#ifdef BN_DEBUG
    snprintf(want, sizeof want, "bn_pool: live block: 99 bytes at %p, allocated at %s:%d\n", a,
             __FILE__, line);
#else
    (void)line;
    snprintf(want, sizeof want, "bn_pool: live block: 99 bytes at %p (site not tracked)\n", a);
#endif
    cr_assert_str_eq(rep, want);
    free(rep);
    bn_pool_free(d, a);
    cr_assert_eq(bn_pool_leak_report(d, NULL), 0);
}

/*
 * The OS refusing a mapping (address-space limit just above the current
 * size) gives a clean BN_ERR_OOM for a new slab and for a large block, and
 * the pool works again once memory is available. Skipped under ASan and
 * TSan, whose shadow memory cannot live with an address-space limit.
 */
Test(pool, os_refusal_is_clean_oom)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("RLIMIT_AS conflicts with the sanitizer's shadow memory");
#else
    bn_pool *p = make_pool(0, 0, false);
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    struct rlimit old;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    struct rlimit lim = {.rlim_cur = pages * page_size() + ((rlim_t)1 << 20),
                         .rlim_max = old.rlim_max};
    char msg_small[512], msg_large[512];
    void *small = (void *)1, *large = (void *)1;
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    bn_status st_small = bn_pool_try_alloc(p, 64, 0, &small);
    snprintf(msg_small, sizeof msg_small, "%s", bn_last_error());
    bn_status st_large = bn_pool_try_alloc(p, 8 << 20, 0, &large);
    snprintf(msg_large, sizeof msg_large, "%s", bn_last_error());
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);

    cr_assert_eq(st_small, BN_ERR_OOM, "%s", bn_status_name(st_small));
    cr_assert_null(small);
    cr_assert(strstr(msg_small, "out of memory") && strstr(msg_small, "64-byte block"), "%s",
              msg_small);
    cr_assert_eq(st_large, BN_ERR_OOM, "%s", bn_status_name(st_large));
    cr_assert_null(large);
    cr_assert(strstr(msg_large, "out of memory") && strstr(msg_large, "8388608-byte block"), "%s",
              msg_large);
    bn_pool_stats s = stats_of(p);
    cr_assert_eq(s.failures, 2);
    cr_assert_eq(s.allocs, 0);
    cr_assert_eq(s.mapped_bytes, 0);
    small = bn_pool_alloc(p, 64, 0);
    large = bn_pool_alloc(p, 8 << 20, 0);
    cr_assert_not_null(small);
    cr_assert_not_null(large);
    bn_pool_free(p, small);
    bn_pool_free(p, large);
    assert_balanced(p);
    bn_pool_destroy(p);
#endif
}
