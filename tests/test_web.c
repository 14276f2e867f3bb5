/*
 * test_web.c - the fleet web view and read API (reports/web.h) without a
 * socket: bnb_web_get on a DB planted with runs of three machines.
 *
 * alpha: run 1 and run 2 complete (run 2's GEMM 20% slower, a failed case,
 * verdicts 2 met / 1 missed / 1 not measured), run 3 still running;
 * "<script>alert(1)</script>": one complete run (a name that must be
 * escaped everywhere); gamma: one interrupted run (no complete run). Each
 * route is checked for status, content type and content: names, the score
 * and readiness its report computes, the verdict counts, the compare
 * verdicts as compare.c computes them, validation of every query argument,
 * 404 for unknown paths and runs, and 500 with the DB's message when a
 * table is gone.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "db/db.h"
#include "db/rundoc.h"
#include "reports/compare.h"
#include "reports/report.h"
#include "reports/web.h"
#include "report_fixture.h"

#define EVIL     "<script>alert(1)</script>"
#define EVIL_ESC "&lt;script&gt;alert(1)&lt;/script&gt;"
#define HTML     "text/html; charset=utf-8"
#define JSON     "application/json"

static char dir[64];
static char path[128];
static bnb_db *db;
static int64_t a1, a2, a3, e1, g1, alpha_id;
static char a1_uuid[40], a2_uuid[40], a3_uuid[40], e1_uuid[40];

typedef struct kv {
    const char *k, *v;
} kv;

static const char *args_of(void *ctx, const char *name)
{
    for (const kv *p = ctx; p && p->k; p++)
        if (!strcmp(p->k, name))
            return p->v;
    return NULL;
}

static void uuid_of(int64_t run, char *out)
{
    bnb_run_row row;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_get_run_row(db, run, &row, err), 0, "%s", err);
    snprintf(out, 40, "%s", row.uuid);
}

static void gemm(int64_t run, double centre)
{
    double x[15];
    fx_dist(x, 15, centre, 0.02, 0);
    fx_case(db, run, "plant", "gemm", "n", "64", x, 15, "gflops", "GFLOP/s",
            2.0 * 64 * 64 * 64 / 1e9);
}

static void failed_case(int64_t run)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "plant");
    snprintf(r.name, sizeof r.name, "broken");
    r.status = BNB_CASE_FAILED;
    snprintf(r.message, sizeof r.message, "result differs from the reference");
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(db, run, &r, err), 0, "%s", err);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-web-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.db", dir);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);

    a1 = fx_run(db, "alpha", "2026-11-01T10:00:00Z", "nightly", NULL);
    gemm(a1, 1.0e-3);
    fx_simple(db, a1, "alloc", 15, 2.0e-6, 0.02, 0);
    fx_verdict(db, a1, "gemm-rate", "plant/gemm/n=64:gflops", ">=", 0.1, 0.52, true, "met", "");
    fx_end(db, a1);

    a2 = fx_run(db, "alpha", "2026-11-02T10:00:00Z", "nightly", NULL);
    gemm(a2, 1.2e-3);
    fx_simple(db, a2, "alloc", 15, 2.0e-6, 0.02, 0.5);
    failed_case(a2);
    fx_verdict(db, a2, "gemm-rate", "plant/gemm/n=64:gflops", ">=", 0.1, 0.44, true, "met", "");
    fx_verdict(db, a2, "alloc-rate", "plant/alloc:median_s", "<=", 1e-5, 2e-6, true, "met", "");
    fx_verdict(db, a2, "gemm-peak", "plant/gemm/n=64:gflops", ">=", 100, 0.44, true, "missed", "");
    fx_verdict(db, a2, "counters", "plant/gemm/n=64:counter.cycles", ">=", 1, NAN, false,
               "not measured", "no PMU in this VM");
    fx_end(db, a2);

    a3 = fx_run(db, "alpha", "2026-11-03T10:00:00Z", "nightly", NULL); /* still running */
    gemm(a3, 1.0e-3);

    e1 = fx_run(db, EVIL, "2026-11-02T12:00:00Z", "manual", NULL);
    gemm(e1, 0.5e-3);
    fx_verdict(db, e1, "gemm-rate", "plant/gemm/n=64:gflops", ">=", 0.1, 1.0, true, "met", "");
    fx_end(db, e1);

    g1 = fx_run(db, "gamma", "2026-11-01T08:00:00Z", "nightly", NULL);
    gemm(g1, 1.0e-3);
    cr_assert_eq(bnb_db_end_run(db, g1, BNB_RUN_INTERRUPTED, err), 0, "%s", err);

    uuid_of(a1, a1_uuid);
    uuid_of(a2, a2_uuid);
    uuid_of(a3, a3_uuid);
    uuid_of(e1, e1_uuid);
    cr_assert_eq(bnb_db_run_machine(db, a1, &alpha_id, err), 0, "%s", err);
}

