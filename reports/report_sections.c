/*
 * report_sections.c - the sections of the Markdown and HTML reports
 * (contract: report_sections.h): title and run table, score, critical
 * issues and checklist, targets, results per suite with % of the measured
 * ceilings, roofline, history, baseline comparison, environment, what was
 * not measured, definitions. Every figure comes from the `rep`; how it is
 * written is the format's `report_syntax`.
 */
#include "reports/report_sections.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/peer_label.h"
#include "db/model/fmt.h"

/* ---- the writer: a FILE and a syntax ------------------------------------------------- */

typedef struct out {
    FILE *f;
    const report_syntax *syn;
} out;

static void heading(out *o, int level, const char *id, const char *t)
{
    o->syn->heading(o->f, level, id, t);
}

static void para(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void para(out *o, const char *fmt, ...)
{
    char *t = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&t, fmt, ap) < 0)
        t = NULL;
    va_end(ap);
    if (!t)
        return;
    o->syn->para(o->f, t);
    free(t);
}

/* The list, or the sentence empty when it has no item. */
static void list(out *o, const strlist *l, const char *empty)
{
    if (l->n == 0)
        para(o, "%s", empty);
    else
        o->syn->list(o->f, l);
}

/* The cells of a table row, as an array; the row's align string (one char
 * per column, 'l' or 'r') gives their count. */
#define CELLS(...) ((const char *const[]){__VA_ARGS__})

static void thead(out *o, const char *align, const char *const *cells)
{
    o->syn->thead(o->f, align, (int)strlen(align), cells);
}

static void trow(out *o, const char *align, const char *const *cells)
{
    o->syn->trow(o->f, align, (int)strlen(align), cells);
}

static void tend(out *o)
{
    fputs(o->syn->table_end, o->f);
}

/* Text sparkline of a history: the trend column, in both formats. */
static void sparkline(const history *h, char *b, size_t cap)
{
    static const char *bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                 "\u2585", "\u2586", "\u2587", "\u2588"};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < h->n; i++) {
        lo = fmin(lo, h->p[i].value);
        hi = fmax(hi, h->p[i].value);
    }
    size_t l = 0;
    b[0] = '\0';
    for (int i = 0; i < h->n && l + 4 < cap; i++) {
        int k = hi > lo ? (int)((h->p[i].value - lo) / (hi - lo) * 7.0 + 0.5) : 3;
        l += (size_t)snprintf(b + l, cap - l, "%s", bars[k < 0 ? 0 : k > 7 ? 7 : k]);
    }
}

/* ---- sections ------------------------------------------------------------------------------- */

static void sec_header(out *o, const rep *r)
{
    char t[256], a[64], b[160];
    snprintf(t, sizeof t, "bnbench readiness report: run %lld on %s", (long long)r->run_id,
             r->ri.machine_name);
    heading(o, 1, "top", t);
    thead(o, "ll", CELLS("field", "value"));
    char runid[128];
    snprintf(runid, sizeof runid, "%lld (uuid %s)", (long long)r->run_id, r->ri.uuid);
    trow(o, "ll", CELLS("run", runid));
    trow(o, "ll", CELLS("date (started, UTC)", r->row.started_at));
    trow(o, "ll", CELLS("finished", r->row.finished_at[0] ? r->row.finished_at : "not finished"));
    trow(o, "ll", CELLS("status", r->row.status));
    trow(o, "ll", CELLS("reason", r->ri.reason));
    trow(o, "ll", CELLS("machine", r->ri.machine_name));
    trow(o, "ll", CELLS("fingerprint", r->ri.fingerprint));
    trow(o, "ll", CELLS("CPU", r->cpu));
    trow(o, "ll", CELLS("ISA", r->isa));
    char cores[96];
    if (r->cores > 0)
        snprintf(cores, sizeof cores, "%d cores, %d hardware threads", r->cores, r->pus);
    else
        snprintf(cores, sizeof cores, "not recorded");
    trow(o, "ll", CELLS("cores", cores));
    trow(o, "ll",
         CELLS("memory", isfinite(r->mem_gib) ? (snprintf(a, sizeof a, "%.1f GiB", r->mem_gib), a)
                                              : "not recorded"));
    trow(o, "ll", CELLS("OS", r->os));
    trow(o, "ll", CELLS("compiler", r->ri.compiler[0] ? r->ri.compiler : "not recorded"));
    trow(o, "ll", CELLS("flags", r->ri.cflags[0] ? r->ri.cflags : "not recorded"));
    trow(o, "ll", CELLS("build type", r->ri.build_type[0] ? r->ri.build_type : "not recorded"));
    trow(o, "ll", CELLS("kernels selected", r->ri.kernels[0] ? r->ri.kernels : "not recorded"));
    bnb_peers_label(r->ri.context_json, "openblas", b, sizeof b);
    trow(o, "ll", CELLS("OpenBLAS (peer)", b));
    snprintf(b, sizeof b, "%s%s%s", r->ri.commit[0] ? r->ri.commit : "not recorded",
             r->ri.branch[0] ? " on " : "", r->ri.branch);
    trow(o, "ll", CELLS("commit", b));
    trow(o, "ll", CELLS("CPU binding", r->ri.binding_json ? r->ri.binding_json : "not recorded"));
    tend(o);
}

