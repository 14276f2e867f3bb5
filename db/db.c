/*
 * db.c - the SQLite store of bnbench (contract: db/db.h).
 *
 * Shape: one migration per schema version in `migrations[]` (index v brings
 * user_version v to v+1), applied in order, each in its own IMMEDIATE
 * transaction that re-reads user_version so two processes opening a fresh DB
 * at once do not both migrate. Opening checks everything it can without
 * writing first (the file header, user_version, application_id, foreign
 * tables), so a refused file is never modified. Every write path is one
 * transaction that is rolled back on the first error: a crash or an error
 * loses at most the case in flight and never leaves half a case behind.
 *
 * Params are stored as JSON with keys in sorted order, a value written as a
 * JSON number only when that number prints back to exactly the same text
 * (so "1024" round-trips and cross-machine lookups compare strings).
 */
#include "db/db.h"
#include "db/internal.h"
#include "db/model/text.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BN_VERSION
#define BN_VERSION "unknown"
#endif

/* 'bnb1': marks a file as a bnbench DB (PRAGMA application_id). */
#define BNB_DB_APP_ID 0x626e6231

struct bnb_db {
    sqlite3 *h;
    char *path;
    char shown[BNB_QUOTE_CAP]; /* path for messages (bnb_quote) */
    int readonly;
    char fault[160]; /* SQLite's reason for the last failed write, "" when none */
    /* the statements of bnb_db__put_case, prepared once per connection:
     * ingesting a run stores hundreds of cases in one transaction */
    sqlite3_stmt *case_st[4];
    /* sample_st[j] inserts 2^j samples in one statement (SAMPLE_BATCHES) */
    sqlite3_stmt *sample_st[6];
};

/* ---- schema ---------------------------------------------------------------- */

static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "PRAGMA application_id = 1651401265;\n" /* BNB_DB_APP_ID */
    "CREATE TABLE machines (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  fingerprint TEXT NOT NULL CHECK (fingerprint <> ''),\n"
    "  name TEXT NOT NULL CHECK (name <> ''),\n"
    "  description TEXT CHECK (description IS NULL OR json_valid(description)),\n"
    "  first_seen TEXT NOT NULL,\n"
    "  last_seen TEXT NOT NULL,\n"
    "  UNIQUE (fingerprint, name));\n"
    "CREATE TABLE runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  machine_id INTEGER NOT NULL REFERENCES machines (id),\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),\n"
    "  git_commit TEXT, git_branch TEXT,\n"
    "  reason TEXT NOT NULL,\n"
    "  build_type TEXT, compiler TEXT, cflags TEXT, kernels TEXT,\n"
    "  tool_version TEXT,\n"
    "  context TEXT CHECK (context IS NULL OR json_valid(context)),\n"
    "  warnings TEXT CHECK (warnings IS NULL OR json_valid(warnings)),\n"
    "  binding TEXT CHECK (binding IS NULL OR json_valid(binding)));\n"
    "CREATE INDEX runs_by_machine ON runs (machine_id, started_at);\n"
    "CREATE INDEX runs_by_start ON runs (started_at, id);\n"
    "CREATE TABLE cases (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL,\n"
    "  suite TEXT NOT NULL, name TEXT NOT NULL,\n"
    "  params TEXT NOT NULL CHECK (json_valid(params)),\n"
    "  full_name TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),\n"
    "  message TEXT, iterations INTEGER NOT NULL, code_version TEXT);\n"
    "CREATE INDEX cases_by_run ON cases (run_id, seq);\n"
    "CREATE INDEX cases_by_name ON cases (full_name, run_id);\n"
    "CREATE INDEX cases_by_suite ON cases (suite, name, params);\n"
    "CREATE TABLE samples (\n"
    "  case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,\n"
    "  idx INTEGER NOT NULL,\n"
    "  seconds REAL NOT NULL,\n"
    "  outlier INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY (case_id, idx)) WITHOUT ROWID;\n"
    "CREATE TABLE stats (\n"
    "  case_id INTEGER PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,\n"
    "  n INTEGER NOT NULL, min REAL, max REAL, median REAL, mean REAL, stddev REAL,\n"
    "  mad REAL, cv REAL, p90 REAL, p99 REAL, ci_lo REAL, ci_hi REAL,\n"
    "  outliers_low INTEGER NOT NULL, outliers_high INTEGER NOT NULL);\n"
    "CREATE TABLE metrics (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL CHECK (name <> ''), unit TEXT NOT NULL,\n"
    "  value REAL, available INTEGER NOT NULL,\n"
    "  reason TEXT, higher_is_better INTEGER NOT NULL, timing INTEGER NOT NULL DEFAULT 0,\n"
    "  CHECK (available = 0 OR value IS NOT NULL),\n"
    "  UNIQUE (case_id, name));\n"
    "CREATE INDEX metrics_by_name ON metrics (name);\n"
    "CREATE TABLE verdicts (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  target_id TEXT NOT NULL, description TEXT, figure TEXT NOT NULL,\n"
    "  op TEXT NOT NULL CHECK (op IN ('>=', '<=')), threshold REAL NOT NULL,\n"
    "  relative_to TEXT, bound REAL, measured REAL, ci_lo REAL, ci_hi REAL,\n"
    "  verdict TEXT NOT NULL\n"
    "    CHECK (verdict IN ('met', 'missed', 'not applicable', 'not measured')),\n"
    "  reason TEXT,\n"
    "  UNIQUE (run_id, target_id));\n"
    "CREATE TABLE baselines (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE CHECK (name <> ''),\n"
    "  run_id INTEGER NOT NULL REFERENCES runs (id),\n"
    "  created_at TEXT NOT NULL);\n",
    /* 1 -> 2: run status 'abandoned' (a CHECK constraint cannot be altered in
     * place, so runs is rebuilt: new table, copy, drop, rename; this runs with
     * foreign keys off, as SQLite's procedure for it requires, so dropping the
     * old table does not cascade to cases), the reason a run ended failed or
     * abandoned, and the process that owns a running run. */
    "CREATE TABLE runs_v2 (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  machine_id INTEGER NOT NULL REFERENCES machines (id),\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status IN ('running', 'complete', 'interrupted', 'failed', 'abandoned')),\n"
    "  git_commit TEXT, git_branch TEXT,\n"
    "  reason TEXT NOT NULL,\n"
    "  build_type TEXT, compiler TEXT, cflags TEXT, kernels TEXT,\n"
    "  tool_version TEXT,\n"
    "  context TEXT CHECK (context IS NULL OR json_valid(context)),\n"
    "  warnings TEXT CHECK (warnings IS NULL OR json_valid(warnings)),\n"
    "  binding TEXT CHECK (binding IS NULL OR json_valid(binding)),\n"
    "  status_reason TEXT,\n" /* why the run ended failed or abandoned */
    "  pid INTEGER,\n"        /* the process that began the run ... */
    "  pid_start INTEGER,\n"  /* ... its start time (/proc/PID/stat field 22, ticks) */
    "  host TEXT,\n"          /* ... the host it ran on (gethostname) */
    "  boot_id TEXT);\n"      /* ... and that host's boot (/proc/sys/kernel/random/boot_id) */
    "INSERT INTO runs_v2 (id, uuid, machine_id, started_at, finished_at, status, git_commit,\n"
    "  git_branch, reason, build_type, compiler, cflags, kernels, tool_version, context,\n"
    "  warnings, binding)\n"
    "SELECT id, uuid, machine_id, started_at, finished_at, status, git_commit, git_branch,\n"
    "  reason, build_type, compiler, cflags, kernels, tool_version, context, warnings,\n"
    "  binding FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_v2 RENAME TO runs;\n"
    "CREATE INDEX runs_by_machine ON runs (machine_id, started_at);\n"
    "CREATE INDEX runs_by_start ON runs (started_at, id);\n",
    /* 2 -> 3: which run was published to which collector (db/published.h):
     * the collector's base URL as shown (userinfo redacted: no secret is
     * stored), the HTTP status that acknowledged it (201 stored, 200 already
     * stored) and when. */
    "CREATE TABLE publications (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  url TEXT NOT NULL CHECK (url <> ''),\n"
    "  status INTEGER NOT NULL CHECK (status IN (200, 201)),\n"
    "  published_at TEXT NOT NULL,\n"
    "  PRIMARY KEY (run_id, url)) WITHOUT ROWID;\n",
    /* 3 -> 4: cases_by_suite goes: no query looks cases up by suite, name
     * and params, and every stored run inserted one entry per case into it,
     * each in a different page of it (a collector wrote about 160 pages of
     * it into the WAL per run, half of what a run wrote). */
    "DROP INDEX IF EXISTS cases_by_suite;\n",
    /* 4 -> 5: batches (db/batch.h): the runs of one `mpirun ... bnbench run
     * --mpi`, one per rank, stored by rank 0. A batch records its owner
     * (rank 0's process, as runs do) so a reader on its host can tell a
     * batch whose rank 0 died from one still being stored. Each rank has a
     * roster entry from the start (host, CPUs); its run is linked once it
     * reached rank 0 (a run belongs to at most one batch: unique run_id),
     * and a rank without a run is 'lost' with the reason. */
    "CREATE TABLE batches (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE CHECK (length(uuid) = 36),\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status IN ('running', 'complete', 'interrupted', 'incomplete')),\n"
    "  status_reason TEXT,\n"
    "  nranks INTEGER NOT NULL CHECK (nranks BETWEEN 1 AND 4096),\n"
    "  suites TEXT NOT NULL,\n"
    "  pid INTEGER, pid_start INTEGER, host TEXT, boot_id TEXT);\n"
    "CREATE INDEX batches_by_start ON batches (started_at, id);\n"
    "CREATE TABLE batch_ranks (\n"
    "  batch_id INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,\n"
    "  rank INTEGER NOT NULL CHECK (rank >= 0),\n"
    "  host TEXT NOT NULL,\n"
    "  cpus TEXT NOT NULL,\n"
    "  run_id INTEGER REFERENCES runs (id),\n"
    "  state TEXT NOT NULL CHECK (state IN ('stored', 'failed', 'lost')),\n"
    "  reason TEXT,\n"
    "  CHECK ((state = 'lost') = (run_id IS NULL)),\n"
    "  PRIMARY KEY (batch_id, rank)) WITHOUT ROWID;\n"
    "CREATE UNIQUE INDEX batch_ranks_by_run ON batch_ranks (run_id);\n",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == BNB_DB_SCHEMA_VERSION,
               "one migration per schema version");

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* ---- small helpers ---------------------------------------------------------- */

void bnb_db__seterr(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BNB_ERR_MAX, fmt, ap);
    va_end(ap);
}

