/*
 * published.h - which stored run was published to which collector (schema
 * v3's publications table), so `bnbench publish --all-unpublished` sends
 * each run once per collector and `publish --status` can say what went.
 *
 * A collector is named by its base URL as bnbench shows it (userinfo
 * redacted: the table never holds a secret). A run counts as published when
 * the collector acknowledged it: 201 (stored) or 200 (already stored).
 */
#ifndef BNB_PUBLISHED_H
#define BNB_PUBLISHED_H

#include <stdint.h>

#include "db/db.h"

/* Records that run_id was acknowledged with status (200 or 201) by the
 * collector url, now; a later acknowledgement by the same URL replaces the
 * record. One transaction. Returns 0, or -1 with err (no such run, a status
 * other than 200/201, an empty URL, a DB error) and nothing written. */
int bnb_db_mark_published(bnb_db *db, int64_t run_id, const char *url, int status, char *err);

/* The runs that can be published (every status but running) and have no
 * record for url, oldest first (started_at, then id). *ids is malloc'd
 * (NULL when *n is 0); the caller frees it. 0, or -1 with err. */
int bnb_db_unpublished(bnb_db *db, const char *url, int64_t **ids, int *n, char *err);

/* Per collector: how many runs it acknowledged and when last. */
typedef struct bnb_publication_row {
    char url[512];
    int runs;
    char last_at[32];
} bnb_publication_row;

/* The collectors of the publications table, most recent first (none for a
 * DB of schema 2 opened read-only). *out is malloc'd (NULL when *n is 0);
 * the caller frees it. 0, or -1 with err. */
int bnb_db_publications(bnb_db *db, bnb_publication_row **out, int *n, char *err);

/* Whether run_id has a record for url: 1 yes, 0 no, -1 a DB error (err). */
int bnb_db_is_published(bnb_db *db, int64_t run_id, const char *url, char *err);

/* The id of the run whose uuid is exactly uuid: 1 found (*run_id), 0 none,
 * -1 a DB error (err). */
int bnb_db_run_by_uuid(bnb_db *db, const char *uuid, int64_t *run_id, char *err);

#endif
