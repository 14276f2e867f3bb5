/*
 * export.c - `bnbench export RUN --format json|csv` (contract: db/export.h).
 *
 * JSON follows Google Benchmark's output layout, built with cJSON from what
 * the store loads back (bnb_db_load_run / load_cases / load_verdicts), so an
 * export shows exactly what is stored. GB fields the store does not have are
 * left out, never invented; bnbench's own fields sit in context.bnbench and
 * in bnbench_* keys of the rows, where GB readers ignore them.
 *
 * CSV is a straight SQL join of cases and samples, one row per raw sample,
 * seconds printed with 17 significant digits so the values round-trip.
 */
#include "db/export.h"
#include "db/internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"

/* Parses stored JSON text; NULL when absent or not valid. */
static cJSON *parse_opt(const char *text)
{
    return text ? cJSON_Parse(text) : NULL;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* GB's cache "type" names. */
static const char *gb_cache_type(const char *t)
{
    if (!t)
        return "Unknown";
    if (!strcmp(t, "data"))
        return "Data";
    if (!strcmp(t, "instruction"))
        return "Instruction";
    if (!strcmp(t, "unified"))
        return "Unified";
    return t;
}

/* GB's context block plus context.bnbench. Returns 0 or -1 (OOM). */
static int add_context(cJSON *root, int64_t run_id, const bnb_run_info *ri, const bnb_run_row *row,
                       const bnb_target_set *ts, const bnb_verdict *v)
{
    cJSON *ctx = cJSON_AddObjectToObject(root, "context");
    if (!ctx)
        return -1;
    cJSON *machine = parse_opt(ri->machine_json);
    cJSON *context = parse_opt(ri->context_json);
    const cJSON *topo = get(machine, "topology");

    cJSON_AddStringToObject(ctx, "date", ri->started_at);
    cJSON_AddStringToObject(ctx, "host_name", ri->machine_name);
    cJSON_AddStringToObject(ctx, "executable", "bnbench");
    const cJSON *pus = get(topo, "pus");
    if (cJSON_IsNumber(pus))
        cJSON_AddNumberToObject(ctx, "num_cpus", pus->valuedouble);
    const cJSON *khz = get(context, "cur_freq_khz");
    if (cJSON_IsNumber(khz))
        cJSON_AddNumberToObject(ctx, "mhz_per_cpu", round(khz->valuedouble / 1000.0));
    const cJSON *gov = get(context, "governor");
    if (cJSON_IsString(gov) && strncmp(gov->valuestring, "not readable", 12) != 0)
        cJSON_AddBoolToObject(ctx, "cpu_scaling_enabled", strcmp(gov->valuestring, "performance"));
    const cJSON *caches = get(topo, "caches");
    if (cJSON_IsArray(caches)) {
        cJSON *arr = cJSON_AddArrayToObject(ctx, "caches");
        const cJSON *c;
        cJSON_ArrayForEach(c, caches)
        {
            cJSON *o = cJSON_CreateObject();
            if (!o)
                break;
            cJSON_AddItemToArray(arr, o);
            const cJSON *type = get(c, "type"), *level = get(c, "level"), *size = get(c, "size"),
                        *count = get(c, "count");
            cJSON_AddStringToObject(o, "type",
                                    gb_cache_type(cJSON_IsString(type) ? type->valuestring : NULL));
            cJSON_AddNumberToObject(o, "level", cJSON_IsNumber(level) ? level->valuedouble : 0);
            cJSON_AddNumberToObject(o, "size", cJSON_IsNumber(size) ? size->valuedouble : 0);
            if (cJSON_IsNumber(count) && count->valuedouble > 0 && cJSON_IsNumber(pus))
                cJSON_AddNumberToObject(o, "num_sharing",
                                        floor(pus->valuedouble / count->valuedouble));
        }
    }
    const cJSON *load = get(context, "loadavg");
    if (cJSON_IsArray(load))
        cJSON_AddItemToObject(ctx, "load_avg", cJSON_Duplicate(load, 1));
    cJSON_AddStringToObject(ctx, "library_build_type", ri->build_type);

    cJSON *b = cJSON_AddObjectToObject(ctx, "bnbench");
    cJSON_AddNumberToObject(b, "run_id", (double)run_id);
    cJSON_AddStringToObject(b, "uuid", ri->uuid);
    cJSON_AddStringToObject(b, "status", row->status);
    cJSON_AddStringToObject(b, "started_at", row->started_at);
    if (row->finished_at[0])
        cJSON_AddStringToObject(b, "finished_at", row->finished_at);
    else
        cJSON_AddNullToObject(b, "finished_at");
    cJSON_AddStringToObject(b, "reason", ri->reason);
    cJSON_AddStringToObject(b, "machine_name", ri->machine_name);
    cJSON_AddStringToObject(b, "fingerprint", ri->fingerprint);
    cJSON_AddStringToObject(b, "commit", ri->commit);
    cJSON_AddStringToObject(b, "branch", ri->branch);
    cJSON_AddStringToObject(b, "build_type", ri->build_type);
    cJSON_AddStringToObject(b, "compiler", ri->compiler);
    cJSON_AddStringToObject(b, "cflags", ri->cflags);
    cJSON_AddStringToObject(b, "kernels", ri->kernels);
    cJSON_AddStringToObject(b, "time_source",
                            "samples are wall time per iteration; cpu_time repeats real_time "
                            "(CPU time is not measured per sample)");
    if (machine)
        cJSON_AddItemToObject(b, "machine", machine);
    if (context)
        cJSON_AddItemToObject(b, "context", context);
    cJSON *w = parse_opt(ri->warnings_json);
    cJSON_AddItemToObject(b, "warnings", w ? w : cJSON_CreateArray());
    cJSON *bind = parse_opt(ri->binding_json);
    cJSON_AddItemToObject(b, "binding", bind ? bind : cJSON_CreateNull());
    cJSON *va = cJSON_AddArrayToObject(b, "verdicts");
    for (int i = 0; va && i < ts->n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return -1;
        cJSON_AddItemToArray(va, o);
        cJSON_AddStringToObject(o, "target", v[i].target->id);
        cJSON_AddStringToObject(o, "figure", v[i].target->figure);
        cJSON_AddStringToObject(o, "op", v[i].target->op);
        cJSON_AddNumberToObject(o, "threshold", v[i].target->threshold);
        if (v[i].target->relative_to[0])
            cJSON_AddStringToObject(o, "relative_to", v[i].target->relative_to);
        if (isfinite(v[i].bound))
            cJSON_AddNumberToObject(o, "bound", v[i].bound);
        if (v[i].measured_ok)
            cJSON_AddNumberToObject(o, "measured", v[i].measured);
        else
            cJSON_AddNullToObject(o, "measured");
        if (isfinite(v[i].ci_lo) && isfinite(v[i].ci_hi)) {
            cJSON_AddNumberToObject(o, "ci_lo", v[i].ci_lo);
            cJSON_AddNumberToObject(o, "ci_hi", v[i].ci_hi);
        }
        cJSON_AddStringToObject(o, "verdict", v[i].verdict);
        cJSON_AddStringToObject(o, "reason", v[i].reason);
    }
    return 0;
}

/* Fields every row of a case shares. */
static cJSON *row_base(const char *name, const char *run_name, int family, int instance)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "family_index", family);
    cJSON_AddNumberToObject(o, "per_family_instance_index", instance);
    cJSON_AddStringToObject(o, "run_name", run_name);
    return o;
}

