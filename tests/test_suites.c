/*
 * test_suites.c - the engine's benchmark suites (alloc, zerocopy,
 * elementwise, reduce, matmul) run through the runner API in a tiny
 * configuration (3 samples of >= 0.1 ms, L1-sized operands, the smallest
 * shapes): the cases exist under the names targets.json uses, their figures
 * are present and consistent with the counters and samples they come from,
 * skipped peers carry their reason, and a wrong kernel fails verification
 * and is never timed. Speed itself is not asserted (that is bnbench's job).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet/threads.h"
#include "collectors/timer.h"
#include "suites/kbench.h"
#include "suites/runner.h"
#include "suites/suite.h"

static bnb_topo_summary summary;
static bnb_timer_info timer;
static bnb_cpulist nocpus;

#define MAXDONE 64
static bnb_case_result done[MAXDONE];
static int ndone;
static bnb_case_env env;
static bnb_runner_opts opts;

static void init(void)
{
    bnb_timer_init(&timer);
    memset(done, 0, sizeof done);
    ndone = 0;
    env = (bnb_case_env){.topo = &summary, .timer = &timer, .cpus = &nocpus, .done = done};
    bnb_runner_opts_default(&opts);
    opts.repetitions = 3;
    opts.min_time = 1e-4;
}

static void fini(void)
{
    for (int i = 0; i < ndone; i++)
        bnb_case_free(&done[i]);
}

/* Measures the case of that full name (selected from its suite) and keeps
 * the result in done[], where later cases of the same test find it. */
static const bnb_case_result *measure(const char *fullname)
{
    char suite[64];
    snprintf(suite, sizeof suite, "%.*s", (int)strcspn(fullname, "/"), fullname);
    bnb_selection sel;
    char err[512];
    cr_assert_eq(bnb_select(suite, NULL, &sel, err, sizeof err), 0, "%s", err);
    int k = -1;
    for (int i = 0; i < sel.n; i++)
        if (strcmp(sel.c[i].fullname, fullname) == 0)
            k = i;
    cr_assert_geq(k, 0, "no case %s", fullname);
    cr_assert_lt(ndone, MAXDONE);
    env.ndone = ndone;
    cr_assert_eq(bnb_runner_measure(&sel.c[k], &env, &opts, NULL, &done[ndone]), 0);
    bnb_selection_free(&sel);
    return &done[ndone++];
}

static double metric(const bnb_case_result *r, const char *name)
{
    const bnb_metric *m = bnb_case_metric(r, name);
    cr_assert_not_null(m, "%s/%s has no metric %s", r->suite, r->name, name);
    cr_assert(m->available, "%s/%s: %s not available: %s", r->suite, r->name, name, m->reason);
    return m->value;
}

static bool has_case(const bnb_selection *s, const char *fullname)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->c[i].fullname, fullname) == 0)
            return true;
    return false;
}

