/*
 * test_cli.c - the bnbench command line, run as a user would: the built
 * binary is spawned (path from $BNBENCH, else $BUILD/bnbench, else
 * build/bnbench) and its exit code, stdout and stderr checked. Covers the
 * documented exit codes, one-line usage errors, that an error writes nothing
 * to the DB (the file is compared byte for byte, or must not appear), and
 * the store commands (runs, show, export, db check) on a DB built here.
 */
#include <cJSON.h>
#include <criterion/criterion.h>

#include "cpus.h"
#include "db/model/targets.h"
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "spawn.h"

static char dir[64];
static char dbpath[128];
static char bin[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/b.db", dir);
    fx_bin(bin, sizeof bin); /* fails the test when the binary is missing */
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

typedef fx_result result;

#define BNBENCH(r, ...)                                                                            \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        fx_spawn((r), dir, a_);                                                                    \
    } while (0)

/* "bnbench: " or "bnbench CMD: " (the command's prefix, suites/cli/cli.h). */
static bool has_prefix(const char *e)
{
    if (!strncmp(e, "bnbench: ", 9))
        return true;
    if (strncmp(e, "bnbench ", 8))
        return false;
    size_t w = strspn(e + 8, "abcdefghijklmnopqrstuvwxyz_-");
    return w > 0 && !strncmp(e + 8 + w, ": ", 2);
}

/* Exit code 2 and exactly one line on stderr starting "bnbench: " or
 * "bnbench CMD: ". */
static void expect_usage(const result *r, const char *needle)
{
    cr_assert_eq(r->code, 2, "exit %d, stderr: %s", r->code, r->err);
    cr_assert(has_prefix(r->err), "stderr: %s", r->err);
    size_t len = strlen(r->err);
    cr_assert(len > 0 && r->err[len - 1] == '\n' && !memchr(r->err, '\n', len - 1),
              "stderr is not one line: %s", r->err);
    if (needle)
        cr_assert(strstr(r->err, needle), "stderr lacks \"%s\": %s", needle, r->err);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

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

static void raw_exec(const char *p, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(p, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(h);
}

/* A DB with one complete run: a measured case, a failed case, one verdict. */
static void build_db(void)
{
    char err[BNB_ERR_MAX] = "";
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(dbpath, 0, &db, err), 0, "%s", err);
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.uuid, sizeof ri.uuid, "0123abcd-0000-4000-8000-000000000000");
    snprintf(ri.machine_name, sizeof ri.machine_name, "cli-box");
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "0011223344556677");
    snprintf(ri.started_at, sizeof ri.started_at, "2025-03-04T05:06:07Z");
    snprintf(ri.reason, sizeof ri.reason, "pr");
    snprintf(ri.build_type, sizeof ri.build_type, "release");
    int64_t run = 0;
    cr_assert_eq(bnb_db_begin_run(db, &ri, &run, err), 0, "%s", err);
    bnb_case_result c;
    memset(&c, 0, sizeof c);
    snprintf(c.suite, sizeof c.suite, "peak");
    snprintf(c.name, sizeof c.name, "fma/avx2");
    c.iterations = 100;
    double s[3] = {2e-3, 2.5e-3, 3e-3};
    c.nsamples = 3;
    c.samples = s;
    c.stats = (bnb_stats){.n = 3,
                          .min = 2e-3,
                          .max = 3e-3,
                          .median = 2.5e-3,
                          .mean = 2.5e-3,
                          .stddev = 5e-4,
                          .cv = 0.2,
                          .ci_lo = 2e-3,
                          .ci_hi = 3e-3};
    bnb_metric m = {.name = "gflops",
                    .unit = "GFLOP/s",
                    .value = 64.0,
                    .available = true,
                    .higher_is_better = true};
    c.nmetrics = 1;
    c.metrics = &m;
    cr_assert_eq(bnb_db_store_case(db, run, &c, err), 0, "%s", err);
    bnb_case_result f;
    memset(&f, 0, sizeof f);
    snprintf(f.suite, sizeof f.suite, "matmul");
    snprintf(f.name, sizeof f.name, "engine/sgemm");
    f.status = BNB_CASE_FAILED;
    snprintf(f.message, sizeof f.message, "wrong answer at [0,0]");
    cr_assert_eq(bnb_db_store_case(db, run, &f, err), 0, "%s", err);
    cr_assert_eq(bnb_db_store_verdict(db, run, "fma", "peak/fma/avx2:gflops", ">=", 100, 64, 1, NAN,
                                      NAN, "missed", "64 < 100", err),
                 0, "%s", err);
    cr_assert_eq(bnb_db_end_run(db, run, BNB_RUN_COMPLETE, err), 0, "%s", err);
    bnb_db_close(db);
}

