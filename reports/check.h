/*
 * check.h - the CI regression gate (bnbench check --baseline NAME).
 *
 * Compares the latest run (the newest complete one whose reason is not
 * "confirm") with
 * the baseline by the compare.h rule. Each case found slower is re-run once
 * through `rerun` and compared with the baseline again: only a case slower
 * both times is a confirmed regression. The verdicts stored with the
 * latest run are read too: a "missed" target fails the gate.
 *
 * Result: 1 on a confirmed regression, a missed target, or when no case
 * could be compared at all (the latest run shares no measured case with the
 * baseline: a gate that compared nothing has passed nothing), 0 otherwise
 * (an unconfirmed regression, "insufficient samples" and "not comparable"
 * cases are printed, not failed), -1 on an error (err says which). Without a
 * rerun function (--no-rerun) a regression cannot be refuted and counts as
 * confirmed: the gate stays strict.
 */
#ifndef BNB_CHECK_H
#define BNB_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "db/db.h"
#include "reports/compare.h"

/* Re-measures one case of the latest run: fills *out (a result the caller
 * frees with bnb_case_free) and *rerun_id (the run the re-measurement was
 * stored as, 0 when not stored). Returns 0, or -1 with err. */
typedef int (*bnb_rerun_fn)(void *ctx, const bnb_case_result *latest, bnb_case_result *out,
                            int64_t *rerun_id, char *err, size_t cap);

typedef struct bnb_check_opts {
    const char *baseline; /* baseline name, required */
    bnb_cmp_opts cmp;     /* zeros: defaults */
    bnb_rerun_fn rerun;   /* NULL: no re-run (regressions count as confirmed) */
    void *rerun_ctx;
    FILE *out; /* where the explanation goes (NULL: stdout) */
} bnb_check_opts;

/* The newest complete run whose reason is not "confirm"
 * (bnb_db_latest_run); -1 with err when none or on a DB error. */
int bnb_latest_measured_run(bnb_db *db, int64_t *run_id, char *err, size_t cap);

int bnb_check(bnb_db *db, const bnb_check_opts *o, char *err, size_t cap);

#endif
