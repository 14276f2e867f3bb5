/*
 * test_fleet_loopback.c - issue 18's acceptance 1 and acceptance 3 (its
 * collector half), end to end with the real binaries: a `bnbench serve` on
 * 127.0.0.1:0 and 20 concurrent `bnbench publish` processes, each with its
 * own DB of 25 distinct runs (planted with `bnbench _gen-db`, not
 * measured).
 *
 *   1. all 20 publish at once -> the collector holds exactly 500 runs,
 *      none twice (rows = distinct UUIDs = 500), integrity check ok, every
 *      publisher's runs recorded as published;
 *   2. the same again to a fresh collector that is SIGKILLed mid-stream:
 *      the publishers that could not send spool (exit 1, nothing lost);
 *      restarted on the same DB and port, each publisher runs
 *      `publish --all-unpublished` again, the spools resend, and the count
 *      is exactly 500, none twice, integrity ok;
 *   3. two DBs measured with --machine a and --machine b, published to one
 *      collector, compared there with `compare --machine a --machine b`.
 *
 * Every process started is reaped, the collector killed in teardown if a
 * test stops early.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#define NPUB  20
#define NRUNS 25
#define TOKEN "fleet-l00pback-token"

static char dir[64], tok[128];
static pid_t collector = -1;
static pid_t pubs[NPUB]; /* publishers running (0: none), killed by teardown */

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-fleet-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(tok, sizeof tok, "%s/token", dir);
    FILE *f = fopen(tok, "w");
    cr_assert_not_null(f);
    fputs(TOKEN "\n", f);
    fclose(f);
    unsetenv("BNBENCH_TOKEN");
}

static void teardown(void)
{
    for (int i = 0; i < NPUB; i++)
        if (pubs[i] > 0) {
            kill(pubs[i], SIGKILL);
            waitpid(pubs[i], NULL, 0);
            pubs[i] = 0;
        }
    if (collector > 0) {
        kill(collector, SIGKILL);
        waitpid(collector, NULL, 0);
        collector = -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 120);

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void path(char *out, size_t cap, const char *fmt, int i)
{
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Starts `bnbench serve` on port (0: any) with the DB db; returns its port. */
static int serve_start(const char *db, int port)
{
    char listen[64], outp[160], errp[160];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    path(outp, sizeof outp, "serve-%d.out", port);
    path(errp, sizeof errp, "serve-%d.err", port);
    collector = fx_start(outp, errp,
                         (const char *[]){"serve", "--listen", listen, "--db", db, "--token-file",
                                          tok, "--threads", "8", NULL});
    char out[512] = "";
    for (double t0 = now_s(); now_s() - t0 < 15;) {
        if (access(outp, R_OK) == 0) /* the child opens it */
            fx_read(outp, out, sizeof out);
        const char *l = strstr(out, "listening on http://127.0.0.1:");
        if (l)
            return atoi(l + strlen("listening on http://127.0.0.1:"));
        int st;
        if (waitpid(collector, &st, WNOHANG) == collector) {
            char err[2048];
            fx_read(errp, err, sizeof err);
            collector = -1;
            cr_assert_fail("serve exited: %s", err);
        }
        usleep(20 * 1000);
    }
    cr_assert_fail("serve did not say it listens: %s", out);
    return -1;
}

static void serve_kill(void)
{
    cr_assert_eq(kill(collector, SIGKILL), 0);
    cr_assert_eq(waitpid(collector, NULL, 0), collector);
    collector = -1;
}

static void serve_stop(void)
{
    int st = 0;
    cr_assert_eq(kill(collector, SIGTERM), 0);
    cr_assert_eq(waitpid(collector, &st, 0), collector);
    collector = -1;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve did not exit 0 on SIGTERM");
}

/* One integer (or the text "ok" as 1) from the DB at db, opened read-only. */
static long long q_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(h));
    long long v = sqlite3_column_type(st, 0) == SQLITE_TEXT
                      ? !strcmp((const char *)sqlite3_column_text(st, 0), "ok")
                      : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The runs of the collector DB db while it is being written: -1 when it
 * cannot tell yet (no file, no schema). */
static long long runs_now(const char *db)
{
    sqlite3 *h = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 1000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT count(*) FROM runs", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* Runs sql on the DB at db. */
static void exec_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(h);
}

/* The 20 publisher DBs of 25 runs each: one planted by `bnbench _gen-db`
 * (its bootstrap statistics are what take the time), 19 copies of it
 * whose runs get fresh random UUIDs, so all 500 are distinct. */
static void make_publishers(char set)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    char first[160], runs[8], fmt[32];
    snprintf(fmt, sizeof fmt, "pub%c%%02d.db", set);
    path(first, sizeof first, fmt, 0);
    snprintf(runs, sizeof runs, "%d", NRUNS);
    fx_spawn(r, dir, (const char *[]){"_gen-db", "--runs", runs, "-o", first, NULL});
    cr_assert_eq(r->code, 0, "%s", r->err);
    free(r);
    for (int i = 1; i < NPUB; i++) {
        char db[160], sql[400];
        path(db, sizeof db, fmt, i);
        snprintf(sql, sizeof sql, "VACUUM INTO '%s'", db);
        exec_sql(first, sql);
        exec_sql(db, "UPDATE runs SET uuid = lower(printf('%s-%s-4%s-%s%s-%s', "
                     "hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2), "
                     "substr('89ab', 1 + abs(random()) % 4, 1), substr(hex(randomblob(2)), 2), "
                     "hex(randomblob(6))))");
    }
}

