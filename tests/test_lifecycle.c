/*
 * test_lifecycle.c - the life cycle of a run when its process does not end
 * it normally (issue 13): a run whose process was killed (SIGKILL) is marked
 * abandoned by the next command that opens the DB for writing, and `runs`
 * shows it; SIGTERM and SIGHUP end a run as interrupted like Ctrl-C; a full
 * file system stops the run with exit code 3, the run marked failed with the
 * disk-full reason (its space reserve freed for that, db/reserve.h) and a
 * message saying what the DB holds and that it was marked; `show` prints the
 * reason, and the DB passes `bnbench db check` afterwards. The DB layer
 * under it: pid reuse (same pid, other start time) counts as gone, a live
 * owner or another host's run is left alone, a storage error is reported
 * with SQLite's reason and the run can be marked failed with it, and a
 * schema-1 DB stays readable and migrates keeping its runs and cases.
 *
 * The end-to-end tests run the built bnbench (tests/spawn.h) on a small
 * selection (5 peak cases, RUN_ARGS) with samples long enough that a signal
 * lands while cases are still running, whatever the machine's speed.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/internal.h"
#include "spawn.h"

static char dir[64];
static char mnt[128];
static bool mounted;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb_life_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    mounted = false;
}

static void teardown(void)
{
    if (mounted)
        umount(mnt);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

/* The run every end-to-end test starts: the 5 compute-bound peak cases
 * (not peak/triad, whose 2 GB arrays take from 20 s to a minute by the
 * machine's memory and load), 20 samples of at least 0.05 s each: every
 * case lasts at least a second on any machine (7.7 s for the run here), so a
 * signal sent once the first case is stored lands while cases remain. */
#define RUN_ARGS                                                                                   \
    "--suite", "peak", "--case", "^peak/(fma|timer)/", "--quick", "--repetitions", "20",           \
        "--min-time", "0.05", "--quiet"
#define RUN_CASES 5

/* Starts `bnbench --db db run RUN_ARGS` in the background, stdout and stderr
 * to files in dir (never on the DB's file system, which may fill up). */
static pid_t start_run(const char *db)
{
    char outp[128], errp[128];
    snprintf(outp, sizeof outp, "%s/run.out", dir);
    snprintf(errp, sizeof errp, "%s/run.err", dir);
    return fx_start(outp, errp, (const char *const[]){"--db", db, "run", RUN_ARGS, NULL});
}

/* One integer from a read-only query of db; -1 when it cannot be read (yet). */
static int64_t q_int(const char *db, const char *sql)
{
    sqlite3 *s = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(s, 200);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(s, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(s);
    return v;
}

static void q_text(const char *db, const char *sql, char *out, size_t cap)
{
    sqlite3 *s = NULL;
    out[0] = '\0';
    cr_assert_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(s, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(s));
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(s);
}

/* Waits until the running run has stored at least one case (at most 30 s). */
static int64_t wait_first_case(const char *db, pid_t pid)
{
    int64_t n = -1;
    for (int i = 0; i < 3000 && n < 1; i++) {
        usleep(10000);
        n = q_int(db, "SELECT count(*) FROM cases c JOIN runs r ON r.id = c.run_id "
                      "WHERE r.status = 'running'");
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "bnbench run ended before storing a case");
    }
    cr_assert_geq(n, 1, "no case was stored within 30 s");
    return n;
}

static void read_file(const char *name, char *buf, size_t cap)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    fx_read(p, buf, cap);
}

/* ---- SIGKILL: abandoned by the next write-open ----------------------------- */

