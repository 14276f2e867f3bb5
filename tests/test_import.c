/*
 * test_import.c - `bnbench import` through the real binary: run documents
 * (export --format run) and other DBs merged into one DB, idempotent by
 * UUID (importing twice stores nothing new), a conflicting UUID is exit 1
 * and left alone, a running run is skipped, and a bad file (unreadable, not
 * JSON, truncated, another schema version, an unknown file) is exit 2 naming
 * the file and the problem with nothing stored, not even the DB created.
 * Acceptance of the fleet issue: two DBs planted for machines a and b,
 * imported both ways (a into b's DB, b into a's, and both as documents into
 * a third), then `bnbench compare --machine a --machine b` shows the two
 * side by side with the planted verdicts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "report_fixture.h"

static char dir[64];
static char pa[128], pb[128], pc[128];

/* A DB of machine m with one complete run (started at start): "same" equal
 * in both machines, "slower" 20% slower on b, "faster" 20% faster on b. */
static void plant(const char *path, const char *m, const char *start, bool is_b)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    int64_t run = fx_run(db, m, start, "nightly", NULL);
    fx_simple(db, run, "same", 15, 1e-3, 0.02, is_b ? 0.5 : 0);
    fx_simple(db, run, "slower", 15, is_b ? 1.2e-3 : 1e-3, 0.02, 0);
    fx_simple(db, run, "faster", 15, is_b ? 0.8e-3 : 1e-3, 0.02, 0);
    fx_end(db, run);
    bnb_db_close(db);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-import-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(pa, sizeof pa, "%s/a.db", dir);
    snprintf(pb, sizeof pb, "%s/b.db", dir);
    snprintf(pc, sizeof pc, "%s/c.db", dir);
    plant(pa, "a", "2026-01-01T00:00:00Z", false);
    plant(pb, "b", "2026-01-02T00:00:00Z", true);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(import, .init = setup, .fini = teardown, .timeout = 120);

static int count_runs(const char *path)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 1, &db, err), 0, "%s", err);
    bnb_run_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_runs(db, 0, &rows, &n, err), 0, "%s", err);
    free(rows);
    bnb_db_close(db);
    return n;
}

static void expect(const fx_result *r, int code, const char *out, const char *err)
{
    cr_assert_eq(r->code, code, "exit %d, wanted %d; stdout: %s; stderr: %s", r->code, code, r->out,
                 r->err);
    if (out)
        cr_assert_not_null(strstr(r->out, out), "stdout lacks \"%s\": %s", out, r->out);
    if (err)
        cr_assert_not_null(strstr(r->err, err), "stderr lacks \"%s\": %s", err, r->err);
}

