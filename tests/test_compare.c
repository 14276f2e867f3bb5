/*
 * test_compare.c - bnbench compare and the CI gate (check) on DBs with
 * planted sample distributions: faster / slower / no change exactly where
 * the DESIGN.md rule says (U test p < 0.01 AND median moved > 5%), the 3%
 * change that is significant but under the threshold, the large change with
 * too few samples for the U test ("insufficient samples", never a
 * regression), the smallest reachable p, and check's exit codes with an
 * injected re-run (confirmed, refuted, noise, missed target, --no-rerun),
 * plus the CLI end to end including a real re-run through the runner.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db/db.h"
#include "reports/check.h"
#include "reports/compare.h"
#include "report_fixture.h"

static char dir[64];
static char path[128];
static bnb_db *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-cmp-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.db", dir);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
}

static void teardown(void)
{
    bnb_db_close(db);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(compare, .init = setup, .fini = teardown, .timeout = 120);

/* Two runs A (baseline-like) and B with planted cases:
 *   same      15 vs 15, same centre, interleaved        -> no change
 *   slower    15 vs 15, +20%, separated                 -> slower
 *   faster    15 vs 15, -20%, separated                 -> faster
 *   small     15 vs 15, +3%, fully separated (p tiny)   -> no change (under 5%)
 *   few       3 vs 3, x2                                -> insufficient samples
 *   four      4 vs 4, x2 (min p 0.029)                  -> insufficient samples
 *   five      5 vs 5, x2 (min p 0.0079)                 -> slower
 *   wide      15 vs 15, +6% median, +-50% spread        -> no change (not significant)
 *   onlya     only in A                                 -> not comparable */
static void plant(int64_t *ra, int64_t *rb)
{
    *ra = fx_run(db, "m1", "2026-01-01T00:00:00Z", "nightly", NULL);
    fx_simple(db, *ra, "same", 15, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "slower", 15, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "faster", 15, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "small", 15, 1e-3, 0.002, 0);
    fx_simple(db, *ra, "few", 3, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "four", 4, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "five", 5, 1e-3, 0.02, 0);
    fx_simple(db, *ra, "wide", 15, 1e-3, 1.0, 0);
    fx_simple(db, *ra, "onlya", 15, 1e-3, 0.02, 0);
    fx_end(db, *ra);
    *rb = fx_run(db, "m1", "2026-01-02T00:00:00Z", "nightly", NULL);
    fx_simple(db, *rb, "same", 15, 1e-3, 0.02, 0.5);
    fx_simple(db, *rb, "slower", 15, 1.2e-3, 0.02, 0);
    fx_simple(db, *rb, "faster", 15, 0.8e-3, 0.02, 0);
    fx_simple(db, *rb, "small", 15, 1.03e-3, 0.002, 0);
    fx_simple(db, *rb, "few", 3, 2e-3, 0.02, 0);
    fx_simple(db, *rb, "four", 4, 2e-3, 0.02, 0);
    fx_simple(db, *rb, "five", 5, 2e-3, 0.02, 0);
    fx_simple(db, *rb, "wide", 15, 1.06e-3, 1.0, 0.37);
    fx_end(db, *rb);
}

static const bnb_cmp_row *row(const bnb_cmp_row *r, int n, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "plant/%s", name);
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].key, key))
            return &r[i];
    cr_assert_fail("no row %s", key);
    return NULL;
}

static void load_compare(int64_t ra, int64_t rb, bnb_cmp_row **rows, int *n)
{
    bnb_case_result *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_load_cases(db, ra, &a, &na, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_cases(db, rb, &b, &nb, err), 0, "%s", err);
    cr_assert_eq(bnb_compare_runs(a, na, b, nb, NULL, rows, n), 0);
    bnb_db_free_cases(a, na);
    bnb_db_free_cases(b, nb);
}

Test(compare, min_p_of_the_exact_u_distribution)
{
    cr_assert_float_eq(bnb_mw_min_p(3, 3), 2.0 / 20.0, 1e-12);
    cr_assert_float_eq(bnb_mw_min_p(4, 4), 2.0 / 70.0, 1e-12);
    cr_assert_float_eq(bnb_mw_min_p(5, 5), 2.0 / 252.0, 1e-12);
    cr_assert_float_eq(bnb_mw_min_p(15, 15), 2.0 / 155117520.0, 1e-18);
    cr_assert_float_eq(bnb_mw_min_p(1, 1), 1.0, 1e-12);
    cr_assert_float_eq(bnb_mw_min_p(0, 5), 1.0, 1e-12);
}

