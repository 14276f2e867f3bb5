/*
 * report_json.c - the JSON report (schema_version BNB_REPORT_SCHEMA_VERSION):
 * the same `rep` as the Markdown and HTML reports, as data for tools. Every
 * figure is a number, or null where it was not measured (never a made-up
 * value); the baseline comparison is compare.c's JSON, embedded.
 */
#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "db/model/peer_label.h"
#include "db/model/text.h"
#include "reports/report_model.h"

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

char *report__write_json(const rep *r)
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
    /* the implementations the peer figures came from (collectors/peers.h) */
    cJSON *pe = cJSON_AddObjectToObject(j, "peers");
    static const char *const peer_names[] = {"openblas", "lapack", "mimalloc", "jemalloc"};
    for (size_t i = 0; pe && i < sizeof peer_names / sizeof peer_names[0]; i++) {
        char label[PATH_MAX + 64];
        bnb_peers_label(r->ri.context_json, peer_names[i], label, sizeof label);
        cJSON_AddStringToObject(pe, peer_names[i], label);
    }
    cJSON *s = cJSON_AddObjectToObject(j, "score");
    jnum(s, "overall", r->score);
    jnum(s, "coverage_pct", r->coverage);
    cJSON_AddStringToObject(s, "status", report__status_word(r));
    cJSON_AddStringToObject(s, "formula",
                            "sum(weight_c * score_c) / sum(weight_c) over all categories; "
                            "score_c = 0 when category c has nothing measured");
    cJSON *cats = cJSON_AddArrayToObject(s, "categories");
    for (int i = 0; i < REPORT_NCATS; i++) {
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
        cJSON *cj = bnb_compare_json_tree(r->base_name, "this run", r->cmp, r->ncmp, NULL);
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
    /* names, messages and reasons come from users and the DB as bytes:
     * U+FFFD for what is not UTF-8 keeps the document valid */
    char *text = bnb_json_utf8_tree(j) ? NULL : cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}