/* ---- global ------------------------------------------------------------------ */

Test(cli, version_and_help)
{
    result r;
    BNBENCH(&r, "--version");
    cr_assert_eq(r.code, 0);
    cr_assert_eq(strncmp(r.out, "bnbench 0.1.0 (", 15), 0, "%s", r.out);
    BNBENCH(&r, "--help");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "usage: bnbench [--db PATH] COMMAND"), "%s", r.out);
    cr_assert(strstr(r.out, "  2  usage or environment error"), "exit codes documented");
    static const char *const cmds[] = {"runs", "show", "export", "db",
                                       "run",  "list", "topo",   "counters"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        BNBENCH(&r, cmds[i], "--help");
        cr_assert_eq(r.code, 0, "%s --help: %d %s", cmds[i], r.code, r.err);
        cr_assert(strstr(r.out, "usage: bnbench"), "%s --help: %s", cmds[i], r.out);
        cr_assert_str_eq(r.err, "");
    }
    BNBENCH(&r, "help", "export");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "usage: bnbench export"), "%s", r.out);
}

Test(cli, usage_errors_are_one_line_exit_2)
{
    result r;
    BNBENCH(&r, "frobnicate");
    expect_usage(&r, "unknown command \"frobnicate\"");
    BNBENCH(&r, "--frob");
    expect_usage(&r, "bnbench: unknown option '--frob' (bnbench --help)");
    BNBENCH(&r, "--db");
    expect_usage(&r, "bnbench: option '--db' needs a value");
    const char *const none[] = {NULL};
    fx_spawn(&r, dir, none);
    expect_usage(&r, "no command given");
    BNBENCH(&r, "runs", "--limit", "ten", "--db", dbpath);
    expect_usage(&r, "--limit must be a positive integer, got \"ten\"");
    BNBENCH(&r, "runs", "--bogus");
    expect_usage(&r, "bnbench runs: unknown option '--bogus' (bnbench runs --help)");
    BNBENCH(&r, "show", "--db", dbpath);
    expect_usage(&r, "show: which run?");
    BNBENCH(&r, "export", "1", "--format", "xml", "--db", dbpath);
    expect_usage(&r, "--format must be json, csv or run, got \"xml\"");
    BNBENCH(&r, "export", "1", "--format");
    expect_usage(&r, "bnbench export: option '--format' needs a value");
    BNBENCH(&r, "db", "vacuum", "--db", dbpath);
    expect_usage(&r, "db: unknown subcommand \"vacuum\"");
    BNBENCH(&r, "help", "nope");
    expect_usage(&r, "help: unknown command \"nope\"");
    setenv("BN_KERNELS", "avx3", 1); /* inherited by the spawned bnbench */
    BNBENCH(&r, "runs", "--db", dbpath);
    unsetenv("BN_KERNELS");
    expect_usage(&r, "BN_KERNELS=avx3: unknown kernel set (valid: ref, avx2, avx512)");
    cr_assert_not(exists(dbpath), "a usage error created the DB");
    setenv("BN_THREADS", "4x", 1); /* the pool would start with its default size */
    BNBENCH(&r, "runs", "--db", dbpath);
    unsetenv("BN_THREADS");
    expect_usage(&r, "BN_THREADS=\"4x\": not a thread count (need an integer from 1 to 256)");
    cr_assert_not(exists(dbpath), "a usage error created the DB");
}

/* ---- DB errors ------------------------------------------------------------------ */

