/*
 * batch.h - a batch: the runs of one `mpirun -np N bnbench run --mpi`, one
 * per rank, stored by rank 0 (schema v5: tables batches and batch_ranks).
 *
 * A batch has a roster of N ranks, known before anything is measured: each
 * rank's host and the CPUs it was bound to. Each rank's run is an ordinary
 * run (machine, context, cases, samples, verdicts), stored like any other and
 * linked to its roster entry; `runs`, `compare RUN RUN`, `report RUN` see it
 * as one. A rank whose run never reached rank 0 (killed, its host gone) keeps
 * its roster entry with no run and the reason.
 *
 * Status of a batch:
 *   running      rank 0 is storing it. A batch stored as running reads as
 *                incomplete (with the reason) when rank 0's run was marked
 *                abandoned, or when rank 0's process (recorded by
 *                bnb_db_batch_begin as runs record theirs) is gone and was
 *                on the reader's host; the stored row is left as it is.
 *   complete     every rank's run is stored and complete
 *   interrupted  Ctrl-C / SIGTERM: every rank stopped after its current case
 *   incomplete   some rank's run is missing or failed (the ranks say which)
 *
 * Errors as in db.h: 0, or -1 with a one-line message in err (cap
 * BNB_ERR_MAX) and nothing written.
 */
#ifndef BNB_BATCH_H
#define BNB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define BNB_BATCH_MAX_RANKS 4096

typedef enum bnb_batch_status {
    BNB_BATCH_RUNNING = 0,
    BNB_BATCH_COMPLETE,
    BNB_BATCH_INTERRUPTED,
    BNB_BATCH_INCOMPLETE,
} bnb_batch_status;

const char *bnb_batch_status_str(bnb_batch_status st);

/* One rank of a batch's roster. */
typedef struct bnb_batch_rank {
    int rank;
    char host[256];   /* the rank's host name (MPI_Get_processor_name) */
    char cpus[256];   /* the CPUs it was bound to, as a list "0-3,8" ("" unbound) */
    int64_t run_id;   /* its stored run, 0 when none reached rank 0 */
    char state[16];   /* "stored" (run_id set), "failed" (stored, its run failed), "lost" */
    char reason[512]; /* why failed or lost; "" otherwise */
} bnb_batch_rank;

/* Begins a batch (status running) with its uuid (36 chars), its start time
 * (ISO 8601 UTC), the number of ranks (1..BNB_BATCH_MAX_RANKS), the suites
 * selected as given ("" for the default) and the roster (nranks entries,
 * rank i at index i; run_id, state and reason are ignored: every rank starts
 * "lost" with reason "not received yet"). Returns its id. */
int bnb_db_batch_begin(bnb_db *db, const char *uuid, const char *started_at, int nranks,
                       const char *suites, const bnb_batch_rank *roster, int64_t *batch_id,
                       char *err);

/* Links rank's stored run (run_id > 0, a run of this DB that no other rank
 * of any batch has) to the batch: state "stored", or "failed" with reason
 * when the run ended failed. A rank that has no run is lost
 * (bnb_db_batch_rank_lost), never "failed". */
int bnb_db_batch_set_rank(bnb_db *db, int64_t batch_id, int rank, int64_t run_id, const char *state,
                          const char *reason, char *err);

/* Marks rank lost with a reason (no run reached rank 0); unlinks a run
 * linked before. reason NULL stores "no reason given". */
int bnb_db_batch_rank_lost(bnb_db *db, int64_t batch_id, int rank, const char *reason, char *err);

/* Ends the batch with its status (not running), the finish time now and a
 * reason ("" or NULL when complete). */
int bnb_db_batch_end(bnb_db *db, int64_t batch_id, bnb_batch_status st, const char *reason,
                     char *err);

/* One line of `bnbench batches`. */
typedef struct bnb_batch_row {
    int64_t id;
    char uuid[40];
    char started_at[32];
    char finished_at[32]; /* "" while running */
    char status[16];      /* bnb_batch_status_str, with a dead rank 0 read as incomplete */
    char status_reason[512];
    char suites[256];
    int nranks;
    int nstored; /* ranks with a stored run (state stored or failed) */
    int nhosts;  /* distinct hosts of the roster */
} bnb_batch_row;

/* Batches newest first, at most limit (<= 0: all). *out malloc'd (NULL when
 * *n is 0); the caller frees it. A DB of schema < 5 opened read-only has
 * none. */
int bnb_db_list_batches(bnb_db *db, int limit, bnb_batch_row **out, int *n, char *err);

/* A batch by spec: its id (up to 7 digits, as RUN specs read), "latest"
 * (the newest by start time, then id, whatever its status), or a uuid
 * prefix of at least 8 hex digits (an ambiguous prefix is an error). 0
 * with *batch_id, or -1 with err ("no batch ...", naming the spec quoted;
 * "... the DB has no batches" for a DB of schema < 5). */
int bnb_db_resolve_batch(bnb_db *db, const char *spec, int64_t *batch_id, char *err);

/* One batch with its roster (nranks entries, rank order; *ranks malloc'd,
 * the caller frees it). */
int bnb_db_get_batch(bnb_db *db, int64_t batch_id, bnb_batch_row *row, bnb_batch_rank **ranks,
                     int *nranks, char *err);

/* The batch run_id belongs to: 1 with *batch_id and *rank, 0 none, -1 error. */
int bnb_db_run_batch(bnb_db *db, int64_t run_id, int64_t *batch_id, int *rank, char *err);

#endif
