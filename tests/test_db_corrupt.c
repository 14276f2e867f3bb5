/*
 * test_db_corrupt.c - the read side of the store under damage and odd
 * places: every read command on a DB with one damaged b-tree page, on a DB
 * in a read-only directory, on a missing path, and "latest" next to runs
 * that are not complete.
 *
 * The damaged DBs are copies of one synthetic DB (bnbench _gen-db, plus a
 * baseline) with the root page of one table or index overwritten by fixed
 * pseudo-random bytes. Each read command must either
 * fail (exit 2; 1 for `db check`, whose documented answer to a damaged DB
 * is 1) with a message naming the DB and SQLite's error, or print exactly
 * what it prints for the undamaged DB: never a shorter or different answer
 * with the exit code of success.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "report_fixture.h"

static char dir[64];
static char pristine[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-corrupt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(pristine, sizeof pristine, "%s/pristine.db", dir);
}

static void teardown(void)
{
    char cmd[160], ro[128];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    umount2(ro, MNT_DETACH); /* the read-only mount of one test; fails elsewhere */
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(dbread, .init = setup, .fini = teardown, .timeout = 240);

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void sql(const char *path, const char *text)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, text, NULL, NULL, &msg), SQLITE_OK, "%s: %s", text, msg);
    sqlite3_close(h);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    cr_assert(a && b, "%s -> %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, b), n);
    fclose(a);
    cr_assert_eq(fclose(b), 0);
}

/* 30 synthetic complete runs, baseline "ref" = run 1, one self-contained
 * file (rollback journal, so a copy of the file is the whole DB). */
static void make_pristine(fx_result *r)
{
    char runs[] = "30";
    FX_BNBENCH(r, dir, "_gen-db", "--runs", runs, "-o", pristine);
    cr_assert_eq(r->code, 0, "%s", r->err);
    FX_BNBENCH(r, dir, "baseline", "set", "ref", "1", "--db", pristine);
    cr_assert_eq(r->code, 0, "%s", r->err);
    sql(pristine, "PRAGMA journal_mode = DELETE");
}

/* The read commands, DB path last (filled in per call). */
#define NCMD 13
static const char *const cmds[NCMD][8] = {
    {"runs", "--db"},
    {"show", "latest", "--db"},
    {"show", "7", "--db"},
    {"export", "latest", "--format", "json", "--db"},
    {"export", "3", "--format", "csv", "--db"},
    {"report", "--db"},
    {"report", "2", "--format", "json", "--db"},
    {"compare", "1", "latest", "--db"},
    {"check", "--baseline", "ref", "--no-rerun", "--db"},
    {"history", "peak/fma/avx512:gflops", "--db"},
    {"history", "matmul/engine/sgemm/n=1024", "--db"},
    {"baseline", "list", "--db"},
    {"db", "check", "--db"},
};

static void run_cmd(fx_result *r, int c, const char *db)
{
    const char *a[10];
    int n = 0;
    for (; cmds[c][n]; n++)
        a[n] = cmds[c][n];
    a[n++] = db;
    a[n] = NULL;
    fx_spawn(r, dir, a);
}

/* Replaces each occurrence of path in text by "<DB>" (db check prints the path). */
static void unpath(char *text, const char *path)
{
    size_t n = strlen(path);
    char *p;
    while ((p = strstr(text, path))) {
        memcpy(p, "<DB>", 4);
        memmove(p + 4, p + n, strlen(p + n) + 1);
    }
}

static void cmd_name(int c, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = 0; cmds[c][i] && strcmp(cmds[c][i], "--db"); i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? " " : "", cmds[c][i]);
}

/* Overwrites page `page` of path, b-tree header included, with bytes of a
 * fixed xorshift sequence (seeded by the page number). Damage that leaves
 * the header alone can decode as a valid page with other rows, which SQLite
 * cannot tell from data; a garbage header is what it reports as corrupt. */
static void damage_page(const char *path, int64_t page, int64_t page_size)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)((page - 1) * page_size), SEEK_SET), 0);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)page;
    for (int64_t i = 0; i < page_size; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        fputc((int)(s & 0xff), f);
    }
    cr_assert_eq(fclose(f), 0);
}

