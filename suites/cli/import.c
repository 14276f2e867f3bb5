/*
 * import.c - `bnbench import FILE...`: runs measured into other DBs, or
 * sent as run documents, merged into this DB (contract: import.h).
 *
 * Shape: two passes. The first reads every FILE and checks it the way a
 * collector would (a run document through bnb_rundoc_parse; another DB run
 * by run through bnb_rundoc_build and then bnb_rundoc_parse, so a DB's runs
 * pass the same validation as a document from the network) and stores
 * nothing; a file that fails is named with its problem and the command
 * stops with exit 2 before this DB is even opened (or created). The second
 * pass reads them again and ingests run by run (one transaction a run,
 * idempotent by UUID: bnb_db_ingest). Reading twice keeps memory to one run
 * at a time however large the other DB is.
 */
#include "suites/cli/import.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db.h"
#include "db/model/bnb.h"
#include "db/model/text.h"
#include "db/rundoc.h"
#include "suites/cli/cli.h"

#define DEFAULT_DB "bnbench.db"

const char bnb_usage_import[] =
    "usage: bnbench import [--db PATH] FILE...\n"
    "\n"
    "Merges runs measured elsewhere into this DB (created when absent), so\n"
    "compare, report, history and check work across machines that never shared\n"
    "a DB. Each FILE is either\n"
    "  - a run document: one JSON document as `bnbench export RUN --format run`\n"
    "    writes it (schema bnbench.run; one run a file), or\n"
    "  - another bnbench DB (a file starting with \"SQLite format 3\"), opened\n"
    "    read-only: every run in it that has ended is imported (runs still\n"
    "    running are skipped and counted on stderr).\n"
    "Every run passes the same checks as a run sent to `bnbench serve`. Runs are\n"
    "matched by UUID: a run already stored (same UUID, machine and start) is not\n"
    "stored again; the same UUID with another machine or start is a conflict,\n"
    "left as it is and reported. Machines are matched by fingerprint and name.\n"
    "Every FILE is checked before anything is stored: a file that cannot be read\n"
    "or holds a bad run stops the command with nothing stored. One line a FILE:\n"
    "  imported N runs (M already stored, K conflicts) from FILE\n"
    "\n"
    "  --db PATH    the SQLite store to import into (default " DEFAULT_DB ")\n"
    "\n"
    "exit codes: 0 every run stored or already stored; 1 a conflict; 2 a FILE\n"
    "that is unreadable, not a run document or DB, or holds a bad run, or this DB\n"
    "is unusable (nothing stored); 3 storing stopped on a DB error after some\n"
    "runs were stored (the message says how many).\n";

static const bnb_cli_opt opt_import[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {0},
};
static const bnb_cli_cmd cmd_import_spec = {"import", bnb_usage_import, opt_import, BNB_CLI_MAX_POS,
                                            false};

/* What one FILE holds. */
enum { KIND_DOC, KIND_DB };

/* Per FILE counts of the second pass. */
typedef struct tally {
    int stored, already, conflicts, running;
} tally;

/* The kind of FILE from its first bytes, or -1 with err. */
static int file_kind(const char *path, char *err)
{
    char q[BNB_CLI_QUOTE_MAX + 1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, BNB_ERR_MAX, "%s: cannot open: %s", bnb_cli_quote(path, q), strerror(errno));
        return -1;
    }
    char hdr[16];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    return got == sizeof hdr && !memcmp(hdr, "SQLite format 3", 16) ? KIND_DB : KIND_DOC;
}

/* The whole of a document file (malloc'd, *len bytes), or NULL with err. A
 * file larger than a document may be is refused before it is read. */
