/*
 * test_serve.c - `bnbench serve`, the fleet collector, as publishers meet
 * it: the real build/bnbench started on 127.0.0.1:0 with a scratch DB and
 * token file (the port read from its `listening on` line), spoken to with
 * libcurl. A real published document (bnb_rundoc_build of a planted run)
 * is stored once however often it is sent; every bad input gets its status
 * and a message naming what was wrong, and leaves the DB as it was (runs
 * counted, integrity check passed); SIGTERM answers the requests in flight
 * before exiting 0; a SIGKILL while several publishers post leaves a DB
 * that passes the integrity check and holds every run that was
 * acknowledged. Every child is reaped.
 */
#include <cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/rundoc.h"
#include "report_fixture.h"

#define TOKEN "t0ken-for-tests_0123456789"

static char dir[64], dbp[128], tokp[128], outp[128], errp[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb_serve_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbp, sizeof dbp, "%s/fleet.db", dir);
    snprintf(tokp, sizeof tokp, "%s/token", dir);
    snprintf(outp, sizeof outp, "%s/serve.out", dir);
    snprintf(errp, sizeof errp, "%s/serve.err", dir);
    FILE *f = fopen(tokp, "w");
    cr_assert_not_null(f);
    fputs(TOKEN "\n", f);
    fclose(f);
    chmod(tokp, 0600);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static pid_t live_server; /* the server a failed assertion may leave running */

