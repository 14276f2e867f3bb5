/*
 * result.c - helpers shared by every harness module for bnb_case_result and
 * bnb_run_info (declared at the bottom of db/model/bnb.h): naming, metrics,
 * params and freeing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/bnb.h"

/* Params are named in sorted key order (as bnb.h documents and db/ stores
 * them), whatever order the suite added them in, so a case's full name is the
 * same before and after a round-trip through the DB. */
char *bnb_case_fullname(const bnb_case_result *r, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    int n = r->nparams < 0 ? 0 : r->nparams > BNB_MAX_PARAMS ? BNB_MAX_PARAMS : r->nparams;
    int order[BNB_MAX_PARAMS];
    for (int i = 0; i < n; i++) { /* insertion sort of indices by key */
        int j = i;
        while (j > 0 && strcmp(r->params[order[j - 1]].key, r->params[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int len = snprintf(buf, cap, "%s/%s", r->suite, r->name);
    for (int i = 0; i < n && len >= 0 && (size_t)len < cap; i++)
        len += snprintf(buf + len, cap - (size_t)len, "/%s=%s", r->params[order[i]].key,
                        r->params[order[i]].value);
    return buf;
}

static bnb_metric *grow_metrics(bnb_case_result *r)
{
    bnb_metric *m = realloc(r->metrics, (size_t)(r->nmetrics + 1) * sizeof *m);
    if (!m)
        return NULL;
    r->metrics = m;
    bnb_metric *e = &m[r->nmetrics++];
    memset(e, 0, sizeof *e);
    return e;
}

bnb_metric *bnb_case_add_metric(bnb_case_result *r, const char *name, const char *unit,
                                double value, bool higher_is_better)
{
    bnb_metric *m = grow_metrics(r);
    if (!m)
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    m->value = value;
    m->available = true;
    m->higher_is_better = higher_is_better;
    return m;
}

bnb_metric *bnb_case_add_unavailable(bnb_case_result *r, const char *name, const char *unit,
                                     const char *reason)
{
    bnb_metric *m = grow_metrics(r);
    if (!m)
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : "");
    m->available = false;
    return m;
}

const bnb_metric *bnb_case_metric(const bnb_case_result *r, const char *name)
{
    for (int i = 0; i < r->nmetrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0)
            return &r->metrics[i];
    return NULL;
}

void bnb_case_add_param(bnb_case_result *r, const char *key, const char *fmt, ...)
{
    if (r->nparams >= BNB_MAX_PARAMS)
        return;
    bnb_param *p = &r->params[r->nparams++];
    snprintf(p->key, sizeof p->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->value, sizeof p->value, fmt, ap);
    va_end(ap);
}

void bnb_case_free(bnb_case_result *r)
{
    if (!r)
        return;
    free(r->samples);
    free(r->outlier);
    free(r->metrics);
    r->samples = NULL;
    r->outlier = NULL;
    r->metrics = NULL;
    r->nsamples = 0;
    r->nmetrics = 0;
}

void bnb_run_info_free(bnb_run_info *ri)
{
    if (!ri)
        return;
    free(ri->machine_json);
    free(ri->context_json);
    free(ri->warnings_json);
    free(ri->binding_json);
    ri->machine_json = ri->context_json = ri->warnings_json = ri->binding_json = NULL;
}
