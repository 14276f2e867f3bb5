/*
 * history.c - a figure over the runs of a machine (contract: history.h).
 *
 * The values come from bnb_db_series (one query per figure, driven by the
 * cases_by_name index, so a DB of thousands of runs answers in milliseconds).
 */
#include "reports/history.h"

#include <math.h>
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
    char e2[BNB_ERR_MAX];
    int64_t id = -1;
    if (bnb_db_run_machine(db, run_id, &id, e2)) {
        snprintf(err, cap, "history: %s", e2);
        return -1;
    }
    return id;
}

int bnb_history_load(bnb_db *db, const char *case_full, const char *metric, int64_t machine_id,
                     int64_t upto, int limit, bnb_hist_point **pts, int *n, char *err, size_t cap)
{
    char e2[BNB_ERR_MAX];
    if (bnb_db_series(db, case_full, metric, machine_id, upto, limit, pts, n, NULL, e2)) {
        snprintf(err, cap, "history: %s", e2);
        return -1;
    }
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
