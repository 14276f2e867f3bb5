/*
 * web.c - the fleet web view and the read API of `bnbench serve`
 * (contract: reports/web.h).
 *
 * Every answer is built in memory from db/ queries (db/fleet.h for the
 * lists, db.h for cases and runs) and the existing writers: the readiness
 * report (report.h) for /runs/UUID and for the score of each machine's
 * latest run, the comparison (compare.h) for /compare, the run document
 * (db/rundoc.h) for /api/v1/runs/UUID, and svg.c's charts. Pages are one
 * self-contained HTML document each (inline CSS and SVG, no script, no
 * external asset, not even a favicon request), so they load offline, print,
 * and need no JavaScript.
 *
 * Every stored string is hostile (machine names, case names and messages
 * come from published documents): HTML text and attributes go through
 * bnb_markup_fputs, URLs are percent-encoded, JSON strings are made valid
 * UTF-8 before printing. Query arguments are validated here, at the edge,
 * and a bad one is a 400 that names it and the value given.
 */
#include "reports/web.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/peer_label.h"
#include "db/fleet.h"
#include "db/model/fmt.h"
#include "db/model/text.h"
#include "db/rundoc.h"
#include "reports/compare.h"
#include "reports/history.h"
#include "reports/report.h"
#include "reports/svg.h"

#define HTML_TYPE "text/html; charset=utf-8"
#define JSON_TYPE "application/json"

#define FLEET_RECENT   10  /* newest runs of any machine on the fleet page */
#define MACHINE_RUNS   100 /* runs listed on a machine page */
#define MACHINE_CHARTS 8   /* history charts on a machine page */
#define CHART_RUNS     50  /* points per history chart */
#define MSG_MAX        1024

typedef struct req {
    bnb_db *db;
    bnb_web_arg_fn arg;
    void *ctx;
} req;

static const char *get_arg(const req *q, const char *name)
{
    return q->arg ? q->arg(q->ctx, name) : NULL;
}

/* ---- responses ------------------------------------------------------------------- */

static int resp_set(bnb_web_resp *out, int status, const char *type, char *body, size_t len)
{
    out->status = status;
    out->content_type = type;
    out->body = body;
    out->len = len;
    return 0;
}

/* Prints root (deleted here) as the 200 answer; -1 when out of memory. */
static int json_send(bnb_web_resp *out, int status, cJSON *root)
{
    char *t = root && !bnb_json_utf8_tree(root) ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return t ? resp_set(out, status, JSON_TYPE, t, strlen(t)) : -1;
}