/* Starts the 20 publishers (publish --all-unpublished) at once; returns
 * nothing, fills pids. */
static void publishers_start(char set, pid_t *pids, const char *url, int round, const char *retries)
{
    for (int i = 0; i < NPUB; i++) {
        char db[160], o[160], e[160], name[32];
        snprintf(name, sizeof name, "pub%c%%02d.db", set);
        path(db, sizeof db, name, i);
        snprintf(name, sizeof name, "p%%02d-r%d.out", round);
        path(o, sizeof o, name, i);
        snprintf(name, sizeof name, "p%%02d-r%d.err", round);
        path(e, sizeof e, name, i);
        pids[i] = fx_start(o, e,
                           (const char *[]){"publish", "--all-unpublished", "--url", url, "--db",
                                            db, "--token-file", tok, "--retries", retries,
                                            "--timeout", "20", NULL});
        pubs[i] = pids[i];
    }
}

/* Waits for the publishers; returns how many exited with each code 0..3. */
static void publishers_wait(const pid_t *pids, int *codes)
{
    memset(codes, 0, 4 * sizeof *codes);
    for (int i = 0; i < NPUB; i++) {
        int st = 0;
        cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
        pubs[i] = 0;
        cr_assert(WIFEXITED(st), "publisher %d died with signal %d", i, WTERMSIG(st));
        cr_assert_leq(WEXITSTATUS(st), 3);
        codes[WEXITSTATUS(st)]++;
    }
}

static void publisher_err(int i, int round, char *buf, size_t cap)
{
    char p[160], name[32];
    snprintf(name, sizeof name, "p%%02d-r%d.err", round);
    path(p, sizeof p, name, i);
    fx_read(p, buf, cap);
}

static void assert_exactly_500(const char *cdb)
{
    cr_assert_eq(q_int(cdb, "SELECT count(*) FROM runs"), NPUB * NRUNS);
    cr_assert_eq(q_int(cdb, "SELECT count(DISTINCT uuid) FROM runs"), NPUB * NRUNS);
    cr_assert_eq(q_int(cdb, "PRAGMA integrity_check"), 1, "integrity check failed");
    /* every case of every run arrived once: 9 per synthetic run */
    cr_assert_eq(q_int(cdb, "SELECT count(*) FROM cases"), NPUB * NRUNS * 9);
    cr_assert_eq(q_int(cdb, "SELECT count(*) FROM (SELECT run_id, seq FROM cases GROUP BY run_id, "
                            "seq HAVING count(*) > 1)"),
                 0);
}

