/*
 * test_report.c - the readiness report and publishing.
 *
 * A DB with known contents (a baseline run and a latest run with a met and
 * a missed target, a failed and a skipped case, unavailable counters, one
 * environment warning, a planted 20% GEMM regression) is rendered as
 * Markdown, HTML and JSON; the tests check the computed score against the
 * formula worked by hand, the targets table's values from the DB, that
 * every shortfall is said plainly and that an unmeasured category is never
 * shown as met, the roofline and history figures, and that the HTML is
 * self-contained. Publishing is tested against a one-shot HTTP server on
 * 127.0.0.1 started by the test, a server answering 500, and a dead port.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>

#include "db/db.h"
#include "reports/publish.h"
#include "reports/report.h"
#include "report_fixture.h"

static char dir[64];
static char path[128];
static bnb_db *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bnb-test-rep-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/r.db", dir);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_open(path, 0, &db, err), 0, "%s", err);
}

static void teardown(void)
{
    bnb_db_close(db);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 60);

#define GEMM_WORK (2.0 * 256 * 256 * 256 / 1e9) /* GFLOP per call */

static void store_status_case(int64_t run, const char *suite, const char *name, bnb_case_status st,
                              const char *msg)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "%s", suite);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.status = st;
    snprintf(r.message, sizeof r.message, "%s", msg);
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(db, run, &r, err), 0, "%s", err);
}

/* Peak probe with an unavailable hardware counter next to its GFLOP/s. */
static void store_fma(int64_t run, double centre)
{
    bnb_case_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.suite, sizeof r.suite, "peak");
    snprintf(r.name, sizeof r.name, "fma/avx512");
    snprintf(r.code_version, sizeof r.code_version, "1");
    r.nsamples = 15;
    r.iterations = 100;
    r.samples = malloc(15 * sizeof *r.samples);
    cr_assert_not_null(r.samples);
    fx_dist(r.samples, 15, centre, 0.02, 0);
    bnb_stats_compute(r.samples, 15, 1, &r.stats, NULL);
    cr_assert_not_null(
        bnb_case_add_metric(&r, "gflops", "GFLOP/s", 5.12e5 / r.stats.median / 1e9, true));
    cr_assert_not_null(bnb_case_add_unavailable(&r, "counter.PAPI_TOT_CYC", "count",
                                                "PAPI_query_event: Event does not exist"));
    char err[BNB_ERR_MAX];
    cr_assert_eq(bnb_db_store_case(db, run, &r, err), 0, "%s", err);
    bnb_case_free(&r);
}

static void store_rate(int64_t run, const char *suite, const char *name, const char *pk,
                       const char *pv, double centre, const char *metric, const char *unit,
                       double work)
{
    double x[15];
    fx_dist(x, 15, centre, 0.02, 0);
    fx_case(db, run, suite, name, pk, pv, x, 15, metric, unit, work);
}

/* Run 1 = baseline "nightly"; run 2 the latest (see the file comment). */
static void plant(void)
{
    char err[BNB_ERR_MAX];
    int64_t r1 = fx_run(db, "m1", "2026-01-01T00:00:00Z", "nightly", NULL);
    store_fma(r1, 4e-6);
    store_rate(r1, "peak", "triad", NULL, NULL, 1e-2, "gbps", "GB/s", 0.24);
    store_rate(r1, "matmul", "engine/sgemm", "n", "256", 3.6e-4, "gflops", "GFLOP/s", GEMM_WORK);
    fx_end(db, r1);
    cr_assert_eq(bnb_db_set_baseline(db, "nightly", r1, err), 0, "%s", err);
    int64_t r2 = fx_run(db, "m1", "2026-01-02T00:00:00Z", "nightly",
                        "[\"running in a VM: steal time adds noise\"]");
    store_fma(r2, 4e-6);
    store_rate(r2, "peak", "triad", NULL, NULL, 1e-2, "gbps", "GB/s", 0.24);
    store_rate(r2, "matmul", "engine/sgemm", "n", "256", 4.32e-4, "gflops", "GFLOP/s", GEMM_WORK);
    store_status_case(r2, "matmul", "ternary/i2s", BNB_CASE_FAILED,
                      "wrong answer: element 7 differs from the reference by 0.5");
    store_status_case(r2, "device", "h2d", BNB_CASE_SKIPPED, "requires cuda");
    fx_verdict(db, r2, "gemm-floor", "matmul/engine/sgemm/n=256:gflops", ">=", 50,
               GEMM_WORK / 4.32e-4, true, "met", "");
    fx_verdict(db, r2, "pool-hit-rate", "alloc/pool-trace:hit_rate", ">=", 0.98, 0.9, true,
               "missed", "");
    fx_verdict(db, r2, "zero-copy", "zerocopy/block:ratio", ">=", 0.8, NAN, false, "not measured",
               "no case zerocopy/block in this run");
    fx_end(db, r2);
}