Test(compare, verdicts_follow_the_design_rule)
{
    int64_t ra, rb;
    plant(&ra, &rb);
    bnb_cmp_row *r = NULL;
    int n = 0;
    load_compare(ra, rb, &r, &n);
    cr_assert_eq(n, 9);

    const bnb_cmp_row *x = row(r, n, "same");
    cr_assert_eq(x->verdict, BNB_CMP_SAME, "%s", bnb_cmp_verdict_str(x->verdict));
    cr_assert_gt(x->p, 0.5, "p %g", x->p);

    x = row(r, n, "slower");
    cr_assert_eq(x->verdict, BNB_CMP_SLOWER);
    cr_assert_float_eq(x->ratio, 1.2, 1e-9);
    cr_assert_lt(x->p, 1e-5);
    cr_assert(x->ratio_lo <= x->ratio && x->ratio <= x->ratio_hi);

    x = row(r, n, "faster");
    cr_assert_eq(x->verdict, BNB_CMP_FASTER);
    cr_assert_float_eq(x->ratio, 0.8, 1e-9);

    x = row(r, n, "small"); /* significant, but 3% < 5% */
    cr_assert_eq(x->verdict, BNB_CMP_SAME, "%s", bnb_cmp_verdict_str(x->verdict));
    cr_assert_lt(x->p, 1e-5, "p %g", x->p);
    cr_assert_float_eq(x->ratio, 1.03, 1e-9);
    cr_assert(strstr(x->note, "within the 5% threshold"), "%s", x->note);

    x = row(r, n, "few"); /* 2x slower, but 3 + 3 samples cannot reach p < 0.01 */
    cr_assert_eq(x->verdict, BNB_CMP_INSUFFICIENT, "%s", bnb_cmp_verdict_str(x->verdict));
    cr_assert_float_eq(x->min_p, 0.1, 1e-12);
    cr_assert(strstr(x->note, "cannot reach p < 0.01"), "%s", x->note);

    x = row(r, n, "four");
    cr_assert_eq(x->verdict, BNB_CMP_INSUFFICIENT);
    x = row(r, n, "five");
    cr_assert_eq(x->verdict, BNB_CMP_SLOWER, "%s (p %g)", bnb_cmp_verdict_str(x->verdict), x->p);

    x = row(r, n, "wide"); /* the median moved 6% but the spread hides it */
    cr_assert_eq(x->verdict, BNB_CMP_SAME, "%s (p %g)", bnb_cmp_verdict_str(x->verdict), x->p);
    cr_assert_geq(x->p, 0.01);
    cr_assert_gt(fabs(x->ratio - 1.0), 0.05, "ratio %g", x->ratio);

    x = row(r, n, "onlya");
    cr_assert_eq(x->verdict, BNB_CMP_NOT_COMPARABLE);
    cr_assert_str_eq(x->note, "only in A");
    free(r);
}

Test(compare, failed_case_and_code_version_are_not_comparable)
{
    bnb_case_result a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    double xa[15], xb[15];
    fx_dist(xa, 15, 1.0, 0.02, 0);
    fx_dist(xb, 15, 2.0, 0.02, 0);
    snprintf(a.suite, sizeof a.suite, "s");
    snprintf(a.name, sizeof a.name, "k");
    b = a;
    a.samples = xa;
    b.samples = xb;
    a.nsamples = b.nsamples = 15;
    bnb_stats_compute(xa, 15, 1, &a.stats, NULL);
    bnb_stats_compute(xb, 15, 1, &b.stats, NULL);
    bnb_cmp_row r;
    bnb_compare_case(&a, &b, NULL, &r);
    cr_assert_eq(r.verdict, BNB_CMP_SLOWER);
    snprintf(b.code_version, sizeof b.code_version, "2");
    bnb_compare_case(&a, &b, NULL, &r);
    cr_assert_eq(r.verdict, BNB_CMP_NOT_COMPARABLE);
    cr_assert(strstr(r.note, "code version differs"), "%s", r.note);
    b.code_version[0] = '\0';
    b.status = BNB_CASE_FAILED;
    snprintf(b.message, sizeof b.message, "wrong answer at 3");
    bnb_compare_case(&a, &b, NULL, &r);
    cr_assert_eq(r.verdict, BNB_CMP_NOT_COMPARABLE);
    cr_assert_str_eq(r.note, "failed in B: wrong answer at 3");
}

