/*
 * test_stats.c - the statistics of db/model/stats.c against hand-computed
 * values (percentile type 7, unscaled MAD, Tukey fences, bootstrap CI,
 * Mann-Whitney U exact and normal-approximation p-values).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "db/model/stats.h"

#define TOL 1e-12

Test(stats, hand_computed_five_values)
{
    /* sorted 1 2 3 4 100: median 3, mean 22, deviations from 3 are
     * {2,1,0,1,97} -> MAD 1; p90 = 4 + 0.6*96; p99 = 4 + 0.96*96;
     * sum of squares about 22 = 7610 -> stddev sqrt(7610/4);
     * Q1 = 2, Q3 = 4, fences -1 and 7: 100 is a high outlier. */
    const double x[] = {4, 100, 1, 3, 2};
    bool out[5];
    bnb_stats s;
    cr_assert_eq(bnb_stats_compute(x, 5, 42, &s, out), 0);
    cr_assert_eq(s.n, 5);
    cr_assert_float_eq(s.min, 1.0, TOL);
    cr_assert_float_eq(s.max, 100.0, TOL);
    cr_assert_float_eq(s.median, 3.0, TOL);
    cr_assert_float_eq(s.mean, 22.0, TOL);
    cr_assert_float_eq(s.mad, 1.0, TOL);
    cr_assert_float_eq(s.p90, 61.6, 1e-9);
    cr_assert_float_eq(s.p99, 96.16, 1e-9);
    cr_assert_float_eq(s.stddev, sqrt(7610.0 / 4.0), 1e-9);
    cr_assert_float_eq(s.cv, sqrt(7610.0 / 4.0) / 22.0, 1e-12);
    cr_assert_eq(s.outliers_high, 1);
    cr_assert_eq(s.outliers_low, 0);
    const bool want[5] = {false, true, false, false, false};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(out[i], want[i], "flag %d", i);
}

Test(stats, even_count_median_and_low_outlier)
{
    /* sorted -50 10 11 12 13 14: median (11+12)/2; Q1 = 10.25, Q3 = 12.75,
     * IQR 2.5, fences 6.5 and 16.5: -50 is a low outlier. */
    const double x[] = {12, 10, 14, -50, 11, 13};
    bool out[6];
    bnb_stats s;
    cr_assert_eq(bnb_stats_compute(x, 6, 1, &s, out), 0);
    cr_assert_float_eq(s.median, 11.5, TOL);
    cr_assert_eq(s.outliers_low, 1);
    cr_assert_eq(s.outliers_high, 0);
    cr_assert(out[3]);
    cr_assert_not(out[0]);
    /* deviations from 11.5: 0.5 1.5 2.5 61.5 0.5 1.5 -> sorted 0.5 0.5 1.5 1.5 2.5 61.5 */
    cr_assert_float_eq(s.mad, 1.5, TOL);
}

Test(stats, single_value)
{
    const double x[] = {7.5};
    bnb_stats s;
    cr_assert_eq(bnb_stats_compute(x, 1, 3, &s, NULL), 0);
    cr_assert_float_eq(s.median, 7.5, TOL);
    cr_assert_float_eq(s.p99, 7.5, TOL);
    cr_assert_float_eq(s.stddev, 0.0, TOL);
    cr_assert_float_eq(s.ci_lo, 7.5, TOL);
    cr_assert_float_eq(s.ci_hi, 7.5, TOL);
}

Test(stats, percentile_type7)
{
    const double s[] = {10, 20, 30, 40};
    cr_assert_float_eq(bnb_stats_percentile_sorted(s, 4, 0.0), 10.0, TOL);
    cr_assert_float_eq(bnb_stats_percentile_sorted(s, 4, 1.0), 40.0, TOL);
    cr_assert_float_eq(bnb_stats_percentile_sorted(s, 4, 0.5), 25.0, TOL);
    /* h = 3 * 0.9 = 2.7 -> 30 + 0.7 * 10 */
    cr_assert_float_eq(bnb_stats_percentile_sorted(s, 4, 0.9), 37.0, 1e-12);
    const double u[] = {5, 1, 3};
    cr_assert_float_eq(bnb_stats_median(u, 3), 3.0, TOL);
}

