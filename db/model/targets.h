/*
 * targets.h - performance targets: loaded from a JSON file (cJSON), checked
 * against the figures of a run.
 *
 * File format (the default ships as suites/targets.json):
 *   { "version": 1,
 *     "targets": [
 *       { "id": "gemm-1024-peak",
 *         "description": "f32 GEMM n=1024 reaches 80% of the measured FMA peak",
 *         "figure": "matmul/engine/n=1024:gflops",
 *         "op": ">=",
 *         "threshold": 0.8,
 *         "relative_to": "peak/fma/avx512:gflops",   (optional: threshold x that figure)
 *         "requires": "cuda" }                       (optional capability;
 *                                                     cuda is the one known)
 *     ] }
 * Verdicts: "met", "missed", "not applicable" (reason), "not measured"
 * (reason). Never "met" by default: a figure that is absent or unavailable
 * is "not measured". A figure no case or metric of this build's suites can
 * produce is not a target switched off but an error when the file is
 * loaded (bnb_targets_validate): "not measured" is for cases that exist
 * but did not run (filters, --quick, another suite selected).
 */
#ifndef BNB_TARGETS_H
#define BNB_TARGETS_H

#include "db/model/bnb.h"

typedef struct bnb_target {
    char id[64];
    char description[256];
    char figure[160];
    char op[4]; /* ">=" or "<=" */
    double threshold;
    char relative_to[160]; /* "" when absolute */
    char requires[32];     /* "" when none */
} bnb_target;

typedef struct bnb_target_set {
    int n;
    bnb_target *t;
} bnb_target_set;

typedef struct bnb_verdict {
    const bnb_target *target;
    double measured; /* the figure's value */
    bool measured_ok;
    double ci_lo, ci_hi; /* CI of the figure when it is a timing-derived figure */
    double bound;        /* threshold, or threshold x relative figure */
    char verdict[20];    /* met | missed | not applicable | not measured */
    char reason[200];
} bnb_verdict;

/* Loads and validates a targets file; on error returns -1 with a one-line
 * message naming the file, the target index/id and the problem
 * ("targets file t.json: target 3 (gemm): \"op\" must be >= or <=, got \"=>\"").
 * out is empty on error. */
int bnb_targets_load(const char *path, bnb_target_set *out, char *err, size_t cap);
/* The same for len bytes of a file's text already in memory (text need not
 * be terminated; any bytes are safe: this is the fuzzed entry point); path
 * only names it in messages (NULL: "(text)"). */
int bnb_targets_parse(const char *text, size_t len, const char *path, bnb_target_set *out,
                      char *err, size_t cap);
void bnb_targets_free(bnb_target_set *s);

/* ---- what the suites can produce -------------------------------------------
 * The runner's cases and the metric names each can add, handed down by the
 * suites layer (bnb_catalogue_build in suites/suite.h) so a figure can be
 * checked when the file is loaded, before anything runs. */
typedef struct bnb_catalogue_case {
    char name[BNB_NAME_MAX + 160]; /* full case name "matmul/engine/sgemm/n=1024" */
    const char *metrics;           /* comma-separated metric names it can add; "" none */
    bool selected;                 /* its suite is selected for this run */
} bnb_catalogue_case;

typedef struct bnb_catalogue {
    int n;
    bnb_catalogue_case *c;
} bnb_catalogue;

/* True when name is one of the names of the comma-separated list (NULL or
 * "" holds none). */
bool bnb_name_listed(const char *name, const char *list);

/* Checks every target's figure and relative_to against cat, which lists
 * every case of every suite of this build (selected or not): the case part
 * must match at least one case, and the metric must be one that every
 * matching case can produce (a timing statistic such as median_s and a
 * counter.* metric count for any case). A target with "requires" whose
 * suite this build does not have at all is left alone (that suite comes
 * with the capability). So a typo is an error whatever the selection, and a
 * correct target on an unselected suite is not: it is "not measured" at
 * evaluation. Returns 0, or -1 with one line naming path, the target and
 * the figure ("targets file t.json: target \"gemm\": figure
 * \"matmul/engine/sgemm/n=1024:gflop\" matches no metric of the selected
 * suites (case matmul/engine/sgemm/n=1024 has: gflops, ...)"). */
int bnb_targets_validate(const bnb_target_set *s, const bnb_catalogue *cat, const char *path,
                         char *err, size_t cap);

/* Capability query used for "requires": returns true when present (e.g.
 * "cuda" when a device is usable). Set by the caller; may be NULL (none). */
typedef bool (*bnb_capability_fn)(const char *cap);

/* Evaluates every target against the given cases. out has s->n entries. */
void bnb_targets_eval(const bnb_target_set *s, const bnb_case_result *cases, int ncases,
                      bnb_capability_fn has_cap, bnb_verdict *out);

#endif
