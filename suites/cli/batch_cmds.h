/*
 * batch_cmds.h - the commands that read batches (the runs of one `mpirun
 * ... bnbench run --mpi`, db/batch.h): `bnbench batches`, and the --batch
 * forms of compare and report, which report_cmds.c hands over here once it
 * has parsed and checked its options.
 *
 * Each returns the exit code (0 ok, 2 a usage error, an unknown batch or a
 * DB error, with one line on stderr).
 */
#ifndef BNB_BATCH_CMDS_H
#define BNB_BATCH_CMDS_H

#include "reports/report.h"

extern const char bnb_usage_batches[];

/* bnbench batches [--db PATH] [--limit N] */
int bnb_cmd_batches(int argc, char **argv, const char *db);

/* compare --batch SPEC: format "text", "md" or "json"; output NULL or "-"
 * for standard output; threshold a fraction (<= 0: the default). */
int bnb_cli_compare_batch(const char *db, const char *spec, const char *format, const char *output,
                          double threshold);

/* report --batch SPEC in format to output (NULL or "-": standard output). */
int bnb_cli_report_batch(const char *db, const char *spec, bnb_report_format format,
                         const char *output);

#endif
