/*
 * run_mpi.h - what `bnbench run --mpi` adds to a run (commands.c does the
 * run itself, the same on every rank).
 *
 * Every rank measures its own machine with the same selection and options.
 * Rank 0 stores into the DB the user named; every other rank stores into a
 * private DB in a temporary directory, and at the end sends its run to rank
 * 0 as a run document (db/rundoc.h), which rank 0 stores and links to the
 * batch (db/batch.h). Only rank 0 writes the user's DB.
 *
 * The handshake, once per rank before anything is measured, is collective:
 * every rank says whether its preparation (selection, targets, topology, DB)
 * succeeded, its bnbench version and a signature of its selection and
 * options; any failure or mismatch ends every rank with the reason (exit 2).
 * It then splits the CPUs of each host among the ranks on it (disjoint
 * sets, recorded) and tells rank 0 each rank's host and CPUs (the roster).
 */
#ifndef BNB_RUN_MPI_H
#define BNB_RUN_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/mpi.h"
#include "collectors/topo.h"
#include "db/batch.h"
#include "db/db.h"

typedef struct bnb_mpi_run {
    bnb_mpi_job job;
    bool handshaken;
    char tmpdir[512];       /* a rank > 0's private directory ("" on rank 0) */
    char dbpath[600];       /* its DB in there */
    bnb_batch_rank *roster; /* rank 0: job.size entries after the handshake */
    char batch_uuid[40];
    int64_t batch_id; /* rank 0, once begun */
    char cpu_note[400];
    bool peer_lost; /* rank 0 stopped waiting for a rank: MPI_Finalize would wait for it too */
} bnb_mpi_run;

/* Starts MPI and, on ranks > 0, makes the private DB's directory. Prints on
 * rank 0 when the process is a singleton (one rank). 0, or -1 with err. */
int bnb_mpi_run_start(bnb_mpi_run *m, char *err, size_t cap);

/* The handshake (see the top). status: "" when this rank is ready, else its
 * error; signature: what must be equal on every rank (selection, options).
 * topo and cpus: this rank's usable CPUs (cpus is replaced by its share of
 * the host's; ignored when status is not ""). Returns 0 when every rank is
 * ready, else -1 with err (this rank's own error, or the first other
 * rank's, or the mismatch). Collective: every rank calls it exactly once. */
int bnb_mpi_run_handshake(bnb_mpi_run *m, const char *status, const char *signature,
                          const bnb_topo *topo, bnb_cpulist *cpus, char *err, size_t cap);

/* Rank 0: begins the batch in db with the roster. */
int bnb_mpi_run_begin_batch(bnb_mpi_run *m, bnb_db *db, const char *suites, char *err, size_t cap);

/* Rank > 0: sends its run (run_id in its private DB; 0 when the run never
 * began) to rank 0, or why there is none. */
void bnb_mpi_run_send(bnb_mpi_run *m, bnb_db *db, int64_t run_id, const char *why);

/* Rank 0: links its own run (rank 0), receives every other rank's run,
 * stores and links each, and ends the batch. stop: a signal asked to stop
 * waiting. *status receives the batch's status; *ids the stored run ids
 * (malloc'd, *nids entries) for --publish. Returns 0, or -1 with err (the
 * batch could not be written). */
int bnb_mpi_run_collect(bnb_mpi_run *m, bnb_db *db, int64_t own_run, bool own_failed,
                        bool own_interrupted, bool (*stop)(void), bnb_batch_status *status,
                        int64_t **ids, int *nids, char *err, size_t cap);

/* Removes the private DB (ranks > 0), frees, finalises MPI (unless a rank
 * was lost: its process is gone or going, and MPI_Finalize would wait for
 * it; mpirun ends the job). */
void bnb_mpi_run_end(bnb_mpi_run *m);

#endif
