/*
 * test_rundoc.c - the run document (db/rundoc.h): a planted run with
 * awkward values (doubles that need 17 digits, subnormals, the largest
 * double, an infinite metric, bytes that are not UTF-8, a 127-byte name of
 * such bytes) built, parsed and ingested into a second DB, then built again
 * from there: the two documents are byte-equal and every sample is the same
 * double. Then the idempotence outcomes (already stored, conflict on
 * another machine or start), concurrent ingests of one UUID on separate
 * connections (exactly one stores), a running run refused, the generated
 * DB of reports/gendb.c round-tripped, and every class of bad input refused
 * with a message naming the field, the target DB unchanged after each.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db/db.h"
#include "db/rundoc.h"
#include "db/model/stats.h"
#include "reports/gendb.h"
#include "report_fixture.h"

static char dir[64];
static char src_path[128], dst_path[128];
static bnb_db *src, *dst;
static int64_t planted, plain;

/* Samples that print differently with 15 and 17 digits, extremes. */
static const double tricky[] = {0.1 + 0.2,
                                1.0 / 3.0,
                                5e-324, /* smallest subnormal */
                                2.2250738585072014e-308,
                                1.7976931348623157e308,
                                7e-9,
                                123456789.12345679,
                                2.0 / 3.0 * 1e-6,
                                1e-3,
                                0.0};
/* The same shape with values cJSON's own printer keeps (15 digits read back
 * within its tolerance): the bad-input tests re-print documents with it. */
static const double tame[] = {0.5, 0.25, 1e-6, 2e-6, 3e-6, 7e-9, 4e-6, 5e-6, 1e-3, 0.0};

static void add_case(int64_t run, const char *suite, const char *name, bnb_case_status st,
                     const char *message, const double *x, int n, bool outliers)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "%s", suite);
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.message, sizeof r.message, "%s", message);
    snprintf(r.code_version, sizeof r.code_version, "2");
    r.status = st;
    r.iterations = n ? 1000 : 0;
    if (n) {
        bnb_case_add_param(&r, "n", "%d", 1024);
        bnb_case_add_param(&r, "kind", "a b");
        r.nsamples = n;
        r.samples = malloc((size_t)n * sizeof *r.samples);
        r.outlier = calloc((size_t)n, sizeof *r.outlier);
        cr_assert(r.samples && r.outlier);
        memcpy(r.samples, x, (size_t)n * sizeof *x);
        cr_assert_eq(bnb_stats_compute(r.samples, n, 1, &r.stats, r.outlier), 0);
        if (outliers)
            r.outlier[1] = true;
        bnb_metric *m = bnb_case_add_metric(&r, "gflops", "GFLOP/s", 2.0 / r.stats.median, true);
        cr_assert_not_null(m);
        m->timing = BNB_TIMING_RATE;
        cr_assert_not_null(bnb_case_add_unavailable(&r, "counter.PAPI_TOT_CYC", "count",
                                                    "PAPI: no PMU in this VM"));
        cr_assert_not_null(bnb_case_add_metric(&r, "ratio", "ratio", INFINITY, true));
    }
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(src, run, &r, err), 0, "%s", err);
    bnb_case_free(&r);
}