Test(lifecycle, sigkill_run_is_marked_abandoned_by_next_write_open, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char db[128];
    snprintf(db, sizeof db, "%s/k.db", dir);
    fx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    /* a complete run and a baseline on it, for check */
    const char *first[] = {"--db", db, "run", RUN_ARGS, NULL};
    fx_spawn(r, dir, first);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    const char *base[] = {"--db", db, "baseline", "set", "b", "1", NULL};
    fx_spawn(r, dir, base);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);

    pid_t pid = start_run(db);
    wait_first_case(db, pid);
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "bnbench run ended on its own");
    /* the run row names the process that began it */
    cr_assert_eq(q_int(db, "SELECT pid FROM runs WHERE id = 2"), (int64_t)pid);
    char host[256] = "", stored[256];
    gethostname(host, sizeof host);
    q_text(db, "SELECT host FROM runs WHERE id = 2", stored, sizeof stored);
    cr_assert_str_eq(stored, host);
    int64_t ncases = q_int(db, "SELECT count(*) FROM cases WHERE run_id = 2");
    cr_assert(ncases >= 1 && ncases < RUN_CASES, "%lld cases stored", (long long)ncases);

    /* read-only commands leave it as it is */
    const char *runs[] = {"--db", db, "runs", NULL};
    fx_spawn(r, dir, runs);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    q_text(db, "SELECT status FROM runs WHERE id = 2", stored, sizeof stored);
    cr_assert_str_eq(stored, "running");

    /* check reads only: it skips the run as not complete and says so */
    const char *check[] = {"--db", db, "check", "--baseline", "b", "--no-rerun", NULL};
    fx_spawn(r, dir, check);
    cr_assert(strstr(r->err, "bnbench check: skipping run 2 (running): not complete"),
              "stderr of check:\n%s", r->err);
    q_text(db, "SELECT status FROM runs WHERE id = 2", stored, sizeof stored);
    cr_assert_str_eq(stored, "running");

    /* baseline set opens the DB for writing: the run is found abandoned */
    fx_spawn(r, dir, base);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    char want[512], uuid[64];
    q_text(db, "SELECT uuid FROM runs WHERE id = 2", uuid, sizeof uuid);
    snprintf(want, sizeof want,
             "bnbench: DB %s: run 2 (%.8s) was left running: process %d on host %s, which began "
             "the run, is gone; marked abandoned\n",
             db, uuid, (int)pid, host);
    cr_assert(strstr(r->err, want), "expected\n%s\nin stderr of baseline set:\n%s", want, r->err);
    q_text(db, "SELECT status FROM runs WHERE id = 2", stored, sizeof stored);
    cr_assert_str_eq(stored, "abandoned");
    q_text(db, "SELECT status_reason FROM runs WHERE id = 2", stored, sizeof stored);
    snprintf(want, sizeof want, "process %d on host %s, which began the run, is gone", (int)pid,
             host);
    cr_assert_str_eq(stored, want);
    /* its cases are kept */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM cases WHERE run_id = 2"), ncases);

    /* runs shows it; a second write-open finds nothing more to mark */
    fx_spawn(r, dir, runs);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "abandoned"), "runs output:\n%s", r->out);
    fx_spawn(r, dir, base);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert_null(strstr(r->err, "abandoned"), "stderr: %s", r->err);
    const char *dbcheck[] = {"--db", db, "db", "check", NULL};
    fx_spawn(r, dir, dbcheck);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    free(r);
}

/* ---- SIGTERM, SIGHUP: interrupted, like Ctrl-C ------------------------------ */

static void stop_with(int sig, const char *name)
{
    char db[128];
    snprintf(db, sizeof db, "%s/t.db", dir);
    pid_t pid = start_run(db);
    int64_t before = wait_first_case(db, pid);
    kill(pid, sig);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char err[8192];
    read_file("run.err", err, sizeof err);
    cr_assert(WIFEXITED(st), "bnbench died of signal %d; stderr: %s", WTERMSIG(st), err);
    cr_assert_eq(WEXITSTATUS(st), BNB_EXIT_FAIL, "exit code; stderr: %s", err);
    char want[128];
    snprintf(want, sizeof want, "bnbench: %s; finishing the current case", name);
    cr_assert(strstr(err, want), "stderr: %s", err);
    char status[32];
    q_text(db, "SELECT status FROM runs WHERE id = 1", status, sizeof status);
    cr_assert_str_eq(status, "interrupted");
    cr_assert_eq(q_int(db, "SELECT finished_at IS NOT NULL FROM runs WHERE id = 1"), 1);
    /* the case in flight was finished and stored, no later one was started */
    int64_t n = q_int(db, "SELECT count(*) FROM cases WHERE run_id = 1");
    cr_assert(n >= before && n <= before + 2 && n < RUN_CASES, "%lld cases stored (%lld before)",
              (long long)n, (long long)before);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id "
                           "WHERE c.status = 'ok' GROUP BY c.id ORDER BY count(*) LIMIT 1"),
                 20, "a stored case has all its samples");
}

Test(lifecycle, sigterm_marks_run_interrupted, .init = setup, .fini = teardown, .timeout = 120)
{
    stop_with(SIGTERM, "SIGTERM");
}