Test(fleet, twenty_publishers_store_exactly_500_runs_also_across_a_sigkill)
{
    double t0 = now_s();
    make_publishers('A');
    char cdb[160], url[64];
    path(cdb, sizeof cdb, "collector%d.db", 1);
    int port = serve_start(cdb, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);

    /* 1. all at once */
    pid_t pids[NPUB];
    int codes[4];
    publishers_start('A', pids, url, 1, "3");
    publishers_wait(pids, codes);
    char err[8192];
    publisher_err(0, 1, err, sizeof err);
    cr_assert_eq(codes[0], NPUB, "%d publisher(s) did not exit 0; one said: %s", NPUB - codes[0],
                 err);
    serve_stop();
    assert_exactly_500(cdb);
    for (int i = 0; i < NPUB; i++) {
        char db[160];
        path(db, sizeof db, "pubA%02d.db", i);
        cr_assert_eq(q_int(db, "SELECT count(*) FROM publications WHERE status = 201"), NRUNS);
    }
    double t1 = now_s();

    /* 2. fresh publishers (the OS may give the new collector the old port,
     * hence the old URL) and a fresh collector, SIGKILLed mid-stream */
    make_publishers('B');
    path(cdb, sizeof cdb, "collector%d.db", 2);
    port = serve_start(cdb, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    publishers_start('B', pids, url, 2, "1");
    long long at_kill = 0;
    for (double w = now_s(); now_s() - w < 20; usleep(5 * 1000)) {
        if ((at_kill = runs_now(cdb)) >= 100)
            break;
    }
    serve_kill();
    at_kill = q_int(cdb, "SELECT count(*) FROM runs");
    publishers_wait(pids, codes);
    cr_assert_lt(at_kill, NPUB * NRUNS, "the kill came after everything was stored");
    if (codes[1] == 0) {
        char o[160], out[65536];
        path(o, sizeof o, "p%02d-r2.out", 0);
        fx_read(o, out, sizeof out);
        cr_assert_fail("no publisher had to spool (%lld stored at the kill, %d exit 0); "
                       "publisher 0 said:\n%s",
                       at_kill, codes[0], out);
    }
    int codes1_of_round2 = codes[1];
    cr_assert_eq(codes[2] + codes[3], 0);
    /* what each publisher that failed said: the reason, and that it spooled */
    for (int i = 0; i < NPUB; i++) {
        publisher_err(i, 2, err, sizeof err);
        if (err[0])
            cr_assert(strstr(err, "waiting in the spool") && strstr(err, "nothing is lost"), "%s",
                      err);
    }
    cr_assert_eq(q_int(cdb, "PRAGMA integrity_check"), 1, "integrity check failed after SIGKILL");

    /* restarted on the same DB and port; every publisher again */
    cr_assert_eq(serve_start(cdb, port), port);
    publishers_start('B', pids, url, 3, "3");
    publishers_wait(pids, codes);
    publisher_err(0, 3, err, sizeof err);
    cr_assert_eq(codes[0], NPUB, "%d publisher(s) did not exit 0; one said: %s", NPUB - codes[0],
                 err);
    serve_stop();
    assert_exactly_500(cdb);
    int spooled_left = 0;
    for (int i = 0; i < NPUB; i++) {
        char db[160];
        path(db, sizeof db, "pubB%02d.db", i);
        /* the collector acknowledged all 25 runs of every publisher */
        cr_assert_eq(q_int(db, "SELECT count(*) FROM publications WHERE status IN (200, 201)"),
                     NRUNS);
        fx_result *r = malloc(sizeof *r);
        fx_spawn(r, dir, (const char *[]){"publish", "--status", "--db", db, NULL});
        spooled_left += strstr(r->out, "waiting (sent first by the next publish to their "
                                       "collector): 0 run(s)") == NULL;
        free(r);
    }
    cr_assert_eq(spooled_left, 0, "a spool still holds runs");
    /* and the spools were what the third round sent first */
    int resent = 0;
    for (int i = 0; i < NPUB; i++) {
        char o[160], name[32], out[65536];
        snprintf(name, sizeof name, "p%%02d-r%d.out", 3);
        path(o, sizeof o, name, i);
        fx_read(o, out, sizeof out);
        resent += strstr(out, " 0 run(s) from the spool") == NULL;
    }
    cr_assert_eq(resent, codes1_of_round2, "every publisher that spooled resent its spool");
    double t2 = now_s();
    printf("fleet loopback: %d x %d runs: %.1f s; with a SIGKILL at %lld stored: %.1f s\n", NPUB,
           NRUNS, t1 - t0, at_kill, t2 - t1);
    cr_assert_lt(t2 - t0, 60, "took %.1f s", t2 - t0);
}

Test(fleet, two_machines_published_to_one_collector_compare_side_by_side)
{
    char cdb[160], url[64], dba[160], dbb[160];
    path(cdb, sizeof cdb, "collector%d.db", 3);
    path(dba, sizeof dba, "%c.db", 'a');
    path(dbb, sizeof dbb, "%c.db", 'b');
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    /* measured separately: one quick case each */
    const char *dbs[2] = {dba, dbb}, *names[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        fx_spawn(r, dir,
                 (const char *[]){"run", "--db", dbs[i], "--machine", names[i], "--case",
                                  "timer/rdtsc", "--quick", "--quiet", "--targets",
                                  "suites/targets.json", NULL});
        cr_assert_leq(r->code, 1, "%s", r->err);
    }
    int port = serve_start(cdb, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    for (int i = 0; i < 2; i++) {
        fx_spawn(r, dir,
                 (const char *[]){"publish", "latest", "--url", url, "--db", dbs[i], "--token-file",
                                  tok, NULL});
        cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
        cr_assert(strstr(r->out, "stored (HTTP 201)"), "%s", r->out);
    }
    /* idempotent: the same run again is answered 200 and stored once */
    fx_spawn(r, dir,
             (const char *[]){"publish", "latest", "--url", url, "--db", dba, "--token-file", tok,
                              NULL});
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert(strstr(r->out, "already stored (HTTP 200)"), "%s", r->out);
    serve_stop();
    cr_assert_eq(q_int(cdb, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(q_int(cdb, "SELECT count(DISTINCT machine_id) FROM runs"), 2);
    fx_spawn(r, dir,
             (const char *[]){"compare", "--machine", "a", "--machine", "b", "--db", cdb, NULL});
    cr_assert_leq(r->code, 1, "%s", r->err);
    /* the collector's DB is a bnbench DB like any: both machines side by side */
    cr_assert(strstr(r->out, "A = run 1 (a), B = run 2 (b)") ||
                  strstr(r->out, "A = run 2 (a), B = run 1 (b)"),
              "%s", r->out);
    cr_assert(strstr(r->out, "peak/timer/rdtsc"), "%s", r->out);
    cr_assert(strstr(r->out, "1 no change") || strstr(r->out, "1 faster") ||
                  strstr(r->out, "1 slower"),
              "the case was compared: %s", r->out);
    free(r);
}
