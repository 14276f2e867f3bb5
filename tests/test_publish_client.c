/*
 * test_publish_client.c - `bnbench publish` of runs against a scripted
 * loopback server (tests/httpscript.h), the way a user runs it: the built
 * binary, its exit code, its output. Each fault of issue 18's list has its
 * test: 500 then 201, 429 with Retry-After, an answer slower than the
 * timeout, a connection reset mid-answer, 401, 400 (and 409, 413, 415), a
 * 302, and a collector that is down. What must hold: retryable faults are
 * retried and then spooled with exit 1 and the reason; the next publish
 * sends the spool first; other 4xx are not retried and move to rejected/;
 * 201 and 200 are recorded as published; the token (file or environment)
 * arrives whole and is never printed; URLs are shown redacted; --insecure is
 * said.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpscript.h"
#include "spawn.h"

static char dir[64], db[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-pubc-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/a.db", dir);
    unsetenv("BNBENCH_TOKEN");
    unsetenv("BNB_PUBLISH_TOKEN");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    unsetenv("BNBENCH_TOKEN");
}

TestSuite(pubc, .init = setup, .fini = teardown, .timeout = 90);

#define BNB(r, ...)                                                                                \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        fx_spawn((r), dir, a_);                                                                    \
    } while (0)

static fx_result *res(void)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    return r;
}

/* A DB of n synthetic runs (bnbench _gen-db). */
static void make_db(int n)
{
    fx_result *r = res();
    char runs[16];
    snprintf(runs, sizeof runs, "%d", n);
    BNB(r, "_gen-db", "--runs", runs, "-o", db);
    cr_assert_eq(r->code, 0, "%s", r->err);
    free(r);
}

static void url_of(const hs_server *s, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d", s->port);
}

/* One integer from the DB. */
static long long q_int(const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void run_uuid(int id, char *out)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, "SELECT uuid FROM runs WHERE id = ?", -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, 40, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static bool spooled(const char *uuid, bool rejected)
{
    char p[256];
    snprintf(p, sizeof p, "%s.spool/%s%s.run", db, rejected ? "rejected/" : "", uuid);
    return access(p, F_OK) == 0;
}

static void has(const char *text, const char *needle)
{
    cr_assert(strstr(text, needle), "lacks \"%s\":\n%s", needle, text);
}

/* ---- retried faults ----------------------------------------------------------------- */

Test(pubc, a_500_then_201_is_retried_and_recorded)
{
    make_db(1);
    hs_server *s =
        hs_start((hs_step[]){{.status = 500, .error = "database is locked"}, {.status = 201}}, 2);
    char url[64], uuid[40];
    url_of(s, url, sizeof url);
    run_uuid(1, uuid);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    int n = hs_nreq(s), port = s->port;
    char req[2048];
    snprintf(req, sizeof req, "%.2000s", hs_req(s, 1));
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert_eq(n, 2);
    has(req, "POST /api/v1/runs HTTP/1.1\r\n");
    has(req, "Content-Type: application/json\r\n");
    has(req, uuid);
    has(req, "\"bnbench.run\"");
    has(r->out, "try 1 of 4: HTTP 500: database is locked; retrying in");
    char want[160];
    snprintf(want, sizeof want, "sent run 1 (%s, machine synthetic): stored (HTTP 201)", uuid);
    has(r->out, want);
    has(r->out, "1 stored, 0 already stored; 0 waiting in the spool, 0 rejected");
    cr_assert(!spooled(uuid, false));
    cr_assert_eq(q_int("SELECT count(*) FROM publications WHERE run_id = 1 AND status = 201"), 1);

    /* recorded: --all-unpublished has nothing left to send to that collector */
    s = hs_start_port(NULL, 0, port);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "--all-unpublished", "--url", url, "--db", db);
    n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert_eq(n, 0, "a run published to this URL is not sent again");
    free(r);
}

