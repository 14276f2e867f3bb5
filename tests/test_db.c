/*
 * test_db.c - the SQLite store: schema creation and reopening, refusal of
 * newer schemas, foreign and non-SQLite files and unwritable paths (without
 * touching them), exact round-trips of runs, cases, samples, stats, metrics
 * and verdicts, one transaction per case, run lookup, integrity checks.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "db/db.h"
#include "db/internal.h"
#include "db/export.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-db-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(db, .init = setup, .fini = teardown);

/* Whole file into a malloc'd buffer; *n its size. */
static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "open %s", p);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int64_t q_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void q_text(sqlite3 *h, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
}

static void raw_exec(const char *p, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(p, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(h);
}

#define MACHINE_JSON                                                                               \
    "{\"cpu_model\":\"EPYC\",\"topology\":{\"pus\":2,\"caches\":[{\"level\":1,\"type\":"           \
    "\"data\",\"size\":32768,\"count\":2}]}}"

static void fill_run(bnb_run_info *ri, const char *uuid)
{
    memset(ri, 0, sizeof *ri);
    snprintf(ri->uuid, sizeof ri->uuid, "%s", uuid);
    snprintf(ri->machine_name, sizeof ri->machine_name, "box-a");
    snprintf(ri->fingerprint, sizeof ri->fingerprint, "f00dfeed");
    snprintf(ri->started_at, sizeof ri->started_at, "2025-01-02T03:04:05Z");
    snprintf(ri->reason, sizeof ri->reason, "nightly");
    snprintf(ri->commit, sizeof ri->commit, "abc123");
    snprintf(ri->branch, sizeof ri->branch, "main");
    snprintf(ri->build_type, sizeof ri->build_type, "release");
    snprintf(ri->compiler, sizeof ri->compiler, "gcc 12.2.0");
    snprintf(ri->cflags, sizeof ri->cflags, "-O2");
    snprintf(ri->kernels, sizeof ri->kernels, "avx512");
    ri->machine_json = strdup(MACHINE_JSON);
    ri->context_json = strdup("{\"governor\":null}");
    ri->warnings_json = strdup("[\"VM\",\"PMU missing\"]");
    ri->binding_json = strdup("{\"cpus\":[1]}");
}

static bnb_db *open_new(void)
{
    char err[BNB_ERR_MAX] = "";
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    return db;
}

static int64_t start_run(bnb_db *db, const char *uuid)
{
    bnb_run_info ri;
    fill_run(&ri, uuid);
    char err[BNB_ERR_MAX] = "";
    int64_t id = 0;
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), 0, "%s", err);
    bnb_run_info_free(&ri);
    return id;
}

/* A measured case with every field set to a distinct value. */
static void make_case(bnb_case_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->suite, sizeof r->suite, "matmul");
    snprintf(r->name, sizeof r->name, "engine/sgemm");
    /* added out of key order: stored and loaded back sorted */
    snprintf(r->params[0].key, sizeof r->params[0].key, "n");
    snprintf(r->params[0].value, sizeof r->params[0].value, "1024");
    snprintf(r->params[1].key, sizeof r->params[1].key, "dtype");
    snprintf(r->params[1].value, sizeof r->params[1].value, "f32");
    snprintf(r->params[2].key, sizeof r->params[2].key, "alpha");
    snprintf(r->params[2].value, sizeof r->params[2].value, "1e3"); /* not canonical: a string */
    r->nparams = 3;
    r->status = BNB_CASE_OK;
    r->iterations = 37;
    snprintf(r->code_version, sizeof r->code_version, "2");
    static const double s[] = {1.25e-3, 1.5e-3, 1.0000000000000002e-3, 9.75e-3, 1.125e-3};
    r->nsamples = 5;
    r->samples = malloc(sizeof s);
    r->outlier = calloc(5, sizeof(bool));
    memcpy(r->samples, s, sizeof s);
    r->outlier[3] = true;
    r->stats = (bnb_stats){.n = 5,
                           .min = 1.0000000000000002e-3,
                           .max = 9.75e-3,
                           .median = 1.25e-3,
                           .mean = 2.925e-3,
                           .stddev = 3.8e-3,
                           .mad = 1.25e-4,
                           .cv = 1.2991452991452992,
                           .p90 = 6.65e-3,
                           .p99 = 9.44e-3,
                           .ci_lo = 1.1e-3,
                           .ci_hi = 1.5e-3,
                           .outliers_low = 0,
                           .outliers_high = 1};
    r->nmetrics = 3;
    r->metrics = calloc(3, sizeof(bnb_metric));
    bnb_metric *m = r->metrics;
    snprintf(m[0].name, sizeof m[0].name, "gflops");
    snprintf(m[0].unit, sizeof m[0].unit, "GFLOP/s");
    m[0].value = 1717.9869184;
    m[0].available = true;
    m[0].higher_is_better = true;
    m[0].timing = BNB_TIMING_RATE;
    snprintf(m[1].name, sizeof m[1].name, "counter.PAPI_TOT_CYC");
    snprintf(m[1].unit, sizeof m[1].unit, "count");
    m[1].available = false;
    snprintf(m[1].reason, sizeof m[1].reason, "PAPI_start: Event exists, but cannot be counted");
    snprintf(m[2].name, sizeof m[2].name, "counter.perf::TASK-CLOCK");
    snprintf(m[2].unit, sizeof m[2].unit, "ns");
    m[2].value = 0.0;
    m[2].available = true;
}

