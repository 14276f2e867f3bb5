/*
 * report_html.c - the HTML report: one self-contained, printable page (inline
 * CSS, inline SVG charts from svg.c, no external resource) holding the
 * shared sections (report_sections.c) in HTML syntax. Verdict cells are
 * coloured by class (good, bad, na); the score has a block of its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"
#include "reports/report_sections.h"
#include "reports/svg.h"

static void html_heading(FILE *f, int level, const char *id, const char *t)
{
    fprintf(f, "<h%d id=\"%s\">", level, id);
    bnb_markup_fputs(t, f);
    fprintf(f, "</h%d>\n", level);
}

static void html_para(FILE *f, const char *t)
{
    fputs("<p>", f);
    bnb_markup_fputs(t, f);
    fputs("</p>\n", f);
}

static void html_score(FILE *f, const char *score, const char *status, double coverage)
{
    fprintf(f,
            "<div class=\"score\"><span class=\"big\">%s</span> <span class=\"status\">%s"
            "</span><br>evidence coverage: %.0f%% of the weight is measured</div>\n",
            score, status, coverage);
}

static void html_list(FILE *f, const strlist *l)
{
    fputs("<ul>\n", f);
    for (int i = 0; i < l->n; i++) {
        fputs("<li>", f);
        bnb_markup_fputs(l->s[i], f);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

/* The colour class of a verdict cell, or NULL for any other text. */
static const char *verdict_class(const char *s)
{
    if (!strcmp(s, "met") || !strcmp(s, "faster") || !strcmp(s, "ok") || !strcmp(s, "yes"))
        return "good";
    if (!strcmp(s, "missed") || !strcmp(s, "slower") || !strcmp(s, "FAILED") ||
        !strcmp(s, "failed"))
        return "bad";
    if (!strcmp(s, "not measured") || !strcmp(s, "not applicable") || !strcmp(s, "skipped") ||
        !strcmp(s, "insufficient samples") || !strcmp(s, "not comparable") ||
        !strcmp(s, "not available"))
        return "na";
    return NULL;
}

static void html_thead(FILE *f, const char *align, int n, const char *const *cells)
{
    fputs("<table><thead><tr>", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "<th%s>", align[i] == 'r' ? " class=\"r\"" : "");
        bnb_markup_fputs(cells[i], f);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
}

static void html_trow(FILE *f, const char *align, int n, const char *const *cells)
{
    fputs("<tr>", f);
    for (int i = 0; i < n; i++) {
        const char *cls = verdict_class(cells[i]);
        fprintf(f, "<td%s>", align[i] == 'r' ? " class=\"r\"" : "");
        if (cls)
            fprintf(f, "<span class=\"v %s\">", cls);
        bnb_markup_fputs(cells[i], f);
        fputs(cls ? "</span></td>" : "</td>", f);
    }
    fputs("</tr>\n", f);
}

/* The roofline of the measured ceilings with this run's points. */
static void roofline_chart(FILE *f, const rep *r)
{
    svg_point *pts = calloc((size_t)(r->nroof ? r->nroof : 1), sizeof *pts);
    if (pts) {
        for (int i = 0; i < r->nroof; i++)
            pts[i] =
                (svg_point){.label = r->roof[i].label, .x = r->roof[i].ai, .y = r->roof[i].gflops};
        svg_roofline(f, r->peak, r->bw, pts, r->nroof);
        free(pts);
    }
}

/* One small chart per history figure. */
static void history_charts(FILE *f, const rep *r)
{
    fputs("<div class=\"charts\">\n", f);
    for (int i = 0; i < r->nhist; i++) {
        const history *h = &r->hist[i];
        double *v = malloc((size_t)(h->n ? h->n : 1) * sizeof *v);
        if (!v)
            continue;
        for (int k = 0; k < h->n; k++)
            v[k] = h->p[k].value;
        svg_history(f, h->figure, h->unit, v, h->n);
        free(v);
    }
    fputs("</div>\n", f);
}

/* The change of each compared case against the baseline, as bars. */
static void baseline_chart(FILE *f, const rep *r)
{
    svg_bar *bars = calloc((size_t)(r->ncmp ? r->ncmp : 1), sizeof *bars);
    int nb = 0;
    for (int i = 0; bars && i < r->ncmp; i++)
        if (isfinite(r->cmp[i].ratio))
            bars[nb++] = (svg_bar){.label = r->cmp[i].key,
                                   .value = r->cmp[i].ratio - 1.0,
                                   .cls = r->cmp[i].verdict == BNB_CMP_SLOWER   ? "bad"
                                          : r->cmp[i].verdict == BNB_CMP_FASTER ? "good"
                                                                                : "na"};
    if (bars)
        svg_bars(f, "median change against the baseline (left: faster, right: slower)", bars, nb,
                 BNB_CMP_THRESHOLD);
    free(bars);
}

const report_syntax report__html_syntax = {
    .heading = html_heading,
    .para = html_para,
    .list = html_list,
    .thead = html_thead,
    .trow = html_trow,
    .table_end = "</tbody></table>\n",
    .score = html_score,
    .box_open = "\u2610",
    .box_done = "\u2611",
    .checklist = html_list,
    .roofline_chart = roofline_chart,
    .history_charts = history_charts,
    .baseline_chart = baseline_chart,
};

const char report__html_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;"
    "max-width:1200px;padding:0 1em;color:#1b1f24;line-height:1.4}"
    "h1{font-size:1.6em;border-bottom:2px solid #444;padding-bottom:.2em}"
    "h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1.05em}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.85em;width:100%}"
    "th,td{border:1px solid #ccd;padding:.25em .5em;vertical-align:top;text-align:left;"
    "word-break:break-word}th{background:#eef1f5;white-space:nowrap}td.r,th.r{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".v{font-weight:600;padding:0 .3em;border-radius:3px}.good{color:#0a6b2d;background:#dff5e5}"
    ".bad{color:#a0111b;background:#fde2e4}.na{color:#5b5f66;background:#eceef1}"
    ".score{font-size:1.1em;margin:.5em 0}.big{font-size:2.2em;font-weight:700}"
    ".status{font-weight:700;margin-left:.5em}.charts{display:flex;flex-wrap:wrap;gap:10px}"
    "svg{background:#fff;max-width:100%;height:auto}svg text{font-family:inherit}"
    "nav a{margin-right:1em}"
    "@media print{body{margin:0;max-width:none;font-size:10pt}nav{display:none}"
    "h2{break-after:avoid}table,svg{break-inside:avoid}"
    ".good,.bad,.na{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

void report__write_html(FILE *f, const rep *r)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>bnbench readiness report: run %lld</title><style>%s</style></head>"
            "<body>\n",
            (long long)r->run_id, report__html_css);
    fputs("<nav><a href=\"#score\">Score</a><a href=\"#critical\">Critical issues</a>"
          "<a href=\"#targets\">Targets</a><a href=\"#suites\">Suites</a>"
          "<a href=\"#roofline\">Roofline</a><a href=\"#history\">History</a>"
          "<a href=\"#baseline\">Baseline</a><a href=\"#environment\">Environment</a>"
          "<a href=\"#not-measured\">Not measured</a></nav>\n",
          f);
    report__write_sections(f, r, &report__html_syntax);
    fputs("<p><small>Generated by bnbench " BN_VERSION " from the stored measurements; "
          "every figure is traceable to raw samples in the DB.</small></p>\n</body></html>\n",
          f);
}