static int64_t plant(bnb_db *db, const char *machine, const char *started, const double *first)
{
    int64_t run = fx_run(db, machine, started, "nightly", "[\"governor is powersave\"]");
    add_case(run, "plant", "tricky", BNB_CASE_OK, "", first,
             (int)(sizeof tricky / sizeof tricky[0]), true);
    add_case(run, "plant", "broken", BNB_CASE_FAILED, "wrong answer at [3]: \xff\xfe", NULL, 0,
             false);
    add_case(run, "plant", "gpu", BNB_CASE_SKIPPED, "no CUDA device", NULL, 0, false);
    double x[15];
    fx_dist(x, 15, 2e-3, 0.04, 0);
    add_case(run, "plant", "spread", BNB_CASE_OK, "", x, 15, false);
    char longname[BNB_NAME_MAX];
    memset(longname, 0xff, sizeof longname - 1); /* 381 bytes once each is U+FFFD */
    longname[sizeof longname - 1] = '\0';
    add_case(run, "plant", longname, BNB_CASE_OK, "", x, 9, false);
    fx_verdict(db, run, "spread-rate", "plant/spread/kind=a b/n=1024:gflops", ">=", 100.0, 1000.0,
               true, "met", "");
    fx_verdict(db, run, "gpu-rate", "plant/gpu:gflops", ">=", 1.0, NAN, false, "not measured",
               "case plant/gpu was skipped: no CUDA device");
    fx_end(db, run);
    return run;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-rundoc-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(src_path, sizeof src_path, "%s/src.db", dir);
    snprintf(dst_path, sizeof dst_path, "%s/dst.db", dir);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(src_path, 0, &src, err), 0, "%s", err);
    cr_assert_eq(bnb_db_open(dst_path, 0, &dst, err), 0, "%s", err);
    planted = plant(src, "m1\xff", "2026-01-01T00:00:00.125Z", tricky);
    plain = plant(src, "m2", "2026-01-01T00:00:00Z", tame);
}

static void teardown(void)
{
    bnb_db_close(src);
    bnb_db_close(dst);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(rundoc, .init = setup, .fini = teardown, .timeout = 120);

static char *build(bnb_db *db, int64_t run, size_t *len)
{
    char err[BNB_ERR_MAX];
    char *t = bnb_rundoc_build(db, run, len, err);
    cr_assert_not_null(t, "%s", err);
    return t;
}

static bnb_rundoc *parse_ok(const char *text, size_t len)
{
    bnb_rundoc *d = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_rundoc_parse(text, len, &d, err), 0, "%s", err);
    cr_assert_not_null(d);
    return d;
}

static bnb_ingest_outcome ingest(bnb_db *db, const char *text, int64_t *id)
{
    bnb_rundoc *d = parse_ok(text, strlen(text));
    bnb_ingest_outcome oc = (bnb_ingest_outcome)-1;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_ingest(db, d, &oc, id, err), 0, "%s", err);
    bnb_rundoc_free(d);
    return oc;
}

static int count_runs(bnb_db *db)
{
    bnb_run_row *rows = NULL;
    int n = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_list_runs(db, 0, &rows, &n, err), 0, "%s", err);
    free(rows);
    return n;
}

