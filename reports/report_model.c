/*
 * report_model.c - the report's model: gathers a stored run into one `rep`
 * (contract: report_model.h) and scores it.
 *
 * gather reads everything from the DB (run, cases, verdicts, machine and
 * counter description, warnings, the comparison with the baseline, the
 * histories), derives the ceilings and roofline points, scores the five
 * categories (formulas in report.h) and builds the lists of what was not
 * measured and of the critical issues. The writers only walk the result;
 * every DB read goes through db/ functions (no SQL here).
 */
#include "reports/report_model.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CV_GOOD    0.05
#define WARN_SCALE 5.0

/* ---- string lists ---------------------------------------------------------------- */

void report__list_add(strlist *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 16;
        char **ns = realloc(l->s, (size_t)nc * sizeof *ns);
        if (!ns) {
            l->oom = true;
            return;
        }
        l->s = ns;
        l->cap = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    if (vasprintf(&t, fmt, ap) < 0)
        t = NULL;
    va_end(ap);
    if (!t) {
        l->oom = true;
        return;
    }
    l->s[l->n++] = t;
}

void report__list_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

void report__free(rep *r)
{
    bnb_run_info_free(&r->ri);
    bnb_db_free_cases(r->cases, r->ncases);
    bnb_targets_free(&r->ts);
    free(r->v);
    report__list_free(&r->warn);
    free(r->cmp);
    for (int i = 0; i < r->nhist; i++)
        free(r->hist[i].p);
    free(r->roof);
    report__list_free(&r->roof_skipped);
    report__list_free(&r->not_measured);
    report__list_free(&r->critical);
    report__list_free(&r->findings);
    report__list_free(&r->counters);
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(i) ? i->valuestring : NULL;
}

static double json_num(const cJSON *o, const char *k)
{
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(i) ? i->valuedouble : NAN;
}

static void parse_machine(rep *r)
{
    snprintf(r->cpu, sizeof r->cpu, "not recorded");
    snprintf(r->isa, sizeof r->isa, "not recorded");
    r->cores = r->pus = -1;
    r->mem_gib = NAN;
    cJSON *m = r->ri.machine_json ? cJSON_Parse(r->ri.machine_json) : NULL;
    if (m) {
        const char *s;
        if ((s = json_str(m, "cpu_model")))
            snprintf(r->cpu, sizeof r->cpu, "%s", s);
        if ((s = json_str(m, "isa")))
            snprintf(r->isa, sizeof r->isa, "%s", s);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "topology");
        if (t) {
            double c = json_num(t, "cores"), p = json_num(t, "pus"),
                   b = json_num(t, "memory_bytes");
            r->cores = isfinite(c) ? (int)c : -1;
            r->pus = isfinite(p) ? (int)p : -1;
            r->mem_gib = isfinite(b) ? b / (1024.0 * 1024 * 1024) : NAN;
        }
    }
    cJSON_Delete(m);
    snprintf(r->papi, sizeof r->papi, "not recorded");
    snprintf(r->governor, sizeof r->governor, "not recorded");
    snprintf(r->os, sizeof r->os, "not recorded");
    cJSON *c = r->ri.context_json ? cJSON_Parse(r->ri.context_json) : NULL;
    if (c) {
        const char *s;
        if ((s = json_str(c, "governor")))
            snprintf(r->governor, sizeof r->governor, "%s", s);
        const char *os = json_str(c, "os"), *k = json_str(c, "kernel");
        if (os)
            snprintf(r->os, sizeof r->os, "%s %s", os, k ? k : "");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "counters");
        if (ct) {
            const cJSON *pp = cJSON_GetObjectItemCaseSensitive(ct, "pmu_present");
            if (cJSON_IsBool(pp)) {
                r->pmu_known = true;
                r->pmu = cJSON_IsTrue(pp);
            }
            if ((s = json_str(ct, "pmu_reason")))
                snprintf(r->pmu_reason, sizeof r->pmu_reason, "%s", s);
            if ((s = json_str(ct, "papi")))
                snprintf(r->papi, sizeof r->papi, "%s", s);
        }
    }
    cJSON_Delete(c);
    cJSON *w = r->ri.warnings_json ? cJSON_Parse(r->ri.warnings_json) : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, w)
    {
        if (cJSON_IsString(e))
            report__list_add(&r->warn, "%s", e->valuestring);
    }
    cJSON_Delete(w);
}