/* The run of db as a document in file. */
static void export_doc(const char *db, const char *file)
{
    fx_result r;
    FX_BNBENCH(&r, dir, "export", "latest", "--format", "run", "-o", file, "--db", db);
    expect(&r, 0, NULL, NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void spit(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

Test(import, help_and_usage)
{
    fx_result r;
    FX_BNBENCH(&r, dir, "import", "--help");
    expect(&r, 0, "usage: bnbench import [--db PATH] FILE...", NULL);
    cr_assert_not_null(strstr(r.out, "imported N runs (M already stored, K conflicts) from FILE"));
    FX_BNBENCH(&r, dir, "import", "--db", pc);
    expect(&r, 2, NULL, "bnbench import: which files?");
    FX_BNBENCH(&r, dir, "--help");
    expect(&r, 0, "import FILE...", NULL);
    cr_assert_eq(access(pc, F_OK), -1, "the DB was created");
}

Test(import, documents_and_dbs_import_once)
{
    char doc[160], doc2[160];
    snprintf(doc, sizeof doc, "%s/a.json", dir);
    snprintf(doc2, sizeof doc2, "%s/a2.json", dir);
    export_doc(pa, doc);
    char *text = slurp(doc);
    cr_assert_eq(strncmp(text, "{\"schema\":\"bnbench.run\",\"schema_version\":1,", 42), 0);
    free(text);

    fx_result r;
    char line[256];
    FX_BNBENCH(&r, dir, "import", doc, "--db", pc);
    snprintf(line, sizeof line, "imported 1 run (0 already stored, 0 conflicts) from %s\n", doc);
    expect(&r, 0, line, NULL);
    cr_assert_eq(count_runs(pc), 1);
    FX_BNBENCH(&r, dir, "import", doc, "--db", pc);
    snprintf(line, sizeof line, "imported 0 runs (1 already stored, 0 conflicts) from %s\n", doc);
    expect(&r, 0, line, NULL);
    /* the DB it came from: the same run, already stored */
    FX_BNBENCH(&r, dir, "import", pa, "--db", pc);
    snprintf(line, sizeof line, "imported 0 runs (1 already stored, 0 conflicts) from %s\n", pa);
    expect(&r, 0, line, NULL);
    cr_assert_eq(count_runs(pc), 1);

    /* exported again from the importing DB: the same document, byte for byte */
    export_doc(pc, doc2);
    char *t1 = slurp(doc), *t2 = slurp(doc2);
    cr_assert_str_eq(t1, t2);
    free(t1);
    free(t2);

    /* several files at once; a DB file and its document together */
    FX_BNBENCH(&r, dir, "import", pb, doc, pb, "--db", pc);
    snprintf(line, sizeof line, "imported 1 run (0 already stored, 0 conflicts) from %s\n", pb);
    expect(&r, 0, line, NULL);
    snprintf(line, sizeof line, "imported 0 runs (1 already stored, 0 conflicts) from %s\n", pb);
    expect(&r, 0, line, NULL);
    cr_assert_eq(count_runs(pc), 2);
    char err[BNB_ERR_MAX];
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(pc, 1, &db, err), 0, "%s", err);
    cr_assert_eq(bnb_db_check(db, err), 0, "%s", err);
    bnb_db_close(db);
}

/* compare --machine X --machine Y in db: both runs side by side, the
 * planted verdicts. */
static void expect_compare(const char *db, const char *x, const char *y)
{
    fx_result r;
    FX_BNBENCH(&r, dir, "compare", "--machine", x, "--machine", y, "--db", db);
    expect(&r, 0, NULL, NULL);
    char la[32], lb[32];
    snprintf(la, sizeof la, "(%s)", x);
    snprintf(lb, sizeof lb, "(%s)", y);
    cr_assert_not_null(strstr(r.out, la), "%s", r.out);
    cr_assert_not_null(strstr(r.out, lb), "%s", r.out);
    bool a_first = !strcmp(x, "a");
    const char *lines[][2] = {{"plant/same", "no change"},
                              {"plant/slower", a_first ? "slower" : "faster"},
                              {"plant/faster", a_first ? "faster" : "slower"}};
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(r.out, lines[i][0]);
        cr_assert_not_null(p, "no row %s: %s", lines[i][0], r.out);
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char row[512];
        snprintf(row, sizeof row, "%.*s", (int)n, p);
        cr_assert_not_null(strstr(row, lines[i][1]), "row \"%s\" is not \"%s\"", row, lines[i][1]);
    }
}

Test(import, compare_across_machines_both_ways)
{
    fx_result r;
    /* b's DB into a's, and a's into b's */
    FX_BNBENCH(&r, dir, "import", pb, "--db", pa);
    expect(&r, 0, "imported 1 run (0 already stored, 0 conflicts)", NULL);
    FX_BNBENCH(&r, dir, "import", pa, "--db", pb);
    expect(&r, 0, "imported 1 run (1 already stored, 0 conflicts)", NULL);
    expect_compare(pa, "a", "b");
    expect_compare(pa, "b", "a");
    expect_compare(pb, "a", "b");
    expect_compare(pb, "b", "a");

    /* as documents into a new DB, b first */
    char da[160], db_[160];
    snprintf(da, sizeof da, "%s/a.json", dir);
    snprintf(db_, sizeof db_, "%s/b.json", dir);
    FX_BNBENCH(&r, dir, "export", "latest", "--format", "run", "-o", da, "--db", pa);
    expect(&r, 0, NULL, NULL);
    /* latest of a's DB is now b's run (the newer one): pick each machine's run by uuid */
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(pa, 1, &db, err), 0, "%s", err);
    int64_t ia = 0, ib = 0;
    cr_assert_eq(bnb_db_latest_run(db, "a", false, &ia, NULL, err), 0, "%s", err);
    cr_assert_eq(bnb_db_latest_run(db, "b", false, &ib, NULL, err), 0, "%s", err);
    bnb_db_close(db);
    char sa[24], sb[24];
    snprintf(sa, sizeof sa, "%lld", (long long)ia);
    snprintf(sb, sizeof sb, "%lld", (long long)ib);
    FX_BNBENCH(&r, dir, "export", sa, "--format", "run", "-o", da, "--db", pa);
    expect(&r, 0, NULL, NULL);
    FX_BNBENCH(&r, dir, "export", sb, "--format", "run", "-o", db_, "--db", pa);
    expect(&r, 0, NULL, NULL);
    FX_BNBENCH(&r, dir, "import", db_, da, "--db", pc);
    expect(&r, 0, "imported 1 run (0 already stored, 0 conflicts) from", NULL);
    cr_assert_eq(count_runs(pc), 2);
    expect_compare(pc, "a", "b");
    expect_compare(pc, "b", "a");
}

Test(import, conflict_is_exit_1_and_left_alone)
{
    char doc[160], moved[160];
    snprintf(doc, sizeof doc, "%s/a.json", dir);
    snprintf(moved, sizeof moved, "%s/moved.json", dir);
    export_doc(pa, doc);
    char *text = slurp(doc);
    char *p = strstr(text, "\"started_at\":\"2026-01-01T00:00:00Z\"");
    cr_assert_not_null(p);
    memcpy(p, "\"started_at\":\"2026-01-01T00:00:09Z\"", 35);
    spit(moved, text, strlen(text));
    free(text);
    fx_result r;
    FX_BNBENCH(&r, dir, "import", doc, "--db", pc);
    expect(&r, 0, NULL, NULL);
    FX_BNBENCH(&r, dir, "import", moved, "--db", pc);
    char line[256];
    snprintf(line, sizeof line, "imported 0 runs (0 already stored, 1 conflict) from %s\n", moved);
    expect(&r, 1, line, "conflicts with run 1 of this DB: the same UUID with another machine");
    cr_assert_eq(count_runs(pc), 1);
}