static void teardown(void)
{
    bnb_db_close(db);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(web, .init = setup, .fini = teardown, .timeout = 60);

/* GET path with args; asserts the call succeeded, the status and the type. */
static void get(const char *p, const kv *args, int status, const char *type, bnb_web_resp *r)
{
    cr_assert_eq(bnb_web_get(db, p, args_of, (void *)args, r), 0, "GET %s", p);
    cr_assert_not_null(r->body, "GET %s", p);
    cr_assert_eq(r->len, strlen(r->body), "GET %s: body length", p);
    cr_assert_eq(r->status, status, "GET %s: status %d, expected %d: %.300s", p, r->status, status,
                 r->body);
    cr_assert_str_eq(r->content_type, type, "GET %s", p);
}

static void has(const bnb_web_resp *r, const char *s)
{
    cr_assert_not_null(strstr(r->body, s), "\"%s\" not in the answer: %.400s", s, r->body);
}

static void hasnt(const bnb_web_resp *r, const char *s)
{
    cr_assert_null(strstr(r->body, s), "\"%s\" in the answer", s);
}

/* A self-contained page: no script, no external resource. */
static void self_contained(const bnb_web_resp *r)
{
    hasnt(r, "<script");
    hasnt(r, "src=");
    hasnt(r, "stylesheet");
    const char *p = r->body;
    while ((p = strstr(p, "http")) != NULL) {
        cr_assert(!strncmp(p, "http://www.w3.org/2000/svg", 26), "external URL: %.60s", p);
        p += 4;
    }
}

static cJSON *json_of(const bnb_web_resp *r)
{
    cJSON *j = cJSON_Parse(r->body);
    cr_assert_not_null(j, "not JSON: %.300s", r->body);
    return j;
}

/* The error message of a JSON error answer contains want. */
static void json_err(const bnb_web_resp *r, const char *want)
{
    cJSON *j = json_of(r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    cr_assert(cJSON_IsString(e), "no error string: %s", r->body);
    cr_assert_not_null(strstr(e->valuestring, want), "error \"%s\" lacks \"%s\"", e->valuestring,
                       want);
    cJSON_Delete(j);
}

static void score_text(int64_t run, char *buf, size_t cap, const char **word)
{
    double s, cov;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_report_score(db, run, &s, &cov, word, err, sizeof err), 0, "%s", err);
    snprintf(buf, cap, "%.1f/100", s);
}

Test(web, fleet_page_lists_machines_with_latest_run_score_and_verdicts)
{
    bnb_web_resp r;
    get("/", NULL, 200, HTML, &r);
    self_contained(&r);
    has(&r, ">alpha</a>");
    has(&r, ">gamma</a>");
    has(&r, EVIL_ESC);
    hasnt(&r, EVIL);
    /* alpha's latest complete run is run 2 (run 3 is still running) */
    char link[80], sc[32];
    snprintf(link, sizeof link, "href=\"/runs/%s\"", a2_uuid);
    has(&r, link);
    const char *word = NULL;
    score_text(a2, sc, sizeof sc, &word);
    char row[256];
    snprintf(row, sizeof row,
             "<td class=\"r score\">%s</td><td class=\"nw\"><span class=\"v %s\">%s</span>", sc,
             !strcmp(word, "READY")       ? "good"
             : !strcmp(word, "NOT READY") ? "bad"
                                          : "na",
             word);
    has(&r, row);
    /* alpha run 2: 3 cases, 1 failed; verdicts 2 met, 1 missed, 1 not measured, 0 n.a. */
    has(&r, "<td class=\"r\">3</td><td class=\"r\">1</td>");
    has(&r, "<td class=\"r\">2</td><td class=\"r\">1</td><td class=\"r\">1 / 0</td>");
    /* the escaped machine's run and score */
    score_text(e1, sc, sizeof sc, &word);
    has(&r, sc);
    snprintf(link, sizeof link, "href=\"/runs/%s\"", e1_uuid);
    has(&r, link);
    has(&r, "no complete run"); /* gamma */
    has(&r, "3 machines, 5 runs stored");
    /* the compare form offers the machines with a complete run */
    has(&r, "<option value=\"alpha\"");
    has(&r, "<option value=\"" EVIL_ESC "\"");
    hasnt(&r, "<option value=\"gamma\"");
    bnb_web_resp_free(&r);
}

Test(web, machine_page_has_history_charts_and_runs)
{
    char p[64];
    snprintf(p, sizeof p, "/machines/%lld", (long long)alpha_id);
    bnb_web_resp r;
    get(p, NULL, 200, HTML, &r);
    self_contained(&r);
    has(&r, "<h1>Machine alpha</h1>");
    has(&r, "<svg");
    has(&r, "<title>plant/gemm/n=64:gflops</title>"); /* the target's figure */
    has(&r, "<title>plant/alloc:median_s</title>");
    /* every run, the running one too, newest first */
    char s1[16], s2[16], s3[16];
    snprintf(s1, sizeof s1, ">%.8s<", a1_uuid);
    snprintf(s2, sizeof s2, ">%.8s<", a2_uuid);
    snprintf(s3, sizeof s3, ">%.8s<", a3_uuid);
    const char *runs = strstr(r.body, "id=\"runs\"");
    cr_assert_not_null(runs);
    const char *p1 = strstr(runs, s1), *p2 = strstr(runs, s2), *p3 = strstr(runs, s3);
    cr_assert(p1 && p2 && p3 && p3 < p2 && p2 < p1, "runs missing or out of order");
    has(&r, "running");
    char cmp[160];
    snprintf(cmp, sizeof cmp, "href=\"/compare?a=%s&amp;b=%s\"", a1_uuid, a2_uuid);
    has(&r, cmp);
    char sc[32];
    const char *word;
    score_text(a2, sc, sizeof sc, &word);
    has(&r, sc);
    bnb_web_resp_free(&r);

    get("/machines/99999", NULL, 404, HTML, &r);
    has(&r, "no machine 99999");
    bnb_web_resp_free(&r);
    get("/machines/abc", NULL, 404, HTML, &r);
    has(&r, "no machine &quot;abc&quot;");
    bnb_web_resp_free(&r);
    get("/machines/", NULL, 404, HTML, &r);
    bnb_web_resp_free(&r);
}

Test(web, machine_page_escapes_the_name)
{
    int64_t mid;
    char err[BNB_ERR_MAX], p[64];
    cr_assert_eq(bnb_db_run_machine(db, e1, &mid, err), 0, "%s", err);
    snprintf(p, sizeof p, "/machines/%lld", (long long)mid);
    bnb_web_resp r;
    get(p, NULL, 200, HTML, &r);
    has(&r, "<h1>Machine " EVIL_ESC "</h1>");
    hasnt(&r, EVIL);
    self_contained(&r);
    bnb_web_resp_free(&r);
}

Test(web, run_page_is_the_readiness_report)
{
    char p[80];
    snprintf(p, sizeof p, "/runs/%s", a2_uuid);
    bnb_web_resp r;
    get(p, NULL, 200, HTML, &r);
    self_contained(&r);
    has(&r, "<link rel=\"icon\" href=\"data:,\"></head>");
    has(&r, "<nav><a href=\"/\">Fleet</a>");
    char sc[32];
    const char *word;
    score_text(a2, sc, sizeof sc, &word);
    has(&r, sc);
    has(&r, word);
    has(&r, "gemm-peak"); /* the missed target */
    bnb_web_resp_free(&r);

    /* a uuid prefix of 8 characters names the run too */
    snprintf(p, sizeof p, "/runs/%.8s", e1_uuid);
    get(p, NULL, 200, HTML, &r);
    has(&r, EVIL_ESC);
    hasnt(&r, EVIL);
    bnb_web_resp_free(&r);

    get("/runs/00000000-0000-4000-8000-000000000000", NULL, 404, HTML, &r);
    has(&r, "no run with UUID");
    bnb_web_resp_free(&r);
    get("/runs/%3Cb%3E", NULL, 404, HTML, &r);
    hasnt(&r, "<b>");
    bnb_web_resp_free(&r);
}

/* The counts line as compare.c's rule gives it for runs x and y. */
static void expected_counts(int64_t x, int64_t y, char *buf, size_t cap, bnb_cmp_verdict *gemm_v)
{
    bnb_case_result *ca, *cb;
    int na, nb, n;
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_load_cases(db, x, &ca, &na, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_cases(db, y, &cb, &nb, err), 0, "%s", err);
    bnb_cmp_row *rows;
    cr_assert_eq(bnb_compare_runs(ca, na, cb, nb, NULL, &rows, &n), 0);
    int c[5] = {0};
    for (int i = 0; i < n; i++) {
        c[rows[i].verdict]++;
        if (!strcmp(rows[i].key, "plant/gemm/n=64"))
            *gemm_v = rows[i].verdict;
    }
    snprintf(buf, cap,
             "%d faster, %d slower, %d no change, %d insufficient samples, %d not comparable", c[1],
             c[2], c[0], c[3], c[4]);
    free(rows);
    bnb_db_free_cases(ca, na);
    bnb_db_free_cases(cb, nb);
}

Test(web, compare_page_by_uuid_and_by_machine)
{
    kv args[] = {{"a", a1_uuid}, {"b", a2_uuid}, {NULL, NULL}};
    bnb_web_resp r;
    get("/compare", args, 200, HTML, &r);
    self_contained(&r);
    char counts[200];
    bnb_cmp_verdict gv = BNB_CMP_SAME;
    expected_counts(a1, a2, counts, sizeof counts, &gv);
    cr_assert_eq(gv, BNB_CMP_SLOWER, "the planted 20%% slowdown");
    has(&r, counts);
    has(&r, "<table id=\"compare\">");
    has(&r, "<tr><td>plant/gemm/n=64</td>");
    has(&r, "<span class=\"v bad\">slower</span>");
    has(&r, "<svg"); /* the change bars, titled for what the page compares */
    has(&r, "<title>median change of B against A (left: B faster, right: B slower)</title>");
    cr_assert(!strstr(r.body, "baseline (left"), "the compare page has no baseline");
    has(&r, "only in B"); /* the failed case exists in run 2 only */
    bnb_web_resp_free(&r);

    /* machines: alpha's latest complete run (2) against the escaped one's */
    kv bym[] = {{"a", "alpha"}, {"b", EVIL}, {NULL, NULL}};
    get("/compare", bym, 200, HTML, &r);
    expected_counts(a2, e1, counts, sizeof counts, &gv);
    cr_assert_eq(gv, BNB_CMP_FASTER);
    has(&r, counts);
    has(&r, "latest complete run of machine alpha");
    has(&r, EVIL_ESC);
    hasnt(&r, EVIL);
    has(&r, "<span class=\"v good\">faster</span>");
    bnb_web_resp_free(&r);

    /* a uuid prefix on one side */
    char pre[16];
    snprintf(pre, sizeof pre, "%.8s", a1_uuid);
    kv mix[] = {{"a", pre}, {"b", "alpha"}, {NULL, NULL}};
    get("/compare", mix, 200, HTML, &r);
    expected_counts(a1, a2, counts, sizeof counts, &gv);
    has(&r, counts);
    bnb_web_resp_free(&r);
}

Test(web, compare_page_errors_and_form)
{
    bnb_web_resp r;
    get("/compare", NULL, 200, HTML, &r);
    has(&r, "<form method=\"get\" action=\"/compare\">");
    has(&r, "<option value=\"alpha\"");
    bnb_web_resp_free(&r);

    kv only_a[] = {{"a", "alpha"}, {NULL, NULL}};
    get("/compare", only_a, 400, HTML, &r);
    has(&r, "argument b is missing");
    bnb_web_resp_free(&r);

    kv unknown[] = {{"a", "nosuch"}, {"b", "alpha"}, {NULL, NULL}};
    get("/compare", unknown, 404, HTML, &r);
    has(&r, "a=nosuch: no run UUID and no machine of that name");
    bnb_web_resp_free(&r);

    kv incomplete[] = {{"a", "alpha"}, {"b", "gamma"}, {NULL, NULL}};
    get("/compare", incomplete, 404, HTML, &r);
    has(&r, "machine &quot;gamma&quot; has no complete run");
    bnb_web_resp_free(&r);
}

static int array_size(const cJSON *j, const char *k)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, k);
    cr_assert(cJSON_IsArray(a), "no array %s", k);
    return cJSON_GetArraySize(a);
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsString(s), "no string %s", k);
    return s->valuestring;
}

