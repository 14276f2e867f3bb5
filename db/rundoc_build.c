/*
 * rundoc_build.c - a stored run as a run document (bnb_rundoc_build,
 * contract: db/rundoc.h).
 *
 * Built with cJSON from what the store loads back (bnb_db_load_run,
 * load_cases, load_verdicts and the run row), so the document shows exactly
 * what is stored. Text is stored as given (any bytes); here every string is
 * made valid UTF-8 (db/model/text.h) and, where the replacement characters
 * make it longer than its field, cut at a character boundary so the
 * receiving store can hold it untruncated. A value JSON cannot carry (an
 * infinite metric) is sent as unavailable with the reason; a sample or
 * threshold that is not finite makes the run unsendable, with the reason.
 * The text is checked with bnb_rundoc_parse before it is returned, so a
 * document this function returns is one every bnbench of this version
 * accepts.
 *
 * Numbers: every double (and the iteration count) is written in the shortest
 * of 15, 16 or 17 significant digits that strtod reads back as exactly the
 * same double, and added as raw JSON. cJSON's own printer is not used for
 * them: it takes 15 digits whenever they read back within DBL_EPSILON
 * (relative), so 0.1 + 0.2 would travel as 0.3 and DBL_MAX as a number that
 * reads back as infinity.
 */
#include "db/internal.h"
#include "db/rundoc.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"
#include "db/rundoc_internal.h"

/* s made valid UTF-8 and cut at a character boundary to at most cap - 1
 * bytes, into dst (cap bytes). 0, or -1 when out of memory. */
static int fit(char *dst, size_t cap, const char *s)
{
    char *clean = bnb_utf8_sanitize(s ? s : "");
    if (!clean)
        return -1;
    size_t n = 0, len = strlen(clean);
    while (n < len) {
        size_t k = bnb_utf8_seq_len(clean + n, len - n);
        if (k == 0 || n + k > cap - 1)
            break;
        n += k;
    }
    memcpy(dst, clean, n);
    dst[n] = '\0';
    free(clean);
    return 0;
}

/* Adds s fitted to a field of cap bytes as member key of o. 0 or -1 (OOM). */
static int add_fit(cJSON *o, const char *key, const char *s, size_t cap)
{
    char *buf = malloc(cap);
    int rc = -1;
    if (buf && fit(buf, cap, s) == 0 && cJSON_AddStringToObject(o, key, buf))
        rc = 0;
    free(buf);
    return rc;
}