static void copy_str(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Binds text, or NULL for NULL/"" when empty_is_null. */
static int bind_text(sqlite3_stmt *st, int i, const char *s, int empty_is_null)
{
    if (!s || (empty_is_null && !*s))
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* Remembers SQLite's reason for a failed statement (bnb_db_last_fault). */
static void note_fault(bnb_db *db, const char *msg)
{
    snprintf(db->fault, sizeof db->fault, "%s", msg ? msg : sqlite3_errmsg(db->h));
}

static int exec(bnb_db *db, const char *sql, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        note_fault(db, msg);
        bnb_db__seterr(err, "DB %s: %s", db->shown, db->fault);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int begin(bnb_db *db, char *err)
{
    if (db->readonly) {
        bnb_db__seterr(err, "DB %s: opened read-only", db->shown);
        return -1;
    }
    return exec(db, "BEGIN IMMEDIATE", err);
}

static int commit(bnb_db *db, char *err)
{
    return exec(db, "COMMIT", err);
}

static void rollback(bnb_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int bnb_db__begin(bnb_db *db, char *err)
{
    db->fault[0] = '\0';
    return begin(db, err);
}

int bnb_db__commit(bnb_db *db, char *err)
{
    return commit(db, err);
}

void bnb_db__rollback(bnb_db *db)
{
    rollback(db);
}

static sqlite3_stmt *prep(bnb_db *db, const char *sql, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, sqlite3_errmsg(db->h));
        return NULL;
    }
    return st;
}

/* Steps a statement expecting SQLITE_DONE; what names the statement in the error. */
static int step_done(bnb_db *db, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        note_fault(db, NULL);
        bnb_db__seterr(err, "DB %s: %s: %s", db->shown, what, db->fault);
        return -1;
    }
    return 0;
}

/* Reads one integer from a one-row query; -1 on error. */
static int query_int(bnb_db *db, const char *sql, int64_t *v, char *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        bnb_db__seterr(err, "%s", sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return -1;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int run_status_parse(const char *s, bnb_run_status *st)
{
    for (int i = BNB_RUN_RUNNING; i <= BNB_RUN_ABANDONED; i++)
        if (s && !strcmp(s, bnb_run_status_str((bnb_run_status)i))) {
            *st = (bnb_run_status)i;
            return 0;
        }
    return -1;
}

static int case_status_parse(const char *s, bnb_case_status *st)
{
    for (int i = BNB_CASE_OK; i <= BNB_CASE_SKIPPED; i++)
        if (s && !strcmp(s, bnb_case_status_str((bnb_case_status)i))) {
            *st = (bnb_case_status)i;
            return 0;
        }
    return -1;
}

/* ---- open / migrate --------------------------------------------------------- */

/* Checks the first bytes of an existing file: empty or a SQLite header. */
static int check_header(const char *path, const char *shown, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bnb_db__seterr(err, "DB %s: cannot open: %s", shown, strerror(errno));
        return -1;
    }
    unsigned char hdr[16];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    if (got == 0)
        return 0; /* an empty file is an empty DB */
    if (got < sizeof hdr || memcmp(hdr, "SQLite format 3", 16) != 0) {
        bnb_db__seterr(err, "DB %s: not a SQLite database (file header is not \"SQLite format 3\")",
                       shown);
        return -1;
    }
    return 0;
}

/* The directory part of path ("." for a bare name, "/" for a file in the
 * root), malloc'd; NULL when out of memory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Checks that a path that does not exist yet can be created. */
static int check_creatable(const char *path, const char *shown, char *err)
{
    char *d = dir_of(path), dq[BNB_QUOTE_CAP];
    if (!d) {
        bnb_db__seterr(err, "DB %s: out of memory", shown);
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (stat(d, &st) != 0) {
        bnb_db__seterr(err, "DB %s: cannot create: directory %s: %s", shown, bnb_quote(d, dq),
                       strerror(errno));
        rc = -1;
    } else if (!S_ISDIR(st.st_mode)) {
        bnb_db__seterr(err, "DB %s: cannot create: %s is not a directory", shown, bnb_quote(d, dq));
        rc = -1;
    } else if (access(d, W_OK | X_OK) != 0) {
        bnb_db__seterr(err, "DB %s: cannot create: directory %s is not writable: %s", shown,
                       bnb_quote(d, dq), strerror(errno));
        rc = -1;
    }
    free(d);
    return rc;
}

/* Fails when a migration left a row referring to a missing one (run inside
 * the migration's transaction, since it runs with foreign keys off). */
static int check_references(bnb_db *db, int version, char *err)
{
    sqlite3_stmt *st = prep(db, "PRAGMA foreign_key_check", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        bnb_db__seterr(
            err, "DB %s: migrating to schema %d: row %lld of table %s refers to a missing %s row",
            db->shown, version, (long long)sqlite3_column_int64(st, 1),
            (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 2));
    else if (rc != SQLITE_DONE)
        bnb_db__seterr(err, "DB %s: migrating to schema %d: foreign key check: %s", db->shown,
                       version, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Brings the schema to BNB_DB_SCHEMA_VERSION. Runs with foreign keys off
 * (PRAGMA foreign_keys cannot change inside a transaction, and a migration
 * that rebuilds a table must not cascade its drop). */
static int migrate(bnb_db *db, char *err)
{
    for (;;) {
        if (begin(db, err))
            return -1;
        int64_t uv = 0;
        char e2[BNB_ERR_MAX];
        if (query_int(db, "PRAGMA user_version", &uv, e2)) {
            bnb_db__seterr(err, "DB %s: %s", db->shown, e2);
            goto fail;
        }
        if (uv >= BNB_DB_SCHEMA_VERSION) {
            rollback(db);
            return 0;
        }
        if (exec(db, migrations[uv], err) || check_references(db, (int)uv + 1, err))
            goto fail;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", (int)uv + 1);
        if (exec(db, sql, err) || commit(db, err))
            goto fail;
    }
fail:
    rollback(db);
    return -1;
}

/* True when this process may create files in the directory of path. */
static bool dir_writable(const char *path)
{
    char *d = dir_of(path);
    if (!d)
        return true; /* out of memory: open the ordinary way, which reports it */
    bool w = access(d, W_OK | X_OK) == 0;
    free(d);
    return w;
}

/* True when a -wal or -journal file lies beside path: the DB may hold
 * changes only those files have, so it must not be opened immutable. */
static bool journal_beside(const char *path)
{
    static const char *const sfx[] = {"-wal", "-journal"};
    for (int i = 0; i < 2; i++) {
        char p[4096];
        struct stat st;
        if (snprintf(p, sizeof p, "%s%s", path, sfx[i]) >= (int)sizeof p || stat(p, &st) == 0 ||
            errno != ENOENT)
            return true;
    }
    return false;
}

/* ---- run owners: who began a run still marked running ------------------------- */

/* The process a running run belongs to. pid alone is not enough (pids are
 * reused), so its start time goes with it; the host and that host's boot
 * say where the pid means something. */
typedef bnb_db__owner run_owner; /* internal.h: batches have owners too */

enum { PROC_ALIVE = 0, PROC_GONE = 1, PROC_UNKNOWN = 2 };

/* Reads process pid's start time. PROC_GONE when there is no such process
 * or it is a zombie (it has exited; only its parent has not reaped it yet),
 * PROC_UNKNOWN when /proc cannot tell (not mounted, unreadable). */
static int proc_start(long long pid, long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? PROC_GONE : PROC_UNKNOWN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
     * the fields are counted from the last ')'; state is field 3. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return PROC_UNKNOWN;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return PROC_GONE;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return PROC_UNKNOWN;
        p++;
    }
    char *end = NULL;
    long long v = strtoll(p, &end, 10);
    if (end == p)
        return PROC_UNKNOWN;
    *start = v;
    return PROC_ALIVE;
}

static void read_boot_id(char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (fgets(out, (int)cap, f))
        out[strcspn(out, "\n")] = '\0';
    else
        out[0] = '\0';
    fclose(f);
}

static void self_owner(run_owner *o)
{
    o->pid = (long long)getpid();
    if (proc_start(o->pid, &o->start) != PROC_ALIVE)
        o->start = -1;
    if (gethostname(o->host, sizeof o->host) != 0)
        o->host[0] = '\0';
    o->host[sizeof o->host - 1] = '\0';
    read_boot_id(o->boot, sizeof o->boot);
}

/* Whether the owner of a running run is gone; why says how it was found. */
static bool owner_gone(const run_owner *run, const run_owner *self, char *why, size_t cap)
{
    if (run->boot[0] && self->boot[0] && strcmp(run->boot, self->boot) != 0) {
        snprintf(why, cap, "host %s was restarted after process %lld began the run", run->host,
                 run->pid);
        return true;
    }
    long long start = -1;
    int alive = proc_start(run->pid, &start);
    if (alive == PROC_UNKNOWN) {
        /* no /proc: only whether the pid exists at all */
        if (kill((pid_t)run->pid, 0) == 0 || errno != ESRCH)
            return false;
        alive = PROC_GONE;
    }
    if (alive == PROC_GONE) {
        snprintf(why, cap, "process %lld on host %s, which began the run, is gone", run->pid,
                 run->host);
        return true;
    }
    if (run->start >= 0 && start != run->start) {
        snprintf(why, cap,
                 "process %lld on host %s, which began the run, is gone (pid %lld now belongs "
                 "to a process started later)",
                 run->pid, run->host, run->pid);
        return true;
    }
    return false;
}

void bnb_db__self_owner(bnb_db__owner *o)
{
    self_owner(o);
}

bool bnb_db__owner_gone(const bnb_db__owner *o, const bnb_db__owner *self, char *why, size_t cap)
{
    return owner_gone(o, self, why, cap);
}

/* "file:<path>?immutable=1" with the characters a URI gives meaning to
 * (%, ?, #) escaped; an absolute path gets an empty authority ("file://")
 * so that a path starting with // is not read as a host. malloc'd. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(3 * n + 32);
    if (!u)
        return NULL;
    size_t k = (size_t)sprintf(u, "%s", path[0] == '/' ? "file://" : "file:");
    for (const char *c = path; *c; c++) {
        if (*c == '%' || *c == '?' || *c == '#')
            k += (size_t)sprintf(u + k, "%%%02X", (unsigned char)*c);
        else
            u[k++] = *c;
    }
    strcpy(u + k, "?immutable=1");
    return u;
}

/* Marks abandoned the runs still 'running' whose process is gone, printing a
 * line per run on stderr. Only runs begun on this host are judged: a pid
 * from another host cannot be looked up from here, so those stay as they
 * are until a write-open on their own host finds them. Runs stored before
 * schema 2 have no owner and are left alone too. Each update re-checks
 * status = 'running', so two processes doing this at once mark a run once.
 * At most MAX_FOUND runs per call; the next write-open marks the rest. */
static int mark_abandoned(bnb_db *db, char *err)
{
    run_owner self;
    self_owner(&self);
    if (!self.host[0])
        return 0;
    enum { MAX_FOUND = 64 };
    struct {
        int64_t id;
        char uuid[40];
        char why[400];
    } found[MAX_FOUND];
    int nfound = 0;
    sqlite3_stmt *st = prep(db,
                            "SELECT id, uuid, pid, coalesce(pid_start, -1), host, "
                            "coalesce(boot_id, '') FROM runs WHERE status = 'running' AND "
                            "host = ?1 AND pid IS NOT NULL ORDER BY id",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, self.host, 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && nfound < MAX_FOUND) {
        run_owner o = {.pid = sqlite3_column_int64(st, 2), .start = sqlite3_column_int64(st, 3)};
        copy_str(o.host, sizeof o.host, sqlite3_column_text(st, 4));
        copy_str(o.boot, sizeof o.boot, sqlite3_column_text(st, 5));
        if (!owner_gone(&o, &self, found[nfound].why, sizeof found[nfound].why))
            continue;
        found[nfound].id = sqlite3_column_int64(st, 0);
        copy_str(found[nfound].uuid, sizeof found[nfound].uuid, sqlite3_column_text(st, 1));
        nfound++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: looking for abandoned runs: %s", db->shown,
                       sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (nfound == 0)
        return 0;
    bool marked[MAX_FOUND] = {false};
    if (begin(db, err))
        return -1;
    st = prep(db,
              "UPDATE runs SET status = 'abandoned', status_reason = ?1 "
              "WHERE id = ?2 AND status = 'running'",
              err);
    if (!st)
        goto fail;
    for (int i = 0; i < nfound; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, found[i].why, 0);
        sqlite3_bind_int64(st, 2, found[i].id);
        if (step_done(db, st, "marking abandoned runs", err))
            goto fail;
        marked[i] = sqlite3_changes(db->h) == 1;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (commit(db, err))
        goto fail;
    for (int i = 0; i < nfound; i++)
        if (marked[i])
            fprintf(stderr,
                    "bnbench: DB %s: run %lld (%.8s) was left running: %s; marked abandoned\n",
                    db->shown, (long long)found[i].id, found[i].uuid, found[i].why);
    return 0;
fail:
    sqlite3_finalize(st);
    rollback(db);
    return -1;
}

/* The columns with a json_valid CHECK. SQLite loads no CHECK constraint on a
 * read-only connection, so PRAGMA quick_check and integrity_check there pass
 * a record whose JSON was damaged in place; these are checked by query. */
static const struct json_table {
    const char *table;
    const char *columns[3]; /* NULL after the last */
} json_tables[] = {
    {"machines", {"description"}},
    {"runs", {"context", "warnings", "binding"}},
    {"cases", {"params"}},
};

/* 0 when every stored JSON column is valid JSON (or NULL); -1 with the first
 * offending row and column in err, followed by tail (or SQLite's error).
 * One scan per table. Cost measured on 1,800 runs each with a 5 KB context
 * (21 MB): 12 ms beside quick_check's 55 ms (a synthetic 12 MB DB without
 * contexts: 4 of 40 ms), so every checked open runs it too. */
static int json_columns_check(bnb_db *db, const char *tail, char *err)
{
    for (size_t i = 0; i < sizeof json_tables / sizeof json_tables[0]; i++) {
        const struct json_table *t = &json_tables[i];
        char sql_text[512], cond[400] = "";
        int ncol = 0;
        for (; ncol < 3 && t->columns[ncol]; ncol++) {
            char one[128];
            snprintf(one, sizeof one, ", %s IS NULL OR json_valid(%s)", t->columns[ncol],
                     t->columns[ncol]);
            strcat(cond, one);
        }
        /* the first row with an invalid column: id, then 1 or 0 per column */
        char *p = sql_text;
        p += snprintf(sql_text, sizeof sql_text, "SELECT id%s FROM %s WHERE NOT (", cond, t->table);
        for (int k = 0; k < ncol; k++)
            p += snprintf(p, sizeof sql_text - (size_t)(p - sql_text),
                          "%s(%s IS NULL OR json_valid(%s))", k ? " AND " : "", t->columns[k],
                          t->columns[k]);
        snprintf(p, sizeof sql_text - (size_t)(p - sql_text), ") ORDER BY id LIMIT 1");
        bnb_db__rd q;
        if (bnb_db__rd_prep(&q, db, sql_text, err))
            return -1;
        int s = bnb_db__rd_step(&q, err);
        int64_t id = 0;
        const char *column = t->columns[0];
        if (s == SQLITE_ROW) {
            id = sqlite3_column_int64(q.st, 0);
            for (int k = ncol - 1; k >= 0; k--)
                if (sqlite3_column_int(q.st, 1 + k) != 1)
                    column = t->columns[k];
        }
        if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
            return -1;
        if (s == SQLITE_ROW) {
            bnb_db__seterr(err, "DB %s: damaged: %s row %lld: stored %s is not valid JSON%s",
                           db->shown, t->table, (long long)id, column, tail);
            return -1;
        }
    }
    return 0;
}

/* PRAGMA quick_check: b-tree structure, record formats and NOT NULL
 * constraints of every page (linear in the DB's size, no index-to-table
 * cross-check), then the JSON columns (json_columns_check: CHECK
 * constraints are not loaded on a read-only connection, so the pragma skips
 * them there). Damage inside a page that leaves its header alone decodes
 * as other rows or fewer, so queries answer differently without an error;
 * this is where it shows. 0 when "ok", -1 with the first problem in err. */
static int quick_check(bnb_db *db, bool has_schema, char *err)
{
    sqlite3_stmt *st = prep(db, "PRAGMA quick_check(1)", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    const char *first = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc == SQLITE_ROW && first && !strcmp(first, "ok")) {
        sqlite3_finalize(st);
        if (!has_schema) /* a new DB: no tables yet */
            return 0;
        return json_columns_check(db, "; refusing to use it (bnbench db check lists the problems)",
                                  err);
    }
    static const char main_hdr[] = "*** in database main ***\n";
    if (first && !strncmp(first, main_hdr, sizeof main_hdr - 1))
        first += sizeof main_hdr - 1;
    bnb_db__seterr(err,
                   "DB %s: damaged (SQLite's quick integrity check: %s); refusing to use it "
                   "(bnbench db check lists the problems)",
                   db->shown,
                   rc == SQLITE_ROW    ? (first ? first : "NULL")
                   : rc == SQLITE_DONE ? "no result"
                                       : sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return -1;
}

int bnb_db_open(const char *path, int readonly, bnb_db **out, char *err)
{
    *out = NULL;
    if (!path || !*path) {
        bnb_db__seterr(err, "DB path is empty");
        return -1;
    }
    bnb_db *db = calloc(1, sizeof *db);
    char shown[BNB_QUOTE_CAP];
    if (!db || !(db->path = strdup(path))) {
        bnb_db__seterr(err, "DB %s: out of memory", bnb_quote(path, shown));
        free(db);
        return -1;
    }
    db->readonly = readonly;
    bnb_quote(path, db->shown);

    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            bnb_db__seterr(err, "DB %s: is a directory", db->shown);
            goto fail;
        }
        /* a FIFO would block the open forever; a device is no store */
        if (!S_ISREG(st.st_mode)) {
            bnb_db__seterr(err, "DB %s: not a regular file (a FIFO, socket or device)", db->shown);
            goto fail;
        }
        if (!readonly && access(path, W_OK) != 0) {
            bnb_db__seterr(err, "DB %s: not writable: %s", db->shown, strerror(errno));
            goto fail;
        }
        if (check_header(path, db->shown, err))
            goto fail;
    } else if (errno != ENOENT && errno != ENOTDIR) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, strerror(errno));
        goto fail;
    } else if (readonly) {
        bnb_db__seterr(err, "DB %s: no such file", db->shown);
        goto fail;
    } else if (check_creatable(path, db->shown, err)) {
        goto fail;
    }

    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    char *uri = NULL;
    if (readonly && !dir_writable(path) && !journal_beside(path)) {
        if (!(uri = immutable_uri(path))) {
            bnb_db__seterr(err, "DB %s: out of memory", db->shown);
            goto fail;
        }
        flags |= SQLITE_OPEN_URI;
    }
    int orc = sqlite3_open_v2(uri ? uri : path, &db->h, flags, NULL);
    free(uri);
    if (orc != SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: cannot open: %s", db->shown,
                       db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db->h, 10000);
    sqlite3_extended_result_codes(db->h, 1);

    /* Read-only checks first: nothing below writes until they pass. The
     * three reads are one snapshot (one read transaction): another process
     * creating the DB at the same time commits its tables, user_version and
     * application_id together, and separate reads could see the tables
     * without the version and take a bnbench DB for a foreign one. */
    int64_t uv = 0, app = 0, ntables = 0;
    char e2[BNB_ERR_MAX];
    if (exec(db, "BEGIN", e2) || query_int(db, "PRAGMA user_version", &uv, e2) ||
        query_int(db, "PRAGMA application_id", &app, e2) ||
        query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'", &ntables,
                  e2) ||
        exec(db, "COMMIT", e2)) {
        bnb_db__seterr(err, "DB %s: not a usable SQLite database: %s", db->shown, e2);
        goto fail;
    }
    if (uv > BNB_DB_SCHEMA_VERSION) {
        bnb_db__seterr(err, "DB %s was written by a newer bnbench (schema %d, this build knows %d)",
                       db->shown, (int)uv, BNB_DB_SCHEMA_VERSION);
        goto fail;
    }
    if ((app != 0 && app != BNB_DB_APP_ID) || (uv == 0 && ntables > 0)) {
        bnb_db__seterr(err,
                       "DB %s: a SQLite database but not a bnbench one (application_id %lld, %lld "
                       "tables); refusing to change it",
                       db->shown, (long long)app, (long long)ntables);
        goto fail;
    }
    if (readonly != BNB_DB_READ_UNCHECKED && quick_check(db, uv >= 1, err))
        goto fail;
    if (readonly) {
        /* An older schema stays readable: what readers select exists since
         * schema 1 (later ones add columns only writers use). */
        if (uv == 0) {
            bnb_db__seterr(err,
                           "DB %s: schema 0 is older than this build's %d (an empty DB: nothing "
                           "stored yet)",
                           db->shown, BNB_DB_SCHEMA_VERSION);
            goto fail;
        }
        if (exec(db, "PRAGMA foreign_keys = ON", err))
            goto fail;
        *out = db;
        return 0;
    }
    if (sqlite3_db_readonly(db->h, "main") == 1) {
        bnb_db__seterr(err, "DB %s: not writable (SQLite opened it read-only)", db->shown);
        goto fail;
    }
    /* The switch to WAL needs the DB to itself for a moment, and SQLite
     * answers SQLITE_BUSY at once, without the busy handler, while another
     * process is creating the DB or switching it (two runs started
     * together): retry for as long as the busy timeout would wait. */
    char jm[16] = "";
    int jrc = SQLITE_BUSY;
    for (long waited_us = 0;;) {
        sqlite3_stmt *js = prep(db, "PRAGMA journal_mode = WAL", err);
        if (!js)
            goto fail;
        jrc = sqlite3_step(js);
        if (jrc == SQLITE_ROW)
            copy_str(jm, sizeof jm, sqlite3_column_text(js, 0));
        sqlite3_finalize(js);
        if (jrc != SQLITE_BUSY || waited_us >= 10000000L)
            break;
        /* 1 ms, then doubling up to 100 ms a pause */
        long pause = waited_us < 1000 ? 1000 : waited_us > 100000 ? 100000 : waited_us;
        usleep((useconds_t)pause);
        waited_us += pause;
    }
    if (jrc != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, sqlite3_errmsg(db->h));
        goto fail;
    }
    if (strcmp(jm, "wal") != 0) {
        bnb_db__seterr(err, "DB %s: cannot switch to WAL mode (journal_mode is \"%s\"): %s",
                       db->shown, jm, sqlite3_errmsg(db->h));
        goto fail;
    }
    /* a 32 MiB page cache (SQLite's default is 2 MiB): an ingest touches
     * a leaf of each case index per case, spread over the whole index, and
     * read them back from the file on every run once the DB outgrew 2 MiB */
    if (exec(db,
             "PRAGMA foreign_keys = OFF; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768",
             err) ||
        migrate(db, err) || exec(db, "PRAGMA foreign_keys = ON", err))
        goto fail;
    if (mark_abandoned(db, err))
        goto fail;
    *out = db;
    return 0;
fail:
    bnb_db_close(db);
    return -1;
}

void bnb_db_close(bnb_db *db)
{
    if (!db)
        return;
    /* A writer leaves the DB in rollback-journal mode when it is the last
     * connection (the switch checkpoints and deletes the -wal and -shm):
     * read-only opens of a WAL DB would otherwise create those two files
     * beside it, and read commands create no file. With another connection
     * open (a second run, check's re-run) the switch is busy and the DB
     * stays in WAL mode for it; no waiting (busy timeout 0) and no error. */
    if (db->h && !db->readonly && sqlite3_db_readonly(db->h, "main") == 0) {
        sqlite3_busy_timeout(db->h, 0);
        sqlite3_exec(db->h, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    }
    for (size_t i = 0; i < sizeof db->case_st / sizeof db->case_st[0]; i++)
        sqlite3_finalize(db->case_st[i]);
    for (size_t i = 0; i < sizeof db->sample_st / sizeof db->sample_st[0]; i++)
        sqlite3_finalize(db->sample_st[i]);
    sqlite3_close(db->h);
    free(db->path);
    free(db);
}

sqlite3 *bnb_db__sqlite(bnb_db *db)
{
    return db->h;
}

const char *bnb_db__path(const bnb_db *db)
{
    return db->shown;
}

const char *bnb_db_last_fault(const bnb_db *db)
{
    return db->fault;
}

/* ---- runs ------------------------------------------------------------------- */

static int make_uuid(char out[40], char *err)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        bnb_db__seterr(err, "cannot make a run uuid: getrandom: %s", strerror(errno));
        return -1;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

int bnb_db__put_machine(bnb_db *db, const char *fingerprint, const char *name,
                        const char *description, int64_t *machine_id, char *err)
{
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO machines (fingerprint, name, description, first_seen, "
                            "last_seen) VALUES (?1, ?2, ?3, " NOW_SQL ", " NOW_SQL ") "
                            "ON CONFLICT (fingerprint, name) DO UPDATE SET "
                            "description = coalesce(excluded.description, description), "
                            "last_seen = excluded.last_seen RETURNING id",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, fingerprint, 0);
    bind_text(st, 2, name, 0);
    bind_text(st, 3, description, 1);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *machine_id = sqlite3_column_int64(st, 0);
    else {
        note_fault(db, NULL);
        bnb_db__seterr(err, "DB %s: storing machine %s: %s", db->shown, name, db->fault);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int bnb_db__put_run(bnb_db *db, int64_t machine_id, const bnb_run_info *ri,
                    const bnb_db__run_end *end, int64_t *run_id, char *err)
{
    sqlite3_stmt *st =
        prep(db,
             "INSERT INTO runs (uuid, machine_id, started_at, status, git_commit, git_branch, "
             "reason, build_type, compiler, cflags, kernels, tool_version, context, warnings, "
             "binding, pid, pid_start, host, boot_id, finished_at, status_reason) VALUES (?1, ?2, "
             "coalesce(?3, " NOW_SQL
             "), ?19, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
             "?17, ?18, ?20, ?21)",
             err);
    if (!st)
        return -1;
    bind_text(st, 1, ri->uuid, 0);
    sqlite3_bind_int64(st, 2, machine_id);
    bind_text(st, 3, ri->started_at, 1);
    bind_text(st, 4, ri->commit, 1);
    bind_text(st, 5, ri->branch, 1);
    bind_text(st, 6, ri->reason, 0);
    bind_text(st, 7, ri->build_type, 1);
    bind_text(st, 8, ri->compiler, 1);
    bind_text(st, 9, ri->cflags, 1);
    bind_text(st, 10, ri->kernels, 1);
    bind_text(st, 11, end ? end->tool_version : BN_VERSION, 1);
    bind_text(st, 12, ri->context_json, 1);
    bind_text(st, 13, ri->warnings_json, 1);
    bind_text(st, 14, ri->binding_json, 1);
    if (end) {
        /* a finished run from elsewhere: no owner here, so no write-open
         * ever judges it abandoned */
        bind_text(st, 19, bnb_run_status_str(end->status), 0);
        bind_text(st, 20, end->finished_at, 1);
        bind_text(st, 21, end->status_reason, 1);
    } else {
        run_owner self;
        self_owner(&self);
        sqlite3_bind_int64(st, 15, self.pid);
        if (self.start >= 0)
            sqlite3_bind_int64(st, 16, self.start);
        bind_text(st, 17, self.host, 1);
        bind_text(st, 18, self.boot, 1);
        bind_text(st, 19, "running", 0);
    }
    int rc = step_done(db, st, "storing run", err);
    if (rc == 0)
        *run_id = sqlite3_last_insert_rowid(db->h);
    sqlite3_finalize(st);
    return rc;
}

int bnb_db_begin_run(bnb_db *db, const bnb_run_info *ri, int64_t *run_id, char *err)
{
    db->fault[0] = '\0';
    if (!ri->fingerprint[0] || !ri->machine_name[0]) {
        bnb_db__seterr(err, "DB %s: run has no machine %s", db->shown,
                       ri->fingerprint[0] ? "name" : "fingerprint");
        return -1;
    }
    if (!bnb_reason_valid(ri->reason)) {
        bnb_db__seterr(err, "DB %s: run reason must be nightly, pr, manual or confirm, got \"%s\"",
                       db->shown, ri->reason);
        return -1;
    }
    bnb_run_info with_uuid = *ri; /* shallow: only uuid is changed */
    if (!ri->uuid[0] && make_uuid(with_uuid.uuid, err))
        return -1;
    if (begin(db, err))
        return -1;
    int64_t machine_id = 0;
    if (bnb_db__put_machine(db, ri->fingerprint, ri->machine_name, ri->machine_json, &machine_id,
                            err) ||
        bnb_db__put_run(db, machine_id, &with_uuid, NULL, run_id, err) || commit(db, err)) {
        rollback(db);
        return -1;
    }
    return 0;
}

int bnb_db_end_run(bnb_db *db, int64_t run_id, bnb_run_status status, char *err)
{
    return bnb_db_end_run_why(db, run_id, status, NULL, err);
}

int bnb_db_end_run_why(bnb_db *db, int64_t run_id, bnb_run_status status, const char *why,
                       char *err)
{
    db->fault[0] = '\0';
    if (!strcmp(bnb_run_status_str(status), "?")) {
        bnb_db__seterr(err, "DB %s: run %lld: invalid status %d", db->shown, (long long)run_id,
                       (int)status);
        return -1;
    }
    if (begin(db, err))
        return -1;
    sqlite3_stmt *st = prep(db,
                            "UPDATE runs SET status = ?1, finished_at = "
                            "CASE WHEN ?1 = 'running' THEN NULL ELSE " NOW_SQL " END, "
                            "status_reason = ?3 WHERE id = ?2",
                            err);
    if (!st)
        goto fail;
    bind_text(st, 1, bnb_run_status_str(status), 0);
    sqlite3_bind_int64(st, 2, run_id);
    bind_text(st, 3, why, 1);
    if (step_done(db, st, "ending run", err))
        goto fail;
    if (sqlite3_changes(db->h) != 1) {
        bnb_db__seterr(err, "DB %s: no run with id %lld", db->shown, (long long)run_id);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (commit(db, err))
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    rollback(db);
    return -1;
}

/* ---- params JSON -------------------------------------------------------------- */

/* True when s is a JSON number cJSON prints back as exactly s. */
static bool numeric_roundtrip(const char *s)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(d) || s[0] == '+' || s[0] == '.' || isspace(s[0]))
        return false;
    cJSON *n = cJSON_CreateNumber(d);
    char *p = n ? cJSON_PrintUnformatted(n) : NULL;
    bool same = p && !strcmp(p, s);
    cJSON_free(p);
    cJSON_Delete(n);
    return same;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const bnb_param *)a)->key, ((const bnb_param *)b)->key);
}

