/*
 * test_batch.c - batches (db/batch.h) and the commands that read them:
 * the store API (roster, linking runs, lost ranks, status, a dead rank 0
 * read as incomplete, resolving by id / latest / uuid prefix), a DB of
 * schema 4 (read-only: no batches; migrated: every run kept), and
 * `bnbench batches`, `compare --batch`, `report --batch` end to end on a
 * batch with planted samples, whose medians, ratios and winners are
 * computed here from the very samples stored. A damaged batches table is
 * an error, never "no batches".
 */
#include <cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/batch.h"
#include "db/db.h"
#include "db/model/fmt.h"
#include "db/model/stats.h"
#include "report_fixture.h"

static char dir[64];
static char path[128];
static bnb_db *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-batch-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.db", dir);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
}

static void teardown(void)
{
    bnb_db_close(db);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(batch, .init = setup, .fini = teardown, .timeout = 120);

#define UUID1 "aaaa1111-2222-4333-8444-555555555555"
#define UUID2 "bbbb1111-2222-4333-8444-555555555555"
#define UUID3 "aaaa1111-9999-4333-8444-555555555555"

static void roster(bnb_batch_rank *r, int n)
{
    static const char *const hosts[] = {"host-a", "host-b", "host-a", "host-c"};
    static const char *const cpus[] = {"0-1", "0-3,8", "2-3", ""};
    memset(r, 0, (size_t)n * sizeof *r);
    for (int i = 0; i < n; i++) {
        r[i].rank = i;
        snprintf(r[i].host, sizeof r[i].host, "%s", hosts[i % 4]);
        snprintf(r[i].cpus, sizeof r[i].cpus, "%s", cpus[i % 4]);
    }
}

static int64_t begin(const char *uuid, const char *started, int n)
{
    bnb_batch_rank r[8];
    roster(r, n);
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    cr_assert_eq(bnb_db_batch_begin(db, uuid, started, n, "plant", r, &id, err), 0, "%s", err);
    return id;
}

static void set_rank(int64_t b, int rank, int64_t run, const char *state, const char *why)
{
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_batch_set_rank(db, b, rank, run, state, why, err), 0, "%s", err);
}

/* A skipped case (no samples) with its message. */
static void skipped_case(int64_t run, const char *name, const char *why)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "plant");
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.code_version, sizeof r.code_version, "1");
    r.status = BNB_CASE_SKIPPED;
    snprintf(r.message, sizeof r.message, "%s", why);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(db, run, &r, err), 0, "%s", err);
}

/* ---- the store ------------------------------------------------------------------ */

Test(batch, a_new_db_is_at_schema_5_and_has_no_batches)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(BNB_DB_SCHEMA_VERSION, 5);
    bnb_batch_row *rows = (bnb_batch_row *)1;
    int n = -1;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_list_batches(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 0);
    cr_assert_null(rows);
    int64_t id = 0;
    cr_assert_eq(bnb_db_resolve_batch(db, "latest", &id, err), -1);
    cr_assert(strstr(err, "no batches stored"), "%s", err);
    (void)st;
}