static int json_error(bnb_web_resp *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int json_error(bnb_web_resp *out, int status, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    if (root && !cJSON_AddStringToObject(root, "error", msg)) {
        cJSON_Delete(root);
        root = NULL;
    }
    return json_send(out, status, root);
}

/* ---- HTML ---------------------------------------------------------------------------- */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em auto;"
    "max-width:1200px;padding:0 1em;color:#1b1f24;line-height:1.4}"
    "nav{background:#24292f;padding:.5em 1em;border-radius:4px;margin-bottom:1em}"
    "nav a{color:#fff;margin-right:1.2em;text-decoration:none;font-weight:600}"
    "h1{font-size:1.5em;border-bottom:2px solid #444;padding-bottom:.2em}"
    "h2{font-size:1.2em;margin-top:1.5em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.85em;width:100%}"
    "th,td{border:1px solid #ccd;padding:.25em .5em;vertical-align:top;text-align:left;"
    "word-break:break-word}th{background:#eef1f5;white-space:nowrap}"
    "td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}"
    ".v{font-weight:600;padding:0 .3em;border-radius:3px}.good{color:#0a6b2d;background:#dff5e5}"
    ".bad{color:#a0111b;background:#fde2e4}.na{color:#5b5f66;background:#eceef1}"
    "td.score,.nw{white-space:nowrap}"
    ".mono{font-family:ui-monospace,Menlo,Consolas,monospace}.muted{color:#5b5f66}"
    ".charts{display:flex;flex-wrap:wrap;gap:10px}svg{background:#fff;max-width:100%;"
    "height:auto}svg text{font-family:inherit}form{margin:.6em 0}select,button{font:inherit;"
    "margin-right:.6em}"
    "@media print{nav,form{display:none}body{margin:0;max-width:none;font-size:10pt}"
    ".good,.bad,.na{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/* The empty icon keeps a browser from asking for /favicon.ico. */
static const char head_extra[] = "<link rel=\"icon\" href=\"data:,\">";
static const char nav_html[] = "<nav><a href=\"/\">Fleet</a><a href=\"/compare\">Compare</a>"
                               "<a href=\"/api/v1/machines\">API: machines</a>"
                               "<a href=\"/api/v1/runs\">API: runs</a></nav>\n";

typedef struct page {
    FILE *f;
    char *buf;
    size_t len;
} page;

static void esc(FILE *f, const char *s)
{
    bnb_markup_fputs(s, f);
}

static void escf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void escf(FILE *f, const char *fmt, ...)
{
    char buf[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bnb_markup_fputs(buf, f);
}

/* s percent-encoded for a URL path segment or query value: every byte but
 * the unreserved ones (RFC 3986) as %XX, so it is also safe in an attribute. */
static void url(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

/* Opens a page and writes its head, the nav and the heading title. */
static int page_begin(page *p, const char *title)
{
    p->buf = NULL;
    p->len = 0;
    p->f = open_memstream(&p->buf, &p->len);
    if (!p->f)
        return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
          p->f);
    esc(p->f, title);
    fprintf(p->f, " - bnbench fleet</title>%s<style>%s</style></head><body>\n%s<h1>", head_extra,
            css, nav_html);
    esc(p->f, title);
    fputs("</h1>\n", p->f);
    return 0;
}

static void page_abort(page *p)
{
    if (p->f)
        fclose(p->f);
    free(p->buf);
    p->f = NULL;
    p->buf = NULL;
}

/* Ends the page and hands it to out; -1 when a write ran out of memory. */
static int page_end(page *p, int status, bnb_web_resp *out)
{
    fputs("<p class=\"muted\"><small>bnbench " BN_VERSION " fleet view: every figure is read "
          "from the runs stored in this collector's DB.</small></p>\n</body></html>\n",
          p->f);
    bool bad = ferror(p->f) != 0;
    int c = fclose(p->f);
    p->f = NULL;
    if (bad || c != 0) {
        free(p->buf);
        p->buf = NULL;
        return -1;
    }
    return resp_set(out, status, HTML_TYPE, p->buf, p->len);
}

static int html_error(bnb_web_resp *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int html_error(bnb_web_resp *out, int status, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *title = status == 404   ? "Not found"
                        : status == 400 ? "Bad request"
                                        : "Server error";
    page p;
    if (page_begin(&p, title))
        return -1;
    fputs("<p class=\"err\">", p.f);
    esc(p.f, msg);
    fputs("</p>\n", p.f);
    return page_end(&p, status, out);
}

/* A verdict or readiness word in a coloured cell span. */
static void badge(FILE *f, const char *word)
{
    const char *cls = "na";
    if (!strcmp(word, "READY") || !strcmp(word, "met") || !strcmp(word, "faster") ||
        !strcmp(word, "complete"))
        cls = "good";
    else if (!strcmp(word, "NOT READY") || !strcmp(word, "missed") || !strcmp(word, "slower") ||
             !strcmp(word, "failed") || !strcmp(word, "interrupted") || !strcmp(word, "abandoned"))
        cls = "bad";
    fprintf(f, "<span class=\"v %s\">", cls);
    esc(f, word);
    fputs("</span>", f);
}

/* A link to the report of run r: its uuid's first 8 characters, the whole
 * uuid as the title. */
static void run_link(FILE *f, const bnb_run_row *r)
{
    fputs("<a class=\"mono\" href=\"/runs/", f);
    url(f, r->uuid);
    fputs("\" title=\"", f);
    esc(f, r->uuid);
    fputs("\">", f);
    escf(f, "%.8s", r->uuid);
    fputs("</a>", f);
}

static void machine_link(FILE *f, int64_t id, const char *name)
{
    fprintf(f, "<a href=\"/machines/%lld\">", (long long)id);
    esc(f, name);
    fputs("</a>", f);
}

/* ---- argument checks ----------------------------------------------------------------- */

/* Reads exactly n digits at *p into *v (advancing *p); false when fewer. */
static bool digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return true;
}

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Whether s is an ISO-8601 time YYYY-MM-DD[THH:MM[:SS[.fraction]]] with an
 * optional Z or +-HH:MM offset after a time, every field in range. The
 * copy in out (cap bytes) has a space before the offset read as '+' (a
 * '+' in a query string decodes to a space). */
static bool iso_time(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s);
    if (len >= cap || len > 40)
        return false;
    memcpy(out, s, len + 1);
    const char *p = out;
    int y, mo, d, h, mi, sec;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || mo < 1 || mo > 12 ||
        *p++ != '-' || !digits(&p, 2, &d) || d < 1 || d > days_in(y, mo))
        return false;
    if (!*p)
        return true;
    if (*p++ != 'T' || !digits(&p, 2, &h) || h > 23 || *p++ != ':' || !digits(&p, 2, &mi) ||
        mi > 59)
        return false;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &sec) || sec > 59)
            return false;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (*p >= '0' && *p <= '9' && nd < 10) {
                p++;
                nd++;
            }
            if (nd == 0 || nd > 9)
                return false;
        }
    }
    if (*p == 'Z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-' || *p == ' ') {
        out[p - out] = *p == ' ' ? '+' : *p;
        p++;
        return digits(&p, 2, &h) && h <= 23 && *p++ == ':' && digits(&p, 2, &mi) && mi <= 59 &&
               *p == '\0';
    }
    return *p == '\0';
}

/* A positive decimal id of at most 18 digits. */
static bool parse_id(const char *s, int64_t *id)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return v > 0;
}

/* ---- the fleet: machines with their latest run and its score ----------------------- */

typedef struct fleet_row {
    bnb_fleet_machine m;
    double score, coverage;
    const char *readiness; /* NULL when the machine has no complete run */
} fleet_row;

/* Every machine with the score of its latest run (report.h's rule). 0, or
 * -1 with err (a DB error, out of memory). */
static int load_fleet(bnb_db *db, fleet_row **rows, int *n, char *err, size_t cap)
{
    *rows = NULL;
    *n = 0;
    bnb_fleet_machine *ms = NULL;
    int nm = 0;
    char e2[BNB_ERR_MAX];
    if (bnb_db_fleet_machines(db, &ms, &nm, e2)) {
        snprintf(err, cap, "%s", e2);
        return -1;
    }
    fleet_row *r = calloc((size_t)(nm > 0 ? nm : 1), sizeof *r);
    if (!r) {
        free(ms);
        snprintf(err, cap, "out of memory");
        return -1;
    }
    for (int i = 0; i < nm; i++) {
        r[i].m = ms[i];
        r[i].score = r[i].coverage = NAN;
        if (ms[i].has_latest && bnb_report_score(db, ms[i].latest.row.id, &r[i].score,
                                                 &r[i].coverage, &r[i].readiness, err, cap)) {
            free(ms);
            free(r);
            return -1;
        }
    }
    free(ms);
    *rows = r;
    *n = nm;
    return 0;
}

