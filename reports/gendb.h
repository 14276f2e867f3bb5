/*
 * gendb.h - builds a synthetic DB of many runs through the db API, for the
 * `bnbench report` scale benchmark (issue 7, acceptance 3: a report on a DB
 * of 1,000 runs in under 2 s). Hidden subcommand: bnbench _gen-db.
 *
 * The runs are clearly synthetic (machine "synthetic" or "synthetic-NN", reason nightly,
 * commit "synthetic"): 9 cases each (peak probes, three GEMM sizes, a pool
 * latency, a timer) with 15 samples drawn from a fixed-seed generator around
 * fixed centres, and stored verdicts; they exist to load the DB, not to
 * stand for measurements.
 */
#ifndef BNB_GENDB_H
#define BNB_GENDB_H

#include <stddef.h>

/* Creates (or appends to) the DB at path with nruns runs of machine
 * "synthetic". 0 or -1 with err. */
int bnb_gendb(const char *path, int nruns, char *err, size_t cap);
/* The same with the runs round-robin over nmachines machines
 * "synthetic-01" ... (each its own fingerprint; nmachines <= 1: all
 * "synthetic"), the shape of a collector's fleet DB. */
int bnb_gendb_fleet(const char *path, int nruns, int nmachines, char *err, size_t cap);

#endif
