/*
 * batch_cmds.c - `bnbench batches`, `compare --batch B`, `report --batch B`
 * (suites/cli/batch_cmds.h).
 *
 * Shape as the other read commands: the DB is opened read-only (a DB whose
 * schema predates batches reads as having none), B is resolved with
 * bnb_db_resolve_batch, the work is reports/batchcmp.h's, and output goes
 * through outfile.h (-o writes a temporary file and renames it).
 */
#include "suites/cli/batch_cmds.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/batch.h"
#include "db/db.h"
#include "db/model/bnb.h"
#include "db/model/text.h"
#include "reports/batchcmp.h"
#include "suites/cli/cli.h"
#include "suites/cli/outfile.h"

#define TERM_MAX 256

const char bnb_usage_batches[] =
    "usage: bnbench batches [--db PATH] [--limit N]\n"
    "\n"
    "Lists the stored batches, newest first. A batch is the runs of one\n"
    "`mpirun -np N bnbench run --mpi`: one run per rank, stored by rank 0.\n"
    "Columns: id, uuid prefix, start time, status, ranks whose run was stored /\n"
    "ranks, distinct hosts, suites. Status is running, complete, interrupted or\n"
    "incomplete (a rank's run is missing or failed; a batch whose rank 0 is gone\n"
    "reads as incomplete); the reason follows on the next line.\n"
    "`bnbench compare --batch B` and `bnbench report --batch B` compare its ranks.\n"
    "\n"
    "  --db PATH    the SQLite store (default bnbench.db)\n"
    "  --limit N    at most N batches (default: all)\n";

static const bnb_cli_opt opt_batches[] = {
    {.name = "db", .kind = BNB_CLI_NONEMPTY},
    {.name = "limit", .kind = BNB_CLI_LONG, .lo = 1, .hi = INT_MAX, .must = "a positive integer"},
    {0},
};

static int open_ro(const char *path, bnb_db **db)
{
    char err[BNB_ERR_MAX];
    if (bnb_db_open(path, 1, db, err)) {
        bnb_cli_error("%s", err);
        return BNB_EXIT_USAGE;
    }
    return -1;
}

int bnb_cmd_batches(int argc, char **argv, const char *gdb)
{
    static const bnb_cli_cmd spec = {"batches", bnb_usage_batches, opt_batches, 0, false};
    bnb_cli_args a;
    int rc = bnb_cli_run_parse(&spec, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *dbp = bnb_cli_str(&spec, &a, "db", gdb);
    const bnb_cli_val *lim = bnb_cli_get(&spec, &a, "limit");
    bnb_db *db = NULL;
    if ((rc = open_ro(dbp, &db)) >= 0)
        return rc;
    char err[BNB_ERR_MAX], t[4][TERM_MAX];
    bnb_batch_row *rows = NULL;
    int n = 0;
    if (bnb_db_list_batches(db, lim ? (int)lim->l : 0, &rows, &n, err)) {
        bnb_cli_error("%s", err);
        bnb_db_close(db);
        return BNB_EXIT_USAGE;
    }
    if (n == 0)
        printf("no batches stored in %s\n", bnb_term_safe(dbp, t[0], sizeof t[0]));
    else
        printf("%5s  %-8s  %-24s  %-11s  %9s  %5s  %s\n", "id", "uuid", "started", "status",
               "ranks", "hosts", "suites");
    for (int i = 0; i < n; i++) {
        const bnb_batch_row *b = &rows[i];
        char ranks[32];
        snprintf(ranks, sizeof ranks, "%d/%d", b->nstored, b->nranks);
        printf("%5lld  %-8.8s  %-24.24s  %-11s  %9s  %5d  %s\n", (long long)b->id,
               bnb_term_safe(b->uuid, t[0], sizeof t[0]),
               bnb_term_safe(b->started_at, t[1], sizeof t[1]),
               bnb_term_safe(b->status, t[2], sizeof t[2]), ranks, b->nhosts,
               b->suites[0] ? bnb_term_safe(b->suites, t[3], sizeof t[3]) : "default");
        if (b->status_reason[0])
            printf("       %s: %s\n", t[2], bnb_term_safe(b->status_reason, t[0], sizeof t[0]));
    }
    free(rows);
    bnb_db_close(db);
    return BNB_EXIT_OK;
}

/* Opens the DB and resolves spec; -1 to go on, else the exit code. */
static int open_batch(const char *dbp, const char *spec, bnb_db **db, int64_t *id)
{
    int rc = open_ro(dbp, db);
    if (rc >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    if (bnb_db_resolve_batch(*db, spec, id, err)) {
        bnb_cli_error("%s", err);
        bnb_db_close(*db);
        *db = NULL;
        return BNB_EXIT_USAGE;
    }
    return -1;
}

int bnb_cli_compare_batch(const char *dbp, const char *spec, const char *format, const char *output,
                          double threshold)
{
    bnb_db *db = NULL;
    int64_t id = 0;
    int rc = open_batch(dbp, spec, &db, &id);
    if (rc >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    bnb_batch_cmp c;
    bnb_cmp_opts o = {.threshold = threshold};
    rc = BNB_EXIT_USAGE;
    if (bnb_batch_cmp_load(db, id, &o, &c, err, sizeof err)) {
        bnb_cli_error("%s", err);
        goto out;
    }
    if (!strcmp(format, "json")) {
        cJSON *tree = bnb_batch_json_tree(&c);
        char *j = tree && !bnb_json_utf8_tree(tree) ? cJSON_Print(tree) : NULL;
        cJSON_Delete(tree);
        if (!j)
            rc = bnb_usage_error("out of memory");
        else if (bnb_out_write(output, dbp, j, true, err, sizeof err))
            rc = bnb_usage_error("%s", err);
        else
            rc = BNB_EXIT_OK;
        free(j);
        goto out;
    }
    bnb_outfile *of = NULL;
    if (bnb_out_open(output, dbp, &of, err, sizeof err)) {
        rc = bnb_usage_error("%s", err);
        goto out;
    }
    if (!strcmp(format, "md"))
        bnb_batch_write_md(bnb_out_stream(of), &c);
    else
        bnb_batch_write_text(bnb_out_stream(of), &c);
    rc = bnb_out_commit(of, err, sizeof err) ? bnb_usage_error("%s", err) : BNB_EXIT_OK;
out:
    bnb_batch_cmp_free(&c);
    bnb_db_close(db);
    return rc;
}

int bnb_cli_report_batch(const char *dbp, const char *spec, bnb_report_format format,
                         const char *output)
{
    bnb_db *db = NULL;
    int64_t id = 0;
    int rc = open_batch(dbp, spec, &db, &id);
    if (rc >= 0)
        return rc;
    char err[BNB_ERR_MAX];
    char *text = NULL;
    rc = BNB_EXIT_USAGE;
    if (bnb_batch_report_render(db, id, format, &text, err, sizeof err)) {
        bnb_cli_error("%s", err);
    } else if (bnb_out_write(output, dbp, text, true, err, sizeof err)) {
        bnb_usage_error("%s", err);
    } else {
        rc = BNB_EXIT_OK;
        if (output && strcmp(output, "-")) {
            char q[BNB_CLI_QUOTE_MAX + 1];
            fprintf(stderr, "bnbench: report of batch %lld written to %s\n", (long long)id,
                    bnb_cli_quote(output, q));
        }
    }
    free(text);
    bnb_db_close(db);
    return rc;
}
