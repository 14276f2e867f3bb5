/*
 * published.c - the publications table of schema v3 (contract: published.h).
 *
 * The one write is a single INSERT OR REPLACE, atomic by itself; the reads
 * go through db/internal.h's checked statements, so a DB error is never
 * taken for "not published".
 */
#include "db/published.h"
#include "db/internal.h"

#include <sqlite3.h>
#include <stdlib.h>

static int one_row(bnb_db *db, const char *sql, const char *text, int64_t num, int has_num,
                   int64_t *v, char *err);

int bnb_db_mark_published(bnb_db *db, int64_t run_id, const char *url, int status, char *err)
{
    if (!url || !*url) {
        bnb_db__seterr(err, "DB %s: a publication needs the collector's URL", bnb_db__path(db));
        return -1;
    }
    if (status != 200 && status != 201) {
        bnb_db__seterr(err, "DB %s: a publication is acknowledged by HTTP 200 or 201, got %d",
                       bnb_db__path(db), status);
        return -1;
    }
    sqlite3 *h = bnb_db__sqlite(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h,
                                "INSERT OR REPLACE INTO publications (run_id, url, status, "
                                "published_at) SELECT id, ?, ?, "
                                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM runs WHERE id = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, status);
        sqlite3_bind_int64(st, 3, run_id);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        bnb_db__seterr(err, "DB %s: recording run %lld as published: %s", bnb_db__path(db),
                       (long long)run_id, sqlite3_errmsg(h));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (sqlite3_changes(h) != 1) {
        bnb_db__seterr(err, "DB %s: no run with id %lld", bnb_db__path(db), (long long)run_id);
        return -1;
    }
    return 0;
}

int bnb_db_unpublished(bnb_db *db, const char *url, int64_t **ids, int *n, char *err)
{
    *ids = NULL;
    *n = 0;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT r.id FROM runs r WHERE r.status <> 'running' AND NOT EXISTS "
                        "(SELECT 1 FROM publications p WHERE p.run_id = r.id AND p.url = ?) "
                        "ORDER BY r.started_at, r.id",
                        err))
        return -1;
    bnb_db__rd_text(&q, 1, url);
    int64_t *out = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&out, &cap, k, sizeof *out)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        out[k++] = sqlite3_column_int64(q.st, 0);
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(out);
        return -1;
    }
    *ids = out;
    *n = k;
    return 0;
}

int bnb_db_publications(bnb_db *db, bnb_publication_row **out, int *n, char *err)
{
    *out = NULL;
    *n = 0;
    /* a DB of schema 2 opened read-only is not migrated: no table, none */
    int have = one_row(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                       "publications", 0, 0, NULL, err);
    if (have <= 0)
        return have;
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db,
                        "SELECT url, count(*), max(published_at) FROM publications GROUP BY url "
                        "ORDER BY max(published_at) DESC, url",
                        err))
        return -1;
    bnb_publication_row *v = NULL;
    int k = 0, cap = 0, s;
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        if (bnb_db__grow((void **)&v, &cap, k, sizeof *v)) {
            bnb_db__seterr(err, "DB %s: out of memory", bnb_db__path(db));
            s = -1;
            break;
        }
        bnb_db__rd_copy(&q, 0, v[k].url, sizeof v[k].url);
        v[k].runs = sqlite3_column_int(q.st, 1);
        bnb_db__rd_copy(&q, 2, v[k].last_at, sizeof v[k].last_at);
        k++;
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Runs sql (one text parameter, then one integer parameter when has_num)
 * expecting at most one row; 1 with the first column in *v, 0 when none. */
static int one_row(bnb_db *db, const char *sql, const char *text, int64_t num, int has_num,
                   int64_t *v, char *err)
{
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, sql, err))
        return -1;
    bnb_db__rd_text(&q, 1, text);
    if (has_num)
        bnb_db__rd_int64(&q, 2, num);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW && v)
        *v = sqlite3_column_int64(q.st, 0);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return s == SQLITE_ROW;
}

int bnb_db_is_published(bnb_db *db, int64_t run_id, const char *url, char *err)
{
    return one_row(db, "SELECT 1 FROM publications WHERE url = ? AND run_id = ?", url, run_id, 1,
                   NULL, err);
}

int bnb_db_run_by_uuid(bnb_db *db, const char *uuid, int64_t *run_id, char *err)
{
    return one_row(db, "SELECT id FROM runs WHERE uuid = ?", uuid, 0, 0, run_id, err);
}