Test(lifecycle, sighup_marks_run_interrupted, .init = setup, .fini = teardown, .timeout = 120)
{
    stop_with(SIGHUP, "SIGHUP");
}

/* ---- SIGPIPE: a reader of stdout that goes away -------------------------------- */

/* `bnbench run | head -1`: the reader closes the pipe after one line. The
 * run is not killed by SIGPIPE between measuring and storing its end (it
 * stayed "running"): it is stored as measured, and the lost output is said
 * with exit 2. */
Test(lifecycle, closed_stdout_pipe_ends_the_run_stored_with_a_message, .init = setup,
     .fini = teardown, .timeout = 120)
{
    char db[128], outp[64], errp[128];
    snprintf(db, sizeof db, "%s/p.db", dir);
    snprintf(errp, sizeof errp, "%s/run.err", dir);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    /* the child reopens the write end as its stdout; both originals close
     * at exec, so the only reader is this process */
    snprintf(outp, sizeof outp, "/proc/self/fd/%d", p[1]);
    pid_t pid = fx_start(outp, errp, (const char *const[]){"--db", db, "run", RUN_ARGS, NULL});
    close(p[1]);
    char c = 0;
    ssize_t got;
    while ((got = read(p[0], &c, 1)) == 1 && c != '\n')
        ;
    cr_assert_eq(got, 1, "no line on stdout");
    close(p[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char err[8192];
    read_file("run.err", err, sizeof err);
    cr_assert(WIFEXITED(st), "bnbench died of signal %d; stderr: %s", WTERMSIG(st), err);
    cr_assert_eq(WEXITSTATUS(st), BNB_EXIT_USAGE, "exit code; stderr: %s", err);
    cr_assert(strstr(err, "bnbench run: cannot write standard output: Broken pipe\n"), "stderr: %s",
              err);
    char status[32];
    q_text(db, "SELECT status FROM runs WHERE id = 1", status, sizeof status);
    cr_assert_str_eq(status, "complete");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM cases WHERE run_id = 1"), RUN_CASES);
}

/* ---- a full file system ------------------------------------------------------- */

/* Writes zeros to path until the file system is full. */
static void fill_up(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    static char zero[4096];
    for (;;) {
        ssize_t w = write(fd, zero, sizeof zero);
        if (w < 0) {
            cr_assert_eq(errno, ENOSPC, "filling %s: %s", path, strerror(errno));
            break;
        }
        if (w == 0)
            break;
    }
    close(fd);
}

Test(lifecycle, full_file_system_stops_run_and_says_what_is_stored, .init = setup, .fini = teardown,
     .timeout = 120)
{
    if (geteuid() != 0)
        cr_skip("mounting a small tmpfs needs root (running as uid %d)", (int)geteuid());
    snprintf(mnt, sizeof mnt, "%s/fs", dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0)
        cr_skip("cannot mount a tmpfs on %s: %s", mnt, strerror(errno));
    mounted = true;
    char db[192], fill[192];
    snprintf(db, sizeof db, "%s/f.db", mnt);
    snprintf(fill, sizeof fill, "%s/fill", mnt);

    pid_t pid = start_run(db);
    wait_first_case(db, pid);
    fill_up(fill);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char err[8192], out[65536];
    read_file("run.err", err, sizeof err);
    read_file("run.out", out, sizeof out);
    cr_assert(WIFEXITED(st), "bnbench died of signal %d; stderr: %s", WTERMSIG(st), err);
    cr_assert_eq(WEXITSTATUS(st), BNB_EXIT_PARTIAL, "exit code; stderr: %s", err);

    /* the message names the error, the case, and what the DB holds */
    int64_t n = q_int(db, "SELECT count(*) FROM cases WHERE run_id = 1");
    cr_assert(n >= 1 && n < RUN_CASES, "%lld cases stored", (long long)n);
    char want[512];
    snprintf(want, sizeof want,
             "bnbench: DB %s: database or disk is full while storing case %lld of %d (peak/", db,
             (long long)n + 1, RUN_CASES);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "expected\n%s\nat the start of\n%s", want,
                 err);
    snprintf(want, sizeof want, "; stored: run 1 with %lld of %d case(s), ", (long long)n,
             RUN_CASES);
    cr_assert(strstr(err, want), "expected\n%s\nin\n%s", want, err);
    cr_assert(strstr(out, ") failed: "), "stdout: %s", out);

    /* the filler took every free block, but the run's reserve (db/reserve.h)
     * was freed for the mark: the run is failed with the disk-full reason,
     * and the message ends saying so */
    snprintf(want, sizeof want, "; stored: run 1 with %lld of %d case(s), marked failed\n",
             (long long)n, RUN_CASES);
    cr_assert(strstr(err, want), "expected\n%s\nin\n%s", want, err);
    char status[32], why[512], wantwhy[256];
    q_text(db, "SELECT status FROM runs WHERE id = 1", status, sizeof status);
    cr_assert_str_eq(status, "failed");
    q_text(db, "SELECT status_reason FROM runs WHERE id = 1", why, sizeof why);
    snprintf(wantwhy, sizeof wantwhy,
             "database or disk is full while storing case %lld of %d (peak/", (long long)n + 1,
             RUN_CASES);
    cr_assert_eq(strncmp(why, wantwhy, strlen(wantwhy)), 0, "status_reason: %s", why);
    cr_assert(!strchr(err, '\n') || strchr(err, '\n')[1] == '\0', "one line: %s", err);

    /* with room again: the DB is sound and holds exactly what was said */
    cr_assert_eq(unlink(fill), 0);
    fx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    const char *dbcheck[] = {"--db", db, "db", "check", NULL};
    fx_spawn(r, dir, dbcheck);
    cr_assert_eq(r->code, 0, "stdout: %s stderr: %s", r->out, r->err);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM cases WHERE run_id = 1"), n);
    const char *base[] = {"--db", db, "baseline", "set", "b", "1", NULL};
    fx_spawn(r, dir, base);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert_eq(strstr(r->err, "marked abandoned"), NULL, "stderr: %s", r->err);
    q_text(db, "SELECT status FROM runs WHERE id = 1", status, sizeof status);
    cr_assert_str_eq(status, "failed");
    /* show prints the reason on the status line */
    const char *show[] = {"--db", db, "show", "1", NULL};
    fx_spawn(r, dir, show);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    char line[768];
    snprintf(line, sizeof line, "\n  status    failed: %s\n", why);
    cr_assert(strstr(r->out, line), "expected\n%s\nin\n%s", line, r->out);
    /* nothing but the DB's own files is left beside it: the reserve had no name */
    DIR *d = opendir(mnt);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                      (!strncmp(e->d_name, "f.db", 4) && !strstr(e->d_name, "reserve")),
                  "left in %s: %s", mnt, e->d_name);
    closedir(d);
    free(r);
}

