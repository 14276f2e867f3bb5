/*
 * compare.c - case-by-case comparison of two runs (contract: compare.h).
 *
 * The U test is the one of db/model/stats.h; this file only applies the
 * DESIGN.md rule on top of it and writes the three output formats.
 */
#include "reports/compare.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/peer_label.h"
#include "db/db.h"
#include "db/model/fmt.h"
#include "db/model/stats.h"
#include "db/model/text.h"

static void opts_or_default(const bnb_cmp_opts *o, bnb_cmp_opts *d)
{
    d->threshold = o && o->threshold > 0 ? o->threshold : BNB_CMP_THRESHOLD;
    d->alpha = o && o->alpha > 0 ? o->alpha : BNB_CMP_ALPHA;
}

double bnb_mw_min_p(int n1, int n2)
{
    if (n1 < 1 || n2 < 1)
        return 1.0;
    /* log C(n1 + n2, n1) through lgamma: exact enough for a threshold test */
    double lc = lgamma((double)(n1 + n2) + 1) - lgamma((double)n1 + 1) - lgamma((double)n2 + 1);
    double p = 2.0 * exp(-lc);
    return p > 1.0 ? 1.0 : p;
}

const char *bnb_cmp_verdict_str(bnb_cmp_verdict v)
{
    switch (v) {
    case BNB_CMP_SAME:
        return "no change";
    case BNB_CMP_FASTER:
        return "faster";
    case BNB_CMP_SLOWER:
        return "slower";
    case BNB_CMP_INSUFFICIENT:
        return "insufficient samples";
    case BNB_CMP_NOT_COMPARABLE:
        return "not comparable";
    }
    return "?";
}

void bnb_compare_case(const bnb_case_result *a, const bnb_case_result *b, const bnb_cmp_opts *o,
                      bnb_cmp_row *row)
{
    bnb_cmp_opts d;
    opts_or_default(o, &d);
    memset(row, 0, sizeof *row);
    const bnb_case_result *id = a ? a : b;
    if (id) {
        bnb_case_fullname(id, row->key, sizeof row->key);
        snprintf(row->suite, sizeof row->suite, "%s", id->suite);
    }
    row->med_a = row->med_b = row->ratio = row->ratio_lo = row->ratio_hi = row->p = NAN;
    row->min_p = 1.0;
    row->verdict = BNB_CMP_NOT_COMPARABLE;
    bool oka = a && a->status == BNB_CASE_OK && a->nsamples > 0 && a->samples;
    bool okb = b && b->status == BNB_CASE_OK && b->nsamples > 0 && b->samples;
    if (oka) {
        row->na = a->nsamples;
        row->med_a = a->stats.median;
    }
    if (okb) {
        row->nb = b->nsamples;
        row->med_b = b->stats.median;
    }
    if (!a || !b) {
        snprintf(row->note, sizeof row->note, "only in %s", a ? "A" : "B");
        return;
    }
    if (!oka || !okb) {
        const bnb_case_result *bad = !oka ? a : b;
        snprintf(row->note, sizeof row->note, "%s in %s%s%.150s", bnb_case_status_str(bad->status),
                 !oka ? "A" : "B", bad->message[0] ? ": " : "", bad->message);
        return;
    }
    if (strcmp(a->code_version, b->code_version) != 0) {
        snprintf(row->note, sizeof row->note, "code version differs (%s vs %s)",
                 a->code_version[0] ? a->code_version : "none",
                 b->code_version[0] ? b->code_version : "none");
        return;
    }
    if (row->med_a > 0) {
        row->ratio = row->med_b / row->med_a;
        if (a->stats.ci_hi > 0 && a->stats.ci_lo > 0) {
            row->ratio_lo = b->stats.ci_lo / a->stats.ci_hi;
            row->ratio_hi = b->stats.ci_hi / a->stats.ci_lo;
        }
    }
    row->min_p = bnb_mw_min_p(a->nsamples, b->nsamples);
    bnb_mw_result mw;
    if (bnb_mann_whitney(a->samples, a->nsamples, b->samples, b->nsamples, &mw) == 0)
        row->p = mw.p;
    if (row->min_p >= d.alpha) {
        row->verdict = BNB_CMP_INSUFFICIENT;
        snprintf(row->note, sizeof row->note,
                 "%d and %d samples: the U test cannot reach p < %g (smallest p %.3g); "
                 "need more repetitions",
                 a->nsamples, b->nsamples, d.alpha, row->min_p);
        return;
    }
    if (!isfinite(row->ratio) || !isfinite(row->p)) {
        snprintf(row->note, sizeof row->note, "median or U test not computable");
        return;
    }
    row->verdict = BNB_CMP_SAME;
    double change = row->ratio - 1.0;
    if (row->p < d.alpha && fabs(change) > d.threshold)
        row->verdict = change > 0 ? BNB_CMP_SLOWER : BNB_CMP_FASTER;
    else if (row->p < d.alpha)
        snprintf(row->note, sizeof row->note,
                 "significant but %+.1f%% is within the %.0f%% threshold", 100.0 * change,
                 100.0 * d.threshold);
    else if (fabs(change) > d.threshold)
        snprintf(row->note, sizeof row->note, "%+.1f%% but not significant (p = %.3g)",
                 100.0 * change, row->p);
}

