/*
 * internal.h - what the files of db/ share and nothing above db/ may see:
 * the SQLite handle behind a bnb_db, and checked read statements.
 *
 * Layers above db/ call the query functions of db.h and never see
 * `sqlite3 *` (DESIGN.md: SQL lives in db/ only); export.c and the tests of
 * db/ include this header. A read statement (bnb_db__rd) keeps the first
 * SQLite error it meets: binds and column reads after a failure do nothing,
 * a text column that comes back NULL for a non-NULL value (out of memory) is
 * an error, and every step result other than SQLITE_ROW / SQLITE_DONE
 * becomes "DB <path>: <SQLite's message>" in err, so a read never stops
 * early on SQLITE_CORRUPT or SQLITE_NOMEM and presents what it got as all.
 */
#ifndef BNB_DB_INTERNAL_H
#define BNB_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* The connection of db (owned by db; valid until bnb_db_close). */
sqlite3 *bnb_db__sqlite(bnb_db *db);
/* Writes the message into err (BNB_ERR_MAX bytes) when err is not NULL:
 * the one error writer of db/. */
void bnb_db__seterr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes room for element k of *arr (capacity *cap, elements of sz bytes),
 * doubling from 16; new slots are zeroed. 0, or -1 when out of memory
 * (*arr untouched). */
int bnb_db__grow(void **arr, int *cap, int k, size_t sz);

/* The path db was opened with. */
const char *bnb_db__path(const bnb_db *db);

typedef struct bnb_db__rd {
    bnb_db *db;
    sqlite3_stmt *st;
    int rc; /* first error (SQLITE_OK while none) */
} bnb_db__rd;

/* Prepares sql; 0, or -1 with err (q->st NULL; bnb_db__rd_end is still safe). */
int bnb_db__rd_prep(bnb_db__rd *q, bnb_db *db, const char *sql, char *err);
void bnb_db__rd_int64(bnb_db__rd *q, int i, int64_t v);
void bnb_db__rd_text(bnb_db__rd *q, int i, const char *s); /* NULL binds NULL */
/* SQLITE_ROW, SQLITE_DONE, or -1 with err naming the DB and SQLite's error
 * (also for an earlier bind or column failure). */
int bnb_db__rd_step(bnb_db__rd *q, char *err);
/* Column text: NULL for SQL NULL; NULL with q->rc = SQLITE_NOMEM when the
 * value could not be converted. */
const char *bnb_db__rd_str(bnb_db__rd *q, int col);
/* Copies column text into dst ("" for NULL), truncating to cap. */
void bnb_db__rd_copy(bnb_db__rd *q, int col, char *dst, size_t cap);
/* 0 when no error has been met since the last step, else -1 with err. */
int bnb_db__rd_ok(bnb_db__rd *q, char *err);
/* Finalizes; 0, or -1 with err when finalizing reports an error no earlier
 * call reported. Safe on a statement that failed to prepare. */
int bnb_db__rd_end(bnb_db__rd *q, char *err);

/* ---- owners of what is still running (db.c) -------------------------------------
 * The process that began a run or a batch: pid with its start time (pids
 * are reused), the host and that host's boot, so a later reader on the same
 * host can tell when it is gone. */
typedef struct bnb_db__owner {
    long long pid;
    long long start; /* /proc/PID/stat field 22 (clock ticks after boot); -1 unknown */
    char host[256];  /* gethostname; "" unknown */
    char boot[40];   /* /proc/sys/kernel/random/boot_id; "" unknown */
} bnb_db__owner;

/* This process as an owner. */
void bnb_db__self_owner(bnb_db__owner *o);
/* Whether owner o (of this host: o->host equals self->host) is gone: its
 * pid no longer exists, is a zombie or belongs to a process started later,
 * or the host was restarted. why (cap bytes) says how it was found. */
bool bnb_db__owner_gone(const bnb_db__owner *o, const bnb_db__owner *self, char *why, size_t cap);

/* ---- writes inside one transaction (db.c) -------------------------------------
 * The store's write paths as pieces, so a caller of db/ that writes more
 * than one of them at once (bnb_db_ingest: a whole run) stores them in one
 * transaction with the same SQL as bnb_db_begin_run / store_case /
 * store_verdicts. Begin opens an IMMEDIATE transaction (the write lock is
 * taken at once, so two writers cannot both read "absent" and then both
 * insert); each put returns 0, or -1 with err and leaves the transaction
 * open for the caller to roll back. */
int bnb_db__begin(bnb_db *db, char *err);
int bnb_db__commit(bnb_db *db, char *err);
void bnb_db__rollback(bnb_db *db); /* no-op outside a transaction */

/* The machine (fingerprint, name), created when new; description (JSON
 * text, NULL or "" keeps the stored one) replaces the stored one. */
int bnb_db__put_machine(bnb_db *db, const char *fingerprint, const char *name,
                        const char *description, int64_t *machine_id, char *err);

/* How a run that ended elsewhere is stored (bnb_db__put_run). */
typedef struct bnb_db__run_end {
    bnb_run_status status;
    const char *finished_at;   /* NULL: none */
    const char *status_reason; /* NULL or "": none */
    const char *tool_version;  /* the bnbench that measured it; NULL or "": none */
} bnb_db__run_end;

/* A run row under ri->uuid (must be set) on machine_id. end NULL: a run of
 * this process, status running, with this process as its owner and this
 * build's version; else a finished run as end describes, with no owner.
 * ri->started_at "" means now. */
int bnb_db__put_run(bnb_db *db, int64_t machine_id, const bnb_run_info *ri,
                    const bnb_db__run_end *end, int64_t *run_id, char *err);

/* One case of run_id: case row (numbered seq; seq <= 0: the run's next
 * number, counted), samples with outlier flags, stats, metrics. */
int bnb_db__put_case(bnb_db *db, int64_t run_id, int64_t seq, const bnb_case_result *r, char *err);

/* n verdicts of run_id (one per target id; a later one replaces). */
int bnb_db__put_verdicts(bnb_db *db, int64_t run_id, const bnb_verdict *v, int n, char *err);

#endif