static char *render(int64_t run, bnb_report_format f, double *score)
{
    bnb_report_opts o = {.format = f};
    char *text = NULL, err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_report_render(db, run, &o, &text, score, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(text);
    return text;
}

/* Hand-worked score of run 2:
 *   correctness 100 * 3 / 4 = 75          (weight 30)
 *   targets     100 * 1 / 2 = 50          (weight 25)
 *   memory      not measured -> 0         (weight 15)
 *   quality     60 * 3/3 + 20 * (1 - 0/45) + 20 * (1 - 1/5) = 96   (weight 15)
 *   regressions 100 * (3 - 1) / 3 = 66.67 (weight 15)
 *   overall (30*75 + 25*50 + 15*96 + 15*66.67) / 100 = 59.4 */
#define EXPECTED_SCORE 59.4

Test(report, json_score_categories_and_targets)
{
    plant();
    double score = 0;
    char *t = render(2, BNB_REPORT_JSON, &score);
    cr_assert_float_eq(score, EXPECTED_SCORE, 1e-9);
    cJSON *j = cJSON_Parse(t);
    cr_assert_not_null(j, "report JSON does not parse");
    cr_assert_eq(cJSON_GetObjectItem(j, "schema_version")->valueint, BNB_REPORT_SCHEMA_VERSION);
    cJSON *s = cJSON_GetObjectItem(j, "score");
    cr_assert_float_eq(cJSON_GetObjectItem(s, "overall")->valuedouble, EXPECTED_SCORE, 1e-9);
    cr_assert_float_eq(cJSON_GetObjectItem(s, "coverage_pct")->valuedouble, 85.0, 1e-9);
    cr_assert_str_eq(cJSON_GetObjectItem(s, "status")->valuestring, "NOT READY");
    cr_assert(strstr(cJSON_GetObjectItem(s, "formula")->valuestring, "sum(weight_c * score_c)"));
    const double want[] = {75, 50, NAN, 96, 200.0 / 3};
    cJSON *cats = cJSON_GetObjectItem(s, "categories");
    cr_assert_eq(cJSON_GetArraySize(cats), 5);
    for (int i = 0; i < 5; i++) {
        cJSON *c = cJSON_GetArrayItem(cats, i);
        cJSON *v = cJSON_GetObjectItem(c, "score");
        if (isnan(want[i])) {
            cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(c, "measured")));
            cr_assert(cJSON_IsNull(v), "category %d has a score though not measured", i);
        } else {
            cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(c, "measured")));
            cr_assert_float_eq(v->valuedouble, want[i], 1e-9, "category %d", i);
        }
    }
    cJSON *tg = cJSON_GetObjectItem(j, "targets");
    cr_assert_eq(cJSON_GetArraySize(tg), 3);
    cJSON *t0 = cJSON_GetArrayItem(tg, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(t0, "id")->valuestring, "gemm-floor");
    cr_assert_float_eq(cJSON_GetObjectItem(t0, "measured")->valuedouble, GEMM_WORK / 4.32e-4, 1e-9);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(tg, 1), "verdict")->valuestring,
                     "missed");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(tg, 2), "measured")));
    /* roofline: GEMM n=256 at AI 2*256^3/(4*3*256^2) = 42.667, triad at 2/24 */
    cJSON *rf = cJSON_GetObjectItem(j, "roofline");
    cr_assert_eq(cJSON_GetArraySize(rf), 2);
    bool gemm = false;
    cJSON *p;
    cJSON_ArrayForEach(p, rf)
    {
        if (!strcmp(cJSON_GetObjectItem(p, "case")->valuestring, "matmul/engine/sgemm/n=256")) {
            gemm = true;
            cr_assert_float_eq(cJSON_GetObjectItem(p, "ai")->valuedouble, 128.0 / 3, 1e-9);
        }
    }
    cr_assert(gemm);
    cJSON *ceil = cJSON_GetObjectItem(j, "ceilings");
    cr_assert_float_eq(cJSON_GetObjectItem(ceil, "fma_peak_gflops")->valuedouble, 128.0, 1e-6);
    cr_assert_float_eq(cJSON_GetObjectItem(ceil, "triad_gbps")->valuedouble, 24.0, 1e-9);
    /* history: two runs of each rate figure on m1 */
    cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "history"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(h, "figure")->valuestring, "peak/fma/avx512:gflops");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(h, "points")), 2);
    /* a missed target, a failed case and a regression block readiness;
     * unavailable counters are said plainly but do not */
    cJSON *crit = cJSON_GetObjectItem(j, "critical_issues");
    cr_assert_eq(cJSON_GetArraySize(crit), 3);
    cJSON *fnd = cJSON_GetObjectItem(j, "findings");
    cr_assert_eq(cJSON_GetArraySize(fnd), 1);
    cr_assert(strstr(cJSON_GetArrayItem(fnd, 0)->valuestring, "hardware counters unavailable"));
    cJSON *bl = cJSON_GetObjectItem(j, "baseline");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(bl, "present")));
    cr_assert_str_eq(cJSON_GetObjectItem(bl, "name")->valuestring, "nightly");
    cJSON_Delete(j);
    free(t);
}

