/*
 * test_targets_validate.c - a targets file is checked, when it is loaded,
 * against the cases and metrics the suites can produce: a typo in a metric
 * or a case pattern that matches nothing is an error naming the target
 * (bnbench run exits 2), never a target silently "not measured"; a correct
 * target on a suite that is not selected stays valid and is "not measured"
 * at evaluation. Also: the runner fails a case that adds a metric its table
 * does not declare, so the declarations the check relies on cannot drift.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/targets.h"
#include "spawn.h"
#include "suites/runner.h"
#include "suites/suite.h"

/* the suites only an MPI build has (suite_list.h) */
#ifdef BNB_HAVE_MPI
#define MPI_SUITES ", dist"
#else
#define MPI_SUITES ""
#endif

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-tval-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.json", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(targets_validate, .init = setup, .fini = teardown, .timeout = 120);

#define ONE(fields) "{\"version\": 1, \"targets\": [{" fields "}]}"

/* Parses text and validates it against the real catalogue for `suites`;
 * returns the validation's result with its message in err. */
static int check(const char *text, const char *suites, char *err, size_t cap)
{
    bnb_target_set s;
    cr_assert_eq(bnb_targets_parse(text, strlen(text), "t.json", &s, err, cap), 0, "%s", err);
    bnb_catalogue cat;
    cr_assert_eq(bnb_catalogue_build(suites, &cat, err, cap), 0, "%s", err);
    int rc = bnb_targets_validate(&s, &cat, "t.json", err, cap);
    bnb_catalogue_free(&cat);
    bnb_targets_free(&s);
    return rc;
}