static const char *param(const bnb_case_result *c, const char *k)
{
    for (int i = 0; i < c->nparams; i++)
        if (!strcmp(c->params[i].key, k))
            return c->params[i].value;
    return NULL;
}

const bnb_metric *report__rate_metric(const bnb_case_result *c)
{
    static const char *names[] = {"gflops", "gops", "gbps"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const bnb_metric *m = bnb_case_metric(c, names[i]);
        if (m)
            return m;
    }
    return NULL;
}

static void ceilings(rep *r)
{
    r->peak = r->bw = NAN;
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *c = &r->cases[i];
        if (c->status != BNB_CASE_OK || strcmp(c->suite, "peak"))
            continue;
        const bnb_metric *m;
        if (!strncmp(c->name, "fma/", 4) && (m = bnb_case_metric(c, "gflops")) && m->available &&
            !(m->value <= r->peak)) {
            r->peak = m->value;
            bnb_case_fullname(c, r->peak_case, sizeof r->peak_case);
        }
        if (!strcmp(c->name, "triad") && (m = bnb_case_metric(c, "gbps")) && m->available)
            r->bw = m->value;
    }
}

/* Arithmetic intensity (flop per byte of compulsory traffic) of a case, or
 * NAN with why. f32 GEMM: 2MNK / (4 (MK + KN + MN)). A case may also store
 * it as metric "ai". */
static double case_ai(const bnb_case_result *c, char *why, size_t cap)
{
    const bnb_metric *m = bnb_case_metric(c, "ai");
    if (m && m->available)
        return m->value;
    if (!strcmp(c->suite, "peak") && !strcmp(c->name, "triad"))
        return 2.0 / 24.0; /* a = b + s*c on f64: 2 flops per 24 bytes */
    bool gemm = strstr(c->name, "gemm") || !strcmp(c->suite, "matmul");
    if (gemm) {
        const char *pm = param(c, "m"), *pn = param(c, "n"), *pk = param(c, "k");
        double M = pm ? atof(pm) : NAN, N = pn ? atof(pn) : NAN, K = pk ? atof(pk) : NAN;
        if (!pm && !pk && pn)
            M = K = N;
        if (M > 0 && N > 0 && K > 0)
            return 2.0 * M * N * K / (4.0 * (M * K + K * N + M * N));
        snprintf(why, cap, "GEMM without m, n, k (or square n) params");
        return NAN;
    }
    if (!strcmp(c->suite, "peak") && !strncmp(c->name, "fma/", 4))
        snprintf(why, cap, "register-only FMA probe: it defines the compute roof");
    else
        snprintf(why, cap, "no byte count known for this kernel (it stores no \"ai\" metric)");
    return NAN;
}

static void roofline_points(rep *r)
{
    r->roof = calloc((size_t)(r->ncases > 0 ? r->ncases : 1), sizeof *r->roof);
    if (!r->roof)
        return;
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *c = &r->cases[i];
        char full[BNB_NAME_MAX + 160], why[160] = "";
        bnb_case_fullname(c, full, sizeof full);
        if (c->status != BNB_CASE_OK)
            continue;
        const bnb_metric *m = report__rate_metric(c);
        if (!m)
            continue; /* not a throughput case (timers, latencies) */
        if (!m->available) {
            report__list_add(&r->roof_skipped, "%s: %s not available: %s", full, m->name,
                             m->reason);
            continue;
        }
        double ai = case_ai(c, why, sizeof why);
        if (!isfinite(ai)) {
            report__list_add(&r->roof_skipped, "%s: arithmetic intensity unknown (%s)", full, why);
            continue;
        }
        double g = !strcmp(m->name, "gbps") ? m->value * ai : m->value;
        roof_point *p = &r->roof[r->nroof++];
        snprintf(p->label, sizeof p->label, "%s", full);
        p->ai = ai;
        p->gflops = g;
    }
}