Test(dbread, every_read_command_fails_loudly_or_answers_right_on_a_damaged_page)
{
    fx_result *r = malloc(sizeof *r);
    fx_result *want = malloc(NCMD * sizeof *want);
    cr_assert(r && want);
    make_pristine(r);
    for (int c = 0; c < NCMD; c++) {
        char name[128];
        cmd_name(c, name, sizeof name);
        run_cmd(&want[c], c, pristine);
        unpath(want[c].out, pristine);
        cr_assert_eq(want[c].code, 0, "%s on the undamaged DB: %s", name, want[c].err);
        cr_assert_gt(strlen(want[c].out), 0, "%s", name);
    }
    cr_assert(strstr(want[8].out, "check: ok"), "%s", want[8].out);

    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(pristine, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT name, rootpage, (SELECT page_size FROM "
                                    "pragma_page_size) FROM sqlite_schema WHERE rootpage > 1 "
                                    "ORDER BY rootpage",
                                    -1, &st, NULL),
                 SQLITE_OK);
    char names[32][64];
    int64_t roots[32], page_size = 0;
    int nt = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && nt < 32) {
        snprintf(names[nt], sizeof names[nt], "%s", sqlite3_column_text(st, 0));
        roots[nt] = sqlite3_column_int64(st, 1);
        page_size = sqlite3_column_int64(st, 2);
        nt++;
    }
    cr_assert_eq(s, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(h);
    cr_assert_geq(nt, 8, "the schema has at least the 8 tables");

    int failed_loudly = 0;
    for (int t = 0; t < nt; t++) {
        char bad[128];
        snprintf(bad, sizeof bad, "%s/damaged-%s.db", dir, names[t]);
        copy_file(pristine, bad);
        damage_page(bad, roots[t], page_size);
        for (int c = 0; c < NCMD; c++) {
            char name[128];
            cmd_name(c, name, sizeof name);
            run_cmd(r, c, bad);
            unpath(r->out, bad);
            if (r->code == 0) {
                cr_assert_str_eq(r->out, want[c].out,
                                 "%s on a DB with %s damaged: exit 0 with a different answer "
                                 "(stderr: %s)",
                                 name, names[t], r->err);
                continue;
            }
            failed_loudly++;
            int expect = !strcmp(cmds[c][0], "db") ? 1 : 2;
            cr_assert_eq(r->code, expect, "%s with %s damaged: exit %d; stderr: %s", name, names[t],
                         r->code, r->err);
            char dbname[160];
            snprintf(dbname, sizeof dbname, "DB %s", bad);
            cr_assert(strstr(r->err, dbname), "%s with %s damaged: the error names no DB: %s", name,
                      names[t], r->err);
            cr_assert(strstr(r->err, "malformed") || strstr(r->err, "integrity check") ||
                          strstr(r->err, "corrupt"),
                      "%s with %s damaged: the error is not SQLite's: %s", name, names[t], r->err);
            cr_assert_null(strstr(r->out, "check: ok"), "check said ok on a damaged DB");
        }
    }
    /* the damage is real: most commands must have met it */
    cr_assert_gt(failed_loudly, nt * 2, "only %d failures over %d damaged DBs", failed_loudly, nt);
    free(r);
    free(want);
}

/* ---- read-only places, missing paths ------------------------------------------- */

Test(dbread, read_commands_work_in_a_read_only_directory)
{
    fx_result *r = malloc(sizeof *r), *want = malloc(sizeof *want);
    cr_assert(r && want);
    make_pristine(r);
    sql(pristine, "PRAGMA journal_mode = WAL"); /* as bnbench leaves it; no -wal once closed */
    char pwal[160];
    snprintf(pwal, sizeof pwal, "%s-wal", pristine);
    cr_assert_not(exists(pwal));
    char ro[128], db[160], wal[168];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    snprintf(db, sizeof db, "%s/b.db", ro);
    snprintf(wal, sizeof wal, "%s-wal", db);
    cr_assert_eq(mkdir(ro, 0755), 0);
    if (geteuid() == 0) {
        /* root writes through chmod: make the directory a read-only mount,
         * in a mount namespace of this test process only */
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("bnbtest", ro, "tmpfs", 0, "size=16m") != 0)
            cr_skip_test("running as root without mount rights (%s): cannot make a read-only "
                         "directory root cannot write",
                         strerror(errno));
        copy_file(pristine, db);
        cr_assert_eq(mount(NULL, ro, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "%s", strerror(errno));
    } else {
        copy_file(pristine, db);
        cr_assert_eq(chmod(ro, 0555), 0);
    }
    cr_assert_neq(access(ro, W_OK), 0, "the directory is still writable");
    for (int c = 0; c < NCMD; c++) {
        char name[128];
        cmd_name(c, name, sizeof name);
        run_cmd(want, c, pristine);
        run_cmd(r, c, db);
        unpath(want->out, pristine);
        unpath(r->out, db);
        cr_assert_eq(r->code, 0, "%s in a read-only directory: exit %d: %s", name, r->code, r->err);
        cr_assert_str_eq(r->out, want->out, "%s", name);
    }
    cr_assert_not(exists(wal));
    free(r);
    free(want);
}