int bnb_compare_runs(const bnb_case_result *a, int na, const bnb_case_result *b, int nb,
                     const bnb_cmp_opts *o, bnb_cmp_row **rows, int *nrows)
{
    *rows = NULL;
    *nrows = 0;
    bnb_cmp_row *r = calloc((size_t)(na + nb > 0 ? na + nb : 1), sizeof *r);
    bool *used = calloc((size_t)(nb > 0 ? nb : 1), sizeof *used);
    char *kb = calloc((size_t)(nb > 0 ? nb : 1), BNB_NAME_MAX + 160);
    if (!r || !used || !kb) {
        free(r);
        free(used);
        free(kb);
        return -1;
    }
    for (int j = 0; j < nb; j++)
        bnb_case_fullname(&b[j], kb + (size_t)j * (BNB_NAME_MAX + 160), BNB_NAME_MAX + 160);
    int k = 0;
    for (int i = 0; i < na; i++) {
        char key[BNB_NAME_MAX + 160];
        bnb_case_fullname(&a[i], key, sizeof key);
        const bnb_case_result *match = NULL;
        for (int j = 0; j < nb && !match; j++)
            if (!used[j] && !strcmp(key, kb + (size_t)j * (BNB_NAME_MAX + 160))) {
                used[j] = true;
                match = &b[j];
            }
        bnb_compare_case(&a[i], match, o, &r[k++]);
    }
    for (int j = 0; j < nb; j++)
        if (!used[j])
            bnb_compare_case(NULL, &b[j], o, &r[k++]);
    free(used);
    free(kb);
    *rows = r;
    *nrows = k;
    return 0;
}

/* ---- writers ------------------------------------------------------------------ */

static void counts(const bnb_cmp_row *rows, int n, int c[5])
{
    memset(c, 0, 5 * sizeof *c);
    for (int i = 0; i < n; i++)
        c[rows[i].verdict]++;
}

void bnb_compare_write_text(FILE *f, const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                            const bnb_cmp_opts *o)
{
    bnb_cmp_opts d;
    opts_or_default(o, &d);
    /* names and messages come from the DB: control characters escaped */
    char ta[256], tb[256], key[4 * (BNB_NAME_MAX + 160)], note[4 * 200];
    fprintf(f, "A = %s, B = %s; verdict: U test p < %g and |median change| > %.0f%%\n\n",
            bnb_term_safe(la, ta, sizeof ta), bnb_term_safe(lb, tb, sizeof tb), d.alpha,
            100 * d.threshold);
    fprintf(f, "%-40s %11s %11s %7s %-17s %9s  %s\n", "case", "median A", "median B", "B/A",
            "95% CI of ratio", "p", "verdict");
    for (int i = 0; i < n; i++) {
        const bnb_cmp_row *r = &rows[i];
        char ma[32], mb[32], ra[32], lo[32], hi[32], p[32], ci[80];
        snprintf(ci, sizeof ci, "[%s, %s]", bnb_fmt_num(r->ratio_lo, "%.3f", lo, sizeof lo),
                 bnb_fmt_num(r->ratio_hi, "%.3f", hi, sizeof hi));
        fprintf(f, "%-40s %11s %11s %7s %-17s %9s  %s%s%s\n",
                bnb_term_safe(r->key, key, sizeof key), bnb_fmt_seconds(r->med_a, ma, sizeof ma),
                bnb_fmt_seconds(r->med_b, mb, sizeof mb),
                bnb_fmt_num(r->ratio, "%.3f", ra, sizeof ra), ci,
                bnb_fmt_num(r->p, "%.2g", p, sizeof p), bnb_cmp_verdict_str(r->verdict),
                r->note[0] ? " - " : "", bnb_term_safe(r->note, note, sizeof note));
    }
    int c[5];
    counts(rows, n, c);
    fprintf(f, "\n%d faster, %d slower, %d no change, %d insufficient samples, %d not comparable\n",
            c[BNB_CMP_FASTER], c[BNB_CMP_SLOWER], c[BNB_CMP_SAME], c[BNB_CMP_INSUFFICIENT],
            c[BNB_CMP_NOT_COMPARABLE]);
}

/* Markdown table cells must not contain a bare '|' or a line break; other
 * control characters and invalid bytes are escaped (text.h). */
static void md_cell(FILE *f, const char *s)
{
    bnb_md_fputs(s, "|", f);
}