static int page_fleet(const req *q, bnb_web_resp *out)
{
    fleet_row *rows = NULL;
    int n = 0;
    char err[MSG_MAX];
    if (load_fleet(q->db, &rows, &n, err, sizeof err))
        return html_error(out, 500, "reading the fleet: %s", err);
    bnb_fleet_run *recent = NULL;
    int nrecent = 0;
    if (bnb_db_fleet_runs(q->db, 0, NULL, NULL, FLEET_RECENT, &recent, &nrecent, err)) {
        free(rows);
        return html_error(out, 500, "reading the runs: %s", err);
    }
    page p;
    int rc = -1;
    if (page_begin(&p, "Fleet"))
        goto done;
    FILE *f = p.f;
    long nruns = 0;
    for (int i = 0; i < n; i++)
        nruns += rows[i].m.nruns;
    fprintf(f,
            "<p>%d machine%s, %ld run%s stored. Each machine's score and readiness are those of "
            "the readiness report of its latest complete run (open the run for the "
            "report); its targets not judged are those not measured / not applicable.</p>\n",
            n, n == 1 ? "" : "s", nruns, nruns == 1 ? "" : "s");
    if (n == 0)
        fputs("<p>No run is stored yet: send runs here with <span class=\"mono\">bnbench "
              "publish --url URL</span>.</p>\n",
              f);
    else {
        fputs("<table id=\"fleet\"><thead><tr><th>Machine</th><th>Fingerprint</th>"
              "<th class=\"r\">Runs</th><th>Latest run</th><th>Started</th>"
              "<th class=\"r\">Cases</th><th class=\"r\">Failed</th><th class=\"r\">Score</th>"
              "<th>Readiness</th><th class=\"r\">Targets met</th><th class=\"r\">Missed</th>"
              "<th class=\"r\" title=\"not measured / not applicable\">Not judged</th></tr>"
              "</thead><tbody>\n",
              f);
        for (int i = 0; i < n; i++) {
            const fleet_row *w = &rows[i];
            const bnb_fleet_run *l = &w->m.latest;
            fputs("<tr><td>", f);
            machine_link(f, w->m.id, w->m.name);
            fputs("</td><td class=\"mono\" title=\"", f);
            esc(f, w->m.fingerprint);
            fputs("\">", f);
            escf(f, "%.12s", w->m.fingerprint);
            fprintf(f, "</td><td class=\"r\">%d</td>", w->m.nruns);
            if (!w->m.has_latest) {
                fputs("<td colspan=\"9\" class=\"muted\">no complete run</td></tr>\n", f);
                continue;
            }
            fputs("<td>", f);
            run_link(f, &l->row);
            fputs("</td><td class=\"nw\">", f);
            esc(f, l->row.started_at);
            fprintf(f,
                    "</td><td class=\"r\">%d</td><td class=\"r\">%d</td>"
                    "<td class=\"r score\">%.1f/100</td><td class=\"nw\">",
                    l->row.ncases, l->row.nfailed, w->score);
            badge(f, w->readiness);
            fprintf(f,
                    "</td><td class=\"r\">%d</td><td class=\"r\">%d</td><td class=\"r\">%d / "
                    "%d</td></tr>\n",
                    l->met, l->missed, l->not_measured, l->not_applicable);
        }
        fputs("</tbody></table>\n", f);
        /* two machines side by side, without script: a GET form */
        fputs("<h2>Compare two machines</h2>\n<form method=\"get\" action=\"/compare\">", f);
        for (int side = 0; side < 2; side++) {
            fprintf(f, "<label>%s <select name=\"%s\">", side ? "B" : "A", side ? "b" : "a");
            int pick = n > 1 ? side : 0, k = 0;
            for (int i = 0; i < n; i++) {
                if (!rows[i].m.has_latest)
                    continue;
                fputs("<option value=\"", f);
                esc(f, rows[i].m.name);
                fprintf(f, "\"%s>", k++ == pick ? " selected" : "");
                esc(f, rows[i].m.name);
                fputs("</option>", f);
            }
            fputs("</select></label>", f);
        }
        fputs("<button type=\"submit\">Compare</button></form>\n", f);
        fputs("<h2>Newest runs</h2>\n<table id=\"recent\"><thead><tr><th>Started</th>"
              "<th>Machine</th><th>Run</th><th>Status</th><th>Reason</th>"
              "<th class=\"r\">Cases</th><th class=\"r\">Failed</th></tr></thead><tbody>\n",
              f);
        for (int i = 0; i < nrecent; i++) {
            const bnb_fleet_run *r = &recent[i];
            fputs("<tr><td>", f);
            esc(f, r->row.started_at);
            fputs("</td><td>", f);
            machine_link(f, r->machine_id, r->row.machine);
            fputs("</td><td>", f);
            run_link(f, &r->row);
            fputs("</td><td>", f);
            badge(f, r->row.status);
            fputs("</td><td>", f);
            esc(f, r->row.reason);
            fprintf(f, "</td><td class=\"r\">%d</td><td class=\"r\">%d</td></tr>\n", r->row.ncases,
                    r->row.nfailed);
        }
        fputs("</tbody></table>\n", f);
    }
    rc = page_end(&p, 200, out);
done:
    if (rc)
        page_abort(&p);
    free(rows);
    free(recent);
    return rc;
}

/* ---- one machine ------------------------------------------------------------------- */

typedef struct figure {
    char cas[BNB_NAME_MAX + 160];
    char metric[64];
    char unit[16];
} figure;

static const bnb_case_result *find_case(const bnb_case_result *c, int n, const char *full)
{
    char buf[BNB_NAME_MAX + 160];
    for (int i = 0; i < n; i++)
        if (!strcmp(bnb_case_fullname(&c[i], buf, sizeof buf), full))
            return &c[i];
    return NULL;
}

/* Adds case/metric to figs unless present or full; the unit from the case. */
static void fig_add(figure *figs, int *nf, const char *cas, const char *metric,
                    const bnb_case_result *cases, int ncases)
{
    if (*nf >= MACHINE_CHARTS)
        return;
    for (int i = 0; i < *nf; i++)
        if (!strcmp(figs[i].cas, cas) && !strcmp(figs[i].metric, metric))
            return;
    figure *g = &figs[*nf];
    snprintf(g->cas, sizeof g->cas, "%s", cas);
    snprintf(g->metric, sizeof g->metric, "%s", metric);
    g->unit[0] = '\0';
    const bnb_case_result *c = find_case(cases, ncases, cas);
    const bnb_metric *m = c ? bnb_case_metric(c, metric) : NULL;
    if (!strcmp(metric, "median_s"))
        snprintf(g->unit, sizeof g->unit, "s");
    else if (m)
        snprintf(g->unit, sizeof g->unit, "%s", m->unit);
    (*nf)++;
}

