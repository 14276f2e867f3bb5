/*
 * rundoc_internal.h - the validated run document behind the opaque
 * bnb_rundoc of db/rundoc.h, shared by the parser (db/rundoc.c) and the
 * ingest (db/ingest.c) and nothing else. It holds the run as the store's own
 * structures (bnb_run_info, bnb_case_result, bnb_target + bnb_verdict), so
 * ingest writes it with the store's own write paths: every value in it has
 * been checked against the limits below and fits its field untruncated.
 */
#ifndef BNB_RUNDOC_INTERNAL_H
#define BNB_RUNDOC_INTERNAL_H

#include <stdbool.h>

#include "db/model/bnb.h"
#include "db/model/targets.h"

/* Limits of a document (beyond the fixed string fields of bnb.h and
 * targets.h, whose sizes bound the strings stored in them). */
#define BNB_RUNDOC_MAX_VALUES   2000000 /* JSON values in one document */
#define BNB_RUNDOC_MAX_CASES    10000
#define BNB_RUNDOC_MAX_SAMPLES  1000000 /* per case */
#define BNB_RUNDOC_MAX_METRICS  256     /* per case */
#define BNB_RUNDOC_MAX_VERDICTS 4096
#define BNB_RUNDOC_MAX_JSON                                                                        \
    (1 << 20)                       /* machine.description, run.context,                           \
                                       run.warnings, run.binding as                                \
                                       stored (compact) text */
#define BNB_RUNDOC_REASON_MAX  1024 /* run.status_reason */
#define BNB_RUNDOC_VERSION_MAX 128  /* run.tool_version */

struct bnb_rundoc {
    bnb_run_info ri;       /* uuid, machine, fingerprint, start, build; the four
                              JSON texts malloc'd (NULL where the document has null) */
    bnb_run_status status; /* never BNB_RUN_RUNNING */
    char status_reason[BNB_RUNDOC_REASON_MAX];
    char finished_at[32]; /* "" when the document has null */
    char tool_version[BNB_RUNDOC_VERSION_MAX];
    int ncases;             /* >= 1 */
    bnb_case_result *cases; /* samples, outlier flags and metrics owned */
    bnb_target_set targets; /* one per verdict, in order */
    bnb_verdict *verdicts;  /* verdicts[i].target == &targets.t[i] */
};

#endif
