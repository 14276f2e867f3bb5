/*
 * test_cmd_run.c - `bnbench run` end to end, in process (bnb_cmd_run):
 * the binding read back is stored ({N} for --cpus N, N the last CPU this
 * process may use: 1 on two CPUs, issue 3 acceptance 3); --cpus CPUs outside
 * the process's affinity are dropped with a note recorded as a warning, and a
 * list with none inside is a usage error (issue 13);
 * every usage error exits 2 with one "bnbench: ..." line and writes nothing
 * (acceptance 5); SIGKILL mid-run leaves a DB that passes the integrity
 * check, a run that is not complete, and intact earlier cases (acceptance 4);
 * PAPI forced off still completes a run (acceptance 2).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpus.h"
#include "db/db.h"
#include "suites/cli/commands.h"

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb_cmd_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Runs bnb_cmd_run with stderr captured into err (first line). */
static int run_cmd(char *err, size_t cap, int argc, char **argv)
{
    char ep[128];
    path_in(ep, sizeof ep, "stderr.txt");
    fflush(stderr);
    fflush(stdout);
    int saved = dup(STDERR_FILENO), saved_out = dup(STDOUT_FILENO);
    int fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = open("/dev/null", O_WRONLY);
    cr_assert_geq(fd, 0);
    dup2(fd, STDERR_FILENO);
    dup2(null, STDOUT_FILENO); /* the tables; this test reads the DB instead */
    close(fd);
    close(null);
    int rc = bnb_cmd_run(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(saved, STDERR_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved);
    close(saved_out);
    FILE *f = fopen(ep, "r");
    err[0] = '\0';
    if (f) {
        size_t n = fread(err, 1, cap - 1, f);
        err[n] = '\0';
        fclose(f);
    }
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(cmd_run, cpus_1_binding_stored, .init = mkdir_tmp, .fini = rm_tmp)
{
    char db[128], err[4096], cpu[16], want[32];
    int last = test_last_cpu();
    snprintf(cpu, sizeof cpu, "%d", last);
    snprintf(want, sizeof want, "\"cpus\":[%d]", last);
    path_in(db, sizeof db, "b.db");
    char *argv[] = {"run",
                    "--cpus",
                    cpu,
                    "--db",
                    db,
                    "--case",
                    "timer/clock",
                    "--quick",
                    "--quiet",
                    "--targets",
                    "suites/targets.json"};
    int rc = run_cmd(err, sizeof err, 11, argv);
    /* the default targets are not measured by this one case: nothing missed */
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
    bnb_db *h = NULL;
    char e[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, e), 0, "%s", e);
    int64_t id;
    cr_assert_eq(bnb_db_resolve_run(h, "latest", &id, e), 0, "%s", e);
    bnb_run_info ri = {0};
    bnb_run_status st;
    cr_assert_eq(bnb_db_load_run(h, id, &ri, &st, e), 0, "%s", e);
    cr_assert_eq(st, BNB_RUN_COMPLETE);
    cr_assert_not_null(ri.binding_json);
    cr_assert(strstr(ri.binding_json, want), "%s", ri.binding_json);
    cr_assert(strstr(ri.binding_json, "\"cpu_bound\":true"), "%s", ri.binding_json);
    cr_assert_eq(strlen(ri.fingerprint), 16);
    bnb_case_result *cases = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_load_cases(h, id, &cases, &n, e), 0, "%s", e);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(cases[0].name, "timer/clock_gettime");
    cr_assert_eq(cases[0].nsamples, 9); /* --quick */
    cr_assert_not_null(bnb_case_metric(&cases[0], "overhead_ns"));
    bnb_db_free_cases(cases, n);
    bnb_run_info_free(&ri);
    bnb_db_close(h);
}

Test(cmd_run, papi_forced_off_run_completes, .init = mkdir_tmp, .fini = rm_tmp)
{
    setenv("BNB_PAPI_DISABLE", "1", 1);
    char db[128], err[4096];
    path_in(db, sizeof db, "p.db");
    char *argv[] = {"run",     "--db",        db,
                    "--case",  "timer/rdtsc", "--quick",
                    "--quiet", "--targets",   "suites/targets.json"};
    cr_assert_eq(run_cmd(err, sizeof err, 9, argv), 0, "%s", err);
    bnb_db *h = NULL;
    char e[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, e), 0, "%s", e);
    bnb_case_result *cases = NULL;
    int n = 0;
    int64_t id;
    cr_assert_eq(bnb_db_resolve_run(h, "latest", &id, e), 0, "%s", e);
    cr_assert_eq(bnb_db_load_cases(h, id, &cases, &n, e), 0, "%s", e);
    cr_assert_eq(n, 1);
    const bnb_metric *m = bnb_case_metric(&cases[0], "counter.PAPI_TOT_CYC");
    cr_assert(m && !m->available);
    cr_assert(strstr(m->reason, "BNB_PAPI_DISABLE"), "%s", m->reason);
    m = bnb_case_metric(&cases[0], "counter.sw.task_clock");
    cr_assert(m && m->available && m->value > 0);
    bnb_db_free_cases(cases, n);
    bnb_db_close(h);
    unsetenv("BNB_PAPI_DISABLE");
}

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