Test(cli, missing_and_unusable_db_paths)
{
    result r;
    BNBENCH(&r, "runs", "--db", dbpath);
    char want[256];
    snprintf(want, sizeof want, "bnbench runs: DB %s: no such file\n", dbpath);
    expect_usage(&r, NULL);
    cr_assert_str_eq(r.err, want);
    cr_assert_not(exists(dbpath));
    BNBENCH(&r, "--db", "/nonexistent-bnb-dir/x.db", "show", "latest");
    expect_usage(&r, "DB /nonexistent-bnb-dir/x.db: no such file");
    BNBENCH(&r, "db", "check", "--db", dir);
    expect_usage(&r, "is a directory");
}

/* Every command refuses a DB from a newer schema and leaves it as it was. */
Test(cli, newer_schema_db_is_refused_untouched)
{
    build_db();
    raw_exec(dbpath, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99");
    size_t n0, n1;
    unsigned char *before = slurp(dbpath, &n0);
    /* the same message from every command, with the command's prefix */
    static const char *const cmds[] = {"runs", "show", "export", "db", "run"};
    char want[5][256];
    for (int i = 0; i < 5; i++)
        snprintf(want[i], sizeof want[i],
                 "bnbench %s: DB %s was written by a newer bnbench (schema 99, this build knows "
                 "%d)\n",
                 cmds[i], dbpath, BNB_DB_SCHEMA_VERSION);
    result r;
    BNBENCH(&r, "runs", "--db", dbpath);
    expect_usage(&r, NULL);
    cr_assert_str_eq(r.err, want[0]);
    BNBENCH(&r, "--db", dbpath, "show", "latest");
    cr_assert_str_eq(r.err, want[1]);
    BNBENCH(&r, "export", "latest", "--db", dbpath);
    cr_assert_str_eq(r.err, want[2]);
    BNBENCH(&r, "db", "check", "--db", dbpath);
    cr_assert_str_eq(r.err, want[3]);
    cr_assert_eq(r.code, 2);
    BNBENCH(&r, "run", "--db", dbpath, "--suite", "peak", "--case", "timer", "--repetitions", "3",
            "--quick", "--quiet");
    expect_usage(&r, NULL);
    cr_assert_str_eq(r.err, want[4]);
    unsigned char *after = slurp(dbpath, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_eq(memcmp(before, after, n0), 0, "the DB file changed");
    free(before);
    free(after);
}

Test(cli, non_sqlite_file_is_refused_untouched)
{
    FILE *f = fopen(dbpath, "w");
    fputs("not a database\n", f);
    fclose(f);
    result r;
    BNBENCH(&r, "runs", "--db", dbpath);
    expect_usage(&r, "not a SQLite database");
    BNBENCH(&r, "run", "--db", dbpath, "--suite", "peak", "--case", "timer", "--quick", "--quiet");
    expect_usage(&r, "not a SQLite database");
    char buf[64];
    fx_read(dbpath, buf, sizeof buf);
    cr_assert_str_eq(buf, "not a database\n");
}

/* ---- run: errors write nothing ------------------------------------------------------ */

/* Runs bnbench run with the given args (plus --db, --quick, --quiet) against
 * both a fresh path and an existing DB; each must fail with exit 2 and one
 * line, create nothing and change nothing. */
static void expect_run_refused(const char *needle, const char *const *args)
{
    result r;
    const char *argv[32] = {"run", "--quick", "--quiet", "--db", dbpath};
    int n = 5;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fx_spawn(&r, dir, argv);
    expect_usage(&r, needle);
    cr_assert_not(exists(dbpath), "a refused run created %s", dbpath);

    build_db();
    raw_exec(dbpath, "PRAGMA journal_mode = DELETE");
    size_t n0, n1;
    unsigned char *before = slurp(dbpath, &n0);
    fx_spawn(&r, dir, argv);
    expect_usage(&r, needle);
    unsigned char *after = slurp(dbpath, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_eq(memcmp(before, after, n0), 0, "a refused run changed the DB");
    free(before);
    free(after);
    unlink(dbpath);
}

Test(cli, run_refuses_malformed_targets_file)
{
    char tp[160];
    snprintf(tp, sizeof tp, "%s/t.json", dir);
    FILE *f = fopen(tp, "w");
    fputs("{\"version\": 1, \"targets\": [{\"id\": \"x\", \"figure\": \"peak/fma/avx2:gflops\", "
          "\"op\": \"=>\", \"threshold\": 1}]}",
          f);
    fclose(f);
    char want[256];
    snprintf(want, sizeof want, "targets file %s: target 1 (x): \"op\" must be \">=\" or \"<=\"",
             tp);
    const char *const args[] = {"--suite", "peak", "--targets", tp, NULL};
    expect_run_refused(want, args);
}

Test(cli, run_refuses_unknown_suite)
{
    const char *const args[] = {"--suite", "nosuchsuite", NULL};
    expect_run_refused("nosuchsuite", args);
}

Test(cli, run_refuses_unknown_case)
{
    const char *const args[] = {"--suite", "peak", "--case", "^no-such-case$", NULL};
    expect_run_refused("no-such-case", args);
}

Test(cli, run_refuses_non_numeric_repetitions)
{
    const char *const args[] = {"--suite", "peak", "--repetitions", "ten", NULL};
    expect_run_refused("\"ten\"", args);
    const char *const args2[] = {"--suite", "peak", "--repetitions", "3x", NULL};
    expect_run_refused("\"3x\"", args2);
}

Test(cli, run_refuses_unwritable_db_path)
{
    result r;
    BNBENCH(&r, "run", "--quick", "--quiet", "--suite", "peak", "--db",
            "/nonexistent-bnb-dir/sub/x.db");
    expect_usage(&r, "DB /nonexistent-bnb-dir/sub/x.db: cannot create");
    char p[160];
    snprintf(p, sizeof p, "%s/plain", dir); /* the parent is a regular file */
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/plain/x.db", dir);
    BNBENCH(&r, "run", "--quick", "--quiet", "--suite", "peak", "--db", p);
    expect_usage(&r, "cannot create");
}

/* ---- run: stores what it measured ---------------------------------------------------- */

static int64_t q_int(const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(dbpath, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

Test(cli, run_stores_a_complete_run)
{
    result r;
    char cpu[16], want[64];
    int last = test_last_cpu(); /* 1 on two CPUs; one this process may use */
    snprintf(cpu, sizeof cpu, "%d", last);
    snprintf(want, sizeof want, "SELECT json_extract(binding, '$.cpus') = '[%d]' FROM runs", last);
    BNBENCH(&r, "--db", dbpath, "run", "--suite", "peak", "--case", "timer", "--repetitions", "3",
            "--quick", "--quiet", "--cpus", cpu, "--machine", "cli-test-box", "--reason", "pr");
    cr_assert(r.code == 0 || r.code == 1, "exit %d: %s", r.code, r.err);
    cr_assert_eq(q_int("SELECT count(*) FROM runs"), 1);
    cr_assert_eq(q_int("SELECT count(*) FROM runs WHERE status = 'complete' AND reason = 'pr' "
                       "AND finished_at IS NOT NULL"),
                 1);
    cr_assert_eq(q_int("SELECT count(*) FROM machines WHERE name = 'cli-test-box'"), 1);
    cr_assert_eq(q_int(want), 1, "binding read back is not {%d}", last);
    int64_t ncases = q_int("SELECT count(*) FROM cases");
    cr_assert_gt(ncases, 0);
    cr_assert_eq(q_int("SELECT count(*) FROM cases WHERE full_name NOT LIKE 'peak/%timer%'"), 0);
    cr_assert_eq(q_int("SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id "
                       "WHERE c.status = 'ok'"),
                 3 * q_int("SELECT count(*) FROM cases WHERE status = 'ok'"));
    bnb_target_set ts;
    char terr[256];
    cr_assert_eq(bnb_targets_load("suites/targets.json", &ts, terr, sizeof terr), 0, "%s", terr);
    cr_assert_eq(q_int("SELECT count(*) FROM verdicts"), ts.n,
                 "every default target has a verdict");
    bnb_targets_free(&ts);
    cr_assert_eq(q_int("SELECT count(*) FROM verdicts WHERE verdict = 'met'"), 0,
                 "no default target is measured by the timer cases");
    BNBENCH(&r, "db", "check", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
}

/* ---- store commands -------------------------------------------------------------- */

Test(cli, runs_and_show)
{
    build_db();
    result r;
    BNBENCH(&r, "runs", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "    1  0123abcd  cli-box "), "%s", r.out);
    cr_assert(strstr(r.out, "2025-03-04T05:06:07Z      complete     pr           2       1"), "%s",
              r.out);
    BNBENCH(&r, "--db", dbpath, "show", "0123abcd");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "run 1  uuid 0123abcd-0000-4000-8000-000000000000"), "%s", r.out);
    cr_assert(strstr(r.out, "peak/fma/avx2"), "%s", r.out);
    cr_assert(strstr(r.out, "2.5 ms  [2 ms, 3 ms]"), "median and CI: %s", r.out);
    cr_assert(strstr(r.out, " 20.00%"), "CV: %s", r.out);
    cr_assert(strstr(r.out, "matmul/engine/sgemm                           failed   wrong answer "
                            "at [0,0]"),
              "%s", r.out);
    cr_assert(strstr(r.out, "  fma                  missed          64 < 100"), "%s", r.out);
    BNBENCH(&r, "--db", dbpath, "show", "7");
    expect_usage(&r, "no run with id 7");
}

Test(cli, export_json_and_csv)
{
    build_db();
    result r;
    BNBENCH(&r, "export", "latest", "--format", "json", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *root = cJSON_Parse(r.out);
    cr_assert_not_null(root, "not JSON: %.200s", r.out);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(root, "context")));
    const cJSON *rows = cJSON_GetObjectItem(root, "benchmarks");
    cr_assert(cJSON_IsArray(rows));
    cr_assert_eq(cJSON_GetArraySize(rows), 3 + 5 + 1);
    int aggregates = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(row, "name")));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(row, "run_type")));
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(row, "real_time")));
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(row, "iterations")));
        cr_assert_str_eq(cJSON_GetObjectItem(row, "time_unit")->valuestring, "ns");
        if (!strcmp(cJSON_GetObjectItem(row, "run_type")->valuestring, "aggregate")) {
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(row, "aggregate_name")));
            aggregates++;
        }
    }
    cr_assert_eq(aggregates, 5);
    const cJSON *first = cJSON_GetArrayItem(rows, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(first, "real_time")->valuedouble, 2e6, 1e-6);
    cr_assert_eq(cJSON_GetObjectItem(first, "iterations")->valuedouble, 100);
    cJSON_Delete(root);

    char csv[160];
    snprintf(csv, sizeof csv, "%s/out.csv", dir);
    BNBENCH(&r, "export", "1", "--format", "csv", "-o", csv, "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "");
    char buf[2048];
    fx_read(csv, buf, sizeof buf);
    cr_assert_str_eq(buf, "run_id,run_uuid,machine,suite,case,params,full_name,status,iterations,"
                          "sample_index,seconds,outlier\n"
                          "1,0123abcd-0000-4000-8000-000000000000,cli-box,peak,fma/avx2,{},peak/"
                          "fma/avx2,ok,100,0,0.002,0\n"
                          "1,0123abcd-0000-4000-8000-000000000000,cli-box,peak,fma/avx2,{},peak/"
                          "fma/avx2,ok,100,1,0.0025,0\n"
                          "1,0123abcd-0000-4000-8000-000000000000,cli-box,peak,fma/avx2,{},peak/"
                          "fma/avx2,ok,100,2,0.003,0\n"
                          "1,0123abcd-0000-4000-8000-000000000000,cli-box,matmul,engine/sgemm,{},"
                          "matmul/engine/sgemm,failed,0,,,\n");
    BNBENCH(&r, "export", "nosuch", "--db", dbpath);
    expect_usage(&r, "no run \"nosuch\"");
}

Test(cli, db_check)
{
    build_db();
    result r;
    BNBENCH(&r, "db", "check", "--db", dbpath);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char want[256];
    snprintf(want, sizeof want, "%s: ok (integrity check and foreign key check passed)\n", dbpath);
    cr_assert_str_eq(r.out, want);
    raw_exec(dbpath, "PRAGMA foreign_keys = OFF; INSERT INTO samples (case_id, idx, seconds) "
                     "VALUES (555, 0, 1.0)");
    BNBENCH(&r, "db", "check", "--db", dbpath);
    cr_assert_eq(r.code, 1, "a problem found is exit 1: %s", r.err);
    cr_assert(strstr(r.err, "foreign key check: row"), "%s", r.err);
}
