/*
 * fleet.c - the read queries of the fleet web view and read API (contract:
 * db/fleet.h).
 *
 * One statement per list: a run's case and verdict counts are correlated
 * subqueries on the cases_by_run index and the verdicts' (run_id,
 * target_id) key, and a machine's latest run is a subquery on
 * runs_by_machine, so a page costs one query however many machines or runs
 * it shows. The runs list builds its WHERE clause from the filters given, so
 * SQLite can choose runs_by_machine or runs_by_start for it instead of
 * scanning past "any machine" conditions.
 */
#include "db/fleet.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

/* The columns of a bnb_fleet_run (read_run), for runs r joined with their
 * machines m. */
#define RUN_COLS                                                                                   \
    "r.id, r.uuid, m.name, m.fingerprint, r.started_at, r.finished_at, r.status, r.reason, "       \
    "(SELECT count(*) FROM cases c WHERE c.run_id = r.id), "                                       \
    "(SELECT count(*) FROM cases c WHERE c.run_id = r.id AND c.status = 'failed'), "               \
    "(SELECT count(*) FROM cases c WHERE c.run_id = r.id AND c.status = 'skipped'), "              \
    "r.machine_id, "                                                                               \
    "(SELECT count(*) FROM verdicts v WHERE v.run_id = r.id AND v.verdict = 'met'), "              \
    "(SELECT count(*) FROM verdicts v WHERE v.run_id = r.id AND v.verdict = 'missed'), "           \
    "(SELECT count(*) FROM verdicts v WHERE v.run_id = r.id AND v.verdict = 'not measured'), "     \
    "(SELECT count(*) FROM verdicts v WHERE v.run_id = r.id AND v.verdict = 'not applicable')"
#define RUN_NCOLS 16

static const char run_sql[] = "SELECT " RUN_COLS " FROM runs r JOIN machines m ON m.id = "
                              "r.machine_id ";

/* Machines with their latest complete measured run (NULL columns when none). */
static const char machine_sql[] =
    "SELECT " RUN_COLS ", m.id, m.first_seen, m.last_seen, "
    "(SELECT count(*) FROM runs x WHERE x.machine_id = m.id), r.id IS NOT NULL "
    "FROM machines m LEFT JOIN runs r ON r.id = (SELECT x.id FROM runs x WHERE x.machine_id = "
    "m.id AND x.status = 'complete' AND x.reason <> 'confirm' ORDER BY x.started_at DESC, x.id "
    "DESC LIMIT 1) ";

/* Reads the RUN_COLS of the current row into *w. */
static int read_run(bnb_db__rd *q, bnb_fleet_run *w, char *err)
{
    memset(w, 0, sizeof *w);
    bnb_run_row *r = &w->row;
    r->id = sqlite3_column_int64(q->st, 0);
    bnb_db__rd_copy(q, 1, r->uuid, sizeof r->uuid);
    bnb_db__rd_copy(q, 2, r->machine, sizeof r->machine);
    bnb_db__rd_copy(q, 3, r->fingerprint, sizeof r->fingerprint);
    bnb_db__rd_copy(q, 4, r->started_at, sizeof r->started_at);
    bnb_db__rd_copy(q, 5, r->finished_at, sizeof r->finished_at);
    bnb_db__rd_copy(q, 6, r->status, sizeof r->status);
    bnb_db__rd_copy(q, 7, r->reason, sizeof r->reason);
    r->ncases = sqlite3_column_int(q->st, 8);
    r->nfailed = sqlite3_column_int(q->st, 9);
    r->nskipped = sqlite3_column_int(q->st, 10);
    w->machine_id = sqlite3_column_int64(q->st, 11);
    w->met = sqlite3_column_int(q->st, 12);
    w->missed = sqlite3_column_int(q->st, 13);
    w->not_measured = sqlite3_column_int(q->st, 14);
    w->not_applicable = sqlite3_column_int(q->st, 15);
    return bnb_db__rd_ok(q, err);
}

/* Reads a row of machine_sql into *m. */
static int read_machine(bnb_db__rd *q, bnb_fleet_machine *m, char *err)
{
    memset(m, 0, sizeof *m);
    int k = RUN_NCOLS;
    m->id = sqlite3_column_int64(q->st, k);
    bnb_db__rd_copy(q, 2, m->name, sizeof m->name);
    bnb_db__rd_copy(q, 3, m->fingerprint, sizeof m->fingerprint);
    bnb_db__rd_copy(q, k + 1, m->first_seen, sizeof m->first_seen);
    bnb_db__rd_copy(q, k + 2, m->last_seen, sizeof m->last_seen);
    m->nruns = sqlite3_column_int(q->st, k + 3);
    m->has_latest = sqlite3_column_int(q->st, k + 4) != 0;
    if (m->has_latest && read_run(q, &m->latest, err))
        return -1;
    return bnb_db__rd_ok(q, err);
}