Test(batch, roster_links_lost_and_status_read_back_exactly)
{
    int64_t r0 = fx_run(db, "m-a", "2026-03-01T10:00:00Z", "manual", NULL);
    int64_t r1 = fx_run(db, "m-b", "2026-03-01T10:00:00Z", "manual", NULL);
    int64_t b = begin(UUID1, "2026-03-01T10:00:00Z", 3);
    char err[BNB_ERR_MAX];

    bnb_batch_row row;
    bnb_batch_rank *ranks = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_get_batch(db, b, &row, &ranks, &n, err), 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(row.status, "running");
    cr_assert_eq(row.nstored, 0);
    cr_assert_eq(row.nhosts, 2); /* host-a twice, host-b */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ranks[i].rank, i);
        cr_assert_str_eq(ranks[i].state, "lost");
        cr_assert_str_eq(ranks[i].reason, "not received yet");
        cr_assert_eq(ranks[i].run_id, 0);
    }
    cr_assert_str_eq(ranks[1].cpus, "0-3,8");
    free(ranks);

    set_rank(b, 0, r0, "stored", NULL);
    fx_end(db, r0);
    set_rank(b, 1, r1, "failed", "case plant/x failed: out of memory");
    cr_assert_eq(bnb_db_batch_rank_lost(db, b, 2, "killed by signal 9", err), 0, "%s", err);
    cr_assert_eq(bnb_db_batch_end(db, b, BNB_BATCH_INCOMPLETE, "rank 2 lost", err), 0, "%s", err);

    cr_assert_eq(bnb_db_get_batch(db, b, &row, &ranks, &n, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "incomplete");
    cr_assert_str_eq(row.status_reason, "rank 2 lost");
    cr_assert_str_eq(row.uuid, UUID1);
    cr_assert_str_eq(row.suites, "plant");
    cr_assert_eq(row.nranks, 3);
    cr_assert_eq(row.nstored, 2, "ranks with a run, failed included");
    cr_assert_neq(row.finished_at[0], '\0');
    cr_assert_eq(ranks[0].run_id, r0);
    cr_assert_str_eq(ranks[0].state, "stored");
    cr_assert_str_eq(ranks[0].reason, "");
    cr_assert_eq(ranks[1].run_id, r1);
    cr_assert_str_eq(ranks[1].state, "failed");
    cr_assert_str_eq(ranks[1].reason, "case plant/x failed: out of memory");
    cr_assert_eq(ranks[2].run_id, 0);
    cr_assert_str_eq(ranks[2].state, "lost");
    cr_assert_str_eq(ranks[2].reason, "killed by signal 9");
    free(ranks);

    int64_t bid = 0;
    int rank = -1;
    cr_assert_eq(bnb_db_run_batch(db, r1, &bid, &rank, err), 1, "%s", err);
    cr_assert_eq(bid, b);
    cr_assert_eq(rank, 1);
    int64_t lone = fx_run(db, "m-c", "2026-03-02T10:00:00Z", "manual", NULL);
    cr_assert_eq(bnb_db_run_batch(db, lone, &bid, &rank, err), 0, "%s", err);

    bnb_batch_row *rows = NULL;
    cr_assert_eq(bnb_db_list_batches(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].id, b);
    cr_assert_str_eq(rows[0].status, "incomplete");
    free(rows);
}

Test(batch, bad_writes_are_refused_and_change_nothing)
{
    int64_t r0 = fx_run(db, "m-a", "2026-03-01T10:00:00Z", "manual", NULL);
    bnb_batch_rank r[2];
    roster(r, 2);
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    cr_assert_eq(bnb_db_batch_begin(db, "not-a-uuid", "2026-03-01T10:00:00Z", 2, "", r, &id, err),
                 -1);
    cr_assert(strstr(err, "batch uuid must be 36 characters"), "%s", err);
    cr_assert_eq(bnb_db_batch_begin(db, UUID1, "2026-03-01T10:00:00Z", 0, "", r, &id, err), -1);
    cr_assert(strstr(err, "number of ranks must be 1 to 4096, got 0"), "%s", err);
    r[1].rank = 5;
    cr_assert_eq(bnb_db_batch_begin(db, UUID1, "2026-03-01T10:00:00Z", 2, "", r, &id, err), -1);
    cr_assert(strstr(err, "roster entry 1"), "%s", err);
    int64_t b = begin(UUID1, "2026-03-01T10:00:00Z", 2);
    r[1].rank = 1;
    cr_assert_eq(bnb_db_batch_begin(db, UUID1, "2026-03-01T10:00:00Z", 2, "", r, &id, err), -1,
                 "the same uuid twice");
    cr_assert(strstr(err, "UNIQUE"), "%s", err);

    cr_assert_eq(bnb_db_batch_set_rank(db, b, 0, r0, "lost", NULL, err), -1);
    cr_assert(strstr(err, "state must be stored or failed"), "%s", err);
    cr_assert_eq(bnb_db_batch_set_rank(db, b, 0, 0, "stored", NULL, err), -1);
    cr_assert(strstr(err, "no run to link"), "%s", err);
    cr_assert_eq(bnb_db_batch_set_rank(db, b, 7, r0, "stored", NULL, err), -1);
    cr_assert(strstr(err, "has no rank 7"), "%s", err);
    cr_assert_eq(bnb_db_batch_set_rank(db, b, 0, 999, "stored", NULL, err), -1, "no run 999");
    set_rank(b, 0, r0, "stored", NULL);
    cr_assert_eq(bnb_db_batch_set_rank(db, b, 1, r0, "stored", NULL, err), -1,
                 "a run belongs to one rank");
    cr_assert_eq(bnb_db_batch_end(db, b, BNB_BATCH_RUNNING, NULL, err), -1);
    cr_assert_eq(bnb_db_batch_end(db, b + 100, BNB_BATCH_COMPLETE, NULL, err), -1);
    cr_assert(strstr(err, "no batch with id"), "%s", err);

    bnb_batch_row row;
    bnb_batch_rank *ranks = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_get_batch(db, b, &row, &ranks, &n, err), 0, "%s", err);
    cr_assert_str_eq(row.status, "running");
    cr_assert_eq(row.nstored, 1);
    cr_assert_str_eq(ranks[1].state, "lost");
    free(ranks);
}

