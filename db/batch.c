/*
 * batch.c - the batches of the store (contract: db/batch.h; tables batches
 * and batch_ranks, schema 5).
 *
 * Shape: a write is one IMMEDIATE transaction (bnb_db__begin), rolled back
 * on the first error, so a batch is begun with its whole roster or not at
 * all. Reads go through bnb_db__rd (internal.h): any step result but a row
 * or the end fails the call, so a damaged table never reads as "no
 * batches". A DB of schema < 5 opened read-only has no batch tables; the
 * reads answer "none" for it (checked in sqlite_schema, never by catching
 * an error).
 *
 * Status as read: a batch stored as running whose rank 0 is gone reads as
 * incomplete, with the reason. Gone means rank 0's process is gone (its
 * owner is on this host: the same test a write-open applies to runs), or
 * rank 0's own run was found abandoned. A batch of another host whose
 * process cannot be looked up from here reads as running.
 */
#include "db/batch.h"
#include "db/internal.h"
#include "db/model/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static const char *const status_names[] = {
    [BNB_BATCH_RUNNING] = "running",
    [BNB_BATCH_COMPLETE] = "complete",
    [BNB_BATCH_INTERRUPTED] = "interrupted",
    [BNB_BATCH_INCOMPLETE] = "incomplete",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == BNB_BATCH_INCOMPLETE + 1,
               "one name per batch status");

const char *bnb_batch_status_str(bnb_batch_status st)
{
    if ((int)st < 0 || (int)st > BNB_BATCH_INCOMPLETE)
        return "?";
    return status_names[st];
}

/* ---- writes ------------------------------------------------------------------- */

/* Prepares sql on db's connection; NULL with err. */
static sqlite3_stmt *wprep(bnb_db *db, const char *sql, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bnb_db__sqlite(db), sql, -1, &st, NULL) != SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: %s", bnb_db__path(db), sqlite3_errmsg(bnb_db__sqlite(db)));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Steps a write to its end; 0, or -1 with err naming what was written. */
static int wstep(bnb_db *db, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: %s: %s", bnb_db__path(db), what,
                       sqlite3_errmsg(bnb_db__sqlite(db)));
        return -1;
    }
    return 0;
}

static void wtext(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* 36 characters of hex digits and '-' in the places of a uuid. */
static bool uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
            return false;
    }
    return true;
}

