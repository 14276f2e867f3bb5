/*
 * test_mpi_run.c - `bnbench run --mpi` end to end, launched the way a user
 * launches it (mpirun, or no launcher at all), and the build without MPI.
 *
 * With MPI (BNB_HAVE_MPI) and mpirun on PATH: two ranks store one batch of
 * two runs on disjoint CPUs; a singleton runs as a batch of one and says
 * so; ranks given different options, or one whose preparation fails, all
 * exit 2 before measuring and write no run; a rank killed mid-run leaves
 * rank 0's run and a batch marked incomplete, and the DB passes the
 * integrity check. Without mpirun these are skipped, saying why.
 * Without MPI: --mpi says "not built with MPI" (exit 2) and the help does
 * not offer it.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static char bin[512];
static char supp[512]; /* tests/lsan-openmpi.supp: Open MPI's own leaks, under ASan */

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-mpi-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    const char *env = getenv("BNBENCH"), *build = getenv("BUILD");
    char rel[256];
    if (env && *env)
        snprintf(rel, sizeof rel, "%s", env);
    else
        snprintf(rel, sizeof rel, "%s/bnbench", build && *build ? build : "build");
    cr_assert_not_null(realpath(rel, bin), "bnbench binary %s not found", rel);
    cr_assert_not_null(realpath("tests/lsan-openmpi.supp", supp),
                       "tests/lsan-openmpi.supp not found (run from the source tree)");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs a shell command line in dir (TMPDIR=dir, so the ranks' private DBs
 * land there too) with stdout+stderr into dir/out; returns the exit code. */
static int sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096], line[5400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line,
             "cd %s && TMPDIR=%s BNB_NO_REEXEC=1 "
             "LSAN_OPTIONS=suppressions=%s:fast_unwind_on_malloc=0 "
             "OMPI_MCA_mca_base_component_disable_dlclose=1 sh -c '%s' > out 2>&1",
             dir, dir, supp, cmd);
    int st = system(line);
    char p[128];
    snprintf(p, sizeof p, "%s/out", dir);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert(WIFEXITED(st), "%s: killed by a signal", cmd);
    return WEXITSTATUS(st);
}

static char out[262144];

#ifdef BNB_HAVE_MPI

static sqlite3 *open_db(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", p);
    return db;
}

static long long q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void q_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
}

/* A short selection: the reductions on L1-sized operands. */
#define CASES  "--quick --suite reduce --case \"cache=L1$\""
#define MPIRUN "mpirun --allow-run-as-root --oversubscribe"

static void need_mpirun(void)
{
    if (system("command -v mpirun > /dev/null 2>&1") != 0)
        cr_skip_test("mpirun is not on PATH (Debian: apt-get install openmpi-bin)");
}

TestSuite(mpi_run, .init = setup, .fini = teardown, .timeout = 300);

Test(mpi_run, two_ranks_store_one_batch_on_disjoint_cpus)
{
    need_mpirun();
    int rc = sh(out, sizeof out, MPIRUN " -np 2 %s run --mpi " CASES " --db b.db", bin);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "complete: 2 rank(s) on 1 host(s), 2 run(s) stored in b.db"), "%s", out);
    sqlite3 *db = open_db("b.db");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM batches"), 1);
    char st[32];
    q_text(db, "SELECT status FROM batches", st, sizeof st);
    cr_assert_str_eq(st, "complete");
    cr_assert_eq(q_int(db, "SELECT nranks FROM batches"), 2);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM batch_ranks WHERE state = 'stored' AND "
                           "run_id IS NOT NULL"),
                 2);
    /* every rank measured every selected case */
    long long per_run = q_int(db, "SELECT count(*) FROM cases WHERE run_id = (SELECT run_id "
                                  "FROM batch_ranks WHERE rank = 0)");
    cr_assert_gt(per_run, 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM cases WHERE run_id = (SELECT run_id FROM "
                           "batch_ranks WHERE rank = 1)"),
                 per_run);
    /* disjoint CPU sets, recorded in the roster and in each run's binding */
    char c0[64], c1[64];
    q_text(db, "SELECT cpus FROM batch_ranks WHERE rank = 0", c0, sizeof c0);
    q_text(db, "SELECT cpus FROM batch_ranks WHERE rank = 1", c1, sizeof c1);
    cr_assert_neq(c0[0], '\0');
    cr_assert_neq(c1[0], '\0');
    long n_online = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_online >= 2)
        cr_assert_str_neq(c0, c1, "ranks share CPUs %s on a machine with %ld", c0, n_online);
    long long b0 = q_int(db, "SELECT json_extract(binding, '$.requested') FROM runs WHERE "
                             "id = (SELECT run_id FROM batch_ranks WHERE rank = 0)");
    long long b1 = q_int(db, "SELECT json_extract(binding, '$.requested') FROM runs WHERE "
                             "id = (SELECT run_id FROM batch_ranks WHERE rank = 1)");
    cr_assert_eq(b0, atoll(c0));
    cr_assert_eq(b1, atoll(c1));
    if (n_online >= 2)
        cr_assert_neq(b0, b1);
    sqlite3_close(db);
    /* the private DBs of the other ranks are gone */
    cr_assert_eq(sh(out, sizeof out, "ls -d bnbench-rank* 2>/dev/null | wc -l"), 0);
    cr_assert_eq(atoi(out), 0, "left behind: %s", out);
    /* compare --batch reads it */
    rc = sh(out, sizeof out, "%s compare --batch latest --db b.db", bin);
    cr_assert_eq(rc, 0, "%s", out);
}