static int64_t count_rows(bnb_db *db, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return q_int(bnb_db__sqlite(db), sql);
}

/* ---- schema ---------------------------------------------------------------- */

Test(db, creates_schema_and_reopens)
{
    bnb_db *db = open_new();
    sqlite3 *h = bnb_db__sqlite(db);
    cr_assert_eq(q_int(h, "PRAGMA user_version"), BNB_DB_SCHEMA_VERSION);
    cr_assert_eq(q_int(h, "PRAGMA application_id"), 0x626e6231);
    cr_assert_eq(q_int(h, "PRAGMA foreign_keys"), 1);
    cr_assert_geq(q_int(h, "PRAGMA busy_timeout"), 1000);
    char jm[16];
    q_text(h, "PRAGMA journal_mode", jm, sizeof jm);
    cr_assert_str_eq(jm, "wal");
    char names[512];
    q_text(h,
           "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = "
           "'table' ORDER BY name)",
           names, sizeof names);
    cr_assert_str_eq(names, "baselines,batch_ranks,batches,cases,machines,metrics,publications,"
                            "runs,samples,stats,verdicts");
    cr_assert_eq(BNB_DB_SCHEMA_VERSION, 5); /* v4: no cases_by_suite; v5: batches */
    cr_assert_eq(q_int(h, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                          "('runs_by_machine', 'runs_by_start', 'cases_by_run', "
                          "'cases_by_name', 'metrics_by_name')"),
                 5);
    cr_assert_eq(q_int(h, "SELECT count(*) FROM sqlite_schema WHERE name = 'cases_by_suite'"), 0,
                 "dropped by the 3 -> 4 migration");
    int64_t id = start_run(db, "11111111-2222-4333-8444-555555555555");
    bnb_db_close(db);

    db = open_new(); /* reopen: no migration, data still there */
    h = bnb_db__sqlite(db);
    cr_assert_eq(q_int(h, "PRAGMA user_version"), BNB_DB_SCHEMA_VERSION);
    cr_assert_eq(q_int(h, "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(q_int(h, "SELECT max(id) FROM runs"), id);
    bnb_db_close(db);
}

Test(db, migrates_an_empty_version_zero_file)
{
    FILE *f = fopen(path, "wb"); /* an empty file is an empty SQLite DB at version 0 */
    fclose(f);
    bnb_db *db = open_new();
    cr_assert_eq(q_int(bnb_db__sqlite(db), "PRAGMA user_version"), BNB_DB_SCHEMA_VERSION);
    bnb_db_close(db);
}

Test(db, refuses_newer_schema_without_touching_it)
{
    bnb_db *db = open_new();
    start_run(db, "11111111-2222-4333-8444-555555555555");
    bnb_db_close(db);
    raw_exec(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 7");
    size_t n0, n1;
    unsigned char *before = slurp(path, &n0);
    char err[BNB_ERR_MAX] = "";
    char want[BNB_ERR_MAX];
    snprintf(want, sizeof want,
             "DB %s was written by a newer bnbench (schema 7, this build knows %d)", path,
             BNB_DB_SCHEMA_VERSION);
    for (int ro = 0; ro <= 1; ro++) {
        db = NULL;
        cr_assert_eq(bnb_db_open(path, ro, &db, err), -1);
        cr_assert_null(db);
        cr_assert_str_eq(err, want);
    }
    unsigned char *after = slurp(path, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_eq(memcmp(before, after, n0), 0, "file changed");
    char side[160];
    snprintf(side, sizeof side, "%s-wal", path);
    cr_assert_not(exists(side), "a -wal file was created");
    snprintf(side, sizeof side, "%s-journal", path);
    cr_assert_not(exists(side));
    free(before);
    free(after);
}

Test(db, refuses_non_sqlite_file_without_touching_it)
{
    static const char text[] = "name,value\nthis is a CSV file, not a database\n";
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    char err[BNB_ERR_MAX] = "";
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(path, 0, &db, err), -1);
    cr_assert_null(db);
    char want[BNB_ERR_MAX];
    snprintf(want, sizeof want,
             "DB %s: not a SQLite database (file header is not \"SQLite format 3\")", path);
    cr_assert_str_eq(err, want);
    size_t n;
    unsigned char *after = slurp(path, &n);
    cr_assert_eq(n, sizeof text - 1);
    cr_assert_eq(memcmp(after, text, n), 0);
    free(after);
}

Test(db, refuses_foreign_sqlite_db)
{
    raw_exec(path, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
    size_t n0, n1;
    unsigned char *before = slurp(path, &n0);
    char err[BNB_ERR_MAX] = "";
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(path, 0, &db, err), -1);
    cr_assert(strstr(err, "a SQLite database but not a bnbench one (application_id 0, 1 tables)"),
              "%s", err);
    unsigned char *after = slurp(path, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_eq(memcmp(before, after, n0), 0);
    free(before);
    free(after);
}

Test(db, refuses_unwritable_paths)
{
    char err[BNB_ERR_MAX] = "";
    char want[BNB_ERR_MAX];
    bnb_db *db = NULL;
    char p[160];

    snprintf(p, sizeof p, "%s/missing-dir/t.db", dir);
    cr_assert_eq(bnb_db_open(p, 0, &db, err), -1);
    snprintf(want, sizeof want,
             "DB %s: cannot create: directory %s/missing-dir: No such file or directory", p, dir);
    cr_assert_str_eq(err, want);
    cr_assert_not(exists(p));

    cr_assert_eq(bnb_db_open(dir, 0, &db, err), -1); /* a directory */
    snprintf(want, sizeof want, "DB %s: is a directory", dir);
    cr_assert_str_eq(err, want);

    snprintf(p, sizeof p, "%s/plain/t.db", dir); /* parent is a regular file */
    char plain[160];
    snprintf(plain, sizeof plain, "%s/plain", dir);
    fclose(fopen(plain, "w"));
    cr_assert_eq(bnb_db_open(p, 0, &db, err), -1);
    snprintf(want, sizeof want, "DB %s: cannot create: %s is not a directory", p, plain);
    cr_assert_str_eq(err, want);

    cr_assert_eq(bnb_db_open(path, 1, &db, err), -1); /* read-only and absent */
    snprintf(want, sizeof want, "DB %s: no such file", path);
    cr_assert_str_eq(err, want);
    cr_assert_not(exists(path));
    cr_assert_null(db);
}

Test(db, readonly_refuses_writes)
{
    bnb_db *db = open_new();
    int64_t id = start_run(db, "11111111-2222-4333-8444-555555555555");
    bnb_db_close(db);
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_open(path, 1, &db, err), 0, "%s", err);
    cr_assert_eq(bnb_db_end_run(db, id, BNB_RUN_COMPLETE, err), -1);
    char want[BNB_ERR_MAX];
    snprintf(want, sizeof want, "DB %s: opened read-only", path);
    cr_assert_str_eq(err, want);
    cr_assert_eq(q_int(bnb_db__sqlite(db), "SELECT count(*) FROM runs WHERE finished_at IS NULL"),
                 1);
    bnb_db_close(db);
}

/* ---- runs ------------------------------------------------------------------ */

Test(db, run_round_trip)
{
    bnb_db *db = open_new();
    int64_t id = start_run(db, "11111111-2222-4333-8444-555555555555");
    char err[BNB_ERR_MAX] = "";
    bnb_run_info ri;
    bnb_run_status st = BNB_RUN_FAILED;
    cr_assert_eq(bnb_db_load_run(db, id, &ri, &st, err), 0, "%s", err);
    cr_assert_eq(st, BNB_RUN_RUNNING);
    cr_assert_str_eq(ri.uuid, "11111111-2222-4333-8444-555555555555");
    cr_assert_str_eq(ri.machine_name, "box-a");
    cr_assert_str_eq(ri.fingerprint, "f00dfeed");
    cr_assert_str_eq(ri.started_at, "2025-01-02T03:04:05Z");
    cr_assert_str_eq(ri.reason, "nightly");
    cr_assert_str_eq(ri.commit, "abc123");
    cr_assert_str_eq(ri.branch, "main");
    cr_assert_str_eq(ri.build_type, "release");
    cr_assert_str_eq(ri.compiler, "gcc 12.2.0");
    cr_assert_str_eq(ri.cflags, "-O2");
    cr_assert_str_eq(ri.kernels, "avx512");
    cr_assert_str_eq(ri.machine_json, MACHINE_JSON);
    cr_assert_str_eq(ri.context_json, "{\"governor\":null}");
    cr_assert_str_eq(ri.warnings_json, "[\"VM\",\"PMU missing\"]");
    cr_assert_str_eq(ri.binding_json, "{\"cpus\":[1]}");
    bnb_run_info_free(&ri);

    cr_assert_eq(bnb_db_end_run(db, id, BNB_RUN_INTERRUPTED, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_run(db, id, &ri, &st, err), 0);
    cr_assert_eq(st, BNB_RUN_INTERRUPTED);
    bnb_run_info_free(&ri);
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(db, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "interrupted");
    cr_assert_eq(strlen(row.finished_at), 24, "finished_at \"%s\"", row.finished_at);

    /* same machine again: one machines row; a second machine name: two */
    int64_t id2 = start_run(db, "22222222-2222-4333-8444-555555555555");
    cr_assert_eq(id2, id + 1);
    cr_assert_eq(count_rows(db, "machines"), 1);
    bnb_run_info ri3;
    fill_run(&ri3, "33333333-2222-4333-8444-555555555555");
    snprintf(ri3.machine_name, sizeof ri3.machine_name, "box-b");
    int64_t id3 = 0;
    cr_assert_eq(bnb_db_begin_run(db, &ri3, &id3, err), 0, "%s", err);
    bnb_run_info_free(&ri3);
    cr_assert_eq(count_rows(db, "machines"), 2);

    cr_assert_eq(bnb_db_end_run(db, 999, BNB_RUN_COMPLETE, err), -1);
    cr_assert(strstr(err, "no run with id 999"), "%s", err);
    bnb_db_close(db);
}

Test(db, begin_run_validates)
{
    bnb_db *db = open_new();
    bnb_run_info ri;
    fill_run(&ri, "");
    snprintf(ri.reason, sizeof ri.reason, "weekly");
    char err[BNB_ERR_MAX] = "";
    int64_t id = 0;
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), -1);
    cr_assert(strstr(err, "run reason must be nightly, pr, manual or confirm, got \"weekly\""),
              "%s", err);
    snprintf(ri.reason, sizeof ri.reason, "pr");
    free(ri.context_json);
    ri.context_json = strdup("{not json");
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), -1);
    cr_assert_eq(count_rows(db, "runs"), 0);
    cr_assert_eq(count_rows(db, "machines"), 0, "machine row left behind by a failed run");
    free(ri.context_json);
    ri.context_json = NULL;
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), 0, "%s", err); /* uuid generated */
    bnb_run_info_free(&ri);
    cr_assert_eq(bnb_db_load_run(db, id, &ri, NULL, err), 0);
    cr_assert_eq(strlen(ri.uuid), 36);
    cr_assert_eq(ri.uuid[14], '4');
    cr_assert_null(ri.context_json);
    bnb_run_info_free(&ri);
    bnb_db_close(db);
}