/* Canonical params JSON of r (malloc'd, cJSON_free) or NULL with err. */
static char *params_json(const bnb_case_result *r, const char *full, char *err)
{
    if (r->nparams < 0 || r->nparams > BNB_MAX_PARAMS) {
        bnb_db__seterr(err, "case %s: %d params (at most %d)", full, r->nparams, BNB_MAX_PARAMS);
        return NULL;
    }
    bnb_param sorted[BNB_MAX_PARAMS];
    memcpy(sorted, r->params, sizeof(bnb_param) * (size_t)r->nparams);
    qsort(sorted, (size_t)r->nparams, sizeof(bnb_param), cmp_param);
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (!o)
        goto oom;
    for (int i = 0; i < r->nparams; i++) {
        if (!sorted[i].key[0] || (i > 0 && !strcmp(sorted[i].key, sorted[i - 1].key))) {
            bnb_db__seterr(err, "case %s: param key \"%s\" %s", full, sorted[i].key,
                           sorted[i].key[0] ? "given twice" : "is empty");
            cJSON_Delete(o);
            return NULL;
        }
        cJSON *v = numeric_roundtrip(sorted[i].value)
                       ? cJSON_CreateNumber(strtod(sorted[i].value, NULL))
                       : cJSON_CreateString(sorted[i].value);
        if (!v)
            goto oom;
        cJSON_AddItemToObject(o, sorted[i].key, v);
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        bnb_db__seterr(err, "case %s: out of memory", full);
    return text;
oom:
    cJSON_Delete(o);
    bnb_db__seterr(err, "case %s: out of memory", full);
    return NULL;
}

static int params_parse(const char *json, bnb_case_result *r)
{
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return -1;
    }
    int rc = 0;
    r->nparams = 0;
    for (cJSON *c = o->child; c; c = c->next) {
        if (r->nparams == BNB_MAX_PARAMS || !c->string) {
            rc = -1;
            break;
        }
        bnb_param *p = &r->params[r->nparams++];
        snprintf(p->key, sizeof p->key, "%s", c->string);
        if (cJSON_IsString(c)) {
            snprintf(p->value, sizeof p->value, "%s", c->valuestring);
        } else if (cJSON_IsNumber(c)) {
            char *t = cJSON_PrintUnformatted(c);
            if (!t) {
                rc = -1;
                break;
            }
            snprintf(p->value, sizeof p->value, "%s", t);
            cJSON_free(t);
        } else {
            rc = -1;
            break;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* ---- cases -------------------------------------------------------------------- */

enum { CASE_ROW, CASE_STATS, CASE_METRIC, CASE_NEXT_SEQ };
static const char *const case_sql[] = {
    /* seq bound, not a subquery on cases: SQLite would copy the subquery's
     * result into a temporary table on every insert (it reads the table
     * being written), and count a run's cases again for each one */
    [CASE_ROW] = "INSERT INTO cases (run_id, seq, suite, name, params, full_name, status, "
                 "message, iterations, code_version) VALUES (?1, ?10, ?2, ?3, ?4, ?5, ?6, ?7, "
                 "?8, ?9)",
    [CASE_STATS] = "INSERT INTO stats (case_id, n, min, max, median, mean, stddev, mad, cv, p90, "
                   "p99, ci_lo, ci_hi, outliers_low, outliers_high) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [CASE_METRIC] = "INSERT INTO metrics (case_id, name, unit, value, available, reason, "
                    "higher_is_better, timing) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [CASE_NEXT_SEQ] = "SELECT count(*) + 1 FROM cases WHERE run_id = ?",
};
_Static_assert(sizeof case_sql / sizeof case_sql[0] == 4, "one statement a slot of case_st");

/* Statement k of put_case, prepared on first use and kept (reset, no
 * bindings) for the life of the connection; NULL with err. */
static sqlite3_stmt *case_stmt(bnb_db *db, int k, char *err)
{
    sqlite3_stmt *st = db->case_st[k];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(db->h, case_sql[k], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return NULL;
    }
    return db->case_st[k] = st;
}

/* The statement inserting 2^j samples (rows of 4 parameters: case_id, idx,
 * seconds, outlier), prepared on first use and kept like case_stmt's. A
 * case's samples go in batches of falling powers of two (15: 8 + 4 + 2 + 1):
 * the cost of a statement (begin, halt, reset) is paid per batch, not per
 * sample, the largest share of an ingest's statements. */
#define SAMPLE_BATCHES 6 /* up to 32 rows */
static sqlite3_stmt *sample_stmt(bnb_db *db, int j, char *err)
{
    _Static_assert(sizeof db->sample_st / sizeof db->sample_st[0] == SAMPLE_BATCHES,
                   "one slot a batch size");
    sqlite3_stmt *st = db->sample_st[j];
    if (st) {
        sqlite3_reset(st);
        return st;
    }
    static const char head[] = "INSERT INTO samples (case_id, idx, seconds, outlier) VALUES ";
    char sql[sizeof head + (1 << (SAMPLE_BATCHES - 1)) * 11];
    size_t n = (size_t)snprintf(sql, sizeof sql, "%s", head);
    for (int k = 0; k < 1 << j; k++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(?,?,?,?)", k ? "," : "");
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return NULL;
    }
    return db->sample_st[j] = st;
}

/* Steps a cached statement once and resets it (so it holds nothing between
 * uses); on failure notes SQLite's reason in db->fault for the caller's
 * message. */
static int step_case(bnb_db *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        note_fault(db, NULL);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int bnb_db__put_case(bnb_db *db, int64_t run_id, int64_t seq, const bnb_case_result *r, char *err)
{
    sqlite3_stmt *st = NULL;
    char *pj = NULL;
    char full[512];
    bnb_case_fullname(r, full, sizeof full);
    if (r->nsamples < 0 || (r->nsamples > 0 && !r->samples) || r->nmetrics < 0 ||
        (r->nmetrics > 0 && !r->metrics)) {
        bnb_db__seterr(err, "DB %s: case %s: %d samples / %d metrics but no array", db->shown, full,
                       r->nsamples, r->nmetrics);
        return -1;
    }
    if (!strcmp(bnb_case_status_str(r->status), "?")) {
        bnb_db__seterr(err, "DB %s: case %s: invalid status %d", db->shown, full, (int)r->status);
        return -1;
    }
    if (!(pj = params_json(r, full, err)))
        return -1;

    if (seq <= 0) { /* the next of the run */
        if (!(st = case_stmt(db, CASE_NEXT_SEQ, err)))
            goto fail;
        sqlite3_bind_int64(st, 1, run_id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            note_fault(db, NULL);
            sqlite3_reset(st);
            bnb_db__seterr(err, "DB %s: numbering case %s: %s", db->shown, full, db->fault);
            goto fail;
        }
        seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (!(st = case_stmt(db, CASE_ROW, err)))
        goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, r->suite, 0);
    bind_text(st, 3, r->name, 0);
    bind_text(st, 4, pj, 0);
    bind_text(st, 5, full, 0);
    bind_text(st, 6, bnb_case_status_str(r->status), 0);
    bind_text(st, 7, r->message, 1);
    sqlite3_bind_int64(st, 8, r->iterations);
    bind_text(st, 9, r->code_version, 1);
    sqlite3_bind_int64(st, 10, seq);
    if (step_case(db, st)) {
        bnb_db__seterr(err, "DB %s: storing case %s: %s", db->shown, full, db->fault);
        goto fail;
    }
    int64_t case_id = sqlite3_last_insert_rowid(db->h);

    for (int i = 0; i < r->nsamples;) {
        int j = SAMPLE_BATCHES - 1;
        while (1 << j > r->nsamples - i)
            j--;
        int rows = 1 << j;
        if (!(st = sample_stmt(db, j, err)))
            goto fail;
        for (int k = 0; k < rows; k++) { /* every parameter is bound: no clearing */
            sqlite3_bind_int64(st, 4 * k + 1, case_id);
            sqlite3_bind_int(st, 4 * k + 2, i + k);
            sqlite3_bind_double(st, 4 * k + 3, r->samples[i + k]);
            sqlite3_bind_int(st, 4 * k + 4, r->outlier ? r->outlier[i + k] : 0);
        }
        if (step_case(db, st)) {
            bnb_db__seterr(err, "DB %s: storing samples %d to %d of case %s: %s", db->shown, i,
                           i + rows - 1, full, db->fault);
            goto fail;
        }
        i += rows;
    }

    if (r->stats.n > 0) {
        if (!(st = case_stmt(db, CASE_STATS, err)))
            goto fail;
        const bnb_stats *s = &r->stats;
        const double v[] = {s->min, s->max, s->median, s->mean,  s->stddev, s->mad,
                            s->cv,  s->p90, s->p99,    s->ci_lo, s->ci_hi};
        sqlite3_bind_int64(st, 1, case_id);
        sqlite3_bind_int(st, 2, s->n);
        for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++)
            sqlite3_bind_double(st, 3 + i, v[i]);
        sqlite3_bind_int(st, 14, s->outliers_low);
        sqlite3_bind_int(st, 15, s->outliers_high);
        if (step_case(db, st)) {
            bnb_db__seterr(err, "DB %s: storing stats of case %s: %s", db->shown, full, db->fault);
            goto fail;
        }
    }

    if (r->nmetrics > 0 && !(st = case_stmt(db, CASE_METRIC, err)))
        goto fail;
    for (int i = 0; i < r->nmetrics; i++) {
        const bnb_metric *m = &r->metrics[i];
        sqlite3_bind_int64(st, 1, case_id);
        bind_text(st, 2, m->name, 0);
        bind_text(st, 3, m->unit, 0);
        if (m->available)
            sqlite3_bind_double(st, 4, m->value); /* NaN binds as NULL: refused by CHECK */
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int(st, 5, m->available);
        bind_text(st, 6, m->reason, 1);
        sqlite3_bind_int(st, 7, m->higher_is_better);
        sqlite3_bind_int(st, 8, m->timing);
        if (step_case(db, st)) {
            bnb_db__seterr(err, "DB %s: storing metric \"%s\" of case %s: %s", db->shown, m->name,
                           full, db->fault);
            goto fail;
        }
    }
    cJSON_free(pj);
    return 0;
fail:
    cJSON_free(pj);
    return -1;
}

int bnb_db_store_case(bnb_db *db, int64_t run_id, const bnb_case_result *r, char *err)
{
    db->fault[0] = '\0';
    if (begin(db, err))
        return -1;
    if (bnb_db__put_case(db, run_id, 0, r, err) || commit(db, err)) {
        rollback(db);
        return -1;
    }
    return 0;
}

/* Grows *arr (elements of size sz, capacity *cap) to hold one more than k;
 * 0 or -1 (out of memory, *arr unchanged). */
int bnb_db__grow(void **arr, int *cap, int k, size_t sz)
{
    if (k < *cap)
        return 0;
    int nc = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, (size_t)nc * sz);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * sz, 0, (size_t)(nc - *cap) * sz);
    *arr = p;
    *cap = nc;
    return 0;
}

static double rd_double_or_nan(bnb_db__rd *q, int col)
{
    return sqlite3_column_type(q->st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(q->st, col);
}

/* The case of row id case_id, walking forward from *cur: the rows of the
 * samples and metrics statements come in the cases' order (seq, id), so
 * each lookup moves a cursor instead of searching. NULL when a row names a
 * case the cases statement did not return. */
static bnb_case_result *case_at(bnb_case_result *cases, const int64_t *ids, int n, int *cur,
                                int64_t case_id)
{
    while (*cur < n && ids[*cur] != case_id)
        (*cur)++;
    return *cur < n ? &cases[*cur] : NULL;
}

/* The raw samples of every case of run_id, with their outlier flags, into
 * the arrays load_cases sized (capacity cap[i] for case i). */
static int load_samples(bnb_db *db, int64_t run_id, bnb_case_result *cases, const int64_t *ids,
                        const int *cap, int n, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT s.case_id, s.seconds, s.outlier FROM samples s JOIN cases c ON "
                        "c.id = s.case_id WHERE c.run_id = ? ORDER BY c.seq, c.id, s.idx",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s, cur = 0;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q.st, 0);
        bnb_case_result *r = case_at(cases, ids, n, &cur, id);
        if (!r || r->nsamples >= cap[cur]) {
            bnb_db__seterr(err, "DB %s: the samples of case %lld changed while read", db->shown,
                           (long long)id);
            s = -1;
            break;
        }
        r->samples[r->nsamples] = sqlite3_column_double(q.st, 1);
        r->outlier[r->nsamples++] = sqlite3_column_int(q.st, 2) != 0;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return 0;
}

/* The metrics of every case of run_id, in stored order, into the arrays
 * load_cases sized (capacity cap[i] for case i). */
static int load_metrics(bnb_db *db, int64_t run_id, bnb_case_result *cases, const int64_t *ids,
                        const int *cap, int n, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT m.case_id, m.name, m.unit, m.value, m.available, m.reason, "
                        "m.higher_is_better, m.timing FROM metrics m JOIN cases c ON c.id = "
                        "m.case_id WHERE c.run_id = ? ORDER BY c.seq, c.id, m.id",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s, cur = 0;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q.st, 0);
        bnb_case_result *r = case_at(cases, ids, n, &cur, id);
        if (!r || r->nmetrics >= cap[cur]) {
            bnb_db__seterr(err, "DB %s: the metrics of case %lld changed while read", db->shown,
                           (long long)id);
            s = -1;
            break;
        }
        bnb_metric *m = &r->metrics[r->nmetrics];
        bnb_db__rd_copy(&q, 1, m->name, sizeof m->name);
        bnb_db__rd_copy(&q, 2, m->unit, sizeof m->unit);
        m->available = sqlite3_column_int(q.st, 4) != 0;
        m->value = m->available ? sqlite3_column_double(q.st, 3) : NAN;
        bnb_db__rd_copy(&q, 5, m->reason, sizeof m->reason);
        m->higher_is_better = sqlite3_column_int(q.st, 6) != 0;
        m->timing = sqlite3_column_int(q.st, 7);
        if (bnb_db__rd_ok(&q, err)) {
            s = -1;
            break;
        }
        r->nmetrics++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return 0;
}

/* The number of cases of run_id. */
static int count_cases(bnb_db *db, int64_t run_id, int *n, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT count(*) FROM cases WHERE run_id = ?", err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW)
        *n = sqlite3_column_int(q.st, 0);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return 0;
}

/* Reads the cases of run_id (see load_cases) inside its caller's snapshot. */
static int read_cases(bnb_db *db, int64_t run_id, bool samples, bnb_case_result **out, int *n,
                      char *err)
{
    int total = 0, count = 0, s = SQLITE_DONE;
    if (count_cases(db, run_id, &total, err))
        return -1;
    if (total == 0)
        return 0;
    bnb_case_result *cases = calloc((size_t)total, sizeof *cases);
    int64_t *ids = calloc((size_t)total, sizeof *ids);
    int *ncap = calloc((size_t)total, sizeof *ncap), *mcap = calloc((size_t)total, sizeof *mcap);
    bnb_db__rd q = {0};
    if (!cases || !ids || !ncap || !mcap) {
        bnb_db__seterr(err, "DB %s: out of memory", db->shown);
        goto fail;
    }
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT c.id, c.suite, c.name, c.params, c.status, c.message, c.iterations, "
             "c.code_version, s.case_id IS NOT NULL, s.n, s.min, s.max, s.median, s.mean, "
             "s.stddev, s.mad, s.cv, s.p90, s.p99, s.ci_lo, s.ci_hi, s.outliers_low, "
             "s.outliers_high, %s, (SELECT count(*) FROM metrics x WHERE x.case_id = c.id) "
             "FROM cases c LEFT JOIN stats s ON s.case_id = c.id WHERE c.run_id = ? "
             "ORDER BY c.seq, c.id",
             samples ? "(SELECT count(*) FROM samples x WHERE x.case_id = c.id)" : "0");
    if (bnb_db__rd_prep(&q, db, sql, err))
        goto fail;
    bnb_db__rd_int64(&q, 1, run_id);
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        int64_t case_id = sqlite3_column_int64(q.st, 0);
        if (count == total) {
            bnb_db__seterr(err, "DB %s: the cases of run %lld changed while read", db->shown,
                           (long long)run_id);
            goto fail;
        }
        bnb_case_result *r = &cases[count];
        ids[count++] = case_id;
        bnb_db__rd_copy(&q, 1, r->suite, sizeof r->suite);
        bnb_db__rd_copy(&q, 2, r->name, sizeof r->name);
        const char *pj = bnb_db__rd_str(&q, 3);
        if (bnb_db__rd_ok(&q, err))
            goto fail;
        if (params_parse(pj ? pj : "{}", r)) {
            bnb_db__seterr(err, "DB %s: case %lld: params are not a flat JSON object: %s",
                           db->shown, (long long)case_id, pj ? pj : "NULL");
            goto fail;
        }
        const char *cs = bnb_db__rd_str(&q, 4);
        if (bnb_db__rd_ok(&q, err))
            goto fail;
        if (case_status_parse(cs, &r->status)) {
            bnb_db__seterr(err, "DB %s: case %lld: unknown status \"%s\"", db->shown,
                           (long long)case_id, cs ? cs : "NULL");
            goto fail;
        }
        bnb_db__rd_copy(&q, 5, r->message, sizeof r->message);
        r->iterations = sqlite3_column_int64(q.st, 6);
        bnb_db__rd_copy(&q, 7, r->code_version, sizeof r->code_version);
        if (sqlite3_column_int(q.st, 8)) {
            bnb_stats *st = &r->stats;
            double *v[] = {&st->min, &st->max, &st->median, &st->mean,  &st->stddev, &st->mad,
                           &st->cv,  &st->p90, &st->p99,    &st->ci_lo, &st->ci_hi};
            st->n = sqlite3_column_int(q.st, 9);
            for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++)
                *v[i] = rd_double_or_nan(&q, 10 + i);
            st->outliers_low = sqlite3_column_int(q.st, 21);
            st->outliers_high = sqlite3_column_int(q.st, 22);
        }
        int k = count - 1;
        ncap[k] = samples ? sqlite3_column_int(q.st, 23) : 0;
        mcap[k] = sqlite3_column_int(q.st, 24);
        if (ncap[k] > 0 && (!(r->samples = malloc((size_t)ncap[k] * sizeof *r->samples)) ||
                            !(r->outlier = malloc((size_t)ncap[k] * sizeof *r->outlier)))) {
            bnb_db__seterr(err, "DB %s: out of memory loading case %s", db->shown, r->name);
            goto fail;
        }
        if (mcap[k] > 0 && !(r->metrics = calloc((size_t)mcap[k], sizeof *r->metrics))) {
            bnb_db__seterr(err, "DB %s: out of memory loading case %s", db->shown, r->name);
            goto fail;
        }
        if (bnb_db__rd_ok(&q, err))
            goto fail;
    }
    if (bnb_db__rd_end(&q, err) || s < 0)
        goto fail;
    if ((samples && load_samples(db, run_id, cases, ids, ncap, count, err)) ||
        load_metrics(db, run_id, cases, ids, mcap, count, err))
        goto fail;
    free(ids);
    free(ncap);
    free(mcap);
    *out = cases;
    *n = count;
    return 0;