Test(targets_validate, a_typo_in_a_metric_name_is_an_error_naming_the_target)
{
    char err[1024];
    cr_assert_eq(
        check(ONE("\"id\": \"gemm-1024-peak\", \"figure\": "
                  "\"matmul/engine/sgemm/n=1024:gflop\", \"op\": \">=\", \"threshold\": 1"),
              NULL, err, sizeof err),
        -1);
    cr_assert_str_eq(err, "targets file t.json: target \"gemm-1024-peak\": figure "
                          "\"matmul/engine/sgemm/n=1024:gflop\" matches no metric of the selected "
                          "suites (case matmul/engine/sgemm/n=1024 has: gflops, flops, pct_peak, "
                          "vs_openblas)");
    /* the reference figure is checked the same way */
    cr_assert_eq(check(ONE("\"id\": \"r\", \"figure\": \"matmul/engine/sgemm/n=1024:gflops\", "
                           "\"op\": \">=\", \"threshold\": 1, \"relative_to\": "
                           "\"peak/fma/avx512:gflop\""),
                       NULL, err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "targets file t.json: target \"r\": relative_to "
                          "\"peak/fma/avx512:gflop\" matches no metric of the selected suites "
                          "(case peak/fma/avx512 has: gflops, flops_per_iter)");
    /* a metric other cases have but the named one cannot produce */
    cr_assert_eq(check(ONE("\"id\": \"x\", \"figure\": \"alloc/pool-trace:p50_ns\", \"op\": "
                           "\"<=\", \"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "target \"x\": figure \"alloc/pool-trace:p50_ns\" matches no metric"),
              "%s", err);
}

Test(targets_validate, a_glob_must_match_cases_that_all_have_the_metric)
{
    char err[1024];
    cr_assert_eq(check(ONE("\"id\": \"hr\", \"figure\": \"alloc/*:hit_rate\", \"op\": \">=\", "
                           "\"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "target \"hr\": figure \"alloc/*:hit_rate\": case alloc/malloc/size=64, "
                          "one of the 37 it matches, cannot produce \"hit_rate\" (it has: "
                          "mean_ns, p50_ns, p99_ns, batches, batch_pairs, size)"),
              "%s", err);
    /* the reference table has no speedup: a glob over it is refused */
    cr_assert_eq(check(ONE("\"id\": \"s\", \"figure\": \"elementwise/add/*:speedup\", \"op\": "
                           "\">=\", \"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "cannot produce \"speedup\""), "%s", err);
    cr_assert_eq(check(ONE("\"id\": \"s\", \"figure\": \"elementwise/add/cache=L[12]:speedup\", "
                           "\"op\": \">=\", \"threshold\": 1"),
                       NULL, err, sizeof err),
                 0, "%s", err);
}

Test(targets_validate, a_case_pattern_matching_nothing_is_an_error)
{
    char err[1024];
    cr_assert_eq(check(ONE("\"id\": \"g\", \"figure\": \"matmul/engine/sgemm/n=1000:gflops\", "
                           "\"op\": \">=\", \"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "targets file t.json: target \"g\": figure "
                          "\"matmul/engine/sgemm/n=1000:gflops\" matches no case (bnbench list "
                          "--suite all shows the case names)");
    cr_assert_eq(check(ONE("\"id\": \"g\", \"figure\": \"matmul/*/n=3:gflops\", \"op\": \">=\", "
                           "\"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "target \"g\": figure \"matmul/*/n=3:gflops\" matches no case"), "%s",
              err);
    /* a suite this build does not have */
    cr_assert_eq(check(ONE("\"id\": \"m\", \"figure\": \"matmull/engine/sgemm/n=1024:gflops\", "
                           "\"op\": \">=\", \"threshold\": 1"),
                       NULL, err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "targets file t.json: target \"m\": figure "
                          "\"matmull/engine/sgemm/n=1024:gflops\" names suite \"matmull\", which "
                          "this build does not have (known: peak, alloc, zerocopy, elementwise, "
                          "reduce, matmul, ternary, linalg, collector" MPI_SUITES ")");
    /* ... unless a capability brings it: then "not applicable" at evaluation */
    cr_assert_eq(check(ONE("\"id\": \"h\", \"figure\": \"device/h2d/bytes=1:median_s\", \"op\": "
                           "\"<=\", \"threshold\": 1, \"requires\": \"cuda\""),
                       NULL, err, sizeof err),
                 0, "%s", err);
    /* but a typo in a suite this build has is an error even with requires */
    cr_assert_eq(check(ONE("\"id\": \"h\", \"figure\": \"matmul/engin/sgemm/n=1024:gflops\", "
                           "\"op\": \">=\", \"threshold\": 1, \"requires\": \"cuda\""),
                       NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "matches no case"), "%s", err);
}

Test(targets_validate, statistics_and_counters_are_figures_of_every_case)
{
    char err[1024];
    cr_assert_eq(
        check("{\"version\": 1, \"targets\": ["
              "{\"id\": \"a\", \"figure\": \"peak/triad:median_s\", \"op\": \"<=\", "
              "\"threshold\": 1},"
              "{\"id\": \"b\", \"figure\": \"alloc/pool/*:cv\", \"op\": \"<=\", "
              "\"threshold\": 1},"
              "{\"id\": \"c\", \"figure\": \"matmul/engine/sgemm/n=64:counter.PAPI_TOT_CYC\","
              " \"op\": \"<=\", \"threshold\": 1}]}",
              NULL, err, sizeof err),
        0, "%s", err);
}

Test(targets_validate, the_shipped_file_is_valid_for_every_selection)
{
    const char *sel[] = {NULL,          "",       "all",    "peak",    "alloc",  "zerocopy",
                         "elementwise", "reduce", "matmul", "ternary", "linalg", "peak,matmul"};
    bnb_target_set s;
    char err[1024];
    cr_assert_eq(bnb_targets_load("suites/targets.json", &s, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < sizeof sel / sizeof sel[0]; i++) {
        bnb_catalogue cat;
        cr_assert_eq(bnb_catalogue_build(sel[i], &cat, err, sizeof err), 0, "%s", err);
        cr_assert_gt(cat.n, 300, "%d cases", cat.n);
        cr_assert_eq(bnb_targets_validate(&s, &cat, "suites/targets.json", err, sizeof err), 0,
                     "--suite %s: %s", sel[i] ? sel[i] : "(default)", err);
        bnb_catalogue_free(&cat);
    }
    bnb_targets_free(&s);
}

Test(targets_validate, targets_on_unselected_suites_are_valid_and_not_measured)
{
    char err[1024];
    const char *text = ONE("\"id\": \"g\", \"figure\": \"matmul/engine/sgemm/n=1024:gflops\", "
                           "\"op\": \">=\", \"threshold\": 1");
    cr_assert_eq(check(text, "peak", err, sizeof err), 0, "%s", err);
    bnb_target_set s;
    cr_assert_eq(bnb_targets_parse(text, strlen(text), NULL, &s, err, sizeof err), 0);
    bnb_verdict v;
    bnb_targets_eval(&s, NULL, 0, NULL, &v);
    cr_assert_str_eq(v.verdict, "not measured");
    cr_assert_str_eq(v.reason, "no case matmul/engine/sgemm/n=1024 in this run");
    bnb_targets_free(&s);

    /* the catalogue marks which cases are selected, and a typo there says so */
    bnb_catalogue cat;
    cr_assert_eq(bnb_catalogue_build("peak", &cat, err, sizeof err), 0);
    int selected = 0, matmul_selected = 0;
    for (int i = 0; i < cat.n; i++) {
        selected += cat.c[i].selected;
        matmul_selected += cat.c[i].selected && !strncmp(cat.c[i].name, "matmul/", 7);
    }
    cr_assert_eq(selected, 6);
    cr_assert_eq(matmul_selected, 0);
    bnb_catalogue_free(&cat);
    cr_assert_eq(check(ONE("\"id\": \"g\", \"figure\": \"matmul/engine/sgemm/n=1024:gflop\", "
                           "\"op\": \">=\", \"threshold\": 1"),
                       "peak", err, sizeof err),
                 -1);
    cr_assert(strstr(err, "matches no metric of the suites (its own is not selected)"), "%s", err);
    cr_assert_eq(bnb_catalogue_build("nosuch", &cat, err, sizeof err), -1);
    cr_assert(strstr(err, "unknown suite \"nosuch\""), "%s", err);
}

Test(targets_validate, a_hand_built_catalogue)
{
    bnb_catalogue_case cc[] = {
        {.name = "s/a", .metrics = "x,y", .selected = true},
        {.name = "s/b", .metrics = "", .selected = true},
    };
    bnb_catalogue cat = {2, cc};
    bnb_target t = {.id = "t", .figure = "s/b:x", .op = ">=", .threshold = 1};
    bnb_target_set s = {1, &t};
    char err[512];
    cr_assert_eq(bnb_targets_validate(&s, &cat, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "targets file (text): target \"t\": figure \"s/b:x\" matches no metric "
                          "of the selected suites (case s/b has: no metric)");
    snprintf(t.figure, sizeof t.figure, "s/a:y");
    cr_assert_eq(bnb_targets_validate(&s, &cat, NULL, err, sizeof err), 0, "%s", err);
    snprintf(t.figure, sizeof t.figure, "s/a"); /* no ':' (the loader refuses it) */
    cr_assert_eq(bnb_targets_validate(&s, &cat, NULL, err, sizeof err), -1);
    cr_assert_eq(bnb_targets_validate(&s, &cat, NULL, NULL, 0), -1); /* no message buffer */

    cr_assert(bnb_name_listed("y", "x,y"));
    cr_assert(bnb_name_listed("x", "x,y"));
    cr_assert(!bnb_name_listed("", "x,y"));
    cr_assert(!bnb_name_listed("x,", "x,y"));
    cr_assert(!bnb_name_listed("xy", "x,y"));
    cr_assert(!bnb_name_listed("gflop", "gflops,flops"));
    cr_assert(!bnb_name_listed("x", ""));
    cr_assert(!bnb_name_listed("x", NULL));
}

/* ---- the command ------------------------------------------------------------------- */

Test(targets_validate, bnbench_run_refuses_a_typo_before_measuring)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(ONE("\"id\": \"zc\", \"figure\": \"zerocopy/transformer-block:ratoi\", \"op\": \">=\", "
              "\"threshold\": 0.8"),
          f);
    fclose(f);
    char db[160];
    snprintf(db, sizeof db, "%s/r.db", dir);
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    fx_spawn(r, dir,
             (const char *[]){"run", "--suite", "zerocopy", "--quick", "--quiet", "--targets", path,
                              "--db", db, NULL});
    cr_assert_eq(r->code, 2, "exit %d; stdout: %s; stderr: %s", r->code, r->out, r->err);
    char want[512];
    snprintf(want, sizeof want,
             "bnbench run: targets file %s: target \"zc\": figure "
             "\"zerocopy/transformer-block:ratoi\" matches no metric of the selected suites (case "
             "zerocopy/transformer-block has: ratio, ops, ops_shared, bytes_alloc, bytes_copied)",
             path);
    cr_assert(strstr(r->err, want), "%s", r->err);
    cr_assert_eq(access(db, F_OK), -1, "nothing is written to the DB");

    /* the same target spelt right on a suite not selected: not an error */
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(ONE("\"id\": \"zc\", \"figure\": \"zerocopy/transformer-block:ratio\", \"op\": \">=\", "
              "\"threshold\": 0.8"),
          f);
    fclose(f);
    fx_spawn(r, dir,
             (const char *[]){"run", "--suite", "peak", "--case", "timer/clock", "--quick",
                              "--quiet", "--targets", path, "--db", db, NULL});
    cr_assert_eq(r->code, 0, "exit %d; stdout: %s; stderr: %s", r->code, r->out, r->err);
    cr_assert(strstr(r->out, "not measured"), "%s", r->out);
    free(r);
}

/* ---- the runner keeps the declarations honest --------------------------------------- */

static int nothing_setup(const bnb_case_env *env, const void *arg, void **state, char *err,
                         size_t cap)
{
    *state = NULL;
    return 0;
}

static void nothing_run(void *state, int64_t iters)
{
    volatile int64_t sink = 0;
    for (int64_t i = 0; i < iters; i++)
        sink += i;
}

static int two_metrics(void *state, bnb_case_result *r)
{
    return bnb_case_add_metric(r, "declared", "x", 1, true) &&
                   bnb_case_add_metric(r, "undeclared", "x", 2, true)
               ? 0
               : -1;
}

Test(targets_validate, the_runner_fails_a_case_adding_an_undeclared_metric)
{
    static const bnb_case_def defs[] = {
        {.name = "bad",
         .setup = nothing_setup,
         .run = nothing_run,
         .metrics = two_metrics,
         .metric_names = "declared"},
        {.name = "good",
         .setup = nothing_setup,
         .run = nothing_run,
         .metrics = two_metrics,
         .metric_names = "declared,undeclared"},
    };
    static const bnb_suite suite = {.name = "v", .cases = defs, .ncases = 2};
    bnb_topo_summary topo = {0};
    bnb_timer_info timer;
    bnb_timer_init(&timer);
    bnb_cpulist cpus = {0};
    bnb_case_env env = {.topo = &topo, .timer = &timer, .cpus = &cpus};
    bnb_runner_opts o;
    bnb_runner_opts_default(&o);
    o.repetitions = 3;
    o.warmup = 0;
    for (int i = 0; i < 2; i++) {
        bnb_selected s = {.suite = &suite, .def = &defs[i]};
        snprintf(s.fullname, sizeof s.fullname, "v/%s", defs[i].name);
        bnb_case_result r;
        cr_assert_eq(bnb_runner_measure(&s, &env, &o, NULL, &r), 0);
        if (i == 0) {
            cr_assert_eq(r.status, BNB_CASE_FAILED);
            cr_assert(strstr(r.message, "metric \"undeclared\" is not in the case's metric_names"),
                      "%s", r.message);
        } else {
            cr_assert_eq(r.status, BNB_CASE_OK, "%s", r.message);
        }
        bnb_case_free(&r);
    }
}