Test(pubc, retries_used_up_spool_the_run_exit_1_and_the_next_publish_sends_it)
{
    make_db(2);
    char uuid1[40], uuid2[40], url[64];
    run_uuid(1, uuid1);
    run_uuid(2, uuid2);
    hs_server *s = hs_start(
        (hs_step[]){{.status = 500, .error = "boom"}, {.status = 503}, {.status = 502}}, 3);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "1", "2", "--url", url, "--db", db, "--retries", "2");
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert_eq(n, 3, "run 1 tried 3 times; run 2 not tried after it");
    has(r->err, "2 run(s) waiting in the spool, 0 rejected");
    has(r->err, "HTTP 502");
    has(r->err, "(after 3 tries)");
    has(r->out, "spooled run 2");
    has(r->out, "not tried: run 1 before it was not sent");
    cr_assert(spooled(uuid1, false) && spooled(uuid2, false));
    cr_assert_eq(q_int("SELECT count(*) FROM publications"), 0);

    /* --status lists both: uuid, run id, machine, tries, collector, last error */
    BNB(r, "publish", "--status", "--db", db);
    cr_assert_eq(r->code, 0, "%s", r->err);
    has(r->out, "waiting (sent first by the next publish to their collector): 2 run(s)");
    has(r->out, uuid1);
    has(r->out, uuid2);
    has(r->out, "synthetic");
    has(r->out, "HTTP 502");
    has(r->out, "rejected (never resent automatically");

    /* the spool belongs to its collector: another URL does not take it */
    s = hs_start((hs_step[]){{.status = 201}, {.status = 201}}, 2);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "--url", url, "--db", db);
    n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(n, 0, "a spool entry goes to the collector it was meant for");
    cr_assert_eq(r->code, 0, "%s", r->err);
    has(r->out, "0 run(s) from the spool, 0 asked for (2 wait for another collector)");
    free(r);
}

/* The spool goes to its own collector: same URL, a later publish. */
Test(pubc, the_spool_is_resent_to_its_collector_first)
{
    make_db(3);
    char u[3][40], url[64];
    for (int i = 0; i < 3; i++)
        run_uuid(i + 1, u[i]);
    /* one server the whole time: its script first fails run 1, then takes all */
    hs_server *s = hs_start(
        (hs_step[]){{.status = 500}, {.status = 201}, {.status = 201}, {.status = 201}}, 4);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "1", "--url", url, "--db", db, "--retries", "0");
    cr_assert_eq(r->code, 1, "%s", r->err);
    cr_assert(spooled(u[0], false));
    /* next: run 3 asked for; the spooled run 1 goes first */
    BNB(r, "publish", "3", "--url", url, "--db", db, "--retries", "0");
    int n = hs_nreq(s);
    bool order = strstr(hs_req(s, 1), u[0]) && strstr(hs_req(s, 2), u[2]);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert_eq(n, 3);
    cr_assert(order, "the spool is sent before the runs asked for");
    cr_assert(!spooled(u[0], false));
    has(r->out, "1 run(s) from the spool, 1 asked for");
    cr_assert_eq(q_int("SELECT count(*) FROM publications"), 2);
    cr_assert_eq(q_int("SELECT count(*) FROM publications WHERE run_id = 2"), 0);
    free(r);
}

Test(pubc, retry_after_is_honoured)
{
    make_db(1);
    char url[64];
    hs_server *s = hs_start(
        (hs_step[]){{.status = 429, .retry_after = 2, .error = "slow down"}, {.status = 201}}, 2);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--retries", "1");
    int n = hs_nreq(s);
    double gap = n == 2 ? hs_gap(s, 0, 1) : 0;
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert_eq(n, 2);
    /* the backoff alone would wait 0.25 to 0.5 s */
    cr_assert(gap >= 1.9, "waited %.2f s, not the 2 s of Retry-After", gap);
    has(r->out, "HTTP 429: slow down; retrying in 2.0 s (Retry-After)");
    free(r);
}

Test(pubc, an_answer_slower_than_the_timeout_is_retried_then_spooled)
{
    make_db(1);
    char url[64], uuid[40];
    run_uuid(1, uuid);
    hs_server *s = hs_start((hs_step[]){{.status = HS_SLOW}, {.status = HS_SLOW}}, 2);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--retries", "1", "--timeout", "1");
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert_eq(n, 2);
    has(r->err, "(timed out)");
    has(r->err, "1 run(s) waiting in the spool");
    cr_assert(spooled(uuid, false));
    free(r);
}

Test(pubc, a_connection_reset_mid_answer_is_retried)
{
    make_db(1);
    char url[64], uuid[40];
    run_uuid(1, uuid);
    hs_server *s = hs_start((hs_step[]){{.status = HS_RESET}, {.status = 201}}, 2);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert_eq(n, 2);
    has(r->out, "try 1 of 4: POST http://127.0.0.1:");
    /* reset every time: spooled with the reason */
    s = hs_start((hs_step[]){{.status = HS_RESET}, {.status = HS_RESET}}, 2);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--retries", "1");
    n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert_eq(n, 2);
    cr_assert(spooled(uuid, false));
    has(r->err, "failed: ");
    free(r);
}