Test(import, running_runs_are_skipped)
{
    bnb_db *db = NULL;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(pa, 0, &db, err), 0, "%s", err);
    int64_t run = fx_run(db, "a", "2026-01-05T00:00:00Z", "manual", NULL);
    fx_simple(db, run, "same", 15, 1e-3, 0.02, 0);
    bnb_db_close(db);
    fx_result r;
    FX_BNBENCH(&r, dir, "import", pa, "--db", pc);
    expect(&r, 0, "imported 1 run (0 already stored, 0 conflicts)", "1 run still running");
    cr_assert_eq(count_runs(pc), 1);
}

Test(import, bad_files_store_nothing)
{
    char good[160], bad[160], path[160];
    snprintf(good, sizeof good, "%s/good.json", dir);
    export_doc(pa, good);
    char *text = slurp(good);
    size_t n = strlen(text);
    fx_result r;
    struct {
        const char *name, *content, *want;
        size_t len;
    } cases[] = {
        {"notjson.json", "hello", "not a run document: malformed JSON at byte 0", 5},
        {"truncated.json", text, "not a run document: truncated JSON", n / 3},
        {"empty.json", "", "not a run document: empty document", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s/%s", dir, cases[i].name);
        spit(bad, cases[i].content, cases[i].len);
        FX_BNBENCH(&r, dir, "import", good, bad, "--db", pc);
        char want[256];
        snprintf(want, sizeof want, "bnbench import: %s: %s", bad, cases[i].want);
        expect(&r, 2, NULL, want);
        cr_assert_not_null(strstr(r.err, "nothing imported"), "%s", r.err);
        cr_assert_eq(access(pc, F_OK), -1, "the DB was created for %s", cases[i].name);
    }
    /* another schema version */
    char *v2 = strstr(text, "\"schema_version\":1");
    cr_assert_not_null(v2);
    v2[17] = '2';
    snprintf(bad, sizeof bad, "%s/v2.json", dir);
    spit(bad, text, n);
    FX_BNBENCH(&r, dir, "import", bad, "--db", pc);
    expect(&r, 2, NULL, "schema_version: 2 is not supported (this bnbench reads 1)");
    /* a missing file, a directory */
    snprintf(path, sizeof path, "%s/absent.json", dir);
    FX_BNBENCH(&r, dir, "import", path, "--db", pc);
    expect(&r, 2, NULL, "absent.json: cannot open: No such file or directory");
    FX_BNBENCH(&r, dir, "import", dir, "--db", pc);
    expect(&r, 2, NULL, "not a regular file");
    cr_assert_eq(access(pc, F_OK), -1);

    /* an existing DB is left as it was */
    FX_BNBENCH(&r, dir, "import", pb, "--db", pc);
    expect(&r, 0, NULL, NULL);
    FX_BNBENCH(&r, dir, "import", good, bad, "--db", pc);
    expect(&r, 2, NULL, "v2.json: not a run document: schema_version: 2");
    cr_assert_eq(count_runs(pc), 1);
    free(text);
}

Test(import, a_measured_run_round_trips_byte_for_byte)
{
    /* a real run of two short cases, measured by the binary */
    char real[160], d1[160], d2[160];
    snprintf(real, sizeof real, "%s/real.db", dir);
    snprintf(d1, sizeof d1, "%s/real1.json", dir);
    snprintf(d2, sizeof d2, "%s/real2.json", dir);
    fx_result r;
    FX_BNBENCH(&r, dir, "run", "--quick", "--quiet", "--case", "peak/timer", "--machine",
               "measured", "--db", real);
    cr_assert(r.code == 0 || r.code == 1, "run: exit %d: %s", r.code, r.err);
    export_doc(real, d1);
    FX_BNBENCH(&r, dir, "import", d1, "--db", pc);
    expect(&r, 0, "imported 1 run (0 already stored, 0 conflicts)", NULL);
    export_doc(pc, d2);
    char *t1 = slurp(d1), *t2 = slurp(d2);
    cr_assert_str_eq(t1, t2, "the document differs after import");
    cr_assert_not_null(strstr(t1, "\"full_name\":\"peak/timer/clock_gettime\""));
    cr_assert_not_null(strstr(t1, "\"name\":\"measured\""));
    free(t1);
    free(t2);
    /* and the run reads back: show names both cases */
    FX_BNBENCH(&r, dir, "show", "latest", "--db", pc);
    expect(&r, 0, "peak/timer/rdtsc", NULL);
}
