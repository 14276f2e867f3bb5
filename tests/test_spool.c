/*
 * test_spool.c - the publisher's spool (reports/spool.h) and the
 * publications table of schema v3 (db/published.h): entries round-trip
 * with their document byte for byte, writes leave no temporary file, a
 * rejected entry lives apart, files that are not spool files are skipped
 * and counted, names are only ever built from UUIDs, and publications are
 * recorded per run and collector.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "db/internal.h"
#include "db/published.h"
#include "reports/spool.h"

static char dir[64], spool[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-spool-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char err[256];
    char db[128];
    snprintf(db, sizeof db, "%s/x.db", dir);
    cr_assert_eq(bnb_spool_path(db, spool, sizeof spool, err, sizeof err), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(spool, .init = setup, .fini = teardown, .timeout = 30);

static const char U1[] = "0f8e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
static const char U2[] = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d";

static bnb_spool_entry entry(const char *uuid, int64_t id, time_t at)
{
    bnb_spool_entry e = {.run_id = id, .spooled_at = at, .attempts = 4};
    snprintf(e.uuid, sizeof e.uuid, "%s", uuid);
    snprintf(e.machine, sizeof e.machine, "m-%lld", (long long)id);
    snprintf(e.url, sizeof e.url, "http://***@collector:8080");
    snprintf(e.last_error, sizeof e.last_error, "HTTP 503: busy \"now\"\nline two");
    return e;
}

Test(spool, path_is_next_to_the_db)
{
    char out[64], err[256];
    cr_assert_eq(bnb_spool_path("/data/b.db", out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, "/data/b.db.spool");
    char small[8];
    cr_assert_eq(bnb_spool_path("/data/b.db", small, sizeof small, err, sizeof err), -1);
    cr_assert(strstr(err, "too long"), "%s", err);
}

Test(spool, an_entry_round_trips_with_its_document_byte_for_byte)
{
    char err[512];
    /* a document with a newline and a NUL-free binary-ish tail: kept as bytes */
    const char doc[] = "{\"schema\":\"bnbench.run\",\n \"x\":\"\xc3\xa9\"}";
    bnb_spool_entry e = entry(U1, 7, 1700000000);
    cr_assert_eq(bnb_spool_put(spool, false, &e, doc, sizeof doc - 1, err, sizeof err), 0, "%s",
                 err);
    bnb_spool_entry g;
    char *back = NULL;
    size_t len = 0;
    cr_assert_eq(bnb_spool_get(spool, false, U1, &g, &back, &len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(len, sizeof doc - 1);
    cr_assert_eq(memcmp(back, doc, len), 0);
    cr_assert_eq(back[len], '\0');
    free(back);
    cr_assert_str_eq(g.uuid, U1);
    cr_assert_eq(g.run_id, 7);
    cr_assert_str_eq(g.machine, "m-7");
    cr_assert_str_eq(g.url, "http://***@collector:8080");
    cr_assert_eq(g.spooled_at, 1700000000);
    cr_assert_eq(g.attempts, 4);
    cr_assert_str_eq(g.last_error, "HTTP 503: busy \"now\"\nline two");
    /* the file is named by the UUID, private, and no temporary file is left */
    char path[256];
    snprintf(path, sizeof path, "%s/%s.run", spool, U1);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(spool, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    DIR *d = opendir(spool);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        files += de->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 1);
    /* replacing keeps one file with the new metadata */
    e.attempts = 9;
    cr_assert_eq(bnb_spool_put(spool, false, &e, "{}", 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_spool_get(spool, false, U1, &g, &back, &len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.attempts, 9);
    cr_assert_str_eq(back, "{}");
    free(back);
}

Test(spool, list_is_oldest_first_and_rejected_apart)
{
    char err[512];
    bnb_spool_entry a = entry(U1, 1, 2000), b = entry(U2, 2, 1000);
    cr_assert_eq(bnb_spool_put(spool, false, &a, "{}", 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_spool_put(spool, false, &b, "{}", 2, err, sizeof err), 0, "%s", err);
    bnb_spool_entry *v = NULL;
    int n = 0, bad = -1;
    cr_assert_eq(bnb_spool_list(spool, false, &v, &n, &bad, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(bad, 0);
    cr_assert_str_eq(v[0].uuid, U2); /* spooled at 1000 */
    cr_assert_str_eq(v[1].uuid, U1);
    free(v);
    /* rejected: moved apart, not listed with the waiting ones */
    snprintf(a.last_error, sizeof a.last_error, "HTTP 400: cases[0].samples[2]: must be finite");
    cr_assert_eq(bnb_spool_put(spool, true, &a, "{}", 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_spool_remove(spool, false, U1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bnb_spool_list(spool, false, &v, &n, &bad, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].uuid, U2);
    free(v);
    cr_assert_eq(bnb_spool_list(spool, true, &v, &n, &bad, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].uuid, U1);
    cr_assert_str_eq(v[0].last_error, "HTTP 400: cases[0].samples[2]: must be finite");
    free(v);
    /* removing what is not there is fine; getting it says "none" (1) */
    cr_assert_eq(bnb_spool_remove(spool, false, U1, err, sizeof err), 0);
    bnb_spool_entry g;
    cr_assert_eq(bnb_spool_get(spool, false, U1, &g, NULL, NULL, err, sizeof err), 1);
}

Test(spool, a_missing_spool_is_empty)
{
    bnb_spool_entry *v = (void *)1;
    int n = -1;
    char err[512];
    cr_assert_eq(bnb_spool_list(spool, false, &v, &n, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 0);
    cr_assert_null(v);
    cr_assert_eq(bnb_spool_list(spool, true, &v, &n, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 0);
}

static void write_raw(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", spool, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(spool, files_that_are_not_spool_files_are_skipped_and_counted)
{
    char err[512];
    bnb_spool_entry a = entry(U1, 1, 1000);
    cr_assert_eq(bnb_spool_put(spool, false, &a, "{}", 2, err, sizeof err), 0, "%s", err);
    /* garbage under a UUID name, metadata naming another UUID, a wrong type,
     * no newline at all; and names that are not UUIDs (ignored, not counted) */
    write_raw("2a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d.run", "not json\n{}");
    char other[512];
    snprintf(other, sizeof other,
             "{\"spool_version\":1,\"uuid\":\"%s\",\"run_id\":1,\"machine\":\"m\",\"url\":\"u\","
             "\"spooled_at\":1,\"attempts\":1,\"last_error\":\"\"}\n{}",
             U1);
    write_raw("3a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d.run", other);
    write_raw("4a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d.run",
              "{\"spool_version\":1,\"uuid\":\"4a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d\",\"run_id\":"
              "\"1\",\"machine\":\"m\",\"url\":\"u\",\"spooled_at\":1,\"attempts\":1,"
              "\"last_error\":\"\"}\n{}");
    write_raw("5a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d.run", "{\"spool_version\":1}");
    write_raw("notes.txt", "hello");
    write_raw("../escape.run", "x");
    bnb_spool_entry *v = NULL;
    int n = 0, bad = 0;
    cr_assert_eq(bnb_spool_list(spool, false, &v, &n, &bad, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].uuid, U1);
    cr_assert_eq(bad, 4);
    free(v);
    bnb_spool_entry g;
    cr_assert_eq(bnb_spool_get(spool, false, "3a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", &g, NULL, NULL,
                               err, sizeof err),
                 -1);
    cr_assert(strstr(err, "not a spool file of run 3a2b3c4d"), "%s", err);
}

Test(spool, names_are_only_built_from_uuids)
{
    char err[512];
    cr_assert(bnb_spool_uuid_ok(U1));
    static const char *const bad[] = {"../../etc/passwd", "0F8E2A1C-3B4D-4E5F-8A9B-0C1D2E3F4A5B",
                                      "0f8e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5", "",
                                      "0f8e2a1c/3b4d-4e5f-8a9b-0c1d2e3f4a5b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert(!bnb_spool_uuid_ok(bad[i]), "%s", bad[i]);
        bnb_spool_entry e = entry(U1, 1, 1);
        snprintf(e.uuid, sizeof e.uuid, "%s", bad[i]);
        cr_assert_eq(bnb_spool_put(spool, false, &e, "{}", 2, err, sizeof err), -1, "%s", bad[i]);
        cr_assert(strstr(err, "is not a run UUID"), "%s", err);
        cr_assert_eq(bnb_spool_remove(spool, false, bad[i], err, sizeof err), -1);
    }
    cr_assert_neq(access(spool, F_OK), 0, "nothing was created");
}

/* ---- publications (schema v3) ---------------------------------------------------- */

static int64_t plant_run(bnb_db *db, const char *uuid, const char *started, bool end)
{
    bnb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.uuid, sizeof ri.uuid, "%s", uuid);
    snprintf(ri.machine_name, sizeof ri.machine_name, "m");
    snprintf(ri.fingerprint, sizeof ri.fingerprint, "00000000feedface");
    snprintf(ri.reason, sizeof ri.reason, "manual");
    snprintf(ri.started_at, sizeof ri.started_at, "%s", started);
    int64_t id = 0;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_begin_run(db, &ri, &id, err), 0, "%s", err);
    if (end)
        cr_assert_eq(bnb_db_end_run(db, id, BNB_RUN_COMPLETE, err), 0, "%s", err);
    return id;
}

Test(spool, publications_are_recorded_per_run_and_collector)
{
    char path[128], err[BNB_ERR_MAX];
    snprintf(path, sizeof path, "%s/p.db", dir);
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(bnb_db__sqlite(db), "PRAGMA user_version", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), BNB_DB_SCHEMA_VERSION);
    cr_assert_geq(BNB_DB_SCHEMA_VERSION, 3); /* the publications table came with v3 */
    sqlite3_finalize(st);

    int64_t r1 = plant_run(db, U1, "2026-01-02T00:00:00Z", true);
    int64_t r2 = plant_run(db, U2, "2026-01-01T00:00:00Z", true);
    int64_t r3 = plant_run(db, "2a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", "2026-01-03T00:00:00Z",
                           false); /* still running: never published */
    (void)r3;
    int64_t *ids = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_unpublished(db, "http://a", &ids, &n, err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], r2); /* oldest first */
    cr_assert_eq(ids[1], r1);
    free(ids);
    cr_assert_eq(bnb_db_mark_published(db, r2, "http://a", 201, err), 0, "%s", err);
    cr_assert_eq(bnb_db_mark_published(db, r2, "http://a", 200, err), 0, "%s", err);
    cr_assert_eq(bnb_db_is_published(db, r2, "http://a", err), 1);
    cr_assert_eq(bnb_db_is_published(db, r2, "http://b", err), 0);
    cr_assert_eq(bnb_db_is_published(db, r1, "http://a", err), 0);
    cr_assert_eq(bnb_db_unpublished(db, "http://a", &ids, &n, err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(ids[0], r1);
    free(ids);
    cr_assert_eq(bnb_db_unpublished(db, "http://b", &ids, &n, err), 0, "%s", err);
    cr_assert_eq(n, 2);
    free(ids);
    /* refused: no such run, a status that is no acknowledgement, no URL */
    cr_assert_eq(bnb_db_mark_published(db, 999, "http://a", 201, err), -1);
    cr_assert(strstr(err, "no run with id 999"), "%s", err);
    cr_assert_eq(bnb_db_mark_published(db, r1, "http://a", 202, err), -1);
    cr_assert(strstr(err, "got 202"), "%s", err);
    cr_assert_eq(bnb_db_mark_published(db, r1, "", 201, err), -1);
    int64_t id = 0;
    cr_assert_eq(bnb_db_run_by_uuid(db, U1, &id, err), 1);
    cr_assert_eq(id, r1);
    cr_assert_eq(bnb_db_run_by_uuid(db, "ffffffff-5e6f-4a8b-9c0d-1e2f3a4b5c6d", &id, err), 0);
    bnb_db_close(db);
}
