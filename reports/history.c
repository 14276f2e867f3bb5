/*
 * history.c - a figure over the runs of a machine (contract: history.h).
 *
 * One query per figure, driven by the cases_by_name index (full_name,
 * run_id), so a DB of thousands of runs answers in milliseconds.
 */
#include "reports/history.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bnb_figure_split(const char *figure, char *cas, size_t ccap, char *metric, size_t mcap)
{
    const char *colon = strrchr(figure, ':');
    if (!colon) {
        snprintf(cas, ccap, "%s", figure);
        snprintf(metric, mcap, "median_s");
        return;
    }
    snprintf(cas, ccap, "%.*s", (int)(colon - figure), figure);
    snprintf(metric, mcap, "%s", colon[1] ? colon + 1 : "median_s");
}

int64_t bnb_run_machine_id(bnb_db *db, int64_t run_id, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int64_t id = -1;
    if (sqlite3_prepare_v2(bnb_db_handle(db), "SELECT machine_id FROM runs WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, cap, "history: %s", sqlite3_errmsg(bnb_db_handle(db)));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    else
        snprintf(err, cap, "no run with id %lld", (long long)run_id);
    sqlite3_finalize(st);
    return id;
}

int bnb_history_load(bnb_db *db, const char *case_full, const char *metric, int64_t machine_id,
                     int64_t upto, int limit, bnb_hist_point **pts, int *n, char *err, size_t cap)
{
    *pts = NULL;
    *n = 0;
    bool med = !strcmp(metric, "median_s");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT r.id, r.started_at, %s FROM cases c JOIN runs r ON r.id = c.run_id %s "
             "WHERE c.full_name = ?1 AND c.status = 'ok' AND (?3 <= 0 OR r.machine_id = ?3) "
             "AND (?4 <= 0 OR r.started_at < (SELECT started_at FROM runs WHERE id = ?4) "
             "OR r.id = ?4) AND (r.reason <> 'confirm' OR r.id = ?4) ORDER BY r.started_at DESC, "
             "r.id DESC LIMIT ?5",
             med ? "s.median" : "m.value",
             med ? "JOIN stats s ON s.case_id = c.id"
                 : "JOIN metrics m ON m.case_id = c.id AND m.name = ?2 AND m.available = 1");
    sqlite3 *h = bnb_db_handle(db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "history: %s", sqlite3_errmsg(h));
        return -1;
    }
    if (limit <= 0)
        limit = 1000000;
    sqlite3_bind_text(st, 1, case_full, -1, SQLITE_TRANSIENT);
    if (!med)
        sqlite3_bind_text(st, 2, metric, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, machine_id);
    sqlite3_bind_int64(st, 4, upto);
    sqlite3_bind_int(st, 5, limit);
    bnb_hist_point *p = calloc((size_t)limit < 4096 ? (size_t)limit : 4096, sizeof *p);
    int cap_pts = limit < 4096 ? limit : 4096, k = 0, rc = 0;
    if (!p) {
        snprintf(err, cap, "history: out of memory");
        sqlite3_finalize(st);
        return -1;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap_pts) {
            bnb_hist_point *np = realloc(p, (size_t)cap_pts * 2 * sizeof *p);
            if (!np) {
                snprintf(err, cap, "history: out of memory");
                rc = -1;
                break;
            }
            p = np;
            cap_pts *= 2;
        }
        p[k].run_id = sqlite3_column_int64(st, 0);
        const unsigned char *t = sqlite3_column_text(st, 1);
        snprintf(p[k].started_at, sizeof p[k].started_at, "%s", t ? (const char *)t : "");
        p[k].value = sqlite3_column_double(st, 2);
        k++;
    }
    if (rc == 0 && s != SQLITE_DONE) {
        snprintf(err, cap, "history: %s", sqlite3_errmsg(h));
        rc = -1;
    }
    sqlite3_finalize(st);
    if (rc) {
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

double bnb_history_z(const bnb_hist_point *pts, int n, int window, double *mean, double *sd)
{
    *mean = *sd = NAN;
    if (n < 2 || window < 1)
        return NAN;
    int lo = n - 1 - window;
    if (lo < 0)
        lo = 0;
    int m = n - 1 - lo;
    if (m < 3)
        return NAN;
    double s = 0, ss = 0;
    for (int i = lo; i < n - 1; i++)
        s += pts[i].value;
    double mu = s / m;
    for (int i = lo; i < n - 1; i++)
        ss += (pts[i].value - mu) * (pts[i].value - mu);
    double sigma = sqrt(ss / (m - 1));
    *mean = mu;
    *sd = sigma;
    if (!(sigma > 0))
        return NAN;
    return (pts[n - 1].value - mu) / sigma;
}
