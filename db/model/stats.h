/*
 * stats.h - the statistics bnbench reports for a case, and the significance
 * test its compare/regression gate uses.
 *
 * Definitions (printed by the reports, so fixed here):
 *   median, p90, p99   percentiles by linear interpolation between order
 *                      statistics (Hyndman-Fan type 7, numpy's default):
 *                      p(q) = x[h] + (h - floor h)(x[h+1] - x[h]), h = (n-1)q
 *   mean, stddev       arithmetic mean; sample standard deviation (n-1)
 *   MAD                median of |x - median|, unscaled (multiply by 1.4826
 *                      for a normal-consistent sigma)
 *   CV                 stddev / mean
 *   CI                 bootstrap 95% percentile interval of the median:
 *                      BNB_BOOTSTRAP_RESAMPLES resamples with replacement,
 *                      xoshiro256** seeded from `seed` (same seed, same CI)
 *   outliers           Tukey fences: below Q1 - 1.5 IQR or above Q3 + 1.5 IQR
 *                      (Q1, Q3 as above); flagged, never dropped
 *   Mann-Whitney U     two-sided; exact distribution when both groups have
 *                      <= BNB_MW_EXACT_MAX values and there are no ties,
 *                      otherwise the normal approximation with tie-corrected
 *                      variance and a 0.5 continuity correction
 *
 * All functions are pure (no globals) and thread-safe.
 */
#ifndef BNB_STATS_H
#define BNB_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/model/bnb.h"

#define BNB_BOOTSTRAP_RESAMPLES 2000
#define BNB_MW_EXACT_MAX        20

/* Median of n values (copied; x is not modified). n >= 1. Returns -1.0 only
 * when the copy cannot be allocated (values here are times and counts, >= 0). */
double bnb_stats_median(const double *x, int n);

/* Percentile q in [0,1] of n SORTED values, type 7 (see above). */
double bnb_stats_percentile_sorted(const double *sorted, int n, double q);

/* Computes every field of *out from x[0..n). outlier (may be NULL) receives
 * one Tukey flag per value, in x's order. n >= 1. Returns 0, or -1 when out
 * of memory (out is then zeroed). */
int bnb_stats_compute(const double *x, int n, uint64_t seed, bnb_stats *out, bool *outlier);

typedef struct bnb_mw_result {
    double u;   /* U of the first group: pairs (a_i, b_j) with a_i > b_j, ties count 1/2 */
    double z;   /* normal score (0 when exact) */
    double p;   /* two-sided p-value */
    bool exact; /* exact distribution used */
} bnb_mw_result;

/* Mann-Whitney U test of a (na values) against b (nb values), two-sided.
 * na, nb >= 1. Returns 0, or -1 when out of memory. */
int bnb_mann_whitney(const double *a, int na, const double *b, int nb, bnb_mw_result *out);

#endif