/* ---- the DB layer ----------------------------------------------------------------- */

static bnb_db *open_rw(const char *db)
{
    char err[BNB_ERR_MAX] = "";
    bnb_db *h = NULL;
    cr_assert_eq(bnb_db_open(db, 0, &h, err), 0, "%s", err);
    return h;
}

static int64_t begin(bnb_db *h, const char *uuid)
{
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.uuid, sizeof ri.uuid, "%s", uuid);
    snprintf(ri.machine_name, sizeof ri.machine_name, "box");
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "f00d");
    snprintf(ri.reason, sizeof ri.reason, "manual");
    char err[BNB_ERR_MAX] = "";
    int64_t id = 0;
    cr_assert_eq(bnb_db_begin_run(h, &ri, &id, err), 0, "%s", err);
    return id;
}

static void raw(const char *db, const char *sql)
{
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open(db, &s), SQLITE_OK);
    sqlite3_busy_timeout(s, 2000);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(s, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(s);
}

/* Runs of a live process (this one), of a reused pid (this pid, an earlier
 * start time), of a pid that is gone, of another host and of a restarted
 * host: a write-open marks exactly the gone ones. */
Test(lifecycle_db, write_open_marks_only_gone_owners_of_this_host, .init = setup, .fini = teardown)
{
    char db[128];
    snprintf(db, sizeof db, "%s/o.db", dir);
    bnb_db *h = open_rw(db);
    int64_t live = begin(h, "11111111-0000-4000-8000-000000000000");
    int64_t reused = begin(h, "22222222-0000-4000-8000-000000000000");
    int64_t gone = begin(h, "33333333-0000-4000-8000-000000000000");
    int64_t other = begin(h, "44444444-0000-4000-8000-000000000000");
    int64_t reboot = begin(h, "55555555-0000-4000-8000-000000000000");
    bnb_db_close(h);
    /* a pid that is certainly gone: a child that has exited and been reaped */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(0);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET pid_start = pid_start - 1 WHERE id = %lld;"
             "UPDATE runs SET pid = %d WHERE id = %lld;"
             "UPDATE runs SET host = 'elsewhere.example' WHERE id = %lld;"
             "UPDATE runs SET boot_id = 'an-earlier-boot' WHERE id = %lld;",
             (long long)reused, (int)child, (long long)gone, (long long)other, (long long)reboot);
    raw(db, sql);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 5);

    h = open_rw(db);
    bnb_db_close(h);
    char st[32], why[256], host[256] = "", want[512];
    gethostname(host, sizeof host);
    const struct {
        int64_t id;
        const char *status;
    } expect[] = {{live, "running"},
                  {reused, "abandoned"},
                  {gone, "abandoned"},
                  {other, "running"},
                  {reboot, "abandoned"}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id = %lld",
                 (long long)expect[i].id);
        q_text(db, sql, st, sizeof st);
        cr_assert_str_eq(st, expect[i].status, "run %lld", (long long)expect[i].id);
    }
    snprintf(sql, sizeof sql, "SELECT status_reason FROM runs WHERE id = %lld", (long long)reused);
    q_text(db, sql, why, sizeof why);
    snprintf(want, sizeof want,
             "process %d on host %s, which began the run, is gone (pid %d now belongs to a "
             "process started later)",
             (int)getpid(), host, (int)getpid());
    cr_assert_str_eq(why, want);
    snprintf(sql, sizeof sql, "SELECT status_reason FROM runs WHERE id = %lld", (long long)gone);
    q_text(db, sql, why, sizeof why);
    snprintf(want, sizeof want, "process %d on host %s, which began the run, is gone", (int)child,
             host);
    cr_assert_str_eq(why, want);
    snprintf(sql, sizeof sql, "SELECT status_reason FROM runs WHERE id = %lld", (long long)reboot);
    q_text(db, sql, why, sizeof why);
    snprintf(want, sizeof want, "host %s was restarted after process %d began the run", host,
             (int)getpid());
    cr_assert_str_eq(why, want);

    /* read-only opens never mark */
    snprintf(sql, sizeof sql, "UPDATE runs SET pid = %d WHERE id = %lld", (int)child,
             (long long)live);
    raw(db, sql);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(db, 1, &h, err), 0, "%s", err);
    bnb_db_close(h);
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id = %lld", (long long)live);
    q_text(db, sql, st, sizeof st);
    cr_assert_str_eq(st, "running");
}