Test(report, markdown_says_every_shortfall_plainly)
{
    plant();
    char *t = render(2, BNB_REPORT_MD, NULL);
    cr_assert(strstr(t, "**Overall readiness score: 59.4/100** (NOT READY)"), "%s", t);
    cr_assert(strstr(t, "Formula: score = sum over the five categories of weight x category "
                        "score / sum of all weights"));
    /* header from the DB */
    cr_assert(strstr(t, "| CPU | Test CPU 9000 |"));
    cr_assert(strstr(t, "| cores | 4 cores, 8 hardware threads |"));
    cr_assert(strstr(t, "| memory | 16.0 GiB |"));
    cr_assert(strstr(t, "| kernels selected | avx512 |"));
    cr_assert(strstr(t, "| commit | 0123abcd |"));
    /* targets table: values from the DB */
    cr_assert(strstr(t, "| gemm-floor | matmul/engine/sgemm/n=256:gflops | >= 50 | 77.67 | met |"),
              "%s", t);
    cr_assert(strstr(t, "| pool-hit-rate | alloc/pool-trace:hit\\_rate | >= 0.98 | 0.9 | "
                        "**missed** |"),
              "%s", t);
    /* acceptance 4: a missed target, a failed case, unavailable counters */
    cr_assert(strstr(t, "- target pool-hit-rate MISSED: alloc/pool-trace:hit\\_rate measured 0.9, "
                        "needs >= 0.98"),
              "%s", t);
    cr_assert(strstr(t, "- case matmul/ternary/i2s FAILED: wrong answer: element 7 differs"), "%s",
              t);
    cr_assert(strstr(t, "- hardware counters unavailable: 1 of 1 counters could not be read"), "%s",
              t);
    cr_assert(strstr(t, "PAPI\\_TOT\\_CYC: available in 0 of 1 cases; unavailable: "
                        "PAPI\\_query\\_event: Event does not exist"),
              "%s", t);
    cr_assert(strstr(t, "- regression: matmul/engine/sgemm/n=256 is 20.0% slower than baseline "
                        "\"nightly\""),
              "%s", t);
    /* an unmeasured category is never shown as met */
    cr_assert(strstr(t, "- [ ] Memory: not measured"), "%s", t);
    cr_assert(strstr(t, "| Memory | 15 | not measured | 0 |"), "%s", t);
    cr_assert(strstr(t, "- [x] Memory") == NULL);
    cr_assert(strstr(t, "- [ ] Correctness: 75.0/100"));
    cr_assert(strstr(t, "- case device/h2d: skipped: requires cuda"), "%s", t);
    cr_assert(strstr(t, "- target zero-copy: not measured: no case zerocopy/block in this run"));
    /* per-suite table with % of the measured ceilings */
    cr_assert(strstr(t, "| engine/sgemm/n=256 | ok | 15 | 432 us |"), "%s", t);
    cr_assert(strstr(t, "60.7% of FMA peak"), "%s", t); /* 77.67 / 128 */
    cr_assert(strstr(t, "| triad | ok | 15 | 10 ms |"), "%s", t);
    cr_assert(strstr(t, "100.0% of triad"));
    cr_assert(strstr(t, "| ternary/i2s | **FAILED** |"), "%s", t);
    cr_assert(strstr(t, "| `matmul/engine/sgemm/n=256`") == NULL); /* md tables, not compare's */
    cr_assert(strstr(t, "| matmul/engine/sgemm/n=256 | 360 us | 432 us | 1.200 |"), "%s", t);
    cr_assert(strstr(t, "| slower |") == NULL && strstr(t, "| **slower** |"));
    cr_assert(strstr(t, "<svg") == NULL, "Markdown must not carry SVG (forges strip it)");
    free(t);
}

