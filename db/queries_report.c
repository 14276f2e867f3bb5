/*
 * queries_report.c - the DB queries of the readiness report (reports/report*.c),
 * so that the report reads the DB through functions and never sees SQLite.
 * Contract: the "queries of the report" block at the end of db.h.
 *
 * Kept apart from db.c (the store: schema, writes, the general loaders):
 * these are read-only queries shaped by what one report needs.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"

/* The DB's file name for messages ("" for an in-memory DB). */
static const char *db_path(sqlite3 *h)
{
    const char *p = sqlite3_db_filename(h, "main");
    return p ? p : "";
}

int bnb_db_newest_baseline_on_machine(bnb_db *db, int64_t run_id, char *name, size_t name_cap,
                                      int64_t *base_run_id, char *err)
{
    sqlite3 *h = bnb_db_handle(db);
    sqlite3_stmt *st = NULL;
    const char *what = "preparing";
    int rc = -1;
    if (sqlite3_prepare_v2(h,
                           "SELECT b.name, b.run_id FROM baselines b JOIN runs r ON r.id = "
                           "b.run_id WHERE r.machine_id = (SELECT machine_id FROM runs WHERE "
                           "id = ?1) AND b.run_id <> ?1 ORDER BY b.created_at DESC, b.id DESC "
                           "LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    what = "binding the run to";
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK)
        goto fail;
    what = "stepping";
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = 1;
        goto out;
    }
    if (s != SQLITE_ROW)
        goto fail;
    what = "reading a row of";
    const unsigned char *n = sqlite3_column_text(st, 0);
    if (!n)
        goto fail;
    size_t len = strlen((const char *)n);
    if (len >= name_cap) {
        if (err)
            snprintf(err, BNB_ERR_MAX,
                     "DB %s: baseline name \"%.40s...\" is %zu bytes, longer than the %zu allowed",
                     db_path(h), (const char *)n, len, name_cap - 1);
        goto out;
    }
    memcpy(name, n, len + 1);
    *base_run_id = sqlite3_column_int64(st, 1);
    rc = 0;
    goto out;
fail:
    if (err)
        snprintf(err, BNB_ERR_MAX, "DB %s: %s the query of the newest baseline for run %lld: %s",
                 db_path(h), what, (long long)run_id, sqlite3_errmsg(h));
out:
    sqlite3_finalize(st);
    return rc;
}
