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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/model/bnb.h"
#include "db/model/targets.h"

#define BNB_ERR_MAX           512
#define BNB_DB_SCHEMA_VERSION 5

typedef struct bnb_db bnb_db;

/* Opens (creating when absent unless readonly) and migrates. Refuses a DB
 * whose user_version is newer than BNB_DB_SCHEMA_VERSION, a file that is not
 * a SQLite DB, or an unwritable path. readonly never creates or changes the
 * DB file: a missing path is "DB <path>: no such file"; in a directory this
 * process cannot write (a read-only mount, chmod 555) a DB without a -wal or
 * -journal file beside it is opened immutable (no locks, no -shm), since
 * no writer can change it there. Read-only opens also take an older schema
 * as it is (nothing a reader selects changed).
 *
 * Opening for writing also marks `abandoned` every run still `running` that
 * was begun on this host by a process that is gone (killed, crashed: the
 * pid no longer exists, is a zombie, or belongs to a process started later;
 * or the host was restarted), storing why in the run and printing one line
 * per run on stderr. Runs of other hosts are left as they are: their
 * processes cannot be looked up from here.
 *
 * Every open first runs SQLite's quick integrity check over the whole file
 * (linear in its size: about 0.1 s for 13 MB) and refuses a damaged DB with
 * its first problem, since damage inside a page can read as fewer or other
 * rows without any error. readonly = BNB_DB_READ_UNCHECKED opens read-only
 * without it, for `db check`, which runs the full check itself, and for a
 * re-read right after this process's own checked open (check's re-run). */
#define BNB_DB_READ_UNCHECKED 2
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
/* PRAGMA integrity_check, the JSON columns (a CHECK constraint SQLite does
 * not test on a read-only connection) and PRAGMA foreign_key_check; 0 when
 * all pass, -1 with the first problem in err (one line). */
int bnb_db_check(bnb_db *db, char *err);

/* One problem of the integrity check, one line of text (no newline). */
typedef void (*bnb_db_problem_fn)(void *ctx, const char *problem);

/* bnb_db_check, also calling fn (when not NULL) for each problem SQLite's
 * integrity check lists, one line each, before returning -1. */
int bnb_db_check_each(bnb_db *db, bnb_db_problem_fn fn, void *ctx, char *err);

/* Resolves "latest", a numeric id, a uuid (prefix of >= 8 chars) or a
 * baseline name to a run id. An ambiguous uuid prefix is an error. "latest"
 * is the newest complete run (bnb_db_latest_run); a run named by id, uuid or
 * baseline is used whatever its status. note (NULL, or BNB_ERR_MAX bytes)
 * receives bnb_db_latest_run's note ("" when nothing was skipped). */
int bnb_db_resolve(bnb_db *db, const char *spec, int64_t *run_id, char *note, char *err);
/* bnb_db_resolve without the note. */
int bnb_db_resolve_run(bnb_db *db, const char *spec, int64_t *run_id, char *err);
/* Loads the cases of a run (samples, stats, metrics). *out is an array the
 * caller frees with bnb_db_free_cases. */
int bnb_db_load_cases(bnb_db *db, int64_t run_id, bnb_case_result **out, int *n, char *err);
void bnb_db_free_cases(bnb_case_result *cases, int n);
/* bnb_db_load_cases without the raw samples (nsamples 0, samples and
 * outlier NULL; stats, metrics and the rest as stored): what a score or a
 * summary needs, without reading every sample of the run. */
int bnb_db_load_case_summaries(bnb_db *db, int64_t run_id, bnb_case_result **out, int *n,
                               char *err);
/* Loads a run's info (machine, context, ...). Free with bnb_run_info_free. */
int bnb_db_load_run(bnb_db *db, int64_t run_id, bnb_run_info *ri, bnb_run_status *st, char *err);

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

/* Named baselines: set (replacing an existing name) and look up. A name
 * that RUN would read as something else ("latest", all digits, a uuid-like
 * string of 8 to 36 hex digits and '-') is refused. */
int bnb_db_set_baseline(bnb_db *db, const char *name, int64_t run_id, char *err);
int bnb_db_get_baseline(bnb_db *db, const char *name, int64_t *run_id, char *err);

/* ---- read queries for reports/ and the CLI (db/query.c) -----------------------
 * Every read checks each SQLite result: a step that returns anything but a
 * row or the end (SQLITE_CORRUPT, SQLITE_IOERR, SQLITE_NOMEM ...) fails the
 * call with "DB <path>: <SQLite's message>" in err; no call returns part of
 * an answer as if it were all of it. */

