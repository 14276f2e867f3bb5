/*
 * report_model.h - the report's model, internal to reports/report*.c: one
 * `rep` holds everything the readiness report says about a run, read from
 * the DB and scored once (report_model.c); the writers (one per format:
 * report_md.c, report_html.c, report_json.c) only walk it, so the three
 * formats can never disagree on a figure. The public API is report.h.
 *
 * Internal names follow the house rule `module__name` (report__...).
 */
#ifndef BNB_REPORT_MODEL_H
#define BNB_REPORT_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/db.h"
#include "reports/compare.h"
#include "reports/history.h"
#include "reports/report.h"

#define REPORT_NCATS    5  /* score categories, see report.h */
#define REPORT_MAX_HIST 12 /* history charts at most */

/* A growing list of malloc'd strings; oom is set (and the string dropped)
 * when an allocation fails, and checked once after gathering. */
typedef struct strlist {
    char **s;
    int n, cap;
    bool oom;
} strlist;

/* Appends a printf-formatted string to l. */
void report__list_add(strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the strings and the array; l is left empty. */
void report__list_free(strlist *l);

typedef struct category {
    const char *id, *name;
    double weight;
    bool measured;
    double score;    /* 0..100 when measured */
    char basis[600]; /* the inputs, in words */
} category;

typedef struct history {
    char figure[BNB_NAME_MAX + 260];
    char unit[16];
    bool higher_is_better;
    bnb_hist_point *p;
    int n;
    double z, mean, sd;
} history;

typedef struct roof_point {
    char label[BNB_NAME_MAX + 160];
    double ai, gflops;
} roof_point;

typedef struct rep {
    int64_t run_id;
    bnb_run_info ri;
    bnb_run_row row;
    bnb_case_result *cases;
    int ncases;
    bnb_target_set ts;
    bnb_verdict *v;
    char cpu[256], isa[1024], os[160];
    int cores, pus;
    double mem_gib;
    bool pmu_known, pmu;
    char pmu_reason[256], papi[256], governor[96];
    strlist warn;
    char base_name[128];
    int64_t base_id;
    bool have_base;
    char base_note[300];
    bnb_cmp_row *cmp;
    int ncmp;
    int nslower, nfaster, nsame, ninsuff, nnotcmp;
    double peak, bw; /* GFLOP/s, GB/s; NAN when not measured */
    char peak_case[BNB_NAME_MAX + 160];
    category cat[REPORT_NCATS];
    double score, coverage;
    history hist[REPORT_MAX_HIST];
    int nhist;
    roof_point *roof;
    int nroof;
    strlist roof_skipped;
    strlist not_measured;
    strlist critical;
    strlist findings; /* said plainly next to the critical issues, not blocking */
    strlist counters; /* "name: available in a of b cases" */
    int nfailed, nskipped, nok, nmissed, nmet;
} rep;

/* Fills *r (zeroed by the caller) with run_id's report: reads the run, its
 * cases, verdicts and environment, the baseline comparison (o->baseline, or
 * the newest baseline of the machine) and, when charts, the histories and
 * roofline points, then scores it and builds the lists (the score and the
 * lists never depend on the charts' inputs). Returns 0, or -1 with a
 * one-line message in err (cap bytes). *r must be released with
 * report__free either way. */
int report__gather(bnb_db *db, int64_t run_id, const bnb_report_opts *o, bool charts, rep *r,
                   char *err, size_t cap);
void report__free(rep *r);

/* "READY", "NOT READY" or "INCOMPLETE EVIDENCE" (rule in report.h). */
const char *report__status_word(const rep *r);
/* The case's main rate figure (gflops, gops, gbps), or NULL. */
const bnb_metric *report__rate_metric(const bnb_case_result *c);

/* The writers: Markdown and HTML write to f (errors show in f's state),
 * JSON returns a malloc'd text or NULL when out of memory. */
void report__write_md(FILE *f, const rep *r);
void report__write_html(FILE *f, const rep *r);
char *report__write_json(const rep *r);

#endif