fail:
    bnb_db__rd_end(&q, NULL);
    free(ids);
    free(ncap);
    free(mcap);
    bnb_db_free_cases(cases, count);
    return -1;
}

/* The cases of a run with their stats, metrics and (when samples) raw
 * samples: a handful of statements for the whole run whatever its case
 * count (a statement per case made a 160-case run cost hundreds of
 * prepares), every array allocated once at its stored size, all read in
 * one snapshot (a savepoint) so a run still storing cases cannot change
 * between the statements. */
static int load_cases(bnb_db *db, int64_t run_id, bool samples, bnb_case_result **out, int *n,
                      char *err)
{
    *out = NULL;
    *n = 0;
    if (exec(db, "SAVEPOINT bnb_load_cases", err))
        return -1;
    int rc = read_cases(db, run_id, samples, out, n, err);
    if (exec(db, "RELEASE bnb_load_cases", rc ? NULL : err) && rc == 0) {
        bnb_db_free_cases(*out, *n);
        *out = NULL;
        *n = 0;
        rc = -1;
    }
    return rc;
}

int bnb_db_load_cases(bnb_db *db, int64_t run_id, bnb_case_result **out, int *n, char *err)
{
    return load_cases(db, run_id, true, out, n, err);
}

int bnb_db_load_case_summaries(bnb_db *db, int64_t run_id, bnb_case_result **out, int *n, char *err)
{
    return load_cases(db, run_id, false, out, n, err);
}

