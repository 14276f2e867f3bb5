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
#include "suites/stats.h"

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

typedef struct fx_result {
    int code;
    char out[262144];
    char err[8192];
} fx_result;

static inline void fx_bin(char *bin, size_t cap)
{
    const char *env = getenv("BNBENCH"), *build = getenv("BUILD");
    if (env && *env)
        snprintf(bin, cap, "%s", env);
    else
        snprintf(bin, cap, "%s/bnbench", build && *build ? build : "build");
    cr_assert_eq(access(bin, X_OK), 0, "bnbench binary %s not found (set BNBENCH)", bin);
}

static inline void fx_read(const char *p, char *buf, size_t cap)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs bnbench with the NULL-terminated args; tmp is a scratch directory. */
static inline void fx_spawn(fx_result *r, const char *tmp, const char *const *args)
{
    char bin[256], outp[256], errp[256];
    fx_bin(bin, sizeof bin);
    snprintf(outp, sizeof outp, "%s/stdout", tmp);
    snprintf(errp, sizeof errp, "%s/stderr", tmp);
    const char *argv[64] = {bin};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0)
            _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    fx_read(outp, r->out, sizeof r->out);
    fx_read(errp, r->err, sizeof r->err);
    cr_assert(WIFEXITED(st), "bnbench died with signal %d; stderr: %s", WTERMSIG(st), r->err);
    r->code = WEXITSTATUS(st);
}

#define FX_BNBENCH(r, tmp, ...)                                                                    \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        fx_spawn((r), (tmp), a_);                                                                  \
    } while (0)

#endif