static void sec_score(out *o, const rep *r)
{
    heading(o, 2, "score", "Readiness score");
    char s[64];
    snprintf(s, sizeof s, "%.1f/100", r->score);
    o->syn->score(o->f, s, report__status_word(r), r->coverage);
    para(o, "Formula: score = sum over the five categories of weight x category score / sum of "
            "all weights (100). A category with nothing measured scores 0 and is marked "
            "\"not measured\": it is never given full marks. Status: READY only when every "
            "category is measured, the score is at least 90 and there is no critical issue.");
    thead(o, "lrrrl",
          CELLS("category", "weight", "score", "contributes", "basis (measured inputs)"));
    for (int i = 0; i < REPORT_NCATS; i++) {
        const category *c = &r->cat[i];
        char w[16], sc[32], ct[32];
        snprintf(w, sizeof w, "%.0f", c->weight);
        if (c->measured) {
            snprintf(sc, sizeof sc, "%.1f", c->score);
            snprintf(ct, sizeof ct, "%.1f", c->weight * c->score / 100.0);
        } else {
            snprintf(sc, sizeof sc, "not measured");
            snprintf(ct, sizeof ct, "0");
        }
        trow(o, "lrrrl", CELLS(c->name, w, sc, ct, c->basis));
    }
    tend(o);
    para(o, "Category formulas: correctness = 100 x ok / (ok + failed); targets = 100 x met / "
            "(met + missed); memory = 100 x zero-valued memory checks / memory checks; "
            "measurement quality = 60 x share of cases with CV <= 5%% + 20 x (1 - share of "
            "Tukey-flagged samples) + 20 x max(0, 1 - warnings / 5); regressions = 100 x "
            "(compared - slower) / compared against the baseline.");
}

static void sec_critical(out *o, const rep *r)
{
    heading(o, 2, "critical", "Critical issues");
    list(o, &r->critical, "None found in the measured evidence (see what was not measured below).");
    if (r->findings.n) {
        para(o, "Also found (does not block readiness on its own):");
        list(o, &r->findings, "");
    }
    heading(o, 2, "checklist", "Checklist");
    strlist cl = {0};
    for (int i = 0; i < REPORT_NCATS; i++) {
        const category *c = &r->cat[i];
        bool pass = c->measured && c->score >= 100.0 - 1e-9;
        if (!c->measured)
            report__list_add(&cl, "%s %s: not measured", o->syn->box_open, c->name);
        else
            report__list_add(&cl, "%s %s: %.1f/100", pass ? o->syn->box_done : o->syn->box_open,
                             c->name, c->score);
    }
    o->syn->checklist(o->f, &cl);
    report__list_free(&cl);
}