void bnb_db_free_cases(bnb_case_result *cases, int n)
{
    if (!cases)
        return;
    for (int i = 0; i < n; i++)
        bnb_case_free(&cases[i]);
    free(cases);
}

/* ---- run lookup --------------------------------------------------------------- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool uuid_like(const char *s)
{
    size_t n = strlen(s);
    if (n < 8 || n > 36)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF-", *s))
            return false;
    return true;
}

/* One run id from a query of at most one row; 0 found, 1 none, -1 error. */
static int one_id(bnb_db *db, const char *sql, const char *text, int64_t num, int64_t *id,
                  char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    if (text)
        bnb_db__rd_text(&q, 1, text);
    else
        bnb_db__rd_int64(&q, 1, num);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW)
        *id = sqlite3_column_int64(q.st, 0);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW ? 0 : 1;
}

int bnb_db_resolve(bnb_db *db, const char *spec, int64_t *run_id, char *note, char *err)
{
    if (note)
        note[0] = '\0';
    if (!spec || !*spec) {
        bnb_db__seterr(err, "run is empty (give latest, an id, a uuid prefix or a baseline name)");
        return -1;
    }
    char q_spec[BNB_QUOTE_CAP];
    bnb_quote(spec, q_spec);
    if (!strcmp(spec, "latest"))
        return bnb_db_latest_run(db, NULL, false, run_id, note, err);
    if (all_digits(spec) && strlen(spec) < 8) {
        int f = one_id(db, "SELECT id FROM runs WHERE id = ?", NULL, strtoll(spec, NULL, 10),
                       run_id, err);
        if (f == 1)
            bnb_db__seterr(err, "DB %s: no run with id %s", db->shown, q_spec);
        return f == 0 ? 0 : -1;
    }
    if (uuid_like(spec)) {
        bnb_db__rd q;
        if (bnb_db__rd_prep(&q, db,
                            "SELECT id, uuid FROM runs WHERE uuid LIKE ?1 || '%' ORDER BY id "
                            "LIMIT 2",
                            err))
            return -1;
        bnb_db__rd_text(&q, 1, spec);
        int found = 0, s;
        int64_t id = 0;
        char first[40] = "", second[40] = "";
        while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
            if (found == 0)
                id = sqlite3_column_int64(q.st, 0);
            bnb_db__rd_copy(&q, 1, found ? second : first, sizeof first);
            found++;
        }
        if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
            return -1;
        if (found == 1) {
            *run_id = id;
            return 0;
        }
        if (found > 1) {
            bnb_db__seterr(err, "DB %s: run %s is ambiguous (%s, %s, ...): give more of the uuid",
                           db->shown, q_spec, first, second);
            return -1;
        }
    }
    int f = one_id(db, "SELECT run_id FROM baselines WHERE name = ?", spec, 0, run_id, err);
    if (f == 0)
        return 0;
    if (f == 1)
        bnb_db__seterr(
            err,
            "DB %s: no run \"%s\" (give latest, an id, a uuid prefix of 8+ characters or a "
            "baseline name)",
            db->shown, q_spec);
    return -1;
}