Test(db, resolve_and_list_runs)
{
    bnb_db *db = open_new();
    int64_t a = start_run(db, "abcdef01-0000-4000-8000-000000000001");
    int64_t b = start_run(db, "abcdef01-0000-4000-8000-000000000002");
    bnb_run_info ri;
    fill_run(&ri, "12345678-0000-4000-8000-000000000003");
    snprintf(ri.started_at, sizeof ri.started_at, "2025-02-01T00:00:00Z");
    int64_t c = 0;
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_begin_run(db, &ri, &c, err), 0, "%s", err);
    bnb_run_info_free(&ri);
    cr_assert_eq(bnb_db_end_run(db, a, BNB_RUN_COMPLETE, err), 0, "%s", err);
    cr_assert_eq(bnb_db_end_run(db, b, BNB_RUN_COMPLETE, err), 0, "%s", err);
    int64_t got = 0;
    cr_assert_eq(bnb_db_resolve_run(db, "latest", &got, err), 0, "%s", err);
    cr_assert_eq(got, b, "latest is the newest complete run (c is still running)");
    cr_assert_eq(bnb_db_resolve_run(db, "1", &got, err), 0, "%s", err);
    cr_assert_eq(got, a);
    cr_assert_eq(bnb_db_resolve_run(db, "12345678", &got, err), 0, "%s", err);
    cr_assert_eq(got, c);
    cr_assert_eq(bnb_db_resolve_run(db, "abcdef01-0000-4000-8000-000000000002", &got, err), 0);
    cr_assert_eq(got, b);
    cr_assert_eq(bnb_db_resolve_run(db, "abcdef01", &got, err), -1);
    cr_assert(strstr(err, "run abcdef01 is ambiguous"), "%s", err);
    cr_assert_eq(bnb_db_resolve_run(db, "42", &got, err), -1);
    cr_assert(strstr(err, "no run with id 42"), "%s", err);
    cr_assert_eq(bnb_db_resolve_run(db, "nightly-ref", &got, err), -1);
    cr_assert(strstr(err, "no run \"nightly-ref\""), "%s", err);
    cr_assert_eq(bnb_db_set_baseline(db, "nightly-ref", b, err), 0, "%s", err);
    cr_assert_eq(bnb_db_resolve_run(db, "nightly-ref", &got, err), 0, "%s", err);
    cr_assert_eq(got, b);
    cr_assert_eq(bnb_db_set_baseline(db, "nightly-ref", a, err), 0, "%s", err); /* moves it */
    cr_assert_eq(bnb_db_get_baseline(db, "nightly-ref", &got, err), 0);
    cr_assert_eq(got, a);
    cr_assert_eq(count_rows(db, "baselines"), 1);
    cr_assert_eq(bnb_db_set_baseline(db, "bad", 77, err), -1, "baseline to a missing run");

    bnb_run_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_runs(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_eq(rows[0].id, c); /* newest first */
    cr_assert_eq(rows[1].id, b);
    cr_assert_eq(rows[2].id, a);
    cr_assert_str_eq(rows[0].machine, "box-a");
    cr_assert_str_eq(rows[0].status, "running");
    cr_assert_str_eq(rows[0].reason, "nightly");
    free(rows);
    cr_assert_eq(bnb_db_list_runs(db, 2, &rows, &n, err), 0);
    cr_assert_eq(n, 2);
    free(rows);
    bnb_db_close(db);
}

