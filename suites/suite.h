/*
 * suite.h - the suite registry: what a benchmark suite declares so the
 * runner can list, select, verify and time its cases.
 *
 * A suite is one file (suites/suite_<name>.c) that defines a `const
 * bnb_suite bnb_suite_<name>` with a static table of cases, plus one line
 * BNB_SUITE(<name>) in suites/suite_list.h. (The line is needed because the
 * harness is linked from a static archive: an object file nothing refers to
 * is never linked in, so self-registering constructors would silently drop
 * suites.)
 *
 * A case's callbacks, in the order the runner calls them:
 *   available  optional: false with a reason -> stored as skipped
 *   setup      untimed: builds the inputs (state)
 *   verify     untimed, once per run, before any timing: compares the output
 *              with the reference implementation; a wrong answer fails the
 *              case (stored as failed with the message, never timed)
 *   run        the timed region: `iters` iterations of the operation
 *   metrics    optional, untimed, after the statistics are known: derived
 *              figures, e.g. GFLOPS = 2*M*N*K / median / 1e9 (DESIGN.md);
 *              every name it can add is declared in metric_names, so a
 *              targets file naming a metric no case produces is refused
 *              when it is loaded (bnb_catalogue_build, targets.h)
 *   teardown   frees the state (called whenever setup succeeded)
 *
 * metrics returns 0, -1 when out of memory, or 1 when the case failed after
 * all (r->message says why, e.g. an MPI error during the timed calls).
 *
 * A collective case (bnb_case_def.collective) measures an MPI job: its run
 * makes collective or point-to-point MPI calls, so every rank calls it the
 * same number of times with the same iteration counts. Under
 * bnb_runner_opts.mpi the runner agrees every decision across the ranks
 * (runner.h); without it the case is skipped. Its setup and verify may call
 * MPI only on paths every rank takes (a rank must not fail before a call the
 * others make); metrics and teardown must not call MPI.
 */
#ifndef BNB_SUITE_H
#define BNB_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collectors/timer.h"
#include "collectors/topo.h"
#include "db/model/bnb.h"
#include "db/model/targets.h"

/* What the runner tells a case about where it runs. */
typedef struct bnb_case_env {
    const bnb_topo_summary *topo; /* caches (llc_bytes), cores ... ; never NULL */
    const bnb_timer_info *timer;  /* never NULL */
    const bnb_cpulist *cpus;      /* the selected PUs; the caller runs on cpus->cpu[0] */
    bool quick;                   /* --quick: smaller operands where a case allows */
    /* The cases measured before this one in the same run (read-only; NULL/0
     * when none, or when a case is measured on its own). The runner updates
     * them before each case, so a case that keeps `env` in its state can read
     * them in metrics() to derive figures relative to another measured one,
     * e.g. % of peak/triad:gbps (bnb_env_metric). */
    const bnb_case_result *done;
    int ndone;
    /* This process's rank and the job's size under `bnbench run --mpi` with
     * >= 2 ranks (bnb_runner_opts.mpi); 0 and 1 otherwise (a zero nranks,
     * as in a zero-initialised env, also means one rank). */
    int rank, nranks;
} bnb_case_env;

typedef struct bnb_case_def {
    const char *name; /* "fma/avx512": unique within the suite */
    int nparams;
    bnb_param params[BNB_MAX_PARAMS]; /* fixed parameters, part of the full name */
    const char *code_version;         /* bump when the timed region changes */
    const void *arg;                  /* constant data for the callbacks */
    bool (*available)(const void *arg, char *why, size_t cap);
    int (*setup)(const bnb_case_env *env, const void *arg, void **state, char *err, size_t cap);
    int (*verify)(void *state, char *err, size_t cap);
    void (*run)(void *state, int64_t iters);
    int (*metrics)(void *state, bnb_case_result *r);
    void (*teardown)(void *state);
    /* Comma-separated names of every metric `metrics` can add to this case
     * ("gflops,flops,pct_peak"); NULL or "" when it adds none. The runner
     * fails a case that adds a metric not listed here. Timing statistics
     * (median_s ...) and counter.* metrics are never listed. */
    const char *metric_names;
    /* A long case --quick leaves out: stored as skipped, with the reason,
     * so a quick run stays short and says what it did not measure. */
    bool skip_quick;
    /* A sweep point too long for the default run (it would double `make
     * run`): only an explicit `--suite NAME` runs it. */
    bool suite_only;
    /* run() calls MPI across the job (see above): measured only under
     * `mpirun -np N bnbench run --mpi` with N >= 2, skipped otherwise. */
    bool collective;
} bnb_case_def;