Test(batch, a_batch_whose_rank_0_process_is_gone_reads_incomplete)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* rank 0 begins the batch and dies without ending it */
        bnb_db *d = NULL;
        char e[BNB_ERR_MAX];
        bnb_batch_rank r[2];
        roster(r, 2);
        int64_t id = 0;
        if (bnb_db_open(path, 0, &d, e) ||
            bnb_db_batch_begin(d, UUID2, "2026-03-01T10:00:00Z", 2, "", r, &id, e))
            _exit(1);
        bnb_db_close(d);
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int64_t alive = begin(UUID1, "2026-03-01T09:00:00Z", 2); /* this process: alive */
    char err[BNB_ERR_MAX];
    bnb_batch_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_batches(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(rows[0].uuid, UUID2);
    cr_assert_str_eq(rows[0].status, "incomplete");
    char want[128];
    snprintf(want, sizeof want, "rank 0 (process %d on host ", (int)pid);
    cr_assert(strstr(rows[0].status_reason, want) && strstr(rows[0].status_reason, "is gone"), "%s",
              rows[0].status_reason);
    cr_assert_eq(rows[1].id, alive);
    cr_assert_str_eq(rows[1].status, "running");
    free(rows);
}

Test(batch, resolves_id_latest_and_uuid_prefix)
{
    int64_t b1 = begin(UUID1, "2026-03-01T10:00:00Z", 1);
    int64_t b2 = begin(UUID2, "2026-03-02T10:00:00Z", 1);
    int64_t b3 = begin(UUID3, "2026-02-01T10:00:00Z", 1);
    char err[BNB_ERR_MAX], spec[16];
    int64_t id = 0;
    snprintf(spec, sizeof spec, "%lld", (long long)b1);
    cr_assert_eq(bnb_db_resolve_batch(db, spec, &id, err), 0, "%s", err);
    cr_assert_eq(id, b1);
    cr_assert_eq(bnb_db_resolve_batch(db, "latest", &id, err), 0, "%s", err);
    cr_assert_eq(id, b2, "newest by start time");
    cr_assert_eq(bnb_db_resolve_batch(db, "bbbb1111", &id, err), 0, "%s", err);
    cr_assert_eq(id, b2);
    cr_assert_eq(bnb_db_resolve_batch(db, "aaaa1111-9", &id, err), 0, "%s", err);
    cr_assert_eq(id, b3);
    cr_assert_eq(bnb_db_resolve_batch(db, "aaaa1111", &id, err), -1);
    cr_assert(strstr(err, "batch \"aaaa1111\" is ambiguous"), "%s", err);
    cr_assert_eq(bnb_db_resolve_batch(db, "99", &id, err), -1);
    cr_assert(strstr(err, "no batch with id \"99\""), "%s", err);
    cr_assert_eq(bnb_db_resolve_batch(db, "cccccccc", &id, err), -1);
    cr_assert(strstr(err, "no batch with a uuid starting \"cccccccc\""), "%s", err);
    cr_assert_eq(bnb_db_resolve_batch(db, "nightly", &id, err), -1);
    cr_assert(strstr(err, "give latest, a batch id or a uuid prefix"), "%s", err);
}