int bnb_db_fleet_machines(bnb_db *db, bnb_fleet_machine **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    char sql[2048];
    snprintf(sql, sizeof sql, "%sORDER BY m.name, m.id", machine_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_fleet_machine *rows = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&rows, &cap, k, sizeof *rows)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        if (read_machine(&q, &rows[k], err)) {
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

int bnb_db_fleet_machine(bnb_db *db, int64_t id, bnb_fleet_machine *out, char *err)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "%sWHERE m.id = ?", machine_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_int64(&q, 1, id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW && read_machine(&q, out, err))
        s = -1;
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW ? 0 : 1;
}

/* Whether SQLite reads since as a time (julianday is not NULL). */
static int since_readable(bnb_db *db, const char *since, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT julianday(?1) IS NOT NULL", err))
        return -1;
    bnb_db__rd_text(&q, 1, since);
    int s = bnb_db__rd_step(&q, err);
    int ok = s == SQLITE_ROW && sqlite3_column_int(q.st, 0);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    if (!ok) {
        bnb_db__seterr(err, "since \"%.64s\" is not a time (use ISO-8601, e.g. 2026-12-01T00:00Z)",
                       since);
        return -1;
    }
    return 0;
}

int bnb_db_fleet_runs(bnb_db *db, int64_t machine_id, const char *machine, const char *since,
                      int limit, bnb_fleet_run **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > BNB_FLEET_RUNS_MAX) {
        bnb_db__seterr(err, "limit must be 1 to %d, got %d", BNB_FLEET_RUNS_MAX, limit);
        return -1;
    }
    if (since && since_readable(db, since, err))
        return -1;
    char sql[2048];
    int len = snprintf(sql, sizeof sql, "%sWHERE 1", run_sql);
    if (machine_id > 0)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND r.machine_id = ?");
    if (machine)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND m.name = ?");
    if (since)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        " AND julianday(r.started_at) >= julianday(?)");
    snprintf(sql + len, sizeof sql - (size_t)len, " ORDER BY r.started_at DESC, r.id DESC LIMIT ?");
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    int p = 1;
    if (machine_id > 0)
        bnb_db__rd_int64(&q, p++, machine_id);
    if (machine)
        bnb_db__rd_text(&q, p++, machine);
    if (since)
        bnb_db__rd_text(&q, p++, since);
    bnb_db__rd_int64(&q, p, limit);
    bnb_fleet_run *rows = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&rows, &cap, k, sizeof *rows)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        if (read_run(&q, &rows[k], err)) {
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

/* Reads the runs of a statement with one text parameter: the number of
 * rows (at most 2), the first in *run; -1 with err. */
static int first_rows(bnb_db *db, const char *sql, const char *arg, bnb_fleet_run *run, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_text(&q, 1, arg);
    int k = 0, s = SQLITE_DONE;
    while (k < 2 && (s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        bnb_fleet_run tmp;
        if (read_run(&q, k == 0 ? run : &tmp, err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return k;
}

int bnb_db_fleet_run_by_uuid(bnb_db *db, const char *spec, bnb_fleet_run *run, char *err)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "%sWHERE r.uuid = ?1", run_sql);
    int k = first_rows(db, sql, spec, run, err);
    if (k != 0)
        return k < 0 ? -1 : 0;
    size_t len = strlen(spec);
    if (len < 8 || len > 36)
        return 1;
    char low[40];
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = (unsigned char)spec[i];
        if (ch && !isxdigit(ch) && ch != '-')
            return 1;
        low[i] = (char)tolower(ch);
    }
    /* the range [spec, spec~) on the uuid index: '~' sorts after hex and '-' */
    snprintf(sql, sizeof sql, "%sWHERE r.uuid >= ?1 AND r.uuid < ?1 || '~' ORDER BY r.uuid LIMIT 2",
             run_sql);
    k = first_rows(db, sql, low, run, err);
    if (k < 0)
        return -1;
    if (k == 2) {
        bnb_db__seterr(err, "run uuid prefix \"%s\" matches several runs; give more of it", low);
        return 2;
    }
    return k == 1 ? 0 : 1;
}

int bnb_db_fleet_latest_of(bnb_db *db, const char *machine, bnb_fleet_run *run, char *err)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "%sWHERE m.name = ?1 AND r.status = 'complete' AND r.reason <> 'confirm' "
             "ORDER BY r.started_at DESC, r.id DESC LIMIT 1",
             run_sql);
    int k = first_rows(db, sql, machine, run, err);
    if (k != 0)
        return k < 0 ? -1 : 0;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT count(*) FROM machines WHERE name = ?1", err))
        return -1;
    bnb_db__rd_text(&q, 1, machine);
    int s = bnb_db__rd_step(&q, err);
    bool known = s == SQLITE_ROW && sqlite3_column_int(q.st, 0) > 0;
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return known ? 1 : 2;
}
