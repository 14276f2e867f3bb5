/*
 * ingest.c - storing a parsed run document (bnb_db_ingest, contract:
 * db/rundoc.h).
 *
 * One IMMEDIATE transaction: the write lock is taken before the UUID is
 * looked up, so two writers (serve's threads on their own connections, two
 * imports) ingesting the same UUID are serialised and exactly one stores it;
 * the other then finds it and answers "already stored". The rows are written
 * by the store's own write paths (bnb_db__put_* in db.c), the same SQL a
 * local run goes through, so an ingested run reads back like a local one.
 */
#include "db/internal.h"
#include "db/rundoc.h"
#include "db/rundoc_internal.h"

#include <stdio.h>
#include <string.h>

/* The run stored under d's UUID, if any: 0 none, 1 found (*id, and whether
 * machine and start match in *same), -1 with err. */
static int find_uuid(bnb_db *db, const bnb_rundoc *d, int64_t *id, bool *same, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT r.id, m.fingerprint, m.name, r.started_at FROM runs r JOIN "
                        "machines m ON m.id = r.machine_id WHERE r.uuid = ?",
                        err))
        return -1;
    bnb_db__rd_text(&q, 1, d->ri.uuid);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW) {
        *id = sqlite3_column_int64(q.st, 0);
        const char *fp = bnb_db__rd_str(&q, 1), *name = bnb_db__rd_str(&q, 2),
                   *start = bnb_db__rd_str(&q, 3);
        *same = fp && name && start && !strcmp(fp, d->ri.fingerprint) &&
                !strcmp(name, d->ri.machine_name) && !strcmp(start, d->ri.started_at);
        if (bnb_db__rd_ok(&q, err))
            s = -1;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW ? 1 : 0;
}

int bnb_db_ingest(bnb_db *db, const bnb_rundoc *d, bnb_ingest_outcome *outcome, int64_t *run_id,
                  char *err)
{
    if (bnb_db__begin(db, err))
        return -1;
    int64_t id = 0, machine_id = 0;
    bool same = false;
    int found = find_uuid(db, d, &id, &same, err);
    if (found < 0)
        goto fail;
    if (found) {
        bnb_db__rollback(db); /* nothing was written */
        if (outcome)
            *outcome = same ? BNB_INGEST_ALREADY : BNB_INGEST_CONFLICT;
        if (run_id)
            *run_id = id;
        return 0;
    }
    bnb_db__run_end end = {.status = d->status,
                           .finished_at = d->finished_at[0] ? d->finished_at : NULL,
                           .status_reason = d->status_reason,
                           .tool_version = d->tool_version};
    if (bnb_db__put_machine(db, d->ri.fingerprint, d->ri.machine_name, d->ri.machine_json,
                            &machine_id, err) ||
        bnb_db__put_run(db, machine_id, &d->ri, &end, &id, err))
        goto fail;
    for (int i = 0; i < d->ncases; i++)
        if (bnb_db__put_case(db, id, i + 1, &d->cases[i], err)) /* seq: checked by the parser */
            goto fail;
    if (d->targets.n > 0 && bnb_db__put_verdicts(db, id, d->verdicts, d->targets.n, err))
        goto fail;
    if (bnb_db__commit(db, err))
        goto fail;
    if (outcome)
        *outcome = BNB_INGEST_STORED;
    if (run_id)
        *run_id = id;
    return 0;
fail:
    bnb_db__rollback(db);
    return -1;
}