/* d as JSON text that reads back as exactly d (d finite). */
static const char *exact_text(double d, char buf[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

static cJSON *exact(double d)
{
    char buf[32];
    return cJSON_CreateRaw(exact_text(d, buf));
}

static int add_exact(cJSON *o, const char *key, double d)
{
    char buf[32];
    return cJSON_AddRawToObject(o, key, exact_text(d, buf)) ? 0 : -1;
}

static int add_num_or_null(cJSON *o, const char *key, double v)
{
    return isfinite(v) ? add_exact(o, key, v) : (cJSON_AddNullToObject(o, key) ? 0 : -1);
}

/* Stored JSON text as a tree (null when absent or unreadable). */
static cJSON *stored_json(const char *text)
{
    cJSON *t = text ? cJSON_Parse(text) : NULL;
    return t ? t : cJSON_CreateNull();
}

static int add_json(cJSON *o, const char *key, const char *text)
{
    cJSON *t = stored_json(text);
    return t && cJSON_AddItemToObject(o, key, t) ? 0 : (cJSON_Delete(t), -1);
}

/* The run's row values load_run does not give: finished_at, status_reason,
 * tool_version. */
static int load_end(bnb_db *db, int64_t run_id, char *finished, size_t fcap, char *reason,
                    size_t rcap, char *version, size_t vcap, char *err)
{
    bnb_run_row row;
    if (bnb_db_get_run_row(db, run_id, &row, err) ||
        bnb_db_run_status_reason(db, run_id, reason, rcap, err))
        return -1;
    snprintf(finished, fcap, "%s", row.finished_at);
    bnb_db__rd q;
    if (bnb_db__rd_prep(&q, db, "SELECT tool_version FROM runs WHERE id = ?", err))
        return -1;
    bnb_db__rd_int64(&q, 1, run_id);
    int s = bnb_db__rd_step(&q, err);
    if (s == SQLITE_ROW)
        bnb_db__rd_copy(&q, 0, version, vcap);
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        return -1;
    return 0;
}

static int add_machine(cJSON *root, const bnb_run_info *ri)
{
    cJSON *m = cJSON_AddObjectToObject(root, "machine");
    return m && !add_fit(m, "name", ri->machine_name, sizeof ri->machine_name) &&
                   !add_fit(m, "fingerprint", ri->fingerprint, sizeof ri->fingerprint) &&
                   !add_json(m, "description", ri->machine_json)
               ? 0
               : -1;
}

static int add_run(cJSON *root, const bnb_run_info *ri, bnb_run_status st, const char *finished,
                   const char *reason, const char *version)
{
    cJSON *r = cJSON_AddObjectToObject(root, "run");
    if (!r || add_fit(r, "uuid", ri->uuid, sizeof ri->uuid) ||
        !cJSON_AddStringToObject(r, "status", bnb_run_status_str(st)) ||
        add_fit(r, "status_reason", reason, BNB_RUNDOC_REASON_MAX) ||
        add_fit(r, "started_at", ri->started_at, sizeof ri->started_at))
        return -1;
    if (finished[0] ? add_fit(r, "finished_at", finished, 32)
                    : !cJSON_AddNullToObject(r, "finished_at"))
        return -1;
    if (add_fit(r, "reason", ri->reason, sizeof ri->reason) ||
        add_fit(r, "commit", ri->commit, sizeof ri->commit) ||
        add_fit(r, "branch", ri->branch, sizeof ri->branch) ||
        add_fit(r, "build_type", ri->build_type, sizeof ri->build_type) ||
        add_fit(r, "compiler", ri->compiler, sizeof ri->compiler) ||
        add_fit(r, "cflags", ri->cflags, sizeof ri->cflags) ||
        add_fit(r, "kernels", ri->kernels, sizeof ri->kernels) ||
        add_fit(r, "tool_version", version, BNB_RUNDOC_VERSION_MAX) ||
        add_json(r, "context", ri->context_json) || add_json(r, "warnings", ri->warnings_json) ||
        add_json(r, "binding", ri->binding_json))
        return -1;
    return 0;
}

static int add_stats(cJSON *c, const bnb_stats *s)
{
    if (s->n <= 0)
        return cJSON_AddNullToObject(c, "stats") ? 0 : -1;
    cJSON *o = cJSON_AddObjectToObject(c, "stats");
    if (!o || !cJSON_AddNumberToObject(o, "n", s->n))
        return -1;
    static const char *const names[] = {"min", "max", "median", "mean",  "stddev", "mad",
                                        "cv",  "p90", "p99",    "ci_lo", "ci_hi"};
    const double v[] = {s->min, s->max, s->median, s->mean,  s->stddev, s->mad,
                        s->cv,  s->p90, s->p99,    s->ci_lo, s->ci_hi};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (add_num_or_null(o, names[i], v[i]))
            return -1;
    return cJSON_AddNumberToObject(o, "outliers_low", s->outliers_low) &&
                   cJSON_AddNumberToObject(o, "outliers_high", s->outliers_high)
               ? 0
               : -1;
}

static int add_metric(cJSON *arr, const bnb_metric *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o))
        return cJSON_Delete(o), -1;
    /* JSON has no infinity: such a value is sent as not available, saying why */
    bool avail = m->available && isfinite(m->value);
    char reason[sizeof m->reason];
    if (m->available && !avail)
        snprintf(reason, sizeof reason, "the stored value %g is not a finite number", m->value);
    else
        snprintf(reason, sizeof reason, "%s", m->reason);
    if (add_fit(o, "name", m->name, sizeof m->name) || add_fit(o, "unit", m->unit, sizeof m->unit))
        return -1;
    if (avail ? add_exact(o, "value", m->value) : !cJSON_AddNullToObject(o, "value"))
        return -1;
    return cJSON_AddBoolToObject(o, "available", avail) &&
                   !add_fit(o, "reason", reason, sizeof m->reason) &&
                   cJSON_AddBoolToObject(o, "higher_is_better", m->higher_is_better) &&
                   cJSON_AddNumberToObject(o, "timing", m->timing)
               ? 0
               : -1;
}

