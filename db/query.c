/*
 * query.c - the read queries reports/ and the CLI ask of the store
 * (contract: db/db.h), and the checked read statements every read of db/
 * goes through (db/internal.h).
 *
 * Why here: SQL lives in db/ only, so the questions the layers above ask
 * ("the newest complete run", "a figure over the runs of a machine", "the
 * baselines") are functions with plain C results. Every statement is read
 * through bnb_db__rd, which turns any step result other than SQLITE_ROW /
 * SQLITE_DONE into an error naming the DB: a corrupt page ends the command
 * with SQLite's message instead of ending the rows early.
 *
 * Run selection: a run whose status is not "complete" (running, interrupted,
 * failed, abandoned) is never picked as "latest" and never feeds a history;
 * the runs passed over are named in a note for the caller to print.
 */
#include "db/internal.h"
#include "db/model/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checked read statements ------------------------------------------------ */

static void rd_seterr(bnb_db__rd *q, char *err)
{
    sqlite3 *h = bnb_db__sqlite(q->db);
    /* sqlite3_errmsg describes the connection's last error; it is this
     * statement's when the codes agree, else SQLite's text for our code */
    const char *msg =
        (sqlite3_errcode(h) & 0xff) == (q->rc & 0xff) ? sqlite3_errmsg(h) : sqlite3_errstr(q->rc);
    bnb_db__seterr(err, "DB %s: %s", bnb_db__path(q->db), msg);
}

int bnb_db__rd_prep(bnb_db__rd *q, bnb_db *db, const char *sql, char *err)
{
    q->db = db;
    q->st = NULL;
    q->rc = sqlite3_prepare_v2(bnb_db__sqlite(db), sql, -1, &q->st, NULL);
    if (q->rc != SQLITE_OK) {
        rd_seterr(q, err);
        return -1;
    }
    return 0;
}

void bnb_db__rd_int64(bnb_db__rd *q, int i, int64_t v)
{
    if (q->rc == SQLITE_OK)
        q->rc = sqlite3_bind_int64(q->st, i, v);
}

