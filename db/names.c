/*
 * names.c - the names a run's status, a case's status and a run's reason
 * are stored and sent under (contract: db/db.h). Kept apart from db.c,
 * which needs SQLite, so the run-document parser (db/rundoc.c) and its fuzz
 * target share these exact strings without linking the store.
 */
#include "db/db.h"

#include <string.h>

const char *bnb_run_status_str(bnb_run_status st)
{
    switch (st) {
    case BNB_RUN_RUNNING:
        return "running";
    case BNB_RUN_COMPLETE:
        return "complete";
    case BNB_RUN_INTERRUPTED:
        return "interrupted";
    case BNB_RUN_FAILED:
        return "failed";
    case BNB_RUN_ABANDONED:
        return "abandoned";
    }
    return "?";
}

const char *bnb_case_status_str(bnb_case_status st)
{
    switch (st) {
    case BNB_CASE_OK:
        return "ok";
    case BNB_CASE_FAILED:
        return "failed";
    case BNB_CASE_SKIPPED:
        return "skipped";
    }
    return "?";
}

bool bnb_reason_valid(const char *reason)
{
    return reason && (!strcmp(reason, "nightly") || !strcmp(reason, "pr") ||
                      !strcmp(reason, "manual") || !strcmp(reason, "confirm"));
}