/* ---- schema 4 ------------------------------------------------------------------- */

static void raw(const char *p, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(p, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(h);
}

static long long raw_int(const char *p, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open(p, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The DB as schema 4 wrote it: runs, no batch tables, user_version 4. */
static void make_v4(void)
{
    for (int i = 0; i < 3; i++) {
        char when[32];
        snprintf(when, sizeof when, "2026-03-0%dT10:00:00Z", i + 1);
        int64_t r = fx_run(db, "m-a", when, "nightly", NULL);
        fx_simple(db, r, "c", 9, 1e-3, 0.02, 0);
        fx_end(db, r);
    }
    bnb_db_close(db);
    db = NULL;
    raw(path, "PRAGMA journal_mode = DELETE; DROP TABLE batch_ranks; DROP TABLE batches; "
              "PRAGMA user_version = 4");
}

Test(batch, a_schema_4_db_reads_as_no_batches_and_migrates_keeping_every_run)
{
    make_v4();
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 1, &db, err), 0, "%s", err);
    bnb_batch_row *rows = NULL;
    int n = -1;
    cr_assert_eq(bnb_db_list_batches(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_eq(n, 0);
    int64_t id = 0;
    cr_assert_eq(bnb_db_resolve_batch(db, "latest", &id, err), -1);
    cr_assert(strstr(err, "the DB has no batches"), "%s", err);
    int bid_rank = 0;
    cr_assert_eq(bnb_db_run_batch(db, 1, &id, &bid_rank, err), 0, "%s", err);
    bnb_db_close(db);
    cr_assert_eq(raw_int(path, "PRAGMA user_version"), 4, "a read-only open does not migrate");

    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "batches", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "no batches stored in"), "%s", r->out);
    free(r);

    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    bnb_db_close(db);
    db = NULL;
    cr_assert_eq(raw_int(path, "PRAGMA user_version"), 5);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM runs"), 3);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM cases"), 3);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM samples"), 27);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM batches"), 0);
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
}

/* ---- the commands --------------------------------------------------------------- */

#define N 15

/* Planted batch: 3 ranks on 2 hosts, rank 2 lost.
 *   plant/fast   rank 0 ~1 ms, rank 1 ~1.2 ms (separated)   -> rank 1 slower, winner rank 0
 *   plant/slow   rank 0 ~2 ms, rank 1 ~2 ms interleaved     -> same, a tie of 0 and 1
 *   plant/quick  rank 0 ~5 us, rank 1 ~4 us (separated)     -> rank 1 faster, winner rank 1
 *   plant/only0  rank 0 only                                -> rank 1 "not measured"
 *   plant/skip   rank 0 ok, rank 1 skipped                  -> "skipped" */
typedef struct planted {
    int64_t batch, r0, r1;
    double x0[4][N], x1[3][N];
} planted;

static void plant(planted *p)
{
    p->r0 = fx_run(db, "m-a", "2026-03-01T10:00:00Z", "manual", NULL);
    p->r1 = fx_run(db, "m-b", "2026-03-01T10:00:00Z", "manual", NULL);
    fx_dist(p->x0[0], N, 1e-3, 0.02, 0);
    fx_dist(p->x1[0], N, 1.2e-3, 0.02, 0);
    fx_dist(p->x0[1], N, 2e-3, 0.02, 0);
    fx_dist(p->x1[1], N, 2e-3, 0.02, 0.5);
    fx_dist(p->x0[2], N, 5e-6, 0.02, 0);
    fx_dist(p->x1[2], N, 4e-6, 0.02, 0);
    fx_dist(p->x0[3], N, 3e-3, 0.02, 0);
    static const char *const names[] = {"fast", "slow", "quick", "only0"};
    for (int i = 0; i < 4; i++)
        fx_case(db, p->r0, "plant", names[i], NULL, NULL, p->x0[i], N, NULL, NULL, 0);
    for (int i = 0; i < 3; i++)
        fx_case(db, p->r1, "plant", names[i], NULL, NULL, p->x1[i], N, NULL, NULL, 0);
    fx_case(db, p->r0, "plant", "skip", NULL, NULL, p->x0[3], N, NULL, NULL, 0);
    skipped_case(p->r1, "skip", "no GPU on this host");
    fx_end(db, p->r0);
    fx_end(db, p->r1);
    p->batch = begin(UUID1, "2026-03-01T10:00:00Z", 3);
    set_rank(p->batch, 0, p->r0, "stored", NULL);
    set_rank(p->batch, 1, p->r1, "stored", NULL);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_batch_rank_lost(db, p->batch, 2, "killed by signal 9", err), 0, "%s", err);
    cr_assert_eq(bnb_db_batch_end(db, p->batch, BNB_BATCH_INCOMPLETE, "rank 2 lost", err), 0, "%s",
                 err);
}