static void teardown(void)
{
    if (live_server > 0) {
        kill(live_server, SIGKILL);
        waitpid(live_server, NULL, 0);
        live_server = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int r = system(cmd);
    (void)r;
}

TestSuite(serve, .init = setup, .fini = teardown, .timeout = 240);

/* ---- the server process ------------------------------------------------------ */

typedef struct srv {
    pid_t pid;
    int port;
} srv;

/* Starts `bnbench serve --listen 127.0.0.1:0 --db dbp [--token-file tokp]
 * extra...` and waits for its listening line. */
static srv srv_start_args(bool token, const char *const *extra)
{
    const char *args[24] = {"serve", "--listen", "127.0.0.1:0", "--db", dbp};
    int n = 5;
    if (token) {
        args[n++] = "--token-file";
        args[n++] = tokp;
    }
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    unlink(outp); /* a line left by an earlier server is not this one's */
    srv s = {fx_start(outp, errp, args), 0};
    live_server = s.pid;
    for (int waited = 0; waited < 60000; waited += 10) {
        char out[512] = "", err[4096];
        FILE *f = fopen(outp, "rb"); /* absent until the child opens it */
        if (f) {
            out[fread(out, 1, sizeof out - 1, f)] = '\0';
            fclose(f);
        }
        const char *l = strstr(out, "listening on http://127.0.0.1:");
        if (l && strchr(l, '\n')) {
            s.port = atoi(l + strlen("listening on http://127.0.0.1:"));
            cr_assert_gt(s.port, 0, "%s", out);
            return s;
        }
        int st = 0;
        if (waitpid(s.pid, &st, WNOHANG) == s.pid) {
            live_server = 0;
            fx_read(errp, err, sizeof err);
            cr_assert_fail("serve exited (status %d) before listening: %s", st, err);
        }
        usleep(10000);
    }
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    live_server = 0;
    cr_assert_fail("serve did not print its listening line within 60 s");
    return s;
}

static srv srv_start(const char *const *extra)
{
    return srv_start_args(true, extra);
}

/* Sends sig and reaps; returns the wait status. */
static int srv_stop(srv *s, int sig)
{
    cr_assert_eq(kill(s->pid, sig), 0);
    int st = 0;
    cr_assert_eq(waitpid(s->pid, &st, 0), s->pid);
    live_server = 0;
    return st;
}

/* SIGTERM, exit 0 and its closing line. */
static void srv_stop_clean(srv *s)
{
    int st = srv_stop(s, SIGTERM);
    char out[4096], err[8192];
    fx_read(outp, out, sizeof out);
    fx_read(errp, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve: status %d; stderr: %s", st, err);
    cr_assert_not_null(strstr(out, "stopped on SIGTERM"), "%s", out);
    cr_assert_not_null(strstr(out, "DB closed"), "%s", out);
    cr_assert_null(strstr(out, TOKEN), "the token is never printed");
    cr_assert_null(strstr(err, TOKEN), "the token is never printed");
}

/* ---- HTTP -------------------------------------------------------------------- */

typedef struct resp {
    long code;
    char *body;
    size_t len;
    char hdr[8192];
    size_t hlen;
    CURLcode cc;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->hdr) {
        memcpy(r->hdr + r->hlen, p, k);
        r->hlen += k;
        r->hdr[r->hlen] = '\0';
    }
    return k;
}

static void resp_free(resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* One request: method to path with body (NULL: none), the bearer token and
 * Content-Type (NULL: that header absent). Transport errors leave code 0. */
static void http(const srv *s, const char *method, const char *path, const char *token,
                 const char *ctype, const char *body, size_t len, resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    char url[256], auth[256], ct[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    snprintf(ct, sizeof ct, "Content-Type:%s%s", ctype ? " " : "", ctype ? ctype : "");
    h = curl_slist_append(h, ct);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (strcmp(method, body ? "POST" : "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r->cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void post(const srv *s, const char *body, size_t len, resp *r)
{
    http(s, "POST", "/api/v1/runs", TOKEN, "application/json", body, len, r);
}

/* The "error" of a JSON answer (static buffer). */
static const char *error_of(const resp *r)
{
    static char msg[1024];
    cJSON *j = r->body ? cJSON_Parse(r->body) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    snprintf(msg, sizeof msg, "%s", cJSON_IsString(e) ? e->valuestring : "(no error member)");
    cJSON_Delete(j);
    return msg;
}

/* Every answer carries the content security policy and nosniff. */
static void assert_security_headers(const resp *r)
{
    cr_assert_not_null(strcasestr(r->hdr, "Content-Security-Policy: default-src 'none'; "
                                          "style-src 'unsafe-inline'; img-src data:\r\n"),
                       "%s", r->hdr);
    cr_assert_not_null(strcasestr(r->hdr, "X-Content-Type-Options: nosniff\r\n"), "%s", r->hdr);
}

/* Expects status and an error naming what was wrong (substring want). */
static void expect_error(const resp *r, long status, const char *want)
{
    cr_assert_eq(r->cc, CURLE_OK, "transport: %s", curl_easy_strerror(r->cc));
    cr_assert_eq(r->code, status, "status %ld, want %ld: %s", r->code, status,
                 r->body ? r->body : "");
    cr_assert_not_null(strcasestr(r->hdr, "Content-Type: application/json"), "%s", r->hdr);
    assert_security_headers(r);
    const char *e = error_of(r);
    cr_assert_not_null(strstr(e, want), "error \"%s\" should name \"%s\"", e, want);
}

/* ---- documents --------------------------------------------------------------- */

/* A real published document: a planted run of ncases cases with 15 raw
 * samples each, a metric and a verdict, built by bnb_rundoc_build. */
static char *make_doc(int ncases, size_t *len)
{
    char src[160], err[BNB_ERR_MAX];
    snprintf(src, sizeof src, "%s/src-%d.db", dir, ncases);
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(src, 0, &db, err), 0, "%s", err);
    int64_t run = fx_run(db, "pub-a", "2026-12-05T08:00:00Z", "nightly", NULL);
    for (int i = 0; i < ncases; i++) {
        char name[32];
        double x[15];
        snprintf(name, sizeof name, "case%03d", i);
        fx_dist(x, 15, 1e-3 * (1 + i % 7), 0.02, 0);
        fx_case(db, run, "plant", name, "n", "64", x, 15, "gflops", "GFLOPS", 1e-3);
    }
    fx_verdict(db, run, "t1", "plant/case000/n=64:gflops", ">=", 0.5, 1.0, true, "met", "");
    fx_end(db, run);
    char *doc = bnb_rundoc_build(db, run, len, err);
    cr_assert_not_null(doc, "%s", err);
    bnb_db_close(db);
    return doc;
}

/* doc with run.uuid replaced by uuid and the machine by machine (NULL:
 * unchanged); malloc'd text. */
static char *doc_variant(const char *doc, const char *uuid, const char *machine, size_t *len)
{
    cJSON *j = cJSON_Parse(doc);
    cr_assert_not_null(j);
    cJSON *run = cJSON_GetObjectItemCaseSensitive(j, "run");
    cr_assert_not_null(cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(run, "uuid"), uuid));
    if (machine) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "machine");
        char fp[80];
        snprintf(fp, sizeof fp, "fp-%s", machine);
        cr_assert_not_null(
            cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(m, "name"), machine));
        cr_assert_not_null(
            cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(m, "fingerprint"), fp));
    }
    char *t = cJSON_PrintUnformatted(j);
    cr_assert_not_null(t);
    cJSON_Delete(j);
    *len = strlen(t);
    return t;
}