void bnb_db__rd_text(bnb_db__rd *q, int i, const char *s)
{
    if (q->rc == SQLITE_OK)
        q->rc =
            s ? sqlite3_bind_text(q->st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(q->st, i);
}

int bnb_db__rd_step(bnb_db__rd *q, char *err)
{
    if (q->rc == SQLITE_OK) {
        int s = sqlite3_step(q->st);
        if (s == SQLITE_ROW || s == SQLITE_DONE)
            return s;
        q->rc = s;
    }
    rd_seterr(q, err);
    return -1;
}

const char *bnb_db__rd_str(bnb_db__rd *q, int col)
{
    if (q->rc != SQLITE_OK)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(q->st, col);
    if (!t && sqlite3_column_type(q->st, col) != SQLITE_NULL)
        q->rc = SQLITE_NOMEM;
    return t;
}

void bnb_db__rd_copy(bnb_db__rd *q, int col, char *dst, size_t cap)
{
    /* a plain copy: every column of every row comes through here */
    const char *t = bnb_db__rd_str(q, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(q->st, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

int bnb_db__rd_ok(bnb_db__rd *q, char *err)
{
    if (q->rc == SQLITE_OK)
        return 0;
    rd_seterr(q, err);
    return -1;
}

int bnb_db__rd_end(bnb_db__rd *q, char *err)
{
    int f = sqlite3_finalize(q->st);
    q->st = NULL;
    if (q->rc != SQLITE_OK)
        return -1;
    if (f != SQLITE_OK) {
        q->rc = f;
        rd_seterr(q, err);
        return -1;
    }
    return 0;
}

/* ---- latest complete run ------------------------------------------------------ */

#define MAX_SKIP_NAMED 6

/* Appends "run ID (STATUS)" to the note under construction. */
static void note_add(char *note, size_t cap, int k, int64_t id, const char *status)
{
    size_t len = strlen(note);
    if (k < MAX_SKIP_NAMED)
        snprintf(note + len, cap - len, "%srun %lld (%s)", k ? ", " : "", (long long)id, status);
    else if (k == MAX_SKIP_NAMED)
        snprintf(note + len, cap - len, ", ...");
}

int bnb_db_latest_run(bnb_db *db, const char *machine, bool measured_only, int64_t *run_id,
                      char *note, char *err)
{
    char buf[BNB_ERR_MAX] = "";
    bnb_db__rd q;
    if (note)
        note[0] = '\0';
    /* newest first: the incomplete runs until the first complete one */
    if (bnb_db__rd_prep(&q, db,
                        "SELECT r.id, r.status FROM runs r JOIN machines m ON m.id = r.machine_id "
                        "WHERE (?1 IS NULL OR m.name = ?1) AND (?2 = 0 OR r.reason <> 'confirm') "
                        "ORDER BY r.started_at DESC, r.id DESC",
                        err))
        return -1;
    bnb_db__rd_text(&q, 1, machine);
    bnb_db__rd_int64(&q, 2, measured_only);
    int s, k = 0, found = 0;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q.st, 0);
        const char *status = bnb_db__rd_str(&q, 1);
        if (bnb_db__rd_ok(&q, err))
            break;
        if (status && !strcmp(status, "complete")) {
            *run_id = id;
            found = 1;
            break;
        }
        note_add(buf, sizeof buf, k++, id, status ? status : "no status");
    }
    if (bnb_db__rd_end(&q, err) || s < 0)
        return -1;
    if (k && note)
        snprintf(note, BNB_ERR_MAX, "skipping %s: not complete; name a run to use it", buf);
    if (!found) {
        const char *what = measured_only ? "measured run" : "run";
        char qm[BNB_QUOTE_CAP];
        if (machine)
            bnb_db__seterr(err, "DB %s: no complete %s of machine \"%s\"%s%s%s", bnb_db__path(db),
                           what, bnb_quote(machine, qm),
                           k ? " (" : " (bnbench runs lists the machines)", k ? buf : "",
                           k ? " not complete)" : "");
        else
            bnb_db__seterr(err, "DB %s: no complete %s stored%s%s%s", bnb_db__path(db), what,
                           k ? " (" : " yet (bnbench run first)", k ? buf : "",
                           k ? " not complete)" : "");
        return -1;
    }
    return 0;
}

int bnb_db_run_machine(bnb_db *db, int64_t run_id, int64_t *machine_id, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT machine_id FROM runs WHERE id = ?", err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW)
        *machine_id = sqlite3_column_int64(q.st, 0);
    if (bnb_db__rd_end(&q, err) || s < 0)
        return -1;
    if (s != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: no run with id %lld", bnb_db__path(db), (long long)run_id);
        return -1;
    }
    return 0;
}

int bnb_db_run_status_reason(bnb_db *db, int64_t run_id, char *out, size_t cap, char *err)
{
    out[0] = '\0';
    bnb_db__rd q;
    /* a read-only open takes schema 1 as it is: it has no status_reason */
    if (bnb_db__rd_prep(&q, db,
                        "SELECT (SELECT count(*) FROM pragma_table_info('runs') "
                        "WHERE name = 'status_reason') > 0",
                        err))
        return -1;
    int s = bnb_db__rd_step(&q, err);
    bool has = s == SQLITE_ROW && sqlite3_column_int(q.st, 0) != 0;
    if (bnb_db__rd_end(&q, err) || s < 0)
        return -1;
    if (bnb_db__rd_prep(&q, db,
                        has ? "SELECT coalesce(status_reason, '') FROM runs WHERE id = ?"
                            : "SELECT '' FROM runs WHERE id = ?",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW)
        bnb_db__rd_copy(&q, 0, out, cap);
    if (bnb_db__rd_end(&q, err) || s < 0)
        return -1;
    if (s != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: no run with id %lld", bnb_db__path(db), (long long)run_id);
        return -1;
    }
    return 0;
}

/* ---- a figure over runs --------------------------------------------------------- */

/* The incomplete runs a series leaves out, named in note. */
static int series_skipped(bnb_db *db, const char *case_full, int64_t machine_id, int64_t upto,
                          char *note, char *err)
{
    bnb_db__rd q;
    char buf[BNB_ERR_MAX] = "";
    note[0] = '\0';
    if (bnb_db__rd_prep(&q, db,
                        "SELECT DISTINCT r.id, r.status, r.started_at FROM cases c JOIN runs r ON "
                        "r.id = c.run_id WHERE c.full_name = ?1 AND (?2 <= 0 OR r.machine_id = ?2) "
                        "AND (?3 <= 0 OR r.started_at < (SELECT started_at FROM runs WHERE id = "
                        "?3)) AND r.reason <> 'confirm' AND r.status <> 'complete' "
                        "ORDER BY r.started_at DESC, r.id DESC",
                        err))
        return -1;
    bnb_db__rd_text(&q, 1, case_full);
    bnb_db__rd_int64(&q, 2, machine_id);
    bnb_db__rd_int64(&q, 3, upto);
    int s, k = 0;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        const char *status = bnb_db__rd_str(&q, 1);
        if (bnb_db__rd_ok(&q, err))
            break;
        note_add(buf, sizeof buf, k++, sqlite3_column_int64(q.st, 0), status ? status : "?");
    }
    if (bnb_db__rd_end(&q, err) || s < 0)
        return -1;
    if (k)
        snprintf(note, BNB_ERR_MAX, "leaving out %s: not complete", buf);
    return 0;
}

int bnb_db_series(bnb_db *db, const char *case_full, const char *metric, int64_t machine_id,
                  int64_t upto, int limit, bnb_hist_point **pts, int *n, char *note, char *err)
{
    *pts = NULL;
    *n = 0;
    if (note && series_skipped(db, case_full, machine_id, upto, note, err))
        return -1;
    bool med = !strcmp(metric, "median_s");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT r.id, r.started_at, %s FROM cases c JOIN runs r ON r.id = c.run_id %s "
             "WHERE c.full_name = ?1 AND c.status = 'ok' AND (?3 <= 0 OR r.machine_id = ?3) "
             "AND (?4 <= 0 OR r.started_at < (SELECT started_at FROM runs WHERE id = ?4) "
             "OR r.id = ?4) AND ((r.reason <> 'confirm' AND r.status = 'complete') OR r.id = ?4) "
             "ORDER BY r.started_at DESC, r.id DESC LIMIT ?5",
             med ? "s.median" : "m.value",
             med ? "JOIN stats s ON s.case_id = c.id"
                 : "JOIN metrics m ON m.case_id = c.id AND m.name = ?2 AND m.available = 1");
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    if (limit <= 0)
        limit = 1000000;
    bnb_db__rd_text(&q, 1, case_full);
    if (!med)
        bnb_db__rd_text(&q, 2, metric);
    bnb_db__rd_int64(&q, 3, machine_id);
    bnb_db__rd_int64(&q, 4, upto);
    bnb_db__rd_int64(&q, 5, limit);
    int cap_pts = 0, k = 0, s;
    bnb_hist_point *p = NULL;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&p, &cap_pts, k, sizeof *p)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        p[k].run_id = sqlite3_column_int64(q.st, 0);
        bnb_db__rd_copy(&q, 1, p[k].started_at, sizeof p[k].started_at);
        p[k].value = sqlite3_column_double(q.st, 2);
        if (bnb_db__rd_ok(&q, err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(p);
        return -1;
    }
    for (int i = 0; i < k / 2; i++) { /* newest first -> oldest first */
        bnb_hist_point t = p[i];
        p[i] = p[k - 1 - i];
        p[k - 1 - i] = t;
    }
    if (k == 0) {
        free(p);
        p = NULL;
    }
    *pts = p;
    *n = k;
    return 0;
}

/* ---- baselines ------------------------------------------------------------------- */

int bnb_db_list_baselines(bnb_db *db, bnb_baseline_row **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT b.name, b.run_id, b.created_at, m.name, r.started_at FROM "
                        "baselines b JOIN runs r ON r.id = b.run_id JOIN machines m ON m.id = "
                        "r.machine_id ORDER BY b.name",
                        err))
        return -1;
    bnb_baseline_row *rows = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&rows, &cap, k, sizeof *rows)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        bnb_baseline_row *w = &rows[k];
        bnb_db__rd_copy(&q, 0, w->name, sizeof w->name);
        w->run_id = sqlite3_column_int64(q.st, 1);
        bnb_db__rd_copy(&q, 2, w->created_at, sizeof w->created_at);
        bnb_db__rd_copy(&q, 3, w->machine, sizeof w->machine);
        bnb_db__rd_copy(&q, 4, w->run_started_at, sizeof w->run_started_at);
        if (bnb_db__rd_ok(&q, err)) {
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

int bnb_db_newest_baseline_on_machine(bnb_db *db, int64_t run_id, char *name, size_t name_cap,
                                      int64_t *base_run_id, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT b.name, b.run_id FROM baselines b JOIN runs r ON r.id = "
                        "b.run_id WHERE r.machine_id = (SELECT machine_id FROM runs WHERE "
                        "id = ?1) AND b.run_id <> ?1 ORDER BY b.created_at DESC, b.id DESC "
                        "LIMIT 1",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW) {
        const char *n = bnb_db__rd_str(&q, 0);
        size_t len = n ? strlen(n) : 0;
        if (bnb_db__rd_ok(&q, err)) {
            s = -1;
        } else if (len >= name_cap) {
            /* a baseline the report would name wrongly: an error, not a cut */
            bnb_db__seterr(
                err, "DB %s: baseline name \"%.40s...\" is %zu bytes, longer than the %zu allowed",
                bnb_db__path(db), n, len, name_cap - 1);
            s = -1;
        } else {
            memcpy(name, n, len + 1);
            *base_run_id = sqlite3_column_int64(q.st, 1);
        }
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW ? 0 : 1;
}

/* ---- confirming runs --------------------------------------------------------------- */

int bnb_db_newest_confirm_run(bnb_db *db, int64_t *run_id, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT max(id) FROM runs WHERE reason = 'confirm'", err))
        return -1;
    int s = bnb_db__rd_step(&q, err);
    bool none = s != SQLITE_ROW || sqlite3_column_type(q.st, 0) == SQLITE_NULL;
    if (!none)
        *run_id = sqlite3_column_int64(q.st, 0);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return none ? 1 : 0;
}