/* A storage error reports SQLite's reason; the run can then be marked failed
 * with it, and what was stored before stays. SQLITE_FULL comes from a page
 * limit on the connection, the way a full disk reports it. */
Test(lifecycle_db, storage_error_reported_and_run_marked_failed, .init = setup, .fini = teardown)
{
    char db[128];
    snprintf(db, sizeof db, "%s/s.db", dir);
    bnb_db *h = open_rw(db);
    int64_t id = begin(h, "66666666-0000-4000-8000-000000000000");
    cr_assert_str_eq(bnb_db_last_fault(h), "");
    bnb_case_result c;
    memset(&c, 0, sizeof c);
    snprintf(c.suite, sizeof c.suite, "peak");
    snprintf(c.name, sizeof c.name, "big");
    c.status = BNB_CASE_OK;
    c.iterations = 1;
    enum { NS = 20000 }; /* samples: far more than the pages allowed below */
    double *samples = calloc(NS, sizeof *samples);
    cr_assert_not_null(samples);
    for (int i = 0; i < NS; i++)
        samples[i] = 1e-6 * (i + 1);
    c.samples = samples;
    c.nsamples = 3;
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_store_case(h, id, &c, err), 0, "%s", err);
    int64_t pages = q_int(db, "PRAGMA page_count");
    cr_assert_gt(pages, 0);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 2);
    cr_assert_eq(sqlite3_exec(bnb_db__sqlite(h), sql, NULL, NULL, NULL), SQLITE_OK);
    c.nsamples = NS;
    snprintf(c.name, sizeof c.name, "bigger");
    cr_assert_eq(bnb_db_store_case(h, id, &c, err), -1);
    cr_assert_str_eq(bnb_db_last_fault(h), "database or disk is full");
    cr_assert(strstr(err, "database or disk is full"), "%s", err);
    cr_assert(strstr(err, "of case peak/bigger"), "%s", err);
    cr_assert_eq(bnb_db_end_run_why(h, id, BNB_RUN_FAILED,
                                    "database or disk is full while storing case 2 of 2", err),
                 0, "%s", err);
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(h, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "failed");
    cr_assert_eq(row.ncases, 1);
    bnb_db_close(h);
    char why[256];
    q_text(db, "SELECT status_reason FROM runs WHERE id = 1", why, sizeof why);
    cr_assert_str_eq(why, "database or disk is full while storing case 2 of 2");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM samples"), 3);
    free(samples);
}