/* Case i of the run. -1 with err: out of memory, or a sample JSON cannot
 * carry. */
static int add_case(cJSON *arr, int i, const bnb_case_result *r, char *err)
{
    /* the name fields as sent (valid UTF-8, fitted): full_name is made from them */
    bnb_case_result h;
    memset(&h, 0, sizeof h);
    if (fit(h.suite, sizeof h.suite, r->suite) || fit(h.name, sizeof h.name, r->name))
        goto oom;
    h.nparams = r->nparams < 0 ? 0 : r->nparams > BNB_MAX_PARAMS ? BNB_MAX_PARAMS : r->nparams;
    for (int k = 0; k < h.nparams; k++)
        if (fit(h.params[k].key, sizeof h.params[k].key, r->params[k].key) ||
            fit(h.params[k].value, sizeof h.params[k].value, r->params[k].value))
            goto oom;
    char full[1024];
    bnb_case_fullname(&h, full, sizeof full);
    for (int k = 0; k < r->nsamples; k++)
        if (!isfinite(r->samples[k])) {
            snprintf(err, BNB_ERR_MAX,
                     "case %d (%s): sample %d is stored as %g, which a document cannot carry",
                     i + 1, full, k, r->samples[k]);
            return -1;
        }
    cJSON *c = cJSON_CreateObject();
    if (!c || !cJSON_AddItemToArray(arr, c)) {
        cJSON_Delete(c);
        goto oom;
    }
    cJSON *params = NULL;
    if (!cJSON_AddNumberToObject(c, "seq", i + 1) ||
        !cJSON_AddStringToObject(c, "suite", h.suite) ||
        !cJSON_AddStringToObject(c, "name", h.name) ||
        !(params = cJSON_AddObjectToObject(c, "params")))
        goto oom;
    for (int k = 0; k < h.nparams; k++)
        if (!cJSON_AddStringToObject(params, h.params[k].key, h.params[k].value))
            goto oom;
    if (!cJSON_AddStringToObject(c, "full_name", full) ||
        !cJSON_AddStringToObject(c, "status", bnb_case_status_str(r->status)) ||
        add_fit(c, "message", r->message, sizeof r->message) ||
        add_exact(c, "iterations", (double)r->iterations) ||
        add_fit(c, "code_version", r->code_version, sizeof r->code_version))
        goto oom;
    cJSON *samples = cJSON_AddArrayToObject(c, "samples");
    cJSON *outliers = cJSON_AddArrayToObject(c, "outliers");
    if (!samples || !outliers)
        goto oom;
    for (int k = 0; k < r->nsamples; k++) {
        if (!cJSON_AddItemToArray(samples, exact(r->samples[k])))
            goto oom;
        if (r->outlier && r->outlier[k] && !cJSON_AddItemToArray(outliers, cJSON_CreateNumber(k)))
            goto oom;
    }
    if (add_stats(c, &r->stats))
        goto oom;
    cJSON *metrics = cJSON_AddArrayToObject(c, "metrics");
    if (!metrics)
        goto oom;
    for (int k = 0; k < r->nmetrics; k++)
        if (add_metric(metrics, &r->metrics[k]))
            goto oom;
    return 0;
oom:
    snprintf(err, BNB_ERR_MAX, "out of memory");
    return -1;
}

