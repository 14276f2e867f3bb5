/*
 * history.h - one figure of one case over the runs of a machine, and the
 * z-score of the latest value against a rolling window (bnbench history,
 * the history charts of the readiness report).
 *
 * A figure is "<full case name>:<metric>"; the metric "median_s" reads the
 * case's median time (stats), any other name a stored metric. Only cases
 * with status ok and available metrics count, in complete runs; runs with
 * reason "confirm" (single-case re-runs of the CI gate) and runs that are not
 * complete are left out unless asked for as upto.
 *
 * z-score: the latest value x against the `window` values before it:
 * z = (x - mean) / stddev (sample stddev, n-1); undefined (NAN) with fewer
 * than 3 earlier values or a zero stddev.
 */
#ifndef BNB_HISTORY_H
#define BNB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define BNB_HISTORY_WINDOW 10

/* bnb_hist_point (run id, started_at, value) is db.h's. */

/* Splits "case:metric" (metric default median_s) into the two parts. */
void bnb_figure_split(const char *figure, char *cas, size_t ccap, char *metric, size_t mcap);

/* The last `limit` values (oldest first) of case/metric on machine_id (<= 0:
 * any machine), from runs started no later than run upto (<= 0: all runs).
 * *pts is malloc'd (NULL when n == 0). Returns 0 or -1 with err. */
int bnb_history_load(bnb_db *db, const char *case_full, const char *metric, int64_t machine_id,
                     int64_t upto, int limit, bnb_hist_point **pts, int *n, char *err, size_t cap);

/* z-score of pts[n-1] against up to `window` points before it (see above);
 * *mean and *sd receive the window's statistics (NAN when undefined).
 * Returns z or NAN. */
double bnb_history_z(const bnb_hist_point *pts, int n, int window, double *mean, double *sd);

/* The machine of a run (runs.machine_id); -1 with err when absent. */
int64_t bnb_run_machine_id(bnb_db *db, int64_t run_id, char *err, size_t cap);

#endif
