/*
 * report.h - the production-readiness report of one stored run, as
 * Markdown (renders on GitHub/GitLab), self-contained printable HTML with
 * inline SVG charts, or versioned JSON (schema_version).
 *
 * Every figure is read from the DB: the run's cases, samples' statistics,
 * metrics, target verdicts, environment; the baseline run it is compared
 * with; the same machine's earlier runs for the history charts. Nothing is
 * estimated; what was not measured is listed with the reason.
 *
 * Readiness score (printed in the report with its inputs):
 *   score = sum_c w_c * s_c / sum_c w_c over ALL five categories, where
 *   s_c in [0, 100] for a measured category and s_c = 0 for a category with
 *   nothing measured (it scores nothing and is marked "not measured").
 *   Weights: correctness 30, performance targets 25, memory 15,
 *   measurement quality 15, regressions 15.
 *     correctness  100 * ok / (ok + failed) over cases that ran set-up and
 *                  the kernel-vs-reference check (skipped cases excluded)
 *     targets      100 * met / (met + missed) ("not measured" and
 *                  "not applicable" excluded)
 *     memory       100 * passing / recorded memory checks: pool failures = 0,
 *                  leak counts = 0 (metrics failures, leaks, leaked_bytes)
 *     quality      60 * (cases with CV <= 5%) / cases
 *                  + 20 * (1 - Tukey-flagged samples / samples)
 *                  + 20 * max(0, 1 - environment warnings / 5)
 *     regressions  100 * (compared cases - slower) / compared cases, against
 *                  the baseline (compare.h rule); cases with insufficient
 *                  samples or not comparable are listed, not counted
 */
#ifndef BNB_REPORT_H
#define BNB_REPORT_H

#include <stdint.h>

#include "db/db.h"

#define BNB_REPORT_SCHEMA_VERSION 1
#define BNB_REPORT_HISTORY        30 /* runs per history chart */

typedef enum bnb_report_format {
    BNB_REPORT_MD = 0,
    BNB_REPORT_HTML,
    BNB_REPORT_JSON,
} bnb_report_format;

typedef struct bnb_report_opts {
    bnb_report_format format;
    /* Baseline name to compare with; NULL: the newest baseline whose run is
     * on this run's machine (none: regressions "not measured"). */
    const char *baseline;
    int history; /* runs per history chart; <= 0: BNB_REPORT_HISTORY */
} bnb_report_opts;

/* Parses "md", "markdown", "html", "json"; -1 for anything else. */
int bnb_report_format_parse(const char *s, bnb_report_format *f);

/* Renders the report of run_id into *text (malloc'd, NUL-terminated).
 * Returns 0, or -1 with a one-line message in err (a missing run or
 * baseline, a DB error, out of memory). *score receives the overall score
 * (may be NULL). */
int bnb_report_render(bnb_db *db, int64_t run_id, const bnb_report_opts *o, char **text,
                      double *score, char *err, size_t cap);

/* The overall score of run_id, the share of the weight measured (coverage)
 * and the readiness word ("READY", "NOT READY", "INCOMPLETE EVIDENCE"; a
 * static string) exactly as the run's report (default options: the newest
 * baseline of its machine) states them, without reading what only the
 * charts need (histories, roofline points): for pages that list many runs.
 * Returns 0, or -1 with a one-line message in err (cap bytes). */
int bnb_report_score(bnb_db *db, int64_t run_id, double *score, double *coverage,
                     const char **status, char *err, size_t cap);

#endif