typedef struct bnb_suite {
    const char *name;
    const char *description;
    bool in_default; /* part of the default `bnbench run` */
    /* In the default run (no --suite) only the cases --quick keeps run (the
     * target figures); `--suite NAME` runs every case. For suites whose full
     * sweep would push the default run past its time budget. */
    bool default_short;
    const bnb_case_def *cases;
    int ncases;
    /* Optional side-by-side view (bnb_print_peers): `peers` lists the
     * implementations compared, as the first component of case names
     * ("pool,malloc,mimalloc,jemalloc" for alloc/pool/size=64,
     * alloc/malloc/size=64, ...); cases equal after that component are one
     * row, and `peer_metrics` ("p50_ns,p99_ns") are the figures shown. */
    const char *peers;
    const char *peer_metrics;
    /* Some case calls OpenBLAS: `run` chooses OpenBLAS's core (peers.h)
     * before measuring only when a selected suite does. */
    bool uses_openblas;
} bnb_suite;

/* Every registered suite, in suite_list.h order; *n receives the count. */
const bnb_suite *const *bnb_suites(int *n);
/* The suite of that name, or NULL. */
const bnb_suite *bnb_suite_find(const char *name);

/* One selected case. */
typedef struct bnb_selected {
    const bnb_suite *suite;
    const bnb_case_def *def;
    char fullname[BNB_NAME_MAX + 160];
} bnb_selected;

typedef struct bnb_selection {
    int n;
    bnb_selected *c; /* malloc'd */
} bnb_selection;

/* Selects cases: `suites` is a comma-separated list of suite names, "all",
 * or NULL/"" for the default suites; `case_regex` (POSIX extended, NULL =
 * every case) must match somewhere in the full case name. Returns 0, or -1
 * with a one-line message for an unknown suite (naming the known ones), a
 * bad regex, or a selection with no case. */
int bnb_select(const char *suites, const char *case_regex, bnb_selection *out, char *err,
               size_t cap);
void bnb_selection_free(bnb_selection *s);
/* Whether the cases bnb_select picks for (suites, case_regex) include one
 * of a suite that calls OpenBLAS; true when the selection fails (the run
 * itself then reports why). */
bool bnb_selection_uses_openblas(const char *suites, const char *case_regex);

/* The name of the suite of the first collective case in sel (one that
 * needs `mpirun -np N bnbench run --mpi`, N >= 2), or NULL when there is
 * none: a run without --mpi refuses a selection that names such a suite. */
const char *bnb_selection_needs_mpi(const bnb_selection *sel);

/* The catalogue a targets file is checked against (bnb_targets_validate):
 * every case of every registered suite with its declared metric_names,
 * `selected` set for the cases of the suites `suites` selects (as in
 * bnb_select: a list, "all", or NULL/"" for the default ones). Returns 0,
 * or -1 with a one-line message (unknown suite, out of memory). */
int bnb_catalogue_build(const char *suites, bnb_catalogue *out, char *err, size_t cap);
void bnb_catalogue_free(bnb_catalogue *c);

/* The metric `metric` of the case called `fullname` ("peak/triad") among
 * env->done, when that case was measured (status ok) and the metric is
 * available; NULL otherwise. */
const bnb_metric *bnb_env_metric(const bnb_case_env *env, const char *fullname, const char *metric);
/* The case called `fullname` among env->done when it was measured (status
 * ok), else NULL. */
const bnb_case_result *bnb_env_case(const bnb_case_env *env, const char *fullname);

/* Prints, for each suite with peers among `cases`, a table with one row per
 * compared case and one column per peer (skipped or failed peers say so).
 * Prints nothing when no such suite is present. */
void bnb_print_peers(FILE *f, const bnb_case_result *cases, int ncases);

/* Called by bnbench's main before a run: re-executes the process once with
 * GLIBC_TUNABLES raising glibc.rtld.optional_static_tls, which jemalloc's
 * initial-exec TLS needs to be dlopen'ed by the alloc suite. Returns (and
 * the run goes on, jemalloc then skipped with dlopen's reason) when the
 * tunable is already set, BNB_NO_REEXEC is set, or the exec fails. (main
 * also sets OPENBLAS_NUM_THREADS=1, unless set, for the new process.) */
void bnb_alloc_prepare_exec(char **argv);

/* Fills a result's identity (suite, name, params, code version) from a case. */
void bnb_case_identity(const bnb_suite *s, const bnb_case_def *d, bnb_case_result *r);

#endif
