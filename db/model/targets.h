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
 *         "requires": "cuda" }                       (optional capability)
 *     ] }
 * Verdicts: "met", "missed", "not applicable" (reason), "not measured"
 * (reason). Never "met" by default: a figure that is absent or unavailable
 * is "not measured".
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
 * ("targets file t.json: target 3 (gemm): \"op\" must be >= or <=, got \"=>\""). */
int bnb_targets_load(const char *path, bnb_target_set *out, char *err, size_t cap);
void bnb_targets_free(bnb_target_set *s);

/* Capability query used for "requires": returns true when present (e.g.
 * "cuda" when a device is usable). Set by the caller; may be NULL (none). */
typedef bool (*bnb_capability_fn)(const char *cap);

/* Evaluates every target against the given cases. out has s->n entries. */
void bnb_targets_eval(const bnb_target_set *s, const bnb_case_result *cases, int ncases,
                      bnb_capability_fn has_cap, bnb_verdict *out);

#endif