static void add_times(cJSON *o, double seconds, const char *unit)
{
    double v = !strcmp(unit, "ns") ? seconds * 1e9 : seconds;
    cJSON_AddNumberToObject(o, "real_time", v);
    cJSON_AddNumberToObject(o, "cpu_time", v);
    cJSON_AddStringToObject(o, "time_unit", unit);
}

static int add_case_rows(cJSON *arr, const bnb_case_result *r, int family, int instance)
{
    char full[512];
    bnb_case_fullname(r, full, sizeof full);
    if (r->status != BNB_CASE_OK || r->nsamples == 0) {
        cJSON *o = row_base(full, full, family, instance);
        if (!o)
            return -1;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "run_type", "iteration");
        cJSON_AddNumberToObject(o, "repetitions", 0);
        cJSON_AddNumberToObject(o, "repetition_index", 0);
        cJSON_AddNumberToObject(o, "threads", 1);
        cJSON_AddNumberToObject(o, "iterations", 0);
        add_times(o, 0.0, "ns");
        cJSON_AddBoolToObject(o, "error_occurred", true);
        char msg[300];
        snprintf(msg, sizeof msg, "%s: %s", bnb_case_status_str(r->status),
                 r->message[0] ? r->message : "no samples");
        cJSON_AddStringToObject(o, "error_message", msg);
        cJSON_AddStringToObject(o, "bnbench_status", bnb_case_status_str(r->status));
        return 0;
    }
    for (int i = 0; i < r->nsamples; i++) {
        cJSON *o = row_base(full, full, family, instance);
        if (!o)
            return -1;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "run_type", "iteration");
        cJSON_AddNumberToObject(o, "repetitions", r->nsamples);
        cJSON_AddNumberToObject(o, "repetition_index", i);
        cJSON_AddNumberToObject(o, "threads", 1);
        cJSON_AddNumberToObject(o, "iterations", (double)r->iterations);
        add_times(o, r->samples[i], "ns");
        cJSON_AddBoolToObject(o, "bnbench_outlier", r->outlier && r->outlier[i]);
    }
    if (r->stats.n <= 0)
        return 0;
    const struct {
        const char *name;
        double value;
        bool time;
    } aggs[] = {
        {"mean", r->stats.mean, true},     {"median", r->stats.median, true},
        {"stddev", r->stats.stddev, true}, {"cv", r->stats.cv, false},
        {"min", r->stats.min, true},
    };
    for (size_t k = 0; k < sizeof aggs / sizeof aggs[0]; k++) {
        char name[560];
        snprintf(name, sizeof name, "%s_%s", full, aggs[k].name);
        cJSON *o = row_base(name, full, family, instance);
        if (!o)
            return -1;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "run_type", "aggregate");
        cJSON_AddNumberToObject(o, "repetitions", r->nsamples);
        cJSON_AddNumberToObject(o, "threads", 1);
        cJSON_AddStringToObject(o, "aggregate_name", aggs[k].name);
        cJSON_AddStringToObject(o, "aggregate_unit", aggs[k].time ? "time" : "percentage");
        cJSON_AddNumberToObject(o, "iterations", r->stats.n);
        if (aggs[k].time) {
            add_times(o, aggs[k].value, "ns");
        } else { /* GB writes cv as a fraction in both time fields */
            cJSON_AddNumberToObject(o, "real_time", aggs[k].value);
            cJSON_AddNumberToObject(o, "cpu_time", aggs[k].value);
            cJSON_AddStringToObject(o, "time_unit", "ns");
        }
        if (strcmp(aggs[k].name, "median") != 0)
            continue;
        cJSON_AddNumberToObject(o, "bnbench_ci_lo", r->stats.ci_lo * 1e9);
        cJSON_AddNumberToObject(o, "bnbench_ci_hi", r->stats.ci_hi * 1e9);
        cJSON_AddNumberToObject(o, "bnbench_outliers",
                                r->stats.outliers_low + r->stats.outliers_high);
        cJSON *unavailable = NULL;
        for (int m = 0; m < r->nmetrics; m++) {
            const bnb_metric *mt = &r->metrics[m];
            if (mt->available && isfinite(mt->value)) {
                cJSON_AddNumberToObject(o, mt->name, mt->value);
                continue;
            }
            if (!unavailable)
                unavailable = cJSON_AddObjectToObject(o, "bnbench_unavailable");
            cJSON_AddStringToObject(unavailable, mt->name,
                                    mt->reason[0] ? mt->reason : "not available");
        }
    }
    return 0;
}