int bnb_db_resolve_run(bnb_db *db, const char *spec, int64_t *run_id, char *err)
{
    return bnb_db_resolve(db, spec, run_id, NULL, err);
}

int bnb_db_load_run(bnb_db *db, int64_t run_id, bnb_run_info *ri, bnb_run_status *status, char *err)
{
    memset(ri, 0, sizeof *ri);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT r.uuid, m.name, m.fingerprint, r.started_at, r.reason, "
                        "r.git_commit, r.git_branch, r.build_type, r.compiler, r.cflags, "
                        "r.kernels, m.description, r.context, r.warnings, r.binding, "
                        "r.status, m.description IS NULL OR json_valid(m.description), "
                        "r.context IS NULL OR json_valid(r.context), "
                        "r.warnings IS NULL OR json_valid(r.warnings), "
                        "r.binding IS NULL OR json_valid(r.binding) "
                        "FROM runs r JOIN machines m ON m.id = r.machine_id WHERE r.id = ?",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s != SQLITE_ROW) {
        if (s == SQLITE_DONE)
            bnb_db__seterr(err, "DB %s: no run with id %lld", db->shown, (long long)run_id);
        bnb_db__rd_end(&q, NULL);
        return -1;
    }
    bnb_db__rd_copy(&q, 0, ri->uuid, sizeof ri->uuid);
    bnb_db__rd_copy(&q, 1, ri->machine_name, sizeof ri->machine_name);
    bnb_db__rd_copy(&q, 2, ri->fingerprint, sizeof ri->fingerprint);
    bnb_db__rd_copy(&q, 3, ri->started_at, sizeof ri->started_at);
    bnb_db__rd_copy(&q, 4, ri->reason, sizeof ri->reason);
    bnb_db__rd_copy(&q, 5, ri->commit, sizeof ri->commit);
    bnb_db__rd_copy(&q, 6, ri->branch, sizeof ri->branch);
    bnb_db__rd_copy(&q, 7, ri->build_type, sizeof ri->build_type);
    bnb_db__rd_copy(&q, 8, ri->compiler, sizeof ri->compiler);
    bnb_db__rd_copy(&q, 9, ri->cflags, sizeof ri->cflags);
    bnb_db__rd_copy(&q, 10, ri->kernels, sizeof ri->kernels);
    int oom = 0;
    char **dst[] = {&ri->machine_json, &ri->context_json, &ri->warnings_json, &ri->binding_json};
    /* a damaged JSON column is an error, never an absent value: a report
     * that lost the warnings would score the run higher */
    static const char *const json_names[] = {"machine description", "context", "warnings",
                                             "binding"};
    const char *bad_json = NULL;
    for (int i = 0; i < 4; i++) {
        const char *t = bnb_db__rd_str(&q, 11 + i);
        if (t && !(*dst[i] = strdup(t)))
            oom = 1;
        if (!bad_json && sqlite3_column_int(q.st, 16 + i) != 1)
            bad_json = json_names[i];
    }
    bnb_run_status rs = BNB_RUN_RUNNING;
    const char *stat_text = bnb_db__rd_str(&q, 15);
    int bad = run_status_parse(stat_text, &rs);
    char stat_copy[32];
    snprintf(stat_copy, sizeof stat_copy, "%s", stat_text ? stat_text : "NULL");
    if (bnb_db__rd_ok(&q, err)) {
        bnb_db__rd_end(&q, NULL);
        bnb_run_info_free(ri);
        return -1;
    }
    if (bnb_db__rd_end(&q, err) || oom || bad || bad_json) {
        if (!oom && bad_json)
            bnb_db__seterr(err,
                           "DB %s: run %lld: stored %s is not valid JSON (the DB is damaged; "
                           "bnbench db check lists the problems)",
                           db->shown, (long long)run_id, bad_json);
        else if (oom || bad)
            bnb_db__seterr(err, "DB %s: run %lld: %s%s", db->shown, (long long)run_id,
                           oom ? "out of memory" : "unknown status ", oom ? "" : stat_copy);
        bnb_run_info_free(ri);
        return -1;
    }
    if (status)
        *status = rs;
    return 0;
}

