/*
 * compare.h - case-by-case comparison of two runs (bnbench compare, check,
 * and the regression section of the readiness report).
 *
 * Cases are lined up by their full name "suite/name/k=v..." (suite, name and
 * params), so runs from different machines compare case for case. Samples
 * are seconds per iteration: lower is better.
 *
 * Verdict rule (DESIGN.md): a case is "slower" (a regression) or "faster"
 * only when the two-sided Mann-Whitney U test of the raw samples gives
 * p < alpha (default 0.01) AND the median moved by more than the threshold
 * (default 5%): |median_b / median_a - 1| > threshold. Otherwise "no change".
 * When the sample counts cannot reach p < alpha at all (the smallest
 * two-sided p of the U test with n1, n2 values and no ties is
 * 2 / C(n1 + n2, n1), e.g. 0.029 for 4 + 4), the verdict is "insufficient
 * samples", never a regression. A case only in one run, failed or skipped
 * in either, or whose code_version differs, is "not comparable" (with why).
 *
 * Ratio = median_b / median_a (time; < 1 means B is faster). Its interval
 * is the conservative quotient of the two bootstrap 95% CIs of the medians:
 * [ci_lo_b / ci_hi_a, ci_hi_b / ci_lo_a].
 */
#ifndef BNB_COMPARE_H
#define BNB_COMPARE_H

#include <stdio.h>

#include "db/model/bnb.h"

#define BNB_CMP_THRESHOLD 0.05
#define BNB_CMP_ALPHA     0.01

typedef enum bnb_cmp_verdict {
    BNB_CMP_SAME = 0,       /* no change */
    BNB_CMP_FASTER,         /* B faster than A */
    BNB_CMP_SLOWER,         /* B slower than A: a regression when A is the baseline */
    BNB_CMP_INSUFFICIENT,   /* too few samples for the U test to reach alpha */
    BNB_CMP_NOT_COMPARABLE, /* missing, failed, skipped or different code version */
} bnb_cmp_verdict;

typedef struct bnb_cmp_row {
    char key[BNB_NAME_MAX + 160]; /* full case name */
    char suite[32];
    int na, nb;                       /* samples */
    double med_a, med_b;              /* seconds per iteration; NAN when absent */
    double ratio, ratio_lo, ratio_hi; /* med_b / med_a and its interval; NAN when absent */
    double p;                         /* U test p; NAN when not run */
    double min_p;                     /* smallest p reachable with na, nb */
    bnb_cmp_verdict verdict;
    char note[200]; /* why not comparable / insufficient */
} bnb_cmp_row;

typedef struct bnb_cmp_opts {
    double threshold; /* relative change, default BNB_CMP_THRESHOLD */
    double alpha;     /* significance, default BNB_CMP_ALPHA */
} bnb_cmp_opts;

/* Smallest two-sided p-value the U test can give for groups of n1 and n2
 * values: 2 / C(n1 + n2, n1), capped at 1. */
double bnb_mw_min_p(int n1, int n2);

/* "faster", "slower", "no change", "insufficient samples", "not comparable". */
const char *bnb_cmp_verdict_str(bnb_cmp_verdict v);

/* Compares one pair of cases (either may be NULL: only in one run). */
void bnb_compare_case(const bnb_case_result *a, const bnb_case_result *b, const bnb_cmp_opts *o,
                      bnb_cmp_row *row);

/* Compares every case of A with the case of the same full name in B: rows
 * in A's order, then B's cases absent from A. o may be NULL (defaults).
 * *rows is malloc'd (free()); returns 0, or -1 when out of memory. */
int bnb_compare_runs(const bnb_case_result *a, int na, const bnb_case_result *b, int nb,
                     const bnb_cmp_opts *o, bnb_cmp_row **rows, int *nrows);

/* Writers of a comparison; la/lb label the two sides (run ids, machine
 * names). Text is a fixed-width terminal table; md a GitHub/GitLab table;
 * json a versioned object (schema_version 1), malloc'd, NULL on OOM. */
void bnb_compare_write_text(FILE *f, const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                            const bnb_cmp_opts *o);
void bnb_compare_write_md(FILE *f, const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                          const bnb_cmp_opts *o);
char *bnb_compare_json(const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                       const bnb_cmp_opts *o);
/* The same object as a tree, for a writer that embeds or extends it; its
 * strings are as stored (the writer runs bnb_json_utf8_tree, text.h, once
 * before printing). NULL on OOM; the caller deletes it. */
struct cJSON *bnb_compare_json_tree(const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                                    const bnb_cmp_opts *o);
/* Adds "peers" to a compare tree: per peer (openblas, lapack, mimalloc,
 * jemalloc) the labels of A and B read from their stored context JSON
 * (collectors/peers.h; either may be NULL) and whether they differ, since a
 * ratio that moved may be the peer's doing. 0, or -1 when out of memory. */
int bnb_compare_json_add_peers(struct cJSON *root, const char *ctx_a, const char *ctx_b);

#endif
