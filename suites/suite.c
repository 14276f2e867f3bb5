/*
 * suite.c - the suite registry (from suite_list.h) and case selection by
 * suite name and POSIX regex over full case names.
 */
#include "suites/suite.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"

#define BNB_SUITE(n) extern const bnb_suite bnb_suite_##n;
#include "suites/suite_list.h"
#undef BNB_SUITE

static const bnb_suite *const registry[] = {
#define BNB_SUITE(n) &bnb_suite_##n,
#include "suites/suite_list.h"
#undef BNB_SUITE
};

const bnb_suite *const *bnb_suites(int *n)
{
    *n = (int)(sizeof registry / sizeof registry[0]);
    return registry;
}

const bnb_suite *bnb_suite_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

void bnb_case_identity(const bnb_suite *s, const bnb_case_def *d, bnb_case_result *r)
{
    snprintf(r->suite, sizeof r->suite, "%s", s->name);
    snprintf(r->name, sizeof r->name, "%s", d->name);
    r->nparams = d->nparams;
    for (int i = 0; i < d->nparams && i < BNB_MAX_PARAMS; i++)
        r->params[i] = d->params[i];
    snprintf(r->code_version, sizeof r->code_version, "%s", d->code_version ? d->code_version : "");
}

static void known_suites(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", registry[i]->name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* Appends the cases of s that match re; `in_default_run` applies the
 * suite's default_short rule and leaves out suite_only cases. */
static int add_suite(const bnb_suite *s, const regex_t *re, bool in_default_run, bnb_selection *out,
                     int *cap)
{
    for (int i = 0; i < s->ncases; i++) {
        if (in_default_run &&
            (s->cases[i].suite_only || (s->default_short && s->cases[i].skip_quick)))
            continue;
        bnb_case_result tmp = {0};
        bnb_case_identity(s, &s->cases[i], &tmp);
        char full[BNB_NAME_MAX + 160];
        bnb_case_fullname(&tmp, full, sizeof full);
        if (re && regexec(re, full, 0, NULL, 0) != 0)
            continue;
        for (int k = 0; k < out->n; k++) /* a suite named twice runs once */
            if (out->c[k].def == &s->cases[i])
                goto next;
        if (out->n == *cap) {
            int ncap = *cap ? 2 * *cap : 16;
            bnb_selected *p = realloc(out->c, (size_t)ncap * sizeof *p);
            if (!p)
                return -1;
            out->c = p;
            *cap = ncap;
        }
        bnb_selected *e = &out->c[out->n++];
        e->suite = s;
        e->def = &s->cases[i];
        snprintf(e->fullname, sizeof e->fullname, "%s", full);
    next:;
    }
    return 0;
}

int bnb_select(const char *suites, const char *case_regex, bnb_selection *out, char *err,
               size_t cap)
{
    *out = (bnb_selection){0};
    int rc = -1, ccap = 0;
    regex_t re;
    bool have_re = false;
    char *list = NULL;
    char known[512];
    known_suites(known, sizeof known);
    if (case_regex && *case_regex) {
        int e = regcomp(&re, case_regex, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char msg[128];
            regerror(e, &re, msg, sizeof msg);
            char qr[BNB_QUOTE_CAP];
            snprintf(err, cap, "--case \"%s\": not a valid regular expression: %s",
                     bnb_quote(case_regex, qr), msg);
            return -1;
        }
        have_re = true;
    }
    int n;
    const bnb_suite *const *all = bnb_suites(&n);
    if (!suites || !*suites || strcmp(suites, "all") == 0) {
        bool every = suites && strcmp(suites, "all") == 0;
        for (int i = 0; i < n; i++)
            if ((every || all[i]->in_default) &&
                add_suite(all[i], have_re ? &re : NULL, !every, out, &ccap) != 0)
                goto oom;
    } else {
        list = strdup(suites);
        if (!list)
            goto oom;
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            const bnb_suite *s = bnb_suite_find(tok);
            if (!s) {
                char qt[BNB_QUOTE_CAP];
                snprintf(err, cap, "--suite: unknown suite \"%s\" (known: %s, all)",
                         bnb_quote(tok, qt), known);
                goto cleanup;
            }
            if (add_suite(s, have_re ? &re : NULL, false, out, &ccap) != 0)
                goto oom;
        }
        if (strchr(",", suites[0]) || suites[strlen(suites) - 1] == ',' || strstr(suites, ",,")) {
            char qs[BNB_QUOTE_CAP];
            snprintf(err, cap, "--suite \"%s\": empty suite name in the list",
                     bnb_quote(suites, qs));
            goto cleanup;
        }
    }
    if (out->n == 0) {
        char qs[BNB_QUOTE_CAP], qr[BNB_QUOTE_CAP];
        snprintf(err, cap, "no case matches --suite %s%s%s%s (try bnbench list)",
                 suites && *suites ? bnb_quote(suites, qs) : "(default)",
                 have_re ? " --case \"" : "", have_re ? bnb_quote(case_regex, qr) : "",
                 have_re ? "\"" : "");
        goto cleanup;
    }
    rc = 0;
    goto cleanup;
oom:
    snprintf(err, cap, "selecting cases: out of memory");
cleanup:
    if (rc != 0)
        bnb_selection_free(out);
    if (have_re)
        regfree(&re);
    free(list);
    return rc;
}

int bnb_catalogue_build(const char *suites, bnb_catalogue *out, char *err, size_t cap)
{
    *out = (bnb_catalogue){0};
    bnb_selection sel;
    if (bnb_select(suites, NULL, &sel, err, cap) != 0)
        return -1;
    size_t total = 0;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        total += (size_t)registry[i]->ncases;
    out->c = calloc(total ? total : 1, sizeof *out->c);
    if (!out->c) {
        bnb_selection_free(&sel);
        snprintf(err, cap, "listing the cases: out of memory");
        return -1;
    }
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        const bnb_suite *s = registry[i];
        bool selected = false;
        for (int k = 0; k < sel.n && !selected; k++)
            selected = sel.c[k].suite == s;
        for (int j = 0; j < s->ncases; j++) {
            bnb_catalogue_case *c = &out->c[out->n++];
            bnb_case_result tmp = {0};
            bnb_case_identity(s, &s->cases[j], &tmp);
            bnb_case_fullname(&tmp, c->name, sizeof c->name);
            c->metrics = s->cases[j].metric_names ? s->cases[j].metric_names : "";
            c->selected = selected;
        }
    }
    bnb_selection_free(&sel);
    return 0;
}

void bnb_catalogue_free(bnb_catalogue *c)
{
    free(c->c);
    c->c = NULL;
    c->n = 0;
}

void bnb_selection_free(bnb_selection *s)
{
    free(s->c);
    s->c = NULL;
    s->n = 0;
}

bool bnb_selection_uses_openblas(const char *suites, const char *case_regex)
{
    bnb_selection sel = {0, NULL};
    char err[256];
    if (bnb_select(suites, case_regex, &sel, err, sizeof err) != 0)
        return true;
    bool uses = false;
    for (int i = 0; i < sel.n && !uses; i++)
        uses = sel.c[i].suite->uses_openblas;
    bnb_selection_free(&sel);
    return uses;
}

const char *bnb_selection_needs_mpi(const bnb_selection *sel)
{
    for (int i = 0; i < sel->n; i++)
        if (sel->c[i].def->collective)
            return sel->c[i].suite->name;
    return NULL;
}