Test(stats, bootstrap_ci_contains_median_and_is_deterministic)
{
    double x[31];
    for (int i = 0; i < 31; i++)
        x[i] = 1.0 + 0.01 * ((i * 17) % 31); /* 1.00 .. 1.30, shuffled */
    bnb_stats a, b, c;
    cr_assert_eq(bnb_stats_compute(x, 31, 12345, &a, NULL), 0);
    cr_assert_eq(bnb_stats_compute(x, 31, 12345, &b, NULL), 0);
    cr_assert_eq(bnb_stats_compute(x, 31, 999, &c, NULL), 0);
    cr_assert_float_eq(a.median, 1.15, 1e-12);
    cr_assert(a.ci_lo <= a.median && a.median <= a.ci_hi, "[%g, %g] vs %g", a.ci_lo, a.ci_hi,
              a.median);
    cr_assert(a.ci_lo < a.ci_hi);
    /* CI is a percentile of medians of resamples: within the data range */
    cr_assert(a.ci_lo >= 1.0 && a.ci_hi <= 1.30);
    cr_assert_eq(a.ci_lo, b.ci_lo);
    cr_assert_eq(a.ci_hi, b.ci_hi);
    /* a different seed draws different resamples; the interval stays about the median */
    cr_assert(c.ci_lo <= c.median && c.median <= c.ci_hi);
}

Test(stats, mann_whitney_exact_separated)
{
    /* all of a below all of b: U = 0; P(U = 0) = 1 / C(6,3) = 1/20; two-sided 0.1 */
    const double a[] = {1, 2, 3}, b[] = {4, 5, 6};
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 3, b, 3, &r), 0);
    cr_assert(r.exact);
    cr_assert_float_eq(r.u, 0.0, TOL);
    cr_assert_float_eq(r.p, 0.1, 1e-12);
    cr_assert_eq(bnb_mann_whitney(b, 3, a, 3, &r), 0);
    cr_assert_float_eq(r.u, 9.0, TOL);
    cr_assert_float_eq(r.p, 0.1, 1e-12);
}

Test(stats, mann_whitney_exact_interleaved)
{
    /* a = {1,3,5}, b = {2,4,6}: U = 3 (3>2, 5>2, 5>4). The m=n=3 null
     * distribution of U = 0..9 has counts 1 1 2 3 3 3 3 2 1 1 (of 20):
     * P(U <= 3) = 7/20, P(U >= 3) = 16/20 -> p = 2 * 7/20 = 0.7. */
    const double a[] = {1, 3, 5}, b[] = {2, 4, 6};
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 3, b, 3, &r), 0);
    cr_assert(r.exact);
    cr_assert_float_eq(r.u, 3.0, TOL);
    cr_assert_float_eq(r.p, 0.7, 1e-12);
}

Test(stats, mann_whitney_exact_textbook_4_5)
{
    /* m = 4, n = 5, complete separation: P(U = 0) = 1 / C(9,4) = 1/126, p = 2/126 */
    const double a[] = {0.1, 0.2, 0.3, 0.4}, b[] = {1, 2, 3, 4, 5};
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 4, b, 5, &r), 0);
    cr_assert(r.exact);
    cr_assert_float_eq(r.p, 2.0 / 126.0, 1e-12);
}

Test(stats, mann_whitney_ties_normal_approximation)
{
    /* a = {1,2,2}, b = {2,3,3}: mid-ranks 1, 3,3 | 3, 5.5,5.5; R_a = 7, U = 1.
     * mu = 4.5; ties t = 3 and 2 give sum(t^3 - t) = 30;
     * var = 9/12 * (7 - 30/30) = 4.5; z = (3.5 - 0.5)/sqrt(4.5) = sqrt 2;
     * p = erfc(z / sqrt 2) = erfc(1). */
    const double a[] = {1, 2, 2}, b[] = {2, 3, 3};
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 3, b, 3, &r), 0);
    cr_assert_not(r.exact);
    cr_assert_float_eq(r.u, 1.0, TOL);
    cr_assert_float_eq(r.z, -sqrt(2.0), 1e-12);
    cr_assert_float_eq(r.p, erfc(1.0), 1e-12);
}

Test(stats, mann_whitney_large_normal)
{
    /* 25 vs 25, separated: U = 0, mu = 312.5, var = 625 * 51 / 12;
     * z = 312 / sqrt(2656.25) */
    double a[25], b[25];
    for (int i = 0; i < 25; i++) {
        a[i] = i;
        b[i] = 100 + i;
    }
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 25, b, 25, &r), 0);
    cr_assert_not(r.exact);
    double z = 312.0 / sqrt(625.0 * 51.0 / 12.0);
    cr_assert_float_eq(r.p, erfc(z / sqrt(2.0)), 1e-15);
    cr_assert(r.p < 1e-8);
}

Test(stats, mann_whitney_identical_groups)
{
    const double a[] = {5, 5, 5}, b[] = {5, 5, 5, 5};
    bnb_mw_result r;
    cr_assert_eq(bnb_mann_whitney(a, 3, b, 4, &r), 0);
    cr_assert_float_eq(r.p, 1.0, TOL);
    cr_assert_float_eq(r.u, 6.0, TOL);
}