/* The key figures of a machine, from its latest run: the figures its
 * targets judge (those the run measured), then the rate (gflops, gops, gbps) of each measured case,
 * and when there is none the median time of its first cases. 0, or -1 with
 * err. */
static int key_figures(bnb_db *db, int64_t run_id, figure *figs, int *nf, char *err)
{
    *nf = 0;
    bnb_case_result *cases = NULL;
    int ncases = 0;
    bnb_target_set ts;
    memset(&ts, 0, sizeof ts);
    bnb_verdict *v = NULL;
    if (bnb_db_load_cases(db, run_id, &cases, &ncases, err))
        return -1;
    if (bnb_db_load_verdicts(db, run_id, &ts, &v, err)) {
        bnb_db_free_cases(cases, ncases);
        return -1;
    }
    for (int i = 0; i < ts.n; i++) {
        char cas[BNB_NAME_MAX + 160], metric[64];
        bnb_figure_split(ts.t[i].figure, cas, sizeof cas, metric, sizeof metric);
        /* only what the run measured: a target of a device it lacks has no history */
        const bnb_case_result *c = find_case(cases, ncases, cas);
        const bnb_metric *m = c ? bnb_case_metric(c, metric) : NULL;
        if (c && c->status == BNB_CASE_OK && (!strcmp(metric, "median_s") || (m && m->available)))
            fig_add(figs, nf, cas, metric, cases, ncases);
    }
    static const char *const rates[] = {"gflops", "gops", "gbps"};
    for (int i = 0; i < ncases; i++) {
        if (cases[i].status != BNB_CASE_OK)
            continue;
        char full[BNB_NAME_MAX + 160];
        bnb_case_fullname(&cases[i], full, sizeof full);
        for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
            const bnb_metric *m = bnb_case_metric(&cases[i], rates[k]);
            if (m && m->available) {
                fig_add(figs, nf, full, m->name, cases, ncases);
                break;
            }
        }
    }
    for (int i = 0; i < ncases && *nf < 4; i++) {
        char full[BNB_NAME_MAX + 160];
        if (cases[i].status == BNB_CASE_OK)
            fig_add(figs, nf, bnb_case_fullname(&cases[i], full, sizeof full), "median_s", cases,
                    ncases);
    }
    bnb_targets_free(&ts);
    free(v);
    bnb_db_free_cases(cases, ncases);
    return 0;
}