static double med(const double *x)
{
    return bnb_stats_median(x, N);
}

/* The line of stdout that starts with prefix (copied into line), or fail. */
static void line_of(const char *out, const char *prefix, char *line, size_t cap)
{
    const char *s = out;
    while (s && *s) {
        if (!strncmp(s, prefix, strlen(prefix))) {
            size_t n = strcspn(s, "\n");
            snprintf(line, cap, "%.*s", (int)n, s);
            return;
        }
        s = strchr(s, '\n');
        s = s ? s + 1 : NULL;
    }
    cr_assert_fail("no line starting \"%s\" in:\n%s", prefix, out);
}

Test(batch, batches_lists_the_batch)
{
    planted p;
    plant(&p);
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "batches", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    char line[512], want[512];
    line_of(r->out, "    1  aaaa1111", line, sizeof line);
    snprintf(want, sizeof want, "%5d  %-8s  %-24s  %-11s  %9s  %5d  %s", 1, "aaaa1111",
             "2026-03-01T10:00:00Z", "incomplete", "2/3", 2, "plant");
    cr_assert_str_eq(line, want);
    cr_assert(strstr(r->out, "       incomplete: rank 2 lost\n"), "%s", r->out);
    FX_BNBENCH(r, dir, "batches", "--help");
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "usage: bnbench batches [--db PATH] [--limit N]"), "%s", r->out);
    FX_BNBENCH(r, dir, "batches", "--limit", "0", "--db", path);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--limit"), "%s", r->err);
    free(r);
}