/* Each usage error: exit 2, one line starting "bnbench: " naming the
 * problem, and no DB file. */
static void expect_usage(const char *needle, int argc, char **argv, const char *db)
{
    char err[4096];
    int rc = run_cmd(err, sizeof err, argc, argv);
    cr_assert_eq(rc, 2, "rc %d for %s: %s", rc, needle, err);
    cr_assert(has_prefix(err), "%s", err);
    cr_assert_eq(count_lines(err), 1, "not one line: %s", err);
    cr_assert(strstr(err, needle), "\"%s\" not in: %s", needle, err);
    cr_assert_not(exists(db), "%s was created", db);
}

Test(cmd_run, usage_errors_write_nothing, .init = mkdir_tmp, .fini = rm_tmp)
{
    char db[128], bad[128];
    path_in(db, sizeof db, "u.db");
    path_in(bad, sizeof bad, "bad.json");
    FILE *f = fopen(bad, "w");
    fputs("{ \"version\": 1, \"targets\": [ { \"id\": \"x\", ", f);
    fclose(f);

    char *a1[] = {"run", "--db", db, "--repetitions", "abc"};
    expect_usage("--repetitions must be an integer from 1 to 1000000, got \"abc\"", 5, a1, db);
    char *a2[] = {"run", "--db", db, "--repetitions", "0"};
    expect_usage("--repetitions must be an integer from 1 to 1000000, got \"0\"", 5, a2, db);
    char *a3[] = {"run", "--db", db, "--suite", "nosuch"};
    expect_usage("unknown suite \"nosuch\"", 5, a3, db);
    char *a4[] = {"run", "--db", db, "--case", "no-such-case"};
    expect_usage("no case matches", 5, a4, db);
    char *a5[] = {"run", "--db", db, "--targets", bad};
    expect_usage("bad.json", 5, a5, db);
    char *a6[] = {"run", "--db", db, "--cpus", "0-x"};
    expect_usage("--cpus \"0-x\"", 5, a6, db);
    char *a7[] = {"run", "--db", db, "--min-time", "soon"};
    expect_usage("--min-time must be a number of seconds from 0 to 60, got \"soon\"", 5, a7, db);
    char *a8[] = {"run", "--db", db, "--reason", "because"};
    expect_usage("--reason must be nightly, pr, manual or confirm, got \"because\"", 5, a8, db);
    char *a9[] = {"run", "--db", db, "--bogus"};
    expect_usage("bnbench run: unknown option '--bogus' (bnbench run --help)", 4, a9, db);
    char *a10[] = {"run", "--db", db, "--counters", "A,,B"};
    expect_usage("empty event name", 5, a10, db);
    char missing[160];
    path_in(missing, sizeof missing, "none.json");
    char *a11[] = {"run", "--db", db, "--targets", missing};
    expect_usage("none.json", 5, a11, db);
    char nodir[160];
    path_in(nodir, sizeof nodir, "no/such/dir/x.db");
    char *a12[] = {"run", "--db", nodir, "--case", "timer/clock", "--quick", "--quiet"};
    expect_usage("no/such/dir/x.db", 7, a12, nodir);
}

/* Issue 13: with the process restricted to one CPU c, "--cpus c,c+1" runs on
 * c, says on stderr that c+1 was dropped and why, and records that as a
 * warning beside the binding {c}; "--cpus c+1" is a usage error naming the
 * list and the allowed set. (Criterion runs the test in its own process, so
 * the affinity set here ends with it.) */