static void runs_table(FILE *f, const bnb_fleet_run *runs, int n)
{
    fputs("<table id=\"runs\"><thead><tr><th>Started</th><th>Run</th><th>Status</th>"
          "<th>Reason</th><th class=\"r\">Cases</th><th class=\"r\">Failed</th>"
          "<th class=\"r\">Skipped</th><th class=\"r\">Targets met</th><th class=\"r\">Missed</th>"
          "<th>Against the run before</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < n; i++) {
        const bnb_fleet_run *r = &runs[i];
        fputs("<tr><td>", f);
        esc(f, r->row.started_at);
        fputs("</td><td>", f);
        run_link(f, &r->row);
        fputs("</td><td>", f);
        badge(f, r->row.status);
        fputs("</td><td>", f);
        esc(f, r->row.reason);
        fprintf(f,
                "</td><td class=\"r\">%d</td><td class=\"r\">%d</td><td class=\"r\">%d</td>"
                "<td class=\"r\">%d</td><td class=\"r\">%d</td><td>",
                r->row.ncases, r->row.nfailed, r->row.nskipped, r->met, r->missed);
        if (i + 1 < n) {
            fputs("<a href=\"/compare?a=", f);
            url(f, runs[i + 1].row.uuid);
            fputs("&amp;b=", f);
            url(f, r->row.uuid);
            fputs("\">compare</a>", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static int page_machine(const req *q, const char *idtxt, bnb_web_resp *out)
{
    int64_t id = 0;
    char err[MSG_MAX];
    bnb_fleet_machine m;
    if (!parse_id(idtxt, &id))
        return html_error(out, 404,
                          "no machine \"%.100s\": a machine is named by its number, "
                          "as the fleet page links it",
                          idtxt);
    int k = bnb_db_fleet_machine(q->db, id, &m, err);
    if (k < 0)
        return html_error(out, 500, "reading machine %lld: %s", (long long)id, err);
    if (k == 1)
        return html_error(out, 404, "no machine %lld in this DB", (long long)id);
    double score = NAN, coverage = NAN;
    const char *readiness = NULL;
    figure figs[MACHINE_CHARTS];
    int nf = 0;
    if (m.has_latest &&
        (bnb_report_score(q->db, m.latest.row.id, &score, &coverage, &readiness, err, sizeof err) ||
         key_figures(q->db, m.latest.row.id, figs, &nf, err)))
        return html_error(out, 500, "reading machine %lld: %s", (long long)id, err);
    bnb_fleet_run *runs = NULL;
    int nruns = 0;
    if (bnb_db_fleet_runs(q->db, id, NULL, NULL, MACHINE_RUNS, &runs, &nruns, err))
        return html_error(out, 500, "reading the runs of machine %lld: %s", (long long)id, err);
    char title[160];
    snprintf(title, sizeof title, "Machine %s", m.name);
    page p;
    int rc = -1;
    bnb_hist_point *pts = NULL;
    double *v = NULL;
    if (page_begin(&p, title))
        goto done;
    FILE *f = p.f;
    fputs("<table id=\"machine\"><tbody><tr><th>Name</th><td>", f);
    esc(f, m.name);
    fputs("</td></tr><tr><th>Fingerprint</th><td class=\"mono\">", f);
    esc(f, m.fingerprint);
    fputs("</td></tr><tr><th>First seen</th><td>", f);
    esc(f, m.first_seen);
    fputs("</td></tr><tr><th>Last seen</th><td>", f);
    esc(f, m.last_seen);
    fprintf(f, "</td></tr><tr><th>Runs</th><td>%d</td></tr><tr><th>Latest complete run</th><td>",
            m.nruns);
    if (m.has_latest) {
        run_link(f, &m.latest.row);
        fputs(" started ", f);
        esc(f, m.latest.row.started_at);
        fprintf(f, ": score <b class=\"score\">%.1f/100</b> ", score);
        badge(f, readiness);
        fprintf(f, " (%.0f%% of the weight measured); targets met %d, missed %d", coverage,
                m.latest.met, m.latest.missed);
    } else {
        fputs("<span class=\"muted\">none (no run of this machine is complete)</span>", f);
    }
    fputs("</td></tr></tbody></table>\n<h2>History of key figures</h2>\n", f);
    if (nf == 0)
        fputs("<p class=\"muted\">No figure to chart: the machine has no complete run with a "
              "measured case.</p>\n",
              f);
    else
        fprintf(f,
                "<p>The figures the latest run's targets judge, then each case's rate, over "
                "the last %d complete runs of this machine (oldest left, the latest marked).</p>"
                "\n<div class=\"charts\">\n",
                CHART_RUNS);
    for (int i = 0; i < nf; i++) {
        int np = 0;
        if (bnb_history_load(q->db, figs[i].cas, figs[i].metric, id, 0, CHART_RUNS, &pts, &np, err,
                             sizeof err)) {
            page_abort(&p);
            rc = html_error(out, 500, "reading a history of machine %lld: %s", (long long)id, err);
            goto done;
        }
        v = malloc((size_t)(np > 0 ? np : 1) * sizeof *v);
        if (!v)
            goto done;
        for (int j = 0; j < np; j++)
            v[j] = pts[j].value;
        char t[BNB_NAME_MAX + 260];
        snprintf(t, sizeof t, "%s:%s", figs[i].cas, figs[i].metric);
        svg_history(f, t, figs[i].unit, v, np);
        free(v);
        free(pts);
        v = NULL;
        pts = NULL;
    }
    if (nf > 0)
        fputs("</div>\n", f);
    fprintf(f, "<h2>Runs</h2>\n<p>Newest first%s.</p>\n",
            nruns == MACHINE_RUNS ? " (the newest 100; /api/v1/runs lists more)" : "");
    runs_table(f, runs, nruns);
    rc = page_end(&p, 200, out);
done:
    if (rc && p.f)
        page_abort(&p);
    free(v);
    free(pts);
    free(runs);
    return rc;
}

/* ---- one run ------------------------------------------------------------------------ */

/* Looks up the run a URL names (uuid or prefix): 0 with *run, or an error
 * status (400, 404, 500) with msg. */
static int find_run(bnb_db *db, const char *spec, bnb_fleet_run *run, char *msg, size_t cap)
{
    char err[BNB_ERR_MAX];
    int k = bnb_db_fleet_run_by_uuid(db, spec, run, err);
    if (k == 0)
        return 0;
    if (k < 0) {
        snprintf(msg, cap, "reading run %.80s: %s", spec, err);
        return 500;
    }
    if (k == 2) {
        snprintf(msg, cap, "%s", err);
        return 400;
    }
    snprintf(msg, cap, "no run with UUID \"%.80s\" in this DB", spec);
    return 404;
}

/* Puts the icon link before </head> and the nav after <body> of a report. */
static char *with_nav(const char *html, size_t len, size_t *outlen)
{
    const char *head = strstr(html, "</head>");
    const char *body = head ? strstr(head, "<body>") : NULL;
    if (!body)
        return NULL;
    body += strlen("<body>");
    size_t a = (size_t)(head - html), b = (size_t)(body - head), c = len - (size_t)(body - html);
    size_t n = a + strlen(head_extra) + b + 1 + strlen(nav_html) + c;
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    char *w = t;
    memcpy(w, html, a);
    w += a;
    memcpy(w, head_extra, strlen(head_extra));
    w += strlen(head_extra);
    memcpy(w, head, b);
    w += b;
    *w++ = '\n';
    memcpy(w, nav_html, strlen(nav_html));
    w += strlen(nav_html);
    memcpy(w, body, c);
    w += c;
    *w = '\0';
    *outlen = n;
    return t;
}

static int page_run(const req *q, const char *spec, bnb_web_resp *out)
{
    bnb_fleet_run run;
    char msg[MSG_MAX];
    int st = find_run(q->db, spec, &run, msg, sizeof msg);
    if (st)
        return html_error(out, st, "%s", msg);
    bnb_report_opts o = {.format = BNB_REPORT_HTML};
    char *text = NULL;
    if (bnb_report_render(q->db, run.row.id, &o, &text, NULL, msg, sizeof msg))
        return html_error(out, 500, "%s", msg);
    size_t n = 0;
    char *page_text = with_nav(text, strlen(text), &n);
    if (!page_text) {
        /* a report without a head and body would be the writer's bug: sent as it is */
        n = strlen(text);
        return resp_set(out, 200, HTML_TYPE, text, n);
    }
    free(text);
    return resp_set(out, 200, HTML_TYPE, page_text, n);
}

/* ---- compare ---------------------------------------------------------------------- */

typedef struct side {
    const char *spec;
    bnb_fleet_run run;
    bool by_machine;
    char label[160];
    bnb_case_result *cases;
    int ncases;
    bnb_run_info ri;
} side;

static void side_free(side *s)
{
    bnb_db_free_cases(s->cases, s->ncases);
    bnb_run_info_free(&s->ri);
    s->cases = NULL;
    s->ncases = 0;
}

/* Resolves argument name (spec) to a run: a run UUID or a prefix of one,
 * else a machine name (its latest complete measured run, as `bnbench
 * compare --machine`), and loads its cases. 0, or an error status with msg. */
static int resolve_side(bnb_db *db, const char *name, const char *spec, side *s, char *msg,
                        size_t cap)
{
    char err[BNB_ERR_MAX];
    memset(s, 0, sizeof *s);
    s->spec = spec;
    if (!spec || !*spec) {
        snprintf(msg, cap,
                 "argument %s is missing: give a run UUID (or its first 8 or more characters) "
                 "or a machine name",
                 name);
        return 400;
    }
    int k = bnb_db_fleet_run_by_uuid(db, spec, &s->run, err);
    if (k < 0) {
        snprintf(msg, cap, "reading run %.80s: %s", spec, err);
        return 500;
    }
    if (k != 0) {
        bool ambiguous = k == 2;
        char amb[BNB_ERR_MAX];
        snprintf(amb, sizeof amb, "%s", err);
        k = bnb_db_fleet_latest_of(db, spec, &s->run, err);
        if (k < 0) {
            snprintf(msg, cap, "reading machine %.80s: %s", spec, err);
            return 500;
        }
        if (k == 1) {
            snprintf(msg, cap, "%s=%.80s: machine \"%.80s\" has no complete run", name, spec, spec);
            return 404;
        }
        if (k == 2) {
            if (ambiguous)
                snprintf(msg, cap, "%s=%.80s: %s", name, spec, amb);
            else
                snprintf(msg, cap, "%s=%.80s: no run UUID and no machine of that name", name, spec);
            return ambiguous ? 400 : 404;
        }
        s->by_machine = true;
    }
    char t[128];
    snprintf(s->label, sizeof s->label, "run %lld (%s)", (long long)s->run.row.id,
             bnb_term_safe(spec, t, 120));
    if (bnb_db_load_cases(db, s->run.row.id, &s->cases, &s->ncases, err) ||
        bnb_db_load_run(db, s->run.row.id, &s->ri, NULL, err)) {
        snprintf(msg, cap, "reading run %lld: %s", (long long)s->run.row.id, err);
        return 500;
    }
    return 0;
}

/* Both sides and their comparison: 0, or an error status with msg. */
static int compare_load(const req *q, side *a, side *b, bnb_cmp_row **rows, int *nrows, char *msg,
                        size_t cap)
{
    *rows = NULL;
    *nrows = 0;
    int st = resolve_side(q->db, "a", get_arg(q, "a"), a, msg, cap);
    if (!st)
        st = resolve_side(q->db, "b", get_arg(q, "b"), b, msg, cap);
    if (st)
        return st;
    if (bnb_compare_runs(a->cases, a->ncases, b->cases, b->ncases, NULL, rows, nrows)) {
        snprintf(msg, cap, "out of memory comparing the runs");
        return 500;
    }
    return 0;
}

/* The compare page with no argument: pick two machines. */
static int compare_form(const req *q, bnb_web_resp *out)
{
    bnb_fleet_machine *ms = NULL;
    int n = 0;
    char err[BNB_ERR_MAX];
    if (bnb_db_fleet_machines(q->db, &ms, &n, err))
        return html_error(out, 500, "reading the machines: %s", err);
    page p;
    if (page_begin(&p, "Compare")) {
        free(ms);
        return -1;
    }
    FILE *f = p.f;
    fputs("<p>Two runs side by side, case by case, with the verdicts of <span class=\"mono\">"
          "bnbench compare</span>. A and B are run UUIDs (or their first 8 or more "
          "characters) or machine names (the latest complete run of each).</p>\n"
          "<form method=\"get\" action=\"/compare\">",
          f);
    for (int side_i = 0; side_i < 2; side_i++) {
        fprintf(f, "<label>%s <select name=\"%s\">", side_i ? "B" : "A", side_i ? "b" : "a");
        int pick = n > 1 ? side_i : 0, k = 0;
        for (int i = 0; i < n; i++) {
            if (!ms[i].has_latest)
                continue;
            fputs("<option value=\"", f);
            esc(f, ms[i].name);
            fprintf(f, "\"%s>", k++ == pick ? " selected" : "");
            esc(f, ms[i].name);
            fputs("</option>", f);
        }
        fputs("</select></label>", f);
    }
    fputs("<button type=\"submit\">Compare</button></form>\n", f);
    free(ms);
    return page_end(&p, 200, out);
}

static void side_row(FILE *f, const char *which, const side *s)
{
    fprintf(f, "<tr><th>%s</th><td>", which);
    machine_link(f, s->run.machine_id, s->run.row.machine);
    fputs("</td><td>", f);
    run_link(f, &s->run.row);
    fputs("</td><td>", f);
    esc(f, s->run.row.started_at);
    fputs("</td><td>", f);
    badge(f, s->run.row.status);
    fputs("</td><td>", f);
    escf(f, "%s%s", s->by_machine ? "latest complete run of machine " : "run ", s->spec);
    fputs("</td></tr>\n", f);
}

static int page_compare(const req *q, bnb_web_resp *out)
{
    const char *aa = get_arg(q, "a"), *bb = get_arg(q, "b");
    if (!aa && !bb)
        return compare_form(q, out);
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    bnb_cmp_row *rows = NULL;
    int n = 0, rc = -1;
    char msg[MSG_MAX];
    svg_bar *bars = NULL;
    int st = compare_load(q, &a, &b, &rows, &n, msg, sizeof msg);
    if (st) {
        rc = html_error(out, st, "%s", msg);
        goto done;
    }
    page p;
    if (page_begin(&p, "Compare"))
        goto done;
    FILE *f = p.f;
    fputs("<table id=\"sides\"><thead><tr><th></th><th>Machine</th><th>Run</th>"
          "<th>Started</th><th>Status</th><th>Asked for</th></tr></thead><tbody>\n",
          f);
    side_row(f, "A", &a);
    side_row(f, "B", &b);
    fputs("</tbody></table>\n", f);
    int c[5] = {0};
    for (int i = 0; i < n; i++)
        c[rows[i].verdict]++;
    fprintf(f,
            "<p>Verdict rule (as <span class=\"mono\">bnbench compare</span>): B is faster or "
            "slower only when the Mann-Whitney U test of the raw samples gives p &lt; %g and "
            "the median moved by more than %.0f%%; ratio = median B / median A (time: below "
            "1 is faster).</p>\n<p id=\"counts\"><b>%d faster, %d slower, %d no change, %d "
            "insufficient samples, %d not comparable</b> &mdash; <a href=\"/api/v1/compare?a=",
            BNB_CMP_ALPHA, 100 * BNB_CMP_THRESHOLD, c[BNB_CMP_FASTER], c[BNB_CMP_SLOWER],
            c[BNB_CMP_SAME], c[BNB_CMP_INSUFFICIENT], c[BNB_CMP_NOT_COMPARABLE]);
    url(f, a.spec);
    fputs("&amp;b=", f);
    url(f, b.spec);
    fputs("\">as JSON</a></p>\n", f);
    bars = calloc((size_t)(n > 0 ? n : 1), sizeof *bars);
    if (!bars) {
        page_abort(&p);
        goto done;
    }
    int nb = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(rows[i].ratio))
            bars[nb++] = (svg_bar){.label = rows[i].key,
                                   .value = rows[i].ratio - 1.0,
                                   .cls = rows[i].verdict == BNB_CMP_SLOWER   ? "bad"
                                          : rows[i].verdict == BNB_CMP_FASTER ? "good"
                                                                              : "na"};
    if (nb > 0)
        svg_bars(f, "median change of B against A (left: B faster, right: B slower)", bars, nb,
                 BNB_CMP_THRESHOLD);
    fputs("<table id=\"compare\"><thead><tr><th>Case</th><th class=\"r\">n A</th>"
          "<th class=\"r\">n B</th><th class=\"r\">Median A</th><th class=\"r\">Median B</th>"
          "<th class=\"r\">B/A</th><th class=\"r\">95% CI of ratio</th><th class=\"r\">p</th>"
          "<th>Verdict</th><th>Note</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < n; i++) {
        const bnb_cmp_row *r = &rows[i];
        char ma[32], mb[32], ra[32], lo[32], hi[32], pv[32];
        fputs("<tr><td>", f);
        esc(f, r->key);
        fprintf(f,
                "</td><td class=\"r\">%d</td><td class=\"r\">%d</td><td class=\"r\">%s</td>"
                "<td class=\"r\">%s</td><td class=\"r\">%s</td><td class=\"r\">[%s, %s]</td>"
                "<td class=\"r\">%s</td><td>",
                r->na, r->nb, bnb_fmt_seconds(r->med_a, ma, sizeof ma),
                bnb_fmt_seconds(r->med_b, mb, sizeof mb),
                bnb_fmt_num(r->ratio, "%.3f", ra, sizeof ra),
                bnb_fmt_num(r->ratio_lo, "%.3f", lo, sizeof lo),
                bnb_fmt_num(r->ratio_hi, "%.3f", hi, sizeof hi),
                bnb_fmt_num(r->p, "%.2g", pv, sizeof pv));
        badge(f, bnb_cmp_verdict_str(r->verdict));
        fputs("</td><td>", f);
        esc(f, r->note);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n<h2>Peers</h2>\n<table id=\"peers\"><thead><tr><th>Peer</th>"
          "<th>A</th><th>B</th></tr></thead><tbody>\n",
          f);
    static const char *const peers[] = {"openblas", "lapack", "mimalloc", "jemalloc"};
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        char pa[4200], pb[4200];
        bnb_peers_label(a.ri.context_json, peers[i], pa, sizeof pa);
        bnb_peers_label(b.ri.context_json, peers[i], pb, sizeof pb);
        fprintf(f, "<tr><td>%s</td><td>", peers[i]);
        esc(f, pa);
        fputs("</td><td>", f);
        esc(f, pb);
        fprintf(f, "%s</td></tr>\n", strcmp(pa, pb) ? " <b>(differs)</b>" : "");
    }
    fputs("</tbody></table>\n", f);
    rc = page_end(&p, 200, out);
done:
    free(bars);
    free(rows);
    side_free(&a);
    side_free(&b);
    return rc;
}

/* ---- API ----------------------------------------------------------------------------- */

static void add_str_or_null(cJSON *o, const char *k, const char *s)
{
    if (s && *s)
        cJSON_AddStringToObject(o, k, s);
    else
        cJSON_AddNullToObject(o, k);
}

/* A run as the API lists it; NULL when out of memory. */
static cJSON *run_json(const bnb_fleet_run *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->row.id);
    cJSON_AddStringToObject(o, "uuid", r->row.uuid);
    cJSON_AddStringToObject(o, "machine", r->row.machine);
    cJSON_AddNumberToObject(o, "machine_id", (double)r->machine_id);
    cJSON_AddStringToObject(o, "fingerprint", r->row.fingerprint);
    cJSON_AddStringToObject(o, "started_at", r->row.started_at);
    add_str_or_null(o, "finished_at", r->row.finished_at);
    cJSON_AddStringToObject(o, "status", r->row.status);
    cJSON_AddStringToObject(o, "reason", r->row.reason);
    cJSON_AddNumberToObject(o, "cases", r->row.ncases);
    cJSON_AddNumberToObject(o, "failed", r->row.nfailed);
    cJSON_AddNumberToObject(o, "skipped", r->row.nskipped);
    cJSON *v = cJSON_AddObjectToObject(o, "verdicts");
    if (v) {
        cJSON_AddNumberToObject(v, "met", r->met);
        cJSON_AddNumberToObject(v, "missed", r->missed);
        cJSON_AddNumberToObject(v, "not measured", r->not_measured);
        cJSON_AddNumberToObject(v, "not applicable", r->not_applicable);
    }
    char link[64];
    snprintf(link, sizeof link, "/api/v1/runs/%s", r->row.uuid);
    cJSON_AddStringToObject(o, "document", link);
    snprintf(link, sizeof link, "/runs/%s", r->row.uuid);
    if (!cJSON_AddStringToObject(o, "report", link)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int api_runs(const req *q, bnb_web_resp *out)
{
    const char *lim = get_arg(q, "limit"), *since = get_arg(q, "since"),
               *machine = get_arg(q, "machine");
    int limit = BNB_FLEET_RUNS_DEFAULT;
    if (lim) {
        int64_t v = 0;
        if (!parse_id(lim, &v) || v > BNB_FLEET_RUNS_MAX)
            return json_error(out, 400,
                              "limit must be a positive integer no larger than %d, got "
                              "\"%.40s\"",
                              BNB_FLEET_RUNS_MAX, lim);
        limit = (int)v;
    }
    char iso[48];
    if (since && !iso_time(since, iso, sizeof iso))
        return json_error(out, 400,
                          "since must be an ISO-8601 timestamp such as 2026-12-01 or "
                          "2026-12-01T08:30:00Z, got \"%.60s\"",
                          since);
    if (machine && !*machine)
        machine = NULL;
    bnb_fleet_run *runs = NULL;
    int n = 0;
    char err[BNB_ERR_MAX];
    if (bnb_db_fleet_runs(q->db, 0, machine, since ? iso : NULL, limit, &runs, &n, err))
        return json_error(out, 500, "reading the runs: %s", err);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "runs") : NULL;
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = run_json(&runs[i]);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            arr = NULL;
        }
    }
    free(runs);
    if (!arr || !cJSON_AddNumberToObject(root, "count", n) ||
        !cJSON_AddNumberToObject(root, "limit", limit)) {
        cJSON_Delete(root);
        return -1;
    }
    return json_send(out, 200, root);
}