Test(dbread, read_commands_on_a_missing_db_create_nothing)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    char db[128];
    snprintf(db, sizeof db, "%s/none.db", dir);
    for (int c = 0; c < NCMD; c++) {
        char name[128];
        cmd_name(c, name, sizeof name);
        run_cmd(r, c, db);
        cr_assert_eq(r->code, 2, "%s on a missing DB: exit %d", name, r->code);
        char want[192];
        snprintf(want, sizeof want, "DB %s: no such file", db);
        cr_assert(strstr(r->err, want), "%s: %s", name, r->err);
        cr_assert_not(exists(db), "%s created %s", name, db);
    }
    free(r);
}

/* ---- latest and runs that are not complete ------------------------------------- */

Test(dbread, latest_skips_runs_that_are_not_complete_and_says_so)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    char path[128], err[BNB_ERR_MAX];
    snprintf(path, sizeof path, "%s/s.db", dir);
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    /* runs 1-4 complete, 5 interrupted, 6 running; each with the same case */
    int64_t ids[6];
    for (int i = 0; i < 6; i++) {
        char started[32];
        snprintf(started, sizeof started, "2026-02-0%dT10:00:00Z", i + 1);
        ids[i] = fx_run(db, "box", started, "nightly", NULL);
        fx_simple(db, ids[i], "k", 15, 1e-3 * (1 + 0.01 * i), 0.02, 0);
        if (i < 4)
            fx_end(db, ids[i]);
    }
    cr_assert_eq(bnb_db_end_run(db, ids[4], BNB_RUN_INTERRUPTED, err), 0, "%s", err);
    cr_assert_eq(bnb_db_set_baseline(db, "ref", ids[0], err), 0, "%s", err);

    char note[BNB_ERR_MAX];
    int64_t got = 0;
    cr_assert_eq(bnb_db_resolve(db, "latest", &got, note, err), 0, "%s", err);
    cr_assert_eq(got, ids[3]);
    static const char skip[] = "skipping run 6 (running), run 5 (interrupted): not complete; "
                               "name a run to use it";
    cr_assert_str_eq(note, skip);
    cr_assert_eq(bnb_db_resolve(db, "5", &got, note, err), 0, "%s", err);
    cr_assert_eq(got, ids[4], "a run named by id is used whatever its status");
    cr_assert_str_eq(note, "");
    cr_assert_eq(bnb_db_latest_run(db, "box", true, &got, note, err), 0, "%s", err);
    cr_assert_eq(got, ids[3]);
    bnb_hist_point *p = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_series(db, "plant/k", "median_s", -1, 0, 0, &p, &n, note, err), 0, "%s",
                 err);
    cr_assert_eq(n, 4, "the history has the 4 complete runs only");
    cr_assert_eq(p[3].run_id, ids[3]);
    cr_assert_str_eq(note, "leaving out run 6 (running), run 5 (interrupted): not complete");
    free(p);
    bnb_db_close(db);

    char line[160];
    snprintf(line, sizeof line, ": %s\n", skip); /* after "bnbench CMD" */
    FX_BNBENCH(r, dir, "show", "latest", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "run 4 "), "%s", r->out);
    cr_assert(strstr(r->err, line), "%s", r->err);
    FX_BNBENCH(r, dir, "show", "6", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "status running"), "%s", r->out);
    FX_BNBENCH(r, dir, "runs", "--db", path);
    cr_assert(strstr(r->out, "interrupted") && strstr(r->out, "running"), "runs lists all: %s",
              r->out);
    FX_BNBENCH(r, dir, "report", "--format", "json", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->err, line), "%s", r->err);
    FX_BNBENCH(r, dir, "compare", "1", "latest", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "run 4 (latest)"), "%s", r->out);
    cr_assert(strstr(r->err, line), "%s", r->err);
    FX_BNBENCH(r, dir, "compare", "--machine", "box", "--machine", "box", "--db", path);
    cr_assert(strstr(r->out, "run 4 (box)"), "%s", r->out);
    FX_BNBENCH(r, dir, "check", "--baseline", "ref", "--no-rerun", "--db", path);
    cr_assert(strstr(r->out, "check: latest run 4 against"), "%s", r->out);
    cr_assert(strstr(r->err, line), "%s", r->err);
    FX_BNBENCH(r, dir, "history", "plant/k", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "4 run(s)"), "%s", r->out);
    cr_assert(strstr(r->err, "bnbench history: leaving out run 6 (running), run 5 (interrupted)"),
              "%s", r->err);
    free(r);
}

/* ---- damaged JSON inside a record ------------------------------------------------ */

/* SQLite loads no CHECK constraint on a read-only connection, so its integrity
 * checks there pass a record whose JSON column was damaged in place (here:
 * written with the CHECKs switched off). Every command must refuse the DB,
 * naming the row and column, and the loader must refuse the run even on an
 * unchecked open: never read the column as absent (a report that lost the
 * warnings would score the run higher). */