static void uuid_n(char *out, int k)
{
    snprintf(out, 40, "5e7e0000-0000-4000-8000-%012d", k);
}

/* ---- the DB ------------------------------------------------------------------ */

/* Runs stored in dbp (read-only open, which runs the quick check). */
static int count_runs(void)
{
    char err[BNB_ERR_MAX];
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(dbp, 1, &db, err), 0, "%s", err);
    bnb_run_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_runs(db, 0, &rows, &n, err), 0, "%s", err);
    free(rows);
    bnb_db_close(db);
    return n;
}

static void assert_integrity(void)
{
    char err[BNB_ERR_MAX];
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(dbp, BNB_DB_READ_UNCHECKED, &db, err), 0, "%s", err);
    cr_assert_eq(bnb_db_check(db, err), 0, "%s", err);
    bnb_db_close(db);
}

/* The run of that uuid is stored with ncases cases. */
static void assert_stored(const char *uuid, int ncases)
{
    char err[BNB_ERR_MAX];
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(dbp, 1, &db, err), 0, "%s", err);
    int64_t id = 0;
    cr_assert_eq(bnb_db_resolve_run(db, uuid, &id, err), 0, "run %s: %s", uuid, err);
    bnb_run_row row;
    cr_assert_eq(bnb_db_get_run_row(db, id, &row, err), 0, "%s", err);
    cr_assert_eq(row.ncases, ncases, "run %s: %d cases stored, sent %d", uuid, row.ncases, ncases);
    bnb_db_close(db);
}

/* ---- tests --------------------------------------------------------------------- */

Test(serve, help_and_bad_start)
{
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "serve", "--help");
    cr_assert_eq(r->code, 0);
    cr_assert_not_null(strstr(r->out, "--token-file FILE"));
    cr_assert_not_null(strstr(r->out, "127.0.0.1:8080"));

    char empty[160], ctl[160];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(ctl, sizeof ctl, "%s/ctl", dir);
    FILE *f = fopen(empty, "w");
    fputs("\n", f);
    fclose(f);
    f = fopen(ctl, "w");
    fputs("abc\tdef\n", f);
    fclose(f);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--token-file", empty);
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "is empty"), "%s", r->err);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--token-file", ctl);
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "control character (0x09) at byte 3"), "%s", r->err);
    cr_assert_null(strstr(r->err, "abc"), "the token is never printed: %s", r->err);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--token-file", "/nonexistent/token");
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "No such file"), "%s", r->err);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--listen", "127.0.0.1");
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "--listen must be ADDR:PORT"), "%s", r->err);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--listen", "127.0.0.1:70000");
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "got \"70000\""), "%s", r->err);
    FX_BNBENCH(r, dir, "serve", "--db", dbp, "--threads", "0");
    cr_assert_eq(r->code, 2);
    cr_assert_not_null(strstr(r->err, "--threads"), "%s", r->err);
    free(r);
}