Test(rundoc, round_trip_is_byte_equal_and_samples_exact)
{
    size_t len = 0;
    char *a = build(src, planted, &len);
    cr_assert_eq(len, strlen(a));
    /* bytes that are not UTF-8 arrive as U+FFFD; the 127 such bytes of a
     * name are cut at a character boundary to fit the name field (42 x 3) */
    cr_assert_not_null(strstr(a, "\"name\":\"m1\xef\xbf\xbd\""));
    cr_assert_not_null(strstr(a, "wrong answer at [3]: \xef\xbf\xbd\xef\xbf\xbd\""));
    cr_assert_not_null(strstr(a, "\"schema\":\"bnbench.run\",\"schema_version\":1"));
    /* 17 digits where 15 would read back as another double */
    cr_assert_not_null(strstr(a, "\"samples\":[0.30000000000000004,0.3333333333333333,"
                                 "4.94065645841247e-324,"));
    cr_assert_not_null(strstr(a, "1.7976931348623157e+308"));
    /* the infinite metric goes as not available, saying why */
    cr_assert_not_null(strstr(a, "\"name\":\"ratio\",\"unit\":\"ratio\",\"value\":null,"
                                 "\"available\":false,\"reason\":\"the stored value inf is not "
                                 "a finite number\""));
    bnb_rundoc *d = parse_ok(a, len);
    cr_assert_eq(bnb_rundoc_ncases(d), 5);
    cr_assert_str_eq(bnb_rundoc_machine(d), "m1\xef\xbf\xbd");
    cr_assert_str_eq(bnb_rundoc_fingerprint(d), "fp-m1\xef\xbf\xbd");
    bnb_rundoc_free(d);

    int64_t id = 0;
    cr_assert_eq(ingest(dst, a, &id), BNB_INGEST_STORED);
    char *b = build(dst, id, NULL);
    cr_assert_str_eq(a, b, "the document rebuilt from the second DB differs");

    /* every sample the same double, bit for bit, with its outlier flag */
    bnb_case_result *ca = NULL, *cb = NULL;
    int na = 0, nb = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_load_cases(src, planted, &ca, &na, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_cases(dst, id, &cb, &nb, err), 0, "%s", err);
    cr_assert_eq(na, 5);
    cr_assert_eq(nb, na);
    int checked = 0;
    for (int i = 0; i < na; i++) {
        cr_assert_eq(cb[i].nsamples, ca[i].nsamples);
        cr_assert_eq(cb[i].status, ca[i].status);
        cr_assert_eq(cb[i].iterations, ca[i].iterations);
        for (int k = 0; k < ca[i].nsamples; k++) {
            cr_assert_eq(memcmp(&ca[i].samples[k], &cb[i].samples[k], sizeof(double)), 0,
                         "case %d sample %d: %.17g became %.17g", i, k, ca[i].samples[k],
                         cb[i].samples[k]);
            cr_assert_eq(ca[i].outlier[k], cb[i].outlier[k]);
            checked++;
        }
        cr_assert_float_eq(cb[i].stats.median, ca[i].stats.median, 0);
    }
    cr_assert_eq(checked, 10 + 15 + 9);
    cr_assert(cb[0].outlier[1], "the planted outlier flag travelled");
    cr_assert_eq(cb[0].samples[2], 5e-324);
    cr_assert_eq(cb[0].samples[4], 1.7976931348623157e308);
    bnb_db_free_cases(ca, na);
    bnb_db_free_cases(cb, nb);

    /* the run row: uuid, status, start and end as sent */
    bnb_run_row ra, rb;
    cr_assert_eq(bnb_db_get_run_row(src, planted, &ra, err), 0, "%s", err);
    cr_assert_eq(bnb_db_get_run_row(dst, id, &rb, err), 0, "%s", err);
    cr_assert_str_eq(rb.uuid, ra.uuid);
    cr_assert_str_eq(rb.status, "complete");
    cr_assert_str_eq(rb.started_at, "2026-01-01T00:00:00.125Z");
    cr_assert_str_eq(rb.finished_at, ra.finished_at);
    cr_assert_eq(bnb_db_check(dst, err), 0, "%s", err);
    free(a);
    free(b);
}

Test(rundoc, already_stored_and_conflicts_write_nothing)
{
    char *a = build(src, plain, NULL);
    int64_t id1 = 0, id2 = 0;
    cr_assert_eq(ingest(dst, a, &id1), BNB_INGEST_STORED);
    cr_assert_eq(ingest(dst, a, &id2), BNB_INGEST_ALREADY);
    cr_assert_eq(id2, id1);
    cr_assert_eq(count_runs(dst), 1);

    /* the same UUID from another start or another machine: a conflict */
    cJSON *t = cJSON_Parse(a);
    cJSON *run = cJSON_GetObjectItem(t, "run");
    cJSON_ReplaceItemInObject(run, "started_at", cJSON_CreateString("2026-01-01T00:00:01Z"));
    char *moved = cJSON_PrintUnformatted(t);
    cJSON_ReplaceItemInObject(run, "started_at", cJSON_CreateString("2026-01-01T00:00:00Z"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(t, "machine"), "name",
                              cJSON_CreateString("other"));
    char *other = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    cr_assert_eq(ingest(dst, moved, &id2), BNB_INGEST_CONFLICT);
    cr_assert_eq(id2, id1);
    cr_assert_eq(ingest(dst, other, &id2), BNB_INGEST_CONFLICT);
    cr_assert_eq(count_runs(dst), 1);
    char *b = build(dst, id1, NULL);
    cr_assert_str_eq(a, b);
    free(moved);
    free(other);
    free(a);
    free(b);
}

struct racer {
    const char *text;
    bnb_ingest_outcome oc;
    int rc;
    char err[BNB_ERR_MAX];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    bnb_db *db = NULL;
    bnb_rundoc *d = NULL;
    r->rc = bnb_db_open(dst_path, 0, &db, r->err);
    if (r->rc == 0)
        r->rc = bnb_rundoc_parse(r->text, strlen(r->text), &d, r->err);
    if (r->rc == 0)
        r->rc = bnb_db_ingest(db, d, &r->oc, NULL, r->err);
    bnb_rundoc_free(d);
    bnb_db_close(db);
    return NULL;
}

Test(rundoc, concurrent_ingests_of_one_uuid_store_it_once)
{
    char *a = build(src, planted, NULL);
    enum { N = 4 };
    struct racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.text = a, .oc = (bnb_ingest_outcome)-1};
        cr_assert_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int stored = 0, already = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(r[i].rc, 0, "%s", r[i].err);
        stored += r[i].oc == BNB_INGEST_STORED;
        already += r[i].oc == BNB_INGEST_ALREADY;
    }
    cr_assert_eq(stored, 1);
    cr_assert_eq(already, N - 1);
    cr_assert_eq(count_runs(dst), 1);
    free(a);
}