void bnb_compare_write_md(FILE *f, const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                          const bnb_cmp_opts *o)
{
    bnb_cmp_opts d;
    opts_or_default(o, &d);
    char ta[256], tb[256];
    fprintf(f,
            "A = %s, B = %s. Verdict rule: Mann-Whitney U p < %g **and** median change "
            "beyond %.0f%%; ratio = median B / median A (time, < 1 is faster).\n\n",
            bnb_term_safe(la, ta, sizeof ta), bnb_term_safe(lb, tb, sizeof tb), d.alpha,
            100 * d.threshold);
    fprintf(f, "| case | median A | median B | B/A | 95%% CI | p | verdict |\n");
    fprintf(f, "|---|---:|---:|---:|---|---:|---|\n");
    for (int i = 0; i < n; i++) {
        const bnb_cmp_row *r = &rows[i];
        char ma[32], mb[32], ra[32], lo[32], hi[32], p[32];
        fputs("| `", f);
        md_cell(f, r->key);
        fprintf(
            f, "` | %s | %s | %s | [%s, %s] | %s | %s", bnb_fmt_seconds(r->med_a, ma, sizeof ma),
            bnb_fmt_seconds(r->med_b, mb, sizeof mb), bnb_fmt_num(r->ratio, "%.3f", ra, sizeof ra),
            bnb_fmt_num(r->ratio_lo, "%.3f", lo, sizeof lo),
            bnb_fmt_num(r->ratio_hi, "%.3f", hi, sizeof hi), bnb_fmt_num(r->p, "%.2g", p, sizeof p),
            r->verdict == BNB_CMP_SLOWER   ? "**slower**"
            : r->verdict == BNB_CMP_FASTER ? "**faster**"
                                           : bnb_cmp_verdict_str(r->verdict));
        if (r->note[0]) {
            fputs(" (", f);
            md_cell(f, r->note);
            fputc(')', f);
        }
        fputs(" |\n", f);
    }
    int c[5];
    counts(rows, n, c);
    fprintf(f,
            "\n%d faster, %d slower, %d no change, %d insufficient samples, %d not comparable.\n",
            c[BNB_CMP_FASTER], c[BNB_CMP_SLOWER], c[BNB_CMP_SAME], c[BNB_CMP_INSUFFICIENT],
            c[BNB_CMP_NOT_COMPARABLE]);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *bnb_compare_json_tree(const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                             const bnb_cmp_opts *o)
{
    bnb_cmp_opts d;
    opts_or_default(o, &d);
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddStringToObject(root, "a", la);
    cJSON_AddStringToObject(root, "b", lb);
    cJSON *rule = cJSON_AddObjectToObject(root, "rule");
    if (rule) {
        cJSON_AddNumberToObject(rule, "alpha", d.alpha);
        cJSON_AddNumberToObject(rule, "threshold", d.threshold);
        cJSON_AddStringToObject(rule, "test", "Mann-Whitney U, two-sided");
        cJSON_AddStringToObject(rule, "ratio", "median_b / median_a (seconds per iteration)");
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "cases");
    for (int i = 0; arr && i < n; i++) {
        const bnb_cmp_row *r = &rows[i];
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(arr, c))
            goto oom;
        cJSON_AddStringToObject(c, "case", r->key);
        cJSON_AddStringToObject(c, "suite", r->suite);
        cJSON_AddNumberToObject(c, "n_a", r->na);
        cJSON_AddNumberToObject(c, "n_b", r->nb);
        add_num(c, "median_a_s", r->med_a);
        add_num(c, "median_b_s", r->med_b);
        add_num(c, "ratio", r->ratio);
        add_num(c, "ratio_ci_lo", r->ratio_lo);
        add_num(c, "ratio_ci_hi", r->ratio_hi);
        add_num(c, "p", r->p);
        add_num(c, "min_p", r->min_p);
        cJSON_AddStringToObject(c, "verdict", bnb_cmp_verdict_str(r->verdict));
        cJSON_AddStringToObject(c, "note", r->note);
    }
    return root;
oom:
    cJSON_Delete(root);
    return NULL;
}

int bnb_compare_json_add_peers(cJSON *root, const char *ctx_a, const char *ctx_b)
{
    static const char *const names[] = {"openblas", "lapack", "mimalloc", "jemalloc"};
    cJSON *peers = cJSON_AddObjectToObject(root, "peers");
    if (!peers)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char pa[PATH_MAX + 64], pb[PATH_MAX + 64];
        bnb_peers_label(ctx_a, names[i], pa, sizeof pa);
        bnb_peers_label(ctx_b, names[i], pb, sizeof pb);
        cJSON *o = cJSON_AddObjectToObject(peers, names[i]);
        if (!o || !cJSON_AddStringToObject(o, "A", pa) || !cJSON_AddStringToObject(o, "B", pb) ||
            !cJSON_AddBoolToObject(o, "differ", strcmp(pa, pb) != 0))
            return -1;
    }
    return 0;
}

char *bnb_compare_json(const char *la, const char *lb, const bnb_cmp_row *rows, int n,
                       const bnb_cmp_opts *o)
{
    cJSON *root = bnb_compare_json_tree(la, lb, rows, n, o);
    char *text = root && !bnb_json_utf8_tree(root) ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}