Test(batch, compare_batch_prints_medians_ratios_verdicts_and_winners)
{
    planted p;
    plant(&p);
    bnb_db_close(db);
    db = NULL;
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "compare", "--batch", "latest", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    char line[1024], want[1024], m0[32], m1[32], ra[32], cell0[96], cell1[96];

    /* fast: rank 1 slower, rank 0 wins */
    line_of(r->out, "plant/fast ", line, sizeof line);
    snprintf(cell0, sizeof cell0, "%s (ref)", bnb_fmt_seconds(med(p.x0[0]), m0, sizeof m0));
    snprintf(cell1, sizeof cell1, "%s x%s slower", bnb_fmt_seconds(med(p.x1[0]), m1, sizeof m1),
             bnb_fmt_num(med(p.x1[0]) / med(p.x0[0]), "%.3f", ra, sizeof ra));
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  %s", "plant/fast", cell0, cell1,
             "lost", "rank 0");
    cr_assert_str_eq(line, want);
    cr_assert_str_eq(ra, "1.200");
    cr_assert_str_eq(m0, "1 ms");
    cr_assert_str_eq(m1, "1.2 ms");

    /* slow: no change, the CIs overlap: a tie */
    line_of(r->out, "plant/slow ", line, sizeof line);
    snprintf(cell0, sizeof cell0, "%s (ref)", bnb_fmt_seconds(med(p.x0[1]), m0, sizeof m0));
    snprintf(cell1, sizeof cell1, "%s x%s same", bnb_fmt_seconds(med(p.x1[1]), m1, sizeof m1),
             bnb_fmt_num(med(p.x1[1]) / med(p.x0[1]), "%.3f", ra, sizeof ra));
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  %s", "plant/slow", cell0, cell1,
             "lost", "tie: rank 0, rank 1");
    cr_assert_str_eq(line, want);

    /* quick: rank 1 faster and the winner */
    line_of(r->out, "plant/quick ", line, sizeof line);
    snprintf(cell0, sizeof cell0, "%s (ref)", bnb_fmt_seconds(med(p.x0[2]), m0, sizeof m0));
    snprintf(cell1, sizeof cell1, "%s x%s faster", bnb_fmt_seconds(med(p.x1[2]), m1, sizeof m1),
             bnb_fmt_num(med(p.x1[2]) / med(p.x0[2]), "%.3f", ra, sizeof ra));
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  %s", "plant/quick", cell0, cell1,
             "lost", "rank 1");
    cr_assert_str_eq(line, want);
    cr_assert_str_eq(ra, "0.800");

    line_of(r->out, "plant/only0 ", line, sizeof line);
    snprintf(cell0, sizeof cell0, "%s (ref)", bnb_fmt_seconds(med(p.x0[3]), m0, sizeof m0));
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  %s", "plant/only0", cell0,
             "not measured", "lost", "rank 0");
    cr_assert_str_eq(line, want);
    line_of(r->out, "plant/skip ", line, sizeof line);
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  %s", "plant/skip", cell0, "skipped",
             "lost", "rank 0");
    cr_assert_str_eq(line, want);

    /* the header: rank, host, machine or lost with the reason */
    line_of(r->out, "case ", line, sizeof line);
    snprintf(want, sizeof want, "%-40s  %-30s  %-30s  %-30s  winner", "case", "rank 0", "rank 1",
             "rank 2");
    cr_assert_str_eq(line, want);
    cr_assert(strstr(r->out, "lost: killed by signal 9"), "%s", r->out);
    cr_assert(strstr(r->out, "  rank 1: host host-b, cpus 0-3,8, machine m-b, run 2 (complete)\n"),
              "%s", r->out);
    cr_assert(strstr(r->out, "  rank 2: host host-a, cpus 2-3, no run: lost: killed by signal 9\n"),
              "%s", r->out);

    /* json: the same figures */
    FX_BNBENCH(r, dir, "compare", "--batch", "aaaa1111", "--format", "json", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j, "%s", r->out);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "schema")->valuestring, "bnbench.batch_compare");
    cr_assert_eq(cJSON_GetObjectItem(j, "reference_rank")->valueint, 0);
    const cJSON *b = cJSON_GetObjectItem(j, "batch");
    cr_assert_str_eq(cJSON_GetObjectItem(b, "uuid")->valuestring, UUID1);
    cr_assert_str_eq(cJSON_GetObjectItem(b, "status")->valuestring, "incomplete");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ranks")), 3);
    const cJSON *rk2 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(rk2, "state")->valuestring, "lost");
    cr_assert_str_eq(cJSON_GetObjectItem(rk2, "reason")->valuestring, "killed by signal 9");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(rk2, "run_id")));
    const cJSON *cases = cJSON_GetObjectItem(j, "cases");
    cr_assert_eq(cJSON_GetArraySize(cases), 5);
    const cJSON *fast = cJSON_GetArrayItem(cases, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(fast, "case")->valuestring, "plant/fast");
    cr_assert_eq(cJSON_GetObjectItem(fast, "winner")->valueint, 0);
    const cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(fast, "cells"), 1);
    cr_assert_float_eq(cJSON_GetObjectItem(c1, "median_s")->valuedouble, med(p.x1[0]), 1e-15);
    cr_assert_float_eq(cJSON_GetObjectItem(c1, "ratio")->valuedouble, med(p.x1[0]) / med(p.x0[0]),
                       1e-12);
    cr_assert_lt(cJSON_GetObjectItem(c1, "p")->valuedouble, 0.01);
    cr_assert_str_eq(cJSON_GetObjectItem(c1, "verdict")->valuestring, "slower");
    const cJSON *slow = cJSON_GetArrayItem(cases, 1);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(slow, "tied")), 1);
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(slow, "tied"), 0)->valueint, 1);
    const cJSON *skip = cJSON_GetArrayItem(cases, 4);
    const cJSON *s1 = cJSON_GetArrayItem(cJSON_GetObjectItem(skip, "cells"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(s1, "state")->valuestring, "skipped");
    cr_assert_str_eq(cJSON_GetObjectItem(s1, "message")->valuestring, "no GPU on this host");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(s1, "median_s")));
    cJSON_Delete(j);

    /* md: a table with one column per rank */
    FX_BNBENCH(r, dir, "compare", "--batch", "1", "--format", "md", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "| case | rank 0: host-a, m-a | rank 1: host-b, m-b | rank 2: "
                             "host-a, lost: killed by signal 9 | winner |"),
              "%s", r->out);
    free(r);
}