Test(rundoc, running_run_and_missing_run_are_refused)
{
    int64_t run = fx_run(src, "m1", "2026-02-01T00:00:00Z", "manual", NULL);
    add_case(run, "plant", "one", BNB_CASE_OK, "", tricky, 3, false);
    char err[BNB_ERR_MAX] = "";
    size_t len = 99;
    cr_assert_null(bnb_rundoc_build(src, run, &len, err));
    cr_assert_not_null(strstr(err, "is still running"), "%s", err);
    cr_assert_eq(len, 0);
    cr_assert_null(bnb_rundoc_build(src, 9999, NULL, err));
    cr_assert_not_null(strstr(err, "no run with id 9999"), "%s", err);
    /* an ended run without cases: nothing to send */
    int64_t empty = fx_run(src, "m1", "2026-02-02T00:00:00Z", "manual", NULL);
    fx_end(src, empty);
    cr_assert_null(bnb_rundoc_build(src, empty, NULL, err));
    cr_assert_not_null(strstr(err, "cases: a run with 0 cases"), "%s", err);
}

Test(rundoc, generated_runs_round_trip)
{
    char gen[160], err[BNB_ERR_MAX];
    snprintf(gen, sizeof gen, "%s/gen.db", dir);
    cr_assert_eq(bnb_gendb(gen, 3, err, sizeof err), 0, "%s", err);
    bnb_db *g = NULL;
    cr_assert_eq(bnb_db_open(gen, 1, &g, err), 0, "%s", err);
    bnb_run_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_runs(g, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 3);
    for (int i = 0; i < n; i++) {
        char *a = build(g, rows[i].id, NULL);
        int64_t id = 0;
        cr_assert_eq(ingest(dst, a, &id), BNB_INGEST_STORED);
        char *b = build(dst, id, NULL);
        cr_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    free(rows);
    bnb_db_close(g);
    cr_assert_eq(count_runs(dst), 3);
}

/* ---- bad input -------------------------------------------------------------------- */

static char *good;
static char last_err[BNB_ERR_MAX];

static void expect_bad(const char *text, size_t len, const char *want)
{
    bnb_rundoc *d = (bnb_rundoc *)&good; /* must come back NULL */
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_rundoc_parse(text, len, &d, err), -1, "accepted; wanted \"%s\"", want);
    cr_assert_null(d);
    cr_assert_not_null(strstr(err, want), "error \"%s\" does not say \"%s\"", err, want);
    snprintf(last_err, sizeof last_err, "%s", err);
    cr_assert_eq(count_runs(dst), 0);
}

