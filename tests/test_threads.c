/*
 * test_threads.c - the thread pool: every index of a parallel-for is visited
 * exactly once, for many sizes and grains and pool sizes; nested regions run
 * serially; on_each reaches every worker once; concurrent callers are
 * serialised correctly; BN_THREADS is validated.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/bitnet.h"

typedef struct visit {
    _Atomic int *hits;
    _Atomic int64_t calls;
    _Atomic int max_tid;
} visit;

static void mark(void *ctx, int64_t b, int64_t e, int tid)
{
    visit *v = ctx;
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&v->hits[i], 1);
    atomic_fetch_add(&v->calls, 1);
    int m = atomic_load(&v->max_tid);
    while (tid > m && !atomic_compare_exchange_weak(&v->max_tid, &m, tid))
        ;
}

static void check_cover(int64_t n, int64_t grain)
{
    visit v = {.hits = calloc((size_t)(n ? n : 1), sizeof(_Atomic int))};
    cr_assert_not_null(v.hits);
    cr_assert_eq(bn_parallel_for(n, grain, mark, &v), BN_OK);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&v.hits[i]), 1, "n=%lld grain=%lld index %lld visited %d times",
                     (long long)n, (long long)grain, (long long)i, atomic_load(&v.hits[i]));
    if (n > 0 && n <= grain)
        cr_assert_eq(atomic_load(&v.calls), 1, "small problems run in one call on the caller");
    cr_assert(atomic_load(&v.max_tid) < bn_threads_count());
    free(v.hits);
}

Test(threads, every_index_once_for_many_sizes_and_pool_sizes)
{
    const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 4097, 100000};
    const int64_t grains[] = {1, 16, 5000};
    for (int t = 1; t <= 4; t++) {
        cr_assert_eq(bn_threads_set(t), BN_OK);
        cr_assert_eq(bn_threads_count(), t);
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                check_cover(sizes[i], grains[g]);
    }
}

/* Criterion's asserts message the runner and must stay on the test's own
 * thread: workers only record, the test thread asserts. */
static _Atomic int nested_bad;

static void nested(void *ctx, int64_t b, int64_t e, int tid)
{
    for (int64_t i = b; i < e; i++) {
        visit *v = ctx;
        visit inner = {.hits = v->hits + i * 10};
        /* from inside a worker this must run serially, not deadlock */
        if (bn_parallel_for(10, 1, mark, &inner) != BN_OK || atomic_load(&inner.calls) != 1)
            atomic_fetch_add(&nested_bad, 1);
    }
}

Test(threads, nested_regions_run_serially)
{
    cr_assert_eq(bn_threads_set(3), BN_OK);
    visit v = {.hits = calloc(100 * 10, sizeof(_Atomic int))};
    cr_assert_eq(bn_parallel_for(100, 1, nested, &v), BN_OK);
    cr_assert_eq(atomic_load(&nested_bad), 0, "a nested region was not run serially");
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(atomic_load(&v.hits[i]), 1);
    free(v.hits);
}

static void count_each(void *ctx, int64_t b, int64_t e, int tid)
{
    _Atomic int *seen = ctx;
    atomic_fetch_add(&seen[tid], 1);
}