int bnb_db_batch_begin(bnb_db *db, const char *uuid, const char *started_at, int nranks,
                       const char *suites, const bnb_batch_rank *roster, int64_t *batch_id,
                       char *err)
{
    char q[BNB_QUOTE_CAP];
    if (!uuid_valid(uuid)) {
        bnb_db__seterr(err, "DB %s: batch uuid must be 36 characters like a uuid, got \"%s\"",
                       bnb_db__path(db), bnb_quote(uuid ? uuid : "", q));
        return -1;
    }
    if (nranks < 1 || nranks > BNB_BATCH_MAX_RANKS) {
        bnb_db__seterr(err, "DB %s: batch %.8s: number of ranks must be 1 to %d, got %d",
                       bnb_db__path(db), uuid, BNB_BATCH_MAX_RANKS, nranks);
        return -1;
    }
    if (!started_at || !*started_at) {
        bnb_db__seterr(err, "DB %s: batch %.8s: no start time", bnb_db__path(db), uuid);
        return -1;
    }
    for (int i = 0; i < nranks; i++)
        if (roster[i].rank != i || !roster[i].host[0]) {
            bnb_db__seterr(err, "DB %s: batch %.8s: roster entry %d %s", bnb_db__path(db), uuid, i,
                           roster[i].rank != i ? "is not rank i (rank i at index i)"
                                               : "has no host");
            return -1;
        }
    bnb_db__owner self;
    bnb_db__self_owner(&self);
    if (bnb_db__begin(db, err))
        return -1;
    sqlite3_stmt *st = wprep(db,
                             "INSERT INTO batches (uuid, started_at, status, nranks, suites, pid, "
                             "pid_start, host, boot_id) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, "
                             "?7, ?8)",
                             err);
    if (!st)
        goto fail;
    wtext(st, 1, uuid);
    wtext(st, 2, started_at);
    sqlite3_bind_int(st, 3, nranks);
    sqlite3_bind_text(st, 4, suites ? suites : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, self.pid);
    if (self.start >= 0)
        sqlite3_bind_int64(st, 6, self.start);
    wtext(st, 7, self.host);
    wtext(st, 8, self.boot);
    if (wstep(db, st, "storing batch", err))
        goto fail;
    int64_t id = sqlite3_last_insert_rowid(bnb_db__sqlite(db));
    sqlite3_finalize(st);
    st = wprep(db,
               "INSERT INTO batch_ranks (batch_id, rank, host, cpus, state, reason) "
               "VALUES (?1, ?2, ?3, ?4, 'lost', 'not received yet')",
               err);
    if (!st)
        goto fail;
    for (int i = 0; i < nranks; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_text(st, 3, roster[i].host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, roster[i].cpus, -1, SQLITE_TRANSIENT);
        if (wstep(db, st, "storing the batch's roster", err))
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (bnb_db__commit(db, err))
        goto fail;
    *batch_id = id;
    return 0;
fail:
    sqlite3_finalize(st);
    bnb_db__rollback(db);
    return -1;
}

/* Runs one UPDATE that must change exactly one row: of rank's roster entry
 * (rank >= 0) or of the batch (rank < 0). Parameters: ?1 batch_id, ?2 rank,
 * ?3 run_id (NULL when <= 0), ?4 s1, ?5 s2 (NULL or "": NULL). */
static int update_one(bnb_db *db, const char *sql, int64_t batch_id, int rank, int64_t run_id,
                      const char *s1, const char *s2, const char *what, char *err)
{
    if (bnb_db__begin(db, err))
        return -1;
    sqlite3_stmt *st = wprep(db, sql, err);
    if (!st)
        goto fail;
    sqlite3_bind_int64(st, 1, batch_id);
    sqlite3_bind_int(st, 2, rank);
    if (run_id > 0)
        sqlite3_bind_int64(st, 3, run_id);
    wtext(st, 4, s1);
    wtext(st, 5, s2);
    if (wstep(db, st, what, err))
        goto fail;
    if (sqlite3_changes(bnb_db__sqlite(db)) != 1) {
        if (rank >= 0)
            bnb_db__seterr(err, "DB %s: %s: batch %lld has no rank %d", bnb_db__path(db), what,
                           (long long)batch_id, rank);
        else
            bnb_db__seterr(err, "DB %s: %s: no batch with id %lld", bnb_db__path(db), what,
                           (long long)batch_id);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (bnb_db__commit(db, err))
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    bnb_db__rollback(db);
    return -1;
}

int bnb_db_batch_set_rank(bnb_db *db, int64_t batch_id, int rank, int64_t run_id, const char *state,
                          const char *reason, char *err)
{
    char q[BNB_QUOTE_CAP];
    if (!state || (strcmp(state, "stored") && strcmp(state, "failed"))) {
        bnb_db__seterr(err, "DB %s: batch %lld rank %d: state must be stored or failed, got \"%s\"",
                       bnb_db__path(db), (long long)batch_id, rank,
                       bnb_quote(state ? state : "", q));
        return -1;
    }
    if (run_id <= 0) {
        bnb_db__seterr(err,
                       "DB %s: batch %lld rank %d: no run to link (a rank without a run is lost)",
                       bnb_db__path(db), (long long)batch_id, rank);
        return -1;
    }
    return update_one(db,
                      "UPDATE batch_ranks SET run_id = ?3, state = ?4, reason = ?5 "
                      "WHERE batch_id = ?1 AND rank = ?2",
                      batch_id, rank, run_id, state, reason, "linking a rank's run", err);
}

int bnb_db_batch_rank_lost(bnb_db *db, int64_t batch_id, int rank, const char *reason, char *err)
{
    return update_one(db,
                      "UPDATE batch_ranks SET run_id = NULL, state = 'lost', "
                      "reason = coalesce(?4, 'no reason given') WHERE batch_id = ?1 AND rank = ?2",
                      batch_id, rank, 0, reason, NULL, "marking a rank lost", err);
}

int bnb_db_batch_end(bnb_db *db, int64_t batch_id, bnb_batch_status st, const char *reason,
                     char *err)
{
    if (st == BNB_BATCH_RUNNING || !strcmp(bnb_batch_status_str(st), "?")) {
        bnb_db__seterr(err, "DB %s: batch %lld: cannot end with status %d (%s)", bnb_db__path(db),
                       (long long)batch_id, (int)st, bnb_batch_status_str(st));
        return -1;
    }
    return update_one(db,
                      "UPDATE batches SET status = ?4, status_reason = ?5, "
                      "finished_at = " NOW_SQL " WHERE id = ?1",
                      batch_id, -1, 0, bnb_batch_status_str(st), reason, "ending a batch", err);
}

/* ---- reads -------------------------------------------------------------------- */

/* 1 when the DB has the batch tables (schema >= 5), 0 when not, -1 error. */
static int have_batches(bnb_db *db, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                        "('batches', 'batch_ranks')",
                        err))
        return -1;
    int s = bnb_db__rd_step(&q, err);
    int n = s == SQLITE_ROW ? sqlite3_column_int(q.st, 0) : 0;
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return n == 2 ? 1 : 0;
}