static double num_at(const cJSON *o, const char *k)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsNumber(s), "no number %s", k);
    return s->valuedouble;
}

/* The uuids of /api/v1/runs with args, in order, into out (n returned). */
static int api_uuids(const kv *args, char out[][40], int cap)
{
    bnb_web_resp r;
    get("/api/v1/runs", args, 200, JSON, &r);
    cJSON *j = json_of(&r);
    int n = array_size(j, "runs");
    cr_assert_eq((int)num_at(j, "count"), n);
    cr_assert_leq(n, cap);
    for (int i = 0; i < n; i++)
        snprintf(
            out[i], 40, "%s",
            str_at(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "runs"), i), "uuid"));
    cJSON_Delete(j);
    bnb_web_resp_free(&r);
    return n;
}

Test(web, api_runs_filters_newest_first)
{
    char u[8][40];
    /* all five, newest first: a3, e1, a2, a1, g1 */
    cr_assert_eq(api_uuids(NULL, u, 8), 5);
    cr_assert_str_eq(u[0], a3_uuid);
    cr_assert_str_eq(u[1], e1_uuid);
    cr_assert_str_eq(u[2], a2_uuid);
    cr_assert_str_eq(u[3], a1_uuid);

    kv m[] = {{"machine", "alpha"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(m, u, 8), 3);
    cr_assert_str_eq(u[2], a1_uuid);

    kv lim[] = {{"limit", "2"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(lim, u, 8), 2);
    cr_assert_str_eq(u[1], e1_uuid);

    kv since[] = {{"since", "2026-11-02T10:00:00Z"}, {"machine", "alpha"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(since, u, 8), 2); /* a3, a2 (at the instant itself) */
    cr_assert_str_eq(u[1], a2_uuid);

    /* an offset counts: 11:00+02:00 is 09:00Z, before a2 */
    kv off[] = {{"since", "2026-11-02T11:00+02:00"}, {"machine", "alpha"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(off, u, 8), 2);
    kv late[] = {{"since", "2026-11-02T13:00:00+02:00"}, {"machine", "alpha"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(late, u, 8), 1); /* 11:00Z: a3 only */
    kv plus[] = {{"since", "2026-11-02T13:00:00 02:00"}, {"machine", "alpha"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(plus, u, 8), 1, "a '+' decoded to a space is read as '+'");
    kv day[] = {{"since", "2026-11-02"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(day, u, 8), 3);
    kv none[] = {{"machine", "nosuch"}, {NULL, NULL}};
    cr_assert_eq(api_uuids(none, u, 8), 0);

    /* one entry in full */
    bnb_web_resp r;
    kv one[] = {{"machine", EVIL}, {NULL, NULL}};
    get("/api/v1/runs", one, 200, JSON, &r);
    cJSON *j = json_of(&r);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "runs"), 0);
    cr_assert_str_eq(str_at(e, "machine"), EVIL);
    cr_assert_str_eq(str_at(e, "status"), "complete");
    cr_assert_str_eq(str_at(e, "started_at"), "2026-11-02T12:00:00Z");
    cr_assert_eq((int)num_at(e, "cases"), 1);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "verdicts");
    cr_assert_eq((int)num_at(v, "met"), 1);
    cr_assert_eq((int)num_at(v, "missed"), 0);
    char doc[80];
    snprintf(doc, sizeof doc, "/api/v1/runs/%s", e1_uuid);
    cr_assert_str_eq(str_at(e, "document"), doc);
    cr_assert_eq((int)num_at(j, "limit"), 100);
    cJSON_Delete(j);
    bnb_web_resp_free(&r);
}

Test(web, api_runs_rejects_bad_arguments)
{
    static const char *const bad_limits[] = {"0", "1001", "-1",  "abc",
                                             "",  "10x",  "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        kv a[] = {{"limit", bad_limits[i]}, {NULL, NULL}};
        bnb_web_resp r;
        get("/api/v1/runs", a, 400, JSON, &r);
        char want[80];
        snprintf(want, sizeof want,
                 "limit must be a positive integer no larger than 1000, got "
                 "\"%s\"",
                 bad_limits[i]);
        json_err(&r, want);
        bnb_web_resp_free(&r);
    }
    kv ok[] = {{"limit", "1000"}, {NULL, NULL}};
    bnb_web_resp r;
    get("/api/v1/runs", ok, 200, JSON, &r);
    bnb_web_resp_free(&r);

    static const char *const bad_since[] = {"yesterday",        "2026-13-01",
                                            "2026-02-30",       "2026-11-02T25:00",
                                            "2026-11-02 10:00", "12345",
                                            "2026-11-02T10",    "2026-11-02T10:00:00.Z",
                                            "2026-11-02Z",      "2026-11-02T10:00:00+2"};
    for (size_t i = 0; i < sizeof bad_since / sizeof bad_since[0]; i++) {
        kv a[] = {{"since", bad_since[i]}, {NULL, NULL}};
        get("/api/v1/runs", a, 400, JSON, &r);
        json_err(&r, "since must be an ISO-8601 timestamp");
        json_err(&r, bad_since[i]);
        bnb_web_resp_free(&r);
    }
    kv leap[] = {{"since", "2028-02-29T00:00:00.123456Z"}, {NULL, NULL}};
    get("/api/v1/runs", leap, 200, JSON, &r);
    bnb_web_resp_free(&r);
}

Test(web, api_run_is_the_published_document)
{
    char p[80];
    snprintf(p, sizeof p, "/api/v1/runs/%s", a2_uuid);
    bnb_web_resp r;
    get(p, NULL, 200, JSON, &r);
    /* the same text bnb_rundoc_build gives, and a document that parses back */
    size_t len = 0;
    char err[BNB_ERR_MAX];
    char *doc = bnb_rundoc_build(db, a2, &len, err);
    cr_assert_not_null(doc, "%s", err);
    cr_assert_eq(r.len, len);
    cr_assert_eq(memcmp(r.body, doc, len), 0);
    free(doc);
    bnb_rundoc *d = NULL;
    cr_assert_eq(bnb_rundoc_parse(r.body, r.len, &d, err), 0, "%s", err);
    cr_assert_str_eq(bnb_rundoc_uuid(d), a2_uuid);
    cr_assert_str_eq(bnb_rundoc_machine(d), "alpha");
    cr_assert_eq(bnb_rundoc_ncases(d), 3);
    bnb_rundoc_free(d);
    bnb_web_resp_free(&r);

    snprintf(p, sizeof p, "/api/v1/runs/%s", a3_uuid);
    get(p, NULL, 404, JSON, &r);
    json_err(&r, "still running");
    bnb_web_resp_free(&r);
    get("/api/v1/runs/00000000-0000-4000-8000-000000000000", NULL, 404, JSON, &r);
    json_err(&r, "no run with UUID \"00000000-0000-4000-8000-000000000000\"");
    bnb_web_resp_free(&r);
}

Test(web, api_machines_with_scores)
{
    bnb_web_resp r;
    get("/api/v1/machines", NULL, 200, JSON, &r);
    cJSON *j = json_of(&r);
    cr_assert_eq(array_size(j, "machines"), 3);
    int seen = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "machines"))
    {
        const char *name = str_at(m, "name");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "latest");
        if (!strcmp(name, "gamma")) {
            cr_assert(cJSON_IsNull(l));
            cr_assert_eq((int)num_at(m, "runs"), 1);
            seen |= 1;
            continue;
        }
        int64_t run = !strcmp(name, "alpha") ? a2 : e1;
        cr_assert(!strcmp(name, "alpha") || !strcmp(name, EVIL), "machine %s", name);
        double s, cov;
        const char *word;
        char err[BNB_ERR_MAX];
        cr_assert_eq(bnb_report_score(db, run, &s, &cov, &word, err, sizeof err), 0, "%s", err);
        cr_assert_float_eq(num_at(l, "score"), s, 1e-9);
        cr_assert_float_eq(num_at(l, "coverage"), cov, 1e-9);
        cr_assert_str_eq(str_at(l, "readiness"), word);
        cr_assert_str_eq(str_at(l, "uuid"), run == a2 ? a2_uuid : e1_uuid);
        if (run == a2) {
            cr_assert_eq((int)num_at(m, "runs"), 3);
            cr_assert_eq((int)num_at(l, "failed"), 1);
            cr_assert_eq(
                (int)num_at(cJSON_GetObjectItemCaseSensitive(l, "verdicts"), "not measured"), 1);
        }
        seen |= run == a2 ? 2 : 4;
    }
    cr_assert_eq(seen, 7);
    cJSON_Delete(j);
    bnb_web_resp_free(&r);
}

Test(web, api_compare_has_compares_verdicts)
{
    kv args[] = {{"a", "alpha"}, {"b", EVIL}, {NULL, NULL}};
    bnb_web_resp r;
    get("/api/v1/compare", args, 200, JSON, &r);
    cJSON *j = json_of(&r);
    /* the tree bnbench compare --format json prints, labels included */
    bnb_case_result *ca, *cb;
    int na, nb, n;
    char err[BNB_ERR_MAX], la[160], lb[160];
    cr_assert_eq(bnb_db_load_cases(db, a2, &ca, &na, err), 0, "%s", err);
    cr_assert_eq(bnb_db_load_cases(db, e1, &cb, &nb, err), 0, "%s", err);
    bnb_cmp_row *rows;
    cr_assert_eq(bnb_compare_runs(ca, na, cb, nb, NULL, &rows, &n), 0);
    snprintf(la, sizeof la, "run %lld (alpha)", (long long)a2);
    snprintf(lb, sizeof lb, "run %lld (%s)", (long long)e1, EVIL);
    cJSON *want = bnb_compare_json_tree(la, lb, rows, n, NULL);
    cr_assert_not_null(want);
    cr_assert_eq(bnb_compare_json_add_peers(want, NULL, NULL), 0);
    cr_assert(cJSON_Compare(j, want, true), "API compare differs from compare's tree:\n%s", r.body);
    cr_assert_str_eq(str_at(j, "a"), la);
    cr_assert_eq(array_size(j, "cases"), n);
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "cases"), 0);
    cr_assert_str_eq(str_at(c0, "case"), "plant/gemm/n=64");
    cr_assert_str_eq(str_at(c0, "verdict"), "faster");
    cJSON_Delete(want);
    free(rows);
    bnb_db_free_cases(ca, na);
    bnb_db_free_cases(cb, nb);
    cJSON_Delete(j);
    bnb_web_resp_free(&r);

    kv missing[] = {{"b", "alpha"}, {NULL, NULL}};
    get("/api/v1/compare", missing, 400, JSON, &r);
    json_err(&r, "argument a is missing");
    bnb_web_resp_free(&r);
    kv unknown[] = {{"a", "alpha"}, {"b", "zeta"}, {NULL, NULL}};
    get("/api/v1/compare", unknown, 404, JSON, &r);
    json_err(&r, "b=zeta: no run UUID and no machine of that name");
    bnb_web_resp_free(&r);
}

