/*
 * bnb.h - the harness's shared types: a run, a measured case, its statistics
 * and metrics. Collectors and the runner produce them; db/ stores them;
 * reports/ reads them back. Every figure a report shows comes from here.
 *
 * db/model/ is the bottom layer of the harness (the run model: this file,
 * result.c, stats, targets). It includes nothing of collectors/, db/,
 * suites/ or reports/; every other layer builds on it:
 *   db/model -> collectors/, db/ -> suites/ -> reports/ -> suites/cli/.
 *
 * Naming of figures: a case is identified by (suite, name, params), e.g.
 * suite "matmul", name "engine/sgemm", params {"n":1024}. Its full name is
 * "suite/name" plus "/k=v" for each param in key order
 * ("matmul/engine/sgemm/n=1024"). A figure is "<full case name>:<metric>",
 * e.g. "peak/fma/avx512:gflops". Targets refer to figures by that name.
 *
 * Units: samples are seconds per iteration (one sample = `iterations` calls
 * of the timed region, divided by iterations).
 */
#ifndef BNB_H
#define BNB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BNB_NAME_MAX   128
#define BNB_MAX_PARAMS 8

/* Exit codes of bnbench (documented in --help). BNB_EXIT_USAGE: nothing
 * was written to the DB. BNB_EXIT_PARTIAL: a run began (its row and maybe
 * some cases are stored) but stopped on an error, a DB write (disk full, I/O
 * error) or the measuring itself; the message says what was stored. */
enum { BNB_EXIT_OK = 0, BNB_EXIT_FAIL = 1, BNB_EXIT_USAGE = 2, BNB_EXIT_PARTIAL = 3 };

typedef enum bnb_case_status {
    BNB_CASE_OK = 0,      /* measured */
    BNB_CASE_FAILED = 1,  /* wrong answer or error: stored with message, never timed */
    BNB_CASE_SKIPPED = 2, /* not applicable here (message says why) */
} bnb_case_status;

typedef enum bnb_run_status {
    BNB_RUN_RUNNING = 0,
    BNB_RUN_COMPLETE = 1,
    BNB_RUN_INTERRUPTED = 2,
    BNB_RUN_FAILED = 3,
    BNB_RUN_ABANDONED = 4, /* left running by a process that is gone (killed, crashed) */
} bnb_run_status;

typedef struct bnb_param {
    char key[32];
    char value[64]; /* printed as-is; numeric when it parses as a number */
} bnb_param;

typedef struct bnb_stats {
    int n; /* samples */
    double min, max, median, mean, stddev, mad, cv, p90, p99;
    double ci_lo, ci_hi;             /* bootstrap 95% CI of the median */
    int outliers_low, outliers_high; /* Tukey fences (1.5 IQR), kept, flagged */
} bnb_stats;

/* bnb_metric.timing values. */
enum { BNB_TIMING_RATE = -1, BNB_TIMING_NONE = 0, BNB_TIMING_PROP = 1 };

typedef struct bnb_metric {
    char name[64]; /* "gflops", "hit_rate", "counter.PAPI_TOT_CYC", "p50_ns" */
    char unit[16]; /* "GFLOP/s", "ratio", "count", "ns", "B/s", "s" */
    double value;  /* meaningful when available */
    bool available;
    char reason[160]; /* why not available (e.g. PAPI's message) */
    bool higher_is_better;
    /* How the value depends on the case's timing, so a target can carry the
     * median's confidence interval over to it: 0 not timing-derived (counts,
     * ratios from counters), +1 proportional to the median time (p50_ns),
     * -1 inversely proportional (rates: GFLOP/s, B/s). Zero-initialised
     * metrics are "not timing-derived". */
    int timing;
} bnb_metric;

typedef struct bnb_case_result {
    char suite[32];
    char name[BNB_NAME_MAX];
    int nparams;
    bnb_param params[BNB_MAX_PARAMS];
    bnb_case_status status;
    char message[256];  /* failure or skip reason */
    int64_t iterations; /* per sample */
    int nsamples;
    double *samples; /* seconds per iteration, owned by the result */
    bool *outlier;   /* per sample, Tukey flag; may be NULL */
    bnb_stats stats;
    int nmetrics;
    bnb_metric *metrics;   /* owned by the result */
    char code_version[32]; /* version of the case's code ("" = none): bump when
                              the timed region changes so history is not
                              compared across different workloads */
} bnb_case_result;

typedef struct bnb_run_info {
    char uuid[40];
    char machine_name[64];
    char fingerprint[72]; /* hex sha-256-like digest of the identity fields */
    char started_at[32];  /* ISO 8601 UTC */
    char reason[16];      /* nightly | pr | manual */
    char commit[48];
    char branch[64];
    char build_type[32];
    char compiler[96];
    char cflags[256];
    char kernels[32];    /* selected kernel set */
    char *machine_json;  /* machine description (CPU, ISA, caches, ...), malloc'd */
    char *context_json;  /* full context, malloc'd */
    char *warnings_json; /* JSON array of strings, malloc'd */
    char *binding_json;  /* applied CPU binding read back, e.g. {"cpus":[1]}, malloc'd */
} bnb_run_info;

/* ---- helpers shared by every module (db/model/result.c) ------------------- */
/* Full case name "suite/name/k=v..." into buf; returns buf. */
char *bnb_case_fullname(const bnb_case_result *r, char *buf, size_t cap);
bnb_metric *bnb_case_add_metric(bnb_case_result *r, const char *name, const char *unit,
                                double value, bool higher_is_better);
bnb_metric *bnb_case_add_unavailable(bnb_case_result *r, const char *name, const char *unit,
                                     const char *reason);
const bnb_metric *bnb_case_metric(const bnb_case_result *r, const char *name);
void bnb_case_add_param(bnb_case_result *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bnb_case_free(bnb_case_result *r); /* frees owned arrays, not r itself */
void bnb_run_info_free(bnb_run_info *ri);

#endif