static const char batch_row_sql[] =
    "SELECT b.id, b.uuid, b.started_at, b.finished_at, b.status, b.status_reason, b.suites, "
    "b.nranks, "
    "(SELECT count(*) FROM batch_ranks k WHERE k.batch_id = b.id AND k.run_id IS NOT NULL), "
    "(SELECT count(DISTINCT k.host) FROM batch_ranks k WHERE k.batch_id = b.id), "
    "b.pid, coalesce(b.pid_start, -1), b.host, b.boot_id, "
    "(SELECT r.status FROM batch_ranks k JOIN runs r ON r.id = k.run_id "
    " WHERE k.batch_id = b.id AND k.rank = 0) "
    "FROM batches b ";

/* Reads one row of batch_row_sql into *w, reading a running batch whose
 * rank 0 is gone as incomplete. */
static int read_batch_row(bnb_db__rd *q, const bnb_db__owner *self, bnb_batch_row *w, char *err)
{
    memset(w, 0, sizeof *w);
    w->id = sqlite3_column_int64(q->st, 0);
    bnb_db__rd_copy(q, 1, w->uuid, sizeof w->uuid);
    bnb_db__rd_copy(q, 2, w->started_at, sizeof w->started_at);
    bnb_db__rd_copy(q, 3, w->finished_at, sizeof w->finished_at);
    bnb_db__rd_copy(q, 4, w->status, sizeof w->status);
    bnb_db__rd_copy(q, 5, w->status_reason, sizeof w->status_reason);
    bnb_db__rd_copy(q, 6, w->suites, sizeof w->suites);
    w->nranks = sqlite3_column_int(q->st, 7);
    w->nstored = sqlite3_column_int(q->st, 8);
    w->nhosts = sqlite3_column_int(q->st, 9);
    bnb_db__owner o = {.pid = sqlite3_column_int64(q->st, 10),
                       .start = sqlite3_column_int64(q->st, 11)};
    bool has_pid = sqlite3_column_type(q->st, 10) != SQLITE_NULL;
    bnb_db__rd_copy(q, 12, o.host, sizeof o.host);
    bnb_db__rd_copy(q, 13, o.boot, sizeof o.boot);
    char rank0[16];
    bnb_db__rd_copy(q, 14, rank0, sizeof rank0);
    if (bnb_db__rd_ok(q, err))
        return -1;
    if (strcmp(w->status, "running"))
        return 0;
    char why[400];
    if (!strcmp(rank0, "abandoned")) {
        snprintf(w->status, sizeof w->status, "incomplete");
        snprintf(w->status_reason, sizeof w->status_reason,
                 "rank 0's run was abandoned before the batch ended");
    } else if (has_pid && self->host[0] && !strcmp(o.host, self->host) &&
               bnb_db__owner_gone(&o, self, why, sizeof why)) {
        snprintf(w->status, sizeof w->status, "incomplete");
        snprintf(w->status_reason, sizeof w->status_reason,
                 "rank 0 (process %lld on host %s) is gone; the batch was never ended", o.pid,
                 o.host);
    }
    return 0;
}