Test(serve, healthz_get_and_methods)
{
    srv s = srv_start(NULL);
    resp r;
    http(&s, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    cr_assert_eq(r.code, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    assert_security_headers(&r);
    resp_free(&r);
    http(&s, "DELETE", "/api/v1/runs", TOKEN, NULL, NULL, 0, &r);
    expect_error(&r, 405, "method DELETE is not allowed");
    resp_free(&r);
    http(&s, "POST", "/healthz", TOKEN, "application/json", "{}", 2, &r);
    expect_error(&r, 405, "POST is taken at /api/v1/runs only");
    resp_free(&r);
    /* every other GET is the web view's: an unknown path is its 404 */
    http(&s, "GET", "/no/such/page", NULL, NULL, NULL, 0, &r);
    cr_assert_eq(r.code, 404, "%ld %s", r.code, r.body ? r.body : "");
    assert_security_headers(&r);
    resp_free(&r);
    srv_stop_clean(&s);
}

Test(serve, stores_once_and_conflicts)
{
    size_t len = 0;
    char *doc = make_doc(3, &len);
    srv s = srv_start(NULL);
    resp r;
    post(&s, doc, len, &r);
    cr_assert_eq(r.code, 201, "%ld %s", r.code, r.body ? r.body : "");
    assert_security_headers(&r);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status"),
                *u = cJSON_GetObjectItemCaseSensitive(j, "uuid");
    cr_assert(cJSON_IsString(st) && !strcmp(st->valuestring, "stored"), "%s", r.body);
    cr_assert(cJSON_IsString(u) && strlen(u->valuestring) == 36, "%s", r.body);
    char uuid[40];
    snprintf(uuid, sizeof uuid, "%s", u->valuestring);
    cJSON_Delete(j);
    resp_free(&r);

    post(&s, doc, len, &r);
    cr_assert_eq(r.code, 200, "%ld %s", r.code, r.body ? r.body : "");
    cr_assert_not_null(strstr(r.body, "\"status\":\"already stored\""), "%s", r.body);
    resp_free(&r);
    cr_assert_eq(count_runs(), 1, "stored exactly once");
    assert_stored(uuid, 3);

    /* the same UUID from another machine */
    size_t l2 = 0;
    char *other = doc_variant(doc, uuid, "pub-b", &l2);
    post(&s, other, l2, &r);
    expect_error(&r, 409, "run.uuid");
    cr_assert_not_null(strstr(error_of(&r), uuid), "%s", r.body);
    resp_free(&r);
    cr_assert_eq(count_runs(), 1);
    assert_integrity();
    srv_stop_clean(&s);
    free(other);
    free(doc);
}

/* A bad document (taken over): status and message, and the DB still
 * holds exactly `runs` runs and passes the integrity check. */
static void bad_doc(const srv *s, char *body, size_t len, long status, const char *want, int runs)
{
    resp r;
    post(s, body, len, &r);
    expect_error(&r, status, want);
    resp_free(&r);
    free(body);
    cr_assert_eq(count_runs(), runs, "nothing stored after a %ld (%s)", status, want);
    assert_integrity();
}

/* The document with one member replaced: path "run.uuid", "cases",
 * "schema_version", "cases[0].samples[0]" ... by v (taken over). */
static char *doc_with(const char *doc, const char *path, cJSON *v, size_t *len)
{
    cJSON *j = cJSON_Parse(doc);
    cr_assert_not_null(j);
    cJSON *parent = j;
    char key[64];
    const char *p = path;
    for (;;) {
        size_t k = strcspn(p, ".[");
        snprintf(key, sizeof key, "%.*s", (int)k, p);
        p += k;
        int idx = -1;
        if (*p == '[') {
            idx = atoi(p + 1);
            p = strchr(p, ']') + 1;
        }
        if (!*p) {
            if (idx < 0) {
                cr_assert(cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v), "%s", path);
            } else {
                cJSON *arr = cJSON_GetObjectItemCaseSensitive(parent, key);
                cr_assert(cJSON_ReplaceItemInArray(arr, idx, v), "%s", path);
            }
            break;
        }
        parent = cJSON_GetObjectItemCaseSensitive(parent, key);
        if (idx >= 0)
            parent = cJSON_GetArrayItem(parent, idx);
        cr_assert_not_null(parent, "%s", path);
        if (*p == '.')
            p++;
    }
    char *t = cJSON_PrintUnformatted(j);
    cr_assert_not_null(t);
    cJSON_Delete(j);
    *len = strlen(t);
    return t;
}

Test(serve, bad_input_is_refused_and_nothing_stored)
{
    size_t len = 0;
    char *doc = make_doc(3, &len);
    srv s = srv_start((const char *const[]){"--max-body", "200000", NULL});
    resp r;
    post(&s, doc, len, &r);
    cr_assert_eq(r.code, 201, "%ld %s", r.code, r.body ? r.body : "");
    resp_free(&r);
    cr_assert_eq(count_runs(), 1);

    char uuid[40];
    uuid_n(uuid, 1);
    size_t l = 0;
    char *fresh = doc_variant(doc, uuid, NULL, &l);

    /* token */
    http(&s, "POST", "/api/v1/runs", NULL, "application/json", fresh, l, &r);
    expect_error(&r, 401, "missing bearer token");
    cr_assert_not_null(strcasestr(r.hdr, "WWW-Authenticate: Bearer"), "%s", r.hdr);
    resp_free(&r);
    http(&s, "POST", "/api/v1/runs", TOKEN "x", "application/json", fresh, l, &r);
    expect_error(&r, 401, "wrong bearer token");
    resp_free(&r);
    http(&s, "POST", "/api/v1/runs", "t0ken", "application/json", fresh, l, &r);
    expect_error(&r, 401, "wrong bearer token");
    resp_free(&r);
    cr_assert_eq(count_runs(), 1);

    /* content type */
    http(&s, "POST", "/api/v1/runs", TOKEN, "text/plain", fresh, l, &r);
    expect_error(&r, 415, "Content-Type must be application/json, got \"text/plain\"");
    resp_free(&r);
    http(&s, "POST", "/api/v1/runs", TOKEN, NULL, fresh, l, &r);
    expect_error(&r, 415, "got none");
    resp_free(&r);
    /* application/json with a charset is JSON */
    http(&s, "POST", "/api/v1/runs", TOKEN, "application/json; charset=utf-8", fresh, l, &r);
    cr_assert_eq(r.code, 201, "%ld %s", r.code, r.body ? r.body : "");
    resp_free(&r);
    cr_assert_eq(count_runs(), 2);
    assert_stored(uuid, 3);
    /* the rest must leave the two runs as they are */
    uuid_n(uuid, 2);
    free(fresh);
    fresh = doc_variant(doc, uuid, NULL, &l);

    /* size: declared over --max-body (answered before the body is read) */
    char *big = malloc(300000);
    cr_assert_not_null(big);
    memset(big, ' ', 300000);
    memcpy(big, fresh, l);
    http(&s, "POST", "/api/v1/runs", TOKEN, "application/json", big, 300000, &r);
    expect_error(&r, 413, "300000 bytes is over the limit of 200000 bytes (--max-body)");
    resp_free(&r);
    cr_assert_eq(count_runs(), 2);

    /* the body: cut, not JSON, another schema, wrong types, not finite,
     * no cases */
    char want[96];
    snprintf(want, sizeof want, "truncated JSON: the text ends at byte %zu", l / 2);
    bad_doc(&s, strndup(fresh, l / 2), l / 2, 400, want, 2);
    static const char malformed[] = "{\"schema\": \"bnbench.run\", \"schema_version\": 1,,}";
    bad_doc(&s, strdup(malformed), strlen(malformed), 400, "malformed JSON at byte 47", 2);
    bad_doc(&s, strdup(""), 0, 400, "empty document", 2);
    size_t bl = 0;
    char *b = doc_with(fresh, "schema_version", cJSON_CreateNumber(2), &bl);
    bad_doc(&s, b, bl, 400, "schema_version", 2);
    b = doc_with(fresh, "run.uuid", cJSON_CreateNumber(7), &bl);
    bad_doc(&s, b, bl, 400, "run.uuid", 2);
    b = doc_with(fresh, "cases", cJSON_CreateString("many"), &bl);
    bad_doc(&s, b, bl, 400, "cases", 2);
    b = doc_with(fresh, "cases[1].samples[2]", cJSON_CreateString("fast"), &bl);
    bad_doc(&s, b, bl, 400, "cases[1].samples[2]", 2);
    b = doc_with(fresh, "cases[2].samples[0]", cJSON_CreateRaw("1e999"), &bl);
    cr_assert_not_null(strstr(b, "1e999"));
    bad_doc(&s, b, bl, 400, "cases[2].samples[0]", 2);
    b = doc_with(fresh, "cases[0].iterations", cJSON_CreateRaw("-1e999"), &bl);
    bad_doc(&s, b, bl, 400, "cases[0].iterations", 2);
    b = doc_with(fresh, "cases", cJSON_CreateArray(), &bl);
    bad_doc(&s, b, bl, 400, "cases", 2);
    /* the body sent in chunks, without a length, grows past --max-body */
    memset(big, ' ', 300000);
    memcpy(big, fresh, l);
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/runs", s.port);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    memset(&r, 0, sizeof r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)300000);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    r.cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    expect_error(&r, 413, "more than 200000 bytes, the limit (--max-body)");
    resp_free(&r);
    cr_assert_eq(count_runs(), 2);
    assert_integrity();
    free(big);
    free(fresh);
    free(doc);
    srv_stop_clean(&s);
}

/* A 100 MB string: over the default --max-body (64 MiB) it is answered 413
 * before the body is read; with --max-body 256M it reaches the parser, which
 * names the field. --max-body stops at 1G. */
static char *doc_with_string(const char *doc, size_t bytes, size_t *bl)
{
    char *str = malloc(bytes + 1);
    cr_assert_not_null(str);
    memset(str, 'a', bytes);
    str[bytes] = '\0';
    char *b = doc_with(doc, "run.commit", cJSON_CreateString(str), bl);
    free(str);
    cr_assert_gt(*bl, bytes);
    return b;
}

Test(serve, huge_strings)
{
    size_t len = 0, bl = 0;
    char *doc = make_doc(2, &len);
    char *b = doc_with_string(doc, (size_t)100 << 20, &bl);
    resp r;
    srv s = srv_start(NULL);
    post(&s, b, bl, &r);
    expect_error(&r, 413, "over the limit of 67108864 bytes (--max-body)");
    resp_free(&r);
    srv_stop_clean(&s);

    s = srv_start((const char *const[]){"--max-body", "256M", NULL});
    post(&s, b, bl, &r);
    expect_error(&r, 400, "run.commit: is 104857600 bytes long, at most 47 allowed");
    resp_free(&r);
    free(b);
    post(&s, doc, len, &r); /* the raised limit takes ordinary runs as before */
    cr_assert_eq(r.code, 201, "%s", r.body);
    resp_free(&r);
    srv_stop_clean(&s);
    cr_assert_eq(count_runs(), 1);
    assert_integrity();

    static const char *const bad[] = {"1025M", "1073741825", "2G", "0", "12X", "-1", "1MB", "M"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_result *fr = malloc(sizeof *fr);
        cr_assert_not_null(fr);
        FX_BNBENCH(fr, dir, "serve", "--db", dbp, "--max-body", bad[i]);
        cr_assert_eq(fr->code, 2, "--max-body %s", bad[i]);
        char want[64];
        snprintf(want, sizeof want, "up to 1G, got \"%s\"", bad[i]);
        cr_assert_not_null(strstr(fr->err, want), "%s", fr->err);
        free(fr);
    }
    free(doc);
}

Test(serve, without_token_file_read_only)
{
    size_t len = 0;
    char *doc = make_doc(2, &len);
    srv s = srv_start_args(false, NULL);
    resp r;
    post(&s, doc, len, &r);
    expect_error(&r, 401, "no token configured");
    resp_free(&r);
    http(&s, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    cr_assert_eq(r.code, 200);
    resp_free(&r);
    srv_stop_clean(&s);
    cr_assert_eq(count_runs(), 0);
    free(doc);
}

/* ---- signals ------------------------------------------------------------------ */

/* An upload that stops halfway until `go` is set. */
typedef struct slow {
    const srv *s;
    const char *body;
    size_t len, sent;
    atomic_bool half_sent, go;
    resp r;
} slow;

static size_t slow_read(char *buf, size_t sz, size_t n, void *ud)
{
    slow *w = ud;
    size_t want = sz * n;
    if (w->sent >= w->len / 2 && !atomic_load(&w->go)) {
        atomic_store(&w->half_sent, true);
        while (!atomic_load(&w->go))
            usleep(1000);
    }
    size_t lim = atomic_load(&w->go) ? w->len : w->len / 2;
    size_t k = lim - w->sent < want ? lim - w->sent : want;
    memcpy(buf, w->body + w->sent, k);
    w->sent += k;
    return k;
}

static void *slow_post(void *arg)
{
    slow *w = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/runs", w->s->port);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(c, CURLOPT_READDATA, w);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &w->r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &w->r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    w->r.cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->r.code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

/* SIGTERM while two uploads are halfway: the server stops taking new
 * connections, lets both finish, stores both, exits 0. */
Test(serve, sigterm_finishes_requests_in_flight)
{
    size_t len = 0;
    char *doc = make_doc(20, &len);
    srv s = srv_start(NULL);
    enum { NW = 2 };
    slow w[NW];
    char *bodies[NW];
    char uuids[NW][40];
    pthread_t t[NW];
    for (int i = 0; i < NW; i++) {
        uuid_n(uuids[i], 100 + i);
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = &s;
        w[i].body = bodies[i] = doc_variant(doc, uuids[i], NULL, &w[i].len);
        cr_assert_eq(pthread_create(&t[i], NULL, slow_post, &w[i]), 0);
    }
    for (int i = 0; i < NW; i++)
        while (!atomic_load(&w[i].half_sent))
            usleep(1000);
    usleep(200000); /* the halves are in the server's buffers */
    cr_assert_eq(kill(s.pid, SIGTERM), 0);
    usleep(300000); /* the server is draining: it must not exit yet */
    int st = 0;
    cr_assert_eq(waitpid(s.pid, &st, WNOHANG), 0, "serve exited with requests in flight");
    for (int i = 0; i < NW; i++)
        atomic_store(&w[i].go, true);
    for (int i = 0; i < NW; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].r.code, 201, "upload %d: %ld %s (%s)", i, w[i].r.code,
                     w[i].r.body ? w[i].r.body : "", curl_easy_strerror(w[i].r.cc));
        resp_free(&w[i].r);
        free(bodies[i]);
    }
    cr_assert_eq(waitpid(s.pid, &st, 0), s.pid);
    live_server = 0;
    char out[4096], err[4096];
    fx_read(outp, out, sizeof out);
    fx_read(errp, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
    cr_assert_not_null(strstr(out, "stopped on SIGTERM: 2 runs stored"), "%s", out);
    for (int i = 0; i < NW; i++)
        assert_stored(uuids[i], 20);
    cr_assert_eq(count_runs(), NW);
    assert_integrity();
    free(doc);
}

/* Publishers posting in a loop; every acknowledged uuid is recorded. */
typedef struct publisher {
    const srv *s;
    const char *doc;
    int id;
    atomic_bool *stop;
    atomic_int nacked; /* acked[0..nacked) are written */
    char acked[256][40];
} publisher;

static void *publish_loop(void *arg)
{
    publisher *p = arg;
    for (int k = 0; k < 256 && !atomic_load(p->stop); k++) {
        char uuid[40];
        uuid_n(uuid, p->id * 1000 + k);
        size_t l = 0;
        char *b = doc_variant(p->doc, uuid, NULL, &l);
        resp r;
        post(p->s, b, l, &r);
        free(b);
        if (r.code == 201 || r.code == 200) {
            snprintf(p->acked[atomic_load(&p->nacked)], 40, "%s", uuid);
            atomic_fetch_add(&p->nacked, 1);
        }
        bool down = r.cc != CURLE_OK;
        resp_free(&r);
        if (down)
            break;
    }
    return NULL;
}

Test(serve, sigkill_mid_stream_keeps_acknowledged_runs)
{
    size_t len = 0;
    char *doc = make_doc(40, &len);
    srv s = srv_start(NULL);
    enum { NP = 4 };
    static publisher p[NP];
    atomic_bool stop = false;
    pthread_t t[NP];
    for (int i = 0; i < NP; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].s = &s;
        p[i].doc = doc;
        p[i].id = i + 1;
        p[i].stop = &stop;
        cr_assert_eq(pthread_create(&t[i], NULL, publish_loop, &p[i]), 0);
    }
    /* kill once runs are flowing: a commit may be under way right now */
    for (int waited = 0; waited < 60000; waited += 5) {
        int n = 0;
        for (int i = 0; i < NP; i++)
            n += atomic_load(&p[i].nacked);
        if (n >= 12)
            break;
        usleep(5000);
    }
    int st = srv_stop(&s, SIGKILL);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    atomic_store(&stop, true);
    int acked = 0;
    for (int i = 0; i < NP; i++) {
        pthread_join(t[i], NULL);
        acked += atomic_load(&p[i].nacked);
    }
    cr_assert_geq(acked, 12);

    /* restarted on the same DB: it opens (quick check), and holds every
     * acknowledged run whole */
    s = srv_start(NULL);
    resp r;
    http(&s, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    cr_assert_eq(r.code, 200);
    resp_free(&r);
    srv_stop_clean(&s);
    assert_integrity();
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < p[i].nacked; k++)
            assert_stored(p[i].acked[k], 40);
    /* a run the kill cut short is absent, not half there */
    char err[BNB_ERR_MAX];
    bnb_db *db = NULL;
    cr_assert_eq(bnb_db_open(dbp, 1, &db, err), 0, "%s", err);
    bnb_run_row *rows = NULL;
    int n = 0;
    cr_assert_eq(bnb_db_list_runs(db, 0, &rows, &n, err), 0, "%s", err);
    cr_assert_geq(n, acked);
    cr_assert_leq(n, acked + NP, "at most one unacknowledged commit per publisher");
    for (int i = 0; i < n; i++)
        cr_assert_eq(rows[i].ncases, 40, "run %s has %d of 40 cases", rows[i].uuid, rows[i].ncases);
    free(rows);
    bnb_db_close(db);
    free(doc);
}