Test(web, unknown_paths_are_404)
{
    bnb_web_resp r;
    get("/nope", NULL, 404, HTML, &r);
    has(&r, "no page at /nope");
    bnb_web_resp_free(&r);
    get("/<i>x", NULL, 404, HTML, &r);
    hasnt(&r, "<i>");
    has(&r, "&lt;i&gt;x");
    bnb_web_resp_free(&r);
    get("/api/v1/nope", NULL, 404, JSON, &r);
    json_err(&r, "no API at /api/v1/nope");
    bnb_web_resp_free(&r);
    get("/api/v1/runs/", NULL, 404, JSON, &r);
    bnb_web_resp_free(&r);
}

/* A DB whose verdicts table is gone: every route that reads it is a 500
 * naming SQLite's reason, in the route's format. */
Test(web, db_error_is_500)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "DROP TABLE verdicts", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    bnb_web_resp r;
    get("/", NULL, 500, HTML, &r);
    has(&r, "no such table: verdicts");
    bnb_web_resp_free(&r);
    get("/api/v1/machines", NULL, 500, JSON, &r);
    json_err(&r, "no such table: verdicts");
    bnb_web_resp_free(&r);
    get("/api/v1/runs", NULL, 500, JSON, &r);
    json_err(&r, "no such table: verdicts");
    bnb_web_resp_free(&r);
}

