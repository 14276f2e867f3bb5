/*
 * report_fixture.h - builds bnbench DBs with planted sample distributions
 * for the tests of reports/ (compare, check, report): runs, cases with
 * exactly known samples (evenly spaced around a centre, so medians, spreads
 * and U-test outcomes are known in advance), metrics and verdicts, all
 * written through the db API. Also spawns the built bnbench binary.
 * Header-only (static inline) so each test binary takes what it uses.
 */
#ifndef REPORT_FIXTURE_H
#define REPORT_FIXTURE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/model/stats.h"
#include "spawn.h"

/* n values centre * (1 + spread * ((i + 0.5) / n - 0.5) + shift / n), in a
 * scrambled order: a spread of 0.02 means +-1% around the centre; shift in
 * [0, 1) moves every value by that fraction of one step (interleaving two
 * groups of the same centre and spread). */
static inline void fx_dist(double *x, int n, double centre, double spread, double shift)
{
    for (int i = 0; i < n; i++) {
        int j = (i * 7 + 3) % n; /* a permutation when gcd(7, n) = 1 */
        x[j] = centre * (1.0 + spread * ((i + 0.5 + shift) / n - 0.5));
    }
}

static inline int64_t fx_run(bnb_db *db, const char *machine, const char *started,
                             const char *reason, const char *warnings)
{
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.machine_name, sizeof ri.machine_name, "%s", machine);
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "fp-%s", machine);
    snprintf(ri.started_at, sizeof ri.started_at, "%s", started);
    snprintf(ri.reason, sizeof ri.reason, "%s", reason);
    snprintf(ri.compiler, sizeof ri.compiler, "gcc 12.2.0");
    snprintf(ri.cflags, sizeof ri.cflags, "-O2 -march=test");
    snprintf(ri.build_type, sizeof ri.build_type, "release");
    snprintf(ri.kernels, sizeof ri.kernels, "avx512");
    snprintf(ri.commit, sizeof ri.commit, "0123abcd");
    ri.machine_json = (char *)"{\"cpu_model\":\"Test CPU 9000\",\"isa\":\"avx2 avx512f\","
                              "\"topology\":{\"cores\":4,\"pus\":8,\"memory_bytes\":"
                              "17179869184}}";
    ri.context_json = (char *)"{\"counters\":{\"pmu_present\":false,\"pmu_reason\":\"no PMU in "
                              "this VM\",\"papi\":\"started\"}}";
    ri.warnings_json = (char *)(warnings ? warnings : "[]");
    char err[BNB_ERR_MAX];
    int64_t id = 0;
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), 0, "%s", err);
    return id;
}

static inline void fx_end(bnb_db *db, int64_t run)
{
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_end_run(db, run, BNB_RUN_COMPLETE, err), 0, "%s", err);
}

/* Stores a measured case with samples x[0..n); metric (may be NULL) is a
 * rate work / median with the given name and unit. */
static inline void fx_case(bnb_db *db, int64_t run, const char *suite, const char *name,
                           const char *pkey, const char *pval, const double *x, int n,
                           const char *metric, const char *unit, double work)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "%s", suite);
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.code_version, sizeof r.code_version, "1");
    if (pkey)
        bnb_case_add_param(&r, pkey, "%s", pval);
    r.iterations = 10;
    r.nsamples = n;
    r.samples = malloc((size_t)n * sizeof *r.samples);
    r.outlier = calloc((size_t)n, sizeof *r.outlier);
    cr_assert(r.samples && r.outlier);
    memcpy(r.samples, x, (size_t)n * sizeof *x);
    cr_assert_eq(bnb_stats_compute(r.samples, n, 1, &r.stats, r.outlier), 0);
    if (metric) {
        bnb_metric *m = bnb_case_add_metric(&r, metric, unit, work / r.stats.median, true);
        cr_assert_not_null(m);
        m->timing = BNB_TIMING_RATE;
    }
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(db, run, &r, err), 0, "%s", err);
    bnb_case_free(&r);
}

/* A case measured with a planted distribution: n values around centre. */
static inline void fx_simple(bnb_db *db, int64_t run, const char *name, int n, double centre,
                             double spread, double shift)
{
    double x[64];
    cr_assert(n <= 64);
    fx_dist(x, n, centre, spread, shift);
    fx_case(db, run, "plant", name, NULL, NULL, x, n, NULL, NULL, 0);
}

static inline void fx_verdict(bnb_db *db, int64_t run, const char *id, const char *figure,
                              const char *op, double threshold, double measured, bool ok,
                              const char *verdict, const char *reason)
{
    bnb_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    snprintf(t.figure, sizeof t.figure, "%s", figure);
    snprintf(t.op, sizeof t.op, "%s", op);
    t.threshold = threshold;
    bnb_verdict v = {.target = &t,
                     .measured = measured,
                     .measured_ok = ok,
                     .ci_lo = NAN,
                     .ci_hi = NAN,
                     .bound = threshold};
    snprintf(v.verdict, sizeof v.verdict, "%s", verdict);
    snprintf(v.reason, sizeof v.reason, "%s", reason);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_verdicts(db, run, &v, 1, err), 0, "%s", err);
}

/* ---- the bnbench binary ---------------------------------------------------------- */

#define FX_BNBENCH(r, tmp, ...)                                                                    \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        fx_spawn((r), (tmp), a_);                                                                  \
    } while (0)

#endif