Test(pubc, a_collector_that_is_down_costs_one_run_s_retries)
{
    make_db(3);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", hs_closed_port());
    fx_result *r = res();
    BNB(r, "publish", "--all-unpublished", "--url", url, "--db", db, "--retries", "1");
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    has(r->err, "3 run(s) waiting in the spool, 0 rejected");
    has(r->err, "onnect"); /* libcurl: "Couldn't connect" / "Failed to connect" */
    cr_assert_eq(strstr(r->out, "try 2 of") ? 1 : 0, 0, "one retry only:\n%s", r->out);
    for (int i = 1; i <= 3; i++) {
        char u[40];
        run_uuid(i, u);
        cr_assert(spooled(u, false), "run %d", i);
    }
    /* the collector comes back on its port: the spool goes first, and
     * --all-unpublished does not send those runs a second time */
    int port = atoi(strrchr(url, ':') + 1);
    hs_server *s =
        hs_start_port((hs_step[]){{.status = 201}, {.status = 201}, {.status = 201}}, 3, port);
    BNB(r, "publish", "--all-unpublished", "--url", url, "--db", db);
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s%s", r->out, r->err);
    cr_assert_eq(n, 3);
    has(r->out, "3 run(s) from the spool, 0 asked for");
    has(r->out, "3 stored, 0 already stored; 0 waiting in the spool, 0 rejected");
    cr_assert_eq(q_int("SELECT count(*) FROM publications"), 3);
    BNB(r, "publish", "--status", "--db", db);
    has(r->out, "waiting (sent first by the next publish to their collector): 0 run(s)");
    has(r->out, "published: to 1 collector(s)\n");
    char want[128];
    snprintf(want, sizeof want, "      3 run(s) to %s, last at 20", url);
    has(r->out, want);
    free(r);
}

/* ---- not retried -------------------------------------------------------------------- */

Test(pubc, other_4xx_are_not_retried_and_move_to_rejected)
{
    static const int codes[] = {400, 409, 413, 415};
    static const char *const msgs[] = {
        "cases[3].samples[2]: must be a finite number", "run is stored for another machine",
        "body larger than 67108864 bytes", "Content-Type must be application/json"};
    make_db(1);
    char url[64], uuid[40];
    run_uuid(1, uuid);
    fx_result *r = res();
    for (int i = 0; i < 4; i++) {
        hs_server *s =
            hs_start((hs_step[]){{.status = codes[i], .error = msgs[i]}, {.status = 201}}, 2);
        url_of(s, url, sizeof url);
        BNB(r, "publish", "1", "--url", url, "--db", db);
        int n = hs_nreq(s);
        hs_stop(s);
        cr_assert_eq(r->code, 1, "%d: %s%s", codes[i], r->out, r->err);
        cr_assert_eq(n, 1, "HTTP %d is not retried", codes[i]);
        char want[200];
        snprintf(want, sizeof want, "HTTP %d: %s", codes[i], msgs[i]);
        has(r->out, want);
        has(r->err, want);
        has(r->err, "0 run(s) waiting in the spool, 1 rejected");
        cr_assert(spooled(uuid, true) && !spooled(uuid, false), "%d", codes[i]);
    }
    /* listed, and never resent automatically */
    BNB(r, "publish", "--status", "--db", db);
    has(r->out, "rejected (never resent automatically");
    has(r->out, "HTTP 415: Content-Type must be application/json");
    hs_server *s = hs_start((hs_step[]){{.status = 201}}, 1);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "--all-unpublished", "--url", url, "--db", db);
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert_eq(n, 0, "a rejected run is not resent by --all-unpublished");
    /* named by the user, it is sent again; taken, it leaves rejected/ */
    s = hs_start((hs_step[]){{.status = 201}}, 1);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "1", "--url", url, "--db", db);
    n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert_eq(n, 1);
    cr_assert(!spooled(uuid, true));
    free(r);
}