static const char run_row_sql[] =
    "SELECT r.id, r.uuid, m.name, m.fingerprint, r.started_at, r.finished_at, r.status, "
    "r.reason, (SELECT count(*) FROM cases c WHERE c.run_id = r.id), "
    "(SELECT count(*) FROM cases c WHERE c.run_id = r.id AND c.status = 'failed'), "
    "(SELECT count(*) FROM cases c WHERE c.run_id = r.id AND c.status = 'skipped') "
    "FROM runs r JOIN machines m ON m.id = r.machine_id ";

static int read_run_row(bnb_db__rd *q, bnb_run_row *w, char *err)
{
    memset(w, 0, sizeof *w);
    w->id = sqlite3_column_int64(q->st, 0);
    bnb_db__rd_copy(q, 1, w->uuid, sizeof w->uuid);
    bnb_db__rd_copy(q, 2, w->machine, sizeof w->machine);
    bnb_db__rd_copy(q, 3, w->fingerprint, sizeof w->fingerprint);
    bnb_db__rd_copy(q, 4, w->started_at, sizeof w->started_at);
    bnb_db__rd_copy(q, 5, w->finished_at, sizeof w->finished_at);
    bnb_db__rd_copy(q, 6, w->status, sizeof w->status);
    bnb_db__rd_copy(q, 7, w->reason, sizeof w->reason);
    w->ncases = sqlite3_column_int(q->st, 8);
    w->nfailed = sqlite3_column_int(q->st, 9);
    w->nskipped = sqlite3_column_int(q->st, 10);
    return bnb_db__rd_ok(q, err);
}

int bnb_db_list_runs(bnb_db *db, int limit, bnb_run_row **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    char sql[1024];
    snprintf(sql, sizeof sql, "%s ORDER BY r.started_at DESC, r.id DESC LIMIT ?", run_row_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_int64(&q, 1, limit > 0 ? limit : -1);
    bnb_run_row *rows = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&rows, &cap, k, sizeof *rows)) {
            bnb_db__seterr(err, "DB %s: out of memory", db->shown);
            s = -1;
            break;
        }
        if (read_run_row(&q, &rows[k], err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(rows);
        return -1;
    }
    *out = rows;
    *n = k;
    return 0;
}

int bnb_db_get_run_row(bnb_db *db, int64_t run_id, bnb_run_row *row, char *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "%s WHERE r.id = ?", run_row_sql);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW && read_run_row(&q, row, err))
        s = -1;
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    if (s != SQLITE_ROW) {
        bnb_db__seterr(err, "DB %s: no run with id %lld", db->shown, (long long)run_id);
        return -1;
    }
    return 0;
}

/* ---- verdicts ----------------------------------------------------------------- */

static bool verdict_valid(const char *v)
{
    return v && (!strcmp(v, "met") || !strcmp(v, "missed") || !strcmp(v, "not applicable") ||
                 !strcmp(v, "not measured"));
}

/* Inserts one verdict row inside an open transaction. */
static int insert_verdict(bnb_db *db, sqlite3_stmt *st, int64_t run_id, const char *target_id,
                          const char *description, const char *figure, const char *op,
                          double threshold, const char *relative_to, double bound, double measured,
                          int measured_ok, double ci_lo, double ci_hi, const char *verdict,
                          const char *reason, char *err)
{
    if (!verdict_valid(verdict)) {
        bnb_db__seterr(err,
                       "DB %s: target %s: verdict must be met, missed, not applicable or not "
                       "measured, got \"%s\"",
                       db->shown, target_id, verdict ? verdict : "(null)");
        return -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, target_id, 0);
    bind_text(st, 3, description, 1);
    bind_text(st, 4, figure, 0);
    bind_text(st, 5, op, 0);
    sqlite3_bind_double(st, 6, threshold);
    bind_text(st, 7, relative_to, 1);
    if (isfinite(bound))
        sqlite3_bind_double(st, 8, bound);
    if (measured_ok && !isnan(measured))
        sqlite3_bind_double(st, 9, measured);
    if (measured_ok && isfinite(ci_lo) && isfinite(ci_hi)) {
        sqlite3_bind_double(st, 10, ci_lo);
        sqlite3_bind_double(st, 11, ci_hi);
    }
    bind_text(st, 12, verdict, 0);
    bind_text(st, 13, reason, 1);
    char what[160];
    snprintf(what, sizeof what, "storing verdict of target %s", target_id);
    return step_done(db, st, what, err);
}