static void sec_targets(out *o, const rep *r)
{
    heading(o, 2, "targets", "Performance targets");
    if (r->ts.n == 0) {
        para(o, "No target verdicts are stored with this run.");
        return;
    }
    thead(o, "llllll",
          CELLS("target", "figure", "threshold", "measured [95% CI]", "verdict", "reason"));
    for (int i = 0; i < r->ts.n; i++) {
        const bnb_verdict *v = &r->v[i];
        const bnb_target *t = v->target;
        char thr[400], meas[96];
        if (t->relative_to[0] && isfinite(v->bound))
            snprintf(thr, sizeof thr, "%s %.4g x %s = %.4g", t->op, t->threshold, t->relative_to,
                     v->bound);
        else if (t->relative_to[0])
            snprintf(thr, sizeof thr, "%s %.4g x %s (reference not measured)", t->op, t->threshold,
                     t->relative_to);
        else
            snprintf(thr, sizeof thr, "%s %.4g", t->op, t->threshold);
        if (!v->measured_ok)
            snprintf(meas, sizeof meas, "-");
        else if (isfinite(v->ci_lo) && isfinite(v->ci_hi))
            snprintf(meas, sizeof meas, "%.4g [%.4g, %.4g]", v->measured, v->ci_lo, v->ci_hi);
        else
            snprintf(meas, sizeof meas, "%.4g", v->measured);
        trow(o, "llllll", CELLS(t->id, t->figure, thr, meas, v->verdict, v->reason));
    }
    tend(o);
}

/* Which implementation the peer figures of a suite came from (the peers
 * stored with the run, collectors/peers.h). */
static void peer_note(out *o, const rep *r, const char *suite)
{
    char ob[256], la[PATH_MAX + 32];
    bnb_peers_label(r->ri.context_json, "openblas", ob, sizeof ob);
    if (!strcmp(suite, "matmul"))
        para(o, "Peer: vs_openblas ratios are vs %s.", ob);
    else if (!strcmp(suite, "ternary"))
        para(o, "Peer: f32/openblas cases are %s.", ob);
    else if (!strcmp(suite, "linalg")) {
        bnb_peers_label(r->ri.context_json, "lapack", la, sizeof la);
        para(o, "Peer: ratios are vs %s, over %s.", la, ob);
    }
}

static void sec_suites(out *o, const rep *r)
{
    heading(o, 2, "suites", "Results per suite");
    char pk[64], bw[64];
    para(o,
         "Ceilings measured in this run: FMA peak %s GFLOP/s (%s), triad bandwidth %s GB/s. "
         "Medians are seconds per iteration; CI is the bootstrap 95%% interval of the median; "
         "MAD unscaled; outliers are Tukey-flagged samples (kept).",
         bnb_fmt_num(r->peak, "%.4g", pk, sizeof pk),
         r->peak_case[0] ? r->peak_case : "not measured",
         bnb_fmt_num(r->bw, "%.4g", bw, sizeof bw));
    const char *cur = NULL;
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *c = &r->cases[i];
        if (!cur || strcmp(cur, c->suite)) {
            if (cur)
                tend(o);
            cur = c->suite;
            char h[64];
            snprintf(h, sizeof h, "Suite %s", cur);
            heading(o, 3, cur, h);
            peer_note(o, r, cur);
            thead(o, "llrrlrrrlr",
                  CELLS("case", "status", "n", "median", "95% CI", "CV", "MAD", "outliers",
                        "figure", "% of ceiling"));
        }
        char full[BNB_NAME_MAX + 160], n[16], med[32], lo[32], hi[32], ci[80], cv[32], mad[32],
            out_[16], fig[128], pct[64];
        bnb_case_fullname(c, full, sizeof full);
        const char *full_short = full + strlen(c->suite) + 1;
        if (c->status != BNB_CASE_OK) {
            trow(o, "llrrlrrrlr",
                 CELLS(full_short, c->status == BNB_CASE_FAILED ? "FAILED" : "skipped", "-", "-",
                       "-", "-", "-", "-", c->message, "-"));
            continue;
        }
        snprintf(n, sizeof n, "%d", c->stats.n);
        bnb_fmt_seconds(c->stats.median, med, sizeof med);
        snprintf(ci, sizeof ci, "[%s, %s]", bnb_fmt_seconds(c->stats.ci_lo, lo, sizeof lo),
                 bnb_fmt_seconds(c->stats.ci_hi, hi, sizeof hi));
        snprintf(cv, sizeof cv, "%.2f%%", 100.0 * c->stats.cv);
        bnb_fmt_seconds(c->stats.mad, mad, sizeof mad);
        snprintf(out_, sizeof out_, "%d", c->stats.outliers_low + c->stats.outliers_high);
        const bnb_metric *m = report__rate_metric(c);
        snprintf(pct, sizeof pct, "-");
        if (m && m->available) {
            snprintf(fig, sizeof fig, "%s %.4g %s", m->name, m->value, m->unit);
            double ceil = !strcmp(m->name, "gbps") ? r->bw : r->peak;
            if (isfinite(ceil) && ceil > 0)
                snprintf(pct, sizeof pct, "%.1f%% of %s", 100.0 * m->value / ceil,
                         !strcmp(m->name, "gbps") ? "triad" : "FMA peak");
        } else if (m) {
            snprintf(fig, sizeof fig, "%s not available", m->name);
        } else {
            fig[0] = '\0';
            for (int k = 0; k < c->nmetrics; k++) {
                const bnb_metric *x = &c->metrics[k];
                if (x->available && strncmp(x->name, "counter.", 8)) {
                    snprintf(fig, sizeof fig, "%s %.4g %s", x->name, x->value, x->unit);
                    break;
                }
            }
            if (!fig[0])
                snprintf(fig, sizeof fig, "-");
        }
        trow(o, "llrrlrrrlr", CELLS(full_short, "ok", n, med, ci, cv, mad, out_, fig, pct));
    }
    if (cur)
        tend(o);
    else
        para(o, "No case is stored with this run.");
}