static bool is_memory_metric(const char *n)
{
    return !strcmp(n, "failures") || !strcmp(n, "failed_allocs") || !strcmp(n, "leaks") ||
           !strcmp(n, "leaked_bytes") || !strcmp(n, "live_at_end");
}

static void score(rep *r)
{
    category *c = r->cat;
    c[0] = (category){.id = "correctness", .name = "Correctness", .weight = 30};
    c[1] = (category){.id = "targets", .name = "Performance targets", .weight = 25};
    c[2] = (category){.id = "memory", .name = "Memory", .weight = 15};
    c[3] = (category){.id = "quality", .name = "Measurement quality", .weight = 15};
    c[4] = (category){.id = "regressions", .name = "Regressions vs baseline", .weight = 15};

    /* correctness */
    int checked = r->nok + r->nfailed;
    if (checked > 0) {
        c[0].measured = true;
        c[0].score = 100.0 * r->nok / checked;
        snprintf(c[0].basis, sizeof c[0].basis,
                 "%d of %d cases passed set-up and the kernel-vs-reference check, %d failed "
                 "(%d skipped, not counted); unit tests are not recorded with the run",
                 r->nok, checked, r->nfailed, r->nskipped);
    } else {
        snprintf(c[0].basis, sizeof c[0].basis,
                 "no case ran its check (%d skipped); unit tests are not recorded with the run",
                 r->nskipped);
    }
    /* targets */
    int judged = r->nmet + r->nmissed;
    if (judged > 0) {
        c[1].measured = true;
        c[1].score = 100.0 * r->nmet / judged;
        snprintf(c[1].basis, sizeof c[1].basis,
                 "%d of %d measured targets met, %d missed; %d not measured or not applicable "
                 "(not counted)",
                 r->nmet, judged, r->nmissed, r->ts.n - judged);
    } else {
        snprintf(c[1].basis, sizeof c[1].basis,
                 "none of the %d targets could be judged (not measured or not applicable)",
                 r->ts.n);
    }
    /* memory */
    int mchk = 0, mpass = 0;
    char mlist[400] = "";
    size_t ml = 0;
    for (int i = 0; i < r->ncases; i++)
        for (int k = 0; k < r->cases[i].nmetrics; k++) {
            const bnb_metric *m = &r->cases[i].metrics[k];
            if (!is_memory_metric(m->name) || !m->available)
                continue;
            mchk++;
            mpass += m->value == 0;
            char full[BNB_NAME_MAX + 160];
            bnb_case_fullname(&r->cases[i], full, sizeof full);
            int w = snprintf(mlist + ml, sizeof mlist - ml, "%s%s:%s = %g", ml ? ", " : "", full,
                             m->name, m->value);
            if (w > 0 && (size_t)w < sizeof mlist - ml)
                ml += (size_t)w;
        }
    const char *san = strchr(r->ri.build_type, '+');
    char santxt[160];
    if (san)
        snprintf(
            santxt, sizeof santxt,
            "the build is instrumented (%s) but no sanitizer findings are recorded with the run",
            san + 1);
    else
        snprintf(santxt, sizeof santxt, "sanitizer status: not recorded (uninstrumented build)");
    if (mchk > 0) {
        c[2].measured = true;
        c[2].score = 100.0 * mpass / mchk;
        snprintf(c[2].basis, sizeof c[2].basis, "%d of %d memory checks are zero (%.300s); %.150s",
                 mpass, mchk, mlist, santxt);
    } else {
        snprintf(c[2].basis, sizeof c[2].basis,
                 "no pool-failure or leak figure was recorded in this run; %s", santxt);
    }
    /* measurement quality */
    int ncase = 0, cvok = 0;
    long samples = 0, flagged = 0;
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *x = &r->cases[i];
        if (x->status != BNB_CASE_OK || x->stats.n <= 0)
            continue;
        ncase++;
        cvok += x->stats.cv <= CV_GOOD;
        samples += x->stats.n;
        flagged += x->stats.outliers_low + x->stats.outliers_high;
    }
    if (ncase > 0) {
        double wpart = 1.0 - r->warn.n / WARN_SCALE;
        if (wpart < 0)
            wpart = 0;
        c[3].measured = true;
        c[3].score =
            60.0 * cvok / ncase + 20.0 * (1.0 - (double)flagged / (double)samples) + 20.0 * wpart;
        snprintf(c[3].basis, sizeof c[3].basis,
                 "60 x %d/%d cases with CV <= %.0f%% + 20 x (1 - %ld/%ld Tukey-flagged samples) "
                 "+ 20 x max(0, 1 - %d warnings/%.0f)",
                 cvok, ncase, 100 * CV_GOOD, flagged, samples, r->warn.n, WARN_SCALE);
    } else {
        snprintf(c[3].basis, sizeof c[3].basis, "no timed case in this run");
    }
    /* regressions */
    int compared = r->nslower + r->nfaster + r->nsame;
    if (r->have_base && compared > 0) {
        c[4].measured = true;
        c[4].score = 100.0 * (compared - r->nslower) / compared;
        snprintf(c[4].basis, sizeof c[4].basis,
                 "against baseline \"%s\" (run %lld): %d compared cases, %d slower, %d faster, "
                 "%d no change; %d with insufficient samples and %d not comparable (not counted)",
                 r->base_name, (long long)r->base_id, compared, r->nslower, r->nfaster, r->nsame,
                 r->ninsuff, r->nnotcmp);
    } else if (r->have_base) {
        snprintf(c[4].basis, sizeof c[4].basis,
                 "baseline \"%s\" (run %lld) shares no comparable case with this run (%d with "
                 "insufficient samples, %d not comparable)",
                 r->base_name, (long long)r->base_id, r->ninsuff, r->nnotcmp);
    } else {
        snprintf(c[4].basis, sizeof c[4].basis, "%s", r->base_note);
    }
    double sw = 0, s = 0, mw = 0;
    for (int i = 0; i < REPORT_NCATS; i++) {
        sw += c[i].weight;
        if (c[i].measured) {
            s += c[i].weight * c[i].score;
            mw += c[i].weight;
        }
    }
    r->score = s / sw;
    r->coverage = 100.0 * mw / sw;
}