Test(pubc, a_401_is_not_retried_and_the_run_waits_in_the_spool)
{
    make_db(2);
    char url[64], u1[40], u2[40];
    run_uuid(1, u1);
    run_uuid(2, u2);
    hs_server *s = hs_start((hs_step[]){{.status = 401, .error = "missing or wrong token"}}, 1);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "--all-unpublished", "--url", url, "--db", db);
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert_eq(n, 1, "not retried, and the second run is not tried with a refused token");
    has(r->err, "HTTP 401: missing or wrong token (the collector refused the token");
    cr_assert(spooled(u1, false) && spooled(u2, false), "kept: the runs are fine");
    cr_assert(!spooled(u1, true));
    free(r);
}

Test(pubc, a_302_is_not_followed_and_shown_redacted)
{
    make_db(1);
    char url[64];
    hs_server *s =
        hs_start((hs_step[]){{.status = 302, .location = "http://bob:hunter2@elsewhere:81/"}}, 1);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    int n = hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s%s", r->out, r->err);
    cr_assert_eq(n, 1);
    has(r->err, "HTTP 302: a redirect to http://***@elsewhere:81/, not followed");
    cr_assert(!strstr(r->out, "hunter2") && !strstr(r->err, "hunter2") && !strstr(r->out, "bob") &&
              !strstr(r->err, "bob"));
    free(r);
}

/* ---- idempotence, secrets, TLS ------------------------------------------------------ */

Test(pubc, a_200_is_said_as_already_stored_and_recorded)
{
    make_db(1);
    char url[64];
    hs_server *s = hs_start((hs_step[]){{.status = 201}, {.status = 200}}, 2);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    cr_assert_eq(r->code, 0, "%s", r->err);
    has(r->out, "stored (HTTP 201)");
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    has(r->out, "already stored (HTTP 200)");
    has(r->out, "0 stored, 1 already stored");
    cr_assert_eq(q_int("SELECT status FROM publications WHERE run_id = 1"), 200);
    free(r);
}

static void no_secret(const fx_result *r, const char *secret)
{
    cr_assert(!strstr(r->out, secret) && !strstr(r->err, secret), "the secret was printed:\n%s%s",
              r->out, r->err);
}

Test(pubc, the_token_from_a_file_or_the_environment_arrives_and_is_never_printed)
{
    make_db(1);
    char url[64], tf[160], want[200];
    snprintf(tf, sizeof tf, "%s/token", dir);
    FILE *f = fopen(tf, "w");
    fputs("file-s3cr3t-TOKEN_1\n", f);
    fclose(f);
    cr_assert_eq(setenv("BNBENCH_TOKEN", "env-s3cr3t-TOKEN_2", 1), 0);
    /* the file wins over the environment; a failure is printed without it */
    hs_server *s =
        hs_start((hs_step[]){{.status = 401, .error = "wrong token"}, {.status = 201}}, 2);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--token-file", tf);
    cr_assert_eq(r->code, 1);
    no_secret(r, "s3cr3t");
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    cr_assert_eq(r->code, 0, "%s", r->err);
    no_secret(r, "s3cr3t");
    bool file_tok = strstr(hs_req(s, 0), "\r\nAuthorization: Bearer file-s3cr3t-TOKEN_1\r\n");
    bool env_tok = strstr(hs_req(s, 1), "\r\nAuthorization: Bearer env-s3cr3t-TOKEN_2\r\n");
    hs_stop(s);
    cr_assert(file_tok, "the file's token (its newline removed) was not sent");
    cr_assert(env_tok, "BNBENCH_TOKEN was not sent");
    /* the spool and the DB hold no token either */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -rqa --exclude=token s3cr3t '%s'", dir);
    cr_assert_neq(system(cmd), 0, "a token was stored under %s", dir);

    /* a control character: refused before any request, exit 2, not shown */
    f = fopen(tf, "w");
    fputs("abc\x1b[2Jdef\n", f);
    fclose(f);
    s = hs_start(NULL, 0);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--token-file", tf);
    int n = hs_nreq(s);
    cr_assert_eq(r->code, 2, "%s", r->err);
    snprintf(want, sizeof want, "token file %s contains a control character at position 4", tf);
    has(r->err, want);
    no_secret(r, "abc");
    cr_assert_eq(setenv("BNBENCH_TOKEN", "x\ry", 1), 0);
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    n += hs_nreq(s);
    hs_stop(s);
    cr_assert_eq(r->code, 2, "%s", r->err);
    has(r->err, "BNBENCH_TOKEN contains a control character at position 2 (byte 0x0d)");
    cr_assert_eq(n, 0, "no request with a bad token");
    /* an empty file is refused too */
    f = fopen(tf, "w");
    fclose(f);
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--token-file", tf);
    cr_assert_eq(r->code, 2);
    has(r->err, "is empty");
    free(r);
}