Test(report, html_is_self_contained_with_svg_charts)
{
    plant();
    char *t = render(2, BNB_REPORT_HTML, NULL);
    cr_assert(!strncmp(t, "<!DOCTYPE html>", 15));
    cr_assert(strstr(t, "</html>"));
    cr_assert(strstr(t, "<span class=\"big\">59.4/100</span>"), "score missing");
    cr_assert(strstr(t, "<title>Roofline</title>"));
    cr_assert(strstr(t, "<title>median change against the baseline (left: faster, right: "
                        "slower)</title>"));
    int svgs = 0;
    for (const char *p = t; (p = strstr(p, "<svg")); p++)
        svgs++;
    cr_assert_eq(svgs, 2 + 3, "roofline + bars + 3 history charts, got %d", svgs);
    cr_assert(strstr(t, "@media print"));
    /* no external reference of any kind */
    cr_assert(strstr(t, "<script") == NULL);
    cr_assert(strstr(t, "<link") == NULL);
    cr_assert(strstr(t, "<img") == NULL);
    cr_assert(strstr(t, "src=") == NULL);
    cr_assert(strstr(t, "url(") == NULL);
    cr_assert(strstr(t, "@import") == NULL);
    for (const char *p = t; (p = strstr(p, "href=\"")); p++)
        cr_assert_eq(p[6], '#', "external href: %.60s", p);
    /* verdicts are marked, shortfalls present */
    cr_assert(strstr(t, "<span class=\"v bad\">missed</span>"));
    cr_assert(strstr(t, "<span class=\"v bad\">FAILED</span>"));
    cr_assert(strstr(t, "<span class=\"v na\">not measured</span>"));
    cr_assert(strstr(t, "hardware counters unavailable"));
    free(t);
}

Test(report, memory_category_from_recorded_figures)
{
    plant();
    int64_t r3 = fx_run(db, "m1", "2026-01-03T00:00:00Z", "nightly", NULL);
    double x[15];
    fx_dist(x, 15, 1e-3, 0.02, 0);
    fx_case(db, r3, "alloc", "pool-trace", NULL, NULL, x, 15, "failures", "count", 0);
    fx_case(db, r3, "alloc", "leak-check", NULL, NULL, x, 15, "leaks", "count", 1e-3);
    fx_end(db, r3);
    char *t = render(r3, BNB_REPORT_JSON, NULL);
    cJSON *j = cJSON_Parse(t);
    cr_assert_not_null(j);
    cJSON *mem =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "score"), "categories"), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(mem, "id")->valuestring, "memory");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(mem, "measured")));
    /* failures 0 / 1e-3 s = 0 passes; leaks 1e-3 / 1e-3 s = 1 fails */
    cr_assert_float_eq(cJSON_GetObjectItem(mem, "score")->valuedouble, 50.0, 1e-9);
    cJSON_Delete(j);
    free(t);
}

Test(report, report_without_baseline_or_run_says_so)
{
    int64_t r = fx_run(db, "solo", "2026-01-01T00:00:00Z", "manual", NULL);
    fx_end(db, r);
    double score = -1;
    char *t = render(r, BNB_REPORT_MD, &score);
    cr_assert_float_eq(score, 0.0, 1e-12);
    cr_assert(strstr(t, "Not measured: no baseline for this machine"), "%s", t);
    cr_assert(strstr(t, "| Correctness | 30 | not measured | 0 |"), "%s", t);
    cr_assert(strstr(t, "Not drawn: the FMA peak was not measured in this run."), "%s", t);
    free(t);
    bnb_report_opts o = {.format = BNB_REPORT_MD, .baseline = "nope"};
    char err[BNB_ERR_MAX] = "";
    cr_assert_eq(bnb_report_render(db, r, &o, &t, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "no baseline named \"nope\""), "%s", err);
    cr_assert_eq(bnb_report_render(db, 99, &o, &t, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "no run with id 99"), "%s", err);
}

Test(report, cli_report_writes_files)
{
    plant();
    bnb_db_close(db);
    db = NULL;
    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    char out[256];
    snprintf(out, sizeof out, "%s/rep.html", dir);
    FX_BNBENCH(r, dir, "--db", path, "report", "-o", out);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->err, "written to") && strstr(r->err, "score 59.4/100"), "%s", r->err);
    fx_read(out, r->out, sizeof r->out);
    cr_assert(!strncmp(r->out, "<!DOCTYPE html>", 15));
    FX_BNBENCH(r, dir, "--db", path, "report", "latest", "--format", "json");
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j);
    cJSON_Delete(j);
    FX_BNBENCH(r, dir, "--db", path, "report", "--format", "pdf");
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--format must be md, html or json, got \"pdf\""), "%s", r->err);
    FX_BNBENCH(r, dir, "--db", path, "report", "12345");
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "no run with id 12345"), "%s", r->err);
    free(r);
}