static int api_run(const req *q, const char *spec, bnb_web_resp *out)
{
    bnb_fleet_run run;
    char msg[MSG_MAX];
    int st = find_run(q->db, spec, &run, msg, sizeof msg);
    if (st)
        return json_error(out, st, "%s", msg);
    if (!strcmp(run.row.status, "running"))
        return json_error(out, 404,
                          "run %s is still running: its document exists once the run ends",
                          run.row.uuid);
    size_t len = 0;
    char err[BNB_ERR_MAX];
    char *doc = bnb_rundoc_build(q->db, run.row.id, &len, err);
    if (!doc)
        return json_error(out, 500, "building the document of run %s: %s", run.row.uuid, err);
    return resp_set(out, 200, JSON_TYPE, doc, len);
}

static int api_machines(const req *q, bnb_web_resp *out)
{
    fleet_row *rows = NULL;
    int n = 0;
    char err[MSG_MAX];
    if (load_fleet(q->db, &rows, &n, err, sizeof err))
        return json_error(out, 500, "reading the fleet: %s", err);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "machines") : NULL;
    for (int i = 0; arr && i < n; i++) {
        const fleet_row *w = &rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            arr = NULL;
            break;
        }
        cJSON_AddNumberToObject(o, "id", (double)w->m.id);
        cJSON_AddStringToObject(o, "name", w->m.name);
        cJSON_AddStringToObject(o, "fingerprint", w->m.fingerprint);
        cJSON_AddStringToObject(o, "first_seen", w->m.first_seen);
        cJSON_AddStringToObject(o, "last_seen", w->m.last_seen);
        cJSON_AddNumberToObject(o, "runs", w->m.nruns);
        if (!w->m.has_latest) {
            cJSON_AddNullToObject(o, "latest");
            continue;
        }
        cJSON *l = run_json(&w->m.latest);
        if (!l || !cJSON_AddItemToObject(o, "latest", l)) {
            cJSON_Delete(l);
            arr = NULL;
            break;
        }
        cJSON_AddNumberToObject(l, "score", w->score);
        cJSON_AddNumberToObject(l, "coverage", w->coverage);
        cJSON_AddStringToObject(l, "readiness", w->readiness);
    }
    free(rows);
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    return json_send(out, 200, root);
}