char *bnb_export_json(bnb_db *db, int64_t run_id, char *err)
{
    bnb_run_info ri;
    bnb_run_row row;
    bnb_case_result *cases = NULL;
    int ncases = 0;
    bnb_target_set ts = {0, NULL};
    bnb_verdict *v = NULL;
    cJSON *root = NULL;
    char *text = NULL;
    memset(&ri, 0, sizeof ri);

    if (bnb_db_load_run(db, run_id, &ri, NULL, err) || bnb_db_get_run_row(db, run_id, &row, err) ||
        bnb_db_load_cases(db, run_id, &cases, &ncases, err) ||
        bnb_db_load_verdicts(db, run_id, &ts, &v, err))
        goto out;
    root = cJSON_CreateObject();
    if (!root || add_context(root, run_id, &ri, &row, &ts, v))
        goto oom;
    cJSON *arr = cJSON_AddArrayToObject(root, "benchmarks");
    if (!arr)
        goto oom;
    /* family: distinct suite/name in order of first appearance; instance:
     * the case's position among its family's cases */
    int *fam = ncases ? calloc((size_t)ncases, sizeof *fam) : NULL;
    if (ncases && !fam)
        goto oom;
    int nfam = 0;
    for (int i = 0; i < ncases; i++) {
        int instance = 0;
        fam[i] = -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(cases[j].suite, cases[i].suite) && !strcmp(cases[j].name, cases[i].name)) {
                fam[i] = fam[j];
                instance++;
            }
        if (fam[i] < 0)
            fam[i] = nfam++;
        if (add_case_rows(arr, &cases[i], fam[i], instance)) {
            free(fam);
            goto oom;
        }
    }
    free(fam);
    if (bnb_json_utf8_tree(root))
        goto oom;
    text = cJSON_Print(root);
    if (!text)
        goto oom;
    goto out;
