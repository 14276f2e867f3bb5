/*
 * report.c - the readiness report of a stored run (contract: report.h).
 *
 * Shape: gather() reads everything from the DB into one `rep` (run, cases,
 * verdicts, machine and counter description, warnings, the comparison with
 * the baseline, ceilings, category scores, histories, the lists of what was
 * not measured and of critical issues); then one writer per format walks
 * it. Markdown and HTML share the section code through a tiny writer (`out`)
 * that knows headings, paragraphs, lists and tables in both syntaxes; the
 * charts (inline SVG) exist in HTML only, Markdown gets the same numbers as
 * tables and a text sparkline (forges strip inline SVG). JSON is built with
 * cJSON from the same `rep`.
 */
#include "reports/report.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/history.h"
#include "reports/svg.h"

#define NCATS      5
#define MAX_HIST   12
#define CV_GOOD    0.05
#define WARN_SCALE 5.0

/* ---- string lists ---------------------------------------------------------------- */

typedef struct strlist {
    char **s;
    int n, cap;
    bool oom;
} strlist;

static void sl_add(strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sl_add(strlist *l, const char *fmt, ...)
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

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* ---- the gathered report ------------------------------------------------------------ */

typedef struct category {
    const char *id, *name;
    double weight;
    bool measured;
    double score;    /* 0..100 when measured */
    char basis[600]; /* the inputs, in words */
} category;

typedef struct history {
    char figure[BNB_NAME_MAX + 260];
    char unit[16];
    bool higher_is_better;
    bnb_hist_point *p;
    int n;
    double z, mean, sd;
} history;

typedef struct roof_point {
    char label[BNB_NAME_MAX + 160];
    double ai, gflops;
} roof_point;

typedef struct rep {
    int64_t run_id;
    bnb_run_info ri;
    bnb_run_row row;
    bnb_case_result *cases;
    int ncases;
    bnb_target_set ts;
    bnb_verdict *v;
    char cpu[256], isa[1024], os[160];
    int cores, pus;
    double mem_gib;
    bool pmu_known, pmu;
    char pmu_reason[256], papi[256], governor[96];
    strlist warn;
    char base_name[128];
    int64_t base_id;
    bool have_base;
    char base_note[300];
    bnb_cmp_row *cmp;
    int ncmp;
    int nslower, nfaster, nsame, ninsuff, nnotcmp;
    double peak, bw; /* GFLOP/s, GB/s; NAN when not measured */
    char peak_case[BNB_NAME_MAX + 160];
    category cat[NCATS];
    double score, coverage;
    history hist[MAX_HIST];
    int nhist;
    roof_point *roof;
    int nroof;
    strlist roof_skipped;
    strlist not_measured;
    strlist critical;
    strlist findings; /* said plainly next to the critical issues, not blocking */
    strlist counters; /* "name: available in a of b cases" */
    int nfailed, nskipped, nok, nmissed, nmet;
} rep;

static void rep_free(rep *r)
{
    bnb_run_info_free(&r->ri);
    bnb_db_free_cases(r->cases, r->ncases);
    bnb_targets_free(&r->ts);
    free(r->v);
    sl_free(&r->warn);
    free(r->cmp);
    for (int i = 0; i < r->nhist; i++)
        free(r->hist[i].p);
    free(r->roof);
    sl_free(&r->roof_skipped);
    sl_free(&r->not_measured);
    sl_free(&r->critical);
    sl_free(&r->findings);
    sl_free(&r->counters);
}

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
            sl_add(&r->warn, "%s", e->valuestring);
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

/* The case's main rate figure (gflops, gops, gbps), or NULL. */
static const bnb_metric *rate_metric(const bnb_case_result *c)
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
        const bnb_metric *m = rate_metric(c);
        if (!m)
            continue; /* not a throughput case (timers, latencies) */
        if (!m->available) {
            sl_add(&r->roof_skipped, "%s: %s not available: %s", full, m->name, m->reason);
            continue;
        }
        double ai = case_ai(c, why, sizeof why);
        if (!isfinite(ai)) {
            sl_add(&r->roof_skipped, "%s: arithmetic intensity unknown (%s)", full, why);
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
    for (int i = 0; i < NCATS; i++) {
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
    sqlite3 *h = bnb_db_handle(db);
    sqlite3_stmt *st = NULL;
    if (name) {
        char e2[BNB_ERR_MAX];
        if (bnb_db_get_baseline(db, name, &r->base_id, e2)) {
            snprintf(err, cap, "report: %s", e2);
            return -1;
        }
        snprintf(r->base_name, sizeof r->base_name, "%s", name);
    } else {
        if (sqlite3_prepare_v2(h,
                               "SELECT b.name, b.run_id FROM baselines b JOIN runs r ON r.id = "
                               "b.run_id WHERE r.machine_id = (SELECT machine_id FROM runs WHERE "
                               "id = ?1) AND b.run_id <> ?1 ORDER BY b.created_at DESC, b.id DESC "
                               "LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, cap, "report: %s", sqlite3_errmsg(h));
            return -1;
        }
        sqlite3_bind_int64(st, 1, r->run_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(r->base_name, sizeof r->base_name, "%s", sqlite3_column_text(st, 0));
            r->base_id = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (!r->base_name[0]) {
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
    char e2[BNB_ERR_MAX];
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
    for (int i = 0; i < r->ncases && r->nhist < MAX_HIST; i++) {
        const bnb_case_result *c = &r->cases[i];
        const bnb_metric *m = rate_metric(c);
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
            sl_add(&r->critical, "case %s FAILED: %s", full,
                   c->message[0] ? c->message : "(no message)");
        } else {
            r->nskipped++;
            sl_add(&r->not_measured, "case %s: skipped: %s", full,
                   c->message[0] ? c->message : "(no reason stored)");
        }
        bool any_ctr = false;
        for (int k = 0; k < c->nmetrics; k++) {
            const bnb_metric *m = &c->metrics[k];
            if (strncmp(m->name, "counter.", 8) != 0) {
                if (!m->available)
                    sl_add(&r->not_measured, "%s:%s: not available: %s", full, m->name, m->reason);
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
        sl_add(&r->counters, "%s: available in %d of %d cases%s%s", cs[j].name, cs[j].avail,
               cs[j].total, cs[j].reason[0] ? "; unavailable: " : "", cs[j].reason);
        unavailable += cs[j].avail < cs[j].total;
    }
    if (unavailable)
        sl_add(&r->findings,
               "hardware counters unavailable: %d of %d counters could not be read in some or "
               "all cases (timings still ran; see Environment)",
               unavailable, ncs);
    else if (ncs == 0 && r->ncases > 0)
        sl_add(&r->not_measured, "hardware counters: none recorded with any case");
    for (int i = 0; i < r->ts.n; i++) {
        const bnb_verdict *v = &r->v[i];
        if (!strcmp(v->verdict, "met"))
            r->nmet++;
        else if (!strcmp(v->verdict, "missed")) {
            r->nmissed++;
            char meas[64] = "-";
            if (v->measured_ok)
                snprintf(meas, sizeof meas, "%.4g", v->measured);
            sl_add(&r->critical, "target %s MISSED: %s measured %s, needs %s %.4g", v->target->id,
                   v->target->figure, meas, v->target->op, v->bound);
        } else
            sl_add(&r->not_measured, "target %s: %s: %s", v->target->id, v->verdict, v->reason);
    }
    if (r->ts.n == 0)
        sl_add(&r->not_measured, "targets: no verdict stored with this run");
    if (r->row.status[0] && strcmp(r->row.status, "complete"))
        sl_add(&r->critical, "the run is %s: some cases may be missing", r->row.status);
}

static void finish_lists(rep *r)
{
    for (int i = 0; i < r->ncmp; i++)
        if (r->cmp[i].verdict == BNB_CMP_SLOWER)
            sl_add(&r->critical, "regression: %s is %.1f%% slower than baseline \"%s\" (p = %.2g)",
                   r->cmp[i].key, 100.0 * (r->cmp[i].ratio - 1.0), r->base_name, r->cmp[i].p);
    for (int i = 0; i < NCATS; i++)
        if (!r->cat[i].measured)
            sl_add(&r->not_measured, "category %s: %s", r->cat[i].name, r->cat[i].basis);
    if (!isfinite(r->peak))
        sl_add(&r->not_measured, "FMA peak (peak/fma/*:gflops): not in this run, so no %% of peak");
    if (!isfinite(r->bw))
        sl_add(&r->not_measured, "memory bandwidth (peak/triad:gbps): not in this run");
    sl_add(&r->not_measured,
           "thread safety: not measured by bnbench (ThreadSanitizer drivers run in CI; their "
           "result is not stored with the run)");
    sl_add(&r->not_measured, "documentation coverage: not measured");
}

static int gather(bnb_db *db, int64_t run_id, const bnb_report_opts *o, rep *r, char *err,
                  size_t cap)
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
    roofline_points(r);
    if (histories(db, r, o->history > 0 ? o->history : BNB_REPORT_HISTORY, err, cap))
        return -1;
    score(r);
    finish_lists(r);
    if (r->warn.oom || r->not_measured.oom || r->critical.oom || r->findings.oom ||
        r->counters.oom || r->roof_skipped.oom || !r->roof) {
        snprintf(err, cap, "report: out of memory");
        return -1;
    }
    return 0;
}

/* ---- the md/html writer ---------------------------------------------------------------- */

typedef struct out {
    FILE *f;
    bool html;
} out;

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Markdown text: escape what would start markup in table cells or lists. */
static void md_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '*' || *s == '_' || *s == '<' || *s == '`' || *s == '[')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void text(out *o, const char *s)
{
    if (o->html)
        esc(o->f, s);
    else
        md_esc(o->f, s);
}

static void heading(out *o, int level, const char *id, const char *t)
{
    if (o->html) {
        fprintf(o->f, "<h%d id=\"%s\">", level, id);
        esc(o->f, t);
        fprintf(o->f, "</h%d>\n", level);
    } else {
        fprintf(o->f, "\n%.*s %s\n\n", level, "######", t);
    }
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
    fputs(o->html ? "<p>" : "", o->f);
    text(o, t);
    fputs(o->html ? "</p>\n" : "\n\n", o->f);
    free(t);
}

static void list(out *o, const strlist *l, const char *empty)
{
    if (l->n == 0) {
        para(o, "%s", empty);
        return;
    }
    fputs(o->html ? "<ul>\n" : "", o->f);
    for (int i = 0; i < l->n; i++) {
        fputs(o->html ? "<li>" : "- ", o->f);
        text(o, l->s[i]);
        fputs(o->html ? "</li>\n" : "\n", o->f);
    }
    fputs(o->html ? "</ul>\n" : "\n", o->f);
}

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

/* A table: align is one char per column, 'l' or 'r'. */
static void thead(out *o, const char *align, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    if (o->html) {
        fputs("<table><thead><tr>", o->f);
        for (int i = 0; i < n; i++) {
            fprintf(o->f, "<th%s>", align[i] == 'r' ? " class=\"r\"" : "");
            esc(o->f, va_arg(ap, const char *));
            fputs("</th>", o->f);
        }
        fputs("</tr></thead><tbody>\n", o->f);
    } else {
        fputs("|", o->f);
        for (int i = 0; i < n; i++) {
            fputc(' ', o->f);
            md_esc(o->f, va_arg(ap, const char *));
            fputs(" |", o->f);
        }
        fputs("\n|", o->f);
        for (int i = 0; i < n; i++)
            fputs(align[i] == 'r' ? "---:|" : "---|", o->f);
        fputc('\n', o->f);
    }
    va_end(ap);
}

static void trow(out *o, const char *align, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    fputs(o->html ? "<tr>" : "|", o->f);
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        if (o->html) {
            const char *cls = verdict_class(s);
            fprintf(o->f, "<td%s>", align[i] == 'r' ? " class=\"r\"" : "");
            if (cls)
                fprintf(o->f, "<span class=\"v %s\">", cls);
            esc(o->f, s);
            fputs(cls ? "</span></td>" : "</td>", o->f);
        } else {
            bool strong = !strcmp(s, "missed") || !strcmp(s, "FAILED") || !strcmp(s, "slower");
            fputs(strong ? " **" : " ", o->f);
            md_esc(o->f, s);
            fputs(strong ? "** |" : " |", o->f);
        }
    }
    fputs(o->html ? "</tr>\n" : "\n", o->f);
    va_end(ap);
}

static void tend(out *o)
{
    fputs(o->html ? "</tbody></table>\n" : "\n", o->f);
}

/* ---- number formatting ------------------------------------------------------------------ */

static const char *fsec(double s, char *b, size_t cap)
{
    if (!isfinite(s))
        snprintf(b, cap, "-");
    else if (s < 1e-6)
        snprintf(b, cap, "%.3g ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(b, cap, "%.4g us", s * 1e6);
    else if (s < 1.0)
        snprintf(b, cap, "%.4g ms", s * 1e3);
    else
        snprintf(b, cap, "%.4g s", s);
    return b;
}

static const char *fnum(double v, const char *fmt, char *b, size_t cap)
{
    if (!isfinite(v))
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, fmt, v);
    return b;
}

/* Text sparkline of a history (Markdown). */
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

static const char *status_word(const rep *r)
{
    if (r->critical.n > 0)
        return "NOT READY";
    for (int i = 0; i < NCATS; i++)
        if (!r->cat[i].measured)
            return "INCOMPLETE EVIDENCE";
    return r->score >= 90.0 ? "READY" : "NOT READY";
}

static void sec_header(out *o, const rep *r)
{
    char t[256], a[64], b[160];
    snprintf(t, sizeof t, "bnbench readiness report: run %lld on %s", (long long)r->run_id,
             r->ri.machine_name);
    heading(o, 1, "top", t);
    thead(o, "ll", 2, "field", "value");
    char runid[128];
    snprintf(runid, sizeof runid, "%lld (uuid %s)", (long long)r->run_id, r->ri.uuid);
    trow(o, "ll", 2, "run", runid);
    trow(o, "ll", 2, "date (started, UTC)", r->row.started_at);
    trow(o, "ll", 2, "finished", r->row.finished_at[0] ? r->row.finished_at : "not finished");
    trow(o, "ll", 2, "status", r->row.status);
    trow(o, "ll", 2, "reason", r->ri.reason);
    trow(o, "ll", 2, "machine", r->ri.machine_name);
    trow(o, "ll", 2, "fingerprint", r->ri.fingerprint);
    trow(o, "ll", 2, "CPU", r->cpu);
    trow(o, "ll", 2, "ISA", r->isa);
    char cores[96];
    if (r->cores > 0)
        snprintf(cores, sizeof cores, "%d cores, %d hardware threads", r->cores, r->pus);
    else
        snprintf(cores, sizeof cores, "not recorded");
    trow(o, "ll", 2, "cores", cores);
    trow(o, "ll", 2, "memory",
         isfinite(r->mem_gib) ? (snprintf(a, sizeof a, "%.1f GiB", r->mem_gib), a)
                              : "not recorded");
    trow(o, "ll", 2, "OS", r->os);
    trow(o, "ll", 2, "compiler", r->ri.compiler[0] ? r->ri.compiler : "not recorded");
    trow(o, "ll", 2, "flags", r->ri.cflags[0] ? r->ri.cflags : "not recorded");
    trow(o, "ll", 2, "build type", r->ri.build_type[0] ? r->ri.build_type : "not recorded");
    trow(o, "ll", 2, "kernels selected", r->ri.kernels[0] ? r->ri.kernels : "not recorded");
    snprintf(b, sizeof b, "%s%s%s", r->ri.commit[0] ? r->ri.commit : "not recorded",
             r->ri.branch[0] ? " on " : "", r->ri.branch);
    trow(o, "ll", 2, "commit", b);
    trow(o, "ll", 2, "CPU binding", r->ri.binding_json ? r->ri.binding_json : "not recorded");
    tend(o);
}

static void sec_score(out *o, const rep *r)
{
    heading(o, 2, "score", "Readiness score");
    char s[64];
    snprintf(s, sizeof s, "%.1f/100", r->score);
    if (o->html)
        fprintf(o->f,
                "<div class=\"score\"><span class=\"big\">%s</span> <span class=\"status\">%s"
                "</span><br>evidence coverage: %.0f%% of the weight is measured</div>\n",
                s, status_word(r), r->coverage);
    else
        fprintf(o->f,
                "**Overall readiness score: %s** (%s); evidence coverage %.0f%% of the "
                "weight is measured.\n\n",
                s, status_word(r), r->coverage);
    para(o, "Formula: score = sum over the five categories of weight x category score / sum of "
            "all weights (100). A category with nothing measured scores 0 and is marked "
            "\"not measured\": it is never given full marks. Status: READY only when every "
            "category is measured, the score is at least 90 and there is no critical issue.");
    thead(o, "lrrrl", 5, "category", "weight", "score", "contributes", "basis (measured inputs)");
    for (int i = 0; i < NCATS; i++) {
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
        trow(o, "lrrrl", 5, c->name, w, sc, ct, c->basis);
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
    for (int i = 0; i < NCATS; i++) {
        const category *c = &r->cat[i];
        bool pass = c->measured && c->score >= 100.0 - 1e-9;
        if (!c->measured)
            sl_add(&cl, "%s %s: not measured", o->html ? "\u2610" : "[ ]", c->name);
        else
            sl_add(&cl, "%s %s: %.1f/100",
                   pass ? (o->html ? "\u2611" : "[x]") : (o->html ? "\u2610" : "[ ]"), c->name,
                   c->score);
    }
    if (o->html) {
        list(o, &cl, "");
    } else {
        for (int i = 0; i < cl.n; i++)
            fprintf(o->f, "- %s\n", cl.s[i]); /* task-list syntax, rendered as boxes */
        fputc('\n', o->f);
    }
    sl_free(&cl);
}

static void sec_targets(out *o, const rep *r)
{
    heading(o, 2, "targets", "Performance targets");
    if (r->ts.n == 0) {
        para(o, "No target verdicts are stored with this run.");
        return;
    }
    thead(o, "llllll", 6, "target", "figure", "threshold", "measured [95% CI]", "verdict",
          "reason");
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
        trow(o, "llllll", 6, t->id, t->figure, thr, meas, v->verdict, v->reason);
    }
    tend(o);
}

static void sec_suites(out *o, const rep *r)
{
    heading(o, 2, "suites", "Results per suite");
    char pk[64], bw[64];
    para(o,
         "Ceilings measured in this run: FMA peak %s GFLOP/s (%s), triad bandwidth %s GB/s. "
         "Medians are seconds per iteration; CI is the bootstrap 95%% interval of the median; "
         "MAD unscaled; outliers are Tukey-flagged samples (kept).",
         fnum(r->peak, "%.4g", pk, sizeof pk), r->peak_case[0] ? r->peak_case : "not measured",
         fnum(r->bw, "%.4g", bw, sizeof bw));
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
            thead(o, "llrrlrrrlr", 10, "case", "status", "n", "median", "95% CI", "CV", "MAD",
                  "outliers", "figure", "% of ceiling");
        }
        char full[BNB_NAME_MAX + 160], n[16], med[32], lo[32], hi[32], ci[80], cv[32], mad[32],
            out_[16], fig[128], pct[64];
        bnb_case_fullname(c, full, sizeof full);
        const char *full_short = full + strlen(c->suite) + 1;
        if (c->status != BNB_CASE_OK) {
            trow(o, "llrrlrrrlr", 10, full_short,
                 c->status == BNB_CASE_FAILED ? "FAILED" : "skipped", "-", "-", "-", "-", "-", "-",
                 c->message, "-");
            continue;
        }
        snprintf(n, sizeof n, "%d", c->stats.n);
        fsec(c->stats.median, med, sizeof med);
        snprintf(ci, sizeof ci, "[%s, %s]", fsec(c->stats.ci_lo, lo, sizeof lo),
                 fsec(c->stats.ci_hi, hi, sizeof hi));
        snprintf(cv, sizeof cv, "%.2f%%", 100.0 * c->stats.cv);
        fsec(c->stats.mad, mad, sizeof mad);
        snprintf(out_, sizeof out_, "%d", c->stats.outliers_low + c->stats.outliers_high);
        const bnb_metric *m = rate_metric(c);
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
        trow(o, "llrrlrrrlr", 10, full_short, "ok", n, med, ci, cv, mad, out_, fig, pct);
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
    } else if (o->html) {
        svg_point *pts = calloc((size_t)(r->nroof ? r->nroof : 1), sizeof *pts);
        if (pts) {
            for (int i = 0; i < r->nroof; i++)
                pts[i] = (svg_point){
                    .label = r->roof[i].label, .x = r->roof[i].ai, .y = r->roof[i].gflops};
            svg_roofline(o->f, r->peak, r->bw, pts, r->nroof);
            free(pts);
        }
    }
    if (r->nroof) {
        thead(o, "lrrr", 4, "case", "AI (flop/B)", "GFLOP/s", "% of roof");
        for (int i = 0; i < r->nroof; i++) {
            char ai[32], g[32], p[32];
            double roof =
                isfinite(r->peak) && isfinite(r->bw) ? fmin(r->peak, r->bw * r->roof[i].ai) : NAN;
            trow(o, "lrrr", 4, r->roof[i].label, fnum(r->roof[i].ai, "%.4g", ai, sizeof ai),
                 fnum(r->roof[i].gflops, "%.4g", g, sizeof g),
                 fnum(100.0 * r->roof[i].gflops / roof, "%.1f%%", p, sizeof p));
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
    if (o->html) {
        fputs("<div class=\"charts\">\n", o->f);
        for (int i = 0; i < r->nhist; i++) {
            const history *h = &r->hist[i];
            double *v = malloc((size_t)(h->n ? h->n : 1) * sizeof *v);
            if (!v)
                continue;
            for (int k = 0; k < h->n; k++)
                v[k] = h->p[k].value;
            svg_history(o->f, h->figure, h->unit, v, h->n);
            free(v);
        }
        fputs("</div>\n", o->f);
    }
    thead(o, "lrlrrl", 6, "figure", "runs", "trend", "this run", "mean (window)", "z");
    for (int i = 0; i < r->nhist; i++) {
        const history *h = &r->hist[i];
        char n[16], sp[400], last[64], mean[64], z[64];
        snprintf(n, sizeof n, "%d", h->n);
        sparkline(h, sp, sizeof sp);
        snprintf(last, sizeof last, "%.4g %s", h->n ? h->p[h->n - 1].value : NAN, h->unit);
        fnum(h->mean, "%.4g", mean, sizeof mean);
        if (isfinite(h->z))
            snprintf(z, sizeof z, "%+.2f", h->z);
        else
            snprintf(z, sizeof z, "undefined (%d earlier runs)", h->n > 0 ? h->n - 1 : 0);
        trow(o, "lrlrrl", 6, h->figure, n, sp, last, mean, z);
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
    if (o->html) {
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
            svg_bars(o->f, bars, nb, BNB_CMP_THRESHOLD);
        free(bars);
    }
    thead(o, "lrrrlrl", 7, "case", "baseline", "this run", "ratio", "95% CI", "p", "verdict");
    for (int i = 0; i < r->ncmp; i++) {
        const bnb_cmp_row *c = &r->cmp[i];
        char a[32], b[32], ra[32], lo[32], hi[32], ci[80], p[32];
        snprintf(ci, sizeof ci, "[%s, %s]", fnum(c->ratio_lo, "%.3f", lo, sizeof lo),
                 fnum(c->ratio_hi, "%.3f", hi, sizeof hi));
        trow(o, "lrrrlrl", 7, c->key, fsec(c->med_a, a, sizeof a), fsec(c->med_b, b, sizeof b),
             fnum(c->ratio, "%.3f", ra, sizeof ra), ci, fnum(c->p, "%.2g", p, sizeof p),
             bnb_cmp_verdict_str(c->verdict));
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
        sl_add(&l, "%s", d[i]);
    list(o, &l, "");
    sl_free(&l);
}

static const char css[] =
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

static void write_mdhtml(FILE *f, const rep *r, bool html)
{
    out o = {.f = f, .html = html};
    if (html) {
        fprintf(f,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>bnbench readiness report: run %lld</title><style>%s</style></head>"
                "<body>\n",
                (long long)r->run_id, css);
        fputs("<nav><a href=\"#score\">Score</a><a href=\"#critical\">Critical issues</a>"
              "<a href=\"#targets\">Targets</a><a href=\"#suites\">Suites</a>"
              "<a href=\"#roofline\">Roofline</a><a href=\"#history\">History</a>"
              "<a href=\"#baseline\">Baseline</a><a href=\"#environment\">Environment</a>"
              "<a href=\"#not-measured\">Not measured</a></nav>\n",
              f);
    }
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
    if (html)
        fputs("<p><small>Generated by bnbench " BN_VERSION " from the stored measurements; "
              "every figure is traceable to raw samples in the DB.</small></p>\n</body></html>\n",
              f);
    else
        fputs("\n_Generated by bnbench " BN_VERSION " from the stored measurements; every figure "
              "is traceable to raw samples in the DB._\n",
              f);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void jnum(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *jlist(const strlist *l)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < l->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->s[i]));
    return a;
}

static char *write_json(const rep *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "schema_version", BNB_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(j, "generator", "bnbench " BN_VERSION);
    cJSON *run = cJSON_AddObjectToObject(j, "run");
    cJSON_AddNumberToObject(run, "id", (double)r->run_id);
    cJSON_AddStringToObject(run, "uuid", r->ri.uuid);
    cJSON_AddStringToObject(run, "started_at", r->row.started_at);
    cJSON_AddStringToObject(run, "finished_at", r->row.finished_at);
    cJSON_AddStringToObject(run, "status", r->row.status);
    cJSON_AddStringToObject(run, "reason", r->ri.reason);
    cJSON *m = cJSON_AddObjectToObject(j, "machine");
    cJSON_AddStringToObject(m, "name", r->ri.machine_name);
    cJSON_AddStringToObject(m, "fingerprint", r->ri.fingerprint);
    cJSON_AddStringToObject(m, "cpu", r->cpu);
    cJSON_AddStringToObject(m, "isa", r->isa);
    jnum(m, "cores", r->cores > 0 ? r->cores : NAN);
    jnum(m, "pus", r->pus > 0 ? r->pus : NAN);
    jnum(m, "memory_gib", r->mem_gib);
    cJSON *b = cJSON_AddObjectToObject(j, "build");
    cJSON_AddStringToObject(b, "compiler", r->ri.compiler);
    cJSON_AddStringToObject(b, "cflags", r->ri.cflags);
    cJSON_AddStringToObject(b, "build_type", r->ri.build_type);
    cJSON_AddStringToObject(b, "kernels", r->ri.kernels);
    cJSON_AddStringToObject(b, "commit", r->ri.commit);
    cJSON_AddStringToObject(b, "branch", r->ri.branch);
    cJSON *s = cJSON_AddObjectToObject(j, "score");
    jnum(s, "overall", r->score);
    jnum(s, "coverage_pct", r->coverage);
    cJSON_AddStringToObject(s, "status", status_word(r));
    cJSON_AddStringToObject(s, "formula",
                            "sum(weight_c * score_c) / sum(weight_c) over all categories; "
                            "score_c = 0 when category c has nothing measured");
    cJSON *cats = cJSON_AddArrayToObject(s, "categories");
    for (int i = 0; i < NCATS; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(cats, c);
        cJSON_AddStringToObject(c, "id", r->cat[i].id);
        cJSON_AddStringToObject(c, "name", r->cat[i].name);
        cJSON_AddNumberToObject(c, "weight", r->cat[i].weight);
        cJSON_AddBoolToObject(c, "measured", r->cat[i].measured);
        jnum(c, "score", r->cat[i].measured ? r->cat[i].score : NAN);
        cJSON_AddStringToObject(c, "basis", r->cat[i].basis);
    }
    cJSON *t = cJSON_AddArrayToObject(j, "targets");
    for (int i = 0; i < r->ts.n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(t, c);
        const bnb_verdict *v = &r->v[i];
        cJSON_AddStringToObject(c, "id", v->target->id);
        cJSON_AddStringToObject(c, "figure", v->target->figure);
        cJSON_AddStringToObject(c, "op", v->target->op);
        cJSON_AddNumberToObject(c, "threshold", v->target->threshold);
        cJSON_AddStringToObject(c, "relative_to", v->target->relative_to);
        jnum(c, "bound", v->bound);
        jnum(c, "measured", v->measured_ok ? v->measured : NAN);
        jnum(c, "ci_lo", v->ci_lo);
        jnum(c, "ci_hi", v->ci_hi);
        cJSON_AddStringToObject(c, "verdict", v->verdict);
        cJSON_AddStringToObject(c, "reason", v->reason);
    }
    cJSON *cs = cJSON_AddArrayToObject(j, "cases");
    for (int i = 0; i < r->ncases; i++) {
        const bnb_case_result *x = &r->cases[i];
        char full[BNB_NAME_MAX + 160];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(cs, c);
        cJSON_AddStringToObject(c, "case", bnb_case_fullname(x, full, sizeof full));
        cJSON_AddStringToObject(c, "suite", x->suite);
        cJSON_AddStringToObject(c, "status", bnb_case_status_str(x->status));
        cJSON_AddStringToObject(c, "message", x->message);
        cJSON_AddNumberToObject(c, "n", x->stats.n);
        jnum(c, "median_s", x->status == BNB_CASE_OK ? x->stats.median : NAN);
        jnum(c, "ci_lo_s", x->status == BNB_CASE_OK ? x->stats.ci_lo : NAN);
        jnum(c, "ci_hi_s", x->status == BNB_CASE_OK ? x->stats.ci_hi : NAN);
        jnum(c, "cv", x->status == BNB_CASE_OK ? x->stats.cv : NAN);
        jnum(c, "mad_s", x->status == BNB_CASE_OK ? x->stats.mad : NAN);
        cJSON_AddNumberToObject(c, "outliers", x->stats.outliers_low + x->stats.outliers_high);
        cJSON *ms = cJSON_AddObjectToObject(c, "metrics");
        for (int k = 0; k < x->nmetrics; k++) {
            const bnb_metric *mm = &x->metrics[k];
            if (mm->available)
                cJSON_AddNumberToObject(ms, mm->name, mm->value);
            else
                cJSON_AddNullToObject(ms, mm->name);
        }
    }
    cJSON *ceil = cJSON_AddObjectToObject(j, "ceilings");
    jnum(ceil, "fma_peak_gflops", r->peak);
    jnum(ceil, "triad_gbps", r->bw);
    cJSON *rf = cJSON_AddArrayToObject(j, "roofline");
    for (int i = 0; i < r->nroof; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(rf, c);
        cJSON_AddStringToObject(c, "case", r->roof[i].label);
        jnum(c, "ai", r->roof[i].ai);
        jnum(c, "gflops", r->roof[i].gflops);
    }
    cJSON_AddItemToObject(j, "roofline_skipped", jlist(&r->roof_skipped));
    cJSON *hs = cJSON_AddArrayToObject(j, "history");
    for (int i = 0; i < r->nhist; i++) {
        const history *h = &r->hist[i];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(hs, c);
        cJSON_AddStringToObject(c, "figure", h->figure);
        cJSON_AddStringToObject(c, "unit", h->unit);
        jnum(c, "z", h->z);
        cJSON *pts = cJSON_AddArrayToObject(c, "points");
        for (int k = 0; k < h->n; k++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddItemToArray(pts, p);
            cJSON_AddNumberToObject(p, "run", (double)h->p[k].run_id);
            cJSON_AddStringToObject(p, "started_at", h->p[k].started_at);
            cJSON_AddNumberToObject(p, "value", h->p[k].value);
        }
    }
    cJSON *bl = cJSON_AddObjectToObject(j, "baseline");
    cJSON_AddBoolToObject(bl, "present", r->have_base);
    cJSON_AddStringToObject(bl, "name", r->base_name);
    if (r->have_base) {
        cJSON_AddNumberToObject(bl, "run", (double)r->base_id);
        char *cmp = bnb_compare_json(r->base_name, "this run", r->cmp, r->ncmp, NULL);
        cJSON *cj = cmp ? cJSON_Parse(cmp) : NULL;
        free(cmp);
        if (cj)
            cJSON_AddItemToObject(bl, "comparison", cj);
    } else {
        cJSON_AddStringToObject(bl, "note", r->base_note);
    }
    cJSON *env = cJSON_AddObjectToObject(j, "environment");
    cJSON_AddItemToObject(env, "warnings", jlist(&r->warn));
    if (r->pmu_known)
        cJSON_AddBoolToObject(env, "pmu_present", r->pmu);
    else
        cJSON_AddNullToObject(env, "pmu_present");
    cJSON_AddStringToObject(env, "pmu_reason", r->pmu_reason);
    cJSON_AddStringToObject(env, "papi", r->papi);
    cJSON_AddItemToObject(env, "counters", jlist(&r->counters));
    cJSON_AddItemToObject(j, "critical_issues", jlist(&r->critical));
    cJSON_AddItemToObject(j, "findings", jlist(&r->findings));
    cJSON_AddItemToObject(j, "not_measured", jlist(&r->not_measured));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

int bnb_report_render(bnb_db *db, int64_t run_id, const bnb_report_opts *o, char **text,
                      double *score_out, char *err, size_t cap)
{
    *text = NULL;
    rep r;
    memset(&r, 0, sizeof r);
    int rc = -1;
    if (gather(db, run_id, o, &r, err, cap))
        goto cleanup;
    if (score_out)
        *score_out = r.score;
    if (o->format == BNB_REPORT_JSON) {
        *text = write_json(&r);
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            write_mdhtml(f, &r, o->format == BNB_REPORT_HTML);
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
    rep_free(&r);
    return rc;
}