Test(threads, on_each_runs_once_per_worker)
{
    cr_assert_eq(bn_threads_set(4), BN_OK);
    _Atomic int seen[4] = {0};
    cr_assert_eq(bn_threads_on_each(count_each, seen), BN_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(atomic_load(&seen[i]), 1, "worker %d ran %d times", i, atomic_load(&seen[i]));
}

/* One caller thread: 50 regions; returns the number of wrongly covered indices. */
static void *caller(void *arg)
{
    intptr_t bad = 0;
    (void)arg;
    for (int r = 0; r < 50; r++) {
        visit v = {.hits = calloc(997, sizeof(_Atomic int))};
        if (!v.hits || bn_parallel_for(997, 7, mark, &v) != BN_OK)
            bad++;
        for (int i = 0; v.hits && i < 997; i++)
            bad += atomic_load(&v.hits[i]) != 1;
        free(v.hits);
    }
    return (void *)bad;
}

Test(threads, concurrent_callers_are_serialised)
{
    cr_assert_eq(bn_threads_set(2), BN_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, caller, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        cr_assert_eq((intptr_t)bad, 0, "caller %d saw %ld wrongly covered indices", i,
                     (long)(intptr_t)bad);
    }
}

Test(threads, bn_threads_is_validated)
{
    cr_assert_eq(bn_threads_set(0), BN_ERR_ARG);
    cr_assert_eq(bn_threads_set(BN_MAX_THREADS + 1), BN_ERR_ARG);
    setenv("BN_THREADS", "3", 1);
    cr_assert_eq(bn_threads_env(), 3);
    setenv("BN_THREADS", "two", 1);
    cr_assert_eq(bn_threads_env(), -1);
    cr_assert(strstr(bn_last_error(), "\"two\"") != NULL, "%s", bn_last_error());
    setenv("BN_THREADS", "0", 1);
    cr_assert_eq(bn_threads_env(), -1);
    unsetenv("BN_THREADS");
    cr_assert_eq(bn_threads_env(), 0);
}

/* Only digits, 1 .. BN_MAX_THREADS; every other spelling is refused with
 * the value in the message (bn_threads_env and bn_threads_init alike). */
Test(threads, bn_threads_env_is_strict)
{
    static const char *const bad[] = {"abc",
                                      "0",
                                      "00",
                                      "-2",
                                      "+3",
                                      " 3",
                                      "3 ",
                                      "3x",
                                      "0x10",
                                      "2.0",
                                      "257",
                                      "1000",
                                      "99999999999999999999999999",
                                      "4294967297",
                                      "-0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("BN_THREADS", bad[i], 1);
        cr_assert_eq(bn_threads_env(), -1, "BN_THREADS=\"%s\" accepted", bad[i]);
        bn_clear_error();
        cr_assert_eq(bn_threads_init(), BN_ERR_ARG, "BN_THREADS=\"%s\"", bad[i]);
        char want[128];
        snprintf(want, sizeof want,
                 "BN_THREADS=\"%s\": not a thread count (need an integer from 1 to %d)", bad[i],
                 BN_MAX_THREADS);
        cr_assert_str_eq(bn_last_error(), want);
    }
    static const struct {
        const char *s;
        int n;
    } good[] = {{"1", 1}, {"2", 2}, {"16", 16}, {"007", 7}, {"256", BN_MAX_THREADS}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        setenv("BN_THREADS", good[i].s, 1);
        cr_assert_eq(bn_threads_env(), good[i].n, "BN_THREADS=\"%s\"", good[i].s);
        cr_assert_eq(bn_threads_init(), BN_OK, "BN_THREADS=\"%s\": %s", good[i].s, bn_last_error());
    }
    setenv("BN_THREADS", "", 1);
    cr_assert_eq(bn_threads_env(), 0);
    cr_assert_eq(bn_threads_init(), BN_OK);
    unsetenv("BN_THREADS");
    cr_assert_eq(bn_threads_init(), BN_OK);
}

/* A bad BN_THREADS does not stop the library: the pool starts with the
 * default size, the CPUs this process may run on. */
Test(threads, bad_env_falls_back_to_the_default_size)
{
    setenv("BN_THREADS", "many", 1);
    cr_assert_eq(bn_threads_init(), BN_ERR_ARG);
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int want = CPU_COUNT(&set) > BN_MAX_THREADS ? BN_MAX_THREADS : CPU_COUNT(&set);
    cr_assert_eq(bn_threads_count(), want);
    unsetenv("BN_THREADS");
}

/* A valid BN_THREADS sizes the pool. */
Test(threads, env_sizes_the_pool)
{
    setenv("BN_THREADS", "3", 1);
    cr_assert_eq(bn_threads_init(), BN_OK);
    cr_assert_eq(bn_threads_count(), 3);
    unsetenv("BN_THREADS");
}