/* ---- publish ------------------------------------------------------------------------ */

typedef struct server {
    int fd, port, status;
    char req[65536];
    size_t len;
    const char *body; /* start of the body in req */
} server;

static void server_start(server *s, int status)
{
    memset(s, 0, sizeof *s);
    s->status = status;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->fd, 1), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &l), 0);
    s->port = ntohs(a.sin_port);
}

/* Accepts one request, reads headers and Content-Length bytes, answers. */
static void *serve(void *arg)
{
    server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t need = 0;
    char *hend = NULL;
    while (s->len < sizeof s->req - 1) {
        ssize_t n = read(c, s->req + s->len, sizeof s->req - 1 - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
        s->req[s->len] = '\0';
        if (!hend && (hend = strstr(s->req, "\r\n\r\n"))) {
            const char *cl = strcasestr(s->req, "\r\nContent-Length:");
            need = (size_t)(hend + 4 - s->req) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (hend && s->len >= need)
            break;
    }
    if (hend)
        s->body = hend + 4;
    char resp[128];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: "
                     "close\r\n\r\n",
                     s->status);
    ssize_t w = write(c, resp, (size_t)n);
    (void)w;
    close(c);
    return NULL;
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(report, publish_put_and_post_to_a_local_server)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    snprintf(file, sizeof file, "%s/report.md", dir);
    write_file(file, "# readiness\n\nscore 59.4/100\n");
    const char *methods[] = {"PUT", "POST"};
    for (int m = 0; m < 2; m++) {
        server s;
        server_start(&s, m ? 200 : 201);
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, serve, &s), 0);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/reports/latest.md", s.port);
        long status = 0;
        int rc = bnb_publish_file(file, url, methods[m], 10, &status, err, sizeof err);
        pthread_join(th, NULL);
        close(s.fd);
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_eq(status, m ? 200 : 201);
        char line[64];
        snprintf(line, sizeof line, "%s /reports/latest.md HTTP/1.1\r\n", methods[m]);
        cr_assert(!strncmp(s.req, line, strlen(line)), "%s", s.req);
        cr_assert(strcasestr(s.req, "Content-Type: text/markdown"), "%s", s.req);
        cr_assert_not_null(s.body);
        cr_assert_str_eq(s.body, "# readiness\n\nscore 59.4/100\n");
    }
}

Test(report, publish_reports_http_errors_and_dead_servers)
{
    char file[256], url[128], err[BNB_ERR_MAX] = "";
    snprintf(file, sizeof file, "%s/report.html", dir);
    write_file(file, "<!DOCTYPE html><p>x</p>\n");
    server s;
    server_start(&s, 500);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, serve, &s), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.html", s.port);
    int rc = bnb_publish_file(file, url, "PUT", 10, NULL, err, sizeof err);
    pthread_join(th, NULL);
    close(s.fd);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "the server answered HTTP 500"), "%s", err);
    cr_assert(strcasestr(s.req, "Content-Type: text/html"), "%s", s.req);

    /* a port nobody listens on: bound, then closed */
    server dead;
    server_start(&dead, 200);
    close(dead.fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r.html", dead.port);
    rc = bnb_publish_file(file, url, "PUT", 10, NULL, err, sizeof err);
    cr_assert_eq(rc, -1);
    char want[160];
    snprintf(want, sizeof want, "PUT %s failed: ", url);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "(is the server up and the URL right?)"), "%s", err);
    cr_assert(strstr(err, "onnect"), "libcurl's cause is kept: %s", err);

    cr_assert_eq(bnb_publish_file(file, "ftp://x/y", "PUT", 10, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "URL must start with http:// or https://, got \"ftp://x/y\""), "%s", err);
    cr_assert_eq(bnb_publish_file(file, url, "DELETE", 10, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "method must be PUT or POST, got \"DELETE\""), "%s", err);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/none.md", dir);
    cr_assert_eq(bnb_publish_file(missing, url, "PUT", 10, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot read") && strstr(err, "No such file"), "%s", err);

    fx_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    FX_BNBENCH(r, dir, "publish", "--report", file, "--url", url);
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->err, "bnbench publish: PUT") && strstr(r->err, "is the server up"), "%s",
              r->err);
    FX_BNBENCH(r, dir, "publish", "--report", file);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--url URL is required"), "%s", r->err);
    free(r);
}