static void sec_roofline(out *o, const rep *r)
{
    heading(o, 2, "roofline", "Roofline");
    para(o, "Roof: min(FMA peak, triad bandwidth x AI), both measured in this run. Arithmetic "
            "intensity (AI) = flops / bytes of compulsory traffic: f32 GEMM 2MNK / (4(MK + KN + "
            "MN)); triad 2 flops / 24 bytes; a case may store its own \"ai\" metric.");
    if (!isfinite(r->peak) || !isfinite(r->bw)) {
        para(o, "Not drawn: the %s was not measured in this run.",
             !isfinite(r->peak) ? "FMA peak" : "triad bandwidth");
    } else if (o->syn->roofline_chart) {
        o->syn->roofline_chart(o->f, r);
    }
    if (r->nroof) {
        thead(o, "lrrr", CELLS("case", "AI (flop/B)", "GFLOP/s", "% of roof"));
        for (int i = 0; i < r->nroof; i++) {
            char ai[32], g[32], p[32];
            double roof =
                isfinite(r->peak) && isfinite(r->bw) ? fmin(r->peak, r->bw * r->roof[i].ai) : NAN;
            trow(o, "lrrr",
                 CELLS(r->roof[i].label, bnb_fmt_num(r->roof[i].ai, "%.4g", ai, sizeof ai),
                       bnb_fmt_num(r->roof[i].gflops, "%.4g", g, sizeof g),
                       bnb_fmt_num(100.0 * r->roof[i].gflops / roof, "%.1f%%", p, sizeof p)));
        }
        tend(o);
    }
    if (r->roof_skipped.n) {
        para(o, "Not placed on the roofline:");
        list(o, &r->roof_skipped, "");
    }
}

static void sec_history(out *o, const rep *r)
{
    heading(o, 2, "history", "History on this machine");
    if (r->nhist == 0) {
        para(o, "No throughput figure in this run to follow over time.");
        return;
    }
    para(o,
         "Each key figure over the last runs of this machine (oldest first, this run last); "
         "z = (this run - mean) / stddev of the %d runs before it (undefined with fewer than "
         "3).",
         BNB_HISTORY_WINDOW);
    if (o->syn->history_charts)
        o->syn->history_charts(o->f, r);
    thead(o, "lrlrrl", CELLS("figure", "runs", "trend", "this run", "mean (window)", "z"));
    for (int i = 0; i < r->nhist; i++) {
        const history *h = &r->hist[i];
        char n[16], sp[400], last[64], mean[64], z[64];
        snprintf(n, sizeof n, "%d", h->n);
        sparkline(h, sp, sizeof sp);
        snprintf(last, sizeof last, "%.4g %s", h->n ? h->p[h->n - 1].value : NAN, h->unit);
        bnb_fmt_num(h->mean, "%.4g", mean, sizeof mean);
        if (isfinite(h->z))
            snprintf(z, sizeof z, "%+.2f", h->z);
        else
            snprintf(z, sizeof z, "undefined (%d earlier runs)", h->n > 0 ? h->n - 1 : 0);
        trow(o, "lrlrrl", CELLS(h->figure, n, sp, last, mean, z));
    }
    tend(o);
}