Test(compare, custom_threshold)
{
    int64_t ra, rb;
    plant(&ra, &rb);
    bnb_case_result *a = NULL, *b = NULL;
    int na = 0, nb = 0, n = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_load_cases(db, ra, &a, &na, err), 0);
    cr_assert_eq(bnb_db_load_cases(db, rb, &b, &nb, err), 0);
    bnb_cmp_opts o = {.threshold = 0.02};
    bnb_cmp_row *r = NULL;
    cr_assert_eq(bnb_compare_runs(a, na, b, nb, &o, &r, &n), 0);
    cr_assert_eq(row(r, n, "small")->verdict, BNB_CMP_SLOWER); /* 3% > 2% */
    free(r);
    bnb_db_free_cases(a, na);
    bnb_db_free_cases(b, nb);
}

Test(compare, json_and_markdown_writers)
{
    int64_t ra, rb;
    plant(&ra, &rb);
    bnb_cmp_row *r = NULL;
    int n = 0;
    load_compare(ra, rb, &r, &n);
    char *j = bnb_compare_json("A", "B", r, n, NULL);
    cr_assert_not_null(j);
    cJSON *root = cJSON_Parse(j);
    cr_assert_not_null(root);
    cr_assert_eq(cJSON_GetObjectItem(root, "schema_version")->valueint, 1);
    cJSON *cases = cJSON_GetObjectItem(root, "cases");
    cr_assert_eq(cJSON_GetArraySize(cases), 9);
    int slower = 0, insufficient = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *v = cJSON_GetObjectItem(c, "verdict")->valuestring;
        slower += !strcmp(v, "slower");
        insufficient += !strcmp(v, "insufficient samples");
    }
    cr_assert_eq(slower, 2);
    cr_assert_eq(insufficient, 2);
    cJSON_Delete(root);
    free(j);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bnb_compare_write_md(f, "A", "B", r, n, NULL);
    fclose(f);
    cr_assert(strstr(buf, "| `plant/slower` |"), "%s", buf);
    cr_assert(strstr(buf, "**slower**"));
    cr_assert(strstr(buf, "insufficient samples (3 and 3 samples"), "%s", buf);
    cr_assert(strstr(buf, "2 faster, 2 slower") == NULL); /* one faster only */
    cr_assert(strstr(buf, "1 faster, 2 slower, 3 no change, 2 insufficient samples, 1 not "
                          "comparable"),
              "%s", buf);
    free(buf);
    free(r);
}

/* ---- check ------------------------------------------------------------------------ */

typedef struct planted_rerun {
    double centre; /* the re-run's distribution */
    int calls;
    char last[160];
} planted_rerun;

static int fake_rerun(void *ctx, const bnb_case_result *latest, bnb_case_result *out, int64_t *rid,
                      char *err, size_t cap)
{
    planted_rerun *p = ctx;
    p->calls++;
    bnb_case_fullname(latest, p->last, sizeof p->last);
    memset(out, 0, sizeof *out);
    snprintf(out->suite, sizeof out->suite, "%s", latest->suite);
    snprintf(out->name, sizeof out->name, "%s", latest->name);
    snprintf(out->code_version, sizeof out->code_version, "%s", latest->code_version);
    out->nsamples = 15;
    out->samples = malloc(15 * sizeof *out->samples);
    cr_assert_not_null(out->samples);
    fx_dist(out->samples, 15, p->centre, 0.02, 0.25);
    bnb_stats_compute(out->samples, 15, 7, &out->stats, NULL);
    *rid = 0;
    return 0;
}

/* Baseline run "base" + a latest run where case "hot" has the given centre. */
static void plant_gate(double hot_centre)
{
    char err[BNB_ERR_MAX];
    int64_t b = fx_run(db, "m1", "2026-01-01T00:00:00Z", "nightly", NULL);
    fx_simple(db, b, "hot", 15, 1e-3, 0.02, 0);
    fx_simple(db, b, "cold", 15, 1e-3, 0.02, 0);
    fx_end(db, b);
    cr_assert_eq(bnb_db_set_baseline(db, "base", b, err), 0, "%s", err);
    int64_t l = fx_run(db, "m1", "2026-01-02T00:00:00Z", "nightly", NULL);
    fx_simple(db, l, "hot", 15, hot_centre, 0.02, 0.5);
    fx_simple(db, l, "cold", 15, 1e-3, 0.02, 0.5);
    fx_end(db, l);
}