/* ---- cases ----------------------------------------------------------------- */

Test(db, case_round_trip_is_exact)
{
    bnb_db *db = open_new();
    int64_t run = start_run(db, "11111111-2222-4333-8444-555555555555");
    bnb_case_result in;
    make_case(&in);
    bnb_case_result failed;
    memset(&failed, 0, sizeof failed);
    snprintf(failed.suite, sizeof failed.suite, "matmul");
    snprintf(failed.name, sizeof failed.name, "engine/sgemm");
    snprintf(failed.params[0].key, sizeof failed.params[0].key, "n");
    snprintf(failed.params[0].value, sizeof failed.params[0].value, "64");
    failed.nparams = 1;
    failed.status = BNB_CASE_FAILED;
    snprintf(failed.message, sizeof failed.message, "max abs error 0.5 at [3,7] (tol 1e-4)");
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_store_case(db, run, &in, err), 0, "%s", err);
    cr_assert_eq(bnb_db_store_case(db, run, &failed, err), 0, "%s", err);

    char pj[128];
    q_text(bnb_db__sqlite(db), "SELECT params FROM cases WHERE seq = 1", pj, sizeof pj);
    cr_assert_str_eq(pj, "{\"alpha\":\"1e3\",\"dtype\":\"f32\",\"n\":1024}");
    q_text(bnb_db__sqlite(db), "SELECT full_name FROM cases WHERE seq = 2", pj, sizeof pj);
    cr_assert_str_eq(pj, "matmul/engine/sgemm/n=64");

    bnb_case_result *out = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_load_cases(db, run, &out, &n, err), 0, "%s", err);
    cr_assert_eq(n, 2);
    bnb_case_result *r = &out[0];
    char full_in[256], full_out[256];
    bnb_case_fullname(&in, full_in, sizeof full_in);
    bnb_case_fullname(r, full_out, sizeof full_out);
    cr_assert_str_eq(full_in, "matmul/engine/sgemm/alpha=1e3/dtype=f32/n=1024");
    cr_assert_str_eq(full_out, full_in);
    cr_assert_str_eq(r->suite, "matmul");
    cr_assert_str_eq(r->name, "engine/sgemm");
    cr_assert_eq(r->nparams, 3);
    cr_assert_str_eq(r->params[0].key, "alpha");
    cr_assert_str_eq(r->params[0].value, "1e3");
    cr_assert_str_eq(r->params[1].key, "dtype");
    cr_assert_str_eq(r->params[1].value, "f32");
    cr_assert_str_eq(r->params[2].key, "n");
    cr_assert_str_eq(r->params[2].value, "1024");
    cr_assert_eq(r->status, BNB_CASE_OK);
    cr_assert_str_eq(r->message, "");
    cr_assert_eq(r->iterations, 37);
    cr_assert_str_eq(r->code_version, "2");
    cr_assert_eq(r->nsamples, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(memcmp(&r->samples[i], &in.samples[i], sizeof(double)), 0,
                     "sample %d: %.17g vs %.17g", i, r->samples[i], in.samples[i]);
        cr_assert_eq(r->outlier[i], in.outlier[i]);
    }
    cr_assert_eq(memcmp(&r->stats, &in.stats, sizeof in.stats), 0, "stats differ");
    cr_assert_eq(r->nmetrics, 3);
    cr_assert_str_eq(r->metrics[0].name, "gflops");
    cr_assert_str_eq(r->metrics[0].unit, "GFLOP/s");
    cr_assert_eq(r->metrics[0].value, 1717.9869184);
    cr_assert(r->metrics[0].available);
    cr_assert(r->metrics[0].higher_is_better);
    cr_assert_eq(r->metrics[0].timing, BNB_TIMING_RATE);
    cr_assert_str_eq(r->metrics[1].name, "counter.PAPI_TOT_CYC");
    cr_assert_not(r->metrics[1].available);
    cr_assert(isnan(r->metrics[1].value));
    cr_assert_str_eq(r->metrics[1].reason, "PAPI_start: Event exists, but cannot be counted");
    cr_assert_str_eq(r->metrics[2].name, "counter.perf::TASK-CLOCK");
    cr_assert(r->metrics[2].available);
    cr_assert_eq(r->metrics[2].value, 0.0);
    cr_assert_not(r->metrics[2].higher_is_better);

    r = &out[1];
    cr_assert_eq(r->status, BNB_CASE_FAILED);
    cr_assert_str_eq(r->message, "max abs error 0.5 at [3,7] (tol 1e-4)");
    cr_assert_eq(r->nsamples, 0);
    cr_assert_null(r->samples);
    cr_assert_eq(r->stats.n, 0);
    cr_assert_eq(r->nmetrics, 0);
    bnb_db_free_cases(out, n);
    bnb_case_free(&in);
    bnb_db_close(db);
}