/* A schema-1 DB (the runs table before 'abandoned' and the owner columns)
 * is readable as it is and migrates on a write-open, keeping its runs and
 * the cases that refer to them. */
Test(lifecycle_db, schema_1_db_readable_and_migrated, .init = setup, .fini = teardown)
{
    char db[128];
    snprintf(db, sizeof db, "%s/v1.db", dir);
    bnb_db *h = open_rw(db);
    int64_t id = begin(h, "77777777-0000-4000-8000-000000000000");
    bnb_case_result c;
    memset(&c, 0, sizeof c);
    snprintf(c.suite, sizeof c.suite, "peak");
    snprintf(c.name, sizeof c.name, "one");
    c.status = BNB_CASE_SKIPPED;
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_db_store_case(h, id, &c, err), 0, "%s", err);
    cr_assert_eq(bnb_db_end_run(h, id, BNB_RUN_COMPLETE, err), 0, "%s", err);
    bnb_db_close(h);
    /* back to schema 1: its runs table, no publications table (v3), no batch tables (v5) */
    raw(db, "PRAGMA foreign_keys = OFF; BEGIN; DROP TABLE publications;"
            "DROP TABLE batch_ranks; DROP TABLE batches;"
            "CREATE TABLE runs_v1 (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,"
            " machine_id INTEGER NOT NULL REFERENCES machines (id), started_at TEXT NOT NULL,"
            " finished_at TEXT, status TEXT NOT NULL CHECK (status IN ('running', 'complete',"
            " 'interrupted', 'failed')), git_commit TEXT, git_branch TEXT, reason TEXT NOT NULL,"
            " build_type TEXT, compiler TEXT, cflags TEXT, kernels TEXT, tool_version TEXT,"
            " context TEXT, warnings TEXT, binding TEXT);"
            "INSERT INTO runs_v1 SELECT id, uuid, machine_id, started_at, finished_at, status,"
            " git_commit, git_branch, reason, build_type, compiler, cflags, kernels,"
            " tool_version, context, warnings, binding FROM runs;"
            "DROP TABLE runs; ALTER TABLE runs_v1 RENAME TO runs;"
            "CREATE INDEX runs_by_machine ON runs (machine_id, started_at);"
            "CREATE INDEX runs_by_start ON runs (started_at, id);"
            "PRAGMA user_version = 1; COMMIT;");

    cr_assert_eq(bnb_db_open(db, 1, &h, err), 0, "%s", err);
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(h, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "complete");
    cr_assert_eq(row.ncases, 1);
    bnb_db_close(h);
    cr_assert_eq(q_int(db, "PRAGMA user_version"), 1, "a read-only open does not migrate");

    h = open_rw(db);
    cr_assert_eq(q_int(db, "PRAGMA user_version"), BNB_DB_SCHEMA_VERSION);
    cr_assert_eq(bnb_db_get_run_row(h, id, &row, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "complete");
    cr_assert_eq(row.ncases, 1);
    cr_assert_eq(bnb_db_check(h, err), 0, "%s", err);
    cr_assert_eq(bnb_db_end_run_why(h, id, BNB_RUN_ABANDONED, "test", err), 0, "%s", err);
    bnb_run_status s;
    bnb_run_info ri;
    cr_assert_eq(bnb_db_load_run(h, id, &ri, &s, err), 0, "%s", err);
    cr_assert_eq(s, BNB_RUN_ABANDONED);
    cr_assert_str_eq(bnb_run_status_str(s), "abandoned");
    bnb_run_info_free(&ri);
    bnb_db_close(h);
}