static int pick_baseline(bnb_db *db, rep *r, const char *name, char *err, size_t cap)
{
    char e2[BNB_ERR_MAX];
    if (name) {
        if (bnb_db_get_baseline(db, name, &r->base_id, e2)) {
            snprintf(err, cap, "report: %s", e2);
            return -1;
        }
        snprintf(r->base_name, sizeof r->base_name, "%s", name);
    } else {
        int found = bnb_db_newest_baseline_on_machine(db, r->run_id, r->base_name,
                                                      sizeof r->base_name, &r->base_id, e2);
        if (found < 0) {
            snprintf(err, cap, "report: %s", e2);
            return -1;
        }
        if (found == 1) {
            snprintf(r->base_note, sizeof r->base_note,
                     "no baseline for this machine (set one with bnbench baseline set NAME RUN)");
            return 0;
        }
    }
    if (r->base_id == r->run_id) {
        snprintf(r->base_note, sizeof r->base_note,
                 "this run is baseline \"%s\" itself: nothing to compare", r->base_name);
        return 0;
    }
    bnb_case_result *bc = NULL;
    int nb = 0;
    if (bnb_db_load_cases(db, r->base_id, &bc, &nb, e2)) {
        snprintf(err, cap, "report: baseline %s: %s", r->base_name, e2);
        return -1;
    }
    int rc = bnb_compare_runs(bc, nb, r->cases, r->ncases, NULL, &r->cmp, &r->ncmp);
    bnb_db_free_cases(bc, nb);
    if (rc) {
        snprintf(err, cap, "report: out of memory comparing with the baseline");
        return -1;
    }
    r->have_base = true;
    for (int i = 0; i < r->ncmp; i++) {
        switch (r->cmp[i].verdict) {
        case BNB_CMP_SLOWER:
            r->nslower++;
            break;
        case BNB_CMP_FASTER:
            r->nfaster++;
            break;
        case BNB_CMP_SAME:
            r->nsame++;
            break;
        case BNB_CMP_INSUFFICIENT:
            r->ninsuff++;
            break;
        case BNB_CMP_NOT_COMPARABLE:
            r->nnotcmp++;
            break;
        }
    }
    return 0;
}

