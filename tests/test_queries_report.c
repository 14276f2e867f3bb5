/*
 * test_queries_report.c - the report's DB queries (db/query.c):
 * bnb_db_newest_baseline_on_machine picks the newest baseline of the run's
 * machine, never the run itself nor another machine's; says "none" (1)
 * when there is none; refuses a name that does not fit; and turns a SQLite
 * failure into -1 with the DB path and SQLite's reason.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/internal.h"
#include "report_fixture.h"

static char path[128];
static bnb_db *db;
static int64_t m1a, m1b, m1c, m2a;

/* A DB of its own per test (each runs in its own process). */
static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/bnb-test-qrep-%d.db", (int)getpid());
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    m1a = fx_run(db, "m1", "2026-01-01T00:00:00Z", "nightly", NULL);
    m1b = fx_run(db, "m1", "2026-01-02T00:00:00Z", "nightly", NULL);
    m1c = fx_run(db, "m1", "2026-01-03T00:00:00Z", "nightly", NULL);
    m2a = fx_run(db, "m2", "2026-01-04T00:00:00Z", "nightly", NULL);
}

static void teardown(void)
{
    bnb_db_close(db);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[160];
        snprintf(f, sizeof f, "%s%s", path, suffix[i]);
        unlink(f);
    }
}

TestSuite(queries_report, .init = setup, .fini = teardown, .timeout = 30);

static void set_baseline(const char *name, int64_t run)
{
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_set_baseline(db, name, run, err), 0, "%s", err);
}

/* Calls the query; returns its result, name and run in the outs. */
static int newest(int64_t run, char *name, size_t cap, int64_t *base, char *err)
{
    strcpy(name, "unset");
    *base = -7;
    return bnb_db_newest_baseline_on_machine(db, run, name, cap, base, err);
}

Test(queries_report, none_when_no_baseline)
{
    char name[64], err[BNB_ERR_MAX];
    int64_t base;
    cr_assert_eq(newest(m1b, name, sizeof name, &base, err), 1);
    cr_assert_str_eq(name, "unset", "name untouched when there is none");
    cr_assert_eq(base, -7);
}

Test(queries_report, newest_of_the_same_machine)
{
    char name[64], err[BNB_ERR_MAX];
    int64_t base;
    set_baseline("first", m1a);
    cr_assert_eq(newest(m1c, name, sizeof name, &base, err), 0, "%s", err);
    cr_assert_str_eq(name, "first");
    cr_assert_eq(base, m1a);
    set_baseline("second", m1b); /* created later: newer */
    cr_assert_eq(newest(m1c, name, sizeof name, &base, err), 0, "%s", err);
    cr_assert_str_eq(name, "second");
    cr_assert_eq(base, m1b);
    /* m2's run sees no baseline: both are on m1 */
    cr_assert_eq(newest(m2a, name, sizeof name, &base, err), 1);
    /* a run that does not exist has no machine, so no baseline */
    cr_assert_eq(newest(9999, name, sizeof name, &base, err), 1);
}

Test(queries_report, never_the_run_itself)
{
    char name[64], err[BNB_ERR_MAX];
    int64_t base;
    set_baseline("first", m1a);
    set_baseline("self", m1b);
    /* for m1b the newest baseline is its own: skipped, the older one wins */
    cr_assert_eq(newest(m1b, name, sizeof name, &base, err), 0, "%s", err);
    cr_assert_str_eq(name, "first");
    cr_assert_eq(base, m1a);
    /* for m1a the only other baseline is m1b's */
    cr_assert_eq(newest(m1a, name, sizeof name, &base, err), 0, "%s", err);
    cr_assert_str_eq(name, "self");
    cr_assert_eq(base, m1b);
}

Test(queries_report, name_that_does_not_fit)
{
    char name[64], err[BNB_ERR_MAX] = "";
    int64_t base;
    set_baseline("a-long-baseline-name", m1a); /* 20 bytes */
    cr_assert_eq(newest(m1b, name, 20, &base, err), -1);
    cr_assert(strstr(err, "is 20 bytes, longer than the 19 allowed"), "%s", err);
    cr_assert(strstr(err, path), "names the DB: %s", err);
    cr_assert_eq(base, -7, "nothing returned on error");
    cr_assert_eq(newest(m1b, name, 21, &base, err), 0, "%s", err);
    cr_assert_str_eq(name, "a-long-baseline-name");
}

Test(queries_report, sqlite_error_is_reported)
{
    char name[64], err[BNB_ERR_MAX] = "";
    int64_t base;
    cr_assert_eq(sqlite3_exec(bnb_db__sqlite(db), "DROP TABLE baselines", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(newest(m1b, name, sizeof name, &base, err), -1);
    cr_assert(strstr(err, path), "names the DB: %s", err);
    cr_assert(strstr(err, "no such table: baselines"), "SQLite's reason: %s", err);
    cr_assert_eq(newest(m1b, name, sizeof name, &base, NULL), -1, "err may be NULL");
}