static const char verdict_sql[] =
    "INSERT OR REPLACE INTO verdicts (run_id, target_id, description, figure, op, threshold, "
    "relative_to, bound, measured, ci_lo, ci_hi, verdict, reason) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

int bnb_db_store_verdict(bnb_db *db, int64_t run_id, const char *target_id, const char *figure,
                         const char *op, double threshold, double measured, int measured_ok,
                         double ci_lo, double ci_hi, const char *verdict, const char *reason,
                         char *err)
{
    db->fault[0] = '\0';
    if (begin(db, err))
        return -1;
    sqlite3_stmt *st = prep(db, verdict_sql, err);
    if (!st || insert_verdict(db, st, run_id, target_id, NULL, figure, op, threshold, NULL,
                              threshold, measured, measured_ok, ci_lo, ci_hi, verdict, reason, err))
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (commit(db, err))
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    rollback(db);
    return -1;
}

int bnb_db__put_verdicts(bnb_db *db, int64_t run_id, const bnb_verdict *v, int n, char *err)
{
    sqlite3_stmt *st = prep(db, verdict_sql, err);
    if (!st)
        return -1;
    for (int i = 0; i < n; i++) {
        const bnb_target *t = v[i].target;
        if (insert_verdict(db, st, run_id, t->id, t->description, t->figure, t->op, t->threshold,
                           t->relative_to, v[i].bound, v[i].measured, v[i].measured_ok, v[i].ci_lo,
                           v[i].ci_hi, v[i].verdict, v[i].reason, err)) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

int bnb_db_store_verdicts(bnb_db *db, int64_t run_id, const bnb_verdict *v, int n, char *err)
{
    db->fault[0] = '\0';
    if (n <= 0)
        return 0;
    if (begin(db, err))
        return -1;
    if (bnb_db__put_verdicts(db, run_id, v, n, err) || commit(db, err)) {
        rollback(db);
        return -1;
    }
    return 0;
}

int bnb_db_load_verdicts(bnb_db *db, int64_t run_id, bnb_target_set *targets,
                         bnb_verdict **verdicts, char *err)
{
    targets->n = 0;
    targets->t = NULL;
    *verdicts = NULL;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT target_id, description, figure, op, threshold, relative_to, bound, "
                        "measured, ci_lo, ci_hi, verdict, reason FROM verdicts WHERE run_id = ? "
                        "ORDER BY id",
                        err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    bnb_target *t = NULL;
    bnb_verdict *v = NULL;
    int k = 0, tcap = 0, vcap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&t, &tcap, k, sizeof *t) ||
            bnb_db__grow((void **)&v, &vcap, k, sizeof *v)) {
            bnb_db__seterr(err, "DB %s: out of memory", db->shown);
            s = -1;
            break;
        }
        bnb_target *tk = &t[k];
        bnb_verdict *vk = &v[k];
        bnb_db__rd_copy(&q, 0, tk->id, sizeof tk->id);
        bnb_db__rd_copy(&q, 1, tk->description, sizeof tk->description);
        bnb_db__rd_copy(&q, 2, tk->figure, sizeof tk->figure);
        bnb_db__rd_copy(&q, 3, tk->op, sizeof tk->op);
        tk->threshold = sqlite3_column_double(q.st, 4);
        bnb_db__rd_copy(&q, 5, tk->relative_to, sizeof tk->relative_to);
        vk->bound = rd_double_or_nan(&q, 6);
        vk->measured_ok = sqlite3_column_type(q.st, 7) != SQLITE_NULL;
        vk->measured = rd_double_or_nan(&q, 7);
        vk->ci_lo = rd_double_or_nan(&q, 8);
        vk->ci_hi = rd_double_or_nan(&q, 9);
        bnb_db__rd_copy(&q, 10, vk->verdict, sizeof vk->verdict);
        bnb_db__rd_copy(&q, 11, vk->reason, sizeof vk->reason);
        if (bnb_db__rd_ok(&q, err)) {
            s = -1;
            break;
        }
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(t);
        free(v);
        return -1;
    }
    /* the targets array no longer moves: point each verdict at its target */
    for (int i = 0; i < k; i++)
        v[i].target = &t[i];
    targets->n = k;
    targets->t = t;
    *verdicts = v;
    return 0;
}

/* ---- baselines, check ----------------------------------------------------------- */

int bnb_db_set_baseline(bnb_db *db, const char *name, int64_t run_id, char *err)
{
    db->fault[0] = '\0';
    if (!name || !*name) {
        bnb_db__seterr(err, "baseline name is empty");
        return -1;
    }
    /* RUN is resolved as latest, an id, a uuid prefix, then a baseline name
     * (bnb_db_resolve): a baseline named like one of the others would name
     * another run wherever RUN is read */
    if (!strcmp(name, "latest") || all_digits(name) || uuid_like(name)) {
        bnb_db__seterr(err,
                       "baseline name \"%s\" reads as %s where a RUN is given; pick another "
                       "name (e.g. ref-%s)",
                       name,
                       !strcmp(name, "latest") ? "the latest run"
                       : all_digits(name)      ? "a run id"
                                               : "a uuid prefix",
                       name);
        return -1;
    }
    if (begin(db, err))
        return -1;
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO baselines (name, run_id, created_at) VALUES "
                            "(?, ?, " NOW_SQL ") ON CONFLICT (name) DO UPDATE SET "
                            "run_id = excluded.run_id, created_at = excluded.created_at",
                            err);
    if (!st)
        goto fail;
    bind_text(st, 1, name, 0);
    sqlite3_bind_int64(st, 2, run_id);
    char what[160];
    snprintf(what, sizeof what, "setting baseline %s to run %lld", name, (long long)run_id);
    if (step_done(db, st, what, err))
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (commit(db, err))
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    rollback(db);
    return -1;
}

int bnb_db_get_baseline(bnb_db *db, const char *name, int64_t *run_id, char *err)
{
    int f =
        one_id(db, "SELECT run_id FROM baselines WHERE name = ?", name ? name : "", 0, run_id, err);
    if (f == 1) {
        char qn[BNB_QUOTE_CAP];
        bnb_db__seterr(err, "DB %s: no baseline named \"%s\"", db->shown, bnb_quote(name, qn));
    }
    return f == 0 ? 0 : -1;
}

/* Calls fn for each line of one integrity_check row (SQLite puts several
 * problems in one row, separated by newlines, under a "*** in database
 * main ***" heading); copies the first problem to first. Returns the count. */
static int each_problem(const char *row, bnb_db_problem_fn fn, void *ctx, char *first, size_t cap)
{
    int n = 0;
    for (const char *p = row; *p;) {
        size_t len = strcspn(p, "\n");
        static const char heading[] = "*** in database ";
        if (len > 0 && strncmp(p, heading, sizeof heading - 1) != 0) {
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1),
                     p);
            if (fn)
                fn(ctx, line);
            if (n++ == 0)
                snprintf(first, cap, "%s", line);
        }
        p += len + (p[len] == '\n');
    }
    return n;
}

int bnb_db_check(bnb_db *db, char *err)
{
    return bnb_db_check_each(db, NULL, NULL, err);
}

int bnb_db_check_each(bnb_db *db, bnb_db_problem_fn fn, void *ctx, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "PRAGMA integrity_check", err))
        return -1;
    int s, nrows = 0, nproblems = 0;
    char first[512] = "", e2[BNB_ERR_MAX];
    while ((s = bnb_db__rd_step(&q, e2)) == SQLITE_ROW) {
        const char *row = bnb_db__rd_str(&q, 0);
        if (bnb_db__rd_ok(&q, e2)) {
            s = -1;
            break;
        }
        if (nrows++ == 0 && row && !strcmp(row, "ok"))
            continue;
        nproblems += each_problem(row ? row : "NULL", fn, ctx, first, sizeof first);
    }
    /* damage can stop the check itself part way: the problems it listed
     * before are reported, or else the error that stopped it */
    char stopped[256] = "";
    if (s < 0)
        snprintf(stopped, sizeof stopped, "%s", sqlite3_errmsg(db->h));
    bnb_db__rd_end(&q, NULL);
    if (s < 0 && nproblems == 0) {
        bnb_db__seterr(err, "DB %s: integrity check: %s", db->shown, stopped);
        return -1;
    }
    if (nrows == 0) {
        bnb_db__seterr(err, "DB %s: integrity check: (no result)", db->shown);
        return -1;
    }
    if (nproblems > 0) {
        if (nproblems == 1)
            bnb_db__seterr(err, "DB %s: integrity check: %s", db->shown, first);
        else
            bnb_db__seterr(err, "DB %s: integrity check: %d problems, the first: %s", db->shown,
                           nproblems, first);
        return -1;
    }
    if (json_columns_check(db, "", err))
        return -1;
    if (bnb_db__rd_prep(&q, db, "PRAGMA foreign_key_check", err))
        return -1;
    s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW) {
        char table[128], parent[128];
        bnb_db__rd_copy(&q, 0, table, sizeof table);
        bnb_db__rd_copy(&q, 2, parent, sizeof parent);
        if (bnb_db__rd_ok(&q, err) == 0)
            bnb_db__seterr(
                err, "DB %s: foreign key check: row %lld of table %s refers to a missing %s row",
                db->shown, (long long)sqlite3_column_int64(q.st, 1), table, parent);
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s != SQLITE_DONE)
        return -1;
    return 0;
}

int bnb_db_unsafe_fast_writes(bnb_db *db, char *err)
{
    return exec(db, "PRAGMA synchronous = OFF", err);
}

int bnb_db_durable_writes(bnb_db *db, char *err)
{
    return exec(db, "PRAGMA synchronous = FULL", err);
}

int bnb_db_defer_checkpoints(bnb_db *db, char *err)
{
    if (sqlite3_wal_autocheckpoint(db->h, 0) != SQLITE_OK) {
        bnb_db__seterr(err, "DB %s: %s", db->shown, sqlite3_errmsg(db->h));
        return -1;
    }
    return 0;
}

int bnb_db_checkpoint(bnb_db *db, int *wal_frames, int *copied, char *err)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (wal_frames)
        *wal_frames = log;
    if (copied)
        *copied = done;
    /* BUSY: another connection is checkpointing; what it copies is copied */
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        bnb_db__seterr(err, "DB %s: checkpoint: %s", db->shown, sqlite3_errmsg(db->h));
        return -1;
    }
    return 0;
}

int bnb_db_ping(bnb_db *db, char *err)
{
    int64_t n = 0;
    char e2[BNB_ERR_MAX];
    if (query_int(db, "SELECT count(*) FROM sqlite_schema", &n, e2) == 0)
        return 0;
    bnb_db__seterr(err, "DB %s: %s", db->shown, e2);
    return -1;
}