Test(cmd_run, cpus_outside_affinity_dropped_or_usage_error, .init = mkdir_tmp, .fini = rm_tmp)
{
    int c = test_last_cpu();
    test_pin_process(c);
    char db[128], err[4096], list[32], outside[16], note[96], want[32];
    snprintf(list, sizeof list, "%d,%d", c, c + 1);
    snprintf(outside, sizeof outside, "%d", c + 1);
    snprintf(note, sizeof note, "--cpus \"%s\": CPU(s) %d dropped, not available", list, c + 1);
    snprintf(want, sizeof want, "\"cpus\":[%d]", c);
    path_in(db, sizeof db, "d.db");
    char *argv[] = {"run",
                    "--cpus",
                    list,
                    "--db",
                    db,
                    "--case",
                    "timer/clock",
                    "--quick",
                    "--quiet",
                    "--targets",
                    "suites/targets.json"};
    int rc = run_cmd(err, sizeof err, 11, argv);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
    cr_assert(strstr(err, note), "no note \"%s\" on stderr: %s", note, err);
    char allowed[64];
    snprintf(allowed, sizeof allowed, "(allowed: %d); using %d\n", c, c);
    cr_assert(strstr(err, allowed), "\"%s\" not in: %s", allowed, err);

    bnb_db *h = NULL;
    char e[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, e), 0, "%s", e);
    int64_t id;
    cr_assert_eq(bnb_db_resolve_run(h, "latest", &id, e), 0, "%s", e);
    bnb_run_info ri = {0};
    bnb_run_status st;
    cr_assert_eq(bnb_db_load_run(h, id, &ri, &st, e), 0, "%s", e);
    cr_assert_eq(st, BNB_RUN_COMPLETE);
    cr_assert(strstr(ri.binding_json, want), "%s", ri.binding_json);
    cr_assert(strstr(ri.binding_json, "\"cpu_bound\":true"), "%s", ri.binding_json);
    char recorded[128]; /* the note as stored: its quotes are JSON-escaped */
    snprintf(recorded, sizeof recorded, "--cpus \\\"%s\\\": CPU(s) %d dropped, not available", list,
             c + 1);
    cr_assert(strstr(ri.warnings_json, recorded), "\"%s\" not in %s", recorded, ri.warnings_json);
    bnb_run_info_free(&ri);
    bnb_db_close(h);

    char db2[128], needle[96];
    path_in(db2, sizeof db2, "e.db");
    snprintf(needle, sizeof needle,
             "--cpus \"%d\": none of these CPUs is available to this process (allowed: %d)", c + 1,
             c);
    char *a2[] = {"run", "--db", db2, "--cpus", outside};
    expect_usage(needle, 5, a2, db2);
}

Test(cmd_run, newer_schema_db_refused_and_untouched, .init = mkdir_tmp, .fini = rm_tmp)
{
    char db[128], err[4096];
    path_in(db, sizeof db, "new.db");
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open(db, &s), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(s, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    struct stat before, after;
    cr_assert_eq(stat(db, &before), 0);
    char *argv[] = {"run", "--db", db, "--case", "timer/clock", "--quick", "--quiet"};
    cr_assert_eq(run_cmd(err, sizeof err, 7, argv), 2, "%s", err);
    cr_assert(has_prefix(err), "%s", err);
    cr_assert_eq(count_lines(err), 1, "%s", err);
    cr_assert_eq(stat(db, &after), 0);
    cr_assert_eq(before.st_size, after.st_size);
    cr_assert_eq(sqlite3_open(db, &s), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(s, "PRAGMA user_version", -1, &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), 99);
    sqlite3_finalize(q);
    sqlite3_close(s);
}

static int stored_cases(const char *db)
{
    sqlite3 *s = NULL;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(s);
        return -1;
    }
    sqlite3_busy_timeout(s, 100);
    sqlite3_stmt *q = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(s, "SELECT count(*) FROM cases", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(s);
    return n;
}

Test(cmd_run, sigkill_mid_run_leaves_consistent_db, .init = mkdir_tmp, .fini = rm_tmp,
     .timeout = 60)
{
    char db[128];
    path_in(db, sizeof db, "k.db");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        /* long enough samples that the kill lands while a later case runs */
        char *argv[] = {"run", "--db",       db,     "--case",  "fma|timer", "--repetitions",
                        "20",  "--min-time", "0.02", "--quiet", "--targets", "suites/targets.json"};
        _exit(bnb_cmd_run(12, argv));
    }
    int n = 0;
    for (int i = 0; i < 2000 && n < 1; i++) {
        usleep(5000);
        n = stored_cases(db);
    }
    cr_assert_geq(n, 1, "no case was stored before the timeout");
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child ended on its own");

    bnb_db *h = NULL;
    char e[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, e), 0, "%s", e);
    cr_assert_eq(bnb_db_check(h, e), 0, "%s", e);
    int64_t id; /* run 1, named: "latest" passes over a run that is not complete */
    cr_assert_eq(bnb_db_resolve_run(h, "1", &id, e), 0, "%s", e);
    bnb_run_info ri = {0};
    bnb_run_status st;
    cr_assert_eq(bnb_db_load_run(h, id, &ri, &st, e), 0, "%s", e);
    cr_assert_neq(st, BNB_RUN_COMPLETE);
    bnb_case_result *cases = NULL;
    int nc = 0;
    cr_assert_eq(bnb_db_load_cases(h, id, &cases, &nc, e), 0, "%s", e);
    cr_assert_geq(nc, n);
    cr_assert_lt(nc, 5, "the run finished before the kill (%d cases)", nc);
    for (int i = 0; i < nc; i++) {
        if (cases[i].status != BNB_CASE_OK)
            continue;
        cr_assert_eq(cases[i].nsamples, 20, "case %s has %d samples", cases[i].name,
                     cases[i].nsamples);
        cr_assert_gt(cases[i].stats.median, 0.0);
        cr_assert_not_null(bnb_case_metric(&cases[i], "gflops"));
    }
    bnb_db_free_cases(cases, nc);
    bnb_run_info_free(&ri);
    bnb_db_close(h);
}