static void sec_baseline(out *o, const rep *r)
{
    heading(o, 2, "baseline", "Comparison with the baseline");
    if (!r->have_base) {
        para(o, "Not measured: %s.", r->base_note);
        return;
    }
    para(o,
         "Baseline \"%s\" is run %lld. Ratio = median of this run / median of the baseline "
         "(time, below 1 is faster). Verdict: Mann-Whitney U p < %g and the median moved by "
         "more than %.0f%%; too few samples for the test to reach p < %g are reported as "
         "insufficient samples, never as a regression.",
         r->base_name, (long long)r->base_id, BNB_CMP_ALPHA, 100 * BNB_CMP_THRESHOLD,
         BNB_CMP_ALPHA);
    if (o->syn->baseline_chart)
        o->syn->baseline_chart(o->f, r);
    thead(o, "lrrrlrl", CELLS("case", "baseline", "this run", "ratio", "95% CI", "p", "verdict"));
    for (int i = 0; i < r->ncmp; i++) {
        const bnb_cmp_row *c = &r->cmp[i];
        char a[32], b[32], ra[32], lo[32], hi[32], ci[80], p[32];
        snprintf(ci, sizeof ci, "[%s, %s]", bnb_fmt_num(c->ratio_lo, "%.3f", lo, sizeof lo),
                 bnb_fmt_num(c->ratio_hi, "%.3f", hi, sizeof hi));
        trow(o, "lrrrlrl",
             CELLS(c->key, bnb_fmt_seconds(c->med_a, a, sizeof a),
                   bnb_fmt_seconds(c->med_b, b, sizeof b),
                   bnb_fmt_num(c->ratio, "%.3f", ra, sizeof ra), ci,
                   bnb_fmt_num(c->p, "%.2g", p, sizeof p), bnb_cmp_verdict_str(c->verdict)));
    }
    tend(o);
}

static void sec_env(out *o, const rep *r)
{
    heading(o, 2, "environment", "Environment and counters");
    list(o, &r->warn, "No environment warning was recorded.");
    char pmu[400];
    if (r->pmu_known)
        snprintf(pmu, sizeof pmu, "hardware PMU: %s%s%s", r->pmu ? "present" : "absent",
                 r->pmu_reason[0] ? " - " : "", r->pmu_reason);
    else
        snprintf(pmu, sizeof pmu, "hardware PMU: not recorded");
    para(o, "%s; PAPI: %s; CPU governor: %s.", pmu, r->papi, r->governor);
    list(o, &r->counters, "No counter was recorded with any case.");
}

static void sec_not_measured(out *o, const rep *r)
{
    heading(o, 2, "not-measured", "Not measured, and why");
    list(o, &r->not_measured, "Everything the report covers was measured.");
}

static void sec_definitions(out *o)
{
    heading(o, 2, "definitions", "Definitions");
    static const char *d[] = {
        "GFLOPS (f32 GEMM) = 2*M*N*K / median seconds / 1e9; GOPS for ternary and int8 kernels "
        "by the same formula.",
        "Peak: the built-in FMA-throughput probe per ISA; bandwidth: the built-in triad probe.",
        "Samples: seconds per iteration, iterations calibrated so one sample lasts >= 1 ms; "
        "median, p90, p99 by linear interpolation (type 7); CV = stddev / mean; MAD unscaled.",
        "CI: bootstrap 95% percentile interval of the median (2000 resamples, fixed seed).",
        "Outliers: Tukey fences at 1.5 IQR, flagged, never dropped.",
        "Regression: Mann-Whitney U two-sided p < 0.01 AND median moved by more than 5%; the "
        "CI gate re-runs a regressed case once before it fails.",
    };
    strlist l = {0};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        report__list_add(&l, "%s", d[i]);
    list(o, &l, "");
    report__list_free(&l);
}

void report__write_sections(FILE *f, const rep *r, const report_syntax *syn)
{
    out o = {.f = f, .syn = syn};
    sec_header(&o, r);
    sec_score(&o, r);
    sec_critical(&o, r);
    sec_targets(&o, r);
    sec_suites(&o, r);
    sec_roofline(&o, r);
    sec_history(&o, r);
    sec_baseline(&o, r);
    sec_env(&o, r);
    sec_not_measured(&o, r);
    sec_definitions(&o);
}