Test(suites, default_list_starts_peak_alloc_zerocopy_elementwise_reduce_matmul)
{
    bnb_selection s;
    char err[512];
    cr_assert_eq(bnb_select(NULL, NULL, &s, err, sizeof err), 0, "%s", err);
    const char *want[] = {"peak", "alloc", "zerocopy", "elementwise", "reduce", "matmul"};
    int w = 0;
    for (int i = 0; i < s.n; i++) {
        if ((i == 0 || s.c[i].suite != s.c[i - 1].suite) && w < 6) {
            cr_assert_str_eq(s.c[i].suite->name, want[w]);
            w++;
        }
    }
    cr_assert_eq(w, 6); /* later issues may add default suites after these */
    /* the figures targets.json names exist */
    cr_assert(has_case(&s, "matmul/engine/sgemm/n=1024"));
    cr_assert(has_case(&s, "matmul/openblas/sgemm/n=1024"));
    cr_assert(has_case(&s, "alloc/pool-trace"));
    cr_assert(has_case(&s, "zerocopy/transformer-block"));
    cr_assert(has_case(&s, "elementwise/add/cache=L1"));
    cr_assert(has_case(&s, "elementwise/add/cache=L1/table=ref"));
    cr_assert(has_case(&s, "reduce/layernorm/cache=DRAM"));
    cr_assert(has_case(&s, "matmul/engine/linear/in=2560/out=6912/tokens=128"));
    const char *impls[] = {"pool", "malloc", "mimalloc", "jemalloc"};
    const char *sizes[] = {"64", "256", "1024", "4096", "65536", "1048576", "16777216"};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 7; j++) {
            char n[128];
            snprintf(n, sizeof n, "alloc/%s/size=%s", impls[i], sizes[j]);
            cr_assert(has_case(&s, n), "missing %s", n);
        }
    /* a suite_only case: not in the default run, in `--suite matmul` */
    cr_assert(has_case(&s, "matmul/engine/sgemm/n=2048"));
    cr_assert(!has_case(&s, "matmul/engine/sgemm/n=4096"));
    bnb_selection_free(&s);
    cr_assert_eq(bnb_select("matmul", NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert(has_case(&s, "matmul/engine/sgemm/n=4096"));
    cr_assert(has_case(&s, "matmul/openblas/sgemm/n=4096"));
    bnb_selection_free(&s);
}

Test(suites, alloc_pool_and_malloc_latency_figures, .init = init, .fini = fini)
{
    const char *names[] = {"alloc/pool/size=64", "alloc/pool/size=16777216",
                           "alloc/malloc/size=4096"};
    for (int i = 0; i < 3; i++) {
        const bnb_case_result *r = measure(names[i]);
        cr_assert_eq(r->status, BNB_CASE_OK, "%s: %s", names[i], r->message);
        double p50 = metric(r, "p50_ns"), p99 = metric(r, "p99_ns");
        cr_assert_gt(p50, 0);
        cr_assert_geq(p99, p50);
        cr_assert_gt(metric(r, "batches"), 0);
        cr_assert_eq(metric(r, "batch_pairs"), 32);
        /* mean_ns is the runner's median sample, per pair */
        cr_assert_eq(metric(r, "mean_ns"), r->stats.median * 1e9);
    }
    /* every pool alloc+free pair of one size after the first is a cache hit */
    cr_assert_gt(metric(&done[0], "hit_rate"), 0.999);
}

Test(suites, peer_allocators_measured_or_skipped_with_reason, .init = init, .fini = fini)
{
    const char *names[] = {"alloc/mimalloc/size=256", "alloc/jemalloc/size=256"};
    const char *libs[] = {"libmimalloc.so.2", "libjemalloc.so.2"};
    for (int i = 0; i < 2; i++) {
        const bnb_case_result *r = measure(names[i]);
        if (r->status == BNB_CASE_SKIPPED) {
            cr_assert(strstr(r->message, libs[i]), "skip reason \"%s\" names no library",
                      r->message);
            cr_assert_eq(r->nsamples, 0);
        } else {
            cr_assert_eq(r->status, BNB_CASE_OK, "%s: %s", names[i], r->message);
            cr_assert_gt(metric(r, "p50_ns"), 0);
        }
    }
}

Test(suites, pool_trace_hit_rate_and_failures, .init = init, .fini = fini)
{
    const bnb_case_result *r = measure("alloc/pool-trace");
    cr_assert_eq(r->status, BNB_CASE_OK, "%s", r->message);
    double hit = metric(r, "hit_rate"), allocs = metric(r, "allocs"), misses = metric(r, "misses");
    cr_assert_eq(metric(r, "failures"), 0);
    cr_assert(hit >= 0 && hit <= 1, "hit_rate %g", hit);
    /* a generation of 30 layers x (1 prefill + 32 decode passes) x ~27 buffers */
    cr_assert_gt(allocs, 20000);
    cr_assert_gt(misses, 0); /* a fresh pool maps its first slabs */
    cr_assert_eq(hit, (allocs - misses) / allocs);
    double warm = metric(r, "hit_rate_warm");
    cr_assert(warm >= hit && warm <= 1, "warm hit rate %g, cold %g", warm, hit);
    cr_assert_eq(metric(r, "failures_warm"), 0);
}

Test(suites, zerocopy_ratio_is_shared_over_ops, .init = init, .fini = fini)
{
    const bnb_case_result *r = measure("zerocopy/transformer-block");
    cr_assert_eq(r->status, BNB_CASE_OK, "%s", r->message);
    double ops = metric(r, "ops"), shared = metric(r, "ops_shared");
    cr_assert_gt(ops, 0);
    cr_assert(shared > 0 && shared < ops, "%g of %g", shared, ops);
    cr_assert_eq(metric(r, "ratio"), shared / ops);
    /* the one copy of the block: attention heads merged back to [16, 256] f32 */
    cr_assert_eq(metric(r, "bytes_copied"), 16.0 * 256 * 4);
    cr_assert_gt(metric(r, "bytes_alloc"), 0);
}

Test(suites, kernel_cases_at_l1_speedup_and_bandwidth, .init = init, .fini = fini)
{
    const char *ops[] = {"elementwise/add",     "elementwise/mul",  "elementwise/muladd",
                         "elementwise/exp",     "elementwise/gelu", "elementwise/silu",
                         "elementwise/sigmoid", "elementwise/tanh", "reduce/sum",
                         "reduce/max",          "reduce/softmax",   "reduce/rmsnorm",
                         "reduce/layernorm"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char n[128];
        snprintf(n, sizeof n, "%s/cache=L1/table=ref", ops[i]);
        const bnb_case_result *ref = measure(n);
        cr_assert_eq(ref->status, BNB_CASE_OK, "%s: %s", n, ref->message);
        cr_assert_null(bnb_case_metric(ref, "speedup"));
        snprintf(n, sizeof n, "%s/cache=L1", ops[i]);
        const bnb_case_result *sel = measure(n);
        cr_assert_eq(sel->status, BNB_CASE_OK, "%s: %s", n, sel->message);
        double sp = metric(sel, "speedup");
        cr_assert_gt(sp, 0);
        cr_assert_eq(sp, ref->stats.median / sel->stats.median);
        cr_assert_eq(metric(sel, "elements"), 1024);
        double gb = metric(sel, "gbps");
        cr_assert_eq(gb, metric(sel, "bytes") / sel->stats.median / 1e9);
        /* no triad in this run: no % of it, at any size */
        cr_assert_null(bnb_case_metric(sel, "pct_triad"));
    }
}

/* y = a - b: a wrong add. */
static void wrong_add(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                      int64_t sy)
{
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = a[i * sa] - b[i * sb];
}

/* fma that forgets the addend. */
static void wrong_fma(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                      const float *c, int64_t sc, float *y, int64_t sy)
{
    (void)c, (void)sc;
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = a[i * sa] * b[i * sb];
}

/* exp off by a relative 1e-4: too far from the reference. */
static void inexact_exp(int64_t n, const float *x, int64_t sx, float *y, int64_t sy)
{
    for (int64_t i = 0; i < n; i++)
        y[i * sy] = (float)(exp((double)x[i * sx]) * (1.0 + 1e-4));
}

static const bnb_suite test_suite = {.name = "elementwise"};

static const bnb_case_result *measure_def(const bnb_case_def *d)
{
    bnb_selected sc = {.suite = &test_suite, .def = d};
    snprintf(sc.fullname, sizeof sc.fullname, "elementwise/%s", d->name);
    env.ndone = ndone;
    cr_assert_eq(bnb_runner_measure(&sc, &env, &opts, NULL, &done[ndone]), 0);
    return &done[ndone++];
}

Test(suites, wrong_kernel_fails_verification_and_is_never_timed, .init = init, .fini = fini)
{
    static bnk_table bad;
    bad = *bnk_ref_table();
    bad.name = "bad";
    bad.binary_f32[BN_OP_ADD] = wrong_add;
    bad.unary_f32[BN_OP_EXP] = inexact_exp;
    bad.fma_f32 = wrong_fma;
    const bnb_kcase_arg args[] = {
        {BNB_K_ADD, BNB_L1, false, &bad, 0},    /* selected vs reference */
        {BNB_K_EXP, BNB_L1, false, &bad, 0},    /* within 1e-4, not 1e-5 */
        {BNB_K_ADD, BNB_L1, true, &bad, 0},     /* a "reference" vs the definition */
        {BNB_K_MULADD, BNB_L1, false, &bad, 0}, /* the fused mul-add row */
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        bnb_case_def d;
        bnb_kcase_def(&args[i], &d);
        const bnb_case_result *r = measure_def(&d);
        cr_assert_eq(r->status, BNB_CASE_FAILED, "case %zu status %d", i, r->status);
        cr_assert(strstr(r->message, "wrong answer"), "message: %s", r->message);
        cr_assert(strstr(r->message, "bad"), "message names no table: %s", r->message);
        cr_assert_eq(r->nsamples, 0);
        cr_assert_eq(r->iterations, 0);
    }
    /* the selected table passes the same check */
    const bnb_kcase_arg good = {BNB_K_EXP, BNB_L1, false, NULL, 0};
    bnb_case_def d;
    bnb_kcase_def(&good, &d);
    cr_assert_str_eq(d.name, "exp");
    cr_assert_str_eq(d.params[0].value, "L1");
    cr_assert_eq(measure_def(&d)->status, BNB_CASE_OK);
}

Test(suites, kernel_case_rows_must_divide, .init = init, .fini = fini)
{
    const bnb_kcase_arg a = {BNB_K_SOFTMAX, BNB_L1, false, NULL, 1000};
    bnb_case_def d;
    bnb_kcase_def(&a, &d);
    const bnb_case_result *r = measure_def(&d);
    cr_assert_eq(r->status, BNB_CASE_FAILED);
    cr_assert(strstr(r->message, "1000 elements"), "%s", r->message);
}

Test(suites, matmul_engine_and_openblas_side_by_side, .init = init, .fini = fini)
{
    const char *pairs[][2] = {
        {"matmul/openblas/sgemm/n=64", "matmul/engine/sgemm/n=64"},
        {"matmul/openblas/linear/in=2560/out=2560/tokens=1",
         "matmul/engine/linear/in=2560/out=2560/tokens=1"},
    };
    const double flops[] = {2.0 * 64 * 64 * 64, 2.0 * 1 * 2560 * 2560};
    for (int i = 0; i < 2; i++) {
        const bnb_case_result *o = measure(pairs[i][0]), *e = measure(pairs[i][1]);
        cr_assert_eq(o->status, BNB_CASE_OK, "%s: %s", pairs[i][0], o->message);
        cr_assert_eq(e->status, BNB_CASE_OK, "%s: %s", pairs[i][1], e->message);
        double go = metric(o, "gflops"), ge = metric(e, "gflops");
        cr_assert_eq(metric(e, "flops"), flops[i]);
        cr_assert_eq(go, flops[i] / o->stats.median / 1e9);
        cr_assert_eq(ge, flops[i] / e->stats.median / 1e9);
        cr_assert_gt(go, 0);
        cr_assert_gt(ge, 0);
        cr_assert_eq(metric(e, "vs_openblas"), ge / go);
        cr_assert_null(bnb_case_metric(o, "vs_openblas"));
    }
    /* the engine's op through tensors, on one thread; the pool size comes back */
    int threads = bn_threads_count();
    const bnb_case_result *b = measure("matmul/bn_matmul/sgemm/n=64");
    cr_assert_eq(b->status, BNB_CASE_OK, "%s", b->message);
    cr_assert_eq(bn_threads_count(), threads);
    cr_assert_eq(metric(b, "threads"), 1);
    cr_assert_eq(metric(b, "vs_openblas"), metric(b, "gflops") / metric(&done[0], "gflops"));
    /* side by side: one row per shape, engine and openblas columns */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    bnb_print_peers(f, done, ndone);
    fclose(f);
    cr_assert(strstr(buf, "side by side: matmul (gflops)"), "%s", buf);
    char row[128];
    snprintf(row, sizeof row, "%.4g", metric(&done[1], "gflops"));
    const char *line = strstr(buf, "sgemm/n=64");
    cr_assert_not_null(line, "%s", buf);
    cr_assert(strstr(line, row), "row lacks the engine figure %s:\n%s", row, buf);
    cr_assert(strstr(buf, "bn_matmul"), "%s", buf);
    cr_assert_null(strstr(buf, "side by side: alloc"));
    free(buf);
}

Test(suites, without_the_openblas_case_vs_openblas_is_unavailable, .init = init, .fini = fini)
{
    const bnb_case_result *e = measure("matmul/engine/sgemm/n=64");
    cr_assert_eq(e->status, BNB_CASE_OK, "%s", e->message);
    const bnb_metric *m = bnb_case_metric(e, "vs_openblas");
    cr_assert_not_null(m);
    cr_assert_not(m->available);
    cr_assert(strstr(m->reason, "not measured"), "%s", m->reason);
}

Test(suites, quick_skips_long_cases_with_reason, .init = init, .fini = fini)
{
    opts.quick = true;
    const bnb_case_result *r = measure("matmul/engine/sgemm/n=2048");
    cr_assert_eq(r->status, BNB_CASE_SKIPPED);
    cr_assert(strstr(r->message, "--quick"), "%s", r->message);
    cr_assert_eq(r->nsamples, 0);
    r = measure("elementwise/gelu/cache=DRAM");
    cr_assert_eq(r->status, BNB_CASE_SKIPPED);
}

Test(suites, peers_table_marks_skipped_peers)
{
    bnb_case_result rs[2];
    memset(rs, 0, sizeof rs);
    snprintf(rs[0].suite, sizeof rs[0].suite, "alloc");
    snprintf(rs[0].name, sizeof rs[0].name, "pool");
    bnb_case_add_param(&rs[0], "size", "64");
    rs[0].status = BNB_CASE_OK;
    cr_assert_not_null(bnb_case_add_metric(&rs[0], "p50_ns", "ns", 12.5, false));
    cr_assert_not_null(bnb_case_add_metric(&rs[0], "p99_ns", "ns", 20, false));
    snprintf(rs[1].suite, sizeof rs[1].suite, "alloc");
    snprintf(rs[1].name, sizeof rs[1].name, "jemalloc");
    bnb_case_add_param(&rs[1], "size", "64");
    rs[1].status = BNB_CASE_SKIPPED;
    snprintf(rs[1].message, sizeof rs[1].message, "libjemalloc.so.2 not loadable: test");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    bnb_print_peers(f, rs, 2);
    fclose(f);
    const char *line = strstr(buf, "size=64");
    cr_assert_not_null(line, "%s", buf);
    cr_assert(strstr(line, "12.5 / 20"), "%s", buf);
    cr_assert(strstr(line, "skipped"), "%s", buf);
    cr_assert(strstr(buf, "jemalloc skipped: libjemalloc.so.2 not loadable: test"), "%s", buf);
    free(buf);
    bnb_case_free(&rs[0]);
    bnb_case_free(&rs[1]);
}

/* `run` chooses OpenBLAS's core only when a selected case calls OpenBLAS. */
Test(suites, which_selections_call_openblas)
{
    cr_assert(bnb_selection_uses_openblas(NULL, NULL), "the default run has matmul");
    cr_assert(bnb_selection_uses_openblas("", NULL));
    cr_assert(bnb_selection_uses_openblas("all", NULL));
    cr_assert(bnb_selection_uses_openblas("peak,matmul", NULL));
    cr_assert(bnb_selection_uses_openblas("linalg", NULL));
    cr_assert(bnb_selection_uses_openblas("ternary", NULL));
    cr_assert_not(bnb_selection_uses_openblas("peak", NULL));
    cr_assert_not(bnb_selection_uses_openblas("peak,alloc,zerocopy", NULL));
    cr_assert_not(bnb_selection_uses_openblas(NULL, "^peak/"), "--case leaves only peak");
    cr_assert(bnb_selection_uses_openblas("peak,nosuch", NULL), "unknown: the run refuses it");
}