Test(batch, compare_and_report_batch_refuse_what_they_cannot_do)
{
    planted p;
    plant(&p);
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "compare", "--batch", "12345", "--db", path);
    cr_assert_eq(r->code, 2);
    cr_assert_str_eq(r->out, "");
    char want[256];
    snprintf(want, sizeof want, "bnbench compare: DB %s: no batch with id \"12345\"\n", path);
    cr_assert_str_eq(r->err, want);
    FX_BNBENCH(r, dir, "report", "--batch", "deadbeef", "--db", path);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "no batch with a uuid starting \"deadbeef\""), "%s", r->err);
    FX_BNBENCH(r, dir, "compare", "--batch", "1", "1", "--db", path);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "no runs or --machine with it"), "%s", r->err);
    FX_BNBENCH(r, dir, "report", "--batch", "1", "latest", "--db", path);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "no RUN, --baseline or --history with it"), "%s", r->err);
    FX_BNBENCH(r, dir, "compare", "--help");
    cr_assert(strstr(r->out, "bnbench compare --batch B"), "%s", r->out);
    FX_BNBENCH(r, dir, "report", "--help");
    cr_assert(strstr(r->out, "bnbench report --batch B"), "%s", r->out);
    FX_BNBENCH(r, dir, "--help");
    cr_assert(strstr(r->out, "  batches  "), "%s", r->out);
    free(r);
}

Test(batch, report_batch_md_html_json)
{
    planted p;
    plant(&p);
    bnb_db_close(db);
    db = NULL;
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "report", "--batch", "latest", "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    const char *o = r->out;
    cr_assert(strstr(o, "# Hardware comparison: batch 1 (3 ranks on 2 hosts)"), "%s", o);
    cr_assert(strstr(o, "Batch " UUID1 ", status incomplete: rank 2 lost;"), "%s", o);
    cr_assert(strstr(o, "| 1 | host-b | 0-3,8 | m-b | Test CPU 9000 | 2 (complete) | stored |"),
              "%s", o);
    cr_assert(strstr(o, "| 2 | host-a | 2-3 | - | - | - | lost: killed by signal 9 |"), "%s", o);
    cr_assert(strstr(o, "- rank 2 (host host-a): lost: killed by signal 9"), "%s", o);
    cr_assert(strstr(o, "| case | rank 0: host-a, m-a | rank 1: host-b, m-b | rank 2: host-a, "
                        "lost: killed by signal 9 | winner |"),
              "%s", o);
    /* the winners as computed from the stored samples */
    char m0[32], lo[32], hi[32], want[512];
    bnb_stats s0;
    cr_assert_eq(bnb_stats_compute(p.x0[0], N, 1, &s0, NULL), 0);
    snprintf(want, sizeof want, "| plant/fast | %s \\[%s, %s], reference |",
             bnb_fmt_seconds(s0.median, m0, sizeof m0), bnb_fmt_seconds(s0.ci_lo, lo, sizeof lo),
             bnb_fmt_seconds(s0.ci_hi, hi, sizeof hi));
    cr_assert(strstr(o, want), "lacks %s:\n%s", want, o);
    cr_assert(strstr(o, "| lost | rank 0 |\n"), "%s", o);
    cr_assert(strstr(o, "| lost | tie: rank 0, rank 1 |\n"), "%s", o);
    cr_assert(strstr(o, "| lost | rank 1 |\n"), "%s", o);
    cr_assert(strstr(o, "- rank 0: host-a, m-a: fastest in 3 of 5 cases"), "%s", o);
    cr_assert(strstr(o, "- rank 1: host-b, m-b: fastest in 1 of 5 cases"), "%s", o);
    cr_assert(strstr(o, "- tied (CIs overlap): 1 cases"), "%s", o);

    char html[160];
    snprintf(html, sizeof html, "%s/b.html", dir);
    FX_BNBENCH(r, dir, "report", "--batch", "1", "-o", html, "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    fx_read(html, r->out, sizeof r->out);
    o = r->out;
    cr_assert(!strncmp(o, "<!DOCTYPE html>", 15), "%.80s", o);
    cr_assert(strstr(o, "</html>"));
    cr_assert(strstr(o, "<style>"));
    cr_assert(strstr(o, "<svg"), "one chart per rank against the reference");
    cr_assert(strstr(o, "rank 1: host-b, m-b: median against rank 0"), "%s", o);
    cr_assert_null(strstr(o, "<script"));
    cr_assert_null(strstr(o, "src="));
    cr_assert_null(strstr(o, "<link"));
    cr_assert_null(strstr(o, "@import"));

    char js[160];
    snprintf(js, sizeof js, "%s/b.json", dir);
    FX_BNBENCH(r, dir, "report", "--batch", "1", "-o", js, "--db", path);
    cr_assert_eq(r->code, 0, "%s", r->err);
    fx_read(js, r->out, sizeof r->out);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j);
    cr_assert_eq(cJSON_GetObjectItem(j, "schema_version")->valueint, 1);
    const cJSON *rk = cJSON_GetObjectItem(j, "ranks");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rk, 0), "wins")->valueint, 3);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rk, 1), "cpus")->valuestring, "0-3,8");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rk, 1), "cpu_model")->valuestring,
                     "Test CPU 9000");
    const cJSON *quick = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cases"), 2);
    cr_assert_eq(cJSON_GetObjectItem(quick, "winner")->valueint, 1);
    cJSON_Delete(j);
    free(r);
}

