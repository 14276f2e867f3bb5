/*
 * stats.c - sample statistics, bootstrap CI and the Mann-Whitney U test
 * (definitions in stats.h).
 *
 * The bootstrap RNG is xoshiro256** (Blackman & Vigna) seeded through
 * splitmix64, written from the published algorithm; it is here, not in a
 * library, because the CI must be reproducible for a given seed on every
 * platform. The exact U distribution is counted with the classic recurrence
 * N(u; m, n) = N(u - n; m - 1, n) + N(u; m, n - 1) (the largest value is from
 * the first group, beating all n of the second, or from the second).
 */
#include "bitnet/rng.h"
#include "db/model/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bnb_stats_percentile_sorted(const double *s, int n, double q)
{
    if (n == 1)
        return s[0];
    double h = (double)(n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1)
        return s[n - 1];
    if (lo < 0)
        return s[0];
    return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

double bnb_stats_median(const double *x, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1.0;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = bnb_stats_percentile_sorted(s, n, 0.5);
    free(s);
    return m;
}

int bnb_stats_compute(const double *x, int n, uint64_t seed, bnb_stats *out, bool *outlier)
{
    *out = (bnb_stats){0};
    int rc = -1;
    double *sorted = malloc((size_t)n * sizeof *sorted);
    double *dev = malloc((size_t)n * sizeof *dev);
    double *boot = malloc(BNB_BOOTSTRAP_RESAMPLES * sizeof *boot);
    double *res = malloc((size_t)n * sizeof *res);
    if (!sorted || !dev || !boot || !res)
        goto cleanup;

    memcpy(sorted, x, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    bnb_stats st = {.n = n, .min = sorted[0], .max = sorted[n - 1]};
    st.median = bnb_stats_percentile_sorted(sorted, n, 0.5);
    st.p90 = bnb_stats_percentile_sorted(sorted, n, 0.90);
    st.p99 = bnb_stats_percentile_sorted(sorted, n, 0.99);

    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    st.mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - st.mean) * (x[i] - st.mean);
    st.stddev = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    st.cv = st.mean != 0 ? st.stddev / st.mean : 0.0;

    for (int i = 0; i < n; i++)
        dev[i] = fabs(x[i] - st.median);
    qsort(dev, (size_t)n, sizeof *dev, cmp_double);
    st.mad = bnb_stats_percentile_sorted(dev, n, 0.5);

    double q1 = bnb_stats_percentile_sorted(sorted, n, 0.25);
    double q3 = bnb_stats_percentile_sorted(sorted, n, 0.75);
    double lo = q1 - 1.5 * (q3 - q1), hi = q3 + 1.5 * (q3 - q1);
    for (int i = 0; i < n; i++) {
        bool low = x[i]<lo, high = x[i]> hi;
        st.outliers_low += low;
        st.outliers_high += high;
        if (outlier)
            outlier[i] = low || high;
    }

    bn_rng r;
    bn_rng_seed(&r, seed);
    for (int b = 0; b < BNB_BOOTSTRAP_RESAMPLES; b++) {
        for (int i = 0; i < n; i++)
            res[i] = x[bn_rng_below(&r, (uint64_t)n)];
        qsort(res, (size_t)n, sizeof *res, cmp_double);
        boot[b] = bnb_stats_percentile_sorted(res, n, 0.5);
    }
    qsort(boot, BNB_BOOTSTRAP_RESAMPLES, sizeof *boot, cmp_double);
    st.ci_lo = bnb_stats_percentile_sorted(boot, BNB_BOOTSTRAP_RESAMPLES, 0.025);
    st.ci_hi = bnb_stats_percentile_sorted(boot, BNB_BOOTSTRAP_RESAMPLES, 0.975);

    *out = st;
    rc = 0;
cleanup:
    free(sorted);
    free(dev);
    free(boot);
    free(res);
    return rc;
}

/* ---- Mann-Whitney U -------------------------------------------------------- */

typedef struct tagged {
    double v;
    int group; /* 0 = a, 1 = b */
} tagged;

static int cmp_tagged(const void *p, const void *q)
{
    return cmp_double(&((const tagged *)p)->v, &((const tagged *)q)->v);
}

/* P(U <= u) and P(U >= u) under H0 for sizes m, n without ties. */
static int exact_tails(int m, int n, int u, double *le, double *ge)
{
    int umax = m * n;
    size_t stride_u = (size_t)umax + 1;
    size_t stride_n = (size_t)(n + 1) * stride_u;
    double *f = calloc((size_t)(m + 1) * stride_n, sizeof *f);
    if (!f)
        return -1;
#define F(i, j, k) f[(size_t)(i)*stride_n + (size_t)(j)*stride_u + (size_t)(k)]
    for (int i = 0; i <= m; i++)
        for (int j = 0; j <= n; j++) {
            if (i == 0 || j == 0) {
                F(i, j, 0) = 1.0;
                continue;
            }
            for (int k = 0; k <= i * j; k++)
                F(i, j, k) = (k >= j ? F(i - 1, j, k - j) : 0.0) + F(i, j - 1, k);
        }
    double total = 0, below = 0, above = 0;
    for (int k = 0; k <= umax; k++) {
        double c = F(m, n, k);
        total += c;
        if (k <= u)
            below += c;
        if (k >= u)
            above += c;
    }
#undef F
    free(f);
    *le = below / total;
    *ge = above / total;
    return 0;
}

int bnb_mann_whitney(const double *a, int na, const double *b, int nb, bnb_mw_result *out)
{
    *out = (bnb_mw_result){0};
    int N = na + nb;
    tagged *t = malloc((size_t)N * sizeof *t);
    if (!t)
        return -1;
    for (int i = 0; i < na; i++)
        t[i] = (tagged){a[i], 0};
    for (int j = 0; j < nb; j++)
        t[na + j] = (tagged){b[j], 1};
    qsort(t, (size_t)N, sizeof *t, cmp_tagged);

    /* mid-ranks; tie term sum(t^3 - t) */
    double rank_a = 0, tie_term = 0;
    bool ties = false;
    for (int i = 0; i < N;) {
        int j = i;
        while (j + 1 < N && t[j + 1].v == t[i].v)
            j++;
        double mid = (i + j) / 2.0 + 1.0;
        double cnt = j - i + 1;
        if (cnt > 1) {
            ties = true;
            tie_term += cnt * cnt * cnt - cnt;
        }
        for (int k = i; k <= j; k++)
            if (t[k].group == 0)
                rank_a += mid;
        i = j + 1;
    }
    free(t);
    double u = rank_a - na * (na + 1) / 2.0;
    out->u = u;

    if (!ties && na <= BNB_MW_EXACT_MAX && nb <= BNB_MW_EXACT_MAX) {
        double le, ge;
        if (exact_tails(na, nb, (int)llround(u), &le, &ge) != 0)
            return -1;
        double p = 2.0 * (le < ge ? le : ge);
        out->p = p > 1.0 ? 1.0 : p;
        out->exact = true;
        return 0;
    }
    double mu = na * (double)nb / 2.0;
    double var = na * (double)nb / 12.0 * ((N + 1) - tie_term / ((double)N * (N - 1)));
    if (var <= 0) {
        out->p = 1.0; /* every value tied: no evidence of a shift */
        return 0;
    }
    double d = fabs(u - mu) - 0.5;
    if (d < 0)
        d = 0;
    out->z = d / sqrt(var) * (u < mu ? -1.0 : 1.0);
    out->p = erfc(fabs(out->z) / sqrt(2.0));
    if (out->p > 1.0)
        out->p = 1.0;
    return 0;
}