/* The newest run (started_at, then id) whose status is "complete", of the
 * machine named machine (NULL: any) and, when measured_only, whose reason is
 * not "confirm". The newer runs passed over for not being complete (running,
 * interrupted, failed, abandoned) are named in note (NULL, or BNB_ERR_MAX
 * bytes): "skipping run 7 (running), run 6 (interrupted): not complete; name
 * a run to use it", "" when none. Returns 0, or -1 with err when no complete
 * run matches or on a DB error. */
int bnb_db_latest_run(bnb_db *db, const char *machine, bool measured_only, int64_t *run_id,
                      char *note, char *err);
/* The machine row id of a run; -1 with err when there is no such run. */
int bnb_db_run_machine(bnb_db *db, int64_t run_id, int64_t *machine_id, char *err);
/* Why run_id ended failed or abandoned, as stored (the storage error that
 * stopped it, or how its process was found gone) into out (cap bytes,
 * cut to fit); "" when none is stored or the DB's schema predates the
 * column (schema 1). Returns 0, or -1 with err (no such run, a DB error). */
int bnb_db_run_status_reason(bnb_db *db, int64_t run_id, char *out, size_t cap, char *err);

/* One value of a figure in one run. */
typedef struct bnb_hist_point {
    int64_t run_id;
    char started_at[32];
    double value;
} bnb_hist_point;
/* The last `limit` (<= 0: all) values, oldest first, of the case named
 * case_full (status ok): metric "median_s" is its median seconds, another
 * name that available metric. Only complete runs that are not "confirm"
 * re-runs count, of machine machine_id (<= 0: any) and started before run
 * upto (<= 0: any), plus run upto itself whatever its status. note (NULL,
 * or BNB_ERR_MAX bytes) names the incomplete runs left out: "leaving out
 * run 5 (interrupted): not complete", "" when none. *pts is malloc'd (NULL
 * when *n == 0). Returns 0 or -1 with err. */
int bnb_db_series(bnb_db *db, const char *case_full, const char *metric, int64_t machine_id,
                  int64_t upto, int limit, bnb_hist_point **pts, int *n, char *note, char *err);

/* One line of `bnbench baseline list`. */
typedef struct bnb_baseline_row {
    char name[72];
    int64_t run_id;
    char machine[64];
    char run_started_at[32];
    char created_at[32];
} bnb_baseline_row;
/* All baselines by name. *out is malloc'd (NULL when n == 0); the caller
 * frees it. Returns 0 or -1 with err. */
int bnb_db_list_baselines(bnb_db *db, bnb_baseline_row **out, int *n, char *err);
/* The highest run id with reason "confirm": 0 when found, 1 when none, -1
 * with err. */
int bnb_db_newest_confirm_run(bnb_db *db, int64_t *run_id, char *err);

/* PRAGMA synchronous = OFF for this connection: a crash may then corrupt the
 * DB. For generating throw-away DBs only (bnbench _gen-db). */
int bnb_db_unsafe_fast_writes(bnb_db *db, char *err);
/* PRAGMA synchronous = FULL for this connection: each commit syncs the WAL
 * before it returns, so a committed transaction survives a power loss or an
 * OS crash too, not only the death of the process (WAL + NORMAL, the
 * default of bnb_db_open, may lose the last commits then). For a collector,
 * whose acknowledgement tells a publisher it may forget the run. */
int bnb_db_durable_writes(bnb_db *db, char *err);
/* Turns SQLite's automatic checkpoint off for this connection (a writer):
 * its commits then never copy the WAL into the DB file themselves, which
 * would stall the commit that crosses the threshold (1,000 pages) for as
 * long as copying and syncing takes. Whoever calls this must checkpoint
 * (bnb_db_checkpoint, on another connection) or the WAL grows unbounded. */
int bnb_db_defer_checkpoints(bnb_db *db, char *err);
/* A passive checkpoint: copies what the WAL holds into the DB file as far
 * as readers allow, without waiting for or blocking writers and readers.
 * *wal_frames (may be NULL) gets the frames the WAL held, *copied the
 * frames now in the DB file. 0, or -1 with err. */
int bnb_db_checkpoint(bnb_db *db, int *wal_frames, int *copied, char *err);
/* A read of the schema through db: 0 when the connection can read the DB,
 * -1 with err (a file gone bad, I/O error) otherwise. Cheap (no table scan);
 * for a health check. */
int bnb_db_ping(bnb_db *db, char *err);

/* The newest baseline (by creation time, then id) whose run is on the same
 * machine as run_id and is not run_id itself. Returns 0 with its name in
 * name (NUL-terminated, name_cap bytes at most) and its run in *base_run_id;
 * 1 when there is none; -1 on a DB error or a name that does not fit, with
 * the message in err (cap BNB_ERR_MAX, may be NULL). */
int bnb_db_newest_baseline_on_machine(bnb_db *db, int64_t run_id, char *name, size_t name_cap,
                                      int64_t *base_run_id, char *err);

#endif