/* ---- damage --------------------------------------------------------------------- */

/* Overwrites page `page` of p (b-tree header included) with fixed bytes. */
static void damage_page(const char *p, long long page, long long page_size)
{
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)((page - 1) * page_size), SEEK_SET), 0);
    unsigned long long s = 0x9e3779b97f4a7c15ull ^ (unsigned long long)page;
    for (long long i = 0; i < page_size; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        fputc((int)(s & 0xff), f);
    }
    cr_assert_eq(fclose(f), 0);
}

Test(batch, a_damaged_batches_table_is_an_error_never_no_batches)
{
    planted p;
    plant(&p);
    bnb_db_close(db);
    db = NULL;
    raw(path, "PRAGMA journal_mode = DELETE");
    static const char *const tables[] = {"batches", "batch_ranks"};
    for (int t = 0; t < 2; t++) {
        char bad[160], q[160];
        snprintf(bad, sizeof bad, "%s/bad-%s.db", dir, tables[t]);
        snprintf(q, sizeof q, "cp '%s' '%s'", path, bad);
        cr_assert_eq(system(q), 0);
        snprintf(q, sizeof q, "SELECT rootpage FROM sqlite_schema WHERE name = '%s'", tables[t]);
        long long root = raw_int(bad, q), ps = raw_int(bad, "PRAGMA page_size");
        damage_page(bad, root, ps);
        fx_result *r = malloc(sizeof *r);
        cr_assert_not_null(r);
        const char *const cmds[][4] = {{"batches", NULL},
                                       {"compare", "--batch", "latest", NULL},
                                       {"report", "--batch", "1", NULL}};
        for (int c = 0; c < 3; c++) {
            const char *a[8] = {0};
            int k = 0;
            for (; cmds[c][k]; k++)
                a[k] = cmds[c][k];
            a[k++] = "--db";
            a[k++] = bad;
            fx_spawn(r, dir, a);
            cr_assert_eq(r->code, 2, "%s on damaged %s: exit %d, out %s", cmds[c][0], tables[t],
                         r->code, r->out);
            cr_assert_null(strstr(r->out, "no batches"), "%s", r->out);
            char dbname[200];
            snprintf(dbname, sizeof dbname, "DB %s", bad);
            cr_assert(strstr(r->err, dbname) &&
                          (strstr(r->err, "damaged") || strstr(r->err, "malformed")),
                      "%s", r->err);
        }
        free(r);
    }
}