oom:
    bnb_db__seterr(err, "export of run %lld: out of memory", (long long)run_id);
out:
    cJSON_Delete(root);
    bnb_run_info_free(&ri);
    bnb_db_free_cases(cases, ncases);
    bnb_targets_free(&ts);
    free(v);
    return text;
}

/* Writes s as one CSV field (quoted when it holds a comma, quote or newline). */
static void csv_field(FILE *f, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The shortest of %.15g..%.17g that reads back as exactly d. */
static const char *shortest(double d, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

char *bnb_export_csv(bnb_db *db, int64_t run_id, char *err)
{
    char *buf = NULL;
    size_t len = 0;
    bnb_db__rd q = {0};
    bnb_run_row row;
    if (bnb_db_get_run_row(db, run_id, &row, err))
        return NULL;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        bnb_db__seterr(err, "export of run %lld: out of memory", (long long)run_id);
        return NULL;
    }
    fputs("run_id,run_uuid,machine,suite,case,params,full_name,status,iterations,sample_index,"
          "seconds,outlier\n",
          f);
    if (bnb_db__rd_prep(&q, db,
                        "SELECT c.suite, c.name, c.params, c.full_name, c.status, c.iterations, "
                        "s.idx, s.seconds, s.outlier FROM cases c LEFT JOIN samples s ON "
                        "s.case_id = c.id WHERE c.run_id = ? ORDER BY c.seq, s.idx",
                        err))
        goto fail;
    bnb_db__rd_int64(&q, 1, run_id);
    int s;
    char num[40];
    while ((s = bnb_db__rd_step(&q, err)) == SQLITE_ROW) {
        fprintf(f, "%lld,", (long long)run_id);
        csv_field(f, row.uuid);
        fputc(',', f);
        csv_field(f, row.machine);
        for (int c = 0; c < 5; c++) {
            fputc(',', f);
            csv_field(f, bnb_db__rd_str(&q, c));
        }
        if (bnb_db__rd_ok(&q, err))
            goto fail;
        fprintf(f, ",%lld,", (long long)sqlite3_column_int64(q.st, 5));
        if (sqlite3_column_type(q.st, 6) == SQLITE_NULL)
            fputs(",,\n", f);
        else
            fprintf(f, "%d,%s,%d\n", sqlite3_column_int(q.st, 6),
                    shortest(sqlite3_column_double(q.st, 7), num, sizeof num),
                    sqlite3_column_int(q.st, 8));
    }
    if (bnb_db__rd_end(&q, s < 0 ? NULL : err) || s < 0)
        goto fail;
    if (fclose(f) != 0) {
        free(buf);
        bnb_db__seterr(err, "export of run %lld: out of memory", (long long)run_id);
        return NULL;
    }
    return buf;
fail:
    bnb_db__rd_end(&q, NULL);
    fclose(f);
    free(buf);
    return NULL;
}
