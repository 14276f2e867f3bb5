/*
 * fleet.h - the read queries of the fleet web view and the read API
 * (reports/web.c): the machines of a DB each with its latest complete run,
 * runs filtered by machine and start time, and a run or machine looked up
 * by the identifier a URL carries.
 *
 * Shaped for a DB that collects many machines: each list is one statement
 * driven by the runs_by_machine / runs_by_start indexes and the per-run
 * indexes of cases and verdicts (correlated counts, no query per row), so
 * the fleet page of 20 machines with 1,000 runs reads in about a
 * millisecond. Every read goes through db/internal.h's checked statements:
 * a step that fails ends the call with SQLite's message in err.
 *
 * "Latest run" here is the one `bnbench compare --machine` uses
 * (bnb_db_latest_run, measured only): the newest complete run whose reason
 * is not "confirm".
 */
#ifndef BNB_FLEET_H
#define BNB_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

#define BNB_FLEET_RUNS_DEFAULT 100  /* runs a list returns when no limit is asked */
#define BNB_FLEET_RUNS_MAX     1000 /* the most runs one list returns */

/* A run with its machine and the counts of its target verdicts. */
typedef struct bnb_fleet_run {
    bnb_run_row row; /* id, uuid, machine name, fingerprint, times, status, case counts */
    int64_t machine_id;
    int met, missed, not_measured, not_applicable; /* verdicts stored with the run */
} bnb_fleet_run;

/* A machine row and its latest complete measured run (has_latest false when
 * it has none: only running, failed ... runs, or only confirm re-runs). */
typedef struct bnb_fleet_machine {
    int64_t id;
    char name[64];
    char fingerprint[72];
    char first_seen[32], last_seen[32];
    int nruns; /* every run of the machine, whatever its status */
    bool has_latest;
    bnb_fleet_run latest;
} bnb_fleet_machine;

/* Every machine by name (then id) with its latest run. *out is malloc'd
 * (NULL when *n == 0); the caller frees it. Returns 0 or -1 with err. */
int bnb_db_fleet_machines(bnb_db *db, bnb_fleet_machine **out, int *n, char *err);

/* The machine with row id id. Returns 0 with *out, 1 when there is none,
 * -1 with err on a DB error. */
int bnb_db_fleet_machine(bnb_db *db, int64_t id, bnb_fleet_machine *out, char *err);

/* Runs newest first (started_at, then id) of any status: of machine row
 * machine_id (<= 0: any), of machines named machine (NULL: any), started at
 * or after since (NULL: any; an ISO-8601 time SQLite's date functions read:
 * YYYY-MM-DD[THH:MM[:SS[.fff]]] with an optional Z or +-HH:MM, compared as
 * instants, so a zone offset counts), at most limit (1..BNB_FLEET_RUNS_MAX;
 * anything else is refused with err). *out is malloc'd (NULL when *n == 0);
 * the caller frees it. Returns 0 or -1 with err (a since SQLite cannot read
 * as a time, a bad limit, a DB error). */
int bnb_db_fleet_runs(bnb_db *db, int64_t machine_id, const char *machine, const char *since,
                      int limit, bnb_fleet_run **out, int *n, char *err);

/* The run whose uuid is spec, or failing that the one run whose uuid starts
 * with spec when spec is 8 to 36 hex digits and '-'. Returns 0 with *run,
 * 1 when no run matches, 2 when a prefix matches several runs (err names
 * the prefix), -1 with err on a DB error. */
int bnb_db_fleet_run_by_uuid(bnb_db *db, const char *spec, bnb_fleet_run *run, char *err);

/* The latest complete measured run of the machines named machine (the run
 * `bnbench compare --machine` picks). Returns 0 with *run, 1 when a machine
 * of that name exists but has no such run, 2 when no machine has that name,
 * -1 with err on a DB error. */
int bnb_db_fleet_latest_of(bnb_db *db, const char *machine, bnb_fleet_run *run, char *err);

#endif
