/*
 * report.c - the readiness report of a stored run (contract: report.h):
 * the public entry points, which gather the run into one `rep` and hand it
 * to the writer of the asked format.
 *
 * The pieces, one concern each:
 *   report_model.c     gather from the DB, ceilings, roofline points, score,
 *                      the lists of what was not measured and of critical
 *                      issues (report_model.h: the `rep`)
 *   report_sections.c  the sections Markdown and HTML share, written against
 *                      a small syntax (report_sections.h)
 *   report_md.c        the Markdown syntax and document
 *   report_html.c      the HTML syntax, charts and document
 *   report_json.c      the JSON document
 */
#include "reports/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_model.h"

int bnb_report_format_parse(const char *s, bnb_report_format *f)
{
    if (!s)
        return -1;
    if (!strcmp(s, "md") || !strcmp(s, "markdown"))
        *f = BNB_REPORT_MD;
    else if (!strcmp(s, "html"))
        *f = BNB_REPORT_HTML;
    else if (!strcmp(s, "json"))
        *f = BNB_REPORT_JSON;
    else
        return -1;
    return 0;
}

int bnb_report_render(bnb_db *db, int64_t run_id, const bnb_report_opts *o, char **text,
                      double *score_out, char *err, size_t cap)
{
    *text = NULL;
    rep r;
    memset(&r, 0, sizeof r);
    int rc = -1;
    if (report__gather(db, run_id, o, true, &r, err, cap))
        goto cleanup;
    if (score_out)
        *score_out = r.score;
    if (o->format == BNB_REPORT_JSON) {
        *text = report__write_json(&r);
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            if (o->format == BNB_REPORT_HTML)
                report__write_html(f, &r);
            else
                report__write_md(f, &r);
            if (fclose(f) == 0)
                *text = buf;
            else
                free(buf);
        }
    }
    if (!*text) {
        snprintf(err, cap, "report: out of memory writing the report");
        goto cleanup;
    }
    rc = 0;
cleanup:
    report__free(&r);
    return rc;
}

int bnb_report_score(bnb_db *db, int64_t run_id, double *score, double *coverage,
                     const char **status, char *err, size_t cap)
{
    rep r;
    memset(&r, 0, sizeof r);
    bnb_report_opts o = {.format = BNB_REPORT_HTML};
    int rc = report__gather(db, run_id, &o, false, &r, err, cap);
    if (rc == 0) {
        *score = r.score;
        *coverage = r.coverage;
        *status = report__status_word(&r);
    }
    report__free(&r);
    return rc;
}
