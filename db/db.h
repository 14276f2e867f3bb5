/*
 * db.h - the SQLite store of bnbench: schema, migrations, writes and queries.
 *
 * Schema versioned with PRAGMA user_version and forward migrations; WAL mode
 * and a busy timeout; one transaction per stored case so a crash loses at
 * most the case in flight. A DB written by a newer schema is refused with a
 * clear error. Runs from many machines merge into one DB (machines are keyed
 * by fingerprint + name).
 *
 * Errors: functions return 0 on success, -1 on failure with a one-line
 * message in err (cap BNB_ERR_MAX) naming the path and SQLite's reason.
 * Nothing is written on failure (the transaction is rolled back).
 */
#ifndef BNB_DB_H
#define BNB_DB_H

#include <stdint.h>

#include "db/model/bnb.h"
#include "db/model/targets.h"

#define BNB_ERR_MAX           512
#define BNB_DB_SCHEMA_VERSION 2

typedef struct bnb_db bnb_db;

/* Opens (creating when absent unless readonly) and migrates. Refuses a DB
 * whose user_version is newer than BNB_DB_SCHEMA_VERSION, a file that is not
 * a SQLite DB, or an unwritable path. Read-only opens also take an older
 * schema as it is (nothing a reader selects changed).
 *
 * Opening for writing also marks `abandoned` every run still `running` that
 * was begun on this host by a process that is gone (killed, crashed: the
 * pid no longer exists, is a zombie, or belongs to a process started later;
 * or the host was restarted), storing why in the run and printing one line
 * per run on stderr. Runs of other hosts are left as they are: their
 * processes cannot be looked up from here. */
int bnb_db_open(const char *path, int readonly, bnb_db **out, char *err);
void bnb_db_close(bnb_db *db);

/* Inserts (or finds) the machine and a run row with status running; returns
 * its id. The run records the calling process (pid, its start time, host,
 * boot) so a later write-open can tell when that process is gone. */
int bnb_db_begin_run(bnb_db *db, const bnb_run_info *ri, int64_t *run_id, char *err);
/* Stores one case (case row, raw samples with outlier flags, stats, metrics)
 * in a single transaction. */
int bnb_db_store_case(bnb_db *db, int64_t run_id, const bnb_case_result *r, char *err);
/* Stores one target verdict. */
int bnb_db_store_verdict(bnb_db *db, int64_t run_id, const char *target_id, const char *figure,
                         const char *op, double threshold, double measured, int measured_ok,
                         double ci_lo, double ci_hi, const char *verdict, const char *reason,
                         char *err);
/* Sets status (and finished_at). */
int bnb_db_end_run(bnb_db *db, int64_t run_id, bnb_run_status st, char *err);
/* The same, storing why the run ended so (e.g. the storage error that
 * stopped a failed run); why may be NULL. */
int bnb_db_end_run_why(bnb_db *db, int64_t run_id, bnb_run_status st, const char *why, char *err);
/* SQLite's reason ("database or disk is full", "disk I/O error", "UNIQUE
 * constraint failed: ...") why the last write call on db (begin_run,
 * store_case, store_verdict(s), end_run, set_baseline) failed, without the
 * path or what was being stored; "" when it did not fail or failed before
 * reaching SQLite (a value refused up front: err says why). Valid until the
 * next call on db. */
const char *bnb_db_last_fault(const bnb_db *db);
/* PRAGMA integrity_check; 0 when "ok", -1 with the first problem in err. */
int bnb_db_check(bnb_db *db, char *err);

/* Resolves "latest", a numeric id, a uuid (prefix of >= 8 chars) or a
 * baseline name to a run id. An ambiguous uuid prefix is an error. */
int bnb_db_resolve_run(bnb_db *db, const char *spec, int64_t *run_id, char *err);
/* Loads the cases of a run (samples, stats, metrics). *out is an array the
 * caller frees with bnb_db_free_cases. */
int bnb_db_load_cases(bnb_db *db, int64_t run_id, bnb_case_result **out, int *n, char *err);
void bnb_db_free_cases(bnb_case_result *cases, int n);
/* Loads a run's info (machine, context, ...). Free with bnb_run_info_free. */
int bnb_db_load_run(bnb_db *db, int64_t run_id, bnb_run_info *ri, bnb_run_status *st, char *err);

/* The underlying handle, for queries of reports/ and the CLI. */
struct sqlite3 *bnb_db_handle(bnb_db *db);

/* ---- extensions (store helper) ------------------------------------------ */

/* "running", "complete", ... / "ok", "failed", "skipped"; "?" when out of range. */
const char *bnb_run_status_str(bnb_run_status st);
const char *bnb_case_status_str(bnb_case_status st);
/* True for the reasons a run may carry: nightly, pr, manual, confirm (a
 * re-run of a regressed case by bnbench check). */
bool bnb_reason_valid(const char *reason);

/* Stores the verdicts of a target evaluation (target id, description,
 * figure, op, threshold, relative_to, bound, measured value with CI, verdict,
 * reason) in one transaction; a verdict for the same target id in the same
 * run replaces the earlier one. */
int bnb_db_store_verdicts(bnb_db *db, int64_t run_id, const bnb_verdict *v, int n, char *err);
/* Loads a run's verdicts in stored order: targets->t[i] holds the target as
 * stored, (*verdicts)[i].target points at it. Free with bnb_targets_free and
 * free(*verdicts). */
int bnb_db_load_verdicts(bnb_db *db, int64_t run_id, bnb_target_set *targets,
                         bnb_verdict **verdicts, char *err);

/* One line of `bnbench runs`. */
typedef struct bnb_run_row {
    int64_t id;
    char uuid[40];
    char machine[64];
    char fingerprint[72];
    char started_at[32];
    char finished_at[32]; /* "" while running or after a crash */
    char status[16];
    char reason[16];
    int ncases, nfailed, nskipped;
} bnb_run_row;
/* Runs newest first (started_at, then id), at most limit (<= 0: all). *out is
 * malloc'd (NULL when n == 0); the caller frees it. */
int bnb_db_list_runs(bnb_db *db, int limit, bnb_run_row **out, int *n, char *err);
int bnb_db_get_run_row(bnb_db *db, int64_t run_id, bnb_run_row *row, char *err);

/* Named baselines: set (replacing an existing name) and look up. */
int bnb_db_set_baseline(bnb_db *db, const char *name, int64_t run_id, char *err);
int bnb_db_get_baseline(bnb_db *db, const char *name, int64_t *run_id, char *err);

#endif
