/*
 * batchcmp.h - the machines of a batch side by side (`bnbench compare
 * --batch B`, `bnbench report --batch B`): one column per rank, one row per
 * case (lined up by full name, as compare.h does for two runs).
 *
 * Definitions (printed with every output):
 *   reference  rank 0, the rank that stored the batch; when rank 0 has no
 *              run (lost), the lowest rank that has one
 *   ratio      median of rank k / median of the reference (time per
 *              iteration: < 1 means rank k is faster)
 *   verdict    compare.h's rule between the reference's raw samples and
 *              rank k's: "faster" / "slower" only when the Mann-Whitney U
 *              test gives p < 0.01 AND the medians differ by more than the
 *              threshold (default 5%); "no change"; "insufficient samples"
 *              when the sample counts cannot reach p < 0.01
 *   winner     the rank with the lowest median; a tie when the bootstrap
 *              95% CI of another rank's median overlaps the winner's (the
 *              ranks tied are named); "-" when no rank measured the case
 *
 * A cell is "ok" (measured), "not measured" (the rank's run has no such
 * case), "skipped" or "failed" (as its run stored it), or "lost" (the rank's
 * run never reached rank 0; the column says why).
 */
#ifndef BNB_BATCHCMP_H
#define BNB_BATCHCMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/batch.h"
#include "reports/compare.h"
#include "reports/report.h"

#define BNB_BATCHCMP_SCHEMA_VERSION 1

typedef enum bnb_bcell_state {
    BNB_BCELL_OK = 0,
    BNB_BCELL_NOT_MEASURED,
    BNB_BCELL_SKIPPED,
    BNB_BCELL_FAILED,
    BNB_BCELL_LOST,
} bnb_bcell_state;

/* "ok", "not measured", "skipped", "failed", "lost". */
const char *bnb_bcell_state_str(bnb_bcell_state s);

/* One case of one rank. */
typedef struct bnb_bcell {
    bnb_bcell_state state;
    const bnb_case_result *c;    /* the rank's case (NULL when not measured or lost) */
    int n;                       /* samples */
    double median, ci_lo, ci_hi; /* seconds per iteration; NAN unless ok */
    double ratio;                /* median / the reference's; NAN when either is absent */
    double p;                    /* U test p against the reference; NAN when not run */
    bnb_cmp_verdict verdict;     /* against the reference (the reference itself: no change) */
    bool best;                   /* the winner, or tied with it */
} bnb_bcell;

/* One case across the ranks. */
typedef struct bnb_bcase {
    char key[BNB_NAME_MAX + 160]; /* full case name */
    char suite[32];
    bnb_bcell *cell; /* nranks cells, rank order */
    int winner;      /* rank with the lowest median; -1 when none measured it */
    int ntied;       /* ranks tied with the winner (the winner not counted) */
} bnb_bcase;

/* One rank's column. */
typedef struct bnb_bcol {
    char machine[64]; /* its run's machine name; "" when lost */
    char cpu[128];    /* the CPU model its run recorded; "" when unknown */
    char run_status[16];
    bnb_case_result *cases;
    int ncases;
    int wins; /* cases it won outright */
} bnb_bcol;

typedef struct bnb_batch_cmp {
    bnb_batch_row row;
    bnb_batch_rank *ranks;
    int nranks;
    bnb_bcol *col; /* nranks */
    int ref;       /* reference rank; -1 when no rank has a run */
    bnb_bcase *cases;
    int ncases;
    bnb_cmp_opts opts; /* as used (defaults filled in) */
} bnb_batch_cmp;

/* Loads batch_id with every rank's run and cases and compares them. o may
 * be NULL (defaults). Returns 0, or -1 with a one-line message in err (cap
 * bytes); *c must be released with bnb_batch_cmp_free either way. */
int bnb_batch_cmp_load(bnb_db *db, int64_t batch_id, const bnb_cmp_opts *o, bnb_batch_cmp *c,
                       char *err, size_t cap);
void bnb_batch_cmp_free(bnb_batch_cmp *c);

/* The winner's words: "rank 2", "tie: rank 0, rank 2", "-". */
void bnb_batch_winner_text(const bnb_batch_cmp *c, const bnb_bcase *k, char *buf, size_t cap);

/* compare --batch: a fixed-width terminal table and a Markdown table. */
void bnb_batch_write_text(FILE *f, const bnb_batch_cmp *c);
void bnb_batch_write_md(FILE *f, const bnb_batch_cmp *c);
/* The comparison as JSON (schema "bnbench.batch_compare", schema_version
 * BNB_BATCHCMP_SCHEMA_VERSION): batch, ranks, rules, cases with one cell
 * per rank and the winner. Strings as stored (the caller runs
 * bnb_json_utf8_tree before printing). NULL when out of memory. */
struct cJSON *bnb_batch_json_tree(const bnb_batch_cmp *c);

/* report --batch: the hardware-comparison report of a batch as md, html
 * (self-contained, inline SVG charts) or json (the JSON above) into *text
 * (malloc'd). 0, or -1 with a one-line message in err (cap bytes). */
int bnb_batch_report_render(bnb_db *db, int64_t batch_id, bnb_report_format fmt, char **text,
                            char *err, size_t cap);

#endif