/* The fleet's score path (no charts, samples read only for a baseline)
 * gives the score the full report prints, with and without a baseline. */
Test(web, score_matches_the_full_report)
{
    char err[BNB_ERR_MAX];
    for (int with_base = 0; with_base < 2; with_base++) {
        if (with_base)
            cr_assert_eq(bnb_db_set_baseline(db, "alpha-base", a1, err), 0, "%s", err);
        bnb_report_opts o = {.format = BNB_REPORT_JSON};
        char *text = NULL;
        double full = NAN, s = NAN, cov;
        const char *word;
        cr_assert_eq(bnb_report_render(db, a2, &o, &text, &full, err, sizeof err), 0, "%s", err);
        cr_assert_eq(bnb_report_score(db, a2, &s, &cov, &word, err, sizeof err), 0, "%s", err);
        cr_assert_float_eq(s, full, 1e-12, "baseline %d: %g vs %g", with_base, s, full);
        cJSON *j = cJSON_Parse(text);
        cr_assert_not_null(j);
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "score");
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(sc, "status")->valuestring, word);
        cJSON_Delete(j);
        free(text);
        if (with_base) {
            /* the planted 20% GEMM slowdown is a regression: the category is measured */
            cr_assert_lt(s, 100.0);
            bnb_web_resp r;
            get("/", NULL, 200, HTML, &r);
            char t[32];
            snprintf(t, sizeof t, "%.1f/100", s);
            has(&r, t);
            bnb_web_resp_free(&r);
        }
    }
}