int bnb_db_list_batches(bnb_db *db, int limit, bnb_batch_row **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    int have = have_batches(db, err);
    if (have <= 0)
        return have;
    bnb_db__owner self;
    bnb_db__self_owner(&self);
    char sql[1400];
    snprintf(sql, sizeof sql, "%s ORDER BY b.started_at DESC, b.id DESC LIMIT ?", batch_row_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_int64(&q, 1, limit > 0 ? limit : -1);
    bnb_batch_row *rows = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&rows, &cap, k, sizeof *rows)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        if (read_batch_row(&q, &self, &rows[k], err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(rows);
        return -1;
    }
    *out = rows;
    *n = k;
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* 8 to 36 characters of hex digits and '-', with at least 8 hex digits. */
static bool uuid_prefix(const char *s)
{
    size_t n = strlen(s), hex = 0;
    if (n < 8 || n > 36)
        return false;
    for (; *s; s++) {
        if (!strchr("0123456789abcdefABCDEF-", *s))
            return false;
        hex += *s != '-';
    }
    return hex >= 8;
}

int bnb_db_resolve_batch(bnb_db *db, const char *spec, int64_t *batch_id, char *err)
{
    char qs[BNB_QUOTE_CAP];
    if (!spec || !*spec) {
        bnb_db__seterr(err, "batch is empty (give latest, a batch id or a uuid prefix of 8+ hex "
                            "digits)");
        return -1;
    }
    bnb_quote(spec, qs);
    int have = have_batches(db, err);
    if (have < 0)
        return -1;
    if (!have) {
        bnb_db__seterr(err,
                       "DB %s: no batch \"%s\": the DB has no batches (its schema predates them)",
                       bnb_db__path(db), qs);
        return -1;
    }
    bool latest = !strcmp(spec, "latest"), by_id = all_digits(spec) && strlen(spec) < 8;
    if (!latest && !by_id && !uuid_prefix(spec)) {
        bnb_db__seterr(err,
                       "DB %s: no batch \"%s\" (give latest, a batch id or a uuid prefix of 8+ hex "
                       "digits)",
                       bnb_db__path(db), qs);
        return -1;
    }
    bnb_db__rd q;
    const char *sql = latest  ? "SELECT id, uuid FROM batches ORDER BY started_at DESC, id DESC "
                                "LIMIT 1"
                      : by_id ? "SELECT id, uuid FROM batches WHERE id = ?1"
                              : "SELECT id, uuid FROM batches WHERE uuid LIKE ?1 || '%' ORDER BY "
                                "id LIMIT 2";
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    if (by_id)
        bnb_db__rd_int64(&q, 1, strtoll(spec, NULL, 10));
    else if (!latest)
        bnb_db__rd_text(&q, 1, spec);
    int found = 0, s;
    int64_t id = 0;
    char first[40] = "", second[40] = "";
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (found == 0)
            id = sqlite3_column_int64(q.st, 0);
        bnb_db__rd_copy(&q, 1, found ? second : first, sizeof first);
        found++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    if (found == 1) {
        *batch_id = id;
        return 0;
    }
    if (found > 1)
        bnb_db__seterr(err, "DB %s: batch \"%s\" is ambiguous (%s, %s, ...): give more of the uuid",
                       bnb_db__path(db), qs, first, second);
    else if (latest)
        bnb_db__seterr(err, "DB %s: no batches stored (bnbench run --mpi under mpirun stores one)",
                       bnb_db__path(db));
    else
        bnb_db__seterr(err, "DB %s: no batch %s \"%s\"", bnb_db__path(db),
                       by_id ? "with id" : "with a uuid starting", qs);
    return -1;
}

int bnb_db_get_batch(bnb_db *db, int64_t batch_id, bnb_batch_row *row, bnb_batch_rank **ranks,
                     int *nranks, char *err)
{
    *ranks = NULL;
    *nranks = 0;
    int have = have_batches(db, err);
    if (have < 0)
        return -1;
    if (!have) {
        bnb_db__seterr(err, "DB %s: no batch with id %lld (the DB has no batches)",
                       bnb_db__path(db), (long long)batch_id);
        return -1;
    }
    bnb_db__owner self;
    bnb_db__self_owner(&self);
    char sql[1400];
    snprintf(sql, sizeof sql, "%s WHERE b.id = ?", batch_row_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_int64(&q, 1, batch_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW && read_batch_row(&q, &self, row, err))
        s = -1;
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    if (s != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: no batch with id %lld", bnb_db__path(db), (long long)batch_id);
        return -1;
    }
    if (bnb_db__rd_prep(&q, db,
                        "SELECT rank, host, cpus, coalesce(run_id, 0), state, reason "
                        "FROM batch_ranks WHERE batch_id = ? ORDER BY rank",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, batch_id);
    bnb_batch_rank *v = NULL;
    int k = 0, cap = 0;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (k >= BNB_BATCH_MAX_RANKS || bnb_db__grow((void **)&v, &cap, k, sizeof *v)) {
            bnb_db__seterr(err, "DB %s: batch %lld: %s", bnb_db__path(db), (long long)batch_id,
                           k >= BNB_BATCH_MAX_RANKS ? "more ranks than a batch may have"
                                                    : "out of memory");
            s = -1;
            break;
        }
        bnb_batch_rank *r = &v[k];
        r->rank = sqlite3_column_int(q.st, 0);
        bnb_db__rd_copy(&q, 1, r->host, sizeof r->host);
        bnb_db__rd_copy(&q, 2, r->cpus, sizeof r->cpus);
        r->run_id = sqlite3_column_int64(q.st, 3);
        bnb_db__rd_copy(&q, 4, r->state, sizeof r->state);
        bnb_db__rd_copy(&q, 5, r->reason, sizeof r->reason);
        if (bnb_db__rd_ok(&q, err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(v);
        return -1;
    }
    /* the roster is written whole by batch_begin: anything else is damage */
    bool whole = k == row->nranks;
    for (int i = 0; whole && i < k; i++)
        whole = v[i].rank == i;
    if (!whole) {
        bnb_db__seterr(err,
                       "DB %s: batch %lld: its roster has %d entries for %d ranks, or a gap (the "
                       "DB is damaged; bnbench db check lists the problems)",
                       bnb_db__path(db), (long long)batch_id, k, row->nranks);
        free(v);
        return -1;
    }
    *ranks = v;
    *nranks = k;
    return 0;
}

int bnb_db_run_batch(bnb_db *db, int64_t run_id, int64_t *batch_id, int *rank, char *err)
{
    int have = have_batches(db, err);
    if (have <= 0)
        return have;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT batch_id, rank FROM batch_ranks WHERE run_id = ?", err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW) {
        *batch_id = sqlite3_column_int64(q.st, 0);
        *rank = sqlite3_column_int(q.st, 1);
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW ? 1 : 0;
}