static cJSON *tree(void)
{
    cJSON *t = cJSON_Parse(good);
    cr_assert_not_null(t);
    return t;
}

static cJSON *at(cJSON *t, const char *key)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(t, key);
    cr_assert_not_null(it, "%s", key);
    return it;
}

static cJSON *case_at(cJSON *t, int i)
{
    cJSON *c = cJSON_GetArrayItem(at(t, "cases"), i);
    cr_assert_not_null(c);
    return c;
}

static void expect_bad_tree(cJSON *t, const char *want)
{
    char *s = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    cr_assert_not_null(s);
    expect_bad(s, strlen(s), want);
    free(s);
}

/* The good document with the first occurrence of from replaced by to. */
static void expect_bad_edit(const char *from, const char *to, const char *want)
{
    const char *p = strstr(good, from);
    cr_assert_not_null(p, "%s", from);
    size_t n = strlen(good) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    snprintf(s, n + 1, "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    expect_bad(s, n, want);
    free(s);
}

Test(rundoc, bad_input_names_the_field_and_stores_nothing)
{
    good = build(src, plain, NULL);
    size_t len = strlen(good);
    bnb_rundoc *d = parse_ok(good, len);
    bnb_rundoc_free(d);

    /* the text itself */
    expect_bad(good, len / 2, "truncated JSON: the text ends at byte");
    expect_bad(good, 0, "empty document");
    expect_bad_edit("\"cases\":[", "\"cases\":[,", "malformed JSON at byte");
    expect_bad_edit("\"cases\":", "\"cases\"", "malformed JSON at byte");
    expect_bad_edit("\"message\":\"\"", "\"message\":\"a\tb\"", "a control character");
    expect_bad_edit("\"message\":\"\"", "\"message\":\"a\\u0000b\"", "\\u0000");
    char *tail = malloc(len + 8);
    snprintf(tail, len + 8, "%s {}", good);
    expect_bad(tail, strlen(tail), "text after the end of the document");
    free(tail);
    expect_bad("[]", 2, "the document must be a JSON object, got an array");
    expect_bad("NaN", 3, "malformed JSON at byte 0");

    /* schema */
    cJSON *t = tree();
    cJSON_ReplaceItemInObject(t, "schema", cJSON_CreateString("google.benchmark"));
    expect_bad_tree(t, "schema: must be \"bnbench.run\" (a bnbench run), got \"google.benchmark\"");
    t = tree();
    cJSON_ReplaceItemInObject(t, "schema_version", cJSON_CreateNumber(2));
    expect_bad_tree(t, "schema_version: 2 is not supported (this bnbench reads 1)");
    t = tree();
    cJSON_ReplaceItemInObject(t, "schema_version", cJSON_CreateString("1"));
    expect_bad_tree(t, "schema_version: must be a number, got a string");
    t = tree();
    cJSON_DeleteItemFromObject(t, "schema");
    expect_bad_tree(t, "schema: missing");

    /* missing members */
    t = tree();
    cJSON_DeleteItemFromObject(t, "machine");
    expect_bad_tree(t, "machine: missing");
    t = tree();
    cJSON_DeleteItemFromObject(at(t, "run"), "started_at");
    expect_bad_tree(t, "run.started_at: missing");
    t = tree();
    cJSON_DeleteItemFromObject(case_at(t, 3), "samples");
    expect_bad_tree(t, "cases[3].samples: missing");
    t = tree();
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(at(t, "verdicts"), 1), "threshold");
    expect_bad_tree(t, "verdicts[1].threshold: missing");

    /* wrong types */
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "uuid", cJSON_CreateNumber(7));
    expect_bad_tree(t, "run.uuid: must be a string, got a number");
    t = tree();
    cJSON_ReplaceItemInArray(at(case_at(t, 3), "samples"), 2, cJSON_CreateString("0.002"));
    expect_bad_tree(t, "cases[3].samples[2]: must be a number, got a string");
    t = tree();
    cJSON_ReplaceItemInObject(t, "cases", cJSON_CreateObject());
    expect_bad_tree(t, "cases: must be an array, got an object");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(case_at(t, 0), "metrics"), 0), "available",
                              cJSON_CreateNumber(1));
    expect_bad_tree(t, "cases[0].metrics[0].available: must be true or false, got a number");
    t = tree();
    cJSON_ReplaceItemInObject(at(case_at(t, 0), "params"), "n", cJSON_CreateNumber(1024));
    expect_bad_tree(t, "cases[0].params.n: must be a string, got a number");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "context", cJSON_CreateString("{}"));
    expect_bad_tree(t, "run.context: must be an object or null, got a string");
    t = tree();
    cJSON_AddItemToArray(at(at(t, "run"), "warnings"), cJSON_CreateNumber(3));
    expect_bad_tree(t, "run.warnings[1]: must be a string, got a number");

    /* numbers: infinite, not integral, out of range, negative counts */
    t = tree();
    cJSON_ReplaceItemInArray(at(case_at(t, 3), "samples"), 2, cJSON_CreateNumber(424242.5));
    char *s = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    char *p = strstr(s, "424242.5");
    cr_assert_not_null(p);
    memcpy(p, "1e999   ", 8); /* JSON spaces pad it out */
    expect_bad(s, strlen(s), "cases[3].samples[2]: must be a finite number");
    free(s);
    expect_bad_edit("\"threshold\":100", "\"threshold\":-1e999",
                    "verdicts[0].threshold: must be "
                    "a finite number");
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 0), "iterations", cJSON_CreateNumber(-1));
    expect_bad_tree(t,
                    "cases[0].iterations: must be an integer from 0 to 9007199254740992, got -1");
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 0), "iterations", cJSON_CreateNumber(2.5));
    expect_bad_tree(t, "cases[0].iterations: must be an integer");
    t = tree();
    cJSON_ReplaceItemInObject(at(case_at(t, 3), "stats"), "n", cJSON_CreateNumber(-3));
    expect_bad_tree(t, "cases[3].stats.n: must be an integer from 1");
    t = tree();
    cJSON_ReplaceItemInObject(at(case_at(t, 3), "stats"), "outliers_low", cJSON_CreateNumber(-1));
    expect_bad_tree(t, "cases[3].stats.outliers_low: must be an integer from 0 to 15, got -1");
    t = tree();
    cJSON_AddItemToArray(at(case_at(t, 0), "outliers"), cJSON_CreateNumber(-1));
    expect_bad_tree(t, "must be an integer from");
    cr_assert_not_null(strstr(last_err, "cases[0].outliers["), "%s", last_err);
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(case_at(t, 0), "metrics"), 0), "timing",
                              cJSON_CreateNumber(2));
    expect_bad_tree(t, "cases[0].metrics[0].timing: must be an integer from -1 to 1, got 2");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(case_at(t, 0), "metrics"), 0), "value",
                              cJSON_CreateNull());
    expect_bad_tree(t, "cases[0].metrics[0].value: must be a number, got null");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(case_at(t, 0), "metrics"), 1), "value",
                              cJSON_CreateNumber(1));
    expect_bad_tree(t, "cases[0].metrics[1].value: must be null when available is false");

    /* 0 cases, too many entries */
    t = tree();
    cJSON_ReplaceItemInObject(t, "cases", cJSON_CreateArray());
    expect_bad_tree(t, "cases: a run with 0 cases cannot be stored");
    t = tree();
    cJSON *m = at(case_at(t, 3), "metrics");
    for (int i = 0; i < 260; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%d", i);
        cJSON *o = cJSON_Duplicate(cJSON_GetArrayItem(m, 0), 1);
        cJSON_ReplaceItemInObject(o, "name", cJSON_CreateString(name));
        cJSON_AddItemToArray(m, o);
    }
    expect_bad_tree(t, "cases[3].metrics: has 263 entries, at most 256 allowed");

    /* strings: too long, empty, malformed formats, enums */
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 1), "message", cJSON_CreateString(big));
    expect_bad_tree(t, "cases[1].message: is 399 bytes long, at most 255 allowed");
    t = tree();
    big[64] = '\0';
    cJSON_ReplaceItemInObject(at(t, "machine"), "name", cJSON_CreateString(big));
    expect_bad_tree(t, "machine.name: is 64 bytes long, at most 63 allowed");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "machine"), "name", cJSON_CreateString(""));
    expect_bad_tree(t, "machine.name: must not be empty");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "machine"), "fingerprint", cJSON_CreateString(""));
    expect_bad_tree(t, "machine.fingerprint: must not be empty");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "uuid", cJSON_CreateString("not-a-uuid"));
    expect_bad_tree(t, "run.uuid: must be a UUID (8-4-4-4-12 lowercase hex digits), got "
                       "\"not-a-uuid\"");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "uuid",
                              cJSON_CreateString("11111111-2222-4333-8444-55555555555G"));
    expect_bad_tree(t, "run.uuid: must be a UUID");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "started_at", cJSON_CreateString("yesterday"));
    expect_bad_tree(t, "run.started_at: must be a UTC time like 2026-01-02T03:04:05.678Z, got "
                       "\"yesterday\"");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "status", cJSON_CreateString("running"));
    expect_bad_tree(t, "run.status: a running run cannot be stored");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "status", cJSON_CreateString("done"));
    expect_bad_tree(t, "run.status: must be complete, interrupted, failed or abandoned, got "
                       "\"done\"");
    t = tree();
    cJSON_ReplaceItemInObject(at(t, "run"), "reason", cJSON_CreateString("cron"));
    expect_bad_tree(t, "run.reason: must be nightly, pr, manual or confirm, got \"cron\"");
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 2), "status", cJSON_CreateString("passed"));
    expect_bad_tree(t, "cases[2].status: must be ok, failed or skipped, got \"passed\"");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(t, "verdicts"), 0), "op",
                              cJSON_CreateString("=>"));
    expect_bad_tree(t, "verdicts[0].op: must be \">=\" or \"<=\", got \"=>\"");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(t, "verdicts"), 0), "verdict",
                              cJSON_CreateString("passed"));
    expect_bad_tree(t, "verdicts[0].verdict: must be met, missed, not applicable or not measured");

    /* consistency: order, names, duplicates */
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 2), "seq", cJSON_CreateNumber(7));
    expect_bad_tree(t, "cases[2].seq: must be 3 (cases are numbered in order from 1), got 7");
    t = tree();
    cJSON_ReplaceItemInObject(case_at(t, 2), "full_name", cJSON_CreateString("plant/other"));
    expect_bad_tree(t, "cases[2].full_name: \"plant/other\" is not the name of suite, name and "
                       "params (\"plant/gpu\")");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(case_at(t, 0), "metrics"), 1), "name",
                              cJSON_CreateString("gflops"));
    expect_bad_tree(t, "cases[0].metrics[1].name: \"gflops\" is given twice in this case");
    t = tree();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(at(t, "verdicts"), 1), "target_id",
                              cJSON_CreateString("spread-rate"));
    expect_bad_tree(t, "verdicts[1].target_id: \"spread-rate\" is given twice");
    t = tree();
    cJSON_AddItemToObject(at(case_at(t, 0), "params"), "n", cJSON_CreateString("1"));
    expect_bad_tree(t, "cases[0].params: key \"n\" is given twice");

    /* a 100 MB string: over the document limit before anything is parsed */
    size_t huge = (size_t)100 << 20;
    char *h = malloc(huge + 64);
    cr_assert_not_null(h);
    memset(h, 'x', huge + 64);
    memcpy(h, "{\"schema\":\"", 11);
    memcpy(h + huge + 60, "\"}", 2);
    expect_bad(h, huge + 62, "document is 104857662 bytes, larger than the limit of 67108864");
    /* with the limit raised (a collector's --max-body) it is parsed and
     * refused for what it holds; the limit never goes past 1 GiB */
    bnb_rundoc *pd = NULL;
    char e2[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_rundoc_parse_max(h, huge + 62, (size_t)256 << 20, &pd, e2), -1);
    cr_assert_null(pd);
    cr_assert_not_null(strstr(e2, "schema: must be \"bnbench.run\" (a bnbench run), got \"xxx"),
                       "%s", e2);
    cr_assert_eq(bnb_rundoc_parse_max(h, BNB_RUNDOC_MAX_BYTES_LIMIT + 1, SIZE_MAX, &pd, e2), -1);
    cr_assert_str_eq(e2, "document is 1073741825 bytes, larger than the limit of 1073741824 bytes");
    free(h);
    /* and a limit below the document's size refuses it */
    size_t gl = strlen(good);
    cr_assert_eq(bnb_rundoc_parse_max(good, gl, gl - 1, &pd, e2), -1);
    char want[160];
    snprintf(want, sizeof want, "document is %zu bytes, larger than the limit of %zu bytes", gl,
             gl - 1);
    cr_assert_str_eq(e2, want);
    cr_assert_eq(bnb_rundoc_parse_max(good, gl, gl, &pd, e2), 0, "%s", e2);
    bnb_rundoc_free(pd);

    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_check(dst, err), 0, "%s", err);
    free(good);
}