/* A store that fails part-way leaves nothing of the case behind. */
static void assert_no_case_rows(bnb_db *db)
{
    cr_assert_eq(count_rows(db, "cases"), 0);
    cr_assert_eq(count_rows(db, "samples"), 0);
    cr_assert_eq(count_rows(db, "stats"), 0);
    cr_assert_eq(count_rows(db, "metrics"), 0);
}

Test(db, failing_store_leaves_no_partial_case)
{
    bnb_db *db = open_new();
    int64_t run = start_run(db, "11111111-2222-4333-8444-555555555555");
    char err[BNB_ERR_MAX] = "";
    bnb_case_result c;

    make_case(&c); /* the same metric twice: fails after case, samples and stats rows */
    snprintf(c.metrics[2].name, sizeof c.metrics[2].name, "gflops");
    cr_assert_eq(bnb_db_store_case(db, run, &c, err), -1);
    cr_assert(
        strstr(err,
               "storing metric \"gflops\" of case matmul/engine/sgemm/alpha=1e3/dtype=f32/n=1024:"),
        "%s", err);
    cr_assert(strstr(err, "UNIQUE constraint failed"), "%s", err);
    assert_no_case_rows(db);
    bnb_case_free(&c);

    make_case(&c); /* an available metric that is NaN */
    c.metrics[0].value = NAN;
    cr_assert_eq(bnb_db_store_case(db, run, &c, err), -1);
    cr_assert(strstr(err, "CHECK constraint failed"), "%s", err);
    assert_no_case_rows(db);

    cr_assert_eq(bnb_db_store_case(db, run + 100, &c, err), -1); /* no such run */
    cr_assert(strstr(err, "FOREIGN KEY constraint failed"), "%s", err);
    assert_no_case_rows(db);

    snprintf(c.params[1].key, sizeof c.params[1].key, "n"); /* duplicate param key */
    c.metrics[0].value = 1.0;
    cr_assert_eq(bnb_db_store_case(db, run, &c, err), -1);
    cr_assert(strstr(err, "param key \"n\" given twice"), "%s", err);
    assert_no_case_rows(db);
    snprintf(c.params[1].key, sizeof c.params[1].key, "dtype");

    /* and the connection is usable afterwards */
    cr_assert_eq(bnb_db_store_case(db, run, &c, err), 0, "%s", err);
    cr_assert_eq(count_rows(db, "cases"), 1);
    cr_assert_eq(count_rows(db, "samples"), 5);
    cr_assert_eq(count_rows(db, "stats"), 1);
    cr_assert_eq(count_rows(db, "metrics"), 3);
    bnb_case_free(&c);
    bnb_db_close(db);
}