static int histories(bnb_db *db, rep *r, int limit, char *err, size_t cap)
{
    int64_t mid = bnb_run_machine_id(db, r->run_id, err, cap);
    if (mid < 0)
        return -1;
    for (int i = 0; i < r->ncases && r->nhist < REPORT_MAX_HIST; i++) {
        const bnb_case_result *c = &r->cases[i];
        const bnb_metric *m = report__rate_metric(c);
        if (c->status != BNB_CASE_OK || !m || !m->available)
            continue;
        history *h = &r->hist[r->nhist];
        char full[BNB_NAME_MAX + 160];
        bnb_case_fullname(c, full, sizeof full);
        snprintf(h->figure, sizeof h->figure, "%s:%s", full, m->name);
        snprintf(h->unit, sizeof h->unit, "%s", m->unit);
        h->higher_is_better = m->higher_is_better;
        if (bnb_history_load(db, full, m->name, mid, r->run_id, limit, &h->p, &h->n, err, cap))
            return -1;
        h->z = bnb_history_z(h->p, h->n, BNB_HISTORY_WINDOW, &h->mean, &h->sd);
        r->nhist++;
    }
    return 0;
}

static void inventory(rep *r)
{
    int ctr_cases = 0;
    typedef struct cnt {
        char name[64];
        int avail, total;
        char reason[160];
    } cnt;
    cnt cs[32];
    int ncs = 0;
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *c = &r->cases[i];
        char full[BNB_NAME_MAX + 160];
        bnb_case_fullname(c, full, sizeof full);
        if (c->status == BNB_CASE_OK)
            r->nok++;
        else if (c->status == BNB_CASE_FAILED) {
            r->nfailed++;
            report__list_add(&r->critical, "case %s FAILED: %s", full,
                             c->message[0] ? c->message : "(no message)");
        } else {
            r->nskipped++;
            report__list_add(&r->not_measured, "case %s: skipped: %s", full,
                             c->message[0] ? c->message : "(no reason stored)");
        }
        bool any_ctr = false;
        for (int k = 0; k < c->nmetrics; k++) {
            const bnb_metric *m = &c->metrics[k];
            if (strncmp(m->name, "counter.", 8) != 0) {
                if (!m->available)
                    report__list_add(&r->not_measured, "%s:%s: not available: %s", full, m->name,
                                     m->reason);
                continue;
            }
            any_ctr = true;
            int j = 0;
            while (j < ncs && strcmp(cs[j].name, m->name + 8))
                j++;
            if (j == ncs) {
                if (ncs == 32)
                    continue;
                memset(&cs[ncs], 0, sizeof cs[ncs]);
                snprintf(cs[ncs].name, sizeof cs[ncs].name, "%s", m->name + 8);
                ncs++;
            }
            cs[j].total++;
            if (m->available)
                cs[j].avail++;
            else if (!cs[j].reason[0])
                snprintf(cs[j].reason, sizeof cs[j].reason, "%s", m->reason);
        }
        ctr_cases += any_ctr;
    }
    int unavailable = 0;
    for (int j = 0; j < ncs; j++) {
        report__list_add(&r->counters, "%s: available in %d of %d cases%s%s", cs[j].name,
                         cs[j].avail, cs[j].total, cs[j].reason[0] ? "; unavailable: " : "",
                         cs[j].reason);
        unavailable += cs[j].avail < cs[j].total;
    }
    if (unavailable)
        report__list_add(
            &r->findings,
            "hardware counters unavailable: %d of %d counters could not be read in some or "
            "all cases (timings still ran; see Environment)",
            unavailable, ncs);
    else if (ncs == 0 && r->ncases > 0)
        report__list_add(&r->not_measured, "hardware counters: none recorded with any case");
    for (int i = 0; i < r->ts.n; i++) {
        const bnb_verdict *v = &r->v[i];
        if (!strcmp(v->verdict, "met"))
            r->nmet++;
        else if (!strcmp(v->verdict, "missed")) {
            r->nmissed++;
            char meas[64] = "-";
            if (v->measured_ok)
                snprintf(meas, sizeof meas, "%.4g", v->measured);
            report__list_add(&r->critical, "target %s MISSED: %s measured %s, needs %s %.4g",
                             v->target->id, v->target->figure, meas, v->target->op, v->bound);
        } else
            report__list_add(&r->not_measured, "target %s: %s: %s", v->target->id, v->verdict,
                             v->reason);
    }
    if (r->ts.n == 0)
        report__list_add(&r->not_measured, "targets: no verdict stored with this run");
    if (r->row.status[0] && strcmp(r->row.status, "complete"))
        report__list_add(&r->critical, "the run is %s: some cases may be missing", r->row.status);
}