Test(rundoc, ended_runs_keep_status_reason_and_end)
{
    /* a failed run with the reason it stopped */
    int64_t run = fx_run(src, "m3", "2026-03-01T00:00:00Z", "pr", NULL);
    add_case(run, "plant", "one", BNB_CASE_OK, "", tame, 5, false);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_end_run_why(src, run, BNB_RUN_FAILED, "database or disk is full", err), 0,
                 "%s", err);
    char *a = build(src, run, NULL);
    cr_assert_not_null(strstr(a, "\"status\":\"failed\",\"status_reason\":\"database or disk is "
                                 "full\""));
    int64_t id = 0;
    cr_assert_eq(ingest(dst, a, &id), BNB_INGEST_STORED);
    char why[256];
    cr_assert_eq(bnb_db_run_status_reason(dst, id, why, sizeof why, err), 0, "%s", err);
    cr_assert_str_eq(why, "database or disk is full");
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(dst, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "failed");
    cr_assert_str_eq(row.reason, "pr");
    char *b = build(dst, id, NULL);
    cr_assert_str_eq(a, b);

    /* an abandoned run that never recorded its end: finished_at null */
    cJSON *t = cJSON_Parse(a);
    cJSON *r = cJSON_GetObjectItem(t, "run");
    cJSON_ReplaceItemInObject(r, "uuid",
                              cJSON_CreateString("0123abcd-0000-4000-8000-00000000beef"));
    cJSON_ReplaceItemInObject(r, "status", cJSON_CreateString("abandoned"));
    cJSON_ReplaceItemInObject(r, "status_reason",
                              cJSON_CreateString("process 42 on host h, which began the run, is "
                                                 "gone"));
    cJSON_ReplaceItemInObject(r, "finished_at", cJSON_CreateNull());
    char *c = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    cr_assert_eq(ingest(dst, c, &id), BNB_INGEST_STORED);
    cr_assert_eq(bnb_db_get_run_row(dst, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "abandoned");
    cr_assert_str_eq(row.finished_at, "");
    char *d = build(dst, id, NULL);
    cr_assert_not_null(strstr(d, "\"status\":\"abandoned\",\"status_reason\":\"process 42 on host "
                                 "h, which began the run, is gone\",\"started_at\":\"2026-03-01T"
                                 "00:00:00Z\",\"finished_at\":null,"));
    /* a run ingested from elsewhere has no owner here: a write-open leaves it alone */
    bnb_db *again = NULL;
    cr_assert_eq(bnb_db_open(dst_path, 0, &again, err), 0, "%s", err);
    bnb_db_close(again);
    cr_assert_eq(bnb_db_get_run_row(dst, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "abandoned");
    free(a);
    free(b);
    free(c);
    free(d);
}