/* ---- verdicts ---------------------------------------------------------------- */

Test(db, verdicts_round_trip)
{
    bnb_db *db = open_new();
    int64_t run = start_run(db, "11111111-2222-4333-8444-555555555555");
    bnb_target t[2];
    memset(t, 0, sizeof t);
    snprintf(t[0].id, sizeof t[0].id, "gemm-peak");
    snprintf(t[0].description, sizeof t[0].description, "GEMM at 80%% of peak");
    snprintf(t[0].figure, sizeof t[0].figure, "matmul/engine/sgemm/n=1024:gflops");
    snprintf(t[0].op, sizeof t[0].op, ">=");
    t[0].threshold = 0.8;
    snprintf(t[0].relative_to, sizeof t[0].relative_to, "peak/fma/avx512:gflops");
    snprintf(t[1].id, sizeof t[1].id, "h2d");
    snprintf(t[1].figure, sizeof t[1].figure, "device/h2d/bytes=16777216:median_s");
    snprintf(t[1].op, sizeof t[1].op, "<=");
    t[1].threshold = 1e-3;
    bnb_verdict v[2];
    memset(v, 0, sizeof v);
    v[0] = (bnb_verdict){.target = &t[0],
                         .measured = 150.5,
                         .measured_ok = true,
                         .ci_lo = 149.0,
                         .ci_hi = 151.25,
                         .bound = 160.0};
    snprintf(v[0].verdict, sizeof v[0].verdict, "missed");
    snprintf(v[0].reason, sizeof v[0].reason, "150.5 < 160");
    v[1] =
        (bnb_verdict){.target = &t[1], .measured = NAN, .ci_lo = NAN, .ci_hi = NAN, .bound = 1e-3};
    snprintf(v[1].verdict, sizeof v[1].verdict, "not applicable");
    snprintf(v[1].reason, sizeof v[1].reason, "requires cuda");
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_store_verdicts(db, run, v, 2, err), 0, "%s", err);
    cr_assert_eq(bnb_db_store_verdicts(db, run, v, 2, err), 0, "%s", err); /* replaces */
    cr_assert_eq(count_rows(db, "verdicts"), 2);

    bnb_target_set ts;
    bnb_verdict *lv = NULL;
    cr_assert_eq(bnb_db_load_verdicts(db, run, &ts, &lv, err), 0, "%s", err);
    cr_assert_eq(ts.n, 2);
    cr_assert_str_eq(lv[0].target->id, "gemm-peak");
    cr_assert_str_eq(lv[0].target->description, "GEMM at 80% of peak");
    cr_assert_str_eq(lv[0].target->relative_to, "peak/fma/avx512:gflops");
    cr_assert_eq(lv[0].target->threshold, 0.8);
    cr_assert_eq(lv[0].bound, 160.0);
    cr_assert(lv[0].measured_ok);
    cr_assert_eq(lv[0].measured, 150.5);
    cr_assert_eq(lv[0].ci_lo, 149.0);
    cr_assert_eq(lv[0].ci_hi, 151.25);
    cr_assert_str_eq(lv[0].verdict, "missed");
    cr_assert_str_eq(lv[1].target->id, "h2d");
    cr_assert_not(lv[1].measured_ok);
    cr_assert(isnan(lv[1].measured));
    cr_assert_str_eq(lv[1].verdict, "not applicable");
    cr_assert_str_eq(lv[1].reason, "requires cuda");
    bnb_targets_free(&ts);
    free(lv);

    snprintf(v[1].verdict, sizeof v[1].verdict, "passed"); /* invalid: nothing stored */
    cr_assert_eq(bnb_db_store_verdicts(db, run + 1, v, 2, err), -1);
    cr_assert_eq(count_rows(db, "verdicts"), 2);
    cr_assert_eq(bnb_db_store_verdict(db, run, "x", "a/b:c", ">=", 1.0, 2.0, 1, NAN, NAN, "met",
                                      "2 >= 1", err),
                 0, "%s", err);
    cr_assert_eq(count_rows(db, "verdicts"), 3);
    bnb_db_close(db);
}

/* ---- integrity -------------------------------------------------------------- */