static int gate(planted_rerun *p, bool with_rerun, char *outbuf, size_t cap)
{
    FILE *f = fmemopen(outbuf, cap, "w");
    cr_assert_not_null(f);
    char err[BNB_ERR_MAX] = "";
    bnb_check_opts o = {
        .baseline = "base", .rerun = with_rerun ? fake_rerun : NULL, .rerun_ctx = p, .out = f};
    int rc = bnb_check(db, &o, err, sizeof err);
    fclose(f);
    cr_assert_geq(rc, 0, "%s", err);
    return rc;
}

Test(compare, check_fails_on_a_confirmed_regression)
{
    plant_gate(1.3e-3);
    planted_rerun p = {.centre = 1.3e-3};
    char out[4096];
    cr_assert_eq(gate(&p, true, out, sizeof out), 1, "%s", out);
    cr_assert_eq(p.calls, 1);
    cr_assert_str_eq(p.last, "plant/hot");
    cr_assert(strstr(out, "plant/hot: CONFIRMED regression"), "%s", out);
    cr_assert(strstr(out, "check: FAIL: 1 confirmed regression(s)"), "%s", out);
}

Test(compare, check_passes_when_the_rerun_does_not_confirm)
{
    plant_gate(1.3e-3);
    planted_rerun p = {.centre = 1e-3};
    char out[4096];
    cr_assert_eq(gate(&p, true, out, sizeof out), 0, "%s", out);
    cr_assert_eq(p.calls, 1);
    cr_assert(strstr(out, "plant/hot: not confirmed: re-run says no change"), "%s", out);
    cr_assert(strstr(out, "check: ok: 0 confirmed regression(s), 1 not confirmed"), "%s", out);
}

Test(compare, check_passes_on_noise_without_rerunning)
{
    plant_gate(1e-3);
    planted_rerun p = {.centre = 5e-3};
    char out[4096];
    cr_assert_eq(gate(&p, true, out, sizeof out), 0, "%s", out);
    cr_assert_eq(p.calls, 0);
}

Test(compare, check_passes_on_a_small_significant_change)
{
    plant_gate(1.03e-3);
    planted_rerun p = {.centre = 1.03e-3};
    char out[4096];
    cr_assert_eq(gate(&p, true, out, sizeof out), 0, "%s", out);
    cr_assert_eq(p.calls, 0);
}

Test(compare, check_without_rerun_counts_a_regression_as_confirmed)
{
    plant_gate(1.3e-3);
    char out[4096];
    cr_assert_eq(gate(NULL, false, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "not re-run (--no-rerun): counted as confirmed"), "%s", out);
}

Test(compare, check_fails_on_a_missed_target)
{
    plant_gate(1e-3);
    fx_verdict(db, 2, "gemm-peak", "plant/hot:gflops", ">=", 90, 42, true, "missed", "");
    char out[4096];
    cr_assert_eq(gate(NULL, false, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "target gemm-peak MISSED: plant/hot:gflops = 42, needs >= 90"), "%s",
              out);
}

Test(compare, check_ignores_confirm_runs_as_latest)
{
    plant_gate(1.3e-3);
    int64_t c = fx_run(db, "m1", "2026-01-03T00:00:00Z", "confirm", NULL);
    fx_simple(db, c, "hot", 15, 1e-3, 0.02, 0);
    fx_end(db, c);
    int64_t id = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_latest_measured_run(db, &id, err, sizeof err), 0);
    cr_assert_eq(id, 2);
}

Test(compare, check_with_unknown_baseline_is_an_error)
{
    plant_gate(1e-3);
    char err[BNB_ERR_MAX] = "";
    bnb_check_opts o = {.baseline = "nope"};
    cr_assert_eq(bnb_check(db, &o, err, sizeof err), -1);
    cr_assert(strstr(err, "no baseline named \"nope\""), "%s", err);
}

/* ---- the CLI ---------------------------------------------------------------------- */