Test(mpi_run, singleton_runs_as_one_rank_and_says_so)
{
    need_mpirun(); /* Open MPI's singleton start needs its runtime too */
    int rc = sh(out, sizeof out, "%s run --mpi " CASES " --db s.db", bin);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "running as one rank"), "%s", out);
    cr_assert(strstr(out, "complete: 1 rank(s) on 1 host(s), 1 run(s) stored in s.db"), "%s", out);
}

Test(mpi_run, different_options_on_two_ranks_stop_both_before_measuring)
{
    need_mpirun();
    int rc = sh(out, sizeof out,
                MPIRUN " -np 1 %s run --mpi " CASES " --db m.db : -np 1 %s run --mpi --quick "
                       "--suite reduce --case \"sum/cache=L1$\" --db m.db",
                bin, bin);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "rank 1 (") && strstr(out, "selected other suites, cases or options"),
              "%s", out);
    /* both ranks said it */
    const char *first = strstr(out, "selected other suites");
    cr_assert(first && strstr(first + 1, "selected other suites"), "%s", out);
    sqlite3 *db = open_db("m.db");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM runs"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM batches"), 0);
    sqlite3_close(db);
}

Test(mpi_run, a_rank_that_cannot_prepare_stops_every_rank)
{
    need_mpirun();
    int rc = sh(out, sizeof out,
                "printf \"{\" > bad.json; " MPIRUN " -np 1 %s run --mpi " CASES
                " --db p.db : -np 1 %s run --mpi " CASES " --targets bad.json --db p.db",
                bin, bin);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "rank 1 (") && strstr(out, "bad.json"), "%s", out);
    sqlite3 *db = open_db("p.db");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM runs"), 0);
    sqlite3_close(db);
}

Test(mpi_run, a_killed_rank_leaves_an_incomplete_batch_and_a_sound_db)
{
    need_mpirun();
    /* rank 1 is SIGKILLed once it is measuring; mpirun then stops rank 0:
     * SIGCONT, odls_base_sigkill_timeout seconds, SIGTERM, as long again,
     * SIGKILL (5 s each here: rank 0 finishes its case of about 2 s) */
    int rc =
        sh(out, sizeof out,
           MPIRUN " --mca odls_base_sigkill_timeout 5 -np 1 %s run --mpi --suite reduce "
                  "--case \"cache=L1$\" --min-time 0.05 --repetitions 40 --db k.db : -np 1 sh -c "
                  "\"%s run --mpi --suite reduce --case \\\"cache=L1\\$\\\" "
                  "--min-time 0.05 --repetitions 40 --db k.db & p=\\$!; "
                  "until ls bnbench-rank1-*/rank.db-wal >/dev/null 2>&1; do sleep 0.1; "
                  "done; sleep 2; kill -9 \\$p; wait \\$p\"",
           bin, bin);
    cr_assert_neq(rc, 0, "%s", out);
    sqlite3 *db = open_db("k.db");
    char st[32];
    q_text(db, "SELECT status FROM batches", st, sizeof st);
    cr_assert_str_eq(st, "incomplete", "%s", out);
    char state[16];
    q_text(db, "SELECT state FROM batch_ranks WHERE rank = 1", state, sizeof state);
    cr_assert_str_eq(state, "lost");
    q_text(db, "SELECT state FROM batch_ranks WHERE rank = 0", state, sizeof state);
    cr_assert_str_eq(state, "stored");
    /* rank 0's run is whole: complete, or interrupted after its current
     * case when mpirun's SIGTERM came while it was measuring */
    q_text(db, "SELECT status FROM runs", st, sizeof st);
    cr_assert(!strcmp(st, "complete") || !strcmp(st, "interrupted"), "%s: %s", st, out);
    cr_assert_gt(q_int(db, "SELECT count(*) FROM cases"), 0);
    char ok[16];
    q_text(db, "PRAGMA integrity_check", ok, sizeof ok);
    cr_assert_str_eq(ok, "ok");
    sqlite3_close(db);
}

Test(mpi_run, help_offers_mpi)
{
    int rc = sh(out, sizeof out, "%s run --help", bin);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "--mpi"), "%s", out);
}

#else /* !BNB_HAVE_MPI */

TestSuite(mpi_run, .init = setup, .fini = teardown);

Test(mpi_run, without_mpi_the_option_says_so_and_help_is_silent)
{
    int rc = sh(out, sizeof out, "%s run --mpi --quick --db n.db", bin);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "not built with MPI"), "%s", out);
    char p[128];
    snprintf(p, sizeof p, "%s/n.db", dir);
    cr_assert_neq(access(p, F_OK), 0, "the DB was created");
    rc = sh(out, sizeof out, "%s run --help", bin);
    cr_assert_eq(rc, 0);
    cr_assert_null(strstr(out, "--mpi"), "%s", out);
}

#endif