Test(db, integrity_check)
{
    bnb_db *db = open_new();
    int64_t run = start_run(db, "11111111-2222-4333-8444-555555555555");
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_check(db, err), 0, "%s", err);

    /* a dangling reference written behind the store's back */
    sqlite3 *h = bnb_db__sqlite(db);
    cr_assert_eq(sqlite3_exec(h,
                              "PRAGMA foreign_keys = OFF; INSERT INTO cases (run_id, seq, suite, "
                              "name, params, full_name, status, iterations) VALUES (999, 1, 's', "
                              "'n', '{}', 's/n', 'ok', 1); PRAGMA foreign_keys = ON",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(bnb_db_check(db, err), -1);
    cr_assert(strstr(err, "foreign key check: row 1 of table cases refers to a missing runs row"),
              "%s", err);
    cr_assert_eq(sqlite3_exec(h, "DELETE FROM cases", NULL, NULL, NULL), SQLITE_OK);

    /* fill some pages, then damage one of them on disk */
    bnb_case_result c;
    make_case(&c);
    for (int i = 0; i < 40; i++) {
        snprintf(c.name, sizeof c.name, "engine/sgemm-%d", i);
        cr_assert_eq(bnb_db_store_case(db, run, &c, err), 0, "%s", err);
    }
    bnb_case_free(&c);
    bnb_db_close(db);
    raw_exec(path, "PRAGMA journal_mode = DELETE");
    int64_t page = 0, npages = 0;
    {
        sqlite3 *r = NULL;
        cr_assert_eq(sqlite3_open(path, &r), SQLITE_OK);
        page = q_int(r, "PRAGMA page_size");
        npages = q_int(r, "PRAGMA page_count");
        /* the root page of the samples table's primary key */
        int64_t root = q_int(r, "SELECT rootpage FROM sqlite_schema WHERE name = 'samples'");
        sqlite3_close(r);
        cr_assert_gt(npages, root);
        FILE *f = fopen(path, "r+b");
        fseek(f, (long)((root - 1) * page), SEEK_SET);
        static const unsigned char junk[64] = {0x0d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        fwrite(junk, 1, sizeof junk, f);
        fclose(f);
    }
    /* an ordinary open refuses it; the unchecked one (db check's) lets the
     * full check report it */
    cr_assert_eq(bnb_db_open(path, 1, &db, err), -1, "a damaged DB opened");
    cr_assert(strstr(err, "damaged"), "%s", err);
    cr_assert_eq(bnb_db_open(path, BNB_DB_READ_UNCHECKED, &db, err), 0, "%s", err);
    cr_assert_eq(bnb_db_check(db, err), -1);
    cr_assert(strstr(err, "integrity check"), "%s", err);
    bnb_db_close(db);
}

/* ---- export ------------------------------------------------------------------ */

/* A run with the round-trip case, a failed case and one verdict. */
static int64_t export_fixture(bnb_db *db, bnb_case_result *in)
{
    int64_t run = start_run(db, "11111111-2222-4333-8444-555555555555");
    char err[BNB_ERR_MAX] = "";
    make_case(in);
    bnb_case_result failed;
    memset(&failed, 0, sizeof failed);
    snprintf(failed.suite, sizeof failed.suite, "zerocopy");
    snprintf(failed.name, sizeof failed.name, "transformer-block");
    failed.status = BNB_CASE_FAILED;
    snprintf(failed.message, sizeof failed.message, "ratio counter missing");
    cr_assert_eq(bnb_db_store_case(db, run, in, err), 0, "%s", err);
    cr_assert_eq(bnb_db_store_case(db, run, &failed, err), 0, "%s", err);
    cr_assert_eq(bnb_db_store_verdict(db, run, "zc", "zerocopy/transformer-block:ratio", ">=", 0.8,
                                      NAN, 0, NAN, NAN, "not measured", "case failed", err),
                 0, "%s", err);
    return run;
}

static const cJSON *item(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert_not_null(v, "key %s missing", k);
    return v;
}

static void expect_str(const cJSON *o, const char *k, const char *want)
{
    const cJSON *v = item(o, k);
    cr_assert(cJSON_IsString(v), "%s is not a string", k);
    cr_assert_str_eq(v->valuestring, want, "key %s", k);
}

static void expect_num(const cJSON *o, const char *k, double want)
{
    const cJSON *v = item(o, k);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", k);
    cr_assert_float_eq(v->valuedouble, want, fabs(want) * 1e-12 + 1e-300, "key %s: %.17g vs %.17g",
                       k, v->valuedouble, want);
}

Test(db, export_json_has_google_benchmark_layout)
{
    bnb_db *db = open_new();
    bnb_case_result in;
    int64_t run = export_fixture(db, &in);
    char err[BNB_ERR_MAX] = "";
    char *text = bnb_export_json(db, run, err);
    cr_assert_not_null(text, "%s", err);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "export is not JSON");

    const cJSON *ctx = item(root, "context");
    expect_str(ctx, "date", "2025-01-02T03:04:05Z");
    expect_str(ctx, "host_name", "box-a");
    expect_str(ctx, "executable", "bnbench");
    expect_num(ctx, "num_cpus", 2);
    expect_str(ctx, "library_build_type", "release");
    cr_assert_null(cJSON_GetObjectItem(ctx, "mhz_per_cpu"), "no frequency known: left out");
    const cJSON *caches = item(ctx, "caches");
    cr_assert_eq(cJSON_GetArraySize(caches), 1);
    expect_str(cJSON_GetArrayItem(caches, 0), "type", "Data");
    expect_num(cJSON_GetArrayItem(caches, 0), "level", 1);
    expect_num(cJSON_GetArrayItem(caches, 0), "size", 32768);
    expect_num(cJSON_GetArrayItem(caches, 0), "num_sharing", 1);
    const cJSON *b = item(ctx, "bnbench");
    expect_num(b, "run_id", (double)run);
    expect_str(b, "uuid", "11111111-2222-4333-8444-555555555555");
    expect_str(b, "status", "running");
    expect_str(b, "commit", "abc123");
    cr_assert_eq(cJSON_GetArraySize(item(b, "warnings")), 2);
    cr_assert_eq(cJSON_GetArraySize(item(item(b, "binding"), "cpus")), 1);
    const cJSON *vs = item(b, "verdicts");
    cr_assert_eq(cJSON_GetArraySize(vs), 1);
    expect_str(cJSON_GetArrayItem(vs, 0), "verdict", "not measured");
    cr_assert(cJSON_IsNull(item(cJSON_GetArrayItem(vs, 0), "measured")));

    const cJSON *rows = item(root, "benchmarks");
    cr_assert_eq(cJSON_GetArraySize(rows), 5 + 5 + 1, "5 samples, 5 aggregates, 1 failed case");
    const char *full = "matmul/engine/sgemm/alpha=1e3/dtype=f32/n=1024";
    for (int i = 0; i < 5; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, i);
        expect_str(r, "name", full);
        expect_str(r, "run_name", full);
        expect_str(r, "run_type", "iteration");
        expect_num(r, "family_index", 0);
        expect_num(r, "per_family_instance_index", 0);
        expect_num(r, "repetitions", 5);
        expect_num(r, "repetition_index", i);
        expect_num(r, "threads", 1);
        expect_num(r, "iterations", 37);
        expect_num(r, "real_time", in.samples[i] * 1e9);
        expect_num(r, "cpu_time", in.samples[i] * 1e9);
        expect_str(r, "time_unit", "ns");
        cr_assert_eq(cJSON_IsTrue(item(r, "bnbench_outlier")), i == 3);
    }
    static const char *const aggs[] = {"mean", "median", "stddev", "cv", "min"};
    const double want[] = {in.stats.mean * 1e9, in.stats.median * 1e9, in.stats.stddev * 1e9,
                           in.stats.cv, in.stats.min * 1e9};
    for (int k = 0; k < 5; k++) {
        const cJSON *r = cJSON_GetArrayItem(rows, 5 + k);
        char name[128];
        snprintf(name, sizeof name, "%s_%s", full, aggs[k]);
        expect_str(r, "name", name);
        expect_str(r, "run_name", full);
        expect_str(r, "run_type", "aggregate");
        expect_str(r, "aggregate_name", aggs[k]);
        expect_str(r, "aggregate_unit", k == 3 ? "percentage" : "time");
        expect_num(r, "real_time", want[k]);
        expect_num(r, "iterations", 5);
        expect_str(r, "time_unit", "ns");
    }
    const cJSON *med = cJSON_GetArrayItem(rows, 6);
    expect_num(med, "gflops", 1717.9869184);
    expect_num(med, "counter.perf::TASK-CLOCK", 0.0);
    expect_num(med, "bnbench_ci_lo", 1.1e-3 * 1e9);
    expect_num(med, "bnbench_ci_hi", 1.5e-3 * 1e9);
    expect_str(item(med, "bnbench_unavailable"), "counter.PAPI_TOT_CYC",
               "PAPI_start: Event exists, but cannot be counted");
    const cJSON *fail = cJSON_GetArrayItem(rows, 10);
    expect_str(fail, "name", "zerocopy/transformer-block");
    expect_num(fail, "family_index", 1);
    cr_assert(cJSON_IsTrue(item(fail, "error_occurred")));
    expect_str(fail, "error_message", "failed: ratio counter missing");

    cJSON_Delete(root);
    free(text);
    cr_assert_null(bnb_export_json(db, run + 5, err));
    cr_assert(strstr(err, "no run with id"), "%s", err);
    bnb_case_free(&in);
    bnb_db_close(db);
}