static int add_verdict(cJSON *arr, const bnb_verdict *v)
{
    const bnb_target *t = v->target;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o))
        return cJSON_Delete(o), -1;
    return !add_fit(o, "target_id", t->id, sizeof t->id) &&
                   !add_fit(o, "description", t->description, sizeof t->description) &&
                   !add_fit(o, "figure", t->figure, sizeof t->figure) &&
                   !add_fit(o, "op", t->op, sizeof t->op) &&
                   !add_exact(o, "threshold", t->threshold) &&
                   !add_fit(o, "relative_to", t->relative_to, sizeof t->relative_to) &&
                   !add_num_or_null(o, "bound", v->bound) &&
                   !add_num_or_null(o, "measured", v->measured_ok ? v->measured : NAN) &&
                   !add_num_or_null(o, "ci_lo", v->ci_lo) &&
                   !add_num_or_null(o, "ci_hi", v->ci_hi) &&
                   !add_fit(o, "verdict", v->verdict, sizeof v->verdict) &&
                   !add_fit(o, "reason", v->reason, sizeof v->reason)
               ? 0
               : -1;
}

char *bnb_rundoc_build(bnb_db *db, int64_t run_id, size_t *len, char *err)
{
    bnb_run_info ri;
    bnb_run_status st = BNB_RUN_RUNNING;
    bnb_case_result *cases = NULL;
    int ncases = 0;
    bnb_target_set ts = {0, NULL};
    bnb_verdict *v = NULL;
    cJSON *root = NULL;
    char *text = NULL, e2[BNB_ERR_MAX];
    char finished[32] = "", reason[BNB_RUNDOC_REASON_MAX] = "",
         version[BNB_RUNDOC_VERSION_MAX] = "";
    memset(&ri, 0, sizeof ri);
    if (len)
        *len = 0;

    if (bnb_db_load_run(db, run_id, &ri, &st, err))
        goto out;
    if (st == BNB_RUN_RUNNING) {
        bnb_db__seterr(err,
                       "run %lld is still running: only a run that has ended (complete, "
                       "interrupted, failed or abandoned) can be sent",
                       (long long)run_id);
        goto out;
    }
    if (load_end(db, run_id, finished, sizeof finished, reason, sizeof reason, version,
                 sizeof version, err) ||
        bnb_db_load_cases(db, run_id, &cases, &ncases, err) ||
        bnb_db_load_verdicts(db, run_id, &ts, &v, err))
        goto out;
    for (int i = 0; i < ts.n; i++)
        if (!isfinite(ts.t[i].threshold)) {
            bnb_db__seterr(err,
                           "run %lld: target %s: the stored threshold %g is not a finite number, "
                           "which a document cannot carry",
                           (long long)run_id, ts.t[i].id, ts.t[i].threshold);
            goto out;
        }
    root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "schema", BNB_RUNDOC_SCHEMA) ||
        !cJSON_AddNumberToObject(root, "schema_version", BNB_RUNDOC_VERSION) ||
        add_machine(root, &ri) || add_run(root, &ri, st, finished, reason, version))
        goto oom;
    cJSON *arr = cJSON_AddArrayToObject(root, "cases");
    if (!arr)
        goto oom;
    for (int i = 0; i < ncases; i++)
        if (add_case(arr, i, &cases[i], e2)) {
            bnb_db__seterr(err, "run %lld: %s", (long long)run_id, e2);
            goto out;
        }
    cJSON *va = cJSON_AddArrayToObject(root, "verdicts");
    if (!va)
        goto oom;
    for (int i = 0; i < ts.n; i++)
        if (add_verdict(va, &v[i]))
            goto oom;
    /* the stored machine description, context, warnings and binding: their
     * strings too */
    if (bnb_json_utf8_tree(root) || !(text = cJSON_PrintUnformatted(root)))
        goto oom;
    size_t n = strlen(text);
    bnb_rundoc *check = NULL;
    if (bnb_rundoc_parse(text, n, &check, e2)) {
        bnb_db__seterr(err, "run %lld cannot be sent as a document: %s", (long long)run_id, e2);
        cJSON_free(text);
        text = NULL;
        goto out;
    }
    bnb_rundoc_free(check);
    if (len)
        *len = n;
    goto out;
oom:
    bnb_db__seterr(err, "run %lld as a document: out of memory", (long long)run_id);
out:
    cJSON_Delete(root);
    bnb_run_info_free(&ri);
    bnb_db_free_cases(cases, ncases);
    bnb_targets_free(&ts);
    free(v);
    return text;
}