static int api_compare(const req *q, bnb_web_resp *out)
{
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    bnb_cmp_row *rows = NULL;
    int n = 0, rc;
    char msg[MSG_MAX];
    int st = compare_load(q, &a, &b, &rows, &n, msg, sizeof msg);
    if (st) {
        rc = json_error(out, st, "%s", msg);
    } else {
        cJSON *tree = bnb_compare_json_tree(a.label, b.label, rows, n, NULL);
        if (tree && bnb_compare_json_add_peers(tree, a.ri.context_json, b.ri.context_json)) {
            cJSON_Delete(tree);
            tree = NULL;
        }
        rc = json_send(out, 200, tree);
    }
    free(rows);
    side_free(&a);
    side_free(&b);
    return rc;
}

/* ---- routes -------------------------------------------------------------------------- */

int bnb_web_get(bnb_db *db, const char *path, bnb_web_arg_fn arg, void *ctx, bnb_web_resp *out)
{
    memset(out, 0, sizeof *out);
    req q = {.db = db, .arg = arg, .ctx = ctx};
    int rc;
    if (!strcmp(path, "/"))
        rc = page_fleet(&q, out);
    else if (!strncmp(path, "/machines/", 10))
        rc = page_machine(&q, path + 10, out);
    else if (!strncmp(path, "/runs/", 6))
        rc = page_run(&q, path + 6, out);
    else if (!strcmp(path, "/compare"))
        rc = page_compare(&q, out);
    else if (!strcmp(path, "/api/v1/runs"))
        rc = api_runs(&q, out);
    else if (!strncmp(path, "/api/v1/runs/", 13))
        rc = api_run(&q, path + 13, out);
    else if (!strcmp(path, "/api/v1/machines"))
        rc = api_machines(&q, out);
    else if (!strcmp(path, "/api/v1/compare"))
        rc = api_compare(&q, out);
    else if (!strncmp(path, "/api/", 5))
        rc = json_error(out, 404, "no API at %.200s (see /api/v1/runs, /api/v1/machines)", path);
    else
        rc = html_error(out, 404, "no page at %.200s", path);
    if (rc) {
        bnb_web_resp_free(out);
        return -1;
    }
    return 0;
}

void bnb_web_resp_free(bnb_web_resp *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