static char *read_doc(const char *path, size_t *len, char *err)
{
    char q[BNB_CLI_QUOTE_MAX + 1];
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, BNB_ERR_MAX, "%s: cannot read: %s", bnb_cli_quote(path, q), strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, BNB_ERR_MAX, "%s: not a regular file", bnb_cli_quote(path, q));
        fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > BNB_RUNDOC_MAX_BYTES) {
        snprintf(err, BNB_ERR_MAX, "%s: %lld bytes, larger than a run document may be (%zu)",
                 bnb_cli_quote(path, q), (long long)st.st_size, BNB_RUNDOC_MAX_BYTES);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        snprintf(err, BNB_ERR_MAX, "%s: %s", bnb_cli_quote(path, q),
                 buf ? "cannot read it all (did it change while reading?)" : "out of memory");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Stores d in db, counting the outcome; prints a conflict. 0, or -1 with err. */
static int ingest_one(bnb_db *db, const bnb_rundoc *d, const char *path, tally *t, char *err)
{
    bnb_ingest_outcome oc = BNB_INGEST_STORED;
    int64_t id = 0;
    char e2[BNB_ERR_MAX];
    if (bnb_db_ingest(db, d, &oc, &id, e2)) {
        char q[BNB_CLI_QUOTE_MAX + 1];
        snprintf(err, BNB_ERR_MAX, "%s: run %s: %s", bnb_cli_quote(path, q), bnb_rundoc_uuid(d),
                 e2);
        return -1;
    }
    if (oc == BNB_INGEST_STORED)
        t->stored++;
    else if (oc == BNB_INGEST_ALREADY)
        t->already++;
    else {
        char q[BNB_CLI_QUOTE_MAX + 1], m[80];
        t->conflicts++;
        bnb_cli_error("%s: run %s (machine %s) conflicts with run %lld of this DB: the same "
                      "UUID with another machine or start; left as it is",
                      bnb_cli_quote(path, q), bnb_rundoc_uuid(d),
                      bnb_term_safe(bnb_rundoc_machine(d), m, sizeof m), (long long)id);
    }
    return 0;
}

/* One document FILE: parsed and, when db is not NULL, ingested. */
static int do_doc(const char *path, bnb_db *db, tally *t, char *err)
{
    size_t len = 0;
    char *text = read_doc(path, &len, err);
    if (!text)
        return -1;
    bnb_rundoc *d = NULL;
    char e2[BNB_ERR_MAX], q[BNB_CLI_QUOTE_MAX + 1];
    int rc = bnb_rundoc_parse(text, len, &d, e2);
    free(text);
    if (rc) {
        snprintf(err, BNB_ERR_MAX, "%s: not a run document: %s", bnb_cli_quote(path, q), e2);
        return -1;
    }
    rc = db ? ingest_one(db, d, path, t, err) : 0;
    bnb_rundoc_free(d);
    return rc;
}

/* One DB FILE: every ended run built and parsed and, when db is not NULL,
 * ingested. */
static int do_db(const char *path, bnb_db *db, tally *t, char *err)
{
    bnb_db *src = NULL;
    char e2[BNB_ERR_MAX], q[BNB_CLI_QUOTE_MAX + 1];
    if (bnb_db_open(path, 1, &src, e2)) {
        snprintf(err, BNB_ERR_MAX, "%s: %s", bnb_cli_quote(path, q), e2);
        return -1;
    }
    bnb_run_row *rows = NULL;
    int n = 0, rc = 0;
    if (bnb_db_list_runs(src, 0, &rows, &n, e2)) {
        snprintf(err, BNB_ERR_MAX, "%s: %s", bnb_cli_quote(path, q), e2);
        bnb_db_close(src);
        return -1;
    }
    /* oldest first, so runs keep their order of ids in this DB */
    for (int i = n - 1; i >= 0 && rc == 0; i--) {
        if (!strcmp(rows[i].status, "running")) {
            t->running++;
            continue;
        }
        size_t len = 0;
        char *text = bnb_rundoc_build(src, rows[i].id, &len, e2);
        bnb_rundoc *d = NULL;
        if (!text || bnb_rundoc_parse(text, len, &d, e2)) {
            snprintf(err, BNB_ERR_MAX, "%s: run %lld: %s", bnb_cli_quote(path, q),
                     (long long)rows[i].id, e2);
            rc = -1;
        } else if (db) {
            rc = ingest_one(db, d, path, t, err);
        }
        bnb_rundoc_free(d);
        free(text);
    }
    free(rows);
    bnb_db_close(src);
    return rc;
}

static int do_file(const char *path, bnb_db *db, tally *t, char *err)
{
    int kind = file_kind(path, err);
    if (kind < 0)
        return -1;
    return kind == KIND_DB ? do_db(path, db, t, err) : do_doc(path, db, t, err);
}

int bnb_cmd_import(int argc, char **argv, const char *gdb)
{
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&cmd_import_spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.npos == 0)
        return bnb_usage_error("which files? (bnbench import FILE.json|OTHER.db...)");
    const char *dbp = bnb_cli_str(&cmd_import_spec, &a, "db", gdb ? gdb : DEFAULT_DB);
    char err[BNB_ERR_MAX];
    /* pass 1: every file checked; nothing is opened for writing yet */
    for (int i = 0; i < a.npos; i++) {
        tally t = {0};
        if (do_file(a.pos[i], NULL, &t, err))
            return bnb_usage_error("%s; nothing imported", err);
    }
    bnb_db *db = NULL;
    if (bnb_db_open(dbp, 0, &db, err))
        return bnb_usage_error("%s", err);
    int stored = 0, conflicts = 0;
    rc = BNB_EXIT_OK;
    for (int i = 0; i < a.npos; i++) {
        tally t = {0};
        int bad = do_file(a.pos[i], db, &t, err);
        stored += t.stored;
        conflicts += t.conflicts;
        char q[BNB_CLI_QUOTE_MAX + 1];
        if (bad) {
            bnb_cli_error("%s; %d run%s stored before it", err, stored, stored == 1 ? "" : "s");
            rc = stored ? BNB_EXIT_PARTIAL : BNB_EXIT_USAGE;
            break;
        }
        if (t.running)
            bnb_cli_error("%s: %d run%s still running, not imported", bnb_cli_quote(a.pos[i], q),
                          t.running, t.running == 1 ? "" : "s");
        printf("imported %d run%s (%d already stored, %d conflict%s) from %s\n", t.stored,
               t.stored == 1 ? "" : "s", t.already, t.conflicts, t.conflicts == 1 ? "" : "s",
               bnb_cli_quote(a.pos[i], q));
    }
    if (rc == BNB_EXIT_OK && conflicts)
        rc = BNB_EXIT_FAIL;
    if (fflush(stdout) != 0 && rc == BNB_EXIT_OK)
        rc = BNB_EXIT_FAIL;
    bnb_db_close(db);
    return rc;
}