Test(dbread, damaged_json_columns_are_named_never_read_as_absent)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    make_pristine(r);
    static const struct {
        const char *update, *db_check, *load;
    } cases[] = {
        {"UPDATE runs SET context = '{damaged', warnings = '[damaged' WHERE id = 2",
         "runs row 2: stored context is not valid JSON", "run 2: stored context is not valid JSON"},
        {"UPDATE runs SET warnings = '[\"a\",' WHERE id = 3",
         "runs row 3: stored warnings is not valid JSON",
         "run 3: stored warnings is not valid JSON"},
        {"UPDATE runs SET binding = '{\"cpus\":[1' WHERE id = 4",
         "runs row 4: stored binding is not valid JSON", "run 4: stored binding is not valid JSON"},
        {"UPDATE machines SET description = '{\"x\"' WHERE id = (SELECT machine_id FROM runs "
         "WHERE id = 5)",
         "machines row", "run 5: stored machine description is not valid JSON"},
        {"UPDATE cases SET params = '{\"n\":' WHERE id = 7",
         "cases row 7: stored params is not "
         "valid JSON",
         NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char bad[128];
        snprintf(bad, sizeof bad, "%s/json-%zu.db", dir, k);
        copy_file(pristine, bad);
        char upd[512];
        snprintf(upd, sizeof upd, "PRAGMA ignore_check_constraints = 1; %s", cases[k].update);
        sql(bad, upd);
        for (int c = 0; c < NCMD; c++) {
            char name[128];
            cmd_name(c, name, sizeof name);
            run_cmd(r, c, bad);
            int expect = !strcmp(cmds[c][0], "db") ? 1 : 2;
            cr_assert_eq(r->code, expect, "%s after \"%s\": exit %d; stderr: %s", name,
                         cases[k].update, r->code, r->err);
            cr_assert(strstr(r->err, cases[k].db_check), "%s after \"%s\": %s", name,
                      cases[k].update, r->err);
            cr_assert_null(strstr(r->out, "check: ok"), "check said ok on a damaged DB");
        }
        if (!cases[k].load)
            continue;
        bnb_db *db = NULL;
        char err[BNB_ERR_MAX];
        cr_assert_eq(bnb_db_open(bad, BNB_DB_READ_UNCHECKED, &db, err), 0, "%s", err);
        bnb_run_info ri;
        int64_t id = cases[k].load[4] - '0';
        cr_assert_eq(bnb_db_load_run(db, id, &ri, NULL, err), -1, "run %lld loaded from %s",
                     (long long)id, cases[k].update);
        char want[BNB_ERR_MAX];
        snprintf(want, sizeof want,
                 "DB %s: %s (the DB is damaged; bnbench db check lists the problems)", bad,
                 cases[k].load);
        cr_assert_str_eq(err, want);
        bnb_db_close(db);
    }
    free(r);
}

/* db check lists SQLite's problems one per line (SQLite gives several in
 * one row, joined by newlines), never as one line with \x0a escapes; the
 * message naming the first comes last. */
Test(dbread, db_check_lists_each_problem_on_its_own_line)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    make_pristine(r);
    char bad[128];
    snprintf(bad, sizeof bad, "%s/cells.db", dir);
    copy_file(pristine, bad);
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(bad, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT rootpage, (SELECT page_size FROM pragma_page_size) "
                                    "FROM sqlite_schema WHERE name = 'cases_by_run'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t page = sqlite3_column_int64(st, 0), page_size = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(h);
    /* the cell pointers of the index's root page, its header kept: many
     * cells out of range, each a problem */
    FILE *f = fopen(bad, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)((page - 1) * page_size + 200), SEEK_SET), 0);
    uint64_t s = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 1500; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        fputc((int)(s & 0xff), f);
    }
    cr_assert_eq(fclose(f), 0);

    FX_BNBENCH(r, dir, "db", "check", "--db", bad);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert_null(strstr(r->err, "\\x0a"), "escaped newlines: %s", r->err);
    cr_assert_null(strstr(r->err, "*** in database"), "%s", r->err);
    int listed = 0;
    char *last = NULL;
    for (char *line = strtok(r->err, "\n"); line; line = strtok(NULL, "\n")) {
        listed += !strncmp(line, "  ", 2) && strlen(line) > 2 && line[2] != ' ';
        last = line;
    }
    cr_assert_geq(listed, 2, "problems listed: %d", listed);
    char want[192];
    snprintf(want, sizeof want, "bnbench db: DB %s: integrity check: %d problems, the first: ", bad,
             listed);
    cr_assert(last && !strncmp(last, want, strlen(want)), "last line: %s", last ? last : "");
    free(r);
}