Test(compare, cli_compare_check_baseline)
{
    int64_t ra, rb;
    plant(&ra, &rb);
    bnb_db_close(db);
    db = NULL;
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "--db", path, "compare", "1", "2");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "plant/slower"), "%s", r->out);
    cr_assert(strstr(r->out, "1 faster, 2 slower, 3 no change, 2 insufficient samples"), "%s",
              r->out);
    FX_BNBENCH(r, dir, "--db", path, "compare", "--machine", "m1", "--machine", "m1", "--format",
               "json");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j, "%s", r->out);
    cJSON_Delete(j);
    FX_BNBENCH(r, dir, "--db", path, "compare", "1");
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "give two runs"), "%s", r->err);
    FX_BNBENCH(r, dir, "--db", path, "baseline", "set", "base", "1");
    cr_assert_eq(r->code, 0, "%s", r->err);
    FX_BNBENCH(r, dir, "--db", path, "baseline", "list");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "base") && strstr(r->out, "m1"), "%s", r->out);
    FX_BNBENCH(r, dir, "--db", path, "check", "--baseline", "base", "--no-rerun");
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert(strstr(r->out, "check: FAIL: 2 confirmed regression(s)"), "%s", r->out);
    FX_BNBENCH(r, dir, "--db", path, "baseline", "set", "base", "2");
    FX_BNBENCH(r, dir, "--db", path, "check", "--baseline", "base", "--no-rerun");
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert(strstr(r->out, "the latest run is the baseline itself"), "%s", r->out);
    FX_BNBENCH(r, dir, "--db", path, "check", "--baseline", "nope");
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "no baseline named \"nope\""), "%s", r->err);
    FX_BNBENCH(r, dir, "--db", path, "history", "plant/slower");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "2 run(s)") && strstr(r->out, "z-score undefined"), "%s", r->out);
    free(r);
}

/* The real re-run: the latest run claims peak/timer/rdtsc took 1 ms per
 * iteration against a 0.5 ms baseline (a planted 2x regression); check
 * re-measures that one case through the runner (a run with reason confirm)
 * and the truth (nanoseconds) refutes it: exit 0. */
Test(compare, cli_check_reruns_through_the_runner)
{
    int64_t b = fx_run(db, "local", "2026-01-01T00:00:00Z", "nightly", NULL);
    double x[15];
    fx_dist(x, 15, 5e-4, 0.02, 0);
    fx_case(db, b, "peak", "timer/rdtsc", NULL, NULL, x, 15, NULL, NULL, 0);
    fx_end(db, b);
    int64_t l = fx_run(db, "local", "2026-01-02T00:00:00Z", "nightly", NULL);
    fx_dist(x, 15, 1e-3, 0.02, 0);
    fx_case(db, l, "peak", "timer/rdtsc", NULL, NULL, x, 15, NULL, NULL, 0);
    fx_end(db, l);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_set_baseline(db, "base", b, err), 0);
    bnb_db_close(db);
    db = NULL;
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "--db", path, "check", "--baseline", "base");
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert(strstr(r->out, "peak/timer/rdtsc: not confirmed: re-run (stored as run 3) says "
                             "faster"),
              "%s", r->out);
    FX_BNBENCH(r, dir, "--db", path, "runs");
    cr_assert(strstr(r->out, "confirm"), "%s", r->out);
    /* the report's default run is the latest measured one, not the re-run */
    FX_BNBENCH(r, dir, "--db", path, "report", "--format", "json");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "run"), "id")->valueint, 2);
    cJSON_Delete(j);
    free(r);
}

Test(compare, check_says_when_the_baseline_is_of_another_machine)
{
    char err[BNB_ERR_MAX];
    int64_t b = fx_run(db, "m1", "2026-01-01T00:00:00Z", "nightly", NULL);
    fx_simple(db, b, "hot", 15, 1e-3, 0.02, 0);
    fx_end(db, b);
    cr_assert_eq(bnb_db_set_baseline(db, "base", b, err), 0, "%s", err);
    int64_t l = fx_run(db, "m2", "2026-01-02T00:00:00Z", "nightly", NULL);
    fx_simple(db, l, "hot", 15, 1e-3, 0.02, 0.5);
    fx_end(db, l);
    planted_rerun p = {.centre = 1e-3};
    char out[4096];
    cr_assert_eq(gate(&p, false, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "note: the baseline was measured on machine \"m1\", the latest run on "
                          "\"m2\""),
              "%s", out);
}
