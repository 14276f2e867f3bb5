/*
 * runner.h - measures selected cases: set-up, verify, warm-up, calibrate,
 * R samples with counters around the timed region only, statistics,
 * tear-down; on a worker thread the runner creates and pins itself.
 *
 * Per case (bnb_runner_measure):
 *   1. available() false  -> status skipped (reason), nothing timed; so is a
 *      case marked skip_quick under --quick
 *   2. setup() untimed; an error -> status failed (message), never timed
 *   3. verify() once, before any timing; a wrong answer -> status failed
 *   4. warm-up: untimed calls of run(state, 1) for at least warmup seconds
 *      (at least one call): caches, page faults, branch predictors, and the
 *      core's clock and the OS settling on a case that has just started
 *   5. calibration: iterations grow (x10 while far, else to 1.4x the
 *      target) until one sample lasts >= bnb_timer_min_sample(min_time),
 *      i.e. >= --min-time and >= 1000x the clock's resolution
 *   6. R samples: counters start, clock, run(state, iterations), clock,
 *      counters stop; sample = elapsed / iterations (seconds per iteration)
 *   7. statistics (stats.h) with the seed mixed with the case's full name;
 *      metrics(); counter metrics; teardown()
 *
 * Under opts.mpi (an MPI job of >= 2 ranks, every rank running the same
 * selection with the same options) the ranks agree, before every case,
 * whether to go on: a signal on one rank, or a rank whose run failed (a
 * hook, out of memory), stops every rank at the same case boundary (a rank
 * stopped by another ends BNB_RUN_INTERRUPTED, its error saying so). For a
 * collective case (suite.h) every step is agreed: skipped when any rank
 * cannot run it (the reason "rank N: ..."), failed on every rank when
 * set-up or verify fails on any ("rank N: ..."); the warm-up is a count of
 * calls, the largest any rank's warm-up time needs (from one timed call);
 * calibration takes the slowest rank's time at every step, so every rank
 * picks the same iterations; a barrier starts every sample, so samples
 * start together. Each rank stores its own samples. Without opts.mpi a
 * collective case is skipped ("needs `mpirun -np N bnbench run --mpi` with
 * N >= 2"). An MPI error fails the case and stops the run.
 *
 * SIGINT, SIGTERM or SIGHUP during bnb_runner_run finishes the current case
 * (all its samples), hands it to on_case, then stops: the outcome is
 * BNB_RUN_INTERRUPTED. A second one kills the process the default way (the
 * DB stays consistent: one transaction per case; the run left `running` is
 * marked abandoned by the next write-open of the DB).
 */
#ifndef BNB_RUNNER_H
#define BNB_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "collectors/counters.h"
#include "collectors/topo.h"
#include "suites/suite.h"

#define BNB_DEFAULT_REPETITIONS 15
#define BNB_DEFAULT_MIN_TIME    1e-3
#define BNB_QUICK_REPETITIONS   9
#define BNB_QUICK_MIN_TIME      2e-4
#define BNB_DEFAULT_WARMUP      0.05
#define BNB_QUICK_WARMUP        0.01
#define BNB_DEFAULT_SEED        0x626e62656e6368ull /* "bnbench" */

typedef struct bnb_runner_opts {
    int repetitions;      /* samples per case, >= 1 */
    double min_time;      /* seconds a sample must last at least */
    double warmup;        /* seconds of untimed calls before calibration */
    uint64_t seed;        /* bootstrap seed */
    const char *counters; /* --counters list; NULL = default group */
    bool multiplex;       /* PAPI multiplexing (off unless asked) */
    bool quick;           /* passed to cases in bnb_case_env */
    bool progress;        /* a progress line per case on stderr */
    /* Under `bnbench run --mpi` with >= 2 ranks (the MPI job is initialised,
     * bnb_mpi_init): agree across ranks as described above, and pass the
     * rank and job size to cases (bnb_case_env). Ignored, as if false,
     * while no MPI job of >= 2 ranks exists. */
    bool mpi;
} bnb_runner_opts;

/* Defaults: 15 repetitions, 1 ms samples, 50 ms warm-up, default seed and
 * counters, no progress. */
void bnb_runner_opts_default(bnb_runner_opts *o);

/* Measures one case on the calling thread into *out (identity, status,
 * samples, stats, metrics). ctr may be NULL (no counters). Returns 0, or -1
 * only when out of memory (out->status is then failed, with the message). */
int bnb_runner_measure(const bnb_selected *sc, const bnb_case_env *env, const bnb_runner_opts *o,
                       bnb_counters *ctr, bnb_case_result *out);

typedef struct bnb_runner_hooks {
    void *ctx;
    /* After the worker is pinned, before the first case (e.g. begin the run
     * in the DB with the binding read back). Nonzero aborts the run, with
     * the reason in err. Runs on the worker thread. */
    int (*on_pinned)(void *ctx, const bnb_binding *b, const char *papi_status, char *err,
                     size_t cap);
    /* After each case is measured (e.g. store it). Nonzero aborts the run,
     * with the reason in err. Runs on the worker thread. */
    int (*on_case)(void *ctx, const bnb_case_result *r, int index, int total, char *err,
                   size_t cap);
} bnb_runner_hooks;

typedef struct bnb_run_outcome {
    bnb_run_status status;  /* complete, interrupted, or failed (a hook or the worker failed) */
    int ncases;             /* cases measured (<= selection size) */
    bnb_case_result *cases; /* malloc'd, ncases entries */
    int nfailed;            /* cases with status failed */
    bnb_binding binding;    /* what the worker's binding read back as */
    char error[512];        /* why the run failed, "" otherwise */
} bnb_run_outcome;

/* Runs the selection on a new worker thread pinned to cpus->cpu[0] (no
 * pinning when cpus is NULL or empty), SIGINT, SIGTERM and SIGHUP handled as
 * described above (the old handlers are back when it returns).
 * Always fills *out; returns 0 when every case was measured (status
 * complete), 1 when interrupted, -1 when the run failed. */
int bnb_runner_run(const bnb_selection *sel, bnb_topo *topo, const bnb_cpulist *cpus,
                   const bnb_runner_opts *o, const bnb_runner_hooks *hooks, bnb_run_outcome *out);
void bnb_run_outcome_free(bnb_run_outcome *out);

/* True once SIGINT, SIGTERM or SIGHUP arrived during bnb_runner_run (tests
 * may also set it). */
bool bnb_runner_interrupted(void);
void bnb_runner_set_interrupted(bool on);

#endif