Test(pubc, url_credentials_are_shown_and_stored_redacted)
{
    make_db(2);
    hs_server *s = hs_start((hs_step[]){{.status = 201}, {.status = 500}}, 2);
    char url[128], want[128];
    snprintf(url, sizeof url, "http://alice:pa55word@127.0.0.1:%d/", s->port);
    fx_result *r = res();
    BNB(r, "publish", "1", "--url", url, "--db", db);
    cr_assert_eq(r->code, 0, "%s", r->err);
    BNB(r, "publish", "2", "--url", url, "--db", db, "--retries", "0");
    bool basic = strcasestr(hs_req(s, 0), "\r\nAuthorization: Basic ") != NULL;
    snprintf(want, sizeof want, "publishing to http://***@127.0.0.1:%d:", s->port);
    hs_stop(s);
    cr_assert_eq(r->code, 1);
    cr_assert(basic, "the URL's credentials are still sent");
    has(r->out, want);
    has(r->out, "publishing to http://***@127.0.0.1:");
    no_secret(r, "alice");
    no_secret(r, "pa55word");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -rqa -e alice -e pa55word '%s'", dir);
    cr_assert_neq(system(cmd), 0, "a credential was stored under %s", dir);
    cr_assert_eq(q_int("SELECT count(*) FROM publications WHERE url LIKE 'http://***@127.0.0.1:%'"),
                 1);
    BNB(r, "publish", "--status", "--db", db);
    no_secret(r, "pa55word");
    has(r->out, "http://***@127.0.0.1:");
    free(r);
}

Test(pubc, insecure_is_said)
{
    make_db(1);
    char url[64];
    hs_server *s = hs_start((hs_step[]){{.status = 201}}, 1);
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--insecure");
    hs_stop(s);
    cr_assert_eq(r->code, 0, "%s", r->err);
    has(r->out, "(--insecure: TLS certificates are NOT verified)");
    /* without it nothing is said about TLS */
    s = hs_start((hs_step[]){{.status = 200}}, 1);
    url_of(s, url, sizeof url);
    BNB(r, "publish", "latest", "--url", url, "--db", db);
    hs_stop(s);
    cr_assert_null(strstr(r->out, "NOT verified"));
    /* TLS to a server that speaks plain HTTP fails: kept, with the reason */
    s = hs_start((hs_step[]){{.status = 201}, {.status = 201}}, 2);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s->port);
    BNB(r, "publish", "latest", "--url", url, "--db", db, "--retries", "0");
    hs_stop(s);
    cr_assert_eq(r->code, 1, "%s", r->out);
    has(r->err, "waiting in the spool");
    free(r);
}

Test(pubc, run_publish_sends_the_run_it_measured)
{
    hs_server *s = hs_start((hs_step[]){{.status = 201}}, 1);
    char url[64];
    url_of(s, url, sizeof url);
    fx_result *r = res();
    BNB(r, "run", "--db", db, "--case", "timer/rdtsc", "--quick", "--quiet", "--targets",
        "suites/targets.json", "--machine", "pubtest", "--publish", url);
    int n = hs_nreq(s);
    char req[4096];
    snprintf(req, sizeof req, "%.4000s", hs_req(s, 0));
    hs_stop(s);
    cr_assert_leq(r->code, 1, "%s", r->err);
    cr_assert_eq(n, 1);
    char uuid[40];
    run_uuid(1, uuid);
    has(req, uuid);
    has(req, "pubtest");
    has(r->out, "stored (HTTP 201)");
    cr_assert_eq(q_int("SELECT count(*) FROM publications WHERE run_id = 1"), 1);
    /* --publish is validated before anything is measured */
    BNB(r, "run", "--db", db, "--case", "timer/rdtsc", "--publish", "ftp://x");
    cr_assert_eq(r->code, 2);
    has(r->err, "--publish: --url must start with http:// or https://");
    BNB(r, "run", "--db", db, "--case", "timer/rdtsc", "--insecure");
    cr_assert_eq(r->code, 2);
    has(r->err, "--insecure applies to --publish URL only");
    cr_assert_eq(q_int("SELECT count(*) FROM runs"), 1);
    free(r);
}