static void finish_lists(rep *r)
{
    for (int i = 0; i < r->ncmp; i++)
        if (r->cmp[i].verdict == BNB_CMP_SLOWER)
            report__list_add(
                &r->critical, "regression: %s is %.1f%% slower than baseline \"%s\" (p = %.2g)",
                r->cmp[i].key, 100.0 * (r->cmp[i].ratio - 1.0), r->base_name, r->cmp[i].p);
    for (int i = 0; i < REPORT_NCATS; i++)
        if (!r->cat[i].measured)
            report__list_add(&r->not_measured, "category %s: %s", r->cat[i].name, r->cat[i].basis);
    if (!isfinite(r->peak))
        report__list_add(&r->not_measured,
                         "FMA peak (peak/fma/*:gflops): not in this run, so no %% of peak");
    if (!isfinite(r->bw))
        report__list_add(&r->not_measured, "memory bandwidth (peak/triad:gbps): not in this run");
    report__list_add(
        &r->not_measured,
        "thread safety: not measured by bnbench (ThreadSanitizer drivers run in CI; their "
        "result is not stored with the run)");
    report__list_add(&r->not_measured, "documentation coverage: not measured");
}

int report__gather(bnb_db *db, int64_t run_id, const bnb_report_opts *o, bool charts, rep *r,
                   char *err, size_t cap)
{
    char e2[BNB_ERR_MAX];
    r->run_id = run_id;
    if (bnb_db_load_run(db, run_id, &r->ri, NULL, e2) ||
        bnb_db_get_run_row(db, run_id, &r->row, e2) ||
        bnb_db_load_cases(db, run_id, &r->cases, &r->ncases, e2) ||
        bnb_db_load_verdicts(db, run_id, &r->ts, &r->v, e2)) {
        snprintf(err, cap, "report: %s", e2);
        return -1;
    }
    parse_machine(r);
    inventory(r);
    if (pick_baseline(db, r, o->baseline, err, cap))
        return -1;
    ceilings(r);
    if (charts) {
        roofline_points(r);
        if (histories(db, r, o->history > 0 ? o->history : BNB_REPORT_HISTORY, err, cap))
            return -1;
    }
    score(r);
    finish_lists(r);
    if (r->warn.oom || r->not_measured.oom || r->critical.oom || r->findings.oom ||
        r->counters.oom || r->roof_skipped.oom || (charts && !r->roof)) {
        snprintf(err, cap, "report: out of memory");
        return -1;
    }
    return 0;
}

const char *report__status_word(const rep *r)
{
    if (r->critical.n > 0)
        return "NOT READY";
    for (int i = 0; i < REPORT_NCATS; i++)
        if (!r->cat[i].measured)
            return "INCOMPLETE EVIDENCE";
    return r->score >= 90.0 ? "READY" : "NOT READY";
}