Test(db, export_csv_one_row_per_sample)
{
    bnb_db *db = open_new();
    bnb_case_result in;
    int64_t run = export_fixture(db, &in);
    char err[BNB_ERR_MAX] = "";
    char *text = bnb_export_csv(db, run, err);
    cr_assert_not_null(text, "%s", err);
    const char *want =
        "run_id,run_uuid,machine,suite,case,params,full_name,status,iterations,sample_index,"
        "seconds,outlier\n"
        "1,11111111-2222-4333-8444-555555555555,box-a,matmul,engine/sgemm,"
        "\"{\"\"alpha\"\":\"\"1e3\"\",\"\"dtype\"\":\"\"f32\"\",\"\"n\"\":1024}\","
        "matmul/engine/sgemm/alpha=1e3/dtype=f32/n=1024,ok,37,0,0.00125,0\n";
    cr_assert_eq(strncmp(text, want, strlen(want)), 0, "got:\n%s", text);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 1 + 5 + 1);
    /* every sample reads back as exactly the stored double */
    const char *p = text;
    for (int i = 0; i < 6; i++)
        p = strchr(p, '\n') + 1;
    cr_assert_str_eq(p, "1,11111111-2222-4333-8444-555555555555,box-a,zerocopy,transformer-block,"
                        "{},zerocopy/transformer-block,failed,0,,,\n");
    const char *row3 = text;
    for (int i = 0; i < 3; i++)
        row3 = strchr(row3, '\n') + 1;
    const char *tail = strstr(row3, ",37,2,0.0010000000000000002,0\n");
    cr_assert(tail && tail < strchr(row3, '\n'), "row 3: %.*s", 200, row3);
    cr_assert_eq(strtod("0.0010000000000000002", NULL), in.samples[2]);
    free(text);
    bnb_case_free(&in);
    bnb_db_close(db);
}
